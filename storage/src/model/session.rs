//! Browser sessions, including logins still in progress.

use time::OffsetDateTime;
use uuid::Uuid;

/// A session row. Its id is the hex SHA-256 of the cookie token, so a database leak does
/// not hand out live cookies.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    pub id: String,
    pub tenant_id: Uuid,
    /// `None` while the login is still in progress.
    pub user_id: Option<Uuid>,
    /// Login-transaction and session state, owned by the caller.
    pub data: serde_json::Value,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub idle_expires_at: OffsetDateTime,
    pub absolute_expires_at: OffsetDateTime,
}

impl Session {
    /// Alive at `now`: neither the idle nor the absolute limit has passed.
    pub fn is_alive_at(&self, now: OffsetDateTime) -> bool {
        now < self.idle_expires_at && now < self.absolute_expires_at
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewSession {
    /// Hex SHA-256 of the cookie token ([`crate::token_lookup_hash`]).
    pub id: String,
    pub tenant_id: Uuid,
    pub user_id: Option<Uuid>,
    pub data: serde_json::Value,
    pub idle_expires_at: OffsetDateTime,
    pub absolute_expires_at: OffsetDateTime,
}
