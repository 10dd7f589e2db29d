//! The service side of SCIM: several values all or nothing on the version read, and the
//! enrollment mail only where the tenant chose it.

use mamori_storage::model::{OutboxMail, TenantPolicy, UserStatus};

use super::*;
use crate::admin::users::{self as admin_users, NewUserInput};
use crate::test_context::TestContext;

async fn mails_to(ctx: &TestContext, to: &str) -> Vec<OutboxMail> {
    let page = ctx.app.storage.mail_outbox().list(None, 0, 500).await.expect("outbox");
    page.items.into_iter().filter(|m| m.to_address == to).collect()
}

fn input(login_id: &str, locale: &str) -> NewUserInput {
    NewUserInput { login_id: login_id.into(), email: format!("{login_id}@t.test"), locale: Some(locale.into()), ..NewUserInput::default() }
}

#[tokio::test]
async fn the_enrollment_mail_goes_only_where_the_tenant_chose_it() {
    let ctx = TestContext::new().await;
    let tenant = ctx.tenant(TenantPolicy::default()).await;
    let cli = Principal::local_cli();
    admin_users::create(&ctx.app, &cli, &tenant.slug, &input("quiet", "ja")).await.expect("created");
    assert!(!mail_enrollment(&ctx.app, &cli, &tenant.slug, "quiet", "https://main.test").await.expect("no error"));
    assert!(mails_to(&ctx, "quiet@t.test").await.is_empty(), "off by default: nothing is mailed");

    let policy = TenantPolicy { scim_enrollment_mail: true, ..TenantPolicy::default() };
    ctx.app.storage.tenants().update_policy(tenant.id, &policy).await.expect("policy");
    admin_users::create(&ctx.app, &cli, &tenant.slug, &input("mary", "en")).await.expect("created");
    assert!(mail_enrollment(&ctx.app, &cli, &tenant.slug, "mary", "https://main.test").await.expect("mailed"));
    let mails = mails_to(&ctx, "mary@t.test").await;
    assert_eq!(mails.len(), 1, "one mail");
    let mail = &mails[0];
    assert_eq!(mail.kind, "enrollment-ticket");
    assert!(mail.subject.contains("enrollment"), "English for an English user: {}", mail.subject);
    let url = mail.body_text.split_whitespace().find(|w| w.starts_with("https://main.test/enroll/")).expect("the URL");
    let otp = mail.body_text.split("One-time password: ").nth(1).and_then(|r| r.split_whitespace().next()).expect("the password");
    // The URL and password in the mail are the ticket's: its one-time password verifies.
    let token = url.trim_start_matches("https://main.test/enroll/");
    let open = crate::flows::enrollment::find_enrollment(&ctx.app, token).await.expect("lookup").expect("a ticket");
    assert!(ctx.app.hasher.verify(otp, open.ticket.secret_hash.as_deref()).await.expect("verifies"));
    assert!(!ctx.app.hasher.verify("000000", open.ticket.secret_hash.as_deref()).await.expect("checked"), "only that password");

    // A disabled user is mailed nothing (their ticket would be refused).
    admin_users::create(&ctx.app, &cli, &tenant.slug, &input("off", "ja")).await.expect("created");
    admin_users::set_status(&ctx.app, &cli, &tenant.slug, "off", UserStatus::Disabled).await.expect("disabled");
    assert!(!mail_enrollment(&ctx.app, &cli, &tenant.slug, "off", "https://main.test").await.expect("no error"));
    assert!(mails_to(&ctx, "off@t.test").await.is_empty());
}

#[tokio::test]
async fn a_refused_value_writes_nothing_and_a_stale_version_is_reported() {
    let ctx = TestContext::new().await;
    let tenant = ctx.tenant(TenantPolicy::default()).await;
    let cli = Principal::local_cli();
    let user = admin_users::create(&ctx.app, &cli, &tenant.slug, &input("taro", "ja")).await.expect("created");
    let bad = DirectoryChanges {
        display_name: Some("New".into()),
        status: Some(UserStatus::Disabled),
        external_id: Some(Some("x".repeat(256))),
        ..DirectoryChanges::default()
    };
    assert!(apply(&ctx.app, &cli, &tenant.slug, "taro", user.version, &bad).await.is_err());
    let bad_mail = DirectoryChanges {
        display_name: Some("New".into()),
        device_email: Some((1, "not an address".into())),
        ..DirectoryChanges::default()
    };
    assert!(apply(&ctx.app, &cli, &tenant.slug, "taro", user.version, &bad_mail).await.is_err());
    let unchanged = ctx.app.storage.users().get(user.id).await.expect("user");
    assert_eq!(
        (unchanged.display_name.as_str(), unchanged.status, unchanged.version),
        (user.display_name.as_str(), UserStatus::Active, user.version)
    );

    let good = DirectoryChanges {
        display_name: Some("New".into()),
        status: Some(UserStatus::Disabled),
        device_email: Some((1, "new@t.test".into())),
        external_id: Some(Some("e-1".into())),
        ..DirectoryChanges::default()
    };
    let Applied::Done(done, _) = apply(&ctx.app, &cli, &tenant.slug, "taro", user.version, &good).await.expect("applied") else {
        panic!("the version read is current")
    };
    assert_eq!((done.display_name.as_str(), done.status, done.external_id.as_deref()), ("New", UserStatus::Disabled, Some("e-1")));
    // The old version is stale now: reported, nothing written.
    let again = DirectoryChanges { display_name: Some("Stale".into()), ..DirectoryChanges::default() };
    assert!(matches!(apply(&ctx.app, &cli, &tenant.slug, "taro", user.version, &again).await.expect("no error"), Applied::Stale));
    assert_eq!(ctx.app.storage.users().get(user.id).await.expect("user").display_name, "New");
    // Each value changed is audited on its own, as the single-value functions do.
    let query = mamori_storage::model::AuditQuery::default();
    let trail = ctx.app.storage.audit_events().search(&query, 0, 100).await.expect("audit");
    let actions: Vec<&str> = trail.items.iter().map(|e| e.action.as_str()).collect();
    for action in ["user.update", "user.external-id", "user.device-email", "user.disable"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}
