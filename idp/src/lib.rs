//! Mamori identity provider: the server and the `mamori` command line.
#![forbid(unsafe_code)]

pub mod admin;
pub mod app;
pub mod blocking;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod demo_rp;
pub mod fields;
pub mod flows;
pub mod hashing;
pub mod mail;
pub mod metrics;
pub mod oidc;
pub mod outbound;
pub mod pki;
pub mod saml;
pub mod scim;
pub mod secrets;

pub mod server;
pub mod state;
pub mod throttle;
pub mod urlcode;

#[cfg(test)]
pub(crate) mod test_context;
pub mod web;
