//! Short-lived state that every node must see at once: sessions, OIDC authorization
//! codes and the SAML request-ID replay cache. With one node it lives in the database
//! (the repositories in [`crate::repo`]); with several it may live in Redis, where every
//! change is one Lua script (atomic on the server) and every key carries a TTL.
//!
//! Durable records stay in the database whatever the setting: users and their lockout
//! counters, tickets (the admin lists them; their attempt and use counters are
//! conditional UPDATEs), grants, refresh and access tokens, pending requests.
//!
//! Times follow the crate's convention: callers pass `now`, and validity (idle and
//! absolute limits, code expiry) is checked against it. Redis TTLs are set relative to
//! the same `now` (`expires_at - now`), so they remove keys on time even when a node's
//! clock differs from the Redis server's.

mod redis_store;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::model::{AuthorizationCode, CodeRedeemError, NewLoginEvent, NewSamlPending, NewSession, Session};
use crate::{Storage, StorageError};
pub use redis_store::RedisSettings;
use redis_store::RedisStore;

/// Where the shared state lives, with the operations on it. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SharedStore {
    storage: Storage,
    redis: Option<RedisStore>,
}

impl SharedStore {
    /// Everything in the database behind `storage` (the single-node default; also correct
    /// for several nodes on PostgreSQL, where each operation is one atomic statement).
    pub fn database(storage: Storage) -> SharedStore {
        SharedStore { storage, redis: None }
    }

    /// Sessions, codes and the replay cache in Redis; `storage` still answers for the
    /// grants that codes belong to. Does not wait for Redis: a node starts while Redis is
    /// down, reports unready and fails requests with [`StorageError::Unavailable`] until
    /// the connection manager reaches it.
    pub fn redis(storage: Storage, settings: &RedisSettings) -> Result<SharedStore, StorageError> {
        Ok(SharedStore { storage, redis: Some(RedisStore::open(settings)?) })
    }

    /// `"database"` or `"redis"`, for logs and health output.
    pub fn kind(&self) -> &'static str {
        if self.redis.is_some() { "redis" } else { "database" }
    }

    /// Readiness: Redis answers PING (the database is checked by [`Storage::ping`]).
    pub async fn ping(&self) -> Result<(), StorageError> {
        match &self.redis {
            Some(redis) => redis.ping().await,
            None => Ok(()),
        }
    }

    pub fn sessions(&self) -> SharedSessions<'_> {
        SharedSessions { store: self }
    }

    pub fn authorization_codes(&self) -> AuthorizationCodes<'_> {
        AuthorizationCodes { store: self }
    }

    pub fn saml_replay_cache(&self) -> SamlReplayCache<'_> {
        SamlReplayCache { store: self }
    }

    pub fn form_submissions(&self) -> FormSubmissions<'_> {
        FormSubmissions { store: self }
    }

    pub fn throttle(&self) -> SharedThrottle<'_> {
        SharedThrottle { store: self }
    }
}

/// Browser sessions; the same contract as [`crate::Sessions`].
pub struct SharedSessions<'a> {
    store: &'a SharedStore,
}

