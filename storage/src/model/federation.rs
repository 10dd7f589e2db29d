//! Relying sites (OIDC clients, SAML service providers) and token-signing keys.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::string_enum;

string_enum! {
    pub enum AccessTokenFormat {
        Jwt => "jwt",
        Opaque => "opaque",
    }
}

string_enum! {
    pub enum KeyPurpose {
        Oidc => "oidc",
        Saml => "saml",
        /// The SAML identity provider's decryption key (published for encryption).
        SamlEncryption => "saml-encryption",
    }
}

string_enum! {
    /// JOSE names, as they appear in `alg`.
    pub enum SigningAlgorithm {
        Es256 => "ES256",
        Rs256 => "RS256",
    }
}

/// A registered OpenID Connect client.
#[derive(Clone, PartialEq, Eq)]
pub struct OidcClient {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub client_id: String,
    /// Argon2 PHC of the client secret; `None` for public or key-authenticated clients.
    pub client_secret_hash: Option<String>,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    /// e.g. "client_secret_basic", "private_key_jwt", "tls_client_auth", "none".
    pub token_endpoint_auth_method: String,
    /// A JWK Set as JSON text, for `private_key_jwt` without `jwks_uri`.
    pub jwks: Option<String>,
    pub jwks_uri: Option<String>,
    pub scopes: Vec<String>,
    /// The user claims the client may receive (where its granted scopes allow them);
    /// `None` = every claim the scopes allow.
    pub claims: Option<Vec<String>>,
    pub access_token_format: AccessTokenFormat,
    /// Operated by the tenant itself: consent can be skipped.
    pub first_party: bool,
    pub require_pkce: bool,
    pub created_at: OffsetDateTime,
}

impl fmt::Debug for OidcClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcClient")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("name", &self.name)
            .field("redirect_uris", &self.redirect_uris)
            .field("token_endpoint_auth_method", &self.token_endpoint_auth_method)
            .finish_non_exhaustive()
    }
}

/// Everything of an [`OidcClient`] but its id and creation time.
#[derive(Clone, PartialEq, Eq)]
pub struct NewOidcClient {
    pub tenant_id: Uuid,
    pub client_id: String,
    pub client_secret_hash: Option<String>,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub jwks: Option<String>,
    pub jwks_uri: Option<String>,
    pub scopes: Vec<String>,
    pub claims: Option<Vec<String>>,
    pub access_token_format: AccessTokenFormat,
    pub first_party: bool,
    pub require_pkce: bool,
}

impl fmt::Debug for NewOidcClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewOidcClient").field("client_id", &self.client_id).field("name", &self.name).finish_non_exhaustive()
    }
}

/// An AssertionConsumerService endpoint of a SAML SP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertionConsumerService {
    pub url: String,
    /// Binding URI, e.g. `urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST`.
    pub binding: String,
    pub index: u32,
    pub is_default: bool,
}

/// A SingleLogoutService endpoint of a SAML SP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SingleLogoutService {
    pub url: String,
    pub binding: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_url: Option<String>,
}

/// A registered SAML 2.0 service provider.
#[derive(Clone, Debug, PartialEq)]
pub struct SamlServiceProvider {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub entity_id: String,
    pub name: String,
    /// The metadata it was registered from, if any.
    pub metadata_xml: Option<String>,
    pub acs: Vec<AssertionConsumerService>,
    pub slo: Vec<SingleLogoutService>,
    /// The SP's signing/encryption certificates, PEM.
    pub certificates: Vec<String>,
    pub want_authn_requests_signed: bool,
    pub name_id_format: String,
    /// Which attributes are released, in whatever shape the SAML module defines.
    pub attribute_release: serde_json::Value,
    pub sign_response: bool,
    pub sign_assertion: bool,
    pub encrypt_assertion: bool,
    /// Takes IdP-initiated (unsolicited) responses.
    pub allow_unsolicited: bool,
    pub created_at: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewSamlServiceProvider {
    pub tenant_id: Uuid,
    pub entity_id: String,
    pub name: String,
    pub metadata_xml: Option<String>,
    pub acs: Vec<AssertionConsumerService>,
    pub slo: Vec<SingleLogoutService>,
    pub certificates: Vec<String>,
    pub want_authn_requests_signed: bool,
    pub name_id_format: String,
    pub attribute_release: serde_json::Value,
    pub sign_response: bool,
    pub sign_assertion: bool,
    pub encrypt_assertion: bool,
    pub allow_unsolicited: bool,
}

/// A token- or assertion-signing key. Published from creation until `expires_at`, used for
/// signing from `activated_at` until `retire_after`, so that JWKS and metadata carry the
/// old and new key during rotation.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    /// The `kid`.
    pub kid: String,
    /// `None` = shared by all tenants.
    pub tenant_id: Option<Uuid>,
    pub purpose: KeyPurpose,
    pub algorithm: SigningAlgorithm,
    pub public_jwk: Option<String>,
    pub certificate_pem: Option<String>,
    pub sealed_private_key: Vec<u8>,
    pub created_at: OffsetDateTime,
    pub activated_at: OffsetDateTime,
    pub retire_after: Option<OffsetDateTime>,
    pub expires_at: Option<OffsetDateTime>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("tenant_id", &self.tenant_id)
            .field("purpose", &self.purpose)
            .field("algorithm", &self.algorithm)
            .field("activated_at", &self.activated_at)
            .field("retire_after", &self.retire_after)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct NewSigningKey {
    pub kid: String,
    pub tenant_id: Option<Uuid>,
    pub purpose: KeyPurpose,
    pub algorithm: SigningAlgorithm,
    pub public_jwk: Option<String>,
    pub certificate_pem: Option<String>,
    pub sealed_private_key: Vec<u8>,
    pub activated_at: OffsetDateTime,
    pub retire_after: Option<OffsetDateTime>,
    pub expires_at: Option<OffsetDateTime>,
}

impl fmt::Debug for NewSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewSigningKey")
            .field("kid", &self.kid)
            .field("purpose", &self.purpose)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}
