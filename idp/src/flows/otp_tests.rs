//! TOTP set-up and checks (RFC 6238) in the test context: a step is accepted once, one
//! step of skew either way and no more, and a secret sealed for one user opens for no other.

use base64::Engine as _;
use mamori_storage::model::{LoginMethod, TenantPolicy};
use time::Duration;

use super::*;
use crate::test_context::TestContext;

/// The code an authenticator holding `sealed_secret` (of `user`) shows at `at`.
pub(crate) fn code(app: &App, user: &User, sealed_secret: &str, at: OffsetDateTime) -> String {
    let sealed = base64::engine::general_purpose::STANDARD.decode(sealed_secret).expect("base64");
    totp(&open(app, user, &sealed).expect("opens"), &user.login_id).expect("totp").generate(unix(at)).to_string()
}

#[tokio::test]
async fn a_code_is_accepted_once_within_one_step_of_skew() {
    let ctx = TestContext::new().await;
    let tenant = ctx.tenant(TenantPolicy::default()).await;
    let user = ctx.user(&tenant, "taro", LoginMethod::CertPasswordOtp, None).await;
    let sealed = new_sealed_secret(&ctx.app, &user).expect("secret");
    let now = ctx.app.now();
    let view = enrollment_view(&ctx.app, &user, &sealed).expect("view");
    assert!(view.otpauth_url.starts_with("otpauth://totp/Mamori:taro?") && view.qr_svg.contains("<svg"), "{}", view.otpauth_url);
    // Set-up: a wrong code stores nothing; the right one stores the secret and spends its step.
    assert!(
        !confirm_enrollment(&ctx.app, &user, &sealed, "000000", now).await.expect("runs")
            || code(&ctx.app, &user, &sealed, now) == "000000"
    );
    assert!(ctx.app.storage.users().get(user.id).await.expect("user").totp_secret_sealed.is_none());
    let first = code(&ctx.app, &user, &sealed, now);
    assert!(confirm_enrollment(&ctx.app, &user, &sealed, &first, now).await.expect("runs"));
    let user = ctx.app.storage.users().get(user.id).await.expect("user");
    assert!(user.totp_secret_sealed.is_some());
    // The set-up code is spent: shown again at login within the same step, refused.
    assert!(!check_totp(&ctx.app, &user, &first, now).await.expect("runs"), "a step is used once (RFC 6238 §5.2)");
    // One step later: accepted once; the previous step's code is within the skew but spent.
    let later = now + Duration::seconds(30);
    let next = code(&ctx.app, &user, &sealed, later);
    assert!(check_totp(&ctx.app, &user, &next, later).await.expect("runs"));
    assert!(!check_totp(&ctx.app, &user, &next, later).await.expect("runs"));
    // Beyond the skew: a code from two steps ahead is refused.
    let early = code(&ctx.app, &user, &sealed, later + Duration::seconds(90));
    assert!(early == next || !check_totp(&ctx.app, &user, &early, later).await.expect("runs"));
    // Hostile inputs never pass and never fail the request.
    for junk in ["", "12345", "1234567", "abcdef", "１２３４５６", "123 456"] {
        assert!(!check_totp(&ctx.app, &user, junk, later).await.expect("runs"), "{junk:?}");
    }
}

#[tokio::test]
async fn a_secret_sealed_for_one_user_opens_for_no_other() {
    let ctx = TestContext::new().await;
    let tenant = ctx.tenant(TenantPolicy::default()).await;
    let (taro, hanako) = (
        ctx.user(&tenant, "taro", LoginMethod::CertPasswordOtp, None).await,
        ctx.user(&tenant, "hanako", LoginMethod::CertPasswordOtp, None).await,
    );
    let sealed = new_sealed_secret(&ctx.app, &taro).expect("secret");
    assert!(enrollment_view(&ctx.app, &hanako, &sealed).is_err(), "bound to its user by the sealing's additional data");
    let now = ctx.app.now();
    assert!(confirm_enrollment(&ctx.app, &hanako, &sealed, "123456", now).await.is_err());
    assert!(ctx.app.storage.users().get(hanako.id).await.expect("user").totp_secret_sealed.is_none());
}
