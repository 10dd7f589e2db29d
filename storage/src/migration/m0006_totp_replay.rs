//! The last accepted TOTP time step per user, so that a code is accepted once
//! (RFC 6238 §5.2).

use sea_orm_migration::{prelude::*, schema::*};

use super::m0001_tenants_users::Users;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum TotpColumns {
    TotpLastStep,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Users::Table).add_column(big_integer_null(TotpColumns::TotpLastStep)).take()).await
    }
}
