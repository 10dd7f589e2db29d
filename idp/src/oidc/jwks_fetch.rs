//! The JWK Set of a `private_key_jwt` client that registered a `jwks_uri` instead of
//! inline keys (OpenID Connect Core §10.1.1, RFC 7591 §2): fetched over https with hyper
//! and this binary's one rustls (aws-lc-rs), trusting the system roots plus
//! `oidc.jwks_fetch_extra_ca_file`, within 5 s and 64 KiB, and cached per URI.
//!
//! The cache lives in this process: in a cluster every node fetches and caches on its
//! own (the keys are public, so nothing needs sharing, and a node never waits on another
//! one or on Redis for them). A cached set is used for up to 5 minutes (less when the
//! response's `Cache-Control: max-age` says so); an assertion whose `kid` is not in the
//! set triggers one refetch (the client rotated its key), at most once per 30 s per URI so
//! that made-up `kid`s cannot turn the token endpoint into a request generator. Requests
//! for the same URI wait for one fetch rather than each starting their own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt as _, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::config::OidcConfig;

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
    #[error("jwks_uri is not an acceptable URL: {0}")]
    BadUri(&'static str),
    #[error("jwks_uri fetch failed: {0}")]
    Failed(String),
    #[error("jwks_uri fetch timed out")]
    Timeout,
    #[error("jwks_uri answered HTTP {0}")]
    Status(u16),
    #[error("jwks_uri response is larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error("jwks_uri response is not a JWK Set")]
    NotJwks,
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

fn slots() -> &'static Mutex<HashMap<String, Slot>> {
    static SLOTS: OnceLock<Mutex<HashMap<String, Slot>>> = OnceLock::new();
    SLOTS.get_or_init(|| Mutex::new(HashMap::new()))
}

fn slot(uri: &str) -> Slot {
    let mut map = slots().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if map.len() >= MAX_URIS && !map.contains_key(uri) {
        map.clear();
    }
    map.entry(uri.to_owned()).or_default().clone()
}

fn has_kid(keys: &Value, kid: &str) -> bool {
    keys["keys"].as_array().is_some_and(|ks| ks.iter().any(|k| k["kid"].as_str() == Some(kid)))
}

