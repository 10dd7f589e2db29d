//! The authorization endpoint (OpenID Connect Core §3.1.2, RFC 6749 §4.1) for the code
//! flow only, with PKCE (RFC 7636), pushed requests (RFC 9126), signed request objects
//! (RFC 9101) by value or by a registered `request_uri` (see [`super::request_object`]),
//! `form_post` (OAuth 2.0 Form Post Response Mode) and `iss` in responses
//! (RFC 9207); and its continuation on the client-certificate listener,
//! `/oidc/resume/{id}`, which runs after (or instead of) the certificate login.
//!
//! Errors go back to the client only once its redirect URI is known to be registered;
//! before that they are shown on a Mamori page.

use std::collections::HashMap;

use axum::extract::{Path, RawForm, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_storage::model::{NewPendingRequest, PendingRequestKind};
use serde::{Deserialize, Serialize};

use super::authorize_response::{error_page, respond};
use super::clients::{self, RegisteredClient};
use super::error::OAuthError;
use super::grants::authorization_code::CodeData;
use super::{AUTHORIZATION_REQUEST_TTL, CODE_TTL, Issuer, Params, acr, pkce, redirect_uri, request_object, split_spaces};
use crate::app::App;
use crate::flows::login;
use crate::flows::resume::{self, LoginReason, Outcome, Refusal};
use crate::state::SharedState;
use crate::web::context::{PageCtx, Posted};
use crate::web::page::LangQuery;
use crate::web::session;

/// Prefix of the `request_uri` values that pushed requests get (RFC 9126 §2.2).
pub const PUSHED_REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// Scopes this provider knows; clients may be registered for others (custom scopes).
pub const STANDARD_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    Query,
    FormPost,
}

/// A validated authorization request, kept while the user logs in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub response_mode: ResponseMode,
    pub prompt: Vec<String>,
    pub max_age: Option<i64>,
    pub acr_values: Vec<String>,
    pub login_hint: Option<String>,
    /// The user an `id_token_hint` (Core §3.1.2.1) or a `sub` value in `claims` (§5.5.1)
    /// names: the login must be that user's.
    #[serde(default)]
    pub hinted_subject: Option<String>,
    pub ui_locales: Vec<String>,
    /// Unix seconds: a login completed at or after this moment is fresh for this request.
    pub created_at: i64,
    /// The same in milliseconds (what is compared; 0 in requests stored before it).
    #[serde(default)]
    pub created_at_ms: i64,
}

impl AuthorizationRequest {
    fn prompts(&self, value: &str) -> bool {
        self.prompt.iter().any(|p| p == value)
    }
}

/// A request refused: shown on our page, or sent back to a trusted redirect URI.
#[derive(Debug)]
pub struct Rejection {
    pub error: OAuthError,
    pub redirect: Option<(String, ResponseMode, Option<String>)>,
}

impl Rejection {
    fn page(error: OAuthError) -> Self {
        Rejection { error, redirect: None }
    }
}

fn single(params: &Params, name: &str) -> Option<String> {
    params.get(name).map(str::to_owned)
}

