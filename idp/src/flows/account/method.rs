//! Login-method change (flow 8): choose → confirm → what the new method needs is enrolled
//! or issued on the spot (TOTP authenticator, a certificate per device), and the factor
//! given up stops working.

use base64::Engine as _;
use mamori_ca::RevocationReason;
use mamori_storage::model::{Completion, LoginMethod, OtpKind, PasswordChange, Tenant, TenantPolicy, User};
use serde::{Deserialize, Serialize};

use super::notices::{AccountChange, notify, record_change};
use crate::app::App;
use crate::flows::device_certificate::{self, PendingDownload};
use crate::flows::events::{Attempt, record_login_event};
use crate::flows::password_policy::PasswordProblem;

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
    NeedsTotp {
        pending: String,
        sealed_secret: String,
    },
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
    // A passkey is registered on its own page, before a method that asks for one.
    if to.needs_passkey() && app.storage.passkeys().count_for_user(user.id).await? == 0 {
        return Ok(MethodChangeStep::Invalid(vec!["passkey.method.register_first"]));
    }
    let plan = plan_method_change(user.login_method, to, &tenant.policy, user.totp_secret_sealed.is_some());
    if plan.issue_certificates && app.storage.devices().count_active(user.id).await? == 0 {
        return Ok(MethodChangeStep::Invalid(vec!["account.login_method.no_device"]));
    }
    let password_hash = if plan.set_password {
        let problems = crate::flows::login::validate_new_password(app, tenant, user, new_password, confirmation).await?;
        if !problems.is_empty() {
            return Ok(MethodChangeStep::Invalid(problems.into_iter().map(PasswordProblem::message_key).collect()));
        }
        Some(app.hasher.hash(new_password).await?)
    } else {
        None
    };
    if plan.enroll_totp {
        let sealed_secret = crate::flows::otp::new_sealed_secret(app, user)?;
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
    if !crate::flows::otp::confirm_enrollment(app, user, &pending.totp_sealed, code, app.now()).await? {
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
    // The slow parts first (signing, PKCS#12, sealing, hashing); then one transaction,
    // so a failure half-way never leaves a method without the factor it asks for, nor
    // certificates still working for a method that gave them up.
    let mut prepared = Vec::new();
    if plan.issue_certificates {
        for device in app.storage.devices().list_for_user(user.id, false).await? {
            let download = device_certificate::prepare_download(app, tenant, user, &device).await?;
            prepared.push((device, download));
        }
    }
    let (certificates, pending): (Vec<_>, Vec<_>) = prepared.into_iter().map(|(device, p)| (p.record, (device, p.pending))).unzip();
    let completion = Completion {
        user_id: user.id,
        password: password_hash.map(|hash| PasswordChange {
            hash: hash.to_owned(),
            must_change: false,
            keep: tenant.policy.password_history_count.max(1),
        }),
        login_method: Some(to),
        clear_totp: plan.clear_totp,
        revoke_certificates: plan.revoke_certificates.then(|| RevocationReason::CessationOfOperation.as_str().to_owned()),
        certificates,
        ..Completion::default()
    };
    app.storage.completions().complete(&completion, app.now()).await?;
    let mut downloads = Vec::new();
    for (device, download) in pending {
        device_certificate::announce_download(app, tenant, user, &device, &download, public_url).await;
        downloads.push((device.device_no, download));
    }
    record_change(app, attempt, AccountChange::LoginMethodChanged).await;
    let extra = serde_json::json!({ "before": user.login_method.as_str(), "after": to.as_str() });
    notify(app, user, "notice-login-method-changed", extra, &[]).await;
    Ok(MethodChangeDone { from: user.login_method, to, downloads })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::account::test_support::user;

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
}
