//! Compact JWS (RFC 7515) for what openidconnect has no public type for: signing RFC 9068
//! access tokens (`typ: at+jwt`), and verifying client assertions (RFC 7523), request
//! objects (RFC 9101) and this provider's own tokens against a JWK Set. ID tokens are
//! built and signed by openidconnect (see [`super::id_token`]); both sign through the
//! same [`PrivateSigningKey`] implementation in [`super::keys`].

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mamori_storage::model::SigningAlgorithm;
// Taking a token apart and verifying it is untrusted-input parsing, fuzzed on its own
// (idp/fuzz); it lives in `mamori-untrusted`.
pub use mamori_untrusted::jws::{JwtError, Parsed, parse};
use openidconnect::PrivateSigningKey as _;
use serde_json::{Value, json};

use super::keys::{self, DatabaseKey};
use crate::app::App;

/// Signs `claims` with the active key of `algorithm`; `typ` goes into the header
/// (`at+jwt`).
pub async fn sign(app: &App, algorithm: SigningAlgorithm, typ: &str, claims: &Value) -> anyhow::Result<String> {
    let key = keys::signing_key(app, algorithm).await?;
    sign_with(app, key, typ, claims).await
}

pub async fn sign_with(app: &App, key: Arc<DatabaseKey>, typ: &str, claims: &Value) -> anyhow::Result<String> {
    let header = json!({ "alg": key.algorithm().as_str(), "kid": key.kid(), "typ": typ });
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?), URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?));
    keys::with_key(app, key, move |key| {
        let signature = key.sign(&keys::jws_algorithm(key.algorithm()), input.as_bytes())?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    })
    .await?
}
