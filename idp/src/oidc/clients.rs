//! A registered client as the provider uses it: the `oidc_clients` record plus the
//! metadata kept beside it (RFC 8705 certificate settings, ID token algorithm, the
//! registration access token of RFC 7592).

use mamori_storage::model::{OidcClient, SigningAlgorithm};
use serde::{Deserialize, Serialize};

use super::redirect_uri;
use crate::app::App;
use crate::fields::{FieldError, RedirectUri, site_rules};
pub use crate::outbound::FetchRule;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClientSettings {
    /// `tls_client_auth`: the subject DN the client's certificate must carry (RFC 8705 §2.1.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_subject_dn: Option<String>,
    /// `self_signed_tls_client_auth`: SHA-256 fingerprints (hex) of the certificates the
    /// client registered (RFC 8705 §2.2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tls_client_certificate_sha256: Vec<String>,
    /// Access tokens carry `cnf.x5t#S256` of the certificate the client used (RFC 8705 §3).
    #[serde(default)]
    pub tls_client_certificate_bound_access_tokens: bool,
    /// `ES256` or `RS256`; absent means RS256, the default of OpenID Connect Registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<SigningAlgorithm>,
    /// SHA-256 of the RFC 7592 registration access token, for clients registered dynamically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_access_token_hash: Option<String>,
    /// URLs the client publishes request objects at, for `request_uri` by reference
    /// (OpenID Connect Core §6.2; Dynamic Registration §2 `request_uris`). A fragment, if
    /// any, is ignored when matching.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request_uris: Vec<String>,
    /// Back-Channel Logout 1.0 §2.2: where to POST a logout token when a session the
    /// client took part in ends (https, or http to a loopback address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
}

impl ClientSettings {
    /// The stored settings of `client_id`, read strictly: settings that do not read are
    /// an error, not the defaults (which would drop a registered algorithm or logout URI).
    pub fn read(client_id: &str, json: serde_json::Value) -> anyhow::Result<ClientSettings> {
        serde_json::from_value(json).map_err(|e| anyhow::anyhow!("the stored settings of client {client_id} do not read: {e}"))
    }

    pub fn id_token_algorithm(&self) -> SigningAlgorithm {
        self.id_token_signed_response_alg.unwrap_or(SigningAlgorithm::Rs256)
    }

    /// `uri` is one of the registered `request_uris`, both compared without a fragment.
    pub fn registered_request_uri(&self, uri: &str) -> bool {
        let uri = without_fragment(uri);
        self.request_uris.iter().any(|r| without_fragment(r) == uri)
    }
}

pub fn without_fragment(uri: &str) -> &str {
    uri.split_once('#').map_or(uri, |(before, _)| before)
}

/// Most `request_uris` a client may register.
pub const MAX_REQUEST_URIS: usize = 20;
/// The most redirect URIs (and, separately, post-logout redirect URIs) a client may
/// register: each is compared on every authorization request, and every one is CORS
/// origin material (`oidc::cors`), so a tenant must not be able to make the list long.
pub const MAX_REDIRECT_URIS: usize = 20;

#[derive(Debug, Clone)]
pub struct RegisteredClient {
    pub client: OidcClient,
    pub settings: ClientSettings,
}

impl RegisteredClient {
    pub fn client_id(&self) -> &str {
        &self.client.client_id
    }

    pub fn is_public(&self) -> bool {
        self.client.token_endpoint_auth_method == "none"
    }

    pub fn allows_grant(&self, grant_type: &str) -> bool {
        self.client.grant_types.iter().any(|g| g == grant_type)
    }

    pub fn allows_scope(&self, scope: &str) -> bool {
        self.client.scopes.iter().any(|s| s == scope)
    }

    /// The client's claim release list (`None`: every claim its granted scopes allow).
    pub fn claim_list(&self) -> Option<&[String]> {
        self.client.claims.as_deref()
    }
}

