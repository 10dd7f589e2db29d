//! Users: the operators' everyday tasks, on top of the same flows the user pages and the
//! CLI use (enrollment tickets, certificate reissue, lockout).

use mamori_storage::model::{ApiScope, Certificate, Device, DeviceType, Locale, LoginMethod, NewUser, Tenant, User, UserQuery, UserStatus};

use super::{AdminError, Listed, Paging, Principal, audit};
use crate::app::App;
use crate::flows::enrollment::IssuedEnrollment;
use crate::flows::events::Attempt;

/// What an operator gives to create a user.
#[derive(Clone, Debug, Default)]
pub struct NewUserInput {
    pub login_id: String,
    /// The address of the first device.
    pub email: String,
    pub display_name: Option<String>,
    /// The tenant's default when absent.
    pub login_method: Option<String>,
    /// `ja` when absent.
    pub locale: Option<String>,
    /// `Asia/Tokyo` when absent.
    pub time_zone: Option<String>,
    /// Created disabled (a provisioning client's `active: false`), in the same insert.
    pub disabled: bool,
    /// A provisioning client's identifier (SCIM `externalId`), in the same insert.
    pub external_id: Option<String>,
    /// SCIM `name.givenName` / `name.familyName`, kept as sent.
    pub given_name: Option<String>,
    pub family_name: Option<String>,
}

/// Changes to a user; absent fields stay.
#[derive(Clone, Debug, Default)]
pub struct UserChanges {
    pub display_name: Option<String>,
    pub locale: Option<String>,
    pub time_zone: Option<String>,
    pub login_method: Option<String>,
}

use crate::fields::{DisplayName, Email, FieldError, LoginId};

fn parse_method(tenant: &Tenant, text: &str) -> Result<LoginMethod, AdminError> {
    let method: LoginMethod = text.parse().map_err(|_| {
        let known: Vec<&str> = LoginMethod::ALL.iter().map(|m| m.as_str()).collect();
        AdminError::Invalid(format!("login_method: `{text}` is not one of {}", known.join(", ")))
    })?;
    if !tenant.policy.allowed_login_methods.contains(&method) {
        return Err(AdminError::Invalid(format!("login_method: the tenant's policy does not allow `{method}`")));
    }
    Ok(method)
}

fn parse_locale(text: &str) -> Result<Locale, AdminError> {
    text.parse().map_err(|_| AdminError::Invalid(format!("locale: `{text}` is not ja or en")))
}

fn check_time_zone(tz: &str) -> Result<(), AdminError> {
    if tz.len() <= 64 && jiff::tz::TimeZone::get(tz).is_ok() {
        Ok(())
    } else {
        Err(AdminError::Invalid(format!("time_zone: `{tz}` is not an IANA time zone")))
    }
}

pub(crate) fn target(tenant: &Tenant, login_id: &str) -> String {
    format!("tenant:{}/user:{login_id}", tenant.slug)
}

/// The user `login_id` of a tenant the principal reaches, for reading: whatever changes
/// the user goes through [`find_to_change`].
pub async fn find(app: &App, principal: &Principal, slug: &str, login_id: &str, scope: ApiScope) -> Result<(Tenant, User), AdminError> {
    let tenant = principal.tenant(app, slug, scope).await?;
    let user = app
        .storage
        .users()
        .get_by_login_id(tenant.id, login_id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("no user `{login_id}` in tenant `{slug}`")))?;
    Ok((tenant, user))
}

/// The user whose UUID is `id` (how SCIM names a user: its `id` must never change, and a
/// login ID is what people type), in a tenant the principal reaches. A malformed id, a
/// missing user and another tenant's user are all "not found". The id is matched as
/// served (lower-case, hyphenated): SCIM's `id` is `caseExact`, and a filter `id eq` on
/// another spelling finds nothing, so a read by it must not find the user either.
pub async fn find_by_id(app: &App, principal: &Principal, slug: &str, id: &str, scope: ApiScope) -> Result<(Tenant, User), AdminError> {
    let tenant = principal.tenant(app, slug, scope).await?;
    let not_found = || AdminError::NotFound(format!("no user `{}` in tenant `{slug}`", id.chars().take(60).collect::<String>()));
    let id: uuid::Uuid = id.parse().ok().filter(|u: &uuid::Uuid| u.hyphenated().to_string() == id).ok_or_else(not_found)?;
    match app.storage.users().get(id).await {
        Ok(user) if user.tenant_id == tenant.id => Ok((tenant, user)),
        Ok(_) | Err(mamori_storage::StorageError::NotFound) => Err(not_found()),
        Err(other) => Err(other.into()),
    }
}

