//! Certificates from CSRs in the test context: the per-user limit on issuances, and one
//! key for one device.

use mamori_storage::model::{LoginMethod, TenantPolicy};

use super::{CsrOutcome, CsrRefusal, issue_for_device_csr};
use crate::test_context::TestContext;

fn csr() -> Vec<u8> {
    let key = rcgen::KeyPair::generate().expect("key");
    rcgen::CertificateParams::default().serialize_request(&key).expect("csr").der().to_vec()
}

#[tokio::test]
async fn a_user_gets_at_most_ten_certificates_from_csrs_an_hour() {
    let ctx = TestContext::new().await;
    // Short validity: the test CA lives one year, and the clock moves on.
    let tenant = ctx.tenant(TenantPolicy { certificate_validity_days: 30, ..TenantPolicy::default() }).await;
    let user = ctx.user(&tenant, "taro", LoginMethod::CertPassword, None).await;
    let _ = ctx.device_certificate(&user).await;
    let device = ctx.app.storage.devices().list_for_user(user.id, false).await.expect("devices").remove(0);
    let attempt = ctx.attempt(&tenant, &user);
    let issue = || async {
        let token = crate::secrets::url_token();
        issue_for_device_csr(&ctx.app, &tenant, &user, &device, csr(), &token, &attempt).await.expect("the flow runs")
    };
    for n in 1..=crate::throttle::CSR_ISSUANCES_PER_USER.max_failures {
        assert!(matches!(issue().await, CsrOutcome::Issued(_)), "issuance {n}");
    }
    let CsrOutcome::Throttled { retry_after_secs } = issue().await else { panic!("the eleventh within the hour is refused") };
    assert!(retry_after_secs > 0 && retry_after_secs <= 3600, "{retry_after_secs}");
    ctx.clock.advance(time::Duration::hours(1));
    assert!(matches!(issue().await, CsrOutcome::Issued(_)), "an hour later, again");
}

#[tokio::test]
async fn a_key_certified_for_one_device_is_refused_for_another_users_device() {
    let ctx = TestContext::new().await;
    let tenant = ctx.tenant(TenantPolicy { certificate_validity_days: 30, ..TenantPolicy::default() }).await;
    let (taro, hanako) = (
        ctx.user(&tenant, "taro", LoginMethod::CertPassword, None).await,
        ctx.user(&tenant, "hanako", LoginMethod::CertPassword, None).await,
    );
    let mut devices = Vec::new();
    for user in [&taro, &hanako] {
        let _ = ctx.device_certificate(user).await;
        devices.push(ctx.app.storage.devices().list_for_user(user.id, false).await.expect("devices").remove(0));
    }
    let key = rcgen::KeyPair::generate().expect("key");
    let request = rcgen::CertificateParams::default().serialize_request(&key).expect("csr").der().to_vec();
    assert!(matches!(issue_one(&ctx, &tenant, &taro, &devices[0], request.clone()).await, CsrOutcome::Issued(_)), "the key's own device");
    // Hostile: the same (public) CSR sent from another user's device.
    let replayed = issue_one(&ctx, &tenant, &hanako, &devices[1], request.clone()).await;
    assert!(matches!(replayed, CsrOutcome::Refused(CsrRefusal::KeyOfAnotherDevice)), "the replayed CSR was not refused for its key");
    // Honest twins: the same key again for its own device (a renewal), a new key elsewhere.
    assert!(matches!(issue_one(&ctx, &tenant, &taro, &devices[0], request).await, CsrOutcome::Issued(_)), "renewed on its device");
    assert!(matches!(issue_one(&ctx, &tenant, &hanako, &devices[1], csr()).await, CsrOutcome::Issued(_)), "another key");
}

async fn issue_one(
    ctx: &TestContext,
    tenant: &mamori_storage::model::Tenant,
    user: &mamori_storage::model::User,
    device: &mamori_storage::model::Device,
    csr: Vec<u8>,
) -> CsrOutcome {
    let attempt = ctx.attempt(tenant, user);
    let token = crate::secrets::url_token();
    issue_for_device_csr(&ctx.app, tenant, user, device, csr, &token, &attempt).await.expect("the flow runs")
}
