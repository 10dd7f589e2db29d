//! Single logout (SAML Profiles §4.4; Core §3.7), front channel, HTTP-Redirect and
//! HTTP-POST, at `{main}/t/{slug}/saml/slo`.
//!
//! A LogoutRequest from a service provider must be signed (§4.4.4.1: the requester is
//! authenticated, so no site can log a user out by sending the browser here). It names
//! the user's NameID and SessionIndex there; that finds the login session it belongs to.
//! The session ends at once on every node (its participants are ended atomically, its
//! row deleted), then the other service providers that received assertions in it are
//! told, one after another through the browser, with signed LogoutRequests; their
//! LogoutResponses come back here with the chain's RelayState. Last, the requester gets
//! a signed LogoutResponse: Success, or Success with PartialLogout when some SP could not
//! be told or did not confirm.
//!
//! samael's LogoutRequest reads SessionIndex as an attribute and writes it before the
//! NameID (both against the schema), so LogoutRequests are read and written here.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_storage::model::{NewSamlPending, SamlParticipant, SamlPendingKind};
use samael::schema::{Issuer, LogoutResponse};
use samael::traits::ToXml as _;
use serde::{Deserialize, Serialize};

use super::binding::{self, Binding, Incoming, MessageKind};
use super::error::{Reply, SamlError, Status, reject, status};
use super::keys::{self, KeyUse};
use super::response::status_xml;
use super::service_providers;
use super::sso::authenticate_message;
use super::times::check_logout_request_times;
use super::xml::{self, MESSAGE_LIMITS, escape};
use super::{Idp, chrono_time, later, limits, new_id, ns, signing};
use crate::state::SharedState;
use crate::web::page::{LangQuery, PageLocale};
pub use mamori_saml_wire::messages::{LogoutRequestMessage, NameIdElement, TextElement, parse_logout_request, parse_logout_response};

/// A service provider still to be told, with what it knows the user by: one
/// LogoutRequest per SP and NameID, naming every SessionIndex it was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub sp_entity_id: String,
    pub name_id: String,
    pub name_id_format: String,
    pub session_indexes: Vec<String>,
}

/// The LogoutRequest we are waiting on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outstanding {
    pub sp_entity_id: String,
    pub request_id: String,
}

/// A single logout under way (the `data` of a pending entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoutChain {
    /// Who asked, to answer last (`None` when there is no one to answer).
    pub requester: Option<Reply>,
    pub queue: Vec<Notice>,
    pub current: Option<Outstanding>,
    /// Some SP could not be told or did not confirm.
    pub partial: bool,
}

// Reply is stored with the chain.
impl Serialize for Reply {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let value = match self {
            Reply::Acs { sp_entity_id, acs_url, in_response_to, relay_state } => serde_json::json!({
                "kind": "acs", "sp": sp_entity_id, "url": acs_url, "in_response_to": in_response_to, "relay_state": relay_state,
            }),
            Reply::Logout { sp_entity_id, url, binding, in_response_to, relay_state } => serde_json::json!({
                "kind": "logout", "sp": sp_entity_id, "url": url, "binding": binding.uri(),
                "in_response_to": in_response_to, "relay_state": relay_state,
            }),
        };
        value.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Reply {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let v = serde_json::Value::deserialize(d)?;
        let text = |k: &str| v[k].as_str().map(str::to_owned);
        let need = |k: &str| text(k).ok_or_else(|| D::Error::custom(format!("reply without {k}")));
        match v["kind"].as_str() {
            Some("acs") => Ok(Reply::Acs {
                sp_entity_id: need("sp")?,
                acs_url: need("url")?,
                in_response_to: text("in_response_to"),
                relay_state: text("relay_state"),
            }),
            Some("logout") => Ok(Reply::Logout {
                sp_entity_id: need("sp")?,
                url: need("url")?,
                binding: Binding::from_uri(&need("binding")?).ok_or_else(|| D::Error::custom("binding"))?,
                in_response_to: need("in_response_to")?,
                relay_state: text("relay_state"),
            }),
            _ => Err(D::Error::custom("unknown reply kind")),
        }
    }
}

/// `GET /t/{tenant}/saml/slo` (HTTP-Redirect)
pub async fn slo_redirect(
    State(state): State<SharedState>,
    Path(slug): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let incoming = binding::from_redirect_query(query.as_deref().unwrap_or(""));
    receive(state, slug, incoming, headers).await
}

