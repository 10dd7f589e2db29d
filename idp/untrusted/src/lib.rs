//! Parsers of untrusted input outside SAML: compact JWS for request objects, client
//! assertions and `id_token_hint` ([`jws`]), CSV for user imports ([`csv`]), and the
//! client certificate a browser presents at login ([`client_certificate`]), the keys
//! ([`client_keys`]) and certificates ([`site_certificate`]) relying sites register. None of it
//! may panic, hang or grow without bound on any input; the fuzz targets in `idp/fuzz`
//! drive exactly this code ([`fuzzing`]).

pub mod client_certificate;
pub mod client_keys;
pub mod csv;
pub mod fuzzing;
pub mod jws;
pub mod site_certificate;
