//! Devices, with the per-tenant device limit enforced atomically.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QueryTrait,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::update_returning;
use super::users::{bump, insert_user_on, new_user_model, to_user};
use crate::StorageError;
use crate::convert::{count, ms, opt_time, parse, time};
use crate::entity::device::{self, Column, Entity};
use crate::entity::user;
use crate::error::db_err;
use crate::model::{Device, DeviceType, NewDevice, NewUser, User};
use crate::storage::begin_write;

pub struct Devices<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> Devices<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        Devices { db }
    }

    /// Adds a device with the user's next device number, unless the user already has
    /// `max_devices` active devices (`Conflict("device limit reached")`).
    pub async fn add_device(&self, new: &NewDevice, max_devices: u32, now: OffsetDateTime) -> Result<Device, StorageError> {
        let txn = begin_write(self.db).await?;
        // Taking the next number locks the user's row until commit, so concurrent adds for
        // one user count devices one after the other.
        let stmt = user::Entity::update_many()
            .col_expr(user::Column::LastDeviceNo, Expr::col(user::Column::LastDeviceNo).add(1))
            .col_expr(user::Column::Version, bump())
            .filter(user::Column::Id.eq(new.user_id))
            .into_query();
        let updated = update_returning::<user::Entity, _>(&txn, stmt).await.map_err(db_err)?;
        let device_no = updated.first().ok_or(StorageError::NotFound)?.last_device_no;

        let model = new_device_model(new, device_no, now);
        insert_within_limit_on(&txn, &model, max_devices).await?;
        txn.commit().await.map_err(db_err)?;
        to_device(model)
    }

    /// Creates a user together with its first device (number 1), in one transaction: an
    /// operator's new user never exists without the device its enrollment needs, and a
    /// refused device (the tenant allows none) leaves no user behind.
    pub async fn create_user_with_device(
        &self,
        new_user: &NewUser,
        device_type: DeviceType,
        email: &str,
        max_devices: u32,
        now: OffsetDateTime,
    ) -> Result<(User, Device), StorageError> {
        let mut user_model = new_user_model(new_user, now)?;
        user_model.last_device_no = 1;
        let first = NewDevice { user_id: user_model.id, device_type, email: email.to_owned() };
        let device_model = new_device_model(&first, 1, now);
        let txn = begin_write(self.db).await?;
        insert_user_on(&txn, &user_model).await?;
        insert_within_limit_on(&txn, &device_model, max_devices).await?;
        txn.commit().await.map_err(db_err)?;
        Ok((to_user(user_model)?, to_device(device_model)?))
    }

    /// A device to be added by a completion (with its certificate, in one transaction):
    /// its number is taken now, since the certificate names it, and the row is written
    /// by [`crate::Completions::complete`], which enforces the limit. Numbers are never
    /// reused, so a completion that fails leaves a gap in the user's numbering.
    pub async fn reserve(&self, new: &NewDevice, now: OffsetDateTime) -> Result<Device, StorageError> {
        let stmt = user::Entity::update_many()
            .col_expr(user::Column::LastDeviceNo, Expr::col(user::Column::LastDeviceNo).add(1))
            .col_expr(user::Column::Version, bump())
            .filter(user::Column::Id.eq(new.user_id))
            .into_query();
        let updated = update_returning::<user::Entity, _>(self.db, stmt).await.map_err(db_err)?;
        let device_no = updated.first().ok_or(StorageError::NotFound)?.last_device_no;
        to_device(new_device_model(new, device_no, now))
    }

    /// A device, deleted or not.
    pub async fn get(&self, id: Uuid) -> Result<Device, StorageError> {
        let model = Entity::find_by_id(id).one(self.db).await.map_err(db_err)?;
        to_device(model.ok_or(StorageError::NotFound)?)
    }

    /// The user's devices by number; deleted ones only when asked for.
    pub async fn list_for_user(&self, user_id: Uuid, include_deleted: bool) -> Result<Vec<Device>, StorageError> {
        let mut query = Entity::find().filter(Column::UserId.eq(user_id));
        if !include_deleted {
            query = query.filter(Column::DeletedAt.is_null());
        }
        let models = query.order_by_asc(Column::DeviceNo).all(self.db).await.map_err(db_err)?;
        models.into_iter().map(to_device).collect()
    }

    pub async fn count_active(&self, user_id: Uuid) -> Result<u64, StorageError> {
        Entity::find().filter(Column::UserId.eq(user_id)).filter(Column::DeletedAt.is_null()).count(self.db).await.map_err(db_err)
    }

    /// Changes an active device's e-mail address; the new one is not proven yet.
    pub async fn set_email(&self, id: Uuid, email: &str) -> Result<(), StorageError> {
        let txn = begin_write(self.db).await?;
        set_email_on(&txn, id, email).await?;
        txn.commit().await.map_err(db_err)
    }

    /// Records that a link mailed to `email` was completed. Only while the device still
    /// has that address (a change in between leaves the new one unproven); false if not.
    pub async fn mark_email_verified(&self, id: Uuid, email: &str, now: OffsetDateTime) -> Result<bool, StorageError> {
        let result = Entity::update_many()
            .col_expr(Column::EmailVerifiedAt, Expr::val(ms(now)))
            .filter(Column::Id.eq(id))
            .filter(Column::Email.eq(email))
            .filter(Column::DeletedAt.is_null())
            .exec(self.db)
            .await
            .map_err(db_err)?;
        Ok(result.rows_affected > 0)
    }

    /// Soft-deletes an active device (its certificates should be revoked alongside);
    /// NotFound if it is missing or already deleted.
    pub async fn delete(&self, id: Uuid, now: OffsetDateTime) -> Result<(), StorageError> {
        let txn = begin_write(self.db).await?;
        touch_owner_on(&txn, id).await?;
        let result = Entity::update_many()
            .col_expr(Column::DeletedAt, Expr::val(ms(now)))
            .filter(Column::Id.eq(id))
            .filter(Column::DeletedAt.is_null())
            .exec(&txn)
            .await
            .map_err(db_err)?;
        if result.rows_affected == 0 {
            return Err(StorageError::NotFound);
        }
        txn.commit().await.map_err(db_err)
    }
}

