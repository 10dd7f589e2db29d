//! Argon2id hashing of passwords, secret answers, one-time and download passwords.
//! Hashing is deliberately slow, so it runs on the bounded [`BlockingPool`].

use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use zeroize::Zeroizing;

use crate::blocking::{BlockingPool, PoolError};
use crate::config::HashingConfig;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("invalid Argon2 parameters: {0}")]
    Params(String),
    #[error("hashing failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Pool(#[from] PoolError),
}

#[derive(Clone)]
pub struct SecretHasher {
    params: Params,
    pool: BlockingPool,
    /// A hash of a random value, verified against when no stored hash exists so that
    /// an unknown user ID takes as long to refuse as a wrong password.
    dummy_hash: Arc<String>,
}

impl SecretHasher {
    pub fn new(config: &HashingConfig, pool: BlockingPool) -> Result<Self, HashError> {
        let params =
            Params::new(config.argon2_memory_kib, config.argon2_iterations, 1, None).map_err(|e| HashError::Params(e.to_string()))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let random: [u8; 16] = rand::random();
        let dummy_hash = argon.hash_password(&random).map_err(|e| HashError::Hash(e.to_string()))?.to_string();
        Ok(Self { params, pool, dummy_hash: Arc::new(dummy_hash) })
    }

    fn argon(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Hashes `secret` into a PHC string (`$argon2id$v=19$m=…`).
    pub async fn hash(&self, secret: &str) -> Result<String, HashError> {
        let secret = Zeroizing::new(secret.as_bytes().to_vec());
        let argon = self.argon();
        self.run(move || argon.hash_password(&secret).map(|h| h.to_string()).map_err(|e| HashError::Hash(e.to_string()))).await
    }

    /// Checks `secret` against `stored` in constant time. With no stored hash (unknown
    /// user, method without a password) it still spends one hash, then answers false.
    pub async fn verify(&self, secret: &str, stored: Option<&str>) -> Result<bool, HashError> {
        let known = stored.is_some();
        let stored = stored.map_or_else(|| self.dummy_hash.as_str().to_owned(), str::to_owned);
        let secret = Zeroizing::new(secret.as_bytes().to_vec());
        let argon = self.argon();
        let matched = self.run(move || Ok(argon.verify_password(&secret, stored.as_str()).is_ok())).await?;
        Ok(known && matched)
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> Result<T, HashError> + Send + 'static) -> Result<T, HashError> {
        self.pool.run(work).await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> SecretHasher {
        SecretHasher::new(&HashingConfig { argon2_memory_kib: 1024, argon2_iterations: 1, max_concurrent: 2 }, BlockingPool::new(2))
            .expect("params")
    }

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let h = cheap();
        let phc = h.hash("correct horse").await.expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
        assert!(h.verify("correct horse", Some(&phc)).await.expect("verify"));
        assert!(!h.verify("wrong horse", Some(&phc)).await.expect("verify"));
        assert_ne!(phc, h.hash("correct horse").await.expect("hash"), "salted");
    }

    #[tokio::test]
    async fn no_stored_hash_never_verifies() {
        let h = cheap();
        assert!(!h.verify("anything", None).await.expect("verify"));
        assert!(!h.verify("anything", Some("not a phc string")).await.expect("verify"));
    }
}
