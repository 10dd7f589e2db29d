//! Single-use tickets and sessions.

use sea_orm_migration::{prelude::*, schema::*};

use super::fk;
use super::m0001_tenants_users::{Devices, Tenants, Users};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Tickets {
    Table,
    Id,
    Kind,
    TenantId,
    UserId,
    DeviceId,
    LookupHash,
    SecretHash,
    AcquisitionId,
    PayloadSealed,
    ExpiresAt,
    AttemptsLeft,
    UsesLeft,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    TenantId,
    UserId,
    Data,
    CreatedAt,
    LastSeenAt,
    IdleExpiresAt,
    AbsoluteExpiresAt,
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
                    .table(Tickets::Table)
                    .col(pk_uuid(Tickets::Id))
                    .col(string(Tickets::Kind))
                    .col(uuid(Tickets::TenantId))
                    .col(uuid(Tickets::UserId))
                    .col(uuid_null(Tickets::DeviceId))
                    .col(string_uniq(Tickets::LookupHash))
                    .col(text_null(Tickets::SecretHash))
                    .col(ColumnDef::new(Tickets::AcquisitionId).string().null().unique_key())
                    .col(blob_null(Tickets::PayloadSealed))
                    .col(big_integer(Tickets::ExpiresAt))
                    .col(integer(Tickets::AttemptsLeft))
                    .col(integer(Tickets::UsesLeft))
                    .col(big_integer(Tickets::CreatedAt))
                    .col(big_integer_null(Tickets::LastUsedAt))
                    .foreign_key(&mut fk(
                        "fk_tickets_tenant",
                        Tickets::Table,
                        Tickets::TenantId,
                        Tenants::Table,
                        Tenants::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_tickets_user",
                        Tickets::Table,
                        Tickets::UserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_tickets_device",
                        Tickets::Table,
                        Tickets::DeviceId,
                        Devices::Table,
                        Devices::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(Index::create().name("ix_tickets_user_kind").table(Tickets::Table).col(Tickets::UserId).col(Tickets::Kind).take())
            .await?;
        manager.create_index(Index::create().name("ix_tickets_expires_at").table(Tickets::Table).col(Tickets::ExpiresAt).take()).await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(string(Sessions::Id).primary_key())
                    .col(uuid(Sessions::TenantId))
                    .col(uuid_null(Sessions::UserId))
                    .col(text(Sessions::Data))
                    .col(big_integer(Sessions::CreatedAt))
                    .col(big_integer(Sessions::LastSeenAt))
                    .col(big_integer(Sessions::IdleExpiresAt))
                    .col(big_integer(Sessions::AbsoluteExpiresAt))
                    .foreign_key(&mut fk(
                        "fk_sessions_tenant",
                        Sessions::Table,
                        Sessions::TenantId,
                        Tenants::Table,
                        Tenants::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_sessions_user",
                        Sessions::Table,
                        Sessions::UserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;
        for (name, column) in [
            ("ix_sessions_user", Sessions::UserId),
            ("ix_sessions_idle_expires_at", Sessions::IdleExpiresAt),
            ("ix_sessions_absolute_expires_at", Sessions::AbsoluteExpiresAt),
        ] {
            manager.create_index(Index::create().name(name).table(Sessions::Table).col(column).take()).await?;
        }
        Ok(())
    }
}
