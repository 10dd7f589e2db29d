//! RFC 7644 §3.4.2.2 filters: a small recursive-descent parser for the whole grammar
//! (`and`/`or`/`not`, parentheses, `attr[valFilter]` value paths, `pr`), and an
//! evaluator over a user's SCIM representation. The filter comes from a stranger, so the
//! text, its nesting and its number of terms are bounded before any work is done on it,
//! and an attribute Mamori does not serve is an `invalidFilter`, never silently false.

use serde_json::Value;

/// The longest filter accepted, in bytes.
pub const MAX_FILTER_BYTES: usize = 2048;
/// The deepest nesting of parentheses, `not` and value paths.
pub const MAX_DEPTH: usize = 12;
/// The most comparisons in one filter.
pub const MAX_TERMS: usize = 32;

const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    fn parse(word: &str) -> Option<CompareOp> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            _ => return None,
        })
    }
}

/// An attribute path: `name`, `name.sub`, each with an optional schema URN before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttrPath {
    pub name: String,
    pub sub: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    Compare(AttrPath, CompareOp, Value),
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `emails[type eq "work"]`: some value of the multi-valued attribute matches.
    ValuePath(String, Box<Filter>),
}

/// Why a filter was refused; the handler answers 400 `invalidFilter` with the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterError(pub String);

fn err<T>(text: impl Into<String>) -> Result<T, FilterError> {
    Err(FilterError(text.into()))
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Literal(Value),
    Open,
    Close,
    OpenBracket,
    CloseBracket,
}

fn tokenize(text: &str) -> Result<Vec<Token>, FilterError> {
    let mut tokens = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' => (tokens.push(Token::Open), i += 1).1,
            b')' => (tokens.push(Token::Close), i += 1).1,
            b'[' => (tokens.push(Token::OpenBracket), i += 1).1,
            b']' => (tokens.push(Token::CloseBracket), i += 1).1,
            b'"' => {
                // A JSON string: find its closing quote, skipping escaped characters.
                let mut j = i + 1;
                while j < bytes.len() && bytes[j] != b'"' {
                    j += if bytes[j] == b'\\' { 2 } else { 1 };
                }
                if j >= bytes.len() {
                    return err("a string is not closed");
                }
                let literal: String =
                    serde_json::from_str(&text[i..=j]).map_err(|_| FilterError("a string is not valid JSON".to_owned()))?;
                tokens.push(Token::Literal(Value::String(literal)));
                i = j + 1;
            }
            _ if c.is_ascii_alphanumeric() || b"-_:.$+".contains(&c) => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || b"-_:.$+".contains(&bytes[i])) {
                    i += 1;
                }
                tokens.push(Token::Word(text[start..i].to_owned()));
            }
            _ => return err(format!("unexpected character at byte {i}")),
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    terms: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(keyword))
    }

    fn or(&mut self, depth: usize) -> Result<Filter, FilterError> {
        let mut left = self.and(depth)?;
        while self.peek_keyword("or") {
            self.at += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and(depth)?));
        }
        Ok(left)
    }

    fn and(&mut self, depth: usize) -> Result<Filter, FilterError> {
        let mut left = self.unary(depth)?;
        while self.peek_keyword("and") {
            self.at += 1;
            left = Filter::And(Box::new(left), Box::new(self.unary(depth)?));
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> Result<Filter, FilterError> {
        if depth > MAX_DEPTH {
            return err(format!("the filter is nested deeper than {MAX_DEPTH} levels"));
        }
        if self.peek_keyword("not") {
            self.at += 1;
            if self.next() != Some(Token::Open) {
                return err("`not` must be followed by a parenthesised filter");
            }
            let inner = self.or(depth + 1)?;
            return match self.next() {
                Some(Token::Close) => Ok(Filter::Not(Box::new(inner))),
                _ => err("a parenthesis is not closed"),
            };
        }
        match self.next() {
            Some(Token::Open) => {
                let inner = self.or(depth + 1)?;
                match self.next() {
                    Some(Token::Close) => Ok(inner),
                    _ => err("a parenthesis is not closed"),
                }
            }
            Some(Token::Word(word)) => self.attribute_expression(&word, depth),
            _ => err("expected an attribute name, `not` or `(`"),
        }
    }

    fn attribute_expression(&mut self, word: &str, depth: usize) -> Result<Filter, FilterError> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return err(format!("the filter has more than {MAX_TERMS} comparisons"));
        }
        if self.peek() == Some(&Token::OpenBracket) {
            self.at += 1;
            let path = parse_attr_path(word)?;
            if path.sub.is_some() {
                return err("a value filter `[...]` follows a plain attribute name");
            }
            let inner = self.or(depth + 1)?;
            if self.next() != Some(Token::CloseBracket) {
                return err("a `[` is not closed");
            }
            return Ok(Filter::ValuePath(path.name, Box::new(inner)));
        }
        let path = parse_attr_path(word)?;
        let op = match self.next() {
            Some(Token::Word(op)) if op.eq_ignore_ascii_case("pr") => return Ok(Filter::Present(path)),
            Some(Token::Word(op)) => {
                CompareOp::parse(&op).ok_or_else(|| FilterError(format!("`{}` is not a comparison operator", shorten(&op))))?
            }
            _ => return err("expected a comparison operator after the attribute"),
        };
        let value = match self.next() {
            Some(Token::Literal(v)) => v,
            Some(Token::Word(w)) => match w.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                number => match serde_json::from_str::<serde_json::Number>(number) {
                    Ok(n) => Value::Number(n),
                    Err(_) => return err(format!("`{}` is not a value: quote strings", shorten(number))),
                },
            },
            _ => return err("expected a value after the operator"),
        };
        Ok(Filter::Compare(path, op, value))
    }
}

