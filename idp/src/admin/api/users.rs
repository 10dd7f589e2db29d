//! /tenants/{tenant}/users: users, their devices and certificates, and the operators'
//! actions on them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mamori_storage::model::{UserQuery, UserStatus};

use super::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use super::problem::Problem;
use super::schema::{
    CertificateOut, DeviceEmailIn, DeviceOut, EnrollmentTicketOut, PageInfo, ReissueIn, ReissueOut, SessionOut, SessionsEndedOut,
    UserCreate, UserFilter, UserList, UserOut, UserUpdate, rfc3339,
};
use crate::admin::users::{self, NewUserInput, UserChanges};
use crate::admin::{AdminError, Paging};
use crate::state::SharedState;

type Result<T> = std::result::Result<T, Problem>;

/// List a tenant's users, filtered, by user ID.
#[utoipa::path(get, path = "/tenants/{tenant}/users", tag = "users",
    params(("tenant" = String, Path, description = "Tenant slug"), UserFilter),
    responses((status = 200, description = "Users", body = UserList)))]
pub async fn list(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath(slug): ApiPath<String>,
    ApiQuery(f): ApiQuery<UserFilter>,
) -> Result<Json<UserList>> {
    let status = f
        .status
        .as_deref()
        .map(|v| v.parse::<UserStatus>().map_err(|_| AdminError::Invalid(format!("status: `{v}` is not active or disabled"))))
        .transpose()?;
    let query = UserQuery { text: f.q, status, locked: f.locked };
    let listed = users::list(&s.app, &p, &slug, &query, Paging::new(f.offset, f.limit)?).await?;
    Ok(Json(UserList { page: PageInfo::from(&listed), items: listed.items.iter().map(UserOut::from).collect() }))
}

/// Create a user with one device (the e-mail address given).
#[utoipa::path(post, path = "/tenants/{tenant}/users", tag = "users", params(("tenant" = String, Path, description = "Tenant slug")),
    request_body = UserCreate, responses((status = 201, description = "Created", body = UserOut)))]
pub async fn create(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath(slug): ApiPath<String>,
    ApiJson(b): ApiJson<UserCreate>,
) -> Result<(StatusCode, Json<UserOut>)> {
    let input = NewUserInput {
        login_id: b.login_id,
        email: b.email,
        display_name: b.display_name,
        login_method: b.login_method,
        locale: b.locale,
        time_zone: b.time_zone,
        ..Default::default()
    };
    let user = users::create(&s.app, &p, &slug, &input).await?;
    Ok((StatusCode::CREATED, Json(UserOut::from(&user))))
}

/// Show a user.
#[utoipa::path(get, path = "/tenants/{tenant}/users/{login_id}", tag = "users",
    params(("tenant" = String, Path, description = "Tenant slug"), ("login_id" = String, Path, description = "User ID")),
    responses((status = 200, description = "The user", body = UserOut)))]
pub async fn get(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath((slug, login_id)): ApiPath<(String, String)>,
) -> Result<Json<UserOut>> {
    Ok(Json(UserOut::from(&users::get(&s.app, &p, &slug, &login_id).await?)))
}

/// Change a user's name, language, time zone or login method.
#[utoipa::path(patch, path = "/tenants/{tenant}/users/{login_id}", tag = "users",
    params(("tenant" = String, Path, description = "Tenant slug"), ("login_id" = String, Path, description = "User ID")),
    request_body = UserUpdate, responses((status = 200, description = "Updated", body = UserOut)))]
pub async fn update(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath((slug, login_id)): ApiPath<(String, String)>,
    ApiJson(b): ApiJson<UserUpdate>,
) -> Result<Json<UserOut>> {
    let changes = UserChanges { display_name: b.display_name, locale: b.locale, time_zone: b.time_zone, login_method: b.login_method };
    Ok(Json(UserOut::from(&users::update(&s.app, &p, &slug, &login_id, &changes).await?)))
}

