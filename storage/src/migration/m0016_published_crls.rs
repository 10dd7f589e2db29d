//! The CRL each CA last published, shared by every node. Nodes serve the stored CRL
//! while it is current and store a newer one only over an older number, so a relying
//! party polling any node never sees the CRL number go backwards (RFC 5280 §5.2.3) and
//! two nodes never publish different CRLs under one number.

use sea_orm_migration::{prelude::*, schema::*};

use super::fk;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum PublishedCrls {
    Table,
    CaId,
    CrlNumber,
    Der,
    ThisUpdate,
    NextUpdate,
    RevokedCount,
    LatestRevocation,
}

#[derive(DeriveIden)]
enum CertificateAuthorities {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use PublishedCrls as P;
        manager
            .create_table(
                Table::create()
                    .table(P::Table)
                    .col(uuid(P::CaId).primary_key())
                    .col(big_integer(P::CrlNumber))
                    .col(blob(P::Der))
                    .col(big_integer(P::ThisUpdate))
                    .col(big_integer(P::NextUpdate))
                    .col(big_integer(P::RevokedCount))
                    .col(big_integer_null(P::LatestRevocation))
                    .foreign_key(&mut fk(
                        "fk_published_crls_ca",
                        P::Table,
                        P::CaId,
                        CertificateAuthorities::Table,
                        CertificateAuthorities::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await
    }
}
