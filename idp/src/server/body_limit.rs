//! How large a request body each endpoint takes, refused at once from the declared
//! `Content-Length`: before authentication work (an Argon2 hash, an API token lookup)
//! and before waiting for the body, so a client that declares 100 MB and sends nothing
//! holds no request open. For machine-facing endpoints a body within the limit (or sent
//! without a length) is read here, up to the limit, before the handler runs.
//!
//! Pages read their own bodies (forms, SAML's HTTP-POST binding, which reads and drops an
//! oversized body sent without a length before its page: `saml::binding`). A declared
//! length over a page's limit gets the error page at once: no browser sends a form that
//! large, so nobody is left uploading into a closed connection.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub use crate::admin::import::CSV_IMPORT_BYTES;
/// Every other admin API call (JSON documents of one object).
pub const ADMIN_API_BYTES: usize = 256 * 1024;
/// SCIM 2.0 requests (one user, a PATCH, a search request).
pub const SCIM_BYTES: usize = 256 * 1024;
/// OAuth endpoints' forms and registration documents (RFC 7591 metadata, JWT assertions).
pub const OAUTH_BYTES: usize = 64 * 1024;
/// Browser forms (a few fields; the largest, a request object posted to `/authorize`).
pub const PAGE_BYTES: usize = 64 * 1024;

/// What a path is, for the body limit and the format of the refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Surface {
    AdminApi,
    Scim,
    OAuth,
    Page,
}

fn surface_of(path: &str) -> (Surface, usize) {
    if let Some(rest) = path.strip_prefix("/admin/api/") {
        let limit = if rest.ends_with("/users/import") { CSV_IMPORT_BYTES } else { ADMIN_API_BYTES };
        return (Surface::AdminApi, limit);
    }
    if path.starts_with("/scim/") {
        return (Surface::Scim, SCIM_BYTES);
    }
    // /t/{tenant}/{endpoint}: the OAuth endpoints that read a body, and SAML's.
    let endpoint = path.strip_prefix("/t/").and_then(|rest| rest.split_once('/')).map(|(_tenant, endpoint)| endpoint);
    match endpoint {
        Some("token" | "register" | "introspect" | "revoke" | "par" | "userinfo") => (Surface::OAuth, OAUTH_BYTES),
        Some("saml/sso" | "saml/slo") => (Surface::Page, mamori_saml_wire::binding::MAX_POST_BODY),
        _ if is_branding_upload(path) => (Surface::Page, crate::web::console::branding::FORM_BODY_BYTES),
        _ if is_console_form(path, "saml-sps") => (Surface::Page, crate::web::console::saml_sps::FORM_BODY_BYTES),
        _ if crate::web::console::users_import::is_import_form(path) => (Surface::Page, crate::web::console::users_import::FORM_BODY_BYTES),
        _ => (Surface::Page, PAGE_BYTES),
    }
}

/// `/console/t/{tenant}/branding`: the console form that uploads a logo.
fn is_branding_upload(path: &str) -> bool {
    path.strip_prefix("/console/t/").and_then(|rest| rest.split_once('/')).is_some_and(|(_tenant, rest)| rest == "branding")
}

/// `/console/t/{tenant}/{form}`: a console form with a limit of its own (an upload).
fn is_console_form(path: &str, form: &str) -> bool {
    path.strip_prefix("/console/t/").and_then(|rest| rest.split_once('/')).is_some_and(|(_tenant, rest)| rest == form)
}

/// The most bytes a body to `path` may have.
pub fn limit_for(path: &str) -> usize {
    surface_of(path).1
}

/// Whether `path` is an endpoint for programs, which answers in its own format
/// (problem+json, OAuth JSON) rather than with a page.
pub fn is_machine_endpoint(path: &str) -> bool {
    surface_of(path).0 != Surface::Page
}

/// Refuses a request whose declared body is larger than its endpoint takes (413), in the
/// endpoint's own format, before any handler runs.
pub async fn refuse_declared_oversize(request: Request, next: Next) -> Response {
    let (surface, limit) = surface_of(request.uri().path());
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        tracing::info!(?declared, limit, "request body larger than the endpoint takes");
        return too_large(surface, limit);
    }
    if surface == Surface::Page {
        return next.run(request).await;
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
        // Plain text, which the page layer outside this one turns into the error page in
        // the user's language.
        Surface::Page => (StatusCode::PAYLOAD_TOO_LARGE, detail).into_response(),
        Surface::AdminApi => crate::admin::api::Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", detail).into_response(),
        Surface::Scim => crate::scim::error::ScimError::new(StatusCode::PAYLOAD_TOO_LARGE, None, detail).into_response(),
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
    fn each_endpoint_has_its_limit() {
        assert_eq!(limit_for("/admin/api/v1/tenants/acme/users/import"), CSV_IMPORT_BYTES);
        assert_eq!(limit_for("/admin/api/v1/tenants/acme/users"), ADMIN_API_BYTES);
        assert_eq!(limit_for("/t/acme/token"), OAUTH_BYTES);
        assert_eq!(limit_for("/t/acme/register"), OAUTH_BYTES);
        assert_eq!(limit_for("/t/acme/saml/sso"), mamori_saml_wire::binding::MAX_POST_BODY);
        assert_eq!(limit_for("/login/password"), PAGE_BYTES);
        assert_eq!(limit_for("/t/acme/authorize"), PAGE_BYTES);
        assert_eq!(limit_for("/console/t/acme/branding"), crate::web::console::branding::FORM_BODY_BYTES);
        assert_eq!(limit_for("/console/t/acme/policy"), PAGE_BYTES);
        assert_eq!(limit_for("/console/t/acme/users-import/confirm"), crate::web::console::users_import::FORM_BODY_BYTES);
        assert_eq!(limit_for("/console/t/acme/branding/x"), PAGE_BYTES);
        // The SP registration uploads metadata of up to 1 MiB; its other pages are forms.
        assert_eq!(limit_for("/console/t/acme/saml-sps"), crate::web::console::saml_sps::FORM_BODY_BYTES);
        assert_eq!(limit_for("/console/t/acme/saml-sps/1/delete"), PAGE_BYTES);
        assert_eq!(limit_for("/scim/v2/t/acme/Users"), SCIM_BYTES);
        assert!(is_machine_endpoint("/t/acme/token") && is_machine_endpoint("/admin/api/v1/tenants"));
        assert!(is_machine_endpoint("/scim/v2/t/acme/Users/x"));
        for page in ["/t/acme/saml/sso", "/login/password", "/download", "/t/acme/authorize", "/t/acme"] {
            assert!(!is_machine_endpoint(page), "{page}");
        }
    }
}
