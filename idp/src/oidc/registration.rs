//! Dynamic client registration (RFC 7591) behind an initial access token issued by
//! `mamori admin oidc-client initial-access-token`, and client configuration
//! (RFC 7592) with the registration access token handed out at registration.

use std::net::IpAddr;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use mamori_storage::model::{AccessTokenFormat, SigningAlgorithm};
use serde_json::{Value, json};

use super::clients::{self, ClientSettings, ClientSpec, FetchRule, RegisteredClient};
use super::error::OAuthError;
use super::redirect_uri;
use super::userinfo::bearer_token;
use super::{Issuer, split_spaces};
use crate::admin::Principal;
use crate::fields::{ClientName, RedirectUri};
use crate::state::ConnectionInfo;
use crate::state::SharedState;
use crate::throttle::{self, Subject};

type Conn = axum::Extension<ConnectionInfo>;

/// The caller's address, for throttling and the audit trail.
fn source_of(state: &SharedState, conn: &ConnectionInfo, headers: &HeaderMap) -> IpAddr {
    crate::web::request::client_ip(conn, headers, &state.app.config.server.trusted_proxies)
}

/// Failed initial and registration access tokens count against the caller's address
/// like failed admin API tokens (the same per-source limit, on every node); a source
/// past it is refused before its token is looked up.
async fn check_throttle(state: &SharedState, source: IpAddr) -> Result<(), OAuthError> {
    Ok(throttle::check(&state.app, &[Subject::admin_token_source(source)]).await?)
}

/// A refused token: counted for throttling and logged as a security event (never the
/// token itself).
async fn refuse_token(state: &SharedState, source: IpAddr, path: &str, error: &'static str) -> OAuthError {
    throttle::record_failure(&state.app, &[Subject::admin_token_source(source)]).await;
    tracing::warn!(source_ip = %source, path, "client registration call with an invalid token");
    OAuthError::InvalidToken(error)
}

pub async fn register(
    State(state): State<SharedState>,
    axum::Extension(conn): Conn,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let source = source_of(&state, &conn, &headers);
    match run_register(&state, &slug, &headers, &body, source).await {
        Ok(json) => super::token::no_store((StatusCode::CREATED, axum::Json(json)).into_response()),
        Err(err) => err.into_response(),
    }
}

async fn run_register(state: &SharedState, slug: &str, headers: &HeaderMap, body: &[u8], source: IpAddr) -> Result<Value, OAuthError> {
    let issuer = super::token::issuer_of_resource(state, slug).await?;
    let app = &state.app;
    check_throttle(state, source).await?;
    let token = bearer_token(headers, None)?;
    let token_hash = mamori_storage::token_lookup_hash(&token);
    let spent = app.storage.oidc_grants().spend_initial_access_token(&token_hash, app.now()).await?;
    if spent.is_none_or(|t| t.tenant_id != issuer.tenant.id) {
        let path = format!("/t/{slug}/register");
        return Err(refuse_token(state, source, &path, "the initial access token is invalid, expired or used up").await);
    }
    let source_ip = source.to_string();
    let metadata: Value =
        serde_json::from_slice(body).map_err(|_| OAuthError::InvalidClientMetadata("the body is not a JSON object".into()))?;
    let mut spec = spec_from_metadata(&metadata, FetchRule::for_clients(&app.config.oidc))?;
    let registration_token = crate::secrets::url_token();
    spec.settings.registration_access_token_hash = Some(mamori_storage::token_lookup_hash(&registration_token));
    let (client, secret) = clients::create(app, issuer.tenant.id, spec).await.map_err(|e| {
        tracing::info!(error = %e, "dynamic registration refused");
        OAuthError::InvalidClientMetadata("the client metadata is not acceptable".into())
    })?;
    // A new client is a write like any other: on the audit trail, by the token that made it.
    let principal = crate::admin::Principal::dynamic_registration(&token_hash, issuer.tenant.id, source_ip);
    let target = format!("tenant:{}/oidc-client:{}", issuer.tenant.slug, client.client_id());
    crate::admin::audit::record(
        app,
        &principal,
        Some(issuer.tenant.id),
        "oidc-client.register",
        &target,
        serde_json::json!({ "name": client.client.name }),
    )
    .await;
    let mut out = describe(&issuer, &client);
    out["registration_access_token"] = registration_token.into();
    if let Some(secret) = secret {
        out["client_secret"] = secret.into();
        out["client_secret_expires_at"] = 0.into();
    }
    Ok(out)
}

