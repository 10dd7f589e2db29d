//! Token-signing keys (RFC 7517/7518): ES256 (the default) and RS256 (required by OpenID
//! Connect), generated with aws-lc-rs, sealed under the master key in `signing_keys`,
//! published in the JWKS from creation until their last token has expired, and rotated
//! with `mamori admin keys rotate` (the old key keeps being published, no longer used).
//!
//! A loaded key implements openidconnect's [`PrivateSigningKey`], so the crate builds and
//! signs ID tokens with it; the few JWTs the crate has no type for (RFC 9068 access
//! tokens) are signed through the same trait method, the one place that signs with
//! aws-lc-rs. The crate's own RSA signer is not used: it relies on the `rsa` crate
//! (RUSTSEC-2023-0071), and it has no ES256 signer at all. RSA signing (about a
//! millisecond) runs on the bounded blocking pool; ECDSA P-256 takes microseconds and
//! runs inline.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use anyhow::Context as _;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, RSA_PKCS1_SHA256};
use mamori_storage::model::{KeyPurpose, NewSigningKey, SigningAlgorithm, SigningKey};
use openidconnect::core::{CoreJsonCurveType, CoreJsonWebKey, CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
use openidconnect::{JsonWebKeyId, PrivateSigningKey, SigningError};
use time::OffsetDateTime;

use crate::app::App;

/// How long a retired key stays published: longer than any token it signed lives.
pub const RETIRED_KEY_PUBLISHED_FOR: time::Duration = time::Duration::hours(25);

/// The JWS `alg` of a stored key.
pub fn jws_algorithm(algorithm: SigningAlgorithm) -> CoreJwsSigningAlgorithm {
    match algorithm {
        SigningAlgorithm::Es256 => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        SigningAlgorithm::Rs256 => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    }
}

enum Pair {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

impl Pair {
    fn from_pkcs8(algorithm: SigningAlgorithm, pkcs8: &[u8]) -> anyhow::Result<Self> {
        Ok(match algorithm {
            SigningAlgorithm::Es256 => {
                Pair::Ec(EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8).map_err(|_| anyhow::anyhow!("not a P-256 key"))?)
            }
            SigningAlgorithm::Rs256 => Pair::Rsa(RsaKeyPair::from_pkcs8(pkcs8).map_err(|_| anyhow::anyhow!("not an RSA key"))?),
        })
    }

    /// The public half as the JWK the JWKS publishes, with `kid`, `use: sig` and `alg`.
    fn public_jwk(&self, kid: &str, algorithm: SigningAlgorithm) -> anyhow::Result<CoreJsonWebKey> {
        let kid = Some(JsonWebKeyId::new(kid.to_owned()));
        let jwk = match self {
            Pair::Ec(pair) => {
                let point = pair.public_key().as_ref();
                anyhow::ensure!(point.len() == 65 && point[0] == 4, "unexpected P-256 public key encoding");
                CoreJsonWebKey::new_ec(point[1..33].to_vec(), point[33..].to_vec(), CoreJsonCurveType::P256, kid)
            }
            Pair::Rsa(pair) => {
                let public = pair.public_key();
                CoreJsonWebKey::new_rsa(
                    public.modulus().big_endian_without_leading_zero().to_vec(),
                    public.exponent().big_endian_without_leading_zero().to_vec(),
                    kid,
                )
            }
        };
        // The crate's constructors leave `alg` unset and offer no setter; pinning each key
        // to its one algorithm (RFC 7517 §4.4) goes through the type's own serde.
        let mut value = serde_json::to_value(&jwk)?;
        value["alg"] = algorithm.as_str().into();
        Ok(serde_json::from_value(value)?)
    }
}

/// A key unsealed from the database.
pub struct DatabaseKey {
    kid: String,
    algorithm: SigningAlgorithm,
    pair: Pair,
    jwk: CoreJsonWebKey,
}

impl DatabaseKey {
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }
}

#[cfg(test)]
impl DatabaseKey {
    /// A fresh key that never touches the database.
    pub fn generated(algorithm: SigningAlgorithm) -> Self {
        let (kid, pkcs8, jwk) = generate(algorithm).expect("generates");
        let pair = Pair::from_pkcs8(algorithm, &pkcs8).expect("loads");
        DatabaseKey { kid, algorithm, pair, jwk }
    }
}

impl PrivateSigningKey for DatabaseKey {
    type VerificationKey = CoreJsonWebKey;

