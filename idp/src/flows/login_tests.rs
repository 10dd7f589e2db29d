//! The login state machine (`flows::login`) through the calls the pages make, in the
//! test context (`crate::test_context`): each step's honest input next to the hostile
//! ones, lockout and its timed release, expiry, and the e-mailed one-time password.

use mamori_storage::model::{LoginMethod, OtpKind, TenantPolicy};
use time::Duration;

use super::client_certificate::CertificateRefusal;
use super::login::{self, Completion, Factor, LoginStep, OtpOutcome, PasswordOutcome, SendCodeOutcome, TotpSetupOutcome};
use super::otp::PendingEmailCode;
use super::session_binding::CertificateBinding;
use crate::test_context::{T0, TestContext};

const PASSWORD: &str = "Right-Password1";

fn binding() -> CertificateBinding {
    CertificateBinding { serial: "1a02".into(), fingerprint: "ab".repeat(32) }
}

fn accepted(outcome: &PasswordOutcome) -> bool {
    matches!(outcome, PasswordOutcome::Accepted)
}

#[tokio::test]
async fn the_first_step_follows_the_method() {
    let ctx = TestContext::new().await;
    let tenant = ctx.tenant(TenantPolicy::default()).await;
    for (method, first) in [
        (LoginMethod::Cert, LoginStep::Done),
        (LoginMethod::CertPassword, LoginStep::Password),
        (LoginMethod::CertPasswordOtp, LoginStep::Password),
    ] {
        let user = ctx.user(&tenant, &format!("u-{method:?}").to_lowercase(), method, Some(PASSWORD)).await;
        let progress = login::start_with_certificate(&user, &tenant, binding(), None, ctx.app.now());
        assert_eq!(progress.step, first, "{method:?}");
        assert_eq!(progress.factors, [Factor::Certificate]);
    }
}

#[tokio::test]
async fn the_password_must_be_the_certificate_owners_and_failures_count_against_the_owner() {
    let ctx = TestContext::new().await;
    let tenant = ctx.tenant(TenantPolicy { show_attempts_left: true, lockout_threshold_password: 5, ..TenantPolicy::default() }).await;
    let owner = ctx.user(&tenant, "owner", LoginMethod::CertPassword, Some(PASSWORD)).await;
    let other = ctx.user(&tenant, "other", LoginMethod::CertPassword, Some("Other-Password1")).await;
    let mut progress = login::start_with_certificate(&owner, &tenant, binding(), None, ctx.app.now());
    let attempt = ctx.attempt(&tenant, &owner);
    // Hostile: a wrong password, the other user's ID with their right password, an ID
    // with spaces only the owner's would trim to. Each fails and counts against the owner.
    let mut left = Vec::new();
    for (id, password) in [("owner", "wrong"), ("other", "Other-Password1"), ("OWNER", PASSWORD)] {
        match login::submit_password(&ctx.app, &tenant, &mut progress, id, password, &attempt).await.expect("runs") {
            PasswordOutcome::Failed { attempts_left } => left.push(attempts_left),
            _ => panic!("{id}/{password} was accepted"),
        }
    }
    assert_eq!(left, [Some(4), Some(3), Some(2)], "every failure counts against the certificate's owner");
    assert_eq!(ctx.app.storage.users().get(other.id).await.expect("other").failed_password_count, 0, "not against the other user");
    assert_eq!(progress.factors, [Factor::Certificate], "nothing was added");
    // Honest: the owner's ID (surrounding blanks trimmed) and password.
    let outcome = login::submit_password(&ctx.app, &tenant, &mut progress, " owner ", PASSWORD, &attempt).await.expect("runs");
    assert!(accepted(&outcome));
    assert_eq!((progress.step.clone(), progress.factors.clone()), (LoginStep::Done, vec![Factor::Certificate, Factor::Pwd]));
    assert_eq!(ctx.app.storage.users().get(owner.id).await.expect("owner").failed_password_count, 0, "a success resets the count");
    let done = login::completed(&progress, ctx.app.now());
    assert_eq!((done.auth_time, login::amr(&done.factors)), (T0.unix_timestamp(), vec!["swk", "pwd", "mfa"]));
}

