//! The JWK Set of a `private_key_jwt` client that registered a `jwks_uri` instead of
//! inline keys (OpenID Connect Core §10.1.1, RFC 7591 §2), for `private_key_jwt` and
//! signed request objects: fetched over https through [`crate::outbound`] (its destination
//! guard included) within 5 s and 64 KiB, and cached per URI.
//!
//! The cache lives in this node (`App::caches`): in a cluster every node fetches and caches on its
//! own (the keys are public, so nothing needs sharing, and a node never waits on another
//! one or on Redis for them). A cached set is used for up to 5 minutes (less when the
//! response's `Cache-Control: max-age` says so); an assertion whose `kid` is not in the
//! set triggers one refetch (the client rotated its key), at most once per 30 s per URI so
//! that made-up `kid`s cannot turn the token endpoint into a request generator. Requests
//! for the same URI wait for one fetch rather than each starting their own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::app::App;
use crate::config::OidcConfig;
use crate::outbound::{self, Outbound, OutboundError};

const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_BODY: usize = 64 * 1024;
const MAX_TTL: Duration = Duration::from_secs(300);
/// Also the shortest TTL a `max-age` can ask for.
const MIN_REFETCH: Duration = Duration::from_secs(30);
/// How long a URI that could not be fetched (and has no keys cached) is not tried again.
const FAILED_RETRY: Duration = Duration::from_secs(10);
const MAX_URIS: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("jwks_uri: {0}")]
    Outbound(#[from] OutboundError),
    #[error("jwks_uri response is not a JWK Set")]
    NotJwks,
    #[error("jwks_uri publishes a private or symmetric key; the set is not used")]
    Secret,
    #[error("jwks_uri failed recently; not retried yet")]
    RecentlyFailed,
}

#[derive(Default)]
struct Entry {
    keys: Option<Arc<Value>>,
    /// When the keys were fetched and how long they are good for.
    fetched_at: Option<Instant>,
    ttl: Duration,
    /// The last attempt, successful or not (the 30 s refetch limit counts from it).
    attempted_at: Option<Instant>,
    last_failed: bool,
}

type Slot = Arc<tokio::sync::Mutex<Entry>>;

/// The JWK Sets this node fetched, per URI.
#[derive(Default)]
pub struct JwksCache(Mutex<HashMap<String, Slot>>);

impl JwksCache {
    fn slot(&self, uri: &str) -> Slot {
        let mut map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= MAX_URIS && !map.contains_key(uri) {
            map.clear();
        }
        map.entry(uri.to_owned()).or_default().clone()
    }
}

fn has_kid(keys: &Value, kid: &str) -> bool {
    keys["keys"].as_array().is_some_and(|ks| ks.iter().any(|k| k["kid"].as_str() == Some(kid)))
}

/// The client's keys for an assertion naming `kid` (if it names one): cached, or fetched
/// now when there are none, they are stale, or `kid` is new and the last fetch is 30 s old.
/// A failed refetch keeps the keys already known.
pub async fn keys_for(app: &App, uri: &str, kid: Option<&str>) -> Result<Arc<Value>, FetchError> {
    let slot = app.caches.client_jwks.slot(uri);
    let mut entry = slot.lock().await;
    let now = Instant::now();
    let fresh = entry.fetched_at.is_some_and(|at| now.duration_since(at) < entry.ttl);
    let may_retry = entry
        .attempted_at
        .is_none_or(|at| now.duration_since(at) >= if entry.last_failed && entry.keys.is_none() { FAILED_RETRY } else { MIN_REFETCH });
    if let Some(keys) = &entry.keys {
        let kid_known = kid.is_none_or(|k| has_kid(keys, k));
        if fresh && (kid_known || !may_retry) {
            return Ok(keys.clone());
        }
    } else if !may_retry {
        return Err(FetchError::RecentlyFailed);
    }
    entry.attempted_at = Some(now);
    match fetch(&app.outbound, &app.config.oidc, uri).await {
        Ok((keys, ttl)) => {
            let keys = Arc::new(keys);
            entry.keys = Some(keys.clone());
            entry.fetched_at = Some(Instant::now());
            entry.ttl = ttl;
            entry.last_failed = false;
            Ok(keys)
        }
        Err(err) => {
            entry.last_failed = true;
            tracing::warn!(jwks_uri = uri, error = %err, "cannot fetch a client's JWK Set");
            // A rotation check that failed still leaves the known, unexpired keys.
            if fresh && let Some(keys) = &entry.keys {
                return Ok(keys.clone());
            }
            entry.keys = None;
            entry.fetched_at = None;
            Err(err)
        }
    }
}

/// One GET of the set, with its lifetime.
async fn fetch(outbound: &Outbound, config: &OidcConfig, uri: &str) -> Result<(Value, Duration), FetchError> {
    let limits = outbound::Limits::for_clients(config, FETCH_TIMEOUT, MAX_BODY);
    let fetched = outbound.get(uri, "application/jwk-set+json, application/json", limits).await?;
    let ttl = max_age(&fetched.headers).map_or(MAX_TTL, |age| age.clamp(MIN_REFETCH, MAX_TTL));
    let keys: Value = serde_json::from_slice(&fetched.body).map_err(|_| FetchError::NotJwks)?;
    // The registration's screen (mamori_untrusted::client_keys), as far as a published
    // set allows: more keys than a client may register, or a private or symmetric key
    // (leaked: nothing it signs is trusted), refuse the set; keys Mamori never verifies
    // with (encryption keys for other providers) are left out.
    let keys = mamori_untrusted::client_keys::published_keys(&keys, super::clients::MAX_JWKS_KEYS)
        .map_err(|why| if why.is_secret() { FetchError::Secret } else { FetchError::NotJwks })?;
    Ok((keys, ttl))
}

fn max_age(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get(http::header::CACHE_CONTROL)?.to_str().ok()?;
    value.split(',').find_map(|d| d.trim().strip_prefix("max-age=")?.trim_matches('"').parse().ok()).map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_lifetimes_and_kids() {
        let headers = http::HeaderMap::from_iter([(http::header::CACHE_CONTROL, "public, max-age=60".parse().expect("value"))]);
        assert_eq!(max_age(&headers), Some(Duration::from_secs(60)));
        assert!(has_kid(&serde_json::json!({"keys": [{"kid": "a"}]}), "a"));
        assert!(!has_kid(&serde_json::json!({"keys": [{"kid": "a"}]}), "b"));
    }

    #[tokio::test]
    async fn plain_http_bad_urls_and_private_addresses_are_refused_without_a_request() {
        let config = OidcConfig::default();
        let outbound = Outbound::new(&config);
        for uri in ["http://127.0.0.1:9/jwks", "ftp://example.com/jwks", "not a url"] {
            assert!(matches!(fetch(&outbound, &config, uri).await, Err(FetchError::Outbound(OutboundError::BadUri(_)))), "{uri}");
        }
        let refused = fetch(&outbound, &config, "https://10.0.0.1/jwks").await;
        assert!(matches!(refused, Err(FetchError::Outbound(OutboundError::Forbidden(_)))), "{refused:?}");
    }
}
