//! Single sign-on (SAML Profiles §4.1 Web Browser SSO): the SingleSignOnService for
//! AuthnRequests over HTTP-Redirect and HTTP-POST (§4.1.4.1), IdP-initiated (unsolicited)
//! SSO to a registered ACS, and the continuation on the client-certificate listener that
//! answers once the user is logged in (§4.1.4.2).
//!
//! AuthnRequest checks, in order: screened XML whose root is a protocol AuthnRequest;
//! a known Issuer; the signature (query signature for Redirect, enveloped XML signature
//! for POST — required when the SP's metadata says `AuthnRequestsSigned`); Destination;
//! the ACS taken from metadata only (by URL or index, default otherwise). Up to here a
//! failure is shown on a page. With a trusted ACS known, the rest answer the SP with a
//! status: Version, IssueInstant freshness, request-ID replay, Subject (unsupported),
//! NameIDPolicy, RequestedAuthnContext, and IsPassive with ForceAuthn.

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use mamori_storage::model::{NewSamlParticipant, NewSamlPending, SamlPendingKind, User};
use samael::schema::AuthnRequest;
use serde::{Deserialize, Serialize};

use super::authn_context::{self, Requested};
use super::binding::{self, Binding, Incoming, MessageKind};
use super::error::{Reply, SamlError, reject};
use super::keys::{self, KeyUse};
use super::name_id::{self, NameIdChoice};
use super::response::{self, AssertionContent, Protection};
use super::service_providers::{self, RegisteredSp};
use super::times::is_fresh;
use super::{Idp, from_chrono, later, limits, ns, signing};
use crate::app::App;
use crate::flows::login;
use crate::flows::resume::{self, Outcome, Refusal};
use crate::state::SharedState;
use crate::web::context::PageCtx;
use crate::web::session;
pub use mamori_saml_wire::messages::parse_authn_request;

/// A request accepted and waiting for the login (the `data` of a pending entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingAuthn {
    pub sp_entity_id: String,
    pub acs_url: String,
    /// The AuthnRequest's ID; `None` for IdP-initiated SSO.
    pub request_id: Option<String>,
    pub relay_state: Option<String>,
    pub force_authn: bool,
    pub is_passive: bool,
    pub name_id: NameIdChoice,
    pub requested_context: Option<Requested>,
    /// Unix seconds: a login at or after this moment is fresh for `ForceAuthn`.
    pub created_at: i64,
    /// The same in milliseconds (what is compared; 0 in requests stored before it).
    #[serde(default)]
    pub created_at_ms: i64,
    /// The login session the browser had when it was sent to log in again; its
    /// participants move to the new session afterwards.
    #[serde(default)]
    pub previous_session: Option<String>,
}

impl PendingAuthn {
    fn reply(&self) -> Reply {
        Reply::Acs {
            sp_entity_id: self.sp_entity_id.clone(),
            acs_url: self.acs_url.clone(),
            in_response_to: self.request_id.clone(),
            relay_state: self.relay_state.clone(),
        }
    }
}

/// An error, with the trusted endpoint to answer at when one is known.
#[derive(Debug)]
pub struct Rejection {
    pub error: SamlError,
    pub reply: Option<Reply>,
}

impl From<SamlError> for Rejection {
    fn from(error: SamlError) -> Self {
        Rejection { error, reply: None }
    }
}

/// Checks that a message's signature is what the SP's registration asks for; returns the
/// XML to parse (for a POST-signed message, only what the signature covers) and whether
/// it was signed.
pub fn authenticate_message(
    incoming: &Incoming,
    text: &str,
    root_id: &str,
    sp: &RegisteredSp,
    required: bool,
) -> Result<(String, bool), SamlError> {
    let certificates = sp.signature_certificates();
    match (incoming.binding, &incoming.query_signature) {
        (Binding::Redirect, Some(sig)) => {
            binding::verify_query_signature(sig, certificates)?;
            Ok((text.to_owned(), true))
        }
        (Binding::Redirect, None) => {
            if required {
                return Err(SamlError::Unsigned);
            }
            Ok((text.to_owned(), false))
        }
        (Binding::Post, _) => {
            if signing::signature_shape(text).total == 0 {
                if required {
                    return Err(SamlError::Unsigned);
                }
                return Ok((text.to_owned(), false));
            }
            Ok((signing::verify_enveloped(text, root_id, certificates)?, true))
        }
    }
}

