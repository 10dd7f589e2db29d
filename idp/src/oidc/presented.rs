//! What a back-channel request presents for client authentication, read off the HTTP
//! request once (the `Authorization` header, the client certificate of the connection,
//! the source address), so that [`client_auth`](super::client_auth) decides on a value.

use axum::http::{HeaderMap, header};

use super::Params;
use super::client_auth::{self, Presented};
use crate::app::App;
use crate::state::{ConnectionInfo, ListenerKind};

pub fn from_request<'a>(app: &App, headers: &HeaderMap, conn: &'a ConnectionInfo, params: &'a Params) -> Presented<'a> {
    Presented {
        basic: basic(headers),
        params,
        certificate: client_certificate(conn),
        source: crate::web::request::client_ip(conn, headers, &app.config.server.trusted_proxies),
    }
}

/// The client named by a request's credentials, for CORS (it proves nothing).
pub fn named_client_id(headers: &HeaderMap, params: &Params) -> Option<String> {
    let (basic, certificate, source) = (basic(headers), None, std::net::Ipv4Addr::UNSPECIFIED.into());
    Presented { basic, params, certificate, source }.named_client_id()
}

fn basic(headers: &HeaderMap) -> Result<Option<(String, String)>, super::error::OAuthError> {
    match headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        Some(value) => client_auth::basic_credentials(value),
        None => Ok(None),
    }
}

/// The leaf certificate the peer connected with, on the client-certificate listener only.
pub fn client_certificate(conn: &ConnectionInfo) -> Option<&[u8]> {
    if conn.listener != ListenerKind::Mtls {
        return None;
    }
    conn.client_chain.as_ref()?.first().map(|leaf| leaf.as_ref())
}

/// `x5t#S256` of the connection's client certificate (RFC 8705 §3.1), if it has one.
pub fn certificate_thumbprint(conn: &ConnectionInfo) -> Option<String> {
    client_certificate(conn).map(client_auth::certificate_thumbprint)
}