/// Validates an authorization request for `issuer` (OpenID Connect Core §3.1.2.2).
pub async fn validate(app: &App, issuer: &Issuer, params: &Params) -> Result<(RegisteredClient, AuthorizationRequest), Rejection> {
    let Some(client_id) = params.get("client_id") else {
        return Err(Rejection::page(OAuthError::InvalidRequest("client_id is missing")));
    };
    let client = match clients::load(app, issuer.tenant.id, client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return Err(Rejection::page(OAuthError::InvalidRequest("unknown client_id"))),
        Err(err) => return Err(Rejection::page(OAuthError::internal(&err))),
    };
    let mut params = params.clone();
    // A signed request object (RFC 9101), given or fetched from a registered request_uri
    // (OpenID Connect Core §6.2), replaces the query's parameters; the query's
    // redirect_uri is only used to report a bad object when it is registered.
    let fallback = params.get("redirect_uri").filter(|uri| redirect_uri::matches(&client.client.redirect_uris, uri));
    let fallback = fallback.map(|uri| (uri.to_owned(), ResponseMode::Query, single(&params, "state")));
    let mut object = params.remove("request");
    if let Some(uri) = params.get("request_uri").filter(|u| !u.starts_with(PUSHED_REQUEST_URI_PREFIX)).map(str::to_owned) {
        if object.is_some() {
            return Err(Rejection { error: OAuthError::InvalidRequest("give request or request_uri, not both"), redirect: fallback });
        }
        match request_object::fetch(app, &client, &uri).await {
            Ok(fetched) => object = Some(fetched),
            Err(error) => return Err(Rejection { error, redirect: fallback }),
        }
        params.remove("request_uri");
    }
    if let Some(object) = object {
        match request_object::verify(app, &client, issuer, &object).await {
            Ok(claims) => {
                // Core §6.1: a response_type outside the object must be the object's.
                let outer = params.get("response_type");
                if claims.iter().any(|(k, v)| k == "response_type" && outer.is_some_and(|o| o != v)) {
                    let error = OAuthError::InvalidRequest("response_type does not match the request object");
                    return Err(Rejection { error, redirect: fallback });
                }
                for (k, v) in claims {
                    params.insert(&k, v);
                }
            }
            Err(error) => return Err(Rejection { error, redirect: fallback }),
        }
    }
    if params.get("client_id") != Some(client.client_id()) {
        return Err(Rejection::page(OAuthError::InvalidRequest("client_id does not match the request object")));
    }
    let redirect_uri = match params.get("redirect_uri") {
        Some(uri) if redirect_uri::matches(&client.client.redirect_uris, uri) => uri.to_owned(),
        _ => return Err(Rejection::page(OAuthError::InvalidRequest("redirect_uri is missing or not registered for this client"))),
    };
    let state = single(&params, "state");
    let response_mode = match params.get("response_mode") {
        None | Some("query") => ResponseMode::Query,
        Some("form_post") => ResponseMode::FormPost,
        Some(_) => {
            return Err(Rejection {
                error: OAuthError::InvalidRequest("unsupported response_mode"),
                redirect: Some((redirect_uri, ResponseMode::Query, state)),
            });
        }
    };
    let reject = |error| Rejection { error, redirect: Some((redirect_uri.clone(), response_mode, state.clone())) };
    match params.get("response_type") {
        None => return Err(reject(OAuthError::InvalidRequest("response_type is missing"))),
        Some("code") => {}
        Some(_) => return Err(reject(OAuthError::UnsupportedResponseType)),
    }
    if !client.allows_grant("authorization_code") || !client.client.response_types.iter().any(|r| r == "code") {
        return Err(reject(OAuthError::UnauthorizedClient("the client may not use the code flow")));
    }
    if params.contains("request_uri") {
        return Err(reject(OAuthError::InvalidRequestUri("a pushed request_uri cannot be used here")));
    }
    let scope = split_spaces(params.get("scope"));
    if !scope.iter().any(|s| s == "openid") {
        return Err(reject(OAuthError::InvalidScope("the openid scope is required")));
    }
    if scope.iter().any(|s| !client.allows_scope(s)) {
        return Err(reject(OAuthError::InvalidScope("a requested scope is not allowed for this client")));
    }
    let code_challenge = single(&params, "code_challenge");
    match (params.get("code_challenge_method"), &code_challenge) {
        (Some("S256"), Some(c)) if pkce::valid_challenge(c) => {}
        (Some("S256"), Some(_)) => return Err(reject(OAuthError::InvalidRequest("code_challenge is malformed"))),
        (None, Some(_)) | (Some(_), _) => {
            return Err(reject(OAuthError::InvalidRequest("code_challenge_method must be S256")));
        }
        (None, None) if client.is_public() || client.client.require_pkce => {
            return Err(reject(OAuthError::InvalidRequest("PKCE (code_challenge with S256) is required")));
        }
        (None, None) => {}
    }
    let prompt = split_spaces(params.get("prompt"));
    if prompt.iter().any(|p| !matches!(p.as_str(), "none" | "login" | "consent" | "select_account")) {
        return Err(reject(OAuthError::InvalidRequest("unsupported prompt value")));
    }
    if prompt.iter().any(|p| p == "none") && prompt.len() > 1 {
        return Err(reject(OAuthError::InvalidRequest("prompt=none cannot be combined with other values")));
    }
    let max_age = match params.get("max_age") {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => return Err(reject(OAuthError::InvalidRequest("max_age must be a non-negative integer"))),
        },
    };
    let mut acr_values = split_spaces(params.get("acr_values"));
    // Core §5.5.1: a `sub` asked for with a value binds the request to that user, as an
    // id_token_hint does.
    let mut claimed_subject = None;
    if let Some(claims) = params.get("claims") {
        let Ok(claims) = serde_json::from_str::<serde_json::Value>(claims) else {
            return Err(reject(OAuthError::InvalidRequest("claims is not JSON")));
        };
        let acr = &claims["id_token"]["acr"];
        let mut claimed: Vec<String> =
            acr["values"].as_array().map_or_else(Vec::new, |values| values.iter().filter_map(|v| v.as_str()).map(str::to_owned).collect());
        if let Some(value) = acr["value"].as_str() {
            claimed.push(value.to_owned());
        }
        // Without values, an Essential acr only asks that the claim be returned (it always is).
        if acr["essential"] == serde_json::Value::Bool(true) && !claimed.is_empty() {
            // An Essential acr (Core §5.5.1.1) is a demand: the answer must be one of its
            // values or the authentication fails. So the voluntary `acr_values` (a
            // preference, and in the browser's hands) cannot widen it to a lower class,
            // and with no class Mamori knows among its values none can be met.
            if !claimed.iter().any(|v| super::acr::level_of(v).is_some()) {
                return Err(reject(OAuthError::UnmetAuthenticationRequirements));
            }
            acr_values = claimed;
        } else {
            acr_values.extend(claimed);
        }
        claimed_subject = claims["id_token"]["sub"]["value"].as_str().map(str::to_owned);
    }
    let hint_subject = match params.get("id_token_hint") {
        Some(hint) => match super::id_token::read_hint(app, issuer, hint).await {
            Ok(read) => read.subject,
            Err(error) => return Err(reject(error)),
        },
        None => None,
    };
    let hinted_subject = match (hint_subject, claimed_subject) {
        (Some(a), Some(b)) if a != b => {
            return Err(reject(OAuthError::InvalidRequest("id_token_hint and the claims parameter name different users")));
        }
        (a, b) => a.or(b),
    };
    let request = AuthorizationRequest {
        client_id: client.client_id().to_owned(),
        redirect_uri: redirect_uri.clone(),
        scope,
        state: state.clone(),
        nonce: single(&params, "nonce"),
        code_challenge,
        response_mode,
        prompt,
        max_age,
        acr_values,
        login_hint: single(&params, "login_hint"),
        hinted_subject,
        ui_locales: split_spaces(params.get("ui_locales")),
        created_at: app.now().unix_timestamp(),
        created_at_ms: crate::flows::login::unix_ms(app.now()),
    };
    Ok((client, request))
}

