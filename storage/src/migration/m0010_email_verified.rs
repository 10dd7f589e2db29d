//! When a device's e-mail address was last proven (a link mailed to it was completed), so
//! that OpenID Connect's `email_verified` is true only for an address shown to work. Null
//! until then, and again after the address changes.

use sea_orm_migration::{prelude::*, schema::*};

use super::m0001_tenants_users::Devices;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum EmailVerified {
    EmailVerifiedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Devices::Table).add_column(big_integer_null(EmailVerified::EmailVerifiedAt)).take()).await
    }
}
