//! Keys made on the device (issue 21): a device's certificate issued for the public key
//! of a PKCS#10 request (RFC 2986) that the user made on their own machine, so the
//! private key never leaves it. The request goes through the CA's one screened parser;
//! the certificate is Mamori's own (subject, SAN, extensions) and is recorded like a
//! server-made one: it supersedes the device's previous certificate and pending download
//! in one transaction. One certificate per submitted form: the form's one-time token is
//! taken before anything is signed, so a resubmission issues nothing.

use mamori_ca::{CaError, CsrKeyPolicy, CsrProblem, IgnoredRequest, RevocationReason};
use mamori_storage::model::{CertificateDownload, Completion, Device, Tenant, User};
use time::OffsetDateTime;

use super::notices::{AccountChange, notify, record_change};
use crate::app::App;
use crate::flows::device_certificate::certificate_name;
use crate::flows::events::Attempt;
use crate::pki::{CertificateOwner, PkiError};

/// The form whose submissions are remembered (see `FormSubmissions`).
pub const CSR_FORM_PURPOSE: &str = "device-csr";

/// How long a form's token is remembered: longer than any session may last, so the
/// same form cannot be submitted twice while it can be submitted at all.
const SUBMISSION_MEMORY: time::Duration = time::Duration::days(2);

/// The keys accepted from devices: RSA from the tenant policy's `csr_min_rsa_bits` up
/// (never below 2048, 112-bit strength; the policy refuses less), and P-256 / P-384
/// whatever it says. Ed25519 is refused: browsers and OS key stores cannot present it
/// for TLS client authentication, so its certificate would never log in.
pub fn csr_key_policy(tenant: &Tenant) -> CsrKeyPolicy {
    let min_rsa_bits = usize::try_from(tenant.policy.csr_min_rsa_bits).unwrap_or(usize::MAX);
    CsrKeyPolicy { min_rsa_bits: min_rsa_bits.max(2048), allow_ed25519: false }
}

/// Why a request was refused, for the page to name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsrRefusal {
    /// Nothing pasted, nothing uploaded.
    Missing,
    /// Both pasted and uploaded, which may differ: the user says which one.
    Both,
    /// The upload or the pasted text is larger than [`mamori_ca::MAX_CSR_BYTES`].
    TooLarge,
    Problem(CsrProblem),
    /// The self-signature does not verify (altered, or not signed with its own key).
    Signature,
    /// A certificate for this very key was revoked because the key was compromised.
    CompromisedKey,
    /// This key is already certified for another device (perhaps another user's: a CSR
    /// is not secret, and certifying its key again would give its holder two accounts).
    KeyOfAnotherDevice,
}

/// A certificate issued for a device's own key.
#[derive(Debug, Clone)]
pub struct CsrCertificate {
    pub certificate_pem: String,
    /// The certificate followed by the issuing CA and those above it.
    pub chain_pem: String,
    pub certificate_name: String,
    pub serial_hex: String,
    pub not_after: OffsetDateTime,
    pub key_description: String,
    pub ignored: Vec<IgnoredRequest>,
}

pub enum CsrOutcome {
    Issued(Box<CsrCertificate>),
    Refused(CsrRefusal),
    /// This form was submitted before: nothing issued now.
    AlreadySubmitted,
    /// The user's login method uses no certificate.
    NoCertificateMethod,
    /// The device has no certificate that logs in now (revoked or expired) and the tenant
    /// does not let users reissue for themselves: the operator decides, as for a reissue.
    NoLiveCertificate,
    /// The user issued [`crate::throttle::CSR_ISSUANCES_PER_USER`] already: try later.
    Throttled {
        retry_after_secs: u64,
    },
}

