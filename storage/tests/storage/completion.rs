//! Completing a flow in one transaction: a failure half-way leaves the ticket usable and
//! nothing recorded; of concurrent completions of one ticket exactly one commits.

use mamori_storage::model::{
    CertificateAuthority, CertificateDownload, CertificateStatus, Completion, Device, DeviceType, NewCertificate, NewCertificateAuthority,
    NewDevice, NewTicket, PasswordChange, RENEWAL_PENDING, RedeemError, SecretAnswerChange, Tenant, TicketKind, User,
};
use mamori_storage::{Storage, StorageError, token_lookup_hash};
use time::Duration;

use crate::harness::{t0, tenant, unique, user};

on_both!(
    a_failed_completion_leaves_the_ticket_usable_and_nothing_recorded,
    concurrent_completions_record_one_certificate,
    a_certificate_without_a_download_supersedes_like_any_other,
    a_renewal_keeps_the_old_certificate_until_it_is_retired,
    renewed_certificates_are_retired_when_the_grace_period_is_over,
    concurrent_renewals_record_one_certificate
);

pub(crate) struct Fixture {
    pub(crate) ca: CertificateAuthority,
    pub(crate) tenant: Tenant,
    pub(crate) user: User,
    pub(crate) device: Device,
    /// The user's enrollment ticket, single use.
    pub(crate) ticket_id: uuid::Uuid,
}

pub(crate) async fn fixture(s: &Storage) -> Fixture {
    let ca = s
        .certificate_authorities()
        .insert_and_activate(
            &NewCertificateAuthority {
                name: "Mamori CA".into(),
                certificate_pem: "-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n".into(),
                chain_pem: vec![],
                sealed_private_key: vec![9, 9, 9],
                key_algorithm: "p256".into(),
                fingerprint_sha256: unique("CA"),
            },
            t0(),
        )
        .await
        .unwrap();
    let tenant = tenant(s).await;
    let user = user(s, &tenant).await;
    let new_device = NewDevice { user_id: user.id, device_type: DeviceType::Pc, email: "a@example.jp".into() };
    let device = s.devices().add_device(&new_device, 3, t0()).await.unwrap();
    let enrollment = ticket(&tenant, &user, TicketKind::Enrollment, None);
    let ticket_id = s.tickets().create(&enrollment, t0()).await.unwrap().id;
    Fixture { ca, tenant, user, device, ticket_id }
}

fn ticket(t: &Tenant, u: &User, kind: TicketKind, acquisition_id: Option<&str>) -> NewTicket {
    NewTicket {
        kind,
        tenant_id: t.id,
        user_id: u.id,
        device_id: None,
        lookup_hash: token_lookup_hash(&unique("token")),
        secret_hash: Some("$argon2id$secret".into()),
        acquisition_id: acquisition_id.map(str::to_owned),
        payload_sealed: acquisition_id.map(|_| vec![1, 2, 3]),
        expires_at: t0() + Duration::hours(72),
        attempts: 5,
        uses: 1,
    }
}

/// An enrollment completion as the flow prepares it, with a fresh serial and acquisition ID.
pub(crate) fn completion(f: &Fixture) -> Completion {
    let mut download = ticket(&f.tenant, &f.user, TicketKind::Download, Some(&unique("C0")));
    download.device_id = Some(f.device.id);
    Completion {
        ticket_id: Some(f.ticket_id),
        user_id: f.user.id,
        password: Some(PasswordChange { hash: "$argon2id$password".into(), must_change: false, keep: 3 }),
        secret_answer: Some(SecretAnswerChange { question: "q1".into(), answer_hash: "$argon2id$answer".into() }),
        certificates: vec![CertificateDownload {
            device_id: f.device.id,
            certificate: NewCertificate {
                public_key_sha256: None,
                ca_id: f.ca.id,
                user_id: Some(f.user.id),
                device_id: Some(f.device.id),
                serial_hex: unique("0a1b"),
                fingerprint_sha256: unique("ff"),
                subject_cn: "p-01-usr012 #1".into(),
                not_before: t0(),
                not_after: t0() + Duration::days(365),
            },
            supersede_reason: Some("superseded".into()),
            renews: None,
            download: Some(download),
        }],
        ..Completion::default()
    }
}

