//! RFC 7643 §4.1: how a Mamori user reads as a SCIM `User`, and how a SCIM document or
//! PATCH (RFC 7644 §3.5.2) becomes the few values Mamori lets a directory set.
//!
//! | SCIM | Mamori |
//! | --- | --- |
//! | `id` | the user's UUID |
//! | `userName` | the login ID (set at creation; a change of case only is the same user) |
//! | `displayName` | the display name (`name.formatted` is not served: it would be a copy) |
//! | `name.givenName`, `name.familyName` | kept as sent (m0025); seed a missing display name |
//! | `emails` | the active devices' addresses; the primary one is the first device's |
//! | `active` | enabled / disabled |
//! | `externalId` | the provisioning client's identifier (m0022) |
//! | Mamori extension | login method, lock, devices (read-only) |

use mamori_storage::model::{Device, User, UserStatus};
use serde_json::{Map, Value, json};

use super::error::{ScimError, ScimType};
use super::filter::{self, get_ci};

pub const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const MAMORI_USER: &str = "urn:mamori:params:scim:schemas:extension:2.0:User";
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// The one `emails.type` Mamori keeps: a device's address is where its certificate,
/// reissue and notice mails go, the organisation's address for the person (docs/scim.md).
pub const WORK: &str = "work";

/// The most operations one PATCH may carry.
pub const MAX_PATCH_OPERATIONS: usize = 50;

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// The user as a SCIM resource, with `meta.version` (a weak ETag over everything else).
pub fn user_resource(user: &User, devices: &[Device], location: &str) -> Value {
    let mut active: Vec<&Device> = devices.iter().filter(|d| !d.is_deleted()).collect();
    active.sort_by_key(|d| d.device_no);
    let mut emails: Vec<Value> = Vec::new();
    for device in &active {
        if !emails.iter().any(|e| e["value"] == device.email.as_str()) {
            emails.push(json!({"value": device.email, "type": WORK, "primary": emails.is_empty()}));
        }
    }
    let mut all: Vec<&Device> = devices.iter().collect();
    all.sort_by_key(|d| d.device_no);
    let device_list: Vec<Value> = all
        .iter()
        .map(|d| {
            json!({"deviceNo": d.device_no, "type": d.device_type.as_str(), "email": d.email, "created": rfc3339(d.created_at), "deleted": d.is_deleted()})
        })
        .collect();
    let mut resource = json!({
        "schemas": [CORE_USER, MAMORI_USER],
        "id": user.id.to_string(),
        "userName": user.login_id,
        "displayName": user.display_name,
        "emails": emails,
        "active": user.status == UserStatus::Active,
        MAMORI_USER: {
            "loginMethod": user.login_method.as_str(),
            "locked": user.is_locked(),
            "devices": device_list,
        },
    });
    if let Some(external_id) = &user.external_id {
        resource["externalId"] = external_id.as_str().into();
    }
    if let Some(name) = name_value(user) {
        resource["name"] = name;
    }
    let version = version_of(&resource);
    resource["meta"] = json!({
        "resourceType": "User",
        "created": rfc3339(user.created_at),
        "lastModified": rfc3339(user.updated_at),
        "location": location,
        "version": version,
    });
    resource
}

/// `name`: the given and family names as a directory sent them; absent without either.
/// No `formatted`: the display name is `displayName`, and a server-made copy in `name`
/// would answer a client's PATCH of `name` with a value it did not send.
fn name_value(user: &User) -> Option<Value> {
    let mut name = Map::new();
    if let Some(given) = &user.given_name {
        name.insert("givenName".to_owned(), given.as_str().into());
    }
    if let Some(family) = &user.family_name {
        name.insert("familyName".to_owned(), family.as_str().into());
    }
    (!name.is_empty()).then_some(Value::Object(name))
}

