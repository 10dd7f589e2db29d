//! Relying sites of a tenant: OIDC clients and SAML service providers (registration
//! itself stays with `mamori admin oidc-client|saml-sp` for now).

use mamori_storage::model::{ApiScope, OidcClient, SamlServiceProvider};
use uuid::Uuid;

use super::{AdminError, Principal, audit};
use crate::app::App;

pub async fn oidc_clients(app: &App, principal: &Principal, slug: &str) -> Result<Vec<OidcClient>, AdminError> {
    let tenant = principal.tenant(app, slug, ApiScope::Read).await?;
    Ok(app.storage.oidc_clients().list(tenant.id).await?)
}

/// The client `client_id` if it belongs to the tenant.
pub async fn oidc_client(app: &App, principal: &Principal, slug: &str, client_id: &str, scope: ApiScope) -> Result<OidcClient, AdminError> {
    let tenant = principal.tenant(app, slug, scope).await?;
    match app.storage.oidc_clients().get_by_client_id(client_id).await? {
        Some(client) if client.tenant_id == tenant.id => Ok(client),
        _ => Err(AdminError::NotFound(format!("no OIDC client `{client_id}` in tenant `{slug}`"))),
    }
}

pub async fn delete_oidc_client(app: &App, principal: &Principal, slug: &str, client_id: &str) -> Result<(), AdminError> {
    let client = oidc_client(app, principal, slug, client_id, ApiScope::Write).await?;
    app.storage.oidc_clients().delete(&client.client_id).await?;
    audit::record(app, principal, Some(client.tenant_id), "oidc-client.delete", &format!("tenant:{slug}/oidc-client:{client_id}"), serde_json::json!({"name": client.name})).await;
    Ok(())
}

pub async fn saml_sps(app: &App, principal: &Principal, slug: &str) -> Result<Vec<SamlServiceProvider>, AdminError> {
    let tenant = principal.tenant(app, slug, ApiScope::Read).await?;
    Ok(app.storage.saml_service_providers().list(tenant.id).await?)
}

pub async fn saml_sp(app: &App, principal: &Principal, slug: &str, id: &str, scope: ApiScope) -> Result<SamlServiceProvider, AdminError> {
    let not_found = || AdminError::NotFound(format!("no SAML service provider `{id}` in tenant `{slug}`"));
    let tenant = principal.tenant(app, slug, scope).await?;
    let id: Uuid = id.parse().map_err(|_| not_found())?;
    app.storage.saml_service_providers().list(tenant.id).await?.into_iter().find(|sp| sp.id == id).ok_or_else(not_found)
}

pub async fn delete_saml_sp(app: &App, principal: &Principal, slug: &str, id: &str) -> Result<(), AdminError> {
    let sp = saml_sp(app, principal, slug, id, ApiScope::Write).await?;
    app.storage.saml_service_providers().delete(sp.tenant_id, &sp.entity_id).await?;
    audit::record(app, principal, Some(sp.tenant_id), "saml-sp.delete", &format!("tenant:{slug}/saml-sp:{}", sp.entity_id), serde_json::json!({"name": sp.name})).await;
    Ok(())
}
