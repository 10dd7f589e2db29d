//! Key algorithms: the names users type, key generation, and recognising a key in a
//! certificate's SubjectPublicKeyInfo.

use std::fmt;
use std::str::FromStr;

use rcgen::{KeyPair, RsaKeySize, SignatureAlgorithm};
use serde::{Deserialize, Serialize};
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::CaError;

/// The key types this CA generates and accepts for CA keys.
///
/// Signatures made with these keys are ECDSA-SHA256 (P-256) or RSA PKCS#1 v1.5 with
/// SHA-256 (RSA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum KeyAlgorithm {
    /// ECDSA on NIST P-256: small, fast, and what browsers and TLS stacks all accept.
    #[default]
    #[serde(rename = "p256")]
    EcP256,
    /// RSA with a 2048-bit modulus, for devices whose software lacks ECDSA.
    #[serde(rename = "rsa2048")]
    Rsa2048,
    /// RSA with a 3072-bit modulus.
    #[serde(rename = "rsa3072")]
    Rsa3072,
}

impl KeyAlgorithm {
    /// Every variant, in the order the CLI lists them.
    pub const ALL: [KeyAlgorithm; 3] = [Self::EcP256, Self::Rsa2048, Self::Rsa3072];

    /// The stable name used in configuration, serde and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EcP256 => "p256",
            Self::Rsa2048 => "rsa2048",
            Self::Rsa3072 => "rsa3072",
        }
    }

    pub(crate) fn signature_algorithm(self) -> &'static SignatureAlgorithm {
        match self {
            Self::EcP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            Self::Rsa2048 | Self::Rsa3072 => &rcgen::PKCS_RSA_SHA256,
        }
    }

    /// Generates a fresh key pair; its serialized form is PKCS#8 v1.
    pub(crate) fn generate_key(self) -> Result<KeyPair, CaError> {
        let generated = match self {
            Self::EcP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
            Self::Rsa2048 => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048),
            Self::Rsa3072 => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_3072),
        };
        generated.map_err(|e| CaError::Generation(format!("generating a {self} key failed: {e}")))
    }

    /// Recognises the key in a certificate; anything other than the three variants
    /// is refused with a sentence that names what was found.
    pub(crate) fn from_spki(spki: &SubjectPublicKeyInfo<'_>) -> Result<Self, CaError> {
        let unsupported = |found: String| {
            CaError::invalid_request(format!("the certificate's key is {found}; this CA supports P-256, RSA 2048 and RSA 3072 keys"))
        };
        let algorithm = &spki.algorithm.algorithm;
        if *algorithm == x509_parser::oid_registry::OID_KEY_TYPE_EC_PUBLIC_KEY {
            let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok());
            return match curve {
                Some(curve) if curve == x509_parser::oid_registry::OID_EC_P256 => Ok(Self::EcP256),
                Some(curve) => Err(unsupported(format!("an EC key on curve {curve}"))),
                None => Err(unsupported("an EC key without a named curve".into())),
            };
        }
        if *algorithm == x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION {
            let bits = match spki.parsed() {
                Ok(PublicKey::RSA(rsa)) => rsa_modulus_bits(rsa.modulus),
                _ => return Err(unsupported("an RSA key that cannot be parsed".into())),
            };
            return match bits {
                2048 => Ok(Self::Rsa2048),
                3072 => Ok(Self::Rsa3072),
                other => Err(unsupported(format!("an RSA {other}-bit key"))),
            };
        }
        Err(unsupported(format!("of type {algorithm}")))
    }
}

/// Counts the significant bits of a big-endian modulus (DER may add a leading zero).
pub(crate) fn rsa_modulus_bits(modulus: &[u8]) -> usize {
    let significant = match modulus.iter().position(|&b| b != 0) {
        Some(start) => &modulus[start..],
        None => return 0,
    };
    significant.len() * 8 - significant[0].leading_zeros() as usize
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyAlgorithm {
    type Err = CaError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Self::ALL
            .into_iter()
            .find(|alg| alg.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| CaError::invalid_request(format!("unknown key algorithm \"{wanted}\"; use p256, rsa2048 or rsa3072")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_from_str_display_and_serde() {
        for alg in KeyAlgorithm::ALL {
            assert_eq!(alg.to_string().parse::<KeyAlgorithm>().unwrap(), alg);
            let json = serde_json::to_string(&alg).unwrap();
            assert_eq!(json, format!("\"{alg}\""));
            assert_eq!(serde_json::from_str::<KeyAlgorithm>(&json).unwrap(), alg);
        }
        assert_eq!("RSA2048".parse::<KeyAlgorithm>().unwrap(), KeyAlgorithm::Rsa2048);
        assert!("ed25519".parse::<KeyAlgorithm>().is_err());
        assert_eq!(KeyAlgorithm::default(), KeyAlgorithm::EcP256);
    }

    #[test]
    fn modulus_bits_ignore_leading_zero() {
        let mut modulus = vec![0u8];
        modulus.extend(std::iter::repeat_n(0xff, 256));
        assert_eq!(rsa_modulus_bits(&modulus), 2048);
        assert_eq!(rsa_modulus_bits(&[0x01, 0x00]), 9);
    }
}