/// A client's text quoted in an error detail: whole up to 120 characters (a schema
/// URN with its attribute fits), else cut with a mark that says so.
pub(super) fn shorten(text: &str) -> String {
    const SHOWN: usize = 120;
    if text.chars().count() <= SHOWN { text.to_owned() } else { format!("{}…", text.chars().take(SHOWN).collect::<String>()) }
}

/// The schema URNs a path may start with: a known one is matched whole, so that the
/// attribute is what follows the schema URN's last colon (`…:2.0:User:loginMethod`),
/// never a piece of the URN itself.
const KNOWN_SCHEMAS: [&str; 3] = [CORE_USER, super::mapping::MAMORI_USER, ENTERPRISE_USER];
pub(super) const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// The Mamori extension's attributes, which a path may also name without the URN
/// (RFC 7644 §3.10): no core attribute has these names, so the short form is unambiguous.
const MAMORI_ATTRIBUTES: [&str; 3] = ["loginMethod", "locked", "devices"];

/// `name`, `name.sub`, `urn:…:User:name.sub`. The core User schema's URN is dropped;
/// an extension's URN stays in `name` (that is how the representation keys it), and the
/// Mamori extension's attributes may be named without it.
pub fn parse_attr_path(word: &str) -> Result<AttrPath, FilterError> {
    let known = KNOWN_SCHEMAS.iter().find_map(|urn| {
        let head = word.get(..urn.len()).filter(|h| h.eq_ignore_ascii_case(urn))?;
        match &word[urn.len()..] {
            "" => Some((*urn, None)),
            rest => rest.strip_prefix(':').map(|attr| (*urn, Some((head, attr)))),
        }
    });
    let (urn, rest) = match known {
        // A schema as a whole: only the Mamori extension is an attribute of the resource.
        Some((urn, None)) if urn == super::mapping::MAMORI_USER => return Ok(AttrPath { name: urn.to_owned(), sub: None }),
        Some((urn, None)) => return err(format!("`{}` is a schema, not an attribute", shorten(urn))),
        Some((urn, Some((_, attr)))) => (Some(urn), attr),
        // An unknown schema: the attribute follows the last colon.
        None => match word.rfind(':') {
            Some(i) => (Some(&word[..i]), &word[i + 1..]),
            None => (None, word),
        },
    };
    let (name, sub) = match rest.split_once('.') {
        Some((name, sub)) => (name, Some(sub)),
        None => (rest, None),
    };
    let valid = |s: &str| {
        s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
    };
    if !valid(name) || sub.is_some_and(|s| !valid(s)) {
        return err(format!("`{}` is not an attribute path", shorten(word)));
    }
    match urn {
        None if sub.is_none() && MAMORI_ATTRIBUTES.iter().any(|a| a.eq_ignore_ascii_case(name)) => {
            Ok(AttrPath { name: super::mapping::MAMORI_USER.to_owned(), sub: Some(name.to_owned()) })
        }
        None => Ok(AttrPath { name: name.to_owned(), sub: sub.map(str::to_owned) }),
        Some(urn) if urn.eq_ignore_ascii_case(CORE_USER) => Ok(AttrPath { name: name.to_owned(), sub: sub.map(str::to_owned) }),
        // An extension attribute: the extension's URN is the top-level key.
        Some(urn) if sub.is_none() => Ok(AttrPath { name: urn.to_owned(), sub: Some(name.to_owned()) }),
        Some(_) => err(format!("`{}`: sub-attributes of extension attributes are not served", shorten(word))),
    }
}

