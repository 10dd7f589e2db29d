//! Pages and files that need no login: the start page, the CA certificate and CRL, the
//! stylesheet, health, and the error page for anything unknown.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use mamori_ui::{Locale, negotiate_locale};
use serde::Deserialize;

use super::SharedState;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(|| async { "ok" }))
        .route(mamori_ui::STYLESHEET_PATH, get(stylesheet))
        .route("/ca/ca.pem", get(ca_pem))
        .route("/ca/ca.der", get(ca_der))
        .route("/ca/crl.pem", get(crl_pem))
        .route("/ca/crl.der", get(crl_der))
        .fallback(not_found)
}

const LANG_COOKIE: &str = "mamori_lang";

#[derive(Debug, Deserialize, Default)]
pub struct LangQuery {
    lang: Option<String>,
}

/// The page language, and whether the switch was just used (then it is remembered).
pub struct PageLocale {
    pub locale: Locale,
    chosen_now: bool,
}

impl PageLocale {
    pub fn from_request(query: &LangQuery, headers: &HeaderMap) -> Self {
        let cookie = cookie_value(headers, LANG_COOKIE);
        let explicit = query.lang.as_deref().or(cookie.as_deref());
        let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
        let locale = negotiate_locale(explicit, accept);
        let chosen_now = query.lang.as_deref().and_then(Locale::from_tag).is_some();
        Self { locale, chosen_now }
    }

    /// Renders `template`, remembering a language just chosen with the switch.
    pub fn render(&self, state: &SharedState, status: StatusCode, template: &str, ctx: impl serde::Serialize) -> Response {
        let html = match state.app.ui.render(template, self.locale, ctx) {
            Ok(html) => html,
            Err(err) => {
                tracing::error!(%err, "page failed to render");
                return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
            }
        };
        let mut response = (status, Html(html)).into_response();
        if self.chosen_now {
            let cookie = format!(
                "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; Secure; HttpOnly; SameSite=Lax",
                self.locale.tag()
            );
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
        response
    }

    pub fn error_page(&self, state: &SharedState, status: StatusCode, message_key: &str) -> Response {
        let catalogs = mamori_ui::Catalogs::embedded();
        let message = catalogs.message(self.locale, message_key).to_owned();
        self.render(state, status, "error.html", minijinja_ctx(&message))
    }
}

fn minijinja_ctx(message: &str) -> serde_json::Value {
    serde_json::json!({ "message": message })
}

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

async fn index(State(state): State<SharedState>, Query(q): Query<LangQuery>, headers: HeaderMap) -> Response {
    PageLocale::from_request(&q, &headers).render(&state, StatusCode::OK, "index.html", serde_json::json!({}))
}

async fn not_found(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    PageLocale::from_request(&LangQuery::default(), &headers).error_page(&state, StatusCode::NOT_FOUND, "error.not_found")
}

async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        mamori_ui::STYLESHEET,
    )
        .into_response()
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

fn unavailable(err: impl std::fmt::Display) -> Response {
    tracing::error!(%err, "CA material unavailable");
    (StatusCode::SERVICE_UNAVAILABLE, "the certificate authority is not available").into_response()
}
