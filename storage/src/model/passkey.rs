//! Passkeys: WebAuthn credentials registered by a user of a tenant.

use time::OffsetDateTime;
use uuid::Uuid;

/// A registered passkey. `credential` is the verifier's own serialised record (public key,
/// counter, flags), kept as it gave it; the other fields are for lists and checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Passkey {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    /// The credential ID, base64url without padding.
    pub credential_id: String,
    pub credential: String,
    /// The user's name for it ("work laptop").
    pub name: String,
    /// The authenticator's signature counter at its last use (0: it keeps none).
    pub sign_count: u32,
    /// The authenticator may sync the key to other devices (WebAuthn BE flag).
    pub backup_eligible: bool,
    /// The key is synced (WebAuthn BS flag) as of its last use.
    pub backed_up: bool,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

/// What a successful assertion changes on the stored passkey.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeyUse {
    /// The counter read before the assertion was verified: the update applies only while
    /// it is still the stored one, so of two assertions racing from one counter value
    /// only one is recorded.
    pub previous_sign_count: u32,
    pub sign_count: u32,
    pub backup_eligible: bool,
    pub backed_up: bool,
    pub credential: String,
    pub at: OffsetDateTime,
}
