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
}

impl Problem {
    pub fn new(status: StatusCode, kind: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("https://mamori.dev/problems/{kind}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let unauthenticated = status == StatusCode::UNAUTHORIZED;
        let audited = self.kind.ends_with(WIDER_ROLE);
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