/// `POST /t/{tenant}/saml/slo` (HTTP-POST)
pub async fn slo_post(State(state): State<SharedState>, Path(slug): Path<String>, headers: HeaderMap, body: axum::body::Body) -> Response {
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
    let outcome = match incoming.kind {
        MessageKind::Request => logout_request(&state, &headers, &idp, &incoming).await,
        MessageKind::Response => logout_response(&state, &headers, &idp, &incoming).await,
    };
    match outcome {
        Ok(response) => response,
        Err((error, reply)) => reject(&state, &headers, Some(&idp), error, reply.as_ref()).await,
    }
}

type Outcome = Result<Response, (SamlError, Option<Reply>)>;

fn untrusted(error: impl Into<SamlError>) -> (SamlError, Option<Reply>) {
    (error.into(), None)
}

/// A LogoutRequest from a service provider (§4.4.4.1).
async fn logout_request(state: &SharedState, headers: &HeaderMap, idp: &Idp, incoming: &Incoming) -> Outcome {
    let app = &state.app;
    let (text, message) = parse_logout_request(&incoming.xml).map_err(untrusted)?;
    let issuer = message.issuer.as_ref().map(|i| i.value.trim().to_owned()).filter(|i| !i.is_empty());
    let issuer = issuer.ok_or_else(|| untrusted(SamlError::NoIssuer))?;
    let sp = service_providers::load(app, idp.tenant.id, &issuer)
        .await
        .map_err(|e| untrusted(SamlError::Internal(e)))?
        .ok_or_else(|| untrusted(SamlError::UnknownServiceProvider))?;
    let (signed_text, _) = authenticate_message(incoming, &text, &message.id, &sp, true).map_err(untrusted)?;
    let message =
        if incoming.binding == Binding::Post { parse_logout_request(signed_text.as_bytes()).map_err(untrusted)?.1 } else { message };
    if message.destination.as_deref() != Some(idp.slo_url().as_str()) {
        return Err(untrusted(SamlError::WrongDestination));
    }
    let reply = sp.slo_endpoint(incoming.binding, true).map(|(url, binding)| Reply::Logout {
        sp_entity_id: sp.entity_id().to_owned(),
        url,
        binding,
        in_response_to: message.id.clone(),
        relay_state: incoming.relay_state.clone(),
    });
    let fail = |error: SamlError| (error, reply.clone());
    if message.version != "2.0" {
        return Err(fail(SamlError::Version));
    }
    let now = app.now();
    check_logout_request_times(&message.issue_instant, message.not_on_or_after.as_deref(), now).map_err(fail)?;
    let remember_until = later(now, limits::REQUEST_ID_MEMORY).map_err(|e| fail(SamlError::Internal(e.into())))?;
    let first = app
        .shared
        .saml_replay_cache()
        .remember(idp.tenant.id, sp.entity_id(), &message.id, remember_until, now)
        .await
        .map_err(|e| fail(e.into()))?;
    if !first {
        return Err(fail(SamlError::Replay));
    }
    let records = app.storage.saml_records();
    if message.base_id.is_some() {
        return Err(fail(SamlError::Unsupported("a BaseID does not identify a principal here")));
    }
    let name_id = match (&message.name_id, &message.encrypted_id) {
        (Some(plain), None) => plain.value.trim().to_owned(),
        (None, Some(encrypted)) => decrypt_name_id(app, encrypted).await.map_err(fail)?,
        _ => return Err(fail(SamlError::UnknownPrincipal)),
    };

    // The login sessions this NameID (and SessionIndex, when given) belong to at this SP.
    let mut found: Vec<SamlParticipant> = Vec::new();
    if message.session_indexes.is_empty() {
        found = records.participants_by_name_id(idp.tenant.id, sp.entity_id(), &name_id, now).await.map_err(|e| fail(e.into()))?;
    } else {
        for index in &message.session_indexes {
            let hit =
                records.participant_by_session_index(idp.tenant.id, sp.entity_id(), index.trim(), now).await.map_err(|e| fail(e.into()))?;
            found.extend(hit.filter(|p| p.name_id == name_id));
        }
    }
    let mut sessions: Vec<String> = found.into_iter().map(|p| p.web_session_id).collect();
    sessions.dedup();
    let mut queue = Vec::new();
    for web_session in &sessions {
        let ended = records.end_session_participants(web_session, now).await.map_err(|e| fail(e.into()))?;
        crate::web::session::destroy(app, web_session).await.map_err(|e| fail(SamlError::Internal(e)))?;
        for p in ended.into_iter().filter(|p| p.sp_entity_id != sp.entity_id()) {
            let same = |n: &&mut Notice| n.sp_entity_id == p.sp_entity_id && n.name_id == p.name_id && n.name_id_format == p.name_id_format;
            match queue.iter_mut().find(same) {
                Some(notice) => notice.session_indexes.push(p.session_index),
                None => queue.push(Notice {
                    sp_entity_id: p.sp_entity_id,
                    name_id: p.name_id,
                    name_id_format: p.name_id_format,
                    session_indexes: vec![p.session_index],
                }),
            }
        }
    }
    tracing::info!(sp = %sp.entity_id(), sessions = sessions.len(), others = queue.len(), "SAML single logout");
    let chain = LogoutChain { requester: reply, queue, current: None, partial: false };
    let mut response = start_chain(state, headers, idp, chain).await.map_err(|e| (SamlError::Internal(e), None))?;
    // Profiles §4.4.4: the sessions of the principal the NameID names end; the browser
    // that carried the message forgets its cookie only when its session was one of them.
    if crate::web::session::cookie_session_id(headers).is_some_and(|carrier| sessions.contains(&carrier)) {
        response.headers_mut().append(header::SET_COOKIE, crate::web::session::clear_cookie(crate::web::session::SESSION_COOKIE));
    }
    Ok(response)
}

