//! The HTTPS server: two listeners (see `tls`), a router for each (`routes`), security
//! headers on every response, graceful stop on Ctrl-C or SIGTERM.

pub mod body_limit;
pub mod listener;
mod logged_path;
pub mod oversized;
pub mod routes;
pub mod tls;

use std::sync::Arc;

use anyhow::Context as _;
use axum::http::{HeaderValue, header};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::app::App;
use crate::state::{ConnectionInfo, ListenerKind};
use crate::state::{PublicUrls, ServerState, SharedState};

/// Called once both listeners are bound, with their URLs (quickstart prints next steps).
pub type OnReady = Box<dyn FnOnce(&PublicUrls) + Send>;

/// Binds both listeners, calls `on_ready` with their URLs, and serves until a stop signal.
pub async fn run(app: App, on_ready: Option<OnReady>) -> anyhow::Result<()> {
    init_logging(&app.config.log);
    let config = &app.config.server;
    let main = TcpListener::bind(config.listen).await.with_context(|| format!("server.listen: cannot listen on {}", config.listen))?;
    let mtls = TcpListener::bind(config.mtls_listen)
        .await
        .with_context(|| format!("server.mtls_listen: cannot listen on {}", config.mtls_listen))?;
    let main_addr = main.local_addr()?;
    let mtls_addr = mtls.local_addr()?;
    let urls = PublicUrls {
        main: app.config.main_public_url(main_addr.port()),
        mtls: app.config.mtls_public_url(mtls_addr.port()),
        main_addr,
        mtls_addr,
    };
    app.ca.set_urls(crate::app::certificate_urls(&app.config, &urls.main));
    let _ = app.bound_main_url.set(urls.main.clone());
    let client_ca_subjects = app.ca.client_ca_subjects().await?;
    let tls = tls::listener_tls(&config.tls_certificate, &config.tls_private_key, client_ca_subjects.clone())?;
    let (_, main_acceptor) = watch::channel(TlsAcceptor::from(Arc::clone(&tls.main)));
    let (mtls_acceptor_tx, mtls_acceptor) = watch::channel(TlsAcceptor::from(Arc::clone(&tls.mtls)));

    let _mail_dispatcher = app.mailer.spawn_dispatcher();
    let state = Arc::new(ServerState { app: Arc::new(app), urls: urls.clone() });
    let (stop_tx, stop_rx) = watch::channel(false);
    let metrics_task = crate::metrics::spawn_listener(&state.app.config.metrics, Arc::clone(&state.app.metrics), stop_rx.clone()).await?;
    let oversized = Some(Arc::new(oversized::OversizedPages::render(&state.app.ui, &SECURITY_HEADERS)?));
    let ca_task = tokio::spawn(follow_client_cas(Arc::clone(&state.app), tls, client_ca_subjects, mtls_acceptor_tx, stop_rx.clone()));
    let renewal_task = tokio::spawn(certificate_sweeps(Arc::clone(&state.app), urls.mtls.clone(), stop_rx.clone()));
    let (main_router, mtls_router) = (routes::main_router(Arc::clone(&state)), routes::mtls_router(state));
    let main_task = tokio::spawn(listener::serve(main, main_acceptor, ListenerKind::Main, main_router, oversized.clone(), stop_rx.clone()));
    let mtls_task = tokio::spawn(listener::serve(mtls, mtls_acceptor, ListenerKind::Mtls, mtls_router, oversized, stop_rx));
    tracing::info!(main = %urls.main, mtls = %urls.mtls, "listening");
    // A closed standard output must not stop the server (`println!` would panic).
    {
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), "mamori: listening on {} (main) and {} (client certificates)", urls.main, urls.mtls);
    }
    if let Some(on_ready) = on_ready {
        on_ready(&urls);
    }
    // Start-up's freed memory back to the OS now (an idle server makes no allocator call
    // that would purge it later), then mimalloc's usual purge delay (mamori-allocator).
    mamori_allocator::ready();
    stop_signal().await;
    tracing::info!("stopping");
    let _ = stop_tx.send(true);
    let _ = tokio::join!(main_task, mtls_task, ca_task, renewal_task);
    if let Some(task) = metrics_task {
        let _ = task.await;
    }
    Ok(())
}

