//! Certificate download (flow 2, 電子証明書の取得): the certificate-acquisition ID and the
//! download password open a download ticket, which hands over the sealed PKCS#12 file a
//! limited number of times before it expires. Nothing here tells an unknown ID from a
//! wrong password; the ticket's state is only told to someone who knows the password.

use base64::Engine as _;
use mamori_storage::model::{RedeemError, TicketKind};
use zeroize::Zeroizing;

use crate::app::App;
use crate::flows::device_certificate::{SealedDownload, download_aad};
use crate::flows::enrollment::normalise_typed_code;

/// The PKCS#12 file for the browser, and what names the download (for a profile).
pub struct CertificateFile {
    pub file_name: String,
    pub pkcs12: Zeroizing<Vec<u8>>,
    pub acquisition_id: String,
    pub device_id: Option<uuid::Uuid>,
}

/// What the browser asked for: the `.p12` itself, or the same PKCS#12 inside an Apple
/// configuration profile. Either is one use of the download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownloadFormat {
    Pkcs12,
    AppleProfile,
}

impl DownloadFormat {
    /// The form's `format` field: none is the `.p12`; a value Mamori does not make is
    /// refused rather than answered with a file the browser did not ask for.
    pub fn from_field(value: &str) -> Option<Self> {
        match value {
            "" | "p12" => Some(Self::Pkcs12),
            "mobileconfig" => Some(Self::AppleProfile),
            _ => None,
        }
    }
}

/// The download page's address for a user of `tenant_slug`: the page shows the tenant's
/// name, logo and colour, and fills in the acquisition ID when the link knows it. Every
/// page and mail that points to the download builds the link here.
pub fn download_page_url(base: &str, tenant_slug: &str, acquisition_id: Option<&str>) -> String {
    let mut url = format!("{}/download?tenant={}", base.trim_end_matches('/'), crate::urlcode::component(tenant_slug));
    if let Some(id) = acquisition_id {
        url.push_str("&acquisition_id=");
        url.push_str(&crate::urlcode::component(id));
    }
    url
}

