//! Account self-service for a logged-in user (flows 4, 7 and 8): which menu items the
//! tenant's policy enables, password and secret-question change, the login history of the
//! last month in the user's time zone, devices (add / change e-mail / delete) and the
//! login-method change. Every change is recorded as an audit event and announced by mail
//! to every address the user has registered; no mail carries a secret shown on screen.

use std::collections::HashMap;

use base64::Engine as _;
use mamori_ca::RevocationReason;
use mamori_storage::model::{
    CertificateStatus, Device, DeviceType, LoginEvent, LoginMethod, NewDevice, OtpKind, Tenant, TenantPolicy,
    TicketKind, User,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::device_certificate::{self, PendingDownload, SealedDownload};
use super::events::{Attempt, record_login_event};
use super::password_policy::PasswordProblem;
use super::secret_answer::{self, AnswerProblem};
use crate::app::App;

// ---------------------------------------------------------------------------------------
// Policy: which features the portal offers.

/// A self-service feature, each behind a policy knob (spec: "depends on your contract").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    /// The portal itself: user ID and device table.
    AccountManagement,
    PasswordChange,
    SecretQuestionChange,
    LoginHistory,
    /// Add, change and delete devices.
    Devices,
    LoginMethodChange,
    /// The user asks for a certificate reissue link themselves.
    CertificateReissue,
}

/// Whether `feature` is on for `user` under `policy`. Handlers call this before acting,
/// so a hidden menu item cannot be reached by typing its address.
pub fn feature_enabled(policy: &TenantPolicy, user: &User, feature: Feature) -> bool {
    if !policy.self_service_enabled {
        return false;
    }
    match feature {
        Feature::AccountManagement | Feature::SecretQuestionChange | Feature::LoginHistory => true,
        Feature::PasswordChange => user.login_method.needs_password(),
        Feature::Devices => policy.device_management_enabled,
        Feature::LoginMethodChange => {
            policy.login_method_change_enabled && policy.allowed_login_methods.iter().any(|m| *m != user.login_method)
        }
        Feature::CertificateReissue => {
            policy.user_certificate_reissue_enabled && user.login_method.needs_certificate()
        }
    }
}

/// The menu of flow 4 as the templates read it: one flag per item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Menu {
    pub account: bool,
    pub password: bool,
    pub secret_question: bool,
    pub history: bool,
    pub login_method: bool,
    pub devices: bool,
    pub certificate_reissue: bool,
}

pub fn menu(policy: &TenantPolicy, user: &User) -> Menu {
    let on = |f| feature_enabled(policy, user, f);
    Menu {
        account: on(Feature::AccountManagement),
        password: on(Feature::PasswordChange),
        secret_question: on(Feature::SecretQuestionChange),
        history: on(Feature::LoginHistory),
        login_method: on(Feature::LoginMethodChange),
        devices: on(Feature::Devices),
        certificate_reissue: on(Feature::CertificateReissue),
    }
}

// ---------------------------------------------------------------------------------------
// Time in the user's zone.

/// The user's IANA zone from the bundled database; UTC for a name it does not know.
pub fn zone(name: &str) -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get(name).unwrap_or(jiff::tz::TimeZone::UTC)
}

fn zoned(at: OffsetDateTime, time_zone: &str) -> Option<jiff::ZonedDateTime> {
    let ts = jiff::Timestamp::from_nanosecond(at.unix_timestamp_nanos()).ok()?;
    Some(ts.to_zoned_datetime(zone(time_zone)))
}

/// A moment as the user reads it: `2026-11-24 03:05:09 JST`.
pub fn format_date_time(at: OffsetDateTime, time_zone: &str) -> String {
    zoned(at, time_zone).map_or_else(|| at.to_string(), |z| z.strftime("%Y-%m-%d %H:%M:%S %Z").to_string())
}

/// A day as the user reads it: `2027-11-24`.
pub fn format_date(at: OffsetDateTime, time_zone: &str) -> String {
    zoned(at, time_zone).map_or_else(|| at.date().to_string(), |z| z.strftime("%Y-%m-%d").to_string())
}

/// The start of the login history: one calendar month before `now` on the user's clock.
pub fn history_since(now: OffsetDateTime, time_zone: &str) -> OffsetDateTime {
    let fallback = now - time::Duration::days(31);
    let Some(z) = zoned(now, time_zone) else { return fallback };
    match z.checked_sub(jiff::Span::new().months(1)) {
        Ok(back) => OffsetDateTime::from_unix_timestamp(back.timestamp().as_second()).unwrap_or(fallback),
        Err(_) => fallback,
    }
}

// ---------------------------------------------------------------------------------------
// Login history.

pub const HISTORY_PAGE_SIZE: u64 = 20;

