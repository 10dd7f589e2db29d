//! SCIM 2.0 (RFC 7643, RFC 7644) per tenant under `/scim/v2/t/{tenant}/`, so that a
//! customer's directory (Entra ID, Okta, OneLogin, an HR system) keeps the tenant's users
//! in step. Authenticated by the admin API's tokens holding the `scim` scope; every change
//! goes through the admin service layer (`crate::admin::users`), which checks the tenant,
//! validates the values and writes the audit record, so SCIM is one more surface over
//! the same rules, not a second set of them.

pub mod discovery;
pub mod error;
pub mod filter;
mod json;
mod list;
pub mod mapping;
mod users;

use axum::Router;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mamori_storage::model::ApiScope;

use crate::admin::Principal;
use crate::admin::api::extract::Caller;
use crate::state::SharedState;
use error::{SCIM_JSON, ScimError};

pub const BASE: &str = "/scim/v2/t/{tenant}";

pub fn routes() -> Router<SharedState> {
    let scim = Router::new()
        .route("/ServiceProviderConfig", get(service_provider_config))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{id}", get(resource_type))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{id}", get(schema))
        .route("/Users", get(list::list).post(users::create))
        .route("/Users/.search", post(list::search))
        .route("/Users/{id}", get(users::get).put(users::replace).patch(users::patch).delete(users::delete))
        .route("/.search", post(not_implemented))
        .route("/Bulk", post(not_implemented))
        // Only on the routes and methods that exist: a POST to a discovery endpoint is
        // 405, whatever its body.
        .route_layer(axum::middleware::from_fn(require_json_body))
        .fallback(same_resource_or_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // A 403 or 404 answered to a known token is on the audit trail, as on the admin API.
        .layer(axum::middleware::from_fn(crate::admin::api::refusals::record_refusals));
    // The base URL with a trailing slash (`…/t/acme/`, as directories are often
    // configured) is outside the nested router's paths: it answers SCIM JSON too.
    Router::new()
        .nest(BASE, scim)
        .route(&format!("{BASE}/"), axum::routing::any(same_resource_or_not_found))
        // Without a tenant (`/scim/v2/Users`, as a client configured with the bare base
        // might call): a SCIM 404 that says where the endpoints are, not the HTML page.
        .route("/scim/v2", axum::routing::any(outside_a_tenant))
        .route("/scim/v2/", axum::routing::any(outside_a_tenant))
        .route("/scim/v2/{*rest}", axum::routing::any(outside_a_tenant))
        // Outermost: whatever answers under /scim/v2/ (an extractor's rejection, a path
        // that is not UTF-8) answers in SCIM's error format.
        .layer(axum::middleware::from_fn(errors_as_scim_json))
}

/// `//Users`, `/Users/`, `/Users/{id}/` name the same resources as `/Users` and
/// `/Users/{id}` (clients join base URLs and paths carelessly): the path with its empty
/// segments dropped is served once more; anything else is a SCIM 404.
async fn same_resource_or_not_found(
    State(s): State<SharedState>,
    axum::extract::OriginalUri(original): axum::extract::OriginalUri,
    request: axum::extract::Request,
) -> Response {
    use tower::ServiceExt as _;
    let path = original.path();
    let normalized = normalized_path(path);
    if normalized == path || !normalized.starts_with("/scim/v2/t/") {
        return not_found().await.into_response();
    }
    let uri = match original.query() {
        Some(query) => format!("{normalized}?{query}"),
        None => normalized,
    };
    let Ok(uri) = uri.parse::<axum::http::Uri>() else { return not_found().await.into_response() };
    // A fresh request: the routing of this one left its path parameters in the
    // extensions, which the second routing would add to. Only what the handlers read
    // (the connection) is carried over.
    let (parts, body) = request.into_parts();
    let mut fresh = axum::extract::Request::new(body);
    *fresh.method_mut() = parts.method;
    *fresh.uri_mut() = uri;
    *fresh.version_mut() = parts.version;
    *fresh.headers_mut() = parts.headers;
    if let Some(connection) = parts.extensions.get::<crate::state::ConnectionInfo>() {
        fresh.extensions_mut().insert(connection.clone());
    }
    match routes().with_state(s).oneshot(fresh).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// The path without empty segments (`//`, a trailing `/`).
fn normalized_path(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    format!("/{}", segments.join("/"))
}

/// Any error answer that is not SCIM JSON already becomes one, with the same status
/// (RFC 7644 §3.12): clients parse every error under /scim/v2/ the same way.
async fn errors_as_scim_json(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if request.uri().query().is_some_and(|q| !crate::urlcode::form_is_utf8(q)) {
        let detail = "the query is not UTF-8 once percent-decoded: it cannot be read as sent";
        return ScimError::bad(error::ScimType::InvalidSyntax, detail).into_response();
    }
    let response = next.run(request).await;
    let status = response.status();
    let scim = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with(SCIM_JSON));
    if !(status.is_client_error() || status.is_server_error()) || scim {
        return response;
    }
    let detail = match status {
        StatusCode::BAD_REQUEST => "the request's path or query cannot be read (it must be valid UTF-8, percent-encoded)",
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is too large",
        StatusCode::NOT_FOUND => "no such SCIM endpoint",
        _ => status.canonical_reason().unwrap_or("error"),
    };
    let scim_type = (status == StatusCode::BAD_REQUEST).then_some(error::ScimType::InvalidSyntax);
    let mut answer = ScimError::new(status, scim_type, detail).into_response();
    // Headers a client acts on (Retry-After, WWW-Authenticate) are kept.
    for name in [header::RETRY_AFTER, header::WWW_AUTHENTICATE, header::ALLOW] {
        if let Some(value) = response.headers().get(&name) {
            answer.headers_mut().insert(name, value.clone());
        }
    }
    answer
}

