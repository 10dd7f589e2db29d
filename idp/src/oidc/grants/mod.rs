//! The grants of the token endpoint, one module per grant type (RFC 6749 §4).

pub mod authorization_code;
pub mod client_credentials;
pub mod refresh_token;
