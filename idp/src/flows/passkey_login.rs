//! The passkey steps of a login: the assertion that is the passkey factor, the first
//! registration when the user's method needs a passkey and they have none (like the
//! first TOTP set-up, it counts as this login's passkey once the steps before it passed),
//! and the discoverable login of the `passkey` method, which starts a login on its own.

use mamori_storage::model::{LoginResult, Tenant, User};
use webauthn_rs::prelude::Webauthn;

use super::account::{AccountChange, notify, record_change};
use super::events::{Attempt, record_login_event};
use super::login::{Factor, LoginProgress, LoginStep, next_step, step_after};
use super::passkey::{self, AssertionOutcome, Pending, RegistrationOutcome};
use crate::app::App;

/// What a passkey form brings back: the sealed ceremony the page carried and the
/// browser's answer (WebAuthn JSON).
#[derive(Clone, Copy, Debug)]
pub struct Answer<'a> {
    pub ceremony: &'a str,
    pub credential: &'a str,
}

#[derive(Debug, PartialEq, Eq)]
pub enum StepOutcome {
    /// Done; `progress.step` says what follows.
    Accepted,
    /// The answer did not verify.
    Refused,
    /// The ceremony expired or was used already: the step is shown again.
    Expired,
    /// The authenticator's counter went back: refused and recorded.
    Cloned,
    /// The set-up's authenticator is registered already (to anyone).
    AlreadyRegistered,
    /// The login is not at this step.
    NotThisStep,
}

/// Readies a passkey step for its page: a `cert+password+passkey` user who has no passkey
/// registers one first, after the certificate and the password (as the first TOTP
/// set-up). The methods where only the certificate (or nothing) comes before the passkey
/// register it at enrollment instead, never at a login on the certificate's strength
/// alone. A step-up's passkey step (a method without a passkey) never registers one: the
/// passkey must be the user's already. Returns whether `progress` changed (the caller stores it).
pub async fn prepare(app: &App, user: &User, progress: &mut LoginProgress) -> anyhow::Result<bool> {
    let set_up_here = set_up_at_login(user, progress);
    if progress.step != LoginStep::Passkey || !set_up_here || app.storage.passkeys().count_for_user(user.id).await? > 0 {
        return Ok(false);
    }
    progress.step = LoginStep::PasskeySetup;
    Ok(true)
}

/// Whether this login may register the user's first passkey: their method needs one and
/// has a password, which this login proved.
fn set_up_at_login(user: &User, progress: &LoginProgress) -> bool {
    user.login_method.needs_passkey() && user.login_method.needs_password() && progress.factors.contains(&Factor::Pwd)
}

/// The ceremony a posted form carries, if it is one for this login's user.
fn ceremony_for(app: &App, progress: &LoginProgress, sealed: &str, registration: bool) -> Option<Pending> {
    Pending::open(app, sealed).filter(|p| p.user_id() == Some(progress.user_id) && p.is_registration() == registration)
}

/// The passkey step: the browser's assertion for the ceremony the page carried.
pub async fn submit_assertion(
    app: &App,
    webauthn: &Webauthn,
    tenant: &Tenant,
    progress: &mut LoginProgress,
    answer: Answer<'_>,
    attempt: &Attempt<'_>,
) -> anyhow::Result<StepOutcome> {
    if progress.step != LoginStep::Passkey {
        return Ok(StepOutcome::NotThisStep);
    }
    let Some(pending) = ceremony_for(app, progress, answer.ceremony, false) else {
        record_login_event(app, attempt, LoginResult::PasskeyFailed, &[]).await;
        return Ok(StepOutcome::Refused);
    };
    match passkey::finish_assertion(app, webauthn, &pending, answer.credential, attempt, passkey::admit_active).await? {
        AssertionOutcome::Verified { user_id, .. } if user_id == progress.user_id => {}
        AssertionOutcome::Verified { .. } | AssertionOutcome::Refused | AssertionOutcome::NotAdmitted(_) => {
            return Ok(StepOutcome::Refused);
        }
        AssertionOutcome::Expired => return Ok(StepOutcome::Expired),
        AssertionOutcome::Cloned => return Ok(StepOutcome::Cloned),
    }
    let user = app.storage.users().get(progress.user_id).await?;
    progress.factors.push(Factor::Passkey);
    progress.step = step_after(&user, tenant, progress, app.now());
    Ok(StepOutcome::Accepted)
}

