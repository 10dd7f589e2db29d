//! The one way a SCIM request body becomes JSON: parsed by serde_json (in one pass), and refused when an
//! object names a member twice. Attribute names ignore case (RFC 7643 §2.1), so
//! `{"active": true, "Active": false}` has no one meaning, and serde_json alone would keep
//! whichever came last while a case-insensitive lookup finds whichever comes first.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::error::{ScimError, ScimType};

/// A JSON value, read in one pass by serde_json and refused when an object repeats a
/// member name (any case).
struct UniqueMembers(Value);

impl<'de> Deserialize<'de> for UniqueMembers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueMembersVisitor)
    }
}

struct UniqueMembersVisitor;

impl<'de> Visitor<'de> for UniqueMembersVisitor {
    type Value = UniqueMembers;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<UniqueMembers, E> {
        Ok(UniqueMembers(Value::Bool(b)))
    }

    fn visit_i64<E>(self, n: i64) -> Result<UniqueMembers, E> {
        Ok(UniqueMembers(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<UniqueMembers, E> {
        Ok(UniqueMembers(n.into()))
    }

    fn visit_f64<E>(self, n: f64) -> Result<UniqueMembers, E> {
        // JSON has no NaN or infinity, so serde_json never hands one over.
        Ok(UniqueMembers(serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)))
    }

    fn visit_str<E>(self, text: &str) -> Result<UniqueMembers, E> {
        Ok(UniqueMembers(Value::String(text.to_owned())))
    }

    fn visit_string<E>(self, text: String) -> Result<UniqueMembers, E> {
        Ok(UniqueMembers(Value::String(text)))
    }

    fn visit_unit<E>(self) -> Result<UniqueMembers, E> {
        Ok(UniqueMembers(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueMembers, A::Error> {
        let mut items = Vec::new();
        while let Some(UniqueMembers(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(UniqueMembers(Value::Array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueMembers, A::Error> {
        let mut object = serde_json::Map::new();
        let mut seen = HashSet::new();
        while let Some(name) = map.next_key::<String>()? {
            if !seen.insert(name.to_lowercase()) {
                let shown = super::filter::shorten(&name);
                return Err(de::Error::custom(format!("the body names `{shown}` twice (attribute names ignore case, RFC 7643 §2.1)")));
            }
            let UniqueMembers(value) = map.next_value()?;
            object.insert(name, value);
        }
        Ok(UniqueMembers(Value::Object(object)))
    }
}

/// The body as JSON, or 400 `invalidSyntax`.
pub(super) fn parse(bytes: &[u8]) -> Result<Value, ScimError> {
    match serde_json::from_slice::<UniqueMembers>(bytes) {
        Ok(UniqueMembers(value)) => Ok(value),
        // Our own refusal says what is wrong; serde_json's syntax errors are summed up.
        Err(err) if err.is_data() => {
            Err(ScimError::bad(ScimType::InvalidSyntax, err.to_string().split(" at line ").next().unwrap_or_default()))
        }
        Err(_) => Err(ScimError::bad(ScimType::InvalidSyntax, "the body is not valid JSON")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_named_twice_in_any_case_is_refused_anywhere() {
        for twice in [
            r#"{"userName": "a", "userName": "b"}"#,
            r#"{"active": true, "Active": false}"#,
            r#"{"Operations": [{"op": "replace", "value": {"active": true, "ACTIVE": false}}]}"#,
            r#"{"name": {"givenName": "a", "givenname": "b"}}"#,
        ] {
            let refused = parse(twice.as_bytes()).expect_err(twice);
            assert_eq!(refused.scim_type, Some(ScimType::InvalidSyntax), "{twice}");
            assert!(refused.detail.contains("twice"), "{}", refused.detail);
        }
    }

    #[test]
    fn honest_documents_parse_as_serde_json_reads_them() {
        let text = r#"{"schemas": ["x"], "userName": "a", "emails": [{"value": "a@b.test", "primary": true}], "n": [1, -2, 3.5, null]}"#;
        assert_eq!(parse(text.as_bytes()).expect("valid"), serde_json::from_str::<Value>(text).expect("valid"));
        // The same name in two different objects is no repetition.
        assert!(parse(br#"[{"value": "a"}, {"value": "b"}]"#).is_ok());
        for broken in [&b"{not json"[..], b"", b"{\"a\": 1,}", &[0xff, 0xfe]] {
            assert_eq!(parse(broken).expect_err("refused").detail, "the body is not valid JSON");
        }
        let deep = "[".repeat(10_000);
        assert!(parse(deep.as_bytes()).is_err(), "too deep: refused, no stack overflow");
    }
}
