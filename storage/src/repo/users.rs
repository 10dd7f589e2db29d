//! Users: credentials, status, and atomic lockout counting.

use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::update_returning;
use crate::StorageError;
use crate::convert::{count, ms, opt_parse, opt_time, page_bounds, parse, time};
use crate::entity::user::{self, Column, Entity};
use crate::entity::{device, password_history};
use crate::error::{db_err, on_conflict};
use crate::model::{Device, LockReason, LockoutOutcome, LoginMethod, NewUser, Page, User, UserChangeSet, UserStatus};
use crate::storage::begin_write;

pub struct Users<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> Users<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        Users { db }
    }

    /// Creates an active user without credentials (they come at enrollment).
    pub async fn create(&self, new: &NewUser, now: OffsetDateTime) -> Result<User, StorageError> {
        let model = new_user_model(new, now)?;
        insert_user_on(self.db, &model).await?;
        to_user(model)
    }

    pub async fn get(&self, id: Uuid) -> Result<User, StorageError> {
        let model = Entity::find_by_id(id).one(self.db).await.map_err(db_err)?;
        to_user(model.ok_or(StorageError::NotFound)?)
    }

    pub async fn get_by_login_id(&self, tenant_id: Uuid, login_id: &str) -> Result<Option<User>, StorageError> {
        let model = Entity::find()
            .filter(Column::TenantId.eq(tenant_id))
            .filter(Column::LoginId.eq(login_id))
            .one(self.db)
            .await
            .map_err(db_err)?;
        model.map(to_user).transpose()
    }

    /// The user whose ID is `login_id` ignoring case (the tenant's unique key: SCIM's
    /// `userName` is `caseExact: false`).
    pub async fn get_by_login_id_key(&self, tenant_id: Uuid, login_id: &str) -> Result<Option<User>, StorageError> {
        let model = Entity::find()
            .filter(Column::TenantId.eq(tenant_id))
            .filter(Column::LoginIdKey.eq(crate::model::login_id_key(login_id)))
            .one(self.db)
            .await
            .map_err(db_err)?;
        model.map(to_user).transpose()
    }

    /// Whether a user of the tenant has this ID, or one differing only in case or looking
    /// the same: what the unique keys would refuse on `create`.
    pub async fn login_id_in_use(&self, tenant_id: Uuid, login_id: &str) -> Result<bool, StorageError> {
        let found = Entity::find()
            .filter(Column::TenantId.eq(tenant_id))
            .filter(
                sea_orm::Condition::any()
                    .add(Column::LoginIdKey.eq(crate::model::login_id_key(login_id)))
                    .add(Column::LoginIdSkeleton.eq(crate::model::login_id_skeleton(login_id))),
            )
            .one(self.db)
            .await
            .map_err(db_err)?;
        Ok(found.is_some())
    }

    /// Users of a tenant ordered by user ID.
    pub async fn list(&self, tenant_id: Uuid, offset: u64, limit: u64) -> Result<Page<User>, StorageError> {
        let (offset, limit) = page_bounds(offset, limit);
        let query = Entity::find().filter(Column::TenantId.eq(tenant_id));
        let total = query.clone().count(self.db).await.map_err(db_err)?;
        let models = query.order_by_asc(Column::LoginId).offset(offset).limit(limit).all(self.db).await.map_err(db_err)?;
        let items = models.into_iter().map(to_user).collect::<Result<_, _>>()?;
        Ok(Page { items, total })
    }

    /// A tenant's users matching `q`, ordered by user ID (the operators' user list).
    pub async fn search(&self, tenant_id: Uuid, q: &crate::model::UserQuery, offset: u64, limit: u64) -> Result<Page<User>, StorageError> {
        let (offset, limit) = page_bounds(offset, limit);
        let mut query = Entity::find().filter(Column::TenantId.eq(tenant_id));
        if let Some(text) = q.text.as_deref().filter(|t| !t.is_empty()) {
            // The e-mail addresses live on the devices; a deleted device's address no
            // longer finds its user.
            let by_email = sea_orm::sea_query::Query::select()
                .column(device::Column::UserId)
                .from(device::Entity)
                .and_where(contains_ignoring_case(device::Column::Email, text))
                .and_where(Expr::col(device::Column::DeletedAt).is_null())
                .to_owned();
            query = query.filter(
                sea_orm::Condition::any()
                    .add(contains_ignoring_case(Column::LoginId, text))
                    // The key is lower-cased by Rust, beyond ASCII: SQLite's LOWER() leaves
                    // `Ø` as it is, so `Øyvind` would not find itself through LoginId alone.
                    .add(contains_ignoring_case(Column::LoginIdKey, text))
                    .add(contains_ignoring_case(Column::DisplayName, text))
                    .add(Column::Id.in_subquery(by_email)),
            );
        }
        if let Some(status) = q.status {
            query = query.filter(Column::Status.eq(status.as_str()));
        }
        match q.locked {
            Some(true) => query = query.filter(Column::LockedAt.is_not_null()),
            Some(false) => query = query.filter(Column::LockedAt.is_null()),
            None => {}
        }
        let total = query.clone().count(self.db).await.map_err(db_err)?;
        let models = query.order_by_asc(Column::LoginId).offset(offset).limit(limit).all(self.db).await.map_err(db_err)?;
        let items = models.into_iter().map(to_user).collect::<Result<_, _>>()?;
        Ok(Page { items, total })
    }

    /// Stores a new current password hash and records it in the history, keeping only
    /// the newest `keep` entries (at least 1), all in one transaction.
    pub async fn set_password(
        &self,
        id: Uuid,
        password_hash: &str,
        must_change: bool,
        keep: u32,
        now: OffsetDateTime,
    ) -> Result<(), StorageError> {
        let txn = begin_write(self.db).await?;
        set_password_on(&txn, id, password_hash, must_change, keep, now).await?;
        txn.commit().await.map_err(db_err)
    }

    /// The newest `n` password hashes (the current one first), for the reuse rule.
    pub async fn recent_password_hashes(&self, id: Uuid, n: u32) -> Result<Vec<String>, StorageError> {
        let rows = password_history::Entity::find()
            .filter(password_history::Column::UserId.eq(id))
            .order_by_desc(password_history::Column::Seq)
            .limit(u64::from(n))
            .all(self.db)
            .await
            .map_err(db_err)?;
        Ok(rows.into_iter().map(|row| row.password_hash).collect())
    }

    pub async fn set_password_must_change(&self, id: Uuid, must_change: bool, now: OffsetDateTime) -> Result<(), StorageError> {
        self.update(id, now, |u| u.col_expr(Column::PasswordMustChange, Expr::val(must_change))).await
    }

    /// Stores the secret question's code and the hash of its (normalised) answer.
    pub async fn set_secret_answer(&self, id: Uuid, question: &str, answer_hash: &str, now: OffsetDateTime) -> Result<(), StorageError> {
        self.update(id, now, |u| {
            u.col_expr(Column::SecretQuestion, Expr::val(question)).col_expr(Column::SecretAnswerHash, Expr::val(answer_hash))
        })
        .await
    }

    pub async fn set_login_method(&self, id: Uuid, method: LoginMethod, now: OffsetDateTime) -> Result<(), StorageError> {
        self.update(id, now, |u| u.col_expr(Column::LoginMethod, Expr::val(method.as_str()))).await
    }

    /// Stores (or with `None` removes) the sealed TOTP secret. Steps used with an earlier
    /// secret no longer count.
    pub async fn set_totp_secret(&self, id: Uuid, sealed: Option<&[u8]>, now: OffsetDateTime) -> Result<(), StorageError> {
        let sealed = sealed.map(<[u8]>::to_vec);
        self.update(id, now, |u| {
            u.col_expr(Column::TotpSecretSealed, Expr::val(sealed)).col_expr(Column::TotpLastStep, Expr::val(Option::<i64>::None))
        })
        .await
    }

    /// Registers the user's first TOTP secret: false, and nothing changes, when one is
    /// registered already (a set-up page opened before another one completed). Atomic, so
    /// of two set-ups finishing at once on two nodes one wins.
    pub async fn set_first_totp_secret(&self, id: Uuid, sealed: &[u8], now: OffsetDateTime) -> Result<bool, StorageError> {
        let result = Entity::update_many()
            .col_expr(Column::TotpSecretSealed, Expr::val(Some(sealed.to_vec())))
            .col_expr(Column::TotpLastStep, Expr::val(Option::<i64>::None))
            .col_expr(Column::UpdatedAt, Expr::val(ms(now)))
            .col_expr(Column::Version, bump())
            .filter(Column::Id.eq(id))
            .filter(Column::TotpSecretSealed.is_null())
            .exec(self.db)
            .await
            .map_err(db_err)?;
        Ok(result.rows_affected == 1)
    }

    /// Accepts TOTP time step `step` once: true if it is later than every step accepted
    /// before, false for a replayed or older one. Atomic, so two nodes receiving the same
    /// code at once accept it only once.
    pub async fn consume_totp_step(&self, id: Uuid, step: u64) -> Result<bool, StorageError> {
        let step = i64::try_from(step).map_err(|_| StorageError::Invalid("TOTP step out of range".to_owned()))?;
        let result = Entity::update_many()
            .col_expr(Column::TotpLastStep, Expr::val(step))
            .filter(Column::Id.eq(id))
            .filter(sea_orm::Condition::any().add(Column::TotpLastStep.is_null()).add(Column::TotpLastStep.lt(step)))
            .exec(self.db)
            .await
            .map_err(db_err)?;
        if result.rows_affected == 0 {
            // Missing user is an error; an existing one just replayed a code.
            self.get(id).await?;
            return Ok(false);
        }
        Ok(true)
    }

    pub async fn set_status(&self, id: Uuid, status: UserStatus, now: OffsetDateTime) -> Result<(), StorageError> {
        self.update(id, now, |u| u.col_expr(Column::Status, Expr::val(status.as_str()))).await
    }

    /// Sets or clears the provisioning client's identifier for the user (SCIM `externalId`).
    pub async fn set_external_id(&self, id: Uuid, external_id: Option<&str>, now: OffsetDateTime) -> Result<(), StorageError> {
        self.update(id, now, |u| u.col_expr(Column::ExternalId, Expr::val(external_id.map(str::to_owned)))).await
    }

    pub async fn update_profile(
        &self,
        id: Uuid,
        display_name: &str,
        locale: crate::model::Locale,
        time_zone: &str,
        now: OffsetDateTime,
    ) -> Result<(), StorageError> {
        self.update(id, now, |u| {
            u.col_expr(Column::DisplayName, Expr::val(display_name))
                .col_expr(Column::Locale, Expr::val(locale.as_str()))
                .col_expr(Column::TimeZone, Expr::val(time_zone))
        })
        .await
    }

    /// Counts one wrong password and locks the account when `threshold` is reached.
    /// Safe under concurrency: N parallel calls count N, and exactly one reports
    /// `locked_now`.
    pub async fn record_failed_password(&self, id: Uuid, threshold: u32, now: OffsetDateTime) -> Result<LockoutOutcome, StorageError> {
        self.record_failure(id, Column::FailedPasswordCount, LockReason::Password, threshold, now).await
    }

    /// After a successful password check.
    pub async fn reset_failed_passwords(&self, id: Uuid, now: OffsetDateTime) -> Result<(), StorageError> {
        self.update(id, now, |u| u.col_expr(Column::FailedPasswordCount, Expr::val(0))).await
    }

    /// Counts one wrong secret answer; same guarantees as [`Self::record_failed_password`].
    pub async fn record_failed_secret_answer(&self, id: Uuid, threshold: u32, now: OffsetDateTime) -> Result<LockoutOutcome, StorageError> {
        self.record_failure(id, Column::FailedSecretAnswerCount, LockReason::SecretAnswer, threshold, now).await
    }

    pub async fn reset_failed_secret_answers(&self, id: Uuid, now: OffsetDateTime) -> Result<(), StorageError> {
        self.update(id, now, |u| u.col_expr(Column::FailedSecretAnswerCount, Expr::val(0))).await
    }

    /// Locks the account (e.g. by an operator, or after wrong enrollment one-time
    /// passwords). Returns whether this call locked it; an existing lock is kept as is.
    pub async fn lock(&self, id: Uuid, reason: LockReason, now: OffsetDateTime) -> Result<bool, StorageError> {
        let result = Entity::update_many()
            .col_expr(Column::LockedAt, Expr::val(ms(now)))
            .col_expr(Column::LockReason, Expr::val(reason.as_str()))
            .col_expr(Column::UpdatedAt, Expr::val(ms(now)))
            .col_expr(Column::Version, bump())
            .filter(Column::Id.eq(id))
            .filter(Column::LockedAt.is_null())
            .exec(self.db)
            .await
            .map_err(db_err)?;
        if result.rows_affected == 0 {
            self.get(id).await?;
        }
        Ok(result.rows_affected == 1)
    }

    /// Operator unlock: clears the lock and both failure counters.
    pub async fn unlock(&self, id: Uuid, now: OffsetDateTime) -> Result<(), StorageError> {
        self.update(id, now, |u| {
            u.col_expr(Column::LockedAt, Expr::val(Option::<i64>::None))
                .col_expr(Column::LockReason, Expr::val(Option::<String>::None))
                .col_expr(Column::FailedPasswordCount, Expr::val(0))
                .col_expr(Column::FailedSecretAnswerCount, Expr::val(0))
        })
        .await
    }

    /// Ends a lock for wrong passwords taken at or before `locked_until_then` (a tenant's
    /// timed release), counters cleared; true when this call ended it. Conditional, so
    /// of many nodes releasing at once exactly one does, and a newer lock is kept.
    pub async fn release_password_lock(
        &self,
        id: Uuid,
        locked_until_then: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        let result = Entity::update_many()
            .col_expr(Column::LockedAt, Expr::val(Option::<i64>::None))
            .col_expr(Column::LockReason, Expr::val(Option::<String>::None))
            .col_expr(Column::FailedPasswordCount, Expr::val(0))
            .col_expr(Column::UpdatedAt, Expr::val(ms(now)))
            .col_expr(Column::Version, bump())
            .filter(Column::Id.eq(id))
            .filter(Column::LockReason.eq(LockReason::Password.as_str()))
            .filter(Column::LockedAt.lte(ms(locked_until_then)))
            .exec(self.db)
            .await
            .map_err(db_err)?;
        Ok(result.rows_affected == 1)
    }

    /// Applies `changes` in one transaction, only while the user is still at
    /// `expected_version` (a compare-and-swap): `Ok(None)`, and nothing written, when
    /// something else wrote to the user or its devices since that version was read.
    /// `Some`: the user and their devices (deleted ones too) as this write left them,
    /// read inside its transaction, so a later writer's values are never reported as
    /// this one's.
    pub async fn apply_changes(
        &self,
        id: Uuid,
        expected_version: i64,
        changes: &UserChangeSet,
        now: OffsetDateTime,
    ) -> Result<Option<(User, Vec<Device>)>, StorageError> {
        let txn = begin_write(self.db).await?;
        let mut update = Entity::update_many()
            .col_expr(Column::UpdatedAt, Expr::val(ms(now)))
            .col_expr(Column::Version, bump())
            .filter(Column::Id.eq(id))
            .filter(Column::Version.eq(expected_version));
        if let Some(name) = &changes.display_name {
            update = update.col_expr(Column::DisplayName, Expr::val(name.as_str()));
        }
        if let Some(external_id) = &changes.external_id {
            update = update.col_expr(Column::ExternalId, Expr::val(external_id.clone()));
        }
        if let Some(given_name) = &changes.given_name {
            update = update.col_expr(Column::GivenName, Expr::val(given_name.clone()));
        }
        if let Some(family_name) = &changes.family_name {
            update = update.col_expr(Column::FamilyName, Expr::val(family_name.clone()));
        }
        if let Some(status) = changes.status {
            update = update.col_expr(Column::Status, Expr::val(status.as_str()));
        }
        if update.exec(&txn).await.map_err(db_err)?.rows_affected == 0 {
            txn.rollback().await.map_err(db_err)?;
            // A missing user is an error; an existing one has moved on.
            self.get(id).await?;
            return Ok(None);
        }
        if let Some((device_id, email)) = &changes.device_email {
            let owned = device::Entity::find_by_id(*device_id).one(&txn).await.map_err(db_err)?.is_some_and(|d| d.user_id == id);
            if !owned {
                return Err(StorageError::NotFound);
            }
            super::devices::set_email_on(&txn, *device_id, email).await?;
        }
        let written = written_on(&txn, id).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(Some(written))
    }

    /// Deletes the user only while they are still at `expected_version`, revoking their
    /// certificates in the same transaction: `Ok(false)`, and nothing revoked or deleted,
    /// when something else wrote to the user since (a conditional DELETE loses to a
    /// PATCH that won the same version). `NotFound` when there is no such user.
    pub async fn delete_at_version(
        &self,
        id: Uuid,
        expected_version: i64,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        let txn = begin_write(self.db).await?;
        // The claim: takes the row lock (PostgreSQL) under the write lock (SQLite), so no
        // other write slips in between the check and the delete.
        let claimed = Entity::update_many()
            .col_expr(Column::Version, bump())
            .filter(Column::Id.eq(id))
            .filter(Column::Version.eq(expected_version))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        if claimed.rows_affected == 0 {
            txn.rollback().await.map_err(db_err)?;
            self.get(id).await?;
            return Ok(false);
        }
        super::pki::revoke_where_on(&txn, crate::entity::certificate::Column::UserId.eq(id), reason, now).await?;
        Entity::delete_by_id(id).exec(&txn).await.map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        Ok(true)
    }

    /// The tenant's users whose `external_id` is exactly `external_id` (by the m0024 index).
    pub async fn find_by_external_id(&self, tenant_id: Uuid, external_id: &str) -> Result<Vec<User>, StorageError> {
        let models = Entity::find()
            .filter(Column::TenantId.eq(tenant_id))
            .filter(Column::ExternalId.eq(external_id))
            .order_by_asc(Column::LoginId)
            .all(self.db)
            .await
            .map_err(db_err)?;
        models.into_iter().map(to_user).collect()
    }

    /// Deletes the user with devices, tickets, sessions and password history; login
    /// history and certificates remain with the user reference cleared.
    pub async fn delete(&self, id: Uuid) -> Result<(), StorageError> {
        let result = Entity::delete_by_id(id).exec(self.db).await.map_err(db_err)?;
        if result.rows_affected == 0 {
            return Err(StorageError::NotFound);
        }
        Ok(())
    }

    async fn record_failure(
        &self,
        id: Uuid,
        counter: Column,
        reason: LockReason,
        threshold: u32,
        now: OffsetDateTime,
    ) -> Result<LockoutOutcome, StorageError> {
        let threshold = Ord::max(threshold, 1);
        // The increment takes the row lock (PostgreSQL) or the write lock (SQLite) until
        // commit, so the lock decision below sees every earlier failure and no later one.
        let txn = begin_write(self.db).await?;
        let stmt = Entity::update_many()
            .col_expr(counter, Expr::col(counter).add(1))
            .col_expr(Column::UpdatedAt, Expr::val(ms(now)))
            .col_expr(Column::Version, bump())
            .filter(Column::Id.eq(id))
            .into_query();
        let updated = update_returning::<Entity, _>(&txn, stmt).await.map_err(db_err)?;
        let row = updated.into_iter().next().ok_or(StorageError::NotFound)?;
        let failures = count(match counter {
            Column::FailedSecretAnswerCount => row.failed_secret_answer_count,
            _ => row.failed_password_count,
        });

        let mut locked_now = false;
        if row.locked_at.is_none() && failures >= threshold {
            let result = Entity::update_many()
                .col_expr(Column::LockedAt, Expr::val(ms(now)))
                .col_expr(Column::LockReason, Expr::val(reason.as_str()))
                .col_expr(Column::Version, bump())
                .filter(Column::Id.eq(id))
                .filter(Column::LockedAt.is_null())
                .exec(&txn)
                .await
                .map_err(db_err)?;
            locked_now = result.rows_affected == 1;
        }
        txn.commit().await.map_err(db_err)?;

        let locked = row.locked_at.is_some() || locked_now;
        Ok(LockoutOutcome { failures, locked, locked_now, attempts_left: if locked { 0 } else { threshold.saturating_sub(failures) } })
    }

    /// One-row update that also bumps `updated_at`; NotFound when the user is missing.
    async fn update(
        &self,
        id: Uuid,
        now: OffsetDateTime,
        set: impl FnOnce(sea_orm::UpdateMany<Entity>) -> sea_orm::UpdateMany<Entity>,
    ) -> Result<(), StorageError> {
        update_on(self.db, id, now, set).await
    }
}

