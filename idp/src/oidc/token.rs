//! The token endpoint (RFC 6749 §3.2, OpenID Connect Core §3.1.3): authenticates the
//! client, dispatches on `grant_type`, and answers with `Cache-Control: no-store`.
//! Also builds what every grant hands out: access tokens in the client's format, ID
//! tokens, and refresh tokens bound to the grant.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mamori_storage::model::User;
use serde_json::{Value, json};
use uuid::Uuid;

use super::client_auth::{self, AuthenticatedClient};
use super::error::OAuthError;
use super::grants::{authorization_code, client_credentials, refresh_token};
use super::tokens::{self, AccessTokenClaims};
use super::{ACCESS_TOKEN_TTL, Issuer, Params, REFRESH_TOKEN_TTL, id_token};
use crate::app::App;
use crate::state::ConnectionInfo;
use crate::state::SharedState;

/// The parameters of a back-channel POST (RFC 6749 §3.2: `application/x-www-form-urlencoded`).
/// Any other body, and a body that cannot be read, is `invalid_request` in the protocol's
/// JSON, not the framework's plain-text 415 or 413 that a client cannot parse.
pub fn form_body(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Params, OAuthError> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
    if !form {
        return Err(OAuthError::InvalidRequest("the body must be application/x-www-form-urlencoded"));
    }
    let body = body.map_err(|_| OAuthError::InvalidRequest("the body could not be read (too large?)"))?;
    form_params(&body)
}