#[tokio::test]
async fn the_threshold_locks_and_a_locked_user_is_refused_the_right_password_until_released() {
    let ctx = TestContext::new().await;
    let policy =
        TenantPolicy { lockout_threshold_password: 3, lockout_release_minutes: 30, show_attempts_left: false, ..TenantPolicy::default() };
    let tenant = ctx.tenant(policy).await;
    let user = ctx.user(&tenant, "taro", LoginMethod::CertPassword, Some(PASSWORD)).await;
    let attempt = ctx.attempt(&tenant, &user);
    let mut progress = login::start_with_certificate(&user, &tenant, binding(), None, ctx.app.now());
    for n in 1..=3 {
        let outcome = login::submit_password(&ctx.app, &tenant, &mut progress, "taro", "wrong", &attempt).await.expect("runs");
        match (n, outcome) {
            (1 | 2, PasswordOutcome::Failed { attempts_left: None }) => {}
            (3, PasswordOutcome::Locked) => {}
            (n, _) => panic!("attempt {n}: not the expected outcome (attempts left hidden by the policy)"),
        }
    }
    let locked = login::submit_password(&ctx.app, &tenant, &mut progress, "taro", PASSWORD, &attempt).await.expect("runs");
    assert!(matches!(locked, PasswordOutcome::Locked), "the right password does not open a lock");
    // The timed release: not a minute early, then the lock is gone and the password works.
    ctx.clock.advance(Duration::minutes(29));
    let still =
        login::release_expired_lock(&ctx.app, &tenant, ctx.app.storage.users().get(user.id).await.expect("user"), ctx.app.now()).await;
    assert!(still.expect("runs").is_locked(), "29 minutes of 30");
    ctx.clock.advance(Duration::minutes(1));
    let released =
        login::release_expired_lock(&ctx.app, &tenant, ctx.app.storage.users().get(user.id).await.expect("user"), ctx.app.now()).await;
    assert!(!released.expect("runs").is_locked(), "30 minutes: released");
    let outcome = login::submit_password(&ctx.app, &tenant, &mut progress, "taro", PASSWORD, &attempt).await.expect("runs");
    assert!(accepted(&outcome));
}

#[tokio::test]
async fn an_expired_or_reissued_password_must_be_changed_before_the_login_goes_on() {
    let ctx = TestContext::new().await;
    let tenant = ctx.tenant(TenantPolicy { password_expiry_days: 90, ..TenantPolicy::default() }).await;
    let user = ctx.user(&tenant, "hanako", LoginMethod::CertPassword, Some(PASSWORD)).await;
    let attempt = ctx.attempt(&tenant, &user);
    for (age, step) in [(Duration::days(89), LoginStep::Done), (Duration::days(1), LoginStep::ChangePassword)] {
        ctx.clock.advance(age);
        let mut progress = login::start_with_certificate(&user, &tenant, binding(), None, ctx.app.now());
        assert!(accepted(&login::submit_password(&ctx.app, &tenant, &mut progress, "hanako", PASSWORD, &attempt).await.expect("runs")));
        assert_eq!(progress.step, step, "after {age}");
        if step == LoginStep::ChangePassword {
            // The same password again is refused; a new one moves the login on.
            let reused = login::change_expired_password(&ctx.app, &tenant, &mut progress, PASSWORD, PASSWORD).await.expect("runs");
            assert!(reused.is_err(), "a reused password");
            assert_eq!(progress.step, LoginStep::ChangePassword);
            let changed = login::change_expired_password(&ctx.app, &tenant, &mut progress, "Fresh-Password-42", "Fresh-Password-42").await;
            assert!(changed.expect("runs").is_ok());
            assert_eq!(progress.step, LoginStep::Done);
        }
    }
}