/// Human-readable pages of the client (RFC 7591 §2), shown to users if ever shown: only
/// https URLs, never `javascript:` or `data:`. Each may also come in language variants
/// (`logo_uri#ja`, §2.2), checked alike.
const PAGE_URIS: [(&str, &str); 4] = [
    ("logo_uri", "logo_uri must be an https URL"),
    ("client_uri", "client_uri must be an https URL"),
    ("policy_uri", "policy_uri must be an https URL"),
    ("tos_uri", "tos_uri must be an https URL"),
];

/// The page URIs of `m` ([`PAGE_URIS`]): each, when present, a string that parses as an
/// absolute https URL with a host and no userinfo; the error names the field.
fn check_page_uris(m: &Value) -> Result<(), OAuthError> {
    let Some(fields) = m.as_object() else { return Ok(()) };
    for (name, value) in fields {
        let base = name.split_once('#').map_or(name.as_str(), |(base, _)| base);
        let Some((_, refusal)) = PAGE_URIS.iter().find(|(field, _)| *field == base) else { continue };
        let https = value
            .as_str()
            .and_then(|v| url::Url::parse(v).ok())
            .is_some_and(|u| u.scheme() == "https" && u.host().is_some() && u.username().is_empty() && u.password().is_none());
        if !https {
            return Err(OAuthError::InvalidClientMetadata((*refusal).into()));
        }
    }
    Ok(())
}

/// `subject_type` (OpenID Connect Registration §2): only `public`, the one type discovery
/// lists in `subject_types_supported`; a client asking for pairwise identifiers must not
/// be registered as if it got them.
fn check_subject_type(m: &Value) -> Result<(), OAuthError> {
    match &m["subject_type"] {
        Value::Null => Ok(()),
        Value::String(t) if t == "public" => Ok(()),
        _ => Err(OAuthError::InvalidClientMetadata("subject_type: only public is supported (subject_types_supported)".into())),
    }
}

/// A refused URI in the metadata's words: the field and why, without echoing the URI
/// (the client has it; an error description is ASCII of RFC 6749 §5.2's set).
fn field_refusal(p: &crate::fields::FieldError) -> String {
    format!("{}: {}", p.field, crate::fields::redirect_uri::text(p.key))
}

/// What to say of a URL the provider would call (`request_uris`, `backchannel_logout_uri`)
/// and the outbound client would refuse: fixed texts naming the field.
fn fetch_url_refusal(field: &str) -> &'static str {
    if field == clients::REQUEST_URIS {
        "request_uris: each must be https (http on a loopback IP address only where the operator allows it), without userinfo"
    } else {
        "backchannel_logout_uri: must be https (http on a loopback IP address only where the operator allows it), without userinfo or fragment"
    }
}

/// The `client_name`, by the rule of every surface ([`ClientName`]); a client that gives
/// none has an empty name, which pages show in the reader's language (`oidc.unnamed_client`)
/// and the registration response leaves out, instead of a name in one language stored for all.
fn client_name(m: &Value) -> Result<String, OAuthError> {
    match m["client_name"].as_str() {
        None => Ok(String::new()),
        // The rule's own detail, with the metadata's spelling of the field.
        Some(name) => ClientName::parse(name)
            .map(ClientName::into_string)
            .map_err(|p| OAuthError::InvalidClientMetadata(p.detail.replacen("name:", "client_name:", 1).into())),
    }
}

