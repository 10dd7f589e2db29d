//! Relying sites of a tenant: OIDC clients and SAML service providers, registered,
//! changed and removed here by the API, the CLI and the console alike.

use mamori_storage::model::{AccessTokenFormat, ApiScope, OidcClient, SamlServiceProvider, SigningAlgorithm};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{AdminError, Principal, Reach, audit};
use crate::app::App;
use crate::fields::{ClientName, site_rules};
use crate::oidc::clients::{self, ClientSettings, ClientSpec, FetchRule};
use crate::oidc::userinfo::{ALWAYS_RELEASED, USER_CLAIMS};
use mamori_untrusted::site_certificate::CertificateUse;

/// What an operator registers an OIDC client with. Empty lists take the defaults noted;
/// `ClientRegistration { name, redirect_uris, ..Default::default() }` is a confidential
/// web site using the authorization code flow with `client_secret_basic`.
#[derive(Debug, Clone)]
pub struct ClientRegistration {
    /// The client ID; generated (`c-…`) when absent.
    pub client_id: Option<String>,
    /// Shown to users on the consent page.
    pub name: String,
    /// Allowed redirect URIs, matched exactly (on a loopback IP literal, any port): see
    /// [`crate::oidc::redirect_uri::check`].
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// authorization_code, refresh_token, client_credentials; empty = the first two.
    pub grant_types: Vec<String>,
    /// One of [`clients::AUTH_METHODS`]; `none` is a public client (PKCE required).
    pub token_endpoint_auth_method: String,
    /// The client's public keys (a JWK Set), needed for `private_key_jwt`.
    pub jwks: Option<serde_json::Value>,
    /// Where the client publishes its keys (instead of `jwks`; fetched and cached per node).
    pub jwks_uri: Option<String>,
    /// Scopes the client may ask for; empty = openid profile email.
    pub scopes: Vec<String>,
    /// User claims the client may receive, from [`USER_CLAIMS`] (or [`ALWAYS_RELEASED`],
    /// to no effect); `None` = every claim
    /// the granted scopes allow.
    pub claims: Option<Vec<String>>,
    pub access_token_format: AccessTokenFormat,
    /// Operated by the tenant itself: users are not asked for consent.
    pub first_party: bool,
    /// Require PKCE from a confidential client too (public clients always need it).
    pub require_pkce: bool,
    pub id_token_signed_response_alg: SigningAlgorithm,
    /// `tls_client_auth`: the subject DN of the client's certificate.
    pub tls_client_auth_subject_dn: Option<String>,
    /// `self_signed_tls_client_auth`: the client's certificate, PEM.
    pub tls_client_certificate_pem: Option<String>,
    /// Bind access tokens to the client's certificate (RFC 8705 `cnf.x5t#S256`).
    pub tls_client_certificate_bound_access_tokens: bool,
    /// URLs the client may pass as `request_uri` (request objects by reference).
    pub request_uris: Vec<String>,
    /// Where to POST a logout token when a session the client took part in ends.
    pub backchannel_logout_uri: Option<String>,
}

impl Default for ClientRegistration {
    fn default() -> Self {
        ClientRegistration {
            client_id: None,
            name: String::new(),
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            grant_types: Vec::new(),
            token_endpoint_auth_method: "client_secret_basic".to_owned(),
            jwks: None,
            jwks_uri: None,
            scopes: Vec::new(),
            claims: None,
            access_token_format: AccessTokenFormat::Jwt,
            first_party: false,
            require_pkce: false,
            id_token_signed_response_alg: SigningAlgorithm::Es256,
            tls_client_auth_subject_dn: None,
            tls_client_certificate_pem: None,
            tls_client_certificate_bound_access_tokens: false,
            request_uris: Vec::new(),
            backchannel_logout_uri: None,
        }
    }
}

/// A client just registered, or one whose secret was just replaced.
#[derive(Clone)]
pub struct CreatedClient {
    pub client: OidcClient,
    pub settings: ClientSettings,
    /// The client secret for `client_secret_*` methods: shown this once, stored only as
    /// its Argon2id hash.
    pub secret: Option<String>,
}

