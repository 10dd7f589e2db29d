//! Passkeys. Registration is an insert whose credential ID must be new everywhere; a
//! login records the new counter with a compare-and-swap; removal keeps the number of
//! passkeys a user's login method needs, counted under the user's row lock.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};
use uuid::Uuid;

use crate::StorageError;
use crate::convert::{ms, opt_time, time};
use crate::entity::passkey::{Column, Entity, Model};
use crate::entity::user;
use crate::error::{db_err, on_conflict};
use crate::model::{Passkey, PasskeyUse};

/// Conflict: the credential is registered already (to this user or anyone else).
pub const PASSKEY_ALREADY_REGISTERED: &str = "passkey already registered";
/// Conflict: the user has as many passkeys as allowed.
pub const PASSKEY_LIMIT_REACHED: &str = "passkey limit reached";
/// Conflict: removing it would leave fewer passkeys than the user's method needs.
pub const LAST_PASSKEY: &str = "last passkey";

pub struct Passkeys<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> Passkeys<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        Passkeys { db }
    }

    /// Registers `passkey` unless its user has `max` already. The user's row is written
    /// first so that concurrent registrations for one user count one after the other.
    pub async fn add(&self, passkey: &Passkey, max: u32) -> Result<(), StorageError> {
        let txn = self.db.begin().await.map_err(db_err)?;
        lock_user(&txn, passkey.user_id).await?;
        let count = Entity::find().filter(Column::UserId.eq(passkey.user_id)).count(&txn).await.map_err(db_err)?;
        if count >= u64::from(max) {
            return Err(StorageError::Conflict(PASSKEY_LIMIT_REACHED));
        }
        Entity::insert(to_model(passkey).into_active_model())
            .exec_without_returning(&txn)
            .await
            .map_err(on_conflict(PASSKEY_ALREADY_REGISTERED))?;
        txn.commit().await.map_err(db_err)
    }

    /// A user's passkeys, oldest first.
    pub async fn list_for_user(&self, user_id: Uuid) -> Result<Vec<Passkey>, StorageError> {
        let rows = Entity::find()
            .filter(Column::UserId.eq(user_id))
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::Id)
            .all(self.db)
            .await
            .map_err(db_err)?;
        rows.into_iter().map(to_passkey).collect()
    }

    pub async fn count_for_user(&self, user_id: Uuid) -> Result<u64, StorageError> {
        Entity::find().filter(Column::UserId.eq(user_id)).count(self.db).await.map_err(db_err)
    }

    /// One of the user's passkeys; NotFound for another user's.
    pub async fn get(&self, user_id: Uuid, id: Uuid) -> Result<Passkey, StorageError> {
        let row = Entity::find_by_id(id).filter(Column::UserId.eq(user_id)).one(self.db).await.map_err(db_err)?;
        row.map(to_passkey).transpose()?.ok_or(StorageError::NotFound)
    }

    /// The passkey with this credential ID in `tenant_id`; none for another tenant's.
    pub async fn find_by_credential(&self, tenant_id: Uuid, credential_id: &str) -> Result<Option<Passkey>, StorageError> {
        let row = Entity::find()
            .filter(Column::CredentialId.eq(credential_id))
            .filter(Column::TenantId.eq(tenant_id))
            .one(self.db)
            .await
            .map_err(db_err)?;
        row.map(to_passkey).transpose()
    }

    pub async fn rename(&self, user_id: Uuid, id: Uuid, name: &str) -> Result<(), StorageError> {
        let result = Entity::update_many()
            .col_expr(Column::Name, Expr::val(name))
            .filter(Column::Id.eq(id))
            .filter(Column::UserId.eq(user_id))
            .exec(self.db)
            .await
            .map_err(db_err)?;
        if result.rows_affected == 0 {
            return Err(StorageError::NotFound);
        }
        Ok(())
    }

    /// Removes one of the user's passkeys, unless that would leave fewer than `keep`
    /// (`Conflict(LAST_PASSKEY)`). Returns the removed record.
    pub async fn remove(&self, user_id: Uuid, id: Uuid, keep: u32) -> Result<Passkey, StorageError> {
        let txn = self.db.begin().await.map_err(db_err)?;
        lock_user(&txn, user_id).await?;
        let row = Entity::find_by_id(id).filter(Column::UserId.eq(user_id)).one(&txn).await.map_err(db_err)?;
        let Some(row) = row else { return Err(StorageError::NotFound) };
        let count = Entity::find().filter(Column::UserId.eq(user_id)).count(&txn).await.map_err(db_err)?;
        if count <= u64::from(keep) {
            return Err(StorageError::Conflict(LAST_PASSKEY));
        }
        Entity::delete_by_id(id).exec(&txn).await.map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        to_passkey(row)
    }

    /// Records a verified assertion: only while the stored counter is still the one the
    /// assertion was checked against. False when another use got there first.
    pub async fn record_use(&self, id: Uuid, used: &PasskeyUse) -> Result<bool, StorageError> {
        let result = Entity::update_many()
            .col_expr(Column::SignCount, Expr::val(i64::from(used.sign_count)))
            .col_expr(Column::BackupEligible, Expr::val(used.backup_eligible))
            .col_expr(Column::BackedUp, Expr::val(used.backed_up))
            .col_expr(Column::Credential, Expr::val(used.credential.as_str()))
            .col_expr(Column::LastUsedAt, Expr::val(ms(used.at)))
            .filter(Column::Id.eq(id))
            .filter(Column::SignCount.eq(i64::from(used.previous_sign_count)))
            .exec(self.db)
            .await
            .map_err(db_err)?;
        Ok(result.rows_affected > 0)
    }
}

/// A no-op write to the user's row, so that counting the user's passkeys and acting on
/// the count happen one transaction at a time (on SQLite the write lock, on PostgreSQL
/// the row lock).
async fn lock_user<C: ConnectionTrait>(db: &C, user_id: Uuid) -> Result<(), StorageError> {
    let locked = user::Entity::update_many()
        .col_expr(user::Column::LastDeviceNo, Expr::col(user::Column::LastDeviceNo))
        .filter(user::Column::Id.eq(user_id))
        .exec(db)
        .await
        .map_err(db_err)?;
    if locked.rows_affected == 0 {
        return Err(StorageError::NotFound);
    }
    Ok(())
}

fn to_model(p: &Passkey) -> Model {
    Model {
        id: p.id,
        tenant_id: p.tenant_id,
        user_id: p.user_id,
        credential_id: p.credential_id.clone(),
        credential: p.credential.clone(),
        name: p.name.clone(),
        sign_count: i64::from(p.sign_count),
        backup_eligible: p.backup_eligible,
        backed_up: p.backed_up,
        created_at: ms(p.created_at),
        last_used_at: p.last_used_at.map(ms),
    }
}

fn to_passkey(m: Model) -> Result<Passkey, StorageError> {
    Ok(Passkey {
        id: m.id,
        tenant_id: m.tenant_id,
        user_id: m.user_id,
        credential_id: m.credential_id,
        credential: m.credential,
        name: m.name,
        sign_count: u32::try_from(m.sign_count).map_err(|e| crate::error::corrupt("passkeys.sign_count", e))?,
        backup_eligible: m.backup_eligible,
        backed_up: m.backed_up,
        created_at: time("passkeys.created_at", m.created_at)?,
        last_used_at: opt_time("passkeys.last_used_at", m.last_used_at)?,
    })
}
