//! Single-use tickets, redeemed by one conditional UPDATE so that a link or download
//! works exactly as often as allowed, whatever the number of nodes and requests.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QueryTrait};
use time::OffsetDateTime;
use uuid::Uuid;

use super::update_returning;
use crate::StorageError;
use crate::convert::{count, ms, opt_time, parse, small, time};
use crate::entity::ticket::{self, Column, Entity};
use crate::error::{db_err, on_conflict};
use crate::model::{AttemptOutcome, NewTicket, RedeemError, Ticket, TicketKind};

pub struct Tickets<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> Tickets<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        Tickets { db }
    }

    pub async fn create(&self, new: &NewTicket, now: OffsetDateTime) -> Result<Ticket, StorageError> {
        insert_on(self.db, new, now).await
    }

    pub async fn get(&self, id: Uuid) -> Result<Ticket, StorageError> {
        let model = Entity::find_by_id(id).one(self.db).await.map_err(db_err)?;
        to_ticket(model.ok_or(StorageError::NotFound)?)
    }

    /// The ticket behind a URL token, by [`crate::token_lookup_hash`] of the token.
    pub async fn find_by_lookup_hash(&self, lookup_hash: &str) -> Result<Option<Ticket>, StorageError> {
        self.find_one(Column::LookupHash.eq(lookup_hash)).await
    }

    /// The download ticket for a certificate-acquisition ID.
    pub async fn find_by_acquisition_id(&self, acquisition_id: &str) -> Result<Option<Ticket>, StorageError> {
        self.find_one(Column::AcquisitionId.eq(acquisition_id)).await
    }

    /// Counts one wrong one-time or download password: an atomic decrement that never
    /// goes below 0. At 0 the ticket is locked and `redeem` refuses it.
    pub async fn record_failed_attempt(&self, id: Uuid) -> Result<AttemptOutcome, StorageError> {
        let stmt = Entity::update_many()
            .col_expr(Column::AttemptsLeft, Expr::col(Column::AttemptsLeft).sub(1))
            .filter(Column::Id.eq(id))
            .filter(Column::AttemptsLeft.gt(0))
            .into_query();
        let updated = update_returning::<Entity, _>(self.db, stmt).await.map_err(db_err)?;
        match updated.first() {
            Some(row) => Ok(AttemptOutcome { attempts_left: count(row.attempts_left) }),
            // Nothing left to decrement: already locked (or gone).
            None => {
                self.get(id).await?;
                Ok(AttemptOutcome { attempts_left: 0 })
            }
        }
    }

    /// Uses the ticket once, atomically: one conditional UPDATE decides, so of many
    /// concurrent redemptions of a single-use ticket exactly one succeeds. Returns the
    /// ticket as it is after this use.
    pub async fn redeem(&self, id: Uuid, now: OffsetDateTime) -> Result<Ticket, RedeemError> {
        redeem_on(self.db, id, now).await
    }

    /// Voids the user's unspent tickets of `kind` (a new ticket replaces older ones) and
    /// drops their sealed payloads. Returns how many were voided.
    pub async fn invalidate_for_user(&self, user_id: Uuid, kind: TicketKind) -> Result<u64, StorageError> {
        self.invalidate(Column::UserId.eq(user_id), kind).await
    }

    /// As [`Self::invalidate_for_user`], for one device's tickets (e.g. its downloads).
    pub async fn invalidate_for_device(&self, device_id: Uuid, kind: TicketKind) -> Result<u64, StorageError> {
        self.invalidate(Column::DeviceId.eq(device_id), kind).await
    }

    /// The user's tickets that can still be redeemed at `now`, newest first.
    pub async fn list_pending_for_user(&self, user_id: Uuid, now: OffsetDateTime) -> Result<Vec<Ticket>, StorageError> {
        let models = Entity::find()
            .filter(Column::UserId.eq(user_id))
            .filter(Column::UsesLeft.gt(0))
            .filter(Column::AttemptsLeft.gt(0))
            .filter(Column::ExpiresAt.gt(ms(now)))
            .order_by_desc(Column::CreatedAt)
            .all(self.db)
            .await
            .map_err(db_err)?;
        models.into_iter().map(to_ticket).collect()
    }

    /// Deletes tickets whose expiry has passed. Returns how many.
    pub async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StorageError> {
        let result = Entity::delete_many().filter(Column::ExpiresAt.lte(ms(now))).exec(self.db).await.map_err(db_err)?;
        Ok(result.rows_affected)
    }

    async fn invalidate(&self, owner: sea_orm::sea_query::SimpleExpr, kind: TicketKind) -> Result<u64, StorageError> {
        invalidate_on(self.db, owner, kind).await
    }

    async fn find_one(&self, condition: sea_orm::sea_query::SimpleExpr) -> Result<Option<Ticket>, StorageError> {
        let model = Entity::find().filter(condition).one(self.db).await.map_err(db_err)?;
        model.map(to_ticket).transpose()
    }
}

