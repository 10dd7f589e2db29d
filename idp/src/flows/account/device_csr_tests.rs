//! Certificates from CSRs in the test context: the per-user limit on issuances.

use mamori_storage::model::{LoginMethod, TenantPolicy};

use super::{CsrOutcome, issue_for_device_csr};
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