/// Parses a filter, bounded by [`MAX_FILTER_BYTES`], [`MAX_DEPTH`] and [`MAX_TERMS`].
pub fn parse(text: &str) -> Result<Filter, FilterError> {
    if text.len() > MAX_FILTER_BYTES {
        return err(format!("the filter is longer than {MAX_FILTER_BYTES} bytes"));
    }
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return err("the filter is empty");
    }
    let mut parser = Parser { tokens, at: 0, terms: 0 };
    let filter = parser.or(0)?;
    if parser.at != parser.tokens.len() {
        return err("unexpected text after the filter");
    }
    Ok(filter)
}

/// The type of an attribute a filter may name (RFC 7643 §2.3), which decides the
/// comparisons it takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttrType {
    /// Compared ignoring case (`caseExact: false`).
    String,
    /// Compared as written (`id`, `externalId`: `caseExact: true`).
    ExactString,
    Boolean,
    /// An RFC 3339 instant, compared as a time, not as text.
    DateTime,
}

/// Fails on an attribute the representation does not have (`type_of` gives the type of
/// those it has) and on a comparison the attribute's type does not take (RFC 7644
/// §3.4.2.2): booleans only `eq`/`ne`; strings only against strings; times only against
/// a valid RFC 3339 instant, and not with `co`/`sw`/`ew`.
pub fn check_attributes(filter: &Filter, type_of: &dyn Fn(&AttrPath) -> Option<AttrType>) -> Result<(), FilterError> {
    match filter {
        Filter::Present(path) => type_of(path).map(|_| ()).ok_or_else(|| unknown(path)),
        Filter::Compare(path, op, value) => {
            let kind = type_of(path).ok_or_else(|| unknown(path))?;
            check_comparison(path, kind, *op, value)
        }
        Filter::And(a, b) | Filter::Or(a, b) => check_attributes(a, type_of).and_then(|()| check_attributes(b, type_of)),
        Filter::Not(inner) => check_attributes(inner, type_of),
        Filter::ValuePath(name, inner) => {
            let scoped = |p: &AttrPath| {
                if p.sub.is_some() {
                    return None;
                }
                type_of(&AttrPath { name: name.clone(), sub: Some(p.name.clone()) })
            };
            check_attributes(inner, &scoped)
        }
    }
}

fn unknown(path: &AttrPath) -> FilterError {
    FilterError(format!("`{}` cannot be filtered on", display_path(path)))
}

fn check_comparison(path: &AttrPath, kind: AttrType, op: CompareOp, value: &Value) -> Result<(), FilterError> {
    let name = display_path(path);
    let equality = matches!(op, CompareOp::Eq | CompareOp::Ne);
    match (kind, value) {
        // RFC 7644 §3.4.2.2 defines no comparison with null: presence is `pr` (and
        // absence `not (… pr)`); `active eq null` would otherwise match nobody silently.
        (_, Value::Null) => err(format!("`{name}`: nothing compares with null: use `{name} pr` or `not ({name} pr)`")),
        (AttrType::Boolean, Value::Bool(_)) if equality => Ok(()),
        (AttrType::Boolean, Value::Bool(_)) => err(format!("`{name}` is a boolean: it takes only eq and ne (RFC 7644 §3.4.2.2)")),
        (AttrType::Boolean, _) => err(format!("`{name}` is a boolean: compare it with true or false")),
        (AttrType::String | AttrType::ExactString, Value::String(_)) => Ok(()),
        (AttrType::String | AttrType::ExactString, _) => err(format!("`{name}` is a string: compare it with a quoted string")),
        (AttrType::DateTime, Value::String(text)) => {
            if matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
                return err(format!("`{name}` is a time: it takes eq, ne, gt, ge, lt and le"));
            }
            instant(text).map(|_| ()).ok_or_else(|| FilterError(format!("`{name}`: `{}` is not an RFC 3339 time", shorten(text))))
        }
        (AttrType::DateTime, _) => err(format!("`{name}` is a time: compare it with a quoted RFC 3339 time")),
    }
}

