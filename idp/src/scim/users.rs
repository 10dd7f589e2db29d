//! RFC 7644 §3.3–§3.6: `/Users` — create, read, list and search with a filter, replace,
//! PATCH and delete. Each change is a call of the admin service layer (`admin::users`),
//! which applies Mamori's rules and writes the audit record with the token as actor:
//! disabling ends the user's sessions and tokens, deleting revokes the certificates.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use mamori_storage::model::{ApiScope, User, UserQuery, UserStatus};
use serde_json::{Value, json};

use super::discovery::MAX_RESULTS;
use super::error::{ScimError, ScimType};
use super::filter::{self, AttrPath};
use super::mapping::{self, LIST_RESPONSE, SEARCH_REQUEST, UserFields};
use super::{ScimCaller, base_url, scim_json};
use crate::admin::users::{self as admin_users, NewUserInput, UserChanges};
use crate::admin::{Paging, Principal};
use crate::state::SharedState;

type Result<T> = std::result::Result<T, ScimError>;

/// The most users a filter is evaluated on: beyond it the filter must name a user ID,
/// a name or an address that narrows the candidates (`tooMany`).
const MAX_SCANNED: u64 = 10_000;
/// Users read per storage page while evaluating a filter.
const SCAN_PAGE: u64 = 500;

/// What a list or search asks for.
struct ListRequest {
    filter: Option<String>,
    start_index: u64,
    count: u64,
    attributes: Option<String>,
    excluded: Option<String>,
}

fn number(value: Option<&str>, what: &str) -> Result<Option<u64>> {
    match value {
        None => Ok(None),
        // A negative or zero startIndex means 1, a negative count 0 (RFC 7644 §3.4.2.4).
        Some(text) => match text.trim().parse::<i64>() {
            Ok(n) => Ok(Some(u64::try_from(n).unwrap_or(0))),
            Err(_) => Err(ScimError::bad(ScimType::InvalidValue, format!("{what} must be a whole number"))),
        },
    }
}

/// The attribute paths a filter may name: what the representation has.
fn filterable(path: &AttrPath) -> bool {
    let sub = path.sub.as_deref().map(str::to_ascii_lowercase);
    match (path.name.to_ascii_lowercase().as_str(), sub.as_deref()) {
        ("id" | "username" | "displayname" | "active" | "emails" | "externalid", None) => true,
        ("name", Some("formatted")) | ("emails", Some("value" | "primary")) => true,
        ("meta", Some("created" | "lastmodified" | "resourcetype")) => true,
        (urn, Some("loginmethod" | "locked")) => urn.eq_ignore_ascii_case(mapping::MAMORI_USER),
        _ => false,
    }
}

async fn resource_of(state: &SharedState, slug: &str, user: &User) -> Result<Value> {
    // The principal reached the tenant in the service call that returned `user`.
    let devices = state.app.storage.devices().list_for_user(user.id, true).await.map_err(crate::admin::AdminError::from)?;
    Ok(mapping::user_resource(user, &devices, &format!("{}/Users/{}", base_url(state, slug), user.id)))
}

