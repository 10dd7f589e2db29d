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

use super::keys::{self, DatabaseKey};
use crate::app::App;

/// Signs `claims` with the active key of `algorithm`; `typ` goes into the header
/// (`at+jwt`).
pub async fn sign<C: serde::Serialize + ?Sized>(app: &App, algorithm: SigningAlgorithm, typ: &str, claims: &C) -> anyhow::Result<String> {
    let key = keys::signing_key(app, algorithm).await?;
    sign_with(app, key, typ, claims).await
}

/// The header and claims are serialized straight to bytes (no `Value` in between): this
/// runs once per access token.
pub async fn sign_with<C: serde::Serialize + ?Sized>(app: &App, key: Arc<DatabaseKey>, typ: &str, claims: &C) -> anyhow::Result<String> {
    #[derive(serde::Serialize)]
    struct Header<'a> {
        alg: &'a str,
        kid: &'a str,
        typ: &'a str,
    }
    let header = serde_json::to_vec(&Header { alg: key.algorithm().as_str(), kid: key.kid(), typ })?;
    let claims = serde_json::to_vec(claims)?;
    let mut input = String::with_capacity((header.len() + claims.len()) * 4 / 3 + 100);
    URL_SAFE_NO_PAD.encode_string(&header, &mut input);
    input.push('.');
    URL_SAFE_NO_PAD.encode_string(&claims, &mut input);
    keys::with_key(app, key, move |key| {
        let signature = key.sign(&keys::jws_algorithm(key.algorithm()), input.as_bytes())?;
        let mut token = input;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    })
    .await?
}
