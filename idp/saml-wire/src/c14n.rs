//! Exclusive XML Canonicalization 1.0 without comments (W3C Recommendation, 18 July 2002;
//! the transform SAML signatures use, SAML Core §5.4.3), for the documents the IdP signs
//! itself: the digest of the signed element and the `SignedInfo` whose canonical form is
//! signed. libxmlsec1 still checks every incoming signature (`verify`); canonicalising
//! here lets the IdP sign with the RSA key it keeps loaded instead of handing xmlsec the
//! key to parse on every signature.
//!
//! The document is read as a conforming parser reads it (XML 1.0 §2.11 line ends, §3.3.3
//! attribute-value normalisation, the five predefined entities and character references)
//! and written as the recommendation says: a namespace declaration only where the element
//! or one of its attributes visibly uses the prefix and the nearest rendered ancestor does
//! not already declare it so; declarations sorted by prefix, attributes by namespace URI
//! then local name; empty elements as start-end pairs; comments left out. What the IdP
//! never writes (a DTD, processing instructions, other entities) is refused, not guessed.

use std::ops::Range;

use crate::xml::is_nc_name;
use quick_xml::Reader;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::name::PrefixDeclaration;

const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// Why a document could not be canonicalised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum C14nError {
    #[error("malformed XML: {0}")]
    Malformed(String),
    #[error("not canonicalised: {0}")]
    Unsupported(&'static str),
}

fn malformed(e: impl std::fmt::Display) -> C14nError {
    C14nError::Malformed(e.to_string())
}

/// One element of a document, located by byte offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// Its namespace URI, empty when it has none.
    pub namespace: String,
    pub local_name: String,
    /// Its name as written, prefix included.
    pub qname: String,
    /// From the `<` of its start tag to just past its end tag.
    pub span: Range<usize>,
    /// 1 for the root, 2 for its children, and so on.
    pub depth: usize,
    /// Its attributes other than namespace declarations: qualified name, normalised value.
    pub attributes: Vec<(String, String)>,
}

