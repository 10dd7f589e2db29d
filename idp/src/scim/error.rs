//! RFC 7644 §3.12: every SCIM error is a `urn:ietf:params:scim:api:messages:2.0:Error`
//! document (`status` as a string, `scimType` where §3.12 defines one), served as
//! `application/scim+json`. This is the one place where domain errors meet the wire.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::admin::AdminError;

pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const SCIM_JSON: &str = "application/scim+json";

/// The `scimType` values of RFC 7644 §3.12 table 9 that Mamori uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
}

impl ScimType {
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
        }
    }
}

/// A SCIM error answer. `detail` is always a chosen sentence, never a storage error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<ScimType>,
    pub detail: String,
}

impl ScimError {
    pub fn new(status: StatusCode, scim_type: Option<ScimType>, detail: impl Into<String>) -> ScimError {
        ScimError { status, scim_type, detail: detail.into() }
    }

    /// 400 with a `scimType`.
    pub fn bad(scim_type: ScimType, detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }

    pub fn not_found(detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::NOT_FOUND, None, detail)
    }

    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = t.as_str().into();
        }
        body
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let unauthenticated = self.status == StatusCode::UNAUTHORIZED;
        let mut response = (self.status, self.body().to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if unauthenticated {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"mamori-scim\""));
        }
        response
    }
}

impl From<AdminError> for ScimError {
    fn from(err: AdminError) -> ScimError {
        match err {
            AdminError::Unauthenticated(d) => ScimError::new(StatusCode::UNAUTHORIZED, None, d),
            AdminError::Forbidden(d) => ScimError::new(StatusCode::FORBIDDEN, None, d),
            AdminError::WiderRole => ScimError::new(StatusCode::FORBIDDEN, None, AdminError::WiderRole.to_string()),
            // A tenant outside the token's reach and a missing user look the same.
            AdminError::NotFound(d) => ScimError::not_found(d),
            AdminError::Conflict(d) => ScimError::new(StatusCode::CONFLICT, Some(ScimType::Uniqueness), d),
            AdminError::Invalid(d) => ScimError::bad(ScimType::InvalidValue, d),
            AdminError::Field(refused) => ScimError::bad(ScimType::InvalidValue, refused.detail),
            AdminError::Unavailable => {
                ScimError::new(StatusCode::SERVICE_UNAVAILABLE, None, "the service is temporarily unavailable; retry later")
            }
            AdminError::Internal(detail) => {
                tracing::error!(detail, "SCIM request failed");
                ScimError::new(StatusCode::INTERNAL_SERVER_ERROR, None, "internal error")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_form_follows_rfc_7644_3_12() {
        let body = ScimError::bad(ScimType::InvalidFilter, "no").body();
        assert_eq!(body["schemas"][0], ERROR_SCHEMA);
        assert_eq!(body["status"], "400", "status is a string");
        assert_eq!(body["scimType"], "invalidFilter");
        let body = ScimError::not_found("gone").body();
        assert!(body.get("scimType").is_none());
    }

    #[test]
    fn internal_detail_never_reaches_the_client() {
        let err = ScimError::from(AdminError::Internal("SELECT * FROM users; connection refused".to_owned()));
        assert_eq!(err.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(err.detail, "internal error");
        let err = ScimError::from(AdminError::Conflict("login ID taken".to_owned()));
        assert_eq!((err.status, err.scim_type), (StatusCode::CONFLICT, Some(ScimType::Uniqueness)));
    }
}