pub async fn authorize_get(
    State(state): State<SharedState>,
    Path(tenant): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    authorize(state, tenant, Params::from_query(query.as_deref()), headers).await
}

pub async fn authorize_post(
    State(state): State<SharedState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    RawForm(body): RawForm,
) -> Response {
    let text = String::from_utf8_lossy(&body).into_owned();
    authorize(state, tenant, Params::from_pairs(crate::urlcode::form_pairs(&text)), headers).await
}

async fn authorize(state: SharedState, slug: String, params: Result<Params, String>, headers: HeaderMap) -> Response {
    let page = crate::web::page::PageLocale::from_request(&LangQuery::default(), &headers);
    let issuer = match super::issuer(&state, &slug).await {
        Ok(Some(issuer)) => issuer,
        Ok(None) => return page.error_page(&state, StatusCode::NOT_FOUND, "error.not_found"),
        Err(err) => return error_page(&state, &headers, &OAuthError::internal(&err)),
    };
    let Ok(mut params) = params else {
        return error_page(&state, &headers, &OAuthError::InvalidRequest("a parameter was repeated"));
    };
    let app = &state.app;
    // A pushed request (RFC 9126 §4): its stored parameters are the request.
    if let Some(request_uri) = params.get("request_uri").map(str::to_owned)
        && let Some(id) = request_uri.strip_prefix(PUSHED_REQUEST_URI_PREFIX)
    {
        let now = app.now();
        let lookup = mamori_storage::token_lookup_hash(id);
        let unknown = OAuthError::InvalidRequestUri("the request_uri is unknown, used or expired");
        // Looked at before it is spent: another client presenting it (or the right one at
        // another tenant) must not burn it for its owner.
        let owned = match app.storage.oidc_grants().find_pending(&lookup, PendingRequestKind::Pushed, now).await {
            Ok(Some(p)) => Some(p.client_id.as_str()) == params.get("client_id") && p.tenant_id == issuer.tenant.id,
            Ok(None) => false,
            Err(err) => return error_page(&state, &headers, &OAuthError::from(err)),
        };
        if !owned {
            return error_page(&state, &headers, &unknown);
        }
        // Spent once: of two uses by its owner, only one gets here.
        let pushed = match app.storage.oidc_grants().consume_pending(&lookup, PendingRequestKind::Pushed, now).await {
            Ok(Some(p)) => p,
            Ok(None) => return error_page(&state, &headers, &unknown),
            Err(err) => return error_page(&state, &headers, &OAuthError::from(err)),
        };
        // Stored by `par.rs` from checked parameters: one that does not read is a fault.
        let stored: HashMap<String, String> = match serde_json::from_value(pushed.params) {
            Ok(stored) => stored,
            Err(err) => return error_page(&state, &headers, &OAuthError::internal(&err.into())),
        };
        params = match Params::from_pairs(stored.into_iter().collect()) {
            Ok(params) => params,
            Err(name) => {
                return error_page(&state, &headers, &OAuthError::internal(&anyhow::anyhow!("stored pushed request repeats {name}")));
            }
        };
    }
    let (_client, request) = match validate(app, &issuer, &params).await {
        Ok(ok) => ok,
        Err(rejection) => return reject(&state, &headers, &issuer, rejection),
    };
    super::purge_expired_now_and_then(&state.app);
    let id = crate::secrets::url_token();
    let pending = NewPendingRequest {
        lookup_hash: mamori_storage::token_lookup_hash(&id),
        kind: PendingRequestKind::Authorization,
        tenant_id: issuer.tenant.id,
        client_id: request.client_id.clone(),
        params: match serde_json::to_value(&request) {
            Ok(v) => v,
            Err(err) => return error_page(&state, &headers, &OAuthError::internal(&err.into())),
        },
        expires_at: app.now() + AUTHORIZATION_REQUEST_TTL,
    };
    if let Err(err) = app.storage.oidc_grants().create_pending(&pending, app.now()).await {
        return reject(
            &state,
            &headers,
            &issuer,
            Rejection { error: OAuthError::from(err), redirect: Some((request.redirect_uri, request.response_mode, request.state)) },
        );
    }
    // ui_locales picks the language of the login and consent pages (ja or en).
    let lang = request.ui_locales.iter().find_map(|l| mamori_ui::Locale::from_tag(l)).map(|l| format!("?lang={}", l.tag()));
    Redirect::to(&format!("{}/oidc/resume/{id}{}", state.urls.mtls, lang.unwrap_or_default())).into_response()
}