/// Where a page sits in a list: "first ~ last / total items", page "page/pages".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PageSummary {
    pub first: u64,
    pub last: u64,
    pub total: u64,
    pub page: u64,
    pub pages: u64,
}

/// The page actually shown for a requested one (1-based, clamped into range).
pub fn page_summary(total: u64, requested_page: u64, per_page: u64) -> PageSummary {
    let per_page = per_page.max(1);
    let pages = total.div_ceil(per_page).max(1);
    let page = requested_page.clamp(1, pages);
    let first = if total == 0 { 0 } else { (page - 1) * per_page + 1 };
    let last = (page * per_page).min(total);
    PageSummary { first, last, total, page, pages }
}

/// One row of the history, ready to show.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryRow {
    pub at: String,
    pub source_ip: String,
    /// The stored result (`success`, `wrong-password`, `password-changed`, …).
    pub result: String,
    pub success: bool,
    pub factors: String,
}

pub struct HistoryPage {
    pub rows: Vec<HistoryRow>,
    pub summary: PageSummary,
}

/// The user's login and audit events of the last month, newest first, `requested_page`
/// of them (clamped to the pages there are).
pub async fn login_history(app: &App, user: &User, requested_page: u64) -> anyhow::Result<HistoryPage> {
    let since = history_since(app.now(), &user.time_zone);
    let events = app.storage.login_events();
    let offset = (requested_page.max(1) - 1) * HISTORY_PAGE_SIZE;
    let mut page = events.list_for_user(user.id, since, offset, HISTORY_PAGE_SIZE).await?;
    let summary = page_summary(page.total, requested_page, HISTORY_PAGE_SIZE);
    if summary.page != requested_page.max(1) {
        page = events.list_for_user(user.id, since, (summary.page - 1) * HISTORY_PAGE_SIZE, HISTORY_PAGE_SIZE).await?;
    }
    let summary = page_summary(page.total, summary.page, HISTORY_PAGE_SIZE);
    let rows = page.items.iter().map(|e| history_row(e, &user.time_zone)).collect();
    Ok(HistoryPage { rows, summary })
}

fn history_row(event: &LoginEvent, time_zone: &str) -> HistoryRow {
    HistoryRow {
        at: format_date_time(event.occurred_at, time_zone),
        source_ip: event.source_ip.clone(),
        result: event.result.as_str().to_owned(),
        success: event.result.is_success(),
        factors: event.factors.join(" "),
    }
}

// ---------------------------------------------------------------------------------------
// Audit events and notification mails.

/// A change to an account, recorded in the login history as its own result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountChange {
    PasswordChanged,
    SecretQuestionChanged,
    DeviceAdded,
    DeviceEmailChanged,
    DeviceDeleted,
    LoginMethodChanged,
    PasswordReissueRequested,
    PasswordReissued,
    CertificateReissueRequested,
    CertificateReissued,
    WrongSecretAnswer,
    WrongCurrentPassword,
}

impl AccountChange {
    /// The result written to the login history.
    pub fn result(self) -> &'static str {
        match self {
            Self::PasswordChanged => "password-changed",
            Self::SecretQuestionChanged => "secret-question-changed",
            Self::DeviceAdded => "device-added",
            Self::DeviceEmailChanged => "device-email-changed",
            Self::DeviceDeleted => "device-deleted",
            Self::LoginMethodChanged => "login-method-changed",
            Self::PasswordReissueRequested => "password-reissue-requested",
            Self::PasswordReissued => "password-reissued",
            Self::CertificateReissueRequested => "certificate-reissue-requested",
            Self::CertificateReissued => "certificate-reissued",
            Self::WrongSecretAnswer => "wrong-secret-answer",
            Self::WrongCurrentPassword => "wrong-password",
        }
    }
}

/// Every result the history page has a label for (`history.result.<result>`).
pub const HISTORY_RESULTS: &[&str] = &[
    "success",
    "wrong-password",
    "unknown-user",
    "locked",
    "no-certificate",
    "unknown-certificate",
    "certificate-expired",
    "certificate-not-yet-valid",
    "certificate-revoked",
    "certificate-user-mismatch",
    "device-deleted",
    "user-disabled",
    "wrong-otp",
    "password-expired",
    "password-changed",
    "secret-question-changed",
    "device-added",
    "device-email-changed",
    "login-method-changed",
    "password-reissue-requested",
    "password-reissued",
    "certificate-reissue-requested",
    "certificate-reissued",
    "wrong-secret-answer",
];

pub async fn record_change(app: &App, attempt: &Attempt<'_>, change: AccountChange) {
    let Ok(result) = change.result().parse();
    record_login_event(app, attempt, result, &[]).await;
}

/// The addresses of the user's active devices, each once.
pub async fn registered_addresses(app: &App, user: &User) -> anyhow::Result<Vec<String>> {
    let devices = app.storage.devices().list_for_user(user.id, false).await?;
    Ok(unique_addresses(devices.into_iter().map(|d| d.email)))
}

