//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): ends the login session
//! (which lives on the client-certificate listener, so the browser is sent there) and
//! returns to a `post_logout_redirect_uri` registered by the client the `id_token_hint`
//! or `client_id` names, with `state`.
//!
//! Without an `id_token_hint` anyone can send a logged-in browser here (a link on any
//! page), so §2/§3 of the spec have the OP ask the user first: a Mamori page with a
//! CSRF-protected "log out" button that posts to `end_session/confirm`. With a valid hint
//! naming the logged-in user the request comes from a site that user logged in to, and
//! the logout happens at once; a hint naming another user asks first, like no hint.

use axum::Extension;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, RawForm, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::error::OAuthError;
use super::{Issuer, Params, clients};
use crate::state::SharedState;
use crate::state::{ConnectionInfo, ListenerKind};
use crate::urlcode::with_query;
use crate::web::context::{FormFields, PageCtx, field};
use crate::web::page::{LangQuery, PageLocale};
use crate::web::session;

pub async fn end_session_get(
    State(state): State<SharedState>,
    Extension(conn): Extension<ConnectionInfo>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    run(state, conn, slug, headers, query.unwrap_or_default()).await
}

pub async fn end_session_post(
    State(state): State<SharedState>,
    Extension(conn): Extension<ConnectionInfo>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    RawForm(body): RawForm,
) -> Response {
    run(state, conn, slug, headers, String::from_utf8_lossy(&body).into_owned()).await
}

/// What the confirmation page's hidden fields are sealed for ([`crate::web::csrf::CsrfKey::seal_fields`]).
const CONFIRM_PURPOSE: &str = "oidc end_session confirm";
/// The hidden field with the seal.
const CHECKED_FIELD: &str = "checked";

/// The user's answer on the confirmation page: log out (with the CSRF token), then go
/// where the original request asked. The hidden fields must be the ones the GET checked
/// and sealed (its client from the hint's `aud`, its URI registered for that client): a
/// page edited to name another client, or another client's URI, is refused, and the
/// target is checked again against the client's registration as it is now.
pub async fn confirm(
    State(state): State<SharedState>,
    Extension(conn): Extension<ConnectionInfo>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    form: Result<Form<FormFields>, FormRejection>,
) -> Response {
    let ctx = PageCtx::new(state.clone(), conn, headers.clone(), &LangQuery::default());
    let form = match ctx.accept_form(form) {
        Ok(form) => form,
        Err(page) => return page,
    };
    let result = async {
        let issuer = super::token::issuer_of(&state, &slug).await?;
        let optional = |name: &str| Some(field(&form, name)).filter(|v| !v.is_empty()).map(str::to_owned);
        let (client_id, uri, rp_state) = (optional("client_id"), optional("post_logout_redirect_uri"), optional("state"));
        let fields = [client_id.as_deref(), uri.as_deref(), rp_state.as_deref()];
        if !state.app.csrf.fields_sealed(CONFIRM_PURPOSE, &fields, field(&form, CHECKED_FIELD)) {
            tracing::warn!(tenant = %slug, "an RP-initiated logout confirmation came back with other fields than the page had");
            return Err(OAuthError::InvalidRequest("the logout confirmation does not match the checked request"));
        }
        let target = redirect_target(&state, &issuer, client_id.as_deref(), uri.as_deref()).await?;
        finish(&state, &headers, target, rp_state.as_deref()).await
    }
    .await;
    result.unwrap_or_else(|err| super::authorize_response::error_page(&state, &headers, &err))
}

async fn run(state: SharedState, conn: ConnectionInfo, slug: String, headers: HeaderMap, query: String) -> Response {
    if crate::fields::TenantSlug::parse(&slug).is_err() {
        return super::authorize_response::error_page(&state, &headers, &OAuthError::InvalidRequest("unknown tenant"));
    }
    if conn.listener == ListenerKind::Main {
        // The session cookie belongs to the other listener's origin.
        let qs = if query.is_empty() { String::new() } else { format!("?{query}") };
        return Redirect::to(&format!("{}/t/{slug}/end_session{qs}", state.urls.mtls)).into_response();
    }
    match logout(&state, conn, &slug, &headers, &query).await {
        Ok(response) => response,
        Err(err) => super::authorize_response::error_page(&state, &headers, &err),
    }
}

