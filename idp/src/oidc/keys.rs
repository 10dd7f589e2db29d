//! Token-signing keys (RFC 7517/7518): ES256 (the default) and RS256 (required by OpenID
//! Connect), generated with aws-lc-rs, sealed under the master key in `signing_keys`,
//! published in the JWKS from creation until their last token has expired, and rotated
//! with `mamori admin keys rotate` (the old key keeps being published, no longer used).
//!
//! Private-key operations sit behind [`TokenSigner`]. RSA signing (about a millisecond)
//! runs on the bounded blocking pool; ECDSA P-256 signing takes microseconds and runs
//! inline.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration as StdDuration, Instant};

use anyhow::Context as _;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, RSA_PKCS1_SHA256,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mamori_storage::model::{KeyPurpose, NewSigningKey, SigningAlgorithm, SigningKey};
use serde_json::json;
use time::OffsetDateTime;

use crate::app::App;
use crate::blocking::BlockingPool;

/// How long a retired key stays published: longer than any token it signed lives.
pub const RETIRED_KEY_PUBLISHED_FOR: time::Duration = time::Duration::hours(25);

/// Signs JWS signing inputs; one implementation per key storage (database key today, an
/// HSM later).
pub trait TokenSigner: Send + Sync {
    fn kid(&self) -> &str;
    fn algorithm(&self) -> SigningAlgorithm;
    /// The JWS signature over `message` (raw r||s for ES256, PKCS#1 v1.5 for RS256).
    fn sign(&self, message: &[u8]) -> anyhow::Result<Vec<u8>>;
}

enum Pair {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

/// A key unsealed from the database.
pub struct DatabaseKey {
    kid: String,
    algorithm: SigningAlgorithm,
    pair: Pair,
}

impl TokenSigner for DatabaseKey {
    fn kid(&self) -> &str {
        &self.kid
    }

    fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

    fn sign(&self, message: &[u8]) -> anyhow::Result<Vec<u8>> {
        let rng = SystemRandom::new();
        match &self.pair {
            Pair::Ec(pair) => {
                let sig = pair.sign(&rng, message).map_err(|_| anyhow::anyhow!("ECDSA signing failed"))?;
                Ok(sig.as_ref().to_vec())
            }
            Pair::Rsa(pair) => {
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .map_err(|_| anyhow::anyhow!("RSA signing failed"))?;
                Ok(sig)
            }
        }
    }
}

/// Signs on the blocking pool when the algorithm is slow (RSA), inline otherwise.
pub async fn sign(signer: Arc<DatabaseKey>, message: Vec<u8>) -> anyhow::Result<Vec<u8>> {
    match signer.algorithm {
        SigningAlgorithm::Es256 => signer.sign(&message),
        SigningAlgorithm::Rs256 => pool().run(move || signer.sign(&message)).await?,
    }
}

fn pool() -> &'static BlockingPool {
    static POOL: OnceLock<BlockingPool> = OnceLock::new();
    POOL.get_or_init(|| BlockingPool::new(0))
}

/// The additional data that binds a sealed key to its identity.
fn aad(kid: &str, algorithm: SigningAlgorithm) -> Vec<u8> {
    format!("mamori-oidc-signing-key:{kid}:{algorithm}").into_bytes()
}

/// A fresh key pair: its PKCS#8 document and public JWK.
pub fn generate(algorithm: SigningAlgorithm) -> anyhow::Result<(String, Vec<u8>, serde_json::Value)> {
    let kid = format!("{}-{}", algorithm.as_str().to_lowercase(), &crate::secrets::url_token()[..16]);
    let (pkcs8, jwk) = match algorithm {
        SigningAlgorithm::Es256 => {
            let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| anyhow::anyhow!("P-256 key generation failed"))?;
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref())
                .map_err(|_| anyhow::anyhow!("generated P-256 key does not load"))?;
            (doc.as_ref().to_vec(), ec_jwk(&kid, pair.public_key().as_ref())?)
        }
        SigningAlgorithm::Rs256 => {
            let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| anyhow::anyhow!("RSA key generation failed"))?;
            let der = pair.as_der().map_err(|_| anyhow::anyhow!("RSA key does not encode"))?;
            let public = pair.public_key();
            let jwk = json!({
                "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
                "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
                "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
            });
            (der.as_ref().to_vec(), jwk)
        }
    };
    Ok((kid, pkcs8, jwk))
}

fn ec_jwk(kid: &str, uncompressed: &[u8]) -> anyhow::Result<serde_json::Value> {
    anyhow::ensure!(uncompressed.len() == 65 && uncompressed[0] == 4, "unexpected P-256 public key encoding");
    Ok(json!({
        "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(&uncompressed[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&uncompressed[33..65]),
    }))
}

fn load(key: &SigningKey, app: &App) -> anyhow::Result<DatabaseKey> {
    let pkcs8 = app
        .sealing
        .open(&key.sealed_private_key, &aad(&key.kid, key.algorithm))
        .map_err(|e| anyhow::anyhow!("signing key {} does not unseal: {e}", key.kid))?;
    let pair = match key.algorithm {
        SigningAlgorithm::Es256 => Pair::Ec(
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8)
                .map_err(|_| anyhow::anyhow!("signing key {} is not a P-256 key", key.kid))?,
        ),
        SigningAlgorithm::Rs256 => Pair::Rsa(
            RsaKeyPair::from_pkcs8(&pkcs8).map_err(|_| anyhow::anyhow!("signing key {} is not an RSA key", key.kid))?,
        ),
    };
    Ok(DatabaseKey { kid: key.kid.clone(), algorithm: key.algorithm, pair })
}