/// How often a node looks for a CA added or replaced elsewhere (another node, the CLI);
/// the bound deploy/OPERATIONS.md states for the client-CA list of the mTLS listener.
pub const CLIENT_CA_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// Keeps the client-CA list the mTLS listener sends equal to the CAs in the database: a
/// new TLS config for the next handshakes whenever that list changed.
async fn follow_client_cas(
    app: Arc<App>,
    tls: tls::ListenerTls,
    mut current: Vec<rustls::DistinguishedName>,
    acceptor: watch::Sender<TlsAcceptor>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(CLIENT_CA_CHECK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let subjects = match app.ca.client_ca_subjects().await {
            Ok(subjects) => subjects,
            Err(err) => {
                // The database may be away for a while; the list in use stays valid, and
                // one warning per outage is enough.
                if !failing {
                    tracing::warn!(%err, "reading the client CAs failed; the mTLS listener keeps its list");
                }
                failing = true;
                continue;
            }
        };
        failing = false;
        if subjects.iter().map(AsRef::as_ref).eq(current.iter().map(AsRef::as_ref)) {
            continue;
        }
        match tls.mtls_for(subjects.clone()) {
            Ok(config) => {
                tracing::info!(cas = subjects.len(), "client-CA list changed; new mTLS handshakes use it");
                acceptor.send_replace(TlsAcceptor::from(config));
                current = subjects;
            }
            Err(err) => tracing::warn!(%err, "building the mTLS config for the new client-CA list failed"),
        }
    }
}

/// How often a node revokes the certificates whose renewal's grace period is over and
/// mails the expiry reminders due.
const RENEWAL_SWEEP: std::time::Duration = std::time::Duration::from_secs(600);

/// Now and then: revokes the certificates a renewal replaced once its grace period is
/// over, so that CRLs and OCSP say so even if the old certificate is never presented
/// again (a presented one is settled at once by the login), and mails the expiry
/// reminders due. Every node may run it: the revocation is one conditional UPDATE, and
/// each reminder is claimed in the database before it is sent.
async fn certificate_sweeps(app: Arc<App>, mtls_url: String, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(RENEWAL_SWEEP);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        match crate::flows::account::retire_renewed_certificates(&app, app.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(revoked = n, "renewal grace periods over; the old certificates are revoked"),
            Err(err) => tracing::warn!(error = %format!("{err:#}"), "retiring renewed certificates failed; trying again later"),
        }
        match crate::flows::account::send_expiry_reminders(&app, &mtls_url, app.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sent = n, "certificate expiry reminders mailed"),
            Err(err) => tracing::warn!(error = %format!("{err:#}"), "expiry reminders failed; trying again later"),
        }
    }
}

async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// Logs to standard error as text or JSON, per `[log]`; `RUST_LOG` overrides the level.
/// Text is coloured only when standard error is a terminal.
pub fn init_logging(config: &crate::config::LogConfig) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().or_else(|_| EnvFilter::try_new(&config.level)).unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour only for a person at a terminal: escape codes in a file, journald or a log
    // shipper are noise that breaks grep.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    // A second initialisation (tests starting several servers) keeps the first.
    let _ = match config.format {
        crate::config::LogFormat::Json => builder.json().flatten_event(true).try_init(),
        crate::config::LogFormat::Text => builder.try_init(),
    };
}

/// A request refused by an extractor before any handler ran (a path segment that is not
/// UTF-8 or not a number, a body of the wrong type) gets axum's plain-text answer; a
/// person gets Mamori's page instead, in their language. The admin API answers in
/// problem+json itself, and protocol endpoints answer JSON: only plain text is replaced.
async fn plain_errors_as_pages(
    axum::extract::State(state): axum::extract::State<SharedState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    // Machine endpoints answer in their own formats (problem+json, OAuth JSON).
    if body_limit::is_machine_endpoint(request.uri().path()) {
        return next.run(request).await;
    }
    // Only what picks the page's language, and where its way back leads, is kept for
    // after the handler: a refused upload on the account page or in the console leads
    // back there, not to the start page.
    let lang = crate::web::context::lang_parameter(request.uri().query());
    let path = request.uri().path();
    let home =
        ["/account", "/console"].into_iter().find(|home| path == *home || path.strip_prefix(home).is_some_and(|r| r.starts_with('/')));
    let mut headers = axum::http::HeaderMap::new();
    for name in [header::ACCEPT_LANGUAGE, header::COOKIE] {
        if let Some(value) = request.headers().get(&name) {
            headers.insert(name, value.clone());
        }
    }
    let response = next.run(request).await;
    let status = response.status();
    let plain = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("text/plain"));
    if !status.is_client_error() || !plain {
        return response;
    }
    let key = match status {
        http::StatusCode::NOT_FOUND => "error.not_found",
        http::StatusCode::METHOD_NOT_ALLOWED => "error.method_not_allowed",
        http::StatusCode::PAYLOAD_TOO_LARGE => "error.too_large",
        _ => "error.bad_request",
    };
    let page = crate::web::page::PageLocale::from_request(&crate::web::page::LangQuery { lang }, &headers);
    match home {
        Some("/account") => page.error_page_back(&state, status, key, "/account", "error.back_account"),
        Some(_) => page.error_page_back(&state, status, key, "/console", "error.back_console"),
        None => page.error_page(&state, status, key),
    }
}