/// An RFC 3339 time (`2026-01-01T00:00:00Z`, with or without fractions, any offset).
fn instant(text: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

/// The attributes compared as times and as written: Mamori's representation has no
/// others of these types that a filter may name.
fn is_date_time(path: &AttrPath) -> bool {
    path.name.eq_ignore_ascii_case("meta")
        && path.sub.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("created") || s.eq_ignore_ascii_case("lastModified"))
}

fn is_case_exact(path: &AttrPath) -> bool {
    path.sub.is_none() && (path.name.eq_ignore_ascii_case("id") || path.name.eq_ignore_ascii_case("externalId"))
}

/// A path as a client would write it: an extension attribute after its schema URN and a
/// colon, a sub-attribute after a dot; long enough to show a whole URN.
fn display_path(path: &AttrPath) -> String {
    let whole = match &path.sub {
        Some(sub) if path.name.to_ascii_lowercase().starts_with("urn:") => format!("{}:{sub}", path.name),
        Some(sub) => format!("{}.{sub}", path.name),
        None => path.name.clone(),
    };
    shorten(&whole)
}

/// Case-insensitive key lookup (attribute names are case-insensitive, RFC 7643 §2.1).
pub fn get_ci<'a>(object: &'a Value, key: &str) -> Option<&'a Value> {
    object.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v)
}

/// Whether `resource` (a SCIM representation) matches. Strings compare ignoring case:
/// every string attribute Mamori serves is `caseExact: false` except `id`, a UUID
/// written in lower case.
pub fn matches(filter: &Filter, resource: &Value) -> bool {
    match filter {
        Filter::And(a, b) => matches(a, resource) && matches(b, resource),
        Filter::Or(a, b) => matches(a, resource) || matches(b, resource),
        Filter::Not(inner) => !matches(inner, resource),
        Filter::Present(path) => values_at(resource, path).iter().any(|v| !v.is_null() && v.as_str() != Some("")),
        Filter::Compare(path, op, expected) if is_date_time(path) => {
            values_at(resource, path).iter().any(|v| compare_times(v, *op, expected))
        }
        Filter::Compare(path, op, expected) if is_case_exact(path) => values_at(resource, path).iter().any(|v| match (v, expected) {
            (Value::String(a), Value::String(e)) => compare_strings(a, e, *op),
            _ => compare(v, *op, expected),
        }),
        Filter::Compare(path, op, expected) => values_at(resource, path).iter().any(|v| compare(v, *op, expected)),
        Filter::ValuePath(name, inner) => match get_ci(resource, name) {
            Some(Value::Array(items)) => items.iter().any(|item| matches(inner, item)),
            Some(item @ Value::Object(_)) => matches(inner, item),
            _ => false,
        },
    }
}

/// The values a path names; a multi-valued complex attribute compared without a
/// sub-attribute compares its `value`s (RFC 7644 §3.4.2.2).
fn values_at<'a>(resource: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    let Some(top) = get_ci(resource, &path.name) else { return Vec::new() };
    let items: Vec<&Value> = match top {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let sub = path.sub.as_deref().or(if matches!(top, Value::Array(_)) { Some("value") } else { None });
    match sub {
        Some(sub) => items.into_iter().filter_map(|item| get_ci(item, sub)).collect(),
        None => items,
    }
}

