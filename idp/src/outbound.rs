//! Outbound HTTPS GETs to URLs that clients or operators give us (a client's `jwks_uri`
//! or `request_uri`, an SP's metadata URL): hyper on this binary's one rustls (aws-lc-rs),
//! trusting the system roots plus `oidc.jwks_fetch_extra_ca_file`, one request within a
//! timeout and a body cap, no redirects.
//!
//! A destination guard keeps such URLs from reaching what only this server can reach
//! (server-side request forgery): the host is resolved once, every address that is not
//! publicly routable (loopback, RFC 1918, ULA, link-local with the cloud metadata address,
//! CGNAT, multicast, ...) is refused before connecting, unless `oidc.outbound_allow_private`
//! says otherwise, and the connection goes to an address that was checked, so a second DNS
//! answer cannot point it elsewhere (DNS rebinding).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http_body_util::{BodyExt as _, Either, Empty, Full, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::config::OidcConfig;

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("not an acceptable URL: {0}")]
    BadUri(&'static str),
    #[error("{0} is not a public address; refused")]
    Forbidden(IpAddr),
    #[error("cannot resolve the host: {0}")]
    Resolve(String),
    #[error("fetch failed: {0}")]
    Failed(String),
    #[error("timed out")]
    Timeout,
    #[error("answered HTTP {0}")]
    Status(u16),
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
}

/// What one fetch may do.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout: Duration,
    pub max_body: usize,
    /// Loopback, private and other non-public destinations are allowed.
    pub allow_private: bool,
    /// Plain `http://` is allowed to a loopback host (which is then also allowed).
    pub allow_loopback_http: bool,
}

impl Limits {
    /// The limits for URLs that clients registered, from the operator's `[oidc]` settings.
    pub fn for_clients(config: &OidcConfig, timeout: Duration, max_body: usize) -> Limits {
        Limits {
            timeout,
            max_body,
            allow_private: config.outbound_allow_private,
            allow_loopback_http: FetchRule::for_clients(config).allow_loopback_http,
        }
    }
}

/// The scheme rule of fetches to client-given URLs, which registration applies too
/// (`oidc::redirect_uri::check_fetch`): every surface that registers a client refuses
/// a URL these fetches would refuse as "not https".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FetchRule {
    /// Plain `http://` to a loopback host is followed (`oidc.jwks_fetch_allow_loopback_http`).
    pub allow_loopback_http: bool,
}

impl FetchRule {
    pub fn for_clients(config: &OidcConfig) -> FetchRule {
        FetchRule { allow_loopback_http: config.jwks_fetch_allow_loopback_http }
    }
}

/// A 200 response, read whole.
#[derive(Debug)]
pub struct Fetched {
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

/// Where an address leads, for the destination guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    Public,
    Loopback,
    /// Private, link-local, CGNAT, multicast, unspecified, reserved: not the Internet.
    Internal,
}

pub fn classify(ip: IpAddr) -> Reach {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Reach {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        return Reach::Loopback;
    }
    let internal = ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        || a == 0 // "this network"
        || (a == 100 && (b & 0xc0) == 64) // CGNAT 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b & 0xfe) == 18) // benchmarking 198.18/15
        || a >= 240; // reserved
    if internal { Reach::Internal } else { Reach::Public }
}

fn classify_v6(ip: Ipv6Addr) -> Reach {
    // Forms that carry an IPv4 address are judged by it: mapped (::ffff:a.b.c.d),
    // compatible (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16).
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let s = ip.segments();
    if ip.is_loopback() {
        return Reach::Loopback;
    }
    if ip.is_unspecified() {
        return Reach::Internal;
    }
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if s[..6] == [0; 6] || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return classify_v4(embedded(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return classify_v4(embedded(s[1], s[2]));
    }
    let internal = ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0; // deprecated site-local fec0::/10
    if internal { Reach::Internal } else { Reach::Public }
}

fn allowed(ip: IpAddr, limits: &Limits) -> bool {
    match classify(ip) {
        Reach::Public => true,
        Reach::Loopback => limits.allow_private || limits.allow_loopback_http,
        Reach::Internal => limits.allow_private,
    }
}

/// The addresses of `host` that may be connected to; refused when there are none.
async fn destinations(host: &str, port: u16, limits: &Limits) -> Result<Vec<SocketAddr>, OutboundError> {
    let all: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port)).await.map_err(|e| OutboundError::Resolve(e.to_string()))?.collect(),
    };
    let permitted: Vec<SocketAddr> = all.iter().copied().filter(|a| allowed(a.ip(), limits)).collect();
    match (permitted.is_empty(), all.first()) {
        (false, _) => Ok(permitted),
        (true, Some(first)) => Err(OutboundError::Forbidden(first.ip())),
        (true, None) => Err(OutboundError::Resolve("no addresses".to_owned())),
    }
}