/// The user `login_id`, for `action`, which changes the user or hands out its
/// credentials: the one place where the rule "no principal acts on a user whose operator
/// role is wider than its own" ([`Principal::may_act_on`]) is applied, for every surface.
/// A refusal is audited and answers 403 (the user's existence is no secret to someone
/// who may list the tenant's users).
pub(crate) async fn find_to_change(
    app: &App,
    principal: &Principal,
    slug: &str,
    login_id: &str,
    action: &str,
) -> Result<(Tenant, User), AdminError> {
    let (tenant, user) = find(app, principal, slug, login_id, ApiScope::Write).await?;
    check_may_act_on(app, principal, &tenant, &user, action).await?;
    Ok((tenant, user))
}

/// [`Principal::may_act_on`] for `user`, auditing a refusal; for callers that found the
/// user by other means (a certificate's serial).
pub(crate) async fn check_may_act_on(
    app: &App,
    principal: &Principal,
    tenant: &Tenant,
    user: &User,
    action: &str,
) -> Result<(), AdminError> {
    let roles = app.storage.admin_roles().list_for_user(user.id).await?;
    if principal.may_act_on(&roles) {
        return Ok(());
    }
    let held: Vec<&str> = roles.iter().map(|r| r.role.as_str()).collect();
    let details = serde_json::json!({"reason": "target-holds-wider-role", "target_roles": held});
    audit::record_refused(app, principal, Some(tenant.id), action, &target(tenant, &user.login_id), details).await;
    Err(AdminError::WiderRole)
}

pub async fn list(app: &App, principal: &Principal, slug: &str, query: &UserQuery, paging: Paging) -> Result<Listed<User>, AdminError> {
    let tenant = principal.tenant(app, slug, ApiScope::Read).await?;
    let page = app.storage.users().search(tenant.id, query, paging.offset, paging.limit).await?;
    Ok(Listed::from_page(page, paging))
}

pub async fn get(app: &App, principal: &Principal, slug: &str, login_id: &str) -> Result<User, AdminError> {
    Ok(find(app, principal, slug, login_id, ApiScope::Read).await?.1)
}

/// Checks a new user's values without writing anything (also used by the CSV import).
pub fn prepare_new_user(tenant: &Tenant, input: &NewUserInput) -> Result<NewUser, AdminError> {
    let login_id = LoginId::parse(&input.login_id)?;
    Email::parse(&input.email)?;
    let method = match input.login_method.as_deref().filter(|m| !m.is_empty()) {
        Some(m) => parse_method(tenant, m)?,
        None => tenant.policy.default_login_method,
    };
    let mut new = NewUser::new(tenant.id, login_id.into_string(), method);
    if let Some(name) = input.display_name.as_deref().filter(|n| !n.is_empty()) {
        new.display_name = DisplayName::parse(name)?.into_string();
    }
    if let Some(locale) = input.locale.as_deref().filter(|l| !l.is_empty()) {
        new.locale = parse_locale(locale)?;
    }
    if let Some(tz) = input.time_zone.as_deref().filter(|t| !t.is_empty()) {
        check_time_zone(tz)?;
        new.time_zone = tz.to_owned();
    }
    if let Some(external_id) = &input.external_id {
        check_external_id(external_id)?;
    }
    for (field, part) in [("given_name", &input.given_name), ("family_name", &input.family_name)] {
        if let Some(part) = part {
            check_name_part(field, part)?;
        }
    }
    new.external_id = input.external_id.clone();
    new.given_name = input.given_name.clone();
    new.family_name = input.family_name.clone();
    if input.disabled {
        new.status = UserStatus::Disabled;
    }
    Ok(new)
}

