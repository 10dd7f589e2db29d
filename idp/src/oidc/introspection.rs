//! Token introspection (RFC 7662) for authenticated clients of the issuer: `active` and,
//! for a live token, its claims. A client sees details only of its own tokens.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::client_auth;
use super::error::OAuthError;
use super::tokens;
use crate::state::ConnectionInfo;
use crate::state::SharedState;

pub async fn introspect(
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
        Ok(json) => super::token::no_store(axum::Json(json).into_response()),
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
    let params = super::token::form_body(headers, body)?;
    let app = &state.app;
    let client = client_auth::authenticate(app, &issuer, &super::presented::from_request(app, headers, conn, &params)).await?;
    let token = params.get("token").ok_or(OAuthError::InvalidRequest("token is missing"))?;
    let inactive = json!({ "active": false });
    let client_id = client.registered.client_id();
    let repo = app.storage.oidc_grants();
    let now = app.now();
    if let Some(refresh) = repo.find_refresh_token(&mamori_storage::token_lookup_hash(token)).await? {
        let grant = repo.get_grant(refresh.grant_id).await?;
        let live = refresh.rotated_at.is_none() && refresh.revoked_at.is_none() && refresh.expires_at > now && !grant.is_revoked();
        if !live || refresh.data["client_id"].as_str() != Some(client_id) {
            return Ok(inactive);
        }
        return Ok(json!({
            "active": true,
            "token_type": "refresh_token",
            "client_id": client_id,
            "sub": refresh.data["user_id"],
            "scope": refresh.data["scope"].as_array().map(|s| s.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(" ")),
            "exp": refresh.expires_at.unix_timestamp(),
            "iss": issuer.url,
        }));
    }
    let Some(claims) = tokens::validate(app, &issuer.url, issuer.tenant.id, token).await? else {
        return Ok(inactive);
    };
    if claims.client_id != client_id {
        return Ok(inactive);
    }
    let mut out = serde_json::to_value(&claims).map_err(|e| OAuthError::internal(&e.into()))?;
    out["active"] = true.into();
    out["token_type"] = "Bearer".into();
    if let Some(map) = out.as_object_mut() {
        map.remove("gid");
        map.remove("tid");
    }
    Ok(out)
}
