//! Request objects (RFC 9101; OpenID Connect Core §6): verified against the client's
//! keys, and fetched by reference from a `request_uri` the client registered (§6.2).

use std::sync::Arc;
use std::time::Duration;

use super::clients::{RegisteredClient, without_fragment};
use super::error::OAuthError;
use super::{Issuer, jwks_fetch, jwt};
use crate::app::App;
use crate::outbound::Limits;

const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a fetched object is reused, whatever its `exp` says.
const MAX_CACHED: Duration = Duration::from_secs(300);
/// Objects kept per node: beyond this the oldest go (each is at most [`MAX_OBJECT`]).
const MAX_CACHED_OBJECTS: usize = 1_000;

/// Request objects fetched from `request_uri`s, per node, each until its own `exp` (at
/// most [`MAX_CACHED`]): an anonymous `/authorize` naming a registered `request_uri` must
/// not make every request a fetch from the client's server. Keyed by client and URI with
/// its fragment, so a client that changes the object changes the fragment (Core §6.2).
#[derive(Default)]
pub struct RequestObjectCache {
    entries: std::sync::Mutex<std::collections::HashMap<(String, String), (String, std::time::Instant)>>,
}

impl RequestObjectCache {
    fn get(&self, key: &(String, String)) -> Option<String> {
        let entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.get(key).filter(|(_, until)| *until > std::time::Instant::now()).map(|(jwt, _)| jwt.clone())
    }

    fn put(&self, key: (String, String), jwt: String, lifetime: Duration) {
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = std::time::Instant::now();
        entries.retain(|_, (_, until)| *until > now);
        if entries.len() >= MAX_CACHED_OBJECTS {
            let oldest = entries.iter().min_by_key(|(_, (_, until))| *until).map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                entries.remove(&oldest);
            }
        }
        entries.insert(key, (jwt, now + lifetime));
    }
}

/// How long a fetched object may be reused: until its `exp`, at most [`MAX_CACHED`].
fn reuse_for(jwt_text: &str, now_unix: i64) -> Duration {
    let exp = jwt::parse(jwt_text).ok().and_then(|p| p.claims["exp"].as_i64());
    let left = exp.map_or(0, |exp| exp.saturating_sub(now_unix).max(0));
    Duration::from_secs(u64::try_from(left).unwrap_or(0)).min(MAX_CACHED)
}
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
    let key = (client.client_id().to_owned(), uri.to_owned());
    if let Some(cached) = app.request_objects.get(&key) {
        return Ok(cached);
    }
    let config = &app.config.oidc;
    let limits = Limits::for_clients(config, FETCH_TIMEOUT, MAX_OBJECT);
    let fetched =
        app.outbound.get(without_fragment(uri), "application/oauth-authz-req+jwt, application/jwt", limits).await.map_err(|error| {
            tracing::warn!(client_id = client.client_id(), request_uri = uri, %error, "cannot fetch a request object");
            refused("the request_uri could not be fetched")
        })?;
    let text = std::str::from_utf8(&fetched.body).map_err(|_| refused("the request_uri did not return a JWT"))?.trim();
    if !looks_like_jws(text) {
        return Err(refused("the request_uri did not return a JWT"));
    }
    // Kept only as long as it can be used; verification still runs on every request.
    let lifetime = reuse_for(text, app.now().unix_timestamp());
    if !lifetime.is_zero() {
        app.request_objects.put(key, text.to_owned(), lifetime);
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
            serde_json::from_str::<serde_json::Value>(inline)
                .map_err(|_| invalid("the client has no registered keys for request objects"))?,
        ),
        (None, Some(uri)) => jwks_fetch::keys_for(app, uri, parsed.header["kid"].as_str())
            .await
            .map_err(|_| invalid("the client's jwks_uri could not be fetched"))?,
        (None, None) => return Err(invalid("the client has no registered keys for request objects")),
    };
    parsed.verify(&jwks).map_err(|_| invalid("the request object's signature does not verify"))?;
    let claims = parsed.claims.as_object().ok_or(invalid("the request object has no claims"))?;
    if claims.get("iss").and_then(|v| v.as_str()).is_some_and(|iss| iss != client.client_id()) {
        return Err(invalid("the request object's iss is not the client"));
    }
    // OIDC Core §6.1 and RFC 9101 §4 ask for `aud` in a signed object; without it the same
    // object would be good at any authorization server that trusts the client's key.
    let aud_ok = match claims.get("aud") {
        Some(serde_json::Value::String(aud)) => issuer.is_own_audience(aud),
        Some(serde_json::Value::Array(auds)) => auds.iter().filter_map(|a| a.as_str()).any(|a| issuer.is_own_audience(a)),
        _ => false,
    };
    if !aud_ok {
        return Err(invalid("the request object has no aud for this issuer"));
    }
    check_times(claims, now).map_err(invalid)?;
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

