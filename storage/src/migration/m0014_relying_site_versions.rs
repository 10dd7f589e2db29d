//! A per-tenant counter bumped in the same transaction as any change to the tenant's
//! OIDC clients or SAML service providers. Nodes keep clients in a short cache and use
//! an entry only while the counter it was read under is still current, so a deletion or
//! a secret rotation through one node takes effect on every node within a second.
//!
//! A table of its own, not a column on `tenants`: a tenant's policy is written back as a
//! whole row, which must not carry an older counter value with it.

use sea_orm_migration::{prelude::*, schema::*};

use super::fk;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum RelyingSiteVersions {
    Table,
    TenantId,
    Version,
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
        use RelyingSiteVersions as V;
        manager
            .create_table(
                Table::create()
                    .table(V::Table)
                    .col(uuid(V::TenantId).primary_key())
                    .col(big_integer(V::Version))
                    .foreign_key(&mut fk(
                        "fk_relying_site_versions_tenant",
                        V::Table,
                        V::TenantId,
                        Tenants::Table,
                        Tenants::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await
    }
}
