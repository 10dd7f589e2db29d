//! A tenant's branding: the accent colour and the logo its users see on every page.
//! Its own table, not columns of `tenants`, so a policy change never rewrites the logo
//! and loading a tenant (done on every request) never loads an image.

use sea_orm_migration::{prelude::*, schema::*};

use super::fk;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum TenantBrandings {
    Table,
    TenantId,
    AccentColour,
    LogoPng,
    LogoSha256,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use TenantBrandings as B;
        manager
            .create_table(
                Table::create()
                    .table(B::Table)
                    .col(uuid(B::TenantId).primary_key())
                    .col(string_null(B::AccentColour))
                    .col(blob_null(B::LogoPng))
                    .col(string_null(B::LogoSha256))
                    .col(big_integer(B::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_tenant_brandings_tenant",
                        B::Table,
                        B::TenantId,
                        Tenants::Table,
                        Tenants::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await
    }
}