async fn run_list(state: &SharedState, principal: &Principal, slug: &str, request: ListRequest) -> Result<Response> {
    let start = request.start_index.max(1);
    let count = request.count.min(MAX_RESULTS);
    let (total, page): (u64, Vec<Value>) = match request.filter.as_deref().filter(|f| !f.trim().is_empty()) {
        None => {
            let paging = Paging::new(Some(start - 1), Some(count.max(1))).map_err(ScimError::from)?;
            let listed = admin_users::list(&state.app, principal, slug, &UserQuery::default(), paging).await?;
            let mut page = Vec::new();
            for user in listed.items.iter().take(usize::try_from(count).unwrap_or(usize::MAX)) {
                page.push(resource_of(state, slug, user).await?);
            }
            (listed.total, page)
        }
        Some(text) => {
            let parsed = filter::parse(text).map_err(|e| ScimError::bad(ScimType::InvalidFilter, e.0))?;
            filter::check_attributes(&parsed, &filterable).map_err(|e| ScimError::bad(ScimType::InvalidFilter, e.0))?;
            let query = UserQuery { text: filter::text_hint(&parsed), ..UserQuery::default() };
            let mut matched = Vec::new();
            let mut offset = 0;
            loop {
                let listed = admin_users::list(&state.app, principal, slug, &query, Paging::new(Some(offset), Some(SCAN_PAGE))?).await?;
                if listed.total > MAX_SCANNED {
                    return Err(ScimError::bad(
                        ScimType::TooMany,
                        format!("the filter would be evaluated on more than {MAX_SCANNED} users: filter on userName or emails"),
                    ));
                }
                for user in &listed.items {
                    let resource = resource_of(state, slug, user).await?;
                    if filter::matches(&parsed, &resource) {
                        matched.push(resource);
                    }
                }
                offset += SCAN_PAGE;
                if listed.items.is_empty() || offset >= listed.total {
                    break;
                }
            }
            let total = matched.len() as u64;
            let skip = usize::try_from(start - 1).unwrap_or(usize::MAX);
            (total, matched.into_iter().skip(skip).take(usize::try_from(count).unwrap_or(usize::MAX)).collect())
        }
    };
    let mut resources = Vec::with_capacity(page.len());
    for resource in page {
        resources.push(mapping::project(resource, request.attributes.as_deref(), request.excluded.as_deref())?);
    }
    let body = json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    });
    Ok(scim_json(StatusCode::OK, &body))
}

pub(super) async fn list(
    State(s): State<SharedState>,
    ScimCaller(p): ScimCaller,
    Path(slug): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let request = ListRequest {
        filter: q.get("filter").cloned(),
        start_index: number(q.get("startIndex").map(String::as_str), "startIndex")?.unwrap_or(1),
        count: number(q.get("count").map(String::as_str), "count")?.unwrap_or(MAX_RESULTS),
        attributes: q.get("attributes").cloned(),
        excluded: q.get("excludedAttributes").cloned(),
    };
    run_list(&s, &p, &slug, request).await
}

/// POST `/Users/.search` (RFC 7644 §3.4.3): the list's parameters in a body.
pub(super) async fn search(
    State(s): State<SharedState>,
    ScimCaller(p): ScimCaller,
    Path(slug): Path<String>,
    body: Bytes,
) -> Result<Response> {
    let body = json_body(&body)?;
    let listed = mapping_schemas(&body).iter().any(|u| u.eq_ignore_ascii_case(SEARCH_REQUEST));
    if !listed {
        return Err(ScimError::bad(ScimType::InvalidSyntax, format!("schemas must be [{SEARCH_REQUEST}]")));
    }
    let text = |key: &str| -> Result<Option<String>> {
        match filter::get_ci(&body, key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Array(items)) => Ok(Some(items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","))),
            Some(_) => Err(ScimError::bad(ScimType::InvalidValue, format!("{key} must be a string or a list of strings"))),
        }
    };
    let whole = |key: &str| -> Result<Option<u64>> {
        match filter::get_ci(&body, key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(Some(n.as_i64().map_or(0, |n| u64::try_from(n).unwrap_or(0)))),
            Some(_) => Err(ScimError::bad(ScimType::InvalidValue, format!("{key} must be a number"))),
        }
    };
    let request = ListRequest {
        filter: text("filter")?,
        start_index: whole("startIndex")?.unwrap_or(1),
        count: whole("count")?.unwrap_or(MAX_RESULTS),
        attributes: text("attributes")?,
        excluded: text("excludedAttributes")?,
    };
    run_list(&s, &p, &slug, request).await
}

