//! Client authentication at the token, revocation, introspection and PAR endpoints
//! (RFC 6749 §2.3, OpenID Connect Core §9): `client_secret_basic`, `client_secret_post`,
//! `private_key_jwt` (RFC 7523, each assertion accepted once), RFC 8705
//! `tls_client_auth` / `self_signed_tls_client_auth` on the client-certificate listener,
//! and `none` for public clients. A client authenticates only with the method it
//! registered.

use std::net::IpAddr;

use base64::Engine as _;
use mamori_storage::model::{NewPendingRequest, PendingRequestKind};
use sha2::{Digest, Sha256};
use x509_parser::prelude::FromDer as _;

use super::clients::{self, RegisteredClient};
use super::error::OAuthError;
use super::{Issuer, Params, jwks_fetch, jwt};
use crate::app::App;
use crate::throttle::{self, Subject};

pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A client that proved who it is, and the certificate it connected with (if any).
#[derive(Debug, Clone)]
pub struct AuthenticatedClient {
    pub registered: RegisteredClient,
    /// base64url SHA-256 of the client certificate's DER (`x5t#S256`), on the mTLS listener.
    pub certificate_thumbprint: Option<String>,
}

/// What a request presents to authenticate its client, read off the request once by the
/// endpoint (`presented::from_request`); deciding needs no HTTP.
#[derive(Debug, Clone)]
pub struct Presented<'a> {
    /// `Authorization: Basic` credentials, form-decoded (RFC 6749 §2.3.1); an error when
    /// the header is there but malformed.
    pub basic: Result<Option<(String, String)>, OAuthError>,
    pub params: &'a Params,
    /// The leaf certificate (DER) the client connected with, on the client-certificate
    /// listener only (RFC 8705 does not apply on the main one).
    pub certificate: Option<&'a [u8]>,
    /// Where the request came from (after trusted proxies), for throttling.
    pub source: IpAddr,
}

impl Presented<'_> {
    /// The client the request names, before any check: the Basic user name, else the
    /// client assertion's `sub`, else `client_id` (what [`authenticate`] then
    /// authenticates). For choosing CORS headers only (cors.rs): it proves nothing.
    pub fn named_client_id(&self) -> Option<String> {
        if let Ok(Some((id, _))) = &self.basic {
            return Some(id.clone());
        }
        if let Some(assertion) = self.params.get("client_assertion") {
            return jwt::parse(assertion).ok().and_then(|parsed| parsed.claims["sub"].as_str().map(str::to_owned));
        }
        self.params.get("client_id").map(str::to_owned)
    }
}

/// `Authorization: Basic` credentials from the header's value, form-decoded as RFC 6749
/// §2.3.1 says; `None` for another scheme.
pub fn basic_credentials(value: &str) -> Result<Option<(String, String)>, OAuthError> {
    // The scheme's name is case-insensitive (RFC 7235 §2.1).
    let Some(encoded) = value.split_once(' ').filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic")).map(|(_, rest)| rest) else {
        return Ok(None);
    };
    let bad = OAuthError::InvalidClient("malformed Basic credentials");
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| bad.clone())?;
    let text = String::from_utf8(decoded).map_err(|_| bad.clone())?;
    let (id, secret) = text.split_once(':').ok_or(bad)?;
    Ok(Some((crate::urlcode::form_value(id), crate::urlcode::form_value(secret))))
}

/// `x5t#S256` of a certificate (base64url SHA-256 of its DER), as RFC 8705 §3.1 binds
/// tokens to it.
pub fn certificate_thumbprint(der: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(der))
}

