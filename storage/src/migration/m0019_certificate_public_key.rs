//! Each certificate records the hash of the key it certifies, so that a key revoked as
//! compromised is refused when a device asks for it to be certified again (a CSR on the
//! account page). Rows from before carry none; their keys are not recognised.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Certificates {
    Table,
    PublicKeySha256,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(Certificates::Table).add_column(string_null(Certificates::PublicKeySha256)).take())
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_certificates_public_key_sha256")
                    .table(Certificates::Table)
                    .col(Certificates::PublicKeySha256)
                    .take(),
            )
            .await
    }
}
