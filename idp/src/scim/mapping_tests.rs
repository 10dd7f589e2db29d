use mamori_storage::model::{Device, DeviceType, LoginMethod, NewUser, User, UserStatus};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::*;

fn sample_user() -> User {
    let new = NewUser::new(Uuid::nil(), "alice", LoginMethod::CertPassword);
    User {
        id: Uuid::from_u128(7),
        tenant_id: Uuid::nil(),
        login_id: new.login_id,
        display_name: "Alice".to_owned(),
        locale: new.locale,
        time_zone: new.time_zone,
        login_method: new.login_method,
        status: UserStatus::Active,
        locked_at: None,
        lock_reason: None,
        failed_password_count: 0,
        failed_secret_answer_count: 0,
        password_hash: Some("$argon2id$secret".to_owned()),
        password_changed_at: None,
        password_must_change: false,
        secret_question: None,
        secret_answer_hash: Some("$argon2id$answer".to_owned()),
        totp_secret_sealed: None,
        external_id: Some("ext-7".to_owned()),
        given_name: None,
        family_name: None,
        version: 0,
        created_at: OffsetDateTime::UNIX_EPOCH,
        updated_at: OffsetDateTime::UNIX_EPOCH,
    }
}

fn device(no: u32, email: &str, deleted: bool) -> Device {
    Device {
        id: Uuid::from_u128(100 + u128::from(no)),
        user_id: Uuid::from_u128(7),
        device_no: no,
        device_type: DeviceType::Pc,
        email: email.to_owned(),
        created_at: OffsetDateTime::UNIX_EPOCH,
        deleted_at: deleted.then_some(OffsetDateTime::UNIX_EPOCH),
        email_verified_at: None,
    }
}

fn fields() -> UserFields {
    UserFields {
        user_name: "alice".to_owned(),
        display_name: Some("Alice".to_owned()),
        email: Some("a@acme.test".to_owned()),
        active: true,
        external_id: None,
        given_name: None,
        family_name: None,
    }
}

fn patch(ops: serde_json::Value) -> Result<UserFields, ScimError> {
    apply_patch(fields(), &json!({"schemas": [PATCH_OP], "Operations": ops}))
}

#[test]
fn a_user_reads_as_rfc_7643_says_and_keeps_its_secrets() {
    let devices = [device(2, "phone@acme.test", false), device(1, "a@acme.test", false), device(3, "old@acme.test", true)];
    let r = user_resource(&sample_user(), &devices, "https://idp.test/scim/v2/t/acme/Users/x");
    assert_eq!(r["userName"], "alice");
    assert_eq!(r["displayName"], "Alice");
    assert!(r.get("name").is_none(), "no given or family name was sent: no name (displayName is the display name)");
    let named = User { given_name: Some("Alice".to_owned()), family_name: Some("Liddell".to_owned()), ..sample_user() };
    let r2 = user_resource(&named, &devices, "x");
    assert_eq!(r2["name"], json!({"givenName": "Alice", "familyName": "Liddell"}));
    assert_eq!(r["active"], true);
    assert_eq!(
        r["emails"],
        json!([{"value": "a@acme.test", "type": "work", "primary": true}, {"value": "phone@acme.test", "type": "work", "primary": false}]),
        "deleted devices' addresses are not the user's"
    );
    assert_eq!(r[MAMORI_USER]["loginMethod"], "cert+password");
    assert_eq!(r["externalId"], "ext-7");
    assert_eq!(r[MAMORI_USER]["devices"].as_array().map(Vec::len), Some(3));
    assert_eq!(r["meta"]["resourceType"], "User");
    assert!(r["meta"]["version"].as_str().is_some_and(|v| v.starts_with("W/\"")));
    let text = r.to_string();
    assert!(!text.contains("argon2") && !text.contains("password_hash"), "no hash leaks: {text}");
}

