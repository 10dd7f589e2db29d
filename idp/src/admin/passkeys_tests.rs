use mamori_storage::model::{AdminRoleKind, ApiScope, AuditQuery, DeviceType, LoginMethod, NewDevice, Passkey, Tenant, TenantPolicy, User};
use time::Duration;
use uuid::Uuid;

use super::*;
use crate::admin::Reach;
use crate::test_context::TestContext;

fn admin_of(tenant: &Tenant, scopes: &[ApiScope]) -> Principal {
    Principal { actor: "token:ops".into(), reach: Reach::Tenant(tenant.id), scopes: scopes.to_vec(), source_ip: "198.51.100.7".into() }
}

async fn other_tenant(ctx: &TestContext) -> Tenant {
    ctx.app.storage.tenants().create("other", "Other", &TenantPolicy::default(), ctx.app.now()).await.expect("tenant")
}

/// A user of `tenant` with a device (where notices go) and a method that needs a passkey.
async fn user_with_device(ctx: &TestContext, tenant: &Tenant, login_id: &str) -> User {
    let user = ctx.user(tenant, login_id, LoginMethod::CertPasskey, None).await;
    let device = NewDevice { user_id: user.id, device_type: DeviceType::Pc, email: format!("{login_id}@example.com") };
    ctx.app.storage.devices().add_device(&device, 5, ctx.app.now()).await.expect("device");
    user
}

async fn passkey(ctx: &TestContext, user: &User, name: &str) -> Passkey {
    let passkey = Passkey {
        id: Uuid::new_v4(),
        tenant_id: user.tenant_id,
        user_id: user.id,
        credential_id: format!("cred-{}", Uuid::new_v4()),
        credential: r#"{"secret":"public-key-material"}"#.into(),
        name: name.into(),
        sign_count: 7,
        backup_eligible: true,
        backed_up: false,
        created_at: ctx.app.now(),
        last_used_at: None,
    };
    ctx.app.storage.passkeys().add(&passkey, 10).await.expect("passkey");
    ctx.clock.advance(Duration::minutes(1));
    passkey
}

async fn audit(ctx: &TestContext, action: &str) -> Vec<mamori_storage::model::AuditEvent> {
    let q = AuditQuery { action: Some(action.into()), ..AuditQuery::default() };
    ctx.app.storage.audit_events().search(&q, 0, 50).await.expect("audit").items
}

async fn removal_mails(ctx: &TestContext) -> Vec<mamori_storage::model::OutboxMail> {
    let page = ctx.app.storage.mail_outbox().list(None, 0, 500).await.expect("outbox");
    page.items.into_iter().filter(|m| m.kind == "notice-passkey-removed").collect()
}

#[tokio::test]
async fn operators_list_a_users_passkeys_and_no_other_tenants() {
    let ctx = TestContext::new().await;
    let tenant = ctx.tenant(TenantPolicy::default()).await;
    let taro = user_with_device(&ctx, &tenant, "taro").await;
    let laptop = passkey(&ctx, &taro, "laptop").await;
    let phone = passkey(&ctx, &taro, "phone").await;
    let hanako = user_with_device(&ctx, &tenant, "hanako").await;
    passkey(&ctx, &hanako, "hanako's").await;

    let listed = list(&ctx.app, &admin_of(&tenant, &[ApiScope::Read]), "t", "taro").await.expect("listed");
    let names: Vec<&str> = listed.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["laptop", "phone"], "only taro's, oldest first");
    assert_eq!(listed[0], PasskeyView::from(&laptop));
    assert_eq!((listed[1].id, listed[1].sign_count, listed[1].backup_eligible), (phone.id, 7, true));

    let other = other_tenant(&ctx).await;
    let stranger = admin_of(&other, &[ApiScope::Read, ApiScope::Write]);
    assert!(matches!(list(&ctx.app, &stranger, "t", "taro").await, Err(AdminError::NotFound(_))));
    let no_scope = admin_of(&tenant, &[]);
    assert!(matches!(list(&ctx.app, &no_scope, "t", "taro").await, Err(AdminError::Forbidden(_))));
}

