//! SAML 2.0 messages as they arrive from outside, up to the point where the IdP can
//! decide anything about them: hostile-XML screening ([`xml`]), the HTTP-Redirect and
//! HTTP-POST encodings and query signatures ([`binding`]), parsing of the requests the
//! IdP accepts ([`messages`], [`encrypted`]), XML signature verification ([`verify`]), and
//! service provider metadata with the rule for its endpoints ([`metadata`],
//! [`endpoint`]). None of it may panic, hang or grow without bound on any input; the fuzz
//! targets in `idp/fuzz` drive exactly this crate ([`fuzzing`]).

pub mod binding;
pub mod c14n;
pub mod encrypted;
pub mod endpoint;
pub mod fuzzing;
pub mod messages;
pub mod metadata;
pub mod verify;
pub mod xml;

/// SAML 2.0 URIs.
pub mod ns {
    pub const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
    pub const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
    pub const METADATA: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
    pub const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
    pub const XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
    pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
    pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
    pub const NAMEID_PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
    pub const NAMEID_TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
    pub const NAMEID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
    pub const NAMEID_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
    pub const CM_BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
    pub const ATTRNAME_URI: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri";
}
