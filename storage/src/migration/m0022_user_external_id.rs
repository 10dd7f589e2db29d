//! The identifier a provisioning client (SCIM's `externalId`, RFC 7643 §3.1) gives a
//! user in its own directory, so that Entra ID or Okta can find the user it created.
//! Kept as the client sent it; NULL for users no directory provisioned.

use sea_orm_migration::{prelude::*, schema::*};

use super::m0001_tenants_users::Users;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum ExternalId {
    ExternalId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Users::Table).add_column(string_null(ExternalId::ExternalId)).take()).await
    }
}
