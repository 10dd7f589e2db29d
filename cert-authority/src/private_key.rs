//! Reading an imported CA private key (PKCS#8, SEC1 or PKCS#1 PEM) and normalising it
//! to PKCS#8 v1, the one form we seal and hand to rcgen.

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, RsaKeyPair};
use rcgen::KeyPair;
use zeroize::Zeroizing;

use crate::encoding::parse_pem_blocks;
use crate::{CaError, KeyAlgorithm};

const WHAT: &str = "CA private key";

#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyFormat {
    Pkcs8,
    Sec1,
    Pkcs1,
}

/// Loads the key the CA certificate says it has (`expected`). A well-formed key of
/// another type is a [`CaError::KeyMismatch`]; anything unreadable is
/// [`CaError::InvalidPem`]. The public halves are compared later, by the caller.
pub(crate) fn load_ca_private_key(key_pem: &str, expected: KeyAlgorithm) -> Result<KeyPair, CaError> {
    let (format, der) = single_key_block(key_pem)?;
    let pkcs8 = match normalise_to_pkcs8(format, &der, expected) {
        Some(pkcs8) => pkcs8,
        None if KeyPair::try_from(der.as_slice()).is_ok() => return Err(CaError::KeyMismatch),
        None => {
            return Err(CaError::InvalidPem {
                what: WHAT,
                reason: "it is not a P-256 or RSA private key in PKCS#8, SEC1 or PKCS#1 form".into(),
            });
        }
    };
    let key = KeyPair::try_from(pkcs8.as_slice())
        .map_err(|e| CaError::InvalidPem { what: WHAT, reason: format!("the key was rejected ({e})") })?;
    if key.algorithm() != expected.signature_algorithm() {
        return Err(CaError::KeyMismatch);
    }
    Ok(key)
}

fn single_key_block(key_pem: &str) -> Result<(KeyFormat, Zeroizing<Vec<u8>>), CaError> {
    let mut found = Vec::new();
    for block in parse_pem_blocks(WHAT, key_pem)? {
        let format = match block.tag() {
            "PRIVATE KEY" => KeyFormat::Pkcs8,
            "EC PRIVATE KEY" => KeyFormat::Sec1,
            "RSA PRIVATE KEY" => KeyFormat::Pkcs1,
            // `openssl ecparam -genkey` writes the curve parameters before the key.
            "EC PARAMETERS" => continue,
            "ENCRYPTED PRIVATE KEY" => {
                return Err(CaError::InvalidPem {
                    what: WHAT,
                    reason: "it is encrypted; decrypt it first (openssl pkey -in key.pem -out plain.pem)".into(),
                });
            }
            other => {
                return Err(CaError::InvalidPem { what: WHAT, reason: format!("expected a PRIVATE KEY block but found a {other} block") });
            }
        };
        found.push((format, Zeroizing::new(block.into_contents())));
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(CaError::InvalidPem { what: WHAT, reason: "it contains no private key".into() }),
        n => Err(CaError::InvalidPem { what: WHAT, reason: format!("it contains {n} private keys") }),
    }
}

/// `None` when the bytes are not a key of the expected type in the given format.
fn normalise_to_pkcs8(format: KeyFormat, der: &[u8], expected: KeyAlgorithm) -> Option<Zeroizing<Vec<u8>>> {
    match expected {
        KeyAlgorithm::EcP256 => {
            if format == KeyFormat::Pkcs1 {
                return None;
            }
            // Accepts PKCS#8 and SEC1 alike, and checks the curve.
            let key = EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_ASN1_SIGNING, der).ok()?;
            Some(Zeroizing::new(key.to_pkcs8v1().ok()?.as_ref().to_vec()))
        }
        KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 => {
            let key = match format {
                KeyFormat::Pkcs8 => RsaKeyPair::from_pkcs8(der).ok()?,
                KeyFormat::Pkcs1 => RsaKeyPair::from_der(der).ok()?,
                KeyFormat::Sec1 => return None,
            };
            let pkcs8 = key.as_der().ok()?;
            Some(Zeroizing::new(pkcs8.as_ref().to_vec()))
        }
    }
}