/// Creates a user with its first device; no half-made user remains if the device fails.
/// A method whose only other factor is the certificate (or nothing) is not given to a
/// user without a passkey: the first passkey would otherwise be registered on the
/// strength of the certificate alone. Such users register one on the account page first
/// (or at enrollment, for new users); `cert+password+passkey` registers it at the next
/// login, after the certificate and the password.
pub async fn check_passkey_for(app: &App, user: &User, method: LoginMethod) -> Result<(), AdminError> {
    if method.needs_passkey() && !method.needs_password() && app.storage.passkeys().count_for_user(user.id).await? == 0 {
        return Err(AdminError::Invalid(format!(
            "login_method: `{method}` needs a passkey and the user has none: the user adds one on the account page first (or a new enrollment registers one)"
        )));
    }
    Ok(())
}

pub async fn create_in(app: &App, principal: &Principal, tenant: &Tenant, input: &NewUserInput) -> Result<User, AdminError> {
    let new = prepare_new_user(tenant, input)?;
    // The user and the device its enrollment needs are one transaction: neither without
    // the other, even if the database goes away in between.
    let (user, _device) =
        app.storage.devices().create_user_with_device(&new, DeviceType::Pc, &input.email, tenant.policy.max_devices, app.now()).await?;
    audit::record(
        app,
        principal,
        Some(tenant.id),
        "user.create",
        &target(tenant, &user.login_id),
        serde_json::json!({"email": input.email, "login_method": user.login_method, "status": user.status.as_str(), "external_id": user.external_id}),
    )
    .await;
    Ok(user)
}

pub async fn create(app: &App, principal: &Principal, slug: &str, input: &NewUserInput) -> Result<User, AdminError> {
    let tenant = principal.tenant(app, slug, ApiScope::Write).await?;
    create_in(app, principal, &tenant, input).await
}

pub async fn update(app: &App, principal: &Principal, slug: &str, login_id: &str, changes: &UserChanges) -> Result<User, AdminError> {
    let (tenant, user) = find_to_change(app, principal, slug, login_id, "user.update").await?;
    // Only a new name is checked: a stored one from before a stricter rule must not block
    // changing the language or the method.
    if let Some(name) = &changes.display_name {
        DisplayName::parse(name)?;
    }
    let display_name = changes.display_name.clone().unwrap_or_else(|| user.display_name.clone());
    let locale = changes.locale.as_deref().map(parse_locale).transpose()?.unwrap_or(user.locale);
    let time_zone = changes.time_zone.clone().unwrap_or_else(|| user.time_zone.clone());
    if changes.time_zone.is_some() {
        check_time_zone(&time_zone)?;
    }
    let method = changes.login_method.as_deref().map(|m| parse_method(&tenant, m)).transpose()?;
    if let Some(method) = method.filter(|m| *m != user.login_method) {
        check_passkey_for(app, &user, method).await?;
    }
    let now = app.now();
    app.storage.users().update_profile(user.id, &display_name, locale, &time_zone, now).await?;
    if let Some(method) = method.filter(|m| *m != user.login_method) {
        app.storage.users().set_login_method(user.id, method, now).await?;
        // Sessions opened under the old method may lack a factor the new one needs.
        crate::flows::session_end::end_all(app, user.id).await?;
    }
    let details = serde_json::json!({"display_name": changes.display_name, "locale": changes.locale, "time_zone": changes.time_zone, "login_method": changes.login_method});
    audit::record(app, principal, Some(tenant.id), "user.update", &target(&tenant, login_id), details).await;
    Ok(app.storage.users().get(user.id).await?)
}

/// The longest `externalId` kept (Entra ID's and Okta's identifiers are far shorter).
pub const MAX_EXTERNAL_ID_CHARS: usize = 255;

/// Checks an `externalId` before anything is written (a creation checks it before the
/// user exists, so that a refusal leaves no user behind).
pub fn check_external_id(id: &str) -> Result<(), AdminError> {
    // Invisible and bidirectional controls too: an externalId is shown in the console and
    // the audit trail, where U+202E would turn what follows it around.
    if id.is_empty() || id.chars().count() > MAX_EXTERNAL_ID_CHARS || id.chars().any(|c| c.is_control() || crate::fields::is_invisible(c)) {
        return Err(AdminError::Invalid(format!(
            "externalId: 1 to {MAX_EXTERNAL_ID_CHARS} characters, no control, invisible or bidirectional characters"
        )));
    }
    Ok(())
}

