//! Every SAML failure, and the one place it is mapped to what the browser gets (SAML Core
//! §3.2.2.2 status codes): a signed Response or LogoutResponse with a status, sent to an
//! endpoint taken from the service provider's metadata when the request can be trusted
//! that far, else a Mamori page that says what went wrong — never an answer to an
//! address the request itself named, and never internal detail.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::Idp;
use super::binding::{Binding, BindingError, MessageKind};
use super::service_providers::AcsError;
use super::signing::SignatureError;
use super::xml::XmlRefusal;

pub mod status {
    pub const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
    pub const REQUESTER: &str = "urn:oasis:names:tc:SAML:2.0:status:Requester";
    pub const RESPONDER: &str = "urn:oasis:names:tc:SAML:2.0:status:Responder";
    pub const VERSION_MISMATCH: &str = "urn:oasis:names:tc:SAML:2.0:status:VersionMismatch";
    pub const AUTHN_FAILED: &str = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed";
    pub const INVALID_NAME_ID_POLICY: &str = "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy";
    pub const NO_AUTHN_CONTEXT: &str = "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext";
    pub const NO_PASSIVE: &str = "urn:oasis:names:tc:SAML:2.0:status:NoPassive";
    pub const PARTIAL_LOGOUT: &str = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout";
    pub const REQUEST_DENIED: &str = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied";
    pub const REQUEST_UNSUPPORTED: &str = "urn:oasis:names:tc:SAML:2.0:status:RequestUnsupported";
    pub const UNSUPPORTED_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:status:UnsupportedBinding";
    pub const UNKNOWN_PRINCIPAL: &str = "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal";
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SamlError {
    // ---- the request cannot be trusted: a page ----
    #[error("tenant not found")]
    UnknownTenant,
    #[error("binding: {0}")]
    Binding(#[from] BindingError),
    #[error("XML refused: {0}")]
    Xml(#[from] XmlRefusal),
    #[error("not a {expected}")]
    WrongMessage { expected: &'static str },
    #[error("the message does not parse: {0}")]
    Parse(String),
    #[error("the message has no Issuer")]
    NoIssuer,
    #[error("unknown service provider")]
    UnknownServiceProvider,
    #[error("AssertionConsumerService: {0}")]
    Acs(#[from] AcsError),
    #[error("the service provider requires signed requests and this one is unsigned")]
    Unsigned,
    #[error("the service provider does not take unsolicited responses")]
    Unsolicited,
    #[error("XML signature: {0}")]
    Signature(#[from] SignatureError),
    #[error("query signature: {0}")]
    QuerySignature(#[from] super::binding::QuerySignatureError),
    #[error("the message was sent to another destination")]
    WrongDestination,
    #[error("the request has expired or was already completed")]
    Expired,
    #[error("the logout response does not answer our logout request")]
    UnexpectedLogoutResponse,

    // ---- the request is trusted: a status response ----
    #[error("request ID already used")]
    Replay,
    #[error("IssueInstant outside the accepted window")]
    Stale,
    #[error("a time in the request is out of the range this IdP can compute with")]
    TimeOutOfRange,
    #[error("Version is not 2.0")]
    Version,
    #[error("NameIDPolicy: {0}")]
    NameIdPolicy(&'static str),
    #[error("the login does not meet the requested authentication context")]
    NoAuthnContext,
    #[error("IsPassive and no usable session")]
    NoPassive,
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    #[error("the response cannot be sent over the ProtocolBinding asked for")]
    UnsupportedBinding,
    #[error("the user may not log in (disabled or locked)")]
    AuthnFailed,
    #[error("the principal is not known")]
    UnknownPrincipal,
    #[error("internal: {0:#}")]
    Internal(anyhow::Error),
}

impl From<mamori_saml_wire::messages::ParseError> for SamlError {
    fn from(err: mamori_saml_wire::messages::ParseError) -> Self {
        use mamori_saml_wire::messages::ParseError;
        match err {
            ParseError::Xml(refusal) => SamlError::Xml(refusal),
            ParseError::WrongMessage { expected } => SamlError::WrongMessage { expected },
            ParseError::Parse(what) => SamlError::Parse(what),
        }
    }
}

impl From<anyhow::Error> for SamlError {
    fn from(err: anyhow::Error) -> Self {
        SamlError::Internal(err)
    }
}

impl From<mamori_storage::StorageError> for SamlError {
    fn from(err: mamori_storage::StorageError) -> Self {
        SamlError::Internal(err.into())
    }
}

/// A SAML status: top-level code, optional second-level code, and a message chosen
/// here (never an error's own text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub code: &'static str,
    pub sub_code: Option<&'static str>,
    pub message: &'static str,
}

impl Status {
    pub const SUCCESS: Status = Status { code: status::SUCCESS, sub_code: None, message: "" };
}

/// What the browser gets for an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A status response to the trusted endpoint.
    Status(Status),
    /// A Mamori page with this HTTP status and message key.
    Page(StatusCode, &'static str),
}

impl SamlError {
    /// The one mapping of errors to answers. `trusted_endpoint` says whether the caller
    /// has an endpoint from the SP's metadata to answer at; without one, status errors
    /// become a page too.
    pub fn answer(&self, trusted_endpoint: bool) -> Answer {
        use status::*;
        let status = |code, sub_code, message| Answer::Status(Status { code, sub_code, message });
        let answer = match self {
            SamlError::UnknownTenant => Answer::Page(StatusCode::NOT_FOUND, "error.not_found"),
            SamlError::Binding(BindingError::TooLarge) => Answer::Page(StatusCode::PAYLOAD_TOO_LARGE, "saml.error.malformed"),
            SamlError::Binding(_) | SamlError::Xml(_) | SamlError::WrongMessage { .. } | SamlError::Parse(_) => {
                Answer::Page(StatusCode::BAD_REQUEST, "saml.error.malformed")
            }
            SamlError::NoIssuer | SamlError::UnknownServiceProvider => Answer::Page(StatusCode::BAD_REQUEST, "saml.error.unknown_sp"),
            SamlError::Acs(_) => Answer::Page(StatusCode::BAD_REQUEST, "saml.error.acs"),
            SamlError::Unsigned | SamlError::Signature(_) | SamlError::QuerySignature(_) => {
                Answer::Page(StatusCode::BAD_REQUEST, "saml.error.signature")
            }
            SamlError::Unsolicited => Answer::Page(StatusCode::FORBIDDEN, "saml.error.unsolicited"),
            SamlError::WrongDestination => Answer::Page(StatusCode::BAD_REQUEST, "saml.error.destination"),
            SamlError::Expired => Answer::Page(StatusCode::BAD_REQUEST, "saml.error.expired"),
            SamlError::UnexpectedLogoutResponse => Answer::Page(StatusCode::BAD_REQUEST, "saml.error.logout_response"),
            SamlError::Replay => status(REQUESTER, Some(REQUEST_DENIED), "The request ID was already used."),
            SamlError::Stale => status(REQUESTER, Some(REQUEST_DENIED), "The request is too old or from the future."),
            SamlError::TimeOutOfRange => status(REQUESTER, None, "A time in the request is out of range."),
            SamlError::Version => status(VERSION_MISMATCH, None, "Only SAML 2.0 is supported."),
            SamlError::NameIdPolicy(_) => status(RESPONDER, Some(INVALID_NAME_ID_POLICY), "The NameID policy cannot be met."),
            SamlError::NoAuthnContext => status(RESPONDER, Some(NO_AUTHN_CONTEXT), "The requested authentication context cannot be met."),
            SamlError::NoPassive => status(RESPONDER, Some(NO_PASSIVE), "The user is not logged in."),
            SamlError::Unsupported(_) => status(REQUESTER, Some(REQUEST_UNSUPPORTED), "The request is not supported."),
            SamlError::UnsupportedBinding => status(REQUESTER, Some(UNSUPPORTED_BINDING), "Responses are sent over HTTP-POST only."),
            SamlError::AuthnFailed => status(RESPONDER, Some(AUTHN_FAILED), "The user cannot log in."),
            SamlError::UnknownPrincipal => status(REQUESTER, Some(UNKNOWN_PRINCIPAL), "The principal is not known."),
            SamlError::Internal(_) => status(RESPONDER, None, "The identity provider failed to answer."),
        };
        match answer {
            Answer::Status(_) if !trusted_endpoint => match self {
                SamlError::Internal(_) => Answer::Page(StatusCode::INTERNAL_SERVER_ERROR, "error.internal"),
                _ => Answer::Page(StatusCode::BAD_REQUEST, "saml.error.refused"),
            },
            other => other,
        }
    }
}

/// An endpoint from the service provider's metadata to answer at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Answer an AuthnRequest (or IdP-initiated SSO) at an AssertionConsumerService.
    Acs { sp_entity_id: String, acs_url: String, in_response_to: Option<String>, relay_state: Option<String> },
    /// Answer a LogoutRequest at a SingleLogoutService.
    Logout { sp_entity_id: String, url: String, binding: Binding, in_response_to: String, relay_state: Option<String> },
}

/// Answers an error: a signed status response to the trusted endpoint when the error
/// allows it and there is one, else a page. Internal detail goes to the log only.
pub async fn reject(
    state: &crate::state::SharedState,
    headers: &HeaderMap,
    idp: Option<&Idp>,
    error: SamlError,
    reply: Option<&Reply>,
) -> Response {
    match &error {
        SamlError::Internal(err) => tracing::error!(error = %format!("{err:#}"), "SAML request failed"),
        other => tracing::info!(error = %other, "SAML request refused"),
    }
    let answer = error.answer(reply.is_some() && idp.is_some());
    let page = crate::web::page::PageLocale::from_request(&crate::web::page::LangQuery::default(), headers);
    let render_page = |code: StatusCode, key: &str| {
        let message = state.app.ui.message(page.locale, key);
        page.render(state, code, "saml/error.html", serde_json::json!({ "message": message, "code": key.rsplit('.').next() }))
    };
    let (Answer::Status(status), Some(reply), Some(idp)) = (answer, reply, idp) else {
        return match answer {
            Answer::Page(code, key) => render_page(code, key),
            Answer::Status(_) => render_page(StatusCode::BAD_REQUEST, "saml.error.refused"),
        };
    };
    let sent = match reply {
        Reply::Acs { acs_url, in_response_to, relay_state, .. } => {
            let built = async {
                let key = super::keys::active(&state.app, super::keys::KeyUse::Signing).await?;
                let (entity, acs, irt, now) = (idp.entity_id(), acs_url.clone(), in_response_to.clone(), state.app.now());
                state.app.pool.run(move || super::response::failure(&entity, &acs, irt.as_deref(), &status, now, &key)).await?
            };
            built.await.map(|xml| super::binding::post_page(state, headers, acs_url, MessageKind::Response, &xml, relay_state.as_deref()))
        }
        Reply::Logout { url, binding, in_response_to, relay_state, .. } => {
            super::slo::send_logout_response(state, headers, idp, url, *binding, in_response_to, relay_state.as_deref(), &status).await
        }
    };
    match sent {
        Ok(response) => response,
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "SAML error response could not be built");
            render_page(StatusCode::INTERNAL_SERVER_ERROR, "error.internal")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_requests_get_pages_and_trusted_ones_statuses() {
        let page = |e: SamlError| matches!(e.answer(true), Answer::Page(..));
        assert!(page(SamlError::UnknownServiceProvider));
        assert!(page(SamlError::Acs(AcsError::NotRegistered)));
        assert!(page(SamlError::Unsigned));
        assert!(page(SamlError::Unsolicited));
        assert!(page(SamlError::Signature(SignatureError::Wrapped)));
        assert!(page(SamlError::Xml(XmlRefusal::Dtd)));
        assert!(page(SamlError::WrongDestination));
        let code = |e: SamlError| match e.answer(true) {
            Answer::Status(s) => (s.code, s.sub_code),
            Answer::Page(..) => panic!("expected a status"),
        };
        assert_eq!(code(SamlError::Replay), (status::REQUESTER, Some(status::REQUEST_DENIED)));
        assert_eq!(code(SamlError::Stale), (status::REQUESTER, Some(status::REQUEST_DENIED)));
        assert_eq!(code(SamlError::TimeOutOfRange), (status::REQUESTER, None));
        assert_eq!(code(SamlError::Version), (status::VERSION_MISMATCH, None));
        assert_eq!(code(SamlError::NoPassive), (status::RESPONDER, Some(status::NO_PASSIVE)));
        assert_eq!(code(SamlError::NoAuthnContext), (status::RESPONDER, Some(status::NO_AUTHN_CONTEXT)));
        assert_eq!(code(SamlError::NameIdPolicy("x")), (status::RESPONDER, Some(status::INVALID_NAME_ID_POLICY)));
        assert_eq!(code(SamlError::UnsupportedBinding), (status::REQUESTER, Some(status::UNSUPPORTED_BINDING)));
        // Without an endpoint from metadata, a status error is a page too.
        assert_eq!(SamlError::Replay.answer(false), Answer::Page(StatusCode::BAD_REQUEST, "saml.error.refused"));
        assert_eq!(
            SamlError::Internal(anyhow::anyhow!("db down")).answer(false),
            Answer::Page(StatusCode::INTERNAL_SERVER_ERROR, "error.internal")
        );
    }

    #[test]
    fn status_messages_never_carry_error_text() {
        let err = SamlError::Internal(anyhow::anyhow!("password=hunter2 at db"));
        match err.answer(true) {
            Answer::Status(s) => assert!(!s.message.contains("hunter2")),
            Answer::Page(..) => panic!("expected a status"),
        }
    }
}