impl SharedSessions<'_> {
    pub async fn create(&self, new: &NewSession, now: OffsetDateTime) -> Result<Session, StorageError> {
        match &self.store.redis {
            Some(r) => r.session_create(new, now).await,
            None => self.store.storage.sessions().create(new, now).await,
        }
    }

    /// Stores a completed login's session and its success event, so that the history says
    /// "success" exactly when the session exists. In the database both are one
    /// transaction; with Redis the event is written first and deleted again if the
    /// session cannot be stored.
    pub async fn create_with_success(&self, new: &NewSession, event: &NewLoginEvent, now: OffsetDateTime) -> Result<Session, StorageError> {
        let Some(r) = &self.store.redis else {
            return self.store.storage.sessions().create_with_event(new, event, now).await;
        };
        let events = self.store.storage.login_events();
        let recorded = events.record(event).await?;
        match r.session_create(new, now).await {
            Ok(session) => Ok(session),
            Err(err) => {
                if let Err(undo) = events.delete(recorded.id).await {
                    tracing::error!(error = %undo, "a login's session failed and its success event could not be withdrawn");
                }
                Err(err)
            }
        }
    }

    /// The session, unless it is missing or its idle or absolute limit has passed.
    pub async fn get(&self, id: &str, now: OffsetDateTime) -> Result<Option<Session>, StorageError> {
        match &self.store.redis {
            Some(r) => r.session_get(id, now).await,
            None => self.store.storage.sessions().get(id, now).await,
        }
    }

    /// Records activity and extends the idle limit; false when the session is gone.
    pub async fn touch(&self, id: &str, now: OffsetDateTime, idle_until: OffsetDateTime) -> Result<bool, StorageError> {
        match &self.store.redis {
            Some(r) => r.session_touch(id, now, idle_until).await,
            None => self.store.storage.sessions().touch(id, now, idle_until).await,
        }
    }

    pub async fn update_data(&self, id: &str, data: &serde_json::Value) -> Result<(), StorageError> {
        match &self.store.redis {
            Some(r) => r.session_update_data(id, data).await,
            None => self.store.storage.sessions().update_data(id, data).await,
        }
    }

    pub async fn set_user(&self, id: &str, user_id: Option<Uuid>) -> Result<(), StorageError> {
        match &self.store.redis {
            Some(r) => r.session_set_user(id, user_id).await,
            None => self.store.storage.sessions().set_user(id, user_id).await,
        }
    }

    /// Moves the session to a new id (against session fixation).
    pub async fn rotate(&self, old_id: &str, new_id: &str) -> Result<(), StorageError> {
        match &self.store.redis {
            Some(r) => r.session_rotate(old_id, new_id).await,
            None => self.store.storage.sessions().rotate(old_id, new_id).await,
        }
    }

    /// Logout; true when a session was removed.
    pub async fn delete(&self, id: &str) -> Result<bool, StorageError> {
        match &self.store.redis {
            Some(r) => r.session_delete(id).await,
            None => self.store.storage.sessions().delete(id).await,
        }
    }

    /// A user's live sessions, oldest first.
    pub async fn list_for_user(&self, user_id: Uuid, now: OffsetDateTime) -> Result<Vec<Session>, StorageError> {
        match &self.store.redis {
            Some(r) => r.session_list_for_user(user_id, now).await,
            None => self.store.storage.sessions().list_for_user(user_id, now).await,
        }
    }

    /// Ends all of a user's sessions; returns how many.
    pub async fn delete_for_user(&self, user_id: Uuid) -> Result<u64, StorageError> {
        match &self.store.redis {
            Some(r) => r.session_delete_for_user(user_id).await,
            None => self.store.storage.sessions().delete_for_user(user_id).await,
        }
    }

    /// Deletes sessions past either limit. In Redis their keys expire by themselves, so
    /// this removes nothing there and returns 0.
    pub async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StorageError> {
        match &self.store.redis {
            Some(_) => Ok(0),
            None => self.store.storage.sessions().purge_expired(now).await,
        }
    }
}

/// OIDC authorization codes: stored once, redeemed at most once across all nodes.
pub struct AuthorizationCodes<'a> {
    store: &'a SharedStore,
}

impl AuthorizationCodes<'_> {
    /// Whether codes live in the database (no Redis), where a redemption can share one
    /// transaction with the refresh token it comes with (`OidcGrants::redeem_codes`).
    pub fn in_database(&self) -> bool {
        self.store.redis.is_none()
    }

    pub async fn insert(
        &self,
        lookup_hash: &str,
        grant_id: Uuid,
        data: &serde_json::Value,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<AuthorizationCode, StorageError> {
        match &self.store.redis {
            Some(r) => r.code_insert(lookup_hash, grant_id, data, expires_at, now).await,
            None => self.store.storage.oidc_grants().insert_code(lookup_hash, grant_id, data, expires_at, now).await,
        }
    }

    /// Redeems a code once. A second redemption (or one whose grant was revoked) fails
    /// with `AlreadyUsed` and revokes the grant (RFC 6749 §4.1.2).
    pub async fn redeem(&self, lookup_hash: &str, now: OffsetDateTime) -> Result<AuthorizationCode, CodeRedeemError> {
        let Some(r) = &self.store.redis else {
            return self.store.storage.oidc_grants().redeem_code(lookup_hash, now).await;
        };
        let grants = self.store.storage.oidc_grants();
        // The grant is checked before the take, not after: a concurrent replay revokes it
        // right after the winning take, and must not turn that win into a loss.
        let Some(grant_id) = r.code_grant(lookup_hash).await? else {
            return Err(CodeRedeemError::NotFound);
        };
        match grants.get_grant(grant_id).await {
            Ok(grant) if grant.is_revoked() => return Err(CodeRedeemError::AlreadyUsed { grant_id }),
            Ok(_) => {}
            Err(StorageError::NotFound) => return Err(CodeRedeemError::NotFound),
            Err(e) => return Err(e.into()),
        }
        match r.code_take(lookup_hash, now).await? {
            redis_store::Taken::Code(code) => Ok(code),
            redis_store::Taken::AlreadyUsed(grant_id) => {
                grants.revoke_grant(grant_id, now).await?;
                Err(CodeRedeemError::AlreadyUsed { grant_id })
            }
            redis_store::Taken::Expired => Err(CodeRedeemError::Expired),
            redis_store::Taken::NotFound => Err(CodeRedeemError::NotFound),
        }
    }
}

