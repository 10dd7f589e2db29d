//! The accept loop: TLS handshake, then the request goes to axum with the connection's
//! facts (peer address, verified-possession client chain) in its extensions. Written by
//! hand rather than with axum-server so failed handshakes can be logged and counted.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::oversized::{OversizedPages, RewriteOversized};
use crate::state::{ConnectionInfo, ListenerKind};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a request head may take to arrive, on a new or a kept-alive connection.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a stopping server waits for requests in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest HTTP/2 header list read. h2's default, 16 KiB, answered a SAML URL of
/// 20 KiB with a bare 431 before any route ran; with this, every URL the `http` crate can
/// hold (64 KiB) reaches the route, which answers an oversized message with Mamori's page.
/// Header memory per stream stays far below what the 1 MiB stream windows allow.
const MAX_HEADER_LIST: u32 = 80 * 1024;

/// Serves `router` on `listener` until `shutdown` turns true, then stops accepting and
/// lets the connections it has finish their requests (up to [`DRAIN_TIMEOUT`]). With
/// `oversized` pages, hyper's own bare answers to oversized HTTP/1 heads are replaced by
/// them ([`super::oversized`]). Each connection is accepted with the TLS config
/// `acceptor` holds at that moment, so a new one (the client-CA list after a CA
/// replacement) applies to the next handshake.
pub async fn serve(
    listener: TcpListener,
    acceptor: watch::Receiver<TlsAcceptor>,
    kind: ListenerKind,
    router: Router,
    oversized: Option<Arc<OversizedPages>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    // Running out of file descriptors must not end the server.
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let acceptor = acceptor.borrow().clone();
        let router = router.clone();
        let oversized = oversized.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(err)) => {
                    tracing::debug!(%peer, ?kind, %err, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, ?kind, "TLS handshake timed out");
                    return;
                }
            };
            let client_chain = tls.get_ref().1.peer_certificates().map(|c| Arc::new(c.to_vec()));
            let info = ConnectionInfo { peer, client_chain, listener: kind };
            let service = hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(info.clone());
                router.clone().oneshot(req.map(axum::body::Body::new))
            });
            let mut builder = auto::Builder::new(TokioExecutor::new());
            // A client that sends its request head slowly (or not at all) is dropped
            // instead of holding a connection and a task for as long as it likes.
            builder.http1().timer(TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT);
            builder.http2().timer(TokioTimer::new()).keep_alive_interval(HEADER_TIMEOUT).keep_alive_timeout(HEADER_TIMEOUT);
            builder.http2().max_header_list_size(MAX_HEADER_LIST);
            let io = RewriteOversized::new(tls, oversized);
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
            if let Err(err) = watcher.watch(connection.into_owned()).await {
                tracing::debug!(%peer, %err, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await.is_err() {
        tracing::warn!(?kind, "requests still in flight after the drain timeout");
    }
}
