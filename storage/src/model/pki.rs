//! Mamori's own certificate authorities and the certificates they issued.

use std::fmt;

use time::OffsetDateTime;
use uuid::Uuid;

use super::string_enum;

string_enum! {
    pub enum CertificateStatus {
        Active => "active",
        Revoked => "revoked",
    }
}

/// An issuing CA. The private key is sealed under the configured key; only its holder
/// (the cert-authority crate, via idp) can open it.
#[derive(Clone, PartialEq, Eq)]
pub struct CertificateAuthority {
    pub id: Uuid,
    pub name: String,
    pub certificate_pem: String,
    /// Intermediate and root certificates above this CA, nearest first.
    pub chain_pem: Vec<String>,
    pub sealed_private_key: Vec<u8>,
    /// e.g. "p256", "rsa2048".
    pub key_algorithm: String,
    /// Lower-case hex SHA-256 of the certificate's DER.
    pub fingerprint_sha256: String,
    /// The one CA that issues new certificates.
    pub is_active: bool,
    /// Last CRL number handed out (0 before the first CRL).
    pub crl_number: u64,
    pub created_at: OffsetDateTime,
}

impl fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("key_algorithm", &self.key_algorithm)
            .field("fingerprint_sha256", &self.fingerprint_sha256)
            .field("is_active", &self.is_active)
            .field("crl_number", &self.crl_number)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct NewCertificateAuthority {
    pub name: String,
    pub certificate_pem: String,
    pub chain_pem: Vec<String>,
    pub sealed_private_key: Vec<u8>,
    pub key_algorithm: String,
    pub fingerprint_sha256: String,
}

impl fmt::Debug for NewCertificateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewCertificateAuthority")
            .field("name", &self.name)
            .field("fingerprint_sha256", &self.fingerprint_sha256)
            .finish_non_exhaustive()
    }
}

/// An issued certificate. Kept after revocation and after its user or device is gone,
/// because the CRL must keep listing it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    pub id: Uuid,
    pub ca_id: Uuid,
    pub user_id: Option<Uuid>,
    pub device_id: Option<Uuid>,
    /// Lower-case hex serial number without separators.
    pub serial_hex: String,
    /// Lower-case hex SHA-256 of the DER.
    pub fingerprint_sha256: String,
    pub subject_cn: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub status: CertificateStatus,
    pub revoked_at: Option<OffsetDateTime>,
    pub revocation_reason: Option<String>,
    pub created_at: OffsetDateTime,
}

impl Certificate {
    /// Whether the certificate is unrevoked and inside its validity window at `now`.
    pub fn is_usable_at(&self, now: OffsetDateTime) -> bool {
        self.status == CertificateStatus::Active && self.not_before <= now && now < self.not_after
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCertificate {
    pub ca_id: Uuid,
    pub user_id: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub serial_hex: String,
    pub fingerprint_sha256: String,
    /// SHA-256 of the certified SubjectPublicKeyInfo, hex (m0019; absent before it).
    pub public_key_sha256: Option<String>,
    pub subject_cn: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

/// What a CRL is signed from: how many of the CA's certificates are revoked and the
/// latest revocation time (Unix milliseconds). Any revocation changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevocationMark {
    pub revoked: i64,
    pub latest: Option<i64>,
}

/// The CRL a CA last published, without its bytes: what a node checks per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrlHeader {
    pub ca_id: Uuid,
    pub crl_number: u64,
    pub this_update: OffsetDateTime,
    pub next_update: OffsetDateTime,
    pub mark: RevocationMark,
}

/// A published CRL: its header and its DER.
#[derive(Clone, PartialEq, Eq)]
pub struct PublishedCrl {
    pub header: CrlHeader,
    pub der: Vec<u8>,
}

impl fmt::Debug for PublishedCrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublishedCrl").field("header", &self.header).field("der_len", &self.der.len()).finish()
    }
}

/// An unrevoked certificate of a tenant's user that expires soon, with whom and what it
/// belongs to: for the expiry reminders and the operators' list of expiring certificates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpiringCertificate {
    pub certificate: Certificate,
    pub user: super::User,
    /// The device it was issued for (deleted ones included); `None` for a certificate
    /// issued to no device.
    pub device: Option<super::Device>,
    /// A newer unrevoked certificate of the same device exists: it was renewed (or
    /// reissued) and the new one takes over.
    pub renewed: bool,
}