impl std::fmt::Debug for CreatedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedClient").field("client", &self.client).field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// Longest URI or DN an operator may give (they end up in pages and tokens).
const MAX_TEXT: usize = 2000;
/// Most redirect URIs, grant types or scopes in one list.
const MAX_ITEMS: usize = 50;

fn check_texts<'a>(what: &str, items: impl IntoIterator<Item = &'a String>) -> Result<(), AdminError> {
    let mut n = 0;
    for item in items {
        n += 1;
        if item.is_empty() || item.len() > MAX_TEXT || item.chars().any(char::is_control) {
            return Err(AdminError::Invalid(format!(
                "{what}: `{}` is empty, too long or has control characters",
                item.chars().take(80).collect::<String>()
            )));
        }
    }
    if n > MAX_ITEMS {
        return Err(AdminError::Invalid(format!("{what}: at most {MAX_ITEMS} entries")));
    }
    Ok(())
}

fn check_client_id(client_id: &str) -> Result<(), AdminError> {
    let ok = (1..=128).contains(&client_id.len()) && client_id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if ok { Ok(()) } else { Err(AdminError::Invalid("client_id: 1 to 128 letters, digits, `-`, `.`, `_` or `~`".to_owned())) }
}

/// A JWK Set as stored: a JSON object with a non-empty `keys` array.
fn jwks_text(jwks: &serde_json::Value) -> Result<String, AdminError> {
    match jwks.get("keys").and_then(|k| k.as_array()) {
        Some(keys) if !keys.is_empty() && keys.iter().all(|k| k.is_object() && k.get("kty").is_some_and(|t| t.is_string())) => {
            Ok(jwks.to_string())
        }
        _ => Err(AdminError::Invalid("jwks: a JWK Set {\"keys\": [...]} with at least one key, each with `kty`".to_owned())),
    }
}

fn check_jwks_uri(uri: &str, rule: FetchRule) -> Result<(), AdminError> {
    Ok(clients::check_fetch_url("jwks_uri", uri, rule)?)
}

/// SHA-256 (hex) of a PEM certificate, as `self_signed_tls_client_auth` compares it;
/// refused unless it is one whole certificate, current at `now`, with a key TLS can use
/// (garbage in PEM armour would otherwise be kept as a fingerprint no handshake matches).
fn certificate_fingerprint(pem: &str, now: time::OffsetDateTime) -> Result<String, AdminError> {
    let screened = site_rules::certificate_pem("tls_client_certificate", "the client certificate", pem, CertificateUse::TlsClient, now)?;
    Ok(hex::encode(Sha256::digest(&screened.der)))
}

/// A claim release list as stored: only claims discovery lists as supported (a typo would
/// otherwise silently withhold a claim), each once. `sub` and the protocol claims may be
/// listed but are released anyway.
pub fn checked_claims(claims: Vec<String>) -> Result<Vec<String>, AdminError> {
    let known = |c: &str| USER_CLAIMS.contains(&c) || ALWAYS_RELEASED.contains(&c);
    if let Some(bad) = claims.iter().find(|c| !known(c)) {
        return Err(AdminError::Invalid(format!(
            "claims: `{}` is not a claim Mamori releases (one of {}; sub and the protocol claims are always released)",
            bad.chars().take(80).collect::<String>(),
            USER_CLAIMS.join(", ")
        )));
    }
    Ok(dedup(claims))
}

/// A spec, its JWKS URI and its claim release list.
type CheckedRegistration = (ClientSpec, Option<String>, Option<Vec<String>>);