/// The client with its settings, if it exists in `tenant_id`: from this node's cache
/// while the tenant's relying-site version is unchanged (a change through any node is
/// seen within [`super::site_version::VERSION_CHECK_EVERY`] and one read).
pub async fn load(app: &App, tenant_id: uuid::Uuid, client_id: &str) -> anyhow::Result<Option<RegisteredClient>> {
    let version = match app.caches.clients.get(app, tenant_id, client_id).await? {
        Ok(found) => return Ok(Some(found)),
        Err(version) => version,
    };
    let Some(client) = app.storage.oidc_clients().get_by_client_id(client_id).await? else {
        return Ok(None);
    };
    if client.tenant_id != tenant_id {
        return Ok(None);
    }
    let settings = match app.storage.oidc_grants().client_settings(client_id).await? {
        Some(json) => ClientSettings::read(client_id, json)?,
        None => ClientSettings::default(),
    };
    let found = RegisteredClient { client, settings };
    app.caches.clients.put(tenant_id, version, client_id, found.clone());
    Ok(Some(found))
}

/// Drops a client this node remembers (after deleting or changing it here).
pub fn forget(app: &App, client_id: &str) {
    app.caches.clients.forget(client_id);
}

/// Token endpoint authentication methods a client may register.
pub const AUTH_METHODS: [&str; 6] =
    ["client_secret_basic", "client_secret_post", "private_key_jwt", "tls_client_auth", "self_signed_tls_client_auth", "none"];

/// What registering a client takes (from the CLI or dynamic registration).
#[derive(Debug, Clone)]
pub struct ClientSpec {
    /// Chosen by the operator, or generated when absent.
    pub client_id: Option<String>,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub auth_method: String,
    /// A JWK Set (JSON text) for private_key_jwt and request objects.
    pub jwks: Option<String>,
    pub scopes: Vec<String>,
    pub access_token_format: mamori_storage::model::AccessTokenFormat,
    pub first_party: bool,
    pub require_pkce: bool,
    pub settings: ClientSettings,
}

/// A URL the provider calls for a client (`jwks_uri`, `request_uris` without their
/// fragment, `backchannel_logout_uri`): the redirect URI rules, and http only where the
/// outbound client follows it ([`redirect_uri::check_fetch`]), for `field`. Every surface
/// (dynamic registration, admin API, CLI, console) comes here through [`check_spec`].
pub fn check_fetch_url(field: &'static str, uri: &str, rule: FetchRule) -> Result<(), FieldError> {
    RedirectUri::parse_fetched(field, uri, rule).map(|_| ())
}

/// Why a spec was refused: a value of one field ([`FieldError`], with its message key),
/// or the combination of fields (in English).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecRefusal {
    #[error(transparent)]
    Field(#[from] FieldError),
    #[error("{0}")]
    Combination(String),
}

impl From<String> for SpecRefusal {
    fn from(why: String) -> Self {
        SpecRefusal::Combination(why)
    }
}

impl From<&str> for SpecRefusal {
    fn from(why: &str) -> Self {
        SpecRefusal::Combination(why.to_owned())
    }
}

/// Checks a spec against the operator's outbound `rule`; the error names what is wrong.
pub fn check_spec(spec: &ClientSpec, rule: FetchRule) -> Result<(), SpecRefusal> {
    check_spec_with_keys_at(spec, None, rule)
}

/// The most keys a client's JWK Set may hold, inline or at its `jwks_uri`: key rotation
/// needs two or three, and each key more is memory every node keeps for the client.
pub const MAX_JWKS_KEYS: usize = 20;

