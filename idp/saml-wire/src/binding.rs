//! SAML 2.0 Bindings: HTTP-Redirect (§3.4: DEFLATE, base64, query-string signatures) and
//! HTTP-POST (§3.5: base64 in a form): decoding what arrives, and the codecs both
//! directions share. Building outgoing messages (signed redirect URLs, the auto-POST
//! page) is the IdP's (`mamori::saml::binding`).
//!
//! Redirect-binding signatures are checked over the query parameters exactly as they
//! arrived (§3.4.4.1), never over re-encoded values: samael's `UrlVerifier` re-encodes
//! through the `url` crate, which breaks SPs whose encoding differs. SHA-1 signatures
//! are refused.

use std::io::Read as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::xml::MESSAGE_LIMITS;

/// The RSA-SHA256 signature algorithm URI (XML Signature, RFC 6931 §2.3.2).
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// Longest base64 text accepted for a message parameter (before decoding).
const MAX_ENCODED: usize = 256 * 1024;

/// Longest RelayState accepted (SAML Bindings §3.4.3 asks SPs for 80 bytes; real SPs
/// send return URLs).
pub const MAX_RELAY_STATE: usize = 1024;
/// The largest HTTP-POST body read: the encoded message, RelayState and field names.
pub const MAX_POST_BODY: usize = MAX_ENCODED + 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    Redirect,
    Post,
}

impl Binding {
    pub fn uri(self) -> &'static str {
        match self {
            Binding::Redirect => crate::ns::BINDING_REDIRECT,
            Binding::Post => crate::ns::BINDING_POST,
        }
    }

    pub fn from_uri(uri: &str) -> Option<Binding> {
        match uri {
            crate::ns::BINDING_REDIRECT => Some(Binding::Redirect),
            crate::ns::BINDING_POST => Some(Binding::Post),
            _ => None,
        }
    }
}

/// Which message parameter carried the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// `SAMLRequest`
    Request,
    /// `SAMLResponse`
    Response,
}

impl MessageKind {
    pub fn param(self) -> &'static str {
        match self {
            MessageKind::Request => "SAMLRequest",
            MessageKind::Response => "SAMLResponse",
        }
    }
}

/// A Redirect-binding signature: what was signed, how, and the signature.
#[derive(Debug, Clone)]
pub struct QuerySignature {
    pub signed_octets: Vec<u8>,
    pub sig_alg: String,
    pub signature: Vec<u8>,
}

/// A message as it arrived, decoded to XML text (not yet screened or parsed).
#[derive(Debug, Clone)]
pub struct Incoming {
    pub binding: Binding,
    pub kind: MessageKind,
    pub xml: Vec<u8>,
    pub relay_state: Option<String>,
    pub query_signature: Option<QuerySignature>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindingError {
    #[error("no SAMLRequest or SAMLResponse parameter")]
    Missing,
    #[error("parameter {0} appears more than once")]
    Repeated(String),
    #[error("both SAMLRequest and SAMLResponse were sent")]
    Both,
    #[error("the message is not valid base64")]
    Base64,
    #[error("the message is not valid DEFLATE data")]
    Inflate,
    #[error("the message is too large")]
    TooLarge,
    #[error("RelayState is too long")]
    RelayStateTooLong,
    #[error("RelayState is not UTF-8 text")]
    RelayStateNotText,
    #[error("Signature without SigAlg, or SigAlg without Signature")]
    IncompleteSignature,
}

/// `(raw name, raw value)` pairs of a query string or form body, each name at most once.
fn raw_pairs(text: &str) -> Result<Vec<(&str, &str)>, BindingError> {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for part in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        if pairs.iter().any(|(seen, _)| percent_decode(seen) == percent_decode(k)) {
            return Err(BindingError::Repeated(percent_decode(k)));
        }
        pairs.push((k, v));
    }
    Ok(pairs)
}

fn find<'a>(pairs: &[(&'a str, &'a str)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| percent_decode(k) == name).map(|(_, v)| *v)
}

fn message_param<'a>(pairs: &[(&'a str, &'a str)]) -> Result<(MessageKind, &'a str), BindingError> {
    match (find(pairs, "SAMLRequest"), find(pairs, "SAMLResponse")) {
        (Some(v), None) => Ok((MessageKind::Request, v)),
        (None, Some(v)) => Ok((MessageKind::Response, v)),
        (Some(_), Some(_)) => Err(BindingError::Both),
        (None, None) => Err(BindingError::Missing),
    }
}

/// The RelayState, decoded exactly: it goes back to the SP unchanged (SAML Bindings
/// §3.1.1), so bytes that are not UTF-8 are refused rather than replaced.
fn relay_state(pairs: &[(&str, &str)]) -> Result<Option<String>, BindingError> {
    let Some(raw) = find(pairs, "RelayState") else { return Ok(None) };
    let rs = String::from_utf8(percent_decode_bytes(raw)).map_err(|_| BindingError::RelayStateNotText)?;
    match rs {
        rs if rs.len() > MAX_RELAY_STATE => Err(BindingError::RelayStateTooLong),
        rs if rs.is_empty() => Ok(None),
        rs => Ok(Some(rs)),
    }
}