/// Authenticates the client of a back-channel request to `issuer`.
pub async fn authenticate(app: &App, issuer: &Issuer, presented: &Presented<'_>) -> Result<AuthenticatedClient, OAuthError> {
    let params = presented.params;
    let basic = presented.basic.clone()?;
    let assertion = params.get("client_assertion");
    let methods = [basic.is_some(), params.contains("client_secret"), assertion.is_some()];
    if methods.iter().filter(|p| **p).count() > 1 {
        return Err(OAuthError::InvalidRequest("more than one client authentication method was used"));
    }
    // Which client claims to be calling.
    let assertion_parsed = match assertion {
        Some(a) => {
            if params.get("client_assertion_type") != Some(JWT_BEARER_ASSERTION) {
                return Err(OAuthError::InvalidClient("unsupported client_assertion_type"));
            }
            Some(jwt::parse(a).map_err(|_| OAuthError::InvalidClient("the client assertion is not a JWT"))?)
        }
        None => None,
    };
    let client_id = match (&basic, &assertion_parsed) {
        (Some((id, _)), _) => id.clone(),
        (None, Some(parsed)) => parsed.claims["sub"].as_str().unwrap_or("").to_owned(),
        (None, None) => params.get("client_id").unwrap_or("").to_owned(),
    };
    if client_id.is_empty() {
        return Err(OAuthError::InvalidClient("no client authentication"));
    }
    if params.get("client_id").is_some_and(|id| id != client_id) {
        return Err(OAuthError::InvalidClient("client_id does not match the credentials"));
    }
    let unknown = OAuthError::InvalidClient("client authentication failed");
    let source = Subject::client_source(presented.source);
    // An unknown client is refused at once, without a dummy Argon2id hash: client IDs are
    // not secrets (they travel in every authorization request), so equal timing would hide
    // nothing, while a hash per guess would let anyone spend our CPU for free. It still
    // counts against the source, which may be probing.
    let Some(registered) = clients::load(app, issuer.tenant.id, &client_id).await? else {
        throttle::check(app, std::slice::from_ref(&source)).await?;
        throttle::record_failure(app, &[source]).await;
        return Err(unknown);
    };
    let certificate = presented.certificate;
    let thumbprint = certificate.map(certificate_thumbprint);
    let method = registered.client.token_endpoint_auth_method.as_str();
    let secret = match method {
        "client_secret_basic" => basic.as_ref().map(|(_, secret)| secret.as_str()),
        "client_secret_post" if basic.is_none() => params.get("client_secret"),
        _ => None,
    };
    // A secret this node verified recently costs no hash and counts nothing; everything
    // else is throttled first, so a throttled guess costs no hash either.
    if let Some(secret) = secret
        && secret_recently_verified(app, &registered, secret)
    {
        return Ok(AuthenticatedClient { registered, certificate_thumbprint: thumbprint });
    }
    let subjects = [Subject::client(issuer.tenant.id, &client_id), source];
    throttle::check(app, &subjects).await?;
    let ok = match method {
        "client_secret_basic" | "client_secret_post" => match secret {
            Some(secret) => verify_secret(app, &registered, secret).await?,
            None => false,
        },
        "private_key_jwt" => match &assertion_parsed {
            Some(parsed) => verify_assertion(app, issuer, &registered, parsed).await?,
            None => false,
        },
        "tls_client_auth" => basic.is_none() && assertion.is_none() && verify_pki_certificate(app, &registered, certificate).await?,
        "self_signed_tls_client_auth" => basic.is_none() && assertion.is_none() && verify_self_signed(&registered, certificate),
        "none" => basic.is_none() && assertion.is_none() && !params.contains("client_secret"),
        _ => false,
    };
    if !ok {
        throttle::record_failure(app, &subjects).await;
        return Err(unknown);
    }
    Ok(AuthenticatedClient { registered, certificate_thumbprint: thumbprint })
}

/// Client secrets are stored as Argon2id hashes; checking one costs tens of milliseconds
/// by design. A secret that verified is remembered for a few minutes as a keyed SHA-256
/// (a per-process random key, the client ID, the stored hash and the secret), so a busy
/// client pays Argon2id once, not per request; a changed stored hash misses the cache.
const VERIFIED_SECRET_TTL: std::time::Duration = std::time::Duration::from_secs(300);
const VERIFIED_SECRET_MAX: usize = 10_000;

/// The secrets this node verified recently, as keyed digests (the key is random per
/// node and never leaves it).
pub struct VerifiedSecrets {
    key: [u8; 32],
    recent: std::sync::Mutex<std::collections::HashMap<String, ([u8; 32], std::time::Instant)>>,
}

impl Default for VerifiedSecrets {
    fn default() -> Self {
        VerifiedSecrets { key: rand::random(), recent: Default::default() }
    }
}