/// A weak ETag over the representation: it changes whenever anything a client can read
/// does, including a device's address, which does not touch the user's own row.
fn version_of(resource: &Value) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(resource.to_string().as_bytes());
    format!("W/\"{}\"", hex::encode(&digest[..8]))
}

/// The values of a user that a directory may set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserFields {
    pub user_name: String,
    /// `None`: Mamori's default (the login ID).
    pub display_name: Option<String>,
    /// The primary address (the first device's).
    pub email: Option<String>,
    pub active: bool,
    pub external_id: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
}

impl UserFields {
    pub fn of(user: &User, devices: &[Device]) -> UserFields {
        let mut active: Vec<&Device> = devices.iter().filter(|d| !d.is_deleted()).collect();
        active.sort_by_key(|d| d.device_no);
        UserFields {
            user_name: user.login_id.clone(),
            display_name: Some(user.display_name.clone()),
            email: active.first().map(|d| d.email.clone()),
            active: user.status == UserStatus::Active,
            external_id: user.external_id.clone(),
            given_name: user.given_name.clone(),
            family_name: user.family_name.clone(),
        }
    }
}

fn invalid(detail: impl Into<String>) -> ScimError {
    ScimError::bad(ScimType::InvalidValue, detail)
}

fn string_of(value: &Value, what: &str) -> Result<String, ScimError> {
    value.as_str().map(str::to_owned).ok_or_else(|| invalid(format!("{what} must be a string")))
}

/// A JSON boolean (RFC 7643 §2.3.2: `true` or `false`, not the string `"False"`, which
/// would otherwise have to be guessed at).
fn bool_of(value: &Value, what: &str) -> Result<bool, ScimError> {
    match value {
        Value::Bool(b) => Ok(*b),
        _ => Err(invalid(format!("{what} must be the JSON boolean true or false"))),
    }
}

/// The sub-attributes of `name` Mamori keeps. Any other (`formatted`, `middleName`, …) is
/// not served: ignored in a document or a `name` value, refused as a PATCH path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NamePart {
    Given,
    Family,
}

impl NamePart {
    fn of(sub: &str) -> Option<NamePart> {
        if sub.eq_ignore_ascii_case("givenName") {
            Some(NamePart::Given)
        } else if sub.eq_ignore_ascii_case("familyName") {
            Some(NamePart::Family)
        } else {
            None
        }
    }

    fn slot(self, fields: &mut UserFields) -> &mut Option<String> {
        match self {
            NamePart::Given => &mut fields.given_name,
            NamePart::Family => &mut fields.family_name,
        }
    }
}

/// The given and family names of a `name` object (`None`: absent or null); the
/// sub-attributes Mamori does not keep are skipped, as a document's unknown attributes are.
fn name_parts(value: &Value) -> Result<Vec<(NamePart, Option<String>)>, ScimError> {
    let Value::Object(object) = value else { return Err(invalid("name must be an object")) };
    let mut parts = Vec::new();
    for (key, value) in object {
        if let Some(part) = NamePart::of(key) {
            let text = match value {
                Value::Null => None,
                other => Some(string_of(other, &format!("name.{key}"))?).filter(|t| !t.is_empty()),
            };
            parts.push((part, text));
        }
    }
    Ok(parts)
}