/// The NameID inside an EncryptedID, opened with one of our published encryption keys.
async fn decrypt_name_id(app: &crate::app::App, encrypted: &super::encryption::wire::EncryptedElement) -> Result<String, SamlError> {
    let keys = keys::all_unexpired(app, KeyUse::Encryption).await?;
    let encrypted = encrypted.clone();
    let plain = app
        .pool
        .run(move || {
            let ders: Vec<&[u8]> = keys.iter().map(|k| k.private_key_der()).collect();
            super::encryption::decrypt(&encrypted, &ders)
        })
        .await
        .map_err(|e| SamlError::Internal(e.into()))?
        .map_err(|err| {
            tracing::info!(error = %err, "EncryptedID not readable");
            SamlError::Unsupported("the EncryptedID cannot be decrypted")
        })?;
    // The plaintext is element content serialised in the EncryptedID's context, so its
    // prefix may be declared only there (python3-saml writes `<saml:NameID>` alone): it
    // is read inside a wrapper that declares the SAML assertion prefixes.
    let unreadable = || SamlError::Unsupported("the EncryptedID does not hold a readable NameID");
    let plain = std::str::from_utf8(&plain).map_err(|_| unreadable())?;
    let wrapped = format!(
        r#"<mamori:decrypted xmlns:mamori="urn:mamori:decrypted" xmlns:saml="{a}" xmlns:saml2="{a}">{}</mamori:decrypted>"#,
        xml::without_declaration(plain),
        a = ns::ASSERTION
    );
    let (text, _) = xml::screen(wrapped.as_bytes(), &MESSAGE_LIMITS).map_err(|_| unreadable())?;
    #[derive(Deserialize)]
    struct Decrypted {
        #[serde(rename = "NameID")]
        name_id: NameIdElement,
    }
    let decrypted: Decrypted = quick_xml::de::from_str(text).map_err(|_| unreadable())?;
    Ok(decrypted.name_id.value.trim().to_owned())
}

/// Stores a chain and tells its first service provider (or finishes at once).
async fn start_chain(state: &SharedState, headers: &HeaderMap, idp: &Idp, chain: LogoutChain) -> anyhow::Result<Response> {
    if chain.queue.is_empty() {
        return finish(state, headers, idp, &chain).await;
    }
    let app = &state.app;
    let id = crate::secrets::url_token();
    let lookup = mamori_storage::token_lookup_hash(&id);
    let data = serde_json::to_value(&chain)?;
    app.storage
        .saml_records()
        .create_pending(
            &NewSamlPending {
                lookup_hash: lookup.clone(),
                kind: SamlPendingKind::Logout,
                tenant_id: idp.tenant.id,
                sp_entity_id: chain.requester.as_ref().map(reply_sp).unwrap_or_default(),
                data: data.clone(),
                expires_at: later(app.now(), limits::PENDING_LOGOUT_TTL)?,
            },
            app.now(),
        )
        .await?;
    advance(state, headers, idp, &id, data, chain).await
}

