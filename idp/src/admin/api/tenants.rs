//! /tenants: tenants and their policy.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use super::problem::Problem;
use super::schema::{PageInfo, PageParams, PolicyDoc, TenantCreate, TenantList, TenantOut, TenantUpdate};
use crate::admin::{Paging, tenants};
use crate::state::SharedState;

type Result<T> = std::result::Result<T, Problem>;

/// List the tenants the token reaches.
#[utoipa::path(get, path = "/tenants", tag = "tenants", params(PageParams),
    responses((status = 200, description = "Tenants by slug", body = TenantList)))]
pub async fn list(State(s): State<SharedState>, Caller(p): Caller, ApiQuery(q): ApiQuery<PageParams>) -> Result<Json<TenantList>> {
    let listed = tenants::list(&s.app, &p, Paging::new(q.offset, q.limit)?).await?;
    Ok(Json(TenantList { page: PageInfo::from(&listed), items: listed.items.iter().map(TenantOut::from).collect() }))
}

/// Create a tenant (super-admin).
#[utoipa::path(post, path = "/tenants", tag = "tenants", request_body = TenantCreate,
    responses((status = 201, description = "Created", body = TenantOut)))]
pub async fn create(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiJson(body): ApiJson<TenantCreate>,
) -> Result<(StatusCode, Json<TenantOut>)> {
    let policy = body.policy.as_ref().map(PolicyDoc::to_policy).transpose()?;
    let tenant = tenants::create(&s.app, &p, &body.slug, &body.display_name, policy).await?;
    Ok((StatusCode::CREATED, Json(TenantOut::from(&tenant))))
}

/// Show a tenant.
#[utoipa::path(get, path = "/tenants/{tenant}", tag = "tenants", params(("tenant" = String, Path, description = "Tenant slug")),
    responses((status = 200, description = "The tenant", body = TenantOut)))]
pub async fn get(State(s): State<SharedState>, Caller(p): Caller, ApiPath(slug): ApiPath<String>) -> Result<Json<TenantOut>> {
    Ok(Json(TenantOut::from(&tenants::get(&s.app, &p, &slug).await?)))
}

/// Rename a tenant.
#[utoipa::path(patch, path = "/tenants/{tenant}", tag = "tenants", params(("tenant" = String, Path, description = "Tenant slug")),
    request_body = TenantUpdate, responses((status = 200, description = "Updated", body = TenantOut)))]
pub async fn update(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath(slug): ApiPath<String>,
    ApiJson(body): ApiJson<TenantUpdate>,
) -> Result<Json<TenantOut>> {
    Ok(Json(TenantOut::from(&tenants::rename(&s.app, &p, &slug, &body.display_name).await?)))
}

/// Delete a tenant with its users, devices and relying sites (super-admin).
#[utoipa::path(delete, path = "/tenants/{tenant}", tag = "tenants", params(("tenant" = String, Path, description = "Tenant slug")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(State(s): State<SharedState>, Caller(p): Caller, ApiPath(slug): ApiPath<String>) -> Result<StatusCode> {
    tenants::delete(&s.app, &p, &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Show a tenant's policy.
#[utoipa::path(get, path = "/tenants/{tenant}/policy", tag = "tenants", params(("tenant" = String, Path, description = "Tenant slug")),
    responses((status = 200, description = "The policy", body = PolicyDoc)))]
pub async fn get_policy(State(s): State<SharedState>, Caller(p): Caller, ApiPath(slug): ApiPath<String>) -> Result<Json<PolicyDoc>> {
    Ok(Json(PolicyDoc::from_policy(&tenants::policy(&s.app, &p, &slug).await?)?))
}

/// Replace a tenant's policy; the knobs are checked against each other first.
#[utoipa::path(put, path = "/tenants/{tenant}/policy", tag = "tenants", params(("tenant" = String, Path, description = "Tenant slug")),
    request_body = PolicyDoc, responses((status = 200, description = "The new policy", body = PolicyDoc)))]
pub async fn put_policy(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath(slug): ApiPath<String>,
    ApiJson(body): ApiJson<PolicyDoc>,
) -> Result<Json<PolicyDoc>> {
    let policy = tenants::replace_policy(&s.app, &p, &slug, body.to_policy()?).await?;
    Ok(Json(PolicyDoc::from_policy(&policy)?))
}