#[test]
fn the_version_changes_with_what_a_client_reads() {
    let user = sample_user();
    let a = user_resource(&user, &[device(1, "a@acme.test", false)], "x");
    let b = user_resource(&user, &[device(1, "b@acme.test", false)], "x");
    let c = user_resource(&User { status: UserStatus::Disabled, ..user.clone() }, &[device(1, "a@acme.test", false)], "x");
    assert_ne!(a["meta"]["version"], b["meta"]["version"]);
    assert_ne!(a["meta"]["version"], c["meta"]["version"]);
    assert_eq!(a["meta"]["version"], user_resource(&user, &[device(1, "a@acme.test", false)], "x")["meta"]["version"]);
}

/// `body` as a User document: with `schemas` listing the core schema.
fn user_doc(mut body: serde_json::Value) -> serde_json::Value {
    body["schemas"] = json!([CORE_USER]);
    body
}

#[test]
fn a_document_must_say_it_is_a_user() {
    for body in [json!({"userName": "x"}), json!({"schemas": null, "userName": "x"}), json!({"schemas": CORE_USER, "userName": "x"})] {
        assert_eq!(fields_from_document(&body).expect_err("no schemas list").scim_type, Some(ScimType::InvalidSyntax), "{body}");
    }
    assert!(fields_from_document(&user_doc(json!({"userName": "x"}))).is_ok());
}

#[test]
fn documents_from_directories_map_to_mamori_fields() {
    let okta = json!({"schemas": [CORE_USER], "userName": "bob", "name": {"givenName": "Bob", "familyName": "Smith"},
        "emails": [{"value": "home@x.test", "type": "home"}, {"value": "work@x.test", "type": "work", "primary": true}], "active": false,
        "externalId": "00u1", "id": "ignored", "meta": {"version": "ignored"}});
    let f = fields_from_document(&okta).expect("accepted");
    assert_eq!(
        f,
        UserFields {
            user_name: "bob".to_owned(),
            display_name: Some("Bob Smith".to_owned()),
            email: Some("work@x.test".to_owned()),
            active: false,
            external_id: Some("00u1".to_owned()),
            given_name: Some("Bob".to_owned()),
            family_name: Some("Smith".to_owned()),
        }
    );
    // displayName wins over the name parts; name.formatted is not served and ignored.
    let both =
        user_doc(json!({"userName": "b", "displayName": "Bobby", "name": {"givenName": "Bob", "familyName": "Smith", "formatted": "X Y"}}));
    let f = fields_from_document(&both).expect("accepted");
    assert_eq!((f.display_name.as_deref(), f.given_name.as_deref()), (Some("Bobby"), Some("Bob")));
    let formatted_only = fields_from_document(&user_doc(json!({"userName": "b", "name": {"formatted": "X Y"}}))).expect("accepted");
    assert_eq!(formatted_only.display_name, None, "formatted is not written: the default display name");
    let work_later =
        user_doc(json!({"userName": "d", "emails": [{"value": "h@x.test", "type": "home"}, {"value": "w@x.test", "type": "work"}]}));
    assert_eq!(fields_from_document(&work_later).expect("accepted").email.as_deref(), Some("w@x.test"), "no primary: the work one");
    let home_only = user_doc(json!({"userName": "d", "emails": [{"value": "h@x.test", "type": "home", "primary": true}]}));
    assert_eq!(fields_from_document(&home_only).expect_err("refused").scim_type, Some(ScimType::InvalidValue));
    let plain =
        fields_from_document(&user_doc(json!({"userName": "c", "displayName": "C", "name": {"formatted": "ignored"}}))).expect("accepted");
    assert_eq!((plain.display_name.as_deref(), plain.email, plain.active), (Some("C"), None, true));
}