/// A given or family name (`field`: `given_name`, `family_name`) follows the display
/// name's rule, and a refusal names the field that was sent.
pub fn check_name_part(field: &'static str, part: &str) -> Result<(), AdminError> {
    DisplayName::parse(part).map_err(|e| FieldError { field, detail: e.detail.replacen("display_name", field, 1), ..e })?;
    Ok(())
}

/// The one enabled super-admin is not disabled or deleted, by any surface: with none
/// left, nobody could administer the installation again (a SCIM token of the operators'
/// tenant could otherwise lock everyone out). Refused and audited as a conflict.
pub(crate) async fn check_not_last_super_admin(
    app: &App,
    principal: &Principal,
    tenant: &Tenant,
    user: &User,
    action: &str,
) -> Result<(), AdminError> {
    use mamori_storage::model::AdminRoleKind;
    if user.status != UserStatus::Active {
        return Ok(());
    }
    let roles = app.storage.admin_roles().list_all().await?;
    if !roles.iter().any(|r| r.user_id == user.id && r.role == AdminRoleKind::SuperAdmin) {
        return Ok(());
    }
    let mut others: Vec<uuid::Uuid> =
        roles.iter().filter(|r| r.role == AdminRoleKind::SuperAdmin && r.user_id != user.id).map(|r| r.user_id).collect();
    others.sort_unstable();
    others.dedup();
    for other in others {
        if app.storage.users().get(other).await.is_ok_and(|u| u.status == UserStatus::Active) {
            return Ok(());
        }
    }
    let details = serde_json::json!({"reason": "last-super-admin"});
    audit::record_refused(app, principal, Some(tenant.id), action, &target(tenant, &user.login_id), details).await;
    Err(AdminError::Conflict(format!("`{}` is the last enabled super-admin: make another one first", user.login_id)))
}

/// Sets or clears the identifier a provisioning client gave the user (SCIM `externalId`).
pub async fn set_external_id(
    app: &App,
    principal: &Principal,
    slug: &str,
    login_id: &str,
    external_id: Option<&str>,
) -> Result<User, AdminError> {
    external_id.map(check_external_id).transpose()?;
    let (tenant, user) = find_to_change(app, principal, slug, login_id, "user.external-id").await?;
    app.storage.users().set_external_id(user.id, external_id, app.now()).await?;
    let details = serde_json::json!({"from": user.external_id, "to": external_id});
    audit::record(app, principal, Some(tenant.id), "user.external-id", &target(&tenant, login_id), details).await;
    Ok(app.storage.users().get(user.id).await?)
}

/// Disables (ending the user's sessions) or re-enables an account.
pub async fn set_status(app: &App, principal: &Principal, slug: &str, login_id: &str, status: UserStatus) -> Result<User, AdminError> {
    let action = if status == UserStatus::Disabled { "user.disable" } else { "user.enable" };
    let (tenant, user) = find_to_change(app, principal, slug, login_id, action).await?;
    if status == UserStatus::Disabled {
        check_not_last_super_admin(app, principal, &tenant, &user, action).await?;
    }
    app.storage.users().set_status(user.id, status, app.now()).await?;
    if status == UserStatus::Disabled {
        crate::flows::session_end::shut_out(app, user.id).await?;
    }
    audit::record(app, principal, Some(tenant.id), action, &target(&tenant, login_id), serde_json::json!({})).await;
    Ok(app.storage.users().get(user.id).await?)
}

/// Deletes the user; their certificates are revoked first so none keeps working.
pub async fn delete(app: &App, principal: &Principal, slug: &str, login_id: &str) -> Result<(), AdminError> {
    let (tenant, user) = find_to_change(app, principal, slug, login_id, "user.delete").await?;
    check_not_last_super_admin(app, principal, &tenant, &user, "user.delete").await?;
    let now = app.now();
    app.storage.certificates().revoke_for_user(user.id, mamori_ca::RevocationReason::CessationOfOperation.as_str(), now).await?;
    // Sessions in Redis are out of reach of the database's cascade.
    crate::flows::session_end::shut_out(app, user.id).await?;
    app.storage.users().delete(user.id).await?;
    audit::record(app, principal, Some(tenant.id), "user.delete", &target(&tenant, login_id), serde_json::json!({})).await;
    Ok(())
}

