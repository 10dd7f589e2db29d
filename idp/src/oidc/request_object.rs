//! Request objects (RFC 9101; OpenID Connect Core §6): verified against the client's
//! keys, and fetched by reference from a `request_uri` the client registered (§6.2).

use std::sync::Arc;
use std::time::Duration;

use super::clients::{RegisteredClient, without_fragment};
use super::error::OAuthError;
use super::{Issuer, jwks_fetch, jwt};
use crate::app::App;
use crate::outbound::{self, Limits};

const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Request objects are small; this is generous.
const MAX_OBJECT: usize = 64 * 1024;

/// The request object at `uri`, one of the client's registered `request_uris` (compared
/// without the fragment), fetched through the guarded outbound client. Any content type
/// is accepted (`application/oauth-authz-req+jwt` is asked for) as long as the body is a
/// compact JWS; it is then checked like a `request` parameter.
pub async fn fetch(app: &App, client: &RegisteredClient, uri: &str) -> Result<String, OAuthError> {
    let refused = OAuthError::InvalidRequestUri;
    if !client.settings.registered_request_uri(uri) {
        return Err(refused("the request_uri is not registered for this client"));
    }
    let config = &app.config.oidc;
    let limits = Limits::for_clients(config, FETCH_TIMEOUT, MAX_OBJECT);
    let fetched = outbound::get(config, without_fragment(uri), "application/oauth-authz-req+jwt, application/jwt", limits)
        .await
        .map_err(|error| {
            tracing::warn!(client_id = client.client_id(), request_uri = uri, %error, "cannot fetch a request object");
            refused("the request_uri could not be fetched")
        })?;
    let text = std::str::from_utf8(&fetched.body).map_err(|_| refused("the request_uri did not return a JWT"))?.trim();
    if !looks_like_jws(text) {
        return Err(refused("the request_uri did not return a JWT"));
    }
    Ok(text.to_owned())
}

/// Three dot-separated base64url parts (an encrypted, five-part object is not supported).
fn looks_like_jws(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 3
        && parts[..2].iter().all(|p| !p.is_empty())
        && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// A request object signed with a key of the client's JWK Set (inline, or else at its
/// `jwks_uri`, through the same per-node cache as `private_key_jwt`), for this issuer,
/// current; its parameters.
pub async fn verify(app: &App, client: &RegisteredClient, issuer: &Issuer, object: &str) -> Result<Vec<(String, String)>, OAuthError> {
    let invalid = OAuthError::InvalidRequestObject;
    let now = app.now().unix_timestamp();
    let parsed = jwt::parse(object).map_err(|_| invalid("the request object is not a signed JWT"))?;
    let jwks = match (client.client.jwks.as_deref(), client.client.jwks_uri.as_deref()) {
        (Some(inline), _) => Arc::new(
            serde_json::from_str::<serde_json::Value>(inline).map_err(|_| invalid("the client has no registered keys for request objects"))?,
        ),
        (None, Some(uri)) => jwks_fetch::keys_for(&app.config.oidc, uri, parsed.header["kid"].as_str())
            .await
            .map_err(|_| invalid("the client's jwks_uri could not be fetched"))?,
        (None, None) => return Err(invalid("the client has no registered keys for request objects")),
    };
    parsed.verify(&jwks).map_err(|_| invalid("the request object's signature does not verify"))?;
    let claims = parsed.claims.as_object().ok_or(invalid("the request object has no claims"))?;
    if claims.get("iss").and_then(|v| v.as_str()).is_some_and(|iss| iss != client.client_id()) {
        return Err(invalid("the request object's iss is not the client"));
    }
    let aud_ok = match claims.get("aud") {
        None => true,
        Some(serde_json::Value::String(aud)) => issuer.is_own_audience(aud),
        Some(serde_json::Value::Array(auds)) => auds.iter().filter_map(|a| a.as_str()).any(|a| issuer.is_own_audience(a)),
        Some(_) => false,
    };
    if !aud_ok {
        return Err(invalid("the request object is for another audience"));
    }
    // Without `exp` a captured object would be replayable forever (RFC 9101 §10.8; FAPI 2.0
    // requires it): refused like an expired one.
    match claims.get("exp").and_then(|v| v.as_i64()) {
        None => return Err(invalid("the request object has no exp")),
        Some(exp) if exp <= now => return Err(invalid("the request object has expired")),
        Some(_) => {}
    }
    let mut out = Vec::new();
    for (k, v) in claims {
        if matches!(k.as_str(), "iss" | "aud" | "exp" | "iat" | "nbf" | "jti" | "request" | "request_uri") {
            continue;
        }
        let text = match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            other => other.to_string(),
        };
        out.push((k.clone(), text));
    }
    Ok(out)
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_compact_jws_bodies_are_request_objects() {
        assert!(looks_like_jws("eyJhbGciOiJFUzI1NiJ9.eyJhIjoxfQ.c2ln"));
        for bad in ["", "<html>error</html>", "a.b", "a.b.c.d.e", "{\"a\":1}", ".b.c", "a b.c.d"] {
            assert!(!looks_like_jws(bad), "{bad}");
        }
    }
}
