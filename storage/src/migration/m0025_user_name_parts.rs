//! The given and family names a provisioning client sends (SCIM `name.givenName`,
//! `name.familyName`, RFC 7643 §4.1.1), kept as sent so that a PATCH of one of them
//! changes only it. The display name stays its own column: these only seed it when a
//! client creates or replaces a user without one. NULL for users no directory named.

use sea_orm_migration::{prelude::*, schema::*};

use super::m0001_tenants_users::Users;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum NameParts {
    GivenName,
    FamilyName,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Users::Table).add_column(string_null(NameParts::GivenName)).take()).await?;
        manager.alter_table(Table::alter().table(Users::Table).add_column(string_null(NameParts::FamilyName)).take()).await
    }
}