fn base64_decode(text: &str) -> Result<Vec<u8>, BindingError> {
    if text.len() > MAX_ENCODED {
        return Err(BindingError::TooLarge);
    }
    let clean: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(clean.as_bytes()).map_err(|_| BindingError::Base64)
}

/// Inflates raw DEFLATE data, refusing output beyond the message size cap (a small
/// input can inflate to gigabytes).
pub fn inflate(compressed: &[u8]) -> Result<Vec<u8>, BindingError> {
    let cap = MESSAGE_LIMITS.max_bytes;
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(compressed).take(cap as u64 + 1).read_to_end(&mut out).map_err(|_| BindingError::Inflate)?;
    if out.len() > cap {
        return Err(BindingError::TooLarge);
    }
    Ok(out)
}

pub fn deflate(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

/// A message from an HTTP-Redirect query string (SAML Bindings §3.4.4).
pub fn from_redirect_query(query: &str) -> Result<Incoming, BindingError> {
    let pairs = raw_pairs(query)?;
    let (kind, raw_message) = message_param(&pairs)?;
    let compressed = base64_decode(&percent_decode(raw_message))?;
    let xml = inflate(&compressed)?;
    let relay_state = relay_state(&pairs)?;
    let query_signature = match (find(&pairs, "SigAlg"), find(&pairs, "Signature")) {
        (None, None) => None,
        (Some(raw_alg), Some(raw_sig)) => {
            // §3.4.4.1: SAMLRequest|SAMLResponse, RelayState (if present), SigAlg — in
            // this order, as they appeared in the URL.
            let mut signed = format!("{}={raw_message}", kind.param());
            if let Some(raw_rs) = find(&pairs, "RelayState") {
                signed.push_str(&format!("&RelayState={raw_rs}"));
            }
            signed.push_str(&format!("&SigAlg={raw_alg}"));
            Some(QuerySignature {
                signed_octets: signed.into_bytes(),
                sig_alg: percent_decode(raw_alg),
                signature: base64_decode(&percent_decode(raw_sig))?,
            })
        }
        _ => return Err(BindingError::IncompleteSignature),
    };
    Ok(Incoming { binding: Binding::Redirect, kind, xml, relay_state, query_signature })
}

/// A message from an HTTP-POST form body (SAML Bindings §3.5.4).
pub fn from_post_form(body: &[u8]) -> Result<Incoming, BindingError> {
    if body.len() > MAX_POST_BODY {
        return Err(BindingError::TooLarge);
    }
    let text = std::str::from_utf8(body).map_err(|_| BindingError::Base64)?;
    let pairs = raw_pairs(text)?;
    let (kind, raw_message) = message_param(&pairs)?;
    let xml = base64_decode(&percent_decode(raw_message))?;
    if xml.len() > MESSAGE_LIMITS.max_bytes {
        return Err(BindingError::TooLarge);
    }
    Ok(Incoming { binding: Binding::Post, kind, xml, relay_state: relay_state(&pairs)?, query_signature: None })
}

/// Why a query signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuerySignatureError {
    #[error("unsupported or weak SigAlg {0}")]
    Algorithm(String),
    #[error("the signature does not verify with any of the service provider's certificates")]
    Invalid,
}

/// Checks a Redirect-binding signature against the service provider's certificates (DER).
pub fn verify_query_signature(sig: &QuerySignature, certificates: &[Vec<u8>]) -> Result<(), QuerySignatureError> {
    use aws_lc_rs::signature as s;
    let algorithm: &'static dyn s::VerificationAlgorithm = match sig.sig_alg.as_str() {
        RSA_SHA256 => &s::RSA_PKCS1_2048_8192_SHA256,
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384" => &s::RSA_PKCS1_2048_8192_SHA384,
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512" => &s::RSA_PKCS1_2048_8192_SHA512,
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256" => &s::ECDSA_P256_SHA256_FIXED,
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384" => &s::ECDSA_P384_SHA384_FIXED,
        other => return Err(QuerySignatureError::Algorithm(other.to_owned())),
    };
    for der in certificates {
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else { continue };
        let key = &cert.tbs_certificate.subject_pki.subject_public_key.data;
        if s::UnparsedPublicKey::new(algorithm, key.as_ref()).verify(&sig.signed_octets, &sig.signature).is_ok() {
            return Ok(());
        }
    }
    Err(QuerySignatureError::Invalid)
}

