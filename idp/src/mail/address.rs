//! The one rule for an e-mail address: what an operator or a user may store on a device is
//! exactly what the mailer will send to and the certificate authority will put in a
//! certificate, so that an address accepted at creation never fails later (a download
//! mail silently not sent, a certificate reissue ending in an internal error).

use lettre::Address;

/// Longest address accepted (RFC 5321 path limit).
pub const MAX_LEN: usize = 254;

/// Why an address is refused; the text is safe to show to whoever typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an e-mail address Mamori can send mail to")]
pub struct BadAddress(pub String);

/// Parses a bare address `local@domain.tld` as the mailer uses it.
///
/// Beyond lettre's own [`Address`] parsing, it must be printable ASCII (the certificate's
/// rfc822Name cannot carry anything else), without quoted local parts, comments, address
/// literals or list separators (`"`, `(`, `)`, `<`, `>`, `[`, `]`, `,`, `;`, `\`), and
/// its domain must be a hostname of at least two labels ([`is_hostname`]; no mail for
/// `localhost`).
pub fn parse(text: &str) -> Result<Address, BadAddress> {
    let bad = || BadAddress(text.to_owned());
    if text.is_empty() || text.len() > MAX_LEN {
        return Err(bad());
    }
    if !text.bytes().all(|b| b.is_ascii_graphic() && !b"\"()<>[],;\\".contains(&b)) {
        return Err(bad());
    }
    let Some((local, domain)) = text.split_once('@') else {
        return Err(bad());
    };
    if local.is_empty() || !domain.contains('.') || !is_hostname(domain) {
        return Err(bad());
    }
    text.parse::<Address>().map_err(|_| bad())
}

/// A DNS hostname in ASCII (RFC 1123 "LDH" labels; an internationalised domain in its
/// `xn--` A-label form is one): labels of 1 to 63 letters, digits and hyphens, neither
/// starting nor ending with a hyphen, at most 253 characters, and a last label that is
/// not all digits (an IPv4 address is not a mail domain). Lettre's own parsing lets
/// through `_`, `%` and other characters that no DNS name for mail carries.
pub fn is_hostname(domain: &str) -> bool {
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') && !l.starts_with('-') && !l.ends_with('-')
    };
    domain.len() <= 253
        && domain.split('.').all(label_ok)
        && domain.rsplit('.').next().is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_addresses_parse() {
        for ok in [
            "taro.yamada@example.jp",
            "u+tag@acme.test",
            "a_b-c@sub.example.co.jp",
            "o'brien@example.ie",
            "a@xn--r8jz45g.jp",
            "a@mail-1.acme.test",
            "a@123.example.jp",
        ] {
            assert!(parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn what_the_mailer_or_the_ca_cannot_use_is_refused() {
        for bad in [
            "",
            "a\"b<c>@acme.test",
            "Taro <taro@example.jp>",
            "\"a b\"@example.jp",
            "a b@example.jp",
            "a@b@example.jp",
            "taro@localhost",
            "taro@.example.jp",
            "taro@example.jp.",
            "@example.jp",
            "taro",
            "taro@[127.0.0.1]",
            "a,b@example.jp",
            "a;b@example.jp",
            "a\\b@example.jp",
            "たろう@example.jp",
            "taro@例え.jp",
            "taro@example.jp\r\nBcc: x@evil.test",
            " taro@example.jp",
            "a..b@example.jp",
            // Domains that are not hostnames: what lettre lets through.
            "a@acme_x.test",
            "a@acme.test%0a",
            "a@acme.test%0d%0aBcc:x",
            "a@acme..test",
            "a@-acme.test",
            "a@acme-.test",
            "a@acme.te~st",
            "a@acme.test:25",
            "a@10.0.0.1",
            "a@acme.123",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(parse(&format!("{}@example.jp", "a".repeat(250))).is_err(), "over 254 characters");
        assert!(parse(&format!("a@{}.jp", "b".repeat(64))).is_err(), "a label over 63");
        assert!(parse(&format!("a@{}.jp", "b".repeat(63))).is_ok(), "a label of 63");
    }
}