/// Validates an AuthnRequest for `idp` (SAML Profiles §4.1.4.1; Core §3.4.1).
pub async fn accept_authn_request(
    app: &App,
    idp: &Idp,
    incoming: &Incoming,
) -> Result<(std::sync::Arc<RegisteredSp>, PendingAuthn), Rejection> {
    if incoming.kind != MessageKind::Request {
        return Err(SamlError::WrongMessage { expected: "AuthnRequest" }.into());
    }
    let (text, request) = parse_authn_request(&incoming.xml).map_err(SamlError::from)?;
    let issuer = request.issuer.as_ref().and_then(|i| i.value.as_deref()).map(str::trim).filter(|i| !i.is_empty());
    let issuer = issuer.ok_or(SamlError::NoIssuer)?.to_owned();
    let sp = service_providers::load(app, idp.tenant.id, &issuer)
        .await
        .map_err(SamlError::Internal)?
        .ok_or(SamlError::UnknownServiceProvider)?;
    let (signed_text, signed) = authenticate_message(incoming, &text, &request.id, &sp, sp.sp.want_authn_requests_signed)?;
    // Parse again what the signature covered (identical for Redirect and unsigned POST).
    let request = if signed && incoming.binding == Binding::Post {
        parse_authn_request(signed_text.as_bytes()).map_err(SamlError::from)?.1
    } else {
        request
    };
    match request.destination.as_deref() {
        Some(d) if d != idp.sso_url() => return Err(SamlError::WrongDestination.into()),
        None if signed => return Err(SamlError::WrongDestination.into()),
        _ => {}
    }
    let acs = sp
        .resolve_acs(request.assertion_consumer_service_url.as_deref(), request.assertion_consumer_service_index)
        .map_err(SamlError::from)?;
    let reply = Reply::Acs {
        sp_entity_id: sp.entity_id().to_owned(),
        acs_url: acs.url.clone(),
        in_response_to: Some(request.id.clone()),
        relay_state: incoming.relay_state.clone(),
    };
    let reject = |error: SamlError| Rejection { error, reply: Some(reply.clone()) };

    if request.version != "2.0" {
        return Err(reject(SamlError::Version));
    }
    if request.id.is_empty() || request.id.len() > 256 {
        return Err(reject(SamlError::Unsupported("request IDs longer than 256 characters")));
    }
    if request.protocol_binding.as_deref().is_some_and(|b| b != ns::BINDING_POST) {
        // SAML Core §3.2.2.2: the binding asked for cannot be used.
        return Err(reject(SamlError::UnsupportedBinding));
    }
    let now = app.now();
    // Beyond `time`'s range (chrono reads years past 9999): out of range, not a panic.
    let issued = from_chrono(&request.issue_instant).ok_or_else(|| reject(SamlError::TimeOutOfRange))?;
    if !is_fresh(issued, now) {
        return Err(reject(SamlError::Stale));
    }
    let (name_id, requested_context, force_authn, is_passive) = match what_is_asked(&sp, &request) {
        Ok(asked) => asked,
        Err(error) => {
            // A refused request's ID is spent as an accepted one's is: the same message
            // must not succeed later, once the SP's registration has changed.
            let remember_until = later(now, limits::REQUEST_ID_MEMORY).map_err(|e| reject(SamlError::Internal(e.into())))?;
            let cache = app.shared.saml_replay_cache();
            let first =
                cache.remember(idp.tenant.id, sp.entity_id(), &request.id, remember_until, now).await.map_err(|e| reject(e.into()))?;
            return Err(reject(if first { error } else { SamlError::Replay }));
        }
    };
    let pending = PendingAuthn {
        sp_entity_id: sp.entity_id().to_owned(),
        acs_url: acs.url.clone(),
        request_id: Some(request.id.clone()),
        relay_state: incoming.relay_state.clone(),
        force_authn,
        is_passive,
        name_id,
        requested_context,
        created_at: now.unix_timestamp(),
        created_at_ms: login::unix_ms(now),
        previous_session: None,
    };
    Ok((sp, pending))
}

