//! What every request handler works with, apart from the server that wires them: the
//! application and the listeners' public URLs (`ServerState`), and the facts of the
//! connection a request came on (`ConnectionInfo`). Handlers (`web/`, `oidc/`, `saml/`,
//! `admin/api/`) import these from here; only `server/` builds them and mounts the
//! handlers, so the dependency runs one way (a test in `flows/layering_tests.rs` keeps it).

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;

use crate::app::App;

/// The URLs users and relying sites reach the two listeners at.
#[derive(Clone, Debug)]
pub struct PublicUrls {
    pub main: String,
    pub mtls: String,
    pub main_addr: SocketAddr,
    pub mtls_addr: SocketAddr,
}

pub struct ServerState {
    pub app: Arc<App>,
    pub urls: PublicUrls,
}

pub type SharedState = Arc<ServerState>;

/// What the connection tells a handler.
#[derive(Clone, Debug)]
pub struct ConnectionInfo {
    pub peer: SocketAddr,
    /// The client's certificate chain (leaf first) when it sent one on the mTLS listener.
    pub client_chain: Option<Arc<Vec<CertificateDer<'static>>>>,
    pub listener: ListenerKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListenerKind {
    Main,
    Mtls,
}
