//! A grant remembers the browser session (`sid`) it came from, and whether it asked for
//! `offline_access`: logging out ends the session's grants (and tells the relying sites
//! that registered for back-channel logout), while offline grants outlive it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum OidcGrants {
    Table,
    SessionId,
    Offline,
    UserId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use OidcGrants as G;
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        manager.alter_table(Table::alter().table(G::Table).add_column(string_null(G::SessionId)).take()).await?;
        manager.alter_table(Table::alter().table(G::Table).add_column(boolean(G::Offline).default(false)).take()).await?;
        manager
            .create_index(Index::create().name("ix_oidc_grants_user_session").table(G::Table).col(G::UserId).col(G::SessionId).take())
            .await
    }
}