/// SAML request IDs already accepted, so that a replayed message is refused.
pub struct SamlReplayCache<'a> {
    store: &'a SharedStore,
}

impl SamlReplayCache<'_> {
    /// True the first time `issuer` sends `request_id` before `expires_at`; false for a
    /// replay. Of several concurrent calls with the same ID exactly one gets true.
    pub async fn remember(
        &self,
        tenant_id: Uuid,
        issuer: &str,
        request_id: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        match &self.store.redis {
            Some(r) => r.remember_request_id(tenant_id, issuer, request_id, expires_at, now).await,
            None => self.store.storage.saml_records().remember_request_id(tenant_id, issuer, request_id, expires_at, now).await,
        }
    }

    /// Remembers `request_id`, sent by `pending.sp_entity_id`, until `remember_until`
    /// and keeps `pending` for the browser's return; false, and nothing kept, for a
    /// replay. In the database both are one transaction; with Redis the ID is remembered
    /// there first, so a replay never reaches the database.
    pub async fn remember_and_hold(
        &self,
        request_id: &str,
        pending: &NewSamlPending,
        remember_until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        let records = self.store.storage.saml_records();
        let Some(r) = &self.store.redis else {
            return records.hold_new_request(request_id, pending, remember_until, now).await;
        };
        if !r.remember_request_id(pending.tenant_id, &pending.sp_entity_id, request_id, remember_until, now).await? {
            return Ok(false);
        }
        records.create_pending(pending, now).await?;
        Ok(true)
    }
}

/// One-time tokens of page forms whose submission must act once (issuing a certificate
/// from a CSR): a resubmitted form, a double click, a replayed request find the token
/// taken. Kept in the replay table of SAML request IDs, under an issuer no SAML entity
/// uses, so that one atomic insert-if-absent serves both on every node.
pub struct FormSubmissions<'a> {
    store: &'a SharedStore,
}

impl FormSubmissions<'_> {
    /// True the first time `token` of form `purpose` is used before `expires_at`.
    pub async fn first_use(
        &self,
        tenant_id: Uuid,
        purpose: &str,
        token: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        let issuer = format!("urn:mamori:form-submission:{purpose}");
        self.store.saml_replay_cache().remember(tenant_id, &issuer, token, expires_at, now).await
    }
}

/// Failures counted in a fixed window, for one throttled key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottleWindow {
    pub failures: u64,
    pub ends_at: OffsetDateTime,
}

/// Failure counters every node shares (client authentication, admin tokens), keyed by
/// what is throttled (a client, a source address). Keys are hashed before storage.
pub struct SharedThrottle<'a> {
    store: &'a SharedStore,
}

impl SharedThrottle<'_> {
    /// The failures counted for `key` in its current window, if any.
    pub async fn failures(&self, key: &str, now: OffsetDateTime) -> Result<Option<ThrottleWindow>, StorageError> {
        let hash = crate::token_lookup_hash(key);
        match &self.store.redis {
            Some(r) => r.throttle_failures(&hash, now).await,
            None => self.store.storage.throttle().failures(&hash, now).await,
        }
    }

    /// Counts one failure for `key`; the first in a window opens one of `length`.
    pub async fn record_failure(&self, key: &str, length: time::Duration, now: OffsetDateTime) -> Result<ThrottleWindow, StorageError> {
        let hash = crate::token_lookup_hash(key);
        match &self.store.redis {
            Some(r) => r.throttle_record_failure(&hash, length, now).await,
            None => self.store.storage.throttle().record_failure(&hash, length, now).await,
        }
    }

    /// Deletes ended windows. In Redis their keys expire by themselves (returns 0).
    pub async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StorageError> {
        match &self.store.redis {
            Some(_) => Ok(0),
            None => self.store.storage.throttle().purge_expired(now).await,
        }
    }
}