#[tokio::test]
async fn an_emailed_code_is_single_use_expires_and_wrong_codes_count_towards_the_lock() {
    let ctx = TestContext::new().await;
    let tenant = ctx.tenant(TenantPolicy { otp_kind: OtpKind::Email, lockout_threshold_password: 5, ..TenantPolicy::default() }).await;
    let user = ctx.user(&tenant, "jiro", LoginMethod::CertPasswordOtp, Some(PASSWORD)).await;
    let attempt = ctx.attempt(&tenant, &user);
    let mut progress = login::start_with_certificate(&user, &tenant, binding(), None, ctx.app.now());
    assert!(accepted(&login::submit_password(&ctx.app, &tenant, &mut progress, "jiro", PASSWORD, &attempt).await.expect("runs")));
    assert_eq!(progress.step, LoginStep::Otp);
    // No code was sent yet: nothing to check against.
    assert!(matches!(login::submit_otp(&ctx.app, &tenant, &mut progress, "123456", &attempt).await.expect("runs"), OtpOutcome::Expired));
    let now = ctx.app.now();
    let pending =
        |hash: String| PendingEmailCode { hash, expires_at: (now + Duration::minutes(10)).unix_timestamp(), sent_at: now.unix_timestamp() };
    progress.email_code = Some(pending(ctx.app.hasher.hash("123456").await.expect("hash")));
    let wrong = login::submit_otp(&ctx.app, &tenant, &mut progress, "654321", &attempt).await.expect("runs");
    assert!(matches!(wrong, OtpOutcome::Wrong { attempts_left: Some(4) }), "a wrong code counts like a wrong password");
    let right = login::submit_otp(&ctx.app, &tenant, &mut progress, " 123456 ", &attempt).await.expect("runs");
    assert!(matches!(right, OtpOutcome::Accepted));
    assert_eq!(progress.factors, [Factor::Certificate, Factor::Pwd, Factor::Otp]);
    assert!(progress.email_code.is_none(), "single use");
    assert_eq!(login::amr(&progress.factors), ["swk", "pwd", "otp", "mfa"]);
    // An expired code is not checked at all, even when right.
    let mut late = login::start_with_certificate(&user, &tenant, binding(), None, ctx.app.now());
    late.factors.push(Factor::Pwd);
    late.step = LoginStep::Otp;
    late.email_code = Some(pending(ctx.app.hasher.hash("111111").await.expect("hash")));
    ctx.clock.advance(Duration::minutes(10));
    assert!(matches!(login::submit_otp(&ctx.app, &tenant, &mut late, "111111", &attempt).await.expect("runs"), OtpOutcome::Expired));
    assert!(late.email_code.is_none() && !late.factors.contains(&Factor::Otp));
}

#[test]
fn a_method_is_satisfied_only_by_all_its_factors() {
    use Factor::{Certificate as C, Otp as O, Pwd as P};
    for (method, factors, ok) in [
        (LoginMethod::Cert, &[C][..], true),
        (LoginMethod::Cert, &[P][..], false),
        (LoginMethod::CertPassword, &[C, P][..], true),
        (LoginMethod::CertPassword, &[C][..], false),
        (LoginMethod::CertPassword, &[P, O][..], false),
        (LoginMethod::CertPasswordOtp, &[C, P][..], false),
        (LoginMethod::CertPasswordOtp, &[C, P, O][..], true),
        (LoginMethod::Password, &[P][..], true),
        (LoginMethod::PasswordOtp, &[P][..], false),
        (LoginMethod::PasswordOtp, &[P, O][..], true),
    ] {
        assert_eq!(login::satisfies(method, factors), ok, "{method:?} with {factors:?}");
    }
}

/// Password accepted for `login_id`, leaving the login at the step after it.
async fn past_password(
    ctx: &TestContext,
    tenant: &mamori_storage::model::Tenant,
    user: &mamori_storage::model::User,
) -> login::LoginProgress {
    past_password_with(ctx, tenant, user, binding()).await
}

/// As [`past_password`], for a login that started with the certificate `bound`.
async fn past_password_with(
    ctx: &TestContext,
    tenant: &mamori_storage::model::Tenant,
    user: &mamori_storage::model::User,
    bound: CertificateBinding,
) -> login::LoginProgress {
    let mut progress = login::start_with_certificate(user, tenant, bound, None, ctx.app.now());
    let attempt = ctx.attempt(tenant, user);
    assert!(accepted(&login::submit_password(&ctx.app, tenant, &mut progress, &user.login_id, PASSWORD, &attempt).await.expect("runs")));
    progress
}