#[tokio::test]
async fn an_operator_removes_even_the_last_passkey_audited_and_mailed() {
    let ctx = TestContext::new().await;
    let tenant = ctx.tenant(TenantPolicy::default()).await;
    let taro = user_with_device(&ctx, &tenant, "taro").await;
    let only = passkey(&ctx, &taro, "only one").await;
    // The user's own rule keeps the last passkey of a method that needs one.
    let attempt = ctx.attempt(&tenant, &taro);
    assert_eq!(remove_passkey(&ctx.app, &taro, only.id, &attempt, false).await.expect("ran"), PasskeyChange::LastOne);

    let ops = admin_of(&tenant, &[ApiScope::Read, ApiScope::Write]);
    let removed = remove(&ctx.app, &ops, "t", "taro", &only.id.to_string()).await.expect("removed");
    assert_eq!(removed.name, "only one");
    assert!(list(&ctx.app, &ops, "t", "taro").await.expect("listed").is_empty());

    let events = audit(&ctx, "passkey.remove").await;
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!((event.actor.as_str(), event.outcome.as_str(), event.tenant_id), ("token:ops", "success", Some(tenant.id)));
    assert_eq!(event.target, format!("tenant:t/user:taro/passkey:{}", only.id));
    assert_eq!(event.source_ip, "198.51.100.7");
    assert!(!event.details.to_string().contains("public-key-material"), "no credential in the trail");

    let mails = removal_mails(&ctx).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to_address, "taro@example.com");
    assert!(mails[0].body_text.contains("only one"), "{}", mails[0].body_text);
    let history = ctx.app.storage.login_events().list_for_user(taro.id, ctx.app.now() - Duration::days(1), 0, 10).await.expect("history");
    assert!(history.items.iter().any(|e| e.result.as_str() == "passkey-removed"), "the user's history shows it");
}

#[tokio::test]
async fn another_users_or_tenants_passkey_is_not_found_and_stays() {
    let ctx = TestContext::new().await;
    let tenant = ctx.tenant(TenantPolicy::default()).await;
    let taro = user_with_device(&ctx, &tenant, "taro").await;
    let hanako = user_with_device(&ctx, &tenant, "hanako").await;
    let hanakos = passkey(&ctx, &hanako, "hanako's").await;
    let other = other_tenant(&ctx).await;
    let jiro = user_with_device(&ctx, &other, "jiro").await;
    let jiros = passkey(&ctx, &jiro, "jiro's").await;
    let ops = admin_of(&tenant, &[ApiScope::Read, ApiScope::Write]);

    // Through taro, hanako's passkey and another tenant's are nobody's.
    for id in [hanakos.id.to_string(), jiros.id.to_string(), "not-a-uuid".into(), Uuid::new_v4().to_string()] {
        assert!(matches!(remove(&ctx.app, &ops, "t", "taro", &id).await, Err(AdminError::NotFound(_))), "{id}");
    }
    // The other tenant's user, by its own tenant's slug, is out of this operator's reach.
    assert!(matches!(remove(&ctx.app, &ops, "other", "jiro", &jiros.id.to_string()).await, Err(AdminError::NotFound(_))));
    // Read scope alone removes nothing.
    let reader = admin_of(&tenant, &[ApiScope::Read]);
    assert!(matches!(remove(&ctx.app, &reader, "t", "hanako", &hanakos.id.to_string()).await, Err(AdminError::Forbidden(_))));

    assert_eq!(ctx.app.storage.passkeys().count_for_user(hanako.id).await.expect("count"), 1);
    assert_eq!(ctx.app.storage.passkeys().count_for_user(jiro.id).await.expect("count"), 1);
    assert_eq!(ctx.app.storage.passkeys().count_for_user(taro.id).await.expect("count"), 0);
    assert!(audit(&ctx, "passkey.remove").await.is_empty());
    assert!(removal_mails(&ctx).await.is_empty());
}

#[tokio::test]
async fn a_tenant_admin_cannot_remove_a_super_admins_passkey() {
    let ctx = TestContext::new().await;
    let tenant = ctx.tenant(TenantPolicy::default()).await;
    let boss = user_with_device(&ctx, &tenant, "boss").await;
    ctx.app.storage.admin_roles().grant(boss.id, AdminRoleKind::SuperAdmin, None, ctx.app.now()).await.expect("granted");
    let key = passkey(&ctx, &boss, "boss's").await;
    let ops = admin_of(&tenant, &[ApiScope::Read, ApiScope::Write]);

    assert!(matches!(remove(&ctx.app, &ops, "t", "boss", &key.id.to_string()).await, Err(AdminError::WiderRole)));
    assert_eq!(ctx.app.storage.passkeys().count_for_user(boss.id).await.expect("count"), 1);
    let refused = audit(&ctx, "passkey.remove").await;
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].outcome, "failure");
    // Listing is reading: allowed.
    assert_eq!(list(&ctx.app, &ops, "t", "boss").await.expect("listed").len(), 1);
}
