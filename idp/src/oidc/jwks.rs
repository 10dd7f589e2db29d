//! The JWK Set document (RFC 7517 §5) of the token-signing keys, current and retiring,
//! as openidconnect's `CoreJsonWebKeySet`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::error::OAuthError;
use crate::state::SharedState;

pub async fn jwks(State(state): State<SharedState>, Path(slug): Path<String>, headers: HeaderMap) -> Response {
    let response = key_set(&state, &slug).await;
    super::cors::for_tenant(&state, &slug, &headers, response).await
}

async fn key_set(state: &SharedState, slug: &str) -> Response {
    match super::issuer(state, slug).await {
        Ok(Some(_)) => {}
        Ok(None) => return OAuthError::NotFound("unknown tenant").into_response(),
        Err(err) => return OAuthError::internal(&err).into_response(),
    }
    match super::keys::published_key_set(&state.app).await {
        Ok(set) => {
            let mut response = axum::Json(set).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/jwk-set+json"));
            response
        }
        Err(err) => OAuthError::internal(&err).into_response(),
    }
}
