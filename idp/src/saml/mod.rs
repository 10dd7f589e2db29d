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
//! - [`error`]: every failure mapped, in one place, to a SAML status or a page.
//!
//! Like the OIDC provider, the SSO endpoint on the main listener validates and stores the
//! request, and the browser continues at `{mtls}/saml/resume/{id}` where the login
//! session lives.

pub mod authn_context;
pub mod binding;
pub mod encryption;
pub mod endpoint;
pub mod error;
pub mod keys;
#[cfg(test)]
mod key_use_tests;
pub mod metadata;
pub mod name_id;
pub mod response;
pub mod service_providers;
pub mod signing;
pub mod slo;
pub mod sso;

use axum::Router;
use axum::routing::get;
use mamori_storage::model::Tenant;

use crate::server::SharedState;

pub use mamori_saml_wire::{ns, xml};

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

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/t/{tenant}/saml/metadata", get(metadata::metadata))
        .route("/t/{tenant}/saml/sso", get(sso::sso_redirect).post(sso::sso_post))
        .route("/t/{tenant}/saml/sso/unsolicited", get(sso::unsolicited))
        .route("/saml/resume/{id}", get(sso::resume))
        .route("/t/{tenant}/saml/slo", get(slo::slo_redirect).post(slo::slo_post))
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
    Ok(state.app.storage.tenants().get_by_slug(slug).await?.map(|tenant| Idp::for_tenant(state, tenant)))
}

/// A fresh SAML ID (xs:ID: starts with a letter or underscore), 160 random bits.
pub fn new_id() -> String {
    let bytes: [u8; 20] = rand::random();
    format!("_{}", hex::encode(bytes))
}

/// A sum or difference of times outside what `time` holds (years -9999 to 9999).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a time is out of range")]
pub struct TimeOutOfRange;

/// `t + d`, checked. Times reach SAML code from requests (any xs:dateTime, up to year
/// 9999 and beyond) and from operators (grace periods), so a sum can leave `time`'s
/// range; that is an error to answer, never a panic.
pub fn later(t: time::OffsetDateTime, d: time::Duration) -> Result<time::OffsetDateTime, TimeOutOfRange> {
    t.checked_add(d).ok_or(TimeOutOfRange)
}

/// `t - d`, checked (see [`later`]).
pub fn earlier(t: time::OffsetDateTime, d: time::Duration) -> Result<time::OffsetDateTime, TimeOutOfRange> {
    t.checked_sub(d).ok_or(TimeOutOfRange)
}

/// `time` to samael's chrono (whose range holds all of `time`'s).
pub fn chrono_time(t: time::OffsetDateTime) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(t.unix_timestamp(), t.nanosecond()).unwrap_or_default()
}

/// samael's chrono to `time`; `None` beyond `time`'s range (chrono reaches ±262143).
pub fn from_chrono(t: &chrono::DateTime<chrono::Utc>) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp(t.timestamp()).ok()
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

    #[test]
    fn times_convert_both_ways() {
        let t = time::macros::datetime!(2026-04-01 09:00:05 UTC);
        assert_eq!(from_chrono(&chrono_time(t)), Some(t));
        for extreme in [
            time::macros::datetime!(0001-01-01 00:00:00 UTC),
            time::macros::datetime!(9999-12-31 23:59:59 UTC),
            time::macros::datetime!(-9999-01-01 00:00:00 UTC),
        ] {
            assert_eq!(from_chrono(&chrono_time(extreme)), Some(extreme));
        }
        let far: chrono::DateTime<chrono::Utc> = "+10000-01-01T00:00:00Z".parse().expect("chrono reads five-digit years");
        assert_eq!(from_chrono(&far), None);
        assert_eq!(from_chrono(&chrono::DateTime::<chrono::Utc>::MIN_UTC), None);
        assert_eq!(from_chrono(&chrono::DateTime::<chrono::Utc>::MAX_UTC), None);
    }

    #[test]
    fn time_arithmetic_is_checked_at_both_ends() {
        // The ends of `time`'s range (year ±9999, or ±999999 with its `large-dates`).
        let (max, min) = (time::PrimitiveDateTime::MAX.assume_utc(), time::PrimitiveDateTime::MIN.assume_utc());
        assert_eq!(later(max, limits::CLOCK_SKEW), Err(TimeOutOfRange));
        assert_eq!(earlier(min, limits::CLOCK_SKEW), Err(TimeOutOfRange));
        assert_eq!(later(min, time::Duration::MAX), Err(TimeOutOfRange));
        assert_eq!(earlier(max, time::Duration::MIN), Err(TimeOutOfRange));
        let year1 = time::macros::datetime!(0001-01-01 00:00:00 UTC);
        assert_eq!(earlier(year1, time::Duration::days(1)), Ok(time::macros::datetime!(0000-12-31 00:00:00 UTC)));
        assert_eq!(later(year1, limits::CLOCK_SKEW), Ok(time::macros::datetime!(0001-01-01 00:01:00 UTC)));
    }
}
