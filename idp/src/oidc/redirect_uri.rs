//! Redirect URIs (RFC 6749 §3.1.2, RFC 8252 §7.3 and §8.3, OAuth 2.0 Security BCP §4.1):
//! the one validator that dynamic registration, the admin API, the CLI and the console
//! share for `redirect_uris` and `post_logout_redirect_uris`, and the matching rule of the
//! authorization endpoint.
//!
//! URIs are parsed with the WHATWG parser (the `url` crate), the one browsers use to
//! follow our redirects, so that what we check is where the browser goes: a prefix test
//! took `http://localhost:@evil.example/cb` for a loopback URI.
//!
//! `localhost` by name is refused over plain http: RFC 8252 §8.3 calls it NOT RECOMMENDED,
//! as the name may resolve off the machine or be caught by a local firewall; native apps
//! use the loopback IP literals, on which any port matches (§7.3). https to any host name
//! (`localhost` included) is accepted as for any site.

use std::net::IpAddr;

use url::{Host, Url};

use crate::outbound::FetchRule;

/// Longest redirect URI accepted (it ends up in pages, tokens and logs).
pub const MAX_URI_CHARS: usize = 2000;

/// Why a URI was refused: the field it came from and a message key the UI translates
/// (`ui/messages/*/oidc.json`), with an English text for the API and the CLI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: `{uri}`: {}", self.text())]
pub struct UriProblem {
    pub field: &'static str,
    pub key: &'static str,
    /// The URI refused (its first 200 characters), for the operator to find it.
    pub uri: String,
}

impl UriProblem {
    fn new(field: &'static str, key: &'static str, uri: &str) -> Self {
        UriProblem { field, key, uri: uri.chars().take(200).collect() }
    }

    /// The English text of [`Self::key`] (the catalogue has the same, and the Japanese).
    pub fn text(&self) -> &'static str {
        match self.key {
            KEY_NOT_A_URL => "each URI must be an absolute URL of at most 2000 characters",
            KEY_NOT_CANONICAL => {
                "write each URI in its normal form (lower-case host, no default port, no dot segments, a path of at least /, no spaces)"
            }
            KEY_USERINFO => "a URI must not carry a user name or password (user:pass@host)",
            KEY_FRAGMENT => "a URI must not have a fragment (#...)",
            KEY_NOT_HTTPS => "a URI must be https, or http on a loopback IP address (127.0.0.1 or [::1])",
            KEY_FETCH_NOT_HTTPS => {
                "a URI the provider calls must be https (http on a loopback IP address only where the operator set oidc.jwks_fetch_allow_loopback_http)"
            }
            _ => "the URI is not acceptable",
        }
    }
}

pub const KEY_NOT_A_URL: &str = "oidc.redirect_uri.not_a_url";
pub const KEY_NOT_CANONICAL: &str = "oidc.redirect_uri.not_canonical";
pub const KEY_USERINFO: &str = "oidc.redirect_uri.userinfo";
pub const KEY_FRAGMENT: &str = "oidc.redirect_uri.fragment";
pub const KEY_NOT_HTTPS: &str = "oidc.redirect_uri.not_https";
pub const KEY_FETCH_NOT_HTTPS: &str = "oidc.redirect_uri.fetch_not_https";

/// Every message key a [`UriProblem`] can carry (the catalogue test checks each is there).
pub const KEYS: [&str; 6] = [KEY_NOT_A_URL, KEY_NOT_CANONICAL, KEY_USERINFO, KEY_FRAGMENT, KEY_NOT_HTTPS, KEY_FETCH_NOT_HTTPS];

/// Field names, as the registration metadata and the admin API spell them.
pub const REDIRECT_URIS: &str = "redirect_uris";
pub const POST_LOGOUT_REDIRECT_URIS: &str = "post_logout_redirect_uris";
/// Back-Channel Logout §2.2: the same rules (https or loopback http, no fragment).
pub const BACKCHANNEL_LOGOUT_URI: &str = "backchannel_logout_uri";

