//! The identity provider's keys (SAML Metadata §2.4.1.1 KeyDescriptor): an RSA-3072
//! signing key and a separate RSA-3072 encryption key, each with a self-signed X.509
//! certificate (SAML trusts the metadata, not a CA), generated with aws-lc-rs and rcgen,
//! sealed under the master key in `signing_keys` (purposes `saml` and
//! `saml-encryption`), shared by all tenants, and published in every tenant's metadata
//! from creation until they expire, so that a rotation publishes old and new keys.
//!
//! Private-key operations go through [`IdpKey`]; callers run them on the bounded blocking
//! pool (`App::pool`).

use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use anyhow::Context as _;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use mamori_storage::model::{KeyPurpose, NewSigningKey, SigningAlgorithm, SigningKey};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::app::App;

/// How long a SAML certificate is valid. Service providers pin it from our metadata, so a
/// short life would only force needless rotations; rotation is what replaces it.
const CERTIFICATE_VALIDITY: time::Duration = time::Duration::days(10 * 365);

/// How long a node keeps using the key it looked up before asking again.
const ACTIVE_KEY_TTL: StdDuration = StdDuration::from_secs(10);

/// What a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyUse {
    Signing,
    Encryption,
}

impl KeyUse {
    pub fn purpose(self) -> KeyPurpose {
        match self {
            KeyUse::Signing => KeyPurpose::Saml,
            KeyUse::Encryption => KeyPurpose::SamlEncryption,
        }
    }

    fn common_name(self) -> &'static str {
        match self {
            KeyUse::Signing => "Mamori SAML signing",
            KeyUse::Encryption => "Mamori SAML encryption",
        }
    }

    fn kid_prefix(self) -> &'static str {
        match self {
            KeyUse::Signing => "saml-sig",
            KeyUse::Encryption => "saml-enc",
        }
    }
}

/// A key unsealed from the database, with its certificate.
pub struct IdpKey {
    pub kid: String,
    certificate_der: Vec<u8>,
    pkcs8: Zeroizing<Vec<u8>>,
    pair: RsaKeyPair,
}

impl std::fmt::Debug for IdpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdpKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl IdpKey {
    fn from_parts(kid: String, certificate_der: Vec<u8>, pkcs8: Zeroizing<Vec<u8>>) -> anyhow::Result<IdpKey> {
        let pair = RsaKeyPair::from_pkcs8(&pkcs8).map_err(|_| anyhow::anyhow!("SAML key {kid} is not an RSA key"))?;
        Ok(IdpKey { kid, certificate_der, pkcs8, pair })
    }

    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    /// The certificate's base64 DER, as `ds:X509Certificate` holds it.
    pub fn certificate_base64(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&self.certificate_der)
    }

    /// The private key as PKCS#8 DER (what xmlsec's DER loader reads through OpenSSL).
    pub fn private_key_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 (Redirect-binding signatures).
    pub fn sign_rsa_sha256(&self, message: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut sig = vec![0; self.pair.public_modulus_len()];
        self.pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut sig).map_err(|_| anyhow::anyhow!("RSA signing failed"))?;
        Ok(sig)
    }
}

/// The additional data that binds a sealed key to its identity.
fn aad(kid: &str, key_use: KeyUse) -> Vec<u8> {
    format!("mamori-saml-key:{kid}:{}", key_use.purpose()).into_bytes()
}

