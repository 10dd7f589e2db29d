//! Certificates that expire soon, and the once-only claim of each expiry reminder.

use mamori_storage::model::{CertificateAuthority, DeviceType, NewCertificate, NewCertificateAuthority, NewDevice};
use mamori_storage::{Storage, StorageError};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::harness::{t0, tenant, unique, user};

on_both!(each_reminder_is_claimed_once, expiring_certificates_of_a_tenant);

async fn issuing_ca(s: &Storage) -> CertificateAuthority {
    let new = NewCertificateAuthority {
        name: "Mamori CA".into(),
        certificate_pem: "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n".into(),
        chain_pem: vec![],
        sealed_private_key: vec![1],
        key_algorithm: "p256".into(),
        fingerprint_sha256: unique("AB"),
    };
    s.certificate_authorities().insert_and_activate(&new, t0()).await.unwrap()
}

/// A certificate of `user_id`'s device, recorded at `created`, expiring after `days`.
async fn certificate(s: &Storage, ca: &CertificateAuthority, user_id: Uuid, device_id: Uuid, created: OffsetDateTime, days: i64) -> Uuid {
    let new = NewCertificate {
        public_key_sha256: None,
        ca_id: ca.id,
        user_id: Some(user_id),
        device_id: Some(device_id),
        serial_hex: unique("0A1B"),
        fingerprint_sha256: unique("FF"),
        subject_cn: "p-01-usr012 #1".into(),
        not_before: t0(),
        not_after: t0() + Duration::days(days),
    };
    s.certificates().insert(&new, created).await.unwrap().id
}

async fn device(s: &Storage, user_id: Uuid) -> Uuid {
    let new = NewDevice { user_id, device_type: DeviceType::Pc, email: "usr@example.com".into() };
    s.devices().add_device(&new, 5, t0()).await.unwrap().id
}

async fn each_reminder_is_claimed_once(s: Storage) {
    let ca = issuing_ca(&s).await;
    let tenant = tenant(&s).await;
    let user = user(&s, &tenant).await;
    let device = device(&s, user.id).await;
    let cert = certificate(&s, &ca, user.id, device, t0(), 20).await;
    // Eight claims at once, as from eight nodes: exactly one wins.
    let claims = (0..8).map(|_| {
        let s = s.clone();
        tokio::spawn(async move { s.certificate_expiry().claim_reminder(cert, 30, t0()).await })
    });
    let mut won = 0;
    for claim in claims {
        match claim.await.unwrap() {
            Ok(true) => won += 1,
            Ok(false) => {}
            // SQLite may report its write lock as busy under contention: not a win.
            Err(StorageError::Unavailable) => {}
            Err(err) => panic!("claim failed: {err}"),
        }
    }
    assert_eq!(won, 1, "one node sends the 30-day reminder");
    let expiry = s.certificate_expiry();
    assert!(!expiry.claim_reminder(cert, 30, t0() + Duration::days(1)).await.unwrap(), "and never again");
    assert!(expiry.claim_reminder(cert, 15, t0()).await.unwrap(), "the next threshold is its own reminder");
    let other = certificate(&s, &ca, user.id, device, t0(), 20).await;
    assert!(expiry.claim_reminder(other, 30, t0()).await.unwrap(), "another certificate is its own");
    assert_eq!(expiry.reminders_sent(cert).await.unwrap(), vec![30, 15]);
    // A certificate that does not exist is no claim won.
    assert!(matches!(expiry.claim_reminder(Uuid::new_v4(), 30, t0()).await, Err(StorageError::Invalid(_))));
}

async fn expiring_certificates_of_a_tenant(s: Storage) {
    let ca = issuing_ca(&s).await;
    let tenant = tenant(&s).await;
    let taro = user(&s, &tenant).await;
    let phone = device(&s, taro.id).await;
    let laptop = device(&s, taro.id).await;
    let soon = certificate(&s, &ca, taro.id, phone, t0(), 10).await;
    let _later = certificate(&s, &ca, taro.id, phone, t0() - Duration::days(1), 100).await;
    let renewed = certificate(&s, &ca, taro.id, laptop, t0(), 5).await;
    let renewal = certificate(&s, &ca, taro.id, laptop, t0() + Duration::hours(1), 365).await;
    let revoked = certificate(&s, &ca, taro.id, laptop, t0() - Duration::days(2), 7).await;
    s.certificates().revoke(&s.certificates().get(revoked).await.unwrap().serial_hex, "key-compromise", t0()).await.unwrap();
    let expired = certificate(&s, &ca, taro.id, laptop, t0() - Duration::days(3), 0).await;
    let elsewhere = tenant_certificate(&s, &ca).await;

    let list = s.certificate_expiry().expiring_for_tenant(tenant.id, t0(), t0() + Duration::days(30)).await.unwrap();
    let ids: Vec<(Uuid, bool)> = list.iter().map(|e| (e.certificate.id, e.renewed)).collect();
    // `_later` (beyond 30 days) is newer than `soon` by nothing: `soon` was recorded after
    // it, so `soon` is the device's newest and not renewed.
    assert_eq!(ids, vec![(renewed, true), (soon, false)], "soonest first; revoked, expired, later and other tenants' left out");
    assert!(!ids.iter().any(|(id, _)| [renewal, revoked, expired, elsewhere].contains(id)));
    assert_eq!(list[1].user.id, taro.id);
    assert_eq!(list[1].device.as_ref().map(|d| d.id), Some(phone));
}

/// A certificate expiring tomorrow in another tenant.
async fn tenant_certificate(s: &Storage, ca: &CertificateAuthority) -> Uuid {
    let other = tenant(s).await;
    let user = user(s, &other).await;
    let device = device(s, user.id).await;
    certificate(s, ca, user.id, device, t0(), 1).await
}