/// What a fresh AuthnRequest asks, or why it cannot be given: the NameID, the
/// RequestedAuthnContext, `ForceAuthn` and `IsPassive`.
fn what_is_asked(sp: &RegisteredSp, request: &AuthnRequest) -> Result<(NameIdChoice, Option<Requested>, bool, bool), SamlError> {
    if request.subject.is_some() {
        return Err(SamlError::Unsupported("a Subject in the AuthnRequest"));
    }
    let name_id = name_id::choose(sp, request.name_id_policy.as_ref())?;
    let requested_context = request.requested_authn_context.as_ref().map(Requested::from_request);
    if requested_context.as_ref().is_some_and(|r| !r.is_satisfiable()) {
        return Err(SamlError::NoAuthnContext);
    }
    let force_authn = request.force_authn.unwrap_or(false);
    let is_passive = request.is_passive.unwrap_or(false);
    if force_authn && is_passive {
        return Err(SamlError::NoPassive);
    }
    Ok((name_id, requested_context, force_authn, is_passive))
}

/// `GET /t/{tenant}/saml/sso` (HTTP-Redirect)
pub async fn sso_redirect(
    State(state): State<SharedState>,
    Path(slug): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let incoming = binding::from_redirect_query(query.as_deref().unwrap_or(""));
    receive(state, slug, incoming, headers).await
}

/// `POST /t/{tenant}/saml/sso` (HTTP-POST)
pub async fn sso_post(State(state): State<SharedState>, Path(slug): Path<String>, headers: HeaderMap, body: axum::body::Body) -> Response {
    let incoming = binding::read_post_body(body).await;
    receive(state, slug, incoming, headers).await
}

async fn receive(state: SharedState, slug: String, incoming: Result<Incoming, binding::BindingError>, headers: HeaderMap) -> Response {
    let idp = match super::idp(&state, &slug).await {
        Ok(Some(idp)) => idp,
        Ok(None) => return reject(&state, &headers, None, SamlError::UnknownTenant, None).await,
        Err(err) => return reject(&state, &headers, None, SamlError::Internal(err), None).await,
    };
    let incoming = match incoming {
        Ok(i) => i,
        Err(err) => return reject(&state, &headers, Some(&idp), err.into(), None).await,
    };
    match accept_authn_request(&state.app, &idp, &incoming).await {
        Ok((_, pending)) => store_and_continue(&state, &headers, &idp, pending).await,
        Err(rejection) => reject(&state, &headers, Some(&idp), rejection.error, rejection.reply.as_ref()).await,
    }
}

/// Keeps the request and sends the browser to the continuation on the certificate listener.
async fn store_and_continue(state: &SharedState, headers: &HeaderMap, idp: &Idp, pending: PendingAuthn) -> Response {
    let app = &state.app;
    let id = crate::secrets::url_token();
    let reply = pending.reply();
    let data = match serde_json::to_value(&pending) {
        Ok(v) => v,
        Err(err) => return reject(state, headers, Some(idp), SamlError::Internal(err.into()), Some(&reply)).await,
    };
    let expires_at = match later(app.now(), limits::PENDING_AUTHN_TTL) {
        Ok(t) => t,
        Err(err) => return reject(state, headers, Some(idp), SamlError::Internal(err.into()), Some(&reply)).await,
    };
    let new = NewSamlPending {
        lookup_hash: mamori_storage::token_lookup_hash(&id),
        kind: SamlPendingKind::Authn,
        tenant_id: idp.tenant.id,
        sp_entity_id: pending.sp_entity_id.clone(),
        data,
        expires_at,
    };
    let now = app.now();
    let kept = match &pending.request_id {
        Some(request_id) => match later(now, limits::REQUEST_ID_MEMORY) {
            Ok(remember_until) => app.shared.saml_replay_cache().remember_and_hold(request_id, &new, remember_until, now).await,
            Err(err) => return reject(state, headers, Some(idp), SamlError::Internal(err.into()), Some(&reply)).await,
        },
        // IdP-initiated: no request ID to remember.
        None => app.storage.saml_records().create_pending(&new, now).await.map(|_| true),
    };
    match kept {
        Ok(true) => {}
        Ok(false) => return reject(state, headers, Some(idp), SamlError::Replay, Some(&reply)).await,
        // The tenant may have been deleted while this node still remembered it (its
        // pending request then has nothing to belong to): no response signed in its name.
        Err(_) if crate::oidc::tenant_is_gone(app, &idp.tenant).await => {
            return reject(state, headers, None, SamlError::UnknownTenant, None).await;
        }
        Err(err) => return reject(state, headers, Some(idp), err.into(), Some(&reply)).await,
    }
    // Expired replay-cache entries, pending requests and participants are swept now and
    // then, by whichever node happens to be answering.
    if rand::random::<u8>() < 4 {
        let app = std::sync::Arc::clone(&state.app);
        tokio::spawn(async move {
            if let Err(err) = app.storage.saml_records().purge_expired(app.now()).await {
                tracing::warn!(error = %err.log_detail(), "purging expired SAML state failed");
            }
        });
    }
    Redirect::to(&format!("{}/saml/resume/{id}", state.urls.mtls)).into_response()
}

