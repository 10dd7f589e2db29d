//! A login-method change as one completion: the method, the password, the authenticator
//! and the certificates of every device change together or not at all.

use mamori_storage::Storage;
use mamori_storage::model::{CertificateStatus, Completion, LoginMethod, NewDevice, PasswordChange};
use time::Duration;

use crate::completion::{completion, fixture};
use crate::harness::t0;

on_both!(leaving_certificates_revokes_all_of_them_with_the_method_change, a_failed_method_change_keeps_the_old_method_and_issues_nothing);

async fn leaving_certificates_revokes_all_of_them_with_the_method_change(s: Storage) {
    let f = fixture(&s).await;
    let now = t0() + Duration::minutes(5);
    // The user has a certificate, its download still pending, and an authenticator.
    let issued = Completion { ticket_id: None, password: None, secret_answer: None, ..completion(&f) };
    s.completions().complete(&issued, t0()).await.unwrap();
    s.users().set_totp_secret(f.user.id, Some(&[1, 2, 3]), t0()).await.unwrap();

    let change = Completion {
        user_id: f.user.id,
        login_method: Some(LoginMethod::Password),
        password: Some(PasswordChange { hash: "$argon2id$new".into(), must_change: false, keep: 3 }),
        clear_totp: true,
        revoke_certificates: Some("cessationOfOperation".into()),
        ..Completion::default()
    };
    s.completions().complete(&change, now).await.unwrap();

    let u = s.users().get(f.user.id).await.unwrap();
    assert_eq!(u.login_method, LoginMethod::Password);
    assert_eq!(u.password_hash.as_deref(), Some("$argon2id$new"));
    assert_eq!(u.totp_secret_sealed, None, "the authenticator is forgotten");
    let certs = s.certificates().list_for_device(f.device.id).await.unwrap();
    assert_eq!(certs.len(), 1);
    assert_eq!(certs[0].status, CertificateStatus::Revoked);
    assert_eq!(certs[0].revocation_reason.as_deref(), Some("cessationOfOperation"));
    let acquisition_id = issued.certificates[0].download.as_ref().unwrap().acquisition_id.clone().unwrap();
    let download = s.tickets().find_by_acquisition_id(&acquisition_id).await.unwrap().unwrap();
    assert_eq!(download.uses_left, 0, "the pending download is void");
}

async fn a_failed_method_change_keeps_the_old_method_and_issues_nothing(s: Storage) {
    let f = fixture(&s).await;
    let now = t0() + Duration::minutes(5);
    s.users().set_login_method(f.user.id, LoginMethod::Password, t0()).await.unwrap();
    let second = s
        .devices()
        .add_device(&NewDevice { user_id: f.user.id, device_type: f.device.device_type, email: "b@example.jp".into() }, 3, t0())
        .await
        .unwrap();
    // One certificate per device; the second one's serial is already taken, so the
    // transaction fails at its very last write.
    let first = completion(&f).certificates.remove(0);
    let mut other = completion(&f).certificates.remove(0);
    other.device_id = second.id;
    other.certificate.device_id = Some(second.id);
    other.download.as_mut().unwrap().device_id = Some(second.id);
    let taken = s.certificates().insert(&completion(&f).certificates[0].certificate, t0()).await.unwrap();
    let mut clashing = other.clone();
    clashing.certificate.serial_hex = taken.serial_hex.clone();
    let change = |certificates| Completion {
        user_id: f.user.id,
        login_method: Some(LoginMethod::CertPassword),
        certificates,
        ..Completion::default()
    };

    assert!(s.completions().complete(&change(vec![first.clone(), clashing]), now).await.is_err());
    let u = s.users().get(f.user.id).await.unwrap();
    assert_eq!(u.login_method, LoginMethod::Password, "the method is unchanged");
    assert!(
        s.certificates().find_by_serial(&first.certificate.serial_hex).await.unwrap().is_none(),
        "no certificate for the first device either"
    );

    s.completions().complete(&change(vec![first, other]), now).await.unwrap();
    assert_eq!(s.users().get(f.user.id).await.unwrap().login_method, LoginMethod::CertPassword);
    for device in [f.device.id, second.id] {
        let certs = s.certificates().list_for_device(device).await.unwrap();
        assert!(certs.iter().any(|c| c.status == CertificateStatus::Active), "device {device} has its certificate");
    }
}