/// `uri` parsed, if it is a redirect URI we register for `field`.
pub fn check(field: &'static str, uri: &str) -> Result<Url, UriProblem> {
    if uri.chars().count() > MAX_URI_CHARS {
        return Err(UriProblem::new(field, KEY_NOT_A_URL, uri));
    }
    let url = Url::parse(uri).map_err(|_| UriProblem::new(field, KEY_NOT_A_URL, uri))?;
    // Userinfo and fragments first: they are the attacks, and say more than "not normal".
    if !url.username().is_empty() || url.password().is_some() || authority_has_at(uri) {
        return Err(UriProblem::new(field, KEY_USERINFO, uri));
    }
    if url.fragment().is_some() {
        return Err(UriProblem::new(field, KEY_FRAGMENT, uri));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_literal(&url) => {}
        _ => return Err(UriProblem::new(field, KEY_NOT_HTTPS, uri)),
    }
    // Only the parser's own spelling: the authorization endpoint compares strings, and a
    // text the parser rewrites (tabs, backslashes, `..`, `:443`) is one a browser would
    // follow somewhere other than it reads.
    if url.as_str() != uri {
        return Err(UriProblem::new(field, KEY_NOT_CANONICAL, uri));
    }
    Ok(url)
}

/// A URL the provider itself calls for a client (`jwks_uri`, `request_uris` without their
/// fragment, `backchannel_logout_uri`): [`check`], and plain http only where the outbound
/// client will follow it, that is when the operator set `oidc.jwks_fetch_allow_loopback_http`
/// ([`FetchRule`], which `outbound::Limits::for_clients` reads too). Otherwise a URI
/// registered today would be refused ("not https") at every use.
pub fn check_fetch(field: &'static str, uri: &str, rule: FetchRule) -> Result<Url, UriProblem> {
    let url = check(field, uri)?;
    if url.scheme() != "https" && !rule.allow_loopback_http {
        return Err(UriProblem::new(field, KEY_FETCH_NOT_HTTPS, uri));
    }
    Ok(url)
}

/// [`check`] for each URI of a list; the first refusal.
pub fn check_all<'a>(field: &'static str, uris: impl IntoIterator<Item = &'a String>) -> Result<(), UriProblem> {
    uris.into_iter().try_for_each(|u| check(field, u).map(|_| ()))
}

/// An `@` before the path: userinfo, even one the parser would drop as empty (`http://@h/`).
fn authority_has_at(uri: &str) -> bool {
    let rest = uri.split_once("://").map_or(uri, |(_, rest)| rest);
    rest.split(['/', '?', '#', '\\']).next().is_some_and(|authority| authority.contains('@'))
}

/// The host is an IP literal on the loopback: 127.0.0.0/8 or ::1 (never a name).
fn is_loopback_literal(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        _ => false,
    }
}