/// Delete a user; their certificates are revoked.
#[utoipa::path(delete, path = "/tenants/{tenant}/users/{login_id}", tag = "users",
    params(("tenant" = String, Path, description = "Tenant slug"), ("login_id" = String, Path, description = "User ID")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath((slug, login_id)): ApiPath<(String, String)>,
) -> Result<StatusCode> {
    users::delete(&s.app, &p, &slug, &login_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Disable an account (its sessions end; its certificates log no one in).
#[utoipa::path(post, path = "/tenants/{tenant}/users/{login_id}/disable", tag = "users",
    params(("tenant" = String, Path, description = "Tenant slug"), ("login_id" = String, Path, description = "User ID")),
    responses((status = 200, description = "Disabled", body = UserOut)))]
pub async fn disable(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath((slug, login_id)): ApiPath<(String, String)>,
) -> Result<Json<UserOut>> {
    Ok(Json(UserOut::from(&users::set_status(&s.app, &p, &slug, &login_id, UserStatus::Disabled).await?)))
}

/// Re-enable a disabled account.
#[utoipa::path(post, path = "/tenants/{tenant}/users/{login_id}/enable", tag = "users",
    params(("tenant" = String, Path, description = "Tenant slug"), ("login_id" = String, Path, description = "User ID")),
    responses((status = 200, description = "Enabled", body = UserOut)))]
pub async fn enable(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath((slug, login_id)): ApiPath<(String, String)>,
) -> Result<Json<UserOut>> {
    Ok(Json(UserOut::from(&users::set_status(&s.app, &p, &slug, &login_id, UserStatus::Active).await?)))
}

/// Unlock a locked account and reset its failure counters.
#[utoipa::path(post, path = "/tenants/{tenant}/users/{login_id}/unlock", tag = "users",
    params(("tenant" = String, Path, description = "Tenant slug"), ("login_id" = String, Path, description = "User ID")),
    responses((status = 200, description = "Unlocked", body = UserOut)))]
pub async fn unlock(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath((slug, login_id)): ApiPath<(String, String)>,
) -> Result<Json<UserOut>> {
    Ok(Json(UserOut::from(&users::unlock(&s.app, &p, &slug, &login_id).await?)))
}

/// Make the user choose a new password at the next login.
#[utoipa::path(post, path = "/tenants/{tenant}/users/{login_id}/force-password-change", tag = "users",
    params(("tenant" = String, Path, description = "Tenant slug"), ("login_id" = String, Path, description = "User ID")),
    responses((status = 200, description = "Done", body = UserOut)))]
pub async fn force_password_change(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath((slug, login_id)): ApiPath<(String, String)>,
) -> Result<Json<UserOut>> {
    Ok(Json(UserOut::from(&users::force_password_change(&s.app, &p, &slug, &login_id).await?)))
}

/// Create an enrollment ticket (voiding older ones): the enrollment URL and the one-time
/// password, shown only in this response.
#[utoipa::path(post, path = "/tenants/{tenant}/users/{login_id}/enrollment-ticket", tag = "users",
    params(("tenant" = String, Path, description = "Tenant slug"), ("login_id" = String, Path, description = "User ID")),
    responses((status = 201, description = "Ticket created", body = EnrollmentTicketOut)))]
pub async fn enrollment_ticket(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath((slug, login_id)): ApiPath<(String, String)>,
) -> Result<(StatusCode, Json<EnrollmentTicketOut>)> {
    let issued = users::enrollment_ticket(&s.app, &p, &slug, &login_id, &s.urls.main).await?;
    let out = EnrollmentTicketOut {
        login_id: issued.login_id,
        url: issued.url,
        one_time_password: issued.one_time_password,
        expires_at: rfc3339(issued.expires_at),
    };
    Ok((StatusCode::CREATED, Json(out)))
}

/// Start a certificate reissue: a single-use link is mailed to the device's address.
#[utoipa::path(post, path = "/tenants/{tenant}/users/{login_id}/reissue-certificate", tag = "users",
    params(("tenant" = String, Path, description = "Tenant slug"), ("login_id" = String, Path, description = "User ID")),
    request_body = ReissueIn, responses((status = 202, description = "Link mailed", body = ReissueOut)))]
