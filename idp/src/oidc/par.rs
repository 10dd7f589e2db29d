//! Pushed authorization requests (RFC 9126): an authenticated client posts the request
//! parameters, they are validated as at the authorization endpoint and kept for 90
//! seconds under a one-time `request_uri`.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use mamori_storage::model::{NewPendingRequest, PendingRequestKind};
use serde_json::{Value, json};

use super::PUSHED_REQUEST_TTL;
use super::authorize::{self, PUSHED_REQUEST_URI_PREFIX};
use super::client_auth;
use super::error::OAuthError;
use crate::state::ConnectionInfo;
use crate::state::SharedState;

pub async fn pushed_authorization_request(
    State(state): State<SharedState>,
    Extension(conn): Extension<ConnectionInfo>,
    slug: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // A tenant segment that is not UTF-8 once decoded names no tenant (JSON, not axum's text).
    let Ok(Path(slug)) = slug else {
        return OAuthError::InvalidRequest("unknown tenant").into_response();
    };
    match run(&state, &conn, &slug, &headers, body).await {
        Ok(json) => super::token::no_store((StatusCode::CREATED, axum::Json(json)).into_response()),
        Err(err) => err.into_response(),
    }
}

async fn run(
    state: &SharedState,
    conn: &ConnectionInfo,
    slug: &str,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Value, OAuthError> {
    let issuer = super::token::issuer_of(state, slug).await?;
    let mut params = super::token::form_body(headers, body)?;
    let app = &state.app;
    let client = client_auth::authenticate(app, &issuer, &super::presented::from_request(app, headers, conn, &params)).await?;
    if params.contains("request_uri") {
        return Err(OAuthError::InvalidRequest("request_uri cannot be pushed"));
    }
    params.insert("client_id", client.registered.client_id().to_owned());
    // Validate now, so the client hears about mistakes directly (§2.3).
    if let Err(rejection) = authorize::validate(app, &issuer, &params).await {
        return Err(rejection.error);
    }
    for name in ["client_secret", "client_assertion", "client_assertion_type"] {
        params.remove(name);
    }
    let id = crate::secrets::url_token();
    let now = app.now();
    let record = NewPendingRequest {
        lookup_hash: mamori_storage::token_lookup_hash(&id),
        kind: PendingRequestKind::Pushed,
        tenant_id: issuer.tenant.id,
        client_id: client.registered.client_id().to_owned(),
        params: serde_json::to_value(params.into_map()).map_err(|e| OAuthError::internal(&e.into()))?,
        expires_at: now + PUSHED_REQUEST_TTL,
    };
    app.storage.oidc_grants().create_pending(&record, now).await?;
    Ok(json!({ "request_uri": format!("{PUSHED_REQUEST_URI_PREFIX}{id}"), "expires_in": PUSHED_REQUEST_TTL.whole_seconds() }))
}
