//! The mail outbox: mails are enqueued in the same breath as the flow that causes them,
//! then claimed by a sender (on any node) and marked sent or failed.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::update_returning;
use crate::convert::{count, ms, opt_time, page_bounds, parse, time};
use crate::entity::mail_outbox::{self, Column, Entity};
use crate::error::db_err;
use crate::model::{NewMail, OutboxMail, Page};
use crate::{MAIL_MAX_ATTEMPTS, StorageError};

pub struct MailOutbox<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> MailOutbox<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        MailOutbox { db }
    }

    pub async fn enqueue(&self, new: &NewMail, now: OffsetDateTime) -> Result<OutboxMail, StorageError> {
        let model = mail_outbox::Model {
            id: Uuid::new_v4(),
            tenant_id: new.tenant_id,
            to_address: new.to_address.clone(),
            subject: new.subject.clone(),
            body_text: new.body_text.clone(),
            body_html: new.body_html.clone(),
            locale: new.locale.as_str().to_owned(),
            kind: new.kind.clone(),
            created_at: ms(now),
            sent_at: None,
            attempts: 0,
            last_error: None,
            claimed_until: None,
        };
        Entity::insert(model.clone().into_active_model()).exec_without_returning(self.db).await.map_err(db_err)?;
        to_mail(model)
    }

    pub async fn get(&self, id: Uuid) -> Result<OutboxMail, StorageError> {
        let model = Entity::find_by_id(id).one(self.db).await.map_err(db_err)?;
        to_mail(model.ok_or(StorageError::NotFound)?)
    }

    /// Mails newest first, of one tenant or (with `None`) of all.
    pub async fn list(&self, tenant_id: Option<Uuid>, offset: u64, limit: u64) -> Result<Page<OutboxMail>, StorageError> {
        let (offset, limit) = page_bounds(offset, limit);
        let mut query = Entity::find();
        if let Some(tenant_id) = tenant_id {
            query = query.filter(Column::TenantId.eq(tenant_id));
        }
        let total = query.clone().count(self.db).await.map_err(db_err)?;
        let models = query
            .order_by_desc(Column::CreatedAt)
            .order_by_desc(Column::Id)
            .offset(offset)
            .limit(limit)
            .all(self.db)
            .await
            .map_err(db_err)?;
        let items = models.into_iter().map(to_mail).collect::<Result<_, _>>()?;
        Ok(Page { items, total })
    }

    /// Claims up to `limit` unsent mails, oldest first, until `lease_until`. Mails claimed
    /// by another sender whose lease has not run out are skipped, as are mails that
    /// failed [`MAIL_MAX_ATTEMPTS`] times. Concurrent claimers never get the same mail.
    pub async fn claim_unsent(
        &self,
        limit: u64,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Vec<OutboxMail>, StorageError> {
        let candidates = Entity::find()
            .select_only()
            .column(Column::Id)
            .filter(claimable(now))
            .order_by_asc(Column::CreatedAt)
            .limit(limit)
            .into_query();
        // The claim condition is repeated on the outer UPDATE: PostgreSQL re-checks it
        // against the latest row version, so a row claimed meanwhile is skipped.
        let stmt = Entity::update_many()
            .col_expr(Column::ClaimedUntil, Expr::val(ms(lease_until)))
            .filter(Column::Id.in_subquery(candidates))
            .filter(claimable(now))
            .into_query();
        let mut models = update_returning::<Entity, _>(self.db, stmt).await.map_err(db_err)?;
        models.sort_by_key(|m| m.created_at);
        models.into_iter().map(to_mail).collect()
    }

    pub async fn mark_sent(&self, id: Uuid, now: OffsetDateTime) -> Result<(), StorageError> {
        let result = Entity::update_many()
            .col_expr(Column::SentAt, Expr::val(ms(now)))
            .col_expr(Column::ClaimedUntil, Expr::val(Option::<i64>::None))
            .filter(Column::Id.eq(id))
            .exec(self.db)
            .await
            .map_err(db_err)?;
        if result.rows_affected == 0 {
            return Err(StorageError::NotFound);
        }
        Ok(())
    }

    /// Records a failed attempt; the mail is not claimed again before `retry_after`.
    pub async fn mark_failed(&self, id: Uuid, error: &str, retry_after: OffsetDateTime) -> Result<(), StorageError> {
        let result = Entity::update_many()
            .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
            .col_expr(Column::LastError, Expr::val(error))
            .col_expr(Column::ClaimedUntil, Expr::val(ms(retry_after)))
            .filter(Column::Id.eq(id))
            .exec(self.db)
            .await
            .map_err(db_err)?;
        if result.rows_affected == 0 {
            return Err(StorageError::NotFound);
        }
        Ok(())
    }
}

fn claimable(now: OffsetDateTime) -> Condition {
    Condition::all()
        .add(Column::SentAt.is_null())
        .add(Column::Attempts.lt(i64::from(MAIL_MAX_ATTEMPTS)))
        .add(Condition::any().add(Column::ClaimedUntil.is_null()).add(Column::ClaimedUntil.lte(ms(now))))
}

fn to_mail(m: mail_outbox::Model) -> Result<OutboxMail, StorageError> {
    Ok(OutboxMail {
        id: m.id,
        tenant_id: m.tenant_id,
        to_address: m.to_address,
        subject: m.subject,
        body_text: m.body_text,
        body_html: m.body_html,
        locale: parse("mail_outbox.locale", &m.locale)?,
        kind: m.kind,
        created_at: time("mail_outbox.created_at", m.created_at)?,
        sent_at: opt_time("mail_outbox.sent_at", m.sent_at)?,
        attempts: count(m.attempts),
        last_error: m.last_error,
    })
}
