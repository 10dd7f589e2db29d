//! Integration tests of mamori-storage. Every test runs twice: on SQLite (a file in a
//! temporary directory) and on PostgreSQL (a fresh database per test, dropped afterwards).
//!
//! PostgreSQL: `MAMORI_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`)
//! must reach a server where that user may create databases.

#![allow(clippy::unwrap_used)]

#[macro_use]
mod harness;

mod admin;
mod brandings;
mod completion;
mod completion_device;
mod completion_method;
mod completion_reissue;
mod devices;
mod events;
mod expiry;
mod federation;
mod mail;
mod oidc;
mod passkeys;
mod pki;
mod saml;
mod schema;
mod sessions;
mod shared_state;
mod tenants;
mod tickets;
mod user_versions;
mod users;