/// Screens `csr` and, when it passes and the form's token is fresh, issues and records
/// the device's certificate, then tells the user by mail.
#[allow(clippy::too_many_arguments)]
pub async fn issue_for_device_csr(
    app: &App,
    tenant: &Tenant,
    user: &User,
    device: &Device,
    csr: Vec<u8>,
    submission_token: &str,
    attempt: &Attempt<'_>,
) -> anyhow::Result<CsrOutcome> {
    if !user.login_method.needs_certificate() {
        return Ok(CsrOutcome::NoCertificateMethod);
    }
    // A request replaces a working certificate, like a renewal; a device whose
    // certificate was revoked (by an operator, perhaps for a stolen key) or has expired
    // gets a new one the way a reissue does, only where the tenant lets users do that.
    let now = app.now();
    let live = app.storage.certificates().list_for_device(device.id).await?.iter().any(|c| c.is_usable_at(now));
    if !live && !tenant.policy.user_certificate_reissue_enabled {
        return Ok(CsrOutcome::NoLiveCertificate);
    }
    // Every node counts in the shared store, so the limit holds across a cluster.
    let issuances = [crate::throttle::Subject::csr_issuances(user.id)];
    match crate::throttle::check(app, &issuances).await {
        Ok(()) => {}
        Err(crate::throttle::ThrottleError::Throttled(t)) => return Ok(CsrOutcome::Throttled { retry_after_secs: t.retry_after_secs }),
        Err(crate::throttle::ThrottleError::Storage(err)) => return Err(err.into()),
    }
    // Screened before the token is taken: a refused request can be fixed and sent again
    // from the same form.
    let checked = match app.ca.check_csr(csr, csr_key_policy(tenant)).await {
        Ok(checked) => checked,
        Err(PkiError::Ca(CaError::InvalidCsr(problem))) => return Ok(CsrOutcome::Refused(CsrRefusal::Problem(problem))),
        Err(PkiError::Ca(CaError::CsrSignature)) => return Ok(CsrOutcome::Refused(CsrRefusal::Signature)),
        Err(err) => return Err(err.into()),
    };
    // A key once revoked as compromised stays so, whoever asks and on whichever device.
    if app.storage.certificates().key_revoked_as_compromised(&checked.public_key_sha256_hex()).await? {
        return Ok(CsrOutcome::Refused(CsrRefusal::CompromisedKey));
    }
    if app.storage.certificates().key_certified_elsewhere(&checked.public_key_sha256_hex(), device.id).await? {
        return Ok(CsrOutcome::Refused(CsrRefusal::KeyOfAnotherDevice));
    }
    let fresh = crate::secrets::is_url_token(submission_token)
        && app.shared.form_submissions().first_use(tenant.id, CSR_FORM_PURPOSE, submission_token, now + SUBMISSION_MEMORY, now).await?;
    if !fresh {
        return Ok(CsrOutcome::AlreadySubmitted);
    }
    let name = certificate_name(tenant, user, device);
    let not_after = app.ca.device_not_after(&tenant.policy, now).await?;
    let owner = CertificateOwner { user_id: Some(user.id), device_id: Some(device.id) };
    let key_description = checked.key_description.clone();
    let ignored = checked.ignored.clone();
    // Read before anything is recorded: a failure here must not leave a certificate
    // recorded (and the old one revoked) that the user never got to see.
    let ca_chain = app.ca.published_chain_pem().await?;
    let (issued, record) = app.ca.sign_for_csr(owner, checked, name.clone(), Some(device.email.clone()), now, not_after).await?;
    let completion = Completion {
        user_id: user.id,
        certificates: vec![CertificateDownload {
            device_id: device.id,
            certificate: record,
            supersede_reason: Some(RevocationReason::Superseded.as_str().to_owned()),
            renews: None,
            download: None,
        }],
        ..Completion::default()
    };
    app.storage.completions().complete(&completion, now).await?;
    crate::throttle::record_failure(app, &issuances).await;
    app.metrics.certificate_issued("csr");
    record_change(app, attempt, AccountChange::CertificateReissued).await;
    notify(app, user, "notice-certificate-reissued", serde_json::json!({ "device_no": device.device_no }), &[]).await;
    let chain_pem = format!("{}{}", issued.certificate_pem, ca_chain);
    Ok(CsrOutcome::Issued(Box::new(CsrCertificate {
        certificate_pem: issued.certificate_pem,
        chain_pem,
        certificate_name: name,
        serial_hex: issued.serial_hex,
        not_after: issued.not_after,
        key_description,
        ignored,
    })))
}

#[cfg(test)]
#[path = "device_csr_tests.rs"]
mod tests;
