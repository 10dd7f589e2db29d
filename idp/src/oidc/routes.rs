//! The OpenID Connect provider's routes, apart from its types (`oidc/mod.rs`), so the
//! modules that decide import the types without the endpoints.

use axum::Router;
use axum::routing::{get, post};

use super::{authorize, cors, discovery, end_session, introspection, jwks, par, registration, revocation, token, userinfo};
use crate::state::SharedState;

pub fn routes() -> Router<SharedState> {
    Router::new()
        // The five endpoints a browser app calls from its own script answer CORS (cors.rs).
        .route("/t/{tenant}/.well-known/openid-configuration", get(discovery::openid_configuration).options(cors::preflight_get))
        .route("/t/{tenant}/.well-known/oauth-authorization-server", get(discovery::openid_configuration).options(cors::preflight_get))
        // RFC 8414 §3.1: the well-known suffix goes between the host and the issuer's path.
        .route("/.well-known/oauth-authorization-server/t/{tenant}", get(discovery::openid_configuration).options(cors::preflight_get))
        .route("/t/{tenant}/jwks", get(jwks::jwks).options(cors::preflight_get))
        .route("/t/{tenant}/authorize", get(authorize::authorize_get).post(authorize::authorize_post))
        .route("/t/{tenant}/token", post(token::token).options(cors::preflight_post).fallback(token::post_only))
        .route("/t/{tenant}/userinfo", get(userinfo::userinfo_get).post(userinfo::userinfo_post).options(cors::preflight_get_post))
        .route("/t/{tenant}/end_session", get(end_session::end_session_get).post(end_session::end_session_post))
        .route("/t/{tenant}/end_session/confirm", post(end_session::confirm))
        .route("/t/{tenant}/revoke", post(revocation::revoke).options(cors::preflight_post))
        .route("/t/{tenant}/introspect", post(introspection::introspect))
        .route("/t/{tenant}/par", post(par::pushed_authorization_request))
        .route("/t/{tenant}/register", post(registration::register))
        .route("/t/{tenant}/register/{client_id}", get(registration::read).put(registration::update).delete(registration::delete))
}

/// The sign-in a relying site asked for continues here after the login, on the
/// certificate listener: the session it needs is bound to the connection's certificate.
pub fn resume_routes() -> Router<SharedState> {
    Router::new().route("/oidc/resume/{id}", get(authorize::resume_get).post(authorize::resume_post))
}