fn reply_sp(reply: &Reply) -> String {
    match reply {
        Reply::Acs { sp_entity_id, .. } | Reply::Logout { sp_entity_id, .. } => sp_entity_id.clone(),
    }
}

/// Sends the browser to the next service provider of the chain stored under `id` (whose
/// stored data is `stored`), or finishes the chain.
async fn advance(
    state: &SharedState,
    headers: &HeaderMap,
    idp: &Idp,
    id: &str,
    stored: serde_json::Value,
    mut chain: LogoutChain,
) -> anyhow::Result<Response> {
    let app = &state.app;
    let records = app.storage.saml_records();
    let lookup = mamori_storage::token_lookup_hash(id);
    while !chain.queue.is_empty() {
        let notice = chain.queue.remove(0);
        let Some(sp) = service_providers::load(app, idp.tenant.id, &notice.sp_entity_id).await? else {
            chain.partial = true;
            continue;
        };
        let Some((url, binding)) = sp.slo_endpoint(Binding::Redirect, false) else {
            chain.partial = true;
            continue;
        };
        let request_id = new_id();
        chain.current = Some(Outstanding { sp_entity_id: notice.sp_entity_id.clone(), request_id: request_id.clone() });
        if !records.update_pending_data(&lookup, SamlPendingKind::Logout, &stored, &serde_json::to_value(&chain)?, app.now()).await? {
            // Another request moved this chain on (a double submit): let it answer.
            return Ok(logged_out_page(state, headers, true));
        }
        let key = keys::active(app, KeyUse::Signing).await?;
        let request = LogoutRequestOut {
            id: request_id,
            idp_entity_id: idp.entity_id(),
            destination: url.clone(),
            name_id: notice.name_id,
            name_id_format: notice.name_id_format,
            session_indexes: notice.session_indexes,
            now: app.now(),
        };
        let relay = id.to_owned();
        return match binding {
            Binding::Redirect => {
                let target = app
                    .pool
                    .run(move || binding::redirect_url(&url, MessageKind::Request, &request.to_xml(None), Some(&relay), &key))
                    .await??;
                Ok(binding::never_cached(Redirect::to(&target).into_response()))
            }
            Binding::Post => {
                let xml = app
                    .pool
                    .run(move || {
                        let template = signing::template(&request.id, &key).to_string().map_err(|e| anyhow::anyhow!("{e}"))?;
                        signing::sign_enveloped(&request.to_xml(Some(&template)), &key)
                    })
                    .await??;
                Ok(binding::post_page(state, headers, &url, MessageKind::Request, &xml, Some(id)))
            }
        };
    }
    if records.consume_pending(&lookup, SamlPendingKind::Logout, app.now()).await?.is_none() {
        return Ok(logged_out_page(state, headers, true));
    }
    finish(state, headers, idp, &chain).await
}

/// Answers the requester (or shows the page) once every SP was told.
async fn finish(state: &SharedState, headers: &HeaderMap, idp: &Idp, chain: &LogoutChain) -> anyhow::Result<Response> {
    let status = if chain.partial {
        Status {
            code: status::SUCCESS,
            sub_code: Some(status::PARTIAL_LOGOUT),
            message: "Not every service provider confirmed the logout.",
        }
    } else {
        Status::SUCCESS
    };
    match &chain.requester {
        Some(Reply::Logout { url, binding, in_response_to, relay_state, .. }) => {
            send_logout_response(state, headers, idp, url, *binding, in_response_to, relay_state.as_deref(), &status).await
        }
        _ => Ok(logged_out_page(state, headers, chain.partial)),
    }
}

fn logged_out_page(state: &SharedState, headers: &HeaderMap, partial: bool) -> Response {
    let page = PageLocale::from_request(&LangQuery::default(), headers);
    page.render(state, StatusCode::OK, "saml/logged_out.html", serde_json::json!({ "partial": partial }))
}

