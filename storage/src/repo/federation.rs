//! Relying sites (OIDC clients, SAML service providers) and signing keys.

use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, TransactionTrait,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StorageError;
use crate::convert::{from_json, ms, opt_ms, opt_time, parse, time, to_json};
use crate::entity::oidc::{access_token, grant};
use crate::entity::{oidc_client, relying_site_version as site_version, saml_service_provider as saml_sp, signing_key};
use crate::error::{db_err, on_conflict};
use crate::model::{
    KeyPurpose, NewOidcClient, NewSamlServiceProvider, NewSigningKey, OidcClient, SamlServiceProvider, SigningAlgorithm, SigningKey,
};

/// Bumps the tenant's relying-site version on `conn`, the transaction that changes one of
/// its clients or service providers (see migration 0014): every node's cached client is
/// then stale as soon as, and not before, the change itself is visible.
pub(crate) async fn bump_site_version<C: ConnectionTrait>(conn: &C, tenant_id: Uuid) -> Result<(), StorageError> {
    use site_version::Column as V;
    let first = site_version::Model { tenant_id, version: 1 };
    site_version::Entity::insert(first.into_active_model())
        .on_conflict(OnConflict::column(V::TenantId).value(V::Version, Expr::col((site_version::Entity, V::Version)).add(1)).to_owned())
        .exec_without_returning(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// The tenant's relying-site version (0 before its first change).
pub struct RelyingSiteVersions<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> RelyingSiteVersions<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        RelyingSiteVersions { db }
    }

    pub async fn get(&self, tenant_id: Uuid) -> Result<i64, StorageError> {
        let model = site_version::Entity::find_by_id(tenant_id).one(self.db).await.map_err(db_err)?;
        Ok(model.map_or(0, |m| m.version))
    }
}

pub struct OidcClients<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> OidcClients<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        OidcClients { db }
    }

    pub async fn create(&self, new: &NewOidcClient, now: OffsetDateTime) -> Result<OidcClient, StorageError> {
        let model = oidc_client::Model {
            id: Uuid::new_v4(),
            tenant_id: new.tenant_id,
            client_id: new.client_id.clone(),
            client_secret_hash: new.client_secret_hash.clone(),
            name: new.name.clone(),
            redirect_uris: to_json(&new.redirect_uris)?,
            post_logout_redirect_uris: to_json(&new.post_logout_redirect_uris)?,
            grant_types: to_json(&new.grant_types)?,
            response_types: to_json(&new.response_types)?,
            token_endpoint_auth_method: new.token_endpoint_auth_method.clone(),
            jwks: new.jwks.clone(),
            jwks_uri: new.jwks_uri.clone(),
            scopes: to_json(&new.scopes)?,
            claims: new.claims.as_ref().map(to_json).transpose()?,
            access_token_format: new.access_token_format.as_str().to_owned(),
            first_party: new.first_party,
            require_pkce: new.require_pkce,
            created_at: ms(now),
        };
        let txn = self.db.begin().await.map_err(db_err)?;
        oidc_client::Entity::insert(model.clone().into_active_model())
            .exec_without_returning(&txn)
            .await
            .map_err(on_conflict("client ID already exists"))?;
        bump_site_version(&txn, new.tenant_id).await?;
        txn.commit().await.map_err(db_err)?;
        to_oidc_client(model)
    }

    pub async fn get_by_client_id(&self, client_id: &str) -> Result<Option<OidcClient>, StorageError> {
        let model = oidc_client::Entity::find().filter(oidc_client::Column::ClientId.eq(client_id)).one(self.db).await.map_err(db_err)?;
        model.map(to_oidc_client).transpose()
    }

    pub async fn list(&self, tenant_id: Uuid) -> Result<Vec<OidcClient>, StorageError> {
        let models = oidc_client::Entity::find()
            .filter(oidc_client::Column::TenantId.eq(tenant_id))
            .order_by_asc(oidc_client::Column::ClientId)
            .all(self.db)
            .await
            .map_err(db_err)?;
        models.into_iter().map(to_oidc_client).collect()
    }

    /// Writes every changeable field of `client` (all but its ids, tenant and creation
    /// time), the secret hash included.
    pub async fn update(&self, client: &OidcClient) -> Result<(), StorageError> {
        use oidc_client::Column as C;
        let txn = self.db.begin().await.map_err(db_err)?;
        let result = oidc_client::Entity::update_many()
            .col_expr(C::ClientSecretHash, Expr::val(client.client_secret_hash.clone()))
            .col_expr(C::Name, Expr::val(client.name.clone()))
            .col_expr(C::RedirectUris, Expr::val(to_json(&client.redirect_uris)?))
            .col_expr(C::PostLogoutRedirectUris, Expr::val(to_json(&client.post_logout_redirect_uris)?))
            .col_expr(C::GrantTypes, Expr::val(to_json(&client.grant_types)?))
            .col_expr(C::ResponseTypes, Expr::val(to_json(&client.response_types)?))
            .col_expr(C::TokenEndpointAuthMethod, Expr::val(client.token_endpoint_auth_method.clone()))
            .col_expr(C::Jwks, Expr::val(client.jwks.clone()))
            .col_expr(C::JwksUri, Expr::val(client.jwks_uri.clone()))
            .col_expr(C::Scopes, Expr::val(to_json(&client.scopes)?))
            .col_expr(C::Claims, Expr::val(client.claims.as_ref().map(to_json).transpose()?))
            .col_expr(C::AccessTokenFormat, Expr::val(client.access_token_format.as_str()))
            .col_expr(C::FirstParty, Expr::val(client.first_party))
            .col_expr(C::RequirePkce, Expr::val(client.require_pkce))
            .filter(C::ClientId.eq(client.client_id.as_str()))
            .filter(C::TenantId.eq(client.tenant_id))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        if result.rows_affected == 0 {
            return Err(StorageError::NotFound);
        }
        bump_site_version(&txn, client.tenant_id).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(())
    }

    /// Deletes the client and, in the same transaction, revokes every grant it holds and
    /// every access token recorded for it: its refresh tokens, opaque access tokens and
    /// unredeemed codes end with it, on every node. (Its JWT access tokens are not
    /// recorded; a validator refuses a token whose client is gone.)
    pub async fn delete(&self, client_id: &str, now: OffsetDateTime) -> Result<(), StorageError> {
        let txn = self.db.begin().await.map_err(db_err)?;
        let found = oidc_client::Entity::find().filter(oidc_client::Column::ClientId.eq(client_id)).one(&txn).await.map_err(db_err)?;
        let Some(found) = found else { return Err(StorageError::NotFound) };
        oidc_client::Entity::delete_many().filter(oidc_client::Column::ClientId.eq(client_id)).exec(&txn).await.map_err(db_err)?;
        grant::Entity::update_many()
            .col_expr(grant::Column::RevokedAt, Expr::val(ms(now)))
            .filter(grant::Column::ClientId.eq(client_id))
            .filter(grant::Column::RevokedAt.is_null())
            .exec(&txn)
            .await
            .map_err(db_err)?;
        access_token::Entity::update_many()
            .col_expr(access_token::Column::RevokedAt, Expr::val(ms(now)))
            .filter(access_token::Column::ClientId.eq(client_id))
            .filter(access_token::Column::RevokedAt.is_null())
            .exec(&txn)
            .await
            .map_err(db_err)?;
        bump_site_version(&txn, found.tenant_id).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(())
    }
}