#[derive(Debug, Deserialize)]
pub struct UnsolicitedQuery {
    #[serde(rename = "providerId")]
    pub provider_id: Option<String>,
    #[serde(rename = "acsIndex")]
    pub acs_index: Option<usize>,
    #[serde(rename = "RelayState")]
    pub relay_state: Option<String>,
}

/// `GET /t/{tenant}/saml/sso/unsolicited?providerId=…[&acsIndex=…][&RelayState=…]`:
/// IdP-initiated SSO to an ACS from the SP's metadata (SAML Profiles §4.1.5), for an SP
/// registered to take it (`allow_unsolicited`). Any other SP gets only answers to its
/// own requests: an unsolicited response carries no request ID for it to match and none
/// of its request's signature, and the browser carrying it may have been sent here by
/// anyone.
pub async fn unsolicited(
    State(state): State<SharedState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    query: Result<Query<UnsolicitedQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let idp = match super::idp(&state, &slug).await {
        Ok(Some(idp)) => idp,
        Ok(None) => return reject(&state, &headers, None, SamlError::UnknownTenant, None).await,
        Err(err) => return reject(&state, &headers, None, SamlError::Internal(err), None).await,
    };
    let Ok(Query(query)) = query else {
        return reject(&state, &headers, Some(&idp), SamlError::Parse("query".into()), None).await;
    };
    let Some(provider_id) = query.provider_id.filter(|p| !p.is_empty()) else {
        return reject(&state, &headers, Some(&idp), SamlError::NoIssuer, None).await;
    };
    if query.relay_state.as_ref().is_some_and(|r| r.len() > limits::MAX_RELAY_STATE) {
        return reject(&state, &headers, Some(&idp), binding::BindingError::RelayStateTooLong.into(), None).await;
    }
    let sp = match service_providers::load(&state.app, idp.tenant.id, &provider_id).await {
        Ok(Some(sp)) => sp,
        Ok(None) => return reject(&state, &headers, Some(&idp), SamlError::UnknownServiceProvider, None).await,
        Err(err) => return reject(&state, &headers, Some(&idp), SamlError::Internal(err), None).await,
    };
    if !sp.sp.allow_unsolicited {
        return reject(&state, &headers, Some(&idp), SamlError::Unsolicited, None).await;
    }
    let acs = match sp.resolve_acs(None, query.acs_index) {
        Ok(acs) => acs.url.clone(),
        Err(err) => return reject(&state, &headers, Some(&idp), err.into(), None).await,
    };
    let pending = PendingAuthn {
        sp_entity_id: sp.entity_id().to_owned(),
        acs_url: acs,
        request_id: None,
        relay_state: query.relay_state.filter(|r| !r.is_empty()),
        force_authn: false,
        is_passive: false,
        name_id: NameIdChoice { format: name_id::registered_format(&sp).to_owned(), allow_create: true },
        requested_context: None,
        created_at: state.app.now().unix_timestamp(),
        created_at_ms: login::unix_ms(state.app.now()),
        previous_session: None,
    };
    store_and_continue(&state, &headers, &idp, pending).await
}

