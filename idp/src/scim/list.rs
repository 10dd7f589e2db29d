//! RFC 7644 §3.4.2 and §3.4.3: listing and searching `/Users` with a filter, paging and
//! attribute selection. A filter naming an `id` or `externalId` is answered from the
//! index; one naming a user ID, name or address narrows the candidates by the storage's
//! text search; any other is evaluated on every user of the tenant, up to a bound.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use mamori_storage::model::{ApiScope, User, UserQuery};
use serde_json::{Value, json};

use super::discovery::MAX_RESULTS;
use super::error::{ScimError, ScimType};
use super::filter::{self, AttrPath, AttrType, KeyHint};
use super::mapping::{self, LIST_RESPONSE, SEARCH_REQUEST};
use super::users::{json_body, resource_of};
use super::{ScimCaller, scim_json};
use crate::admin::users as admin_users;
use crate::admin::{AdminError, Paging, Principal, user_sync};
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

/// The attribute paths a filter may name (what the representation has), with their
/// RFC 7643 types.
pub(super) fn type_of(path: &AttrPath) -> Option<AttrType> {
    let sub = path.sub.as_deref().map(str::to_ascii_lowercase);
    match (path.name.to_ascii_lowercase().as_str(), sub.as_deref()) {
        ("id" | "externalid", None) => Some(AttrType::ExactString),
        ("username" | "displayname" | "emails", None) => Some(AttrType::String),
        ("active", None) | ("emails", Some("primary")) => Some(AttrType::Boolean),
        ("name", Some("givenname" | "familyname")) | ("emails", Some("value" | "type")) => Some(AttrType::String),
        ("meta", Some("created" | "lastmodified")) => Some(AttrType::DateTime),
        ("meta", Some("resourcetype")) => Some(AttrType::String),
        (urn, Some("loginmethod")) if urn.eq_ignore_ascii_case(mapping::MAMORI_USER) => Some(AttrType::String),
        (urn, Some("locked")) if urn.eq_ignore_ascii_case(mapping::MAMORI_USER) => Some(AttrType::Boolean),
        _ => None,
    }
}

/// The users a key names (none when it names no user of the tenant).
async fn by_key(state: &SharedState, principal: &Principal, slug: &str, key: &KeyHint) -> Result<Vec<User>> {
    match key {
        KeyHint::Id(id) => match admin_users::find_by_id(&state.app, principal, slug, id, ApiScope::Read).await {
            Ok((_, user)) => Ok(vec![user]),
            // The tenant is checked first: a NotFound here is the user's.
            Err(AdminError::NotFound(_)) => {
                principal.tenant(&state.app, slug, ApiScope::Read).await?;
                Ok(Vec::new())
            }
            Err(other) => Err(other.into()),
        },
        KeyHint::ExternalId(external_id) => Ok(user_sync::find_by_external_id(&state.app, principal, slug, external_id).await?),
        KeyHint::UserName(user_name) => {
            Ok(user_sync::find_by_user_name(&state.app, principal, slug, user_name).await?.into_iter().collect())
        }
    }
}

/// The representations of the users `parsed` matches, in user-ID order.
async fn matching(state: &SharedState, principal: &Principal, slug: &str, parsed: &filter::Filter) -> Result<Vec<Value>> {
    let mut matched = Vec::new();
    if let Some(key) = filter::key_hint(parsed) {
        for user in by_key(state, principal, slug, &key).await? {
            let resource = resource_of(state, slug, &user).await?;
            if filter::matches(parsed, &resource) {
                matched.push(resource);
            }
        }
        return Ok(matched);
    }
    let query = UserQuery { text: filter::text_hint(parsed), ..UserQuery::default() };
    let mut offset = 0;
    loop {
        let listed = admin_users::list(&state.app, principal, slug, &query, Paging::new(Some(offset), Some(SCAN_PAGE))?).await?;
        if listed.total > MAX_SCANNED {
            return Err(ScimError::bad(
                ScimType::TooMany,
                format!("the filter would be evaluated on more than {MAX_SCANNED} users: filter on id, externalId, userName or emails"),
            ));
        }
        for user in &listed.items {
            let resource = resource_of(state, slug, user).await?;
            if filter::matches(parsed, &resource) {
                matched.push(resource);
            }
        }
        offset += SCAN_PAGE;
        if listed.items.is_empty() || offset >= listed.total {
            break;
        }
    }
    Ok(matched)
}

