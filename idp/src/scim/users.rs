//! RFC 7644 §3.3, §3.4.1, §3.5 and §3.6: `/Users/{id}` — create, read, replace, PATCH
//! and delete (listing is `list.rs`). Each change is a call of the admin service layer
//! (`admin::users`, `admin::user_sync`), which applies Mamori's rules and writes the
//! audit record with the token as actor: disabling ends the user's sessions and tokens,
//! deleting revokes the certificates. A PUT or PATCH is one compare-and-swap on the
//! user's version: all its changes or none, and a stale `If-Match` is a 412 even when
//! two writers race.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use mamori_storage::model::{ApiScope, Device, User, UserStatus};
use serde_json::Value;

use super::error::{ScimError, ScimType};
use super::mapping::{self, UserFields};
use super::{ScimCaller, base_url, scim_json};
use crate::admin::user_sync::{self, Applied, DirectoryChanges};
use crate::admin::users::{self as admin_users, NewUserInput};
use crate::admin::{AdminError, Principal};
use crate::state::SharedState;

type Result<T> = std::result::Result<T, ScimError>;

/// How often a PUT or PATCH reads the user again when another write slipped in between
/// its read and its compare-and-swap, before answering 409. Each round one of the racing
/// writers wins, so this many writers to one user at once all get through; a directory
/// sends a few at most (Entra ID and Okta serialise per user).
const CHANGE_ATTEMPTS: usize = 12;

/// A short random pause before the next attempt, so that the writers who lost a round do
/// not all arrive at the same instant again.
async fn back_off(attempt: usize) {
    let most = u64::try_from(attempt).unwrap_or(1).saturating_mul(3);
    tokio::time::sleep(std::time::Duration::from_millis(rand::random_range(0..=most))).await;
}

async fn devices_of(state: &SharedState, user: &User) -> Result<Vec<Device>> {
    // The principal reached the tenant in the service call that returned `user`.
    Ok(state.app.storage.devices().list_for_user(user.id, true).await.map_err(AdminError::from)?)
}

fn resource_with(state: &SharedState, slug: &str, user: &User, devices: &[Device]) -> Value {
    mapping::user_resource(user, devices, &format!("{}/Users/{}", base_url(state, slug), user.id))
}

pub(super) async fn resource_of(state: &SharedState, slug: &str, user: &User) -> Result<Value> {
    Ok(resource_with(state, slug, user, &devices_of(state, user).await?))
}

/// The query of a request on one resource (or a creation): each parameter once, and no
/// `filter`, which only a list applies; ignored, it would let a client believe its write
/// was conditional on it.
fn one_resource_parameters(pairs: Vec<(String, String)>) -> Result<HashMap<String, String>> {
    let q = super::list::single_parameters(pairs)?;
    if q.contains_key("filter") {
        return Err(ScimError::bad(ScimType::InvalidFilter, "filter applies to a list (GET /Users, .search), not to one user or a write"));
    }
    Ok(q)
}

pub(super) fn json_body(bytes: &Bytes) -> Result<Value> {
    super::json::parse(bytes)
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

/// Whether a conditional header's list (`*`, or entity tags) names the resource's
/// current version. An empty version never matches (no 304 or pass without an ETag).
fn names_current(list: &str, resource: &Value) -> bool {
    let current = opaque(resource["meta"]["version"].as_str().unwrap_or_default());
    !current.is_empty() && list.split(',').any(|t| t.trim() == "*" || opaque(t) == current)
}

fn header_text<'a>(headers: &'a HeaderMap, name: &header::HeaderName) -> Option<&'a str> {
    // An unreadable header names nothing (it can match no version).
    headers.get(name).map(|v| v.to_str().unwrap_or_default())
}

fn precondition_failed(detail: &str) -> ScimError {
    ScimError::new(StatusCode::PRECONDITION_FAILED, None, detail)
}

/// The preconditions of a change (RFC 7644 §3.14, RFC 7232 §3.1–§3.2): `If-Match`
/// must name the current version (or be `*`); `If-None-Match` must not (`*`: the user
/// exists, so it fails). Either failing is a 412.
fn check_preconditions(headers: &HeaderMap, resource: &Value) -> Result<()> {
    if let Some(wanted) = header_text(headers, &header::IF_MATCH)
        && !names_current(wanted, resource)
    {
        return Err(precondition_failed("the user has changed since that version (If-Match)"));
    }
    if let Some(unwanted) = header_text(headers, &header::IF_NONE_MATCH)
        && names_current(unwanted, resource)
    {
        return Err(precondition_failed("the user exists at that version (If-None-Match)"));
    }
    Ok(())
}

