//! Screening of XML that arrives from outside (XML 1.0; the SAML threat model of SAML
//! Security and Privacy Considerations §6), before any parser that could be hurt by it
//! sees it — samael's serde parser or libxml2 under xmlsec.
//!
//! A streaming pass with quick-xml (which never expands entities itself) refuses, in
//! bounded time and memory:
//! - documents over a size cap, or not UTF-8;
//! - any DTD (`<!DOCTYPE`), so no entity can be declared: XXE and billion laughs are
//!   refused before libxml2 could expand them;
//! - entity references other than the five predefined ones and character references;
//! - processing instructions and, in protocol messages, comments (comments inside
//!   identifiers are a known way to confuse signature checks, CVE-2017-11427);
//! - nesting deeper, or more elements or attributes, than any real message has;
//! - malformed documents (unclosed or mismatched tags, text or a second element after
//!   the root) and duplicate `ID` attributes (a signature-wrapping ingredient).
//!
//! It also names the root element by namespace and local name, so a message is parsed
//! only as what it really is (samael's parser looks at local names only).

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

/// What a document may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_depth: usize,
    pub max_elements: usize,
    pub max_attributes: usize,
    pub allow_comments: bool,
}

/// Protocol messages from the browser (AuthnRequest, LogoutRequest, LogoutResponse).
pub const MESSAGE_LIMITS: Limits =
    Limits { max_bytes: 64 * 1024, max_depth: 16, max_elements: 512, max_attributes: 24, allow_comments: false };

/// Service-provider metadata registered by an operator.
pub const METADATA_LIMITS: Limits =
    Limits { max_bytes: 1024 * 1024, max_depth: 24, max_elements: 20_000, max_attributes: 32, allow_comments: true };

/// Why a document was refused. The text is for logs and tests, never for clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlRefusal {
    #[error("document larger than {0} bytes")]
    TooLarge(usize),
    #[error("document is not UTF-8")]
    NotUtf8,
    #[error("document type declarations are not accepted")]
    Dtd,
    #[error("entity reference &{0}; is not accepted")]
    Entity(String),
    #[error("processing instructions are not accepted")]
    ProcessingInstruction,
    #[error("comments are not accepted")]
    Comment,
    #[error("nesting deeper than {0}")]
    TooDeep(usize),
    #[error("more than {0} elements")]
    TooManyElements(usize),
    #[error("an element has more than {0} attributes")]
    TooManyAttributes(usize),
    #[error("duplicate ID attribute")]
    DuplicateId,
    #[error("malformed XML: {0}")]
    Malformed(String),
}

/// The root element of a screened document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    pub namespace: Option<String>,
    pub local_name: String,
    /// Its `ID` attribute, if it has one.
    pub id: Option<String>,
}

impl Root {
    pub fn is(&self, namespace: &str, local_name: &str) -> bool {
        self.namespace.as_deref() == Some(namespace) && self.local_name == local_name
    }
}

/// What every reader of XML here checks: end tags match, comments are well-formed, no
/// stray `&`; empty elements and whitespace are reported as written.
pub(crate) fn strict(config: &mut quick_xml::reader::Config) {
    config.check_end_names = true;
    config.check_comments = true;
    config.allow_unmatched_ends = false;
    config.allow_dangling_amp = false;
    config.expand_empty_elements = false;
    config.trim_text(false);
}