/// What the waiting AuthnRequest `id` asks of a login's factors (its
/// RequestedAuthnContext), for the login it sent the browser to.
pub async fn wanted_by(app: &crate::app::App, id: &str) -> anyhow::Result<Option<crate::flows::step_up::Wanted>> {
    if !crate::secrets::is_url_token(id) {
        return Ok(None);
    }
    let lookup = mamori_storage::token_lookup_hash(id);
    let Some(entry) = app.storage.saml_records().find_pending(&lookup, SamlPendingKind::Authn, app.now()).await? else {
        return Ok(None);
    };
    let pending: PendingAuthn = serde_json::from_value(entry.data)?;
    Ok(Some(authn_context::wanted(pending.requested_context.as_ref())))
}

/// `GET /saml/resume/{id}`: answers the SP once the browser's session allows it.
pub async fn resume(ctx: PageCtx, Path(id): Path<String>) -> Response {
    if !crate::secrets::is_url_token(&id) {
        return reject(&ctx.state, &ctx.headers, None, SamlError::Expired, None).await;
    }
    match continue_sso(&ctx, &id).await {
        Ok(response) => response,
        Err(err) => ctx.internal(&err),
    }
}

async fn continue_sso(ctx: &PageCtx, id: &str) -> anyhow::Result<Response> {
    let app = ctx.app();
    let state = &ctx.state;
    let now = app.now();
    let lookup = mamori_storage::token_lookup_hash(id);
    let records = app.storage.saml_records();
    let Some(entry) = records.find_pending(&lookup, SamlPendingKind::Authn, now).await? else {
        return Ok(reject(state, &ctx.headers, None, SamlError::Expired, None).await);
    };
    let mut pending: PendingAuthn = serde_json::from_value(entry.data.clone())?;
    let tenant = crate::oidc::recent_tenant(app, entry.tenant_id).await?;
    let idp = Idp::for_tenant(state, tenant);
    let reply = pending.reply();
    let answer = |error: SamlError| reject(state, &ctx.headers, Some(&idp), error, Some(&reply));
    let Some(sp) = service_providers::load(app, idp.tenant.id, &pending.sp_entity_id).await? else {
        return Ok(reject(state, &ctx.headers, Some(&idp), SamlError::UnknownServiceProvider, None).await);
    };
    // Checked again at the answer: a resume link minted while the SP took unsolicited
    // responses must not outlive the operator turning them off (review r7, F1).
    if pending.request_id.is_none() && !sp.sp.allow_unsolicited {
        return Ok(reject(state, &ctx.headers, Some(&idp), SamlError::Unsolicited, None).await);
    }

    let resuming = session::resuming(ctx, idp.tenant.id).await?;
    let requested = pending.requested_context.as_ref();
    let assurance = match resuming.current() {
        Some((logged_in, user)) => {
            let has_passkey = app.storage.passkeys().count_for_user(user.id).await? > 0;
            authn_context::assurance(&logged_in.auth.factors, user.login_method, has_passkey, requested)
        }
        None => resume::Assurance::Met,
    };
    let asked = resume::Request {
        tenant_id: idp.tenant.id,
        requested_at_ms: pending.created_at_ms.max(pending.created_at * 1000),
        now_ms: login::unix_ms(now),
        force_login: pending.force_authn,
        max_age: None,
        passive: pending.is_passive,
        hinted_subject: None,
        assurance,
        consent_needed: false,
        consent_answer: None,
    };
    match resume::decide(&asked, resuming.session().as_ref()) {
        Outcome::Proceed { .. } => {}
        Outcome::Login(reason) => {
            if reason.replaces_session()
                && let Some((logged_in, _)) = resuming.current()
            {
                // ForceAuthn or a step-up: remember the session being replaced, so its
                // SPs follow.
                let mut next = pending.clone();
                next.previous_session = Some(logged_in.session.id.clone());
                records.update_pending_data(&lookup, SamlPendingKind::Authn, &entry.data, &serde_json::to_value(&next)?, now).await?;
            }
            // The tenant lets a user without a certificate log in by ID in the right tenant.
            let target = format!(
                "/login?return_to={}&tenant={}",
                crate::urlcode::component(&format!("/saml/resume/{id}")),
                crate::urlcode::component(&idp.tenant.slug)
            );
            return Ok(Redirect::to(&target).into_response());
        }
        Outcome::Refuse(Refusal::Passive(_) | Refusal::ConsentRequired) => return Ok(answer(SamlError::NoPassive).await),
        Outcome::Refuse(Refusal::Unmet) => return Ok(answer(SamlError::NoAuthnContext).await),
        // No consent is asked in SAML (the decision never asks it without a need).
        Outcome::AskConsent | Outcome::Refuse(_) => return Ok(answer(SamlError::AuthnFailed).await),
    }
    let Some((session::LoggedIn { session: web, auth }, user)) = resuming.into_current() else {
        return Ok(answer(SamlError::AuthnFailed).await);
    };
    let Some(class) = authn_context::choose(&auth.factors, requested) else {
        return Ok(answer(SamlError::NoAuthnContext).await);
    };
    let name_id = match name_id::issue(app, &sp, &user, &pending.name_id).await {
        Ok(n) => n,
        Err(err) => return Ok(answer(err).await),
    };
    let session_ends = web.absolute_expires_at;
    let session_index = super::new_id();
    let participant = NewSamlParticipant {
        tenant_id: idp.tenant.id,
        user_id: user.id,
        web_session_id: web.id.clone(),
        sp_entity_id: sp.entity_id().to_owned(),
        session_index: session_index.clone(),
        name_id: name_id.clone(),
        name_id_format: pending.name_id.format.clone(),
        expires_at: session_ends,
    };
    let replaced = pending.previous_session.take().filter(|p| *p != web.id);
    // From here on the request is answered once: taking it, moving the replaced
    // session's SPs and recording this one are one transaction.
    if records.answer_pending(&lookup, &participant, replaced.as_deref(), now).await?.is_none() {
        return Ok(reject(state, &ctx.headers, Some(&idp), SamlError::Expired, None).await);
    }
    let attributes = released_attributes(app, &sp, &user, &auth).await?;
    let encrypt_for = if sp.sp.encrypt_assertion {
        match sp.encryption_certificate() {
            Some(cert) => Some(cert),
            None => return Ok(answer(SamlError::Internal(anyhow::anyhow!("no encryption certificate for {}", sp.entity_id()))).await),
        }
    } else {
        None
    };
    let content = AssertionContent {
        idp_entity_id: idp.entity_id(),
        sp_entity_id: sp.entity_id().to_owned(),
        acs_url: pending.acs_url.clone(),
        in_response_to: pending.request_id.clone(),
        name_id,
        name_id_format: pending.name_id.format.clone(),
        session_index,
        authn_instant: time::OffsetDateTime::from_unix_timestamp(auth.auth_time).unwrap_or(now),
        session_not_on_or_after: session_ends,
        authn_context_class: class,
        attributes,
        now,
    };
    let protection = protection(&sp, encrypt_for);
    let key = keys::active(app, KeyUse::Signing).await?;
    let xml = app.pool.run(move || response::success(&content, &protection, &key)).await??;
    tracing::info!(sp = %sp.entity_id(), user = %user.id, "SAML assertion issued");
    Ok(binding::post_page(state, &ctx.headers, &pending.acs_url, MessageKind::Response, &xml, pending.relay_state.as_deref()))
}