#[test]
fn hostile_documents_are_refused_with_the_right_scim_type() {
    let cases = [
        (json!([1, 2]), ScimType::InvalidSyntax),
        (json!({"schemas": ["urn:evil"], "userName": "x"}), ScimType::InvalidSyntax),
        (json!({"displayName": "no user name"}), ScimType::InvalidValue),
        (json!({"userName": 42}), ScimType::InvalidValue),
        (json!({"userName": "x", "active": "maybe"}), ScimType::InvalidValue),
        (json!({"userName": "x", "emails": "a@b.test"}), ScimType::InvalidValue),
        (json!({"userName": "x", "emails": [{"type": "work"}]}), ScimType::InvalidValue),
        (json!({"userName": "x", "password": "hunter2"}), ScimType::InvalidValue),
        (json!({"userName": "x", "name": "Bob"}), ScimType::InvalidValue),
        // RFC 7643 booleans are JSON booleans, not strings that look like one.
        (json!({"userName": "x", "active": "False"}), ScimType::InvalidValue),
        (json!({"userName": "x", "active": "true"}), ScimType::InvalidValue),
        // Two primary addresses: which one would Mamori keep?
        (
            json!({"userName": "x", "emails": [{"value": "a@x.test", "primary": true}, {"value": "b@x.test", "primary": true}]}),
            ScimType::InvalidValue,
        ),
        (json!({"userName": "x", "name": {"givenName": 7}}), ScimType::InvalidValue),
    ];
    for (body, scim_type) in cases {
        // Each with the core schema listed (when it is an object without `schemas`), so
        // that the refusal is for the value the case is about.
        let body = if body.is_object() && body.get("schemas").is_none() { user_doc(body) } else { body };
        let refused = fields_from_document(&body).expect_err("refused");
        assert_eq!(refused.scim_type, Some(scim_type), "{body}");
        assert!(!refused.detail.contains("hunter2"), "a refused password is never echoed");
    }
}

