//! The reissue flows' parts of a completion: failure counters cleared and mailed
//! addresses proven, all rolled back with the rest when the transaction fails.

use mamori_storage::Storage;
use mamori_storage::model::{CertificateStatus, Completion, EmailVerification, RedeemError};
use mamori_storage::{StorageError, model::NewDevice};
use time::Duration;

use crate::completion::{Fixture, completion, fixture};
use crate::harness::t0;

on_both!(a_failed_reissue_clears_no_counter_and_proves_no_address, a_reissue_proves_only_the_address_the_device_still_has);

/// A reissue as the certificate flow completes it, on a user with wrong answers and
/// wrong passwords counted.
async fn reissue(s: &Storage, f: &Fixture) -> Completion {
    for _ in 0..2 {
        s.users().record_failed_secret_answer(f.user.id, 5, t0()).await.unwrap();
        s.users().record_failed_password(f.user.id, 5, t0()).await.unwrap();
    }
    Completion {
        secret_answer: None,
        reset_failed_secret_answers: true,
        reset_failed_passwords: true,
        verified_emails: vec![EmailVerification { device_id: f.device.id, email: f.device.email.clone() }],
        ..completion(f)
    }
}

async fn a_failed_reissue_clears_no_counter_and_proves_no_address(s: Storage) {
    let f = fixture(&s).await;
    let now = t0() + Duration::minutes(5);
    let good = reissue(&s, &f).await;
    // The certificate's serial already recorded: the transaction fails at its last write.
    let old = s.certificates().insert(&good.certificates[0].certificate, t0()).await.unwrap();
    let mut failing = reissue(&s, &f).await;
    let serial = old.serial_hex.clone();
    failing.certificates[0].certificate.serial_hex = serial;
    let result = s.completions().complete(&failing, now).await;
    assert!(matches!(result, Err(RedeemError::Storage(StorageError::Conflict(_)))), "{result:?}");
    let u = s.users().get(f.user.id).await.unwrap();
    assert_eq!((u.failed_secret_answer_count, u.failed_password_count), (4, 4), "the counters are not cleared");
    assert_eq!(u.password_hash, None);
    let device = s.devices().get(f.device.id).await.unwrap();
    assert_eq!(device.email_verified_at, None, "the address is not proven");
    let ticket = s.tickets().get(f.ticket_id).await.unwrap();
    assert_eq!(ticket.uses_left, 1, "the link is still usable");
    let certs = s.certificates().list_for_device(f.device.id).await.unwrap();
    assert_eq!(certs.len(), 1);
    assert_eq!(certs[0].status, CertificateStatus::Active);

    // The link then completes, once, with everything.
    let good = Completion { certificates: reissue(&s, &f).await.certificates, ..good };
    s.completions().complete(&good, now).await.unwrap();
    let u = s.users().get(f.user.id).await.unwrap();
    assert_eq!((u.failed_secret_answer_count, u.failed_password_count), (0, 0));
    assert_eq!(u.password_hash.as_deref(), Some("$argon2id$password"));
    let device = s.devices().get(f.device.id).await.unwrap();
    assert_eq!(device.email_verified_at, Some(now));
    assert_eq!(s.tickets().get(f.ticket_id).await.unwrap().uses_left, 0);
    assert!(matches!(s.completions().complete(&reissue(&s, &f).await, now).await, Err(RedeemError::Spent)));
    let u = s.users().get(f.user.id).await.unwrap();
    assert_eq!((u.failed_secret_answer_count, u.failed_password_count), (2, 2), "a refused completion clears nothing");
}

async fn a_reissue_proves_only_the_address_the_device_still_has(s: Storage) {
    let f = fixture(&s).await;
    let now = t0() + Duration::minutes(5);
    let other = s
        .devices()
        .add_device(&NewDevice { user_id: f.user.id, device_type: f.device.device_type, email: "b@example.jp".into() }, 3, t0())
        .await
        .unwrap();
    // The address changed after the link was mailed to a@example.jp.
    s.devices().set_email(f.device.id, "new@example.jp").await.unwrap();
    let c = Completion {
        ticket_id: Some(f.ticket_id),
        user_id: f.user.id,
        reset_failed_secret_answers: true,
        verified_emails: vec![
            EmailVerification { device_id: f.device.id, email: "a@example.jp".into() },
            EmailVerification { device_id: other.id, email: "b@example.jp".into() },
        ],
        ..Completion::default()
    };
    s.completions().complete(&c, now).await.unwrap();
    let changed = s.devices().get(f.device.id).await.unwrap();
    assert_eq!(changed.email_verified_at, None, "the new address is unproven");
    let kept = s.devices().get(other.id).await.unwrap();
    assert_eq!(kept.email_verified_at, Some(now));
    assert_eq!(s.tickets().get(f.ticket_id).await.unwrap().uses_left, 0);
}
