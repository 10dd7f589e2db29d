//! Prometheus metrics: counters and histograms kept per process, and the listener that
//! serves them at `/metrics`. That listener is separate from the two public ones, plain
//! HTTP, off by default, and answers only peers in `metrics.allow_from`: an identity
//! provider's login rates and failures are not for the internet.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus::{Encoder as _, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::MetricsConfig;

pub struct Metrics {
    registry: Registry,
    logins: IntCounterVec,
    token_requests: IntCounterVec,
    http_duration: HistogramVec,
    certificates: IntCounterVec,
    lockouts: IntCounterVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A node's metrics, kept in its `App` (one registry per node).
    pub fn new() -> Metrics {
        let registry = Registry::new_custom(Some("mamori".into()), None).unwrap_or_default();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).unwrap_or_else(|e| unreachable!("{name}: {e}"));
            let _ = registry.register(Box::new(c.clone()));
            c
        };
        let logins = counter("logins_total", "Login attempts by result and the factors of a success", &["result", "factors"]);
        let token_requests = counter(
            "token_requests_total",
            "Token endpoint requests by grant type and result (ok or the OAuth error)",
            &["grant_type", "result"],
        );
        let certificates = counter("certificates_issued_total", "Client certificates issued, by where the key came from", &["key_source"]);
        let lockouts = counter("lockouts_total", "Accounts locked by too many failures, by what failed", &["kind"]);
        let http_duration = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency by listener, matched route, method and status")
                .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            &["listener", "route", "method", "status"],
        )
        .unwrap_or_else(|e| unreachable!("histogram: {e}"));
        let _ = registry.register(Box::new(http_duration.clone()));
        Metrics { registry, logins, token_requests, http_duration, certificates, lockouts }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(err) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(%err, "could not encode metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }

    pub fn login(&self, result: &str, factors: &[&str]) {
        let factors = if factors.is_empty() { "none".to_owned() } else { factors.join("+") };
        self.logins.with_label_values(&[result, factors.as_str()]).inc();
    }

    pub fn token_request(&self, grant_type: &str, result: &str) {
        // Only known grant types become label values: a client cannot grow the series.
        let grant = match grant_type {
            "authorization_code" | "refresh_token" | "client_credentials" => grant_type,
            "" => "missing",
            _ => "other",
        };
        self.token_requests.with_label_values(&[grant, result]).inc();
    }

    pub fn certificate_issued(&self, key_source: &str) {
        self.certificates.with_label_values(&[key_source]).inc();
    }

    /// Counts a lock only for the one failure that caused it (`locked_now`), so parallel
    /// failures on several nodes count one lockout.
    pub fn lockout(&self, kind: &str, outcome: &mamori_storage::model::LockoutOutcome) {
        if outcome.locked_now {
            self.lockouts.with_label_values(&[kind]).inc();
        }
    }

    /// `route` is the matched route pattern (`/t/{tenant}/token`), never the raw path, so
    /// the number of series stays bounded.
    pub fn http_request(&self, listener: &str, route: &str, method: &str, status: u16, seconds: f64) {
        let status = status.to_string();
        self.http_duration.with_label_values(&[listener, route, method, status.as_str()]).observe(seconds);
    }
}

/// Binds the metrics listener when enabled; the returned task serves until `stop` turns
/// true. Prints its URL so that operators and tests find a port chosen with `:0`.
pub async fn spawn_listener(
    config: &MetricsConfig,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    if !config.enabled {
        return Ok(None);
    }
    let listener = TcpListener::bind(config.listen).await.with_context(|| format!("metrics.listen: cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    // A closed standard output must not stop the server (`println!` would panic).
    {
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), "mamori: metrics on http://{addr}/metrics");
    }
    tracing::info!(%addr, "metrics listening");
    let router = Router::new().route("/metrics", get(serve_metrics)).with_state((config.allow_from.clone(), metrics));
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    Ok(Some(tokio::spawn(async move {
        let stopped = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        if let Err(err) = axum::serve(listener, service).with_graceful_shutdown(stopped).await {
            tracing::error!(%err, "metrics listener failed");
        }
    })))
}

async fn serve_metrics(
    State((allow, metrics)): State<(Vec<ipnet::IpNet>, Arc<Metrics>)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    let ip = peer.ip().to_canonical();
    if !allow.iter().any(|net| net.contains(&ip)) {
        tracing::warn!(%peer, "metrics scrape refused: peer not in metrics.allow_from");
        return (StatusCode::FORBIDDEN, "forbidden\n").into_response();
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], metrics.render()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(toml: &str) -> MetricsConfig {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("mamori.toml");
        std::fs::write(&path, toml).expect("write");
        let loaded = crate::config::Config::load(&path).expect("loads");
        assert!(loaded.unknown_keys.is_empty(), "{:?}", loaded.unknown_keys);
        loaded.config.metrics
    }

    async fn scrape(addr: SocketAddr) -> String {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.expect("write");
        let mut text = String::new();
        tcp.read_to_string(&mut text).await.expect("read");
        text
    }

    #[test]
    fn off_by_default_on_loopback_only() {
        let c = config("");
        assert!(!c.enabled);
        assert_eq!(c.listen, SocketAddr::from(([127, 0, 0, 1], 9464)));
        assert!(c.allow_from.iter().all(|n| n.addr().is_loopback()));
    }

    #[tokio::test]
    async fn only_allowed_networks_may_scrape() {
        let allowed = config("[metrics]\nenabled = true\nlisten = \"127.0.0.1:0\"\nallow_from = [\"127.0.0.0/8\"]\n");
        let refused = config("[metrics]\nenabled = true\nlisten = \"127.0.0.1:0\"\nallow_from = [\"10.0.0.0/8\", \"::1/128\"]\n");
        for (c, expect) in [(allowed, "HTTP/1.1 200"), (refused, "HTTP/1.1 403")] {
            let listener = TcpListener::bind(c.listen).await.expect("bind");
            let addr = listener.local_addr().expect("addr");
            let metrics = Arc::new(Metrics::new());
            let router = Router::new().route("/metrics", get(serve_metrics)).with_state((c.allow_from.clone(), Arc::clone(&metrics)));
            let server = tokio::spawn(async move {
                let _ = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await;
            });
            metrics.login("wrong-password", &[]);
            let answer = scrape(addr).await;
            assert!(answer.starts_with(expect), "{answer}");
            if expect.ends_with("200") {
                assert!(answer.contains("mamori_logins_total{factors=\"none\",result=\"wrong-password\"}"), "{answer}");
            }
            server.abort();
        }
    }

    #[test]
    fn counts_show_up_in_the_exposition() {
        let m = Metrics::new();
        m.login("success", &["swk", "pwd"]);
        m.token_request("password", "unsupported_grant_type");
        m.http_request("main", "/t/{tenant}/token", "POST", 200, 0.003);
        let text = m.render();
        assert!(text.contains(r#"mamori_logins_total{factors="swk+pwd",result="success"}"#), "{text}");
        assert!(text.contains(r#"mamori_token_requests_total{grant_type="other",result="unsupported_grant_type"}"#), "{text}");
        assert!(text.contains(r#"mamori_http_request_duration_seconds_bucket{listener="main",method="POST",route="/t/{tenant}/token",status="200",le="0.005"}"#), "{text}");
    }
}