/// Gives every request an ID (echoed in `x-request-id`) and logs it with its outcome, so a
/// user's report, a proxy log line and ours can be matched.
async fn request_id(
    axum::extract::State(metrics): axum::extract::State<Arc<crate::metrics::Metrics>>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let id = uuid::Uuid::new_v4().simple().to_string();
    request.extensions_mut().insert(RequestId(id.clone()));
    let (method, path) = (request.method().clone(), logged_path::logged_path(request.uri().path()));
    // The route pattern, not the path: IDs and tokens in paths must not become series.
    let route = request.extensions().get::<axum::extract::MatchedPath>().map_or("unmatched", |m| m.as_str()).to_owned();
    let listener = match request.extensions().get::<ConnectionInfo>().map(|c| c.listener) {
        Some(ListenerKind::Mtls) => "mtls",
        _ => "main",
    };
    let started = std::time::Instant::now();
    // `actor` and `source_ip` are filled in by the admin API once it knows the caller, so
    // each admin call's line names the token (its id, never the token) and its address.
    let span =
        tracing::info_span!("request", request_id = %id, %method, %path, actor = tracing::field::Empty, source_ip = tracing::field::Empty);
    // The security headers are set here rather than in a layer of their own: one boxed
    // future less on every request.
    let mut response = security_headers(tracing::Instrument::instrument(next.run(request), span.clone()).await);
    let status = response.status().as_u16();
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    metrics.http_request(listener, &route, method.as_str(), status, millis / 1000.0);
    span.in_scope(|| {
        if path == "/healthz" || path == "/readyz" {
            tracing::debug!(status, millis, "request");
        } else {
            tracing::info!(status, millis, "request");
        }
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// The ID of the request being handled.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// `Retry-After` of a 503: about how long a database or Redis restart takes.
const RETRY_AFTER_SECONDS: &str = "5";

/// Headers every response carries: no framing, no foreign scripts or styles, HTTPS only.
/// (Also on the pages written below the router, [`oversized`].)
pub const SECURITY_HEADERS: [(&str, &str); 5] = [
    (
        "content-security-policy",
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self' https: http://127.0.0.1:*",
    ),
    ("strict-transport-security", "max-age=31536000"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    // Nothing of our URLs (they carry enrollment and reissue tokens) leaves for another
    // origin; same-origin requests keep it, so a form posted from our own page carries
    // its real `Origin` (under `no-referrer` browsers send `Origin: null`, which the CSRF
    // check must refuse: any other page can send it too).
    ("referrer-policy", "same-origin"),
];

fn security_headers(mut response: axum::response::Response) -> axum::response::Response {
    // Every 503 is an outage we expect to end (database, Redis, CA not loaded): say when
    // to try again, so clients and proxies retry instead of giving up or hammering.
    let unavailable = response.status() == http::StatusCode::SERVICE_UNAVAILABLE;
    let headers = response.headers_mut();
    let set = |h: &mut http::HeaderMap, name, value: &'static str| {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    };
    if unavailable {
        set(headers, header::RETRY_AFTER, RETRY_AFTER_SECONDS);
    }
    // Every page is made for one browser, and several show secrets (download passwords,
    // TOTP secrets, reissued passwords): no HTML page is ever kept by a cache or the
    // browser's history. Responses that choose their own caching (JWKS, CRL) keep it.
    let html = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("text/html"));
    if html {
        set(headers, header::CACHE_CONTROL, "no-store");
    }
    for (name, (_, value)) in SECURITY_HEADER_NAMES.into_iter().zip(SECURITY_HEADERS) {
        set(headers, name, value);
    }
    response
}

/// The names of [`SECURITY_HEADERS`], made at compile time rather than parsed per response.
const SECURITY_HEADER_NAMES: [http::HeaderName; 5] = [
    http::HeaderName::from_static(SECURITY_HEADERS[0].0),
    http::HeaderName::from_static(SECURITY_HEADERS[1].0),
    http::HeaderName::from_static(SECURITY_HEADERS[2].0),
    http::HeaderName::from_static(SECURITY_HEADERS[3].0),
    http::HeaderName::from_static(SECURITY_HEADERS[4].0),
];