/// RFC 7644 §3.1 and §3.8: a request body is `application/scim+json` (or, as service
/// providers should also accept, `application/json`); any other media type, or none,
/// is 415 in SCIM's error format (RFC 7231 §6.5.13), before the body is read.
async fn require_json_body(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use axum::http::Method;
    // Mamori reads bodies as sent: a compressed one would be parsed as garbage (or, with
    // a JSON-looking prefix, misread), so any content coding is refused (RFC 7231 §3.1.2.2).
    let coded = request
        .headers()
        .get_all(header::CONTENT_ENCODING)
        .iter()
        .any(|v| v.to_str().map_or(true, |v| v.split(',').any(|c| !c.trim().is_empty() && !c.trim().eq_ignore_ascii_case("identity"))));
    if coded {
        let detail = "Content-Encoding is not supported: send the body uncompressed";
        let mut refused = ScimError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, None, detail).into_response();
        refused.headers_mut().insert(header::ACCEPT_ENCODING, HeaderValue::from_static("identity"));
        return refused;
    }
    if matches!(*request.method(), Method::POST | Method::PUT | Method::PATCH) {
        let media_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
        if !matches!(media_type.as_deref(), Some(SCIM_JSON | "application/json")) {
            let detail = "the request body must be application/scim+json (or application/json)";
            return ScimError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, None, detail).into_response();
        }
    }
    next.run(request).await
}

/// A caller of the SCIM endpoints: an API token holding the `scim` scope, as the
/// principal the service layer sees. The scope stands for reading and writing the
/// tenant's users through these endpoints only: the principal handed on carries `read`
/// and `write` (what `admin::users` checks) but is built here, per request, and never
/// reaches the admin API, so a token holding only `scim` cannot list sites or rotate keys.
pub struct ScimCaller(pub Principal);

impl FromRequestParts<SharedState> for ScimCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, Self::Rejection> {
        // The admin API's extractor: the same token check, throttling of failures and logs.
        let Caller(principal) = Caller::from_request_parts(parts, state).await.map_err(|problem| {
            let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::UNAUTHORIZED);
            let mut refused = ScimError::new(status, None, problem.detail).into_response();
            // A throttled client is told when to come back (RFC 6585 §4), as on the admin API.
            if let Some(secs) = problem.retry_after {
                refused.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            refused
        })?;
        principal.require(ApiScope::Scim).map_err(|e| ScimError::from(e).into_response())?;
        // A super-admin token with `scim` (no longer made: `admin::tokens::create` refuses
        // it) would reach every tenant's users, the operators' own: one made before is
        // refused here.
        if principal.is_super_admin() {
            return Err(ScimError::new(StatusCode::FORBIDDEN, None, "SCIM takes a tenant's token, not a super-admin token").into_response());
        }
        Ok(ScimCaller(Principal { scopes: vec![ApiScope::Read, ApiScope::Write], ..principal }))
    }
}

/// The absolute base of a tenant's SCIM endpoints, for `meta.location`.
fn base_url(state: &SharedState, slug: &str) -> String {
    format!("{}/scim/v2/t/{slug}", state.urls.main)
}

