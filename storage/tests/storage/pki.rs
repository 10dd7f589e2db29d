//! Certificate authorities, certificates, revocation and CRL numbers.

use mamori_storage::model::{
    CertificateAuthority, CertificateStatus, CrlHeader, DeviceType, NewCertificate, NewCertificateAuthority, NewDevice, PublishedCrl,
    RevocationMark,
};
use mamori_storage::{Storage, StorageError};
use time::Duration;
use uuid::Uuid;

use crate::harness::{t0, tenant, unique, user};

on_both!(
    one_active_ca,
    crl_numbers_are_distinct_under_concurrency,
    a_published_crl_only_moves_forward,
    certificates_and_revocation,
    certificates_outlive_their_user
);

fn new_ca(name: &str) -> NewCertificateAuthority {
    NewCertificateAuthority {
        name: name.to_owned(),
        certificate_pem: format!("-----BEGIN CERTIFICATE-----\n{name}\n-----END CERTIFICATE-----\n"),
        chain_pem: vec!["root".into()],
        sealed_private_key: vec![9, 9, 9],
        key_algorithm: "p256".into(),
        fingerprint_sha256: unique("AB:CD"),
    }
}

async fn issuing_ca(s: &Storage) -> CertificateAuthority {
    s.certificate_authorities().insert_and_activate(&new_ca("Mamori CA"), t0()).await.unwrap()
}

fn new_cert(ca: &CertificateAuthority, user_id: Option<Uuid>, device_id: Option<Uuid>) -> NewCertificate {
    NewCertificate {
        public_key_sha256: None,
        ca_id: ca.id,
        user_id,
        device_id,
        serial_hex: unique("0A1B"),
        fingerprint_sha256: unique("FF"),
        subject_cn: "p-01-usr012 #1".into(),
        not_before: t0(),
        not_after: t0() + Duration::days(365),
    }
}

async fn one_active_ca(s: Storage) {
    let cas = s.certificate_authorities();
    assert_eq!(cas.active().await.unwrap(), None);
    assert_eq!(cas.active_id().await.unwrap(), None);
    let first = issuing_ca(&s).await;
    assert!(first.is_active);
    assert_eq!(cas.active_id().await.unwrap(), Some(first.id));
    assert_eq!(first.chain_pem, ["root"]);
    // Stored as lower-case hex without separators.
    assert!(first.fingerprint_sha256.starts_with("abcd"), "{}", first.fingerprint_sha256);
    assert!(!first.fingerprint_sha256.contains([':', '-']));

    let second = cas.insert(&new_ca("Next CA"), t0()).await.unwrap();
    assert!(!second.is_active);
    assert_eq!(cas.active().await.unwrap().unwrap().id, first.id);
    cas.activate(second.id).await.unwrap();
    assert_eq!(cas.active().await.unwrap().unwrap().id, second.id);
    // What every node checks before using the CA it holds.
    assert_eq!(cas.active_id().await.unwrap(), Some(second.id));
    assert!(!cas.get(first.id).await.unwrap().is_active);
    assert!(matches!(cas.activate(Uuid::new_v4()).await, Err(StorageError::NotFound)));
    // The failed activation changed nothing.
    assert_eq!(cas.active().await.unwrap().unwrap().id, second.id);

    let mut clash = new_ca("Clash");
    clash.fingerprint_sha256 = second.fingerprint_sha256.clone();
    assert!(matches!(cas.insert(&clash, t0()).await, Err(StorageError::Conflict(_))));
    assert_eq!(cas.find_by_fingerprint(&second.fingerprint_sha256.to_uppercase()).await.unwrap().unwrap().id, second.id);
    assert_eq!(cas.list().await.unwrap().len(), 2);
}

