//! Expiry reminders (issue 21): a device's certificate that will run out soon earns its
//! user a mail, at the thresholds the tenant's policy sets
//! ([`TenantPolicy::expiry_reminder_due`]), with the account page's address where it is
//! renewed. Run periodically by every node (see `server::certificate_sweeps`); each
//! reminder is claimed in the database before it is mailed, so a certificate gets each
//! threshold's mail once, whichever node and however many nodes sweep.
//!
//! No reminder for what needs none: a revoked certificate, one a renewal or reissue
//! already replaced, a deleted device's, a disabled user's, nor a user whose login method
//! uses no certificate (there is nothing to renew for them).
//!
//! [`TenantPolicy::expiry_reminder_due`]: mamori_storage::model::TenantPolicy::expiry_reminder_due

use mamori_storage::model::{ExpiringCertificate, Tenant, UserStatus};
use time::OffsetDateTime;

use super::history::format_date_time;
use crate::app::App;

/// The mail template of a reminder.
pub const EXPIRY_REMINDER_TEMPLATE: &str = "certificate-expiry-reminder";

/// Sends the reminders due at `now` in every tenant; how many were sent. `mtls_url` is
/// the client-certificate listener's public URL, where the account page is.
pub async fn send_expiry_reminders(app: &App, mtls_url: &str, now: OffsetDateTime) -> anyhow::Result<usize> {
    let mut sent = 0;
    for tenant in app.storage.tenants().list().await? {
        sent += send_for_tenant(app, &tenant, mtls_url, now).await?;
    }
    Ok(sent)
}

async fn send_for_tenant(app: &App, tenant: &Tenant, mtls_url: &str, now: OffsetDateTime) -> anyhow::Result<usize> {
    let days = tenant.policy.certificate_expiry_reminder_days;
    if days == 0 {
        return Ok(0);
    }
    let until = now + time::Duration::days(i64::from(days));
    let expiring = app.storage.certificate_expiry().expiring_for_tenant(tenant.id, now, until).await?;
    let mut sent = 0;
    for entry in expiring {
        if !needs_reminder(&entry) {
            continue;
        }
        let Some(threshold) = tenant.policy.expiry_reminder_due(entry.certificate.not_after - now) else { continue };
        // At most one reminder a day per certificate, whatever the thresholds: a policy
        // changed after a reminder would otherwise earn a second one at the next sweep.
        let expiry = app.storage.certificate_expiry();
        if expiry.last_reminder_at(entry.certificate.id).await?.is_some_and(|last| now - last < time::Duration::DAY) {
            continue;
        }
        // Claimed first: of two nodes sweeping at once, only the one holding the claim
        // mails. A mail that then fails to queue is logged and not retried (at most once).
        if !app.storage.certificate_expiry().claim_reminder(entry.certificate.id, threshold, now).await? {
            continue;
        }
        if remind(app, tenant, &entry, threshold, mtls_url, now).await {
            sent += 1;
        }
    }
    Ok(sent)
}

/// Whether the certificate's user should hear about its expiry at all.
fn needs_reminder(entry: &ExpiringCertificate) -> bool {
    let device_in_use = entry.device.as_ref().is_some_and(|d| !d.is_deleted());
    device_in_use && !entry.renewed && entry.user.status == UserStatus::Active && entry.user.login_method.needs_certificate()
}

async fn remind(app: &App, tenant: &Tenant, entry: &ExpiringCertificate, threshold: u32, mtls_url: &str, now: OffsetDateTime) -> bool {
    let (user, certificate) = (&entry.user, &entry.certificate);
    let Some(device) = &entry.device else { return false };
    let left = certificate.not_after - now;
    // Whole days, rounded up ("in 2 days" for 1 day and 5 hours); under a day is said so.
    let days_left = left.whole_hours().div_euclid(24) + 1;
    // The mail says how to renew only where the account page lets this user renew.
    let can_renew = super::feature_enabled(&tenant.policy, user, super::Feature::Devices);
    let mail = crate::mail::OutgoingMail {
        tenant_id: Some(tenant.id),
        to: device.email.clone(),
        locale: crate::mail::ui_locale(user.locale),
        template: EXPIRY_REMINDER_TEMPLATE,
        context: serde_json::json!({
            "login_id": user.login_id,
            "display_name": user.display_name,
            "device_no": device.device_no,
            "expires_at": format_date_time(certificate.not_after, &user.time_zone),
            "days_left": days_left.min(i64::from(threshold)),
            "under_a_day": left < time::Duration::DAY,
            "can_renew": can_renew,
            "account_url": format!("{mtls_url}/account"),
            "grace_days": tenant.policy.renewal_grace_days,
        }),
    };
    match app.mailer.send(mail, now).await {
        Ok(()) => true,
        Err(err) => {
            tracing::warn!(error = %format!("{err:#}"), certificate = %certificate.serial_hex, threshold, "expiry reminder not queued");
            false
        }
    }
}

#[cfg(test)]
#[path = "expiry_reminders_tests.rs"]
mod tests;
