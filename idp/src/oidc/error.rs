//! The one place where the provider's errors become wire errors: the JSON body of
//! RFC 6749 §5.2 (token, revocation, introspection, PAR, registration), `WWW-Authenticate`
//! for bearer-protected resources (RFC 6750 §3), and the parameters of an error redirect
//! (RFC 6749 §4.1.2.1 with RFC 9207's `iss`). Descriptions are fixed texts chosen here;
//! internal detail goes to the log only.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An OAuth 2.0 / OpenID Connect error, with the description sent to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OAuthError {
    #[error("invalid_request: {0}")]
    InvalidRequest(&'static str),
    /// Client authentication failed (401).
    #[error("invalid_client: {0}")]
    InvalidClient(&'static str),
    #[error("invalid_grant: {0}")]
    InvalidGrant(&'static str),
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(&'static str),
    #[error("unsupported_grant_type")]
    UnsupportedGrantType,
    #[error("unsupported_response_type")]
    UnsupportedResponseType,
    #[error("invalid_scope: {0}")]
    InvalidScope(&'static str),
    #[error("access_denied: {0}")]
    AccessDenied(&'static str),
    #[error("login_required")]
    LoginRequired,
    #[error("consent_required")]
    ConsentRequired,
    #[error("interaction_required")]
    InteractionRequired,
    /// The login cannot reach the authentication level the client asked for.
    #[error("unmet_authentication_requirements")]
    UnmetAuthenticationRequirements,
    #[error("invalid_request_uri: {0}")]
    InvalidRequestUri(&'static str),
    #[error("invalid_request_object: {0}")]
    InvalidRequestObject(&'static str),
    #[error("request_not_supported")]
    RequestNotSupported,
    /// A bearer token is missing, expired, revoked or bound to another certificate.
    #[error("invalid_token: {0}")]
    InvalidToken(&'static str),
    #[error("insufficient_scope")]
    InsufficientScope,
    /// A bearer-protected request with no token at all: 401 whose challenge names no error
    /// (RFC 6750 §3.1: the request lacks any authentication information).
    #[error("invalid_token: no access token")]
    MissingToken,
    /// Registration (RFC 7591 §3.2.2): the description names the field at fault.
    #[error("invalid_client_metadata: {0}")]
    InvalidClientMetadata(Cow<'static, str>),
    #[error("invalid_redirect_uri: {0}")]
    InvalidRedirectUri(Cow<'static, str>),
    /// No such resource (the metadata of an unknown issuer): 404, in the same JSON shape.
    #[error("not_found: {0}")]
    NotFound(&'static str),
    #[error("server_error")]
    ServerError,
    #[error("temporarily_unavailable")]
    TemporarilyUnavailable,
    /// Too many failed client authentications (per client or source address): 429 with
    /// `Retry-After` in seconds. No credential was checked.
    #[error("temporarily_unavailable: throttled for {0} s")]
    Throttled(u64),
}

impl OAuthError {
    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) => "invalid_request",
            OAuthError::InvalidClient(_) => "invalid_client",
            OAuthError::InvalidGrant(_) => "invalid_grant",
            OAuthError::UnauthorizedClient(_) => "unauthorized_client",
            OAuthError::UnsupportedGrantType => "unsupported_grant_type",
            OAuthError::UnsupportedResponseType => "unsupported_response_type",
            OAuthError::InvalidScope(_) => "invalid_scope",
            OAuthError::AccessDenied(_) => "access_denied",
            OAuthError::LoginRequired => "login_required",
            OAuthError::ConsentRequired => "consent_required",
            OAuthError::InteractionRequired => "interaction_required",
            OAuthError::UnmetAuthenticationRequirements => "unmet_authentication_requirements",
            OAuthError::InvalidRequestUri(_) => "invalid_request_uri",
            OAuthError::InvalidRequestObject(_) => "invalid_request_object",
            OAuthError::RequestNotSupported => "request_not_supported",
            OAuthError::InvalidToken(_) | OAuthError::MissingToken => "invalid_token",
            OAuthError::InsufficientScope => "insufficient_scope",
            OAuthError::InvalidClientMetadata(_) => "invalid_client_metadata",
            OAuthError::InvalidRedirectUri(_) => "invalid_redirect_uri",
            OAuthError::NotFound(_) => "not_found",
            OAuthError::ServerError => "server_error",
            OAuthError::TemporarilyUnavailable | OAuthError::Throttled(_) => "temporarily_unavailable",
        }
    }

    pub fn description(&self) -> Option<&str> {
        match self {
            OAuthError::InvalidRequest(d)
            | OAuthError::InvalidClient(d)
            | OAuthError::InvalidGrant(d)
            | OAuthError::UnauthorizedClient(d)
            | OAuthError::InvalidScope(d)
            | OAuthError::AccessDenied(d)
            | OAuthError::InvalidRequestUri(d)
            | OAuthError::InvalidRequestObject(d)
            | OAuthError::InvalidToken(d)
            | OAuthError::NotFound(d) => Some(d),
            OAuthError::InvalidClientMetadata(d) | OAuthError::InvalidRedirectUri(d) => Some(d),
            OAuthError::MissingToken => Some("no access token"),
            OAuthError::UnmetAuthenticationRequirements => Some("the login cannot reach the requested authentication level"),
            OAuthError::Throttled(_) => Some("too many failed client authentications; retry later"),
            _ => None,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            OAuthError::InvalidClient(_) | OAuthError::InvalidToken(_) | OAuthError::MissingToken => StatusCode::UNAUTHORIZED,
            OAuthError::InsufficientScope => StatusCode::FORBIDDEN,
            OAuthError::NotFound(_) => StatusCode::NOT_FOUND,
            OAuthError::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            OAuthError::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            OAuthError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// An unexpected failure: logged with its detail, answered as `server_error` (or
    /// `temporarily_unavailable` when storage is down).
    pub fn internal(err: &anyhow::Error) -> OAuthError {
        let unavailable = err
            .chain()
            .any(|e| matches!(e.downcast_ref::<mamori_storage::StorageError>(), Some(mamori_storage::StorageError::Unavailable)));
        tracing::error!(error = %format!("{err:#}"), "OIDC request failed");
        if unavailable { OAuthError::TemporarilyUnavailable } else { OAuthError::ServerError }
    }

    /// The error's parameters for a redirect or form_post to the client.
    pub fn redirect_params(&self, state: Option<&str>, issuer: &str) -> Vec<(&'static str, String)> {
        let mut params = vec![("error", self.code().to_owned())];
        if let Some(d) = self.description() {
            params.push(("error_description", wire_text(d)));
        }
        if let Some(state) = state {
            params.push(("state", state.to_owned()));
        }
        params.push(("iss", issuer.to_owned()));
        params
    }

    fn json_body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({ "error": self.code() });
        if let Some(d) = self.description() {
            body["error_description"] = wire_text(d).into();
        }
        body
    }
}

/// Longest `error_description` sent: a sentence, not an echo of the request.
const MAX_DESCRIPTION_CHARS: usize = 300;

/// `description` in the characters RFC 6749 §5.2 allows in `error_description`
/// (%x20-21 / %x23-5B / %x5D-7E): a description that names a client's value (a grant
/// type, an auth method) may carry anything the client sent, and the others become `?`.
fn wire_text(description: &str) -> String {
    let allowed = |c: char| matches!(c, '\x20'..='\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E');
    description.chars().take(MAX_DESCRIPTION_CHARS).map(|c| if allowed(c) { c } else { '?' }).collect()
}

impl From<anyhow::Error> for OAuthError {
    fn from(err: anyhow::Error) -> Self {
        OAuthError::internal(&err)
    }
}

impl From<crate::throttle::ThrottleError> for OAuthError {
    fn from(err: crate::throttle::ThrottleError) -> Self {
        match err {
            crate::throttle::ThrottleError::Throttled(t) => OAuthError::Throttled(t.retry_after_secs),
            crate::throttle::ThrottleError::Storage(e) => e.into(),
        }
    }
}

impl From<mamori_storage::StorageError> for OAuthError {
    fn from(err: mamori_storage::StorageError) -> Self {
        OAuthError::internal(&anyhow::Error::from(err))
    }
}

/// JSON error for the back-channel endpoints; `invalid_client` carries a Basic
/// challenge (RFC 6749 §5.2), never cached.
impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), axum::Json(self.json_body())).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        match self {
            OAuthError::InvalidClient(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"mamori\""));
            }
            OAuthError::Throttled(secs) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            _ => {}
        }
        response
    }
}

/// An error of a bearer-protected resource (UserInfo): status and `WWW-Authenticate`
/// as RFC 6750 §3 says.
pub fn bearer_error(err: &OAuthError) -> Response {
    let challenge = match err {
        OAuthError::InvalidRequest(_) | OAuthError::InvalidToken(_) | OAuthError::InsufficientScope => {
            format!("Bearer realm=\"mamori\", error=\"{}\"", err.code())
        }
        _ => "Bearer realm=\"mamori\"".to_owned(),
    };
    let mut response = err.clone().into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_codes_and_statuses() {
        let cases = [
            (OAuthError::InvalidClient("x"), "invalid_client", StatusCode::UNAUTHORIZED),
            (OAuthError::InvalidGrant("x"), "invalid_grant", StatusCode::BAD_REQUEST),
            (OAuthError::UnsupportedGrantType, "unsupported_grant_type", StatusCode::BAD_REQUEST),
            (OAuthError::InvalidToken("x"), "invalid_token", StatusCode::UNAUTHORIZED),
            (OAuthError::LoginRequired, "login_required", StatusCode::BAD_REQUEST),
            (OAuthError::ServerError, "server_error", StatusCode::INTERNAL_SERVER_ERROR),
            (OAuthError::NotFound("x"), "not_found", StatusCode::NOT_FOUND),
        ];
        for (err, code, status) in cases {
            assert_eq!(err.code(), code);
            assert_eq!(err.status(), status);
        }
        let response = OAuthError::InvalidClient("bad secret").into_response();
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
        let params = OAuthError::LoginRequired.redirect_params(Some("s"), "https://idp/t/demo");
        assert_eq!(params[0], ("error", "login_required".to_owned()));
        assert!(params.contains(&("state", "s".to_owned())));
        assert!(params.contains(&("iss", "https://idp/t/demo".to_owned())));
    }

    #[test]
    fn a_request_without_a_token_is_challenged_without_an_error_code() {
        // RFC 6750 §3.1: no authentication information, no error in the challenge ...
        let missing = bearer_error(&OAuthError::MissingToken);
        assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(missing.headers()[header::WWW_AUTHENTICATE], "Bearer realm=\"mamori\"");
        // ... while a token that is presented and fails says why.
        let invalid = bearer_error(&OAuthError::InvalidToken("expired"));
        assert_eq!(invalid.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(invalid.headers()[header::WWW_AUTHENTICATE], "Bearer realm=\"mamori\", error=\"invalid_token\"");
    }

    #[test]
    fn descriptions_keep_to_the_characters_rfc_6749_allows() {
        let echoed =
            OAuthError::InvalidClientMetadata(format!("grant_types: unsupported grant type \"x\\y\u{202E}é{}", "z".repeat(400)).into());
        let body = echoed.json_body();
        let sent = body["error_description"].as_str().expect("a description");
        assert!(sent.starts_with("grant_types: unsupported grant type ?x?y??z"), "{sent}");
        assert_eq!(sent.chars().count(), MAX_DESCRIPTION_CHARS);
        let honest = OAuthError::InvalidRedirectUri("redirect_uris: a URI must not have a fragment (#...)".into());
        assert_eq!(honest.json_body()["error_description"], "redirect_uris: a URI must not have a fragment (#...)");
    }

    #[test]
    fn storage_details_never_reach_the_client() {
        let err = OAuthError::from(anyhow::Error::from(mamori_storage::StorageError::Backend("SELECT secret".into())));
        assert_eq!(err, OAuthError::ServerError);
        assert_eq!(OAuthError::from(mamori_storage::StorageError::Unavailable), OAuthError::TemporarilyUnavailable);
    }
}
