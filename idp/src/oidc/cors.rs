//! CORS (the Fetch standard's CORS protocol) for browser apps on the five endpoints a
//! single-page app calls from its own JavaScript: token, userinfo, revocation, discovery
//! and JWKS. Nothing else answers CORS: the authorization and login pages are visited by
//! the browser itself, never read by another site's script.
//!
//! A client's web origins are the origins (`scheme://host[:port]`) of its registered
//! `redirect_uris`: an app's page lives where the user is sent back to. An origin is
//! allowed only when it is exactly one of those, as the browser serializes it, so
//! `null`, another port or scheme, and `https://app.example.evil` match nothing.
//!
//! - discovery and JWKS: a web origin of any client of the tenant;
//! - token and revocation: a web origin of the client the request names (the client it
//!   then authenticates as, or that public clients identify as by `client_id`);
//! - userinfo: a web origin of the client the access token was issued to;
//! - preflights (`OPTIONS`), which name no client: a web origin of any client of the
//!   tenant, then the actual request decides as above.
//!
//! `Access-Control-Allow-Credentials` is never sent: these endpoints take no cookies.
//! Every answer carries `Vary: Origin`, so a cache never hands one origin's answer to another.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::clients::RegisteredClient;
use super::redirect_uri;
use crate::state::SharedState;

/// What a cross-origin script may send besides the CORS-safelisted headers.
const ALLOWED_HEADERS: &str = "Authorization, Content-Type";

/// How long a browser may reuse a preflight answer: short, so a client removed or changed
/// stops being allowed soon.
const PREFLIGHT_MAX_AGE: &str = "600";

/// The web origin of a redirect URI, if it is one Mamori would register (a URI stored
/// before today's rules, such as `http://localhost:@evil.example/cb`, has none: its
/// origin would be the attacker's).
pub fn web_origin(uri: &str) -> Option<String> {
    let uri = crate::fields::RedirectUri::parse(redirect_uri::REDIRECT_URIS, uri).ok()?;
    let origin = uri.url().origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

/// The client's web origins.
pub fn client_origins(client: &RegisteredClient) -> BTreeSet<String> {
    client.client.redirect_uris.iter().filter_map(|u| web_origin(u)).collect()
}

/// The `Origin` of a cross-origin request; `null` (an opaque origin: sandboxed frames,
/// `file:` pages, some redirects) is no origin anyone registered.
pub fn request_origin(headers: &HeaderMap) -> Option<&str> {
    let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
    (origin != "null" && !origin.is_empty()).then_some(origin)
}

/// The web origins of every client of the tenant (read only for requests that carry an
/// `Origin`, and again after the tenant's relying-site version changes).
async fn tenant_origins(state: &SharedState, tenant_id: uuid::Uuid) -> anyhow::Result<Arc<BTreeSet<String>>> {
    let key = tenant_id.to_string();
    let version = match state.app.caches.cors_origins.get(&state.app, tenant_id, &key).await? {
        Ok(found) => return Ok(found),
        Err(version) => version,
    };
    let clients = state.app.storage.oidc_clients().list(tenant_id).await?;
    let origins: BTreeSet<String> = clients.iter().flat_map(|c| c.redirect_uris.iter()).filter_map(|u| web_origin(u)).collect();
    let origins = Arc::new(origins);
    state.app.caches.cors_origins.put(tenant_id, version, &key, Arc::clone(&origins));
    Ok(origins)
}

/// Whether the request's origin is a web origin of some client of the tenant `slug`.
async fn tenant_allows(state: &SharedState, slug: &str, origin: &str) -> bool {
    let issuer = match super::issuer(state, slug).await {
        Ok(Some(issuer)) => issuer,
        Ok(None) => return false,
        Err(err) => {
            tracing::warn!(error = %err, "CORS: reading the tenant failed; no CORS headers");
            return false;
        }
    };
    match tenant_origins(state, issuer.tenant.id).await {
        Ok(origins) => origins.contains(origin),
        Err(err) => {
            tracing::warn!(error = %err, "CORS: reading the tenant's clients failed; no CORS headers");
            false
        }
    }
}

/// `Vary: Origin`, and `Access-Control-Allow-Origin` echoing `origin` when `allowed`.
fn finish(mut response: Response, origin: Option<&str>, allowed: bool) -> Response {
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = origin.filter(|_| allowed)
        && let Ok(value) = HeaderValue::from_str(origin)
    {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    response
}

/// No CORS: only `Vary: Origin` (an answer that names no tenant or client).
pub fn vary_only(response: Response) -> Response {
    finish(response, None, false)
}

/// CORS for a public document of the tenant (discovery, JWKS).
pub async fn for_tenant(state: &SharedState, slug: &str, headers: &HeaderMap, response: Response) -> Response {
    let origin = request_origin(headers);
    let allowed = match origin {
        Some(origin) => tenant_allows(state, slug, origin).await,
        None => false,
    };
    finish(response, origin, allowed)
}

/// CORS for an answer about one client: allowed when the origin is one of its web origins.
pub fn for_client(client: Option<&RegisteredClient>, headers: &HeaderMap, response: Response) -> Response {
    let origin = request_origin(headers);
    let allowed = matches!((origin, client), (Some(o), Some(c)) if client_origins(c).contains(o));
    finish(response, origin, allowed)
}

/// CORS for an answer about the client named `client_id` in tenant `slug` (token and
/// revocation: the client the request names, known or not).
pub async fn for_named_client(
    state: &SharedState,
    slug: Option<&str>,
    client_id: Option<&str>,
    headers: &HeaderMap,
    response: Response,
) -> Response {
    let client = match (request_origin(headers), slug, client_id) {
        (Some(_), Some(slug), Some(client_id)) => named_client(state, slug, client_id).await,
        _ => None,
    };
    for_client(client.as_ref(), headers, response)
}

async fn named_client(state: &SharedState, slug: &str, client_id: &str) -> Option<RegisteredClient> {
    let issuer = super::issuer(state, slug).await.ok().flatten()?;
    super::clients::load(&state.app, issuer.tenant.id, client_id).await.ok().flatten()
}

/// A preflight (`OPTIONS` with `Access-Control-Request-Method`) for an endpoint taking
/// `methods`. It names no client, so any web origin of the tenant's clients passes; the
/// actual request then gets `Access-Control-Allow-Origin` only for its own client.
async fn preflight(state: &SharedState, slug: Result<Path<String>, PathRejection>, headers: &HeaderMap, methods: &'static str) -> Response {
    let origin = request_origin(headers);
    let allowed = match (origin, slug) {
        (Some(origin), Ok(Path(slug))) => tenant_allows(state, &slug, origin).await,
        _ => false,
    };
    let mut response = StatusCode::NO_CONTENT.into_response();
    if allowed {
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(methods));
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(ALLOWED_HEADERS));
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(PREFLIGHT_MAX_AGE));
    }
    finish(response, origin, allowed)
}

