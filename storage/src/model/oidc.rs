//! What the OpenID Connect provider keeps: pending (and pushed) authorization requests,
//! grants and the codes and tokens issued under them, consents, initial access tokens
//! and extra client metadata. The `data`/`params` payloads are JSON whose shape the
//! provider defines; storage only keeps them. Codes and tokens appear here only as their
//! [`crate::token_lookup_hash`].

use time::OffsetDateTime;
use uuid::Uuid;

use super::string_enum;
use crate::StorageError;

string_enum! {
    pub enum PendingRequestKind {
        /// Validated at the authorization endpoint, waiting for the login to finish.
        Authorization => "authorization",
        /// Pushed by the client (RFC 9126), waiting for the browser to bring its request_uri.
        Pushed => "pushed",
        /// The `jti` of a client assertion (RFC 7523 §3), kept until it expires so that
        /// it is accepted once.
        ClientAssertion => "client-assertion",
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct PendingRequest {
    pub lookup_hash: String,
    pub kind: PendingRequestKind,
    pub tenant_id: Uuid,
    pub client_id: String,
    pub params: serde_json::Value,
    pub expires_at: OffsetDateTime,
    pub consumed_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewPendingRequest {
    pub lookup_hash: String,
    pub kind: PendingRequestKind,
    pub tenant_id: Uuid,
    pub client_id: String,
    pub params: serde_json::Value,
    pub expires_at: OffsetDateTime,
}

/// One authorization of a client (by a user, or by itself for client_credentials): every
/// code, refresh token and stored access token issued for it hangs on it, so revoking it
/// revokes them all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcGrant {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub client_id: String,
    pub user_id: Option<Uuid>,
    /// The browser session (its `sid`) whose login the grant came from, if any.
    pub session_id: Option<String>,
    /// Asked for `offline_access`: its tokens outlive the session's logout.
    pub offline: bool,
    pub revoked_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

impl OidcGrant {
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct AuthorizationCode {
    pub lookup_hash: String,
    pub grant_id: Uuid,
    pub data: serde_json::Value,
    pub expires_at: OffsetDateTime,
    pub redeemed_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

/// An authorization code presented at the token endpoint, redeemed in a batch with the
/// refresh token its tokens come with (one transaction, see
/// `OidcGrants::redeem_codes`).
pub struct CodeRedemption {
    pub lookup_hash: String,
    /// Sees the spent code and its grant's user as the same transaction read them, and
    /// answers the refresh token to store under the code's grant, if any. The code is
    /// spent whatever it answers: a code presented with the wrong client, redirect URI
    /// or verifier must not be tried again.
    pub refresh: RefreshWithCode,
}

/// See [`CodeRedemption::refresh`].
pub type RefreshWithCode = Box<dyn FnOnce(&AuthorizationCode, Option<&crate::model::User>) -> Option<NewRefreshToken> + Send>;

impl std::fmt::Debug for CodeRedemption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeRedemption").finish_non_exhaustive()
    }
}

/// A refresh token to store under a grant.
#[derive(Clone, Debug)]
pub struct NewRefreshToken {
    pub lookup_hash: String,
    pub data: serde_json::Value,
    pub expires_at: OffsetDateTime,
}

/// What became of one code in a batch.
#[derive(Debug)]
pub enum Redeemed {
    /// Spent now. The grant's user as it is now (absent for a deleted one), and whether
    /// the refresh token `CodeRedemption::refresh` answered is stored.
    Spent { code: AuthorizationCode, user: Option<Box<crate::model::User>>, refresh_stored: bool },
    /// Unknown, expired, used before, or of a revoked grant: ask `why_not_redeemed`.
    NotSpent,
}

/// Why a code could not be redeemed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodeRedeemError {
    #[error("no such code")]
    NotFound,
    #[error("the code has expired")]
    Expired,
    /// Redeemed before: the grant (and all it issued) has now been revoked.
    #[error("the code was already used; its grant is revoked")]
    AlreadyUsed { grant_id: Uuid },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

#[derive(Clone, Debug, PartialEq)]
pub struct RefreshToken {
    pub lookup_hash: String,
    pub grant_id: Uuid,
    pub data: serde_json::Value,
    pub expires_at: OffsetDateTime,
    pub rotated_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

/// A refresh token presented by a client, and the successor to store in its place.
pub struct RefreshRotation {
    pub lookup_hash: String,
    /// The authenticated client: another client's token is neither spent nor revealed.
    pub client_id: String,
    pub successor_hash: String,
    pub successor_expires_at: OffsetDateTime,
    /// Sees the token before anything is committed; refusing it (a scope beyond the
    /// grant, say) leaves the token unspent.
    pub accept: Box<dyn FnOnce(&RefreshToken) -> bool + Send>,
}

impl std::fmt::Debug for RefreshRotation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshRotation").field("client_id", &self.client_id).finish_non_exhaustive()
    }
}

/// What became of one rotation in a batch.
#[derive(Debug)]
pub enum Rotated {
    /// Spent; its successor is stored. The grant's user as it is now, read in the same
    /// transaction (absent for a grant without a user, or a deleted one).
    Spent { token: RefreshToken, user: Option<Box<crate::model::User>> },
    /// Refused by its `accept`; nothing changed.
    Refused,
    /// Not live, unknown or another client's: ask `why_not_rotated`.
    NotSpent,
}

/// Why a refresh token could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RefreshError {
    #[error("no such refresh token")]
    NotFound,
    #[error("the refresh token has expired")]
    Expired,
    /// Revoked itself, or its grant is.
    #[error("the refresh token is revoked")]
    Revoked,
    /// Already exchanged once: a stolen copy is in play, so the whole family (grant) has
    /// been revoked.
    #[error("the refresh token was already used; its grant is revoked")]
    Reused { grant_id: Uuid },
    /// The caller refused the request after seeing the token; nothing was spent.
    #[error("the request was refused; the refresh token is unspent")]
    Refused,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// An access token kept server-side (opaque tokens, or JWTs recorded for revocation).
#[derive(Clone, Debug, PartialEq)]
pub struct AccessTokenRecord {
    pub lookup_hash: String,
    pub grant_id: Option<Uuid>,
    pub tenant_id: Uuid,
    pub client_id: String,
    pub data: serde_json::Value,
    pub expires_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewAccessToken {
    pub lookup_hash: String,
    pub grant_id: Option<Uuid>,
    pub tenant_id: Uuid,
    pub client_id: String,
    pub data: serde_json::Value,
    pub expires_at: OffsetDateTime,
}

/// Scopes a user has agreed to share with a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consent {
    pub tenant_id: Uuid,
    pub client_id: String,
    pub user_id: Uuid,
    pub scopes: Vec<String>,
    pub granted_at: OffsetDateTime,
}

/// A token that lets its bearer register one or more clients (RFC 7591 §3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitialAccessToken {
    pub lookup_hash: String,
    pub tenant_id: Uuid,
    pub expires_at: OffsetDateTime,
    pub uses_left: u32,
    pub created_at: OffsetDateTime,
}