/// A client spec from RFC 7591 §2 metadata; URLs the provider will call are checked
/// against the operator's outbound `rule`, as the fetch will apply it.
pub fn spec_from_metadata(m: &Value, rule: FetchRule) -> Result<ClientSpec, OAuthError> {
    let strings = |name: &str| -> Result<Vec<String>, OAuthError> {
        match &m[name] {
            Value::Null => Ok(Vec::new()),
            Value::Array(items) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| OAuthError::InvalidClientMetadata(format!("{name}: each value must be a string").into()))
                })
                .collect(),
            _ => Err(OAuthError::InvalidClientMetadata(format!("{name}: must be an array of strings").into())),
        }
    };
    let redirect_uris = strings("redirect_uris")?;
    // RFC 7591 §3.2.2: invalid_redirect_uri for redirect_uris; other URIs are metadata.
    let post_logout_redirect_uris = strings("post_logout_redirect_uris")?;
    RedirectUri::parse_list(redirect_uri::REDIRECT_URIS, &redirect_uris)
        .map_err(|p| OAuthError::InvalidRedirectUri(field_refusal(&p).into()))?;
    RedirectUri::parse_list(redirect_uri::POST_LOGOUT_REDIRECT_URIS, &post_logout_redirect_uris)
        .map_err(|p| OAuthError::InvalidClientMetadata(field_refusal(&p).into()))?;
    check_subject_type(m)?;
    // OIDC Registration §2: web or native; anything else is refused, not taken for web.
    match &m["application_type"] {
        Value::Null => {}
        Value::String(t) => {
            crate::fields::site_rules::application_type(t).map_err(|f| OAuthError::InvalidClientMetadata(f.detail.into()))?;
        }
        _ => return Err(OAuthError::InvalidClientMetadata("application_type: must be a string".into())),
    }
    check_page_uris(m)?;
    let request_uris = strings("request_uris")?;
    for uri in &request_uris {
        clients::check_fetch_url(clients::REQUEST_URIS, clients::without_fragment(uri), rule)
            .map_err(|p| OAuthError::InvalidClientMetadata(fetch_url_refusal(p.field).into()))?;
    }
    let backchannel_logout_uri = match &m["backchannel_logout_uri"] {
        Value::Null => None,
        Value::String(uri) => {
            clients::check_fetch_url(redirect_uri::BACKCHANNEL_LOGOUT_URI, uri, rule)
                .map_err(|p| OAuthError::InvalidClientMetadata(fetch_url_refusal(p.field).into()))?;
            Some(uri.clone())
        }
        _ => return Err(OAuthError::InvalidClientMetadata("backchannel_logout_uri: must be a string".into())),
    };
    let mut grant_types = strings("grant_types")?;
    if grant_types.is_empty() {
        grant_types.push("authorization_code".into());
    }
    let auth_method = m["token_endpoint_auth_method"].as_str().unwrap_or("client_secret_basic").to_owned();
    let jwks = match &m["jwks"] {
        Value::Null => None,
        Value::Object(_) => Some(m["jwks"].to_string()),
        _ => return Err(OAuthError::InvalidClientMetadata("jwks: must be a JWK Set".into())),
    };
    let id_token_signed_response_alg = match m["id_token_signed_response_alg"].as_str() {
        None => None,
        Some(alg) => Some(
            alg.parse::<SigningAlgorithm>()
                .map_err(|_| OAuthError::InvalidClientMetadata("id_token_signed_response_alg: unsupported algorithm".into()))?,
        ),
    };
    let mut scopes = split_spaces(m["scope"].as_str());
    if scopes.is_empty() {
        scopes = vec!["openid".into(), "profile".into(), "email".into()];
    }
    let spec = ClientSpec {
        client_id: None,
        name: client_name(m)?,
        redirect_uris,
        post_logout_redirect_uris,
        grant_types,
        auth_method,
        jwks,
        scopes,
        access_token_format: AccessTokenFormat::Jwt,
        first_party: false,
        require_pkce: true,
        settings: ClientSettings {
            tls_client_auth_subject_dn: m["tls_client_auth_subject_dn"].as_str().map(str::to_owned),
            tls_client_certificate_sha256: Vec::new(),
            tls_client_certificate_bound_access_tokens: m["tls_client_certificate_bound_access_tokens"].as_bool().unwrap_or(false),
            id_token_signed_response_alg,
            registration_access_token_hash: None,
            request_uris,
            backchannel_logout_uri,
        },
    };
    // The combination rules name their fields ("grant_types: …", "jwks: …").
    clients::check_spec(&spec, rule).map_err(|why| OAuthError::InvalidClientMetadata(why.to_string().into()))?;
    Ok(spec)
}