#[tokio::test]
async fn a_first_totp_login_registers_the_authenticator_and_its_first_code_is_the_one_time_password() {
    let ctx = TestContext::new().await;
    let tenant = ctx.tenant(TenantPolicy { otp_kind: OtpKind::Totp, ..TenantPolicy::default() }).await;
    let user = ctx.user(&tenant, "saburo", LoginMethod::CertPasswordOtp, Some(PASSWORD)).await;
    let attempt = ctx.attempt(&tenant, &user);
    let mut progress = past_password(&ctx, &tenant, &user).await;
    assert_eq!(progress.step, LoginStep::Otp);
    // Hostile: a code typed before any authenticator exists is no set-up.
    let early = login::confirm_totp_setup(&ctx.app, &tenant, &mut progress, "123456", &attempt).await.expect("runs");
    assert!(matches!(early, TotpSetupOutcome::NotThisStep));
    assert!(login::prepare_step(&ctx.app, &tenant, &user, &mut progress).expect("prepares"), "the step changed");
    let LoginStep::TotpSetup { sealed_secret } = progress.step.clone() else { panic!("{:?}", progress.step) };
    // Preparing again keeps the secret the page shows.
    assert!(!login::prepare_step(&ctx.app, &tenant, &user, &mut progress).expect("prepares"));
    // Hostile: a wrong code registers nothing and adds no factor.
    let wrong = login::confirm_totp_setup(&ctx.app, &tenant, &mut progress, "000000", &attempt).await.expect("runs");
    assert!(matches!(wrong, TotpSetupOutcome::Wrong));
    assert!(!progress.factors.contains(&Factor::Otp));
    assert!(ctx.app.storage.users().get(user.id).await.expect("user").totp_secret_sealed.is_none());
    // Honest: the authenticator's current code.
    let code = super::otp::tests::code(&ctx.app, &user, &sealed_secret, ctx.app.now());
    let right = login::confirm_totp_setup(&ctx.app, &tenant, &mut progress, &code, &attempt).await.expect("runs");
    assert!(matches!(right, TotpSetupOutcome::Accepted));
    assert_eq!((progress.step.clone(), progress.factors.clone()), (LoginStep::Done, vec![Factor::Certificate, Factor::Pwd, Factor::Otp]));
    let registered = ctx.app.storage.users().get(user.id).await.expect("user");
    assert!(registered.totp_secret_sealed.is_some(), "the authenticator is registered");
    // The next login asks for a code at once, without a new set-up.
    let mut next = past_password(&ctx, &tenant, &registered).await;
    assert!(!login::prepare_step(&ctx.app, &tenant, &registered, &mut next).expect("prepares"));
    assert_eq!(next.step, LoginStep::Otp);
}

#[tokio::test]
async fn an_emailed_code_is_sent_only_at_its_step_and_not_again_at_once() {
    let ctx = TestContext::new().await;
    let tenant = ctx.tenant(TenantPolicy { otp_kind: OtpKind::Email, ..TenantPolicy::default() }).await;
    let user = ctx.user(&tenant, "shiro", LoginMethod::CertPasswordOtp, Some(PASSWORD)).await;
    // Hostile: before the password, no code goes out.
    let mut early = login::start_with_certificate(&user, &tenant, binding(), None, ctx.app.now());
    assert!(matches!(login::send_email_code(&ctx.app, &tenant, &mut early).await.expect("runs"), SendCodeOutcome::NotThisStep));
    assert!(early.email_code.is_none());
    let mut progress = past_password(&ctx, &tenant, &user).await;
    assert!(matches!(login::send_email_code(&ctx.app, &tenant, &mut progress).await.expect("runs"), SendCodeOutcome::Sent));
    let first = progress.email_code.clone().expect("a code is pending");
    // Hostile: a second send at once is refused and keeps the first code.
    assert!(matches!(login::send_email_code(&ctx.app, &tenant, &mut progress).await.expect("runs"), SendCodeOutcome::TooSoon));
    assert_eq!(progress.email_code.as_ref().map(|c| c.hash.clone()), Some(first.hash.clone()));
    ctx.clock.advance(Duration::minutes(2));
    assert!(matches!(login::send_email_code(&ctx.app, &tenant, &mut progress).await.expect("runs"), SendCodeOutcome::Sent));
    assert_ne!(progress.email_code.as_ref().map(|c| c.hash.clone()), Some(first.hash), "a new code replaces the old one");
    // A TOTP tenant never mails a code.
    let totp_tenant = ctx
        .app
        .storage
        .tenants()
        .create("totp", "TOTP", &TenantPolicy { otp_kind: OtpKind::Totp, ..TenantPolicy::default() }, ctx.app.now())
        .await
        .expect("tenant");
    let totp_user = ctx.user(&totp_tenant, "goro", LoginMethod::CertPasswordOtp, Some(PASSWORD)).await;
    let mut totp = past_password(&ctx, &totp_tenant, &totp_user).await;
    assert!(matches!(login::send_email_code(&ctx.app, &totp_tenant, &mut totp).await.expect("runs"), SendCodeOutcome::NotThisStep));
}