    /// The JWS signature over `message`: raw r||s for ES256, PKCS#1 v1.5 for RS256. A key
    /// signs only with its own algorithm.
    fn sign(&self, alg: &CoreJwsSigningAlgorithm, message: &[u8]) -> Result<Vec<u8>, SigningError> {
        if *alg != jws_algorithm(self.algorithm) {
            return Err(SigningError::UnsupportedAlg(format!("{alg:?} with an {} key", self.algorithm)));
        }
        let rng = SystemRandom::new();
        match &self.pair {
            Pair::Ec(pair) => Ok(pair.sign(&rng, message).map_err(|_| SigningError::CryptoError)?.as_ref().to_vec()),
            Pair::Rsa(pair) => {
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, message, &mut sig).map_err(|_| SigningError::CryptoError)?;
                Ok(sig)
            }
        }
    }

    fn as_verification_key(&self) -> CoreJsonWebKey {
        self.jwk.clone()
    }
}

/// Runs `work` with the key: on the blocking pool when the algorithm is slow (RSA),
/// inline otherwise.
pub async fn with_key<T: Send + 'static>(
    app: &App,
    key: Arc<DatabaseKey>,
    work: impl FnOnce(&DatabaseKey) -> T + Send + 'static,
) -> anyhow::Result<T> {
    match key.algorithm {
        SigningAlgorithm::Es256 => Ok(work(&key)),
        SigningAlgorithm::Rs256 => Ok(app.pool.run(move || work(&key)).await?),
    }
}

/// The additional data that binds a sealed key to its identity.
fn aad(kid: &str, algorithm: SigningAlgorithm) -> Vec<u8> {
    format!("mamori-oidc-signing-key:{kid}:{algorithm}").into_bytes()
}

/// A fresh key pair: its kid, PKCS#8 document and public JWK.
pub fn generate(algorithm: SigningAlgorithm) -> anyhow::Result<(String, Vec<u8>, CoreJsonWebKey)> {
    let kid = format!("{}-{}", algorithm.as_str().to_lowercase(), &crate::secrets::url_token()[..16]);
    let pkcs8 = match algorithm {
        SigningAlgorithm::Es256 => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map_err(|_| anyhow::anyhow!("P-256 key generation failed"))?
            .as_ref()
            .to_vec(),
        SigningAlgorithm::Rs256 => RsaKeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| anyhow::anyhow!("RSA key generation failed"))?
            .as_der()
            .map_err(|_| anyhow::anyhow!("RSA key does not encode"))?
            .as_ref()
            .to_vec(),
    };
    let jwk = Pair::from_pkcs8(algorithm, &pkcs8).context("the generated key does not load")?.public_jwk(&kid, algorithm)?;
    Ok((kid, pkcs8, jwk))
}

fn load(key: &SigningKey, app: &App) -> anyhow::Result<DatabaseKey> {
    let pkcs8 = app
        .sealing
        .open(&key.sealed_private_key, &aad(&key.kid, key.algorithm))
        .map_err(|e| anyhow::anyhow!("signing key {} does not unseal: {e}", key.kid))?;
    let pair = Pair::from_pkcs8(key.algorithm, &pkcs8).with_context(|| format!("signing key {}", key.kid))?;
    let jwk = pair.public_jwk(&key.kid, key.algorithm)?;
    Ok(DatabaseKey { kid: key.kid.clone(), algorithm: key.algorithm, pair, jwk })
}