/// A fresh RSA-3072 key (PKCS#8) and its self-signed certificate (DER).
pub fn generate(key_use: KeyUse, now: OffsetDateTime) -> anyhow::Result<(String, Zeroizing<Vec<u8>>, Vec<u8>)> {
    let kid = format!("{}-{}", key_use.kid_prefix(), &crate::secrets::url_token()[..16]);
    let pair = RsaKeyPair::generate(KeySize::Rsa3072).map_err(|_| anyhow::anyhow!("RSA key generation failed"))?;
    let pkcs8 = Zeroizing::new(pair.as_der().map_err(|_| anyhow::anyhow!("RSA key does not encode"))?.as_ref().to_vec());
    let signer = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
        &rustls_pki_types::PrivatePkcs8KeyDer::from(pkcs8.as_slice()),
        &rcgen::PKCS_RSA_SHA256,
    )
    .context("loading the new key into rcgen")?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).context("certificate parameters")?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, key_use.common_name());
    params.distinguished_name.push(rcgen::DnType::OrganizationName, kid.as_str());
    params.not_before = super::earlier(now, time::Duration::minutes(5))?;
    params.not_after = super::later(now, CERTIFICATE_VALIDITY)?;
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    params.key_usages = match key_use {
        KeyUse::Signing => vec![rcgen::KeyUsagePurpose::DigitalSignature],
        KeyUse::Encryption => vec![rcgen::KeyUsagePurpose::KeyEncipherment],
    };
    let certificate = params.self_signed(&signer).context("self-signing the certificate")?;
    Ok((kid, pkcs8, certificate.der().to_vec()))
}

fn unseal(key: &SigningKey, key_use: KeyUse, app: &App) -> anyhow::Result<IdpKey> {
    let pkcs8 = app
        .sealing
        .open(&key.sealed_private_key, &aad(&key.kid, key_use))
        .map_err(|e| anyhow::anyhow!("SAML key {} does not unseal: {e}", key.kid))?;
    let pem_text = key.certificate_pem.as_deref().context("SAML key without a certificate")?;
    let der = pem::parse(pem_text).context("SAML key certificate is not PEM")?.into_contents();
    IdpKey::from_parts(key.kid.clone(), der, Zeroizing::new(pkcs8.to_vec()))
}

/// Creates and stores a new key, active from `now`.
pub async fn create(app: &App, key_use: KeyUse, now: OffsetDateTime) -> anyhow::Result<SigningKey> {
    create_activated_at(app, key_use, now, now).await
}

/// Creates and stores a new key, published from `now` and used from `activate_at`.
async fn create_activated_at(app: &App, key_use: KeyUse, now: OffsetDateTime, activate_at: OffsetDateTime) -> anyhow::Result<SigningKey> {
    let (kid, pkcs8, cert_der) = app.pool.run(move || generate(key_use, now)).await??;
    let sealed = app.sealing.seal(&pkcs8, &aad(&kid, key_use)).map_err(|e| anyhow::anyhow!("cannot seal the key: {e}"))?;
    let new = NewSigningKey {
        kid,
        tenant_id: None,
        purpose: key_use.purpose(),
        algorithm: SigningAlgorithm::Rs256,
        public_jwk: None,
        certificate_pem: Some(pem::encode(&pem::Pem::new("CERTIFICATE", cert_der))),
        sealed_private_key: sealed,
        activated_at: activate_at,
        retire_after: None,
        expires_at: Some(super::later(now, CERTIFICATE_VALIDITY)?),
    };
    Ok(app.storage.signing_keys().insert(&new, now).await?)
}

/// Staged rotation (SAML Metadata §2.4.1.1: SPs learn keys from metadata): new signing and
/// encryption keys are published at once and used from `now + grace`; the keys in use
/// now keep being used until then and stay published a day longer, for messages in
/// flight. Returns the new key IDs.
pub async fn rotate(app: &App, grace: time::Duration) -> anyhow::Result<Vec<String>> {
    let now = app.now();
    // The grace period comes from the operator: a sum past year 9999 is an error.
    let switch = super::later(now, grace).context("the grace period ends beyond the range of dates")?;
    let retire_at = super::later(switch, time::Duration::days(1)).context("the grace period ends beyond the range of dates")?;
    let mut kids = Vec::new();
    for key_use in [KeyUse::Signing, KeyUse::Encryption] {
        let repo = app.storage.signing_keys();
        let current = repo.active(None, key_use.purpose(), SigningAlgorithm::Rs256, now).await?;
        // A key an earlier rotation scheduled but never used is replaced by this one.
        for pending in repo.list_published(None, key_use.purpose(), now).await?.into_iter().filter(|k| k.activated_at > now) {
            app.storage.oidc_grants().retire_signing_key(&pending.kid, now, now).await?;
        }
        let created = create_activated_at(app, key_use, now, switch).await?;
        if let Some(old) = current {
            app.storage.oidc_grants().retire_signing_key(&old.kid, switch, retire_at).await?;
        }
        kids.push(created.kid);
    }
    if let Ok(mut cache) = app.caches.saml_keys.0.lock() {
        cache.clear();
    }
    Ok(kids)
}