/// Percent-encodes a query or form value: everything but RFC 3986's unreserved characters.
pub fn form_encode(s: &str) -> String {
    const COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    percent_encoding::utf8_percent_encode(s, COMPONENT).to_string()
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space; a broken escape
/// stays as it is); bytes that are not UTF-8 become U+FFFD (see [`percent_decode_bytes`]
/// where they must not).
pub fn percent_decode(s: &str) -> String {
    String::from_utf8_lossy(&percent_decode_bytes(s)).into_owned()
}

/// The bytes `application/x-www-form-urlencoded` text stands for (`+` is a space).
pub fn percent_decode_bytes(s: &str) -> Vec<u8> {
    percent_encoding::percent_decode_str(&s.replace('+', " ")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_messages_round_trip_and_keep_the_raw_signed_octets() {
        let xml = "<samlp:AuthnRequest/>";
        let encoded = form_encode(&STANDARD.encode(deflate(xml.as_bytes())));
        let query = format!("SAMLRequest={encoded}&RelayState=a%20b&SigAlg=x%3Ay&Signature=AAAA");
        let incoming = from_redirect_query(&query).expect("decodes");
        assert_eq!(incoming.xml, xml.as_bytes());
        assert_eq!(incoming.kind, MessageKind::Request);
        assert_eq!(incoming.relay_state.as_deref(), Some("a b"));
        let sig = incoming.query_signature.expect("signed");
        assert_eq!(sig.signed_octets, format!("SAMLRequest={encoded}&RelayState=a%20b&SigAlg=x%3Ay").into_bytes());
        assert_eq!(sig.sig_alg, "x:y");
    }

    #[test]
    fn malformed_bindings_are_refused() {
        assert_eq!(from_redirect_query("RelayState=x").err(), Some(BindingError::Missing));
        assert_eq!(from_redirect_query("SAMLRequest=a&SAMLRequest=b").err(), Some(BindingError::Repeated("SAMLRequest".into())));
        assert_eq!(from_redirect_query("SAMLRequest=a&SAMLResponse=b").err(), Some(BindingError::Both));
        assert_eq!(from_redirect_query("SAMLRequest=%%%").err(), Some(BindingError::Base64));
        assert_eq!(from_redirect_query("SAMLRequest=AAAA").err(), Some(BindingError::Inflate));
        let ok = form_encode(&STANDARD.encode(deflate(b"<a/>")));
        assert_eq!(from_redirect_query(&format!("SAMLRequest={ok}&SigAlg=x")).err(), Some(BindingError::IncompleteSignature));
        let long = "x".repeat(2000);
        assert_eq!(from_redirect_query(&format!("SAMLRequest={ok}&RelayState={long}")).err(), Some(BindingError::RelayStateTooLong));
    }

    #[test]
    fn relay_state_is_echoed_exactly_or_refused() {
        let ok = form_encode(&STANDARD.encode(deflate(b"<a/>")));
        // Honest: UTF-8, escapes and `+` decode to exactly the text the SP sent.
        let query = format!("SAMLRequest={ok}&RelayState=%E6%97%A5%2B+x%2Fy");
        assert_eq!(from_redirect_query(&query).expect("decodes").relay_state.as_deref(), Some("日+ x/y"));
        let body = format!("SAMLRequest={}&RelayState=%E6%97%A5%2B+x", form_encode(&STANDARD.encode(b"<a/>")));
        assert_eq!(from_post_form(body.as_bytes()).expect("decodes").relay_state.as_deref(), Some("日+ x"));
        // Hostile: bytes that are not text would come back altered (U+FFFD): refused.
        for rs in ["%FF", "ok%C3", "%ED%A0%80"] {
            assert_eq!(
                from_redirect_query(&format!("SAMLRequest={ok}&RelayState={rs}")).err(),
                Some(BindingError::RelayStateNotText),
                "{rs}"
            );
            let body = format!("SAMLRequest={}&RelayState={rs}", form_encode(&STANDARD.encode(b"<a/>")));
            assert_eq!(from_post_form(body.as_bytes()).err(), Some(BindingError::RelayStateNotText), "{rs}");
        }
    }

    #[test]
    fn deflate_bombs_are_cut_off() {
        let bomb = deflate(&vec![b'a'; 10 * 1024 * 1024]);
        assert!(bomb.len() < 20 * 1024);
        assert_eq!(inflate(&bomb).err(), Some(BindingError::TooLarge));
    }

    #[test]
    fn post_forms_decode_with_line_breaks() {
        let b64 = STANDARD.encode(b"<samlp:Response/>");
        let (a, b) = b64.split_at(8);
        let body = format!("SAMLResponse={}%0D%0A{}&RelayState=rs", form_encode(a), form_encode(b));
        let incoming = from_post_form(body.as_bytes()).expect("decodes");
        assert_eq!(incoming.kind, MessageKind::Response);
        assert_eq!(incoming.xml, b"<samlp:Response/>");
        assert_eq!(incoming.relay_state.as_deref(), Some("rs"));
    }

    #[test]
    fn weak_query_signatures_are_refused() {
        let sig = QuerySignature {
            signed_octets: b"x".to_vec(),
            sig_alg: "http://www.w3.org/2000/09/xmldsig#rsa-sha1".into(),
            signature: vec![],
        };
        assert!(matches!(verify_query_signature(&sig, &[]), Err(QuerySignatureError::Algorithm(_))));
    }
}
