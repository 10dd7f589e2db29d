//! What the SAML identity provider keeps: request IDs seen (so a request is accepted
//! once), requests and logouts waiting for the browser, persistent pairwise NameIDs, and
//! the service providers that received assertions in a login session. `data` payloads
//! are JSON whose shape the SAML module defines; storage only keeps them.

use time::OffsetDateTime;
use uuid::Uuid;

use super::string_enum;

string_enum! {
    pub enum SamlPendingKind {
        /// A validated AuthnRequest (or an IdP-initiated login) waiting for the login.
        Authn => "authn",
        /// A single logout under way: which service providers are still to be told.
        Logout => "logout",
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct SamlPending {
    pub lookup_hash: String,
    pub kind: SamlPendingKind,
    pub tenant_id: Uuid,
    pub sp_entity_id: String,
    pub data: serde_json::Value,
    pub expires_at: OffsetDateTime,
    pub consumed_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewSamlPending {
    pub lookup_hash: String,
    pub kind: SamlPendingKind,
    pub tenant_id: Uuid,
    pub sp_entity_id: String,
    pub data: serde_json::Value,
    pub expires_at: OffsetDateTime,
}

/// A service provider that received an assertion in a login session, under the NameID
/// and SessionIndex it was given: what single logout needs to tell it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SamlParticipant {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    /// The login session's id (the SHA-256 of its cookie token).
    pub web_session_id: String,
    pub sp_entity_id: String,
    pub session_index: String,
    pub name_id: String,
    pub name_id_format: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub ended_at: Option<OffsetDateTime>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSamlParticipant {
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub web_session_id: String,
    pub sp_entity_id: String,
    pub session_index: String,
    pub name_id: String,
    pub name_id_format: String,
    pub expires_at: OffsetDateTime,
}
