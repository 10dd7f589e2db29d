//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): ends the login session
//! (which lives on the client-certificate listener, so the browser is sent there) and
//! returns to a `post_logout_redirect_uri` registered by the client the `id_token_hint`
//! or `client_id` names, with `state`.

use axum::Extension;
use axum::extract::{Path, RawForm, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::error::OAuthError;
use super::{Params, clients, jwt, with_query};
use crate::server::SharedState;
use crate::server::listener::{ConnectionInfo, ListenerKind};
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

async fn run(state: SharedState, conn: ConnectionInfo, slug: String, headers: HeaderMap, query: String) -> Response {
    if conn.listener == ListenerKind::Main {
        // The session cookie belongs to the other listener's origin.
        let qs = if query.is_empty() { String::new() } else { format!("?{query}") };
        return Redirect::to(&format!("{}/t/{slug}/end_session{qs}", state.urls.mtls)).into_response();
    }
    match logout(&state, &slug, &headers, &query).await {
        Ok(response) => response,
        Err(err) => super::authorize::error_page(&state, &headers, &err),
    }
}

async fn logout(state: &SharedState, slug: &str, headers: &HeaderMap, query: &str) -> Result<Response, OAuthError> {
    let issuer = super::token::issuer_of(state, slug).await?;
    let params = Params::from_query(Some(query)).map_err(|_| OAuthError::InvalidRequest("a parameter was repeated"))?;
    let app = &state.app;
    // The hint must be an ID token we issued (expired is fine: it only names the client).
    let mut client_id = params.get("client_id").map(str::to_owned);
    if let Some(hint) = params.get("id_token_hint") {
        let parsed = jwt::parse(hint).map_err(|_| OAuthError::InvalidRequest("id_token_hint is not a JWT"))?;
        let jwks = super::keys::published_jwks(app).await?;
        if parsed.verify(&jwks).is_err() || parsed.claims["iss"].as_str() != Some(issuer.url.as_str()) {
            return Err(OAuthError::InvalidRequest("id_token_hint was not issued by this provider"));
        }
        let aud = match &parsed.claims["aud"] {
            serde_json::Value::String(a) => Some(a.clone()),
            serde_json::Value::Array(a) => a.first().and_then(|v| v.as_str()).map(str::to_owned),
            _ => None,
        };
        if client_id.is_some() && client_id != aud {
            return Err(OAuthError::InvalidRequest("client_id does not match id_token_hint"));
        }
        client_id = aud;
    }
    let target = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let client = match &client_id {
                Some(id) => clients::load(app, issuer.tenant.id, id).await?,
                None => None,
            };
            let Some(client) = client else {
                return Err(OAuthError::InvalidRequest("post_logout_redirect_uri needs id_token_hint or client_id"));
            };
            if !client.client.post_logout_redirect_uris.iter().any(|u| u == uri) {
                return Err(OAuthError::InvalidRequest("post_logout_redirect_uri is not registered for this client"));
            }
            Some(uri.to_owned())
        }
    };
    let clear = match session::load(app, headers).await? {
        Some(s) => session::destroy(app, &s.id).await?,
        None => axum::http::HeaderValue::from_static("mamori_session=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax"),
    };
    let mut response = match target {
        Some(uri) => {
            let extra: Vec<(&str, String)> = params.get("state").map(|s| ("state", s.to_owned())).into_iter().collect();
            let to = if extra.is_empty() { uri } else { with_query(&uri, &extra) };
            Redirect::to(&to).into_response()
        }
        None => PageLocale::from_request(&LangQuery::default(), headers).render(state, StatusCode::OK, "login/logged_out.html", serde_json::json!({})),
    };
    response.headers_mut().append(header::SET_COOKIE, clear);
    Ok(response)
}