/// Addresses without repeats (compared case-insensitively), in first-seen order.
pub fn unique_addresses(addresses: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    addresses
        .into_iter()
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty() && seen.insert(a.to_lowercase()))
        .collect()
}

/// Sends notice `template` to every registered address (and `also`), in the user's
/// language, with the user ID and the time of the change. A mail that cannot be queued is
/// logged: the change itself has happened and stays.
pub async fn notify(app: &App, user: &User, template: &'static str, extra: serde_json::Value, also: &[String]) {
    let now = app.now();
    let mut addresses = match registered_addresses(app, user).await {
        Ok(a) => a,
        Err(err) => {
            tracing::error!(%err, user = %user.id, "cannot list addresses for a notice");
            Vec::new()
        }
    };
    addresses.extend(also.iter().cloned());
    let mut context = serde_json::json!({
        "login_id": user.login_id,
        "changed_at": format_date_time(now, &user.time_zone),
    });
    if let (Some(map), serde_json::Value::Object(more)) = (context.as_object_mut(), extra) {
        map.extend(more);
    }
    for to in unique_addresses(addresses) {
        let mail = crate::mail::OutgoingMail {
            tenant_id: Some(user.tenant_id),
            to,
            locale: crate::mail::ui_locale(user.locale),
            template,
            context: context.clone(),
        };
        if let Err(err) = app.mailer.send(mail, now).await {
            tracing::error!(error = %format!("{err:#}"), user = %user.id, template, "notice mail not queued");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Password and secret question.

pub enum PasswordChangeOutcome {
    Changed,
    /// The current password is wrong; `attempts_left` only when the policy shows it.
    WrongCurrent { attempts_left: Option<u32> },
    Locked,
    Invalid(Vec<PasswordProblem>),
}

/// Password change from the portal: the current password first (a wrong one counts
/// towards the lockout like at login), then every rule of the spec including reuse.
pub async fn change_password(
    app: &App,
    tenant: &Tenant,
    user: &User,
    current: &str,
    new_password: &str,
    confirmation: &str,
    attempt: &Attempt<'_>,
) -> anyhow::Result<PasswordChangeOutcome> {
    let now = app.now();
    let users = app.storage.users();
    if !app.hasher.verify(current, user.password_hash.as_deref()).await? {
        let outcome = users.record_failed_password(user.id, tenant.policy.lockout_threshold_password, now).await?;
        record_change(app, attempt, AccountChange::WrongCurrentPassword).await;
        if outcome.locked {
            return Ok(PasswordChangeOutcome::Locked);
        }
        let shown = tenant.policy.show_attempts_left.then_some(outcome.attempts_left);
        return Ok(PasswordChangeOutcome::WrongCurrent { attempts_left: shown });
    }
    users.reset_failed_passwords(user.id, now).await?;
    let problems = super::login::validate_new_password(app, tenant, user, new_password, confirmation).await?;
    if !problems.is_empty() {
        return Ok(PasswordChangeOutcome::Invalid(problems));
    }
    let hash = app.hasher.hash(new_password).await?;
    users.set_password(user.id, &hash, false, tenant.policy.password_history_count.max(1), now).await?;
    record_change(app, attempt, AccountChange::PasswordChanged).await;
    notify(app, user, "notice-password-changed", serde_json::json!({ "reissued": false }), &[]).await;
    Ok(PasswordChangeOutcome::Changed)
}

/// Stores a new secret question and answer (hashed, normalised).
pub async fn change_secret_question(
    app: &App,
    user: &User,
    question: &str,
    answer: &str,
    attempt: &Attempt<'_>,
) -> anyhow::Result<Result<(), Vec<AnswerProblem>>> {
    let problems = secret_answer::check_question_and_answer(question, answer);
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    let hash = secret_answer::hash_secret_answer(app, answer).await?;
    app.storage.users().set_secret_answer(user.id, question, &hash, app.now()).await?;
    record_change(app, attempt, AccountChange::SecretQuestionChanged).await;
    notify(app, user, "notice-secret-question-changed", serde_json::json!({}), &[]).await;
    Ok(Ok(()))
}

// ---------------------------------------------------------------------------------------
// Devices.

/// Device types offered, with the message key of their label.
pub const DEVICE_TYPES: &[(DeviceType, &str)] = &[
    (DeviceType::Pc, "account.device_type.pc"),
    (DeviceType::MobilePhone, "account.device_type.mobile-phone"),
    (DeviceType::Smartphone, "account.device_type.smartphone"),
];

/// One row of the device table.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceRow {
    pub device_no: u32,
    pub device_type: String,
    pub email: String,
    /// Expiry of the device's live certificate, in the user's zone.
    pub certificate_expires: Option<String>,
    /// While a download is pending: its acquisition ID and download password.
    pub acquisition_id: Option<String>,
    pub download_password: Option<String>,
}

/// The device table of the account page.
pub async fn device_rows(app: &App, user: &User) -> anyhow::Result<Vec<DeviceRow>> {
    let now = app.now();
    let devices = app.storage.devices().list_for_user(user.id, false).await?;
    let certificates = app.storage.certificates().list_for_user(user.id).await?;
    let downloads = pending_downloads(app, user, now).await?;
    Ok(devices
        .into_iter()
        .map(|d| {
            let expires = certificates
                .iter()
                .filter(|c| c.device_id == Some(d.id) && c.status == CertificateStatus::Active && c.not_after > now)
                .map(|c| c.not_after)
                .max();
            let download = downloads.get(&d.id);
            DeviceRow {
                device_no: d.device_no,
                device_type: d.device_type.as_str().to_owned(),
                email: d.email.clone(),
                certificate_expires: expires.map(|t| format_date(t, &user.time_zone)),
                acquisition_id: download.map(|(id, _)| id.clone()),
                download_password: download.map(|(_, pw)| pw.clone()),
            }
        })
        .collect())
}

/// Downloads still pending per device: (acquisition ID, download password), opened from
/// the sealed ticket payload.
async fn pending_downloads(app: &App, user: &User, now: OffsetDateTime) -> anyhow::Result<HashMap<Uuid, (String, String)>> {
    let mut found = HashMap::new();
    for ticket in app.storage.tickets().list_pending_for_user(user.id, now).await? {
        let (TicketKind::Download, Some(device), Some(acquisition_id), Some(payload)) =
            (ticket.kind, ticket.device_id, &ticket.acquisition_id, &ticket.payload_sealed)
        else {
            continue;
        };
        // Pending until the first download; newest first, so the newest one wins.
        if ticket.last_used_at.is_some() || found.contains_key(&device) {
            continue;
        }
        match app.sealing.open(payload, &device_certificate::download_aad(acquisition_id)) {
            Ok(plain) => match serde_json::from_slice::<SealedDownload>(&plain) {
                Ok(sealed) => {
                    found.insert(device, (acquisition_id.clone(), sealed.download_password));
                }
                Err(err) => tracing::warn!(%err, "unreadable download payload"),
            },
            Err(err) => tracing::warn!(%err, "download payload does not open"),
        }
    }
    Ok(found)
}

/// The user's active device with number `device_no`.
pub async fn find_device(app: &App, user: &User, device_no: u32) -> anyhow::Result<Option<Device>> {
    Ok(app.storage.devices().list_for_user(user.id, false).await?.into_iter().find(|d| d.device_no == device_no))
}

/// Longest e-mail address accepted (RFC 5321 path limit).
pub const MAX_EMAIL_LEN: usize = 254;

/// A plausible single address: one `@`, a non-empty local part, a dotted domain, no
/// blanks or angle brackets, and accepted by the mail builder.
pub fn email_is_valid(email: &str) -> bool {
    let email = email.trim();
    let Some((local, domain)) = email.split_once('@') else { return false };
    !local.is_empty()
        && email.len() <= MAX_EMAIL_LEN
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"'))
        && crate::mail::message::recipient(email).is_ok()
}

/// Problems of an address and its confirmation, as message keys.
pub fn check_device_email(email: &str, confirmation: &str) -> Vec<&'static str> {
    let mut problems = Vec::new();
    if !email_is_valid(email) {
        problems.push("account.device.email_invalid");
    }
    if email.trim() != confirmation.trim() {
        problems.push("account.device.email_mismatch");
    }
    problems
}

/// Checks a device to add before the confirmation page: address, confirmation, type and
/// the tenant's maximum number of devices.
pub async fn check_new_device(
    app: &App,
    tenant: &Tenant,
    user: &User,
    email: &str,
    confirmation: &str,
    device_type: &str,
) -> anyhow::Result<Result<DeviceType, Vec<&'static str>>> {
    let mut problems = check_device_email(email, confirmation);
    let parsed = device_type.parse::<DeviceType>().ok();
    if parsed.is_none() {
        problems.push("account.device.type_required");
    }
    if app.storage.devices().count_active(user.id).await? >= u64::from(tenant.policy.max_devices) {
        problems.push("account.device.limit");
    }
    match (parsed, problems.is_empty()) {
        (Some(t), true) => Ok(Ok(t)),
        _ => Ok(Err(problems)),
    }
}