/// The checked spec for `reg`, in the terms of `oidc::clients`, with its JWKS URI and
/// claim release list (kept beside the spec, which dynamic registration shares). URLs the
/// provider will call are checked against the operator's outbound `rule`.
fn client_spec(reg: ClientRegistration, rule: FetchRule, now: time::OffsetDateTime) -> Result<CheckedRegistration, AdminError> {
    let name = ClientName::parse(&reg.name)?;
    if let Some(id) = &reg.client_id {
        check_client_id(id)?;
    }
    check_lists(&reg.redirect_uris, &reg.post_logout_redirect_uris, &reg.grant_types, &reg.scopes)?;
    check_texts("tls_client_auth_subject_dn", &reg.tls_client_auth_subject_dn)?;
    let jwks = reg.jwks.as_ref().map(jwks_text).transpose()?;
    if let Some(uri) = &reg.jwks_uri {
        check_jwks_uri(uri, rule)?;
        if jwks.is_some() {
            return Err(AdminError::Invalid("give jwks or jwks_uri, not both".to_owned()));
        }
    }
    let claims = reg.claims.map(checked_claims).transpose()?;
    let fingerprints =
        reg.tls_client_certificate_pem.as_deref().map(|pem| certificate_fingerprint(pem, now)).transpose()?.into_iter().collect();
    let grant_types =
        if reg.grant_types.is_empty() { vec!["authorization_code".to_owned(), "refresh_token".to_owned()] } else { dedup(reg.grant_types) };
    let scopes = if reg.scopes.is_empty() { vec!["openid".into(), "profile".into(), "email".into()] } else { dedup(reg.scopes) };
    let spec = ClientSpec {
        client_id: reg.client_id,
        name: name.into_string(),
        redirect_uris: dedup(reg.redirect_uris),
        post_logout_redirect_uris: dedup(reg.post_logout_redirect_uris),
        grant_types,
        auth_method: reg.token_endpoint_auth_method,
        jwks,
        scopes,
        access_token_format: reg.access_token_format,
        first_party: reg.first_party,
        require_pkce: reg.require_pkce,
        settings: ClientSettings {
            tls_client_auth_subject_dn: reg.tls_client_auth_subject_dn,
            tls_client_certificate_sha256: fingerprints,
            tls_client_certificate_bound_access_tokens: reg.tls_client_certificate_bound_access_tokens,
            id_token_signed_response_alg: Some(reg.id_token_signed_response_alg),
            registration_access_token_hash: None,
            request_uris: dedup(reg.request_uris),
            backchannel_logout_uri: reg.backchannel_logout_uri,
        },
    };
    clients::check_spec_with_keys_at(&spec, reg.jwks_uri.as_deref(), rule)?;
    Ok((spec, reg.jwks_uri, claims))
}

fn check_lists(redirect_uris: &[String], post_logout: &[String], grant_types: &[String], scopes: &[String]) -> Result<(), AdminError> {
    // The one cap every surface applies (clients::check_spec), said the same way here
    // before the generic list limit below could answer with another number.
    if redirect_uris.len() > clients::MAX_REDIRECT_URIS || post_logout.len() > clients::MAX_REDIRECT_URIS {
        let max = clients::MAX_REDIRECT_URIS;
        return Err(AdminError::Invalid(format!("at most {max} redirect URIs and {max} post-logout redirect URIs")));
    }
    // The URIs themselves are RedirectUri's (in clients::check_spec), which says which
    // field and why with a message key.
    check_texts("grant_types", grant_types)?;
    check_texts("scopes", scopes)?;
    if let Some(bad) = scopes.iter().find(|s| s.contains(' ') || s.contains('"') || s.contains('\\')) {
        return Err(AdminError::Invalid(format!("scopes: `{bad}` is not a scope token")));
    }
    Ok(())
}

