//! Redirect URIs (RFC 6749 §3.1.2, RFC 8252 §7.3 and §8.3, OAuth 2.0 Security BCP §4.1):
//! the one parser that dynamic registration, the admin API, the CLI and the console share
//! for `redirect_uris`, `post_logout_redirect_uris` and the URLs the provider calls for a
//! client. The authorization endpoint's matching rule is in `oidc::redirect_uri`.
//!
//! URIs are parsed with the WHATWG parser (the `url` crate), the one browsers use to
//! follow our redirects, so that what we check is where the browser goes: a prefix test
//! took `http://localhost:@evil.example/cb` for a loopback URI.
//!
//! `localhost` by name is refused over plain http: RFC 8252 §8.3 calls it NOT RECOMMENDED,
//! as the name may resolve off the machine or be caught by a local firewall; native apps
//! use the loopback IP literals, on which any port matches (§7.3). https to any host name
//! (`localhost` included) is accepted as for any site.

use std::net::{Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use super::FieldError;
use crate::outbound::FetchRule;

/// Longest redirect URI accepted (it ends up in pages, tokens and logs).
pub const MAX_URI_CHARS: usize = 2000;

pub const KEY_NOT_A_URL: &str = "oidc.redirect_uri.not_a_url";
pub const KEY_NOT_CANONICAL: &str = "oidc.redirect_uri.not_canonical";
pub const KEY_USERINFO: &str = "oidc.redirect_uri.userinfo";
pub const KEY_FRAGMENT: &str = "oidc.redirect_uri.fragment";
pub const KEY_NOT_HTTPS: &str = "oidc.redirect_uri.not_https";
pub const KEY_FETCH_NOT_HTTPS: &str = "oidc.redirect_uri.fetch_not_https";
pub const KEY_HOST: &str = "oidc.redirect_uri.host";
pub const KEY_PORT: &str = "oidc.redirect_uri.port";

/// Every message key a refused URI can carry (the catalogue test checks each is there).
pub const KEYS: [&str; 8] =
    [KEY_NOT_A_URL, KEY_NOT_CANONICAL, KEY_USERINFO, KEY_FRAGMENT, KEY_NOT_HTTPS, KEY_FETCH_NOT_HTTPS, KEY_HOST, KEY_PORT];

/// Field names, as the registration metadata and the admin API spell them.
pub const REDIRECT_URIS: &str = "redirect_uris";
pub const POST_LOGOUT_REDIRECT_URIS: &str = "post_logout_redirect_uris";
/// Back-Channel Logout §2.2: the same rules (https or loopback http, no fragment).
pub const BACKCHANNEL_LOGOUT_URI: &str = "backchannel_logout_uri";

/// The English text of a refused URI's message `key` (the catalogue has the same, and the
/// Japanese), for the API, the CLI and dynamic registration's error descriptions.
pub fn text(key: &str) -> &'static str {
    match key {
        KEY_NOT_A_URL => "each URI must be an absolute URL of at most 2000 characters",
        KEY_NOT_CANONICAL => {
            "write each URI in its normal form (lower-case host, no default port, no dot segments, a path of at least /, no spaces)"
        }
        KEY_USERINFO => "a URI must not carry a user name or password (user:pass@host)",
        KEY_FRAGMENT => "a URI must not have a fragment (#...)",
        KEY_NOT_HTTPS => "a URI must be https, or http on a loopback IP address (127.0.0.1 or [::1])",
        KEY_HOST => "the host must be a DNS name (letters, digits and hyphens between dots) or an IP address",
        KEY_PORT => "the port must be a number from 1 to 65535",
        KEY_FETCH_NOT_HTTPS => {
            "a URI the provider calls must be https (http on a loopback IP address only where the operator set oidc.jwks_fetch_allow_loopback_http)"
        }
        _ => "the URI is not acceptable",
    }
}

/// The refusal of `uri` for `field`: the detail names the field, the URI (its first 200
/// characters, for the operator to find it) and why.
fn refused(field: &'static str, key: &'static str, uri: &str) -> FieldError {
    let shown: String = uri.chars().take(200).collect();
    FieldError { field, key, detail: format!("{field}: `{shown}`: {}", text(key)) }
}

/// A URI we register as a redirect (or post-logout redirect) target: https, or http on a
/// loopback IP literal; no userinfo, no fragment; in the parser's own spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUri(Url);