async fn crl_numbers_are_distinct_under_concurrency(s: Storage) {
    let ca = issuing_ca(&s).await;
    let calls = (0..20).map(|_| {
        let s = s.clone();
        tokio::spawn(async move { s.certificate_authorities().next_crl_number(ca.id).await })
    });
    let mut numbers: Vec<u64> = futures::future::join_all(calls).await.into_iter().map(|r| r.unwrap().unwrap()).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=20).collect::<Vec<u64>>());
    assert_eq!(s.certificate_authorities().get(ca.id).await.unwrap().crl_number, 20);
}

fn crl(ca: &CertificateAuthority, number: u64, revoked: i64) -> PublishedCrl {
    PublishedCrl {
        header: CrlHeader {
            ca_id: ca.id,
            crl_number: number,
            this_update: t0(),
            next_update: t0() + Duration::hours(24),
            mark: RevocationMark { revoked, latest: (revoked > 0).then_some(revoked * 1000) },
        },
        der: vec![0x30, number as u8],
    }
}

/// Nodes publish through this table: whatever order their writes land in, the stored
/// CRL is the one with the highest number, so no node can serve an older one after it.
async fn a_published_crl_only_moves_forward(s: Storage) {
    let ca = issuing_ca(&s).await;
    let crls = s.published_crls();
    assert_eq!(crls.header(ca.id).await.unwrap(), None);
    assert!(crls.publish(&crl(&ca, 2, 0)).await.unwrap(), "the first CRL is published");
    assert!(crls.publish(&crl(&ca, 5, 1)).await.unwrap(), "a higher number replaces it");
    assert!(!crls.publish(&crl(&ca, 4, 1)).await.unwrap(), "a lower number, signed earlier elsewhere, is refused");
    assert!(!crls.publish(&crl(&ca, 5, 2)).await.unwrap(), "a second CRL under the same number is refused");
    let stored = crls.get(ca.id).await.unwrap().unwrap();
    assert_eq!(stored, crl(&ca, 5, 1));
    assert_eq!(crls.header(ca.id).await.unwrap(), Some(stored.header));

    // Racing publishers: the highest number wins, whatever the order.
    let calls = (10..30u64).rev().map(|n| {
        let (s, c) = (s.clone(), crl(&ca, n, n as i64));
        tokio::spawn(async move { s.published_crls().publish(&c).await })
    });
    for r in futures::future::join_all(calls).await {
        r.unwrap().unwrap();
    }
    assert_eq!(crls.header(ca.id).await.unwrap().unwrap().crl_number, 29);

    // A CA made later continues the numbering: a replacement that keeps its
    // predecessor's name must not start a relying party's CRL numbers over.
    for _ in 0..3 {
        s.certificate_authorities().next_crl_number(ca.id).await.unwrap();
    }
    let handed_out = s.certificate_authorities().get(ca.id).await.unwrap().crl_number;
    assert_eq!(handed_out, 3);
    let other = s.certificate_authorities().insert_and_activate(&new_ca("Next CA"), t0()).await.unwrap();
    assert_eq!(other.crl_number, handed_out);
    assert_eq!(s.certificate_authorities().next_crl_number(other.id).await.unwrap(), handed_out + 1);
    // Another CA's CRL is its own row.
    assert!(crls.publish(&crl(&other, 1, 0)).await.unwrap());
    assert_eq!(crls.header(ca.id).await.unwrap().unwrap().crl_number, 29);
}

