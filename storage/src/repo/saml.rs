//! The SAML identity provider's state. What must happen once — a request ID accepted, a
//! pending request taken, a session's participants told of a logout — is one atomic
//! statement (insert-if-absent or a conditional UPDATE … RETURNING), so it happens once
//! across any number of nodes.

use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QueryTrait};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use super::update_returning;
use crate::StorageError;
use crate::convert::{ms, opt_time, parse, time, to_json};
use crate::entity::saml::{participant, pending_request, persistent_id, seen_request};
use crate::error::{corrupt, db_err, on_conflict};
use crate::model::{NewSamlParticipant, NewSamlPending, SamlParticipant, SamlPending, SamlPendingKind};
use crate::storage::begin_write;

pub struct SamlRecords<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> SamlRecords<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        SamlRecords { db }
    }

    // ---- request IDs seen (replay cache) ----

    /// Records that `issuer` sent a message with `request_id`, kept until `expires_at`.
    /// True the first time; false when the ID was already seen and has not expired — a
    /// replay. Of several concurrent calls with the same ID exactly one gets true.
    pub async fn remember_request_id(
        &self,
        tenant_id: Uuid,
        issuer: &str,
        request_id: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        remember_seen(self.db, &seen_key(tenant_id, issuer, request_id), tenant_id, expires_at, now).await
    }

    // ---- requests and logouts waiting for the browser ----

    pub async fn create_pending(&self, new: &NewSamlPending, now: OffsetDateTime) -> Result<SamlPending, StorageError> {
        insert_pending(self.db, new, now).await
    }

    /// Keeps a request that `new.sp_entity_id` sent with `request_id` until the browser
    /// comes back, once: false, and nothing kept, when the ID was seen before (a replay;
    /// the same key as [`Self::remember_request_id`]). The replay-cache entry and the
    /// pending request are one transaction, so that one write serves both.
    pub async fn hold_new_request(
        &self,
        request_id: &str,
        new: &NewSamlPending,
        remember_until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        let txn = begin_write(self.db).await?;
        let key = seen_key(new.tenant_id, &new.sp_entity_id, request_id);
        if !remember_seen(&txn, &key, new.tenant_id, remember_until, now).await? {
            return Ok(false);
        }
        insert_pending(&txn, new, now).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(true)
    }

    /// An unconsumed, unexpired entry of `kind`; readable again until consumed.
    pub async fn find_pending(
        &self,
        lookup_hash: &str,
        kind: SamlPendingKind,
        now: OffsetDateTime,
    ) -> Result<Option<SamlPending>, StorageError> {
        use pending_request::{Column, Entity};
        let model = Entity::find()
            .filter(Column::LookupHash.eq(lookup_hash))
            .filter(Column::Kind.eq(kind.as_str()))
            .filter(Column::ConsumedAt.is_null())
            .filter(Column::ExpiresAt.gt(ms(now)))
            .one(self.db)
            .await
            .map_err(db_err)?;
        model.map(to_pending).transpose()
    }

    /// Marks the entry used, atomically: of several concurrent calls exactly one gets it.
    pub async fn consume_pending(
        &self,
        lookup_hash: &str,
        kind: SamlPendingKind,
        now: OffsetDateTime,
    ) -> Result<Option<SamlPending>, StorageError> {
        take_pending(self.db, lookup_hash, kind, now).await
    }

    /// Answers a waiting AuthnRequest once: takes it and records `participant` (after
    /// moving the live participants of `replaced`, the session a new login replaced, to
    /// the participant's session), in one transaction. `None`, and nothing changed, when
    /// the request was already taken or has expired.
    pub async fn answer_pending(
        &self,
        lookup_hash: &str,
        participant: &NewSamlParticipant,
        replaced: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Option<SamlPending>, StorageError> {
        let txn = begin_write(self.db).await?;
        let Some(taken) = take_pending(&txn, lookup_hash, SamlPendingKind::Authn, now).await? else {
            return Ok(None);
        };
        if let Some(from) = replaced {
            relink_participants(&txn, from, &participant.web_session_id, participant.expires_at, now).await?;
        }
        insert_participant(&txn, participant, now).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(Some(taken))
    }

    /// Replaces the data of an unconsumed, unexpired entry when it still holds
    /// `expected` (compare-and-set): false when another request changed or took it first.
    pub async fn update_pending_data(
        &self,
        lookup_hash: &str,
        kind: SamlPendingKind,
        expected: &serde_json::Value,
        data: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        use pending_request::{Column, Entity};
        let result = Entity::update_many()
            .col_expr(Column::Data, Expr::val(to_json(data)?))
            .filter(Column::LookupHash.eq(lookup_hash))
            .filter(Column::Kind.eq(kind.as_str()))
            .filter(Column::Data.eq(to_json(expected)?))
            .filter(Column::ConsumedAt.is_null())
            .filter(Column::ExpiresAt.gt(ms(now)))
            .exec(self.db)
            .await
            .map_err(db_err)?;
        Ok(result.rows_affected == 1)
    }

    // ---- persistent pairwise NameIDs ----

    /// The persistent NameID of `user_id` at `sp_entity_id`, created from `candidate` the
    /// first time (concurrent first logins agree on one value).
    pub async fn persistent_name_id(
        &self,
        tenant_id: Uuid,
        user_id: Uuid,
        sp_entity_id: &str,
        candidate: &str,
        now: OffsetDateTime,
    ) -> Result<String, StorageError> {
        use persistent_id::{Column, Entity};
        let model = persistent_id::Model {
            id: Uuid::new_v4(),
            tenant_id,
            user_id,
            sp_entity_id: sp_entity_id.to_owned(),
            name_id: candidate.to_owned(),
            created_at: ms(now),
        };
        Entity::insert(model.into_active_model())
            .on_conflict(OnConflict::columns([Column::TenantId, Column::UserId, Column::SpEntityId]).do_nothing().to_owned())
            .exec_without_returning(self.db)
            .await
            .map_err(on_conflict("persistent NameID already in use"))?;
        self.find_persistent_name_id(tenant_id, user_id, sp_entity_id).await?.ok_or(StorageError::NotFound)
    }

    /// The persistent NameID of `user_id` at `sp_entity_id`, if one was ever issued.
    pub async fn find_persistent_name_id(
        &self,
        tenant_id: Uuid,
        user_id: Uuid,
        sp_entity_id: &str,
    ) -> Result<Option<String>, StorageError> {
        use persistent_id::{Column, Entity};
        let model = Entity::find()
            .filter(Column::TenantId.eq(tenant_id))
            .filter(Column::UserId.eq(user_id))
            .filter(Column::SpEntityId.eq(sp_entity_id))
            .one(self.db)
            .await
            .map_err(db_err)?;
        Ok(model.map(|m| m.name_id))
    }

    /// The user a persistent NameID at `sp_entity_id` stands for.
    pub async fn user_of_persistent_name_id(
        &self,
        tenant_id: Uuid,
        sp_entity_id: &str,
        name_id: &str,
    ) -> Result<Option<Uuid>, StorageError> {
        use persistent_id::{Column, Entity};
        let model = Entity::find()
            .filter(Column::TenantId.eq(tenant_id))
            .filter(Column::SpEntityId.eq(sp_entity_id))
            .filter(Column::NameId.eq(name_id))
            .one(self.db)
            .await
            .map_err(db_err)?;
        Ok(model.map(|m| m.user_id))
    }

    // ---- session participants (single logout) ----

    /// The live participant `sp_entity_id` knows by `session_index`.
    pub async fn participant_by_session_index(
        &self,
        tenant_id: Uuid,
        sp_entity_id: &str,
        session_index: &str,
        now: OffsetDateTime,
    ) -> Result<Option<SamlParticipant>, StorageError> {
        use participant::{Column, Entity};
        let model = Entity::find()
            .filter(Column::TenantId.eq(tenant_id))
            .filter(Column::SpEntityId.eq(sp_entity_id))
            .filter(Column::SessionIndex.eq(session_index))
            .filter(Column::EndedAt.is_null())
            .filter(Column::ExpiresAt.gt(ms(now)))
            .one(self.db)
            .await
            .map_err(db_err)?;
        model.map(to_participant).transpose()
    }

    /// The live participants `sp_entity_id` knows under `name_id`, newest first.
    pub async fn participants_by_name_id(
        &self,
        tenant_id: Uuid,
        sp_entity_id: &str,
        name_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<SamlParticipant>, StorageError> {
        use participant::{Column, Entity};
        let models = Entity::find()
            .filter(Column::TenantId.eq(tenant_id))
            .filter(Column::SpEntityId.eq(sp_entity_id))
            .filter(Column::NameId.eq(name_id))
            .filter(Column::EndedAt.is_null())
            .filter(Column::ExpiresAt.gt(ms(now)))
            .order_by_desc(Column::CreatedAt)
            .all(self.db)
            .await
            .map_err(db_err)?;
        models.into_iter().map(to_participant).collect()
    }

    /// The live participants of a login session, oldest first.
    pub async fn live_participants(&self, web_session_id: &str, now: OffsetDateTime) -> Result<Vec<SamlParticipant>, StorageError> {
        use participant::{Column, Entity};
        let models = Entity::find()
            .filter(Column::WebSessionId.eq(web_session_id))
            .filter(Column::EndedAt.is_null())
            .filter(Column::ExpiresAt.gt(ms(now)))
            .order_by_asc(Column::CreatedAt)
            .all(self.db)
            .await
            .map_err(db_err)?;
        models.into_iter().map(to_participant).collect()
    }

    /// Ends every live participant of a login session and returns them, atomically: of
    /// two concurrent logouts of one session, each participant goes to exactly one.
    pub async fn end_session_participants(&self, web_session_id: &str, now: OffsetDateTime) -> Result<Vec<SamlParticipant>, StorageError> {
        use participant::{Column, Entity};
        let stmt = Entity::update_many()
            .col_expr(Column::EndedAt, Expr::val(ms(now)))
            .filter(Column::WebSessionId.eq(web_session_id))
            .filter(Column::EndedAt.is_null())
            .filter(Column::ExpiresAt.gt(ms(now)))
            .into_query();
        let rows = update_returning::<Entity, _>(self.db, stmt).await.map_err(db_err)?;
        let mut ended: Vec<SamlParticipant> = rows.into_iter().map(to_participant).collect::<Result<_, _>>()?;
        ended.sort_by_key(|p| p.created_at);
        Ok(ended)
    }

    /// Deletes expired replay-cache entries, pending entries and participants.
    pub async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StorageError> {
        let now = ms(now);
        let mut total = seen_request::Entity::delete_many()
            .filter(seen_request::Column::ExpiresAt.lte(now))
            .exec(self.db)
            .await
            .map_err(db_err)?
            .rows_affected;
        total += pending_request::Entity::delete_many()
            .filter(pending_request::Column::ExpiresAt.lte(now))
            .exec(self.db)
            .await
            .map_err(db_err)?
            .rows_affected;
        total += participant::Entity::delete_many()
            .filter(participant::Column::ExpiresAt.lte(now))
            .exec(self.db)
            .await
            .map_err(db_err)?
            .rows_affected;
        Ok(total)
    }
}

/// Inserts the replay-cache entry `key` unless a live one exists; an expired entry is
/// replaced. One statement (an upsert whose update only applies to an expired row), so
/// of several concurrent calls exactly one sees true, on SQLite and on PostgreSQL.
async fn remember_seen<C: ConnectionTrait>(
    db: &C,
    key: &str,
    tenant_id: Uuid,
    expires_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<bool, StorageError> {
    use seen_request::{Column, Entity};
    let model = seen_request::Model { lookup_hash: key.to_owned(), tenant_id, expires_at: ms(expires_at), created_at: ms(now) };
    let on_conflict = OnConflict::column(Column::LookupHash)
        .update_columns([Column::TenantId, Column::ExpiresAt, Column::CreatedAt])
        // An expired entry no longer blocks the ID (the message's own freshness check
        // refuses an old message long before its entry expires).
        .action_and_where(Expr::col((Entity, Column::ExpiresAt)).lte(ms(now)))
        .to_owned();
    let written = Entity::insert(model.into_active_model()).on_conflict(on_conflict).exec_without_returning(db).await.map_err(db_err)?;
    Ok(written == 1)
}

async fn insert_pending<C: ConnectionTrait>(db: &C, new: &NewSamlPending, now: OffsetDateTime) -> Result<SamlPending, StorageError> {
    let model = pending_request::Model {
        lookup_hash: new.lookup_hash.clone(),
        kind: new.kind.as_str().to_owned(),
        tenant_id: new.tenant_id,
        sp_entity_id: new.sp_entity_id.clone(),
        data: to_json(&new.data)?,
        expires_at: ms(new.expires_at),
        consumed_at: None,
        created_at: ms(now),
    };
    pending_request::Entity::insert(model.clone().into_active_model())
        .exec_without_returning(db)
        .await
        .map_err(on_conflict("request ID already exists"))?;
    to_pending(model)
}

/// Marks the entry used, atomically: of several concurrent calls exactly one gets it.
async fn take_pending<C: ConnectionTrait>(
    db: &C,
    lookup_hash: &str,
    kind: SamlPendingKind,
    now: OffsetDateTime,
) -> Result<Option<SamlPending>, StorageError> {
    use pending_request::{Column, Entity};
    let stmt = Entity::update_many()
        .col_expr(Column::ConsumedAt, Expr::val(ms(now)))
        .filter(Column::LookupHash.eq(lookup_hash))
        .filter(Column::Kind.eq(kind.as_str()))
        .filter(Column::ConsumedAt.is_null())
        .filter(Column::ExpiresAt.gt(ms(now)))
        .into_query();
    let rows = update_returning::<Entity, _>(db, stmt).await.map_err(db_err)?;
    rows.into_iter().next().map(to_pending).transpose()
}

async fn insert_participant<C: ConnectionTrait>(
    db: &C,
    new: &NewSamlParticipant,
    now: OffsetDateTime,
) -> Result<SamlParticipant, StorageError> {
    let model = participant::Model {
        id: Uuid::new_v4(),
        tenant_id: new.tenant_id,
        user_id: new.user_id,
        web_session_id: new.web_session_id.clone(),
        sp_entity_id: new.sp_entity_id.clone(),
        session_index: new.session_index.clone(),
        name_id: new.name_id.clone(),
        name_id_format: new.name_id_format.clone(),
        created_at: ms(now),
        expires_at: ms(new.expires_at),
        ended_at: None,
    };
    participant::Entity::insert(model.clone().into_active_model())
        .exec_without_returning(db)
        .await
        .map_err(on_conflict("session index already exists"))?;
    to_participant(model)
}

async fn relink_participants<C: ConnectionTrait>(
    db: &C,
    from_web_session_id: &str,
    to_web_session_id: &str,
    expires_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<u64, StorageError> {
    use participant::{Column, Entity};
    let result = Entity::update_many()
        .col_expr(Column::WebSessionId, Expr::val(to_web_session_id))
        .col_expr(Column::ExpiresAt, Expr::val(ms(expires_at)))
        .filter(Column::WebSessionId.eq(from_web_session_id))
        .filter(Column::EndedAt.is_null())
        .filter(Column::ExpiresAt.gt(ms(now)))
        .exec(db)
        .await
        .map_err(db_err)?;
    Ok(result.rows_affected)
}

/// The replay-cache key: SHA-256 over tenant, issuer and ID, each length-prefixed so no
/// two different triples share a key.
fn seen_key(tenant_id: Uuid, issuer: &str, request_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(tenant_id.as_bytes());
    for part in [issuer, request_id] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

fn to_pending(m: pending_request::Model) -> Result<SamlPending, StorageError> {
    Ok(SamlPending {
        kind: parse("saml_pending_requests.kind", &m.kind)?,
        tenant_id: m.tenant_id,
        sp_entity_id: m.sp_entity_id,
        data: serde_json::from_str(&m.data).map_err(|e| corrupt("saml_pending_requests.data", e))?,
        expires_at: time("saml_pending_requests.expires_at", m.expires_at)?,
        consumed_at: opt_time("saml_pending_requests.consumed_at", m.consumed_at)?,
        created_at: time("saml_pending_requests.created_at", m.created_at)?,
        lookup_hash: m.lookup_hash,
    })
}

fn to_participant(m: participant::Model) -> Result<SamlParticipant, StorageError> {
    Ok(SamlParticipant {
        id: m.id,
        tenant_id: m.tenant_id,
        user_id: m.user_id,
        web_session_id: m.web_session_id,
        sp_entity_id: m.sp_entity_id,
        session_index: m.session_index,
        name_id: m.name_id,
        name_id_format: m.name_id_format,
        created_at: time("saml_session_participants.created_at", m.created_at)?,
        expires_at: time("saml_session_participants.expires_at", m.expires_at)?,
        ended_at: opt_time("saml_session_participants.ended_at", m.ended_at)?,
    })
}
