//! Percent-encoding in one place, over the `percent-encoding` and `form_urlencoded`
//! crates: every URL or form Mamori builds or reads goes through these functions.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything but RFC 3986's unreserved characters: safe as a path segment, a query
/// value or a form value.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
/// As [`COMPONENT`], keeping `/` (legal in a query, and a local path stays readable).
const PATH: &AsciiSet = &COMPONENT.remove(b'/');

/// Encodes a path segment, query value or form value (a `/` too).
pub fn component(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
}

/// Encodes a local path carried as a query value (`return_to=/account`), keeping `/`.
pub fn path(s: &str) -> String {
    utf8_percent_encode(s, PATH).to_string()
}

/// `application/x-www-form-urlencoded` pairs (also query strings), decoded: `+` is a
/// space, bytes that are not UTF-8 become U+FFFD.
pub fn form_pairs(text: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(text.as_bytes()).into_owned().collect()
}

/// One form-encoded value on its own (a Basic credential, RFC 6749 §2.3.1), decoded as
/// [`form_pairs`] decodes values: `+` is a space, bytes that are not UTF-8 become U+FFFD.
/// `&` and `=` are part of the value here, not separators.
pub fn form_value(value: &str) -> String {
    if !value.contains(['+', '%']) {
        return value.to_owned();
    }
    let spaced = value.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

/// Whether every name and value of a query string or form decodes to UTF-8. Where the
/// exact text matters (a SCIM filter), a query that fails this is refused rather than
/// read with U+FFFD in place of its bytes, which would answer another question.
pub fn form_is_utf8(text: &str) -> bool {
    text.split(['&', '=']).all(|piece| percent_encoding::percent_decode_str(piece).decode_utf8().is_ok())
}

/// `name=value&…` with each value encoded as a [`component`].
pub fn form<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    pairs.into_iter().map(|(k, v)| format!("{k}={}", component(v))).collect::<Vec<_>>().join("&")
}

/// `uri` with `params` appended to its query (keeping any query it has, dropping a fragment).
pub fn with_query(uri: &str, params: &[(&str, String)]) -> String {
    let base = uri.split_once('#').map_or(uri, |(base, _)| base);
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{}", form(params.iter().map(|(k, v)| (*k, v.as_str()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_all_but_unreserved_and_decodes_forms() {
        assert_eq!(component("a b/c?d=e&f~g_h.i-j"), "a%20b%2Fc%3Fd%3De%26f~g_h.i-j");
        assert_eq!(component("あ"), "%E3%81%82");
        assert_eq!(path("/account/history?page=2"), "/account/history%3Fpage%3D2");
        assert_eq!((path("/account"), component("p-01-usr012")), ("/account".into(), "p-01-usr012".into()));
        assert_eq!(
            form_pairs("a=1&b=x%20y+z&&c=&d=%E3%81%82&e"),
            [
                ("a".into(), "1".into()),
                ("b".into(), "x y z".into()),
                ("c".into(), String::new()),
                ("d".into(), "あ".into()),
                ("e".into(), String::new())
            ]
        );
        // Hostile: a broken escape stays as it is, bytes that are not UTF-8 do not panic.
        assert_eq!(form_pairs("a=%zz%4&b=%FF"), [("a".into(), "%zz%4".into()), ("b".into(), "\u{FFFD}".into())]);
        assert!(form_is_utf8("filter=userName%20eq%20%22%E3%81%82%22&count=2&x") && form_is_utf8("a=%zz&b="));
        assert!(!form_is_utf8("filter=userName%20eq%20%22%FF%22") && !form_is_utf8("%C3=1"), "lone or cut UTF-8 bytes");
        assert_eq!(with_query("https://rp/cb", &[("code", "a b".into())]), "https://rp/cb?code=a%20b");
        assert_eq!(with_query("https://rp/cb?x=1#frag", &[("state", "s&t".into())]), "https://rp/cb?x=1&state=s%26t");
    }
}
