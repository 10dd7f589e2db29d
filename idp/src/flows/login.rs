//! Login as a state machine (flow 3): the certificate step opens a transaction that
//! records which factors are done and what the user's method still requires; each step
//! moves it forward or ends it. Its outcome says which factors were used (`amr`).
//!
//! Users whose method needs no certificate (`password`, `password+otp`) open it with the
//! ID/password instead (`flows::password_login`). The method is read from the user record
//! after the ID is typed, and a certificate method is never satisfied without the certificate: every
//! step re-derives what is missing from the current record.

use mamori_storage::model::{LockoutOutcome, LoginResult, Tenant, User};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::events::{Attempt, record_login_event};
use super::otp;
use super::password_policy::{PasswordProblem, check_password};
use super::session_binding::CertificateBinding;
use crate::app::App;

/// A factor, stored and reported by its RFC 8176 `amr` value (docs/authentication-context.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Factor {
    /// Proof of possession of the device certificate's key. Mamori's CA makes that key and
    /// delivers it in a PKCS#12 file, so nothing proves it lives in hardware: `swk`
    /// (software-secured key), never `hwk`. Sessions stored before were written `hwk`.
    #[serde(rename = "swk", alias = "hwk")]
    Certificate,
    Pwd,
    Otp,
    /// A WebAuthn assertion by a registered passkey, always with user verification.
    /// Registration asks for no attestation, so nothing proves the key is in hardware (and
    /// synced passkeys are not): `swk`, with `user` for the presence and verification the
    /// authenticator tested. A passkey is two factors in one (`oidc::acr`).
    Passkey,
}

impl Factor {
    pub fn amr(self) -> &'static [&'static str] {
        match self {
            Factor::Certificate => &["swk"],
            Factor::Pwd => &["pwd"],
            Factor::Otp => &["otp"],
            Factor::Passkey => &["swk", "user"],
        }
    }

    /// The message key of its name on pages (`factor.*`).
    pub fn label_key(self) -> &'static str {
        match self {
            Factor::Certificate => "factor.swk",
            Factor::Pwd => "factor.pwd",
            Factor::Otp => "factor.otp",
            Factor::Passkey => "factor.passkey",
        }
    }
}

/// The `amr` values of a login: each value once, in the order proven, then `mfa` when
/// two factors or more were proven (a passkey counting two).
pub fn amr(factors: &[Factor]) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = Vec::new();
    for value in factors.iter().flat_map(|f| f.amr()) {
        if !v.contains(value) {
            v.push(value);
        }
    }
    let count: usize = factors.iter().map(|f| if *f == Factor::Passkey { 2 } else { 1 }).sum();
    if count > 1 {
        v.push("mfa");
    }
    v
}

/// What the user must do next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "step")]
pub enum LoginStep {
    Password,
    /// The user's method needs a certificate this login does not have: refused.
    CertificateRequired,
    /// The password expired or was reissued: choose a new one before going on.
    ChangePassword,
    /// A TOTP authenticator has to be registered first: its sealed secret waits here.
    TotpSetup {
        sealed_secret: String,
    },
    Otp,
    /// A passkey assertion.
    Passkey,
    /// The method needs a passkey and the user has none: the first one is registered
    /// here, and counts as this login's passkey.
    PasskeySetup,
    Done,
}

/// A login under way, kept in the session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginProgress {
    pub user_id: Uuid,
    /// The certificate the login started with; every later step must come over a
    /// connection presenting the same one, and so must every use of the session after it.
    pub certificate: Option<CertificateBinding>,
    pub factors: Vec<Factor>,
    pub step: LoginStep,
    /// A local path to continue to afterwards (e.g. the OIDC authorization resume URL).
    pub return_to: Option<String>,
    /// An e-mailed code waiting to be typed (its hash), when the OTP kind is e-mail.
    #[serde(default)]
    pub email_code: Option<otp::PendingEmailCode>,
    /// The relying site's `login_hint` (already checked against the ID syntax): it only
    /// prefills the ID field of the password step, the certificate still decides who logs in.
    #[serde(default)]
    pub login_hint: Option<String>,
    /// The relying site asked for a class this user's method cannot reach but the same
    /// login and a passkey the user has can: a passkey step follows the method's own
    /// (`flows::step_up`). Decided when the login opens.
    #[serde(default)]
    pub step_up_passkey: bool,
}

