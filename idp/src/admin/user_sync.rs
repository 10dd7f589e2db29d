//! Changes a provisioning client (SCIM) makes to a user: several values at once, all
//! or none, as a compare-and-swap on the user's version (m0024); and, per tenant, the
//! enrollment mail for a user it creates. The same rules as the single-value functions
//! of [`super::users`] (value checks, the operator-role rule, audit records per value),
//! gathered so that a refusal of any value writes nothing.

use mamori_storage::model::{ApiScope, Device, User, UserChangeSet, UserStatus};

use super::users::{check_external_id, check_name_part, check_not_last_super_admin, find, find_to_change, target};
use super::{AdminError, Principal, audit};
use crate::app::App;
use crate::fields::{DisplayName, Email};
use crate::flows::events::Attempt;

/// What a directory wants changed; `None` keeps a value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DirectoryChanges {
    pub display_name: Option<String>,
    /// `Some(None)` clears it.
    pub external_id: Option<Option<String>>,
    /// SCIM `name.givenName` / `name.familyName`; `Some(None)` clears it.
    pub given_name: Option<Option<String>>,
    pub family_name: Option<Option<String>>,
    pub status: Option<UserStatus>,
    /// A new address for the active device with this number.
    pub device_email: Option<(u32, String)>,
}

/// The outcome of [`apply`].
#[derive(Debug)]
pub enum Applied {
    /// Every change is written; the user and their devices (deleted ones too) as this
    /// write left them, not as a later writer may have made them since.
    Done(Box<User>, Vec<Device>),
    /// The user (or a device of theirs) changed since `expected_version` was read:
    /// nothing is written. The caller reads again and decides (SCIM: `If-Match` → 412).
    Stale,
}

/// Applies `changes` to the user `login_id` in one transaction, only while the user is
/// still at `expected_version`. Every value is checked before anything is written.
pub async fn apply(
    app: &App,
    principal: &Principal,
    slug: &str,
    login_id: &str,
    expected_version: i64,
    changes: &DirectoryChanges,
) -> Result<Applied, AdminError> {
    if let Some(name) = &changes.display_name {
        DisplayName::parse(name)?;
    }
    if let Some(Some(external_id)) = &changes.external_id {
        check_external_id(external_id)?;
    }
    for (field, part) in [("given_name", &changes.given_name), ("family_name", &changes.family_name)] {
        if let Some(Some(part)) = part {
            check_name_part(field, part)?;
        }
    }
    let new_email = changes.device_email.as_ref().map(|(_, e)| Email::parse(e).map(Email::into_string)).transpose()?;
    let action = match changes.status {
        Some(UserStatus::Disabled) => "user.disable",
        Some(UserStatus::Active) => "user.enable",
        None => "user.update",
    };
    let (tenant, user) = find_to_change(app, principal, slug, login_id, action).await?;
    if user.version != expected_version {
        return Ok(Applied::Stale);
    }
    if changes.status == Some(UserStatus::Disabled) && user.status != UserStatus::Disabled {
        check_not_last_super_admin(app, principal, &tenant, &user, action).await?;
    }
    if changes.device_email.is_some() {
        check_not_operator(app, principal, &tenant, &user).await?;
    }
    let device = match &changes.device_email {
        None => None,
        Some((no, _)) => Some(
            app.storage
                .devices()
                .list_for_user(user.id, false)
                .await?
                .into_iter()
                .find(|d| d.device_no == *no)
                .ok_or_else(|| AdminError::NotFound(format!("`{login_id}` has no active device {no}")))?,
        ),
    };
    // Only what differs is written (and audited).
    let set = UserChangeSet {
        display_name: changes.display_name.clone().filter(|n| *n != user.display_name),
        external_id: changes.external_id.clone().filter(|e| *e != user.external_id),
        given_name: changes.given_name.clone().filter(|n| *n != user.given_name),
        family_name: changes.family_name.clone().filter(|n| *n != user.family_name),
        status: changes.status.filter(|s| *s != user.status),
        device_email: device.as_ref().zip(new_email.as_ref()).filter(|(d, e)| d.email != **e).map(|(d, e)| (d.id, e.clone())),
    };
    if set.is_empty() {
        let devices = app.storage.devices().list_for_user(user.id, true).await?;
        return Ok(Applied::Done(Box::new(user), devices));
    }
    let Some((written, devices)) = app.storage.users().apply_changes(user.id, expected_version, &set, app.now()).await? else {
        return Ok(Applied::Stale);
    };
    // Written; what follows each change, as the single-value functions do it.
    let at = target(&tenant, login_id);
    if set.display_name.is_some() || set.given_name.is_some() || set.family_name.is_some() {
        // `null` means unchanged, as in `user.update` from the other surfaces; a name part
        // the directory removed is listed under `cleared`, so the record says it happened.
        let cleared: Vec<&str> = [("given_name", &set.given_name), ("family_name", &set.family_name)]
            .into_iter()
            .filter(|(_, v)| matches!(v, Some(None)))
            .map(|(f, _)| f)
            .collect();
        let details = serde_json::json!({"display_name": set.display_name, "given_name": set.given_name.clone().flatten(),
            "family_name": set.family_name.clone().flatten(), "cleared": cleared, "locale": null, "time_zone": null, "login_method": null});
        audit::record(app, principal, Some(tenant.id), "user.update", &at, details).await;
    }
    if let Some(to) = &set.external_id {
        let details = serde_json::json!({"from": user.external_id, "to": to});
        audit::record(app, principal, Some(tenant.id), "user.external-id", &at, details).await;
    }
    if let (Some(device), Some((_, email))) = (&device, &set.device_email) {
        let attempt = Attempt {
            tenant_id: tenant.id,
            user_id: Some(user.id),
            login_id: Some(&user.login_id),
            source_ip: principal.source_ip.clone(),
            user_agent: None,
        };
        crate::flows::account::device_email_changed(app, &user, device, email, &attempt).await?;
        let details = serde_json::json!({"device_no": device.device_no, "from": device.email, "to": email});
        audit::record(app, principal, Some(tenant.id), "user.device-email", &at, details).await;
    }
    if let Some(status) = set.status {
        if status == UserStatus::Disabled {
            crate::flows::session_end::shut_out(app, user.id).await?;
        }
        audit::record(app, principal, Some(tenant.id), action, &at, serde_json::json!({})).await;
    }
    Ok(Applied::Done(Box::new(written), devices))
}