/// The answer to a method the endpoint does not take: 405 with `Allow: POST`, in JSON.
pub async fn post_only() -> Response {
    let mut response = OAuthError::InvalidRequest("this endpoint takes POST").into_response();
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

/// Parses a form body into parameters, refusing repeated ones.
pub fn form_params(body: &[u8]) -> Result<Params, OAuthError> {
    let text = std::str::from_utf8(body).map_err(|_| OAuthError::InvalidRequest("the body is not UTF-8"))?;
    Params::from_pairs(crate::urlcode::form_pairs(text)).map_err(|_| OAuthError::InvalidRequest("a parameter was repeated"))
}

/// The issuer of a back-channel request, or `invalid_request` for an unknown tenant (the
/// token, introspection, revocation and PAR endpoints answer in RFC 6749 §5.2's terms,
/// which have no "not found").
pub async fn issuer_of(state: &SharedState, slug: &str) -> Result<Issuer, OAuthError> {
    super::issuer(state, slug).await?.ok_or(OAuthError::InvalidRequest("unknown tenant"))
}

/// The issuer of a resource (JWK Set, UserInfo, client registration), or `404 not_found`
/// for an unknown tenant, as its discovery document is.
pub async fn issuer_of_resource(state: &SharedState, slug: &str) -> Result<Issuer, OAuthError> {
    super::issuer(state, slug).await?.ok_or(OAuthError::NotFound("unknown tenant"))
}

pub async fn token(
    State(state): State<SharedState>,
    Extension(conn): Extension<ConnectionInfo>,
    slug: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let params = form_body(&headers, body);
    let slug = slug.ok().map(|Path(slug)| slug);
    let outcome = match (&params, &slug) {
        (Ok(params), Some(slug)) => exchange(&state, &conn, slug, &headers, params).await,
        (Err(err), _) => Err(err.clone()),
        // A tenant segment that is not UTF-8 once decoded names no tenant.
        (Ok(_), None) => Err(OAuthError::InvalidRequest("unknown tenant")),
    };
    let outcome = match (outcome, &params) {
        (Err(OAuthError::ServerError), Ok(params)) if client_vanished(&state, &headers, params).await => {
            Err(OAuthError::InvalidClient("client authentication failed"))
        }
        (outcome, _) => outcome,
    };
    let grant_type = params.as_ref().ok().and_then(|p| p.get("grant_type")).unwrap_or_default();
    state.app.metrics.token_request(grant_type, outcome.as_ref().map_or_else(OAuthError::code, |_| "ok"));
    let response = match outcome {
        Ok(json) => no_store(axum::Json(json).into_response()),
        Err(err) => err.into_response(),
    };
    // A browser app reads the answer (tokens, or the error) only from its client's origins.
    let named = params.as_ref().ok().and_then(|p| super::presented::named_client_id(&headers, p));
    super::cors::for_named_client(&state, slug.as_deref(), named.as_deref(), &headers, response).await
}

/// Whether the client a failed request named is gone from the database (deleted, or
/// its tenant deleted, on another node while this one still had it cached): its writes
/// then fail on their references, which is the client being unknown, not a server error.
async fn client_vanished(state: &SharedState, headers: &HeaderMap, params: &Params) -> bool {
    let Some(client_id) = super::presented::named_client_id(headers, params) else { return false };
    matches!(state.app.storage.oidc_clients().get_by_client_id(&client_id).await, Ok(None))
}

pub fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

async fn exchange(
    state: &SharedState,
    conn: &ConnectionInfo,
    slug: &str,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Value, OAuthError> {
    let issuer = issuer_of(state, slug).await?;
    let app = &state.app;
    let client = client_auth::authenticate(app, &issuer, &super::presented::from_request(app, headers, conn, params)).await?;
    let grant_type = params.get("grant_type").ok_or(OAuthError::InvalidRequest("grant_type is missing"))?;
    let known = matches!(grant_type, "authorization_code" | "refresh_token" | "client_credentials");
    if !known {
        return Err(OAuthError::UnsupportedGrantType);
    }
    if !client.registered.allows_grant(grant_type) {
        return Err(OAuthError::UnauthorizedClient("the client may not use this grant type"));
    }
    match grant_type {
        "authorization_code" => authorization_code::exchange(app, &issuer, &client, params).await,
        "refresh_token" => refresh_token::exchange(app, &issuer, &client, params).await,
        _ => client_credentials::exchange(app, &issuer, &client, params).await,
    }
}

/// The `cnf` claim for a client that registered certificate-bound tokens (RFC 8705 §3).
pub fn confirmation(client: &AuthenticatedClient) -> Result<Option<Value>, OAuthError> {
    if !client.registered.settings.tls_client_certificate_bound_access_tokens {
        return Ok(None);
    }
    match &client.certificate_thumbprint {
        Some(t) => Ok(Some(json!({ "x5t#S256": t }))),
        None => Err(OAuthError::InvalidRequest("certificate-bound tokens need the client certificate: use the mTLS endpoint")),
    }
}

/// What a user grant hands out: the authentication facts the tokens repeat.
pub struct UserIssue<'a> {
    pub user: &'a User,
    pub grant_id: Uuid,
    pub scope: &'a [String],
    pub auth_time: i64,
    pub acr: &'a str,
    pub amr: &'a [String],
    pub nonce: Option<&'a str>,
    /// The browser session the grant came from (`sid`), if any.
    pub sid: Option<&'a str>,
    /// The refresh token already stored with the grant's write (a rotation's successor,
    /// a batched code redemption's); `None` makes and stores one when the client may
    /// refresh.
    pub stored_refresh: Option<String>,
}

/// Access token, ID token (with `openid`) and, when the client may refresh, a refresh
/// token under the same grant.
pub async fn issue_for_user(app: &App, issuer: &Issuer, client: &AuthenticatedClient, issue: UserIssue<'_>) -> Result<Value, OAuthError> {
    let now = app.now();
    let registered = &client.registered;
    let scope = issue.scope.join(" ");
    let claims = AccessTokenClaims {
        iss: issuer.url.clone(),
        sub: issue.user.id.to_string(),
        aud: issuer.url.clone(),
        client_id: registered.client_id().to_owned(),
        scope: scope.clone(),
        iat: now.unix_timestamp(),
        exp: (now + ACCESS_TOKEN_TTL).unix_timestamp(),
        jti: crate::secrets::url_token(),
        auth_time: Some(issue.auth_time),
        acr: Some(issue.acr.to_owned()),
        amr: Some(issue.amr.to_vec()),
        cnf: confirmation(client)?,
        gid: Some(issue.grant_id),
        tid: issuer.tenant.id,
        crg: Some(registered.client.id),
    };
    let access_token = tokens::issue(app, registered.client.access_token_format, &claims).await?;
    let mut response = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_TTL.whole_seconds(),
        "scope": scope,
    });
    if issue.scope.iter().any(|s| s == "openid") {
        let algorithm = registered.settings.id_token_algorithm();
        let id_token = id_token::issue(app, issuer, registered.client_id(), algorithm, &issue, &access_token).await?;
        response["id_token"] = id_token.into();
    }
    if let Some(stored) = issue.stored_refresh {
        response["refresh_token"] = stored.into();
    } else if registered.allows_grant("refresh_token") {
        let refresh = crate::secrets::url_token();
        let data = refresh_token::RefreshData {
            client_id: registered.client_id().to_owned(),
            user_id: issue.user.id,
            scope: issue.scope.to_vec(),
            auth_time: issue.auth_time,
            acr: issue.acr.to_owned(),
            amr: issue.amr.to_vec(),
            sid: issue.sid.map(str::to_owned),
        };
        let data = serde_json::to_value(&data).map_err(|e| OAuthError::internal(&e.into()))?;
        app.storage
            .oidc_grants()
            .insert_refresh_token(&mamori_storage::token_lookup_hash(&refresh), issue.grant_id, &data, now + REFRESH_TOKEN_TTL, now)
            .await?;
        response["refresh_token"] = refresh.into();
    }
    Ok(response)
}

/// The user behind a grant, if still allowed to use it.
pub async fn active_user(app: &App, user_id: Uuid) -> Result<User, OAuthError> {
    match app.storage.users().get(user_id).await {
        Ok(user) => still_active(Some(user)),
        Err(mamori_storage::StorageError::NotFound) => still_active(None),
        Err(err) => Err(err.into()),
    }
}

/// A grant's user (`None`: deleted) may use it while active and not locked.
pub fn still_active<U: std::borrow::Borrow<User>>(user: Option<U>) -> Result<U, OAuthError> {
    match user {
        Some(user) if user.borrow().status == mamori_storage::model::UserStatus::Active && !user.borrow().is_locked() => Ok(user),
        _ => Err(OAuthError::InvalidGrant("the user can no longer log in")),
    }
}
