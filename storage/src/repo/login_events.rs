//! Login history, paged for the "login history" page.

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StorageError;
use crate::convert::{from_json, ms, page_bounds, time, to_json};
use crate::entity::login_event::{self, Column, Entity};
use crate::error::db_err;
use crate::model::{LoginEvent, LoginResult, NewLoginEvent, Page};

pub struct LoginEvents<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> LoginEvents<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        LoginEvents { db }
    }

    pub async fn record(&self, new: &NewLoginEvent) -> Result<LoginEvent, StorageError> {
        let model = model(new)?;
        Entity::insert(model.clone().into_active_model()).exec_without_returning(self.db).await.map_err(db_err)?;
        to_event(model)
    }

    /// Deletes one event: the success of a login whose session could not be stored.
    pub async fn delete(&self, id: Uuid) -> Result<(), StorageError> {
        Entity::delete_by_id(id).exec(self.db).await.map_err(db_err)?;
        Ok(())
    }

    /// A user's attempts at or after `since`, newest first, with the total count.
    pub async fn list_for_user(
        &self,
        user_id: Uuid,
        since: OffsetDateTime,
        offset: u64,
        limit: u64,
    ) -> Result<Page<LoginEvent>, StorageError> {
        self.page(Column::UserId.eq(user_id), since, offset, limit).await
    }

    /// All attempts in a tenant (operators' view), newest first.
    pub async fn list_for_tenant(
        &self,
        tenant_id: Uuid,
        since: OffsetDateTime,
        offset: u64,
        limit: u64,
    ) -> Result<Page<LoginEvent>, StorageError> {
        self.page(Column::TenantId.eq(tenant_id), since, offset, limit).await
    }

    /// A tenant's attempts matching `q`, newest first (the operators' query and export).
    pub async fn search(
        &self,
        tenant_id: Uuid,
        q: &crate::model::LoginEventQuery,
        offset: u64,
        limit: u64,
    ) -> Result<Page<LoginEvent>, StorageError> {
        let (offset, limit) = page_bounds(offset, limit);
        let mut query = Entity::find().filter(Column::TenantId.eq(tenant_id));
        if let Some(user_id) = q.user_id {
            query = query.filter(Column::UserId.eq(user_id));
        }
        if let Some(login_id) = &q.attempted_login_id {
            query = query.filter(Column::AttemptedLoginId.eq(login_id.as_str()));
        }
        if let Some(since) = q.since {
            query = query.filter(Column::OccurredAt.gte(ms(since)));
        }
        if let Some(until) = q.until {
            query = query.filter(Column::OccurredAt.lt(ms(until)));
        }
        if let Some(result) = &q.result {
            query = query.filter(Column::Result.eq(result.as_str()));
        }
        self.newest_first(query, offset, limit).await
    }

    /// Deletes events older than `cutoff` (retention). Returns how many.
    pub async fn purge_before(&self, cutoff: OffsetDateTime) -> Result<u64, StorageError> {
        let result = Entity::delete_many().filter(Column::OccurredAt.lt(ms(cutoff))).exec(self.db).await.map_err(db_err)?;
        Ok(result.rows_affected)
    }

    async fn page(
        &self,
        owner: sea_orm::sea_query::SimpleExpr,
        since: OffsetDateTime,
        offset: u64,
        limit: u64,
    ) -> Result<Page<LoginEvent>, StorageError> {
        let (offset, limit) = page_bounds(offset, limit);
        let query = Entity::find().filter(owner).filter(Column::OccurredAt.gte(ms(since)));
        self.newest_first(query, offset, limit).await
    }

    /// One page of `query`, newest first, with the total count of matching events.
    async fn newest_first(&self, query: sea_orm::Select<Entity>, offset: u64, limit: u64) -> Result<Page<LoginEvent>, StorageError> {
        let total = query.clone().count(self.db).await.map_err(db_err)?;
        let models = query
            .order_by_desc(Column::OccurredAt)
            .order_by_desc(Column::Id)
            .offset(offset)
            .limit(limit)
            .all(self.db)
            .await
            .map_err(db_err)?;
        let items = models.into_iter().map(to_event).collect::<Result<_, _>>()?;
        Ok(Page { items, total })
    }
}

fn to_event(m: login_event::Model) -> Result<LoginEvent, StorageError> {
    let Ok(result) = m.result.parse::<LoginResult>();
    Ok(LoginEvent {
        id: m.id,
        tenant_id: m.tenant_id,
        user_id: m.user_id,
        attempted_login_id: m.attempted_login_id,
        occurred_at: time("login_events.occurred_at", m.occurred_at)?,
        source_ip: m.source_ip,
        result,
        factors: from_json("login_events.factors", &m.factors)?,
        user_agent: m.user_agent,
        detail: m.detail,
    })
}

/// The row of a new event (shared with the session store, which writes a login's success
/// in the same transaction as its session).
pub(crate) fn model(new: &NewLoginEvent) -> Result<login_event::Model, StorageError> {
    Ok(login_event::Model {
        id: Uuid::new_v4(),
        tenant_id: new.tenant_id,
        user_id: new.user_id,
        attempted_login_id: new.attempted_login_id.clone(),
        occurred_at: ms(new.occurred_at),
        source_ip: new.source_ip.clone(),
        result: new.result.as_str().to_owned(),
        factors: to_json(&new.factors)?,
        user_agent: new.user_agent.clone(),
        detail: new.detail.clone(),
    })
}