pub async fn reissue_certificate(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath((slug, login_id)): ApiPath<(String, String)>,
    ApiJson(b): ApiJson<ReissueIn>,
) -> Result<(StatusCode, Json<ReissueOut>)> {
    let started = users::reissue_certificate(&s.app, &p, &slug, &login_id, b.device_no, &s.urls.main).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ReissueOut { device_no: started.device_no, mailed_to: started.mailed_to, expires_at: rfc3339(started.expires_at) }),
    ))
}

/// A user's devices, deleted ones included.
#[utoipa::path(get, path = "/tenants/{tenant}/users/{login_id}/devices", tag = "users",
    params(("tenant" = String, Path, description = "Tenant slug"), ("login_id" = String, Path, description = "User ID")),
    responses((status = 200, description = "Devices", body = Vec<DeviceOut>)))]
pub async fn devices(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath((slug, login_id)): ApiPath<(String, String)>,
) -> Result<Json<Vec<DeviceOut>>> {
    Ok(Json(users::devices(&s.app, &p, &slug, &login_id).await?.iter().map(DeviceOut::from).collect()))
}

/// A user's certificates, newest first.
#[utoipa::path(get, path = "/tenants/{tenant}/users/{login_id}/certificates", tag = "users",
    params(("tenant" = String, Path, description = "Tenant slug"), ("login_id" = String, Path, description = "User ID")),
    responses((status = 200, description = "Certificates", body = Vec<CertificateOut>)))]
pub async fn certificates(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath((slug, login_id)): ApiPath<(String, String)>,
) -> Result<Json<Vec<CertificateOut>>> {
    Ok(Json(users::certificates(&s.app, &p, &slug, &login_id).await?.iter().map(CertificateOut::from).collect()))
}

/// Change the e-mail address of one of a user's devices (reissue links mailed to the old
/// address stop working; both addresses are told).
#[utoipa::path(put, path = "/tenants/{tenant}/users/{login_id}/devices/{device_no}/email", tag = "users",
    params(("tenant" = String, Path, description = "Tenant slug"), ("login_id" = String, Path, description = "User ID"),
        ("device_no" = u32, Path, description = "Device number")),
    request_body = DeviceEmailIn, responses((status = 200, description = "The device", body = DeviceOut)))]
pub async fn device_email(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath((slug, login_id, device_no)): ApiPath<(String, String, u32)>,
    ApiJson(b): ApiJson<DeviceEmailIn>,
) -> Result<Json<DeviceOut>> {
    Ok(Json(DeviceOut::from(&users::change_device_email(&s.app, &p, &slug, &login_id, device_no, &b.email).await?)))
}

/// A user's live sessions, oldest first.
#[utoipa::path(get, path = "/tenants/{tenant}/users/{login_id}/sessions", tag = "users",
    params(("tenant" = String, Path, description = "Tenant slug"), ("login_id" = String, Path, description = "User ID")),
    responses((status = 200, description = "Sessions", body = Vec<SessionOut>)))]
pub async fn sessions(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath((slug, login_id)): ApiPath<(String, String)>,
) -> Result<Json<Vec<SessionOut>>> {
    Ok(Json(users::sessions(&s.app, &p, &slug, &login_id).await?.iter().map(SessionOut::from).collect()))
}

/// End every session of a user on every node, with the tokens relying sites got from them.
#[utoipa::path(post, path = "/tenants/{tenant}/users/{login_id}/end-sessions", tag = "users",
    params(("tenant" = String, Path, description = "Tenant slug"), ("login_id" = String, Path, description = "User ID")),
    responses((status = 200, description = "Ended", body = SessionsEndedOut)))]
pub async fn end_sessions(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath((slug, login_id)): ApiPath<(String, String)>,
) -> Result<Json<SessionsEndedOut>> {
    Ok(Json(SessionsEndedOut { ended: users::end_sessions(&s.app, &p, &slug, &login_id).await? }))
}
