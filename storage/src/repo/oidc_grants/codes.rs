//! Authorization codes redeemed in batches, each with the refresh token its tokens come
//! with: one transaction spends every code presented while the previous batch was being
//! written and stores their refresh tokens, as refresh-token rotations do (`refresh`).
//! A code spent without its refresh token, or a refresh token of a code still
//! spendable, cannot be left behind by an outage between the two.

use std::collections::{HashMap, HashSet};

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect, QueryTrait};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{OidcGrants, grant_is_live, to_code};
use crate::StorageError;
use crate::convert::{ms, to_json};
use crate::entity::oidc::{authorization_code, grant, refresh_token};
use crate::entity::user;
use crate::error::{db_err, on_conflict};
use crate::model::{CodeRedeemError, CodeRedemption, Redeemed, User};
use crate::repo::update_returning;
use crate::repo::users::to_user;
use crate::storage::begin_write;

impl OidcGrants<'_> {
    /// A batch of redemptions in one transaction; the answers come in the batch's order.
    /// Either every spent code's refresh token is stored or (on an error) nothing
    /// changed. The same code twice in a batch is spent by the first; the second is
    /// `NotSpent`, and `why_not_redeemed` then finds it used, as it would one at a time.
    pub async fn redeem_codes(&self, batch: Vec<CodeRedemption>, now: OffsetDateTime) -> Result<Vec<Redeemed>, StorageError> {
        let txn = begin_write(self.db).await?;
        let spend = spend_codes(batch.iter().map(|r| r.lookup_hash.as_str()), now);
        let mut spent: HashMap<String, authorization_code::Model> = update_returning::<authorization_code::Entity, _>(&txn, spend)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(|m| (m.lookup_hash.clone(), m))
            .collect();
        // Each spent code's user (whom its tokens are about), in two reads for the batch.
        let grant_ids: HashSet<Uuid> = spent.values().map(|m| m.grant_id).collect();
        let grant_users: HashMap<Uuid, Uuid> = if grant_ids.is_empty() {
            HashMap::new()
        } else {
            grant::Entity::find()
                .select_only()
                .columns([grant::Column::Id, grant::Column::UserId])
                .filter(grant::Column::Id.is_in(grant_ids))
                .into_tuple::<(Uuid, Option<Uuid>)>()
                .all(&txn)
                .await
                .map_err(db_err)?
                .into_iter()
                .filter_map(|(id, user)| Some((id, user?)))
                .collect()
        };
        let user_ids: HashSet<Uuid> = grant_users.values().copied().collect();
        let mut users: HashMap<Uuid, User> = HashMap::new();
        if !user_ids.is_empty() {
            for model in user::Entity::find().filter(user::Column::Id.is_in(user_ids)).all(&txn).await.map_err(db_err)? {
                users.insert(model.id, to_user(model)?);
            }
        }

        let mut answers = Vec::with_capacity(batch.len());
        let mut refresh_tokens = Vec::new();
        for redemption in batch {
            // `remove`: a second presentation of the same code in this batch finds it
            // gone, as it would find it redeemed one request later.
            let Some(row) = spent.remove(&redemption.lookup_hash) else {
                answers.push(Redeemed::NotSpent);
                continue;
            };
            let code = to_code(row)?;
            let user = grant_users.get(&code.grant_id).and_then(|id| users.get(id));
            let refresh = (redemption.refresh)(&code, user);
            if let Some(new) = &refresh {
                refresh_tokens.push(
                    refresh_token::Model {
                        lookup_hash: new.lookup_hash.clone(),
                        grant_id: code.grant_id,
                        data: to_json(&new.data)?,
                        expires_at: ms(new.expires_at),
                        rotated_at: None,
                        revoked_at: None,
                        created_at: ms(now),
                    }
                    .into_active_model(),
                );
            }
            let user = user.cloned().map(Box::new);
            answers.push(Redeemed::Spent { code, user, refresh_stored: refresh.is_some() });
        }
        if !refresh_tokens.is_empty() {
            refresh_token::Entity::insert_many(refresh_tokens)
                .exec_without_returning(&txn)
                .await
                .map_err(on_conflict("refresh token already exists"))?;
        }
        txn.commit().await.map_err(db_err)?;
        Ok(answers)
    }

    /// Why a presented code was not spent. One used before (or of a revoked grant)
    /// revokes its grant, so the tokens its first use obtained stop working too
    /// (RFC 6749 §4.1.2).
    pub async fn why_not_redeemed(&self, lookup_hash: &str, now: OffsetDateTime) -> CodeRedeemError {
        let row = match authorization_code::Entity::find_by_id(lookup_hash.to_owned()).one(self.db).await {
            Ok(Some(row)) => row,
            Ok(None) => return CodeRedeemError::NotFound,
            Err(err) => return db_err(err).into(),
        };
        let revoked = match self.get_grant(row.grant_id).await {
            Ok(grant) => grant.is_revoked(),
            Err(err) => return err.into(),
        };
        if row.redeemed_at.is_some() || revoked {
            return match self.revoke_grant(row.grant_id, now).await {
                Ok(_) => CodeRedeemError::AlreadyUsed { grant_id: row.grant_id },
                Err(err) => err.into(),
            };
        }
        CodeRedeemError::Expired
    }
}

/// Marks the live codes among `hashes` (of live grants) redeemed.
pub(super) fn spend_codes<'a>(hashes: impl IntoIterator<Item = &'a str>, now: OffsetDateTime) -> sea_orm::sea_query::UpdateStatement {
    use authorization_code::{Column, Entity};
    Entity::update_many()
        .col_expr(Column::RedeemedAt, Expr::val(ms(now)))
        .filter(Column::LookupHash.is_in(hashes))
        .filter(Column::RedeemedAt.is_null())
        .filter(Column::ExpiresAt.gt(ms(now)))
        .filter(grant_is_live(Entity, Column::GrantId))
        .into_query()
}
