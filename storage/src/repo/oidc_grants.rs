//! The OpenID Connect provider's state. Everything that must happen once — a code
//! redeemed, a refresh token rotated, a pushed request taken, an initial access token
//! spent — is one conditional UPDATE, so it happens once across any number of nodes.
//! A second use of a code or refresh token revokes the grant that issued it.

use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter, QueryTrait, TransactionTrait};
use time::OffsetDateTime;
use uuid::Uuid;

use super::update_returning;

mod codes;
#[cfg(test)]
mod plans;
mod refresh;
use crate::StorageError;
use crate::convert::{count, from_json, ms, opt_time, parse, small, time, to_json};
use crate::entity::oidc::{
    access_token, authorization_code, client_settings, consent, grant, initial_access_token, pending_request, refresh_token,
};
use crate::error::{db_err, on_conflict};
use crate::model::{
    AccessTokenRecord, AuthorizationCode, CodeRedeemError, Consent, InitialAccessToken, NewAccessToken, NewPendingRequest, OidcGrant,
    PendingRequest, PendingRequestKind, RefreshToken,
};

pub struct OidcGrants<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> OidcGrants<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        OidcGrants { db }
    }

    // ---- pending and pushed authorization requests ----

    pub async fn create_pending(&self, new: &NewPendingRequest, now: OffsetDateTime) -> Result<PendingRequest, StorageError> {
        let model = pending_request::Model {
            lookup_hash: new.lookup_hash.clone(),
            kind: new.kind.as_str().to_owned(),
            tenant_id: new.tenant_id,
            client_id: new.client_id.clone(),
            params: to_json(&new.params)?,
            expires_at: ms(new.expires_at),
            consumed_at: None,
            created_at: ms(now),
        };
        pending_request::Entity::insert(model.clone().into_active_model())
            .exec_without_returning(self.db)
            .await
            .map_err(on_conflict("request ID already exists"))?;
        to_pending(model)
    }

    /// An unconsumed, unexpired request of `kind`; it can be read again (the browser may
    /// come back to it) until [`Self::consume_pending`].
    pub async fn find_pending(
        &self,
        lookup_hash: &str,
        kind: PendingRequestKind,
        now: OffsetDateTime,
    ) -> Result<Option<PendingRequest>, StorageError> {
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

    /// Marks the request used, atomically: of several concurrent calls exactly one gets
    /// it back.
    pub async fn consume_pending(
        &self,
        lookup_hash: &str,
        kind: PendingRequestKind,
        now: OffsetDateTime,
    ) -> Result<Option<PendingRequest>, StorageError> {
        use pending_request::{Column, Entity};
        let stmt = Entity::update_many()
            .col_expr(Column::ConsumedAt, Expr::val(ms(now)))
            .filter(Column::LookupHash.eq(lookup_hash))
            .filter(Column::Kind.eq(kind.as_str()))
            .filter(Column::ConsumedAt.is_null())
            .filter(Column::ExpiresAt.gt(ms(now)))
            .into_query();
        let rows = update_returning::<Entity, _>(self.db, stmt).await.map_err(db_err)?;
        rows.into_iter().next().map(to_pending).transpose()
    }

    // ---- grants ----

    pub async fn create_grant(
        &self,
        tenant_id: Uuid,
        client_id: &str,
        user_id: Option<Uuid>,
        now: OffsetDateTime,
    ) -> Result<OidcGrant, StorageError> {
        self.create_grant_in_session(tenant_id, client_id, user_id, None, false, now).await
    }

    /// A grant that came from the browser session `session_id` (its `sid`): unless
    /// `offline`, it ends when that session does.
    pub async fn create_grant_in_session(
        &self,
        tenant_id: Uuid,
        client_id: &str,
        user_id: Option<Uuid>,
        session_id: Option<&str>,
        offline: bool,
        now: OffsetDateTime,
    ) -> Result<OidcGrant, StorageError> {
        let model = grant::Model {
            id: Uuid::new_v4(),
            tenant_id,
            client_id: client_id.to_owned(),
            user_id,
            revoked_at: None,
            created_at: ms(now),
            session_id: session_id.map(str::to_owned),
            offline,
        };
        grant::Entity::insert(model.clone().into_active_model()).exec_without_returning(self.db).await.map_err(db_err)?;
        to_grant(model)
    }

    pub async fn get_grant(&self, id: Uuid) -> Result<OidcGrant, StorageError> {
        let model = grant::Entity::find_by_id(id).one(self.db).await.map_err(db_err)?;
        to_grant(model.ok_or(StorageError::NotFound)?)
    }

    /// Revokes the grant and so everything issued under it. Idempotent; true when this
    /// call revoked it.
    pub async fn revoke_grant(&self, id: Uuid, now: OffsetDateTime) -> Result<bool, StorageError> {
        Ok(self.revoke_live(grant::Column::Id.eq(id), now).await? > 0)
    }

    /// Revokes the live grants `which` selects; returns how many.
    async fn revoke_live(&self, which: impl sea_orm::sea_query::IntoCondition, now: OffsetDateTime) -> Result<u64, StorageError> {
        let result = grant::Entity::update_many()
            .col_expr(grant::Column::RevokedAt, Expr::val(ms(now)))
            .filter(which)
            .filter(grant::Column::RevokedAt.is_null())
            .exec(self.db)
            .await
            .map_err(db_err)?;
        Ok(result.rows_affected)
    }

    /// The grants that came from browser sessions of `user_id` (`sid` given: of that one
    /// session only), revoked or not: who took part in a session, for its logout.
    pub async fn session_grants(&self, user_id: Uuid, session_id: Option<&str>) -> Result<Vec<OidcGrant>, StorageError> {
        let mut query = grant::Entity::find().filter(grant::Column::UserId.eq(user_id));
        query = match session_id {
            Some(sid) => query.filter(grant::Column::SessionId.eq(sid)),
            None => query.filter(grant::Column::SessionId.is_not_null()),
        };
        query.all(self.db).await.map_err(db_err)?.into_iter().map(to_grant).collect()
    }

    /// Revokes the given grants (those still live); returns how many.
    pub async fn revoke_grants(&self, ids: &[Uuid], now: OffsetDateTime) -> Result<u64, StorageError> {
        if ids.is_empty() {
            return Ok(0);
        }
        self.revoke_live(grant::Column::Id.is_in(ids.iter().copied()), now).await
    }

    /// Revokes every live grant of a user, offline ones and those without a session too:
    /// for a user who may no longer act through Mamori at all (disabled, deleted).
    pub async fn revoke_user_grants(&self, user_id: Uuid, now: OffsetDateTime) -> Result<u64, StorageError> {
        self.revoke_live(grant::Column::UserId.eq(user_id), now).await
    }

    /// Revokes every live grant of a user with a client (e.g. consent withdrawn).
    pub async fn revoke_grants_of(&self, client_id: &str, user_id: Uuid, now: OffsetDateTime) -> Result<u64, StorageError> {
        self.revoke_live(grant::Column::ClientId.eq(client_id).and(grant::Column::UserId.eq(user_id)), now).await
    }

    // ---- authorization codes ----

    pub async fn insert_code(
        &self,
        lookup_hash: &str,
        grant_id: Uuid,
        data: &serde_json::Value,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<AuthorizationCode, StorageError> {
        let model = authorization_code::Model {
            lookup_hash: lookup_hash.to_owned(),
            grant_id,
            data: to_json(data)?,
            expires_at: ms(expires_at),
            redeemed_at: None,
            created_at: ms(now),
        };
        authorization_code::Entity::insert(model.clone().into_active_model())
            .exec_without_returning(self.db)
            .await
            .map_err(on_conflict("code already exists"))?;
        to_code(model)
    }

    /// Redeems a code once. A second redemption fails with `AlreadyUsed` and revokes the
    /// grant, so the tokens the first one obtained stop working too (RFC 6749 §4.1.2).
    /// (The token endpoint redeems in batches, with the refresh token: `redeem_codes`.)
    pub async fn redeem_code(&self, lookup_hash: &str, now: OffsetDateTime) -> Result<AuthorizationCode, CodeRedeemError> {
        use authorization_code::Entity;
        let rows = update_returning::<Entity, _>(self.db, codes::spend_codes([lookup_hash], now)).await.map_err(db_err)?;
        match rows.into_iter().next() {
            Some(row) => Ok(to_code(row)?),
            None => Err(self.why_not_redeemed(lookup_hash, now).await),
        }
    }

    // ---- access tokens ----

    pub async fn insert_access_token(&self, new: &NewAccessToken, now: OffsetDateTime) -> Result<AccessTokenRecord, StorageError> {
        let model = access_token::Model {
            lookup_hash: new.lookup_hash.clone(),
            grant_id: new.grant_id,
            tenant_id: new.tenant_id,
            client_id: new.client_id.clone(),
            data: to_json(&new.data)?,
            expires_at: ms(new.expires_at),
            revoked_at: None,
            created_at: ms(now),
        };
        access_token::Entity::insert(model.clone().into_active_model())
            .exec_without_returning(self.db)
            .await
            .map_err(on_conflict("access token already exists"))?;
        to_access(model)
    }

    /// A live access token: unexpired, not revoked, and its grant (if any) not revoked.
    pub async fn find_active_access_token(
        &self,
        lookup_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<AccessTokenRecord>, StorageError> {
        use access_token::{Column, Entity};
        let model = Entity::find()
            .filter(Column::LookupHash.eq(lookup_hash))
            .filter(Column::RevokedAt.is_null())
            .filter(Column::ExpiresAt.gt(ms(now)))
            .one(self.db)
            .await
            .map_err(db_err)?;
        let Some(model) = model else { return Ok(None) };
        if let Some(grant_id) = model.grant_id
            && self.get_grant(grant_id).await?.is_revoked()
        {
            return Ok(None);
        }
        to_access(model).map(Some)
    }

    /// Whether a token with this hash was recorded and revoked (JWT access tokens are
    /// recorded only when revoked).
    pub async fn is_access_token_revoked(&self, lookup_hash: &str) -> Result<bool, StorageError> {
        use access_token::{Column, Entity};
        let model = Entity::find()
            .filter(Column::LookupHash.eq(lookup_hash))
            .filter(Column::RevokedAt.is_not_null())
            .one(self.db)
            .await
            .map_err(db_err)?;
        Ok(model.is_some())
    }

    /// Revokes one access token (RFC 7009); true when it existed and was live.
    pub async fn revoke_access_token(&self, lookup_hash: &str, now: OffsetDateTime) -> Result<bool, StorageError> {
        use access_token::{Column, Entity};
        let result = Entity::update_many()
            .col_expr(Column::RevokedAt, Expr::val(ms(now)))
            .filter(Column::LookupHash.eq(lookup_hash))
            .filter(Column::RevokedAt.is_null())
            .exec(self.db)
            .await
            .map_err(db_err)?;
        Ok(result.rows_affected > 0)
    }

    // ---- consents ----

    pub async fn find_consent(&self, client_id: &str, user_id: Uuid) -> Result<Option<Consent>, StorageError> {
        let model = consent::Entity::find()
            .filter(consent::Column::ClientId.eq(client_id))
            .filter(consent::Column::UserId.eq(user_id))
            .one(self.db)
            .await
            .map_err(db_err)?;
        model.map(to_consent).transpose()
    }

    /// Records (or replaces) the scopes a user agreed to share with a client.
    pub async fn save_consent(
        &self,
        tenant_id: Uuid,
        client_id: &str,
        user_id: Uuid,
        scopes: &[String],
        now: OffsetDateTime,
    ) -> Result<Consent, StorageError> {
        let model = consent::Model {
            id: Uuid::new_v4(),
            tenant_id,
            client_id: client_id.to_owned(),
            user_id,
            scopes: to_json(scopes)?,
            granted_at: ms(now),
        };
        consent::Entity::insert(model.clone().into_active_model())
            .on_conflict(
                OnConflict::columns([consent::Column::ClientId, consent::Column::UserId])
                    .update_columns([consent::Column::Scopes, consent::Column::GrantedAt])
                    .to_owned(),
            )
            .exec_without_returning(self.db)
            .await
            .map_err(db_err)?;
        to_consent(model)
    }

    /// Every client a user has consented to, most recent first (the account page where
    /// the user can withdraw a consent).
    pub async fn list_consents(&self, user_id: Uuid) -> Result<Vec<Consent>, StorageError> {
        use sea_orm::QueryOrder;
        let models = consent::Entity::find()
            .filter(consent::Column::UserId.eq(user_id))
            .order_by_desc(consent::Column::GrantedAt)
            .order_by_asc(consent::Column::ClientId)
            .all(self.db)
            .await
            .map_err(db_err)?;
        models.into_iter().map(to_consent).collect()
    }

    pub async fn delete_consent(&self, client_id: &str, user_id: Uuid) -> Result<bool, StorageError> {
        let result = consent::Entity::delete_many()
            .filter(consent::Column::ClientId.eq(client_id))
            .filter(consent::Column::UserId.eq(user_id))
            .exec(self.db)
            .await
            .map_err(db_err)?;
        Ok(result.rows_affected > 0)
    }

    // ---- initial access tokens (dynamic registration) ----

    pub async fn create_initial_access_token(
        &self,
        lookup_hash: &str,
        tenant_id: Uuid,
        uses: u32,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<InitialAccessToken, StorageError> {
        let model = initial_access_token::Model {
            lookup_hash: lookup_hash.to_owned(),
            tenant_id,
            expires_at: ms(expires_at),
            uses_left: small("uses", uses)?,
            created_at: ms(now),
        };
        initial_access_token::Entity::insert(model.clone().into_active_model())
            .exec_without_returning(self.db)
            .await
            .map_err(on_conflict("initial access token already exists"))?;
        to_iat(model)
    }

    /// Spends one use of the token; `None` when it is unknown, expired or used up.
    pub async fn spend_initial_access_token(
        &self,
        lookup_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<InitialAccessToken>, StorageError> {
        use initial_access_token::{Column, Entity};
        let stmt = Entity::update_many()
            .col_expr(Column::UsesLeft, Expr::col(Column::UsesLeft).sub(1))
            .filter(Column::LookupHash.eq(lookup_hash))
            .filter(Column::UsesLeft.gt(0))
            .filter(Column::ExpiresAt.gt(ms(now)))
            .into_query();
        let rows = update_returning::<Entity, _>(self.db, stmt).await.map_err(db_err)?;
        rows.into_iter().next().map(to_iat).transpose()
    }

    // ---- client metadata beyond `oidc_clients` ----

    pub async fn set_client_settings(&self, client_id: &str, data: &serde_json::Value, now: OffsetDateTime) -> Result<(), StorageError> {
        let model = client_settings::Model { client_id: client_id.to_owned(), data: to_json(data)?, updated_at: ms(now) };
        // The settings are part of the client every node caches: the same transaction
        // bumps its tenant's relying-site version.
        let txn = self.db.begin().await.map_err(db_err)?;
        let owner = crate::entity::oidc_client::Entity::find()
            .filter(crate::entity::oidc_client::Column::ClientId.eq(client_id))
            .one(&txn)
            .await
            .map_err(db_err)?;
        client_settings::Entity::insert(model.into_active_model())
            .on_conflict(
                OnConflict::column(client_settings::Column::ClientId)
                    .update_columns([client_settings::Column::Data, client_settings::Column::UpdatedAt])
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await
            .map_err(db_err)?;
        if let Some(owner) = owner {
            super::federation::bump_site_version(&txn, owner.tenant_id).await?;
        }
        txn.commit().await.map_err(db_err)?;
        Ok(())
    }

    pub async fn client_settings(&self, client_id: &str) -> Result<Option<serde_json::Value>, StorageError> {
        let model = client_settings::Entity::find_by_id(client_id.to_owned()).one(self.db).await.map_err(db_err)?;
        model.map(|m| from_json("oidc_client_settings.data", &m.data)).transpose()
    }

    // ---- signing keys ----

    /// Stops a token-signing key from signing after `retire_after` and from being
    /// published after `expires_at` (key rotation).
    pub async fn retire_signing_key(
        &self,
        kid: &str,
        retire_after: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), StorageError> {
        use crate::entity::signing_key::{Column, Entity};
        let result = Entity::update_many()
            .col_expr(Column::RetireAfter, Expr::val(ms(retire_after)))
            .col_expr(Column::ExpiresAt, Expr::val(ms(expires_at)))
            .filter(Column::Id.eq(kid))
            .exec(self.db)
            .await
            .map_err(db_err)?;
        if result.rows_affected == 0 {
            return Err(StorageError::NotFound);
        }
        Ok(())
    }

    // ---- housekeeping ----

    /// Deletes expired requests, codes, tokens and initial access tokens. Returns how
    /// many rows went.
    pub async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StorageError> {
        let now = ms(now);
        let mut total = 0;
        total += pending_request::Entity::delete_many()
            .filter(pending_request::Column::ExpiresAt.lte(now))
            .exec(self.db)
            .await
            .map_err(db_err)?
            .rows_affected;
        total += authorization_code::Entity::delete_many()
            .filter(authorization_code::Column::ExpiresAt.lte(now))
            .exec(self.db)
            .await
            .map_err(db_err)?
            .rows_affected;
        total += refresh_token::Entity::delete_many()
            .filter(refresh_token::Column::ExpiresAt.lte(now))
            .exec(self.db)
            .await
            .map_err(db_err)?
            .rows_affected;
        total += access_token::Entity::delete_many()
            .filter(access_token::Column::ExpiresAt.lte(now))
            .exec(self.db)
            .await
            .map_err(db_err)?
            .rows_affected;
        total += initial_access_token::Entity::delete_many()
            .filter(
                Condition::any().add(initial_access_token::Column::ExpiresAt.lte(now)).add(initial_access_token::Column::UsesLeft.lte(0)),
            )
            .exec(self.db)
            .await
            .map_err(db_err)?
            .rows_affected;
        Ok(total)
    }
}

/// The row's grant (`table.grant_id`) is not revoked: a correlated `EXISTS` that reads one
/// grant by its primary key. `grant_id IN (SELECT id … WHERE revoked_at IS NULL)` would
/// read the same, but SQLite plans it as a list of every live grant built per statement,
/// so each code redemption and refresh rotation cost more with every login ever made.
fn grant_is_live<T: sea_orm::Iden + Clone + 'static>(table: T, grant_id: impl sea_orm::Iden + 'static) -> sea_orm::sea_query::SimpleExpr {
    let grant = sea_orm::sea_query::Query::select()
        .expr(Expr::val(1))
        .from(grant::Entity)
        .and_where(Expr::col((grant::Entity, grant::Column::Id)).equals((table, grant_id)))
        .and_where(Expr::col((grant::Entity, grant::Column::RevokedAt)).is_null())
        .to_owned();
    Expr::exists(grant)
}

fn to_pending(m: pending_request::Model) -> Result<PendingRequest, StorageError> {
    Ok(PendingRequest {
        kind: parse("oidc_pending_requests.kind", &m.kind)?,
        params: from_json("oidc_pending_requests.params", &m.params)?,
        expires_at: time("oidc_pending_requests.expires_at", m.expires_at)?,
        consumed_at: opt_time("oidc_pending_requests.consumed_at", m.consumed_at)?,
        created_at: time("oidc_pending_requests.created_at", m.created_at)?,
        lookup_hash: m.lookup_hash,
        tenant_id: m.tenant_id,
        client_id: m.client_id,
    })
}

fn to_grant(m: grant::Model) -> Result<OidcGrant, StorageError> {
    Ok(OidcGrant {
        id: m.id,
        tenant_id: m.tenant_id,
        client_id: m.client_id,
        user_id: m.user_id,
        session_id: m.session_id,
        offline: m.offline,
        revoked_at: opt_time("oidc_grants.revoked_at", m.revoked_at)?,
        created_at: time("oidc_grants.created_at", m.created_at)?,
    })
}

fn to_code(m: authorization_code::Model) -> Result<AuthorizationCode, StorageError> {
    Ok(AuthorizationCode {
        data: from_json("oidc_authorization_codes.data", &m.data)?,
        expires_at: time("oidc_authorization_codes.expires_at", m.expires_at)?,
        redeemed_at: opt_time("oidc_authorization_codes.redeemed_at", m.redeemed_at)?,
        created_at: time("oidc_authorization_codes.created_at", m.created_at)?,
        lookup_hash: m.lookup_hash,
        grant_id: m.grant_id,
    })
}

fn to_refresh(m: refresh_token::Model) -> Result<RefreshToken, StorageError> {
    Ok(RefreshToken {
        data: from_json("oidc_refresh_tokens.data", &m.data)?,
        expires_at: time("oidc_refresh_tokens.expires_at", m.expires_at)?,
        rotated_at: opt_time("oidc_refresh_tokens.rotated_at", m.rotated_at)?,
        revoked_at: opt_time("oidc_refresh_tokens.revoked_at", m.revoked_at)?,
        created_at: time("oidc_refresh_tokens.created_at", m.created_at)?,
        lookup_hash: m.lookup_hash,
        grant_id: m.grant_id,
    })
}

fn to_access(m: access_token::Model) -> Result<AccessTokenRecord, StorageError> {
    Ok(AccessTokenRecord {
        data: from_json("oidc_access_tokens.data", &m.data)?,
        expires_at: time("oidc_access_tokens.expires_at", m.expires_at)?,
        revoked_at: opt_time("oidc_access_tokens.revoked_at", m.revoked_at)?,
        created_at: time("oidc_access_tokens.created_at", m.created_at)?,
        lookup_hash: m.lookup_hash,
        grant_id: m.grant_id,
        tenant_id: m.tenant_id,
        client_id: m.client_id,
    })
}

fn to_consent(m: consent::Model) -> Result<Consent, StorageError> {
    Ok(Consent {
        scopes: from_json("oidc_consents.scopes", &m.scopes)?,
        granted_at: time("oidc_consents.granted_at", m.granted_at)?,
        tenant_id: m.tenant_id,
        client_id: m.client_id,
        user_id: m.user_id,
    })
}

fn to_iat(m: initial_access_token::Model) -> Result<InitialAccessToken, StorageError> {
    Ok(InitialAccessToken {
        expires_at: time("oidc_initial_access_tokens.expires_at", m.expires_at)?,
        created_at: time("oidc_initial_access_tokens.created_at", m.created_at)?,
        uses_left: count(m.uses_left),
        lookup_hash: m.lookup_hash,
        tenant_id: m.tenant_id,
    })
}