/// A LogoutResponse from a service provider we told (§4.4.4.2).
async fn logout_response(state: &SharedState, headers: &HeaderMap, idp: &Idp, incoming: &Incoming) -> Outcome {
    let app = &state.app;
    let (text, message) = parse_logout_response(&incoming.xml).map_err(untrusted)?;
    let id = incoming.relay_state.clone().ok_or_else(|| untrusted(SamlError::UnexpectedLogoutResponse))?;
    let lookup = mamori_storage::token_lookup_hash(&id);
    let records = app.storage.saml_records();
    let entry = records
        .find_pending(&lookup, SamlPendingKind::Logout, app.now())
        .await
        .map_err(|e| untrusted(SamlError::from(e)))?
        .ok_or_else(|| untrusted(SamlError::Expired))?;
    if entry.tenant_id != idp.tenant.id {
        return Err(untrusted(SamlError::UnexpectedLogoutResponse));
    }
    let mut chain: LogoutChain = serde_json::from_value(entry.data.clone()).map_err(|e| untrusted(SamlError::Internal(e.into())))?;
    let issuer = message.issuer.as_ref().and_then(|i| i.value.as_deref()).map(str::trim).unwrap_or_default();
    let Some(current) = chain.current.take() else {
        return Err(untrusted(SamlError::UnexpectedLogoutResponse));
    };
    if issuer != current.sp_entity_id || message.in_response_to.as_deref() != Some(current.request_id.as_str()) {
        return Err(untrusted(SamlError::UnexpectedLogoutResponse));
    }
    // A confirmation counts only when it is authentic and says Success.
    let confirmed = match service_providers::load(app, idp.tenant.id, issuer).await.map_err(|e| untrusted(SamlError::Internal(e)))? {
        Some(sp) => {
            let root_id = message.id.clone().unwrap_or_default();
            match authenticate_message(incoming, &text, &root_id, &sp, true) {
                Ok((signed, _)) => {
                    let verified = if incoming.binding == Binding::Post {
                        parse_logout_response(signed.as_bytes()).ok().map(|m| m.1)
                    } else {
                        Some(message.clone())
                    };
                    confirms(verified.as_ref(), &idp.slo_url(), app.now())
                }
                Err(err) => {
                    tracing::info!(error = %err, sp = %issuer, "unauthenticated LogoutResponse");
                    false
                }
            }
        }
        None => false,
    };
    if !confirmed {
        chain.partial = true;
    }
    advance(state, headers, idp, &id, entry.data, chain).await.map_err(|e| (SamlError::Internal(e), None))
}

/// Whether an authenticated LogoutResponse (`None`: not authenticated) confirms the
/// logout: it says Success, names this endpoint as its Destination and was issued now
/// (its IssueInstant as fresh as a request's must be). A signed message must name where
/// it was sent, and one naming another place is discarded (SAML Core §3.2.2; Bindings
/// §3.4.5.2, §3.5.5.2); LogoutResponses are always signed here.
pub fn confirms(authenticated: Option<&LogoutResponse>, slo_url: &str, now: time::OffsetDateTime) -> bool {
    authenticated.is_some_and(|m| {
        m.destination.as_deref() == Some(slo_url)
            && m.status.as_ref().and_then(|s| s.status_code.value.as_deref()) == Some(status::SUCCESS)
            && m.issue_instant.as_ref().and_then(super::times::from_chrono).is_some_and(|t| super::times::is_fresh(t, now))
    })
}

/// A LogoutRequest we send (SAML Core §3.7.1), written by hand for schema order.
pub struct LogoutRequestOut {
    pub id: String,
    pub idp_entity_id: String,
    pub destination: String,
    pub name_id: String,
    pub name_id_format: String,
    pub session_indexes: Vec<String>,
    pub now: time::OffsetDateTime,
}

