//! RFC 9457 problem details: every error of the API is `application/problem+json`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::admin::AdminError;

/// The problem type of a refusal to act on a user with a wider operator role (its own
/// type, so that a client can tell it from a missing scope).
const WIDER_ROLE: &str = "wider-role";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`about:blank` when the status says it all).
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request.
    pub detail: String,
    /// For a refused value: the request field it came from (e.g. `redirect_uris`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'static str>,
    /// For a refused value: a key of Mamori's message catalogues (ja, en) that says why,
    /// for a front end to show in its user's language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_key: Option<&'static str>,
    /// Seconds for `Retry-After` (a throttled caller), sent as a header, not in the body.
    #[serde(skip)]
    #[schema(ignore)]
    pub retry_after: Option<u16>,
}

impl Problem {
    pub fn new(status: StatusCode, kind: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("https://mamori.dev/problems/{kind}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            field: None,
            message_key: None,
            retry_after: None,
        }
    }

    /// 429: too many failed attempts from the caller's address; retry after `secs`.
    pub fn throttled(secs: u64) -> Problem {
        let mut problem =
            Problem::new(StatusCode::TOO_MANY_REQUESTS, "throttled", "too many failed API token attempts from this address; retry later");
        problem.retry_after = Some(u16::try_from(secs).unwrap_or(u16::MAX));
        problem
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let unauthenticated = status == StatusCode::UNAUTHORIZED;
        let audited = self.kind.ends_with(WIDER_ROLE);
        let retry_after = self.retry_after;
        let mut response = (status, Json(self)).into_response();
        if audited {
            response.extensions_mut().insert(super::refusals::AlreadyAudited);
        }
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if unauthenticated {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"mamori-admin\""));
        }
        if let Some(secs) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<AdminError> for Problem {
    fn from(err: AdminError) -> Problem {
        match err {
            AdminError::Unauthenticated(d) => Problem::new(StatusCode::UNAUTHORIZED, "unauthenticated", d),
            AdminError::Forbidden(d) => Problem::new(StatusCode::FORBIDDEN, "forbidden", d),
            AdminError::WiderRole => Problem::new(StatusCode::FORBIDDEN, WIDER_ROLE, AdminError::WiderRole.to_string()),
            AdminError::NotFound(d) => Problem::new(StatusCode::NOT_FOUND, "not-found", d),
            AdminError::Conflict(d) => Problem::new(StatusCode::CONFLICT, "conflict", d),
            AdminError::Invalid(d) => Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", d),
            AdminError::Field(refused) => Problem {
                field: Some(refused.field),
                message_key: Some(refused.key),
                ..Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", refused.detail)
            },
            AdminError::Unavailable => {
                Problem::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the service is temporarily unavailable; retry later")
            }
            AdminError::Internal(detail) => {
                tracing::error!(%detail, "admin API internal error");
                Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
            }
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        Problem::from(self).into_response()
    }
}

pub async fn not_found() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "not-found", "no such API resource")
}

pub async fn method_not_allowed() -> Problem {
    Problem::new(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "this resource does not support the method")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_value_names_its_field_and_message_key() {
        let refusal = crate::fields::RedirectUri::parse("redirect_uris", "http://localhost:@evil.example/cb").expect_err("refused");
        let problem = Problem::from(AdminError::from(refusal.clone()));
        assert_eq!((problem.status, problem.field, problem.message_key), (422, Some("redirect_uris"), Some("oidc.redirect_uri.userinfo")));
        assert_eq!(problem.detail, refusal.detail);
        // Refused for another reason: no field is blamed.
        let problem = Problem::from(AdminError::Invalid("give jwks or jwks_uri, not both".into()));
        assert_eq!((problem.status, problem.field, problem.message_key), (422, None, None));
        let json = serde_json::to_value(Problem::new(StatusCode::NOT_FOUND, "not-found", "x")).unwrap_or_default();
        assert!(json.get("field").is_none() && json.get("message_key").is_none(), "{json}");
    }
}