fn to_oidc_client(m: oidc_client::Model) -> Result<OidcClient, StorageError> {
    Ok(OidcClient {
        id: m.id,
        tenant_id: m.tenant_id,
        client_id: m.client_id,
        client_secret_hash: m.client_secret_hash,
        name: m.name,
        redirect_uris: from_json("oidc_clients.redirect_uris", &m.redirect_uris)?,
        post_logout_redirect_uris: from_json("oidc_clients.post_logout_redirect_uris", &m.post_logout_redirect_uris)?,
        grant_types: from_json("oidc_clients.grant_types", &m.grant_types)?,
        response_types: from_json("oidc_clients.response_types", &m.response_types)?,
        token_endpoint_auth_method: m.token_endpoint_auth_method,
        jwks: m.jwks,
        jwks_uri: m.jwks_uri,
        scopes: from_json("oidc_clients.scopes", &m.scopes)?,
        claims: m.claims.as_deref().map(|c| from_json("oidc_clients.claims", c)).transpose()?,
        access_token_format: parse("oidc_clients.access_token_format", &m.access_token_format)?,
        first_party: m.first_party,
        require_pkce: m.require_pkce,
        created_at: time("oidc_clients.created_at", m.created_at)?,
    })
}

pub struct SamlServiceProviders<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> SamlServiceProviders<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        SamlServiceProviders { db }
    }

    pub async fn create(&self, new: &NewSamlServiceProvider, now: OffsetDateTime) -> Result<SamlServiceProvider, StorageError> {
        let model = saml_sp::Model {
            id: Uuid::new_v4(),
            tenant_id: new.tenant_id,
            entity_id: new.entity_id.clone(),
            name: new.name.clone(),
            metadata_xml: new.metadata_xml.clone(),
            acs: to_json(&new.acs)?,
            slo: to_json(&new.slo)?,
            certificates: to_json(&new.certificates)?,
            want_authn_requests_signed: new.want_authn_requests_signed,
            name_id_format: new.name_id_format.clone(),
            attribute_release: to_json(&new.attribute_release)?,
            sign_response: new.sign_response,
            sign_assertion: new.sign_assertion,
            encrypt_assertion: new.encrypt_assertion,
            allow_unsolicited: new.allow_unsolicited,
            created_at: ms(now),
        };
        let txn = self.db.begin().await.map_err(db_err)?;
        saml_sp::Entity::insert(model.clone().into_active_model())
            .exec_without_returning(&txn)
            .await
            .map_err(on_conflict("entity ID already exists in this tenant"))?;
        bump_site_version(&txn, new.tenant_id).await?;
        txn.commit().await.map_err(db_err)?;
        to_saml_sp(model)
    }

    pub async fn get_by_entity_id(&self, tenant_id: Uuid, entity_id: &str) -> Result<Option<SamlServiceProvider>, StorageError> {
        let model = saml_sp::Entity::find()
            .filter(saml_sp::Column::TenantId.eq(tenant_id))
            .filter(saml_sp::Column::EntityId.eq(entity_id))
            .one(self.db)
            .await
            .map_err(db_err)?;
        model.map(to_saml_sp).transpose()
    }

    pub async fn list(&self, tenant_id: Uuid) -> Result<Vec<SamlServiceProvider>, StorageError> {
        let models = saml_sp::Entity::find()
            .filter(saml_sp::Column::TenantId.eq(tenant_id))
            .order_by_asc(saml_sp::Column::EntityId)
            .all(self.db)
            .await
            .map_err(db_err)?;
        models.into_iter().map(to_saml_sp).collect()
    }

    /// Writes the operator's settings of `sp`: name, NameID format, attribute release,
    /// signing and encryption choices, unsolicited responses (the metadata-derived fields
    /// stay).
    pub async fn update_settings(&self, sp: &SamlServiceProvider) -> Result<(), StorageError> {
        use saml_sp::Column as C;
        let txn = self.db.begin().await.map_err(db_err)?;
        let result = saml_sp::Entity::update_many()
            .col_expr(C::Name, Expr::val(sp.name.clone()))
            .col_expr(C::NameIdFormat, Expr::val(sp.name_id_format.clone()))
            .col_expr(C::AttributeRelease, Expr::val(to_json(&sp.attribute_release)?))
            .col_expr(C::WantAuthnRequestsSigned, Expr::val(sp.want_authn_requests_signed))
            .col_expr(C::SignResponse, Expr::val(sp.sign_response))
            .col_expr(C::SignAssertion, Expr::val(sp.sign_assertion))
            .col_expr(C::EncryptAssertion, Expr::val(sp.encrypt_assertion))
            .col_expr(C::AllowUnsolicited, Expr::val(sp.allow_unsolicited))
            .filter(C::Id.eq(sp.id))
            .filter(C::TenantId.eq(sp.tenant_id))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        if result.rows_affected == 0 {
            return Err(StorageError::NotFound);
        }
        bump_site_version(&txn, sp.tenant_id).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(())
    }

    pub async fn delete(&self, tenant_id: Uuid, entity_id: &str) -> Result<(), StorageError> {
        let txn = self.db.begin().await.map_err(db_err)?;
        let result = saml_sp::Entity::delete_many()
            .filter(saml_sp::Column::TenantId.eq(tenant_id))
            .filter(saml_sp::Column::EntityId.eq(entity_id))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        if result.rows_affected == 0 {
            return Err(StorageError::NotFound);
        }
        bump_site_version(&txn, tenant_id).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(())
    }
}