async fn run_list(state: &SharedState, principal: &Principal, slug: &str, request: ListRequest) -> Result<Response> {
    let start = request.start_index.max(1);
    let count = request.count.min(MAX_RESULTS);
    if request.filter.as_deref().is_some_and(|f| f.trim().is_empty()) {
        // An empty filter is no expression (RFC 7644 §3.4.2.2); answering with the whole
        // tenant would answer a question nobody asked.
        return Err(ScimError::bad(ScimType::InvalidFilter, "filter is empty: leave it out to list every user"));
    }
    let (total, page): (u64, Vec<Value>) = match request.filter.as_deref() {
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
            filter::check_attributes(&parsed, &type_of).map_err(|e| ScimError::bad(ScimType::InvalidFilter, e.0))?;
            let matched = matching(state, principal, slug, &parsed).await?;
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
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response> {
    let q = single_parameters(pairs)?;
    let request = ListRequest {
        filter: q.get("filter").cloned(),
        start_index: number(q.get("startIndex").map(String::as_str), "startIndex")?.unwrap_or(1),
        count: number(q.get("count").map(String::as_str), "count")?.unwrap_or(MAX_RESULTS),
        attributes: q.get("attributes").cloned(),
        excluded: q.get("excludedAttributes").cloned(),
    };
    run_list(&s, &p, &slug, request).await
}

/// The parameters RFC 7644 §3.4.2 names, in their spelling there.
const PARAMETERS: [&str; 7] = ["filter", "startIndex", "count", "attributes", "excludedAttributes", "sortBy", "sortOrder"];

/// The query's parameters, each at most once: with two `filter`s (or two counts) there is
/// no telling which one the client meant, and taking either would answer another
/// question than the one asked. The names of RFC 7644's parameters are matched ignoring
/// case (`Filter=` is the filter, never an unknown parameter that would list the whole
/// tenant), and stored in their RFC spelling.
pub(super) fn single_parameters(pairs: Vec<(String, String)>) -> Result<HashMap<String, String>> {
    let mut q = HashMap::new();
    for (key, value) in pairs {
        let key = PARAMETERS.iter().find(|p| p.eq_ignore_ascii_case(&key)).map_or(key, |p| (*p).to_owned());
        if q.contains_key(&key) {
            let scim_type = if key == "filter" { ScimType::InvalidFilter } else { ScimType::InvalidValue };
            return Err(ScimError::bad(scim_type, format!("the query gives `{}` more than once", super::filter::shorten(&key))));
        }
        q.insert(key, value);
    }
    Ok(q)
}

/// POST `/Users/.search` (RFC 7644 §3.4.3): the list's parameters in a body.
pub(super) async fn search(
    State(s): State<SharedState>,
    ScimCaller(p): ScimCaller,
    Path(slug): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
    body: Bytes,
) -> Result<Response> {
    // The search's parameters are in its body: one in the query would be ignored, and the
    // answer would not be to the question the client believes it asked.
    if let Some(key) = single_parameters(pairs)?.keys().find(|k| PARAMETERS.contains(&k.as_str())) {
        let detail = format!("`{key}` belongs in the SearchRequest body, not the query (RFC 7644 §3.4.3)");
        return Err(ScimError::bad(ScimType::InvalidValue, detail));
    }
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
            // A whole JSON number, as the query's digits: 2.0 or 2.9 is refused, not read as 0 or 2.
            Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(Some(n.as_i64().map_or(0, |n| u64::try_from(n).unwrap_or(0)))),
            Some(_) => Err(ScimError::bad(ScimType::InvalidValue, format!("{key} must be a whole number"))),
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