async fn logout(state: &SharedState, conn: ConnectionInfo, slug: &str, headers: &HeaderMap, query: &str) -> Result<Response, OAuthError> {
    let issuer = super::token::issuer_of(state, slug).await?;
    let params = Params::from_query(Some(query)).map_err(|_| OAuthError::InvalidRequest("a parameter was repeated"))?;
    let app = &state.app;
    // The hint must be an ID token we issued (expired is fine: it only names the client).
    let mut client_id = params.get("client_id").map(str::to_owned);
    let mut hinted_subject = None;
    if let Some(hint) = params.get("id_token_hint") {
        let hint = super::id_token::read_hint(app, &issuer, hint).await?;
        if client_id.is_some() && client_id != hint.audience {
            return Err(OAuthError::InvalidRequest("client_id does not match id_token_hint"));
        }
        client_id = hint.audience;
        hinted_subject = hint.subject;
    }
    let uri = params.get("post_logout_redirect_uri");
    let target = redirect_target(state, &issuer, client_id.as_deref(), uri).await?;
    // Who is logged in here: a hint that names someone else (any user's old ID token)
    // must not log this user out unasked (RP-Initiated Logout §2).
    let logged_in = session::load(app, headers).await?.and_then(|s| s.state.authenticated).map(|a| a.user_id.to_string());
    let hint_names_this_user = logged_in.is_some() && hinted_subject == logged_in;
    if logged_in.is_some() && !hint_names_this_user {
        // ui_locales picks the page's language, like on the login and consent pages.
        let lang =
            params.get("ui_locales").and_then(|v| v.split_whitespace().find_map(mamori_ui::Locale::from_tag)).map(|l| l.tag().to_owned());
        let ctx = PageCtx::new(state.clone(), conn, headers.clone(), &LangQuery { lang });
        let client_name = match &client_id {
            Some(id) => clients::load(app, issuer.tenant.id, id).await?.map(|c| c.client.name),
            None => None,
        };
        let rp_state = params.get("state").filter(|s| !s.is_empty());
        // The fields as checked here, sealed: the confirmation takes them only unchanged.
        let checked = app.csrf.seal_fields(CONFIRM_PURPOSE, &[client_id.as_deref(), target.as_deref(), rp_state]);
        return Ok(ctx.form(
            StatusCode::OK,
            "oidc/logout_confirm.html",
            serde_json::json!({
                "action": format!("/t/{slug}/end_session/confirm"),
                "client_name": client_name,
                // Carried to the confirmation, sealed, and checked again there.
                "client_id": client_id,
                "post_logout_redirect_uri": target,
                "state": rp_state,
                "checked": checked,
            }),
        ));
    }
    finish(state, headers, target, params.get("state")).await
}

/// The `post_logout_redirect_uri`, only when registered for the client named by the hint
/// or `client_id`.
async fn redirect_target(
    state: &SharedState,
    issuer: &Issuer,
    client_id: Option<&str>,
    uri: Option<&str>,
) -> Result<Option<String>, OAuthError> {
    let Some(uri) = uri else { return Ok(None) };
    let client = match client_id {
        Some(id) => clients::load(&state.app, issuer.tenant.id, id).await?,
        None => None,
    };
    let Some(client) = client else {
        return Err(OAuthError::InvalidRequest("post_logout_redirect_uri needs id_token_hint or client_id"));
    };
    if !client.client.post_logout_redirect_uris.iter().any(|u| u == uri) {
        return Err(OAuthError::InvalidRequest("post_logout_redirect_uri is not registered for this client"));
    }
    Ok(Some(uri.to_owned()))
}

/// Ends the session and goes back to the site (with `state`) or shows "logged out".
async fn finish(state: &SharedState, headers: &HeaderMap, target: Option<String>, rp_state: Option<&str>) -> Result<Response, OAuthError> {
    let app = &state.app;
    let clear = match session::load(app, headers).await? {
        Some(s) => session::destroy(app, &s.id).await?,
        None => session::clear_cookie(session::SESSION_COOKIE),
    };
    let mut response = match target {
        Some(uri) => {
            let extra: Vec<(&str, String)> = rp_state.map(|s| ("state", s.to_owned())).into_iter().collect();
            let to = if extra.is_empty() { uri } else { with_query(&uri, &extra) };
            Redirect::to(&to).into_response()
        }
        None => PageLocale::from_request(&LangQuery::default(), headers).render(
            state,
            StatusCode::OK,
            "login/logged_out.html",
            serde_json::json!({}),
        ),
    };
    response.headers_mut().append(header::SET_COOKIE, clear);
    Ok(response)
}
