//! Everything a flow records when it finishes, prepared beforehand (hashes computed, the
//! certificate signed and sealed) so that storage only writes, in one transaction.

use std::fmt;

use uuid::Uuid;

use super::{Device, LoginMethod, NewCertificate, NewTicket};

/// The writes that finish a flow: either all are recorded or none is, and then its
/// ticket stays usable. See [`crate::Completions::complete`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Completion {
    /// The ticket this completion uses up (redeemed first: of two concurrent completions
    /// exactly one commits); `None` when no ticket is involved.
    pub ticket_id: Option<Uuid>,
    /// Whose password and secret answer are set.
    pub user_id: Uuid,
    /// A device added with its certificate; written first, within the tenant's limit.
    pub new_device: Option<DeviceAddition>,
    pub password: Option<PasswordChange>,
    pub secret_answer: Option<SecretAnswerChange>,
    /// The user's new login method (flow 8).
    pub login_method: Option<LoginMethod>,
    /// Forgets the TOTP authenticator (the new method asks for no one-time password).
    pub clear_totp: bool,
    /// Revokes every active certificate of the user with this reason and voids their
    /// pending downloads (the new method uses no certificate).
    pub revoke_certificates: Option<String>,
    /// Certificates issued, at most one per device.
    pub certificates: Vec<CertificateDownload>,
    /// Clears the wrong-secret-answer count (the answer was just given right).
    pub reset_failed_secret_answers: bool,
    /// Clears the wrong-password count (a new password replaces the one being guessed).
    pub reset_failed_passwords: bool,
    /// Addresses proven by completing a link mailed to them.
    pub verified_emails: Vec<EmailVerification>,
}

/// A device whose number was reserved ([`crate::Devices::reserve`]) and whose row is
/// written by the completion, unless the user already has `max_devices` active devices
/// (`Conflict(DEVICE_LIMIT_REACHED)`, and nothing is recorded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceAddition {
    pub device: Device,
    pub max_devices: u32,
}

/// A device's address proven: recorded only while the device is active and still has
/// exactly this address (a change racing the completion leaves the new one unproven);
/// otherwise skipped, not an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailVerification {
    pub device_id: Uuid,
    pub email: String,
}

/// A new current password (hash), added to the history.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordChange {
    pub hash: String,
    pub must_change: bool,
    /// History entries to keep (at least 1).
    pub keep: u32,
}

/// The secret question's code and the hash of its normalised answer.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretAnswerChange {
    pub question: String,
    pub answer_hash: String,
}

/// A device certificate already signed, and the download ticket that holds it sealed
/// (none for a certificate issued from the device's own CSR: it holds the key already and
/// gets the certificate on screen). Recording it supersedes the device's active
/// certificates and pending downloads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateDownload {
    pub device_id: Uuid,
    pub certificate: NewCertificate,
    /// Revocation reason for the certificates it replaces (`superseded`); `None` for a
    /// renewal, where the device's current certificate stays valid until the new one
    /// is used or a grace period ends (see `Certificates::settle_renewal`).
    pub supersede_reason: Option<String>,
    /// A renewal of the certificate with this serial: recorded only while that one is the
    /// device's only usable certificate, so concurrent renewals issue one certificate
    /// (the others get `Conflict(RENEWAL_PENDING)` and nothing is written).
    pub renews: Option<String>,
    pub download: Option<NewTicket>,
}

/// The conflict of a renewal that found another renewal (or certificate) in its place.
pub const RENEWAL_PENDING: &str = "a renewal of this device's certificate is already pending";

impl fmt::Debug for PasswordChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordChange").field("must_change", &self.must_change).finish_non_exhaustive()
    }
}

impl fmt::Debug for SecretAnswerChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretAnswerChange").field("question", &self.question).finish_non_exhaustive()
    }
}