pub async fn unlock(app: &App, principal: &Principal, slug: &str, login_id: &str) -> Result<User, AdminError> {
    let (tenant, user) = find_to_change(app, principal, slug, login_id, "user.unlock").await?;
    app.storage.users().unlock(user.id, app.now()).await?;
    audit::record(
        app,
        principal,
        Some(tenant.id),
        "user.unlock",
        &target(&tenant, login_id),
        serde_json::json!({"was_locked": user.is_locked()}),
    )
    .await;
    Ok(app.storage.users().get(user.id).await?)
}

pub async fn force_password_change(app: &App, principal: &Principal, slug: &str, login_id: &str) -> Result<User, AdminError> {
    let (tenant, user) = find_to_change(app, principal, slug, login_id, "user.force-password-change").await?;
    app.storage.users().set_password_must_change(user.id, true, app.now()).await?;
    audit::record(app, principal, Some(tenant.id), "user.force-password-change", &target(&tenant, login_id), serde_json::json!({})).await;
    Ok(app.storage.users().get(user.id).await?)
}

/// A fresh enrollment ticket (flow 1); the URL and one-time password are shown once.
pub async fn enrollment_ticket(
    app: &App,
    principal: &Principal,
    slug: &str,
    login_id: &str,
    public_url: &str,
) -> Result<IssuedEnrollment, AdminError> {
    let (tenant, user) = find_to_change(app, principal, slug, login_id, "user.enrollment-ticket").await?;
    if user.status == UserStatus::Disabled {
        return Err(AdminError::Conflict("the account is disabled: enable it first".to_owned()));
    }
    let issued = crate::flows::enrollment::issue_enrollment_ticket(app, &tenant, &user, public_url).await?;
    audit::record(
        app,
        principal,
        Some(tenant.id),
        "user.enrollment-ticket",
        &target(&tenant, login_id),
        serde_json::json!({"expires_at": issued.expires_at.unix_timestamp()}),
    )
    .await;
    Ok(issued)
}

/// Outcome of starting a certificate reissue.
#[derive(Clone, Debug)]
pub struct ReissueStarted {
    pub device_no: u32,
    pub mailed_to: String,
    pub expires_at: time::OffsetDateTime,
}

/// Starts a certificate reissue (flow 6) for one device: a single-use link goes by mail
/// to the device's address.
pub async fn reissue_certificate(
    app: &App,
    principal: &Principal,
    slug: &str,
    login_id: &str,
    device_no: Option<u32>,
    public_url: &str,
) -> Result<ReissueStarted, AdminError> {
    let (tenant, user) = find_to_change(app, principal, slug, login_id, "user.reissue-certificate").await?;
    let devices = app.storage.devices().list_for_user(user.id, false).await?;
    let device = match device_no {
        Some(no) => devices
            .into_iter()
            .find(|d| d.device_no == no)
            .ok_or_else(|| AdminError::NotFound(format!("`{login_id}` has no active device {no}")))?,
        None => devices.into_iter().next().ok_or_else(|| AdminError::Conflict(format!("`{login_id}` has no active device")))?,
    };
    if user.secret_answer_hash.is_none() {
        return Err(AdminError::Conflict(format!("`{login_id}` has not enrolled yet: create an enrollment ticket instead")));
    }
    let attempt = Attempt {
        tenant_id: tenant.id,
        user_id: Some(user.id),
        login_id: Some(&user.login_id),
        source_ip: principal.source_ip.clone(),
        user_agent: None,
    };
    let expires_at = crate::flows::reissue::start_certificate_reissue(app, &tenant, &user, &device, public_url, &attempt).await?;
    audit::record(
        app,
        principal,
        Some(tenant.id),
        "user.reissue-certificate",
        &target(&tenant, login_id),
        serde_json::json!({"device_no": device.device_no}),
    )
    .await;
    Ok(ReissueStarted { device_no: device.device_no, mailed_to: device.email, expires_at })
}