impl RedirectUri {
    /// `uri` parsed, if it is a redirect URI we register for `field`.
    pub fn parse(field: &'static str, uri: &str) -> Result<Self, FieldError> {
        if uri.chars().count() > MAX_URI_CHARS {
            return Err(refused(field, KEY_NOT_A_URL, uri));
        }
        let url = Url::parse(uri).map_err(|e| refused(field, parse_error_key(e), uri))?;
        // Userinfo and fragments first: they are the attacks, and say more than "not normal".
        if !url.username().is_empty() || url.password().is_some() || authority_has_at(uri) {
            return Err(refused(field, KEY_USERINFO, uri));
        }
        if url.fragment().is_some() {
            return Err(refused(field, KEY_FRAGMENT, uri));
        }
        match url.scheme() {
            "https" => {}
            "http" if is_loopback_literal(&url) => {}
            _ => return Err(refused(field, KEY_NOT_HTTPS, uri)),
        }
        if url.port() == Some(0) {
            return Err(refused(field, KEY_PORT, uri));
        }
        // The WHATWG parser takes `*`, `_` or `!` in a host name; no DNS name has them, and
        // `https://*.shop.example/cb` reads like a wildcard that the exact match is not.
        if let Some(Host::Domain(name)) = url.host()
            && !is_dns_name(name)
        {
            return Err(refused(field, KEY_HOST, uri));
        }
        // Only the parser's own spelling: the authorization endpoint compares strings, and a
        // text the parser rewrites (tabs, backslashes, `..`, `:443`) is one a browser would
        // follow somewhere other than it reads.
        if url.as_str() != uri {
            return Err(refused(field, KEY_NOT_CANONICAL, uri));
        }
        Ok(RedirectUri(url))
    }

    /// A URL the provider itself calls for a client (`jwks_uri`, `request_uris` without
    /// their fragment, `backchannel_logout_uri`): [`Self::parse`], and plain http only
    /// where the outbound client will follow it, that is when the operator set
    /// `oidc.jwks_fetch_allow_loopback_http` ([`FetchRule`], which
    /// `outbound::Limits::for_clients` reads too). Otherwise a URI registered today would
    /// be refused ("not https") at every use.
    pub fn parse_fetched(field: &'static str, uri: &str, rule: FetchRule) -> Result<Self, FieldError> {
        let parsed = Self::parse(field, uri)?;
        if parsed.0.scheme() != "https" && !rule.allow_loopback_http {
            return Err(refused(field, KEY_FETCH_NOT_HTTPS, uri));
        }
        Ok(parsed)
    }

    /// [`Self::parse`] for each URI of a list; the first refusal.
    pub fn parse_list<'a>(field: &'static str, uris: impl IntoIterator<Item = &'a String>) -> Result<Vec<Self>, FieldError> {
        uris.into_iter().map(|u| Self::parse(field, u)).collect()
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn url(&self) -> &Url {
        &self.0
    }
}

/// The key for a URI the parser refused: its host or port named where that is the fault.
fn parse_error_key(error: url::ParseError) -> &'static str {
    use url::ParseError as E;
    match error {
        E::InvalidPort => KEY_PORT,
        E::EmptyHost | E::IdnaError | E::InvalidIpv4Address | E::InvalidIpv6Address | E::InvalidDomainCharacter => KEY_HOST,
        _ => KEY_NOT_A_URL,
    }
}