/// The client's metadata as RFC 7591 §3.2.1 returns it.
fn describe(issuer: &Issuer, registered: &RegisteredClient) -> Value {
    let c = &registered.client;
    let mut out = json!({
        "client_id": c.client_id,
        "client_id_issued_at": c.created_at.unix_timestamp(),
        "redirect_uris": c.redirect_uris,
        "post_logout_redirect_uris": c.post_logout_redirect_uris,
        "grant_types": c.grant_types,
        "response_types": c.response_types,
        "token_endpoint_auth_method": c.token_endpoint_auth_method,
        "scope": c.scopes.join(" "),
        "id_token_signed_response_alg": registered.settings.id_token_algorithm().as_str(),
        "tls_client_certificate_bound_access_tokens": registered.settings.tls_client_certificate_bound_access_tokens,
        "registration_client_uri": issuer.endpoint(&format!("register/{}", c.client_id)),
    });
    if let Some(jwks) = c.jwks.as_deref().and_then(|j| serde_json::from_str::<Value>(j).ok()) {
        out["jwks"] = jwks;
    }
    if !c.name.is_empty() {
        out["client_name"] = json!(c.name);
    }
    if !registered.settings.request_uris.is_empty() {
        out["request_uris"] = json!(registered.settings.request_uris);
    }
    if let Some(uri) = &registered.settings.backchannel_logout_uri {
        out["backchannel_logout_uri"] = json!(uri);
        out["backchannel_logout_session_required"] = json!(false);
    }
    out
}

/// The client a registration access token manages (RFC 7592 §2), and who is acting on
/// it (for the audit trail of changes).
async fn managed(
    state: &SharedState,
    slug: &str,
    client_id: &str,
    headers: &HeaderMap,
    source: IpAddr,
) -> Result<(Issuer, RegisteredClient, Principal), OAuthError> {
    let issuer = super::token::issuer_of_resource(state, slug).await?;
    check_throttle(state, source).await?;
    let token = bearer_token(headers, None)?;
    let client = clients::load(&state.app, issuer.tenant.id, client_id).await?;
    let expected = mamori_storage::token_lookup_hash(&token);
    match client {
        Some(c) if c.settings.registration_access_token_hash.as_deref() == Some(expected.as_str()) => {
            let principal = Principal::registration_access(&expected, issuer.tenant.id, source.to_string());
            Ok((issuer, c, principal))
        }
        _ => Err(refuse_token(state, source, &format!("/t/{slug}/register/{client_id}"), "the registration access token is invalid").await),
    }
}

/// Where an RFC 7592 change goes on the audit trail.
fn audit_target(issuer: &Issuer, client_id: &str) -> String {
    format!("tenant:{}/oidc-client:{client_id}", issuer.tenant.slug)
}