#[test]
fn patches_as_entra_and_okta_send_them() {
    let f = patch(json!([{"op": "Replace", "path": "active", "value": false}])).expect("ok");
    assert!(!f.active);
    let f = patch(json!([{"op": "replace", "value": {"active": false, "displayName": "New"}}])).expect("ok");
    assert_eq!((f.active, f.display_name.as_deref()), (false, Some("New")));
    let f = patch(json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "w@acme.test"}])).expect("ok");
    assert_eq!(f.email.as_deref(), Some("w@acme.test"), "the address a directory sets is the work address");
    let refused = patch(json!([{"op": "replace", "path": "emails[type eq \"home\"].value", "value": "n@acme.test"}]));
    assert_eq!(refused.expect_err("no home address").scim_type, Some(ScimType::InvalidValue), "Mamori keeps only work addresses");
    for kind in ["home", "other", "HOME"] {
        let path = format!("emails[type eq \"{kind}\"].value");
        let refused = patch(json!([{"op": "add", "path": path, "value": "n@acme.test"}]));
        assert_eq!(refused.expect_err("not kept as work").scim_type, Some(ScimType::InvalidValue), "{kind}");
        // A second address of another type beside the kept one: ignored, as in a document.
        let f = patch(json!([{"op": "add", "path": "emails", "value": [{"value": "n@acme.test", "type": kind}]}])).expect("ignored");
        assert_eq!(f.email, fields().email, "{kind}");
        // As the address to keep, it is refused.
        let refused = patch(json!([{"op": "add", "path": "emails", "value": [{"value": "n@acme.test", "type": kind, "primary": true}]}]));
        assert_eq!(refused.expect_err("not kept as work").scim_type, Some(ScimType::InvalidValue), "{kind}");
    }
    let refused = patch(json!([{"op": "replace", "path": "emails[value eq \"nobody@acme.test\"].value", "value": "n@acme.test"}]));
    assert_eq!(refused.expect_err("no such address").scim_type, Some(ScimType::NoTarget));
    // `add` adds a value (RFC 7644 §3.5.2.1): a second address beside the kept one is
    // ignored, never put in the primary's place (where the certificate mails go).
    let f = patch(json!([{"op": "add", "path": "emails", "value": [{"value": "w2@acme.test", "type": "Work"}]}])).expect("work, any case");
    assert_eq!(f.email, fields().email, "the primary address stays");
    let f = patch(json!([{"op": "add", "value": {"emails": [{"value": "w2@acme.test", "primary": false}]}}])).expect("pathless");
    assert_eq!(f.email, fields().email, "the primary address stays");
    let f = patch(json!([{"op": "add", "path": "emails", "value": {"value": "w2@acme.test", "type": "work", "primary": true}}]))
        .expect("a new primary");
    assert_eq!(f.email.as_deref(), Some("w2@acme.test"), "an added primary address is the one kept");
    let none = UserFields { email: None, ..fields() };
    let f = apply_patch(
        none,
        &json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "emails", "value": [{"value": "w3@acme.test"}]}]}),
    )
    .expect("first address");
    assert_eq!(f.email.as_deref(), Some("w3@acme.test"), "a user without an address gets the one added");
    let refused = patch(json!([{"op": "add", "path": "emails", "value": [{"type": "work"}]}]));
    assert_eq!(refused.expect_err("no value").scim_type, Some(ScimType::InvalidValue));
    let f = patch(json!([{"op": "replace", "path": "emails", "value": [{"value": "w4@acme.test", "type": "work"}]}])).expect("replace");
    assert_eq!(f.email.as_deref(), Some("w4@acme.test"), "replace sets the list: its first work address is kept");
    let f = patch(json!([{"op": "replace", "path": "emails[primary eq true].value", "value": "n@acme.test"}])).expect("ok");
    assert_eq!(f.email.as_deref(), Some("n@acme.test"));
    let f = patch(json!([{"op": "add", "path": "emails", "value": [{"value": "m@acme.test", "primary": true}]}])).expect("ok");
    assert_eq!(f.email.as_deref(), Some("m@acme.test"));
    let f = patch(json!([{"op": "remove", "path": "displayName"}])).expect("ok");
    assert_eq!(f.display_name, None, "back to the default");
    let f = patch(json!([{"op": "replace", "value": {CORE_USER: {"displayName": "Via URN"}}}])).expect("ok");
    assert_eq!(f.display_name.as_deref(), Some("Via URN"));
    let f = patch(json!([{"op": "replace", "path": "userName", "value": "alice"}])).expect("the same name is no change");
    assert_eq!(f, fields());
    let f = patch(json!([{"op": "replace", "path": "userName", "value": "ALICE"}])).expect("a change of case is the same user");
    assert_eq!(f.user_name, "ALICE");
    let f = patch(json!([{"op": "add", "path": "externalId", "value": "ext-1"}])).expect("ok");
    assert_eq!(f.external_id.as_deref(), Some("ext-1"));
    let f = apply_patch(
        UserFields { external_id: Some("ext-1".to_owned()), ..fields() },
        &json!({"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": "externalId"}]}),
    )
    .expect("ok");
    assert_eq!(f.external_id, None);
}

#[test]
fn a_pathless_patch_keeps_display_name_as_put_does() {
    let f = patch(json!([{"op": "replace", "value": {"displayName": "X", "name": {"givenName": "Given", "familyName": "Family"}}}]))
        .expect("ok");
    assert_eq!(
        (f.display_name.as_deref(), f.given_name.as_deref(), f.family_name.as_deref()),
        (Some("X"), Some("Given"), Some("Family")),
        "displayName as sent, whatever the order of the keys"
    );
    // The name alone leaves the display name as it is: it is its own attribute.
    let f = patch(json!([{"op": "replace", "value": {"name": {"givenName": "Given"}}}])).expect("ok");
    assert_eq!((f.display_name.as_deref(), f.given_name.as_deref()), (Some("Alice"), Some("Given")));
}

