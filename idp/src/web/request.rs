//! Facts about the request: cookies, the client's address (through trusted proxies only).

use std::net::IpAddr;

use axum::http::{HeaderMap, header};

use crate::server::listener::ConnectionInfo;

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
