//! Single-use tickets: enrollment and reissue links, certificate downloads.

use std::fmt;

use time::OffsetDateTime;
use uuid::Uuid;

use super::string_enum;
use crate::StorageError;

string_enum! {
    pub enum TicketKind {
        Enrollment => "enrollment",
        Download => "download",
        PasswordReissue => "password-reissue",
        CertificateReissue => "certificate-reissue",
    }
}

/// A stored ticket. The URL token itself is never stored, only its SHA-256.
#[derive(Clone, PartialEq, Eq)]
pub struct Ticket {
    pub id: Uuid,
    pub kind: TicketKind,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub device_id: Option<Uuid>,
    /// Hex SHA-256 of the URL token (see [`crate::token_lookup_hash`]).
    pub lookup_hash: String,
    /// Argon2 PHC of the one-time or download password, when the ticket has one.
    pub secret_hash: Option<String>,
    /// Certificate-acquisition ID shown in download mails (not the user ID).
    pub acquisition_id: Option<String>,
    /// Sealed data waiting for the redeemer, e.g. a PKCS#12 file.
    pub payload_sealed: Option<Vec<u8>>,
    pub expires_at: OffsetDateTime,
    /// Wrong secrets still tolerated; at 0 the ticket is locked.
    pub attempts_left: u32,
    /// Redemptions left; at 0 the ticket is spent.
    pub uses_left: u32,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

impl fmt::Debug for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticket")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("user_id", &self.user_id)
            .field("device_id", &self.device_id)
            .field("acquisition_id", &self.acquisition_id)
            .field("expires_at", &self.expires_at)
            .field("attempts_left", &self.attempts_left)
            .field("uses_left", &self.uses_left)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct NewTicket {
    pub kind: TicketKind,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub device_id: Option<Uuid>,
    pub lookup_hash: String,
    pub secret_hash: Option<String>,
    pub acquisition_id: Option<String>,
    pub payload_sealed: Option<Vec<u8>>,
    pub expires_at: OffsetDateTime,
    /// Wrong secrets tolerated before the ticket locks (the tenant's threshold).
    pub attempts: u32,
    /// How many times it can be redeemed (1 for links; `download_max_count` for downloads).
    pub uses: u32,
}

impl fmt::Debug for NewTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewTicket")
            .field("kind", &self.kind)
            .field("user_id", &self.user_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Result of counting one wrong secret against a ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttemptOutcome {
    pub attempts_left: u32,
}

impl AttemptOutcome {
    pub fn is_locked(self) -> bool {
        self.attempts_left == 0
    }
}

/// Why a ticket could not be redeemed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedeemError {
    #[error("ticket not found")]
    NotFound,
    #[error("ticket expired")]
    Expired,
    #[error("ticket already used")]
    Spent,
    #[error("ticket locked after too many wrong attempts")]
    Locked,
    #[error(transparent)]
    Storage(#[from] StorageError),
}