/// Bumps the version of the user owning device `id` (a device is part of what a SCIM
/// client reads of the user), taking the user's row lock first.
async fn touch_owner_on<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<(), StorageError> {
    let owner = sea_orm::sea_query::Query::select().column(Column::UserId).from(Entity).and_where(Column::Id.eq(id)).to_owned();
    user::Entity::update_many()
        .col_expr(user::Column::Version, bump())
        .filter(user::Column::Id.in_subquery(owner))
        .exec(db)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// [`Devices::set_email`] inside the caller's transaction, the owner's version bumped.
pub(crate) async fn set_email_on<C: ConnectionTrait>(db: &C, id: Uuid, email: &str) -> Result<(), StorageError> {
    touch_owner_on(db, id).await?;
    let result = Entity::update_many()
        .col_expr(Column::Email, Expr::val(email))
        .col_expr(Column::EmailVerifiedAt, Expr::val(None::<i64>))
        .filter(Column::Id.eq(id))
        .filter(Column::DeletedAt.is_null())
        .exec(db)
        .await
        .map_err(db_err)?;
    if result.rows_affected == 0 {
        return Err(StorageError::NotFound);
    }
    Ok(())
}

/// Inserts `model` unless its user already has `max_devices` active devices
/// (`Conflict("device limit reached")`). The caller's transaction must hold the user's
/// row (a write to it), so that concurrent adds for one user count one after the other.
pub(crate) async fn insert_within_limit_on<C: ConnectionTrait>(
    db: &C,
    model: &device::Model,
    max_devices: u32,
) -> Result<(), StorageError> {
    let active =
        Entity::find().filter(Column::UserId.eq(model.user_id)).filter(Column::DeletedAt.is_null()).count(db).await.map_err(db_err)?;
    if active >= u64::from(max_devices) {
        return Err(StorageError::Conflict(DEVICE_LIMIT_REACHED));
    }
    Entity::insert(model.clone().into_active_model()).exec_without_returning(db).await.map_err(db_err)?;
    Ok(())
}

/// [`crate::Completions::complete`]'s device: the user's row locked first (a no-op write),
/// then the limit counted and the row inserted.
pub(crate) async fn add_reserved_on<C: ConnectionTrait>(db: &C, device: &Device, max_devices: u32) -> Result<(), StorageError> {
    let locked = user::Entity::update_many()
        .col_expr(user::Column::LastDeviceNo, Expr::col(user::Column::LastDeviceNo))
        .col_expr(user::Column::Version, bump())
        .filter(user::Column::Id.eq(device.user_id))
        .exec(db)
        .await
        .map_err(db_err)?;
    if locked.rows_affected == 0 {
        return Err(StorageError::NotFound);
    }
    let model = device::Model {
        id: device.id,
        user_id: device.user_id,
        device_no: i32::try_from(device.device_no).map_err(|_| StorageError::Invalid("device number out of range".into()))?,
        device_type: device.device_type.as_str().to_owned(),
        email: device.email.clone(),
        created_at: ms(device.created_at),
        deleted_at: None,
        email_verified_at: None,
    };
    insert_within_limit_on(db, &model, max_devices).await
}

/// The row of a new, active device numbered `device_no`.
fn new_device_model(new: &NewDevice, device_no: i32, now: OffsetDateTime) -> device::Model {
    device::Model {
        id: Uuid::new_v4(),
        user_id: new.user_id,
        device_no,
        device_type: new.device_type.as_str().to_owned(),
        email: new.email.clone(),
        created_at: ms(now),
        deleted_at: None,
        email_verified_at: None,
    }
}

/// The conflict of a device beyond the tenant's maximum.
pub const DEVICE_LIMIT_REACHED: &str = "device limit reached";

pub(crate) fn to_device(m: device::Model) -> Result<Device, StorageError> {
    Ok(Device {
        id: m.id,
        user_id: m.user_id,
        device_no: count(m.device_no),
        device_type: parse("devices.device_type", &m.device_type)?,
        email: m.email,
        created_at: time("devices.created_at", m.created_at)?,
        deleted_at: opt_time("devices.deleted_at", m.deleted_at)?,
        email_verified_at: opt_time("devices.email_verified_at", m.email_verified_at)?,
    })
}
