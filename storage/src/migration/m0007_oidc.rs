//! What the OpenID Connect provider remembers between requests: pending authorization
//! requests (and pushed ones, RFC 9126), grants with the codes and tokens issued under
//! them, consents, initial access tokens for dynamic registration (RFC 7591) and the
//! client metadata that `oidc_clients` has no column for. Codes and tokens are stored
//! only as their SHA-256 (`lookup_hash`).

use sea_orm_migration::{prelude::*, schema::*};

use super::fk;
use super::m0001_tenants_users::{Tenants, Users};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum OidcClients {
    Table,
    ClientId,
}

#[derive(DeriveIden)]
enum OidcPendingRequests {
    Table,
    LookupHash,
    Kind,
    TenantId,
    ClientId,
    Params,
    ExpiresAt,
    ConsumedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OidcGrants {
    Table,
    Id,
    TenantId,
    ClientId,
    UserId,
    RevokedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OidcAuthorizationCodes {
    Table,
    LookupHash,
    GrantId,
    Data,
    ExpiresAt,
    RedeemedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OidcRefreshTokens {
    Table,
    LookupHash,
    GrantId,
    Data,
    ExpiresAt,
    RotatedAt,
    RevokedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OidcAccessTokens {
    Table,
    LookupHash,
    GrantId,
    TenantId,
    ClientId,
    Data,
    ExpiresAt,
    RevokedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OidcConsents {
    Table,
    Id,
    TenantId,
    ClientId,
    UserId,
    Scopes,
    GrantedAt,
}

#[derive(DeriveIden)]
enum OidcInitialAccessTokens {
    Table,
    LookupHash,
    TenantId,
    ExpiresAt,
    UsesLeft,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OidcClientSettings {
    Table,
    ClientId,
    Data,
    UpdatedAt,
}

fn tenant_fk(name: &str, table: impl IntoIden, column: impl IntoIden) -> ForeignKeyCreateStatement {
    fk(name, table, column, Tenants::Table, Tenants::Id, ForeignKeyAction::Cascade)
}

fn index(name: &str, table: impl IntoIden, column: impl IntoIden) -> IndexCreateStatement {
    Index::create().name(name).table(table).col(column).take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use OidcPendingRequests as P;
        manager
            .create_table(
                Table::create()
                    .table(P::Table)
                    .col(string(P::LookupHash).primary_key())
                    .col(string(P::Kind))
                    .col(uuid(P::TenantId))
                    .col(string(P::ClientId))
                    .col(text(P::Params))
                    .col(big_integer(P::ExpiresAt))
                    .col(big_integer_null(P::ConsumedAt))
                    .col(big_integer(P::CreatedAt))
                    .foreign_key(&mut tenant_fk("fk_oidc_pending_tenant", P::Table, P::TenantId))
                    .take(),
            )
            .await?;
        manager.create_index(index("ix_oidc_pending_expires", P::Table, P::ExpiresAt)).await?;

        use OidcGrants as G;
        manager
            .create_table(
                Table::create()
                    .table(G::Table)
                    .col(pk_uuid(G::Id))
                    .col(uuid(G::TenantId))
                    .col(string(G::ClientId))
                    .col(uuid_null(G::UserId))
                    .col(big_integer_null(G::RevokedAt))
                    .col(big_integer(G::CreatedAt))
                    .foreign_key(&mut tenant_fk("fk_oidc_grants_tenant", G::Table, G::TenantId))
                    .foreign_key(&mut fk("fk_oidc_grants_user", G::Table, G::UserId, Users::Table, Users::Id, ForeignKeyAction::Cascade))
                    .take(),
            )
            .await?;
        manager.create_index(index("ix_oidc_grants_user", G::Table, G::UserId)).await?;
        manager.create_index(index("ix_oidc_grants_client", G::Table, G::ClientId)).await?;

        use OidcAuthorizationCodes as C;
        manager
            .create_table(
                Table::create()
                    .table(C::Table)
                    .col(string(C::LookupHash).primary_key())
                    .col(uuid(C::GrantId))
                    .col(text(C::Data))
                    .col(big_integer(C::ExpiresAt))
                    .col(big_integer_null(C::RedeemedAt))
                    .col(big_integer(C::CreatedAt))
                    .foreign_key(&mut fk("fk_oidc_codes_grant", C::Table, C::GrantId, G::Table, G::Id, ForeignKeyAction::Cascade))
                    .take(),
            )
            .await?;
        manager.create_index(index("ix_oidc_codes_grant", C::Table, C::GrantId)).await?;

        use OidcRefreshTokens as R;
        manager
            .create_table(
                Table::create()
                    .table(R::Table)
                    .col(string(R::LookupHash).primary_key())
                    .col(uuid(R::GrantId))
                    .col(text(R::Data))
                    .col(big_integer(R::ExpiresAt))
                    .col(big_integer_null(R::RotatedAt))
                    .col(big_integer_null(R::RevokedAt))
                    .col(big_integer(R::CreatedAt))
                    .foreign_key(&mut fk("fk_oidc_refresh_grant", R::Table, R::GrantId, G::Table, G::Id, ForeignKeyAction::Cascade))
                    .take(),
            )
            .await?;
        manager.create_index(index("ix_oidc_refresh_grant", R::Table, R::GrantId)).await?;

        use OidcAccessTokens as A;
        manager
            .create_table(
                Table::create()
                    .table(A::Table)
                    .col(string(A::LookupHash).primary_key())
                    .col(uuid_null(A::GrantId))
                    .col(uuid(A::TenantId))
                    .col(string(A::ClientId))
                    .col(text(A::Data))
                    .col(big_integer(A::ExpiresAt))
                    .col(big_integer_null(A::RevokedAt))
                    .col(big_integer(A::CreatedAt))
                    .foreign_key(&mut tenant_fk("fk_oidc_access_tenant", A::Table, A::TenantId))
                    .foreign_key(&mut fk("fk_oidc_access_grant", A::Table, A::GrantId, G::Table, G::Id, ForeignKeyAction::Cascade))
                    .take(),
            )
            .await?;
        manager.create_index(index("ix_oidc_access_grant", A::Table, A::GrantId)).await?;
        manager.create_index(index("ix_oidc_access_expires", A::Table, A::ExpiresAt)).await?;

        use OidcConsents as K;
        manager
            .create_table(
                Table::create()
                    .table(K::Table)
                    .col(pk_uuid(K::Id))
                    .col(uuid(K::TenantId))
                    .col(string(K::ClientId))
                    .col(uuid(K::UserId))
                    .col(text(K::Scopes))
                    .col(big_integer(K::GrantedAt))
                    .foreign_key(&mut tenant_fk("fk_oidc_consents_tenant", K::Table, K::TenantId))
                    .foreign_key(&mut fk("fk_oidc_consents_user", K::Table, K::UserId, Users::Table, Users::Id, ForeignKeyAction::Cascade))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("ux_oidc_consents_client_user").table(K::Table).col(K::ClientId).col(K::UserId).unique().take(),
            )
            .await?;

        use OidcInitialAccessTokens as I;
        manager
            .create_table(
                Table::create()
                    .table(I::Table)
                    .col(string(I::LookupHash).primary_key())
                    .col(uuid(I::TenantId))
                    .col(big_integer(I::ExpiresAt))
                    .col(integer(I::UsesLeft))
                    .col(big_integer(I::CreatedAt))
                    .foreign_key(&mut tenant_fk("fk_oidc_iat_tenant", I::Table, I::TenantId))
                    .take(),
            )
            .await?;

        use OidcClientSettings as S;
        manager
            .create_table(
                Table::create()
                    .table(S::Table)
                    .col(string(S::ClientId).primary_key())
                    .col(text(S::Data))
                    .col(big_integer(S::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_oidc_client_settings_client",
                        S::Table,
                        S::ClientId,
                        OidcClients::Table,
                        OidcClients::ClientId,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;
        Ok(())
    }
}