/// Unix milliseconds of `t`.
pub fn unix_ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// A completed login.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Authenticated {
    pub user_id: Uuid,
    pub factors: Vec<Factor>,
    /// Unix seconds.
    pub auth_time: i64,
    /// The same moment in Unix milliseconds: ForceAuthn and prompt=login compare it with
    /// the request's, since a request and the login just before it can share a second.
    /// 0 in sessions made before it existed (never fresh, so the login is asked again).
    #[serde(default)]
    pub auth_time_ms: i64,
    /// The certificate of a certificate login: the session is honoured only where it is
    /// presented, while it is still good (`flows::session_binding`).
    #[serde(default)]
    pub certificate: Option<CertificateBinding>,
    /// The session's ID for relying sites (`sid` in ID tokens and logout tokens): random,
    /// fixed for the session's life, unrelated to its cookie. Empty in older sessions.
    #[serde(default)]
    pub sid: String,
}

/// The step after `done`, by the user's login method.
pub(super) fn next_step(user: &User, tenant: &Tenant, done: &[Factor], now: OffsetDateTime) -> LoginStep {
    let method = user.login_method;
    if method.needs_certificate() && !done.contains(&Factor::Certificate) {
        return LoginStep::CertificateRequired;
    }
    if method.needs_password() && !done.contains(&Factor::Pwd) {
        return LoginStep::Password;
    }
    if method.needs_password() && password_expired(user, tenant, now) {
        return LoginStep::ChangePassword;
    }
    if method.needs_otp() && !done.contains(&Factor::Otp) {
        return LoginStep::Otp;
    }
    if method.needs_passkey() && !done.contains(&Factor::Passkey) {
        return LoginStep::Passkey;
    }
    LoginStep::Done
}

/// The step after this transaction's factors: the method's own steps, then the passkey
/// step a relying site's step-up added.
pub(super) fn step_after(user: &User, tenant: &Tenant, progress: &LoginProgress, now: OffsetDateTime) -> LoginStep {
    match next_step(user, tenant, &progress.factors, now) {
        LoginStep::Done if progress.step_up_passkey && !progress.factors.contains(&Factor::Passkey) => LoginStep::Passkey,
        step => step,
    }
}

/// Why a login stops at the password change, as the history says it: a password set for
/// the user (a reissue, an operator's reset) to replace, or one that reached its age.
pub fn password_change_reason(user: &User) -> LoginResult {
    if user.password_must_change { LoginResult::PasswordMustChange } else { LoginResult::PasswordExpired }
}

fn password_expired(user: &User, tenant: &Tenant, now: OffsetDateTime) -> bool {
    if user.password_must_change {
        return true;
    }
    match (tenant.policy.password_expiry_days, user.password_changed_at) {
        (0, _) | (_, None) => false,
        (days, Some(changed)) => now >= changed + time::Duration::days(i64::from(days)),
    }
}

/// The user, with a password lock that the tenant's timed release has ended lifted
/// first (`lockout_release_minutes`; 0 keeps every lock until an operator unlocks).
pub async fn release_expired_lock(app: &App, tenant: &Tenant, user: User, now: OffsetDateTime) -> anyhow::Result<User> {
    let minutes = tenant.policy.lockout_release_minutes;
    let wait = time::Duration::minutes(i64::from(minutes));
    let expired = user.locked_at.and_then(|at| at.checked_add(wait)).is_some_and(|ends| ends <= now);
    let Some(released_before) = now.checked_sub(wait) else { return Ok(user) };
    if minutes == 0 || user.lock_reason != Some(mamori_storage::model::LockReason::Password) || !expired {
        return Ok(user);
    }
    if app.storage.users().release_password_lock(user.id, released_before, now).await? {
        tracing::info!(user = %user.id, minutes, "password lock ended by the tenant's timed release");
    }
    Ok(app.storage.users().get(user.id).await?)
}

