//! The page language and rendering: every page is rendered through [`PageLocale`], which
//! picks Japanese or English and remembers a choice made with the switch.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use mamori_ui::{Locale, negotiate_locale};
use serde::Deserialize;

use crate::state::SharedState;

const LANG_COOKIE: &str = "mamori_lang";

#[derive(Debug, Deserialize, Default)]
pub struct LangQuery {
    pub lang: Option<String>,
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
            let cookie = format!("{LANG_COOKIE}={}; Path=/; Max-Age=31536000; Secure; HttpOnly; SameSite=Lax", self.locale.tag());
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
        response
    }

    /// The error page with a message from the catalog.
    pub fn error_page(&self, state: &SharedState, status: StatusCode, message_key: &str) -> Response {
        let message = state.app.ui.message(self.locale, message_key);
        self.render(state, status, "error.html", serde_json::json!({ "message": message }))
    }
}

pub use super::request::cookie_value;