/// A live session of a user, as operators see it: never its key (which opens nothing
/// by itself, but is the store's handle on the session).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserSession {
    pub created_at: time::OffsetDateTime,
    pub last_seen_at: time::OffsetDateTime,
    /// When it ends unless used before (the idle limit, or the absolute one if sooner).
    pub expires_at: time::OffsetDateTime,
    /// The factors its login proved, as RFC 8176 `amr` values.
    pub factors: Vec<&'static str>,
}

impl UserSession {
    fn of(session: &mamori_storage::model::Session) -> Self {
        let factors = serde_json::from_value::<crate::flows::login::Authenticated>(session.data["authenticated"].clone())
            .map(|auth| auth.factors.iter().flat_map(|f| f.amr().iter().copied()).collect())
            .unwrap_or_default();
        UserSession {
            created_at: session.created_at,
            last_seen_at: session.last_seen_at,
            expires_at: session.idle_expires_at.min(session.absolute_expires_at),
            factors,
        }
    }
}

/// The user's live sessions, oldest first (on every node: they are shared state).
pub async fn sessions(app: &App, principal: &Principal, slug: &str, login_id: &str) -> Result<Vec<UserSession>, AdminError> {
    let (_, user) = find(app, principal, slug, login_id, ApiScope::Read).await?;
    Ok(app.shared.sessions().list_for_user(user.id, app.now()).await?.iter().map(UserSession::of).collect())
}

/// Ends every session of the user on every node, with the grants that came from them;
/// returns how many ended. The user logs in again with their credentials as they are.
pub async fn end_sessions(app: &App, principal: &Principal, slug: &str, login_id: &str) -> Result<u64, AdminError> {
    let (tenant, user) = find_to_change(app, principal, slug, login_id, "user.end-sessions").await?;
    let ended = crate::flows::session_end::end_all(app, user.id).await?;
    audit::record(app, principal, Some(tenant.id), "user.end-sessions", &target(&tenant, login_id), serde_json::json!({"ended": ended}))
        .await;
    Ok(ended)
}

/// Changes the e-mail address of one of the user's devices, as the user can in flow 7:
/// reissue links mailed to the old address stop working and both addresses are told.
pub async fn change_device_email(
    app: &App,
    principal: &Principal,
    slug: &str,
    login_id: &str,
    device_no: u32,
    email: &str,
) -> Result<Device, AdminError> {
    let email = Email::parse(email)?.into_string();
    let (tenant, user) = find_to_change(app, principal, slug, login_id, "user.device-email").await?;
    let device = app
        .storage
        .devices()
        .list_for_user(user.id, false)
        .await?
        .into_iter()
        .find(|d| d.device_no == device_no)
        .ok_or_else(|| AdminError::NotFound(format!("`{login_id}` has no active device {device_no}")))?;
    if device.email != email {
        let attempt = Attempt {
            tenant_id: tenant.id,
            user_id: Some(user.id),
            login_id: Some(&user.login_id),
            source_ip: principal.source_ip.clone(),
            user_agent: None,
        };
        if let Err(keys) = crate::flows::account::change_device_email(app, &user, &device, &email, &email, &attempt).await? {
            // Email::parse accepted it; the flow's own rule should agree.
            return Err(AdminError::Invalid(format!("email: refused ({})", keys.join(", "))));
        }
        let details = serde_json::json!({"device_no": device_no, "from": device.email, "to": email});
        audit::record(app, principal, Some(tenant.id), "user.device-email", &target(&tenant, login_id), details).await;
    }
    Ok(Device { email, ..device })
}

pub async fn devices(app: &App, principal: &Principal, slug: &str, login_id: &str) -> Result<Vec<Device>, AdminError> {
    let (_, user) = find(app, principal, slug, login_id, ApiScope::Read).await?;
    Ok(app.storage.devices().list_for_user(user.id, true).await?)
}

pub async fn certificates(app: &App, principal: &Principal, slug: &str, login_id: &str) -> Result<Vec<Certificate>, AdminError> {
    let (_, user) = find(app, principal, slug, login_id, ApiScope::Read).await?;
    Ok(app.storage.certificates().list_for_user(user.id).await?)
}
