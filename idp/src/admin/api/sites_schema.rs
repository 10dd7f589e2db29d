//! Request and response bodies of the relying-site, signing-key and API-token operations.

use mamori_storage::model::{AccessTokenFormat, ApiScope, SigningAlgorithm};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::schema::{OidcClientOut, rfc3339};
use crate::admin::federation::{ClientRegistration, ClientUpdate, CreatedClient};
use crate::admin::keys::KeyInfo;
use crate::admin::saml_sps::{SpRegistration, SpUpdate};
use crate::admin::tokens::{CreatedToken, ListedToken};

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
    TlsClientAuth,
    SelfSignedTlsClientAuth,
    /// A public client (PKCE required).
    None,
}

impl AuthMethod {
    fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
            AuthMethod::TlsClientAuth => "tls_client_auth",
            AuthMethod::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
            AuthMethod::None => "none",
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

fn grant_names(grants: Vec<GrantType>) -> Vec<String> {
    grants
        .into_iter()
        .map(|g| match g {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
        })
        .map(str::to_owned)
        .collect()
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenFormat {
    /// RFC 9068 JWT access tokens.
    Jwt,
    Opaque,
}

impl From<TokenFormat> for AccessTokenFormat {
    fn from(f: TokenFormat) -> Self {
        match f {
            TokenFormat::Jwt => AccessTokenFormat::Jwt,
            TokenFormat::Opaque => AccessTokenFormat::Opaque,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
pub enum IdTokenAlg {
    ES256,
    RS256,
}

impl From<IdTokenAlg> for SigningAlgorithm {
    fn from(a: IdTokenAlg) -> Self {
        match a {
            IdTokenAlg::ES256 => SigningAlgorithm::Es256,
            IdTokenAlg::RS256 => SigningAlgorithm::Rs256,
        }
    }
}

/// Registers an OIDC client. Absent lists take defaults: grant types authorization_code
/// and refresh_token, scopes openid profile email.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OidcClientCreate {
    /// Generated (`c-…`) when absent: 1 to 128 of `A-Z a-z 0-9 - . _ ~`. A tenant admin's
    /// is the tenant's slug, a dot and a name (`acme.shop`); a super-admin's is free.
    pub client_id: Option<String>,
    /// Shown to users on the consent page.
    pub name: String,
    /// Matched exactly (on a loopback IP literal, any port); https, or http on 127.0.0.0/8 or
    /// [::1]; no userinfo, no fragment, in normal form. Required for authorization_code.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    pub grant_types: Vec<GrantType>,
    /// Default client_secret_basic.
    pub token_endpoint_auth_method: Option<AuthMethod>,
    /// The client's public keys (a JWK Set), needed for private_key_jwt.
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    /// Where the client publishes its keys (recorded; private_key_jwt needs `jwks`).
    pub jwks_uri: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The user claims the client may receive where its granted scopes allow them: name,
    /// preferred_username, locale, zoneinfo, updated_at, email, email_verified (`sub` and
    /// the protocol claims are always released). Absent or null: every claim the scopes
    /// allow. An unknown name is a 422.
    pub claims: Option<Vec<String>>,
    /// Default jwt.
    pub access_token_format: Option<TokenFormat>,
    /// Operated by the tenant itself: users are not asked for consent.
    #[serde(default)]
    pub first_party: bool,
    /// Require PKCE from a confidential client too (public clients always need it).
    #[serde(default)]
    pub require_pkce: bool,
    /// Default ES256.
    pub id_token_signed_response_alg: Option<IdTokenAlg>,
    /// tls_client_auth: the subject DN of the client's certificate.
    pub tls_client_auth_subject_dn: Option<String>,
    /// self_signed_tls_client_auth: the client's certificate (PEM).
    pub tls_client_certificate: Option<String>,
    /// Bind access tokens to the client's certificate (RFC 8705).
    #[serde(default)]
    pub tls_client_certificate_bound_access_tokens: bool,
    /// URLs the client may pass as `request_uri` (request objects by reference, fetched
    /// by the provider); matched without their fragment.
    #[serde(default)]
    pub request_uris: Vec<String>,
    /// Where Mamori POSTs a logout token when a session the client took part in ends
    /// (Back-Channel Logout 1.0): https, or http on a loopback IP address.
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
}

impl From<OidcClientCreate> for ClientRegistration {
    fn from(c: OidcClientCreate) -> Self {
        let defaults = ClientRegistration::default();
        ClientRegistration {
            client_id: c.client_id,
            name: c.name,
            redirect_uris: c.redirect_uris,
            post_logout_redirect_uris: c.post_logout_redirect_uris,
            grant_types: grant_names(c.grant_types),
            token_endpoint_auth_method: c.token_endpoint_auth_method.map_or(defaults.token_endpoint_auth_method, |m| m.as_str().to_owned()),
            jwks: c.jwks,
            jwks_uri: c.jwks_uri,
            scopes: c.scopes,
            claims: c.claims,
            access_token_format: c.access_token_format.map_or(defaults.access_token_format, Into::into),
            first_party: c.first_party,
            require_pkce: c.require_pkce,
            id_token_signed_response_alg: c.id_token_signed_response_alg.map_or(defaults.id_token_signed_response_alg, Into::into),
            tls_client_auth_subject_dn: c.tls_client_auth_subject_dn,
            tls_client_certificate_pem: c.tls_client_certificate,
            tls_client_certificate_bound_access_tokens: c.tls_client_certificate_bound_access_tokens,
            request_uris: c.request_uris,
            backchannel_logout_uri: c.backchannel_logout_uri,
        }
    }
}

/// A present field, `null` included (to tell "remove" from "leave as is").
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Changes to an OIDC client; absent fields stay. The auth method cannot change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OidcClientPatch {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub grant_types: Option<Vec<GrantType>>,
    /// A JWK Set, or null to remove it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<Option<serde_json::Value>>,
    /// A URL, or null to remove it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub jwks_uri: Option<Option<String>>,
    pub scopes: Option<Vec<String>>,
    /// The user claims the client may receive (see the create body), or null for every
    /// claim the granted scopes allow.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>)]
    pub claims: Option<Option<Vec<String>>>,
    pub access_token_format: Option<TokenFormat>,
    /// Skip the consent screen (first-party) or not.
    pub first_party: Option<bool>,
    pub require_pkce: Option<bool>,
    pub id_token_signed_response_alg: Option<IdTokenAlg>,
    /// Replaces the URLs the client may pass as `request_uri`.
    pub request_uris: Option<Vec<String>>,
    /// Sets the back-channel logout URI; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub backchannel_logout_uri: Option<Option<String>>,
}

impl From<OidcClientPatch> for ClientUpdate {
    fn from(p: OidcClientPatch) -> Self {
        ClientUpdate {
            name: p.name,
            redirect_uris: p.redirect_uris,
            post_logout_redirect_uris: p.post_logout_redirect_uris,
            grant_types: p.grant_types.map(grant_names),
            jwks: p.jwks,
            jwks_uri: p.jwks_uri,
            scopes: p.scopes,
            claims: p.claims,
            access_token_format: p.access_token_format.map(Into::into),
            first_party: p.first_party,
            require_pkce: p.require_pkce,
            id_token_signed_response_alg: p.id_token_signed_response_alg.map(Into::into),
            request_uris: p.request_uris,
            backchannel_logout_uri: p.backchannel_logout_uri,
        }
    }
}

/// A client just registered or given a new secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct OidcClientCreated {
    pub client: OidcClientOut,
    /// For client_secret_basic/post only: shown this once, stored only as a hash.
    pub client_secret: Option<String>,
}

impl From<&CreatedClient> for OidcClientCreated {
    fn from(c: &CreatedClient) -> Self {
        OidcClientCreated { client: OidcClientOut::new(&c.client, &c.settings), client_secret: c.secret.clone() }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NameIdFormat {
    /// Pairwise, stable per SP (the default).
    Persistent,
    Email,
    Transient,
}

impl NameIdFormat {
    fn as_str(self) -> &'static str {
        match self {
            NameIdFormat::Persistent => "persistent",
            NameIdFormat::Email => "email",
            NameIdFormat::Transient => "transient",
        }
    }
}

/// Registers a SAML service provider from its metadata. (The metadata can also be sent
/// alone as `application/samlmetadata+xml`, with the defaults below.)
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SamlSpCreate {
    /// The SP's metadata XML (an md:EntityDescriptor).
    pub metadata: String,
    /// The entity ID the metadata must be for.
    pub entity_id: Option<String>,
    /// Default: the entity ID.
    pub name: Option<String>,
    /// Default persistent.
    pub name_id_format: Option<NameIdFormat>,
    /// login_id, email, display_name, locale, amr. Default: those the metadata requests.
    pub attributes: Option<Vec<String>>,
    /// With neither this nor sign_assertion, both are signed.
    #[serde(default)]
    pub sign_response: bool,
    #[serde(default)]
    pub sign_assertion: bool,
    #[serde(default)]
    pub encrypt_assertion: bool,
    /// Require signed AuthnRequests even if the metadata does not ask for it.
    #[serde(default)]
    pub want_authn_requests_signed: bool,
    /// Send IdP-initiated (unsolicited) responses to this SP (SAML Profiles §4.1.5).
    /// Default false: the SP gets only answers to its own AuthnRequests.
    #[serde(default)]
    pub allow_unsolicited: bool,
}

impl From<SamlSpCreate> for SpRegistration {
    fn from(c: SamlSpCreate) -> Self {
        SpRegistration {
            metadata: c.metadata.into_bytes(),
            entity_id: c.entity_id,
            name: c.name,
            name_id_format: c.name_id_format.map(|f| f.as_str().to_owned()),
            attributes: c.attributes,
            sign_response: c.sign_response,
            sign_assertion: c.sign_assertion,
            encrypt_assertion: c.encrypt_assertion,
            require_signed_requests: c.want_authn_requests_signed,
            allow_unsolicited: c.allow_unsolicited,
        }
    }
}

/// Changes to a service provider's settings; absent fields stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SamlSpPatch {
    pub name: Option<String>,
    pub name_id_format: Option<NameIdFormat>,
    /// The attributes released (replaces the list).
    pub attributes: Option<Vec<String>>,
    pub want_authn_requests_signed: Option<bool>,
    pub sign_response: Option<bool>,
    pub sign_assertion: Option<bool>,
    pub encrypt_assertion: Option<bool>,
    /// Send IdP-initiated (unsolicited) responses to this SP.
    pub allow_unsolicited: Option<bool>,
}

impl From<SamlSpPatch> for SpUpdate {
    fn from(p: SamlSpPatch) -> Self {
        SpUpdate {
            name: p.name,
            name_id_format: p.name_id_format.map(|f| f.as_str().to_owned()),
            attributes: p.attributes,
            want_authn_requests_signed: p.want_authn_requests_signed,
            sign_response: p.sign_response,
            sign_assertion: p.sign_assertion,
            encrypt_assertion: p.encrypt_assertion,
            allow_unsolicited: p.allow_unsolicited,
        }
    }
}

/// A published signing or encryption key: public facts only.
#[derive(Debug, Serialize, ToSchema)]
pub struct SigningKeyOut {
    pub kid: String,
    /// oidc, saml or saml-encryption.
    pub purpose: String,
    pub alg: String,
    /// next (published, not yet used), active or retired (published until it expires).
    pub state: String,
    /// Shared by every tenant.
    pub shared: bool,
    pub created_at: String,
    pub activated_at: String,
    pub retire_after: Option<String>,
    pub expires_at: Option<String>,
}

impl From<&KeyInfo> for SigningKeyOut {
    fn from(k: &KeyInfo) -> Self {
        let state = serde_json::to_value(k.state).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        SigningKeyOut {
            kid: k.kid.clone(),
            purpose: k.purpose.to_string(),
            alg: k.algorithm.clone(),
            state,
            shared: k.shared,
            created_at: rfc3339(k.created_at),
            activated_at: rfc3339(k.activated_at),
            retire_after: k.retire_after.map(rfc3339),
            expires_at: k.expires_at.map(rfc3339),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyKindIn {
    /// ES256 and RS256 token keys; the new ones sign at once.
    Oidc,
    /// SAML signing and encryption keys; published now, used after the grace period.
    Saml,
}

/// Which keys to rotate.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyRotate {
    pub kind: KeyKindIn,
    /// SAML only: days between publishing the new keys and using them (default 7).
    #[schema(minimum = 0, maximum = 90)]
    pub grace_days: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeysRotated {
    /// The new keys' IDs.
    pub kids: Vec<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Read,
    Write,
    /// User provisioning over SCIM 2.0 (`/scim/v2/t/{tenant}/`) only.
    Scim,
}

impl From<Scope> for ApiScope {
    fn from(s: Scope) -> Self {
        match s {
            Scope::Read => ApiScope::Read,
            Scope::Write => ApiScope::Write,
            Scope::Scim => ApiScope::Scim,
        }
    }
}

/// Creates an API token (super-admin only).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiTokenCreate {
    /// A label for lists and the audit trail.
    pub name: String,
    /// A tenant admin token for this tenant; absent for a super-admin token.
    pub tenant: Option<String>,
    pub scopes: Vec<Scope>,
    /// Lifetime such as 90d, 12h, 30m, 45s (default 90d).
    pub expires_in: Option<String>,
}

/// A token just created: its text is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiTokenCreated {
    pub token: String,
    pub id: String,
    pub name: String,
    pub tenant: Option<String>,
    #[schema(value_type = Vec<Scope>)]
    pub scopes: Vec<String>,
    pub expires_at: String,
}

impl From<&CreatedToken> for ApiTokenCreated {
    fn from(t: &CreatedToken) -> Self {
        ApiTokenCreated {
            token: t.token.clone(),
            id: t.id.to_string(),
            name: t.name.clone(),
            tenant: t.tenant.clone(),
            scopes: t.scopes.iter().map(|s| s.to_string()).collect(),
            expires_at: rfc3339(t.expires_at),
        }
    }
}

/// A token's record (never its text).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiTokenOut {
    pub id: String,
    pub name: String,
    /// The tenant of a tenant admin token; null for a super-admin token.
    pub tenant: Option<String>,
    #[schema(value_type = Vec<Scope>)]
    pub scopes: Vec<String>,
    pub created_by: String,
    pub created_at: String,
    pub expires_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl From<&ListedToken> for ApiTokenOut {
    fn from(l: &ListedToken) -> Self {
        let t = &l.token;
        ApiTokenOut {
            id: t.id.to_string(),
            name: t.name.clone(),
            tenant: l.tenant.clone(),
            scopes: t.scopes.iter().map(|s| s.to_string()).collect(),
            created_by: t.created_by.clone(),
            created_at: rfc3339(t.created_at),
            expires_at: rfc3339(t.expires_at),
            last_used_at: t.last_used_at.map(rfc3339),
            revoked_at: t.revoked_at.map(rfc3339),
        }
    }
}
