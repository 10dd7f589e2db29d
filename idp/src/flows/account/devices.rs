//! Devices (flow 7): the device table, add with confirmation and the tenant's maximum,
//! change of e-mail address, delete (revoking the certificate).

use std::collections::HashMap;

use mamori_ca::RevocationReason;
use mamori_storage::model::{
    CertificateStatus, Completion, Device, DeviceAddition, DeviceType, NewDevice, RedeemError, Tenant, TicketKind, User,
};
use mamori_storage::{DEVICE_LIMIT_REACHED, StorageError};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::history::format_date;
use super::notices::{AccountChange, notify, record_change};
use crate::app::App;
use crate::flows::device_certificate::{self, PendingDownload, SealedDownload};
use crate::flows::events::Attempt;

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
    /// A renewal's certificate is issued and not yet used: the old one still works.
    pub renewal_pending: bool,
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
            let live: Vec<_> = certificates
                .iter()
                .filter(|c| c.device_id == Some(d.id) && c.status == CertificateStatus::Active && c.not_after > now)
                .collect();
            let expires = live.iter().map(|c| c.not_after).max();
            let download = downloads.get(&d.id);
            DeviceRow {
                device_no: d.device_no,
                device_type: d.device_type.as_str().to_owned(),
                email: d.email.clone(),
                certificate_expires: expires.map(|t| format_date(t, &user.time_zone)),
                acquisition_id: download.map(|(id, _)| id.clone()),
                download_password: download.map(|(_, pw)| pw.clone()),
                // Pending while its download can be fetched; after that a new renewal
                // replaces it (see `renew_device_certificate`).
                renewal_pending: super::renewal_pending(live.len()) && download.is_some(),
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
pub const MAX_EMAIL_LEN: usize = crate::mail::address::MAX_LEN;

/// An address the mailer can send to, by the one rule of [`crate::mail::address::parse`]
/// (surrounding blanks, as typed into a form, are ignored).
pub fn email_is_valid(email: &str) -> bool {
    crate::mail::address::parse(email.trim()).is_ok()
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

/// Adds the device and, for certificate methods, issues its certificate: both in one
/// transaction (storage enforces the limit there), so a failure leaves no device without
/// its certificate. The download-guidance mail goes to the new address.
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
    // The certificate names the device's number, so the number is taken first; the row
    // itself is written with the certificate.
    let device = app.storage.devices().reserve(&new, app.now()).await?;
    let prepared = match user.login_method.needs_certificate() {
        true => Some(device_certificate::prepare_download(app, tenant, user, &device).await?),
        false => None,
    };
    let (certificate, download) = prepared.map(|p| (p.record, p.pending)).unzip();
    let completion = Completion {
        user_id: user.id,
        new_device: Some(DeviceAddition { device: device.clone(), max_devices: tenant.policy.max_devices }),
        certificates: certificate.into_iter().collect(),
        ..Completion::default()
    };
    match app.storage.completions().complete(&completion, app.now()).await {
        Ok(()) => {}
        Err(RedeemError::Storage(StorageError::Conflict(DEVICE_LIMIT_REACHED))) => {
            return Ok(AddDeviceOutcome::Invalid(vec!["account.device.limit"]));
        }
        Err(err) => return Err(err.into()),
    }
    if let Some(pending) = &download {
        device_certificate::announce_download(app, tenant, user, &device, pending, public_url).await;
    }
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
    app.storage.devices().set_email(device.id, email.trim()).await?;
    device_email_changed(app, user, device, email.trim(), attempt).await?;
    Ok(Ok(()))
}

/// What follows a device's new address, whoever wrote it (the flow above, or a SCIM
/// change applied in one transaction with others): `device` is the device as it was.
pub async fn device_email_changed(app: &App, user: &User, device: &Device, email: &str, attempt: &Attempt<'_>) -> anyhow::Result<()> {
    // A reissue link already mailed to the old address must not prove the new one.
    app.storage.tickets().invalidate_for_device(device.id, mamori_storage::model::TicketKind::CertificateReissue).await?;
    record_change(app, attempt, AccountChange::DeviceEmailChanged).await;
    let extra = serde_json::json!({ "device_no": device.device_no, "email": email });
    notify(app, user, "notice-device-changed", extra, std::slice::from_ref(&device.email)).await;
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteDeviceOutcome {
    Deleted,
    /// The last device of a certificate method: deleting it would lock the user out.
    LastCertificateDevice,
}

/// Deletes a device and revokes its certificate (cessation of operation): it stops
/// logging in at once and is on the next CRL. The notice also reaches the deleted address.
/// The caller ends the user's other sessions (`ending_other_sessions`): those of the
/// revoked certificate would end only when next seen, and a lost device is never seen
/// again, while the refresh tokens its sessions gave relying sites would go on working.
pub async fn delete_device(app: &App, user: &User, device: &Device, attempt: &Attempt<'_>) -> anyhow::Result<DeleteDeviceOutcome> {
    if user.login_method.needs_certificate() && app.storage.devices().count_active(user.id).await? <= 1 {
        return Ok(DeleteDeviceOutcome::LastCertificateDevice);
    }
    remove_device(app, device).await?;
    record_change(app, attempt, AccountChange::DeviceDeleted).await;
    let extra = serde_json::json!({ "device_no": device.device_no, "email": device.email });
    notify(app, user, "notice-device-deleted", extra, std::slice::from_ref(&device.email)).await;
    Ok(DeleteDeviceOutcome::Deleted)
}

/// What deleting a device means, whoever deletes it (the user, an operator): the device
/// goes, its certificate is revoked (cessation of operation) and its download and
/// reissue links stop working. What its certificate opened (sessions, and the relying
/// sites' grants from them) is the caller's to end, keeping the session that deleted it.
pub async fn remove_device(app: &App, device: &Device) -> anyhow::Result<()> {
    let now = app.now();
    app.storage.devices().delete(device.id, now).await?;
    app.storage.certificates().revoke_for_device(device.id, RevocationReason::CessationOfOperation.as_str(), now).await?;
    app.storage.tickets().invalidate_for_device(device.id, TicketKind::Download).await?;
    app.storage.tickets().invalidate_for_device(device.id, TicketKind::CertificateReissue).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::account::unique_addresses;

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
}