/// Opens the transaction after an accepted certificate.
pub fn start_with_certificate(
    user: &User,
    tenant: &Tenant,
    certificate: CertificateBinding,
    return_to: Option<String>,
    now: OffsetDateTime,
) -> LoginProgress {
    let factors = vec![Factor::Certificate];
    LoginProgress {
        user_id: user.id,
        certificate: Some(certificate),
        step: next_step(user, tenant, &factors, now),
        factors,
        return_to,
        email_code: None,
        login_hint: None,
        step_up_passkey: false,
    }
}

/// Whether `factors` are everything the user's `method` asks for: the last check before
/// a login completes, so that a method changed during the login is still honoured.
pub fn satisfies(method: mamori_storage::model::LoginMethod, factors: &[Factor]) -> bool {
    (!method.needs_certificate() || factors.contains(&Factor::Certificate))
        && (!method.needs_password() || factors.contains(&Factor::Pwd))
        && (!method.needs_otp() || factors.contains(&Factor::Otp))
        && (!method.needs_passkey() || factors.contains(&Factor::Passkey))
}

pub enum PasswordOutcome {
    /// Accepted; `progress.step` says what follows.
    Accepted,
    /// Wrong ID or password. `attempts_left` only when the policy shows it.
    Failed {
        attempts_left: Option<u32>,
    },
    Locked,
}

/// The ID/password step. The ID must be the certificate owner's: a valid certificate of
/// user A with the password of user B fails, and counts against A.
pub async fn submit_password(
    app: &App,
    tenant: &Tenant,
    progress: &mut LoginProgress,
    login_id: &str,
    password: &str,
    attempt: &Attempt<'_>,
) -> anyhow::Result<PasswordOutcome> {
    let now = app.now();
    let user = app.storage.users().get(progress.user_id).await?;
    if user.is_locked() {
        record_login_event(app, attempt, LoginResult::Locked, &[]).await;
        return Ok(PasswordOutcome::Locked);
    }
    let id_matches = login_id.trim() == user.login_id;
    // Always spend one hash, so a wrong ID takes as long as a wrong password.
    let stored = if id_matches { user.password_hash.as_deref() } else { None };
    let verified = app.hasher.verify(password, stored).await?;
    if !verified {
        let result = if id_matches { LoginResult::WrongPassword } else { LoginResult::CertificateUserMismatch };
        let outcome = app.storage.users().record_failed_password(user.id, tenant.policy.lockout_threshold_password, now).await?;
        record_login_event(app, attempt, result, &[]).await;
        return Ok(failure(app, tenant, outcome));
    }
    // A password that raced a lock is still refused.
    let user = app.storage.users().get(user.id).await?;
    if user.is_locked() {
        record_login_event(app, attempt, LoginResult::Locked, &[]).await;
        return Ok(PasswordOutcome::Locked);
    }
    app.storage.users().reset_failed_passwords(user.id, now).await?;
    progress.factors.push(Factor::Pwd);
    progress.step = step_after(&user, tenant, progress, now);
    if progress.step == LoginStep::ChangePassword {
        record_login_event(app, attempt, password_change_reason(&user), &[]).await;
    }
    Ok(PasswordOutcome::Accepted)
}

pub(super) fn failure(app: &App, tenant: &Tenant, outcome: LockoutOutcome) -> PasswordOutcome {
    app.metrics.lockout("password", &outcome);
    if outcome.locked {
        PasswordOutcome::Locked
    } else {
        PasswordOutcome::Failed { attempts_left: tenant.policy.show_attempts_left.then_some(outcome.attempts_left) }
    }
}

/// The forced password change after an expired or reissued password.
pub async fn change_expired_password(
    app: &App,
    tenant: &Tenant,
    progress: &mut LoginProgress,
    new_password: &str,
    confirmation: &str,
) -> anyhow::Result<Result<(), Vec<PasswordProblem>>> {
    let user = app.storage.users().get(progress.user_id).await?;
    let problems = validate_new_password(app, tenant, &user, new_password, confirmation).await?;
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    let now = app.now();
    let hash = app.hasher.hash(new_password).await?;
    app.storage.users().set_password(user.id, &hash, false, tenant.policy.password_history_count.max(1), now).await?;
    let user = app.storage.users().get(user.id).await?;
    progress.step = step_after(&user, tenant, progress, now);
    Ok(Ok(()))
}

