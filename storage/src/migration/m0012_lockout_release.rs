//! A tenant may let a password lockout end by itself after some minutes. 0 (every
//! tenant before, and the default) keeps the spec's rule: only an operator unlocks.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    LockoutReleaseMinutes,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(Tenants::Table).add_column(integer(Tenants::LockoutReleaseMinutes).default(0)).take())
            .await
    }
}