/// Creates and stores a new key, active from `now`.
pub async fn create(app: &App, algorithm: SigningAlgorithm, now: OffsetDateTime) -> anyhow::Result<SigningKey> {
    let (kid, pkcs8, jwk) = pool().run(move || generate(algorithm)).await??;
    let sealed = app.sealing.seal(&pkcs8, &aad(&kid, algorithm)).map_err(|e| anyhow::anyhow!("cannot seal the key: {e}"))?;
    let new = NewSigningKey {
        kid,
        tenant_id: None,
        purpose: KeyPurpose::Oidc,
        algorithm,
        public_jwk: Some(jwk.to_string()),
        certificate_pem: None,
        sealed_private_key: sealed,
        activated_at: now,
        retire_after: None,
        expires_at: None,
    };
    Ok(app.storage.signing_keys().insert(&new, now).await?)
}

/// Rotation: a new ES256 and RS256 key sign from now on; the keys they replace stop
/// signing and stay published for [`RETIRED_KEY_PUBLISHED_FOR`]. Returns the new kids.
pub async fn rotate(app: &App) -> anyhow::Result<Vec<String>> {
    let now = app.now();
    let mut kids = Vec::new();
    for algorithm in [SigningAlgorithm::Es256, SigningAlgorithm::Rs256] {
        let previous = app.storage.signing_keys().active(None, KeyPurpose::Oidc, algorithm, now).await?;
        let created = create(app, algorithm, now).await?;
        if let Some(old) = previous {
            app.storage.oidc_grants().retire_signing_key(&old.kid, now, now + RETIRED_KEY_PUBLISHED_FOR).await?;
        }
        kids.push(created.kid);
    }
    forget_cached_active();
    Ok(kids)
}

type ActiveCache = HashMap<SigningAlgorithm, (Instant, Arc<DatabaseKey>)>;

fn active_cache() -> &'static Mutex<ActiveCache> {
    static CACHE: OnceLock<Mutex<ActiveCache>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// How long a node keeps using the key it looked up before asking again (another node
/// may have rotated).
const ACTIVE_KEY_TTL: StdDuration = StdDuration::from_secs(10);

fn forget_cached_active() {
    if let Ok(mut cache) = active_cache().lock() {
        cache.clear();
    }
}

/// The key to sign with for `algorithm`, created on first use.
pub async fn signing_key(app: &App, algorithm: SigningAlgorithm) -> anyhow::Result<Arc<DatabaseKey>> {
    if let Ok(cache) = active_cache().lock()
        && let Some((at, key)) = cache.get(&algorithm)
        && at.elapsed() < ACTIVE_KEY_TTL
    {
        return Ok(Arc::clone(key));
    }
    let now = app.now();
    let stored = match app.storage.signing_keys().active(None, KeyPurpose::Oidc, algorithm, now).await? {
        Some(key) => key,
        None => create(app, algorithm, now).await.context("creating the first signing key")?,
    };
    let key = Arc::new(load(&stored, app)?);
    if let Ok(mut cache) = active_cache().lock() {
        cache.insert(algorithm, (Instant::now(), Arc::clone(&key)));
    }
    Ok(key)
}

/// The published JWK Set: every unexpired key (RFC 7517 §5), creating the first keys
/// when there are none so that discovery never advertises an empty set.
pub async fn published_jwks(app: &App) -> anyhow::Result<serde_json::Value> {
    let now = app.now();
    let mut keys = app.storage.signing_keys().list_published(None, KeyPurpose::Oidc, now).await?;
    if keys.is_empty() {
        signing_key(app, SigningAlgorithm::Es256).await?;
        signing_key(app, SigningAlgorithm::Rs256).await?;
        keys = app.storage.signing_keys().list_published(None, KeyPurpose::Oidc, now).await?;
    }
    let jwks: Vec<serde_json::Value> = keys
        .iter()
        .filter_map(|k| k.public_jwk.as_deref())
        .filter_map(|j| serde_json::from_str(j).ok())
        .collect();
    Ok(json!({ "keys": jwks }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey};

    fn b64(v: &serde_json::Value, field: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(v[field].as_str().expect("field")).expect("base64url")
    }

    /// Each algorithm's signature verifies with an independent verifier built from the
    /// published JWK alone.
    #[test]
    fn signatures_verify_against_the_published_jwk() {
        for algorithm in [SigningAlgorithm::Es256, SigningAlgorithm::Rs256] {
            let (kid, pkcs8, jwk) = generate(algorithm).expect("generates");
            assert_eq!(jwk["kid"], kid.as_str());
            assert_eq!(jwk["alg"], algorithm.as_str());
            let pair = match algorithm {
                SigningAlgorithm::Es256 => Pair::Ec(EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8).expect("loads")),
                SigningAlgorithm::Rs256 => Pair::Rsa(RsaKeyPair::from_pkcs8(&pkcs8).expect("loads")),
            };
            let key = DatabaseKey { kid, algorithm, pair };
            let message = b"header.payload";
            let sig = key.sign(message).expect("signs");
            let ok = match algorithm {
                SigningAlgorithm::Es256 => {
                    let mut point = vec![4];
                    point.extend(b64(&jwk, "x"));
                    point.extend(b64(&jwk, "y"));
                    assert_eq!(sig.len(), 64, "JWS ES256 signatures are r||s");
                    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).verify(message, &sig).is_ok()
                }
                SigningAlgorithm::Rs256 => {
                    let (n, e) = (b64(&jwk, "n"), b64(&jwk, "e"));
                    RsaPublicKeyComponents { n: &n, e: &e }.verify(&RSA_PKCS1_2048_8192_SHA256, message, &sig).is_ok()
                }
            };
            assert!(ok, "{algorithm} signature verifies");
            let tampered = key.sign(b"header.payload2").expect("signs");
            assert_ne!(tampered, sig);
        }
    }
}
