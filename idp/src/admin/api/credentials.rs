//! /tenants/{tenant}/signing-keys and /api-tokens.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use super::problem::Problem;
use super::sites_schema::{ApiTokenCreate, ApiTokenCreated, ApiTokenOut, KeyKindIn, KeyRotate, KeysRotated, SigningKeyOut};
use crate::admin::keys::{self, KeyKind};
use crate::admin::tokens;
use crate::state::SharedState;

type Result<T> = std::result::Result<T, Problem>;

/// The OIDC and SAML keys the tenant's JWKS and metadata publish (public facts only).
#[utoipa::path(get, path = "/tenants/{tenant}/signing-keys", tag = "signing-keys", params(("tenant" = String, Path, description = "Tenant slug")),
    responses((status = 200, description = "Keys", body = Vec<SigningKeyOut>)))]
pub async fn signing_keys(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<Vec<SigningKeyOut>>> {
    Ok(Json(keys::list(&s.app, &p, &slug).await?.iter().map(SigningKeyOut::from).collect()))
}

/// Rotate the OIDC or the SAML keys. The keys are shared by every tenant, so only a
/// super-admin may rotate them, and the rotation applies to every tenant.
#[utoipa::path(post, path = "/tenants/{tenant}/signing-keys/rotate", tag = "signing-keys", params(("tenant" = String, Path, description = "Tenant slug")),
    request_body = KeyRotate,
    responses((status = 200, description = "The new keys", body = KeysRotated)))]
pub async fn rotate_signing_keys(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath(slug): ApiPath<String>,
    ApiJson(body): ApiJson<KeyRotate>,
) -> Result<Json<KeysRotated>> {
    let kind = match body.kind {
        KeyKindIn::Oidc => KeyKind::Oidc,
        KeyKindIn::Saml => KeyKind::Saml { grace: time::Duration::days(i64::from(body.grace_days.unwrap_or(7))) },
    };
    Ok(Json(KeysRotated { kids: keys::rotate(&s.app, &p, &slug, kind).await? }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenFilter {
    /// Only the tokens of this tenant.
    pub tenant: Option<String>,
}

/// API tokens, never their text (super-admin only).
#[utoipa::path(get, path = "/api-tokens", tag = "api-tokens", params(TokenFilter),
    responses((status = 200, description = "Tokens", body = Vec<ApiTokenOut>)))]
pub async fn api_tokens(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiQuery(filter): ApiQuery<TokenFilter>,
) -> Result<Json<Vec<ApiTokenOut>>> {
    Ok(Json(tokens::list(&s.app, &p, filter.tenant.as_deref()).await?.iter().map(ApiTokenOut::from).collect()))
}

/// Create an API token (super-admin only); its text is shown this once.
#[utoipa::path(post, path = "/api-tokens", tag = "api-tokens", request_body = ApiTokenCreate,
    responses((status = 201, description = "Created", body = ApiTokenCreated)))]
pub async fn create_api_token(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiJson(body): ApiJson<ApiTokenCreate>,
) -> Result<(StatusCode, Json<ApiTokenCreated>)> {
    // The role comes first, so that a tenant admin learns nothing from the values.
    p.require_super_admin(mamori_storage::model::ApiScope::Write)?;
    let lifetime = tokens::parse_lifetime(body.expires_in.as_deref().unwrap_or("90d"))?;
    let scopes: Vec<_> = body.scopes.into_iter().map(Into::into).collect();
    let created = tokens::create(&s.app, &p, &body.name, body.tenant.as_deref(), &scopes, lifetime).await?;
    Ok((StatusCode::CREATED, Json(ApiTokenCreated::from(&created))))
}

/// Revoke an API token (super-admin only).
#[utoipa::path(post, path = "/api-tokens/{token_id}/revoke", tag = "api-tokens", params(("token_id" = String, Path, description = "The token's id")),
    responses((status = 200, description = "The token as revoked", body = ApiTokenOut)))]
pub async fn revoke_api_token(State(s): State<SharedState>, Caller(p): Caller, ApiPath(id): ApiPath<String>) -> Result<Json<ApiTokenOut>> {
    Ok(Json(ApiTokenOut::from(&tokens::revoke(&s.app, &p, &id).await?)))
}