/// The display name given and family names imply, for a document without `displayName`.
fn joined_name(fields: &UserFields) -> Option<String> {
    let parts: Vec<&str> =
        [&fields.given_name, &fields.family_name].into_iter().flatten().map(|s| s.trim()).filter(|s| !s.is_empty()).collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// The address of an `emails` value Mamori keeps: the one marked primary, else the first
/// work address, else the first.
fn email_of(value: &Value) -> Result<Option<String>, ScimError> {
    kept_email(&email_items(value)?)
}

/// Whether an address (already checked by [`email_items`]) is marked primary.
fn is_primary(email: &Value) -> bool {
    get_ci(email, "primary").is_some_and(|p| p == &Value::Bool(true))
}

/// [`email_of`] on checked values.
fn kept_email(items: &[&Value]) -> Result<Option<String>, ScimError> {
    let is_work = |e: &&&Value| get_ci(e, "type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case(WORK));
    if items.iter().filter(|e| is_primary(e)).count() > 1 {
        return Err(invalid("emails: at most one address may be primary (RFC 7643 §2.4)"));
    }
    let primary = items.iter().find(|e| is_primary(e)).or_else(|| items.iter().find(is_work)).or(items.first());
    if let Some(chosen) = primary {
        check_work_type(chosen)?;
    }
    primary
        .map(|e| get_ci(e, "value").ok_or_else(|| invalid("each of emails needs a value")).and_then(|v| string_of(v, "emails.value")))
        .transpose()
}

/// The values of an `emails` attribute: a list, one object, or none for null. Each is
/// checked, the ones Mamori ignores too (a second address, a `home` one beside the
/// primary): a `primary` that is not a JSON boolean could not say which address is kept,
/// and an address that is no address is refused rather than passed over in silence.
fn email_items(value: &Value) -> Result<Vec<&Value>, ScimError> {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        Value::Object(_) => vec![value],
        Value::Null => Vec::new(),
        _ => return Err(invalid("emails must be a list of objects with a value")),
    };
    for item in &items {
        if !item.is_object() {
            return Err(invalid("emails must be a list of objects with a value"));
        }
        if let Some(primary) = get_ci(item, "primary").filter(|p| !p.is_null()) {
            bool_of(primary, "emails.primary")?;
        }
        if get_ci(item, "type").is_some_and(|t| !t.is_null() && !t.is_string()) {
            return Err(invalid("emails.type must be a string"));
        }
        let address =
            get_ci(item, "value").ok_or_else(|| invalid("each of emails needs a value")).and_then(|v| string_of(v, "emails.value"))?;
        if crate::fields::Email::parse(&address).is_err() {
            return Err(invalid(format!("emails: `{}` is not an address mail can be sent to", filter::shorten(&address))));
        }
    }
    Ok(items)
}

/// `add` to `emails` adds values (RFC 7644 §3.5.2.1); it does not replace the list.
/// Mamori keeps one address, so an added value replaces the kept one only when it is
/// marked primary (RFC 7643 §2.4: the others stop being primary) or when there is none
/// yet; any other added address is checked and then ignored, as a document's second
/// address is. `None`: keep the current address.
fn added_email(value: &Value, current: Option<&String>) -> Result<Option<String>, ScimError> {
    let items = email_items(value)?;
    // The address kept is checked to be a work one (`kept_email`); a second address of any
    // type is ignored, as in a document.
    if current.is_none() || items.iter().any(|e| is_primary(e)) { kept_email(&items) } else { Ok(None) }
}

/// Whether a value filter asks for an address of a type other than `work`
/// (`type eq "home"`), which Mamori does not keep.
fn names_other_type(inner: &filter::Filter) -> bool {
    use filter::{CompareOp, Filter};
    match inner {
        Filter::Compare(path, CompareOp::Eq, Value::String(t)) => {
            path.sub.is_none() && path.name.eq_ignore_ascii_case("type") && !t.eq_ignore_ascii_case(WORK)
        }
        Filter::And(a, b) | Filter::Or(a, b) => names_other_type(a) || names_other_type(b),
        _ => false,
    }
}

/// The address Mamori keeps must be a work address (or say no type): a device's address
/// receives its certificate and reissue mails, and Mamori has no place for a second,
/// private one. A `home` or `other` address is refused rather than kept as `work`.
fn check_work_type(email: &Value) -> Result<(), ScimError> {
    match get_ci(email, "type") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(t)) if t.eq_ignore_ascii_case(WORK) => Ok(()),
        Some(Value::String(t)) => Err(invalid(format!(
            "emails: Mamori keeps only work addresses (type \"work\"), where the device's certificate mails go; `{}` is not kept",
            filter::shorten(t)
        ))),
        Some(_) => Err(invalid("emails.type must be a string")),
    }
}

