//! /tenants/{tenant}/oidc-clients and /saml-sps.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mamori_storage::model::ApiScope;

use super::extract::{ApiPath, Caller};
use super::problem::Problem;
use super::schema::{OidcClientOut, SamlSpOut};
use crate::admin::federation;
use crate::server::SharedState;

type Result<T> = std::result::Result<T, Problem>;

/// A tenant's OIDC clients.
#[utoipa::path(get, path = "/tenants/{tenant}/oidc-clients", tag = "relying-sites", params(("tenant" = String, Path, description = "Tenant slug")),
    responses((status = 200, description = "Clients", body = Vec<OidcClientOut>)))]
pub async fn oidc_clients(State(s): State<SharedState>, Caller(p): Caller, ApiPath(slug): ApiPath<String>) -> Result<Json<Vec<OidcClientOut>>> {
    Ok(Json(federation::oidc_clients(&s.app, &p, &slug).await?.iter().map(OidcClientOut::from).collect()))
}

/// Show an OIDC client.
#[utoipa::path(get, path = "/tenants/{tenant}/oidc-clients/{client_id}", tag = "relying-sites",
    params(("tenant" = String, Path, description = "Tenant slug"), ("client_id" = String, Path, description = "Client ID")),
    responses((status = 200, description = "The client", body = OidcClientOut)))]
pub async fn oidc_client(State(s): State<SharedState>, Caller(p): Caller, ApiPath((slug, client_id)): ApiPath<(String, String)>) -> Result<Json<OidcClientOut>> {
    Ok(Json(OidcClientOut::from(&federation::oidc_client(&s.app, &p, &slug, &client_id, ApiScope::Read).await?)))
}

/// Delete an OIDC client; its tokens stop working.
#[utoipa::path(delete, path = "/tenants/{tenant}/oidc-clients/{client_id}", tag = "relying-sites",
    params(("tenant" = String, Path, description = "Tenant slug"), ("client_id" = String, Path, description = "Client ID")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete_oidc_client(State(s): State<SharedState>, Caller(p): Caller, ApiPath((slug, client_id)): ApiPath<(String, String)>) -> Result<StatusCode> {
    federation::delete_oidc_client(&s.app, &p, &slug, &client_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A tenant's SAML service providers.
#[utoipa::path(get, path = "/tenants/{tenant}/saml-sps", tag = "relying-sites", params(("tenant" = String, Path, description = "Tenant slug")),
    responses((status = 200, description = "Service providers", body = Vec<SamlSpOut>)))]
pub async fn saml_sps(State(s): State<SharedState>, Caller(p): Caller, ApiPath(slug): ApiPath<String>) -> Result<Json<Vec<SamlSpOut>>> {
    Ok(Json(federation::saml_sps(&s.app, &p, &slug).await?.iter().map(SamlSpOut::from).collect()))
}

/// Show a SAML service provider.
#[utoipa::path(get, path = "/tenants/{tenant}/saml-sps/{sp_id}", tag = "relying-sites",
    params(("tenant" = String, Path, description = "Tenant slug"), ("sp_id" = String, Path, description = "The service provider's id")),
    responses((status = 200, description = "The service provider", body = SamlSpOut)))]
pub async fn saml_sp(State(s): State<SharedState>, Caller(p): Caller, ApiPath((slug, id)): ApiPath<(String, String)>) -> Result<Json<SamlSpOut>> {
    Ok(Json(SamlSpOut::from(&federation::saml_sp(&s.app, &p, &slug, &id, ApiScope::Read).await?)))
}

/// Delete a SAML service provider.
#[utoipa::path(delete, path = "/tenants/{tenant}/saml-sps/{sp_id}", tag = "relying-sites",
    params(("tenant" = String, Path, description = "Tenant slug"), ("sp_id" = String, Path, description = "The service provider's id")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete_saml_sp(State(s): State<SharedState>, Caller(p): Caller, ApiPath((slug, id)): ApiPath<(String, String)>) -> Result<StatusCode> {
    federation::delete_saml_sp(&s.app, &p, &slug, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
