//! RFC 7644 §4 and RFC 7643 §5–§7: what the server says about itself. Only `User` is a
//! resource type (Mamori has no groups); the flags say exactly what `users.rs` does.

use serde_json::{Value, json};

use super::mapping::{CORE_USER, LIST_RESPONSE, MAMORI_USER};

pub const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// The most resources one list answer holds (`count` above it is lowered to it).
pub const MAX_RESULTS: u64 = 200;

pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": [SPC_SCHEMA],
        "documentationUri": "https://github.com/mamori-idp/mamori/blob/main/docs/scim.md",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "API token",
            "description": "A Mamori API token with the `scim` scope, sent as Authorization: Bearer mamori_at_…",
            "primary": true,
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")},
    })
}

pub fn user_resource_type(base: &str) -> Value {
    json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "A Mamori user of this tenant",
        "schema": CORE_USER,
        "schemaExtensions": [{"schema": MAMORI_USER, "required": false}],
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")},
    })
}

fn attribute(name: &str, kind: &str, mutability: &str, required: bool, description: &str) -> Value {
    json!({
        "name": name,
        "type": kind,
        "multiValued": false,
        "description": description,
        "required": required,
        "caseExact": false,
        "mutability": mutability,
        "returned": "default",
        "uniqueness": "none",
    })
}

fn with(mut attr: Value, changes: Value) -> Value {
    if let (Value::Object(a), Value::Object(c)) = (&mut attr, changes) {
        a.extend(c);
    }
    attr
}

/// The core User schema as Mamori serves it: only the attributes it keeps.
pub fn user_schema(base: &str) -> Value {
    let user_name = with(
        attribute(
            "userName",
            "string",
            "immutable",
            true,
            "The login ID; Mamori cannot rename a user. caseExact false: the same ID in another case is the same user (accepted, the stored case kept).",
        ),
        json!({"uniqueness": "server"}),
    );
    let name = with(
        attribute(
            "name",
            "complex",
            "readWrite",
            false,
            "Given and family names as sent; a document without displayName takes them, joined, as its display name. No formatted: the display name is displayName.",
        ),
        json!({"subAttributes": [
            attribute("givenName", "string", "readWrite", false, "Kept as sent."),
            attribute("familyName", "string", "readWrite", false, "Kept as sent."),
        ]}),
    );
    let emails = with(
        attribute(
            "emails",
            "complex",
            "readWrite",
            true,
            "The active devices' addresses; the primary one is the first device's, the one a directory sets.",
        ),
        json!({
            "multiValued": true,
            "subAttributes": [
                attribute("value", "string", "readWrite", true, "An e-mail address Mamori can send mail to."),
                with(
                    attribute(
                        "type",
                        "string",
                        "readWrite",
                        false,
                        "Always work: a device's address receives its certificate mails; other types are refused.",
                    ),
                    json!({"canonicalValues": ["work"]}),
                ),
                attribute("primary", "boolean", "readOnly", false, "The first device's address."),
            ],
        }),
    );
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": CORE_USER,
        "name": "User",
        "description": "User Account",
        "attributes": [
            user_name,
            attribute("displayName", "string", "readWrite", false, "The display name; removing it restores the default, the login ID."),
            name,
            emails,
            attribute("active", "boolean", "readWrite", false, "false disables the account and ends its sessions and tokens."),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{CORE_USER}")},
    })
}

pub fn mamori_schema(base: &str) -> Value {
    let device = |name: &str, kind: &str, description: &str| attribute(name, kind, "readOnly", false, description);
    let devices = with(
        device("devices", "complex", "The user's devices, each with its own certificate."),
        json!({
            "multiValued": true,
            "subAttributes": [
                device("deviceNo", "integer", "1, 2, 3… per user, never reused."),
                device("type", "string", "pc or mobile."),
                device("email", "string", "The device's address."),
                device("created", "dateTime", "When the device was added."),
                device("deleted", "boolean", "Deleted devices are kept so their certificates stay known."),
            ],
        }),
    );
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": MAMORI_USER,
        "name": "MamoriUser",
        "description": "How the user logs in to Mamori (read-only)",
        "attributes": [
            device("loginMethod", "string", "cert, cert+password, cert+password+otp, password or password+otp."),
            device("locked", "boolean", "Locked after too many failed attempts, until an operator unlocks."),
            devices,
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{MAMORI_USER}")},
    })
}

pub fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documents_say_what_the_server_does() {
        let spc = service_provider_config("https://idp.test/scim/v2/t/acme");
        assert_eq!(spc["patch"]["supported"], true);
        assert_eq!(spc["bulk"]["supported"], false);
        assert_eq!(spc["sort"]["supported"], false);
        assert_eq!(spc["etag"]["supported"], true);
        assert_eq!(spc["changePassword"]["supported"], false);
        let schema = user_schema("https://idp.test/scim/v2/t/acme");
        let names: Vec<&str> = schema["attributes"].as_array().expect("a list").iter().filter_map(|a| a["name"].as_str()).collect();
        assert_eq!(names, ["userName", "displayName", "name", "emails", "active"], "no attribute Mamori does not keep");
        assert_eq!(user_resource_type("x")["schemaExtensions"][0]["schema"], MAMORI_USER);
        let extension = mamori_schema("x");
        assert!(extension["attributes"].as_array().expect("a list").iter().all(|a| a["mutability"] == "readOnly"));
        // name: what a client may write, and the one part it may not.
        let name = schema["attributes"].as_array().expect("a list").iter().find(|a| a["name"] == "name").expect("name");
        let mutability =
            |sub: &str| name["subAttributes"].as_array().expect("subs").iter().find(|a| a["name"] == sub).map(|a| a["mutability"].clone());
        assert_eq!(name["mutability"], "readWrite");
        assert_eq!(mutability("formatted"), None, "not served: displayName is the display name");
        assert_eq!(mutability("givenName"), Some("readWrite".into()));
        assert_eq!(mutability("familyName"), Some("readWrite".into()));
    }
}
