//! Passkeys (WebAuthn credentials), one row per credential. The credential itself (public
//! key, counter, flags) is webauthn-rs's serialised `Passkey`, opaque to storage; the
//! columns beside it are what queries and operators need: the credential ID (unique
//! across every tenant, as WebAuthn §7.1 step 22 asks), the signature counter for the
//! compare-and-swap that catches a cloned authenticator, and the backup flags.

use sea_orm_migration::{prelude::*, schema::*};

use super::fk;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Passkeys {
    Table,
    Id,
    TenantId,
    UserId,
    CredentialId,
    Credential,
    Name,
    SignCount,
    BackupEligible,
    BackedUp,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
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
        use Passkeys as P;
        manager
            .create_table(
                Table::create()
                    .table(P::Table)
                    .col(uuid(P::Id).primary_key())
                    .col(uuid(P::TenantId))
                    .col(uuid(P::UserId))
                    .col(string(P::CredentialId).unique_key())
                    .col(text(P::Credential))
                    .col(string(P::Name))
                    .col(big_integer(P::SignCount))
                    .col(boolean(P::BackupEligible))
                    .col(boolean(P::BackedUp))
                    .col(big_integer(P::CreatedAt))
                    .col(big_integer_null(P::LastUsedAt))
                    .foreign_key(&mut fk("fk_passkeys_user", P::Table, P::UserId, Users::Table, Users::Id, ForeignKeyAction::Cascade))
                    .foreign_key(&mut fk(
                        "fk_passkeys_tenant",
                        P::Table,
                        P::TenantId,
                        Tenants::Table,
                        Tenants::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager.create_index(Index::create().name("ix_passkeys_user").table(P::Table).col(P::UserId).take()).await
    }
}