impl VerifiedSecrets {
    fn digest(&self, client_id: &str, stored: &str, secret: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        for part in [self.key.as_slice(), client_id.as_bytes(), stored.as_bytes(), secret.as_bytes()] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        h.finalize().into()
    }
}

/// True when this node verified exactly this secret for this client (and stored hash)
/// within [`VERIFIED_SECRET_TTL`].
fn secret_recently_verified(app: &App, client: &RegisteredClient, secret: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    let Some(stored) = client.client.client_secret_hash.as_deref() else { return false };
    let id = client.client_id();
    let verified = &app.caches.verified_secrets;
    let digest = verified.digest(id, stored, secret);
    verified
        .recent
        .lock()
        .is_ok_and(|cache| cache.get(id).is_some_and(|(known, at)| at.elapsed() < VERIFIED_SECRET_TTL && bool::from(known.ct_eq(&digest))))
}

async fn verify_secret(app: &App, client: &RegisteredClient, secret: &str) -> Result<bool, OAuthError> {
    let Some(stored) = client.client.client_secret_hash.as_deref() else {
        let _ = app.hasher.verify(secret, None).await;
        return Ok(false);
    };
    let ok = app.hasher.verify(secret, Some(stored)).await.map_err(|e| OAuthError::internal(&e.into()))?;
    let verified = &app.caches.verified_secrets;
    if ok && let Ok(mut cache) = verified.recent.lock() {
        if cache.len() >= VERIFIED_SECRET_MAX {
            cache.clear();
        }
        let id = client.client_id();
        cache.insert(id.to_owned(), (verified.digest(id, stored, secret), std::time::Instant::now()));
    }
    Ok(ok)
}

/// RFC 7523 §3: signed by a key of the client, iss = sub = client_id, our audience,
/// unexpired, with a jti not seen before.
async fn verify_assertion(app: &App, issuer: &Issuer, client: &RegisteredClient, parsed: &jwt::Parsed) -> Result<bool, OAuthError> {
    if !signed_by_client_key(app, client, parsed).await {
        return Ok(false);
    }
    let claims = &parsed.claims;
    let now = app.now().unix_timestamp();
    let id = client.client_id();
    if claims["iss"].as_str() != Some(id) || claims["sub"].as_str() != Some(id) {
        return Ok(false);
    }
    let aud_ok = match &claims["aud"] {
        serde_json::Value::String(a) => issuer.is_own_audience(a),
        serde_json::Value::Array(list) => list.iter().filter_map(|a| a.as_str()).any(|a| issuer.is_own_audience(a)),
        _ => false,
    };
    let Some(exp) = claims["exp"].as_i64() else { return Ok(false) };
    let Some(jti) = claims["jti"].as_str() else { return Ok(false) };
    if !aud_ok || exp <= now || exp > now + 3600 {
        return Ok(false);
    }
    // Accepted once: the jti is remembered until the assertion expires.
    let expires_at = time::OffsetDateTime::from_unix_timestamp(exp).map_err(|e| OAuthError::internal(&e.into()))?;
    let record = NewPendingRequest {
        lookup_hash: mamori_storage::token_lookup_hash(&format!("{id}\u{0}{jti}")),
        kind: PendingRequestKind::ClientAssertion,
        tenant_id: issuer.tenant.id,
        client_id: id.to_owned(),
        params: serde_json::json!({}),
        expires_at,
    };
    match app.storage.oidc_grants().create_pending(&record, app.now()).await {
        Ok(_) => Ok(true),
        Err(mamori_storage::StorageError::Conflict(_)) => Ok(false),
        Err(err) => Err(err.into()),
    }
}

/// The assertion verifies with the client's inline JWK Set, or else with the set at its
/// `jwks_uri` (fetched and cached per node by [`jwks_fetch`]). A set that cannot be fetched
/// fails the authentication (`invalid_client`), logged there, never a server error.
async fn signed_by_client_key(app: &App, client: &RegisteredClient, parsed: &jwt::Parsed) -> bool {
    if let Some(jwks) = client.client.jwks.as_deref() {
        return serde_json::from_str::<serde_json::Value>(jwks).is_ok_and(|jwks| parsed.verify(&jwks).is_ok());
    }
    let Some(uri) = client.client.jwks_uri.as_deref() else { return false };
    let kid = parsed.header["kid"].as_str();
    match jwks_fetch::keys_for(app, uri, kid).await {
        Ok(jwks) => parsed.verify(&jwks).is_ok(),
        Err(_) => false,
    }
}