/// Every rule of the spec, reuse of recent passwords included.
pub async fn validate_new_password(
    app: &App,
    tenant: &Tenant,
    user: &User,
    new_password: &str,
    confirmation: &str,
) -> anyhow::Result<Vec<PasswordProblem>> {
    let emails: Vec<String> = app.storage.devices().list_for_user(user.id, false).await?.into_iter().map(|d| d.email).collect();
    let mut problems = check_password(&tenant.policy, new_password, confirmation, &user.login_id, &emails);
    if problems.is_empty() {
        let keep = tenant.policy.password_history_count.max(1);
        let mut recent = app.storage.users().recent_password_hashes(user.id, keep).await?;
        if let Some(current) = &user.password_hash {
            recent.push(current.clone());
        }
        for old in recent {
            if app.hasher.verify(new_password, Some(&old)).await? {
                problems.push(PasswordProblem::Reused);
                break;
            }
        }
    }
    Ok(problems)
}

pub enum OtpOutcome {
    Accepted,
    Wrong {
        attempts_left: Option<u32>,
    },
    Locked,
    /// The e-mailed code expired or none was sent: send a new one.
    Expired,
}

/// The one-time password step, TOTP or e-mailed code. Wrong codes count towards the
/// same lockout as wrong passwords, so guessing a 6-digit code is no easier than a password.
pub async fn submit_otp(
    app: &App,
    tenant: &Tenant,
    progress: &mut LoginProgress,
    code: &str,
    attempt: &Attempt<'_>,
) -> anyhow::Result<OtpOutcome> {
    let now = app.now();
    let user = app.storage.users().get(progress.user_id).await?;
    if user.is_locked() {
        return Ok(OtpOutcome::Locked);
    }
    let accepted = match tenant.policy.otp_kind {
        mamori_storage::model::OtpKind::Totp => otp::check_totp(app, &user, code, now).await?,
        mamori_storage::model::OtpKind::Email => match progress.email_code.as_ref() {
            None => return Ok(OtpOutcome::Expired),
            Some(pending) if pending.expired(now) => {
                progress.email_code = None;
                return Ok(OtpOutcome::Expired);
            }
            Some(pending) => app.hasher.verify(code.trim(), Some(&pending.hash)).await?,
        },
    };
    if !accepted {
        let outcome = app.storage.users().record_failed_password(user.id, tenant.policy.lockout_threshold_password, now).await?;
        record_login_event(app, attempt, LoginResult::WrongOtp, &[]).await;
        return Ok(match failure(app, tenant, outcome) {
            PasswordOutcome::Locked => OtpOutcome::Locked,
            PasswordOutcome::Failed { attempts_left } => OtpOutcome::Wrong { attempts_left },
            PasswordOutcome::Accepted => OtpOutcome::Accepted,
        });
    }
    // Single use: the e-mailed code is gone once accepted.
    progress.email_code = None;
    app.storage.users().reset_failed_passwords(user.id, now).await?;
    progress.factors.push(Factor::Otp);
    progress.step = step_after(&user, tenant, progress, now);
    Ok(OtpOutcome::Accepted)
}

/// Whether this request may continue the login: it comes over a connection presenting the
/// very certificate the login started with (`leaf`, DER), or the login has none.
pub fn continues_on(progress: &LoginProgress, leaf: Option<&[u8]>) -> bool {
    progress.certificate.as_ref().is_none_or(|bound| bound.presented_by(leaf))
}

/// Readies the current step for its page: a first TOTP login registers an authenticator
/// before a code can be asked for, so `Otp` becomes `TotpSetup` with a new sealed secret.
/// Returns whether `progress` changed (the caller stores it).
pub fn prepare_step(app: &App, tenant: &Tenant, user: &User, progress: &mut LoginProgress) -> anyhow::Result<bool> {
    let first_totp = progress.step == LoginStep::Otp
        && tenant.policy.otp_kind == mamori_storage::model::OtpKind::Totp
        && user.totp_secret_sealed.is_none();
    if !first_totp {
        return Ok(false);
    }
    progress.step = LoginStep::TotpSetup { sealed_secret: otp::new_sealed_secret(app, user)? };
    Ok(true)
}