/// Creates and stores a new key, active from `now`.
pub async fn create(app: &App, algorithm: SigningAlgorithm, now: OffsetDateTime) -> anyhow::Result<SigningKey> {
    let (kid, pkcs8, jwk) = app.pool.run(move || generate(algorithm)).await??;
    let sealed = app.sealing.seal(&pkcs8, &aad(&kid, algorithm)).map_err(|e| anyhow::anyhow!("cannot seal the key: {e}"))?;
    let new = NewSigningKey {
        kid,
        tenant_id: None,
        purpose: KeyPurpose::Oidc,
        algorithm,
        public_jwk: Some(serde_json::to_string(&jwk)?),
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
    app.caches.oidc_keys.forget();
    Ok(kids)
}

/// The key this node signs with per algorithm, and when it looked it up.
#[derive(Default)]
pub struct ActiveKeys(Mutex<HashMap<SigningAlgorithm, (Instant, Arc<DatabaseKey>)>>);

impl ActiveKeys {
    fn forget(&self) {
        if let Ok(mut cache) = self.0.lock() {
            cache.clear();
        }
    }
}

/// How long a node keeps using the key it looked up before asking again (another node
/// may have rotated).
const ACTIVE_KEY_TTL: StdDuration = StdDuration::from_secs(10);

/// The key to sign with for `algorithm`, created on first use.
pub async fn signing_key(app: &App, algorithm: SigningAlgorithm) -> anyhow::Result<Arc<DatabaseKey>> {
    if let Ok(cache) = app.caches.oidc_keys.0.lock()
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
    if let Ok(mut cache) = app.caches.oidc_keys.0.lock() {
        cache.insert(algorithm, (Instant::now(), Arc::clone(&key)));
    }
    Ok(key)
}

/// The published JWK Set: every unexpired key (RFC 7517 §5), creating the first keys
/// when there are none so that discovery never advertises an empty set.
pub async fn published_key_set(app: &App) -> anyhow::Result<CoreJsonWebKeySet> {
    let now = app.now();
    let mut keys = app.storage.signing_keys().list_published(None, KeyPurpose::Oidc, now).await?;
    if keys.is_empty() {
        signing_key(app, SigningAlgorithm::Es256).await?;
        signing_key(app, SigningAlgorithm::Rs256).await?;
        keys = app.storage.signing_keys().list_published(None, KeyPurpose::Oidc, now).await?;
    }
    let mut jwks = Vec::with_capacity(keys.len());
    for key in &keys {
        match key.public_jwk.as_deref().map(serde_json::from_str::<CoreJsonWebKey>) {
            Some(Ok(jwk)) => jwks.push(jwk),
            _ => tracing::warn!(kid = %key.kid, "signing key without a readable public JWK is not published"),
        }
    }
    Ok(CoreJsonWebKeySet::new(jwks))
}

/// [`published_key_set`] as JSON, for verifying this provider's own tokens with
/// [`super::jwt`].
pub async fn published_jwks(app: &App) -> anyhow::Result<serde_json::Value> {
    Ok(serde_json::to_value(published_key_set(app).await?)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey};
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn b64(v: &serde_json::Value, field: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(v[field].as_str().expect("field")).expect("base64url")
    }

    /// Each algorithm's signature, made through openidconnect's signing trait, verifies
    /// with aws-lc-rs from the published JWK alone; the JWK names its kid, use and alg.
    #[test]
    fn signatures_verify_against_the_published_jwk() {
        for algorithm in [SigningAlgorithm::Es256, SigningAlgorithm::Rs256] {
            let (kid, pkcs8, jwk) = generate(algorithm).expect("generates");
            let published = serde_json::to_value(&jwk).expect("serializes");
            assert_eq!(published["kid"], kid.as_str());
            assert_eq!(published["alg"], algorithm.as_str());
            assert_eq!(published["use"], "sig");
            assert!(published.get("d").is_none(), "no private part");
            let pair = Pair::from_pkcs8(algorithm, &pkcs8).expect("loads");
            let loaded = pair.public_jwk(&kid, algorithm).expect("public JWK");
            let key = DatabaseKey { kid, algorithm, pair, jwk: loaded };
            assert_eq!(key.as_verification_key(), jwk, "the loaded key publishes the same JWK");
            let message = b"header.payload";
            let sig = key.sign(&jws_algorithm(algorithm), message).expect("signs");
            let ok = match algorithm {
                SigningAlgorithm::Es256 => {
                    let mut point = vec![4];
                    point.extend(b64(&published, "x"));
                    point.extend(b64(&published, "y"));
                    assert_eq!(published["crv"], "P-256");
                    assert_eq!(sig.len(), 64, "JWS ES256 signatures are r||s");
                    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).verify(message, &sig).is_ok()
                }
                SigningAlgorithm::Rs256 => {
                    let (n, e) = (b64(&published, "n"), b64(&published, "e"));
                    RsaPublicKeyComponents { n: &n, e: &e }.verify(&RSA_PKCS1_2048_8192_SHA256, message, &sig).is_ok()
                }
            };
            assert!(ok, "{algorithm} signature verifies");
            let other = match algorithm {
                SigningAlgorithm::Es256 => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
                SigningAlgorithm::Rs256 => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            };
            assert!(matches!(key.sign(&other, message), Err(SigningError::UnsupportedAlg(_))), "one algorithm per key");
        }
    }
}
