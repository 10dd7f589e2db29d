//! Failure counters in the database: one row per throttled key, counting failures in a
//! fixed window. Counting is one INSERT … ON CONFLICT DO UPDATE … RETURNING, atomic on
//! both backends, so concurrent failures on several nodes are all counted.

use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, FromQueryResult, QueryFilter};
use time::OffsetDateTime;

use crate::StorageError;
use crate::convert::{ms, time};
use crate::entity::throttle_counter::{self, Column};
use crate::error::db_err;
use crate::shared::ThrottleWindow;

pub struct Throttle<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> Throttle<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        Throttle { db }
    }

    /// The failures counted for `key_hash` in its current window; `None` when there are
    /// none (never counted, or the window has ended).
    pub async fn failures(&self, key_hash: &str, now: OffsetDateTime) -> Result<Option<ThrottleWindow>, StorageError> {
        let row = throttle_counter::Entity::find_by_id(key_hash.to_owned())
            .filter(Column::WindowEndsAt.gt(ms(now)))
            .one(self.db)
            .await
            .map_err(db_err)?;
        row.map(window).transpose()
    }

    /// Counts one failure: the first in a window opens a window of `length` from `now`.
    pub async fn record_failure(
        &self,
        key_hash: &str,
        length: time::Duration,
        now: OffsetDateTime,
    ) -> Result<ThrottleWindow, StorageError> {
        let now_ms = ms(now);
        let ends = ms(now.checked_add(length).ok_or_else(|| StorageError::Invalid("throttle window out of range".into()))?);
        let table = throttle_counter::Entity;
        // Both SET expressions see the row as it was, so an ended window restarts at 1.
        let ended = || Expr::col((table, Column::WindowEndsAt)).lte(now_ms);
        let mut insert = Query::insert();
        insert
            .into_table(table)
            .columns([Column::KeyHash, Column::Failures, Column::WindowEndsAt])
            .values([key_hash.into(), 1i64.into(), ends.into()])
            .map_err(|e| StorageError::Invalid(e.to_string()))?
            .on_conflict(
                OnConflict::column(Column::KeyHash)
                    .values([
                        (Column::Failures, Expr::case(ended(), 1i64).finally(Expr::col((table, Column::Failures)).add(1i64)).into()),
                        (Column::WindowEndsAt, Expr::case(ended(), ends).finally(Expr::col((table, Column::WindowEndsAt))).into()),
                    ])
                    .to_owned(),
            )
            .returning_all();
        let row = self.db.query_one(&insert).await.map_err(db_err)?.ok_or(StorageError::NotFound)?;
        window(throttle_counter::Model::from_query_result(&row, "").map_err(db_err)?)
    }

    /// Deletes counters whose window has ended.
    pub async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StorageError> {
        let result =
            throttle_counter::Entity::delete_many().filter(Column::WindowEndsAt.lte(ms(now))).exec(self.db).await.map_err(db_err)?;
        Ok(result.rows_affected)
    }
}

fn window(row: throttle_counter::Model) -> Result<ThrottleWindow, StorageError> {
    Ok(ThrottleWindow { failures: u64::try_from(row.failures).unwrap_or(0), ends_at: time("window_ends_at", row.window_ends_at)? })
}
