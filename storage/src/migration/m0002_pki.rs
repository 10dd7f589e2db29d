//! Certificate authorities and issued certificates.

use sea_orm_migration::{prelude::*, schema::*};

use super::fk;
use super::m0001_tenants_users::{Devices, Users};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum CertificateAuthorities {
    Table,
    Id,
    Name,
    CertificatePem,
    ChainPem,
    SealedPrivateKey,
    KeyAlgorithm,
    FingerprintSha256,
    IsActive,
    CrlNumber,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Certificates {
    Table,
    Id,
    CaId,
    UserId,
    DeviceId,
    SerialHex,
    FingerprintSha256,
    SubjectCn,
    NotBefore,
    NotAfter,
    Status,
    RevokedAt,
    RevocationReason,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CertificateAuthorities::Table)
                    .col(pk_uuid(CertificateAuthorities::Id))
                    .col(string(CertificateAuthorities::Name))
                    .col(text(CertificateAuthorities::CertificatePem))
                    .col(text(CertificateAuthorities::ChainPem))
                    .col(blob(CertificateAuthorities::SealedPrivateKey))
                    .col(string(CertificateAuthorities::KeyAlgorithm))
                    .col(string_uniq(CertificateAuthorities::FingerprintSha256))
                    .col(boolean(CertificateAuthorities::IsActive).default(false))
                    .col(big_integer(CertificateAuthorities::CrlNumber).default(0))
                    .col(big_integer(CertificateAuthorities::CreatedAt))
                    .take(),
            )
            .await?;
        // At most one issuing CA, enforced by the database itself (partial unique index,
        // same syntax on PostgreSQL and SQLite).
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_certificate_authorities_single_active \
                 ON certificate_authorities (is_active) WHERE is_active",
            )
            .await?;

        // Certificates outlive their user and device (the CRL still lists them), and a CA
        // with certificates cannot be deleted.
        manager
            .create_table(
                Table::create()
                    .table(Certificates::Table)
                    .col(pk_uuid(Certificates::Id))
                    .col(uuid(Certificates::CaId))
                    .col(uuid_null(Certificates::UserId))
                    .col(uuid_null(Certificates::DeviceId))
                    .col(string_uniq(Certificates::SerialHex))
                    .col(string_uniq(Certificates::FingerprintSha256))
                    .col(string(Certificates::SubjectCn))
                    .col(big_integer(Certificates::NotBefore))
                    .col(big_integer(Certificates::NotAfter))
                    .col(string(Certificates::Status))
                    .col(big_integer_null(Certificates::RevokedAt))
                    .col(string_null(Certificates::RevocationReason))
                    .col(big_integer(Certificates::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_certificates_ca",
                        Certificates::Table,
                        Certificates::CaId,
                        CertificateAuthorities::Table,
                        CertificateAuthorities::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_certificates_user",
                        Certificates::Table,
                        Certificates::UserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "fk_certificates_device",
                        Certificates::Table,
                        Certificates::DeviceId,
                        Devices::Table,
                        Devices::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .take(),
            )
            .await?;
        for (name, column) in [("ix_certificates_user", Certificates::UserId), ("ix_certificates_device", Certificates::DeviceId)] {
            manager.create_index(Index::create().name(name).table(Certificates::Table).col(column).take()).await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ix_certificates_ca_status")
                    .table(Certificates::Table)
                    .col(Certificates::CaId)
                    .col(Certificates::Status)
                    .take(),
            )
            .await?;
        Ok(())
    }
}