async fn certificates_and_revocation(s: Storage) {
    let ca = issuing_ca(&s).await;
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let device = s
        .devices()
        .add_device(&NewDevice { user_id: u.id, device_type: DeviceType::Pc, email: "a@example.jp".into() }, 3, t0())
        .await
        .unwrap();
    let certs = s.certificates();
    let new = new_cert(&ca, Some(u.id), Some(device.id));
    let cert = certs.insert(&new, t0()).await.unwrap();
    assert_eq!(cert.status, CertificateStatus::Active);
    assert!(cert.is_usable_at(t0() + Duration::days(1)));
    assert!(!cert.is_usable_at(t0() + Duration::days(400)));

    // Lookups accept upper case and colons, as printed by tools.
    let found = certs.find_by_serial_and_fingerprint(&new.serial_hex.to_uppercase(), &new.fingerprint_sha256).await.unwrap();
    assert_eq!(found, Some(cert.clone()));
    assert_eq!(certs.find_by_serial_and_fingerprint(&new.serial_hex, "00").await.unwrap(), None);
    let mut duplicate = new_cert(&ca, None, None);
    duplicate.serial_hex = new.serial_hex.clone();
    assert!(matches!(certs.insert(&duplicate, t0()).await, Err(StorageError::Conflict(_))));

    // The mark a node keys its cached CRL on: no revocation yet.
    assert_eq!(certs.revocation_mark(ca.id).await.unwrap(), RevocationMark { revoked: 0, latest: None });

    let later = t0() + Duration::days(2);
    let revoked = certs.revoke(&cert.serial_hex, "superseded", later).await.unwrap();
    assert_eq!(revoked.status, CertificateStatus::Revoked);
    assert_eq!(revoked.revoked_at, Some(later));
    let again = certs.revoke(&cert.serial_hex, "keyCompromise", later + Duration::days(1)).await;
    assert!(matches!(again, Err(StorageError::Conflict("certificate already revoked"))));
    // The first revocation stands.
    let reread = certs.get(cert.id).await.unwrap();
    assert_eq!((reread.revoked_at, reread.revocation_reason.as_deref()), (Some(later), Some("superseded")));
    assert!(matches!(certs.revoke("ffff", "x", later).await, Err(StorageError::NotFound)));

    // A device's remaining certificates are revoked together.
    let second = certs.insert(&new_cert(&ca, Some(u.id), Some(device.id)), t0()).await.unwrap();
    let by_device = certs.revoke_for_device(device.id, "cessationOfOperation", later).await.unwrap();
    assert_eq!(by_device.iter().map(|c| c.id).collect::<Vec<_>>(), [second.id]);

    let crl = certs.list_revoked(ca.id).await.unwrap();
    assert_eq!(crl.len(), 2);
    // Both revocations at the same instant still move the mark (its count).
    let later_ms = i64::try_from(later.unix_timestamp_nanos() / 1_000_000).unwrap();
    assert_eq!(certs.revocation_mark(ca.id).await.unwrap(), RevocationMark { revoked: 2, latest: Some(later_ms) });
    assert_eq!(certs.list_for_user(u.id).await.unwrap().len(), 2);
    assert_eq!(certs.list_for_device(device.id).await.unwrap().len(), 2);
    let other_ca = s.certificate_authorities().insert(&new_ca("Other"), t0()).await.unwrap();
    assert!(certs.list_revoked(other_ca.id).await.unwrap().is_empty());
    assert_eq!(certs.revocation_mark(other_ca.id).await.unwrap(), RevocationMark { revoked: 0, latest: None });
}

async fn certificates_outlive_their_user(s: Storage) {
    let ca = issuing_ca(&s).await;
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let cert = s.certificates().insert(&new_cert(&ca, Some(u.id), None), t0()).await.unwrap();
    s.certificates().revoke_for_user(u.id, "affiliationChanged", t0()).await.unwrap();
    // A second user's certificate, still good when the tenant goes.
    let other = user(&s, &t).await;
    let active = s.certificates().insert(&new_cert(&ca, Some(other.id), None), t0()).await.unwrap();
    let later = t0() + Duration::minutes(5);
    assert_eq!(s.tenants().delete(t.id, "cessationOfOperation", later).await.unwrap(), 1, "the active certificate is revoked");
    let kept = s.certificates().get(cert.id).await.unwrap();
    assert_eq!(kept.user_id, None);
    assert_eq!(kept.revocation_reason.as_deref(), Some("affiliationChanged"), "an earlier revocation is not overwritten");
    let revoked = s.certificates().get(active.id).await.unwrap();
    assert_eq!((revoked.status, revoked.revoked_at), (CertificateStatus::Revoked, Some(later)));
    assert_eq!(s.certificates().list_revoked(ca.id).await.unwrap().len(), 2);
}