/// Screens `bytes` under `limits`; on success the document is UTF-8 text safe to hand to
/// a parser, and its root is named.
pub fn screen<'a>(bytes: &'a [u8], limits: &Limits) -> Result<(&'a str, Root), XmlRefusal> {
    if bytes.len() > limits.max_bytes {
        return Err(XmlRefusal::TooLarge(limits.max_bytes));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| XmlRefusal::NotUtf8)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = NsReader::from_str(text);
    strict(reader.config_mut());

    let malformed = |e: &dyn std::fmt::Display| XmlRefusal::Malformed(e.to_string());
    let mut depth = 0usize;
    let mut elements = 0usize;
    let mut root: Option<Root> = None;
    let mut root_closed = false;
    let mut ids = std::collections::HashSet::new();
    let mut seen_decl = false;
    loop {
        let (resolved, event) = reader.read_resolved_event().map_err(|e| malformed(&e))?;
        match event {
            Event::Decl(decl) => {
                if seen_decl || elements > 0 {
                    return Err(XmlRefusal::Malformed("misplaced XML declaration".into()));
                }
                seen_decl = true;
                if let Some(Ok(encoding)) = decl.encoding()
                    && !encoding.eq_ignore_ascii_case(b"utf-8")
                {
                    return Err(XmlRefusal::NotUtf8);
                }
            }
            Event::DocType(_) => return Err(XmlRefusal::Dtd),
            Event::PI(_) => return Err(XmlRefusal::ProcessingInstruction),
            Event::Comment(_) if !limits.allow_comments => return Err(XmlRefusal::Comment),
            Event::Comment(_) => {}
            Event::GeneralRef(r) => {
                if depth == 0 {
                    return Err(XmlRefusal::Malformed("reference outside the root element".into()));
                }
                check_reference(&r)?;
            }
            Event::Start(ref start) | Event::Empty(ref start) => {
                if root_closed {
                    return Err(XmlRefusal::Malformed("content after the root element".into()));
                }
                elements += 1;
                if elements > limits.max_elements {
                    return Err(XmlRefusal::TooManyElements(limits.max_elements));
                }
                let mut id = None;
                let mut count = 0usize;
                for attr in start.attributes() {
                    let attr = attr.map_err(|e| malformed(&e))?;
                    count += 1;
                    if count > limits.max_attributes {
                        return Err(XmlRefusal::TooManyAttributes(limits.max_attributes));
                    }
                    // Unescaping refuses undeclared entities in attribute values.
                    let value = attr.normalized_value(quick_xml::XmlVersion::Implicit1_0).map_err(|e| match e {
                        quick_xml::Error::Escape(quick_xml::escape::EscapeError::UnrecognizedEntity(_, name)) => XmlRefusal::Entity(name),
                        other => malformed(&other),
                    })?;
                    if attr.key.as_ref() == b"ID" {
                        // xs:ID: an NCName. Whatever else would reach the answer's
                        // `InResponseTo` as the SP wrote it (a CR, a quote, a space).
                        if !is_nc_name(&value) {
                            return Err(XmlRefusal::Malformed("an ID attribute that is not an NCName".into()));
                        }
                        if !ids.insert(value.to_string()) {
                            return Err(XmlRefusal::DuplicateId);
                        }
                        id = Some(value.into_owned());
                    }
                }
                if root.is_none() {
                    let namespace = match resolved {
                        ResolveResult::Bound(ns) => Some(String::from_utf8_lossy(ns.as_ref()).into_owned()),
                        ResolveResult::Unbound => None,
                        ResolveResult::Unknown(prefix) => {
                            return Err(XmlRefusal::Malformed(format!("undeclared namespace prefix {}", String::from_utf8_lossy(&prefix))));
                        }
                    };
                    let local_name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                    root = Some(Root { namespace, local_name, id });
                }
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                    if depth > limits.max_depth {
                        return Err(XmlRefusal::TooDeep(limits.max_depth));
                    }
                } else if depth == 0 {
                    root_closed = true;
                }
            }
            Event::End(_) => {
                depth = depth.checked_sub(1).ok_or_else(|| XmlRefusal::Malformed("unmatched end tag".into()))?;
                if depth == 0 {
                    root_closed = true;
                }
            }
            Event::Text(t) => {
                if depth == 0 && !t.iter().all(|b| b.is_ascii_whitespace()) {
                    return Err(XmlRefusal::Malformed("text outside the root element".into()));
                }
            }
            Event::CData(_) => {
                if depth == 0 {
                    return Err(XmlRefusal::Malformed("CDATA outside the root element".into()));
                }
            }
            Event::Eof => break,
        }
    }
    match root {
        Some(root) if depth == 0 && root_closed => Ok((text, root)),
        Some(_) => Err(XmlRefusal::Malformed("unclosed element".into())),
        None => Err(XmlRefusal::Malformed("no root element".into())),
    }
}