pub(super) async fn get(
    State(s): State<SharedState>,
    ScimCaller(p): ScimCaller,
    Path((slug, id)): Path<(String, String)>,
    Query(pairs): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Result<Response> {
    let q = one_resource_parameters(pairs)?;
    let (_, user) = admin_users::find_by_id(&s.app, &p, &slug, &id, ApiScope::Read).await?;
    let resource = resource_of(&s, &slug, &user).await?;
    // RFC 7232 §3.2: a GET whose If-None-Match names the current version (or is `*`:
    // the user exists) is answered 304, with the ETag it matched.
    if header_text(&headers, &header::IF_NONE_MATCH).is_some_and(|list| names_current(list, &resource)) {
        let mut response = resource_answer(StatusCode::NOT_MODIFIED, &resource, &q)?;
        *response.body_mut() = axum::body::Body::empty();
        response.headers_mut().remove(header::CONTENT_TYPE);
        return Ok(response);
    }
    if let Some(wanted) = header_text(&headers, &header::IF_MATCH)
        && !names_current(wanted, &resource)
    {
        return Err(precondition_failed("the user is not at that version (If-Match)"));
    }
    resource_answer(StatusCode::OK, &resource, &q)
}

pub(super) async fn create(
    State(s): State<SharedState>,
    ScimCaller(p): ScimCaller,
    Path(slug): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
    body: Bytes,
) -> Result<Response> {
    let q = one_resource_parameters(pairs)?;
    let fields = mapping::fields_from_document(&json_body(&body)?)?;
    let email = fields
        .email
        .clone()
        .ok_or_else(|| ScimError::bad(ScimType::InvalidValue, "emails: Mamori needs an e-mail address for the user's first device"))?;
    // Every value in the one insert: no reader ever sees the user active, or without its
    // externalId, for an instant (and a refused value leaves no user behind).
    let input = NewUserInput {
        login_id: fields.user_name.clone(),
        email,
        display_name: fields.display_name.clone(),
        disabled: !fields.active,
        external_id: fields.external_id.clone(),
        given_name: fields.given_name.clone(),
        family_name: fields.family_name.clone(),
        ..NewUserInput::default()
    };
    let user = admin_users::create(&s.app, &p, &slug, &input).await?;
    // The tenant's choice (policy `scim_enrollment_mail`); the user exists either way, so
    // a mail that cannot be queued is logged, not a failed creation the client would retry.
    if let Err(err) = user_sync::mail_enrollment(&s.app, &p, &slug, &user.login_id, &s.urls.main).await {
        tracing::warn!(error = %err, user = %user.id, "SCIM: the enrollment mail could not be queued");
    }
    // The user as this request made it (a mail ticket does not change what a client reads).
    let devices = devices_of(&s, &user).await?;
    resource_answer(StatusCode::CREATED, &resource_with(&s, &slug, &user, &devices), &q)
}

/// What makes Mamori's user what `wanted` says, in the service's terms; only the values
/// that differ are named (so a refusal or the audit names what the request changed).
fn directory_changes(user: &User, devices: &[Device], current: &UserFields, wanted: &UserFields) -> Result<DirectoryChanges> {
    // A change of case only is the same user (LoginId::same_user); the stored ID stays.
    if !crate::fields::LoginId::same_user(&wanted.user_name, &current.user_name) {
        return Err(ScimError::bad(ScimType::Mutability, "userName is immutable: Mamori cannot rename a user"));
    }
    let display_name = wanted.display_name.clone().unwrap_or_else(|| user.login_id.clone());
    let device_email = match (&wanted.email, &current.email) {
        (None, _) => return Err(ScimError::bad(ScimType::InvalidValue, "emails: Mamori needs an e-mail address")),
        (Some(new), Some(old)) if new == old => None,
        (Some(new), _) => {
            let first = devices
                .iter()
                .filter(|d| !d.is_deleted())
                .map(|d| d.device_no)
                .min()
                .ok_or_else(|| ScimError::bad(ScimType::NoTarget, "the user has no active device whose address could change"))?;
            Some((first, new.clone()))
        }
    };
    Ok(DirectoryChanges {
        display_name: (display_name != user.display_name).then_some(display_name),
        external_id: (wanted.external_id != current.external_id).then(|| wanted.external_id.clone()),
        given_name: (wanted.given_name != current.given_name).then(|| wanted.given_name.clone()),
        family_name: (wanted.family_name != current.family_name).then(|| wanted.family_name.clone()),
        status: (wanted.active != current.active).then_some(if wanted.active { UserStatus::Active } else { UserStatus::Disabled }),
        device_email,
    })
}

pub(super) async fn replace(
    State(s): State<SharedState>,
    ScimCaller(p): ScimCaller,
    Path((slug, id)): Path<(String, String)>,
    Query(pairs): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let q = one_resource_parameters(pairs)?;
    let target = Target { slug: &slug, id: &id };
    change(&s, &p, target, &q, &headers, &body, |current, body| {
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
    Query(pairs): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let q = one_resource_parameters(pairs)?;
    let target = Target { slug: &slug, id: &id };
    change(&s, &p, target, &q, &headers, &body, |current, body| mapping::apply_patch(current.clone(), body)).await
}

/// The user a request names: its tenant and its SCIM `id`.
#[derive(Clone, Copy)]
struct Target<'a> {
    slug: &'a str,
    id: &'a str,
}

/// PUT and PATCH: read the user, check the preconditions against it, compute what the
/// request wants instead (`wanted`), and apply that as one compare-and-swap on the
/// version read. When another write came in between, all of it again: a stale
/// `If-Match` then fails, a request without one applies to the user as it is now.
async fn change(
    s: &SharedState,
    p: &Principal,
    target: Target<'_>,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
    wanted: impl Fn(&UserFields, &Value) -> Result<UserFields>,
) -> Result<Response> {
    let Target { slug, id } = target;
    let (_, mut user) = admin_users::find_by_id(&s.app, p, slug, id, ApiScope::Write).await?;
    let body = json_body(body)?;
    for attempt in 1..=CHANGE_ATTEMPTS {
        if attempt > 1 {
            back_off(attempt).await;
            user = admin_users::find_by_id(&s.app, p, slug, id, ApiScope::Write).await?.1;
        }
        let devices = devices_of(s, &user).await?;
        check_preconditions(headers, &resource_with(s, slug, &user, &devices))?;
        let current = UserFields::of(&user, &devices);
        let changes = directory_changes(&user, &devices, &current, &wanted(&current, &body)?)?;
        // The answer is the state this write produced (read in its transaction), with
        // its ETag: never a later writer's.
        if let Applied::Done(user, devices) = user_sync::apply(&s.app, p, slug, &user.login_id, user.version, &changes).await? {
            return resource_answer(StatusCode::OK, &resource_with(s, slug, &user, &devices), q);
        }
    }
    Err(ScimError::new(StatusCode::CONFLICT, None, "the user kept changing while this request was applied: read it again and retry"))
}

pub(super) async fn delete(
    State(s): State<SharedState>,
    ScimCaller(p): ScimCaller,
    Path((slug, id)): Path<(String, String)>,
    Query(pairs): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Result<Response> {
    // Nothing in the query applies to a DELETE, but a doubled parameter is refused here as
    // everywhere, before anything is deleted.
    super::list::single_parameters(pairs)?;
    // As PUT and PATCH: the preconditions are checked on the version read, and the delete
    // happens only while the user is still at it, so of a PATCH and a DELETE holding
    // the same If-Match one wins and the other gets 412.
    let mut deleted = false;
    for attempt in 1..=CHANGE_ATTEMPTS {
        if attempt > 1 {
            back_off(attempt).await;
        }
        let (_, user) = admin_users::find_by_id(&s.app, &p, &slug, &id, ApiScope::Write).await?;
        check_preconditions(&headers, &resource_of(&s, &slug, &user).await?)?;
        if user_sync::delete_at_version(&s.app, &p, &slug, &user.login_id, user.version).await? {
            deleted = true;
            break;
        }
    }
    if !deleted {
        return Err(ScimError::new(
            StatusCode::CONFLICT,
            None,
            "the user kept changing while this request was applied: read it again and retry",
        ));
    }
    let mut response = scim_json(StatusCode::NO_CONTENT, &Value::Null);
    *response.body_mut() = axum::body::Body::empty();
    response.headers_mut().remove(header::CONTENT_TYPE);
    Ok(response)
}