/// The longest a request object may be valid (FAPI 2.0 asks at most 60 minutes between
/// `nbf` and `exp`): a captured object is not a standing authorization request.
const MAX_LIFETIME_SECS: i64 = 3600;
/// Clocks of relying sites may run this far ahead of ours.
const CLOCK_SKEW_SECS: i64 = 60;

/// `exp` present, in the future and at most [`MAX_LIFETIME_SECS`] away; `nbf` and `iat`,
/// when present, not in the future (RFC 7519 §4.1.4, §4.1.5, §4.1.6; RFC 9101 §10.8).
fn check_times(claims: &serde_json::Map<String, serde_json::Value>, now: i64) -> Result<(), &'static str> {
    let time = |name: &str| match claims.get(name) {
        None => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or("the request object has a time that is not a number"),
    };
    let (exp, nbf, iat) = (time("exp")?, time("nbf")?, time("iat")?);
    // Without `exp` a captured object would be replayable forever: refused like an expired one.
    let exp = exp.ok_or("the request object has no exp")?;
    if exp <= now {
        return Err("the request object has expired");
    }
    if nbf.is_some_and(|nbf| nbf > now.saturating_add(CLOCK_SKEW_SECS)) {
        return Err("the request object is not valid yet (nbf)");
    }
    if iat.is_some_and(|iat| iat > now.saturating_add(CLOCK_SKEW_SECS)) {
        return Err("the request object was issued in the future (iat)");
    }
    let from = nbf.unwrap_or(now).min(now);
    if exp.saturating_sub(from) > MAX_LIFETIME_SECS {
        return Err("the request object is valid for more than an hour");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_checked_as_rfc_7519_says_and_lifetimes_are_short() {
        let now = 1_000_000;
        let check = |json: serde_json::Value| check_times(json.as_object().expect("object"), now);
        assert_eq!(check(serde_json::json!({"exp": now + 300, "iat": now, "nbf": now})), Ok(()));
        assert_eq!(check(serde_json::json!({"exp": now + 3600})), Ok(()));
        assert_eq!(check(serde_json::json!({"exp": now + 300, "iat": now + 30, "nbf": now + 30})), Ok(()), "within the skew");
        for (hostile, why) in [
            (serde_json::json!({}), "no exp"),
            (serde_json::json!({"exp": now}), "expired"),
            (serde_json::json!({"exp": now + 86_400 + 300, "nbf": now + 86_400}), "nbf"),
            (serde_json::json!({"exp": now + 300, "iat": now + 86_400}), "iat"),
            (serde_json::json!({"exp": now + 10 * 365 * 86_400}), "more than an hour"),
            (serde_json::json!({"exp": now + 7200, "nbf": now - 3600}), "more than an hour"),
            (serde_json::json!({"exp": "soon"}), "not a number"),
            (serde_json::json!({"exp": i64::MAX, "nbf": i64::MIN}), "more than an hour"),
        ] {
            let err = check(hostile.clone()).expect_err("refused");
            assert!(err.contains(why), "{hostile}: {err}");
        }
    }

    #[test]
    fn an_object_is_reused_until_its_exp_and_never_beyond_the_cap() {
        use base64::Engine as _;
        let token = |claims: &str| {
            let enc = |p: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(p);
            format!("{}.{}.{}", enc(r#"{"alg":"ES256"}"#), enc(claims), enc("sig"))
        };
        assert_eq!(reuse_for(&token(r#"{"exp":1060}"#), 1000), Duration::from_secs(60));
        assert_eq!(reuse_for(&token(r#"{"exp":999999}"#), 1000), MAX_CACHED);
        assert_eq!(reuse_for(&token(r#"{"exp":900}"#), 1000), Duration::ZERO, "expired: not kept");
        assert_eq!(reuse_for(&token(r#"{}"#), 1000), Duration::ZERO, "no exp: not kept");
        assert_eq!(reuse_for("not a jwt", 1000), Duration::ZERO);
    }

    use super::*;

    #[test]
    fn only_compact_jws_bodies_are_request_objects() {
        assert!(looks_like_jws("eyJhbGciOiJFUzI1NiJ9.eyJhIjoxfQ.c2ln"));
        for bad in ["", "<html>error</html>", "a.b", "a.b.c.d.e", "{\"a\":1}", ".b.c", "a b.c.d"] {
            assert!(!looks_like_jws(bad), "{bad}");
        }
    }
}