/// The attribute a core-URN-qualified name names (`urn:…:core:2.0:User:active` →
/// `active`); `None` for any other name. Byte-safe on any text.
fn core_attribute_of(key: &str) -> Option<&str> {
    let head = key.get(..CORE_USER.len()).filter(|h| h.eq_ignore_ascii_case(CORE_USER))?;
    key[head.len()..].strip_prefix(':').filter(|attribute| !attribute.is_empty())
}

/// The fields of a whole User document (POST, PUT). Read-only attributes are ignored
/// (RFC 7644 §3.3); a password is refused, since a Mamori user chooses it at enrollment.
pub fn fields_from_document(body: &Value) -> Result<UserFields, ScimError> {
    if !body.is_object() {
        return Err(ScimError::bad(ScimType::InvalidSyntax, "the body must be a JSON object"));
    }
    // `schemas` is required in every resource (RFC 7643 §3): a document without it may
    // be meant as another resource type, or be a PATCH sent with the wrong method.
    let listed = get_ci(body, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|u| u.as_str().is_some_and(|u| u.eq_ignore_ascii_case(CORE_USER))));
    if !listed {
        return Err(ScimError::bad(ScimType::InvalidSyntax, format!("schemas must list {CORE_USER} (RFC 7643 §3)")));
    }
    // In a resource, core attributes are top-level names (RFC 7643 §3); one spelled with
    // the schema's URN would otherwise be skipped as unknown (`…:User:active: false`
    // creating an active user).
    if let Value::Object(object) = body
        && let Some(key) = object.keys().find(|k| core_attribute_of(k).is_some())
    {
        let detail = format!("`{}`: in a document, core attributes are named without the schema URN", filter::shorten(key));
        return Err(ScimError::bad(ScimType::InvalidSyntax, detail));
    }
    if get_ci(body, "password").is_some_and(|p| !p.is_null()) {
        return Err(invalid("Mamori does not take passwords over SCIM: users choose theirs at enrollment"));
    }
    let user_name = get_ci(body, "userName").ok_or_else(|| invalid("userName is required")).and_then(|v| string_of(v, "userName"))?;
    let email = get_ci(body, "emails").map(email_of).transpose()?.flatten();
    let active = get_ci(body, "active").filter(|v| !v.is_null()).map(|v| bool_of(v, "active")).transpose()?.unwrap_or(true);
    let external_id = get_ci(body, "externalId").filter(|v| !v.is_null()).map(|v| string_of(v, "externalId")).transpose()?;
    let mut fields = UserFields { user_name, display_name: None, email, active, external_id, given_name: None, family_name: None };
    if let Some(name) = get_ci(body, "name").filter(|v| !v.is_null()) {
        for (part, text) in name_parts(name)? {
            *part.slot(&mut fields) = text;
        }
    }
    // Each name part by the display name's rule, named as sent (a refusal of the joined
    // display name would name a value the client never sent).
    for (field, part) in [("name.givenName", &fields.given_name), ("name.familyName", &fields.family_name)] {
        if let Some(part) = part {
            crate::admin::users::check_name_part(field, part)?;
        }
    }
    // `displayName` when the document has one; else what the name parts make.
    fields.display_name = match get_ci(body, "displayName").filter(|v| !v.is_null()) {
        Some(v) => Some(string_of(v, "displayName")?),
        None => match joined_name(&fields) {
            Some(joined) if crate::fields::DisplayName::parse(&joined).is_err() => {
                return Err(invalid(
                    "displayName is missing, and name.givenName and name.familyName joined make no display name (1 to 200 characters, in scripts used together): send a displayName",
                ));
            }
            joined => joined,
        },
    };
    Ok(fields)
}

/// Whether a resource document sets `attribute` (any case) to a value, not null.
pub fn asserts(body: &Value, attribute: &str) -> bool {
    get_ci(body, attribute).is_some_and(|v| !v.is_null())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Add,
    Replace,
    Remove,
}

