//! SAML 2.0 Bindings: HTTP-Redirect (§3.4: DEFLATE, base64, query-string signatures) and
//! HTTP-POST (§3.5: base64 in a form, auto-submitted by the browser). Decoding incoming
//! messages lives in `mamori_saml_wire::binding` (fuzzed on its own); this module adds
//! what the IdP sends.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
pub use mamori_saml_wire::binding::*;
use sha2::{Digest, Sha256};

use super::keys::IdpKey;
use crate::state::SharedState;
use crate::web::page::{LangQuery, PageLocale};

/// How much of an oversized POST body is still read (and dropped) before answering: a
/// server that answers and closes while the browser is still sending has the connection
/// reset, and the reset can destroy the answer before the browser shows it.
const DRAIN_LIMIT: usize = 8 * 1024 * 1024;

/// An HTTP-POST message from the request body, read here rather than by the framework's
/// form extractor, whose refusals (413 over its limit, 415 for another content type) were
/// bare text: every refusal is a binding error, answered with Mamori's page in the
/// user's language like any other bad message.
pub async fn read_post_body(body: Body) -> Result<Incoming, BindingError> {
    use futures::StreamExt as _;
    let mut stream = body.into_data_stream();
    let (mut kept, mut total) = (Vec::new(), 0usize);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| BindingError::Missing)?;
        total = total.saturating_add(chunk.len());
        if total <= MAX_POST_BODY {
            kept.extend_from_slice(&chunk);
        } else if total > DRAIN_LIMIT {
            break;
        }
    }
    if total > MAX_POST_BODY {
        return Err(BindingError::TooLarge);
    }
    from_post_form(&kept)
}

/// The URL that sends `xml` to `endpoint` over HTTP-Redirect, signed with RSA-SHA256.
pub fn redirect_url(endpoint: &str, kind: MessageKind, xml: &str, relay_state: Option<&str>, key: &IdpKey) -> anyhow::Result<String> {
    let mut query = format!("{}={}", kind.param(), crate::urlcode::component(&STANDARD.encode(deflate(xml.as_bytes()))));
    if let Some(rs) = relay_state {
        query.push_str(&format!("&RelayState={}", crate::urlcode::component(rs)));
    }
    query.push_str(&format!("&SigAlg={}", crate::urlcode::component(RSA_SHA256)));
    let signature = key.sign_rsa_sha256(query.as_bytes())?;
    query.push_str(&format!("&Signature={}", crate::urlcode::component(&STANDARD.encode(signature))));
    let sep = if endpoint.contains('?') { '&' } else { '?' };
    Ok(format!("{endpoint}{sep}{query}"))
}

/// The only script of the auto-POST page; its hash is the only script the page's CSP
/// allows. Without scripts, the page shows a button.
pub const AUTO_POST_SCRIPT: &str = "document.forms[0].submit()";

/// The page that POSTs `xml` (base64) and RelayState to `action` (SAML Bindings §3.5.4).
pub fn post_page(
    state: &SharedState,
    headers: &HeaderMap,
    action: &str,
    kind: MessageKind,
    xml: &str,
    relay_state: Option<&str>,
) -> Response {
    let page = PageLocale::from_request(&LangQuery::default(), headers);
    let mut fields = vec![serde_json::json!({ "name": kind.param(), "value": STANDARD.encode(xml.as_bytes()) })];
    if let Some(rs) = relay_state {
        fields.push(serde_json::json!({ "name": "RelayState", "value": rs }));
    }
    let mut response = page.render(state, StatusCode::OK, "saml/post.html", serde_json::json!({ "action": action, "fields": fields }));
    let hash = STANDARD.encode(Sha256::digest(AUTO_POST_SCRIPT.as_bytes()));
    let csp = format!(
        "default-src 'self'; script-src 'sha256-{hash}'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action {}",
        origin_of(action)
    );
    if let Ok(value) = HeaderValue::from_str(&csp) {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, value);
    }
    never_cached(response)
}

/// A response carrying a SAML message, marked as SAML Bindings §3.4.5.1 and §3.5.5.1
/// ask: `Cache-Control: no-cache, no-store` and `Pragma: no-cache`.
pub fn never_cached(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// `scheme://authority` of a URL, for a CSP source; `'none'` if it has none we can use.
pub fn origin_of(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else { return "'none'".into() };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let clean =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'+'));
    if clean(scheme) && clean(authority) { format!("{scheme}://{authority}") } else { "'none'".into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csp_sources_are_origins_only() {
        assert_eq!(origin_of("https://sp.example:8443/acs?x=1"), "https://sp.example:8443");
        assert_eq!(origin_of("https://evil;script-src *"), "'none'");
    }
}