/// Only `&lt; &gt; &amp; &apos; &quot;` and character references (of characters XML allows).
fn check_reference(r: &quick_xml::events::BytesRef<'_>) -> Result<(), XmlRefusal> {
    let name = String::from_utf8_lossy(r.as_ref()).into_owned();
    if r.is_char_ref() {
        return match r.resolve_char_ref() {
            Ok(Some(c)) if c != '\0' => Ok(()),
            _ => Err(XmlRefusal::Malformed(format!("bad character reference &{name};"))),
        };
    }
    match name.as_str() {
        "lt" | "gt" | "amp" | "apos" | "quot" => Ok(()),
        _ => Err(XmlRefusal::Entity(name)),
    }
}

/// Escapes text for element content or attribute values (`& < > " '`, and CR as
/// `&#13;`): a raw CR reaches every parser as LF (XML 1.0 §2.11), so a value holding one
/// would not read back as written; as a reference it does.
pub fn escape(text: &str) -> String {
    let escaped = quick_xml::escape::escape(text);
    if escaped.contains('\r') { escaped.replace('\r', "&#13;") } else { escaped.into_owned() }
}

/// An NCName (Namespaces in XML §3): what an `xs:ID` such as a SAML message's `ID` must
/// be, and each part of a qualified name.
pub fn is_nc_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(name_start)
        && chars.all(|c| name_start(c) || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}'))
}

/// XML 1.0 §2.3 NameStartChar, without `:` (namespaces give it its own meaning).
fn name_start(c: char) -> bool {
    matches!(c,
        'A'..='Z' | '_' | 'a'..='z' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}'
        | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}'
        | '\u{10000}'..='\u{EFFFF}')
}

