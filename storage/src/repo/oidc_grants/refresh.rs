//! Refresh tokens with rotation. Presenting a token spends it and stores its successor in
//! one transaction, so an outage between the two can neither strand the client without a
//! token nor leave a successor that was never handed out beside a spendable parent.
//!
//! Rotations come in batches: one transaction spends and replaces every token presented
//! while the previous batch was being written. A refresh is mostly database round trips,
//! and on SQLite (one writer) those queue; a batch pays them once for all its tokens.

use std::collections::{HashMap, HashSet};

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect, QueryTrait};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{OidcGrants, grant_is_live, to_refresh};
use crate::StorageError;
use crate::convert::{ms, to_json};
use crate::entity::oidc::{grant, refresh_token};
use crate::entity::user;
use crate::error::{db_err, on_conflict};
use crate::model::{RefreshError, RefreshRotation, RefreshToken, Rotated, User};
use crate::repo::update_returning;
use crate::repo::users::to_user;
use crate::storage::begin_write;

impl OidcGrants<'_> {
    pub async fn insert_refresh_token(
        &self,
        lookup_hash: &str,
        grant_id: Uuid,
        data: &serde_json::Value,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<RefreshToken, StorageError> {
        let model = refresh_token::Model {
            lookup_hash: lookup_hash.to_owned(),
            grant_id,
            data: to_json(data)?,
            expires_at: ms(expires_at),
            rotated_at: None,
            revoked_at: None,
            created_at: ms(now),
        };
        refresh_token::Entity::insert(model.clone().into_active_model())
            .exec_without_returning(self.db)
            .await
            .map_err(on_conflict("refresh token already exists"))?;
        to_refresh(model)
    }

    /// One rotation: spends a live token of the client's live grant and stores its
    /// successor (same grant, same data, RFC 6749 §6); returns the spent token.
    /// Presenting a token that was already rotated revokes the whole family.
    pub async fn rotate_refresh_token(&self, rotation: RefreshRotation, now: OffsetDateTime) -> Result<RefreshToken, RefreshError> {
        let (lookup, client) = (rotation.lookup_hash.clone(), rotation.client_id.clone());
        match self.rotate_refresh_tokens(vec![rotation], now).await?.pop() {
            Some(Rotated::Spent { token, .. }) => Ok(token),
            Some(Rotated::Refused) => Err(RefreshError::Refused),
            _ => Err(self.why_not_rotated(&lookup, &client, now).await),
        }
    }

    /// A batch of rotations in one transaction; the answers come in the batch's order.
    /// Either every spent token's successor is stored or (on an error) nothing changed.
    /// The same token twice in a batch is spent by the first; the second is `NotSpent`,
    /// and `why_not_rotated` then finds it reused, as it would one at a time.
    pub async fn rotate_refresh_tokens(&self, batch: Vec<RefreshRotation>, now: OffsetDateTime) -> Result<Vec<Rotated>, StorageError> {
        use refresh_token::{Column, Entity};
        let spend = spend_refresh(batch.iter().map(|r| r.lookup_hash.as_str()), now);

        let txn = begin_write(self.db).await?;
        let mut spent: HashMap<String, refresh_token::Model> =
            update_returning::<Entity, _>(&txn, spend).await.map_err(db_err)?.into_iter().map(|m| (m.lookup_hash.clone(), m)).collect();
        let grant_ids: HashSet<Uuid> = spent.values().map(|m| m.grant_id).collect();
        // Each spent token's client (to refuse another client's token) and user (whom the
        // new tokens are about), in two reads for the whole batch.
        let grants: HashMap<Uuid, (String, Option<Uuid>)> = if grant_ids.is_empty() {
            HashMap::new()
        } else {
            grant::Entity::find()
                .select_only()
                .columns([grant::Column::Id, grant::Column::ClientId, grant::Column::UserId])
                .filter(grant::Column::Id.is_in(grant_ids))
                .into_tuple::<(Uuid, String, Option<Uuid>)>()
                .all(&txn)
                .await
                .map_err(db_err)?
                .into_iter()
                .map(|(id, client, user)| (id, (client, user)))
                .collect()
        };
        let user_ids: HashSet<Uuid> = grants.values().filter_map(|(_, user)| *user).collect();
        let mut users: HashMap<Uuid, User> = HashMap::new();
        if !user_ids.is_empty() {
            for model in user::Entity::find().filter(user::Column::Id.is_in(user_ids)).all(&txn).await.map_err(db_err)? {
                users.insert(model.id, to_user(model)?);
            }
        }

        let mut answers = Vec::with_capacity(batch.len());
        let (mut successors, mut unspend) = (Vec::new(), Vec::new());
        for rotation in batch {
            // `remove`: a second presentation of the same token in this batch finds it
            // gone, as it would find it rotated one request later.
            let Some(row) = spent.remove(&rotation.lookup_hash) else {
                answers.push(Rotated::NotSpent);
                continue;
            };
            let Some((client_id, user_id)) = grants.get(&row.grant_id) else {
                unspend.push(row.lookup_hash);
                answers.push(Rotated::NotSpent);
                continue;
            };
            if *client_id != rotation.client_id {
                unspend.push(row.lookup_hash);
                answers.push(Rotated::NotSpent);
                continue;
            }
            let token = to_refresh(row.clone())?;
            if !(rotation.accept)(&token) {
                unspend.push(row.lookup_hash);
                answers.push(Rotated::Refused);
                continue;
            }
            successors.push(
                refresh_token::Model {
                    lookup_hash: rotation.successor_hash,
                    grant_id: row.grant_id,
                    data: row.data,
                    expires_at: ms(rotation.successor_expires_at),
                    rotated_at: None,
                    revoked_at: None,
                    created_at: ms(now),
                }
                .into_active_model(),
            );
            let user = user_id.and_then(|id| users.get(&id)).cloned().map(Box::new);
            answers.push(Rotated::Spent { token, user });
        }
        if !unspend.is_empty() {
            Entity::update_many()
                .col_expr(Column::RotatedAt, Expr::val(Option::<i64>::None))
                .filter(Column::LookupHash.is_in(unspend))
                .exec(&txn)
                .await
                .map_err(db_err)?;
        }
        if !successors.is_empty() {
            Entity::insert_many(successors).exec_without_returning(&txn).await.map_err(on_conflict("refresh token already exists"))?;
        }
        txn.commit().await.map_err(db_err)?;
        Ok(answers)
    }

    /// Why a presented token was not spent; a token already rotated revokes its grant
    /// (a copy is in someone else's hands). Another client's token reads as unknown.
    pub async fn why_not_rotated(&self, lookup_hash: &str, client_id: &str, now: OffsetDateTime) -> RefreshError {
        let row = match refresh_token::Entity::find_by_id(lookup_hash.to_owned()).one(self.db).await {
            Ok(Some(row)) => row,
            Ok(None) => return RefreshError::NotFound,
            Err(err) => return db_err(err).into(),
        };
        let grant = match self.get_grant(row.grant_id).await {
            Ok(grant) => grant,
            Err(err) => return err.into(),
        };
        if grant.client_id != client_id {
            return RefreshError::NotFound;
        }
        if row.revoked_at.is_some() || grant.is_revoked() {
            return RefreshError::Revoked;
        }
        if row.rotated_at.is_some() {
            return match self.revoke_grant(row.grant_id, now).await {
                Ok(_) => RefreshError::Reused { grant_id: row.grant_id },
                Err(err) => err.into(),
            };
        }
        RefreshError::Expired
    }

    /// The refresh token, live or not (for introspection and revocation).
    pub async fn find_refresh_token(&self, lookup_hash: &str) -> Result<Option<RefreshToken>, StorageError> {
        let model = refresh_token::Entity::find_by_id(lookup_hash.to_owned()).one(self.db).await.map_err(db_err)?;
        model.map(to_refresh).transpose()
    }
}

/// Marks the live, unrotated tokens among `hashes` (of live grants) rotated.
pub(super) fn spend_refresh<'a>(hashes: impl IntoIterator<Item = &'a str>, now: OffsetDateTime) -> sea_orm::sea_query::UpdateStatement {
    use refresh_token::{Column, Entity};
    Entity::update_many()
        .col_expr(Column::RotatedAt, Expr::val(ms(now)))
        .filter(Column::LookupHash.is_in(hashes))
        .filter(Column::RotatedAt.is_null())
        .filter(Column::RevokedAt.is_null())
        .filter(Column::ExpiresAt.gt(ms(now)))
        .filter(grant_is_live(Entity, Column::GrantId))
        .into_query()
}