#[test]
fn name_sub_attributes_take_add_replace_and_remove() {
    let named = UserFields { given_name: Some("Old".to_owned()), family_name: Some("Family".to_owned()), ..fields() };
    let run = |ops: serde_json::Value| apply_patch(named.clone(), &json!({"schemas": [PATCH_OP], "Operations": ops}));
    let f = run(json!([{"op": "replace", "path": "name.givenName", "value": "New"}])).expect("ok");
    assert_eq!((f.given_name.as_deref(), f.family_name.as_deref()), (Some("New"), Some("Family")), "only the one named");
    let f = run(json!([{"op": "add", "path": "name.FamilyName", "value": "Other"}])).expect("ok");
    assert_eq!(f.family_name.as_deref(), Some("Other"));
    let f = run(json!([{"op": "remove", "path": "name.givenName"}])).expect("ok");
    assert_eq!((f.given_name, f.family_name.as_deref()), (None, Some("Family")));
    let f = run(json!([{"op": "replace", "path": "name", "value": {"familyName": "Only"}}])).expect("ok");
    assert_eq!((f.given_name.as_deref(), f.family_name.as_deref()), (Some("Old"), Some("Only")), "the others left as they are");
    let f = run(json!([{"op": "remove", "path": "name"}])).expect("ok");
    assert_eq!((f.given_name, f.family_name), (None, None));
    assert_eq!(f.display_name.as_deref(), Some("Alice"), "the display name is its own value");
    // name.formatted (not served) in a value is ignored, as any part Mamori does not keep.
    let f = run(json!([{"op": "replace", "path": "name", "value": {"formatted": "X", "middleName": "M"}}])).expect("ok");
    assert_eq!(f, named, "nothing changed");
    let f = run(json!([{"op": "replace", "value": {"name": {"formatted": "X"}}}])).expect("ok");
    assert_eq!(f, named);
    // Hostile: a path to a part Mamori does not keep, a non-string.
    for (ops, scim_type) in [
        (json!([{"op": "replace", "path": "name.nickname", "value": "X"}]), ScimType::InvalidPath),
        (json!([{"op": "replace", "path": "name.givenName", "value": 7}]), ScimType::InvalidValue),
        (json!([{"op": "replace", "path": "active", "value": "False"}]), ScimType::InvalidValue),
        (json!([{"op": "replace", "value": {"active": "true"}}]), ScimType::InvalidValue),
    ] {
        assert_eq!(run(ops.clone()).expect_err("refused").scim_type, Some(scim_type), "{ops}");
    }
}

