//! Expiry reminders swept by two nodes on one database: one mail per certificate and
//! threshold, and none for what needs no reminder.

use mamori_ca::KeyAlgorithm;
use mamori_storage::model::{Device, DeviceType, LoginMethod, NewDevice, OutboxMail, TenantPolicy, User, UserStatus};
use time::Duration;

use super::{EXPIRY_REMINDER_TEMPLATE, send_expiry_reminders};
use crate::pki::CertificateOwner;
use crate::test_context::TestContext;

const MTLS: &str = "https://mtls.test:8444";

/// A device of `user` whose address names it, so each mail says whose it is.
async fn device(ctx: &TestContext, user: &User, name: &str) -> Device {
    let new = NewDevice { user_id: user.id, device_type: DeviceType::Pc, email: format!("{}-{name}@example.com", user.login_id) };
    ctx.app.storage.devices().add_device(&new, 9, ctx.app.now()).await.expect("a device")
}

/// A certificate of `device` issued now, valid for `days`; its serial.
async fn certificate(ctx: &TestContext, user: &User, device: &Device, days: i64) -> String {
    let owner = CertificateOwner { user_id: Some(user.id), device_id: Some(device.id) };
    let now = ctx.app.now();
    let issued = ctx
        .app
        .ca
        .issue_device_certificate(owner, user.login_id.clone(), None, KeyAlgorithm::EcP256, now, now + Duration::days(days))
        .await
        .expect("issued");
    issued.serial_hex
}

async fn reminders(ctx: &TestContext) -> Vec<OutboxMail> {
    let page = ctx.app.storage.mail_outbox().list(None, 0, 500).await.expect("outbox");
    page.items.into_iter().filter(|m| m.kind == EXPIRY_REMINDER_TEMPLATE).collect()
}

#[tokio::test]
async fn two_nodes_send_each_reminder_once_and_only_where_one_is_needed() {
    let ctx = TestContext::with_database_file().await;
    let other = ctx.another_node().await;
    // 30 days and one repeat: reminders at 30 and 15 days before the expiry.
    let policy = TenantPolicy { certificate_expiry_reminder_days: 30, certificate_expiry_reminder_repeats: 1, ..TenantPolicy::default() };
    let tenant = ctx.tenant(policy).await;
    let taro = ctx.user(&tenant, "taro", LoginMethod::CertPassword, None).await;
    // Makes the CA; its own certificate (30 days) gets reminders like any other.
    let _ = ctx.device_certificate(&taro).await;
    let phone = device(&ctx, &taro, "phone").await;
    certificate(&ctx, &taro, &phone, 40).await;
    // What needs no reminder, all expiring alongside: a revoked certificate, one already
    // renewed, a deleted device's, a disabled user's.
    let lost = device(&ctx, &taro, "lost").await;
    let serial = certificate(&ctx, &taro, &lost, 40).await;
    ctx.app.storage.certificates().revoke(&serial, "superseded", ctx.app.now()).await.expect("revoked");
    let laptop = device(&ctx, &taro, "laptop").await;
    certificate(&ctx, &taro, &laptop, 40).await;
    ctx.clock.advance(Duration::minutes(1));
    certificate(&ctx, &taro, &laptop, 300).await;
    let gone = device(&ctx, &taro, "gone").await;
    certificate(&ctx, &taro, &gone, 40).await;
    ctx.app.storage.devices().delete(gone.id, ctx.app.now()).await.expect("deleted");
    let hanako = ctx.user(&tenant, "hanako", LoginMethod::CertPassword, None).await;
    let hanakos = device(&ctx, &hanako, "phone").await;
    certificate(&ctx, &hanako, &hanakos, 40).await;
    ctx.app.storage.users().set_status(hanako.id, UserStatus::Disabled, ctx.app.now()).await.expect("disabled");

    let sweep = || async {
        let now = ctx.app.now();
        let (a, b) = tokio::join!(send_expiry_reminders(&ctx.app, MTLS, now), send_expiry_reminders(&other, MTLS, now));
        a.expect("node 1 sweeps") + b.expect("node 2 sweeps")
    };
    assert_eq!(sweep().await, 1, "the first certificate is at 30 days already, the phone's at 40");
    // 11 days on: the first certificate has 19 days left, the phone's 29.
    ctx.clock.advance(Duration::days(11));
    assert_eq!(sweep().await, 1, "the phone's 30-day reminder");
    assert_eq!(sweep().await, 0, "sent already");
    // 14 more: 5 days and 15 days left.
    ctx.clock.advance(Duration::days(14));
    assert_eq!(sweep().await, 2, "the 15-day reminders");
    ctx.clock.advance(Duration::days(3));
    assert_eq!(sweep().await, 0, "no threshold left before the expiry");

    let mails = reminders(&ctx).await;
    let mut to: Vec<&str> = mails.iter().map(|m| m.to_address.as_str()).collect();
    to.sort_unstable();
    assert_eq!(
        to,
        ["taro-phone@example.com", "taro-phone@example.com", "taro@example.com", "taro@example.com"],
        "two thresholds, once each, for the two certificates that need them"
    );
    let mail = mails.iter().find(|m| m.to_address == phone.email).expect("the phone's");
    assert!(mail.body_text.contains(&format!("{MTLS}/account")), "links to the account page: {}", mail.body_text);
    assert!(mail.body_text.contains(&format!("No {} ", phone.device_no)), "names the device: {}", mail.body_text);
}

