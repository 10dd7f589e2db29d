//! What the SAML 2.0 identity provider remembers between requests: request IDs already
//! seen (replay cache), requests waiting for a login and logouts under way, persistent
//! pairwise NameIDs, and which service providers received assertions in which login
//! session (for single logout).

use sea_orm_migration::{prelude::*, schema::*};

use super::fk;
use super::m0001_tenants_users::{Tenants, Users};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum SamlSeenRequests {
    Table,
    /// SHA-256 over tenant, issuer and request ID: bounded length whatever the SP sends.
    LookupHash,
    TenantId,
    ExpiresAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SamlPendingRequests {
    Table,
    LookupHash,
    Kind,
    TenantId,
    SpEntityId,
    Data,
    ExpiresAt,
    ConsumedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SamlPersistentIds {
    Table,
    Id,
    TenantId,
    UserId,
    SpEntityId,
    NameId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SamlSessionParticipants {
    Table,
    Id,
    TenantId,
    UserId,
    WebSessionId,
    SpEntityId,
    SessionIndex,
    NameId,
    NameIdFormat,
    CreatedAt,
    ExpiresAt,
    EndedAt,
}

fn tenant_fk(name: &str, table: impl IntoIden, column: impl IntoIden) -> ForeignKeyCreateStatement {
    fk(name, table, column, Tenants::Table, Tenants::Id, ForeignKeyAction::Cascade)
}

fn user_fk(name: &str, table: impl IntoIden, column: impl IntoIden) -> ForeignKeyCreateStatement {
    fk(name, table, column, Users::Table, Users::Id, ForeignKeyAction::Cascade)
}

fn index(name: &str, table: impl IntoIden, columns: Vec<DynIden>, unique: bool) -> IndexCreateStatement {
    let mut stmt = Index::create().name(name).table(table).take();
    for c in columns {
        stmt.col(c);
    }
    if unique {
        stmt.unique();
    }
    stmt
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use SamlSeenRequests as S;
        manager
            .create_table(
                Table::create()
                    .table(S::Table)
                    .col(string(S::LookupHash).primary_key())
                    .col(uuid(S::TenantId))
                    .col(big_integer(S::ExpiresAt))
                    .col(big_integer(S::CreatedAt))
                    .foreign_key(&mut tenant_fk("fk_saml_seen_tenant", S::Table, S::TenantId))
                    .take(),
            )
            .await?;
        manager.create_index(index("ix_saml_seen_expires", S::Table, vec![S::ExpiresAt.into_iden()], false)).await?;

        use SamlPendingRequests as P;
        manager
            .create_table(
                Table::create()
                    .table(P::Table)
                    .col(string(P::LookupHash).primary_key())
                    .col(string(P::Kind))
                    .col(uuid(P::TenantId))
                    .col(string(P::SpEntityId))
                    .col(text(P::Data))
                    .col(big_integer(P::ExpiresAt))
                    .col(big_integer_null(P::ConsumedAt))
                    .col(big_integer(P::CreatedAt))
                    .foreign_key(&mut tenant_fk("fk_saml_pending_tenant", P::Table, P::TenantId))
                    .take(),
            )
            .await?;
        manager.create_index(index("ix_saml_pending_expires", P::Table, vec![P::ExpiresAt.into_iden()], false)).await?;

        use SamlPersistentIds as N;
        manager
            .create_table(
                Table::create()
                    .table(N::Table)
                    .col(pk_uuid(N::Id))
                    .col(uuid(N::TenantId))
                    .col(uuid(N::UserId))
                    .col(string(N::SpEntityId))
                    .col(string(N::NameId))
                    .col(big_integer(N::CreatedAt))
                    .foreign_key(&mut tenant_fk("fk_saml_persistent_tenant", N::Table, N::TenantId))
                    .foreign_key(&mut user_fk("fk_saml_persistent_user", N::Table, N::UserId))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "ux_saml_persistent_user_sp",
                N::Table,
                vec![N::TenantId.into_iden(), N::UserId.into_iden(), N::SpEntityId.into_iden()],
                true,
            ))
            .await?;
        manager
            .create_index(index(
                "ux_saml_persistent_sp_name",
                N::Table,
                vec![N::TenantId.into_iden(), N::SpEntityId.into_iden(), N::NameId.into_iden()],
                true,
            ))
            .await?;

        use SamlSessionParticipants as A;
        manager
            .create_table(
                Table::create()
                    .table(A::Table)
                    .col(pk_uuid(A::Id))
                    .col(uuid(A::TenantId))
                    .col(uuid(A::UserId))
                    .col(string(A::WebSessionId))
                    .col(string(A::SpEntityId))
                    .col(string(A::SessionIndex))
                    .col(string(A::NameId))
                    .col(string(A::NameIdFormat))
                    .col(big_integer(A::CreatedAt))
                    .col(big_integer(A::ExpiresAt))
                    .col(big_integer_null(A::EndedAt))
                    .foreign_key(&mut tenant_fk("fk_saml_participants_tenant", A::Table, A::TenantId))
                    .foreign_key(&mut user_fk("fk_saml_participants_user", A::Table, A::UserId))
                    .take(),
            )
            .await?;
        manager.create_index(index("ux_saml_participants_index", A::Table, vec![A::SessionIndex.into_iden()], true)).await?;
        manager.create_index(index("ix_saml_participants_session", A::Table, vec![A::WebSessionId.into_iden()], false)).await?;
        manager
            .create_index(index(
                "ix_saml_participants_name",
                A::Table,
                vec![A::TenantId.into_iden(), A::SpEntityId.into_iden(), A::NameId.into_iden()],
                false,
            ))
            .await?;
        manager.create_index(index("ix_saml_participants_expires", A::Table, vec![A::ExpiresAt.into_iden()], false)).await?;
        Ok(())
    }
}