fn record(c: &Completion) -> &CertificateDownload {
    &c.certificates[0]
}

async fn a_failed_completion_leaves_the_ticket_usable_and_nothing_recorded(s: Storage) {
    let f = fixture(&s).await;
    let now = t0() + Duration::minutes(5);
    // What was there before: an active certificate of the device and its pending download.
    let earlier = completion(&f);
    let old_cert = s.certificates().insert(&record(&earlier).certificate, t0()).await.unwrap();
    let old_download = s.tickets().create(record(&earlier).download.as_ref().unwrap(), t0()).await.unwrap();

    // Two ways the transaction can fail at its last writes: the certificate's serial or
    // the download's acquisition ID already recorded (a unique violation in the database).
    let mut clashing_serial = completion(&f);
    let serial = old_cert.serial_hex.clone();
    clashing_serial.certificates[0].certificate.serial_hex = serial;
    let mut clashing_download = completion(&f);
    let taken = old_download.acquisition_id.clone();
    clashing_download.certificates[0].download.as_mut().unwrap().acquisition_id = taken;
    for failing in [clashing_serial, clashing_download] {
        let result = s.completions().complete(&failing, now).await;
        assert!(matches!(result, Err(RedeemError::Storage(StorageError::Conflict(_)))), "{result:?}");

        let ticket = s.tickets().get(f.ticket_id).await.unwrap();
        assert_eq!((ticket.uses_left, ticket.last_used_at), (1, None), "the ticket is still usable");
        let u = s.users().get(f.user.id).await.unwrap();
        assert_eq!((u.password_hash, u.secret_question, u.secret_answer_hash), (None, None, None));
        assert!(s.users().recent_password_hashes(f.user.id, 5).await.unwrap().is_empty());
        let certs = s.certificates().list_for_device(f.device.id).await.unwrap();
        assert_eq!(certs.len(), 1, "no certificate recorded: {certs:?}");
        assert_eq!(certs[0].status, CertificateStatus::Active, "the old certificate is not revoked");
        let pending = s.tickets().get(old_download.id).await.unwrap();
        assert_eq!(pending.uses_left, 1, "the pending download is not voided");
    }

    // The same ticket then completes, once.
    let good = completion(&f);
    s.completions().complete(&good, now).await.unwrap();
    assert_eq!(s.tickets().get(f.ticket_id).await.unwrap().uses_left, 0);
    let u = s.users().get(f.user.id).await.unwrap();
    assert_eq!(u.password_hash.as_deref(), Some("$argon2id$password"));
    assert_eq!(u.secret_question.as_deref(), Some("q1"));
    assert_eq!(u.secret_answer_hash.as_deref(), Some("$argon2id$answer"));
    assert_eq!(s.users().recent_password_hashes(f.user.id, 5).await.unwrap(), ["$argon2id$password"]);
    let new_cert = s.certificates().find_by_serial(&record(&good).certificate.serial_hex).await.unwrap().unwrap();
    assert_eq!(new_cert.status, CertificateStatus::Active);
    let old = s.certificates().get(old_cert.id).await.unwrap();
    assert_eq!((old.status, old.revocation_reason.as_deref()), (CertificateStatus::Revoked, Some("superseded")));
    assert_eq!(s.tickets().get(old_download.id).await.unwrap().uses_left, 0, "the older download is voided");
    let acquisition_id = record(&good).download.as_ref().unwrap().acquisition_id.clone().unwrap();
    let download = s.tickets().find_by_acquisition_id(&acquisition_id).await.unwrap().unwrap();
    assert_eq!((download.kind, download.device_id, download.uses_left), (TicketKind::Download, Some(f.device.id), 1));

    // A second submit is refused and records nothing.
    let again = completion(&f);
    assert!(matches!(s.completions().complete(&again, now).await, Err(RedeemError::Spent)));
    assert_eq!(s.certificates().find_by_serial(&record(&again).certificate.serial_hex).await.unwrap(), None);
    assert_eq!(s.certificates().list_for_device(f.device.id).await.unwrap().len(), 2);
}

