//! Sealing: AES-256-GCM encryption of secrets (CA private keys) at rest.
//!
//! Layout of a sealed blob: `version (1 byte) || nonce (12 bytes) || ciphertext || tag (16 bytes)`.
//! The version byte lets a later release change the scheme and still open old blobs;
//! it is also fed into the AAD so it cannot be swapped without detection.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore as _;
use zeroize::Zeroizing;

use crate::CaError;

const KEY_LEN: usize = 32;
const TAG_LEN: usize = 16;
const FORMAT_V1: u8 = 1;

/// A 32-byte AES-256-GCM key that seals CA private keys. Its bytes are wiped on drop
/// and never printed.
#[derive(Clone)]
pub struct SealingKey(Zeroizing<[u8; KEY_LEN]>);

impl SealingKey {
    /// A fresh random key from the operating system's CSPRNG (through `rand`'s thread RNG).
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        rand::rng().fill_bytes(bytes.as_mut());
        Self(bytes)
    }

    /// Takes exactly 32 raw bytes.
    pub fn from_bytes(b: &[u8]) -> Result<Self, CaError> {
        let bytes: [u8; KEY_LEN] = b
            .try_into()
            .map_err(|_| CaError::invalid_request(format!("a sealing key must be exactly {KEY_LEN} bytes, not {}", b.len())))?;
        Ok(Self(Zeroizing::new(bytes)))
    }

    /// Takes standard base64 (with padding), ignoring surrounding whitespace, as
    /// written by [`SealingKey::to_base64`] or `openssl rand -base64 32`.
    pub fn from_base64(s: &str) -> Result<Self, CaError> {
        let decoded = Zeroizing::new(
            STANDARD.decode(s.trim()).map_err(|e| CaError::invalid_request(format!("the sealing key is not valid base64 ({e})")))?,
        );
        Self::from_bytes(&decoded)
    }

    /// Standard base64 with padding.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0.as_ref())
    }

    /// Encrypts and authenticates `plaintext`; `aad` is authenticated but not stored,
    /// so [`SealingKey::open`] must be given the same `aad`.
    ///
    /// Fails only if the crypto library refuses (for example a plaintext of many GiB).
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, CaError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);

        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + TAG_LEN);
        sealed.push(FORMAT_V1);
        sealed.extend_from_slice(&nonce);
        // Room for the tag up front: a reallocation would leave plaintext behind.
        let mut in_out = Zeroizing::new(Vec::with_capacity(plaintext.len() + TAG_LEN));
        in_out.extend_from_slice(plaintext);
        self.aead_key()?
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(versioned_aad(FORMAT_V1, aad)), &mut *in_out)
            .map_err(|_| CaError::generation("sealing with AES-256-GCM failed"))?;
        sealed.extend_from_slice(&in_out);
        Ok(sealed)
    }

    /// Decrypts a blob made by [`SealingKey::seal`] with the same `aad`.
    /// A wrong key, altered or truncated data, or a wrong `aad` all give
    /// [`CaError::WrongSealingKey`]: GCM cannot tell these apart.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, CaError> {
        let (&version, rest) = sealed.split_first().ok_or(CaError::WrongSealingKey)?;
        if version != FORMAT_V1 || rest.len() < NONCE_LEN + TAG_LEN {
            return Err(CaError::WrongSealingKey);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CaError::WrongSealingKey)?;
        let mut in_out = Zeroizing::new(ciphertext.to_vec());
        let plaintext_len = self
            .aead_key()?
            .open_in_place(nonce, Aad::from(versioned_aad(version, aad)), in_out.as_mut_slice())
            .map_err(|_| CaError::WrongSealingKey)?
            .len();
        in_out.truncate(plaintext_len);
        Ok(in_out)
    }

    fn aead_key(&self) -> Result<LessSafeKey, CaError> {
        let unbound =
            UnboundKey::new(&AES_256_GCM, self.0.as_ref()).map_err(|_| CaError::generation("the AES-256-GCM key was rejected"))?;
        Ok(LessSafeKey::new(unbound))
    }
}

fn versioned_aad(version: u8, aad: &[u8]) -> Vec<u8> {
    let mut bound = Vec::with_capacity(1 + aad.len());
    bound.push(version);
    bound.extend_from_slice(aad);
    bound
}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealingKey(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open_round_trips_and_binds_the_aad() {
        let key = SealingKey::generate();
        let sealed = key.seal(b"secret", b"context").unwrap();
        assert_eq!(sealed[0], FORMAT_V1);
        assert_eq!(sealed.len(), 1 + NONCE_LEN + 6 + TAG_LEN);
        assert_eq!(key.open(&sealed, b"context").unwrap().as_slice(), b"secret");
        assert!(matches!(key.open(&sealed, b"other"), Err(CaError::WrongSealingKey)));
        // Two seals of the same plaintext differ (random nonce).
        assert_ne!(sealed, key.seal(b"secret", b"context").unwrap());
    }

    #[test]
    fn tampering_truncation_and_wrong_keys_are_refused() {
        let key = SealingKey::generate();
        let sealed = key.seal(b"secret", b"").unwrap();
        for i in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 0x01;
            assert!(matches!(key.open(&tampered, b""), Err(CaError::WrongSealingKey)), "byte {i}");
        }
        assert!(key.open(&sealed[..sealed.len() - 1], b"").is_err());
        assert!(key.open(&[], b"").is_err());
        let other = SealingKey::generate();
        assert!(matches!(other.open(&sealed, b""), Err(CaError::WrongSealingKey)));
    }

    #[test]
    fn base64_round_trip_and_length_checks() {
        let key = SealingKey::generate();
        let text = format!("  {}\n", key.to_base64());
        let again = SealingKey::from_base64(&text).unwrap();
        assert_eq!(again.to_base64(), key.to_base64());
        assert!(SealingKey::from_bytes(&[0u8; 31]).is_err());
        assert!(SealingKey::from_base64("not base64!").is_err());
        assert_eq!(format!("{key:?}"), "SealingKey(redacted)");
    }
}