/// Applies a PATCH request's operations, in order, to `fields` (RFC 7644 §3.5.2).
pub fn apply_patch(mut fields: UserFields, body: &Value) -> Result<UserFields, ScimError> {
    let listed = get_ci(body, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|u| u.as_str().is_some_and(|u| u.eq_ignore_ascii_case(PATCH_OP))));
    if !listed {
        return Err(ScimError::bad(ScimType::InvalidSyntax, format!("schemas must be [{PATCH_OP}]")));
    }
    let operations = get_ci(body, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::bad(ScimType::InvalidSyntax, "Operations must be a list"))?;
    if operations.is_empty() || operations.len() > MAX_PATCH_OPERATIONS {
        return Err(ScimError::bad(ScimType::InvalidSyntax, format!("Operations: 1 to {MAX_PATCH_OPERATIONS} operations")));
    }
    for operation in operations {
        let op = match get_ci(operation, "op").and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref() {
            Some("add") => Op::Add,
            Some("replace") => Op::Replace,
            Some("remove") => Op::Remove,
            _ => return Err(ScimError::bad(ScimType::InvalidSyntax, "op must be add, replace or remove")),
        };
        let value = get_ci(operation, "value");
        match get_ci(operation, "path").filter(|p| !p.is_null()) {
            Some(path) => {
                let path = path.as_str().ok_or_else(|| ScimError::bad(ScimType::InvalidPath, "path must be a string"))?;
                apply_path(&mut fields, op, path, value)?;
            }
            None if op == Op::Remove => return Err(ScimError::bad(ScimType::NoTarget, "remove needs a path")),
            None => {
                let Some(Value::Object(attributes)) = value else {
                    return Err(invalid("an operation without a path takes an object of attributes"));
                };
                // Each attribute once, however it is spelled (`active`, `urn:…:User:active`,
                // or inside the core URN's object): two spellings would be two answers.
                let mut named = std::collections::HashSet::new();
                // A `name` object names its parts: `name` with `givenName` beside a
                // `name.givenName` key is the given name twice.
                let mut once = |key: &str, value: &Value| {
                    let attribute = core_attribute_of(key).unwrap_or(key).to_ascii_lowercase();
                    let names: Vec<String> = match value {
                        Value::Object(parts) if attribute == "name" => {
                            parts.keys().map(|p| format!("name.{}", p.to_ascii_lowercase())).collect()
                        }
                        _ => vec![attribute],
                    };
                    for name in names {
                        if !named.insert(name) {
                            let detail = format!("`{}` is given twice in one operation", filter::shorten(key));
                            return Err(ScimError::bad(ScimType::InvalidSyntax, detail));
                        }
                    }
                    Ok(())
                };
                for (key, value) in attributes {
                    // The core schema's URN as a key holds core attributes (RFC 7644 §3.5.2.1).
                    if key.eq_ignore_ascii_case(CORE_USER) {
                        if let Value::Object(inner) = value {
                            for (key, value) in inner {
                                once(key, value)?;
                                apply_path(&mut fields, op, key, Some(value))?;
                            }
                        }
                        continue;
                    }
                    once(key, value)?;
                    apply_path(&mut fields, op, key, Some(value))?;
                }
            }
        }
    }
    Ok(fields)
}