#[tokio::test]
async fn reminders_off_send_nothing() {
    let ctx = TestContext::new().await;
    let tenant = ctx.tenant(TenantPolicy { certificate_expiry_reminder_days: 0, ..TenantPolicy::default() }).await;
    let taro = ctx.user(&tenant, "taro", LoginMethod::CertPassword, None).await;
    let _ = ctx.device_certificate(&taro).await;
    ctx.clock.advance(Duration::days(29));
    assert_eq!(send_expiry_reminders(&ctx.app, MTLS, ctx.app.now()).await.expect("sweep"), 0);
    assert!(reminders(&ctx).await.is_empty());
}

#[tokio::test]
async fn a_policy_changed_after_a_reminder_waits_a_day_before_the_next() {
    let ctx = TestContext::new().await;
    let policy = TenantPolicy { certificate_expiry_reminder_days: 30, certificate_expiry_reminder_repeats: 0, ..TenantPolicy::default() };
    let tenant = ctx.tenant(policy.clone()).await;
    let taro = ctx.user(&tenant, "taro", LoginMethod::CertPassword, None).await;
    let _ = ctx.device_certificate(&taro).await;
    let sweep = || async { send_expiry_reminders(&ctx.app, MTLS, ctx.app.now()).await.expect("sweep") };
    assert_eq!(sweep().await, 1, "30 days left: the 30-day reminder");
    // The operator moves the reminder to 40 days: a threshold not yet mailed, and due.
    let moved = TenantPolicy { certificate_expiry_reminder_days: 40, ..policy };
    ctx.app.storage.tenants().update_policy(tenant.id, &moved).await.expect("policy saved");
    ctx.clock.advance(Duration::minutes(10));
    assert_eq!(sweep().await, 0, "not a second mail minutes after the first");
    ctx.clock.advance(Duration::hours(23));
    assert_eq!(sweep().await, 0, "still within the day");
    ctx.clock.advance(Duration::hours(1));
    assert_eq!(sweep().await, 1, "a day after the last one, the new threshold's");
    assert_eq!(reminders(&ctx).await.len(), 2);
}

#[tokio::test]
async fn the_reminder_says_less_than_a_day_and_who_renews_where_users_cannot() {
    let ctx = TestContext::new().await;
    let policy = TenantPolicy { certificate_expiry_reminder_days: 30, device_management_enabled: false, ..TenantPolicy::default() };
    let tenant = ctx.tenant(policy).await;
    let taro = ctx.user(&tenant, "taro", LoginMethod::CertPassword, None).await;
    let _ = ctx.device_certificate(&taro).await;
    // The node was down for weeks: the first sweep finds 30 minutes left.
    ctx.clock.advance(Duration::days(30) - Duration::minutes(30));
    assert_eq!(send_expiry_reminders(&ctx.app, MTLS, ctx.app.now()).await.expect("sweep"), 1);
    let mail = reminders(&ctx).await.pop().expect("a reminder");
    let text = &mail.body_text;
    assert!(text.contains("in less than a day") || text.contains("残り 1 日未満"), "not \"1 day\" for minutes: {text}");
    assert!(text.contains("administrator") || text.contains("管理者"), "says who renews: {text}");
    assert!(!text.contains("/account"), "no link to a renewal the account page does not offer: {text}");
}
