//! Relying-site changes reach every node within a second. Each node caches clients (and
//! a tenant's CORS origins) so that the token endpoint needs no read of them per request;
//! an entry is used only while the tenant's relying-site version it was read under is
//! still the current one. The storage bumps that version in the same transaction as any
//! change to a client or service provider, from any surface (admin API, console, CLI,
//! dynamic registration), and a node re-reads the version of a tenant at most every
//! [`VERSION_CHECK_EVERY`]: one small read per tenant and interval, not one per request.
//!
//! The database carries the version even with `shared_state = "redis"`: it is where the
//! clients themselves live, so no message can be lost between a change and its signal
//! (Redis publish/subscribe drops messages across a restart), and PostgreSQL-only
//! clusters meet the same bound.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::app::App;

/// How long a node trusts the version it last read for a tenant. A change through
/// another node is seen within this, plus one database read.
pub const VERSION_CHECK_EVERY: Duration = Duration::from_millis(250);

/// The versions this node last read, per tenant, with when it read them.
#[derive(Default)]
pub struct CheckedVersions(Mutex<HashMap<Uuid, (Instant, i64)>>);

/// The tenant's relying-site version, read from the database at most every
/// [`VERSION_CHECK_EVERY`] per node.
pub async fn current(app: &App, tenant_id: Uuid) -> anyhow::Result<i64> {
    if let Ok(map) = app.caches.site_versions.0.lock()
        && let Some((at, version)) = map.get(&tenant_id)
        && at.elapsed() < VERSION_CHECK_EVERY
    {
        return Ok(*version);
    }
    let version = app.storage.relying_site_versions().get(tenant_id).await?;
    if let Ok(mut map) = app.caches.site_versions.0.lock() {
        if map.len() >= 10_000 {
            map.clear();
        }
        map.insert(tenant_id, (Instant::now(), version));
    }
    Ok(version)
}

/// Records read under a tenant's relying-site version, kept at most
/// [`super::RECORD_CACHE_TTL`] (the bound for changes made outside Mamori, such as by
/// hand in the database) and only while that version is current; at most `CAP` of them.
pub struct VersionedRecords<V, const CAP: usize = 10_000> {
    map: Mutex<HashMap<String, Entry<V>>>,
}

struct Entry<V> {
    tenant_id: Uuid,
    version: i64,
    at: Instant,
    value: V,
}

impl<V: Clone, const CAP: usize> VersionedRecords<V, CAP> {
    /// The entry for `key` of `tenant_id` if it is still current; else `None` and the
    /// version to store a fresh read under. The version is read before the record, so a
    /// change between the two makes the stored entry stale, never wrongly current.
    pub async fn get(&self, app: &App, tenant_id: Uuid, key: &str) -> anyhow::Result<Result<V, i64>> {
        let version = current(app, tenant_id).await?;
        let map = self.map.lock().map_err(|_| anyhow::anyhow!("record cache poisoned"))?;
        Ok(match map.get(key) {
            Some(e) if e.tenant_id == tenant_id && e.version == version && e.at.elapsed() < super::RECORD_CACHE_TTL => Ok(e.value.clone()),
            _ => Err(version),
        })
    }

    pub fn put(&self, tenant_id: Uuid, version: i64, key: &str, value: V) {
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= CAP {
                map.clear();
            }
            map.insert(key.to_owned(), Entry { tenant_id, version, at: Instant::now(), value });
        }
    }

    pub fn forget(&self, key: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(key);
        }
    }
}

impl<V, const CAP: usize> Default for VersionedRecords<V, CAP> {
    fn default() -> Self {
        VersionedRecords { map: Default::default() }
    }
}
