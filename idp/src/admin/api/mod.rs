//! The admin REST API under `/admin/api/v1`: thin axum handlers over the service layer
//! (`crate::admin`), authenticated by `Authorization: Bearer mamori_at_…` tokens, every
//! error an RFC 9457 problem document, described by the OpenAPI 3.1 document at
//! `/admin/api/v1/openapi.json` that `openapi` generates from these handlers.

mod branding;
mod credentials;
pub mod expiring;
pub(crate) mod extract;
mod federation;
pub mod openapi;
pub mod passkeys;
mod problem;
pub(crate) mod records;
pub(crate) mod refusals;
pub mod schema;
mod sites_schema;
mod tenants;
mod users;

use axum::Router;
use axum::routing::{delete, get, post, put};

use crate::state::SharedState;
pub use problem::Problem;

pub const BASE: &str = "/admin/api/v1";

pub fn routes() -> Router<SharedState> {
    let api = Router::new()
        .route("/openapi.json", get(openapi::document))
        .route("/tenants", get(tenants::list).post(tenants::create))
        .route("/tenants/{tenant}", get(tenants::get).patch(tenants::update).delete(tenants::delete))
        .route("/tenants/{tenant}/policy", get(tenants::get_policy).put(tenants::put_policy))
        .route("/tenants/{tenant}/branding", get(branding::get).put(branding::put))
        .route("/tenants/{tenant}/users", get(users::list).post(users::create))
        .route(
            "/tenants/{tenant}/users/import",
            post(records::import_users).layer(axum::extract::DefaultBodyLimit::max(crate::admin::import::CSV_IMPORT_BYTES)),
        )
        .route("/tenants/{tenant}/users/{login_id}", get(users::get).patch(users::update).delete(users::delete))
        .route("/tenants/{tenant}/users/{login_id}/disable", post(users::disable))
        .route("/tenants/{tenant}/users/{login_id}/enable", post(users::enable))
        .route("/tenants/{tenant}/users/{login_id}/unlock", post(users::unlock))
        .route("/tenants/{tenant}/users/{login_id}/force-password-change", post(users::force_password_change))
        .route("/tenants/{tenant}/users/{login_id}/enrollment-ticket", post(users::enrollment_ticket))
        .route("/tenants/{tenant}/users/{login_id}/reissue-certificate", post(users::reissue_certificate))
        .route("/tenants/{tenant}/users/{login_id}/devices", get(users::devices))
        .route("/tenants/{tenant}/users/{login_id}/devices/{device_no}/email", put(users::device_email))
        .route("/tenants/{tenant}/users/{login_id}/sessions", get(users::sessions))
        .route("/tenants/{tenant}/users/{login_id}/end-sessions", post(users::end_sessions))
        .route("/tenants/{tenant}/users/{login_id}/certificates", get(users::certificates))
        .route("/tenants/{tenant}/users/{login_id}/passkeys", get(passkeys::list))
        .route("/tenants/{tenant}/users/{login_id}/passkeys/{passkey_id}", delete(passkeys::remove))
        .route("/tenants/{tenant}/certificates", get(records::certificates))
        .route("/tenants/{tenant}/certificates/{serial}", get(records::certificate))
        .route("/tenants/{tenant}/certificates/{serial}/revoke", post(records::revoke))
        .route("/tenants/{tenant}/expiring-certificates", get(expiring::list))
        .route("/tenants/{tenant}/expiring-certificates.csv", get(expiring::csv))
        .route("/tenants/{tenant}/login-events", get(records::login_events))
        .route("/tenants/{tenant}/login-events.csv", get(records::login_events_csv))
        .route("/tenants/{tenant}/audit-events", get(records::tenant_audit_events))
        .route("/tenants/{tenant}/audit-events.csv", get(records::tenant_audit_events_csv))
        .route("/audit-events", get(records::audit_events))
        .route("/tenants/{tenant}/oidc-clients", get(federation::oidc_clients).post(federation::create_oidc_client))
        .route(
            "/tenants/{tenant}/oidc-clients/{client_id}",
            get(federation::oidc_client).patch(federation::update_oidc_client).delete(federation::delete_oidc_client),
        )
        .route("/tenants/{tenant}/oidc-clients/{client_id}/rotate-secret", post(federation::rotate_oidc_client_secret))
        .route("/tenants/{tenant}/saml-sps", get(federation::saml_sps).post(federation::create_saml_sp))
        .route(
            "/tenants/{tenant}/saml-sps/{sp_id}",
            get(federation::saml_sp).patch(federation::update_saml_sp).delete(federation::delete_saml_sp),
        )
        .route("/tenants/{tenant}/signing-keys", get(credentials::signing_keys))
        .route("/tenants/{tenant}/signing-keys/rotate", post(credentials::rotate_signing_keys))
        .route("/api-tokens", get(credentials::api_tokens).post(credentials::create_api_token))
        .route("/api-tokens/{token_id}/revoke", post(credentials::revoke_api_token))
        .fallback(problem::not_found)
        .method_not_allowed_fallback(problem::method_not_allowed)
        .layer(axum::middleware::from_fn(refusals::record_refusals));
    Router::new().nest(BASE, api)
}