/// A SCIM JSON answer.
pub(crate) fn scim_json(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Discovery is behind the token too: answering it unauthenticated would tell anyone
/// which tenant slugs exist.
async fn tenant_checked(state: &SharedState, principal: &Principal, slug: &str) -> Result<String, ScimError> {
    principal.tenant(&state.app, slug, ApiScope::Read).await?;
    Ok(base_url(state, slug))
}

/// RFC 7644 §4: the discovery endpoints take no `filter` (403), so that a client does not
/// believe the conditions it sent were applied.
fn unfiltered(query: &axum::extract::RawQuery) -> Result<(), ScimError> {
    let parameters = list::single_parameters(query.0.as_deref().map(crate::urlcode::form_pairs).unwrap_or_default())?;
    if parameters.contains_key("filter") {
        return Err(ScimError::new(StatusCode::FORBIDDEN, None, "the discovery endpoints take no filter (RFC 7644 §4)"));
    }
    Ok(())
}

async fn service_provider_config(
    State(s): State<SharedState>,
    ScimCaller(p): ScimCaller,
    Path(slug): Path<String>,
    query: axum::extract::RawQuery,
) -> Result<Response, ScimError> {
    let base = tenant_checked(&s, &p, &slug).await?;
    unfiltered(&query)?;
    Ok(scim_json(StatusCode::OK, &discovery::service_provider_config(&base)))
}

async fn resource_types(
    State(s): State<SharedState>,
    ScimCaller(p): ScimCaller,
    Path(slug): Path<String>,
    query: axum::extract::RawQuery,
) -> Result<Response, ScimError> {
    let base = tenant_checked(&s, &p, &slug).await?;
    unfiltered(&query)?;
    Ok(scim_json(StatusCode::OK, &discovery::list(vec![discovery::user_resource_type(&base)])))
}

async fn resource_type(
    State(s): State<SharedState>,
    ScimCaller(p): ScimCaller,
    Path((slug, id)): Path<(String, String)>,
    query: axum::extract::RawQuery,
) -> Result<Response, ScimError> {
    let base = tenant_checked(&s, &p, &slug).await?;
    unfiltered(&query)?;
    if id != "User" {
        return Err(ScimError::not_found("Mamori serves only the User resource type (no groups)"));
    }
    Ok(scim_json(StatusCode::OK, &discovery::user_resource_type(&base)))
}

async fn schemas(
    State(s): State<SharedState>,
    ScimCaller(p): ScimCaller,
    Path(slug): Path<String>,
    query: axum::extract::RawQuery,
) -> Result<Response, ScimError> {
    let base = tenant_checked(&s, &p, &slug).await?;
    unfiltered(&query)?;
    Ok(scim_json(StatusCode::OK, &discovery::list(vec![discovery::user_schema(&base), discovery::mamori_schema(&base)])))
}

async fn schema(
    State(s): State<SharedState>,
    ScimCaller(p): ScimCaller,
    Path((slug, id)): Path<(String, String)>,
    query: axum::extract::RawQuery,
) -> Result<Response, ScimError> {
    let base = tenant_checked(&s, &p, &slug).await?;
    unfiltered(&query)?;
    match id.as_str() {
        mapping::CORE_USER => Ok(scim_json(StatusCode::OK, &discovery::user_schema(&base))),
        mapping::MAMORI_USER => Ok(scim_json(StatusCode::OK, &discovery::mamori_schema(&base))),
        _ => Err(ScimError::not_found("no such schema")),
    }
}

async fn not_implemented() -> ScimError {
    ScimError::new(StatusCode::NOT_IMPLEMENTED, None, "not supported: see /ServiceProviderConfig")
}

async fn not_found() -> ScimError {
    ScimError::not_found("no such SCIM endpoint (Mamori serves Users; it has no groups)")
}

/// A path the tenant's routes did not take: a careless one that names a tenant's resource
/// once its empty segments are dropped (`/scim/v2/t/acme//Users`, which the catch-all
/// route wins over the tenant's), else a 404 that names the per-tenant base.
async fn outside_a_tenant(state: State<SharedState>, original: axum::extract::OriginalUri, request: axum::extract::Request) -> Response {
    if normalized_path(original.path()).starts_with("/scim/v2/t/") {
        return same_resource_or_not_found(state, original, request).await;
    }
    ScimError::not_found("SCIM endpoints are per tenant: /scim/v2/t/{tenant}/Users").into_response()
}

async fn method_not_allowed() -> ScimError {
    ScimError::new(StatusCode::METHOD_NOT_ALLOWED, None, "this endpoint does not take that method")
}