#[test]
fn patches_that_cannot_apply_are_refused() {
    let cases = [
        (json!([{"op": "replace", "path": "userName", "value": "mallory"}]), ScimType::Mutability),
        (json!([{"op": "replace", "path": "userName", "value": "alice2"}]), ScimType::Mutability),
        (json!([{"op": "remove", "path": "emails"}]), ScimType::Mutability),
        (json!([{"op": "remove", "path": "active"}]), ScimType::Mutability),
        (json!([{"op": "replace", "path": "id", "value": "x"}]), ScimType::Mutability),
        (
            json!([{"op": "replace", "path": "urn:mamori:params:scim:schemas:extension:2.0:User:loginMethod", "value": "password"}]),
            ScimType::Mutability,
        ),
        (
            json!([{"op": "add", "path": "urn:mamori:params:scim:schemas:extension:2.0:User", "value": {"locked": false}}]),
            ScimType::Mutability,
        ),
        (
            json!([{"op": "replace", "value": {"urn:mamori:params:scim:schemas:extension:2.0:User": {"loginMethod": "cert"}}}]),
            ScimType::Mutability,
        ),
        (json!([{"op": "replace", "path": "password", "value": "x"}]), ScimType::InvalidPath),
        (json!([{"op": "replace", "path": "nickNameX", "value": "x"}]), ScimType::InvalidPath),
        (json!([{"op": "replace", "path": "emails[value eq \"a\"", "value": "x"}]), ScimType::InvalidPath),
        (json!([{"op": "replace", "path": "emails[value xx \"a\"]", "value": "x"}]), ScimType::InvalidFilter),
        (json!([{"op": "remove"}]), ScimType::NoTarget),
        (json!([{"op": "move", "path": "active", "value": true}]), ScimType::InvalidSyntax),
        (json!([{"op": "replace", "path": "active", "value": 1}]), ScimType::InvalidValue),
        (json!([{"op": "replace", "path": "active"}]), ScimType::InvalidValue),
        (json!([]), ScimType::InvalidSyntax),
        // A value filter on a single-valued attribute, or naming no part of an address.
        (json!([{"op": "remove", "path": "externalId[value eq \"nomatch\"]"}]), ScimType::InvalidPath),
        (json!([{"op": "replace", "path": "displayName[value eq \"x\"]", "value": "y"}]), ScimType::InvalidPath),
        (json!([{"op": "replace", "path": "emails[bogus eq \"x\"].value", "value": "y@acme.test"}]), ScimType::InvalidPath),
        // Every address is checked, the ones Mamori ignores too.
        (json!([{"op": "add", "path": "emails", "value": [{"value": "not-an-address"}]}]), ScimType::InvalidValue),
        (json!([{"op": "replace", "path": "emails", "value": [{"value": "a@acme.test", "primary": "true"}]}]), ScimType::InvalidValue),
        (
            json!([{"op": "replace", "path": "emails", "value": [{"value": "a@acme.test"}, {"value": "b@acme.test", "type": 7}]}]),
            ScimType::InvalidValue,
        ),
    ];
    for (ops, scim_type) in cases {
        assert_eq!(patch(ops.clone()).expect_err("refused").scim_type, Some(scim_type), "{ops}");
    }
    let too_many = vec![json!({"op": "replace", "path": "active", "value": true}); MAX_PATCH_OPERATIONS + 1];
    assert_eq!(patch(json!(too_many)).expect_err("refused").scim_type, Some(ScimType::InvalidSyntax));
    let no_schema = apply_patch(fields(), &json!({"Operations": [{"op": "replace", "path": "active", "value": false}]}));
    assert_eq!(no_schema.expect_err("refused").scim_type, Some(ScimType::InvalidSyntax));
    // A refused patch changes nothing: the fields are applied only when all operations are.
    let partly = patch(json!([{"op": "replace", "path": "active", "value": false}, {"op": "replace", "path": "userName", "value": "x"}]));
    assert!(partly.is_err());
}

#[test]
fn attributes_and_excluded_attributes_select_what_is_returned() {
    let r = user_resource(&sample_user(), &[device(1, "a@acme.test", false)], "x");
    let only = project(r.clone(), Some("displayName,emails.value"), None).expect("ok");
    let keys: Vec<&String> = only.as_object().expect("an object").keys().collect();
    assert_eq!(keys.len(), 4, "id, schemas and the two asked for: {keys:?}");
    assert_eq!(only["emails"], json!([{"value": "a@acme.test"}]));
    let whole = project(r.clone(), Some("urn:mamori:params:scim:schemas:extension:2.0:User"), None).expect("ok");
    assert_eq!(whole[MAMORI_USER]["loginMethod"], "cert+password");
    let ext = project(r.clone(), Some("urn:mamori:params:scim:schemas:extension:2.0:User:loginMethod"), None).expect("ok");
    assert_eq!(ext[MAMORI_USER], json!({"loginMethod": "cert+password"}));
    let without = project(r.clone(), None, Some("emails,meta,id,displayName")).expect("ok");
    assert!(without.get("emails").is_none() && without.get("meta").is_none() && without.get("displayName").is_none());
    assert!(without.get("id").is_some(), "id is always returned");
    let named = user_resource(&User { given_name: Some("A".to_owned()), family_name: Some("L".to_owned()), ..sample_user() }, &[], "x");
    assert_eq!(project(named, None, Some("name.givenName")).expect("ok")["name"], json!({"familyName": "L"}));
    let unknown = project(r.clone(), Some("nickName"), None).expect("unknown names select nothing");
    assert_eq!(unknown.as_object().map(|o| o.len()), Some(2));
    assert!(project(r, Some("a b"), None).is_err(), "a malformed path is an error");
}

