//! The certificate check of a login (`flows::client_certificate::check`) in the test
//! context, against a CA of its own: the honest certificate beside each way a presented
//! certificate can be wrong — none, not a certificate, another CA's, ours but never
//! recorded, revoked, its device deleted, not yet or no longer valid, its user disabled.

use mamori_ca::{CaSubject, KeyAlgorithm, RevocationReason};
use mamori_storage::model::{Device, DeviceType, LoginMethod, NewDevice, TenantPolicy, User, UserStatus};
use time::{Duration, OffsetDateTime};

use super::client_certificate::{CertificateCheck, CertificateRefusal, check};
use crate::pki::{CaSource, CertificateOwner};
use crate::test_context::TestContext;

struct Fixture {
    ctx: TestContext,
    user: User,
    device: Device,
}

async fn fixture() -> Fixture {
    let ctx = TestContext::new().await;
    let source = CaSource::Create {
        subject: CaSubject { common_name: "Test Root CA".into(), organization: None },
        key: KeyAlgorithm::EcP256,
        years: 1,
        intermediate: false,
    };
    ctx.app.ca.init(source, false, ctx.app.now()).await.expect("a CA");
    let tenant = ctx.tenant(TenantPolicy::default()).await;
    let user = ctx.user(&tenant, "hanako", LoginMethod::CertPassword, Some("Right-Password1")).await;
    let new = NewDevice { user_id: user.id, device_type: DeviceType::Pc, email: "hanako@example.com".into() };
    let device = ctx.app.storage.devices().add_device(&new, 5, ctx.app.now()).await.expect("a device");
    Fixture { ctx, user, device }
}

impl Fixture {
    /// A certificate of the fixture's device, valid from `from` for `days`, recorded.
    async fn certificate(&self, from: OffsetDateTime, days: i64) -> (Vec<u8>, String) {
        let owner = CertificateOwner { user_id: Some(self.user.id), device_id: Some(self.device.id) };
        let issued = self
            .ctx
            .app
            .ca
            .issue_device_certificate(owner, "hanako".into(), None, KeyAlgorithm::EcP256, from, from + Duration::days(days))
            .await
            .expect("issued");
        (issued.certificate_der, issued.serial_hex)
    }

    async fn check(&self, leaf: Option<&[u8]>, at: OffsetDateTime) -> CertificateCheck {
        check(&self.ctx.app, leaf, at).await.expect("the check runs")
    }
}

fn refusal(check: &CertificateCheck) -> Option<(CertificateRefusal, bool)> {
    match check {
        CertificateCheck::Accepted(_) => None,
        CertificateCheck::Refused { refusal, user } => Some((*refusal, user.is_some())),
    }
}

#[tokio::test]
async fn the_device_certificate_names_its_user_and_device() {
    let f = fixture().await;
    let now = f.ctx.app.now();
    let (leaf, serial) = f.certificate(now - Duration::minutes(1), 30).await;
    let CertificateCheck::Accepted(certified) = f.check(Some(&leaf), now).await else { panic!("refused") };
    assert_eq!((certified.user.id, certified.tenant.id), (f.user.id, f.user.tenant_id));
    assert_eq!(certified.device.map(|d| d.id), Some(f.device.id));
    assert_eq!(certified.certificate.serial_hex, serial);
}

#[tokio::test]
async fn no_certificate_or_one_that_is_not_ours_names_nobody() {
    let f = fixture().await;
    let now = f.ctx.app.now();
    assert_eq!(refusal(&f.check(None, now).await), Some((CertificateRefusal::Missing, false)));
    assert_eq!(refusal(&f.check(Some(b"not a certificate"), now).await), Some((CertificateRefusal::ForeignCa, false)));
    // A certificate of another CA with the same subject as ours.
    let other = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(vec!["hanako".into()]).expect("params");
    params.distinguished_name.push(rcgen::DnType::CommonName, "hanako");
    let foreign = params.self_signed(&other).expect("self-signed");
    assert_eq!(refusal(&f.check(Some(foreign.der().as_ref()), now).await), Some((CertificateRefusal::ForeignCa, false)));
    // Signed by our CA but never recorded (as if the record were lost or forged around).
    let owner = CertificateOwner { user_id: Some(f.user.id), device_id: Some(f.device.id) };
    let (unrecorded, _) = f
        .ctx
        .app
        .ca
        .sign_device_certificate(owner, "hanako".into(), None, KeyAlgorithm::EcP256, now, now + Duration::days(1))
        .await
        .expect("signed");
    assert_eq!(refusal(&f.check(Some(&unrecorded.certificate_der), now).await), Some((CertificateRefusal::Unknown, false)));
}

#[tokio::test]
async fn a_certificate_is_good_only_inside_its_validity() {
    let f = fixture().await;
    let now = f.ctx.app.now();
    let (leaf, _) = f.certificate(now + Duration::hours(1), 1).await;
    assert_eq!(refusal(&f.check(Some(&leaf), now).await), Some((CertificateRefusal::NotYetValid, true)));
    assert!(refusal(&f.check(Some(&leaf), now + Duration::hours(2)).await).is_none());
    assert!(refusal(&f.check(Some(&leaf), now + Duration::hours(25)).await).is_none(), "the last second still counts");
    assert_eq!(
        refusal(&f.check(Some(&leaf), now + Duration::hours(25) + Duration::seconds(1)).await),
        Some((CertificateRefusal::Expired, true))
    );
}