impl LogoutRequestOut {
    /// The XML, with `signature` (a template) after the Issuer when given.
    pub fn to_xml(&self, signature: Option<&str>) -> String {
        let instant = chrono_time(self.now).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        // Our own clock; saturating, as this builder cannot fail (only at year 9999).
        let until = chrono_time(self.now.saturating_add(limits::ASSERTION_TTL)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        format!(
            concat!(
                r#"<saml2p:LogoutRequest xmlns:saml2p="{p}" xmlns:saml2="{a}" ID="{id}" Version="2.0" IssueInstant="{instant}" Destination="{dest}" NotOnOrAfter="{until}" Reason="urn:oasis:names:tc:SAML:2.0:logout:user">"#,
                r#"<saml2:Issuer>{issuer}</saml2:Issuer>{sig}"#,
                r#"<saml2:NameID Format="{format}">{name}</saml2:NameID>{indexes}</saml2p:LogoutRequest>"#
            ),
            p = ns::PROTOCOL,
            a = ns::ASSERTION,
            id = escape(&self.id),
            instant = instant,
            until = until,
            dest = escape(&self.destination),
            issuer = escape(&self.idp_entity_id),
            sig = signature.unwrap_or(""),
            format = escape(&self.name_id_format),
            name = escape(&self.name_id),
            indexes = self
                .session_indexes
                .iter()
                .map(|i| format!("<saml2p:SessionIndex>{}</saml2p:SessionIndex>", escape(i)))
                .collect::<String>(),
        )
    }
}

/// Sends a signed LogoutResponse to a service provider's SingleLogoutService.
#[allow(clippy::too_many_arguments)]
pub async fn send_logout_response(
    state: &SharedState,
    headers: &HeaderMap,
    idp: &Idp,
    url: &str,
    binding: Binding,
    in_response_to: &str,
    relay_state: Option<&str>,
    status: &Status,
) -> anyhow::Result<Response> {
    let key = keys::active(&state.app, KeyUse::Signing).await?;
    let id = new_id();
    let response = LogoutResponse {
        id: Some(id.clone()),
        in_response_to: Some(in_response_to.to_owned()),
        version: Some("2.0".to_owned()),
        issue_instant: Some(chrono_time(state.app.now())),
        destination: Some(url.to_owned()),
        consent: None,
        issuer: Some(Issuer { value: Some(escape(&idp.entity_id())), ..Default::default() }),
        signature: (binding == Binding::Post).then(|| signing::template(&id, &key)),
        status: None,
    };
    let shell = response.to_string().map_err(|e| anyhow::anyhow!("{e}"))?;
    let close = "</saml2p:LogoutResponse>";
    let at = shell.rfind(close).ok_or_else(|| anyhow::anyhow!("samael wrote no LogoutResponse end tag"))?;
    let document = format!("{}{}{close}", &shell[..at], status_xml(status));
    let (url, relay) = (url.to_owned(), relay_state.map(str::to_owned));
    match binding {
        Binding::Redirect => {
            let target = state
                .app
                .pool
                .run(move || {
                    binding::redirect_url(&url, MessageKind::Response, xml::without_declaration(&document), relay.as_deref(), &key)
                })
                .await??;
            Ok(binding::never_cached(Redirect::to(&target).into_response()))
        }
        Binding::Post => {
            let xml = state.app.pool.run(move || signing::sign_enveloped(&document, &key)).await??;
            Ok(binding::post_page(state, headers, &url, MessageKind::Response, &xml, relay.as_deref()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mamori_saml_wire::messages::ParseError;

    const REQUEST: &str = r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_l1" Version="2.0" IssueInstant="2026-04-01T09:00:00Z" Destination="https://idp/slo"><saml:Issuer>https://sp.example</saml:Issuer><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">abc&amp;d</saml:NameID><samlp:SessionIndex>_s1</samlp:SessionIndex><samlp:SessionIndex>_s2</samlp:SessionIndex></samlp:LogoutRequest>"#;

    #[test]
    fn logout_requests_are_read_with_every_session_index() {
        let (_, m) = parse_logout_request(REQUEST.as_bytes()).expect("parses");
        assert_eq!(m.id, "_l1");
        assert_eq!(m.issuer.map(|i| i.value).as_deref(), Some("https://sp.example"));
        assert_eq!(m.name_id.as_ref().map(|n| n.value.as_str()), Some("abc&d"));
        assert_eq!(m.session_indexes, ["_s1", "_s2"]);
        assert!(m.encrypted_id.is_none());
        let wrong = REQUEST.replace("LogoutRequest", "AuthnRequest");
        assert!(matches!(parse_logout_request(wrong.as_bytes()), Err(ParseError::WrongMessage { .. })));
    }

    #[test]
    fn outgoing_logout_requests_follow_the_schema_order() {
        let out = LogoutRequestOut {
            id: "_x".into(),
            idp_entity_id: "https://idp/metadata".into(),
            destination: "https://sp/slo".into(),
            name_id: "a<b".into(),
            name_id_format: ns::NAMEID_PERSISTENT.into(),
            session_indexes: vec!["_s".into(), "_t".into()],
            now: time::OffsetDateTime::now_utc(),
        };
        let xml = out.to_xml(None);
        assert!(xml.find("<saml2:Issuer>").expect("issuer") < xml.find("<saml2:NameID").expect("nameid"));
        assert!(xml.find("<saml2:NameID").expect("nameid") < xml.find("<saml2p:SessionIndex>").expect("index"));
        assert!(xml.contains("a&lt;b"));
        let (_, parsed) = parse_logout_request(xml.as_bytes()).expect("our own request parses");
        assert_eq!(parsed.session_indexes, ["_s", "_t"]);
    }

    #[test]
    fn a_logout_response_confirms_only_when_authentic_successful_and_addressed_here() {
        const SLO: &str = "https://idp.example/t/demo/saml/slo";
        let now = time::macros::datetime!(2026-04-01 09:00:30 UTC);
        let xml_at = |destination: Option<&str>, code: &str, instant: &str| {
            let destination = destination.map(|d| format!(r#" Destination="{d}""#)).unwrap_or_default();
            format!(
                r#"<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" Version="2.0" IssueInstant="{instant}" InResponseTo="_q"{destination}><saml:Issuer>https://sp.example</saml:Issuer><samlp:Status><samlp:StatusCode Value="{code}"/></samlp:Status></samlp:LogoutResponse>"#
            )
        };
        let issued_at = |destination: Option<&str>, code: &str, instant: &str| {
            parse_logout_response(xml_at(destination, code, instant).as_bytes()).expect("parses").1
        };
        let response = |destination: Option<&str>, code: &str| issued_at(destination, code, "2026-04-01T09:00:00Z");
        let confirms = |m: Option<&LogoutResponse>, slo: &str| confirms(m, slo, now);
        // Honest: authenticated, addressed to this endpoint, Success.
        assert!(confirms(Some(&response(Some(SLO), status::SUCCESS)), SLO));
        // Addressed to another endpoint (another tenant's, another IdP's): discarded.
        assert!(!confirms(Some(&response(Some("https://idp.example/t/other/saml/slo"), status::SUCCESS)), SLO));
        assert!(!confirms(Some(&response(Some("https://evil.example/slo"), status::SUCCESS)), SLO));
        // Signed (every LogoutResponse counted is) but naming no Destination.
        assert!(!confirms(Some(&response(None, status::SUCCESS)), SLO));
        // Not Success, or not authenticated at all.
        assert!(!confirms(Some(&response(Some(SLO), status::RESPONDER)), SLO));
        assert!(!confirms(None, SLO));
        // Issued at a time no SP sends a fresh answer at: the far future, before the
        // calendar, long ago (an outside review's finding: these counted as Success).
        for instant in ["9999-12-31T23:59:59Z", "-0001-01-01T00:00:00Z", "2026-03-01T09:00:00Z", "2026-04-01T10:00:00Z"] {
            // (One samael cannot read is not confirmed either: it never gets this far.)
            if let Ok((_, stale)) = parse_logout_response(xml_at(Some(SLO), status::SUCCESS, instant).as_bytes()) {
                assert!(!confirms(Some(&stale), SLO), "IssueInstant {instant}");
            }
        }
        assert!(confirms(Some(&issued_at(Some(SLO), status::SUCCESS, "2026-04-01T09:00:29Z")), SLO));
    }

    #[test]
    fn chains_survive_storage() {
        let chain = LogoutChain {
            requester: Some(Reply::Logout {
                sp_entity_id: "sp".into(),
                url: "https://sp/slo".into(),
                binding: Binding::Redirect,
                in_response_to: "_r".into(),
                relay_state: None,
            }),
            queue: vec![Notice {
                sp_entity_id: "b".into(),
                name_id: "n".into(),
                name_id_format: "f".into(),
                session_indexes: vec!["i".into()],
            }],
            current: Some(Outstanding { sp_entity_id: "c".into(), request_id: "_q".into() }),
            partial: true,
        };
        let back: LogoutChain = serde_json::from_value(serde_json::to_value(&chain).expect("to")).expect("from");
        assert_eq!(back, chain);
    }
}
