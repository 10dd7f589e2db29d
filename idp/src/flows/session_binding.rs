//! A session opened by a certificate login is honoured only on a connection that presents
//! that same certificate, while it is unrevoked, inside its validity and its device
//! exists (design.md, "Sessions bound to the certificate"). Checked on every request that
//! a session opens something, against the database, so a revocation or a deleted device
//! ends the session on every node at its next request.

use mamori_storage::model::CertificateStatus;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use super::client_certificate::CertificateRefusal;
use super::login::{Authenticated, Factor};
use crate::app::App;

/// The certificate a login was made with, as the session remembers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateBinding {
    /// Lower-case hex serial, as recorded in the certificates table.
    pub serial: String,
    /// Lower-case hex SHA-256 of the certificate's DER: what the connection must present.
    pub fingerprint: String,
}

impl CertificateBinding {
    pub fn of(serial: &str, leaf_der: &[u8]) -> Self {
        Self { serial: serial.to_owned(), fingerprint: fingerprint(leaf_der) }
    }

    /// Whether `leaf_der` (the connection's certificate, if any) is this one.
    pub fn presented_by(&self, leaf_der: Option<&[u8]>) -> bool {
        leaf_der.is_some_and(|der| {
            use subtle::ConstantTimeEq as _;
            bool::from(fingerprint(der).as_bytes().ct_eq(self.fingerprint.as_bytes()))
        })
    }
}

/// Lower-case hex SHA-256 of a certificate's DER.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// What a session's certificate allows on this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// The session may be used.
    Holds,
    /// This connection does not present the session's certificate: the session is not
    /// honoured here, but stays for the connection that does.
    NotThisConnection,
    /// The certificate can no longer log anyone in: the session ends.
    Ended(CertificateRefusal),
}

/// Judges a completed login against the connection's certificate (`leaf_der`).
pub async fn check(app: &App, auth: &Authenticated, leaf_der: Option<&[u8]>, now: OffsetDateTime) -> anyhow::Result<Binding> {
    if !auth.factors.contains(&Factor::Certificate) {
        // A login without a certificate (password methods) binds to none.
        return Ok(Binding::Holds);
    }
    // A certificate login recorded before sessions were bound cannot be checked: it ends.
    let Some(bound) = &auth.certificate else {
        return Ok(Binding::Ended(CertificateRefusal::Unknown));
    };
    if !bound.presented_by(leaf_der) {
        return Ok(Binding::NotThisConnection);
    }
    Ok(match refusal_now(app, bound, auth.user_id, now).await? {
        Some(refusal) => Binding::Ended(refusal),
        None => Binding::Holds,
    })
}

/// Why the certificate `bound` can no longer log `user_id` in, checked against the
/// database (so a revocation on any node counts at once), or `None` while it can.
pub async fn refusal_now(
    app: &App,
    bound: &CertificateBinding,
    user_id: Uuid,
    now: OffsetDateTime,
) -> anyhow::Result<Option<CertificateRefusal>> {
    let Some(certificate) = app.storage.certificates().find_by_serial_and_fingerprint(&bound.serial, &bound.fingerprint).await? else {
        return Ok(Some(CertificateRefusal::Unknown));
    };
    if let Some(device_id) = certificate.device_id
        && app.storage.devices().get(device_id).await?.is_deleted()
    {
        return Ok(Some(CertificateRefusal::DeviceDeleted));
    }
    if certificate.status == CertificateStatus::Revoked {
        return Ok(Some(CertificateRefusal::Revoked));
    }
    if now >= certificate.not_after {
        return Ok(Some(CertificateRefusal::Expired));
    }
    if certificate.user_id != Some(user_id) {
        return Ok(Some(CertificateRefusal::Unknown));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_certificate_is_presented() {
        let binding = CertificateBinding::of("0a1b", b"certificate one");
        assert!(binding.presented_by(Some(b"certificate one")));
        assert!(!binding.presented_by(Some(b"certificate two")), "another certificate, even with the same serial");
        assert!(!binding.presented_by(None), "a connection without a certificate");
        assert_eq!(binding.fingerprint.len(), 64);
    }
}
