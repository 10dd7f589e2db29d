//! CSRF protection for every form, with or without a session: a random cookie, and in
//! each form a token that is an HMAC of that cookie under a key derived from the master
//! key. A cross-site page can neither read the cookie nor compute the token. Stateless,
//! so it holds on every node.

use aws_lc_rs::hmac;
use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine as _;

use super::request::cookie_value;

pub const CSRF_COOKIE: &str = "__Host-mamori_csrf";
/// The hidden form field every form carries.
pub const CSRF_FIELD: &str = "csrf_token";

#[derive(Clone)]
pub struct CsrfKey(hmac::Key, hmac::Key);

impl CsrfKey {
    /// Derives the key from the master key text, separated from its other uses by a label;
    /// and beside it the key of [`CsrfKey::seal_fields`], under another label.
    pub fn derive(master_key_text: &str) -> Self {
        let root = hmac::Key::new(hmac::HMAC_SHA256, master_key_text.as_bytes());
        let derived = hmac::sign(&root, b"mamori csrf v1");
        let fields = hmac::sign(&root, b"mamori form fields v1");
        Self(hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()), hmac::Key::new(hmac::HMAC_SHA256, fields.as_ref()))
    }

    /// A tag over hidden form fields a page has checked, for `purpose`: the handler of the
    /// form verifies it ([`CsrfKey::fields_sealed`]) and so gets the fields back as the page
    /// wrote them, not as the browser (or whoever edits the page) changed them. Absent and
    /// empty are the same; each field is length-prefixed, so no two lists share a tag.
    pub fn seal_fields(&self, purpose: &str, fields: &[Option<&str>]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hmac::sign(&self.1, &fields_message(purpose, fields)).as_ref())
    }

    /// Whether `tag` is [`CsrfKey::seal_fields`] of these fields (constant time).
    pub fn fields_sealed(&self, purpose: &str, fields: &[Option<&str>], tag: &str) -> bool {
        let Ok(tag) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(tag) else {
            return false;
        };
        hmac::verify(&self.1, &fields_message(purpose, fields), &tag).is_ok()
    }

    fn token_for(&self, cookie: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hmac::sign(&self.0, cookie.as_bytes()).as_ref())
    }
}

fn fields_message(purpose: &str, fields: &[Option<&str>]) -> Vec<u8> {
    let mut message = Vec::new();
    for part in std::iter::once(purpose).chain(fields.iter().map(|f| f.unwrap_or_default())) {
        message.extend_from_slice(&(part.len() as u64).to_be_bytes());
        message.extend_from_slice(part.as_bytes());
    }
    message
}

/// The token to put in a form, and the cookie to set when the browser has none yet.
pub struct CsrfIssue {
    pub token: String,
    pub set_cookie: Option<HeaderValue>,
}

pub fn issue(key: &CsrfKey, headers: &HeaderMap) -> CsrfIssue {
    if let Some(cookie) = cookie_value(headers, CSRF_COOKIE).filter(|c| c.len() >= 32) {
        return CsrfIssue { token: key.token_for(&cookie), set_cookie: None };
    }
    let cookie = crate::secrets::url_token();
    let set_cookie = HeaderValue::from_str(&format!("{CSRF_COOKIE}={cookie}; Path=/; Secure; HttpOnly; SameSite=Strict")).ok();
    CsrfIssue { token: key.token_for(&cookie), set_cookie }
}

/// Whether `submitted` is the token for the browser's CSRF cookie (constant time).
pub fn verify(key: &CsrfKey, headers: &HeaderMap, submitted: &str) -> bool {
    let Some(cookie) = cookie_value(headers, CSRF_COOKIE) else {
        return false;
    };
    let Ok(tag) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(submitted) else {
        return false;
    };
    hmac::verify(&key.0, cookie.as_bytes(), &tag).is_ok()
}

