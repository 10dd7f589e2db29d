//! Tenants and their policy.

use mamori_storage::model::{CertificateKeyType, LoginMethod, OtpKind, PasswordCharClasses, Pkcs12Format, TenantPolicy};
use mamori_storage::{Storage, StorageError};
use uuid::Uuid;

use crate::harness::{t0, unique};

on_both!(policy_round_trips, invalid_policy_is_refused, lookups_and_listing);

fn custom_policy() -> TenantPolicy {
    TenantPolicy {
        allowed_login_methods: vec![LoginMethod::Password, LoginMethod::PasswordOtp],
        default_login_method: LoginMethod::PasswordOtp,
        password_min_length: 12,
        password_max_length: 64,
        password_char_classes: PasswordCharClasses { digits: true, upper: false, lower: true, symbols: false },
        password_expiry_days: 0,
        password_history_count: 5,
        lockout_threshold_password: 3,
        lockout_threshold_secret_answer: 4,
        lockout_threshold_enrollment_otp: 6,
        show_attempts_left: false,
        self_service_enabled: false,
        password_reissue_enabled: false,
        device_management_enabled: false,
        login_method_change_enabled: false,
        user_certificate_reissue_enabled: true,
        max_devices: 1,
        certificate_validity_days: 90,
        certificate_key_type: CertificateKeyType::Rsa2048,
        pkcs12_format: Pkcs12Format::Legacy,
        otp_kind: OtpKind::Email,
        session_idle_minutes: 10,
        session_absolute_minutes: 60,
        enrollment_ticket_hours: 24,
        download_ticket_hours: 12,
        download_max_count: 1,
        reissue_link_minutes: 15,
        lockout_release_minutes: 30,
        certificate_expiry_reminder_days: 21,
        certificate_expiry_reminder_repeats: 3,
        renewal_grace_days: 5,
        csr_min_rsa_bits: 3072,
        scim_enrollment_mail: true,
    }
}

async fn policy_round_trips(s: Storage) {
    let slug = unique("demo");
    let created = s.tenants().create(&slug, "Demo Inc.", &TenantPolicy::default(), t0()).await.unwrap();
    assert_eq!(created.policy, TenantPolicy::default());
    assert_eq!(created.created_at, t0());
    assert_eq!(s.tenants().get(created.id).await.unwrap(), created);

    let custom = custom_policy();
    s.tenants().update_policy(created.id, &custom).await.unwrap();
    let reread = s.tenants().get(created.id).await.unwrap();
    assert_eq!(reread.policy, custom);
    // Identity columns are untouched by a policy update.
    assert_eq!((reread.slug.as_str(), reread.display_name.as_str()), (slug.as_str(), "Demo Inc."));

    assert!(matches!(s.tenants().update_policy(Uuid::new_v4(), &custom).await, Err(StorageError::NotFound)));
}

async fn invalid_policy_is_refused(s: Storage) {
    let policy = TenantPolicy { default_login_method: LoginMethod::Password, ..TenantPolicy::default() };
    let err = s.tenants().create(&unique("bad"), "Bad", &policy, t0()).await.unwrap_err();
    assert!(matches!(err, StorageError::Invalid(ref m) if m.contains("default_login_method")));

    let policy = TenantPolicy { password_history_count: 0, ..TenantPolicy::default() };
    assert!(matches!(s.tenants().create(&unique("bad"), "Bad", &policy, t0()).await, Err(StorageError::Invalid(_))));
}

async fn lookups_and_listing(s: Storage) {
    let a = s.tenants().create("alpha", "Alpha", &TenantPolicy::default(), t0()).await.unwrap();
    let b = s.tenants().create("beta", "Beta", &TenantPolicy::default(), t0()).await.unwrap();
    assert_eq!(s.tenants().get_by_slug("beta").await.unwrap(), Some(b.clone()));
    assert_eq!(s.tenants().get_by_slug("gamma").await.unwrap(), None);
    assert_eq!(s.tenants().list().await.unwrap(), vec![a.clone(), b]);
    s.tenants().set_display_name(a.id, "Alpha KK").await.unwrap();
    assert_eq!(s.tenants().get(a.id).await.unwrap().display_name, "Alpha KK");
}
