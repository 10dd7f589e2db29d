//! Provider metadata (OpenID Connect Discovery 1.0 §3, RFC 8414), with the RFC 8705
//! `mtls_endpoint_aliases` on the client-certificate listener.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::OAuthError;
use super::{Issuer, acr};
use crate::server::SharedState;

pub async fn openid_configuration(State(state): State<SharedState>, Path(slug): Path<String>) -> Response {
    match super::issuer(&state, &slug).await {
        Ok(Some(issuer)) => axum::Json(metadata(&issuer)).into_response(),
        Ok(None) => OAuthError::InvalidRequest("unknown tenant").into_response(),
        Err(err) => OAuthError::internal(&err).into_response(),
    }
}

pub fn metadata(issuer: &Issuer) -> Value {
    let auth_methods = [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "tls_client_auth",
        "self_signed_tls_client_auth",
        "none",
    ];
    let signing = ["ES256", "RS256"];
    let assertion_algs = ["ES256", "RS256", "PS256"];
    json!({
        "issuer": issuer.url,
        "authorization_endpoint": issuer.endpoint("authorize"),
        "token_endpoint": issuer.endpoint("token"),
        "userinfo_endpoint": issuer.endpoint("userinfo"),
        "jwks_uri": issuer.endpoint("jwks"),
        "registration_endpoint": issuer.endpoint("register"),
        "end_session_endpoint": issuer.endpoint("end_session"),
        "revocation_endpoint": issuer.endpoint("revoke"),
        "introspection_endpoint": issuer.endpoint("introspect"),
        "pushed_authorization_request_endpoint": issuer.endpoint("par"),
        "mtls_endpoint_aliases": {
            "token_endpoint": issuer.mtls_endpoint("token"),
            "userinfo_endpoint": issuer.mtls_endpoint("userinfo"),
            "revocation_endpoint": issuer.mtls_endpoint("revoke"),
            "introspection_endpoint": issuer.mtls_endpoint("introspect"),
            "pushed_authorization_request_endpoint": issuer.mtls_endpoint("par"),
        },
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": signing,
        "request_object_signing_alg_values_supported": assertion_algs,
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "at_hash",
            "name", "preferred_username", "locale", "zoneinfo", "updated_at", "email", "email_verified"],
        "claims_parameter_supported": true,
        "request_parameter_supported": true,
        "request_uri_parameter_supported": false,
        "require_pushed_authorization_requests": false,
        "acr_values_supported": acr::SUPPORTED,
        "ui_locales_supported": ["ja", "en"],
        "claims_locales_supported": ["ja", "en"],
        "prompt_values_supported": ["none", "login", "consent"],
        "authorization_response_iss_parameter_supported": true,
        "tls_client_certificate_bound_access_tokens": true,
        "frontchannel_logout_supported": false,
        "backchannel_logout_supported": false,
    })
}