/// Whether a form POST comes from a page of one of `own_urls`' origins, as the browser
/// tells it. Cookies do not keep ports apart: a site on another port of the same host
/// name can set Mamori's CSRF cookie (even with the `__Host-` prefix) and knows a token
/// for it, so the token alone does not prove the form is ours. Browsers send `Origin`
/// with every POST (and `Sec-Fetch-Site`); a request with neither (curl, a very old
/// browser) is judged by the token alone.
pub fn posted_from(headers: &HeaderMap, own_urls: &[&str]) -> bool {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let Ok(origin) = origin.to_str() else { return false };
        return own_urls
            .iter()
            .filter_map(|u| url::Url::parse(u).ok())
            .any(|u| u.origin().is_tuple() && u.origin().ascii_serialization() == origin);
    }
    match headers.get("sec-fetch-site").map(|v| v.to_str()) {
        None => true,
        Some(Ok(site)) => matches!(site, "same-origin" | "none"),
        Some(Err(_)) => false,
    }
}

/// Adds the CSRF cookie to a response when [`issue`] made a new one.
pub fn attach(response: &mut axum::response::Response, issued: &CsrfIssue) {
    if let Some(cookie) = issued.set_cookie.clone() {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_cookie(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(&format!("a=b; {CSRF_COOKIE}={value}")).expect("header"));
        h
    }

    #[test]
    fn only_our_own_origins_may_post() {
        let own = ["https://idp.example:8443", "https://idp.example:8444/"];
        let with = |name: &'static str, value: &'static str| {
            HeaderMap::from_iter([(axum::http::HeaderName::from_static(name), HeaderValue::from_static(value))])
        };
        assert!(posted_from(&with("origin", "https://idp.example:8443"), &own));
        assert!(posted_from(&with("origin", "https://idp.example:8444"), &own));
        assert!(posted_from(&HeaderMap::new(), &own), "no Origin, no Sec-Fetch-Site: the token decides");
        assert!(posted_from(&with("sec-fetch-site", "same-origin"), &own));
        // Hostile: the same host on another port, another site, an opaque origin.
        for origin in ["https://idp.example:9443", "https://evil.example", "null", "https://idp.example:8443.evil.example"] {
            let headers = HeaderMap::from_iter([(header::ORIGIN, HeaderValue::from_str(origin).expect("value"))]);
            assert!(!posted_from(&headers, &own), "{origin}");
        }
        assert!(!posted_from(&with("sec-fetch-site", "same-site"), &own), "another port of the same host");
        assert!(!posted_from(&with("sec-fetch-site", "cross-site"), &own));
    }

    #[test]
    fn sealed_fields_come_back_only_as_written() {
        let key = CsrfKey::derive("master");
        let fields = [Some("shop"), Some("https://shop.example/bye"), None];
        let tag = key.seal_fields("end_session", &fields);
        assert!(key.fields_sealed("end_session", &fields, &tag));
        assert!(key.fields_sealed("end_session", &[Some("shop"), Some("https://shop.example/bye"), Some("")], &tag), "empty is absent");
        // Another client, another URI, fields shifted, another purpose or key: refused.
        for other in [
            [Some("mail"), Some("https://shop.example/bye"), None],
            [Some("shop"), Some("https://mail.example/bye"), None],
            [Some("shophttps://shop.example/bye"), None, None],
            [Some("sho"), Some("phttps://shop.example/bye"), None],
        ] {
            assert!(!key.fields_sealed("end_session", &other, &tag), "{other:?}");
        }
        assert!(!key.fields_sealed("consent", &fields, &tag));
        assert!(!CsrfKey::derive("other").fields_sealed("end_session", &fields, &tag));
        assert!(!key.fields_sealed("end_session", &fields, "not base64!"));
    }

    #[test]
    fn a_token_verifies_only_with_its_cookie_and_key() {
        let key = CsrfKey::derive("master");
        let issued = issue(&key, &HeaderMap::new());
        let cookie = issued.set_cookie.expect("a new cookie").to_str().expect("ascii").to_owned();
        let value = cookie.split(';').next().and_then(|c| c.split_once('=')).map(|(_, v)| v.to_owned()).expect("value");
        let headers = with_cookie(&value);
        assert!(verify(&key, &headers, &issued.token));
        assert!(!verify(&key, &headers, "forged"));
        assert!(!verify(&key, &with_cookie(&crate::secrets::url_token()), &issued.token));
        assert!(!verify(&CsrfKey::derive("other"), &headers, &issued.token));
        assert!(!verify(&key, &HeaderMap::new(), &issued.token));
        // The same cookie keeps giving a valid token, so several tabs work.
        assert!(issue(&key, &headers).set_cookie.is_none());
        assert!(verify(&key, &headers, &issue(&key, &headers).token));
    }
}