/// [`Users::set_password`] inside the caller's transaction.
pub(crate) async fn set_password_on<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    password_hash: &str,
    must_change: bool,
    keep: u32,
    now: OffsetDateTime,
) -> Result<(), StorageError> {
    let stmt = Entity::update_many()
        .col_expr(Column::PasswordHash, Expr::val(password_hash))
        .col_expr(Column::PasswordChangedAt, Expr::val(ms(now)))
        .col_expr(Column::PasswordMustChange, Expr::val(must_change))
        .col_expr(Column::PasswordSeq, Expr::col(Column::PasswordSeq).add(1))
        .col_expr(Column::UpdatedAt, Expr::val(ms(now)))
        .col_expr(Column::Version, bump())
        .filter(Column::Id.eq(id))
        .into_query();
    let updated = update_returning::<Entity, _>(db, stmt).await.map_err(db_err)?;
    let seq = updated.first().ok_or(StorageError::NotFound)?.password_seq;

    let entry =
        password_history::Model { id: Uuid::new_v4(), user_id: id, seq, password_hash: password_hash.to_owned(), created_at: ms(now) };
    password_history::Entity::insert(entry.into_active_model()).exec_without_returning(db).await.map_err(db_err)?;
    password_history::Entity::delete_many()
        .filter(password_history::Column::UserId.eq(id))
        .filter(password_history::Column::Seq.lte(seq - i64::from(Ord::max(keep, 1))))
        .exec(db)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// One-row update that also bumps `updated_at`; NotFound when the user is missing.
pub(crate) async fn update_on<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    now: OffsetDateTime,
    set: impl FnOnce(sea_orm::UpdateMany<Entity>) -> sea_orm::UpdateMany<Entity>,
) -> Result<(), StorageError> {
    let update =
        Entity::update_many().col_expr(Column::UpdatedAt, Expr::val(ms(now))).col_expr(Column::Version, bump()).filter(Column::Id.eq(id));
    let result = set(update).exec(db).await.map_err(db_err)?;
    if result.rows_affected == 0 {
        return Err(StorageError::NotFound);
    }
    Ok(())
}