/// How a response to `sp` is protected. Every response is signed: the assertion and/or
/// the response as registered, the response when neither was asked for (SAML Profiles
/// §4.1.4.5); and the assertion whenever the SP's metadata says `WantAssertionsSigned`
/// (SAML Metadata §2.4.4), whatever the registration says.
pub fn protection(sp: &RegisteredSp, encrypt_for: Option<Vec<u8>>) -> Protection {
    let sign_assertion = sp.sp.sign_assertion || sp.wants_signed_assertions();
    Protection { sign_assertion, sign_response: sp.sp.sign_response || !sign_assertion, encrypt_for }
}

/// The attributes `sp` is given, in its release order.
async fn released_attributes(
    app: &App,
    sp: &RegisteredSp,
    user: &User,
    auth: &login::Authenticated,
) -> anyhow::Result<Vec<(response::AttributeDef, Vec<String>)>> {
    let mut out = Vec::new();
    for key in &sp.release.attributes {
        let Some(def) = response::attribute(key) else { continue };
        let values = match def.key {
            "login_id" => vec![user.login_id.clone()],
            "display_name" => vec![user.display_name.clone()],
            "locale" => vec![user.locale.as_str().to_owned()],
            "amr" => login::amr(&auth.factors).into_iter().map(str::to_owned).collect(),
            "email" => {
                let devices = app.storage.devices().list_for_user(user.id, false).await?;
                devices.into_iter().map(|d| d.email).filter(|e| !e.is_empty()).take(1).collect()
            }
            _ => continue,
        };
        if !out.iter().any(|(d, _): &(response::AttributeDef, Vec<String>)| d.key == def.key) {
            out.push((*def, values));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mamori_saml_wire::messages::ParseError;

    #[test]
    fn metadata_asking_for_signed_assertions_gets_them() {
        let registration = |want: Option<bool>, sign_response: bool, sign_assertion: bool| {
            let attr = want.map(|w| format!(r#" WantAssertionsSigned="{w}""#)).unwrap_or_default();
            let metadata = format!(
                r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.example/metadata"><md:SPSSODescriptor{attr} protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example/acs" index="0"/></md:SPSSODescriptor></md:EntityDescriptor>"#
            );
            RegisteredSp::new(mamori_storage::model::SamlServiceProvider {
                id: uuid::Uuid::new_v4(),
                tenant_id: uuid::Uuid::new_v4(),
                entity_id: "https://sp.example/metadata".into(),
                name: "SP".into(),
                metadata_xml: Some(metadata),
                acs: vec![],
                slo: vec![],
                certificates: vec![],
                want_authn_requests_signed: false,
                name_id_format: ns::NAMEID_PERSISTENT.into(),
                attribute_release: serde_json::json!({}),
                sign_response,
                sign_assertion,
                encrypt_assertion: false,
                allow_unsolicited: false,
                created_at: time::OffsetDateTime::UNIX_EPOCH,
            })
        };
        let signs = |sp: &RegisteredSp| {
            let p = protection(sp, None);
            (p.sign_response, p.sign_assertion)
        };
        // Honest: metadata that does not ask; the registration decides.
        assert_eq!(signs(&registration(None, true, false)), (true, false));
        assert_eq!(signs(&registration(Some(false), true, false)), (true, false));
        assert_eq!(signs(&registration(None, false, true)), (false, true));
        assert_eq!(signs(&registration(None, false, false)), (true, false), "never neither");
        // The SP asks for signed assertions: it gets them, even when registered for a
        // signed response only.
        assert_eq!(signs(&registration(Some(true), true, false)), (true, true));
        assert_eq!(signs(&registration(Some(true), false, false)), (false, true));
        assert_eq!(signs(&registration(Some(true), true, true)), (true, true));
    }

    #[test]
    fn authn_requests_parse_only_as_what_they_are() {
        let ok = r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" Version="2.0" IssueInstant="2026-04-01T09:00:00Z" ForceAuthn="true" AssertionConsumerServiceIndex="1"><saml:Issuer>https://sp.example</saml:Issuer><samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" AllowCreate="true"/></samlp:AuthnRequest>"#;
        let (_, r) = parse_authn_request(ok.as_bytes()).expect("parses");
        assert_eq!(r.id, "_r1");
        assert_eq!(r.force_authn, Some(true));
        assert_eq!(r.assertion_consumer_service_index, Some(1));
        let logout = ok.replace("AuthnRequest", "LogoutRequest");
        assert!(matches!(parse_authn_request(logout.as_bytes()), Err(ParseError::WrongMessage { .. })));
        let other_ns = ok.replace("urn:oasis:names:tc:SAML:2.0:protocol", "urn:example:evil");
        assert!(matches!(parse_authn_request(other_ns.as_bytes()), Err(ParseError::WrongMessage { .. })));
        let no_instant = ok.replace(r#" IssueInstant="2026-04-01T09:00:00Z""#, "");
        assert!(matches!(parse_authn_request(no_instant.as_bytes()), Err(ParseError::Parse(_))));
    }
}