fn dedup(items: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// Registers an OIDC client (a relying site) in the tenant `slug`, for a super-admin or
/// that tenant's admin holding the write scope; another tenant is "not found". The
/// registration is checked as dynamic registration checks it (redirect URIs, grant types
/// against the auth method, keys or certificate the method needs) and audited as
/// `oidc-client.create`. For `client_secret_basic`/`client_secret_post` the result holds
/// the secret, which is never shown again. Errors: `Invalid` for an unacceptable
/// registration, `Conflict` when the client ID is taken.
pub async fn create_oidc_client(
    app: &App,
    principal: &Principal,
    slug: &str,
    registration: ClientRegistration,
) -> Result<CreatedClient, AdminError> {
    let tenant = principal.tenant(app, slug, ApiScope::Write).await?;
    if let Some(id) = &registration.client_id {
        check_client_id_namespace(principal, &tenant.slug, id)?;
    }
    let (spec, jwks_uri, claims) = client_spec(registration, FetchRule::for_clients(&app.config.oidc), app.now())?;
    let (registered, secret) = clients::create_with_jwks_uri(app, tenant.id, spec, jwks_uri, claims).await?;
    let c = &registered.client;
    audit::record(
        app,
        principal,
        Some(tenant.id),
        "oidc-client.create",
        &format!("tenant:{slug}/oidc-client:{}", c.client_id),
        serde_json::json!({"name": c.name, "token_endpoint_auth_method": c.token_endpoint_auth_method, "grant_types": c.grant_types, "claims": c.claims}),
    )
    .await;
    Ok(CreatedClient { client: registered.client, settings: registered.settings, secret })
}

/// Client IDs are one namespace across tenants. An ID a tenant administrator chooses is
/// its tenant's slug, a dot and a name (`acme.shop`). Slugs are `[a-z0-9-]`, so no
/// tenant's prefix is a prefix of another's (`acme.` never covers `acme-foo.`) nor of the
/// IDs Mamori generates (`c-` and 128 random bits): a refusal ("taken") can only be about
/// its own tenant's clients, and it learns nothing of other tenants' IDs nor can squat
/// them. Operators who see every tenant choose freely.
fn check_client_id_namespace(principal: &Principal, slug: &str, id: &str) -> Result<(), AdminError> {
    let own = id.strip_prefix(slug).and_then(|rest| rest.strip_prefix('.')).is_some_and(|name| !name.is_empty());
    match principal.reach {
        Reach::AllTenants => Ok(()),
        Reach::Tenant(_) if own => Ok(()),
        Reach::Tenant(_) => Err(AdminError::Invalid(format!(
            "client_id: an ID you choose is your tenant's slug, a dot and a name (e.g. `{slug}.shop`); leave it out for a generated one"
        ))),
    }
}

pub async fn oidc_clients(app: &App, principal: &Principal, slug: &str) -> Result<Vec<OidcClient>, AdminError> {
    let tenant = principal.tenant(app, slug, ApiScope::Read).await?;
    Ok(app.storage.oidc_clients().list(tenant.id).await?)
}

/// A tenant's clients with their settings (read afresh: one read per client, as an
/// operator's list is short and should not lag behind a change made on another node).
pub async fn registered_oidc_clients(app: &App, principal: &Principal, slug: &str) -> Result<Vec<clients::RegisteredClient>, AdminError> {
    let mut out = Vec::new();
    for client in oidc_clients(app, principal, slug).await? {
        let settings = stored_settings(app, &client.client_id).await?;
        out.push(clients::RegisteredClient { client, settings });
    }
    Ok(out)
}

/// [`oidc_client`] with its settings, read afresh.
pub async fn registered_oidc_client(
    app: &App,
    principal: &Principal,
    slug: &str,
    client_id: &str,
) -> Result<clients::RegisteredClient, AdminError> {
    let client = oidc_client(app, principal, slug, client_id, ApiScope::Read).await?;
    let settings = stored_settings(app, client_id).await?;
    Ok(clients::RegisteredClient { client, settings })
}

async fn stored_settings(app: &App, client_id: &str) -> Result<ClientSettings, AdminError> {
    Ok(match app.storage.oidc_grants().client_settings(client_id).await? {
        Some(json) => ClientSettings::read(client_id, json)?,
        None => ClientSettings::default(),
    })
}

/// The client `client_id` if it belongs to the tenant.
pub async fn oidc_client(app: &App, principal: &Principal, slug: &str, client_id: &str, scope: ApiScope) -> Result<OidcClient, AdminError> {
    let tenant = principal.tenant(app, slug, scope).await?;
    match app.storage.oidc_clients().get_by_client_id(client_id).await? {
        Some(client) if client.tenant_id == tenant.id => Ok(client),
        _ => Err(AdminError::NotFound(format!("no OIDC client `{client_id}` in tenant `{slug}`"))),
    }
}

pub async fn delete_oidc_client(app: &App, principal: &Principal, slug: &str, client_id: &str) -> Result<(), AdminError> {
    let client = oidc_client(app, principal, slug, client_id, ApiScope::Write).await?;
    app.storage.oidc_clients().delete(&client.client_id, app.now()).await?;
    clients::forget(app, &client.client_id);
    audit::record(
        app,
        principal,
        Some(client.tenant_id),
        "oidc-client.delete",
        &format!("tenant:{slug}/oidc-client:{client_id}"),
        serde_json::json!({"name": client.name}),
    )
    .await;
    Ok(())
}

/// Changes to an OIDC client; `None` leaves a field as it is. The token endpoint auth
/// method is fixed at registration (its secret, keys or certificate come with it): to
/// change it, register a new client.
#[derive(Debug, Clone, Default)]
pub struct ClientUpdate {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub grant_types: Option<Vec<String>>,
    /// `Some(None)` removes the JWK Set.
    pub jwks: Option<Option<serde_json::Value>>,
    /// `Some(None)` removes the JWKS URI.
    pub jwks_uri: Option<Option<String>>,
    pub scopes: Option<Vec<String>>,
    /// `Some(None)` removes the claim release list (every claim the scopes allow).
    pub claims: Option<Option<Vec<String>>>,
    pub access_token_format: Option<AccessTokenFormat>,
    pub first_party: Option<bool>,
    pub require_pkce: Option<bool>,
    pub id_token_signed_response_alg: Option<SigningAlgorithm>,
    /// Replaces the registered `request_uris`.
    pub request_uris: Option<Vec<String>>,
    /// Sets (`Some(Some)`) or removes (`Some(None)`) the back-channel logout URI.
    pub backchannel_logout_uri: Option<Option<String>>,
}

/// The client with its settings, read afresh (not from this node's cache).
async fn registered(app: &App, tenant_id: Uuid, client_id: &str) -> Result<clients::RegisteredClient, AdminError> {
    clients::forget(app, client_id);
    clients::load(app, tenant_id, client_id).await?.ok_or_else(|| AdminError::NotFound(format!("no OIDC client `{client_id}`")))
}

/// Changes an OIDC client, checked as a new registration would be; audited as
/// `oidc-client.update` with the names of the fields changed.
pub async fn update_oidc_client(
    app: &App,
    principal: &Principal,
    slug: &str,
    client_id: &str,
    update: ClientUpdate,
) -> Result<clients::RegisteredClient, AdminError> {
    let current = oidc_client(app, principal, slug, client_id, ApiScope::Write).await?;
    let clients::RegisteredClient { mut client, mut settings } = registered(app, current.tenant_id, client_id).await?;
    let empty = Vec::new();
    check_lists(
        update.redirect_uris.as_ref().unwrap_or(&empty),
        update.post_logout_redirect_uris.as_ref().unwrap_or(&empty),
        update.grant_types.as_ref().unwrap_or(&empty),
        update.scopes.as_ref().unwrap_or(&empty),
    )?;
    let mut changed = Vec::new();
    if let Some(name) = update.name {
        client.name = ClientName::parse(&name)?.into_string();
        changed.push("name");
    }
    if let Some(uris) = update.redirect_uris {
        client.redirect_uris = dedup(uris);
        changed.push("redirect_uris");
    }
    if let Some(uris) = update.post_logout_redirect_uris {
        client.post_logout_redirect_uris = dedup(uris);
        changed.push("post_logout_redirect_uris");
    }
    if let Some(grants) = update.grant_types {
        if grants.is_empty() {
            return Err(AdminError::Invalid("grant_types: give at least one".to_owned()));
        }
        client.grant_types = dedup(grants);
        changed.push("grant_types");
    }
    if let Some(jwks) = update.jwks {
        client.jwks = jwks.as_ref().map(jwks_text).transpose()?;
        changed.push("jwks");
    }
    if let Some(uri) = update.jwks_uri {
        if let Some(uri) = &uri {
            check_jwks_uri(uri, FetchRule::for_clients(&app.config.oidc))?;
        }
        client.jwks_uri = uri;
        changed.push("jwks_uri");
    }
    if client.jwks.is_some() && client.jwks_uri.is_some() {
        return Err(AdminError::Invalid("give jwks or jwks_uri, not both".to_owned()));
    }
    if let Some(scopes) = update.scopes {
        if scopes.is_empty() {
            return Err(AdminError::Invalid("scopes: give at least one".to_owned()));
        }
        client.scopes = dedup(scopes);
        changed.push("scopes");
    }
    if let Some(claims) = update.claims {
        client.claims = claims.map(checked_claims).transpose()?;
        changed.push("claims");
    }
    if let Some(format) = update.access_token_format {
        client.access_token_format = format;
        changed.push("access_token_format");
    }
    if let Some(first_party) = update.first_party {
        client.first_party = first_party;
        changed.push("first_party");
    }
    if let Some(require_pkce) = update.require_pkce {
        client.require_pkce = require_pkce;
        changed.push("require_pkce");
    }
    if let Some(alg) = update.id_token_signed_response_alg {
        settings.id_token_signed_response_alg = Some(alg);
        changed.push("id_token_signed_response_alg");
    }
    let request_uris_changed = update.request_uris.is_some();
    if let Some(uris) = update.request_uris {
        settings.request_uris = dedup(uris);
        changed.push("request_uris");
    }
    let backchannel_changed = update.backchannel_logout_uri.is_some();
    if let Some(uri) = update.backchannel_logout_uri {
        settings.backchannel_logout_uri = uri;
        changed.push("backchannel_logout_uri");
    }
    // The same rules as at registration, on the client as it would be.
    let spec = ClientSpec {
        client_id: Some(client.client_id.clone()),
        name: client.name.clone(),
        redirect_uris: client.redirect_uris.clone(),
        post_logout_redirect_uris: client.post_logout_redirect_uris.clone(),
        grant_types: client.grant_types.clone(),
        auth_method: client.token_endpoint_auth_method.clone(),
        jwks: client.jwks.clone(),
        scopes: client.scopes.clone(),
        access_token_format: client.access_token_format,
        first_party: client.first_party,
        require_pkce: client.require_pkce,
        settings: settings.clone(),
    };
    clients::check_spec_with_keys_at(&spec, client.jwks_uri.as_deref(), FetchRule::for_clients(&app.config.oidc))?;
    let authorization_code = client.grant_types.iter().any(|g| g == "authorization_code");
    if authorization_code && !client.scopes.iter().any(|s| s == "openid") {
        client.scopes.insert(0, "openid".into());
    }
    client.response_types = if authorization_code { vec!["code".into()] } else { Vec::new() };
    client.require_pkce = client.require_pkce || client.token_endpoint_auth_method == "none";
    app.storage.oidc_clients().update(&client).await?;
    if update.id_token_signed_response_alg.is_some() || request_uris_changed || backchannel_changed {
        app.storage
            .oidc_grants()
            .set_client_settings(client_id, &serde_json::to_value(&settings).map_err(anyhow::Error::from)?, app.now())
            .await?;
    }
    clients::forget(app, client_id);
    audit::record(
        app,
        principal,
        Some(client.tenant_id),
        "oidc-client.update",
        &format!("tenant:{slug}/oidc-client:{client_id}"),
        serde_json::json!({"changed": changed}),
    )
    .await;
    Ok(clients::RegisteredClient { client, settings })
}

/// Gives a `client_secret_*` client a new secret, returned this once; the old one stops
/// working at once (on other nodes within their short record cache). Audited as
/// `oidc-client.rotate-secret`. A client without a secret is a `Conflict`.
pub async fn rotate_oidc_client_secret(app: &App, principal: &Principal, slug: &str, client_id: &str) -> Result<CreatedClient, AdminError> {
    let current = oidc_client(app, principal, slug, client_id, ApiScope::Write).await?;
    let clients::RegisteredClient { mut client, settings } = registered(app, current.tenant_id, client_id).await?;
    if !client.token_endpoint_auth_method.starts_with("client_secret_") {
        return Err(AdminError::Conflict(format!("the client authenticates with {}, not a secret", client.token_endpoint_auth_method)));
    }
    let secret = crate::secrets::url_token();
    client.client_secret_hash =
        Some(app.hasher.hash(&secret).await.map_err(|e| AdminError::Internal(format!("hashing a client secret: {e}")))?);
    app.storage.oidc_clients().update(&client).await?;
    clients::forget(app, client_id);
    audit::record(
        app,
        principal,
        Some(client.tenant_id),
        "oidc-client.rotate-secret",
        &format!("tenant:{slug}/oidc-client:{client_id}"),
        serde_json::json!({}),
    )
    .await;
    Ok(CreatedClient { client, settings, secret: Some(secret) })
}

pub async fn saml_sps(app: &App, principal: &Principal, slug: &str) -> Result<Vec<SamlServiceProvider>, AdminError> {
    let tenant = principal.tenant(app, slug, ApiScope::Read).await?;
    Ok(app.storage.saml_service_providers().list(tenant.id).await?)
}

pub async fn saml_sp(app: &App, principal: &Principal, slug: &str, id: &str, scope: ApiScope) -> Result<SamlServiceProvider, AdminError> {
    let not_found = || AdminError::NotFound(format!("no SAML service provider `{id}` in tenant `{slug}`"));
    let tenant = principal.tenant(app, slug, scope).await?;
    let id: Uuid = id.parse().map_err(|_| not_found())?;
    app.storage.saml_service_providers().list(tenant.id).await?.into_iter().find(|sp| sp.id == id).ok_or_else(not_found)
}

pub async fn delete_saml_sp(app: &App, principal: &Principal, slug: &str, id: &str) -> Result<(), AdminError> {
    let sp = saml_sp(app, principal, slug, id, ApiScope::Write).await?;
    app.storage.saml_service_providers().delete(sp.tenant_id, &sp.entity_id).await?;
    crate::saml::service_providers::forget(app, sp.tenant_id, &sp.entity_id);
    audit::record(
        app,
        principal,
        Some(sp.tenant_id),
        "saml-sp.delete",
        &format!("tenant:{slug}/saml-sp:{}", sp.entity_id),
        serde_json::json!({"name": sp.name}),
    )
    .await;
    Ok(())
}

#[cfg(test)]
#[path = "federation_rules_tests.rs"]
mod rules_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc()
    }

    fn registration() -> ClientRegistration {
        ClientRegistration { name: "Site".into(), redirect_uris: vec!["https://rp.test/cb".into()], ..Default::default() }
    }

    #[test]
    fn defaults_make_a_confidential_code_flow_client() {
        let (spec, jwks_uri, claims) = client_spec(registration(), FetchRule::default(), now()).expect("valid");
        assert_eq!(spec.auth_method, "client_secret_basic");
        assert_eq!(spec.grant_types, ["authorization_code", "refresh_token"]);
        assert_eq!(spec.scopes, ["openid", "profile", "email"]);
        assert_eq!(jwks_uri, None);
        assert_eq!(claims, None);
    }

    #[test]
    fn claim_lists_name_only_released_claims() {
        let listed = ClientRegistration { claims: Some(vec!["email".into(), "name".into(), "email".into()]), ..registration() };
        let (_, _, claims) = client_spec(listed, FetchRule::default(), now()).expect("valid");
        assert_eq!(claims, Some(vec!["email".to_owned(), "name".to_owned()]));
        assert!(
            client_spec(
                ClientRegistration { claims: Some(vec!["sub".into(), "amr".into()]), ..registration() },
                FetchRule::default(),
                now()
            )
            .is_ok()
        );
        for bad in ["mail", "Email", "", "address"] {
            let case = ClientRegistration { claims: Some(vec!["email".into(), bad.into()]), ..registration() };
            assert!(
                matches!(client_spec(case, FetchRule::default(), now()), Err(AdminError::Invalid(m)) if m.starts_with("claims:")),
                "{bad}"
            );
        }
    }

    #[test]
    fn client_names_and_uris_are_refused_by_their_parsers_with_field_and_key() {
        let refused = |reg: ClientRegistration| match client_spec(reg, FetchRule::default(), now()) {
            Err(AdminError::Field(f)) => Some((f.field, f.key)),
            _ => None,
        };
        for name in ["", " ", "Shop\u{202E}", "Sh\u{200B}op", "Shop\u{7}"] {
            assert_eq!(
                refused(ClientRegistration { name: name.into(), ..registration() }),
                Some(("name", crate::fields::KEY_CLIENT_NAME)),
                "{name:?}"
            );
        }
        assert!(refused(ClientRegistration { name: "名".repeat(201), ..registration() }).is_some());
        assert!(client_spec(ClientRegistration { name: "名".repeat(200), ..registration() }, FetchRule::default(), now()).is_ok());
        for (uri, key) in [("", "oidc.redirect_uri.not_a_url"), ("http://localhost:@evil.example/cb", "oidc.redirect_uri.userinfo")] {
            let case = ClientRegistration { redirect_uris: vec![uri.into()], ..registration() };
            assert_eq!(refused(case), Some(("redirect_uris", key)), "{uri}");
        }
    }

    #[test]
    fn unacceptable_registrations_are_invalid() {
        let cases = [
            ClientRegistration { name: " ".into(), ..registration() },
            ClientRegistration { client_id: Some("has space".into()), ..registration() },
            ClientRegistration { redirect_uris: vec!["http://rp.test/cb".into()], ..registration() },
            ClientRegistration { scopes: vec!["a b".into()], ..registration() },
            ClientRegistration { jwks: Some(serde_json::json!({"keys": []})), ..registration() },
            ClientRegistration { jwks_uri: Some("ftp://rp.test/jwks".into()), ..registration() },
            ClientRegistration { token_endpoint_auth_method: "private_key_jwt".into(), ..registration() },
            ClientRegistration { tls_client_certificate_pem: Some("not pem".into()), ..registration() },
        ];
        for case in cases {
            let refused = client_spec(case.clone(), FetchRule::default(), now());
            assert!(matches!(refused, Err(AdminError::Invalid(_) | AdminError::Field(_))), "{case:?}");
        }
    }

    #[test]
    fn urls_the_provider_calls_are_registered_only_if_the_fetch_would_follow_them() {
        let loopback = [
            ClientRegistration { backchannel_logout_uri: Some("http://127.0.0.1:6379/".into()), ..registration() },
            ClientRegistration { request_uris: vec!["http://127.0.0.1:18999/ro".into()], ..registration() },
            ClientRegistration { jwks_uri: Some("http://127.0.0.1:8080/jwks".into()), ..registration() },
        ];
        let dev = FetchRule { allow_loopback_http: true };
        for case in loopback {
            // Refused as the outbound client would refuse it ("not https") at every use...
            let refused = client_spec(case.clone(), FetchRule::default(), now());
            assert!(
                matches!(&refused, Err(AdminError::Field(f)) if f.detail.contains("oidc.jwks_fetch_allow_loopback_http")),
                "{refused:?}"
            );
            // ...and accepted where the operator lets the provider call loopback http.
            assert!(client_spec(case, dev, now()).is_ok());
        }
        let honest = ClientRegistration {
            backchannel_logout_uri: Some("https://rp.test/bcl".into()),
            request_uris: vec!["https://rp.test/ro#v1".into()],
            ..registration()
        };
        assert!(client_spec(honest, FetchRule::default(), now()).is_ok());
        for bad in ["https://rp.test/bcl#frag", "https://user@rp.test/bcl", "http://rp.test/bcl"] {
            let case = ClientRegistration { backchannel_logout_uri: Some(bad.into()), ..registration() };
            let refused = client_spec(case, dev, now());
            assert!(
                matches!(&refused, Err(AdminError::Field(f)) if f.field == "backchannel_logout_uri" && f.detail.starts_with("backchannel_logout_uri:")),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_tenant_admin_chooses_ids_only_in_a_namespace_no_other_tenant_shares() {
        let admin = Principal { reach: Reach::Tenant(uuid::Uuid::nil()), ..Principal::local_cli() };
        for own in ["acme.shop", "acme.foo-crm", "acme.a.b"] {
            assert!(check_client_id_namespace(&admin, "acme", own).is_ok(), "{own}");
        }
        // Another tenant's namespace (`acme-foo.`, `c.`), the old `acme-` form that covers
        // tenant `acme-foo`'s, generated IDs, and near misses.
        for other in [
            "acme-foo.crm",
            "acme-shop",
            "acme-foo-shop",
            "acme.",
            "acme",
            "acmeshop",
            "ACME.shop",
            "c-0123456789abcdef",
            ".acme.shop",
            "beta.rp",
        ] {
            assert!(
                matches!(check_client_id_namespace(&admin, "acme", other), Err(AdminError::Invalid(m)) if m.contains("`acme.shop`")),
                "{other}"
            );
        }
        let generated_like = check_client_id_namespace(&admin, "c", "c-0123456789abcdef");
        assert!(generated_like.is_err(), "tenant `c` must not reach generated IDs");
        assert!(check_client_id_namespace(&Principal::local_cli(), "acme", "anything-goes").is_ok());
    }
}