/// The key this node uses per key use, and when it looked it up.
#[derive(Default)]
pub struct ActiveKeys(Mutex<std::collections::HashMap<KeyUse, (Instant, Arc<IdpKey>)>>);

/// The key to use now for `key_use`, created on first use.
pub async fn active(app: &App, key_use: KeyUse) -> anyhow::Result<Arc<IdpKey>> {
    if let Ok(cache) = app.caches.saml_keys.0.lock()
        && let Some((at, key)) = cache.get(&key_use)
        && at.elapsed() < ACTIVE_KEY_TTL
    {
        return Ok(Arc::clone(key));
    }
    let now = app.now();
    let repo = app.storage.signing_keys();
    let stored = match repo.active(None, key_use.purpose(), SigningAlgorithm::Rs256, now).await? {
        Some(key) => key,
        None => create(app, key_use, now).await.context("creating the first SAML key")?,
    };
    let key = Arc::new(unseal(&stored, key_use, app)?);
    if let Ok(mut cache) = app.caches.saml_keys.0.lock() {
        cache.insert(key_use, (Instant::now(), Arc::clone(&key)));
    }
    Ok(key)
}

/// Certificates (DER) to publish for `key_use`: every unexpired key, the active one
/// first, creating the first key when there is none.
pub async fn published_certificates(app: &App, key_use: KeyUse) -> anyhow::Result<Vec<Vec<u8>>> {
    let active = active(app, key_use).await?;
    let stored = app.storage.signing_keys().list_published(None, key_use.purpose(), app.now()).await?;
    let mut out = vec![active.certificate_der().to_vec()];
    for key in stored {
        let Some(pem_text) = key.certificate_pem.as_deref() else { continue };
        let Ok(parsed) = pem::parse(pem_text) else { continue };
        let der = parsed.into_contents();
        if !out.contains(&der) {
            out.push(der);
        }
    }
    Ok(out)
}

/// Every unexpired key for `key_use` that can be unsealed (to decrypt what a service
/// provider encrypted to a key we published).
pub async fn all_unexpired(app: &App, key_use: KeyUse) -> anyhow::Result<Vec<IdpKey>> {
    let stored = app.storage.signing_keys().list_published(None, key_use.purpose(), app.now()).await?;
    Ok(stored.iter().filter_map(|k| unseal(k, key_use, app).ok()).collect())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A generated key, shared by the module's tests (RSA-3072 generation takes a while).
    pub(crate) fn test_key(key_use: KeyUse) -> Arc<IdpKey> {
        static KEYS: std::sync::OnceLock<Mutex<std::collections::HashMap<KeyUse, Arc<IdpKey>>>> = std::sync::OnceLock::new();
        let keys = KEYS.get_or_init(Default::default);
        let mut keys = keys.lock().expect("lock");
        Arc::clone(keys.entry(key_use).or_insert_with(|| {
            let (kid, pkcs8, der) = generate(key_use, OffsetDateTime::now_utc()).expect("generates");
            Arc::new(IdpKey::from_parts(kid, der, pkcs8).expect("loads"))
        }))
    }

    #[test]
    fn certificates_carry_the_key_and_sign_verifiably() {
        let key = test_key(KeyUse::Signing);
        let (_, cert) = x509_parser::parse_x509_certificate(key.certificate_der()).expect("parses");
        assert!(cert.subject().to_string().contains("Mamori SAML signing"));
        let spki = cert.tbs_certificate.subject_pki.subject_public_key.data.to_vec();
        let sig = key.sign_rsa_sha256(b"message").expect("signs");
        aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256, spki)
            .verify(b"message", &sig)
            .expect("verifies with the certificate's key");
    }
}