pub enum TotpSetupOutcome {
    /// The authenticator is registered and the code counted as the one-time password;
    /// `progress.step` says what follows.
    Accepted,
    Wrong,
    /// Another set-up registered an authenticator first: this one registers nothing, and
    /// the login asks for a code of the registered one (`progress.step` is `Otp` again).
    AlreadyRegistered,
    /// The login is not at this step.
    NotThisStep,
}

/// The TOTP set-up step: the first code from the new authenticator registers it and is
/// this login's one-time password.
pub async fn confirm_totp_setup(
    app: &App,
    tenant: &Tenant,
    progress: &mut LoginProgress,
    code: &str,
    attempt: &Attempt<'_>,
) -> anyhow::Result<TotpSetupOutcome> {
    let LoginStep::TotpSetup { sealed_secret } = &progress.step else { return Ok(TotpSetupOutcome::NotThisStep) };
    let now = app.now();
    let user = app.storage.users().get(progress.user_id).await?;
    match otp::confirm_first_enrollment(app, &user, sealed_secret, code, now).await? {
        otp::FirstEnrollment::Registered => {}
        otp::FirstEnrollment::WrongCode => {
            record_login_event(app, attempt, LoginResult::WrongOtp, &[]).await;
            return Ok(TotpSetupOutcome::Wrong);
        }
        otp::FirstEnrollment::AlreadyRegistered => {
            progress.step = LoginStep::Otp;
            return Ok(TotpSetupOutcome::AlreadyRegistered);
        }
    }
    progress.factors.push(Factor::Otp);
    let user = app.storage.users().get(user.id).await?;
    progress.step = step_after(&user, tenant, progress, now);
    Ok(TotpSetupOutcome::Accepted)
}

pub enum SendCodeOutcome {
    /// A new code went out; `progress.email_code` holds its hash.
    Sent,
    /// The last one went out moments ago.
    TooSoon,
    /// This user was sent as many codes as the limit allows for now, whichever logins
    /// asked ([`crate::throttle::EMAILED_CODES_PER_USER`]).
    TooMany,
    /// The login is not at an e-mailed one-time password step.
    NotThisStep,
}

/// Sends (or sends again) the e-mailed one-time password of the OTP step.
pub async fn send_email_code(app: &App, tenant: &Tenant, progress: &mut LoginProgress) -> anyhow::Result<SendCodeOutcome> {
    if progress.step != LoginStep::Otp || tenant.policy.otp_kind != mamori_storage::model::OtpKind::Email {
        return Ok(SendCodeOutcome::NotThisStep);
    }
    let now = app.now();
    if progress.email_code.as_ref().is_some_and(|pending| !pending.may_resend(now)) {
        return Ok(SendCodeOutcome::TooSoon);
    }
    let mailed = [crate::throttle::Subject::emailed_codes(progress.user_id)];
    match crate::throttle::check(app, &mailed).await {
        Ok(()) => {}
        Err(crate::throttle::ThrottleError::Throttled(_)) => return Ok(SendCodeOutcome::TooMany),
        Err(crate::throttle::ThrottleError::Storage(err)) => return Err(err.into()),
    }
    let user = app.storage.users().get(progress.user_id).await?;
    progress.email_code = Some(otp::send_email_code(app, &user, now).await?);
    crate::throttle::record_failure(app, &mailed).await;
    Ok(SendCodeOutcome::Sent)
}

pub enum Completion {
    /// Every factor the user's method asks for is done: the session to store.
    Complete(Authenticated),
    /// The certificate the login started with, or the user, can no longer log in: revoked,
    /// expired or its device deleted, or the user disabled, since the login began.
    Refused(super::client_certificate::CertificateRefusal),
    /// The user was locked meanwhile.
    Locked,
    /// The method (changed during the login) needs the certificate this login lacks.
    CertificateMissing,
    /// Another factor became due meanwhile: the login starts again.
    StartAgain,
}

