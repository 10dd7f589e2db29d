//! Renewal before expiry (issue 21): from the account page, while a device's certificate
//! is still valid, a new certificate for the same device is issued for download, and the
//! old one keeps working so the user is never locked out. The old one is revoked
//! (superseded) when a login with the new one completes, or once the grace
//! period (the tenant policy's `renewal_grace_days`) after the renewal has passed: when the old one is
//! next presented, or by the server's periodic sweep, whichever comes first.

use mamori_ca::RevocationReason;
use mamori_storage::StorageError;
use mamori_storage::model::{Certificate, CertificateStatus, Completion, Device, RENEWAL_PENDING, RedeemError, Tenant, TicketKind, User};
use time::OffsetDateTime;

use super::notices::{AccountChange, record_change};
use crate::app::App;
use crate::flows::device_certificate::{self, PendingDownload};
use crate::flows::events::Attempt;

pub enum RenewOutcome {
    Renewed(PendingDownload),
    /// The device has no valid certificate to renew: a reissue is what it needs.
    NoLiveCertificate,
    /// A renewal is already waiting for its certificate to be used.
    AlreadyPending,
    NoCertificateMethod,
}

/// The device's certificates that log in at `now`, newest first.
async fn live_certificates(app: &App, device: &Device, now: OffsetDateTime) -> anyhow::Result<Vec<Certificate>> {
    let all = app.storage.certificates().list_for_device(device.id).await?;
    Ok(all.into_iter().filter(|c| c.status == CertificateStatus::Active && c.is_usable_at(now)).collect())
}

/// Issues the renewal's certificate for download without revoking the current one.
pub async fn renew_device_certificate(
    app: &App,
    tenant: &Tenant,
    user: &User,
    device: &Device,
    public_url: &str,
    attempt: &Attempt<'_>,
) -> anyhow::Result<RenewOutcome> {
    if !user.login_method.needs_certificate() {
        return Ok(RenewOutcome::NoCertificateMethod);
    }
    let now = app.now();
    let live = live_certificates(app, device, now).await?;
    // `live` is newest first; the oldest is the one in use, and the one renewed.
    let Some(in_use) = live.last() else { return Ok(RenewOutcome::NoLiveCertificate) };
    let renews = in_use.serial_hex.clone();
    match live.len() {
        1 => {}
        // Two live certificates: the last renewal's is not in use yet. While its download
        // can still be redeemed, another renewal would leave three (and a double click
        // would issue twice). Once that download is spent, locked by wrong passwords or
        // expired, the renewal would wait for a certificate nobody can fetch: it is
        // withdrawn (revoked, never used) and this one takes its place.
        _ => {
            let pending = app.storage.tickets().list_pending_for_user(user.id, now).await?;
            if pending.iter().any(|t| t.kind == TicketKind::Download && t.device_id == Some(device.id)) {
                return Ok(RenewOutcome::AlreadyPending);
            }
            for unused in &live[..live.len() - 1] {
                match app.storage.certificates().revoke(&unused.serial_hex, RevocationReason::Superseded.as_str(), now).await {
                    Ok(_) | Err(mamori_storage::StorageError::Conflict(_)) => {}
                    Err(err) => return Err(err.into()),
                }
            }
        }
    }
    let mut prepared = device_certificate::prepare_download(app, tenant, user, device).await?;
    prepared.record.supersede_reason = None;
    // Checked again in the transaction: of concurrent renewals one issues, the others
    // find its certificate and are told a renewal is pending.
    prepared.record.renews = Some(renews);
    let completion = Completion { user_id: user.id, certificates: vec![prepared.record], ..Completion::default() };
    match app.storage.completions().complete(&completion, app.now()).await {
        Ok(()) => {}
        Err(RedeemError::Storage(StorageError::Conflict(RENEWAL_PENDING))) => return Ok(RenewOutcome::AlreadyPending),
        Err(err) => return Err(err.into()),
    }
    device_certificate::announce_download(app, tenant, user, device, &prepared.pending, public_url).await;
    record_change(app, attempt, AccountChange::CertificateReissued).await;
    Ok(RenewOutcome::Renewed(prepared.pending))
}

/// Whether a device has a renewal waiting for its new certificate to be used.
pub fn renewal_pending(live_certificates_of_device: usize) -> bool {
    live_certificates_of_device > 1
}

/// At a completed login with `certificate`: a renewal's certificate is in use now, so
/// the ones it renewed are revoked. Only a finished login counts ("the new one has been
/// used to log in"): presenting the certificate at the first step retires nothing.
pub async fn retire_renewed(app: &App, certificate: &Certificate, now: OffsetDateTime) -> anyhow::Result<()> {
    let Some(device_id) = certificate.device_id else { return Ok(()) };
    let certificates = app.storage.certificates();
    let live: Vec<Certificate> =
        certificates.list_for_device(device_id).await?.into_iter().filter(|c| c.status == CertificateStatus::Active).collect();
    if live.iter().any(|c| c.created_at < certificate.created_at) {
        let reason = RevocationReason::Superseded.as_str();
        let revoked = certificates.revoke_older_for_device(device_id, certificate.created_at, reason, now).await?;
        tracing::info!(device = %device_id, revoked = revoked.len(), "renewed certificate in use; the old one is revoked");
    }
    Ok(())
}

/// At the certificate step, after `certificate` passed every other check: false when it
/// is an old one whose renewal's grace period has ended (revoked now, the login refused
/// as revoked).
pub async fn settle_renewal(app: &App, tenant: &Tenant, certificate: &Certificate, now: OffsetDateTime) -> anyhow::Result<bool> {
    let Some(device_id) = certificate.device_id else { return Ok(true) };
    let certificates = app.storage.certificates();
    let live: Vec<Certificate> =
        certificates.list_for_device(device_id).await?.into_iter().filter(|c| c.status == CertificateStatus::Active).collect();
    if live.len() < 2 {
        return Ok(true);
    }
    let reason = RevocationReason::Superseded.as_str();
    let grace = tenant.policy.renewal_grace();
    let renewed_at = live.iter().filter(|c| c.created_at > certificate.created_at).map(|c| c.created_at).min();
    match renewed_at {
        Some(at) if now >= at + grace => {
            match certificates.revoke(&certificate.serial_hex, reason, now).await {
                // Conflict: revoked meanwhile, by a concurrent login or an operator.
                Ok(_) | Err(mamori_storage::StorageError::Conflict(_)) => {}
                Err(err) => return Err(err.into()),
            }
            tracing::info!(device = %device_id, "renewal grace period over; the old certificate is revoked");
            Ok(false)
        }
        _ => Ok(true),
    }
}

/// Revokes every certificate whose renewal is older than its tenant's grace period; the
/// number revoked. Run periodically by the server (see `server::certificate_sweeps`).
pub async fn retire_renewed_certificates(app: &App, now: OffsetDateTime) -> anyhow::Result<usize> {
    let reason = RevocationReason::Superseded.as_str();
    let mut revoked = 0;
    for tenant in app.storage.tenants().list().await? {
        let grace = tenant.policy.renewal_grace();
        revoked += app.storage.certificates().revoke_renewed_before_in_tenant(tenant.id, now - grace, reason, now).await?.len();
    }
    Ok(revoked)
}