/// Preflight of the token and revocation endpoints.
pub async fn preflight_post(State(state): State<SharedState>, slug: Result<Path<String>, PathRejection>, headers: HeaderMap) -> Response {
    preflight(&state, slug, &headers, "POST").await
}

/// Preflight of the userinfo endpoint.
pub async fn preflight_get_post(
    State(state): State<SharedState>,
    slug: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    preflight(&state, slug, &headers, "GET, POST").await
}

/// Preflight of discovery and JWKS (a plain GET needs none; a script adding a header does).
pub async fn preflight_get(State(state): State<SharedState>, slug: Result<Path<String>, PathRejection>, headers: HeaderMap) -> Response {
    preflight(&state, slug, &headers, "GET").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_web_origin_is_the_scheme_host_and_port_of_a_registered_redirect_uri() {
        assert_eq!(web_origin("https://app.example/cb").as_deref(), Some("https://app.example"));
        assert_eq!(web_origin("https://app.example:8443/a/b?x=1").as_deref(), Some("https://app.example:8443"));
        assert_eq!(web_origin("http://127.0.0.1:5173/cb").as_deref(), Some("http://127.0.0.1:5173"));
        assert_eq!(web_origin("http://[::1]:8080/cb").as_deref(), Some("http://[::1]:8080"));
        // A URI the validator refuses has no origin, above all one whose host is the attacker's.
        for refused in
            ["http://localhost:@evil.example/cb", "http://127.0.0.1:80@evil.example/cb", "http://app.example/cb", "com.example.app:/cb"]
        {
            assert_eq!(web_origin(refused), None, "{refused}");
        }
    }

    #[test]
    fn only_the_exact_origin_is_allowed() {
        let headers = |origin: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::ORIGIN, HeaderValue::from_str(origin).expect("header"));
            h
        };
        let client = RegisteredClient {
            client: mamori_storage::model::OidcClient {
                id: uuid::Uuid::nil(),
                tenant_id: uuid::Uuid::nil(),
                client_id: "spa".into(),
                client_secret_hash: None,
                name: "SPA".into(),
                redirect_uris: vec!["https://app.example/cb".into(), "http://127.0.0.1:5173/cb".into()],
                post_logout_redirect_uris: vec!["https://logout.example/bye".into()],
                grant_types: vec!["authorization_code".into()],
                response_types: vec!["code".into()],
                token_endpoint_auth_method: "none".into(),
                jwks: None,
                jwks_uri: None,
                scopes: vec!["openid".into()],
                claims: None,
                access_token_format: mamori_storage::model::AccessTokenFormat::Jwt,
                first_party: true,
                require_pkce: true,
                created_at: time::OffsetDateTime::UNIX_EPOCH,
            },
            settings: Default::default(),
        };
        let allow = |origin: &str| {
            let response = for_client(Some(&client), &headers(origin), StatusCode::OK.into_response());
            assert_eq!(response.headers().get(header::VARY).and_then(|v| v.to_str().ok()), Some("Origin"));
            response.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).map(|v| v.to_str().unwrap_or_default().to_owned())
        };
        assert_eq!(allow("https://app.example").as_deref(), Some("https://app.example"));
        assert_eq!(allow("http://127.0.0.1:5173").as_deref(), Some("http://127.0.0.1:5173"));
        for hostile in [
            "null",
            "https://app.example.evil",
            "https://evil.app.example",
            "http://app.example",
            "https://app.example:8443",
            "https://APP.example",
            "https://app.example/",
            "http://127.0.0.1:5174",
            "http://localhost:5173",
            // Post-logout URIs are not web origins of the client.
            "https://logout.example",
        ] {
            assert_eq!(allow(hostile), None, "{hostile}");
        }
        let response = for_client(None, &headers("https://app.example"), StatusCode::OK.into_response());
        assert!(response.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
        assert!(response.headers().get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS).is_none());
    }
}
