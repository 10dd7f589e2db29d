//! The page language and rendering: every page is rendered through [`PageLocale`], which
//! picks Japanese or English and remembers a choice made with the switch.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use mamori_ui::{Locale, negotiate_locale};
use serde::Deserialize;

use crate::state::SharedState;

const LANG_COOKIE: &str = "mamori_lang";

#[derive(Debug, Deserialize, Default)]
pub struct LangQuery {
    pub lang: Option<String>,
}

/// The page language, whether the switch was just used (then it is remembered), and the
/// address the switch links to.
pub struct PageLocale {
    pub locale: Locale,
    chosen_now: bool,
    switch_to: Option<String>,
    /// The tenant whose page this is, once a handler knows it (`base.html`'s header).
    brand: std::sync::OnceLock<serde_json::Value>,
}

/// Marks a route whose address answers a GET with the same page (or the start of the same
/// step): the language switch on a page its form posted to links there. Elsewhere, after
/// a POST, the switch links to the start page, since a GET on a form's target may be a 405.
#[derive(Debug, Clone, Copy)]
pub struct SwitchStaysHere;

/// `route` with the language switch of its posted pages linking to its own address.
pub fn switch_stays_here<S: Clone + Send + Sync + 'static>(route: axum::routing::MethodRouter<S>) -> axum::routing::MethodRouter<S> {
    route.layer(axum::Extension(SwitchStaysHere))
}

/// The address (a GET) the language switch links to, without `lang`: the page itself when
/// it was reached by GET (its other query parameters kept), the same address after a POST
/// when the route says a GET there shows the page again, else the home of the section the
/// POST was in (the console, the account page) or the start page.
pub fn switch_address(method: &Method, uri: &Uri, stays_here: bool) -> String {
    if method == Method::GET || method == Method::HEAD {
        let kept: Vec<&str> =
            uri.query().unwrap_or("").split('&').filter(|pair| !pair.is_empty() && pair.split('=').next() != Some("lang")).collect();
        if kept.is_empty() { uri.path().to_owned() } else { format!("{}?{}", uri.path(), kept.join("&")) }
    } else if stays_here {
        uri.path().to_owned()
    } else {
        let path = uri.path();
        let home =
            ["/console", "/account"].into_iter().find(|home| path.strip_prefix(home).is_some_and(|r| r.is_empty() || r.starts_with('/')));
        home.unwrap_or("/").to_owned()
    }
}

impl PageLocale {
    pub fn from_request(query: &LangQuery, headers: &HeaderMap) -> Self {
        let cookie = cookie_value(headers, LANG_COOKIE);
        let explicit = query.lang.as_deref().or(cookie.as_deref());
        let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
        let locale = negotiate_locale(explicit, accept);
        let chosen_now = query.lang.as_deref().and_then(Locale::from_tag).is_some();
        Self { locale, chosen_now, switch_to: None, brand: std::sync::OnceLock::new() }
    }

    /// Points the language switch at `address` (a GET page, without `lang`).
    pub fn set_switch_address(&mut self, address: String) {
        self.switch_to = Some(address);
    }

    /// The address the language switch leads to, without `lang`: this page when a GET
    /// shows it, else the start page.
    pub fn switch_address(&self) -> &str {
        self.switch_to.as_deref().unwrap_or("/")
    }

    /// Shows `brand` in the header of the page rendered next (the first one set stays).
    pub fn set_brand(&self, brand: &super::brand::PageBrand) {
        let _ = self.brand.set(serde_json::to_value(brand).unwrap_or_default());
    }

    /// The language switch's link: the address in the other language.
    fn switch_href(&self) -> String {
        let address = self.switch_address();
        let separator = if address.contains('?') { '&' } else { '?' };
        format!("{address}{separator}lang={}", self.locale.other().tag())
    }

    /// Renders `template`, remembering a language just chosen with the switch.
    pub fn render(&self, state: &SharedState, status: StatusCode, template: &str, ctx: impl serde::Serialize) -> Response {
        let mut ctx = serde_json::to_value(ctx).unwrap_or_default();
        if let Some(map) = ctx.as_object_mut() {
            map.insert("lang_switch".into(), self.switch_href().into());
            if let Some(brand) = self.brand.get() {
                map.entry("brand").or_insert_with(|| brand.clone());
            }
        }
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

    /// [`Self::error_page`] whose back link goes to `back` (a path of this site) and says
    /// `back_label_key`, for an error inside a flow with a page of its own to return to
    /// (the account page) rather than the start page.
    pub fn error_page_back(
        &self,
        state: &SharedState,
        status: StatusCode,
        message_key: &str,
        back: &str,
        back_label_key: &str,
    ) -> Response {
        let message = state.app.ui.message(self.locale, message_key);
        let label = state.app.ui.message(self.locale, back_label_key);
        // Only a path of this site: never a link to elsewhere.
        let back = if back.starts_with('/') && !back.starts_with("//") { back } else { "/" };
        self.render(state, status, "error.html", serde_json::json!({ "message": message, "back_href": back, "back_label": label }))
    }
}

pub use super::request::cookie_value;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_switch_always_links_to_a_page_a_get_can_show() {
        let uri = |s: &str| s.parse::<Uri>().expect("uri");
        // A page reached by GET: itself, its own parameters kept, the old choice dropped.
        assert_eq!(switch_address(&Method::GET, &uri("/login?return_to=%2Faccount&lang=ja"), false), "/login?return_to=%2Faccount");
        assert_eq!(switch_address(&Method::GET, &uri("/account?lang=en"), false), "/account");
        assert_eq!(switch_address(&Method::HEAD, &uri("/download"), false), "/download");
        // A page a form posted to: its address only if a GET shows it there.
        assert_eq!(switch_address(&Method::POST, &uri("/download"), true), "/download");
        assert_eq!(switch_address(&Method::POST, &uri("/logout"), false), "/");
        // Else the home of its section: a console confirmation leads back into the console.
        assert_eq!(switch_address(&Method::POST, &uri("/console/t/demo/saml-sps/1/delete"), false), "/console");
        assert_eq!(switch_address(&Method::POST, &uri("/account/devices/1/renew"), false), "/account");
        assert_eq!(switch_address(&Method::POST, &uri("/consoles"), false), "/");
        let page = PageLocale { locale: Locale::Ja, chosen_now: false, switch_to: None, brand: Default::default() };
        assert_eq!(page.switch_href(), "/?lang=en");
        let mut page = page;
        page.set_switch_address("/login?return_to=%2Fx".into());
        assert_eq!(page.switch_href(), "/login?return_to=%2Fx&lang=en");
    }
}