/// The last step: the user's method is read again, since it may have changed during the
/// login, and must be met in full.
pub async fn complete(app: &App, progress: &LoginProgress) -> anyhow::Result<Completion> {
    // A step-up's passkey is as much part of this login as the method's own steps.
    if progress.step != LoginStep::Done || progress.step_up_passkey && !progress.factors.contains(&Factor::Passkey) {
        return Ok(Completion::StartAgain);
    }
    let current = app.storage.users().get(progress.user_id).await?;
    let now = app.now();
    // What was true when the login began may have ended since: the last step checks again.
    if current.status == mamori_storage::model::UserStatus::Disabled {
        return Ok(Completion::Refused(super::client_certificate::CertificateRefusal::UserDisabled));
    }
    if current.is_locked() {
        return Ok(Completion::Locked);
    }
    if let Some(bound) = &progress.certificate
        && let Some(refusal) = super::session_binding::refusal_now(app, bound, current.id, now).await?
    {
        return Ok(Completion::Refused(refusal));
    }
    if satisfies(current.login_method, &progress.factors) {
        if let Some(bound) = &progress.certificate
            && let Some(certificate) = app.storage.certificates().find_by_serial(&bound.serial).await?
        {
            super::account::retire_renewed(app, &certificate, now).await?;
        }
        return Ok(Completion::Complete(completed(progress, now)));
    }
    if current.login_method.needs_certificate() && !progress.factors.contains(&Factor::Certificate) {
        return Ok(Completion::CertificateMissing);
    }
    Ok(Completion::StartAgain)
}

/// The completed login a transaction's factors make, at `now`. The caller stores it as
/// the session together with [`success_event`].
pub fn completed(progress: &LoginProgress, now: OffsetDateTime) -> Authenticated {
    Authenticated {
        user_id: progress.user_id,
        factors: progress.factors.clone(),
        auth_time: now.unix_timestamp(),
        auth_time_ms: unix_ms(now),
        certificate: progress.certificate.clone(),
        sid: crate::secrets::url_token(),
    }
}

/// The success event of a completed login, with the factors used: stored together with
/// its session (`SharedSessions::create_with_success`), so the history says "success"
/// exactly when the session exists.
pub fn success_event(app: &App, progress: &LoginProgress, attempt: &Attempt<'_>) -> mamori_storage::model::NewLoginEvent {
    super::events::login_event(app, attempt, LoginResult::Success, &amr(&progress.factors))
}

/// Counts a completed login in the metrics, once its session is stored.
pub fn count_success(app: &App, progress: &LoginProgress) {
    app.metrics.login(LoginResult::Success.as_str(), &amr(&progress.factors));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_from_our_pkcs12_is_a_software_key() {
        assert_eq!(amr(&[Factor::Certificate, Factor::Pwd]), vec!["swk", "pwd", "mfa"]);
        assert_eq!(amr(&[Factor::Pwd]), vec!["pwd"]);
        assert!(!amr(&[Factor::Certificate, Factor::Pwd, Factor::Otp]).contains(&"hwk"));
    }

    #[test]
    fn a_passkey_is_a_verified_software_key_and_two_factors() {
        assert_eq!(amr(&[Factor::Passkey]), vec!["swk", "user", "mfa"]);
        assert_eq!(amr(&[Factor::Certificate, Factor::Passkey]), vec!["swk", "user", "mfa"]);
        assert_eq!(amr(&[Factor::Certificate, Factor::Pwd, Factor::Passkey]), vec!["swk", "pwd", "user", "mfa"]);
        assert!(!amr(&[Factor::Passkey]).contains(&"hwk"));
    }

    #[test]
    fn sessions_stored_with_the_old_name_still_read() {
        let old: Vec<Factor> = serde_json::from_str(r#"["hwk","pwd"]"#).expect("old sessions read");
        assert_eq!(old, vec![Factor::Certificate, Factor::Pwd]);
        assert_eq!(serde_json::to_string(&old).expect("serialises"), r#"["swk","pwd"]"#);
    }
}