/// Splits `emails[type eq "work"].value` into `emails`, the inner filter, and `value`.
fn split_value_path(path: &str) -> Result<(String, Option<filter::Filter>, Option<String>), ScimError> {
    let bad_path = |why: String| ScimError::bad(ScimType::InvalidPath, why);
    let Some(open) = path.find('[') else {
        let parsed = filter::parse_attr_path(path).map_err(|e| bad_path(e.0))?;
        return Ok((parsed.name, None, parsed.sub));
    };
    let close = path.rfind(']').filter(|c| *c > open).ok_or_else(|| bad_path("a `[` in the path is not closed".to_owned()))?;
    let attr = filter::parse_attr_path(&path[..open]).map_err(|e| bad_path(e.0))?;
    let inner = filter::parse(&path[open + 1..close]).map_err(|e| ScimError::bad(ScimType::InvalidFilter, e.0))?;
    let sub = match &path[close + 1..] {
        "" => None,
        rest => Some(
            rest.strip_prefix('.').filter(|s| !s.is_empty()).ok_or_else(|| bad_path("expected `.sub` after `]`".to_owned()))?.to_owned(),
        ),
    };
    Ok((attr.name, Some(inner), sub))
}

/// Whether a value filter names only sub-attributes of an address (`value`, `type`,
/// `primary`, `display`).
fn names_email_parts_only(inner: &filter::Filter) -> bool {
    use filter::Filter;
    const PARTS: [&str; 4] = ["value", "type", "primary", "display"];
    match inner {
        Filter::Compare(path, _, _) | Filter::Present(path) => {
            path.sub.is_none() && PARTS.iter().any(|p| path.name.eq_ignore_ascii_case(p))
        }
        Filter::And(a, b) | Filter::Or(a, b) => names_email_parts_only(a) && names_email_parts_only(b),
        Filter::Not(a) => names_email_parts_only(a),
        Filter::ValuePath(..) => false,
    }
}

/// Attributes of the core User schema (RFC 7643 §4.1) that Mamori does not keep. A PATCH
/// that sets them is accepted and they are ignored, as in a POST or PUT document: Entra
/// ID's and Okta's default mappings send `title`, `phoneNumbers`, `addresses`,
/// `preferredLanguage`…, and a PATCH is all or nothing, so refusing them would refuse
/// every update of such a user. (The Schemas endpoint does not list them.)
const IGNORED_CORE: [&str; 14] = [
    "nickname",
    "profileurl",
    "title",
    "usertype",
    "preferredlanguage",
    "locale",
    "timezone",
    "phonenumbers",
    "ims",
    "photos",
    "addresses",
    "entitlements",
    "roles",
    "x509certificates",
];

/// The parts of `name` Mamori does not keep; ignored like [`IGNORED_CORE`].
const IGNORED_NAME_PARTS: [&str; 4] = ["formatted", "middlename", "honorificprefix", "honorificsuffix"];

