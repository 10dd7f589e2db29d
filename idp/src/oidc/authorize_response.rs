//! How the authorization endpoint answers: at the client's redirect URI (RFC 6749 §4.1.2,
//! by redirect or OAuth 2.0 Form Post), or on Mamori's own page when the redirect URI
//! cannot be trusted. RP-initiated logout uses the same page.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::authorize::ResponseMode;
use super::error::OAuthError;
use crate::state::SharedState;
use crate::urlcode::with_query;
use crate::web::page::LangQuery;

/// The page for a request whose redirect URI cannot be trusted (or is unknown): the
/// user is told, the client learns nothing.
pub fn error_page(state: &SharedState, headers: &HeaderMap, error: &OAuthError) -> Response {
    let page = crate::web::page::PageLocale::from_request(&LangQuery::default(), headers);
    let message = state.app.ui.message(page.locale, "oidc.error.untrusted");
    // The description is written for the site's developers, in English: a person reads
    // it in their language where the catalogue has it, and a Japanese page shows no
    // English sentence (the error code stays, as the identifier to report).
    let detail = match error.description().and_then(page_detail_key) {
        Some(key) => Some(state.app.ui.message(page.locale, key)),
        None if page.locale == mamori_ui::Locale::En => error.description().map(str::to_owned),
        None => None,
    };
    page.render(
        state,
        error.status().max(StatusCode::BAD_REQUEST),
        "oidc/error.html",
        serde_json::json!({ "message": message, "error": error.code(), "error_description": detail }),
    )
}

/// The descriptions a person meets on the error page (a request that cannot be answered
/// at its redirect URI) and their catalogue keys.
const PAGE_DETAILS: [(&str, &str); 6] = [
    ("client_id is missing", "oidc.error.detail.client_id_missing"),
    ("unknown client_id", "oidc.error.detail.unknown_client"),
    ("redirect_uri is missing or not registered for this client", "oidc.error.detail.redirect_uri"),
    ("client_id does not match the request object", "oidc.error.detail.request_object_client"),
    ("a parameter was repeated", "oidc.error.detail.repeated"),
    ("unknown tenant", "oidc.error.detail.unknown_tenant"),
];

fn page_detail_key(description: &str) -> Option<&'static str> {
    PAGE_DETAILS.iter().find(|(d, _)| *d == description).map(|(_, key)| *key)
}

/// The inline script of the form_post page; its hash is the only script the page's CSP allows.
pub const FORM_POST_SCRIPT: &str = "document.forms[0].submit()";

/// Answers the client at its redirect URI (RFC 6749 §4.1.2) by redirect or form_post.
pub fn respond(
    state: &SharedState,
    headers: &HeaderMap,
    redirect_uri: &str,
    mode: ResponseMode,
    params: Vec<(&'static str, String)>,
) -> Response {
    match mode {
        ResponseMode::Query => {
            let mut response = Redirect::to(&with_query(redirect_uri, &params)).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        ResponseMode::FormPost => {
            let page = crate::web::page::PageLocale::from_request(&LangQuery::default(), headers);
            let fields: Vec<_> = params.iter().map(|(k, v)| serde_json::json!({ "name": k, "value": v })).collect();
            let mut response =
                page.render(state, StatusCode::OK, "oidc/form_post.html", serde_json::json!({ "action": redirect_uri, "fields": fields }));
            let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(FORM_POST_SCRIPT.as_bytes()));
            let csp = format!(
                "default-src 'self'; script-src 'sha256-{hash}'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action {}",
                origin_of(redirect_uri)
            );
            if let Ok(value) = HeaderValue::from_str(&csp) {
                response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, value);
            }
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
    }
}

/// The origin of a redirect URI, as a CSP source; `'none'` if it has none a CSP can name.
fn origin_of(uri: &str) -> String {
    let Ok(url) = url::Url::parse(uri) else { return "'none'".into() };
    let origin = match url.origin() {
        url::Origin::Tuple(..) => url.origin().ascii_serialization(),
        // A native app's private-use scheme with an authority (`com.example.app://cb`).
        url::Origin::Opaque(_) => match url.host_str() {
            Some(host) => format!("{}://{host}", url.scheme()),
            None => return "'none'".into(),
        },
    };
    // A CSP source list is split on spaces and `;`: only plain origin characters pass.
    let plain = origin.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'/' | b'[' | b']' | b'+'));
    if plain { origin } else { "'none'".into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_post_csp_source_is_the_redirect_origin() {
        assert_eq!(origin_of("https://rp.example:8443/cb?x=1"), "https://rp.example:8443");
        assert_eq!(origin_of("http://127.0.0.1:3000/cb"), "http://127.0.0.1:3000");
        assert_eq!(origin_of("https://evil;script-src *"), "'none'");
        assert_eq!(origin_of("not a uri"), "'none'");
    }

    #[test]
    fn the_form_post_template_carries_the_hashed_script() {
        let ui = mamori_ui::Ui::new();
        let html = ui
            .render(
                "oidc/form_post.html",
                mamori_ui::Locale::En,
                serde_json::json!({"action": "https://rp/cb", "fields": [{"name": "code", "value": "a\"b"}]}),
            )
            .expect("renders");
        assert!(html.contains(&format!("<script>{FORM_POST_SCRIPT}</script>")), "{html}");
        assert!(html.contains("<noscript>"), "a button for browsers without scripts");
        assert!(html.contains("a&quot;b") || html.contains("a&#34;b"), "{html}");
    }

    #[test]
    fn every_page_detail_is_in_both_catalogues() {
        let ui = mamori_ui::Ui::new();
        for (description, key) in PAGE_DETAILS {
            assert_eq!(page_detail_key(description), Some(key));
            for locale in [mamori_ui::Locale::En, mamori_ui::Locale::Ja] {
                assert_ne!(ui.message(locale, key), "??", "{key} in {locale:?}");
            }
        }
        assert_eq!(page_detail_key("something else"), None);
    }

    #[test]
    fn a_private_use_scheme_with_an_authority_keeps_it() {
        assert_eq!(origin_of("com.example.app://cb/x"), "com.example.app://cb");
        assert_eq!(origin_of("com.example.app:/cb"), "'none'");
        assert_eq!(origin_of("https://rp.example:443/cb"), "https://rp.example");
    }
}
