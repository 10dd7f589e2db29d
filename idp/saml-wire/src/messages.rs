//! Incoming SAML protocol messages, screened (`crate::xml`) and then parsed only as what
//! their root element really is: AuthnRequest (samael's schema), LogoutRequest (our own
//! serde shape, which also reads EncryptedID) and LogoutResponse (samael's schema).

use samael::schema::{AuthnRequest, LogoutResponse};
use serde::Deserialize;

use crate::encrypted::EncryptedElement;
use crate::ns;
use crate::xml::{self, MESSAGE_LIMITS, XmlRefusal};

/// Why a message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("XML refused: {0}")]
    Xml(#[from] XmlRefusal),
    #[error("not a {expected}")]
    WrongMessage { expected: &'static str },
    #[error("the message does not parse: {0}")]
    Parse(String),
}

/// Screens and parses an AuthnRequest (what the fuzz target drives).
pub fn parse_authn_request(bytes: &[u8]) -> Result<(String, AuthnRequest), ParseError> {
    let (text, root) = xml::screen(bytes, &MESSAGE_LIMITS)?;
    if !root.is(ns::PROTOCOL, "AuthnRequest") {
        return Err(ParseError::WrongMessage { expected: "AuthnRequest" });
    }
    let request: AuthnRequest = text.parse().map_err(|e: samael::schema::authn_request::Error| ParseError::Parse(e.to_string()))?;
    if root.id.as_deref() != Some(request.id.as_str()) {
        return Err(ParseError::Parse("ID".into()));
    }
    Ok((text.to_owned(), request))
}

/// A LogoutRequest as read from the wire.
#[derive(Debug, Clone, Deserialize)]
pub struct LogoutRequestMessage {
    #[serde(rename = "@ID")]
    pub id: String,
    #[serde(rename = "@Version")]
    pub version: String,
    #[serde(rename = "@IssueInstant")]
    pub issue_instant: String,
    #[serde(rename = "@Destination")]
    pub destination: Option<String>,
    #[serde(rename = "@NotOnOrAfter")]
    pub not_on_or_after: Option<String>,
    #[serde(rename = "Issuer")]
    pub issuer: Option<TextElement>,
    #[serde(rename = "NameID")]
    pub name_id: Option<NameIdElement>,
    #[serde(rename = "EncryptedID")]
    pub encrypted_id: Option<EncryptedElement>,
    #[serde(rename = "BaseID")]
    pub base_id: Option<serde::de::IgnoredAny>,
    #[serde(rename = "SessionIndex", default)]
    pub session_indexes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TextElement {
    #[serde(rename = "$text", default)]
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NameIdElement {
    #[serde(rename = "@Format")]
    pub format: Option<String>,
    #[serde(rename = "$text", default)]
    pub value: String,
}

/// Screens and parses a LogoutRequest (what the fuzz target drives).
pub fn parse_logout_request(bytes: &[u8]) -> Result<(String, LogoutRequestMessage), ParseError> {
    let (text, root) = xml::screen(bytes, &MESSAGE_LIMITS)?;
    if !root.is(ns::PROTOCOL, "LogoutRequest") {
        return Err(ParseError::WrongMessage { expected: "LogoutRequest" });
    }
    let message: LogoutRequestMessage = quick_xml::de::from_str(text).map_err(|e| ParseError::Parse(e.to_string()))?;
    if root.id.as_deref() != Some(message.id.as_str()) {
        return Err(ParseError::Parse("ID".into()));
    }
    Ok((text.to_owned(), message))
}

/// Screens and parses a LogoutResponse.
pub fn parse_logout_response(bytes: &[u8]) -> Result<(String, LogoutResponse), ParseError> {
    let (text, root) = xml::screen(bytes, &MESSAGE_LIMITS)?;
    if !root.is(ns::PROTOCOL, "LogoutResponse") {
        return Err(ParseError::WrongMessage { expected: "LogoutResponse" });
    }
    let message: LogoutResponse = text.parse().map_err(|e: samael::schema::LogoutResponseError| ParseError::Parse(e.to_string()))?;
    Ok((text.to_owned(), message))
}
