//! Throttling of failed credentials that every node shares: client authentication (per
//! client and per source address) and admin API tokens (per source address). Only
//! failures count, in fixed windows kept in the shared store (the database or Redis), so
//! a guesser who moves between nodes meets the same counter. A throttled attempt is
//! refused before any hashing, so it costs next to nothing.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use mamori_storage::StorageError;
use uuid::Uuid;

use crate::app::App;

/// At most `max_failures` in any `window`.
#[derive(Clone, Copy, Debug)]
pub struct Limit {
    pub max_failures: u64,
    pub window: time::Duration,
}

/// A confidential client's failed authentications, from anywhere: high enough that a
/// guesser on many addresses cannot lock a busy client out for long, low enough that
/// guessing a secret is hopeless (and each guess is an Argon2id hash we pay for).
pub const CLIENT_AUTH_PER_CLIENT: Limit = Limit { max_failures: 100, window: time::Duration::minutes(1) };
/// Failed client authentications from one address, whatever client they name.
pub const CLIENT_AUTH_PER_SOURCE: Limit = Limit { max_failures: 30, window: time::Duration::minutes(1) };
/// Failed admin API tokens from one address.
pub const ADMIN_TOKEN_PER_SOURCE: Limit = Limit { max_failures: 20, window: time::Duration::minutes(1) };

/// One-time passwords mailed to one user, whichever login asked (each new login may ask
/// once): a mailbox cannot be flooded by starting logins over and over.
pub const EMAILED_CODES_PER_USER: Limit = Limit { max_failures: 5, window: time::Duration::minutes(15) };

/// Certificates one user has issued from CSRs: each is a signature by the CA and a row
/// that CRLs list for ever once revoked, so a script cannot make thousands.
pub const CSR_ISSUANCES_PER_USER: Limit = Limit { max_failures: 10, window: time::Duration::hours(1) };

/// One throttled subject: what it is (the key in the shared store) and its limit.
#[derive(Clone, Debug)]
pub struct Subject {
    key: String,
    limit: Limit,
}

impl Subject {
    pub fn client(tenant: Uuid, client_id: &str) -> Subject {
        Subject { key: format!("client-auth:client:{tenant}:{client_id}"), limit: CLIENT_AUTH_PER_CLIENT }
    }

    pub fn client_source(ip: IpAddr) -> Subject {
        Subject { key: format!("client-auth:source:{}", source(ip)), limit: CLIENT_AUTH_PER_SOURCE }
    }

    /// Counts codes sent rather than failures (with [`record_failure`]).
    pub fn emailed_codes(user: Uuid) -> Subject {
        Subject { key: format!("emailed-code:user:{user}"), limit: EMAILED_CODES_PER_USER }
    }

    /// Counts issuances rather than failures (with [`record_failure`]).
    pub fn csr_issuances(user: Uuid) -> Subject {
        Subject { key: format!("csr-issuance:user:{user}"), limit: CSR_ISSUANCES_PER_USER }
    }

    pub fn admin_token_source(ip: IpAddr) -> Subject {
        Subject { key: format!("admin-token:source:{}", source(ip)), limit: ADMIN_TOKEN_PER_SOURCE }
    }
}

/// An IPv6 client controls at least a /64, so it is one source; IPv4 is one address.
fn source(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// Refused for now: try again after `retry_after_secs` (for `Retry-After`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after_secs: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ThrottleError {
    #[error("too many failed attempts; retry after {} s", .0.retry_after_secs)]
    Throttled(Throttled),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Per node: when expired counters were last purged from the database.
#[derive(Debug, Default)]
pub struct Purger(Mutex<Option<Instant>>);

const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// Refuses when any subject has used up its failures in the current window.
pub async fn check(app: &App, subjects: &[Subject]) -> Result<(), ThrottleError> {
    let now = app.now();
    for subject in subjects {
        if let Some(window) = app.shared.throttle().failures(&subject.key, now).await?
            && window.failures >= subject.limit.max_failures
        {
            let wait_ms = u64::try_from((window.ends_at - now).whole_milliseconds()).unwrap_or(0);
            let retry_after_secs = wait_ms.div_ceil(1000).max(1);
            return Err(ThrottleError::Throttled(Throttled { retry_after_secs }));
        }
    }
    Ok(())
}

/// Counts a failure against every subject. Errors are logged, not returned: the attempt
/// has already failed, and its answer must not change because the count could not be kept.
pub async fn record_failure(app: &App, subjects: &[Subject]) {
    let now = app.now();
    for subject in subjects {
        if let Err(err) = app.shared.throttle().record_failure(&subject.key, subject.limit.window, now).await {
            tracing::warn!(error = %err.log_detail(), "cannot count a failed attempt for throttling");
        }
    }
    purge_now_and_then(app);
}

fn purge_now_and_then(app: &App) {
    let due = match app.throttle_purger.0.lock() {
        Ok(mut last) if last.is_none_or(|at| at.elapsed() >= PURGE_EVERY) => {
            *last = Some(Instant::now());
            true
        }
        _ => false,
    };
    if due {
        let shared = app.shared.clone();
        let now = app.now();
        tokio::spawn(async move {
            if let Err(err) = shared.throttle().purge_expired(now).await {
                tracing::warn!(error = %err.log_detail(), "purging ended throttle windows failed");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_network_is_one_source_and_mapped_ipv4_is_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(source(a), source(b));
        assert_ne!(source(a), source(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("ip");
        assert_eq!(source(mapped), "192.0.2.7");
    }
}
