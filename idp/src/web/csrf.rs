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
pub struct CsrfKey(hmac::Key);

impl CsrfKey {
    /// Derives the key from the master key text, separated from its other uses by a label.
    pub fn derive(master_key_text: &str) -> Self {
        let root = hmac::Key::new(hmac::HMAC_SHA256, master_key_text.as_bytes());
        let derived = hmac::sign(&root, b"mamori csrf v1");
        Self(hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()))
    }

    fn token_for(&self, cookie: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hmac::sign(&self.0, cookie.as_bytes()).as_ref())
    }
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
    let set_cookie =
        HeaderValue::from_str(&format!("{CSRF_COOKIE}={cookie}; Path=/; Secure; HttpOnly; SameSite=Strict")).ok();
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