/// RFC 8705 §2.1: a certificate from our CA, recorded and not revoked, whose subject DN is
/// the registered one.
async fn verify_pki_certificate(app: &App, client: &RegisteredClient, leaf: Option<&[u8]>) -> Result<bool, OAuthError> {
    let Some(expected) = client.settings.tls_client_auth_subject_dn.as_deref() else { return Ok(false) };
    let Some(leaf) = leaf else { return Ok(false) };
    let Ok((_, cert)) = x509_parser::certificate::X509Certificate::from_der(leaf) else { return Ok(false) };
    if !cert.validity().is_valid() || !same_dn(&cert.subject().to_string(), expected) {
        return Ok(false);
    }
    let issuer_der = app.ca.issuing_certificate_der().await.map_err(|e| OAuthError::internal(&anyhow::anyhow!("{e}")))?;
    let Ok((_, ca)) = x509_parser::certificate::X509Certificate::from_der(&issuer_der) else { return Ok(false) };
    if cert.verify_signature(Some(ca.public_key())).is_err() {
        return Ok(false);
    }
    // Our CA's own records decide whether it still vouches for the certificate: one it
    // revoked (or does not know) authenticates no client, as at the login.
    let serial = mamori_storage::serial_key(&hex::encode(cert.tbs_certificate.raw_serial()));
    let fingerprint = hex::encode(Sha256::digest(leaf));
    let recorded = app.storage.certificates().find_by_serial_and_fingerprint(&serial, &fingerprint).await?;
    Ok(recorded.is_some_and(|c| c.status != mamori_storage::model::CertificateStatus::Revoked))
}

fn same_dn(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.split(',').map(|p| p.trim().to_ascii_lowercase()).collect::<Vec<_>>();
    norm(a) == norm(b)
}

/// RFC 8705 §2.2: exactly a certificate the client registered.
fn verify_self_signed(client: &RegisteredClient, leaf: Option<&[u8]>) -> bool {
    let Some(leaf) = leaf else { return false };
    let fingerprint = hex::encode(Sha256::digest(leaf));
    client.settings.tls_client_certificate_sha256.iter().any(|f| f.eq_ignore_ascii_case(&fingerprint))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("my%20client:p%40ss+word");
        assert_eq!(basic_credentials(&format!("Basic {encoded}")).expect("parses"), Some(("my client".into(), "p@ss word".into())));
        // A client that did not form-encode keeps `&` and `=` in its secret (the value is
        // one component, not a form), and bytes that are not UTF-8 become U+FFFD.
        let raw = base64::engine::general_purpose::STANDARD.encode("rp:a&b=c%FF");
        assert_eq!(basic_credentials(&format!("Basic {raw}")).expect("parses"), Some(("rp".into(), "a&b=c\u{fffd}".into())));
        assert!(basic_credentials("Basic !!!").is_err());
        for scheme in ["basic", "BASIC", "bAsIc"] {
            assert_eq!(basic_credentials(&format!("{scheme} {raw}")).expect("parses").map(|(id, _)| id), Some("rp".into()), "{scheme}");
        }
        assert_eq!(basic_credentials("Bearer abc").expect("another scheme"), None);
        assert!(same_dn("CN=rp, O=Example", "cn=rp,o=example"));
        // The verified-secret cache key changes with the secret and with the stored hash.
        // Two nodes (two caches) never share a digest.
        let verified = VerifiedSecrets::default();
        let a = verified.digest("rp", "$argon2id$1", "s3cret");
        assert_eq!(a, verified.digest("rp", "$argon2id$1", "s3cret"));
        assert_ne!(a, verified.digest("rp", "$argon2id$1", "s3cret2"));
        assert_ne!(a, verified.digest("rp", "$argon2id$2", "s3cret"));
        assert_ne!(a, verified.digest("rp2", "$argon2id$1", "s3cret"));
        assert_ne!(a, VerifiedSecrets::default().digest("rp", "$argon2id$1", "s3cret"));
    }
}