pub enum AddDeviceOutcome {
    Invalid(Vec<&'static str>),
    Added { device: Device, download: Option<PendingDownload> },
}

/// Adds the device (the limit is enforced atomically by storage) and, for certificate
/// methods, issues its certificate: the download-guidance mail goes to the new address.
#[allow(clippy::too_many_arguments)]
pub async fn add_device(
    app: &App,
    tenant: &Tenant,
    user: &User,
    email: &str,
    confirmation: &str,
    device_type: &str,
    public_url: &str,
    attempt: &Attempt<'_>,
) -> anyhow::Result<AddDeviceOutcome> {
    let device_type = match check_new_device(app, tenant, user, email, confirmation, device_type).await? {
        Ok(t) => t,
        Err(problems) => return Ok(AddDeviceOutcome::Invalid(problems)),
    };
    let new = NewDevice { user_id: user.id, device_type, email: email.trim().to_owned() };
    let device = match app.storage.devices().add_device(&new, tenant.policy.max_devices, app.now()).await {
        Ok(d) => d,
        Err(mamori_storage::StorageError::Conflict(_)) => return Ok(AddDeviceOutcome::Invalid(vec!["account.device.limit"])),
        Err(err) => return Err(err.into()),
    };
    let download = if user.login_method.needs_certificate() {
        Some(device_certificate::issue_for_download(app, tenant, user, &device, public_url).await?)
    } else {
        None
    };
    record_change(app, attempt, AccountChange::DeviceAdded).await;
    let extra = serde_json::json!({ "device_no": device.device_no, "email": device.email });
    notify(app, user, "notice-device-added", extra, &[]).await;
    Ok(AddDeviceOutcome::Added { device, download })
}

/// Changes a device's address; the notice goes to the old and the new address.
pub async fn change_device_email(
    app: &App,
    user: &User,
    device: &Device,
    email: &str,
    confirmation: &str,
    attempt: &Attempt<'_>,
) -> anyhow::Result<Result<(), Vec<&'static str>>> {
    let problems = check_device_email(email, confirmation);
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    let old = device.email.clone();
    app.storage.devices().set_email(device.id, email.trim()).await?;
    record_change(app, attempt, AccountChange::DeviceEmailChanged).await;
    let extra = serde_json::json!({ "device_no": device.device_no, "email": email.trim() });
    notify(app, user, "notice-device-changed", extra, &[old]).await;
    Ok(Ok(()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteDeviceOutcome {
    Deleted,
    /// The last device of a certificate method: deleting it would lock the user out.
    LastCertificateDevice,
}

/// Deletes a device and revokes its certificate (cessation of operation): it stops
/// logging in at once and is on the next CRL. The notice also reaches the deleted address.
pub async fn delete_device(app: &App, user: &User, device: &Device, attempt: &Attempt<'_>) -> anyhow::Result<DeleteDeviceOutcome> {
    let now = app.now();
    if user.login_method.needs_certificate() && app.storage.devices().count_active(user.id).await? <= 1 {
        return Ok(DeleteDeviceOutcome::LastCertificateDevice);
    }
    app.storage.devices().delete(device.id, now).await?;
    app.storage.certificates().revoke_for_device(device.id, RevocationReason::CessationOfOperation.as_str(), now).await?;
    app.ca.forget_crl().await;
    app.storage.tickets().invalidate_for_device(device.id, TicketKind::Download).await?;
    app.storage.tickets().invalidate_for_device(device.id, TicketKind::CertificateReissue).await?;
    record_change(app, attempt, AccountChange::DeviceDeleted).await;
    let extra = serde_json::json!({ "device_no": device.device_no, "email": device.email });
    notify(app, user, "notice-device-deleted", extra, std::slice::from_ref(&device.email)).await;
    Ok(DeleteDeviceOutcome::Deleted)
}

// ---------------------------------------------------------------------------------------
// Login-method change (flow 8).

/// What moving from one method to another takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MethodChangePlan {
    /// The new method asks for a password the user does not have in use: choose one now.
    pub set_password: bool,
    /// A TOTP authenticator must be registered (QR code) before the change.
    pub enroll_totp: bool,
    /// Certificates are issued for every device.
    pub issue_certificates: bool,
    /// The certificates stop being a factor: revoke them.
    pub revoke_certificates: bool,
    /// The one-time password stops being a factor: forget the authenticator.
    pub clear_totp: bool,
}

pub fn plan_method_change(from: LoginMethod, to: LoginMethod, policy: &TenantPolicy, has_totp: bool) -> MethodChangePlan {
    let totp = policy.otp_kind == OtpKind::Totp;
    MethodChangePlan {
        set_password: to.needs_password() && !from.needs_password(),
        enroll_totp: to.needs_otp() && totp && !(from.needs_otp() && has_totp),
        issue_certificates: to.needs_certificate() && !from.needs_certificate(),
        revoke_certificates: from.needs_certificate() && !to.needs_certificate(),
        clear_totp: !to.needs_otp() && has_totp,
    }
}

/// Methods the user may change to: the tenant's, less the current one.
pub fn method_choices(policy: &TenantPolicy, user: &User) -> Vec<LoginMethod> {
    policy.allowed_login_methods.iter().copied().filter(|m| *m != user.login_method).collect()
}

/// A change waiting for the authenticator's first code, carried in the form sealed under
/// the master key and bound to the user, so nothing is kept on the server meanwhile.
#[derive(Serialize, Deserialize)]
struct PendingMethodChange {
    to: String,
    password_hash: Option<String>,
    totp_sealed: String,
    /// Unix seconds.
    expires: i64,
}

const PENDING_CHANGE_MINUTES: i64 = 15;

fn pending_aad(user: &User) -> Vec<u8> {
    format!("login-method-change:{}", user.id).into_bytes()
}

pub enum MethodChangeStep {
    Invalid(Vec<&'static str>),
    /// Register the authenticator first: show `sealed_secret` as a QR code and send back
    /// `pending` with the first code.
    NeedsTotp { pending: String, sealed_secret: String },
    Done(MethodChangeDone),
}

pub struct MethodChangeDone {
    pub from: LoginMethod,
    pub to: LoginMethod,
    /// Certificates issued for the new method, by device No.
    pub downloads: Vec<(u32, PendingDownload)>,
}

/// Executes a confirmed change, or stops for the authenticator registration.
#[allow(clippy::too_many_arguments)]
pub async fn begin_method_change(
    app: &App,
    tenant: &Tenant,
    user: &User,
    to: &str,
    new_password: &str,
    confirmation: &str,
    public_url: &str,
    attempt: &Attempt<'_>,
) -> anyhow::Result<MethodChangeStep> {
    let Some(to) = method_choices(&tenant.policy, user).into_iter().find(|m| m.as_str() == to) else {
        return Ok(MethodChangeStep::Invalid(vec!["account.login_method.choose"]));
    };
    let plan = plan_method_change(user.login_method, to, &tenant.policy, user.totp_secret_sealed.is_some());
    if plan.issue_certificates && app.storage.devices().count_active(user.id).await? == 0 {
        return Ok(MethodChangeStep::Invalid(vec!["account.login_method.no_device"]));
    }
    let password_hash = if plan.set_password {
        let problems = super::login::validate_new_password(app, tenant, user, new_password, confirmation).await?;
        if !problems.is_empty() {
            return Ok(MethodChangeStep::Invalid(problems.into_iter().map(PasswordProblem::message_key).collect()));
        }
        Some(app.hasher.hash(new_password).await?)
    } else {
        None
    };
    if plan.enroll_totp {
        let sealed_secret = super::otp::new_sealed_secret(app, user)?;
        let pending = PendingMethodChange {
            to: to.as_str().to_owned(),
            password_hash,
            totp_sealed: sealed_secret.clone(),
            expires: (app.now() + time::Duration::minutes(PENDING_CHANGE_MINUTES)).unix_timestamp(),
        };
        let sealed = app.sealing.seal(&serde_json::to_vec(&pending)?, &pending_aad(user))?;
        let pending = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed);
        return Ok(MethodChangeStep::NeedsTotp { pending, sealed_secret });
    }
    let done = apply_method_change(app, tenant, user, to, plan, password_hash.as_deref(), public_url, attempt).await?;
    Ok(MethodChangeStep::Done(done))
}

/// Opens the pending change of the TOTP step; `None` when forged, for someone else, or old.
fn open_pending(app: &App, user: &User, value: &str) -> Option<PendingMethodChange> {
    let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(value).ok()?;
    let plain = app.sealing.open(&sealed, &pending_aad(user)).ok()?;
    let pending: PendingMethodChange = serde_json::from_slice(&plain).ok()?;
    (pending.expires > app.now().unix_timestamp()).then_some(pending)
}

/// The sealed TOTP secret inside a pending change, to show its QR code again.
pub fn pending_totp_secret(app: &App, user: &User, pending: &str) -> Option<String> {
    open_pending(app, user, pending).map(|p| p.totp_sealed)
}

pub enum TotpConfirmation {
    Done(MethodChangeDone),
    WrongCode,
    /// The pending change expired or is not this user's: start again.
    Expired,
}

/// The authenticator's first code: right → the authenticator is stored and the change made.
pub async fn confirm_method_change_totp(
    app: &App,
    tenant: &Tenant,
    user: &User,
    pending: &str,
    code: &str,
    public_url: &str,
    attempt: &Attempt<'_>,
) -> anyhow::Result<TotpConfirmation> {
    let Some(pending) = open_pending(app, user, pending) else { return Ok(TotpConfirmation::Expired) };
    let Some(to) = method_choices(&tenant.policy, user).into_iter().find(|m| m.as_str() == pending.to) else {
        return Ok(TotpConfirmation::Expired);
    };
    if !super::otp::confirm_enrollment(app, user, &pending.totp_sealed, code, app.now()).await? {
        let Ok(result) = "wrong-otp".parse();
        record_login_event(app, attempt, result, &[]).await;
        return Ok(TotpConfirmation::WrongCode);
    }
    let mut plan = plan_method_change(user.login_method, to, &tenant.policy, true);
    plan.enroll_totp = false;
    let done = apply_method_change(app, tenant, user, to, plan, pending.password_hash.as_deref(), public_url, attempt).await?;
    Ok(TotpConfirmation::Done(done))
}

#[allow(clippy::too_many_arguments)]
async fn apply_method_change(
    app: &App,
    tenant: &Tenant,
    user: &User,
    to: LoginMethod,
    plan: MethodChangePlan,
    password_hash: Option<&str>,
    public_url: &str,
    attempt: &Attempt<'_>,
) -> anyhow::Result<MethodChangeDone> {
    let now = app.now();
    let users = app.storage.users();
    if let Some(hash) = password_hash {
        users.set_password(user.id, hash, false, tenant.policy.password_history_count.max(1), now).await?;
    }
    users.set_login_method(user.id, to, now).await?;
    if plan.clear_totp {
        users.set_totp_secret(user.id, None, now).await?;
    }
    let mut downloads = Vec::new();
    let devices = app.storage.devices().list_for_user(user.id, false).await?;
    if plan.revoke_certificates {
        for device in &devices {
            app.storage
                .certificates()
                .revoke_for_device(device.id, RevocationReason::CessationOfOperation.as_str(), now)
                .await?;
            app.storage.tickets().invalidate_for_device(device.id, TicketKind::Download).await?;
        }
        app.ca.forget_crl().await;
    }
    if plan.issue_certificates {
        let user = users.get(user.id).await?;
        for device in &devices {
            let download = device_certificate::issue_for_download(app, tenant, &user, device, public_url).await?;
            downloads.push((device.device_no, download));
        }
    }
    record_change(app, attempt, AccountChange::LoginMethodChanged).await;
    let extra = serde_json::json!({ "before": user.login_method.as_str(), "after": to.as_str() });
    notify(app, user, "notice-login-method-changed", extra, &[]).await;
    Ok(MethodChangeDone { from: user.login_method, to, downloads })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(method: LoginMethod) -> User {
        let now = OffsetDateTime::UNIX_EPOCH;
        User {
            id: Uuid::nil(),
            tenant_id: Uuid::nil(),
            login_id: "p-01-usr012".into(),
            display_name: String::new(),
            locale: mamori_storage::model::Locale::Ja,
            time_zone: "Asia/Tokyo".into(),
            login_method: method,
            status: mamori_storage::model::UserStatus::Active,
            locked_at: None,
            lock_reason: None,
            failed_password_count: 0,
            failed_secret_answer_count: 0,
            password_hash: None,
            password_changed_at: None,
            password_must_change: false,
            secret_question: None,
            secret_answer_hash: None,
            totp_secret_sealed: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn the_menu_follows_the_policy() {
        let mut policy = TenantPolicy::default();
        let u = user(LoginMethod::CertPassword);
        let m = menu(&policy, &u);
        assert!(m.account && m.password && m.secret_question && m.history && m.login_method && m.devices);
        assert!(!m.certificate_reissue, "off by default");
        policy.device_management_enabled = false;
        policy.login_method_change_enabled = false;
        policy.user_certificate_reissue_enabled = true;
        let m = menu(&policy, &u);
        assert!(!m.devices && !m.login_method && m.certificate_reissue && m.password);
        assert!(!menu(&policy, &user(LoginMethod::Cert)).password, "no password to change");
        policy.self_service_enabled = false;
        let m = menu(&policy, &u);
        assert!(!(m.account || m.password || m.secret_question || m.history || m.devices || m.certificate_reissue));
        // Only one method allowed, and it is the user's: nothing to change to.
        let policy = TenantPolicy { allowed_login_methods: vec![LoginMethod::CertPassword], ..TenantPolicy::default() };
        assert!(!menu(&policy, &u).login_method);
    }

    #[test]
    fn pages_are_summarised_like_the_manual() {
        assert_eq!(page_summary(57, 1, 20), PageSummary { first: 1, last: 20, total: 57, page: 1, pages: 3 });
        assert_eq!(page_summary(57, 3, 20), PageSummary { first: 41, last: 57, total: 57, page: 3, pages: 3 });
        assert_eq!(page_summary(57, 9, 20).page, 3, "past the end shows the last page");
        assert_eq!(page_summary(57, 0, 20).page, 1);
        assert_eq!(page_summary(3, 1, 20), PageSummary { first: 1, last: 3, total: 3, page: 1, pages: 1 });
        assert_eq!(page_summary(0, 1, 20), PageSummary { first: 0, last: 0, total: 0, page: 1, pages: 1 });
        assert_eq!(page_summary(40, 2, 20), PageSummary { first: 21, last: 40, total: 40, page: 2, pages: 2 });
    }

    #[test]
    fn times_are_shown_in_the_users_zone() {
        let at = OffsetDateTime::from_unix_timestamp(1_767_225_600).expect("time"); // 2026-01-01T00:00:00Z
        assert_eq!(format_date_time(at, "Asia/Tokyo"), "2026-01-01 09:00:00 JST");
        assert_eq!(format_date_time(at, "America/New_York"), "2025-12-31 19:00:00 EST");
        assert_eq!(format_date_time(at, "Not/AZone"), "2026-01-01 00:00:00 UTC");
        assert_eq!(format_date(at, "America/New_York"), "2025-12-31");
        let summer = OffsetDateTime::from_unix_timestamp(1_782_864_000).expect("time"); // 2026-07-01T00:00:00Z
        assert_eq!(format_date_time(summer, "America/New_York"), "2026-06-30 20:00:00 EDT");
    }

    #[test]
    fn the_history_covers_one_calendar_month_on_the_users_clock() {
        // 2026-03-31 10:00 JST → 2026-02-28 10:00 JST (no 31 February).
        let now = OffsetDateTime::from_unix_timestamp(1_774_918_800).expect("time");
        let since = history_since(now, "Asia/Tokyo");
        assert_eq!(format_date_time(since, "Asia/Tokyo"), "2026-02-28 10:00:00 JST");
        let days = (now - since).whole_days();
        assert!((28..=31).contains(&days));
    }

    #[test]
    fn addresses_are_checked_and_deduplicated() {
        assert!(email_is_valid("taro.yamada@example.jp"));
        assert!(!email_is_valid("taro.yamada"));
        assert!(!email_is_valid("taro@localhost"));
        assert!(!email_is_valid("a b@example.jp"));
        assert!(!email_is_valid("a@b@example.jp"));
        assert!(!email_is_valid("<a@example.jp>"));
        assert_eq!(check_device_email("a@example.jp", "a@example.jp"), Vec::<&str>::new());
        assert_eq!(check_device_email("a@example.jp", "b@example.jp"), vec!["account.device.email_mismatch"]);
        assert_eq!(check_device_email("nope", "nope"), vec!["account.device.email_invalid"]);
        let unique = unique_addresses(["a@x.jp".to_owned(), "A@X.jp".to_owned(), "b@x.jp".to_owned(), " ".to_owned()]);
        assert_eq!(unique, vec!["a@x.jp".to_owned(), "b@x.jp".to_owned()]);
    }

    #[test]
    fn a_method_change_enrolls_or_retires_what_it_must() {
        use LoginMethod as M;
        let policy = TenantPolicy::default();
        let p = plan_method_change(M::CertPassword, M::CertPasswordOtp, &policy, false);
        assert!(p.enroll_totp && !p.set_password && !p.issue_certificates && !p.revoke_certificates && !p.clear_totp);
        let p = plan_method_change(M::CertPasswordOtp, M::CertPassword, &policy, true);
        assert!(p.clear_totp && !p.enroll_totp);
        let p = plan_method_change(M::Cert, M::CertPassword, &policy, false);
        assert!(p.set_password && !p.issue_certificates);
        let p = plan_method_change(M::Password, M::CertPassword, &policy, false);
        assert!(p.issue_certificates && !p.set_password && !p.revoke_certificates);
        let p = plan_method_change(M::CertPassword, M::Password, &policy, false);
        assert!(p.revoke_certificates && !p.issue_certificates);
        let email = TenantPolicy { otp_kind: OtpKind::Email, ..TenantPolicy::default() };
        assert!(!plan_method_change(M::CertPassword, M::CertPasswordOtp, &email, false).enroll_totp, "codes come by mail");
        let u = user(M::CertPassword);
        assert_eq!(method_choices(&policy, &u), vec![M::Cert, M::CertPasswordOtp]);
    }

    #[test]
    fn every_audit_result_has_a_history_label() {
        use AccountChange as C;
        for c in [
            C::PasswordChanged,
            C::SecretQuestionChanged,
            C::DeviceAdded,
            C::DeviceEmailChanged,
            C::DeviceDeleted,
            C::LoginMethodChanged,
            C::PasswordReissueRequested,
            C::PasswordReissued,
            C::CertificateReissueRequested,
            C::CertificateReissued,
            C::WrongSecretAnswer,
            C::WrongCurrentPassword,
        ] {
            assert!(HISTORY_RESULTS.contains(&c.result()), "{c:?}");
        }
    }
}