#[tokio::test]
async fn a_login_completes_only_when_the_current_method_is_met() {
    let ctx = TestContext::new().await;
    let tenant = ctx.tenant(TenantPolicy::default()).await;
    let user = ctx.user(&tenant, "rokuro", LoginMethod::CertPassword, Some(PASSWORD)).await;
    let (_, bound) = ctx.device_certificate(&user).await;
    let progress = past_password_with(&ctx, &tenant, &user, bound.clone()).await;
    assert_eq!(progress.step, LoginStep::Done);
    // Honest: the method asked for certificate and password, and both are done.
    let Completion::Complete(done) = login::complete(&ctx.app, &progress).await.expect("runs") else { panic!("not complete") };
    assert_eq!((done.user_id, done.certificate.clone()), (user.id, Some(bound.clone())));
    // Hostile: a transaction not at its last step does not complete.
    let mut unfinished = login::start_with_certificate(&user, &tenant, bound, None, ctx.app.now());
    assert!(matches!(login::complete(&ctx.app, &unfinished).await.expect("runs"), Completion::StartAgain));
    unfinished.step = LoginStep::Done;
    assert!(matches!(login::complete(&ctx.app, &unfinished).await.expect("runs"), Completion::StartAgain), "a step forged to Done");
    // The method changed during the login: a one-time password is now due.
    ctx.app.storage.users().set_login_method(user.id, LoginMethod::CertPasswordOtp, ctx.app.now()).await.expect("method");
    assert!(matches!(login::complete(&ctx.app, &progress).await.expect("runs"), Completion::StartAgain));
    // A password-only login of a user whose method now needs the certificate.
    let mut without = progress.clone();
    without.factors = vec![Factor::Pwd];
    without.certificate = None;
    ctx.app.storage.users().set_login_method(user.id, LoginMethod::CertPassword, ctx.app.now()).await.expect("method");
    assert!(matches!(login::complete(&ctx.app, &without).await.expect("runs"), Completion::CertificateMissing));
}

#[test]
fn a_login_continues_only_with_the_certificate_it_started_with() {
    let leaf = b"the DER of the certificate".to_vec();
    let bound = CertificateBinding::of("1a02", &leaf);
    let progress = login::LoginProgress {
        user_id: uuid::Uuid::nil(),
        certificate: Some(bound),
        factors: vec![Factor::Certificate],
        step: LoginStep::Password,
        return_to: None,
        email_code: None,
        login_hint: None,
        step_up_passkey: false,
    };
    assert!(login::continues_on(&progress, Some(&leaf)));
    assert!(!login::continues_on(&progress, Some(b"another certificate")), "another certificate");
    assert!(!login::continues_on(&progress, None), "no certificate on this connection");
    let unbound = login::LoginProgress { certificate: None, ..progress };
    assert!(login::continues_on(&unbound, None), "a login without a certificate needs none");
}

#[tokio::test]
async fn what_ended_during_the_login_ends_the_login_at_its_last_step() {
    let ctx = TestContext::new().await;
    let tenant = ctx.tenant(TenantPolicy { lockout_threshold_password: 1, ..TenantPolicy::default() }).await;
    let now = ctx.app.now();
    // The user disabled by an operator between the password and the last step.
    let disabled = ctx.user(&tenant, "nanami", LoginMethod::CertPassword, Some(PASSWORD)).await;
    let (_, bound) = ctx.device_certificate(&disabled).await;
    let progress = past_password_with(&ctx, &tenant, &disabled, bound).await;
    ctx.app.storage.users().set_status(disabled.id, mamori_storage::model::UserStatus::Disabled, now).await.expect("disabled");
    assert!(matches!(login::complete(&ctx.app, &progress).await.expect("runs"), Completion::Refused(CertificateRefusal::UserDisabled)));
    // Locked meanwhile (a wrong password in another login).
    let locked = ctx.user(&tenant, "hachiro", LoginMethod::CertPassword, Some(PASSWORD)).await;
    let (_, bound) = ctx.device_certificate(&locked).await;
    let progress = past_password_with(&ctx, &tenant, &locked, bound).await;
    ctx.app.storage.users().record_failed_password(locked.id, 1, now).await.expect("locked");
    assert!(matches!(login::complete(&ctx.app, &progress).await.expect("runs"), Completion::Locked));
    // The certificate revoked meanwhile.
    let revoked = ctx.user(&tenant, "kuro", LoginMethod::CertPassword, Some(PASSWORD)).await;
    let (_, bound) = ctx.device_certificate(&revoked).await;
    let progress = past_password_with(&ctx, &tenant, &revoked, bound.clone()).await;
    ctx.app.ca.revoke(&bound.serial, mamori_ca::RevocationReason::KeyCompromise, now).await.expect("revoked");
    assert!(matches!(login::complete(&ctx.app, &progress).await.expect("runs"), Completion::Refused(CertificateRefusal::Revoked)));
    // A binding to no certificate Mamori recorded.
    let forged = ctx.user(&tenant, "juro", LoginMethod::CertPassword, Some(PASSWORD)).await;
    let progress = past_password(&ctx, &tenant, &forged).await;
    assert!(matches!(login::complete(&ctx.app, &progress).await.expect("runs"), Completion::Refused(CertificateRefusal::Unknown)));
}