fn reject(state: &SharedState, headers: &HeaderMap, issuer: &Issuer, rejection: Rejection) -> Response {
    match rejection.redirect {
        Some((uri, mode, st)) => respond(state, headers, &uri, mode, rejection.error.redirect_params(st.as_deref(), &issuer.url)),
        None => error_page(state, headers, &rejection.error),
    }
}

pub async fn resume_get(ctx: PageCtx, Path(id): Path<String>) -> Response {
    if !crate::secrets::is_url_token(&id) {
        return ctx.error(StatusCode::BAD_REQUEST, "oidc.error.request_expired");
    }
    proceed(&ctx, &id, None).await
}

pub async fn resume_post(Path(id): Path<String>, Posted { ctx, form }: Posted) -> Response {
    if !crate::secrets::is_url_token(&id) {
        return ctx.error(StatusCode::BAD_REQUEST, "oidc.error.request_expired");
    }
    let allow = crate::web::context::field(&form, "decision") == "allow";
    proceed(&ctx, &id, Some(allow)).await
}

/// What the continuation decides for a request and the browser's session.
async fn proceed(ctx: &PageCtx, id: &str, consent: Option<bool>) -> Response {
    match decide(ctx, id, consent).await {
        Ok(response) => response,
        Err(err) => ctx.internal(&err),
    }
}