fn mapping_schemas(body: &Value) -> Vec<String> {
    filter::get_ci(body, "schemas")
        .and_then(Value::as_array)
        .map(|s| s.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

fn json_body(bytes: &Bytes) -> Result<Value> {
    serde_json::from_slice(bytes).map_err(|_| ScimError::bad(ScimType::InvalidSyntax, "the body is not valid JSON"))
}

/// The resource as an answer, with its ETag and, for a creation, its Location.
fn resource_answer(status: StatusCode, resource: &Value, q: &HashMap<String, String>) -> Result<Response> {
    let version = resource["meta"]["version"].as_str().unwrap_or_default().to_owned();
    let location = resource["meta"]["location"].as_str().unwrap_or_default().to_owned();
    let body =
        mapping::project(resource.clone(), q.get("attributes").map(String::as_str), q.get("excludedAttributes").map(String::as_str))?;
    let mut response = scim_json(status, &body);
    if let Ok(etag) = HeaderValue::from_str(&version) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    if status == StatusCode::CREATED
        && let Ok(location) = HeaderValue::from_str(&location)
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// An entity tag without its weakness mark: SCIM's versions are weak, and clients send
/// them back with or without `W/`.
fn opaque(tag: &str) -> &str {
    let tag = tag.trim();
    tag.strip_prefix("W/").unwrap_or(tag)
}

/// RFC 7644 §3.14: a change with `If-Match` goes ahead only on the version named.
fn check_if_match(headers: &HeaderMap, resource: &Value) -> Result<()> {
    let Some(wanted) = headers.get(header::IF_MATCH) else { return Ok(()) };
    let wanted = wanted.to_str().unwrap_or_default();
    let current = opaque(resource["meta"]["version"].as_str().unwrap_or_default());
    if wanted.split(',').any(|t| t.trim() == "*" || opaque(t) == current) {
        Ok(())
    } else {
        Err(ScimError::new(StatusCode::PRECONDITION_FAILED, None, "the user has changed since that version (If-Match)"))
    }
}

pub(super) async fn get(
    State(s): State<SharedState>,
    ScimCaller(p): ScimCaller,
    Path((slug, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response> {
    let (_, user) = admin_users::find_by_id(&s.app, &p, &slug, &id, ApiScope::Read).await?;
    let resource = resource_of(&s, &slug, &user).await?;
    let current = opaque(resource["meta"]["version"].as_str().unwrap_or_default()).to_owned();
    let unchanged =
        headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| v.split(',').any(|t| opaque(t) == current));
    if unchanged {
        let mut response = scim_json(StatusCode::NOT_MODIFIED, &Value::Null);
        *response.body_mut() = axum::body::Body::empty();
        return Ok(response);
    }
    resource_answer(StatusCode::OK, &resource, &q)
}

pub(super) async fn create(
    State(s): State<SharedState>,
    ScimCaller(p): ScimCaller,
    Path(slug): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response> {
    let fields = mapping::fields_from_document(&json_body(&body)?)?;
    let email = fields
        .email
        .clone()
        .ok_or_else(|| ScimError::bad(ScimType::InvalidValue, "emails: Mamori needs an e-mail address for the user's first device"))?;
    // Checked before the user exists: a refusal after it would leave a half-made user.
    fields.external_id.as_deref().map(admin_users::check_external_id).transpose()?;
    let input =
        NewUserInput { login_id: fields.user_name.clone(), email, display_name: fields.display_name.clone(), ..NewUserInput::default() };
    let mut user = admin_users::create(&s.app, &p, &slug, &input).await?;
    if let Some(external_id) = &fields.external_id {
        user = admin_users::set_external_id(&s.app, &p, &slug, &user.login_id, Some(external_id)).await?;
    }
    if !fields.active {
        user = admin_users::set_status(&s.app, &p, &slug, &user.login_id, UserStatus::Disabled).await?;
    }
    let resource = resource_of(&s, &slug, &user).await?;
    resource_answer(StatusCode::CREATED, &resource, &q)
}

/// Makes Mamori's user what `wanted` says, one service call per changed value (each
/// audited on its own). Not one transaction: a refusal part-way leaves the earlier
/// changes made, as the same calls through the admin API would.
async fn apply_changes(s: &SharedState, p: &Principal, slug: &str, user: &User, current: &UserFields, wanted: &UserFields) -> Result<()> {
    if wanted.user_name != current.user_name {
        return Err(ScimError::bad(ScimType::Mutability, "userName is immutable: Mamori cannot rename a user"));
    }
    let login_id = &user.login_id;
    let display_name = wanted.display_name.clone().unwrap_or_else(|| login_id.clone());
    if wanted.active && !current.active {
        admin_users::set_status(&s.app, p, slug, login_id, UserStatus::Active).await?;
    }
    if display_name != user.display_name {
        let changes = UserChanges { display_name: Some(display_name), ..UserChanges::default() };
        admin_users::update(&s.app, p, slug, login_id, &changes).await?;
    }
    if wanted.external_id != current.external_id {
        admin_users::set_external_id(&s.app, p, slug, login_id, wanted.external_id.as_deref()).await?;
    }
    match (&wanted.email, &current.email) {
        (None, _) => return Err(ScimError::bad(ScimType::InvalidValue, "emails: Mamori needs an e-mail address")),
        (Some(new), Some(old)) if new == old => {}
        (Some(new), _) => {
            let devices = s.app.storage.devices().list_for_user(user.id, false).await.map_err(crate::admin::AdminError::from)?;
            let first = devices
                .iter()
                .map(|d| d.device_no)
                .min()
                .ok_or_else(|| ScimError::bad(ScimType::NoTarget, "the user has no active device whose address could change"))?;
            admin_users::change_device_email(&s.app, p, slug, login_id, first, new).await?;
        }
    }
    if !wanted.active && current.active {
        admin_users::set_status(&s.app, p, slug, login_id, UserStatus::Disabled).await?;
    }
    Ok(())
}

pub(super) async fn replace(
    State(s): State<SharedState>,
    ScimCaller(p): ScimCaller,
    Path((slug, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    change(&s, &p, &slug, &id, &q, &headers, &body, |current, body| {
        let mut wanted = mapping::fields_from_document(body)?;
        // A directory that does not map `active` must not re-enable an account an operator
        // disabled: left out, it is not asserted (RFC 7644 §3.5.1 allows either reading).
        if !mapping::asserts(body, "active") {
            wanted.active = current.active;
        }
        Ok(wanted)
    })
    .await
}

pub(super) async fn patch(
    State(s): State<SharedState>,
    ScimCaller(p): ScimCaller,
    Path((slug, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    change(&s, &p, &slug, &id, &q, &headers, &body, |current, body| mapping::apply_patch(current.clone(), body)).await
}

/// PUT and PATCH: the user as it is (If-Match checked against it), what the request
/// wants instead (`wanted`), the changes made through the service, the user as it is now.
#[allow(clippy::too_many_arguments)]
async fn change(
    s: &SharedState,
    p: &Principal,
    slug: &str,
    id: &str,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
    wanted: impl FnOnce(&UserFields, &serde_json::Value) -> Result<UserFields>,
) -> Result<Response> {
    let (_, user) = admin_users::find_by_id(&s.app, p, slug, id, ApiScope::Write).await?;
    let body = json_body(body)?;
    let devices = s.app.storage.devices().list_for_user(user.id, true).await.map_err(crate::admin::AdminError::from)?;
    check_if_match(headers, &resource_of(s, slug, &user).await?)?;
    let current = UserFields::of(&user, &devices);
    let wanted = wanted(&current, &body)?;
    apply_changes(s, p, slug, &user, &current, &wanted).await?;
    let (_, user) = admin_users::find_by_id(&s.app, p, slug, id, ApiScope::Read).await?;
    resource_answer(StatusCode::OK, &resource_of(s, slug, &user).await?, q)
}

pub(super) async fn delete(
    State(s): State<SharedState>,
    ScimCaller(p): ScimCaller,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response> {
    let (_, user) = admin_users::find_by_id(&s.app, &p, &slug, &id, ApiScope::Write).await?;
    check_if_match(&headers, &resource_of(&s, &slug, &user).await?)?;
    admin_users::delete(&s.app, &p, &slug, &user.login_id).await?;
    let mut response = scim_json(StatusCode::NO_CONTENT, &Value::Null);
    *response.body_mut() = axum::body::Body::empty();
    response.headers_mut().remove(header::CONTENT_TYPE);
    Ok(response)
}
