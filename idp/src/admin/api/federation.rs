//! /tenants/{tenant}/oidc-clients and /saml-sps.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use mamori_storage::model::ApiScope;

use super::extract::{ApiJson, ApiPath, Caller};
use super::problem::Problem;
use super::schema::{OidcClientOut, SamlSpOut};
use super::sites_schema::{OidcClientCreate, OidcClientCreated, OidcClientPatch, SamlSpCreate, SamlSpPatch};
use crate::admin::saml_sps::{self, SpRegistration};
use crate::admin::{AdminError, federation};
use crate::state::SharedState;

type Result<T> = std::result::Result<T, Problem>;

/// A tenant's OIDC clients.
#[utoipa::path(get, path = "/tenants/{tenant}/oidc-clients", tag = "relying-sites", params(("tenant" = String, Path, description = "Tenant slug")),
    responses((status = 200, description = "Clients", body = Vec<OidcClientOut>)))]
pub async fn oidc_clients(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<Vec<OidcClientOut>>> {
    Ok(Json(federation::registered_oidc_clients(&s.app, &p, &slug).await?.iter().map(OidcClientOut::from).collect()))
}

/// Show an OIDC client.
#[utoipa::path(get, path = "/tenants/{tenant}/oidc-clients/{client_id}", tag = "relying-sites",
    params(("tenant" = String, Path, description = "Tenant slug"), ("client_id" = String, Path, description = "Client ID")),
    responses((status = 200, description = "The client", body = OidcClientOut)))]
pub async fn oidc_client(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath((slug, client_id)): ApiPath<(String, String)>,
) -> Result<Json<OidcClientOut>> {
    Ok(Json(OidcClientOut::from(&federation::registered_oidc_client(&s.app, &p, &slug, &client_id).await?)))
}

/// Register an OIDC client. For client_secret_basic/post the response holds the client
/// secret, shown this once.
#[utoipa::path(post, path = "/tenants/{tenant}/oidc-clients", tag = "relying-sites", params(("tenant" = String, Path, description = "Tenant slug")),
    request_body = OidcClientCreate,
    responses((status = 201, description = "Registered", body = OidcClientCreated)))]
pub async fn create_oidc_client(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath(slug): ApiPath<String>,
    ApiJson(body): ApiJson<OidcClientCreate>,
) -> Result<(StatusCode, Json<OidcClientCreated>)> {
    let created = federation::create_oidc_client(&s.app, &p, &slug, body.into()).await?;
    Ok((StatusCode::CREATED, Json(OidcClientCreated::from(&created))))
}

/// Change an OIDC client (absent fields stay as they are).
#[utoipa::path(patch, path = "/tenants/{tenant}/oidc-clients/{client_id}", tag = "relying-sites",
    params(("tenant" = String, Path, description = "Tenant slug"), ("client_id" = String, Path, description = "Client ID")),
    request_body = OidcClientPatch,
    responses((status = 200, description = "The client as changed", body = OidcClientOut)))]
pub async fn update_oidc_client(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath((slug, client_id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<OidcClientPatch>,
) -> Result<Json<OidcClientOut>> {
    let updated = federation::update_oidc_client(&s.app, &p, &slug, &client_id, body.into()).await?;
    Ok(Json(OidcClientOut::from(&updated)))
}

/// Give a client_secret_* client a new secret, shown this once; the old one stops working
/// on this node at once and on every other node within a second.
#[utoipa::path(post, path = "/tenants/{tenant}/oidc-clients/{client_id}/rotate-secret", tag = "relying-sites",
    params(("tenant" = String, Path, description = "Tenant slug"), ("client_id" = String, Path, description = "Client ID")),
    responses((status = 200, description = "The client and its new secret", body = OidcClientCreated)))]
pub async fn rotate_oidc_client_secret(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath((slug, client_id)): ApiPath<(String, String)>,
) -> Result<Json<OidcClientCreated>> {
    Ok(Json(OidcClientCreated::from(&federation::rotate_oidc_client_secret(&s.app, &p, &slug, &client_id).await?)))
}

/// Delete an OIDC client; its tokens stop working.
#[utoipa::path(delete, path = "/tenants/{tenant}/oidc-clients/{client_id}", tag = "relying-sites",
    params(("tenant" = String, Path, description = "Tenant slug"), ("client_id" = String, Path, description = "Client ID")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete_oidc_client(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath((slug, client_id)): ApiPath<(String, String)>,
) -> Result<StatusCode> {
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
pub async fn saml_sp(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath((slug, id)): ApiPath<(String, String)>,
) -> Result<Json<SamlSpOut>> {
    Ok(Json(SamlSpOut::from(&federation::saml_sp(&s.app, &p, &slug, &id, ApiScope::Read).await?)))
}

/// Register a SAML service provider from its metadata: JSON with the metadata and
/// options, or the metadata alone as application/samlmetadata+xml (default options).
#[utoipa::path(post, path = "/tenants/{tenant}/saml-sps", tag = "relying-sites", params(("tenant" = String, Path, description = "Tenant slug")),
    request_body(content((SamlSpCreate = "application/json"), (String = "application/samlmetadata+xml")), description = "The SP and its metadata"),
    responses((status = 201, description = "Registered", body = SamlSpOut)))]
pub async fn create_saml_sp(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath(slug): ApiPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<SamlSpOut>)> {
    let registration = sp_registration(&headers, &body)?;
    let sp = saml_sps::create_saml_sp(&s.app, &p, &slug, registration).await?;
    Ok((StatusCode::CREATED, Json(SamlSpOut::from(&sp))))
}

/// The registration a request body carries, by its content type.
fn sp_registration(headers: &HeaderMap, body: &[u8]) -> Result<SpRegistration> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/samlmetadata+xml" | "application/xml" | "text/xml" => {
            Ok(SpRegistration { metadata: body.to_vec(), ..SpRegistration::default() })
        }
        "application/json" => match serde_json::from_slice::<SamlSpCreate>(body) {
            Ok(create) => Ok(create.into()),
            Err(e) if e.is_data() => Err(AdminError::Invalid(e.to_string()).into()),
            Err(e) => Err(Problem::new(StatusCode::BAD_REQUEST, "bad-request", format!("the body is not JSON: {e}"))),
        },
        _ => Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "send application/json or the metadata as application/samlmetadata+xml",
        )),
    }
}

/// Change a SAML service provider's settings: attribute release, NameID format, signed
/// requests, signing and encryption (absent fields stay as they are).
#[utoipa::path(patch, path = "/tenants/{tenant}/saml-sps/{sp_id}", tag = "relying-sites",
    params(("tenant" = String, Path, description = "Tenant slug"), ("sp_id" = String, Path, description = "The service provider's id")),
    request_body = SamlSpPatch,
    responses((status = 200, description = "The service provider as changed", body = SamlSpOut)))]
pub async fn update_saml_sp(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath((slug, id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<SamlSpPatch>,
) -> Result<Json<SamlSpOut>> {
    Ok(Json(SamlSpOut::from(&saml_sps::update_saml_sp(&s.app, &p, &slug, &id, body.into()).await?)))
}

/// Delete a SAML service provider.
#[utoipa::path(delete, path = "/tenants/{tenant}/saml-sps/{sp_id}", tag = "relying-sites",
    params(("tenant" = String, Path, description = "Tenant slug"), ("sp_id" = String, Path, description = "The service provider's id")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete_saml_sp(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath((slug, id)): ApiPath<(String, String)>,
) -> Result<StatusCode> {
    federation::delete_saml_sp(&s.app, &p, &slug, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