/// A certificate for the device's own key (CSR) comes with no download: recording it
/// still revokes the device's certificate and voids its pending download.
async fn a_certificate_without_a_download_supersedes_like_any_other(s: Storage) {
    let f = fixture(&s).await;
    let earlier = completion(&f);
    let old_cert = s.certificates().insert(&record(&earlier).certificate, t0()).await.unwrap();
    let old_download = s.tickets().create(record(&earlier).download.as_ref().unwrap(), t0()).await.unwrap();
    let mut from_csr = completion(&f);
    from_csr.ticket_id = None;
    from_csr.password = None;
    from_csr.secret_answer = None;
    from_csr.certificates[0].download = None;
    s.completions().complete(&from_csr, t0() + Duration::minutes(1)).await.unwrap();
    let new_cert = s.certificates().find_by_serial(&record(&from_csr).certificate.serial_hex).await.unwrap().unwrap();
    assert_eq!(new_cert.status, CertificateStatus::Active);
    assert_eq!(s.certificates().get(old_cert.id).await.unwrap().status, CertificateStatus::Revoked);
    assert_eq!(s.tickets().get(old_download.id).await.unwrap().uses_left, 0, "the pending download is void");
    assert!(
        s.tickets()
            .list_pending_for_user(f.user.id, t0() + Duration::minutes(2))
            .await
            .unwrap()
            .iter()
            .all(|t| t.kind != TicketKind::Download)
    );
}

/// A renewal (no supersede reason) records the new certificate and leaves the old one
/// active; `revoke_older_for_device` later retires exactly the older ones.
async fn a_renewal_keeps_the_old_certificate_until_it_is_retired(s: Storage) {
    let f = fixture(&s).await;
    let earlier = completion(&f);
    let old_cert = s.certificates().insert(&record(&earlier).certificate, t0()).await.unwrap();
    let mut renewal = completion(&f);
    renewal.ticket_id = None;
    renewal.password = None;
    renewal.secret_answer = None;
    renewal.certificates[0].supersede_reason = None;
    let renewed_at = t0() + Duration::days(1);
    s.completions().complete(&renewal, renewed_at).await.unwrap();
    let new_cert = s.certificates().find_by_serial(&record(&renewal).certificate.serial_hex).await.unwrap().unwrap();
    assert_eq!(s.certificates().get(old_cert.id).await.unwrap().status, CertificateStatus::Active, "the old one still works");
    // Nothing is older than the old one; the new one's use retires the old one only.
    assert!(s.certificates().revoke_older_for_device(f.device.id, old_cert.created_at, "superseded", renewed_at).await.unwrap().is_empty());
    let revoked = s.certificates().revoke_older_for_device(f.device.id, new_cert.created_at, "superseded", renewed_at).await.unwrap();
    assert_eq!(revoked.iter().map(|c| c.id).collect::<Vec<_>>(), vec![old_cert.id]);
    assert_eq!(s.certificates().get(new_cert.id).await.unwrap().status, CertificateStatus::Active);
}

/// The periodic sweep: an old certificate goes once its renewal is older than the
/// cut-off, and only when the renewal's certificate is still active.
async fn renewed_certificates_are_retired_when_the_grace_period_is_over(s: Storage) {
    let f = fixture(&s).await;
    let old = s.certificates().insert(&record(&completion(&f)).certificate, t0()).await.unwrap();
    let renewed_at = t0() + Duration::days(1);
    let new = s.certificates().insert(&record(&completion(&f)).certificate, renewed_at).await.unwrap();
    let certificates = s.certificates();
    let sweep = |cutoff| certificates.revoke_renewed_before(cutoff, "superseded", renewed_at + Duration::days(30));
    assert!(sweep(renewed_at - Duration::minutes(1)).await.unwrap().is_empty(), "the renewal is younger than the cut-off");
    let revoked = sweep(renewed_at).await.unwrap();
    assert_eq!(revoked.iter().map(|c| c.id).collect::<Vec<_>>(), vec![old.id], "the old one, not the new one");
    assert_eq!(s.certificates().get(new.id).await.unwrap().status, CertificateStatus::Active);
    assert!(sweep(renewed_at + Duration::days(100)).await.unwrap().is_empty(), "the newest certificate of a device stays");
    // A renewal whose certificate was revoked meanwhile retires nothing.
    let third = s.certificates().insert(&record(&completion(&f)).certificate, renewed_at + Duration::days(2)).await.unwrap();
    s.certificates().revoke(&third.serial_hex, "key_compromise", renewed_at + Duration::days(3)).await.unwrap();
    assert!(sweep(renewed_at + Duration::days(100)).await.unwrap().is_empty());
    assert_eq!(s.certificates().get(new.id).await.unwrap().status, CertificateStatus::Active);
}

