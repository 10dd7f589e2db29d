//! The SAML 2.0 identity provider (SAML 2.0 Profiles §4.1, Web Browser SSO; §4.4, Single
//! Logout): one IdP per tenant, entity ID `{main}/t/{slug}/saml/metadata`.
//!
//! Layout, one module per concern:
//! - [`xml`], [`ns`]: hostile-XML screening before any parser, escaping for output, and
//!   SAML's URIs — from `mamori_saml_wire`, the crate that reads whatever arrives (and
//!   that the fuzz targets drive), re-exported here.
//! - [`binding`]: HTTP-Redirect (DEFLATE, query signatures) and HTTP-POST encodings.
//! - [`keys`], [`signing`], [`encryption`]: the IdP's keys, XML signatures (RSA-SHA256,
//!   exclusive c14n, SHA-256 digests) and encrypted assertions (AES-256-GCM, RSA-OAEP).
//! - [`metadata`], [`sso`], [`response`], [`slo`]: the endpoints and what they send.
//! - [`service_providers`]: registered SPs and their metadata; [`endpoint`]: the rule
//!   for where their messages may be sent.
//! - [`times`]: time arithmetic, checked, and the freshness rules for request times.
//! - [`error`]: every failure mapped, in one place, to a SAML status or a page.
//!
//! Like the OIDC provider, the SSO endpoint on the main listener validates and stores the
//! request, and the browser continues at `{mtls}/saml/resume/{id}` where the login
//! session lives.

pub mod authn_context;
pub mod binding;
pub mod encryption;
pub use mamori_saml_wire::endpoint;
pub mod error;
#[cfg(test)]
mod key_use_tests;
pub mod keys;
pub mod metadata;
pub mod name_id;
pub mod response;
pub mod routes;
pub mod service_providers;
pub mod signing;
pub mod slo;
pub mod sso;
pub mod times;

use mamori_storage::model::Tenant;

use crate::state::SharedState;

pub use mamori_saml_wire::{ns, xml};
pub use times::{TimeOutOfRange, chrono_time, earlier, from_chrono, later};

/// Lifetimes and clock limits.
pub mod limits {
    use time::Duration;

    /// How long a validated AuthnRequest waits for the login.
    pub const PENDING_AUTHN_TTL: Duration = Duration::minutes(30);
    /// How long a single logout waits for the service providers it tells.
    pub const PENDING_LOGOUT_TTL: Duration = Duration::minutes(10);
    /// How old a request's IssueInstant may be.
    pub const MAX_REQUEST_AGE: Duration = Duration::minutes(5);
    /// Clock difference tolerated between Mamori and a service provider.
    pub const CLOCK_SKEW: Duration = Duration::seconds(60);
    /// How long a request ID stays in the replay cache: longer than a request can be
    /// accepted (age + skew), so a replay is never let through by an expired entry.
    pub const REQUEST_ID_MEMORY: Duration = Duration::minutes(10);
    /// Lifetime of an assertion (Conditions and SubjectConfirmationData NotOnOrAfter).
    pub const ASSERTION_TTL: Duration = Duration::minutes(5);
    pub use mamori_saml_wire::binding::MAX_RELAY_STATE;
}

/// A tenant seen as a SAML identity provider: its entity ID and endpoints.
#[derive(Debug, Clone)]
pub struct Idp {
    pub tenant: Tenant,
    /// `{main}/t/{slug}/saml`.
    pub base: String,
}

impl Idp {
    pub fn for_tenant(state: &SharedState, tenant: Tenant) -> Idp {
        Idp { base: format!("{}/t/{}/saml", state.urls.main, tenant.slug), tenant }
    }

    /// The entity ID, which is also where the metadata is served.
    pub fn entity_id(&self) -> String {
        format!("{}/metadata", self.base)
    }

    pub fn sso_url(&self) -> String {
        format!("{}/sso", self.base)
    }

    pub fn slo_url(&self) -> String {
        format!("{}/slo", self.base)
    }
}

pub async fn idp(state: &SharedState, slug: &str) -> anyhow::Result<Option<Idp>> {
    Ok(crate::oidc::recent_tenant_by_slug(&state.app, slug).await?.map(|tenant| Idp::for_tenant(state, tenant)))
}

/// A fresh SAML ID (xs:ID: starts with a letter or underscore), 160 random bits.
pub fn new_id() -> String {
    let bytes: [u8; 20] = rand::random();
    format!("_{}", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_xml_ids_and_unique() {
        let (a, b) = (new_id(), new_id());
        assert_ne!(a, b);
        assert!(a.starts_with('_') && a.len() == 41);
    }
}
