//! API tokens, operator roles, the audit trail, and the operators' filtered lists.

use mamori_storage::model::{
    AdminRoleKind, ApiScope, AuditQuery, CertificateQuery, CertificateStatus, LoginEventQuery, LoginResult, NewApiToken, NewAuditEvent,
    NewCertificate, NewCertificateAuthority, NewLoginEvent, UserQuery, UserStatus,
};
use mamori_storage::{Storage, StorageError};
use time::Duration;

use crate::harness::{t0, tenant, unique, user};

on_both!(
    api_tokens_are_found_by_hash_and_revoked,
    admin_roles_follow_their_user,
    every_role_is_listed_and_a_super_admin_is_found,
    audit_trail_is_filtered_and_paged,
    operator_lists_filter_within_one_tenant
);

async fn api_tokens_are_found_by_hash_and_revoked(s: Storage) {
    let t = tenant(&s).await;
    let tokens = s.api_tokens();
    let new = NewApiToken {
        name: "ci".into(),
        tenant_id: Some(t.id),
        scopes: vec![ApiScope::Write, ApiScope::Read, ApiScope::Read],
        created_by: "cli".into(),
        lookup_hash: unique("h"),
        expires_at: t0() + Duration::days(30),
    };
    let created = tokens.create(&new, t0()).await.unwrap();
    assert_eq!(created.scopes, [ApiScope::Read, ApiScope::Write], "sorted, deduplicated");
    let found = tokens.find_by_lookup_hash(&new.lookup_hash).await.unwrap().unwrap();
    assert_eq!(found, created);
    assert!(found.is_usable_at(t0()));
    assert!(!found.is_usable_at(t0() + Duration::days(30)), "expired at expires_at");
    assert!(tokens.find_by_lookup_hash("other").await.unwrap().is_none());
    assert!(matches!(tokens.create(&new, t0()).await, Err(StorageError::Conflict(_))));
    let no_scope = NewApiToken { scopes: vec![], lookup_hash: unique("h"), ..new.clone() };
    assert!(matches!(tokens.create(&no_scope, t0()).await, Err(StorageError::Invalid(_))));

    tokens.touch(created.id, t0() + Duration::minutes(5)).await.unwrap();
    tokens.touch(created.id, t0() + Duration::minutes(5) + Duration::seconds(10)).await.unwrap();
    let touched = tokens.get(created.id).await.unwrap();
    assert_eq!(touched.last_used_at, Some(t0() + Duration::minutes(5)), "at most once a minute");

    let super_token = NewApiToken { tenant_id: None, lookup_hash: unique("h"), ..new.clone() };
    tokens.create(&super_token, t0() + Duration::seconds(1)).await.unwrap();
    assert_eq!(tokens.list(Some(t.id)).await.unwrap().len(), 1);
    assert_eq!(tokens.list(None).await.unwrap().len(), 2);

    tokens.revoke(created.id, t0() + Duration::hours(1)).await.unwrap();
    let revoked = tokens.get(created.id).await.unwrap();
    assert!(!revoked.is_usable_at(t0() + Duration::hours(2)));
    assert!(matches!(tokens.revoke(uuid::Uuid::new_v4(), t0()).await, Err(StorageError::NotFound)));

    // Tokens of a deleted tenant go with it.
    s.tenants().delete(t.id, "cessationOfOperation", t0()).await.unwrap();
    assert!(tokens.find_by_lookup_hash(&new.lookup_hash).await.unwrap().is_none());
}

async fn admin_roles_follow_their_user(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let roles = s.admin_roles();
    assert!(matches!(roles.grant(u.id, AdminRoleKind::TenantAdmin, None, t0()).await, Err(StorageError::Invalid(_))));
    assert!(matches!(roles.grant(u.id, AdminRoleKind::SuperAdmin, Some(t.id), t0()).await, Err(StorageError::Invalid(_))));
    let a = roles.grant(u.id, AdminRoleKind::TenantAdmin, Some(t.id), t0()).await.unwrap();
    let again = roles.grant(u.id, AdminRoleKind::TenantAdmin, Some(t.id), t0()).await.unwrap();
    assert_eq!(a.id, again.id, "granting twice keeps one role");
    roles.grant(u.id, AdminRoleKind::SuperAdmin, None, t0()).await.unwrap();
    assert_eq!(roles.list_for_user(u.id).await.unwrap().len(), 2);
    roles.revoke(a.id).await.unwrap();
    assert_eq!(roles.list_for_user(u.id).await.unwrap().len(), 1);
    s.users().delete(u.id).await.unwrap();
    assert!(roles.list_for_user(u.id).await.unwrap().is_empty());
}