/// The client every outbound fetch goes through; one per [`crate::app::App`]. Its TLS
/// settings (the system roots plus `oidc.jwks_fetch_extra_ca_file`) are built on the first
/// https fetch, so commands that fetch nothing never read the system's roots.
pub struct Outbound {
    extra_ca_file: Option<std::path::PathBuf>,
    tls: OnceLock<Result<Arc<rustls::ClientConfig>, String>>,
}

impl Outbound {
    pub fn new(config: &OidcConfig) -> Outbound {
        Outbound { extra_ca_file: config.jwks_fetch_extra_ca_file.clone(), tls: OnceLock::new() }
    }

    /// One GET of `uri`, whole: resolution, TCP, TLS and HTTP/1.1 within `limits.timeout`;
    /// anything but 200 is an error.
    pub async fn get(&self, uri: &str, accept: &str, limits: Limits) -> Result<Fetched, OutboundError> {
        self.exchange(uri, accept, None, limits).await
    }

    /// One POST of a form (`application/x-www-form-urlencoded`) to `uri`, under the same
    /// guard and limits as [`Outbound::get`]; 200 and 204 are success, anything else an error.
    pub async fn post_form(&self, uri: &str, form: String, limits: Limits) -> Result<Fetched, OutboundError> {
        self.exchange(uri, "*/*", Some(form), limits).await
    }