fn apply_path(fields: &mut UserFields, op: Op, path: &str, value: Option<&Value>) -> Result<(), ScimError> {
    let read_only = || ScimError::bad(ScimType::Mutability, format!("`{}` is read-only", filter::shorten(path)));
    if path.eq_ignore_ascii_case(MAMORI_USER) {
        return Err(read_only());
    }
    // The enterprise extension (employeeNumber, department, manager…): nothing of it is
    // kept, so a change to it is accepted and ignored (see IGNORED_CORE).
    if path.get(..filter::ENTERPRISE_USER.len()).is_some_and(|head| head.eq_ignore_ascii_case(filter::ENTERPRISE_USER)) {
        return Ok(());
    }
    let (name, value_filter, sub) = split_value_path(path)?;
    let lower = name.to_ascii_lowercase();
    // A value filter selects values of a multi-valued attribute (RFC 7644 §3.5.2): on
    // `externalId[…]` it would be ignored and the change made whatever it said.
    if let Some(inner) = &value_filter {
        // A multi-valued attribute Mamori does not keep (`phoneNumbers[type eq "work"]`).
        if IGNORED_CORE.contains(&lower.as_str()) {
            return Ok(());
        }
        if !name.eq_ignore_ascii_case("emails") {
            let detail = format!("`{}`: a value filter `[…]` applies to a multi-valued attribute (emails) only", filter::shorten(path));
            return Err(ScimError::bad(ScimType::InvalidPath, detail));
        }
        if !names_email_parts_only(inner) {
            let detail = format!("`{}`: an address filter names value, type, primary or display", filter::shorten(path));
            return Err(ScimError::bad(ScimType::InvalidPath, detail));
        }
        // The comparisons a list filter allows (`primary ne "true"` or `value ne null` are
        // refused there, and would select the kept address here).
        let email_part = |p: &filter::AttrPath| {
            if p.name.eq_ignore_ascii_case("primary") { Some(filter::AttrType::Boolean) } else { Some(filter::AttrType::String) }
        };
        filter::check_attributes(inner, &email_part).map_err(|e| ScimError::bad(ScimType::InvalidFilter, e.0))?;
    }
    let needs_value = || value.filter(|v| !v.is_null()).ok_or_else(|| invalid(format!("{op:?} `{path}` needs a value")));
    let sub_lower = sub.as_deref().map(str::to_ascii_lowercase);
    match (lower.as_str(), sub_lower.as_deref()) {
        ("username", None) => match op {
            Op::Remove => Err(ScimError::bad(ScimType::Mutability, "userName is required and cannot be removed")),
            // The same user ID in another case is the same user (userName is caseExact
            // false, RFC 7643 §4.1.1; LoginId::same_user): accepted, stored ID kept.
            _ => {
                let wanted = string_of(needs_value()?, "userName")?;
                if !crate::fields::LoginId::same_user(&wanted, &fields.user_name) {
                    return Err(ScimError::bad(ScimType::Mutability, "userName is immutable: Mamori cannot rename a user"));
                }
                fields.user_name = wanted;
                Ok(())
            }
        },
        ("displayname", None) => {
            fields.display_name = match op {
                Op::Remove => None,
                _ => Some(string_of(needs_value()?, "displayName")?),
            };
            Ok(())
        }
        ("name", Some(sub)) if IGNORED_NAME_PARTS.contains(&sub) => Ok(()),
        ("name", Some(sub)) => {
            let part = NamePart::of(sub).ok_or_else(|| {
                ScimError::bad(
                    ScimType::InvalidPath,
                    "`name` has no such part: Mamori keeps name.givenName and name.familyName (the display name is displayName)",
                )
            })?;
            *part.slot(fields) = match op {
                Op::Remove => None,
                _ => Some(string_of(needs_value()?, path)?).filter(|t| !t.is_empty()),
            };
            Ok(())
        }
        ("name", None) => {
            match op {
                Op::Remove => (fields.given_name, fields.family_name) = (None, None),
                _ => {
                    // Add and replace alike: the sub-attributes given are set, the others
                    // left as they are (RFC 7644 §3.5.2.3).
                    for (part, text) in name_parts(needs_value()?)? {
                        *part.slot(fields) = text;
                    }
                }
            }
            Ok(())
        }
        ("emails", None | Some("value")) => {
            if let Some(inner) = &value_filter {
                // The one address a directory sets is the user's work address.
                let current = fields.email.as_ref().map(|e| json!({"value": e, "primary": true, "type": WORK}));
                if !current.as_ref().is_some_and(|c| filter::matches(inner, c)) {
                    if names_other_type(inner) {
                        return Err(invalid("emails: Mamori keeps only work addresses (type \"work\"); the path names another type"));
                    }
                    if op != Op::Add {
                        return Err(ScimError::bad(ScimType::NoTarget, "no e-mail address matches the path's filter"));
                    }
                }
            }
            if op == Op::Remove {
                return Err(ScimError::bad(ScimType::Mutability, "Mamori needs an e-mail address: replace it instead"));
            }
            let value = needs_value()?;
            if sub.is_some() || value.is_string() {
                fields.email = Some(string_of(value, "emails.value")?);
            } else if op == Op::Add && value_filter.is_none() {
                if let Some(email) = added_email(value, fields.email.as_ref())? {
                    fields.email = Some(email);
                }
            } else {
                fields.email = email_of(value)?;
            }
            Ok(())
        }
        ("active", None) => match op {
            Op::Remove => Err(ScimError::bad(ScimType::Mutability, "active cannot be removed: set it to true or false")),
            _ => {
                fields.active = bool_of(needs_value()?, "active")?;
                Ok(())
            }
        },
        ("externalid", None) => {
            fields.external_id = match op {
                Op::Remove => None,
                _ => Some(string_of(needs_value()?, "externalId")?),
            };
            Ok(())
        }
        // Mamori reports every address as the primary work one: `display` and `primary`
        // are ignored; a `type` other than work is refused, as for a whole address.
        ("emails", Some("display" | "primary")) => Ok(()),
        ("emails", Some("type")) => match op {
            Op::Remove => Ok(()),
            _ => check_work_type(&json!({"type": needs_value()?})),
        },
        ("id" | "meta" | "groups", _) => Err(read_only()),
        _ if lower.eq_ignore_ascii_case(MAMORI_USER) => Err(read_only()),
        (ignored, _) if IGNORED_CORE.contains(&ignored) => Ok(()),
        _ => Err(ScimError::bad(ScimType::InvalidPath, format!("`{}` is not an attribute Mamori serves", filter::shorten(path)))),
    }
}

