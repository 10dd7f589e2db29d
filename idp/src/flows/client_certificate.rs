//! Judging the client certificate a browser presented (flow 3, step 1). The TLS layer
//! only proved the browser holds the key; here the certificate must chain to one of our
//! CAs, be inside its validity, be meant for client authentication, and map through its
//! recorded serial and fingerprint to a live device of an enabled user.

use mamori_storage::model::{Certificate, CertificateStatus, Device, Tenant, User, UserStatus};
use time::OffsetDateTime;

use crate::app::App;

/// Why a presented certificate cannot log anyone in; each gets its own page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateRefusal {
    /// The browser sent none.
    Missing,
    /// Not issued by any CA of ours (or its signature does not verify).
    ForeignCa,
    /// Issued by us but not for client authentication, or not recorded.
    Unknown,
    Expired,
    NotYetValid,
    Revoked,
    DeviceDeleted,
    UserDisabled,
    /// A good certificate, of an account in another tenant than the site's that sent the
    /// user here: told plainly, instead of a login that can never reach that site.
    OtherTenant,
}

impl CertificateRefusal {
    pub fn login_result(self) -> mamori_storage::model::LoginResult {
        use mamori_storage::model::LoginResult as R;
        match self {
            Self::Missing => R::NoCertificate,
            Self::ForeignCa | Self::Unknown => R::UnknownCertificate,
            Self::Expired => R::CertificateExpired,
            Self::NotYetValid => R::CertificateNotYetValid,
            Self::Revoked => R::CertificateRevoked,
            Self::DeviceDeleted => R::DeviceDeleted,
            Self::UserDisabled => R::UserDisabled,
            Self::OtherTenant => R::Other(OTHER_TENANT_RESULT.to_owned()),
        }
    }

    /// The message key of the page shown for it.
    pub fn message_key(self) -> &'static str {
        match self {
            Self::Missing => "cert.missing",
            Self::ForeignCa => "cert.foreign",
            Self::Unknown => "cert.unknown",
            Self::Expired => "cert.expired",
            Self::NotYetValid => "cert.not_yet_valid",
            Self::Revoked => "cert.revoked",
            Self::DeviceDeleted => "cert.device_deleted",
            Self::UserDisabled => "cert.user_disabled",
            Self::OtherTenant => "cert.other_tenant",
        }
    }
}

/// The login history's name for a certificate login refused at another tenant's site.
pub const OTHER_TENANT_RESULT: &str = "other-tenant";

/// A certificate that identifies a user.
#[derive(Debug, Clone)]
pub struct CertifiedUser {
    pub tenant: Tenant,
    pub user: User,
    pub device: Option<Device>,
    pub certificate: Certificate,
}

pub enum CertificateCheck {
    Accepted(Box<CertifiedUser>),
    /// Refused; the user is known when the certificate was ours (for the login event).
    Refused {
        refusal: CertificateRefusal,
        user: Option<Box<User>>,
    },
}

/// Judges the leaf certificate (DER) the client presented, if any.
pub async fn check(app: &App, leaf: Option<&[u8]>, now: OffsetDateTime) -> anyhow::Result<CertificateCheck> {
    use CertificateRefusal as Why;
    let refused = |refusal| Ok(CertificateCheck::Refused { refusal, user: None });
    let Some(leaf_der) = leaf else { return refused(Why::Missing) };
    // Parsing and the issuer check are untrusted-input code, fuzzed on their own.
    let Some(leaf) = mamori_untrusted::client_certificate::examine(leaf_der, &our_ca_certificates(app).await?) else {
        return refused(Why::ForeignCa);
    };
    let client_auth = leaf.client_auth;
    let serial = leaf.serial;
    let fingerprint = super::session_binding::fingerprint(leaf_der);
    let recorded = app.storage.certificates().find_by_serial_and_fingerprint(&serial, &fingerprint).await?;
    let Some(certificate) = recorded.filter(|_| client_auth) else { return refused(Why::Unknown) };
    let Some(user_id) = certificate.user_id else { return refused(Why::Unknown) };
    let user = app.storage.users().get(user_id).await?;
    let refuse_for = |refusal| Ok(CertificateCheck::Refused { refusal, user: Some(Box::new(user.clone())) });
    let device = match certificate.device_id {
        Some(id) => Some(app.storage.devices().get(id).await?),
        None => None,
    };
    // Deleting a device also revokes its certificate: the deletion is the more useful
    // thing to tell the user, so it is checked first.
    if device.as_ref().is_some_and(Device::is_deleted) {
        return refuse_for(Why::DeviceDeleted);
    }
    if certificate.status == CertificateStatus::Revoked {
        return refuse_for(Why::Revoked);
    }
    if now.unix_timestamp() < leaf.not_before {
        return refuse_for(Why::NotYetValid);
    }
    if now.unix_timestamp() > leaf.not_after {
        return refuse_for(Why::Expired);
    }
    if user.status == UserStatus::Disabled {
        return refuse_for(Why::UserDisabled);
    }
    // An old certificate whose renewal's grace period is over is retired here; the new
    // one retires the old only when its login completes (`login::complete`).
    let tenant = app.storage.tenants().get(user.tenant_id).await?;
    if !super::account::settle_renewal(app, &tenant, &certificate, now).await? {
        return refuse_for(Why::Revoked);
    }
    let user = super::login::release_expired_lock(app, &tenant, user, now).await?;
    Ok(CertificateCheck::Accepted(Box::new(CertifiedUser { tenant, user, device, certificate })))
}

/// DER of our CAs' certificates (the active one and earlier ones): a leaf any of them
/// signed is ours.
async fn our_ca_certificates(app: &App) -> anyhow::Result<Vec<Vec<u8>>> {
    Ok(app.storage.certificate_authorities().list().await?.iter().filter_map(|ca| crate::pki::pem_to_der(&ca.certificate_pem)).collect())
}