#[tokio::test]
async fn a_set_up_page_opened_before_another_completed_cannot_replace_the_authenticator() {
    let ctx = TestContext::new().await;
    let tenant = ctx.tenant(TenantPolicy { otp_kind: OtpKind::Totp, ..TenantPolicy::default() }).await;
    let user = ctx.user(&tenant, "ichika", LoginMethod::CertPasswordOtp, Some(PASSWORD)).await;
    let attempt = ctx.attempt(&tenant, &user);
    // Two logins reach the set-up, each with its own new secret.
    let (mut first, mut second) = (past_password(&ctx, &tenant, &user).await, past_password(&ctx, &tenant, &user).await);
    assert!(login::prepare_step(&ctx.app, &tenant, &user, &mut first).expect("prepares"));
    assert!(login::prepare_step(&ctx.app, &tenant, &user, &mut second).expect("prepares"));
    let secret = |p: &login::LoginProgress| match &p.step {
        LoginStep::TotpSetup { sealed_secret } => sealed_secret.clone(),
        other => panic!("{other:?}"),
    };
    let (first_secret, second_secret) = (secret(&first), secret(&second));
    let code = super::otp::tests::code(&ctx.app, &user, &first_secret, ctx.app.now());
    let accepted = login::confirm_totp_setup(&ctx.app, &tenant, &mut first, &code, &attempt).await.expect("runs");
    assert!(matches!(accepted, TotpSetupOutcome::Accepted));
    let registered = ctx.app.storage.users().get(user.id).await.expect("user").totp_secret_sealed;
    // Hostile: the older page, with a right code of its own secret, registers nothing and
    // asks for a code of the registered authenticator instead.
    let code = super::otp::tests::code(&ctx.app, &user, &second_secret, ctx.app.now());
    let late = login::confirm_totp_setup(&ctx.app, &tenant, &mut second, &code, &attempt).await.expect("runs");
    assert!(matches!(late, TotpSetupOutcome::AlreadyRegistered));
    assert_eq!((second.step.clone(), second.factors.contains(&Factor::Otp)), (LoginStep::Otp, false));
    assert_eq!(ctx.app.storage.users().get(user.id).await.expect("user").totp_secret_sealed, registered, "the first authenticator stays");
}

#[tokio::test]
async fn new_logins_cannot_flood_a_mailbox_with_codes() {
    let ctx = TestContext::new().await;
    let tenant = ctx.tenant(TenantPolicy { otp_kind: OtpKind::Email, ..TenantPolicy::default() }).await;
    let user = ctx.user(&tenant, "mailee", LoginMethod::CertPasswordOtp, Some(PASSWORD)).await;
    let limit = crate::throttle::EMAILED_CODES_PER_USER.max_failures;
    for n in 1..=limit {
        let mut progress = past_password(&ctx, &tenant, &user).await;
        assert!(matches!(login::send_email_code(&ctx.app, &tenant, &mut progress).await.expect("runs"), SendCodeOutcome::Sent), "code {n}");
    }
    // Hostile: one login more, at once: no mail.
    let mut flood = past_password(&ctx, &tenant, &user).await;
    assert!(matches!(login::send_email_code(&ctx.app, &tenant, &mut flood).await.expect("runs"), SendCodeOutcome::TooMany));
    assert!(flood.email_code.is_none());
    // Another user of the tenant is not held back by it.
    let other = ctx.user(&tenant, "other", LoginMethod::CertPasswordOtp, Some(PASSWORD)).await;
    let mut theirs = past_password(&ctx, &tenant, &other).await;
    assert!(matches!(login::send_email_code(&ctx.app, &tenant, &mut theirs).await.expect("runs"), SendCodeOutcome::Sent));
    // After the window, codes go out again.
    ctx.clock.advance(crate::throttle::EMAILED_CODES_PER_USER.window);
    let mut later = past_password(&ctx, &tenant, &user).await;
    assert!(matches!(login::send_email_code(&ctx.app, &tenant, &mut later).await.expect("runs"), SendCodeOutcome::Sent));
}