/// The client's keys for an assertion naming `kid` (if it names one): cached, or fetched
/// now when there are none, they are stale, or `kid` is new and the last fetch is 30 s old.
/// A failed refetch keeps the keys already known.
pub async fn keys_for(config: &OidcConfig, uri: &str, kid: Option<&str>) -> Result<Arc<Value>, FetchError> {
    let slot = slot(uri);
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
    match fetch(config, uri).await {
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

/// The TLS settings for fetches, built once per process: the system roots and the extra
/// CA file of the first configuration that asks (one configuration per server process).
fn tls_config(config: &OidcConfig) -> Result<Arc<rustls::ClientConfig>, FetchError> {
    static TLS: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    TLS.get_or_init(|| build_tls_config(config)).clone().map_err(FetchError::Failed)
}

fn build_tls_config(config: &OidcConfig) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        tracing::warn!(%error, "a system root certificate could not be loaded for jwks_uri fetches");
    }
    let (_added, _ignored) = roots.add_parsable_certificates(native.certs);
    if let Some(path) = &config.jwks_fetch_extra_ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("oidc.jwks_fetch_extra_ca_file {}: {e}", path.display()))?;
        for cert in certs {
            roots.add(cert).map_err(|e| format!("oidc.jwks_fetch_extra_ca_file {}: {e}", path.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(tls))
}

fn loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// One GET, whole: TCP + TLS + HTTP/1.1 within [`FETCH_TIMEOUT`].
async fn fetch(config: &OidcConfig, uri: &str) -> Result<(Value, Duration), FetchError> {
    let parsed: http::Uri = uri.parse().map_err(|_| FetchError::BadUri("not a URL"))?;
    let host = parsed.host().ok_or(FetchError::BadUri("no host"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
    let https = match parsed.scheme_str() {
        Some("https") => true,
        Some("http") if config.jwks_fetch_allow_loopback_http && loopback_host(&host) => false,
        _ => return Err(FetchError::BadUri("not https")),
    };
    let port = parsed.port_u16().unwrap_or(if https { 443 } else { 80 });
    let authority = parsed.authority().map(|a| a.as_str().to_owned()).ok_or(FetchError::BadUri("no host"))?;
    let path = parsed.path_and_query().map_or("/".to_owned(), |p| p.as_str().to_owned());
    let tls = if https { Some(tls_config(config)?) } else { None };
    let attempt = async move {
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await.map_err(|e| FetchError::Failed(e.to_string()))?;
        match tls {
            Some(tls) => {
                let name = rustls::pki_types::ServerName::try_from(host).map_err(|_| FetchError::BadUri("bad host name"))?;
                let stream = tokio_rustls::TlsConnector::from(tls)
                    .connect(name, tcp)
                    .await
                    .map_err(|e| FetchError::Failed(format!("TLS: {e}")))?;
                get(stream, &authority, &path).await
            }
            None => get(tcp, &authority, &path).await,
        }
    };
    tokio::time::timeout(FETCH_TIMEOUT, attempt).await.map_err(|_| FetchError::Timeout)?
}

/// Stops the connection task when the fetch ends or is dropped (its timeout).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn get<S>(stream: S, authority: &str, path: &str) -> Result<(Value, Duration), FetchError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let failed = |e: hyper::Error| FetchError::Failed(e.to_string());
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(failed)?;
    let _connection = AbortOnDrop(tokio::spawn(async move {
        let _ = connection.await;
    }));
    let request = http::Request::get(path)
        .header(http::header::HOST, authority)
        .header(http::header::ACCEPT, "application/jwk-set+json, application/json")
        .header(http::header::USER_AGENT, concat!("mamori/", env!("CARGO_PKG_VERSION")))
        .body(Empty::<Bytes>::new())
        .map_err(|_| FetchError::BadUri("not a request target"))?;
    let response = sender.send_request(request).await.map_err(failed)?;
    if response.status() != http::StatusCode::OK {
        return Err(FetchError::Status(response.status().as_u16()));
    }
    if response
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .is_some_and(|n| n > MAX_BODY)
    {
        return Err(FetchError::TooLarge);
    }
    let ttl = max_age(response.headers()).map_or(MAX_TTL, |age| age.clamp(MIN_REFETCH, MAX_TTL));
    let body = Limited::new(response.into_body(), MAX_BODY).collect().await.map_err(|e| {
        if e.is::<http_body_util::LengthLimitError>() { FetchError::TooLarge } else { FetchError::Failed(e.to_string()) }
    })?;
    let keys: Value = serde_json::from_slice(&body.to_bytes()).map_err(|_| FetchError::NotJwks)?;
    if !keys["keys"].as_array().is_some_and(|ks| ks.iter().all(Value::is_object)) {
        return Err(FetchError::NotJwks);
    }
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
    fn only_https_unless_loopback_http_is_allowed() {
        assert!(loopback_host("localhost") && loopback_host("127.0.0.1") && loopback_host("::1"));
        assert!(!loopback_host("example.com") && !loopback_host("10.0.0.1"));
        let headers = http::HeaderMap::from_iter([(http::header::CACHE_CONTROL, "public, max-age=60".parse().expect("value"))]);
        assert_eq!(max_age(&headers), Some(Duration::from_secs(60)));
        assert!(has_kid(&serde_json::json!({"keys": [{"kid": "a"}]}), "a"));
        assert!(!has_kid(&serde_json::json!({"keys": [{"kid": "a"}]}), "b"));
    }

    #[tokio::test]
    async fn plain_http_and_bad_urls_are_refused_without_a_request() {
        let config = OidcConfig::default();
        for uri in ["http://127.0.0.1:9/jwks", "ftp://example.com/jwks", "not a url"] {
            assert!(matches!(fetch(&config, uri).await, Err(FetchError::BadUri(_))), "{uri}");
        }
    }
}
