//! Where a service provider's messages may go (SAML Metadata §2.2.2, EndpointType
//! `Location` and `ResponseLocation`): the one rule for AssertionConsumerService and
//! SingleLogoutService locations, applied wherever a registration comes in (admin API,
//! CLI, SP metadata import) and again to stored registrations before anything is sent.
//!
//! A location is parsed as a browser parses it (WHATWG URL, the `url` crate), never
//! prefix-matched: `http://localhost.evil.example/acs` is another host, and
//! `http://localhost:80@evil.example/acs` is `evil.example` with a user name.

use std::net::IpAddr;

use url::{Host, Url};

/// Why a location is not one Mamori sends assertions or logout messages to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EndpointUrlError {
    #[error("not an absolute URL")]
    NotUrl,
    #[error("contains whitespace, control characters or a backslash")]
    Characters,
    #[error("neither https nor http")]
    Scheme,
    #[error("http is allowed only to localhost or a loopback IP address")]
    PlainHttp,
    #[error("carries a user name or password")]
    UserInfo,
    #[error("carries a fragment")]
    Fragment,
}

/// Checks an SP endpoint location: https, or http only when the host is exactly
/// `localhost` or a loopback IP literal (127.0.0.0/8, `[::1]`); no userinfo, no fragment.
pub fn check_endpoint_url(location: &str) -> Result<Url, EndpointUrlError> {
    // A parser strips tabs and newlines and turns `\` into `/`; the stored text must be
    // the text that was checked, so such characters are refused instead.
    if location.chars().any(|c| c.is_whitespace() || c.is_control() || c == '\\') {
        return Err(EndpointUrlError::Characters);
    }
    let url = Url::parse(location).map_err(|_| EndpointUrlError::NotUrl)?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(EndpointUrlError::UserInfo);
    }
    if url.fragment().is_some() {
        return Err(EndpointUrlError::Fragment);
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if url.host().is_some_and(|h| is_loopback(&h)) => Ok(url),
        "http" => Err(EndpointUrlError::PlainHttp),
        _ => Err(EndpointUrlError::Scheme),
    }
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        // The url crate lower-cases domains; `localhost.` or `localhost.example` differ.
        Host::Domain(name) => *name == "localhost",
        Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_and_loopback_http_are_accepted() {
        for ok in [
            "https://sp.example/acs",
            "https://sp.example:8443/saml/acs?x=1",
            "http://localhost/acs",
            "http://localhost:8080/acs",
            "http://LOCALHOST:8080/acs",
            "http://127.0.0.1/acs",
            "http://127.10.20.30:9/acs",
            "http://[::1]:8080/acs",
        ] {
            assert!(check_endpoint_url(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn lookalike_hosts_userinfo_and_fragments_are_refused() {
        use EndpointUrlError::*;
        for (bad, why) in [
            ("http://localhost.evil.example/acs", PlainHttp),
            ("http://localhost:80@evil.example/acs", UserInfo),
            ("http://127.0.0.1@evil.example/acs", UserInfo),
            ("http://[::1]@evil.example/acs", UserInfo),
            ("https://user:pw@sp.example/acs", UserInfo),
            ("https://sp.example@evil.example/acs", UserInfo),
            ("http://127.0.0.1.evil.example/acs", PlainHttp),
            ("http://localhost./acs", PlainHttp),
            ("http://evil.example/acs", PlainHttp),
            ("http://[::ffff:127.0.0.1]/acs", PlainHttp),
            ("http://10.0.0.1/acs", PlainHttp),
            ("https://sp.example/acs#frag", Fragment),
            ("https://sp.example/acs#", Fragment),
            ("http://localhost/acs#x", Fragment),
            ("http://localhost\\@evil.example/acs", Characters),
            ("https://sp.example/a cs", Characters),
            ("https://sp.example/acs\n", Characters),
            ("javascript:alert(1)", Scheme),
            ("ftp://sp.example/acs", Scheme),
            ("/acs", NotUrl),
            ("", NotUrl),
            ("https://", NotUrl),
        ] {
            assert_eq!(check_endpoint_url(bad).err(), Some(why), "{bad}");
        }
    }
}