pub async fn read(
    State(state): State<SharedState>,
    axum::Extension(conn): Conn,
    Path((slug, client_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let source = source_of(&state, &conn, &headers);
    match managed(&state, &slug, &client_id, &headers, source).await {
        Ok((issuer, client, _)) => {
            let mut out = describe(&issuer, &client);
            // RFC 7592 §3: every client information response carries the token (checked above).
            if let Ok(token) = bearer_token(&headers, None) {
                out["registration_access_token"] = token.into();
            }
            super::token::no_store(axum::Json(out).into_response())
        }
        Err(err) => err.into_response(),
    }
}

/// RFC 7592 §2.2: the body replaces the client's metadata, checked exactly like a
/// registration. The client secret is kept (only its hash is stored, so it is never sent
/// back); a client moving to a secret-based method without one gets a new secret, and one
/// leaving those methods loses its secret. What Mamori decides (access-token format,
/// first-party, keys it pinned) stays.
pub async fn update(
    State(state): State<SharedState>,
    axum::Extension(conn): Conn,
    Path((slug, client_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let source = source_of(&state, &conn, &headers);
    match run_update(&state, &slug, &client_id, &headers, &body, source).await {
        Ok(json) => super::token::no_store(axum::Json(json).into_response()),
        Err(err) => err.into_response(),
    }
}

/// Fields the server sets; §2.2 forbids them in an update request.
const SERVER_FIELDS: [&str; 4] =
    ["registration_access_token", "registration_client_uri", "client_secret_expires_at", "client_id_issued_at"];

async fn run_update(
    state: &SharedState,
    slug: &str,
    client_id: &str,
    headers: &HeaderMap,
    body: &[u8],
    source: IpAddr,
) -> Result<Value, OAuthError> {
    let (issuer, current, principal) = managed(state, slug, client_id, headers, source).await?;
    let app = &state.app;
    let metadata: Value =
        serde_json::from_slice(body).map_err(|_| OAuthError::InvalidClientMetadata("the body is not a JSON object".into()))?;
    if !metadata.is_object() {
        return Err(OAuthError::InvalidClientMetadata("the body is not a JSON object".into()));
    }
    if metadata["client_id"].as_str() != Some(client_id) {
        return Err(OAuthError::InvalidClientMetadata("client_id: must be the client's own".into()));
    }
    if SERVER_FIELDS.iter().any(|f| metadata.get(f).is_some()) {
        return Err(OAuthError::InvalidClientMetadata(
            "registration_access_token, registration_client_uri, client_secret_expires_at and client_id_issued_at are the server's".into(),
        ));
    }
    let spec = spec_from_metadata(&metadata, FetchRule::for_clients(&app.config.oidc))?;
    let old_hash = current.client.client_secret_hash.clone();
    if let Some(presented) = metadata.get("client_secret") {
        // §2.2: a client_secret in the request must be the current one; it never sets one.
        let presented = presented.as_str().ok_or(OAuthError::InvalidClientMetadata("client_secret: must be a string".into()))?;
        let ok = app.hasher.verify(presented, old_hash.as_deref()).await.map_err(|e| OAuthError::internal(&e.into()))?;
        if !ok || old_hash.is_none() {
            return Err(OAuthError::InvalidClientMetadata("client_secret: not the client's current secret".into()));
        }
    }
    let wants_secret = spec.auth_method.starts_with("client_secret_");
    let new_secret = (wants_secret && old_hash.is_none()).then(crate::secrets::url_token);
    let secret_hash = match (&new_secret, wants_secret) {
        (Some(secret), _) => Some(app.hasher.hash(secret).await.map_err(|e| OAuthError::internal(&e.into()))?),
        (None, true) => old_hash,
        (None, false) => None,
    };
    let mut scopes = spec.scopes.clone();
    if !scopes.iter().any(|s| s == "openid") && spec.grant_types.iter().any(|g| g == "authorization_code") {
        scopes.insert(0, "openid".into());
    }
    let mut client = current.client.clone();
    client.client_secret_hash = secret_hash;
    client.name = spec.name;
    client.redirect_uris = spec.redirect_uris;
    client.post_logout_redirect_uris = spec.post_logout_redirect_uris;
    client.response_types = if spec.grant_types.iter().any(|g| g == "authorization_code") { vec!["code".into()] } else { vec![] };
    client.grant_types = spec.grant_types;
    client.token_endpoint_auth_method = spec.auth_method.clone();
    client.jwks = spec.jwks;
    client.scopes = scopes;
    client.require_pkce = current.client.require_pkce || spec.auth_method == "none";
    let settings = ClientSettings {
        tls_client_certificate_sha256: current.settings.tls_client_certificate_sha256.clone(),
        registration_access_token_hash: current.settings.registration_access_token_hash.clone(),
        ..spec.settings
    };
    app.storage.oidc_clients().update(&client).await?;
    app.storage
        .oidc_grants()
        .set_client_settings(client_id, &serde_json::to_value(&settings).map_err(|e| OAuthError::internal(&e.into()))?, app.now())
        .await?;
    clients::forget(app, client_id);
    let details = json!({ "redirect_uris": client.redirect_uris, "grant_types": client.grant_types, "token_endpoint_auth_method": client.token_endpoint_auth_method, "new_secret": new_secret.is_some() });
    crate::admin::audit::record(app, &principal, Some(issuer.tenant.id), "oidc-client.update", &audit_target(&issuer, client_id), details)
        .await;
    let mut out = describe(&issuer, &RegisteredClient { client, settings });
    // The token the client used stays valid; §3 has it in every client information response.
    out["registration_access_token"] = bearer_token(headers, None)?.into();
    if let Some(secret) = new_secret {
        out["client_secret"] = secret.into();
        out["client_secret_expires_at"] = 0.into();
    }
    Ok(out)
}

pub async fn delete(
    State(state): State<SharedState>,
    axum::Extension(conn): Conn,
    Path((slug, client_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let source = source_of(&state, &conn, &headers);
    match managed(&state, &slug, &client_id, &headers, source).await {
        Ok((issuer, _, principal)) => match state.app.storage.oidc_clients().delete(&client_id, state.app.now()).await {
            Ok(()) => {
                clients::forget(&state.app, &client_id);
                let target = audit_target(&issuer, &client_id);
                crate::admin::audit::record(&state.app, &principal, Some(issuer.tenant.id), "oidc-client.delete", &target, json!({})).await;
                StatusCode::NO_CONTENT.into_response()
            }
            Err(err) => OAuthError::from(err).into_response(),
        },
        Err(err) => err.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(m: Value, rule: FetchRule) -> Option<(&'static str, String)> {
        spec_from_metadata(&m, rule).err().map(|e| (e.code(), e.description().unwrap_or_default().to_owned()))
    }

    fn with(field: &str, value: Value) -> Value {
        let mut m = json!({"client_name": "RP", "redirect_uris": ["https://rp.test/cb"]});
        m[field] = value;
        m
    }

    #[test]
    fn client_names_follow_the_rule_of_every_surface() {
        let strict = FetchRule::default();
        let named = |name: &str| spec_from_metadata(&with("client_name", json!(name)), strict).map(|spec| spec.name);
        assert_eq!(named("Shop 山田").ok().as_deref(), Some("Shop 山田"));
        let mut unnamed = with("client_name", Value::Null);
        assert_eq!(spec_from_metadata(&unnamed, strict).map(|s| s.name).ok().as_deref(), Some(""));
        unnamed["client_name"] = json!("");
        assert_eq!(refusal(unnamed, strict).map(|(code, _)| code), Some("invalid_client_metadata"));
        // What would read as another site on the consent page, or fill it.
        for hostile in ["\u{202E}elgooG", "Goo\u{200B}gle", "Shop\u{0}", " ", &"x".repeat(201)] {
            let refused = refusal(with("client_name", json!(hostile)), strict);
            assert_eq!(
                refused.map(|(code, d)| (code, d.starts_with("client_name:"))),
                Some(("invalid_client_metadata", true)),
                "{hostile:?}"
            );
        }
    }

    #[test]
    fn urls_the_provider_calls_follow_the_outbound_rule() {
        let (strict, dev) = (FetchRule::default(), FetchRule { allow_loopback_http: true });
        // The reported cases: stored, then refused at every use as "not https".
        let bcl = with("backchannel_logout_uri", json!("http://127.0.0.1:6379/"));
        let ro = with("request_uris", json!(["http://127.0.0.1:18999/ro"]));
        assert_eq!(
            refusal(bcl.clone(), strict).map(|(c, d)| (c, d.starts_with("backchannel_logout_uri:"))),
            Some(("invalid_client_metadata", true))
        );
        assert_eq!(refusal(ro.clone(), strict).map(|(c, d)| (c, d.starts_with("request_uris:"))), Some(("invalid_client_metadata", true)));
        // Where the operator lets the provider call loopback http, the fetch follows them.
        assert_eq!(refusal(bcl, dev), None);
        assert_eq!(refusal(ro, dev), None);
        // https is always fine; a fragment is not for a back-channel URI (BCL §2.2).
        assert_eq!(refusal(with("backchannel_logout_uri", json!("https://rp.test/bcl")), strict), None);
        assert_eq!(refusal(with("request_uris", json!(["https://rp.test/ro#v2"])), strict), None);
        for bad in ["https://rp.test/bcl#f", "https://u:p@rp.test/bcl", "http://rp.test/bcl", "javascript:alert(1)"] {
            let got = refusal(with("backchannel_logout_uri", json!(bad)), dev);
            assert_eq!(got.map(|(c, d)| (c, d.starts_with("backchannel_logout_uri:"))), Some(("invalid_client_metadata", true)), "{bad}");
        }
    }

    #[test]
    fn page_uris_are_https_only() {
        for field in ["logo_uri", "client_uri", "policy_uri", "tos_uri", "logo_uri#ja"] {
            assert_eq!(refusal(with(field, json!("https://rp.test/page")), FetchRule::default()), None, "{field}");
            for bad in [
                json!("javascript:alert(document.cookie)"),
                json!("data:text/html,<script>1</script>"),
                json!("http://rp.test/p"),
                json!("https://u@rp.test/"),
                json!("/relative"),
                json!(7),
            ] {
                let got = refusal(with(field, bad.clone()), FetchRule::default());
                let base = field.split('#').next().unwrap_or_default();
                assert_eq!(got.map(|(c, d)| (c, d.starts_with(base))), Some(("invalid_client_metadata", true)), "{field} {bad}");
            }
        }
    }

    #[test]
    fn only_public_subjects() {
        assert_eq!(refusal(with("subject_type", json!("public")), FetchRule::default()), None);
        for bad in [json!("pairwise"), json!(["public"]), json!("")] {
            let got = refusal(with("subject_type", bad.clone()), FetchRule::default());
            assert_eq!(got.map(|(c, d)| (c, d.starts_with("subject_type:"))), Some(("invalid_client_metadata", true)), "{bad}");
        }
    }
}
