//! Mamori's storage: records on SQLite (one node) or PostgreSQL (several nodes), behind
//! repositories that speak plain Rust types ([`model`]). sea-orm stays inside this crate.
//!
//! Conventions:
//! - IDs are UUID v4; times are [`time::OffsetDateTime`] stored as Unix milliseconds
//!   (so sub-millisecond precision is dropped).
//! - Anything that depends on the current time takes `now`; the crate never reads a clock.
//! - Secrets arrive already hashed (PHC strings) or sealed (bytes); single-use tokens and
//!   session cookies are looked up by [`token_lookup_hash`].
//! - `get*` by primary key fails with [`StorageError::NotFound`]; `find*` and lookups by
//!   user-supplied keys (slug, login ID, token hash) return `Option`.
//! - Counters that guard security (lockout, ticket use, device limit, CRL numbers) are
//!   changed by conditional updates, so concurrent requests on any number of nodes count
//!   correctly.

#![forbid(unsafe_code)]

mod convert;
mod entity;
mod error;
mod migration;
pub mod model;
mod repo;
pub mod shared;
mod storage;

pub use convert::serial_key;
pub use error::StorageError;
pub use repo::{
    AdminRoles, ApiTokens, AuditEvents, CertificateAuthorities, Certificates, Completions, DEVICE_LIMIT_REACHED, Devices, LAST_PASSKEY,
    LoginEvents, MailOutbox, OidcClients, OidcGrants, PASSKEY_ALREADY_REGISTERED, PASSKEY_LIMIT_REACHED, Passkeys, PublishedCrls,
    RelyingSiteVersions, SamlRecords, SamlServiceProviders, Sessions, SigningKeys, TenantBrandings, Tenants, Throttle, Tickets, Users,
};
pub use shared::{RedisSettings, SharedStore, ThrottleWindow};
pub use storage::{Backend, PoolSettings, Storage};

use sha2::{Digest, Sha256};

/// The key under which a single-use token or session cookie is stored: lower-case hex
/// SHA-256 of the token text.
pub fn token_lookup_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// How many times the outbox tries a mail before leaving it for an operator.
pub const MAIL_MAX_ATTEMPTS: u32 = 10;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_hash_is_hex_sha256() {
        assert_eq!(token_lookup_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