async fn every_role_is_listed_and_a_super_admin_is_found(s: Storage) {
    let roles = s.admin_roles();
    assert!(!roles.any_super_admin().await.unwrap(), "an empty database has none");
    assert!(roles.list_all().await.unwrap().is_empty());
    let (t, other) = (tenant(&s).await, tenant(&s).await);
    let (a, b) = (user(&s, &t).await, user(&s, &other).await);
    roles.grant(a.id, AdminRoleKind::TenantAdmin, Some(t.id), t0()).await.unwrap();
    assert!(!roles.any_super_admin().await.unwrap(), "a tenant admin is no super-admin");
    roles.grant(b.id, AdminRoleKind::SuperAdmin, None, t0() + Duration::seconds(1)).await.unwrap();
    roles.grant(a.id, AdminRoleKind::TenantAdmin, Some(other.id), t0() + Duration::seconds(2)).await.unwrap();
    assert!(roles.any_super_admin().await.unwrap());
    let all = roles.list_all().await.unwrap();
    let seen: Vec<_> = all.iter().map(|r| (r.user_id, r.role, r.tenant_id)).collect();
    assert_eq!(
        seen,
        [
            (a.id, AdminRoleKind::TenantAdmin, Some(t.id)),
            (b.id, AdminRoleKind::SuperAdmin, None),
            (a.id, AdminRoleKind::TenantAdmin, Some(other.id))
        ],
        "every tenant's, oldest first"
    );
    // The super-admin's user goes, and the role with it.
    s.users().delete(b.id).await.unwrap();
    assert!(!roles.any_super_admin().await.unwrap());
    assert_eq!(roles.list_all().await.unwrap().len(), 2);
}

async fn audit_trail_is_filtered_and_paged(s: Storage) {
    let t = tenant(&s).await;
    let other = tenant(&s).await;
    let audit = s.audit_events();
    for i in 0..25 {
        let event = NewAuditEvent {
            tenant_id: Some(if i % 5 == 0 { other.id } else { t.id }),
            actor: if i % 2 == 0 { "token:a".into() } else { "user:demo/op".into() },
            action: if i % 3 == 0 { "user.unlock".into() } else { "user.create".into() },
            target: format!("user:u{i}"),
            occurred_at: t0() + Duration::minutes(i),
            source_ip: "192.0.2.1".into(),
            outcome: "success".into(),
            details: serde_json::json!({"i": i}),
        };
        audit.record(&event).await.unwrap();
    }
    let all = audit.search(&AuditQuery::default(), 0, 100).await.unwrap();
    assert_eq!(all.total, 25);
    assert_eq!(all.items[0].details, serde_json::json!({"i": 24}), "newest first");
    let mine = AuditQuery { tenant_id: Some(t.id), ..AuditQuery::default() };
    let page = audit.search(&mine, 0, 7).await.unwrap();
    assert_eq!((page.items.len(), page.total), (7, 20));
    assert!(page.items.iter().all(|e| e.tenant_id == Some(t.id)));
    let q = AuditQuery {
        tenant_id: Some(t.id),
        actor: Some("token:a".into()),
        action: Some("user.unlock".into()),
        since: Some(t0() + Duration::minutes(1)),
        until: Some(t0() + Duration::minutes(13)),
        ..AuditQuery::default()
    };
    let found = audit.search(&q, 0, 100).await.unwrap();
    let targets: Vec<_> = found.items.iter().map(|e| e.target.as_str()).collect();
    assert_eq!(targets, ["user:u12", "user:u6"]);
    let q = AuditQuery { target_contains: Some("u1".into()), ..mine };
    assert_eq!(audit.search(&q, 0, 100).await.unwrap().total, 9, "u1, u11..u14, u16..u19");
}