fn to_saml_sp(m: saml_sp::Model) -> Result<SamlServiceProvider, StorageError> {
    Ok(SamlServiceProvider {
        id: m.id,
        tenant_id: m.tenant_id,
        entity_id: m.entity_id,
        name: m.name,
        metadata_xml: m.metadata_xml,
        acs: from_json("saml_service_providers.acs", &m.acs)?,
        slo: from_json("saml_service_providers.slo", &m.slo)?,
        certificates: from_json("saml_service_providers.certificates", &m.certificates)?,
        want_authn_requests_signed: m.want_authn_requests_signed,
        name_id_format: m.name_id_format,
        attribute_release: from_json("saml_service_providers.attribute_release", &m.attribute_release)?,
        sign_response: m.sign_response,
        sign_assertion: m.sign_assertion,
        encrypt_assertion: m.encrypt_assertion,
        allow_unsolicited: m.allow_unsolicited,
        created_at: time("saml_service_providers.created_at", m.created_at)?,
    })
}

pub struct SigningKeys<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> SigningKeys<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        SigningKeys { db }
    }

    pub async fn insert(&self, new: &NewSigningKey, now: OffsetDateTime) -> Result<SigningKey, StorageError> {
        let model = signing_key::Model {
            id: new.kid.clone(),
            tenant_id: new.tenant_id,
            purpose: new.purpose.as_str().to_owned(),
            algorithm: new.algorithm.as_str().to_owned(),
            public_jwk: new.public_jwk.clone(),
            certificate_pem: new.certificate_pem.clone(),
            sealed_private_key: new.sealed_private_key.clone(),
            created_at: ms(now),
            activated_at: ms(new.activated_at),
            retire_after: opt_ms(new.retire_after),
            expires_at: opt_ms(new.expires_at),
        };
        signing_key::Entity::insert(model.clone().into_active_model())
            .exec_without_returning(self.db)
            .await
            .map_err(on_conflict("key ID already exists"))?;
        to_signing_key(model)
    }

    pub async fn get(&self, kid: &str) -> Result<SigningKey, StorageError> {
        let model = signing_key::Entity::find_by_id(kid.to_owned()).one(self.db).await.map_err(db_err)?;
        to_signing_key(model.ok_or(StorageError::NotFound)?)
    }

    /// Keys to publish (JWKS, SAML metadata) at `now`: every unexpired key of the tenant
    /// and the global ones, including keys not yet active and keys already retired from
    /// signing, so verifiers know them during rotation. Newest activation first.
    pub async fn list_published(
        &self,
        tenant_id: Option<Uuid>,
        purpose: KeyPurpose,
        now: OffsetDateTime,
    ) -> Result<Vec<SigningKey>, StorageError> {
        let models = signing_key::Entity::find()
            .filter(scope(tenant_id))
            .filter(signing_key::Column::Purpose.eq(purpose.as_str()))
            .filter(unexpired(now))
            .order_by_desc(signing_key::Column::ActivatedAt)
            .order_by_asc(signing_key::Column::Id)
            .all(self.db)
            .await
            .map_err(db_err)?;
        models.into_iter().map(to_signing_key).collect()
    }

    /// The key to sign with at `now`: activated, not retired, not expired; a tenant's own
    /// key wins over a global one, then the most recently activated.
    pub async fn active(
        &self,
        tenant_id: Option<Uuid>,
        purpose: KeyPurpose,
        algorithm: SigningAlgorithm,
        now: OffsetDateTime,
    ) -> Result<Option<SigningKey>, StorageError> {
        let models = signing_key::Entity::find()
            .filter(scope(tenant_id))
            .filter(signing_key::Column::Purpose.eq(purpose.as_str()))
            .filter(signing_key::Column::Algorithm.eq(algorithm.as_str()))
            .filter(signing_key::Column::ActivatedAt.lte(ms(now)))
            .filter(Condition::any().add(signing_key::Column::RetireAfter.is_null()).add(signing_key::Column::RetireAfter.gt(ms(now))))
            .filter(unexpired(now))
            .order_by_desc(signing_key::Column::ActivatedAt)
            .all(self.db)
            .await
            .map_err(db_err)?;
        let best = models.iter().find(|m| m.tenant_id.is_some() && m.tenant_id == tenant_id).or_else(|| models.first()).cloned();
        best.map(to_signing_key).transpose()
    }
}