/// [`check_spec`] for a client that may publish its keys at `jwks_uri` instead of inline:
/// `private_key_jwt` needs one or the other (the token endpoint fetches the URI).
pub fn check_spec_with_keys_at(spec: &ClientSpec, jwks_uri: Option<&str>, rule: FetchRule) -> Result<(), SpecRefusal> {
    if !AUTH_METHODS.contains(&spec.auth_method.as_str()) {
        return Err(format!("token_endpoint_auth_method: unknown method {}", spec.auth_method).into());
    }
    for g in &spec.grant_types {
        if !matches!(g.as_str(), "authorization_code" | "refresh_token" | "client_credentials") {
            return Err(format!("grant_types: unsupported grant type {g}").into());
        }
    }
    if spec.grant_types.iter().any(|g| g == "authorization_code") && spec.redirect_uris.is_empty() {
        return Err("redirect_uris: the authorization_code grant needs at least one redirect URI".into());
    }
    if spec.redirect_uris.len() > MAX_REDIRECT_URIS || spec.post_logout_redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(format!("redirect_uris, post_logout_redirect_uris: at most {MAX_REDIRECT_URIS} redirect URIs and {MAX_REDIRECT_URIS} post-logout redirect URIs").into());
    }
    check_uris(spec, rule)?;
    if let Some(uri) = jwks_uri {
        check_fetch_url("jwks_uri", uri, rule)?;
    }
    if spec.settings.request_uris.len() > MAX_REQUEST_URIS {
        return Err(format!("request_uris: at most {MAX_REQUEST_URIS} request URIs").into());
    }
    if spec.auth_method == "none" && spec.grant_types.iter().any(|g| g == "client_credentials") {
        return Err("grant_types: a public client (token_endpoint_auth_method none) cannot use client_credentials".into());
    }
    // Scopes Mamori offers, or an API's own (namespaced): a made-up word is refused here
    // for every surface rather than registered and never granted meaningfully.
    spec.scopes.iter().try_for_each(|s| site_rules::scope(s))?;
    let keys = spec.jwks.as_deref().and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok());
    // Public asymmetric signing keys only (RFC 7523, OIDC Core §9): the one screen the
    // token endpoint's and request objects' verification rely on.
    if let Some(keys) = &keys {
        site_rules::jwks(keys, MAX_JWKS_KEYS)?;
    }
    if spec.auth_method == "private_key_jwt" && jwks_uri.is_none() && keys.is_none_or(|k| k["keys"].as_array().is_none_or(|a| a.is_empty()))
    {
        return Err("jwks: private_key_jwt needs a JWK Set with at least one key, or a jwks_uri".into());
    }
    if spec.auth_method == "tls_client_auth" && spec.settings.tls_client_auth_subject_dn.is_none() {
        return Err("tls_client_auth_subject_dn: tls_client_auth needs the certificate's subject DN".into());
    }
    if spec.auth_method == "self_signed_tls_client_auth" && spec.settings.tls_client_certificate_sha256.is_empty() {
        return Err("tls_client_certificate: self_signed_tls_client_auth needs the certificate".into());
    }
    Ok(())
}

/// The spec's redirect and post-logout URIs by [`RedirectUri::parse`], and the URIs the
/// provider calls (request URIs without their fragment, which is only a version marker
/// for them; the back-channel logout URI) by [`check_fetch_url`] under `rule`.
pub fn check_uris(spec: &ClientSpec, rule: FetchRule) -> Result<(), FieldError> {
    RedirectUri::parse_list(redirect_uri::REDIRECT_URIS, &spec.redirect_uris)?;
    RedirectUri::parse_list(redirect_uri::POST_LOGOUT_REDIRECT_URIS, &spec.post_logout_redirect_uris)?;
    spec.settings.request_uris.iter().try_for_each(|u| check_fetch_url(REQUEST_URIS, without_fragment(u), rule))?;
    match &spec.settings.backchannel_logout_uri {
        Some(uri) => check_fetch_url(redirect_uri::BACKCHANNEL_LOGOUT_URI, uri, rule),
        None => Ok(()),
    }
}

/// The field name of request URIs, as the registration metadata and the admin API spell it.
pub const REQUEST_URIS: &str = "request_uris";

/// Registers a client; returns it and, for secret-based methods, the secret (shown once,
/// stored only as its Argon2id hash).
pub async fn create(app: &App, tenant_id: uuid::Uuid, spec: ClientSpec) -> anyhow::Result<(RegisteredClient, Option<String>)> {
    create_with_jwks_uri(app, tenant_id, spec, None, None).await
}

