//! Token revocation (RFC 7009): a client revokes its own tokens. Revoking a refresh token
//! revokes its grant (and so the access tokens issued with it, §2.1). The answer is 200
//! whether or not the token was known.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::client_auth;
use super::error::OAuthError;
use super::tokens;
use crate::state::ConnectionInfo;
use crate::state::SharedState;

pub async fn revoke(
    State(state): State<SharedState>,
    Extension(conn): Extension<ConnectionInfo>,
    slug: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // A tenant segment that is not UTF-8 once decoded names no tenant (JSON, not axum's text).
    let Ok(Path(slug)) = slug else {
        return super::cors::vary_only(OAuthError::InvalidRequest("unknown tenant").into_response());
    };
    let params = super::token::form_body(&headers, body);
    let response = match run(&state, &conn, &slug, &headers, &params).await {
        Ok(()) => super::token::no_store(StatusCode::OK.into_response()),
        Err(err) => err.into_response(),
    };
    // As at the token endpoint: only the named client's origins read the answer.
    let named = params.as_ref().ok().and_then(|p| super::presented::named_client_id(&headers, p));
    super::cors::for_named_client(&state, Some(&slug), named.as_deref(), &headers, response).await
}

async fn run(
    state: &SharedState,
    conn: &ConnectionInfo,
    slug: &str,
    headers: &HeaderMap,
    params: &Result<super::Params, OAuthError>,
) -> Result<(), OAuthError> {
    let issuer = super::token::issuer_of(state, slug).await?;
    let params = params.as_ref().map_err(Clone::clone)?;
    let app = &state.app;
    let client = client_auth::authenticate(app, &issuer, &super::presented::from_request(app, headers, conn, params)).await?;
    let token = params.get("token").ok_or(OAuthError::InvalidRequest("token is missing"))?;
    let client_id = client.registered.client_id();
    let repo = app.storage.oidc_grants();
    let lookup = mamori_storage::token_lookup_hash(token);
    // The hint only orders the lookups (§2.1); both kinds are tried.
    if let Some(refresh) = repo.find_refresh_token(&lookup).await? {
        if refresh.data["client_id"].as_str() == Some(client_id) {
            repo.revoke_grant(refresh.grant_id, app.now()).await?;
        }
        return Ok(());
    }
    if let Some(claims) = tokens::validate(app, &issuer.url, issuer.tenant.id, token).await?
        && claims.client_id == client_id
    {
        tokens::revoke(app, &claims, token).await?;
    }
    Ok(())
}