#[tokio::test]
async fn a_step_up_adds_a_passkey_step_only_for_a_user_who_has_a_passkey() {
    let ctx = TestContext::new().await;
    let tenant = ctx.tenant(TenantPolicy::default()).await;
    let wanted = crate::oidc::acr::wanted(&[crate::oidc::acr::ACR_PASSKEY.to_owned()]);
    let with = ctx.user(&tenant, "hachiro", LoginMethod::CertPassword, Some(PASSWORD)).await;
    let without = ctx.user(&tenant, "kuro", LoginMethod::CertPassword, Some(PASSWORD)).await;
    let record = mamori_storage::model::Passkey {
        id: uuid::Uuid::new_v4(),
        tenant_id: tenant.id,
        user_id: with.id,
        credential_id: "c3RlcC11cA".into(),
        credential: "{}".into(),
        name: "key".into(),
        sign_count: 0,
        backup_eligible: false,
        backed_up: false,
        created_at: ctx.app.now(),
        last_used_at: None,
    };
    ctx.app.storage.passkeys().add(&record, 10).await.expect("passkey");

    // Honest: after the certificate and the password, the passkey the site asked for.
    let mut progress = login::start_with_certificate(&with, &tenant, binding(), None, ctx.app.now());
    super::step_up::plan(&ctx.app, &with, &mut progress, Some(&wanted)).await.expect("plans");
    assert!(progress.step_up_passkey);
    assert_eq!(progress.step, LoginStep::Password, "the method's own steps first");
    let attempt = ctx.attempt(&tenant, &with);
    assert!(accepted(&login::submit_password(&ctx.app, &tenant, &mut progress, "hachiro", PASSWORD, &attempt).await.expect("runs")));
    assert_eq!(progress.step, LoginStep::Passkey);
    // Hostile: a transaction forged to Done without the passkey does not complete.
    let mut forged = progress.clone();
    forged.step = LoginStep::Done;
    assert!(matches!(login::complete(&ctx.app, &forged).await.expect("runs"), Completion::StartAgain));

    // No passkey registered: no step is added (the site gets its error, never less).
    let mut plain = login::start_with_certificate(&without, &tenant, binding(), None, ctx.app.now());
    super::step_up::plan(&ctx.app, &without, &mut plain, Some(&wanted)).await.expect("plans");
    assert!(!plain.step_up_passkey);
    // Nothing asked, or a class the method meets: nothing added either.
    let met = crate::oidc::acr::wanted(&[crate::oidc::acr::ACR_CERT_PASSWORD.to_owned()]);
    for asked in [None, Some(&met)] {
        let mut progress = login::start_with_certificate(&with, &tenant, binding(), None, ctx.app.now());
        super::step_up::plan(&ctx.app, &with, &mut progress, asked).await.expect("plans");
        assert!(!progress.step_up_passkey);
    }
    // A certificate-only user with a passkey: the login that would be done at once asks for it.
    let cert_only = ctx.user(&tenant, "juro", LoginMethod::Cert, None).await;
    ctx.app
        .storage
        .passkeys()
        .add(
            &mamori_storage::model::Passkey { id: uuid::Uuid::new_v4(), user_id: cert_only.id, credential_id: "anVybw".into(), ..record },
            10,
        )
        .await
        .expect("passkey");
    let mut progress = login::start_with_certificate(&cert_only, &tenant, binding(), None, ctx.app.now());
    assert_eq!(progress.step, LoginStep::Done);
    super::step_up::plan(&ctx.app, &cert_only, &mut progress, Some(&wanted)).await.expect("plans");
    assert_eq!(progress.step, LoginStep::Passkey);
}