/// Narrows a resource to `attributes`, or drops `excluded_attributes` (RFC 7644
/// §3.4.2.5); `id` and `schemas` are always returned. Unknown names select nothing.
pub fn project(resource: Value, attributes: Option<&str>, excluded: Option<&str>) -> Result<Value, ScimError> {
    let parse_list = |list: &str| -> Result<Vec<filter::AttrPath>, ScimError> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .take(50)
            .map(|p| filter::parse_attr_path(p).map_err(|e| ScimError::bad(ScimType::InvalidPath, e.0)))
            .collect()
    };
    let Value::Object(mut object) = resource else { return Ok(resource) };
    let always = |key: &str| key == "id" || key == "schemas";
    if let Some(list) = attributes.filter(|l| !l.trim().is_empty()) {
        let mut kept = Map::new();
        for (key, value) in object.iter().filter(|(k, _)| always(k)) {
            kept.insert(key.clone(), value.clone());
        }
        for path in parse_list(list)? {
            let Some((key, value)) = object.iter().find(|(k, _)| k.eq_ignore_ascii_case(&path.name)) else { continue };
            match &path.sub {
                None => {
                    kept.insert(key.clone(), value.clone());
                }
                Some(sub) => {
                    let narrowed = narrow(value, sub);
                    match (kept.get_mut(key), narrowed) {
                        (Some(Value::Object(existing)), Value::Object(add)) => existing.extend(add),
                        (_, narrowed) => {
                            kept.insert(key.clone(), narrowed);
                        }
                    }
                }
            }
        }
        return Ok(Value::Object(kept));
    }
    if let Some(list) = excluded {
        for path in parse_list(list)? {
            let Some(key) = object.keys().find(|k| k.eq_ignore_ascii_case(&path.name) && !always(k)).cloned() else { continue };
            match &path.sub {
                None => {
                    object.remove(&key);
                }
                Some(sub) => {
                    if let Some(value) = object.get_mut(&key) {
                        remove_sub(value, sub);
                    }
                }
            }
        }
    }
    Ok(Value::Object(object))
}

fn narrow(value: &Value, sub: &str) -> Value {
    match value {
        Value::Object(o) => {
            Value::Object(o.iter().filter(|(k, _)| k.eq_ignore_ascii_case(sub)).map(|(k, v)| (k.clone(), v.clone())).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| narrow(i, sub)).collect()),
        other => other.clone(),
    }
}

fn remove_sub(value: &mut Value, sub: &str) {
    match value {
        Value::Object(o) => o.retain(|k, _| !k.eq_ignore_ascii_case(sub)),
        Value::Array(items) => items.iter_mut().for_each(|i| remove_sub(i, sub)),
        _ => {}
    }
}

#[cfg(test)]
#[path = "mapping_tests.rs"]
mod tests;
