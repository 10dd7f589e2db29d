//! How large a request body each machine-facing endpoint takes, refused at once from the
//! declared `Content-Length`: before authentication work (an Argon2 hash, an API token
//! lookup) and before waiting for the body. A body within the limit (or sent without a
//! length) is read here, up to the limit, before the handler runs.
//!
//! Browser-facing pages are left to their own handling: a browser still uploading when
//! the connection closes may never show the answer, so the SAML endpoints read and drop
//! an oversized body before their page (`saml::binding`).

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The CSV user import (which also takes at most 10,000 rows).
pub const CSV_IMPORT_BYTES: usize = 4 * 1024 * 1024;
/// Every other admin API call (JSON documents of one object).
pub const ADMIN_API_BYTES: usize = 256 * 1024;
/// OAuth endpoints' forms and registration documents (RFC 7591 metadata, JWT assertions).
pub const OAUTH_BYTES: usize = 64 * 1024;

/// What a path is, for the body limit and the format of the refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Surface {
    AdminApi,
    OAuth,
}

fn surface_of(path: &str) -> Option<(Surface, usize)> {
    if let Some(rest) = path.strip_prefix("/admin/api/") {
        let limit = if rest.ends_with("/users/import") { CSV_IMPORT_BYTES } else { ADMIN_API_BYTES };
        return Some((Surface::AdminApi, limit));
    }
    // /t/{tenant}/{endpoint}: the OAuth endpoints that read a body.
    let mut parts = path.strip_prefix("/t/")?.splitn(2, '/');
    let (_tenant, endpoint) = (parts.next()?, parts.next()?);
    matches!(endpoint, "token" | "register" | "introspect" | "revoke" | "par" | "userinfo")
        .then_some((Surface::OAuth, OAUTH_BYTES))
}

/// The most bytes a body to `path` may have, when the path is a machine-facing endpoint.
pub fn limit_for(path: &str) -> Option<usize> {
    surface_of(path).map(|(_, limit)| limit)
}

/// Refuses a request whose declared body is larger than its endpoint takes (413), in the
/// endpoint's own format, before any handler runs.
pub async fn refuse_declared_oversize(request: Request, next: Next) -> Response {
    let Some((surface, limit)) = surface_of(request.uri().path()) else {
        return next.run(request).await;
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        tracing::info!(path = %request.uri().path(), ?declared, limit, "request body larger than the endpoint takes");
        return too_large(surface, limit);
    }
    // The body is read in full before the handler, within the limit: a handler that
    // answers without reading it (a missing token: 401) would otherwise leave the client
    // still sending, which HTTP/2 ends with a stream reset that clients report as an
    // error instead of the answer. These bodies are small; a chunked one is cut here too.
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await,
        Err(_) => too_large(surface, limit),
    }
}

fn too_large(surface: Surface, limit: usize) -> Response {
    let detail = format!("the request body is larger than the {limit} bytes this endpoint takes");
    match surface {
        Surface::AdminApi => crate::admin::api::Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", detail).into_response(),
        Surface::OAuth => {
            let body = serde_json::json!({ "error": "invalid_request", "error_description": detail });
            let mut response = (StatusCode::PAYLOAD_TOO_LARGE, axum::Json(body)).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_machine_endpoint_has_its_limit_and_pages_have_none() {
        assert_eq!(limit_for("/admin/api/v1/tenants/acme/users/import"), Some(CSV_IMPORT_BYTES));
        assert_eq!(limit_for("/admin/api/v1/tenants/acme/users"), Some(ADMIN_API_BYTES));
        assert_eq!(limit_for("/t/acme/token"), Some(OAUTH_BYTES));
        assert_eq!(limit_for("/t/acme/register"), Some(OAUTH_BYTES));
        assert_eq!(limit_for("/t/acme/saml/sso"), None, "SAML pages answer themselves");
        assert_eq!(limit_for("/login/password"), None);
        assert_eq!(limit_for("/t/acme"), None);
    }
}