async fn decide(ctx: &PageCtx, id: &str, consent: Option<bool>) -> anyhow::Result<Response> {
    let app = ctx.app();
    let now = app.now();
    let lookup = mamori_storage::token_lookup_hash(id);
    let Some(pending) = app.storage.oidc_grants().find_pending(&lookup, PendingRequestKind::Authorization, now).await? else {
        return Ok(ctx.error(StatusCode::BAD_REQUEST, "oidc.error.request_expired"));
    };
    let request: AuthorizationRequest = serde_json::from_value(pending.params)?;
    let tenant = app.storage.tenants().get(pending.tenant_id).await?;
    let issuer = super::issuer_for(&ctx.state, tenant);
    let Some(client) = clients::load(app, issuer.tenant.id, &request.client_id).await? else {
        return Ok(ctx.error(StatusCode::BAD_REQUEST, "oidc.error.request_expired"));
    };
    let answer = |error: OAuthError| {
        respond(
            &ctx.state,
            &ctx.headers,
            &request.redirect_uri,
            request.response_mode,
            error.redirect_params(request.state.as_deref(), &issuer.url),
        )
    };
    let login_again = || {
        // The tenant lets a user without a certificate log in by ID in the right tenant.
        let mut target = format!(
            "/login?return_to={}&tenant={}",
            crate::urlcode::component(&format!("/oidc/resume/{id}")),
            crate::urlcode::component(&issuer.tenant.slug)
        );
        if let Some(lang) = request.ui_locales.iter().find_map(|l| mamori_ui::Locale::from_tag(l)) {
            target.push_str(&format!("&lang={}", lang.tag()));
        }
        // login_hint only prefills the ID field; the login page checks it again.
        if let Some(hint) = request.login_hint.as_deref().filter(|h| crate::fields::LoginId::parse(h).is_ok()) {
            target.push_str(&format!("&login_hint={}", crate::urlcode::component(hint)));
        }
        Redirect::to(&target).into_response()
    };
    let resuming = session::resuming(ctx, issuer.tenant.id).await?;
    // Consent: remembered per client and user; first-party clients skip it unless asked.
    let repo = app.storage.oidc_grants();
    let (assurance, consent_needed) = match resuming.current() {
        Some((logged_in, user)) => {
            let stored = repo.find_consent(client.client_id(), user.id).await?;
            let covered = stored.as_ref().is_some_and(|c| request.scope.iter().all(|s| c.scopes.contains(s)));
            let needed = request.prompts("consent") || (!client.client.first_party && !covered);
            let has_passkey = app.storage.passkeys().count_for_user(user.id).await? > 0;
            (acr::assurance(&logged_in.auth.factors, user.login_method, has_passkey, &request.acr_values), needed)
        }
        None => (resume::Assurance::Met, false),
    };
    let asked = resume::Request {
        tenant_id: issuer.tenant.id,
        requested_at_ms: request.created_at_ms.max(request.created_at * 1000),
        now_ms: login::unix_ms(now),
        // No account chooser: the user selects an account by logging in again (Core
        // §3.1.2.1 allows a prompt; refusing with account_selection_required would leave
        // a site's "switch account" button with nothing to offer).
        force_login: request.prompts("login") || request.prompts("select_account"),
        max_age: request.max_age,
        passive: request.prompts("none"),
        hinted_subject: request.hinted_subject.as_deref(),
        assurance,
        consent_needed,
        consent_answer: consent,
    };
    let outcome = resume::decide(&asked, resuming.session().as_ref());
    let Some((session::LoggedIn { auth, .. }, user)) = resuming.into_current() else {
        return Ok(match outcome {
            Outcome::Refuse(refusal) => answer(refused(refusal)),
            _ => login_again(),
        });
    };
    match outcome {
        Outcome::Proceed { save_consent: false } => {}
        Outcome::Proceed { save_consent: true } => {
            repo.save_consent(issuer.tenant.id, client.client_id(), user.id, &request.scope, now).await?;
        }
        Outcome::Login(_) => return Ok(login_again()),
        Outcome::Refuse(refusal) => return Ok(answer(refused(refusal))),
        Outcome::AskConsent => {
            let scopes: Vec<_> = request
                .scope
                .iter()
                .map(|s| {
                    let key = format!("oidc.scope.{s}");
                    let text = app.ui.message(ctx.page.locale, &key);
                    serde_json::json!({ "name": s, "text": if text == key || text.starts_with("??") { s.clone() } else { text } })
                })
                .collect();
            return Ok(ctx.form(
                StatusCode::OK,
                "oidc/consent.html",
                serde_json::json!({ "client_name": client.client.name, "scopes": scopes, "action": format!("/oidc/resume/{id}"), "login_id": user.login_id }),
            ));
        }
    }
    let acr_value = acr::issued(&auth.factors, &request.acr_values);

    // Issue the code, once.
    if repo.consume_pending(&lookup, PendingRequestKind::Authorization, now).await?.is_none() {
        return Ok(ctx.error(StatusCode::BAD_REQUEST, "oidc.error.request_expired"));
    }
    // A grant ends with the session it came from, unless it asked for offline access.
    let sid = Some(auth.sid.as_str()).filter(|s| !s.is_empty());
    let offline = request.scope.iter().any(|s| s == "offline_access");
    let grant = repo.create_grant_in_session(issuer.tenant.id, client.client_id(), Some(user.id), sid, offline, now).await?;
    let code = crate::secrets::url_token();
    let data = CodeData {
        client_id: request.client_id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        scope: request.scope.clone(),
        nonce: request.nonce.clone(),
        code_challenge: request.code_challenge.clone(),
        user_id: user.id,
        auth_time: auth.auth_time,
        acr: acr_value,
        amr: login::amr(&auth.factors).into_iter().map(str::to_owned).collect(),
        sid: sid.map(str::to_owned),
    };
    app.shared
        .authorization_codes()
        .insert(&mamori_storage::token_lookup_hash(&code), grant.id, &serde_json::to_value(&data)?, now + CODE_TTL, now)
        .await?;
    let mut params = vec![("code", code)];
    if let Some(s) = &request.state {
        params.push(("state", s.clone()));
    }
    params.push(("iss", issuer.url.clone()));
    Ok(respond(&ctx.state, &ctx.headers, &request.redirect_uri, request.response_mode, params))
}