/// [`create`], also recording where the client publishes its keys and which user claims
/// it may receive (operators may give these; dynamic registration and the demo site do
/// not). `claims` must already be checked against [`super::userinfo::USER_CLAIMS`].
pub async fn create_with_jwks_uri(
    app: &App,
    tenant_id: uuid::Uuid,
    spec: ClientSpec,
    jwks_uri: Option<String>,
    claims: Option<Vec<String>>,
) -> anyhow::Result<(RegisteredClient, Option<String>)> {
    check_spec_with_keys_at(&spec, jwks_uri.as_deref(), FetchRule::for_clients(&app.config.oidc)).map_err(|e| anyhow::anyhow!(e))?;
    let secret = spec.auth_method.starts_with("client_secret_").then(crate::secrets::url_token);
    let hash = match &secret {
        Some(s) => Some(app.hasher.hash(s).await?),
        None => None,
    };
    let client_id = spec.client_id.clone().unwrap_or_else(|| format!("c-{}", &crate::secrets::url_token()[..22]));
    let mut scopes = spec.scopes.clone();
    if !scopes.iter().any(|s| s == "openid") && spec.grant_types.iter().any(|g| g == "authorization_code") {
        scopes.insert(0, "openid".into());
    }
    let new = mamori_storage::model::NewOidcClient {
        tenant_id,
        client_id: client_id.clone(),
        client_secret_hash: hash,
        name: spec.name.clone(),
        redirect_uris: spec.redirect_uris.clone(),
        post_logout_redirect_uris: spec.post_logout_redirect_uris.clone(),
        grant_types: spec.grant_types.clone(),
        response_types: if spec.grant_types.iter().any(|g| g == "authorization_code") { vec!["code".into()] } else { vec![] },
        token_endpoint_auth_method: spec.auth_method.clone(),
        jwks: spec.jwks.clone(),
        jwks_uri,
        scopes,
        claims,
        access_token_format: spec.access_token_format,
        first_party: spec.first_party,
        require_pkce: spec.require_pkce || spec.auth_method == "none",
    };
    let now = app.now();
    let client = app.storage.oidc_clients().create(&new, now).await?;
    if spec.settings != ClientSettings::default() {
        app.storage.oidc_grants().set_client_settings(&client_id, &serde_json::to_value(&spec.settings)?, now).await?;
    }
    Ok((RegisteredClient { client, settings: spec.settings }, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_settings_are_read_strictly() {
        assert_eq!(ClientSettings::read("rp", serde_json::json!({})).expect("reads"), ClientSettings::default());
        let es256 = ClientSettings::read("rp", serde_json::json!({"id_token_signed_response_alg": "ES256"})).expect("reads");
        assert_eq!(es256.id_token_signed_response_alg, Some(SigningAlgorithm::Es256));
        // An algorithm or URI list that does not read is an error, not "no settings".
        for bad in [
            serde_json::json!({"id_token_signed_response_alg": "HS256"}),
            serde_json::json!({"request_uris": "https://rp/r"}),
            serde_json::json!("settings"),
        ] {
            let err = ClientSettings::read("rp", bad.clone()).expect_err("refused");
            assert!(err.to_string().contains("client rp"), "{bad}: {err}");
        }
    }

    #[test]
    fn request_uris_match_without_fragment_and_must_be_https() {
        let settings = ClientSettings { request_uris: vec!["https://rp.test/ro#abc".into()], ..ClientSettings::default() };
        assert!(settings.registered_request_uri("https://rp.test/ro"));
        assert!(settings.registered_request_uri("https://rp.test/ro#other"));
        assert!(!settings.registered_request_uri("https://rp.test/ro2") && !settings.registered_request_uri("https://rp.test/"));
        let spec = |uris: &[&str]| ClientSpec {
            client_id: None,
            name: "RP".into(),
            redirect_uris: vec!["https://rp.test/cb".into()],
            post_logout_redirect_uris: Vec::new(),
            grant_types: vec!["authorization_code".into()],
            auth_method: "client_secret_basic".into(),
            jwks: None,
            scopes: vec!["openid".into()],
            access_token_format: mamori_storage::model::AccessTokenFormat::Jwt,
            first_party: false,
            require_pkce: false,
            settings: ClientSettings { request_uris: uris.iter().map(|u| (*u).to_owned()).collect(), ..ClientSettings::default() },
        };
        let strict = FetchRule::default();
        assert!(check_spec(&spec(&["https://rp.test/ro#hash"]), strict).is_ok());
        assert!(check_spec(&spec(&["http://rp.test/ro"]), strict).is_err());
        assert!(check_spec(&spec(&["urn:x"]), strict).is_err());
        // Loopback http only where the outbound client follows it (it says "not https" otherwise).
        let dev = FetchRule { allow_loopback_http: true };
        assert!(check_spec(&spec(&["http://127.0.0.1:18999/ro"]), strict).is_err());
        assert!(check_spec(&spec(&["http://127.0.0.1:18999/ro"]), dev).is_ok());
        assert!(check_spec(&spec(&["http://rp.test/ro"]), dev).is_err());
    }
}