/// A host name as DNS writes it (RFC 1123 §2.1, in the parser's lower-case ASCII form):
/// labels of 1–63 letters, digits and inner hyphens; no empty label, so no trailing dot.
fn is_dns_name(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// An `@` before the path: userinfo, even one the parser would drop as empty (`http://@h/`).
fn authority_has_at(uri: &str) -> bool {
    let rest = uri.split_once("://").map_or(uri, |(_, rest)| rest);
    rest.split(['/', '?', '#', '\\']).next().is_some_and(|authority| authority.contains('@'))
}

/// The host is one of the two loopback literals RFC 8252 §7.3 names, 127.0.0.1 or [::1]
/// (never a name, nor the rest of 127.0.0.0/8, which the message promises no one).
pub(crate) fn is_loopback_literal(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip == Ipv4Addr::LOCALHOST,
        Some(Host::Ipv6(ip)) => ip == Ipv6Addr::LOCALHOST,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(field: &'static str, uri: &str) -> Result<RedirectUri, FieldError> {
        RedirectUri::parse(field, uri)
    }

    #[test]
    fn registration_accepts_https_and_loopback_literals_only() {
        let ok = [
            "https://shop.example/cb",
            "https://shop.example:8443/cb?x=1",
            "https://localhost:3000/cb",
            "https://xn--bcher-kva.example/cb",
            "http://127.0.0.1/cb",
            "http://127.0.0.1:8080/cb",
            "https://10.0.0.1/cb",
            "https://a-b.c1.example/cb",
            "http://[::1]:8080/cb",
        ];
        for uri in ok {
            assert_eq!(check(REDIRECT_URIS, uri).map(|u| u.as_str().to_owned()), Ok(uri.to_owned()), "{uri}");
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
            // The rest of 127.0.0.0/8 is loopback too, but RFC 8252 names only these two.
            ("http://127.0.0.2/cb", KEY_NOT_HTTPS),
            ("http://127.1.2.3:9/cb", KEY_NOT_HTTPS),
            ("http://[::ffff:127.0.0.1]/cb", KEY_NOT_HTTPS),
            // Hosts no DNS name spells, and ports no socket has.
            ("https://*/cb", KEY_HOST),
            ("https://*.shop.example/cb", KEY_HOST),
            ("https://shop_1.example/cb", KEY_HOST),
            ("https://-shop.example/cb", KEY_HOST),
            ("https://shop-.example/cb", KEY_HOST),
            ("https://shop..example/cb", KEY_HOST),
            ("https://shop.example./cb", KEY_HOST),
            ("https://shop ex.example/cb", KEY_HOST),
            ("https://[::1/cb", KEY_HOST),
            ("https://shop.example:99999/cb", KEY_PORT),
            ("https://shop.example:x/cb", KEY_PORT),
            ("https://shop.example:0/cb", KEY_PORT),
            ("http://127.0.0.1:0/cb", KEY_PORT),
            ("javascript:alert(1)", KEY_NOT_HTTPS),
            ("data:text/html,<script>alert(1)</script>", KEY_NOT_HTTPS),
            ("com.example.app:/cb", KEY_NOT_HTTPS),
            ("/relative/cb", KEY_NOT_A_URL),
            ("not a url", KEY_NOT_A_URL),
            ("", KEY_NOT_A_URL),
            ("https:///cb", KEY_NOT_CANONICAL),
            ("https://SHOP.example/cb", KEY_NOT_CANONICAL),
            ("https://shop.example:443/cb", KEY_NOT_CANONICAL),
            ("https://shop.example/a/../cb", KEY_NOT_CANONICAL),
            ("https://shop.example", KEY_NOT_CANONICAL),
            ("https://shop.example\\evil.example/cb", KEY_NOT_CANONICAL),
            ("https://shop.example/c\tb", KEY_NOT_CANONICAL),
            (" https://shop.example/cb", KEY_NOT_CANONICAL),
            ("http://0x7f.1/cb", KEY_NOT_CANONICAL),
            // Look-alike and invisible characters in the host: the parser's spelling is
            // the punycode one, which the operator did not type.
            ("https://bücher.example/cb", KEY_NOT_CANONICAL),
            ("https://shop\u{200B}.example/cb", KEY_NOT_CANONICAL),
            ("https://shop.example/\u{202E}bc", KEY_NOT_CANONICAL),
        ];
        for (uri, key) in refused {
            let problem = check(POST_LOGOUT_REDIRECT_URIS, uri).err();
            assert_eq!(problem.map(|p| (p.field, p.key)), Some((POST_LOGOUT_REDIRECT_URIS, key)), "{uri}");
        }
        let label = "a".repeat(64);
        assert_eq!(check(REDIRECT_URIS, &format!("https://{label}.example/cb")).err().map(|p| p.key), Some(KEY_HOST));
        assert!(check(REDIRECT_URIS, &format!("https://{}.example/cb", &label[..63])).is_ok());
        let long = format!("https://shop.example/{}", "a".repeat(MAX_URI_CHARS));
        assert_eq!(check(REDIRECT_URIS, &long).err().map(|p| p.key), Some(KEY_NOT_A_URL));
        assert!(check(REDIRECT_URIS, &long[..MAX_URI_CHARS]).is_ok());
    }

    #[test]
    fn urls_the_provider_calls_follow_the_outbound_rule() {
        let (strict, dev) = (FetchRule { allow_loopback_http: false }, FetchRule { allow_loopback_http: true });
        let parse = RedirectUri::parse_fetched;
        // Honest: https anywhere; loopback http where the operator allows it.
        for allow in [strict, dev] {
            assert!(parse(BACKCHANNEL_LOGOUT_URI, "https://rp.example/bcl", allow).is_ok());
        }
        assert!(parse(BACKCHANNEL_LOGOUT_URI, "http://127.0.0.1:6379/", dev).is_ok());
        assert!(parse("request_uris", "http://[::1]:18999/ro", dev).is_ok());
        // Hostile: loopback http the fetch would refuse ("not https"), and what no fetch takes.
        let problem = |uri: &str, allow: FetchRule| parse(BACKCHANNEL_LOGOUT_URI, uri, allow).err().map(|p| (p.field, p.key));
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
    fn every_problem_has_a_text_and_the_detail_names_field_and_uri() {
        for key in KEYS {
            assert_ne!(text(key), "the URI is not acceptable", "{key}");
        }
        let shown = refused(REDIRECT_URIS, KEY_USERINFO, "http://a@b/").detail;
        assert_eq!(shown, format!("redirect_uris: `http://a@b/`: {}", text(KEY_USERINFO)));
        let long = refused(REDIRECT_URIS, KEY_NOT_A_URL, &"a".repeat(5000)).detail;
        assert!(long.len() < 400, "the detail quotes at most 200 characters of the URI");
    }
}
