//! User IDs are unique within a tenant regardless of case (`ROOT-ADMIN` is not a second
//! account beside `root-admin`): each user row carries its ID lower-cased, computed by
//! [`crate::model::login_id_key`] in Rust (the same on both backends, where SQLite's
//! `lower()` knows only ASCII), under a unique index.
//!
//! Existing rows are keyed here. Should two existing IDs of a tenant differ only in case,
//! the later one keeps no key (NULL, which the index does not compare) so the migration
//! never fails on old data; no new ID can join them.

use std::collections::HashSet;

use sea_orm::{ConnectionTrait as _, TryGetable as _};
use sea_orm_migration::{prelude::*, schema::*};

use super::m0001_tenants_users::Users;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum LoginIdKey {
    LoginIdKey,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Users::Table).add_column(string_null(LoginIdKey::LoginIdKey)).take()).await?;
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
            let key = crate::model::login_id_key(&login_id);
            if !seen.insert((tenant_id, key.clone())) {
                continue;
            }
            let update =
                Query::update().table(Users::Table).value(LoginIdKey::LoginIdKey, key).and_where(Expr::col(Users::Id).eq(id)).take();
            db.execute(&update).await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ux_users_tenant_login_id_key")
                    .table(Users::Table)
                    .col(Users::TenantId)
                    .col(LoginIdKey::LoginIdKey)
                    .unique()
                    .take(),
            )
            .await
    }
}