    async fn exchange(&self, uri: &str, accept: &str, form: Option<String>, limits: Limits) -> Result<Fetched, OutboundError> {
        let parsed: http::Uri = uri.parse().map_err(|_| OutboundError::BadUri("not a URL"))?;
        let authority = parsed.authority().ok_or(OutboundError::BadUri("no host"))?.as_str().to_owned();
        if authority.contains('@') {
            return Err(OutboundError::BadUri("credentials in the URL"));
        }
        let host = parsed.host().ok_or(OutboundError::BadUri("no host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        let https = match parsed.scheme_str() {
            Some("https") => true,
            Some("http") if limits.allow_loopback_http && loopback_host(&host) => false,
            _ => return Err(OutboundError::BadUri("not https")),
        };
        let port = parsed.port_u16().unwrap_or(if https { 443 } else { 80 });
        let path = parsed.path_and_query().map_or("/".to_owned(), |p| p.as_str().to_owned());
        let tls = if https { Some(self.tls_config()?) } else { None };
        let accept = accept.to_owned();
        let attempt = async move {
            let addresses = destinations(&host, port, &limits).await?;
            let tcp = connect(&addresses).await?;
            match tls {
                Some(tls) => {
                    let name = rustls::pki_types::ServerName::try_from(host).map_err(|_| OutboundError::BadUri("bad host name"))?;
                    let stream = tokio_rustls::TlsConnector::from(tls)
                        .connect(name, tcp)
                        .await
                        .map_err(|e| OutboundError::Failed(format!("TLS: {e}")))?;
                    send(stream, &authority, &path, &accept, form, limits.max_body).await
                }
                None => send(tcp, &authority, &path, &accept, form, limits.max_body).await,
            }
        };
        tokio::time::timeout(limits.timeout, attempt).await.map_err(|_| OutboundError::Timeout)?
    }

    fn tls_config(&self) -> Result<Arc<rustls::ClientConfig>, OutboundError> {
        self.tls.get_or_init(|| build_tls_config(self.extra_ca_file.as_deref())).clone().map_err(OutboundError::Failed)
    }
}

fn build_tls_config(extra_ca_file: Option<&std::path::Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        tracing::warn!(%error, "a system root certificate could not be loaded for outbound fetches");
    }
    let (_added, _ignored) = roots.add_parsable_certificates(native.certs);
    if let Some(path) = extra_ca_file {
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
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The first checked address that accepts the connection.
async fn connect(addresses: &[SocketAddr]) -> Result<tokio::net::TcpStream, OutboundError> {
    let mut last = String::from("no addresses");
    for address in addresses {
        match tokio::net::TcpStream::connect(address).await {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = format!("{address}: {e}"),
        }
    }
    Err(OutboundError::Failed(last))
}

/// Stops the connection task when the fetch ends or is dropped (its timeout).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn send<S>(
    stream: S,
    authority: &str,
    path: &str,
    accept: &str,
    form: Option<String>,
    max_body: usize,
) -> Result<Fetched, OutboundError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let failed = |e: hyper::Error| OutboundError::Failed(e.to_string());
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(failed)?;
    let _connection = AbortOnDrop(tokio::spawn(async move {
        let _ = connection.await;
    }));
    let builder = http::Request::builder()
        .uri(path)
        .header(http::header::HOST, authority)
        .header(http::header::ACCEPT, accept)
        .header(http::header::USER_AGENT, concat!("mamori/", env!("CARGO_PKG_VERSION")));
    let posting = form.is_some();
    let request = match form {
        None => builder.method(http::Method::GET).body(Either::Left(Empty::<Bytes>::new())),
        Some(form) => builder
            .method(http::Method::POST)
            .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Either::Right(Full::new(Bytes::from(form)))),
    }
    .map_err(|_| OutboundError::BadUri("not a request target"))?;
    let response = sender.send_request(request).await.map_err(failed)?;
    let accepted = response.status() == http::StatusCode::OK || (posting && response.status() == http::StatusCode::NO_CONTENT);
    if !accepted {
        return Err(OutboundError::Status(response.status().as_u16()));
    }
    if response
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .is_some_and(|n| n > max_body)
    {
        return Err(OutboundError::TooLarge(max_body));
    }
    let (parts, body) = response.into_parts();
    let body = Limited::new(body, max_body).collect().await.map_err(|e| {
        if e.is::<http_body_util::LengthLimitError>() { OutboundError::TooLarge(max_body) } else { OutboundError::Failed(e.to_string()) }
    })?;
    Ok(Fetched { headers: parts.headers, body: body.to_bytes() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reach(ip: &str) -> Reach {
        classify(ip.parse().expect("address"))
    }

    #[test]
    fn public_addresses_are_public() {
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "2002:808:808::1",
        ] {
            assert_eq!(reach(ip), Reach::Public, "{ip}");
        }
    }

    #[test]
    fn internal_addresses_are_refused_in_every_form() {
        assert_eq!(reach("127.0.0.1"), Reach::Loopback);
        assert_eq!(reach("127.255.0.9"), Reach::Loopback);
        assert_eq!(reach("::1"), Reach::Loopback);
        assert_eq!(reach("::ffff:127.0.0.1"), Reach::Loopback);
        for ip in [
            "10.0.0.1",
            "172.16.5.4",
            "172.31.255.255",
            "192.168.1.1", // RFC 1918
            "169.254.169.254",
            "169.254.0.1", // link-local, cloud metadata
            "100.64.0.1",
            "100.127.255.254", // CGNAT
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "240.0.0.1",
            "198.18.0.1",
            "192.0.0.8",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:0.0.0.0",
            "::10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:a00:1::1",
        ] {
            assert_eq!(reach(ip), Reach::Internal, "{ip}");
        }
    }

    #[test]
    fn operators_choose_what_else_is_reachable() {
        let strict = Limits { timeout: Duration::from_secs(1), max_body: 1, allow_private: false, allow_loopback_http: false };
        let loopback = Limits { allow_loopback_http: true, ..strict };
        let private = Limits { allow_private: true, ..strict };
        let (lo, ten, public): (IpAddr, IpAddr, IpAddr) =
            ("127.0.0.1".parse().expect("ip"), "10.1.1.1".parse().expect("ip"), "8.8.4.4".parse().expect("ip"));
        assert!(!allowed(lo, &strict) && !allowed(ten, &strict) && allowed(public, &strict));
        assert!(allowed(lo, &loopback) && !allowed(ten, &loopback));
        assert!(allowed(lo, &private) && allowed(ten, &private));
    }

    #[tokio::test]
    async fn refused_before_connecting() {
        let config = OidcConfig::default();
        let limits = Limits::for_clients(&config, Duration::from_secs(2), 1024);
        let outbound = Outbound::new(&config);
        // Nothing listens there; a refusal other than Forbidden would mean a connection try.
        for uri in [
            "https://127.0.0.1:9/x",
            "https://[::1]:9/x",
            "https://169.254.169.254/latest",
            "https://[::ffff:10.0.0.1]/",
            "https://localhost:9/x",
        ] {
            let err = outbound.get(uri, "*/*", limits).await.expect_err(uri);
            assert!(matches!(err, OutboundError::Forbidden(_)), "{uri}: {err}");
        }
        for uri in ["http://127.0.0.1:9/jwks", "ftp://example.com/x", "not a url", "https://user:pw@example.com/"] {
            assert!(matches!(outbound.get(uri, "*/*", limits).await, Err(OutboundError::BadUri(_))), "{uri}");
        }
    }
}