impl Element {
    pub fn is(&self, namespace: &str, local_name: &str) -> bool {
        self.namespace == namespace && self.local_name == local_name
    }

    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Every element of `doc`, in document order.
pub fn elements(doc: &str) -> Result<Vec<Element>, C14nError> {
    let mut list: Vec<Element> = Vec::new();
    let mut open = Vec::new();
    walk(doc, |node| {
        match node {
            Node::Start { tag, at, end, empty } => {
                let attributes = tag.attributes.iter().map(|a| (a.qname.clone(), a.value.clone())).collect();
                list.push(Element {
                    namespace: tag.namespace.clone(),
                    local_name: tag.local.clone(),
                    qname: tag.qname.clone(),
                    span: at..end,
                    depth: open.len() + 1,
                    attributes,
                });
                if !empty {
                    open.push(list.len() - 1);
                }
            }
            Node::End { end, .. } => {
                let index = open.pop().ok_or_else(|| malformed("unmatched end tag"))?;
                list[index].span.end = end;
            }
            Node::Text(_) => {}
        }
        Ok(true)
    })?;
    Ok(list)
}

/// The exclusive canonical form of the element whose start tag begins at byte `apex` of
/// `doc`, with its content, leaving out the element whose start tag begins at byte `omit`
/// (the enveloped-signature transform, XML Signature 1.1 §6.6.4).
pub fn exclusive(doc: &str, apex: usize, omit: Option<usize>) -> Result<String, C14nError> {
    let mut out = String::with_capacity(doc.len());
    // Depth inside the apex (0: not in it) and inside the omitted element.
    let (mut inside, mut omitted) = (0usize, 0usize);
    // The declarations the output has made so far: prefix, URI, depth of the element.
    let mut rendered: Vec<(String, String, usize)> = Vec::new();
    let mut finished = false;
    walk(doc, |node| {
        match node {
            Node::Start { tag, at, empty, .. } => {
                if omitted > 0 || (inside > 0 && Some(at) == omit) {
                    omitted += usize::from(!empty);
                    return Ok(true);
                }
                if inside == 0 && at != apex {
                    return Ok(true);
                }
                inside += 1;
                render_start(&mut out, tag, inside, &mut rendered);
                if empty {
                    render_end(&mut out, &tag.qname);
                    rendered.retain(|r| r.2 < inside);
                    inside -= 1;
                }
            }
            Node::End { qname, .. } => {
                if omitted > 0 {
                    omitted -= 1;
                    return Ok(true);
                }
                if inside == 0 {
                    return Ok(true);
                }
                render_end(&mut out, qname);
                rendered.retain(|r| r.2 < inside);
                inside -= 1;
            }
            Node::Text(text) => {
                if inside > 0 && omitted == 0 {
                    escape_text(&mut out, text);
                }
            }
        }
        if inside == 0 && !out.is_empty() {
            finished = true;
            return Ok(false);
        }
        Ok(true)
    })?;
    if !finished {
        return Err(malformed("no element starts at the given offset"));
    }
    Ok(out)
}

/// An attribute as a parser reports it.
struct Attribute {
    qname: String,
    prefix: String,
    local: String,
    namespace: String,
    value: String,
}

/// A start tag with its names resolved.
struct Tag {
    qname: String,
    prefix: String,
    local: String,
    namespace: String,
    attributes: Vec<Attribute>,
}

enum Node<'t> {
    Start { tag: &'t Tag, at: usize, end: usize, empty: bool },
    End { qname: &'t str, end: usize },
    Text(&'t str),
}

/// The namespace bindings in scope: prefix, URI, depth of the declaring element.
#[derive(Default)]
struct Scopes(Vec<(String, String, usize)>);

impl Scopes {
    fn lookup(&self, prefix: &str) -> Option<&str> {
        if prefix == "xml" {
            return Some(XML_NS);
        }
        match self.0.iter().rev().find(|(p, _, _)| p == prefix) {
            Some((_, uri, _)) => Some(uri),
            None if prefix.is_empty() => Some(""),
            None => None,
        }
    }

    fn leave(&mut self, depth: usize) {
        self.0.retain(|(_, _, d)| *d < depth);
    }
}

fn split(qname: &str) -> (&str, &str) {
    qname.split_once(':').unwrap_or(("", qname))
}

/// A qualified name as Namespaces in XML §4 has it: an NCName, or two joined by one `:`.
/// quick-xml takes whatever stands before whitespace or `>` as a name (`<a/ b="1"/>`
/// names `a/`), which written back would not read again.
fn qualified(name: &str) -> Result<(), C14nError> {
    let (prefix, local) = split(name);
    if is_nc_name(local) && (prefix.is_empty() && !name.starts_with(':') || is_nc_name(prefix)) {
        Ok(())
    } else {
        Err(malformed(format_args!("{name:?} is not a qualified name")))
    }
}

fn utf8(bytes: &[u8]) -> Result<&str, C14nError> {
    std::str::from_utf8(bytes).map_err(malformed)
}

fn position(reader: &Reader<&[u8]>) -> Result<usize, C14nError> {
    usize::try_from(reader.buffer_position()).map_err(malformed)
}

/// Reads `doc` event by event, resolving names, until `visit` says stop.
fn walk(doc: &str, mut visit: impl FnMut(Node<'_>) -> Result<bool, C14nError>) -> Result<(), C14nError> {
    let mut reader = Reader::from_str(doc);
    crate::xml::strict(reader.config_mut());
    let mut scopes = Scopes::default();
    let mut depth = 0usize;
    loop {
        let at = position(&reader)?;
        let event = reader.read_event().map_err(malformed)?;
        let end = position(&reader)?;
        let go_on = match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                let empty = matches!(event, Event::Empty(_));
                depth += 1;
                let tag = read_tag(start, depth, &mut scopes)?;
                let go_on = visit(Node::Start { tag: &tag, at, end, empty })?;
                if empty {
                    scopes.leave(depth);
                    depth -= 1;
                }
                go_on
            }
            Event::End(ref e) => {
                let go_on = visit(Node::End { qname: utf8(e.name().as_ref())?, end })?;
                scopes.leave(depth);
                depth = depth.checked_sub(1).ok_or_else(|| malformed("unmatched end tag"))?;
                go_on
            }
            Event::Text(ref t) => visit(Node::Text(&t.xml10_content().map_err(malformed)?))?,
            Event::CData(ref c) => visit(Node::Text(&c.xml10_content().map_err(malformed)?))?,
            Event::GeneralRef(ref r) => {
                let mut buf = [0u8; 4];
                visit(Node::Text(reference(r)?.encode_utf8(&mut buf)))?
            }
            Event::Comment(_) | Event::Decl(_) => true,
            Event::PI(_) => return Err(C14nError::Unsupported("processing instructions")),
            Event::DocType(_) => return Err(C14nError::Unsupported("document type declarations")),
            Event::Eof => return if depth == 0 { Ok(()) } else { Err(malformed("unclosed element")) },
        };
        if !go_on {
            return Ok(());
        }
    }
}

/// The character an entity or character reference in text stands for.
fn reference(r: &BytesRef<'_>) -> Result<char, C14nError> {
    if let Some(c) = r.resolve_char_ref().map_err(malformed)? {
        return Ok(c);
    }
    match r.decode().map_err(malformed)?.as_ref() {
        "amp" => Ok('&'),
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        _ => Err(C14nError::Unsupported("entity references other than the predefined ones")),
    }
}

/// Resolves a start tag's names after putting its own declarations in scope.
fn read_tag(start: &BytesStart<'_>, depth: usize, scopes: &mut Scopes) -> Result<Tag, C14nError> {
    let mut raw = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(malformed)?;
        let value = attr.normalized_value(quick_xml::XmlVersion::Implicit1_0).map_err(malformed)?.into_owned();
        match attr.key.as_namespace_binding() {
            Some(PrefixDeclaration::Default) => scopes.0.push((String::new(), value, depth)),
            Some(PrefixDeclaration::Named(prefix)) => {
                let prefix = utf8(prefix)?;
                if prefix == "xml" || prefix == "xmlns" {
                    // `xml` is bound by definition and never rendered; `xmlns` cannot be declared.
                    if prefix == "xmlns" || value != XML_NS {
                        return Err(malformed(format_args!("a declaration of the reserved prefix {prefix}")));
                    }
                    continue;
                }
                if value.is_empty() {
                    return Err(malformed(format_args!("the prefix {prefix} bound to no namespace")));
                }
                scopes.0.push((prefix.to_owned(), value, depth));
            }
            None => raw.push((utf8(attr.key.as_ref())?.to_owned(), value)),
        }
    }
    let qname = utf8(start.name().as_ref())?.to_owned();
    qualified(&qname)?;
    let (prefix, local) = split(&qname);
    let namespace = scopes.lookup(prefix).ok_or_else(|| malformed(format_args!("undeclared prefix {prefix}")))?.to_owned();
    let mut attributes = Vec::with_capacity(raw.len());
    for (name, value) in raw {
        qualified(&name)?;
        let (prefix, local) = split(&name);
        // Unprefixed attributes are in no namespace (Namespaces in XML §6.2).
        let namespace = if prefix.is_empty() {
            String::new()
        } else {
            scopes.lookup(prefix).ok_or_else(|| malformed(format_args!("undeclared prefix {prefix}")))?.to_owned()
        };
        attributes.push(Attribute { prefix: prefix.to_owned(), local: local.to_owned(), namespace, value, qname: name });
    }
    Ok(Tag { prefix: prefix.to_owned(), local: local.to_owned(), namespace, attributes, qname })
}

/// `<name` with the declarations exclusive c14n renders here, the sorted attributes, `>`.
fn render_start(out: &mut String, tag: &Tag, depth: usize, rendered: &mut Vec<(String, String, usize)>) {
    // Visibly utilised: the element's own prefix (the default namespace when it has
    // none) and its attributes' prefixes.
    let mut used: Vec<(&str, &str)> = vec![(&tag.prefix, &tag.namespace)];
    used.extend(
        tag.attributes.iter().filter(|a| !a.prefix.is_empty() && a.prefix != "xml").map(|a| (a.prefix.as_str(), a.namespace.as_str())),
    );
    used.sort_unstable();
    used.dedup();
    out.push('<');
    out.push_str(&tag.qname);
    for (prefix, uri) in used {
        if prefix == "xml" {
            continue;
        }
        // An empty default namespace needs declaring only to undo a rendered one.
        let current = rendered.iter().rev().find(|(p, _, _)| p == prefix).map_or("", |(_, u, _)| u.as_str());
        if current == uri {
            continue;
        }
        out.push_str(if prefix.is_empty() { " xmlns" } else { " xmlns:" });
        out.push_str(prefix);
        out.push_str("=\"");
        escape_attribute(out, uri);
        out.push('"');
        rendered.push((prefix.to_owned(), uri.to_owned(), depth));
    }
    let mut attributes: Vec<&Attribute> = tag.attributes.iter().collect();
    attributes.sort_unstable_by(|a, b| (a.namespace.as_str(), a.local.as_str()).cmp(&(b.namespace.as_str(), b.local.as_str())));
    for a in attributes {
        out.push(' ');
        out.push_str(&a.qname);
        out.push_str("=\"");
        escape_attribute(out, &a.value);
        out.push('"');
    }
    out.push('>');
}

fn render_end(out: &mut String, qname: &str) {
    out.push_str("</");
    out.push_str(qname);
    out.push('>');
}

/// Text nodes: `&`, `<`, `>` and carriage returns as references (c14n §2.3).
fn escape_text(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

/// Attribute values: `&`, `<`, `"` and the whitespace a parser would otherwise normalise
/// as references (c14n §2.3).
fn escape_attribute(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
#[path = "c14n_tests.rs"]
mod tests;
