//! Extractors whose rejections are problem documents: the authenticated caller, JSON
//! bodies, query strings and path parameters.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::Problem;
use super::refusals::CallerSlot;
use crate::admin::{AdminError, Principal};
use crate::state::ConnectionInfo;
use crate::state::SharedState;
use crate::throttle::{self, Subject, ThrottleError};

/// The principal behind the request's bearer token.
pub struct Caller(pub Principal);

impl FromRequestParts<SharedState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, Self::Rejection> {
        let app = &state.app;
        let source = parts
            .extensions
            .get::<ConnectionInfo>()
            .map(|conn| crate::web::request::client_ip(conn, &parts.headers, &app.config.server.trusted_proxies));
        let source_ip = source.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
        let span = tracing::Span::current();
        span.record("source_ip", tracing::field::display(&source_ip));
        let header = parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let token = header
            .and_then(|h| h.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        // Failed tokens are counted per source address on every node. A valid token is
        // never throttled: many tenants' connectors share a source (a directory service's
        // egress, a NAT), and one of them holding a revoked token must not stop the
        // others. Looking a token up is one keyed hash and an indexed read, and a random
        // 256-bit token cannot be guessed, so the limit only bounds failed traffic.
        let throttled = match (token, source) {
            (Some(_), Some(ip)) => vec![Subject::admin_token_source(ip)],
            _ => Vec::new(),
        };
        let authenticated = match token {
            Some(token) => crate::admin::tokens::authenticate(app, token, source_ip.clone()).await,
            None => Err(AdminError::Unauthenticated("send an API token as `Authorization: Bearer mamori_at_…`".to_owned())),
        };
        if matches!(authenticated, Err(AdminError::Unauthenticated(_))) {
            match throttle::check(app, &throttled).await {
                Ok(()) => throttle::record_failure(app, &throttled).await,
                Err(ThrottleError::Throttled(t)) => {
                    tracing::warn!(source_ip, method = %parts.method, path = parts.uri.path(), "admin API call refused: too many failed tokens from this address");
                    return Err(Problem::throttled(t.retry_after_secs));
                }
                Err(ThrottleError::Storage(e)) => return Err(Problem::from(AdminError::from(e))),
            }
        }
        match authenticated {
            Ok(principal) => {
                span.record("actor", tracing::field::display(&principal.actor));
                if let Some(slot) = parts.extensions.get::<CallerSlot>() {
                    slot.fill(state, &principal);
                }
                Ok(Caller(principal))
            }
            Err(err) => {
                // A security event in the log, not an audit row: see `refusals`.
                if matches!(err, AdminError::Unauthenticated(_)) {
                    tracing::warn!(source_ip, method = %parts.method, path = parts.uri.path(), sent_token = token.is_some(), "admin API call without a valid token");
                }
                Err(Problem::from(err))
            }
        }
    }
}

/// A JSON body; malformed JSON is 400, a wrong content type 415, wrong fields 422.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(JsonRejection::MissingJsonContentType(_)) => {
                Err(Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "send the body as application/json"))
            }
            Err(JsonRejection::JsonDataError(e)) => Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", e.body_text())),
            Err(e) => Err(Problem::new(StatusCode::BAD_REQUEST, "bad-request", e.body_text())),
        }
    }
}

/// Query parameters; unparsable ones are 400.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                Err(Problem::new(StatusCode::BAD_REQUEST, "bad-request", e.body_text()))
            }
            Err(e) => Err(Problem::new(StatusCode::BAD_REQUEST, "bad-request", e.body_text())),
        }
    }
}

/// Path parameters; ones that cannot be decoded are 400.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                Err(Problem::new(StatusCode::BAD_REQUEST, "bad-request", e.body_text()))
            }
            Err(e) => Err(Problem::new(StatusCode::BAD_REQUEST, "bad-request", e.body_text())),
        }
    }
}