/// The document without its XML declaration (to embed it in another).
pub fn without_declaration(xml: &str) -> &str {
    let trimmed = xml.trim_start_matches('\u{feff}').trim_start();
    match trimmed.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map_or(trimmed, |(_, after)| after.trim_start()),
        None => trimmed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQ: &str = r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1" Version="2.0" IssueInstant="2026-04-01T09:00:00Z"><saml:Issuer>https://sp.example/&amp;x&#x41;</saml:Issuer></samlp:AuthnRequest>"#;

    /// SAML's IDs are `xs:ID`, NCNames: what real SPs send passes, and an ID that would
    /// carry a CR, a quote, a space or markup into the answer's `InResponseTo` does not.
    #[test]
    fn ids_are_nc_names() {
        for id in [
            "_a1",
            "ONELOGIN_4fee3b046395c4e751011e97f8900b5273d56685",
            "id-5f1c1a2e8b0d4",
            "_8e8dc5f69a98cc4c1ff3427e5ce34606fd672f91e6",
            "idé.1",
        ] {
            let request = REQ.replace("ID=\"_a1\"", &format!("ID=\"{id}\""));
            assert_eq!(screen(request.as_bytes(), &MESSAGE_LIMITS).expect(id).1.id.as_deref(), Some(id));
        }
        for id in
            ["", "1abc", "-a", "_a&#13;1", "_a&#10;1", "_a&#9;1", "_a 1", " _a1", "_a1 ", "a:b", "_a&quot;1", "_a&lt;1", "_a&amp;1", "_a/1"]
        {
            let request = REQ.replace("ID=\"_a1\"", &format!("ID=\"{id}\""));
            assert!(matches!(screen(request.as_bytes(), &MESSAGE_LIMITS), Err(XmlRefusal::Malformed(_))), "{id:?} passed");
        }
    }

    #[test]
    fn escaping_keeps_a_carriage_return() {
        assert_eq!(escape("a\r\nb\rc<&>\"'"), "a&#13;\nb&#13;c&lt;&amp;&gt;&quot;&apos;");
        assert_eq!(escape("plain"), "plain");
    }

    #[test]
    fn a_plain_request_passes_and_its_root_is_named() {
        let (_, root) = screen(REQ.as_bytes(), &MESSAGE_LIMITS).expect("passes");
        assert!(root.is(crate::ns::PROTOCOL, "AuthnRequest"));
        assert_eq!(root.id.as_deref(), Some("_a1"));
        let with_decl = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{REQ}\n");
        assert!(screen(with_decl.as_bytes(), &MESSAGE_LIMITS).is_ok());
    }

    #[test]
    fn dtds_and_entities_are_refused() {
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#;
        assert_eq!(screen(xxe.as_bytes(), &MESSAGE_LIMITS), Err(XmlRefusal::Dtd));
        let laughs = r#"<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>"#;
        assert_eq!(screen(laughs.as_bytes(), &MESSAGE_LIMITS), Err(XmlRefusal::Dtd));
        // An entity used without a DTD, in text or in an attribute.
        assert_eq!(screen(b"<r>&x;</r>", &MESSAGE_LIMITS), Err(XmlRefusal::Entity("x".into())));
        assert_eq!(screen(b"<r a=\"&x;\"/>", &MESSAGE_LIMITS), Err(XmlRefusal::Entity("x".into())));
        assert!(matches!(screen(b"<r>&#0;</r>", &MESSAGE_LIMITS), Err(XmlRefusal::Malformed(_))));
    }

    #[test]
    fn hostile_shapes_are_refused() {
        assert_eq!(screen(b"<?pi x?><r/>", &MESSAGE_LIMITS), Err(XmlRefusal::ProcessingInstruction));
        assert_eq!(screen(b"<r><!-- c --></r>", &MESSAGE_LIMITS), Err(XmlRefusal::Comment));
        assert!(screen(b"<r><!-- c --></r>", &METADATA_LIMITS).is_ok());
        let deep = format!("{}{}", "<a>".repeat(17), "</a>".repeat(17));
        assert_eq!(screen(deep.as_bytes(), &MESSAGE_LIMITS), Err(XmlRefusal::TooDeep(16)));
        let wide = format!("<r>{}</r>", "<a/>".repeat(600));
        assert_eq!(screen(wide.as_bytes(), &MESSAGE_LIMITS), Err(XmlRefusal::TooManyElements(512)));
        let big = vec![b' '; 70 * 1024];
        assert_eq!(screen(&big, &MESSAGE_LIMITS), Err(XmlRefusal::TooLarge(64 * 1024)));
        assert_eq!(screen(b"<r ID=\"a\"><s ID=\"a\"/></r>", &MESSAGE_LIMITS), Err(XmlRefusal::DuplicateId));
        assert_eq!(screen(&[0xff, 0xfe], &MESSAGE_LIMITS), Err(XmlRefusal::NotUtf8));
        assert_eq!(screen(b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><r/>", &MESSAGE_LIMITS), Err(XmlRefusal::NotUtf8));
        for bad in [&b"<r>"[..], b"<r></s>", b"<r/><r/>", b"<r/>text", b"", b"</r>", b"<p:r/>"] {
            assert!(matches!(screen(bad, &MESSAGE_LIMITS), Err(XmlRefusal::Malformed(_))), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn declarations_are_stripped_for_embedding() {
        assert_eq!(without_declaration("<?xml version=\"1.0\"?>\n<a/>"), "<a/>");
        assert_eq!(without_declaration("<a/>"), "<a/>");
        assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
    }
}