/// Whether `presented` (the authorization request's `redirect_uri`) is one of the
/// client's `registered` URIs: the same string (RFC 6749 §3.1.2.3, Security BCP §4.1.3),
/// or, for a registered http URI on a loopback IP literal, the same URI on another port
/// (RFC 8252 §7.3: native apps get an ephemeral port from the OS). `presented` must also
/// pass [`check`], so a URI stored before these rules (`http://localhost:@evil.example/`)
/// is never followed.
pub fn matches(registered: &[String], presented: &str) -> bool {
    let Ok(asked) = check(REDIRECT_URIS, presented) else {
        return false;
    };
    if registered.iter().any(|r| r == presented) {
        return true;
    }
    if asked.scheme() != "http" {
        return false;
    }
    registered
        .iter()
        .filter_map(|r| Url::parse(r).ok())
        .any(|r| r.scheme() == "http" && is_loopback_literal(&r) && same_but_port(&r, &asked))
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
    fn registration_accepts_https_and_loopback_literals_only() {
        let ok = [
            "https://shop.example/cb",
            "https://shop.example:8443/cb?x=1",
            "https://localhost:3000/cb",
            "http://127.0.0.1/cb",
            "http://127.0.0.1:8080/cb",
            "http://127.1.2.3:9/cb",
            "http://[::1]:8080/cb",
        ];
        for uri in ok {
            assert!(check(REDIRECT_URIS, uri).is_ok(), "{uri}");
        }
        let refused = [
            // The reported attacks: userinfo that a prefix test took for a loopback host.
            ("http://localhost:@evil.example/cb", KEY_USERINFO),
            ("http://127.0.0.1:80@evil.example/cb", KEY_USERINFO),
            ("https://shop.example@evil.example/cb", KEY_USERINFO),
            ("https://user:pw@shop.example/cb", KEY_USERINFO),
            ("http://@127.0.0.1/cb", KEY_USERINFO),
            ("https://shop.example/cb#frag", KEY_FRAGMENT),
            ("https://shop.example/cb#", KEY_FRAGMENT),
            ("http://shop.example/cb", KEY_NOT_HTTPS),
            ("http://localhost:8080/cb", KEY_NOT_HTTPS),
            ("http://localhost./cb", KEY_NOT_HTTPS),
            ("http://127.0.0.1.evil.example/cb", KEY_NOT_HTTPS),
            ("http://[::2]/cb", KEY_NOT_HTTPS),
            ("http://10.0.0.1/cb", KEY_NOT_HTTPS),
            ("javascript:alert(1)", KEY_NOT_HTTPS),
            ("com.example.app:/cb", KEY_NOT_HTTPS),
            ("/relative/cb", KEY_NOT_A_URL),
            ("not a url", KEY_NOT_A_URL),
            ("https:///cb", KEY_NOT_CANONICAL),
            ("https://SHOP.example/cb", KEY_NOT_CANONICAL),
            ("https://shop.example:443/cb", KEY_NOT_CANONICAL),
            ("https://shop.example/a/../cb", KEY_NOT_CANONICAL),
            ("https://shop.example", KEY_NOT_CANONICAL),
            ("https://shop.example\\evil.example/cb", KEY_NOT_CANONICAL),
            ("https://shop.example/c\tb", KEY_NOT_CANONICAL),
            (" https://shop.example/cb", KEY_NOT_CANONICAL),
            ("http://0x7f.1/cb", KEY_NOT_CANONICAL),
        ];
        for (uri, key) in refused {
            let problem = check(POST_LOGOUT_REDIRECT_URIS, uri).err();
            assert_eq!(problem.map(|p| (p.field, p.key)), Some((POST_LOGOUT_REDIRECT_URIS, key)), "{uri}");
        }
        let long = format!("https://shop.example/{}", "a".repeat(MAX_URI_CHARS));
        assert_eq!(check(REDIRECT_URIS, &long).err().map(|p| p.key), Some(KEY_NOT_A_URL));
    }

    #[test]
    fn urls_the_provider_calls_follow_the_outbound_rule() {
        let (strict, dev) = (FetchRule { allow_loopback_http: false }, FetchRule { allow_loopback_http: true });
        // Honest: https anywhere; loopback http where the operator allows it.
        for allow in [strict, dev] {
            assert!(check_fetch(BACKCHANNEL_LOGOUT_URI, "https://rp.example/bcl", allow).is_ok());
        }
        assert!(check_fetch(BACKCHANNEL_LOGOUT_URI, "http://127.0.0.1:6379/", dev).is_ok());
        assert!(check_fetch("request_uris", "http://[::1]:18999/ro", dev).is_ok());
        // Hostile: loopback http the fetch would refuse ("not https"), and what no fetch takes.
        let problem = |uri: &str, allow: FetchRule| check_fetch(BACKCHANNEL_LOGOUT_URI, uri, allow).err().map(|p| (p.field, p.key));
        assert_eq!(problem("http://127.0.0.1:6379/", strict), Some((BACKCHANNEL_LOGOUT_URI, KEY_FETCH_NOT_HTTPS)));
        assert_eq!(problem("http://[::1]:18999/ro", strict), Some((BACKCHANNEL_LOGOUT_URI, KEY_FETCH_NOT_HTTPS)));
        for allow in [strict, dev] {
            assert_eq!(problem("http://rp.example/bcl", allow), Some((BACKCHANNEL_LOGOUT_URI, KEY_NOT_HTTPS)));
            assert_eq!(problem("http://localhost:6379/", allow), Some((BACKCHANNEL_LOGOUT_URI, KEY_NOT_HTTPS)));
            assert_eq!(problem("https://u:p@rp.example/bcl", allow), Some((BACKCHANNEL_LOGOUT_URI, KEY_USERINFO)));
            assert_eq!(problem("https://rp.example/bcl#f", allow), Some((BACKCHANNEL_LOGOUT_URI, KEY_FRAGMENT)));
            assert_eq!(problem("javascript:alert(1)", allow), Some((BACKCHANNEL_LOGOUT_URI, KEY_NOT_HTTPS)));
        }
    }

    #[test]
    fn every_problem_has_a_text() {
        for key in KEYS {
            assert_ne!(UriProblem::new(REDIRECT_URIS, key, "x").text(), "the URI is not acceptable", "{key}");
        }
        let shown = UriProblem::new(REDIRECT_URIS, KEY_USERINFO, "http://a@b/").to_string();
        assert!(shown.starts_with("redirect_uris: `http://a@b/`: "), "{shown}");
        // The console shows the key's text: each is in both catalogues.
        let ui = mamori_ui::Ui::new();
        for locale in [mamori_ui::Locale::Ja, mamori_ui::Locale::En] {
            for key in KEYS {
                let text = ui.message(locale, key);
                assert!(text != key && !text.starts_with("??"), "{key} missing in {locale:?}");
            }
        }
    }

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