async fn concurrent_completions_record_one_certificate(s: Storage) {
    let f = fixture(&s).await;
    let now = t0() + Duration::minutes(5);
    let attempts: Vec<Completion> = (0..6).map(|_| completion(&f)).collect();
    let mut tasks = Vec::new();
    for c in attempts.clone() {
        let s = s.clone();
        tasks.push(tokio::spawn(async move { s.completions().complete(&c, now).await }));
    }
    let mut won = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        match task.await.unwrap() {
            Ok(()) => won.push(i),
            Err(RedeemError::Spent) => {}
            Err(other) => panic!("completion {i}: {other:?}"),
        }
    }
    assert_eq!(won.len(), 1, "exactly one completion commits: {won:?}");
    let certs = s.certificates().list_for_device(f.device.id).await.unwrap();
    assert_eq!(certs.len(), 1, "{certs:?}");
    let winner = record(&attempts[won[0]]);
    let recorded = s.certificates().find_by_serial(&winner.certificate.serial_hex).await.unwrap();
    assert_eq!(recorded.map(|c| c.id), Some(certs[0].id), "the recorded certificate is the winner's");
    let pending = s.tickets().list_pending_for_user(f.user.id, now).await.unwrap();
    assert_eq!(pending.len(), 1, "one download, the winner's");
    assert_eq!(pending[0].acquisition_id, winner.download.as_ref().unwrap().acquisition_id);
}

/// Renewals of one certificate sent at once (a double click, a script): one records its
/// certificate, the others find it and record nothing (an outside review saw four live
/// renewals); once the renewed certificate is gone, no renewal of it is recorded either.
async fn concurrent_renewals_record_one_certificate(s: Storage) {
    let f = fixture(&s).await;
    let in_use = s.certificates().insert(&record(&completion(&f)).certificate, t0()).await.unwrap();
    let renewal = |serial: &str| {
        let mut c = completion(&f);
        c.ticket_id = None;
        c.password = None;
        c.secret_answer = None;
        c.certificates[0].supersede_reason = None;
        c.certificates[0].renews = Some(serial.to_owned());
        c
    };
    let now = t0() + Duration::days(1);
    let attempts: Vec<Completion> = (0..6).map(|_| renewal(&in_use.serial_hex)).collect();
    let mut tasks = Vec::new();
    for c in attempts.clone() {
        let s = s.clone();
        tasks.push(tokio::spawn(async move { s.completions().complete(&c, now).await }));
    }
    let mut won = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        match task.await.unwrap() {
            Ok(()) => won.push(i),
            Err(RedeemError::Storage(StorageError::Conflict(RENEWAL_PENDING))) => {}
            Err(other) => panic!("renewal {i}: {other:?}"),
        }
    }
    assert_eq!(won.len(), 1, "exactly one renewal commits: {won:?}");
    let active: Vec<_> = s
        .certificates()
        .list_for_device(f.device.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.status == CertificateStatus::Active)
        .collect();
    assert_eq!(active.len(), 2, "the one in use and one renewal: {active:?}");
    let pending = s.tickets().list_pending_for_user(f.user.id, now).await.unwrap();
    let downloads = pending.iter().filter(|t| t.kind == TicketKind::Download).count();
    assert_eq!(downloads, 1, "one download, the winner's");

    // The renewed certificate revoked meanwhile (by an operator, say): a renewal of it
    // records nothing; one of the certificate now in use does.
    let winner = record(&attempts[won[0]]).certificate.serial_hex.clone();
    s.certificates().revoke(&in_use.serial_hex, "superseded", now).await.unwrap();
    let late = renewal(&in_use.serial_hex);
    assert!(matches!(s.completions().complete(&late, now).await, Err(RedeemError::Storage(StorageError::Conflict(RENEWAL_PENDING)))));
    assert_eq!(s.certificates().find_by_serial(&record(&late).certificate.serial_hex).await.unwrap(), None);
    s.completions().complete(&renewal(&winner), now).await.unwrap();
}
