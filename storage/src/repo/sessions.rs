//! Sessions shared by all nodes. Expiry is checked in every query against the `now`
//! the caller passes, so an expired row is never returned even before it is purged.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, TransactionTrait};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StorageError;
use crate::convert::{from_json, ms, time, to_json};
use crate::entity::session::{self, Column, Entity};
use crate::error::{db_err, on_conflict};
use crate::model::{NewLoginEvent, NewSession, Session};

pub struct Sessions<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> Sessions<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        Sessions { db }
    }

    pub async fn create(&self, new: &NewSession, now: OffsetDateTime) -> Result<Session, StorageError> {
        let model = model(new, now)?;
        Entity::insert(model.clone().into_active_model())
            .exec_without_returning(self.db)
            .await
            .map_err(on_conflict("session already exists"))?;
        to_session(model)
    }

    /// [`Self::create`] and the login's success event in one transaction: the history
    /// says "success" exactly when the session exists.
    pub async fn create_with_event(&self, new: &NewSession, event: &NewLoginEvent, now: OffsetDateTime) -> Result<Session, StorageError> {
        let model = model(new, now)?;
        let event = super::login_events::model(event)?;
        let txn = self.db.begin().await.map_err(db_err)?;
        Entity::insert(model.clone().into_active_model())
            .exec_without_returning(&txn)
            .await
            .map_err(on_conflict("session already exists"))?;
        crate::entity::login_event::Entity::insert(event.into_active_model()).exec_without_returning(&txn).await.map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        to_session(model)
    }

    /// The session, unless it is missing or its idle or absolute limit has passed.
    pub async fn get(&self, id: &str, now: OffsetDateTime) -> Result<Option<Session>, StorageError> {
        let model = Entity::find().filter(Column::Id.eq(id)).filter(alive(now)).one(self.db).await.map_err(db_err)?;
        model.map(to_session).transpose()
    }

    /// Records activity and extends the idle limit to `idle_until` (never past the
    /// absolute limit, which `get` checks anyway). False when the session is gone.
    pub async fn touch(&self, id: &str, now: OffsetDateTime, idle_until: OffsetDateTime) -> Result<bool, StorageError> {
        let result = Entity::update_many()
            .col_expr(Column::LastSeenAt, Expr::val(ms(now)))
            .col_expr(Column::IdleExpiresAt, Expr::val(ms(idle_until)))
            .filter(Column::Id.eq(id))
            .filter(alive(now))
            .exec(self.db)
            .await
            .map_err(db_err)?;
        Ok(result.rows_affected == 1)
    }

    /// Replaces the session's state (e.g. the next step of a login transaction).
    pub async fn update_data(&self, id: &str, data: &serde_json::Value) -> Result<(), StorageError> {
        let data = to_json(data)?;
        self.update(id, |u| u.col_expr(Column::Data, Expr::val(data))).await
    }

    /// Binds the session to the user who has just logged in (or unbinds it).
    pub async fn set_user(&self, id: &str, user_id: Option<Uuid>) -> Result<(), StorageError> {
        self.update(id, |u| u.col_expr(Column::UserId, Expr::val(user_id))).await
    }

    /// Moves the session to a new id (new cookie after login, against session fixation).
    pub async fn rotate(&self, old_id: &str, new_id: &str) -> Result<(), StorageError> {
        let result = Entity::update_many()
            .col_expr(Column::Id, Expr::val(new_id))
            .filter(Column::Id.eq(old_id))
            .exec(self.db)
            .await
            .map_err(on_conflict("session already exists"))?;
        if result.rows_affected == 0 {
            return Err(StorageError::NotFound);
        }
        Ok(())
    }

    /// Logout. Returns whether a session was removed (deleting twice is harmless).
    pub async fn delete(&self, id: &str) -> Result<bool, StorageError> {
        let result = Entity::delete_by_id(id.to_owned()).exec(self.db).await.map_err(db_err)?;
        Ok(result.rows_affected > 0)
    }

    /// A user's live sessions, oldest first (the operators' view of where a user is
    /// logged in).
    pub async fn list_for_user(&self, user_id: Uuid, now: OffsetDateTime) -> Result<Vec<Session>, StorageError> {
        let models = Entity::find()
            .filter(Column::UserId.eq(user_id))
            .filter(alive(now))
            .order_by_asc(Column::CreatedAt)
            .all(self.db)
            .await
            .map_err(db_err)?;
        models.into_iter().map(to_session).collect()
    }

    /// Ends all of a user's sessions (password change, lock, operator action).
    pub async fn delete_for_user(&self, user_id: Uuid) -> Result<u64, StorageError> {
        let result = Entity::delete_many().filter(Column::UserId.eq(user_id)).exec(self.db).await.map_err(db_err)?;
        Ok(result.rows_affected)
    }

    /// Deletes sessions past either limit. Returns how many.
    pub async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StorageError> {
        let result = Entity::delete_many()
            .filter(Condition::any().add(Column::IdleExpiresAt.lte(ms(now))).add(Column::AbsoluteExpiresAt.lte(ms(now))))
            .exec(self.db)
            .await
            .map_err(db_err)?;
        Ok(result.rows_affected)
    }

    async fn update(
        &self,
        id: &str,
        set: impl FnOnce(sea_orm::UpdateMany<Entity>) -> sea_orm::UpdateMany<Entity>,
    ) -> Result<(), StorageError> {
        let result = set(Entity::update_many().filter(Column::Id.eq(id))).exec(self.db).await.map_err(db_err)?;
        if result.rows_affected == 0 {
            return Err(StorageError::NotFound);
        }
        Ok(())
    }
}

fn alive(now: OffsetDateTime) -> Condition {
    Condition::all().add(Column::IdleExpiresAt.gt(ms(now))).add(Column::AbsoluteExpiresAt.gt(ms(now)))
}

fn to_session(m: session::Model) -> Result<Session, StorageError> {
    Ok(Session {
        data: from_json("sessions.data", &m.data)?,
        id: m.id,
        tenant_id: m.tenant_id,
        user_id: m.user_id,
        created_at: time("sessions.created_at", m.created_at)?,
        last_seen_at: time("sessions.last_seen_at", m.last_seen_at)?,
        idle_expires_at: time("sessions.idle_expires_at", m.idle_expires_at)?,
        absolute_expires_at: time("sessions.absolute_expires_at", m.absolute_expires_at)?,
    })
}

fn model(new: &NewSession, now: OffsetDateTime) -> Result<session::Model, StorageError> {
    Ok(session::Model {
        id: new.id.clone(),
        tenant_id: new.tenant_id,
        user_id: new.user_id,
        data: to_json(&new.data)?,
        created_at: ms(now),
        last_seen_at: ms(now),
        idle_expires_at: ms(new.idle_expires_at),
        absolute_expires_at: ms(new.absolute_expires_at),
    })
}
