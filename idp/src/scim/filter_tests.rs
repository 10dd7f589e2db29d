use serde_json::json;

use super::*;

fn user() -> Value {
    json!({
        "id": "5b1d0f3e-0000-4000-8000-000000000001",
        "userName": "Alice-01",
        "displayName": "Alice Example",
        "name": {"formatted": "Alice Example"},
        "emails": [{"value": "alice@acme.test", "primary": true}, {"value": "phone@acme.test", "primary": false}],
        "active": true,
        "meta": {"created": "2026-01-02T03:04:05Z", "lastModified": "2026-02-01T00:00:00Z"},
        "urn:mamori:params:scim:schemas:extension:2.0:User": {"loginMethod": "cert+password", "locked": false},
    })
}

fn matches_text(text: &str) -> bool {
    matches(&parse(text).expect("a valid filter"), &user())
}

#[test]
fn the_filters_directories_send_match_as_rfc_7644_says() {
    for (text, expected) in [
        (r#"userName eq "alice-01""#, true),
        (r#"userName eq "Alice-01""#, true),
        (r#"userName eq "bob""#, false),
        (r#"emails eq "alice@acme.test""#, true),
        (r#"emails.value eq "PHONE@acme.test""#, true),
        (r#"emails[value eq "alice@acme.test"]"#, true),
        (r#"emails[primary eq true and value co "phone"]"#, false),
        (r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "ali""#, true),
        (r#"userName ew "-01" and active eq true"#, true),
        (r#"userName eq "x" or displayName co "example""#, true),
        (r#"not (active eq true)"#, false),
        (r#"active eq false"#, false),
        (r#"displayName pr"#, true),
        (r#"name.formatted eq "alice example""#, true),
        (r#"meta.lastModified gt "2026-01-15T00:00:00Z""#, true),
        (r#"urn:mamori:params:scim:schemas:extension:2.0:User:loginMethod eq "cert+password""#, true),
        // Names and operators ignore case; values are JSON, so `true` is lower case.
        (r#"USERNAME EQ "alice-01" AND (ACTIVE EQ true)"#, true),
        (r#"userName ne "alice-01""#, false),
    ] {
        assert_eq!(matches_text(text), expected, "{text}");
    }
}

#[test]
fn precedence_is_not_then_and_then_or() {
    // a or b and c == a or (b and c)
    let f = parse(r#"userName eq "x" or userName eq "alice-01" and active eq false"#).expect("valid");
    assert!(!matches(&f, &user()));
    let f = parse(r#"(userName eq "x" or userName eq "alice-01") and active eq true"#).expect("valid");
    assert!(matches(&f, &user()));
}

#[test]
fn malformed_filters_are_refused_not_guessed() {
    for text in [
        "",
        "   ",
        "userName",
        r#"userName eq"#,
        r#"userName eq "unterminated"#,
        r#"userName xx "a""#,
        r#"userName eq alice"#,
        r#"(userName eq "a""#,
        r#"userName eq "a")"#,
        r#"userName eq "a" and"#,
        r#"not userName eq "a""#,
        r#"emails[value eq "a""#,
        r#"userName eq "a" junk"#,
        r#"userName eq "a"; DROP TABLE users"#,
        r#"userName eq 'a'"#,
        "userName eq \"a\" \u{0}",
        r#"1abc eq "a""#,
        r#"userName eq "\x""#,
        r#"active eq TRUE"#,
    ] {
        assert!(parse(text).is_err(), "{text:?} should be refused");
    }
}

#[test]
fn injection_like_values_are_only_text() {
    // Whatever the value holds, it is compared as text, never interpreted.
    for value in [r#"' OR 1=1 --"#, r#"%"#, r#"_"#, r#"\\"#, r#"alice-01\" or \"1\" eq \"1"#, "${jndi:ldap://x}"] {
        let text = format!(r#"userName eq "{value}""#);
        let filter = parse(&text).expect("a valid filter");
        assert!(!matches(&filter, &user()), "{text}");
    }
    // A quote inside the value stays inside it.
    let f = parse(r#"displayName eq "say \"hi\"""#).expect("valid");
    assert!(matches!(f, Filter::Compare(_, CompareOp::Eq, Value::String(ref s)) if s == "say \"hi\""));
}

#[test]
fn hostile_sizes_are_bounded() {
    let long = format!(r#"userName eq "{}""#, "a".repeat(MAX_FILTER_BYTES));
    assert!(parse(&long).expect_err("too long").0.contains("longer"));
    let deep = format!("{}userName eq \"a\"{}", "(".repeat(MAX_DEPTH + 2), ")".repeat(MAX_DEPTH + 2));
    assert!(parse(&deep).expect_err("too deep").0.contains("deeper"));
    let nots = format!("{}userName eq \"a\"{}", "not (".repeat(200), ")".repeat(200));
    assert!(parse(&nots).is_err(), "no stack overflow on nested nots");
    let many = vec![r#"userName eq "a""#; MAX_TERMS + 1].join(" or ");
    assert!(parse(&many).expect_err("too many").0.contains("comparisons"));
    let fine = vec![r#"userName eq "a""#; MAX_TERMS].join(" or ");
    assert!(parse(&fine).is_ok());
    let deep_ok = format!("{}userName eq \"a\"{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert!(parse(&deep_ok).is_ok());
}

#[test]
fn unknown_attributes_are_named() {
    let known =
        |p: &AttrPath| (p.name == "userName" || (p.name == "emails" && p.sub.as_deref() == Some("value"))).then_some(AttrType::String);
    assert!(check_attributes(&parse(r#"userName eq "a""#).expect("valid"), &known).is_ok());
    assert!(check_attributes(&parse(r#"emails[value eq "a"]"#).expect("valid"), &known).is_ok());
    let refused = check_attributes(&parse(r#"userName eq "a" and password eq "x""#).expect("valid"), &known).expect_err("password");
    assert!(refused.0.contains("password"));
    assert!(check_attributes(&parse(r#"emails[type eq "work"]"#).expect("valid"), &known).is_err());
    assert!(check_attributes(&parse(r#"not (groups pr)"#).expect("valid"), &known).is_err());
}

#[test]
fn paths_split_urns_and_sub_attributes() {
    assert_eq!(parse_attr_path("name.formatted"), Ok(AttrPath { name: "name".to_owned(), sub: Some("formatted".to_owned()) }));
    assert_eq!(
        parse_attr_path("urn:ietf:params:scim:schemas:core:2.0:User:userName"),
        Ok(AttrPath { name: "userName".to_owned(), sub: None })
    );
    assert_eq!(
        parse_attr_path("urn:mamori:params:scim:schemas:extension:2.0:User:locked"),
        Ok(AttrPath { name: "urn:mamori:params:scim:schemas:extension:2.0:User".to_owned(), sub: Some("locked".to_owned()) })
    );
    assert_eq!(
        parse_attr_path("urn:mamori:params:scim:schemas:extension:2.0:User"),
        Ok(AttrPath { name: "urn:mamori:params:scim:schemas:extension:2.0:User".to_owned(), sub: None })
    );
    for bad in ["", ".", "a..b", "a.b.c", "1a", "a b", ":", "urn:x:"] {
        assert!(parse_attr_path(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn extension_attributes_take_the_short_form_and_urns_split_at_their_last_colon() {
    let mamori = "urn:mamori:params:scim:schemas:extension:2.0:User";
    // RFC 7644 §3.10: an extension attribute no core attribute shares a name with may be
    // named without its schema URN.
    assert_eq!(parse_attr_path("loginMethod"), Ok(AttrPath { name: mamori.to_owned(), sub: Some("loginMethod".to_owned()) }));
    assert_eq!(parse_attr_path("LOCKED"), Ok(AttrPath { name: mamori.to_owned(), sub: Some("LOCKED".to_owned()) }));
    assert!(matches_text(r#"loginMethod eq "cert+password""#));
    assert!(!matches_text("locked eq true"));
    // Core names stay core.
    assert_eq!(parse_attr_path("userName"), Ok(AttrPath { name: "userName".to_owned(), sub: None }));
    // A known schema URN is matched whole: the attribute follows its last colon, and a
    // schema alone is no attribute.
    let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    assert_eq!(
        parse_attr_path(&format!("{enterprise}:employeeNumber")),
        Ok(AttrPath { name: enterprise.to_owned(), sub: Some("employeeNumber".to_owned()) })
    );
    let refused = parse_attr_path(enterprise).expect_err("a schema");
    assert!(refused.0.contains("is a schema"), "{}", refused.0);
    // The refusal names the path as written, whole.
    let filter = parse(&format!(r#"{enterprise}:employeeNumber eq "7""#)).expect("valid");
    let refused = check_attributes(&filter, &typed).expect_err("not served");
    assert!(refused.0.contains(&format!("`{enterprise}:employeeNumber`")), "{}", refused.0);
}

#[test]
fn the_text_hint_narrows_only_when_it_is_implied() {
    let hint = |t: &str| text_hint(&parse(t).expect("valid"));
    assert_eq!(hint(r#"userName eq "alice""#).as_deref(), Some("alice"));
    assert_eq!(hint(r#"emails.value eq "a@b.test""#).as_deref(), Some("a@b.test"));
    assert_eq!(hint(r#"emails[value eq "a@b.test"]"#).as_deref(), Some("a@b.test"));
    assert_eq!(hint(r#"active eq true and userName sw "al""#).as_deref(), Some("al"));
    // Neither side of an `or` alone implies the text, nor does a negation.
    assert_eq!(hint(r#"userName eq "a" or userName eq "b""#), None);
    assert_eq!(hint(r#"not (userName eq "a")"#), None);
    assert_eq!(hint(r#"userName ne "a""#), None);
    assert_eq!(hint(r#"name.givenName eq "a""#), None);
    assert_eq!(hint(r#"emails.type eq "work""#), None, "a type is no address text");
    // Beyond ASCII the databases fold case differently: evaluated on every user instead.
    assert_eq!(hint(r#"displayName eq "Øyvind""#), None);
    assert_eq!(hint(r#"displayName sw "Éx" and emails co "acme""#).as_deref(), Some("acme"));
}

/// The types of the attributes a test filter names, as the SCIM handler gives them.
fn typed(p: &AttrPath) -> Option<AttrType> {
    match (p.name.as_str(), p.sub.as_deref()) {
        ("userName" | "displayName", None) | ("emails", Some("value" | "type")) => Some(AttrType::String),
        ("id" | "externalId", None) => Some(AttrType::ExactString),
        ("active", None) | ("emails", Some("primary")) => Some(AttrType::Boolean),
        ("meta", Some("created" | "lastModified")) => Some(AttrType::DateTime),
        _ => None,
    }
}

#[test]
fn comparisons_must_suit_the_attribute_type() {
    // RFC 7644 §3.4.2.2: gt/ge/lt/le (and co/sw/ew) on a boolean fail with invalidFilter;
    // a value of another type than the attribute's is as wrong.
    for bad in [
        "active gt true",
        "active ge false",
        "active lt true",
        "active co true",
        r#"active eq "true""#,
        "active eq 1",
        "userName gt 5",
        "userName eq true",
        "emails[primary gt false]",
        r#"meta.created gt "yesterday""#,
        r#"meta.created gt "2026-02-30T00:00:00Z""#,
        r#"meta.created gt "2026-01-01""#,
        r#"meta.created sw "2026""#,
        "meta.lastModified lt 1700000000",
        "id eq 7",
        "userName gt null",
        // Nothing compares with null (RFC 7644 §3.4.2.2 has `pr` for presence).
        "active eq null",
        "displayName eq null",
        "displayName ne null",
    ] {
        let filter = parse(bad).expect("well-formed");
        assert!(check_attributes(&filter, &typed).is_err(), "{bad} should be refused");
    }
    for good in [
        "active eq true",
        "active ne false",
        r#"userName gt "a""#,
        "emails[primary eq true]",
        r#"meta.created ge "2026-01-01T00:00:00+09:00""#,
        r#"meta.lastModified lt "2026-01-01T00:00:00.5Z""#,
        "displayName pr",
        "not (displayName pr)",
        "not (active eq false)",
    ] {
        let filter = parse(good).expect("well-formed");
        assert!(check_attributes(&filter, &typed).is_ok(), "{good} should be accepted");
    }
}

#[test]
fn times_compare_as_instants_not_as_text() {
    // 2026-01-02T03:04:05Z is 12:04:05 in Japan: later as text than the created time,
    // equal as a time.
    for (text, expected) in [
        (r#"meta.created eq "2026-01-02T12:04:05+09:00""#, true),
        (r#"meta.created eq "2026-01-02T03:04:05.000Z""#, true),
        (r#"meta.created gt "2026-01-02T11:04:05+09:00""#, true),
        (r#"meta.created lt "2026-01-02T12:30:00+09:00""#, true),
        (r#"meta.created gt "2026-01-02T12:30:00+09:00""#, false),
        (r#"meta.created ge "2026-01-02T03:04:05Z""#, true),
        (r#"meta.created le "2026-01-02T03:04:04.999Z""#, false),
        (r#"meta.lastModified ne "2026-02-01T09:00:00+09:00""#, false),
    ] {
        assert_eq!(matches_text(text), expected, "{text}");
    }
}

#[test]
fn id_and_external_id_compare_exactly() {
    let mut user = user();
    user["externalId"] = "Ext-1".into();
    let m = |text: &str| matches(&parse(text).expect("valid"), &user);
    assert!(m(r#"externalId eq "Ext-1""#));
    assert!(!m(r#"externalId eq "ext-1""#), "caseExact (RFC 7643 §3.1)");
    assert!(m(r#"id eq "5b1d0f3e-0000-4000-8000-000000000001""#));
    assert!(!m(r#"id eq "5B1D0F3E-0000-4000-8000-000000000001""#));
    assert!(m(r#"userName eq "ALICE-01""#), "other strings still ignore case");
}

#[test]
fn the_key_hint_names_an_id_external_id_or_user_name_only_when_implied() {
    let hint = |t: &str| key_hint(&parse(t).expect("valid"));
    assert_eq!(hint(r#"id eq "abc""#), Some(KeyHint::Id("abc".to_owned())));
    assert_eq!(hint(r#"externalId eq "E-1""#), Some(KeyHint::ExternalId("E-1".to_owned())));
    assert_eq!(hint(r#"active eq true and externalId eq "E-1""#), Some(KeyHint::ExternalId("E-1".to_owned())));
    // An `or`, a negation or another operator could match users without that key.
    assert_eq!(hint(r#"externalId eq "a" or userName eq "b""#), None);
    assert_eq!(hint(r#"not (id eq "a")"#), None);
    assert_eq!(hint(r#"externalId ne "a""#), None);
    assert_eq!(hint(r#"externalId sw "a""#), None);
    // userName by the tenant's unique key (case ignored, any script): how directories look a user up.
    assert_eq!(hint(r#"userName eq "Øyvind""#), Some(KeyHint::UserName("Øyvind".to_owned())));
    assert_eq!(hint(r#"userName sw "Øy""#), None);
    assert_eq!(hint(r#"urn:mamori:params:scim:schemas:extension:2.0:User:id eq "a""#), None);
}