/// A tenant's keys plus the global ones; only global ones without a tenant.
fn scope(tenant_id: Option<Uuid>) -> Condition {
    let global = signing_key::Column::TenantId.is_null();
    match tenant_id {
        Some(tenant_id) => Condition::any().add(global).add(signing_key::Column::TenantId.eq(tenant_id)),
        None => Condition::all().add(global),
    }
}

fn unexpired(now: OffsetDateTime) -> Condition {
    Condition::any().add(signing_key::Column::ExpiresAt.is_null()).add(signing_key::Column::ExpiresAt.gt(ms(now)))
}

fn to_signing_key(m: signing_key::Model) -> Result<SigningKey, StorageError> {
    Ok(SigningKey {
        kid: m.id,
        tenant_id: m.tenant_id,
        purpose: parse("signing_keys.purpose", &m.purpose)?,
        algorithm: parse("signing_keys.algorithm", &m.algorithm)?,
        public_jwk: m.public_jwk,
        certificate_pem: m.certificate_pem,
        sealed_private_key: m.sealed_private_key,
        created_at: time("signing_keys.created_at", m.created_at)?,
        activated_at: time("signing_keys.activated_at", m.activated_at)?,
        retire_after: opt_time("signing_keys.retire_after", m.retire_after)?,
        expires_at: opt_time("signing_keys.expires_at", m.expires_at)?,
    })
}
