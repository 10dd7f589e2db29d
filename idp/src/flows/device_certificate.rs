//! Issuing a device's certificate for download (flows 1, 6 and 7): a new key and
//! certificate, packed as PKCS#12 under a fresh download password, sealed into a download
//! ticket that works a limited number of times, and a download-guidance mail to the
//! device's address. The device's previous certificate is revoked (superseded).

use base64::Engine as _;
use mamori_ca::{KeyAlgorithm, Pkcs12Format, RevocationReason};
use mamori_storage::model::{CertificateDownload, CertificateKeyType, Completion, Device, NewTicket, Tenant, TicketKind, User};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::app::App;
use crate::pki::CertificateOwner;

/// What the user is shown once (the download password) and told by mail.
#[derive(Debug, Clone, Serialize)]
pub struct PendingDownload {
    pub acquisition_id: String,
    pub download_password: String,
    pub certificate_name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// What a download ticket keeps, sealed under the master key: the file, and the download
/// password so the account page can show it while the download is pending.
#[derive(Serialize, Deserialize)]
pub struct SealedDownload {
    pub pkcs12_base64: String,
    pub download_password: String,
    pub file_name: String,
}

/// The name the browser shows in its certificate picker.
pub fn certificate_name(tenant: &Tenant, user: &User, device: &Device) -> String {
    common_name(&tenant.display_name, &user.login_id, device.device_no)
}

/// RFC 5280's ub-common-name, which the CA enforces.
const MAX_COMMON_NAME_CHARS: usize = 64;

/// "{tenant} {login ID} #{device}" within 64 characters, whatever the lengths the
/// tenant's name (up to 200) and the login ID (up to 64) are allowed: the tenant's name
/// is shortened first (ending in "…", or left out), then the login ID; the device number
/// always stays. The name is for people choosing a certificate; the serial, not the
/// name, ties it to the device, so a shortened name loses nothing.
fn common_name(tenant: &str, login_id: &str, device_no: u32) -> String {
    let suffix = format!(" #{device_no}");
    let room = MAX_COMMON_NAME_CHARS.saturating_sub(suffix.chars().count());
    let login_chars = login_id.chars().count();
    let login = if login_chars <= room { login_id.to_owned() } else { shorten(login_id, room) };
    let left = room.saturating_sub(login.chars().count() + 1);
    let tenant_part = match tenant.chars().count() {
        0 => String::new(),
        n if n <= left => format!("{tenant} "),
        _ if left >= 2 => format!("{} ", shorten(tenant, left)),
        _ => String::new(),
    };
    format!("{tenant_part}{login}{suffix}")
}

/// `text` cut to `max` characters, the last one an ellipsis.
fn shorten(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

pub fn download_aad(acquisition_id: &str) -> Vec<u8> {
    format!("download:{acquisition_id}").into_bytes()
}

/// A certificate handed over directly (operator CLI) instead of through a download.
pub struct IssuedFile {
    pub serial_hex: String,
    pub pkcs12: Vec<u8>,
}

fn key_and_format(tenant: &Tenant) -> (KeyAlgorithm, Pkcs12Format) {
    let key = match tenant.policy.certificate_key_type {
        CertificateKeyType::Rsa2048 => KeyAlgorithm::Rsa2048,
        _ => KeyAlgorithm::EcP256,
    };
    let format = match tenant.policy.pkcs12_format {
        mamori_storage::model::Pkcs12Format::Legacy => Pkcs12Format::Legacy,
        _ => Pkcs12Format::Modern,
    };
    (key, format)
}

/// Issues a device certificate with explicit validity and returns it as PKCS#12,
/// superseding the device's previous certificate.
pub async fn issue_to_file(
    app: &App,
    tenant: &Tenant,
    user: &User,
    device: &Device,
    password: &str,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> anyhow::Result<IssuedFile> {
    let now = app.now();
    let name = certificate_name(tenant, user, device);
    let (key, format) = key_and_format(tenant);
    app.storage.certificates().revoke_for_device(device.id, RevocationReason::Superseded.as_str(), now).await?;
    let owner = CertificateOwner { user_id: Some(user.id), device_id: Some(device.id) };
    let issued = app.ca.issue_device_certificate(owner, name.clone(), Some(device.email.clone()), key, not_before, not_after).await?;
    let chain = app.ca.pkcs12_chain().await?;
    let pkcs12 = mamori_ca::export_pkcs12(&issued, &chain, password, &name, format)?;
    Ok(IssuedFile { serial_hex: issued.serial_hex, pkcs12 })
}

/// Issues the certificate, stores it with its download (one transaction) and sends the
/// guidance mail. For flows that record nothing else; a flow that also redeems a ticket
/// puts [`prepare_download`]'s record into its own completion instead.
pub async fn issue_for_download(
    app: &App,
    tenant: &Tenant,
    user: &User,
    device: &Device,
    public_url: &str,
) -> anyhow::Result<PendingDownload> {
    let prepared = prepare_download(app, tenant, user, device).await?;
    let completion = Completion { user_id: user.id, certificates: vec![prepared.record], ..Completion::default() };
    app.storage.completions().complete(&completion, app.now()).await?;
    announce_download(app, tenant, user, device, &prepared.pending, public_url).await;
    Ok(prepared.pending)
}

/// A device certificate signed, packed and sealed for download, not recorded yet.
pub struct PreparedDownload {
    /// For the flow's completion transaction. Until that commits the certificate exists
    /// nowhere but here; if it fails the certificate is dropped, never handed out.
    pub record: CertificateDownload,
    /// What the user is shown once the completion committed.
    pub pending: PendingDownload,
}

/// The slow part of issuing (key generation, signing, PKCS#12, sealing, hashing the
/// download password), done before any write so that the transaction only writes.
pub async fn prepare_download(app: &App, tenant: &Tenant, user: &User, device: &Device) -> anyhow::Result<PreparedDownload> {
    let now = app.now();
    let policy = &tenant.policy;
    let name = certificate_name(tenant, user, device);
    let (key, format) = key_and_format(tenant);
    let not_after = app.ca.device_not_after(policy, now).await?;
    let owner = CertificateOwner { user_id: Some(user.id), device_id: Some(device.id) };
    let (issued, certificate) =
        app.ca.sign_device_certificate(owner, name.clone(), Some(device.email.clone()), key, now, not_after).await?;

    let password = crate::secrets::download_password();
    let chain = app.ca.pkcs12_chain().await?;
    let p12 = mamori_ca::export_pkcs12(&issued, &chain, &password, &name, format)?;
    let acquisition_id = crate::secrets::acquisition_id();
    let sealed = SealedDownload {
        pkcs12_base64: base64::engine::general_purpose::STANDARD.encode(&p12),
        download_password: password.clone(),
        file_name: format!("{}-{}.p12", user.login_id, device.device_no),
    };
    let payload = app.sealing.seal(&serde_json::to_vec(&sealed)?, &download_aad(&acquisition_id))?;
    let expires_at = now + time::Duration::hours(i64::from(policy.download_ticket_hours.max(1)));
    let download = NewTicket {
        kind: TicketKind::Download,
        tenant_id: tenant.id,
        user_id: user.id,
        device_id: Some(device.id),
        lookup_hash: mamori_storage::token_lookup_hash(&crate::secrets::url_token()),
        secret_hash: Some(app.hasher.hash(&password).await?),
        acquisition_id: Some(acquisition_id.clone()),
        payload_sealed: Some(payload),
        expires_at,
        attempts: policy.lockout_threshold_enrollment_otp.max(1),
        uses: policy.download_max_count.max(1),
    };
    Ok(PreparedDownload {
        record: CertificateDownload {
            device_id: device.id,
            certificate,
            supersede_reason: Some(RevocationReason::Superseded.as_str().to_owned()),
            renews: None,
            download: Some(download),
        },
        pending: PendingDownload { acquisition_id, download_password: password, certificate_name: name, expires_at },
    })
}

/// After the completion committed: the next CRL lists the superseded certificate, and
/// the guidance mail goes to the device's address. A mail that cannot be queued is logged,
/// not returned: the certificate is recorded and the page shows how to download it.
pub async fn announce_download(app: &App, tenant: &Tenant, user: &User, device: &Device, pending: &PendingDownload, public_url: &str) {
    app.metrics.certificate_issued("generated");
    let mail = crate::mail::OutgoingMail {
        tenant_id: Some(tenant.id),
        to: device.email.clone(),
        locale: crate::mail::ui_locale(user.locale),
        template: "download-guidance",
        context: serde_json::json!({
            "login_id": user.login_id,
            "display_name": user.display_name,
            "certificate_name": pending.certificate_name,
            "acquisition_id": pending.acquisition_id,
            "download_url": crate::flows::download::download_page_url(public_url, &tenant.slug, Some(&pending.acquisition_id)),
            "expires_at": pending.expires_at.date().to_string(),
            "download_max_count": tenant.policy.download_max_count,
        }),
    };
    if let Err(err) = app.mailer.send(mail, app.now()).await {
        tracing::warn!(error = %format!("{err:#}"), device = %device.id, "download guidance mail not queued");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_names_fit_rfc_5280_whatever_the_lengths() {
        assert_eq!(common_name("Acme", "alice", 1), "Acme alice #1");
        let long_tenant = "T".repeat(200);
        let login64 = "u".repeat(64);
        for (tenant, login, device) in [
            (long_tenant.as_str(), "alice", 3),
            ("Acme", login64.as_str(), 1),
            (long_tenant.as_str(), login64.as_str(), 10),
            ("", login64.as_str(), 100),
            ("日本語のテナント名".repeat(10).as_str(), "ユーザー", 2),
        ] {
            let name = common_name(tenant, login, device);
            assert!(name.chars().count() <= MAX_COMMON_NAME_CHARS, "{} characters: {name}", name.chars().count());
            assert!(name.ends_with(&format!(" #{device}")), "{name}");
        }
        // The login ID stays whole while it fits; the tenant's name gives way first.
        let name = common_name(&long_tenant, "alice", 3);
        assert!(name.ends_with(" alice #3") && name.starts_with("TTT") && name.contains('…'), "{name}");
        let name = common_name("Acme", &login64, 1);
        assert!(name.ends_with("… #1") && !name.contains("Acme"), "{name}");
    }
}