/// The set-up step: the first passkey, registered and counted as this login's.
pub async fn confirm_setup(
    app: &App,
    webauthn: &Webauthn,
    tenant: &Tenant,
    progress: &mut LoginProgress,
    answer: Answer<'_>,
    name: &str,
    attempt: &Attempt<'_>,
) -> anyhow::Result<StepOutcome> {
    if progress.step != LoginStep::PasskeySetup {
        return Ok(StepOutcome::NotThisStep);
    }
    let user = app.storage.users().get(progress.user_id).await?;
    if !set_up_at_login(&user, progress) {
        return Ok(StepOutcome::Refused);
    }
    // Another set-up got there first: this login asks for an assertion instead.
    if app.storage.passkeys().count_for_user(user.id).await? > 0 {
        progress.step = LoginStep::Passkey;
        return Ok(StepOutcome::NotThisStep);
    }
    let Some(pending) = ceremony_for(app, progress, answer.ceremony, true) else { return Ok(StepOutcome::Refused) };
    let name = passkey::clean_name(name).unwrap_or_else(|| default_name(app));
    match passkey::finish_registration(app, webauthn, &user, &pending, answer.credential, &name).await? {
        RegistrationOutcome::Registered(_) => {}
        RegistrationOutcome::Refused => return Ok(StepOutcome::Refused),
        RegistrationOutcome::Expired => return Ok(StepOutcome::Expired),
        RegistrationOutcome::AlreadyRegistered | RegistrationOutcome::LimitReached => return Ok(StepOutcome::AlreadyRegistered),
    }
    record_change(app, attempt, AccountChange::PasskeyAdded).await;
    notify(app, &user, "notice-passkey-added", serde_json::json!({ "passkey_name": name }), &[]).await;
    progress.factors.push(Factor::Passkey);
    progress.step = step_after(&user, tenant, progress, app.now());
    Ok(StepOutcome::Accepted)
}

/// The name of a passkey registered without one: its date.
pub fn default_name(app: &App) -> String {
    let now = app.now();
    format!("Passkey {:04}-{:02}-{:02}", now.year(), u8::from(now.month()), now.day())
}

/// A discoverable login that verified: its user and transaction.
pub struct Started {
    pub user: User,
    /// The next step is `progress.step`.
    pub progress: LoginProgress,
}

pub enum DiscoverableOutcome {
    /// A passkey of an active user whose method is `passkey` verified.
    Started(Box<Started>),
    /// Did not verify, belongs to no user of this tenant, or its user's method needs
    /// more (a certificate): one answer for all, so nothing tells which.
    Refused,
    Expired,
    Locked,
}

/// Who a discoverable login admits: an active, unlocked user whose method is a passkey
/// alone (a method that also needs a certificate or a password is not met by it, so the
/// user is told to log in the usual way). Checked before the passkey's use is recorded.
fn admit_discoverable(user: &User) -> Result<(), LoginResult> {
    passkey::admit_active(user)?;
    let method = user.login_method;
    if method.needs_certificate() || method.needs_password() || !method.needs_passkey() {
        return Err(LoginResult::NoCertificate);
    }
    Ok(())
}

/// A login of the `passkey` method at `tenant`, without a typed ID.
pub async fn discoverable(
    app: &App,
    webauthn: &Webauthn,
    tenant: &Tenant,
    answer: Answer<'_>,
    return_to: Option<String>,
    attempt: &Attempt<'_>,
) -> anyhow::Result<DiscoverableOutcome> {
    let Some(pending) = Pending::open(app, answer.ceremony).filter(|p| p.user_id().is_none() && !p.is_registration()) else {
        return Ok(DiscoverableOutcome::Refused);
    };
    let user_id = match passkey::finish_assertion(app, webauthn, &pending, answer.credential, attempt, admit_discoverable).await? {
        AssertionOutcome::Verified { user_id, .. } => user_id,
        AssertionOutcome::NotAdmitted(LoginResult::Locked) => return Ok(DiscoverableOutcome::Locked),
        AssertionOutcome::Refused | AssertionOutcome::Cloned | AssertionOutcome::NotAdmitted(_) => return Ok(DiscoverableOutcome::Refused),
        AssertionOutcome::Expired => return Ok(DiscoverableOutcome::Expired),
    };
    // The owner was admitted (`admit_discoverable`) before the passkey's use was recorded.
    let user = app.storage.users().get(user_id).await?;
    if user.tenant_id != tenant.id {
        return Ok(DiscoverableOutcome::Refused);
    }
    let factors = vec![Factor::Passkey];
    let progress = LoginProgress {
        user_id: user.id,
        certificate: None,
        step: next_step(&user, tenant, &factors, app.now()),
        factors,
        return_to,
        email_code: None,
        login_hint: None,
        step_up_passkey: false,
    };
    Ok(DiscoverableOutcome::Started(Box::new(Started { user, progress })))
}