/// `version + 1`: every write to a user, or to one of its devices, changes the version
/// that [`Users::apply_changes`] compares (m0024).
pub(crate) fn bump() -> Expr {
    Expr::col(Column::Version).add(1)
}

/// `LOWER(column) LIKE '%text%'` with the wildcards in `text` taken literally, so the
/// match ignores case on both backends alike (PostgreSQL's LIKE does not, SQLite's does
/// for ASCII). SQLite's LOWER folds ASCII only, which is what e-mail addresses and user
/// IDs hold.
fn contains_ignoring_case(column: impl sea_orm::sea_query::IntoColumnRef, text: &str) -> Expr {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '!' | '%' | '_') {
            pattern.push('!');
        }
        pattern.push(c);
    }
    pattern.push('%');
    Expr::expr(Func::lower(Expr::col(column))).like(LikeExpr::new(pattern).escape('!'))
}

/// The user and all their devices as a transaction sees them.
async fn written_on<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<(User, Vec<Device>), StorageError> {
    let user = Entity::find_by_id(id).one(db).await.map_err(db_err)?.ok_or(StorageError::NotFound)?;
    let devices = device::Entity::find()
        .filter(device::Column::UserId.eq(id))
        .order_by_asc(device::Column::DeviceNo)
        .all(db)
        .await
        .map_err(db_err)?;
    Ok((to_user(user)?, devices.into_iter().map(super::devices::to_device).collect::<Result<_, _>>()?))
}

