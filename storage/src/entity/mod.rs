//! sea-orm entities, one per table. Crate-private: repositories convert them into
//! [`crate::model`] types. Times are Unix milliseconds; lists are JSON text.

pub(crate) mod admin_role;
pub(crate) mod api_token;
pub(crate) mod audit_event;
pub(crate) mod certificate;
pub(crate) mod certificate_authority;
pub(crate) mod certificate_expiry_reminder;
pub(crate) mod device;
pub(crate) mod login_event;
pub(crate) mod mail_outbox;
pub(crate) mod oidc;
pub(crate) mod oidc_client;
pub(crate) mod passkey;
pub(crate) mod password_history;
pub(crate) mod published_crl;
pub(crate) mod relying_site_version;
pub(crate) mod saml;
pub(crate) mod saml_service_provider;
pub(crate) mod session;
pub(crate) mod signing_key;
pub(crate) mod tenant;
pub(crate) mod tenant_branding;
pub(crate) mod throttle_counter;
pub(crate) mod ticket;
pub(crate) mod user;