/// Two instants (a `2026-01-01T09:00:00+09:00` literal is the same time as
/// `2026-01-01T00:00:00Z`); a value that is not a time matches only `ne`.
fn compare_times(actual: &Value, op: CompareOp, expected: &Value) -> bool {
    let (Some(a), Some(e)) = (actual.as_str().and_then(instant), expected.as_str().and_then(instant)) else {
        return compare(actual, op, expected);
    };
    match op {
        CompareOp::Eq => a == e,
        CompareOp::Ne => a != e,
        CompareOp::Gt => a > e,
        CompareOp::Ge => a >= e,
        CompareOp::Lt => a < e,
        CompareOp::Le => a <= e,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn compare_strings(a: &str, e: &str, op: CompareOp) -> bool {
    match op {
        CompareOp::Eq => a == e,
        CompareOp::Ne => a != e,
        CompareOp::Co => a.contains(e),
        CompareOp::Sw => a.starts_with(e),
        CompareOp::Ew => a.ends_with(e),
        CompareOp::Gt => a > e,
        CompareOp::Ge => a >= e,
        CompareOp::Lt => a < e,
        CompareOp::Le => a <= e,
    }
}

fn compare(actual: &Value, op: CompareOp, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::String(a), Value::String(e)) => compare_strings(&a.to_lowercase(), &e.to_lowercase(), op),
        (Value::Bool(a), Value::Bool(e)) => match op {
            CompareOp::Eq => a == e,
            CompareOp::Ne => a != e,
            _ => false,
        },
        (a, Value::Null) => match op {
            CompareOp::Eq => a.is_null(),
            CompareOp::Ne => !a.is_null(),
            _ => false,
        },
        _ => op == CompareOp::Ne,
    }
}

/// A user a filter names by an indexed key: every user it matches has this `id`, this
/// `externalId` or this `userName` (ignoring case, the tenant's unique key), so only
/// those need evaluating.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyHint {
    Id(String),
    ExternalId(String),
    UserName(String),
}

/// The [`KeyHint`] of `id eq "…"`, `externalId eq "…"` or `userName eq "…"`, alone or on either side of an
/// `and` (an `or` could match users without the key).
pub fn key_hint(filter: &Filter) -> Option<KeyHint> {
    match filter {
        Filter::Compare(path, CompareOp::Eq, Value::String(text)) if path.sub.is_none() => {
            if path.name.eq_ignore_ascii_case("id") {
                Some(KeyHint::Id(text.clone()))
            } else if path.name.eq_ignore_ascii_case("externalId") {
                Some(KeyHint::ExternalId(text.clone()))
            } else if path.name.eq_ignore_ascii_case("userName") {
                // How directories look a user up before creating one (Entra ID, Okta).
                Some(KeyHint::UserName(text.clone()))
            } else {
                None
            }
        }
        Filter::And(a, b) => key_hint(a).or_else(|| key_hint(b)),
        _ => None,
    }
}

/// A text that every user matching `filter` contains in their user ID, display name or
/// an e-mail address, if the filter implies one: the storage's text search narrows the
/// candidates to those before the exact evaluation. ASCII only: the databases fold case
/// beyond ASCII differently (SQLite's LOWER() not at all), and a narrowing that missed a
/// user would make the filter miss it; other text is evaluated on every user.
pub fn text_hint(filter: &Filter) -> Option<String> {
    // (`name`'s parts are not in the storage's text search.)
    const SEARCHABLE: [&str; 3] = ["username", "displayname", "emails"];
    match filter {
        Filter::Compare(path, CompareOp::Eq | CompareOp::Co | CompareOp::Sw | CompareOp::Ew, Value::String(text))
            if SEARCHABLE.contains(&path.name.to_ascii_lowercase().as_str()) && !text.is_empty() && text.is_ascii() =>
        {
            // Of an address only its value is searched text (`emails.type eq "work"` is not).
            (path.sub.is_none() || path.sub.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("value"))).then(|| text.clone())
        }
        Filter::ValuePath(name, inner) if name.eq_ignore_ascii_case("emails") => match inner.as_ref() {
            Filter::Compare(path, CompareOp::Eq | CompareOp::Co | CompareOp::Sw | CompareOp::Ew, Value::String(text))
                if path.name.eq_ignore_ascii_case("value") && !text.is_empty() && text.is_ascii() =>
            {
                Some(text.clone())
            }
            _ => None,
        },
        Filter::And(a, b) => text_hint(a).or_else(|| text_hint(b)),
        _ => None,
    }
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
