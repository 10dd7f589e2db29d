//! Which user claims an OIDC client may receive, as a JSON array of claim names. Null
//! (every client registered before, and the default) releases every claim the granted
//! scopes allow, so existing clients see no change.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum OidcClients {
    Table,
    Claims,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(OidcClients::Table).add_column(text_null(OidcClients::Claims)).take()).await
    }
}
