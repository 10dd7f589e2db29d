//! Facts about the request: cookies, the client's address and certificate (through
//! trusted proxies only), and where a page may send the browser afterwards.

use std::net::IpAddr;

use axum::http::{HeaderMap, header};
use rustls::pki_types::pem::PemObject as _;

use crate::config::ServerConfig;
use crate::state::ConnectionInfo;

pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The client's address: the peer, or the X-Forwarded-For entry a trusted proxy added.
pub fn client_ip(conn: &ConnectionInfo, headers: &HeaderMap, trusted_proxies: &[IpAddr]) -> IpAddr {
    let peer = conn.peer.ip();
    if !trusted_proxies.contains(&peer) {
        return peer;
    }
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(peer)
}

/// The leaf certificate (DER) the client presented on this connection: from the TLS
/// handshake, or from the configured header when the request comes from a trusted proxy.
pub fn presented_certificate(conn: &ConnectionInfo, headers: &HeaderMap, config: &ServerConfig) -> Option<Vec<u8>> {
    if let Some(chain) = &conn.client_chain {
        return chain.first().map(|c| c.as_ref().to_vec());
    }
    if !config.trusted_proxies.contains(&conn.peer.ip()) {
        return None;
    }
    let value = headers.get(config.client_cert_header.as_str())?.to_str().ok()?;
    let pem = percent_encoding::percent_decode_str(value).collect::<Vec<u8>>();
    rustls::pki_types::CertificateDer::from_pem_slice(&pem).ok().map(|c| c.as_ref().to_vec())
}

/// A place on this server to continue to after a login (`return_to`), or `None`.
///
/// The value is parsed by the WHATWG rules a browser applies to a `Location` header,
/// against a stand-in origin: only a path of that same origin passes, and what is
/// returned is the parser's own serialisation (percent-encoded, so it is always a valid
/// header value). Control characters, whitespace and backslashes are refused outright,
/// since browsers strip or rewrite them (`/\t/evil.example` is `//evil.example`).
pub fn local_return_target(value: &str) -> Option<String> {
    if !value.starts_with('/') || value.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\') {
        return None;
    }
    let base = url::Url::parse("https://mamori.invalid/").ok()?;
    let joined = base.join(value).ok()?;
    if joined.origin() != base.origin() || !joined.username().is_empty() || joined.password().is_some() {
        return None;
    }
    let target = &joined[url::Position::BeforePath..];
    // `//host` never survives the join as a path, but a path must not start so either.
    (!target.starts_with("//")).then(|| target.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_pass_as_the_browser_would_read_them() {
        assert_eq!(local_return_target("/account").as_deref(), Some("/account"));
        assert_eq!(local_return_target("/oidc/resume/abc_-9").as_deref(), Some("/oidc/resume/abc_-9"));
        assert_eq!(local_return_target("/account?lang=ja#x").as_deref(), Some("/account?lang=ja#x"));
        assert_eq!(local_return_target("/a/../account").as_deref(), Some("/account"));
        assert_eq!(local_return_target("/caf\u{e9}").as_deref(), Some("/caf%C3%A9"));
    }

    #[test]
    fn anything_that_could_leave_the_site_is_refused() {
        for hostile in [
            "//evil.example/",
            "/\t/evil.example/",
            "/\n/evil.example/",
            "/\r\n/evil.example/",
            "/%09/evil.example/x\r\nSet-Cookie: a=b",
            "/\\evil.example",
            "\\/evil.example",
            "https://evil.example/",
            "evil.example",
            "javascript:alert(1)",
            " /account",
            "/\u{0}",
            "/\u{85}/evil.example",
            "/\u{3000}/evil.example",
            "",
        ] {
            assert_eq!(local_return_target(hostile), None, "{hostile:?}");
        }
    }

    #[test]
    fn a_percent_encoded_tab_stays_encoded_in_the_path() {
        // The decoded form is refused above; the encoded form is a harmless local path.
        assert_eq!(local_return_target("/%09/evil.example/").as_deref(), Some("/%09/evil.example/"));
    }
}