/// What the waiting authorization request `id` asks of a login's factors (its
/// `acr_values` and essential `acr` claim), for the login it sent the browser to.
pub async fn wanted_by(app: &crate::app::App, id: &str) -> anyhow::Result<Option<crate::flows::step_up::Wanted>> {
    if !crate::secrets::is_url_token(id) {
        return Ok(None);
    }
    let lookup = mamori_storage::token_lookup_hash(id);
    let Some(pending) = app.storage.oidc_grants().find_pending(&lookup, PendingRequestKind::Authorization, app.now()).await? else {
        return Ok(None);
    };
    let request: AuthorizationRequest = serde_json::from_value(pending.params)?;
    Ok(Some(acr::wanted(&request.acr_values)))
}

/// The error a refused request gets at the client's redirect URI.
fn refused(refusal: Refusal) -> OAuthError {
    match refusal {
        Refusal::Passive(LoginReason::StepUp) => OAuthError::InteractionRequired,
        // A new login that is still someone else's would only loop: tell the site.
        Refusal::Passive(_) | Refusal::HintedOtherUser => OAuthError::LoginRequired,
        Refusal::ConsentRequired => OAuthError::ConsentRequired,
        Refusal::OtherTenant => OAuthError::AccessDenied("the login is of another tenant"),
        Refusal::UserDisabled => OAuthError::AccessDenied("the account is disabled or locked"),
        Refusal::Unmet => OAuthError::UnmetAuthenticationRequirements,
        Refusal::Declined => OAuthError::AccessDenied("the user declined"),
    }
}

#[cfg(test)]
#[path = "authorize_tests.rs"]
mod tests;