/// A provisioning client does not move an operator's address: the reissue and
/// certificate mails follow it, so a directory's token (held by a connector, outside the
/// operators' hands) could take over a tenant admin's account. Operators change their
/// own and each other's addresses in the console or admin API; deprovisioning an operator
/// (`active: false`, delete) stays with the directory.
async fn check_not_operator(
    app: &App,
    principal: &Principal,
    tenant: &mamori_storage::model::Tenant,
    user: &User,
) -> Result<(), AdminError> {
    let roles = app.storage.admin_roles().list_for_user(user.id).await?;
    if roles.is_empty() {
        return Ok(());
    }
    let held: Vec<&str> = roles.iter().map(|r| r.role.as_str()).collect();
    let details = serde_json::json!({"reason": "target-is-operator", "target_roles": held});
    audit::record_refused(app, principal, Some(tenant.id), "user.device-email", &target(tenant, &user.login_id), details).await;
    Err(AdminError::Forbidden(
        "this user is an operator: their e-mail address is changed in the console or admin API, not by provisioning".to_owned(),
    ))
}

/// Deletes the user only while they are still at `expected_version` (SCIM's DELETE
/// with `If-Match`): the check and the delete are one transaction, so of a PATCH and a
/// DELETE holding the same version one wins. `Ok(false)`: someone wrote in between,
/// nothing was revoked or deleted. The same rules as [`super::users::delete`].
pub async fn delete_at_version(
    app: &App,
    principal: &Principal,
    slug: &str,
    login_id: &str,
    expected_version: i64,
) -> Result<bool, AdminError> {
    let (tenant, user) = find_to_change(app, principal, slug, login_id, "user.delete").await?;
    if user.version != expected_version {
        return Ok(false);
    }
    check_not_last_super_admin(app, principal, &tenant, &user, "user.delete").await?;
    // Sessions in Redis are out of reach of the database's cascade, and the grants their
    // logout notices need go with the user: ended first. A writer slipping in between
    // this and the delete costs the user a login, never a half-deleted account.
    crate::flows::session_end::shut_out(app, user.id).await?;
    let reason = mamori_ca::RevocationReason::CessationOfOperation.as_str();
    if !app.storage.users().delete_at_version(user.id, expected_version, reason, app.now()).await? {
        return Ok(false);
    }
    audit::record(app, principal, Some(tenant.id), "user.delete", &target(&tenant, login_id), serde_json::json!({})).await;
    Ok(true)
}

/// When the tenant's policy says so (`scim_enrollment_mail`), issues the user an
/// enrollment ticket and mails its URL and one-time password to the first active
/// device's address, in the user's language; `Ok(false)` when the knob is off, the user
/// is disabled or has no address. The ticket is audited as the operators' tickets are.
pub async fn mail_enrollment(app: &App, principal: &Principal, slug: &str, login_id: &str, public_url: &str) -> Result<bool, AdminError> {
    let (tenant, user) = find(app, principal, slug, login_id, ApiScope::Write).await?;
    if !tenant.policy.scim_enrollment_mail || user.status != UserStatus::Active {
        return Ok(false);
    }
    let Some(device) = app.storage.devices().list_for_user(user.id, false).await?.into_iter().next() else { return Ok(false) };
    let issued = super::users::enrollment_ticket(app, principal, slug, login_id, public_url).await?;
    app.mailer
        .send(
            crate::mail::OutgoingMail {
                tenant_id: Some(tenant.id),
                to: device.email.clone(),
                locale: crate::mail::ui_locale(user.locale),
                template: "enrollment-ticket",
                context: serde_json::json!({
                    "login_id": user.login_id,
                    "display_name": user.display_name,
                    "url": issued.url,
                    "one_time_password": issued.one_time_password,
                    "expires_at": crate::flows::account::format_date_time(issued.expires_at, &user.time_zone),
                }),
            },
            app.now(),
        )
        .await
        .map_err(|e| AdminError::Internal(format!("enrollment mail: {e}")))?;
    let details = serde_json::json!({"device_no": device.device_no, "to": device.email});
    audit::record(app, principal, Some(tenant.id), "user.enrollment-mail", &target(&tenant, login_id), details).await;
    Ok(true)
}

/// The tenant's users a provisioning client gave this `externalId` (exactly; by index).
pub async fn find_by_external_id(app: &App, principal: &Principal, slug: &str, external_id: &str) -> Result<Vec<User>, AdminError> {
    let tenant = principal.tenant(app, slug, ApiScope::Read).await?;
    Ok(app.storage.users().find_by_external_id(tenant.id, external_id).await?)
}

/// The tenant's user whose ID is `user_name` ignoring case (SCIM `userName eq`), if any.
pub async fn find_by_user_name(app: &App, principal: &Principal, slug: &str, user_name: &str) -> Result<Option<User>, AdminError> {
    let tenant = principal.tenant(app, slug, ApiScope::Read).await?;
    Ok(app.storage.users().get_by_login_id_key(tenant.id, user_name).await?)
}

#[cfg(test)]
#[path = "user_sync_tests.rs"]
mod tests;