pub(crate) async fn insert_on<C: ConnectionTrait>(db: &C, new: &NewTicket, now: OffsetDateTime) -> Result<Ticket, StorageError> {
    let model = ticket::Model {
        id: Uuid::new_v4(),
        kind: new.kind.as_str().to_owned(),
        tenant_id: new.tenant_id,
        user_id: new.user_id,
        device_id: new.device_id,
        lookup_hash: new.lookup_hash.clone(),
        secret_hash: new.secret_hash.clone(),
        acquisition_id: new.acquisition_id.clone(),
        payload_sealed: new.payload_sealed.clone(),
        expires_at: ms(new.expires_at),
        attempts_left: small("attempts", new.attempts)?,
        uses_left: small("uses", new.uses)?,
        created_at: ms(now),
        last_used_at: None,
    };
    Entity::insert(model.clone().into_active_model())
        .exec_without_returning(db)
        .await
        .map_err(on_conflict("ticket token or acquisition ID already exists"))?;
    to_ticket(model)
}

/// [`Tickets::redeem`] on any connection, so a flow can redeem inside the transaction
/// that also records what the ticket was for.
pub(crate) async fn redeem_on<C: ConnectionTrait>(db: &C, id: Uuid, now: OffsetDateTime) -> Result<Ticket, RedeemError> {
    let stmt = Entity::update_many()
        .col_expr(Column::UsesLeft, Expr::col(Column::UsesLeft).sub(1))
        .col_expr(Column::LastUsedAt, Expr::val(ms(now)))
        .filter(Column::Id.eq(id))
        .filter(Column::UsesLeft.gt(0))
        .filter(Column::AttemptsLeft.gt(0))
        .filter(Column::ExpiresAt.gt(ms(now)))
        .into_query();
    let updated = update_returning::<Entity, _>(db, stmt).await.map_err(db_err)?;
    if let Some(row) = updated.into_iter().next() {
        return Ok(to_ticket(row)?);
    }
    // Not redeemed: read the row only to say why.
    let row = Entity::find_by_id(id).one(db).await.map_err(db_err)?;
    let Some(row) = row else {
        return Err(RedeemError::NotFound);
    };
    Err(if row.uses_left <= 0 {
        RedeemError::Spent
    } else if row.attempts_left <= 0 {
        RedeemError::Locked
    } else if row.expires_at <= ms(now) {
        RedeemError::Expired
    } else {
        // The conditions held on re-read; only a concurrent change explains the miss.
        RedeemError::Spent
    })
}

pub(crate) async fn invalidate_on<C: ConnectionTrait>(
    db: &C,
    owner: sea_orm::sea_query::SimpleExpr,
    kind: TicketKind,
) -> Result<u64, StorageError> {
    let result = Entity::update_many()
        .col_expr(Column::UsesLeft, Expr::val(0))
        .col_expr(Column::PayloadSealed, Expr::val(Option::<Vec<u8>>::None))
        .filter(owner)
        .filter(Column::Kind.eq(kind.as_str()))
        .filter(Column::UsesLeft.gt(0))
        .exec(db)
        .await
        .map_err(db_err)?;
    Ok(result.rows_affected)
}

fn to_ticket(m: ticket::Model) -> Result<Ticket, StorageError> {
    Ok(Ticket {
        id: m.id,
        kind: parse("tickets.kind", &m.kind)?,
        tenant_id: m.tenant_id,
        user_id: m.user_id,
        device_id: m.device_id,
        lookup_hash: m.lookup_hash,
        secret_hash: m.secret_hash,
        acquisition_id: m.acquisition_id,
        payload_sealed: m.payload_sealed,
        expires_at: time("tickets.expires_at", m.expires_at)?,
        attempts_left: count(m.attempts_left),
        uses_left: count(m.uses_left),
        created_at: time("tickets.created_at", m.created_at)?,
        last_used_at: opt_time("tickets.last_used_at", m.last_used_at)?,
    })
}
