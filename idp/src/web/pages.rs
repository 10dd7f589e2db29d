//! Pages and files that need no login: the start page, the CA certificate and CRL, the
//! stylesheet, health, and the error page for anything unknown.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::page::{LangQuery, PageLocale};
use crate::state::SharedState;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route(mamori_ui::STYLESHEET_PATH, get(stylesheet))
        .route(mamori_ui::PASSKEY_SCRIPT_PATH, get(passkey_script))
        .route("/ca/ca.pem", get(ca_pem))
        .route("/ca/ca.der", get(ca_der))
        .route("/ca/crl.pem", get(crl_pem))
        .route("/ca/crl.der", get(crl_der))
        .route("/ca/{ca}/ca.pem", get(ca_pem_of))
        .route("/ca/{ca}/ca.der", get(ca_der_of))
        .route("/ca/{ca}/crl.pem", get(crl_pem_of))
        .route("/ca/{ca}/crl.der", get(crl_der_of))
        .fallback(not_found)
}

async fn index(State(state): State<SharedState>, Query(q): Query<LangQuery>, headers: HeaderMap) -> Response {
    PageLocale::from_request(&q, &headers).render(&state, StatusCode::OK, "index.html", serde_json::json!({}))
}

async fn not_found(State(state): State<SharedState>, uri: Uri, headers: HeaderMap) -> Response {
    page_locale(&uri, &headers).error_page(&state, StatusCode::NOT_FOUND, "error.not_found")
}

/// A known address asked with a method it does not take (a reload of a form's target,
/// a link to a POST-only action): a page that says so instead of an empty 405.
pub async fn method_not_allowed(State(state): State<SharedState>, uri: Uri, headers: HeaderMap) -> Response {
    page_locale(&uri, &headers).error_page(&state, StatusCode::METHOD_NOT_ALLOWED, "error.method_not_allowed")
}

/// The language of an error page for an address nobody routes: `?lang=` is honoured here
/// too (a user who switched language and then mistyped a path keeps it), read leniently
/// so that a malformed query still gets a page.
fn page_locale(uri: &Uri, headers: &HeaderMap) -> PageLocale {
    let mut page = PageLocale::from_request(&LangQuery { lang: super::context::lang_parameter(uri.query()) }, headers);
    // The switch shows this same answer in the other language, not the start page.
    page.set_switch_address(super::page::switch_address(&axum::http::Method::GET, uri, false));
    page
}

/// Readiness: the database answers, and Redis too when shared state lives there. A node
/// that cannot reach them is taken out of the load balancer instead of failing users'
/// requests.
async fn ready(State(state): State<SharedState>) -> Response {
    let (database, shared) = tokio::join!(state.app.storage.ping(), state.app.shared.ping());
    match (database, shared) {
        (Ok(()), Ok(())) => (StatusCode::OK, "ready").into_response(),
        (Err(_), _) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response(),
        (Ok(()), Err(_)) => (StatusCode::SERVICE_UNAVAILABLE, "redis unavailable").into_response(),
    }
}

async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], mamori_ui::STYLESHEET)
        .into_response()
}

async fn passkey_script() -> Response {
    let headers = [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")];
    (headers, mamori_ui::PASSKEY_SCRIPT).into_response()
}

async fn ca_pem(State(state): State<SharedState>) -> Response {
    match state.app.ca.published_chain_pem().await {
        Ok(pem) => ([(header::CONTENT_TYPE, "application/x-pem-file")], pem).into_response(),
        Err(err) => unavailable(err),
    }
}

async fn ca_der(State(state): State<SharedState>) -> Response {
    match state.app.ca.issuing_certificate_der().await {
        Ok(der) => ([(header::CONTENT_TYPE, "application/pkix-cert")], der).into_response(),
        Err(err) => unavailable(err),
    }
}

async fn crl_pem(State(state): State<SharedState>) -> Response {
    match state.app.ca.current_crl(state.app.clock.now()).await {
        Ok(crl) => ([(header::CONTENT_TYPE, "application/x-pem-file")], crl.pem.clone()).into_response(),
        Err(err) => unavailable(err),
    }
}

async fn crl_der(State(state): State<SharedState>) -> Response {
    match state.app.ca.current_crl(state.app.clock.now()).await {
        Ok(crl) => ([(header::CONTENT_TYPE, "application/pkix-crl")], crl.der.clone()).into_response(),
        Err(err) => unavailable(err),
    }
}

// Each CA by its key (`crate::pki::url_key`): the URLs written into its certificates,
// which keep answering for that CA after it is replaced.

async fn ca_pem_of(State(state): State<SharedState>, Path(key): Path<String>, uri: Uri, headers: HeaderMap) -> Response {
    match state.app.ca.record_by_key(&key).await {
        Ok(Some(ca)) => {
            let pem = std::iter::once(&ca.certificate_pem).chain(ca.chain_pem.iter()).map(String::as_str).collect::<String>();
            ([(header::CONTENT_TYPE, "application/x-pem-file")], pem).into_response()
        }
        Ok(None) => not_found(State(state), uri, headers).await,
        Err(err) => unavailable(err),
    }
}

async fn ca_der_of(State(state): State<SharedState>, Path(key): Path<String>, uri: Uri, headers: HeaderMap) -> Response {
    match state.app.ca.record_by_key(&key).await {
        Ok(Some(ca)) => match crate::pki::pem_to_der(&ca.certificate_pem) {
            Some(der) => ([(header::CONTENT_TYPE, "application/pkix-cert")], der).into_response(),
            None => unavailable("a stored CA certificate is not PEM"),
        },
        Ok(None) => not_found(State(state), uri, headers).await,
        Err(err) => unavailable(err),
    }
}

async fn crl_pem_of(State(state): State<SharedState>, Path(key): Path<String>, uri: Uri, headers: HeaderMap) -> Response {
    match state.app.ca.crl_by_key(&key, state.app.clock.now()).await {
        Ok(Some(crl)) => ([(header::CONTENT_TYPE, "application/x-pem-file")], crl.pem.clone()).into_response(),
        Ok(None) => not_found(State(state), uri, headers).await,
        Err(err) => unavailable(err),
    }
}

async fn crl_der_of(State(state): State<SharedState>, Path(key): Path<String>, uri: Uri, headers: HeaderMap) -> Response {
    match state.app.ca.crl_by_key(&key, state.app.clock.now()).await {
        Ok(Some(crl)) => ([(header::CONTENT_TYPE, "application/pkix-crl")], crl.der.clone()).into_response(),
        Ok(None) => not_found(State(state), uri, headers).await,
        Err(err) => unavailable(err),
    }
}

fn unavailable(err: impl std::fmt::Display) -> Response {
    tracing::error!(%err, "CA material unavailable");
    (StatusCode::SERVICE_UNAVAILABLE, "the certificate authority is not available").into_response()
}
