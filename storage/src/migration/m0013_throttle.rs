//! Failure counters that every node shares: client authentication and admin-token
//! attempts are throttled per client and per source address across nodes.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum ThrottleCounters {
    Table,
    KeyHash,
    Failures,
    WindowEndsAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ThrottleCounters as T;
        manager
            .create_table(
                Table::create()
                    .table(T::Table)
                    .col(string(T::KeyHash).primary_key())
                    .col(big_integer(T::Failures))
                    .col(big_integer(T::WindowEndsAt))
                    .take(),
            )
            .await?;
        manager.create_index(Index::create().name("ix_throttle_window_ends").table(T::Table).col(T::WindowEndsAt).take()).await
    }
}
