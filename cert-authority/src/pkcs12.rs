//! PKCS#12 (RFC 7292) export of a device certificate, its key and its chain, for
//! browsers and operating-system keychains.

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY, digest};
use p12_keystore::{Certificate, EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm, PrivateKey, PrivateKeyChain};
use serde::{Deserialize, Serialize};

use crate::encoding::parse_certificate;
use crate::{CaError, IssuedCertificate};

/// OpenSSL 3's default PBKDF2 and MAC iteration count (`PKCS12_DEFAULT_ITER`).
const ITERATIONS: u32 = 2048;

/// Which encryption the PKCS#12 file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pkcs12Format {
    /// PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) with an HMAC-SHA256 MAC: what OpenSSL 3
    /// writes by default; current browsers, macOS and Windows 10+ read it.
    #[default]
    Modern,
    /// pbeWithSHAAnd3-KeyTripleDES-CBC with an HMAC-SHA1 MAC, for older systems
    /// (Windows 7/8, older Android and Java). The `openssl` 3.0 CLI opens it with or
    /// without `-legacy`, but some OpenSSL-3-based tools (Node, so Playwright) refuse it.
    Legacy,
}

impl Pkcs12Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Modern => "modern",
            Self::Legacy => "legacy",
        }
    }
}

impl fmt::Display for Pkcs12Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Pkcs12Format {
    type Err = CaError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "modern" => Ok(Self::Modern),
            "legacy" => Ok(Self::Legacy),
            other => Err(CaError::invalid_request(format!("unknown PKCS#12 format \"{other}\"; use modern or legacy"))),
        }
    }
}

/// Builds a password-protected PKCS#12 file holding the certificate, its private key
/// and `chain_der` (issuing CA first, then up to the root).
///
/// The key bag carries `friendly_name`. The certificate bags carry their subject as
/// friendlyName (e.g. `CN=Alice's laptop`): p12-keystore 0.4 names them itself and
/// offers no way to change it. The key and the leaf certificate share a local key ID,
/// the SHA-1 of the certificate, as OpenSSL writes it. Iterations: 2048, OpenSSL 3's
/// default, for both PBKDF2 and the MAC.
pub fn export_pkcs12(
    cert: &IssuedCertificate,
    chain_der: &[Vec<u8>],
    password: &str,
    friendly_name: &str,
    format: Pkcs12Format,
) -> Result<Vec<u8>, CaError> {
    let key_der = cert
        .private_key_pkcs8_der
        .as_ref()
        .ok_or_else(|| CaError::Pkcs12("the certificate has no private key here (it was issued from a CSR)".into()))?;
    if password.is_empty() {
        return Err(CaError::Pkcs12("the password must not be empty".into()));
    }
    if friendly_name.trim().is_empty() || friendly_name.chars().any(|c| c.is_control() || u32::from(c) > 0xffff) {
        return Err(CaError::Pkcs12(
            "the friendly name must be non-empty, without control characters or characters outside the BMP".into(),
        ));
    }

    let mut certificates = Vec::with_capacity(chain_der.len() + 1);
    certificates
        .push(Certificate::from_der(&cert.certificate_der).map_err(|e| CaError::Pkcs12(format!("the certificate cannot be read ({e})")))?);
    for (position, der) in chain_der.iter().enumerate() {
        // Our parser first: it refuses trailing bytes, which p12-keystore would keep.
        parse_certificate("certificate chain", der)?;
        certificates.push(
            Certificate::from_der(der).map_err(|e| CaError::Pkcs12(format!("chain certificate {} cannot be read ({e})", position + 1)))?,
        );
    }
    let key = PrivateKey::from_der(key_der).map_err(|e| CaError::Pkcs12(format!("the private key cannot be read ({e})")))?;
    let local_key_id = digest(&SHA1_FOR_LEGACY_USE_ONLY, &cert.certificate_der).as_ref().to_vec();

    let mut store = KeyStore::new();
    store.add_entry(friendly_name, KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(local_key_id, key, certificates)));
    let (encryption, mac) = match format {
        Pkcs12Format::Modern => (EncryptionAlgorithm::PbeWithHmacSha256AndAes256, MacAlgorithm::HmacSha256),
        Pkcs12Format::Legacy => (EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc, MacAlgorithm::HmacSha1),
    };
    store
        .writer(password)
        .encryption_algorithm(encryption)
        .encryption_iterations(ITERATIONS)
        .mac_algorithm(mac)
        .mac_iterations(ITERATIONS)
        .write()
        .map_err(|e| CaError::Pkcs12(format!("encoding failed ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for format in [Pkcs12Format::Modern, Pkcs12Format::Legacy] {
            assert_eq!(format.to_string().parse::<Pkcs12Format>().unwrap(), format);
            let json = serde_json::to_string(&format).unwrap();
            assert_eq!(json, format!("\"{format}\""));
            assert_eq!(serde_json::from_str::<Pkcs12Format>(&json).unwrap(), format);
        }
        assert!("pfx".parse::<Pkcs12Format>().is_err());
    }
}
