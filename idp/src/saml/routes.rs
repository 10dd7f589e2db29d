//! The SAML identity provider's routes, apart from its types (`saml/mod.rs`), so the
//! modules that decide import the types without the endpoints.

use axum::Router;
use axum::routing::get;

use super::{metadata, slo, sso};
use crate::state::SharedState;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/t/{tenant}/saml/metadata", get(metadata::metadata))
        .route("/t/{tenant}/saml/sso", get(sso::sso_redirect).post(sso::sso_post))
        .route("/t/{tenant}/saml/sso/unsolicited", get(sso::unsolicited))
        .route("/t/{tenant}/saml/slo", get(slo::slo_redirect).post(slo::slo_post))
}

/// The single sign-on continues here after the login, on the certificate listener: the
/// session it needs is bound to the connection's certificate.
pub fn resume_routes() -> Router<SharedState> {
    Router::new().route("/saml/resume/{id}", get(sso::resume))
}