async fn operator_lists_filter_within_one_tenant(s: Storage) {
    let t = tenant(&s).await;
    let other = tenant(&s).await;
    let a = user(&s, &t).await;
    let b = user(&s, &t).await;
    let foreign = user(&s, &other).await;
    s.users().set_status(b.id, UserStatus::Disabled, t0()).await.unwrap();
    s.users().lock(a.id, mamori_storage::model::LockReason::Operator, t0()).await.unwrap();

    let users = s.users();
    let all = users.search(t.id, &UserQuery::default(), 0, 10).await.unwrap();
    assert_eq!(all.total, 2);
    let q = UserQuery { status: Some(UserStatus::Disabled), ..UserQuery::default() };
    assert_eq!(users.search(t.id, &q, 0, 10).await.unwrap().items[0].id, b.id);
    let q = UserQuery { locked: Some(true), ..UserQuery::default() };
    assert_eq!(users.search(t.id, &q, 0, 10).await.unwrap().items[0].id, a.id);
    let q = UserQuery { text: Some(a.login_id.clone()), ..UserQuery::default() };
    let found = users.search(t.id, &q, 0, 10).await.unwrap();
    assert_eq!((found.total, found.items[0].id), (1, a.id));
    let q = UserQuery { text: Some(foreign.login_id.clone()), ..UserQuery::default() };
    assert_eq!(users.search(t.id, &q, 0, 10).await.unwrap().total, 0, "never another tenant's");

    // Login history by user, time and result.
    for (i, (who, result)) in
        [(&a, LoginResult::Success), (&a, LoginResult::WrongPassword), (&b, LoginResult::Success), (&foreign, LoginResult::Success)]
            .into_iter()
            .enumerate()
    {
        let event = NewLoginEvent {
            tenant_id: who.tenant_id,
            user_id: Some(who.id),
            attempted_login_id: Some(who.login_id.clone()),
            occurred_at: t0() + Duration::minutes(i as i64),
            source_ip: "192.0.2.1".into(),
            result,
            factors: vec![],
            user_agent: None,
            detail: None,
        };
        s.login_events().record(&event).await.unwrap();
    }
    let events = s.login_events();
    assert_eq!(events.search(t.id, &LoginEventQuery::default(), 0, 10).await.unwrap().total, 3);
    let q = LoginEventQuery { user_id: Some(a.id), result: Some("success".into()), ..LoginEventQuery::default() };
    assert_eq!(events.search(t.id, &q, 0, 10).await.unwrap().total, 1);
    let q = LoginEventQuery {
        since: Some(t0() + Duration::minutes(1)),
        until: Some(t0() + Duration::minutes(2)),
        ..LoginEventQuery::default()
    };
    let found = events.search(t.id, &q, 0, 10).await.unwrap();
    assert_eq!((found.total, found.items[0].result.clone()), (1, LoginResult::WrongPassword));

    // Certificates of the tenant's users only.
    let ca = s
        .certificate_authorities()
        .insert_and_activate(
            &NewCertificateAuthority {
                name: "CA".into(),
                certificate_pem: "pem".into(),
                chain_pem: vec![],
                sealed_private_key: vec![1],
                key_algorithm: "p256".into(),
                fingerprint_sha256: unique("AB"),
            },
            t0(),
        )
        .await
        .unwrap();
    let mut serials = Vec::new();
    for (i, who) in [&a, &a, &b, &foreign].into_iter().enumerate() {
        // As the CA writes serials: lowercase hex, whole bytes, no leading zero byte.
        let n: u64 = unique("").trim_start_matches('-').parse().unwrap();
        let serial = format!("{:02x}{n:08x}", i + 1);
        let cert = NewCertificate {
            public_key_sha256: None,
            ca_id: ca.id,
            user_id: Some(who.id),
            device_id: None,
            serial_hex: serial.clone(),
            fingerprint_sha256: unique("FF"),
            subject_cn: format!("{} #1", who.login_id),
            not_before: t0(),
            not_after: t0() + Duration::days(1),
        };
        s.certificates().insert(&cert, t0() + Duration::minutes(i as i64)).await.unwrap();
        serials.push(serial);
    }
    s.certificates().revoke(&serials[0], "superseded", t0()).await.unwrap();
    let certs = s.certificates();
    let all = certs.search_for_tenant(t.id, &CertificateQuery::default(), 0, 10).await.unwrap();
    assert_eq!(all.total, 3);
    assert_eq!(all.items[0].serial_hex, serials[2], "newest first");
    let q = CertificateQuery { user_id: Some(a.id), status: Some(CertificateStatus::Active), ..CertificateQuery::default() };
    let found = certs.search_for_tenant(t.id, &q, 0, 10).await.unwrap();
    assert_eq!((found.total, found.items[0].serial_hex.as_str()), (1, serials[1].as_str()));
    let q = CertificateQuery { serial_hex: Some(serials[3].to_uppercase()), ..CertificateQuery::default() };
    assert_eq!(certs.search_for_tenant(t.id, &q, 0, 10).await.unwrap().total, 0, "another tenant's serial");
    assert_eq!(certs.search_for_tenant(other.id, &q, 0, 10).await.unwrap().total, 1);
}