/// The PKCS#12 of `file` wrapped in a configuration profile for iOS and macOS, with the
/// CA root as a trusted certificate when the operator enabled that
/// (`ca.mobileconfig_trust_root`), signed when a profile-signing certificate is
/// configured. See [`crate::flows::mobileconfig`] and [`crate::flows::mobileconfig_signing`].
pub async fn apple_profile(app: &App, file: &CertificateFile, public_url: &str, locale: mamori_ui::Locale) -> anyhow::Result<Vec<u8>> {
    let root = match app.config.ca.mobileconfig_trust_root {
        // The top of the active CA's chain: the root the PKCS#12's chain ends in, unless
        // the CA was replaced since the download was prepared (then the new root).
        true => app.ca.pkcs12_chain().await?.pop(),
        false => None,
    };
    let host = url::Url::parse(public_url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
    let input = crate::flows::mobileconfig::ProfileInput {
        pkcs12: &file.pkcs12,
        file_name: &file.file_name,
        acquisition_id: &file.acquisition_id,
        device_id: file.device_id,
        public_host: &host,
        ca_root_der: root.as_deref(),
        texts: crate::flows::mobileconfig::ProfileTexts::in_language(&app.ui, locale),
    };
    let profile = crate::flows::mobileconfig::configuration_profile(&input)?;
    match &app.profile_signer {
        // On the blocking pool: an RSA signature is CPU work like the others there.
        Some(signer) => {
            let (signer, now) = (std::sync::Arc::clone(signer), app.now());
            app.pool.run(move || signer.sign(&profile, now)).await?
        }
        None => Ok(profile),
    }
}

pub enum DownloadOutcome {
    Delivered(CertificateFile),
    /// Unknown ID, wrong password, or a ticket that is not a download: one answer for all.
    WrongCredentials,
    /// Downloaded as often as allowed, or replaced by a newer certificate.
    Spent,
    Expired,
    /// Too many wrong passwords for this ID.
    Locked,
    /// The user's account is disabled: their key stays on the server, like their login.
    AccountDisabled,
}

/// The acquisition ID as printed in the mail (`C` and 11 digits), whatever the user's
/// input method did to it: full-width characters, lower-case `c`, blanks.
pub fn normalise_acquisition_id(typed: &str) -> String {
    normalise_typed_code(typed).to_ascii_uppercase()
}

/// Checks the download password and, when it matches, uses the ticket once and opens
/// its file. A wrong password counts against the ticket; a hash is spent whether or not
/// the ID exists, so timing does not tell either.
pub async fn redeem_download(app: &App, acquisition_id: &str, password: &str) -> anyhow::Result<DownloadOutcome> {
    let acquisition_id = normalise_acquisition_id(acquisition_id);
    let password = normalise_typed_code(password);
    let tickets = app.storage.tickets();
    let ticket = tickets.find_by_acquisition_id(&acquisition_id).await?.filter(|t| t.kind == TicketKind::Download);
    let stored = ticket.as_ref().and_then(|t| t.secret_hash.as_deref());
    let matched = app.hasher.verify(&password, stored).await?;
    let Some(ticket) = ticket else {
        return Ok(DownloadOutcome::WrongCredentials);
    };
    // A locked ticket answers the same whatever the password: telling a right one apart
    // would let guessing go on past the lock.
    if ticket.attempts_left == 0 {
        return Ok(DownloadOutcome::Locked);
    }
    if !matched {
        let outcome = tickets.record_failed_attempt(ticket.id).await?;
        tracing::info!(ticket = %ticket.id, attempts_left = outcome.attempts_left, "wrong download password");
        return Ok(if outcome.is_locked() { DownloadOutcome::Locked } else { DownloadOutcome::WrongCredentials });
    }
    // Only after the password: who does not know it learns nothing about the account.
    if app.storage.users().get(ticket.user_id).await?.status != mamori_storage::model::UserStatus::Active {
        tracing::info!(ticket = %ticket.id, "download refused: the account is disabled");
        return Ok(DownloadOutcome::AccountDisabled);
    }
    let redeemed = match tickets.redeem(ticket.id, app.now()).await {
        Ok(redeemed) => redeemed,
        Err(RedeemError::Storage(err)) => return Err(err.into()),
        Err(RedeemError::NotFound | RedeemError::Spent) => return Ok(DownloadOutcome::Spent),
        Err(RedeemError::Expired) => return Ok(DownloadOutcome::Expired),
        Err(RedeemError::Locked) => return Ok(DownloadOutcome::Locked),
        Err(other) => return Err(other.into()),
    };
    // A voided ticket (the certificate was reissued) keeps no payload.
    let Some(payload) = redeemed.payload_sealed.as_deref() else {
        return Ok(DownloadOutcome::Spent);
    };
    let plain = app.sealing.open(payload, &download_aad(&acquisition_id))?;
    let sealed: SealedDownload = serde_json::from_slice(&plain)?;
    let pkcs12 = Zeroizing::new(base64::engine::general_purpose::STANDARD.decode(&sealed.pkcs12_base64)?);
    tracing::info!(ticket = %ticket.id, uses_left = redeemed.uses_left, "certificate downloaded");
    Ok(DownloadOutcome::Delivered(CertificateFile {
        file_name: safe_file_name(&sealed.file_name),
        pkcs12,
        acquisition_id,
        device_id: redeemed.device_id,
    }))
}

/// A file name safe inside `Content-Disposition: attachment; filename="…"`: ASCII letters,
/// digits, `.`, `-` and `_` only, ending in `.p12`.
pub fn safe_file_name(name: &str) -> String {
    let mut safe: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' }).take(100).collect();
    let safe_trimmed = safe.trim_start_matches('.');
    safe = if safe_trimmed.is_empty() { "certificate".to_owned() } else { safe_trimmed.to_owned() };
    if !safe.to_ascii_lowercase().ends_with(".p12") {
        safe.push_str(".p12");
    }
    safe
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acquisition_ids_are_read_as_printed() {
        assert_eq!(normalise_acquisition_id(" c01234567890 "), "C01234567890");
        assert_eq!(normalise_acquisition_id("Ｃ０１２３４５６７８９０"), "C01234567890");
        assert_eq!(normalise_acquisition_id("\u{3000}C01234567890\u{3000}"), "C01234567890");
    }

    #[test]
    fn file_names_cannot_break_the_header() {
        assert_eq!(safe_file_name("p-01-usr012-1.p12"), "p-01-usr012-1.p12");
        assert_eq!(safe_file_name("a\"b;c\r\nd.p12"), "a_b_c__d.p12");
        assert_eq!(safe_file_name("山田-1.p12"), "__-1.p12");
        assert_eq!(safe_file_name(""), "certificate.p12");
        assert_eq!(safe_file_name("..."), "certificate.p12");
        assert_eq!(safe_file_name("x"), "x.p12");
        assert!(safe_file_name(&"a".repeat(500)).len() <= 104);
    }

    #[tokio::test]
    async fn a_disabled_users_certificate_is_not_handed_over() {
        use mamori_storage::model::{DeviceType, LoginMethod, NewDevice, TenantPolicy, UserStatus};
        let ctx = crate::test_context::TestContext::new().await;
        let tenant = ctx.tenant(TenantPolicy::default()).await;
        let taro = ctx.user(&tenant, "taro", LoginMethod::CertPassword, None).await;
        let _ = ctx.device_certificate(&taro).await;
        let new = NewDevice { user_id: taro.id, device_type: DeviceType::Pc, email: "taro-pc@example.com".into() };
        let device = ctx.app.storage.devices().add_device(&new, 9, ctx.app.now()).await.expect("a device");
        let pending = crate::flows::device_certificate::issue_for_download(&ctx.app, &tenant, &taro, &device, "https://main.test")
            .await
            .expect("issued for download");
        let users = ctx.app.storage.users();
        users.set_status(taro.id, UserStatus::Disabled, ctx.app.now()).await.expect("disabled");
        let outcome = redeem_download(&ctx.app, &pending.acquisition_id, &pending.download_password).await.expect("answered");
        assert!(matches!(outcome, DownloadOutcome::AccountDisabled), "the key stays on the server");
        // Not spent by the refusal: enabled again, the user gets the file.
        users.set_status(taro.id, UserStatus::Active, ctx.app.now()).await.expect("enabled");
        let outcome = redeem_download(&ctx.app, &pending.acquisition_id, &pending.download_password).await.expect("answered");
        assert!(matches!(outcome, DownloadOutcome::Delivered(_)));
        // A wrong password says nothing about the account.
        users.set_status(taro.id, UserStatus::Disabled, ctx.app.now()).await.expect("disabled");
        let outcome = redeem_download(&ctx.app, &pending.acquisition_id, "wrong-password").await.expect("answered");
        assert!(matches!(outcome, DownloadOutcome::WrongCredentials));
    }
}