#[test]
fn attributes_mamori_does_not_keep_are_ignored_as_directories_send_them() {
    // Entra ID's default mappings: a PATCH carrying these must not fail as a whole.
    let ignored = json!([
        {"op": "replace", "path": "title", "value": "Engineer"},
        {"op": "replace", "path": "name.formatted", "value": "Alice Liddell"},
        {"op": "add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+81 3 0000 0000"},
        {"op": "replace", "path": "addresses[type eq \"work\"].locality", "value": "Tokyo"},
        {"op": "replace", "path": "preferredLanguage", "value": "ja-JP"},
        {"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "R&D"},
        {"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": {"value": "x"}},
        {"op": "replace", "path": "emails[type eq \"work\"].primary", "value": true},
        {"op": "replace", "path": "emails[type eq \"work\"].type", "value": "work"},
        {"op": "add", "value": {"title": "CTO", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "7"}}},
    ]);
    assert_eq!(patch(ignored).expect("accepted"), fields(), "nothing Mamori keeps changed");
    let refused = patch(json!([{"op": "replace", "path": "emails[type eq \"work\"].type", "value": "home"}]));
    assert_eq!(refused.expect_err("not work").scim_type, Some(ScimType::InvalidValue));
    for (path, scim_type) in
        [("password", ScimType::InvalidPath), ("groups", ScimType::Mutability), ("bogusAttribute", ScimType::InvalidPath)]
    {
        let refused = patch(json!([{"op": "replace", "path": path, "value": "x"}]));
        assert_eq!(refused.expect_err(path).scim_type, Some(scim_type), "{path}");
    }
}

#[test]
fn one_attribute_is_named_once_however_it_is_spelled() {
    for value in [
        json!({"active": true, "urn:ietf:params:scim:schemas:core:2.0:User:active": false}),
        json!({"active": true, CORE_USER: {"active": false}}),
        json!({"displayName": "A", "DISPLAYNAME": "B"}),
    ] {
        let refused = patch(json!([{"op": "replace", "value": value}]));
        assert_eq!(refused.expect_err("twice").scim_type, Some(ScimType::InvalidSyntax), "{value}");
    }
    // In a document, a core attribute spelled with the URN would be skipped: refused.
    let doc = user_doc(json!({"userName": "x", "urn:ietf:params:scim:schemas:core:2.0:User:active": false}));
    assert_eq!(fields_from_document(&doc).expect_err("urn-qualified").scim_type, Some(ScimType::InvalidSyntax));
    // Hostile: a multi-byte key as long as the URN is no panic.
    let doc = user_doc(json!({"userName": "x", "あ".repeat(20): true}));
    assert!(fields_from_document(&doc).is_ok());
}

#[test]
fn an_address_filter_in_a_path_is_typed_as_in_a_list_filter() {
    for path in ["emails[value ne null].value", "emails[primary ne \"true\"].value", "emails[primary gt true].value"] {
        let refused = patch(json!([{"op": "replace", "path": path, "value": "n@acme.test"}]));
        assert_eq!(refused.expect_err(path).scim_type, Some(ScimType::InvalidFilter), "{path}");
    }
    let f = patch(json!([{"op": "replace", "path": "emails[primary eq true].value", "value": "n@acme.test"}])).expect("typed");
    assert_eq!(f.email.as_deref(), Some("n@acme.test"));
}

#[test]
fn a_name_object_and_a_dotted_name_part_are_the_part_twice() {
    let twice = json!({"name": {"givenName": "A"}, "name.givenName": "B"});
    assert_eq!(patch(json!([{"op": "replace", "value": twice}])).expect_err("twice").scim_type, Some(ScimType::InvalidSyntax));
    let both = json!({"name.givenName": "A", "name.familyName": "B"});
    let f = patch(json!([{"op": "replace", "value": both}])).expect("two parts, once each");
    assert_eq!((f.given_name.as_deref(), f.family_name.as_deref()), (Some("A"), Some("B")));
}