#[tokio::test]
async fn revocation_deletion_and_disablement_refuse_the_certificate_at_once() {
    let f = fixture().await;
    let now = f.ctx.app.now();
    let (leaf, serial) = f.certificate(now - Duration::minutes(1), 30).await;
    f.ctx.app.storage.users().set_status(f.user.id, UserStatus::Disabled, now).await.expect("disabled");
    assert_eq!(refusal(&f.check(Some(&leaf), now).await), Some((CertificateRefusal::UserDisabled, true)));
    f.ctx.app.storage.users().set_status(f.user.id, UserStatus::Active, now).await.expect("enabled");
    assert!(refusal(&f.check(Some(&leaf), now).await).is_none(), "enabled again");
    f.ctx.app.ca.revoke(&serial, RevocationReason::KeyCompromise, now).await.expect("revoked");
    assert_eq!(refusal(&f.check(Some(&leaf), now).await), Some((CertificateRefusal::Revoked, true)));
    // A deleted device says so, though its certificate is revoked too.
    f.ctx.app.storage.devices().delete(f.device.id, now).await.expect("deleted");
    assert_eq!(refusal(&f.check(Some(&leaf), now).await), Some((CertificateRefusal::DeviceDeleted, true)));
}

#[tokio::test]
async fn a_password_lock_past_its_timed_release_is_lifted_by_the_certificate_step() {
    let f = fixture().await;
    let now = f.ctx.app.now();
    let policy = TenantPolicy { lockout_threshold_password: 1, lockout_release_minutes: 30, ..TenantPolicy::default() };
    f.ctx.app.storage.tenants().update_policy(f.user.tenant_id, &policy).await.expect("policy");
    f.ctx.app.storage.users().record_failed_password(f.user.id, 1, now).await.expect("locked");
    let (leaf, _) = f.certificate(now - Duration::minutes(1), 30).await;
    let CertificateCheck::Accepted(locked) = f.check(Some(&leaf), now + Duration::minutes(29)).await else { panic!("refused") };
    assert!(locked.user.is_locked(), "still locked before the release");
    let CertificateCheck::Accepted(released) = f.check(Some(&leaf), now + Duration::minutes(30)).await else { panic!("refused") };
    assert!(!released.user.is_locked(), "released at the policy's time");
}

/// Renewal (issue 21): the certificate a renewal replaced keeps working until a login
/// with the new one completes; presenting the new one at the certificate step alone
/// retires nothing (an outside review's finding).
#[tokio::test]
async fn a_renewed_certificate_retires_the_old_one_when_its_login_completes() {
    let f = fixture().await;
    let now = f.ctx.app.now();
    let (old, _) = f.certificate(now - Duration::days(10), 365).await;
    let (new, new_serial) = f.certificate(now - Duration::days(1), 365).await;
    assert_eq!(refusal(&f.check(Some(&old), now).await), None, "still usable: the new one is unused");
    assert_eq!(refusal(&f.check(Some(&new), now).await), None);
    assert_eq!(refusal(&f.check(Some(&old), now).await), None, "presented is not used: the old one still works");
    let record = f.ctx.app.storage.certificates().find_by_serial(&new_serial).await.expect("read").expect("recorded");
    crate::flows::account::retire_renewed(&f.ctx.app, &record, now).await.expect("retired");
    assert_eq!(refusal(&f.check(Some(&old), now).await), Some((CertificateRefusal::Revoked, true)), "retired by the new one's login");
    assert_eq!(refusal(&f.check(Some(&new), now).await), None, "the new one goes on");
}

/// Unused, the renewal's new certificate retires the old one when the grace period
/// (the policy's `renewal_grace_days`, 14 by default) after the renewal is over.
#[tokio::test]
async fn an_old_certificate_stops_when_the_renewal_grace_period_ends() {
    let f = fixture().await;
    let now = f.ctx.app.now();
    let (old, _) = f.certificate(now - Duration::days(10), 365).await;
    let (_new, _) = f.certificate(now - Duration::days(1), 365).await;
    let grace = Duration::days(i64::from(TenantPolicy::default().renewal_grace_days));
    let last_day = now - Duration::days(1) + grace - Duration::minutes(1);
    assert_eq!(refusal(&f.check(Some(&old), last_day).await), None, "within the grace period");
    let over = now - Duration::days(1) + grace;
    assert_eq!(refusal(&f.check(Some(&old), over).await), Some((CertificateRefusal::Revoked, true)));
    assert_eq!(refusal(&f.check(Some(&old), now).await), Some((CertificateRefusal::Revoked, true)), "revoked for good");
}

/// The server's sweep revokes what a renewal replaced once the grace period is over,
/// presented or not, so that the CRL and OCSP say so.
#[tokio::test]
async fn the_sweep_retires_renewed_certificates_after_the_grace_period() {
    let f = fixture().await;
    let now = f.ctx.app.now();
    let (old, _) = f.certificate(now - Duration::days(20), 365).await;
    let (new, _) = f.certificate(now - Duration::days(15), 365).await;
    let app = &f.ctx.app;
    let retire = |at| crate::flows::account::retire_renewed_certificates(app, at);
    assert_eq!(retire(now - Duration::days(2)).await.expect("sweep"), 0, "within the grace period");
    assert_eq!(retire(now).await.expect("sweep"), 1, "over: the old one");
    assert_eq!(retire(now).await.expect("sweep"), 0, "once");
    assert_eq!(refusal(&f.check(Some(&old), now).await), Some((CertificateRefusal::Revoked, true)));
    assert_eq!(refusal(&f.check(Some(&new), now).await), None);
}