pub(crate) fn to_user(m: user::Model) -> Result<User, StorageError> {
    Ok(User {
        id: m.id,
        tenant_id: m.tenant_id,
        login_id: m.login_id,
        display_name: m.display_name,
        locale: parse("users.locale", &m.locale)?,
        time_zone: m.time_zone,
        login_method: parse("users.login_method", &m.login_method)?,
        status: parse("users.status", &m.status)?,
        locked_at: opt_time("users.locked_at", m.locked_at)?,
        lock_reason: opt_parse("users.lock_reason", m.lock_reason.as_deref())?,
        failed_password_count: count(m.failed_password_count),
        failed_secret_answer_count: count(m.failed_secret_answer_count),
        password_hash: m.password_hash,
        password_changed_at: opt_time("users.password_changed_at", m.password_changed_at)?,
        password_must_change: m.password_must_change,
        secret_question: m.secret_question,
        secret_answer_hash: m.secret_answer_hash,
        totp_secret_sealed: m.totp_secret_sealed,
        external_id: m.external_id,
        given_name: m.given_name,
        family_name: m.family_name,
        version: m.version,
        created_at: time("users.created_at", m.created_at)?,
        updated_at: time("users.updated_at", m.updated_at)?,
    })
}

/// The row of a new user: active, no credentials yet, no devices.
pub(crate) fn new_user_model(new: &NewUser, now: OffsetDateTime) -> Result<user::Model, StorageError> {
    if new.login_id.is_empty() {
        return Err(StorageError::Invalid("user ID must not be empty".to_owned()));
    }
    Ok(user::Model {
        id: Uuid::new_v4(),
        tenant_id: new.tenant_id,
        login_id: new.login_id.clone(),
        display_name: new.display_name.clone(),
        locale: new.locale.as_str().to_owned(),
        time_zone: new.time_zone.clone(),
        login_method: new.login_method.as_str().to_owned(),
        status: new.status.as_str().to_owned(),
        locked_at: None,
        lock_reason: None,
        failed_password_count: 0,
        failed_secret_answer_count: 0,
        password_hash: None,
        password_changed_at: None,
        password_must_change: false,
        secret_question: None,
        secret_answer_hash: None,
        totp_secret_sealed: None,
        last_device_no: 0,
        password_seq: 0,
        created_at: ms(now),
        updated_at: ms(now),
        totp_last_step: None,
        login_id_key: Some(crate::model::login_id_key(&new.login_id)),
        login_id_skeleton: Some(crate::model::login_id_skeleton(&new.login_id)),
        external_id: new.external_id.clone(),
        version: 0,
        given_name: new.given_name.clone(),
        family_name: new.family_name.clone(),
    })
}

pub(crate) async fn insert_user_on<C: ConnectionTrait>(db: &C, model: &user::Model) -> Result<(), StorageError> {
    Entity::insert(model.clone().into_active_model())
        .exec_without_returning(db)
        .await
        .map_err(on_conflict("this user ID, or one differing only in case or looking the same, already exists in this tenant"))?;
    Ok(())
}
