//! One-time passwords: TOTP (RFC 6238) from an authenticator app, or a code sent by mail.
//! TOTP secrets are sealed at rest under the master key, bound to their user; a TOTP step
//! is accepted once; e-mailed codes are stored only as hashes, expire, and are single use.

use base64::Engine as _;
use mamori_storage::model::User;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use totp_rs::{Algorithm, Totp};

use crate::app::App;

const ISSUER: &str = "Mamori";
/// How long an e-mailed code is good for.
pub const EMAIL_CODE_MINUTES: i64 = 10;
/// The least time between two e-mailed codes, against mail bombing.
pub const EMAIL_CODE_RESEND_SECONDS: i64 = 60;

fn totp(secret: &[u8], account: &str) -> anyhow::Result<Totp> {
    Ok(totp_rs::Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret.to_vec())
        .with_account_name(account)
        .with_issuer(Some(ISSUER))
        .build()?)
}

fn aad(user: &User) -> Vec<u8> {
    format!("totp:{}", user.id).into_bytes()
}

/// A new TOTP secret, sealed for `user`, as kept in the login transaction until the
/// user proves the authenticator works.
pub fn new_sealed_secret(app: &App, user: &User) -> anyhow::Result<String> {
    let secret: [u8; 20] = rand::random();
    let sealed = app.sealing.seal(&secret, &aad(user))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(sealed))
}

fn open(app: &App, user: &User, sealed: &[u8]) -> anyhow::Result<Vec<u8>> {
    Ok(app.sealing.open(sealed, &aad(user))?.to_vec())
}

/// What the set-up page shows: the QR code (SVG) and the secret for manual entry.
pub struct TotpEnrollment {
    pub qr_svg: String,
    pub secret_base32: String,
    pub otpauth_url: String,
}

pub fn enrollment_view(app: &App, user: &User, sealed_secret: &str) -> anyhow::Result<TotpEnrollment> {
    let sealed = base64::engine::general_purpose::STANDARD.decode(sealed_secret)?;
    let totp = totp(&open(app, user, &sealed)?, &user.login_id)?;
    let url = totp.to_url()?;
    let qr = qrcode::QrCode::new(url.as_bytes())?;
    let qr_svg = qr.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).build();
    Ok(TotpEnrollment { qr_svg, secret_base32: totp.secret().to_base32(), otpauth_url: url })
}

/// Checks a code against the secret waiting in set-up; on success stores it for the user.
pub async fn confirm_enrollment(app: &App, user: &User, sealed_secret: &str, code: &str, now: OffsetDateTime) -> anyhow::Result<bool> {
    let sealed = base64::engine::general_purpose::STANDARD.decode(sealed_secret)?;
    let totp = totp(&open(app, user, &sealed)?, &user.login_id)?;
    let Some(step) = totp.check(code.trim(), unix(now)) else { return Ok(false) };
    app.storage.users().set_totp_secret(user.id, Some(&sealed), now).await?;
    Ok(app.storage.users().consume_totp_step(user.id, step).await?)
}

/// What a login's TOTP set-up comes to.
#[derive(Debug, PartialEq, Eq)]
pub enum FirstEnrollment {
    Registered,
    WrongCode,
    /// Another set-up registered an authenticator first; this one registers nothing.
    AlreadyRegistered,
}

/// The set-up during a login: as [`confirm_enrollment`], but it registers the secret only
/// while the user has none, so a set-up page opened before another one completed (by
/// whoever holds the certificate and the password) cannot replace the authenticator.
pub async fn confirm_first_enrollment(
    app: &App,
    user: &User,
    sealed_secret: &str,
    code: &str,
    now: OffsetDateTime,
) -> anyhow::Result<FirstEnrollment> {
    let sealed = base64::engine::general_purpose::STANDARD.decode(sealed_secret)?;
    let totp = totp(&open(app, user, &sealed)?, &user.login_id)?;
    let Some(step) = totp.check(code.trim(), unix(now)) else { return Ok(FirstEnrollment::WrongCode) };
    if !app.storage.users().set_first_totp_secret(user.id, &sealed, now).await? {
        return Ok(FirstEnrollment::AlreadyRegistered);
    }
    Ok(if app.storage.users().consume_totp_step(user.id, step).await? { FirstEnrollment::Registered } else { FirstEnrollment::WrongCode })
}

/// Checks a TOTP code of `user`; a step already used is refused (RFC 6238 §5.2).
pub async fn check_totp(app: &App, user: &User, code: &str, now: OffsetDateTime) -> anyhow::Result<bool> {
    let Some(sealed) = user.totp_secret_sealed.as_deref() else { return Ok(false) };
    let totp = totp(&open(app, user, sealed)?, &user.login_id)?;
    match totp.check(code.trim(), unix(now)) {
        Some(step) => Ok(app.storage.users().consume_totp_step(user.id, step).await?),
        None => Ok(false),
    }
}

fn unix(now: OffsetDateTime) -> u64 {
    u64::try_from(now.unix_timestamp()).unwrap_or(0)
}

/// An e-mailed code waiting in the login transaction.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingEmailCode {
    pub hash: String,
    pub expires_at: i64,
    pub sent_at: i64,
}

impl PendingEmailCode {
    pub fn expired(&self, now: OffsetDateTime) -> bool {
        now.unix_timestamp() >= self.expires_at
    }

    pub fn may_resend(&self, now: OffsetDateTime) -> bool {
        now.unix_timestamp() >= self.sent_at + EMAIL_CODE_RESEND_SECONDS
    }
}

/// Makes a 6-digit code, mails it to every address of the user's devices, and returns
/// what the transaction keeps (its hash).
pub async fn send_email_code(app: &App, user: &User, now: OffsetDateTime) -> anyhow::Result<PendingEmailCode> {
    use rand::Rng as _;
    let code = format!("{:06}", rand::rng().random_range(0..1_000_000u32));
    let hash = app.hasher.hash(&code).await?;
    let locale = crate::mail::ui_locale(user.locale);
    for device in app.storage.devices().list_for_user(user.id, false).await? {
        app.mailer
            .send(
                crate::mail::OutgoingMail {
                    tenant_id: Some(user.tenant_id),
                    to: device.email,
                    locale,
                    template: "login-code",
                    context: serde_json::json!({ "code": code, "minutes": EMAIL_CODE_MINUTES, "login_id": user.login_id, "display_name": user.display_name }),
                },
                now,
            )
            .await?;
    }
    Ok(PendingEmailCode {
        hash,
        expires_at: (now + time::Duration::minutes(EMAIL_CODE_MINUTES)).unix_timestamp(),
        sent_at: now.unix_timestamp(),
    })
}

#[cfg(test)]
#[path = "otp_tests.rs"]
pub(crate) mod tests;
