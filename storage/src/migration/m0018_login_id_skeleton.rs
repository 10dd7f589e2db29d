//! User IDs that look the same are one ID within a tenant: `рау` (Cyrillic) beside `pay`,
//! or `paypa1` beside `paypal`, would read alike in a mail, an audit line or the console
//! and invite a user (or an operator) to act on the wrong account. Each user row carries
//! the ID's confusable skeleton (Unicode TR 39 §4, on the lower-cased ID:
//! [`crate::model::login_id_skeleton`]) under a unique index, beside m0017's case key.
//!
//! Existing rows are keyed here, oldest first. Should two existing IDs of a tenant share a
//! skeleton, the later one keeps none (NULL, which the index does not compare) so the
//! migration never fails on old data; no new look-alike can join them.

use std::collections::HashSet;

use sea_orm::{ConnectionTrait as _, TryGetable as _};
use sea_orm_migration::{prelude::*, schema::*};

use super::m0001_tenants_users::Users;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum LoginIdSkeleton {
    LoginIdSkeleton,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Users::Table).add_column(string_null(LoginIdSkeleton::LoginIdSkeleton)).take()).await?;
        let db = manager.get_connection();
        let select = Query::select()
            .columns([Users::Id, Users::TenantId, Users::LoginId])
            .from(Users::Table)
            .order_by(Users::CreatedAt, Order::Asc)
            .take();
        let mut seen = HashSet::new();
        for row in db.query_all(&select).await? {
            let id = uuid::Uuid::try_get(&row, "", "id").map_err(DbErr::from)?;
            let tenant_id = uuid::Uuid::try_get(&row, "", "tenant_id").map_err(DbErr::from)?;
            let login_id = String::try_get(&row, "", "login_id").map_err(DbErr::from)?;
            let skeleton = crate::model::login_id_skeleton(&login_id);
            if !seen.insert((tenant_id, skeleton.clone())) {
                continue;
            }
            let update = Query::update()
                .table(Users::Table)
                .value(LoginIdSkeleton::LoginIdSkeleton, skeleton)
                .and_where(Expr::col(Users::Id).eq(id))
                .take();
            db.execute(&update).await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ux_users_tenant_login_id_skeleton")
                    .table(Users::Table)
                    .col(Users::TenantId)
                    .col(LoginIdSkeleton::LoginIdSkeleton)
                    .unique()
                    .take(),
            )
            .await
    }
}
