//! Relying sites (OIDC clients, SAML SPs) and signing keys.

use sea_orm_migration::{prelude::*, schema::*};

use super::fk;
use super::m0001_tenants_users::Tenants;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum OidcClients {
    Table,
    Id,
    TenantId,
    ClientId,
    ClientSecretHash,
    Name,
    RedirectUris,
    PostLogoutRedirectUris,
    GrantTypes,
    ResponseTypes,
    TokenEndpointAuthMethod,
    Jwks,
    JwksUri,
    Scopes,
    AccessTokenFormat,
    FirstParty,
    RequirePkce,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SamlServiceProviders {
    Table,
    Id,
    TenantId,
    EntityId,
    Name,
    MetadataXml,
    Acs,
    Slo,
    Certificates,
    WantAuthnRequestsSigned,
    NameIdFormat,
    AttributeRelease,
    SignResponse,
    SignAssertion,
    EncryptAssertion,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    Id,
    TenantId,
    Purpose,
    Algorithm,
    PublicJwk,
    CertificatePem,
    SealedPrivateKey,
    CreatedAt,
    ActivatedAt,
    RetireAfter,
    ExpiresAt,
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
                    .table(OidcClients::Table)
                    .col(pk_uuid(OidcClients::Id))
                    .col(uuid(OidcClients::TenantId))
                    .col(string_uniq(OidcClients::ClientId))
                    .col(text_null(OidcClients::ClientSecretHash))
                    .col(string(OidcClients::Name))
                    .col(text(OidcClients::RedirectUris))
                    .col(text(OidcClients::PostLogoutRedirectUris))
                    .col(text(OidcClients::GrantTypes))
                    .col(text(OidcClients::ResponseTypes))
                    .col(string(OidcClients::TokenEndpointAuthMethod))
                    .col(text_null(OidcClients::Jwks))
                    .col(text_null(OidcClients::JwksUri))
                    .col(text(OidcClients::Scopes))
                    .col(string(OidcClients::AccessTokenFormat))
                    .col(boolean(OidcClients::FirstParty))
                    .col(boolean(OidcClients::RequirePkce))
                    .col(big_integer(OidcClients::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_oidc_clients_tenant",
                        OidcClients::Table,
                        OidcClients::TenantId,
                        Tenants::Table,
                        Tenants::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(Index::create().name("ix_oidc_clients_tenant").table(OidcClients::Table).col(OidcClients::TenantId).take())
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SamlServiceProviders::Table)
                    .col(pk_uuid(SamlServiceProviders::Id))
                    .col(uuid(SamlServiceProviders::TenantId))
                    .col(string(SamlServiceProviders::EntityId))
                    .col(string(SamlServiceProviders::Name))
                    .col(text_null(SamlServiceProviders::MetadataXml))
                    .col(text(SamlServiceProviders::Acs))
                    .col(text(SamlServiceProviders::Slo))
                    .col(text(SamlServiceProviders::Certificates))
                    .col(boolean(SamlServiceProviders::WantAuthnRequestsSigned))
                    .col(string(SamlServiceProviders::NameIdFormat))
                    .col(text(SamlServiceProviders::AttributeRelease))
                    .col(boolean(SamlServiceProviders::SignResponse))
                    .col(boolean(SamlServiceProviders::SignAssertion))
                    .col(boolean(SamlServiceProviders::EncryptAssertion))
                    .col(big_integer(SamlServiceProviders::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_saml_service_providers_tenant",
                        SamlServiceProviders::Table,
                        SamlServiceProviders::TenantId,
                        Tenants::Table,
                        Tenants::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_saml_service_providers_tenant_entity")
                    .table(SamlServiceProviders::Table)
                    .col(SamlServiceProviders::TenantId)
                    .col(SamlServiceProviders::EntityId)
                    .unique()
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SigningKeys::Table)
                    .col(string(SigningKeys::Id).primary_key())
                    .col(uuid_null(SigningKeys::TenantId))
                    .col(string(SigningKeys::Purpose))
                    .col(string(SigningKeys::Algorithm))
                    .col(text_null(SigningKeys::PublicJwk))
                    .col(text_null(SigningKeys::CertificatePem))
                    .col(blob(SigningKeys::SealedPrivateKey))
                    .col(big_integer(SigningKeys::CreatedAt))
                    .col(big_integer(SigningKeys::ActivatedAt))
                    .col(big_integer_null(SigningKeys::RetireAfter))
                    .col(big_integer_null(SigningKeys::ExpiresAt))
                    .foreign_key(&mut fk(
                        "fk_signing_keys_tenant",
                        SigningKeys::Table,
                        SigningKeys::TenantId,
                        Tenants::Table,
                        Tenants::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_signing_keys_tenant_purpose")
                    .table(SigningKeys::Table)
                    .col(SigningKeys::TenantId)
                    .col(SigningKeys::Purpose)
                    .take(),
            )
            .await?;
        Ok(())
    }
}
