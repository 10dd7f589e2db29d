//! Redirect URI matching at the authorization endpoint (RFC 6749 §3.1.2.3, RFC 8252
//! §7.3, OAuth 2.0 Security BCP §4.1.3). Which URIs may be registered is
//! [`crate::fields::RedirectUri`], the one parser every surface shares; its field names
//! are re-exported here for the protocol code.

use url::Url;

use crate::fields::RedirectUri;
use crate::fields::redirect_uri::is_loopback_literal;
pub use crate::fields::redirect_uri::{BACKCHANNEL_LOGOUT_URI, POST_LOGOUT_REDIRECT_URIS, REDIRECT_URIS};

/// Whether `presented` (the authorization request's `redirect_uri`) is one of the
/// client's `registered` URIs: the same string (RFC 6749 §3.1.2.3, Security BCP §4.1.3),
/// or, for a registered http URI on a loopback IP literal, the same URI on another port
/// (RFC 8252 §7.3: native apps get an ephemeral port from the OS). `presented` must also
/// parse as a [`RedirectUri`], so a URI stored before these rules (`http://localhost:@evil.example/`)
/// is never followed.
pub fn matches(registered: &[String], presented: &str) -> bool {
    let Ok(asked) = RedirectUri::parse(REDIRECT_URIS, presented) else {
        return false;
    };
    if registered.iter().any(|r| r == presented) {
        return true;
    }
    if asked.url().scheme() != "http" {
        return false;
    }
    registered
        .iter()
        .filter_map(|r| Url::parse(r).ok())
        .any(|r| r.scheme() == "http" && is_loopback_literal(&r) && same_but_port(&r, asked.url()))
}

/// Equal except for the port.
fn same_but_port(a: &Url, b: &Url) -> bool {
    let mut b = b.clone();
    b.set_port(a.port()).is_ok() && *a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_loopback_literal_may_differ_and_only_by_port() {
        let registered = ["http://127.0.0.1/cb".to_owned(), "http://[::1]:8080/cb?app=1".to_owned(), "https://shop.example/cb".to_owned()];
        for uri in [
            "http://127.0.0.1/cb",
            "http://127.0.0.1:51234/cb",
            "http://[::1]:1/cb?app=1",
            "http://[::1]/cb?app=1",
            "https://shop.example/cb",
        ] {
            assert!(matches(&registered, uri), "{uri}");
        }
        for uri in [
            "http://127.0.0.1:51234/cb2",
            "http://127.0.0.1:51234/cb?x=1",
            "http://127.0.0.1:51234/cb#f",
            "http://127.0.0.2:51234/cb",
            "http://localhost:51234/cb",
            "http://127.0.0.1:51234@evil.example/cb",
            "http://[::1]:1/cb",
            "https://127.0.0.1:51234/cb",
            "https://shop.example:8443/cb",
            "https://shop.example/cb/",
            "HTTP://127.0.0.1:5/cb",
        ] {
            assert!(!matches(&registered, uri), "{uri}");
        }
        // An https registration on a loopback address is matched exactly, like any https one.
        assert!(!matches(&["https://127.0.0.1:8443/cb".to_owned()], "https://127.0.0.1:9443/cb"));
        // Registered before the validator existed: an exact match is not enough.
        let legacy = ["http://localhost:@evil.example/cb".to_owned(), "http://localhost:8080/cb".to_owned()];
        assert!(!matches(&legacy, "http://localhost:@evil.example/cb"));
        assert!(!matches(&legacy, "http://localhost:8080/cb"));
    }
}
