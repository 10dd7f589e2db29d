//! The Redis side of [`super::SharedStore`]. Each operation that reads and then writes is
//! one Lua script, which Redis runs atomically; every key gets a TTL when written.
//!
//! Keys (under the configured prefix, `mamori:` by default):
//! - `session:{id}` — hash: t tenant, u user ("" while logging in), d data (JSON),
//!   c created, l last seen, i idle limit, a absolute limit (Unix ms); TTL to the
//!   nearer limit, pushed forward by `touch`.
//! - `user-sessions:{user}` — set of the user's session ids, for "end all sessions";
//!   TTL at least as long as its longest session could live.
//! - `code:{hash}` — hash: g grant, d data, e expiry, c created, r redeemed; TTL to the
//!   expiry plus a grace period, so that a replay just after expiry still revokes the grant.
//! - `saml-seen:{hash}` — a request ID seen; TTL to the end of its memory.
//!
//! Scripts name some keys inside the script (built from the prefix), so this needs a
//! single Redis server or a Sentinel-managed primary, not Redis Cluster.

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, Script};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StorageError;
use crate::convert::{ms, time};
use crate::model::{AuthorizationCode, NewSession, Session};

/// How long a redeemed or expired code is remembered past its expiry.
const CODE_GRACE: Duration = Duration::from_secs(600);

/// How to reach Redis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisSettings {
    /// `redis://[:PASSWORD@]HOST:PORT[/DB]` or `rediss://…` for TLS.
    pub url: String,
    /// Put before every key, so that several deployments can share one Redis.
    pub key_prefix: String,
    /// How long to try to connect before a request fails with `Unavailable`.
    pub connect_timeout: Duration,
    /// How long to wait for an answer.
    pub response_timeout: Duration,
}

impl RedisSettings {
    pub fn new(url: impl Into<String>, key_prefix: impl Into<String>) -> RedisSettings {
        RedisSettings {
            url: url.into(),
            key_prefix: key_prefix.into(),
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(2),
        }
    }
}

#[derive(Clone)]
pub(super) struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password.
        f.debug_struct("RedisStore").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

/// What taking a code found.
pub(super) enum Taken {
    Code(AuthorizationCode),
    AlreadyUsed(Uuid),
    Expired,
    NotFound,
}

impl RedisStore {
    pub(super) fn open(settings: &RedisSettings) -> Result<RedisStore, StorageError> {
        let client = redis::Client::open(settings.url.as_str())
            .map_err(|_| StorageError::Invalid("the Redis URL is not a valid redis:// or rediss:// URL".to_owned()))?;
        // Few, quick retries: a request during an outage should fail fast with 503, and
        // the manager starts a fresh connection attempt on the next request anyway.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.connect_timeout))
            .set_response_timeout(Some(settings.response_timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client, config).map_err(redis_err)?;
        Ok(RedisStore { conn, prefix: settings.key_prefix.clone() })
    }

    pub(super) async fn ping(&self) -> Result<(), StorageError> {
        let mut conn = self.conn.clone();
        let _: String = redis::cmd("PING").query_async(&mut conn).await.map_err(redis_err)?;
        Ok(())
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}{kind}:{id}", self.prefix)
    }

    async fn run<T: redis::FromRedisValue>(&self, script: &Script, keys: &[&str], args: &[&str]) -> Result<T, StorageError> {
        let mut invocation = script.prepare_invoke();
        for key in keys {
            invocation.key(*key);
        }
        for arg in args {
            invocation.arg(*arg);
        }
        let mut conn = self.conn.clone();
        invocation.invoke_async(&mut conn).await.map_err(redis_err)
    }

    // ---- sessions ----

    pub(super) async fn session_create(&self, new: &NewSession, now: OffsetDateTime) -> Result<Session, StorageError> {
        let key = self.key("session", &new.id);
        let user = new.user_id.map(|u| u.to_string()).unwrap_or_default();
        let data = serde_json::to_string(&new.data).map_err(|e| StorageError::Invalid(format!("not serialisable: {e}")))?;
        let (now_ms, idle, absolute) = (ms(now), ms(new.idle_expires_at), ms(new.absolute_expires_at));
        let created: i64 = self
            .run(
                &SESSION_CREATE,
                &[&key],
                &[
                    &self.prefix,
                    &new.id,
                    &new.tenant_id.to_string(),
                    &user,
                    &data,
                    &now_ms.to_string(),
                    &idle.to_string(),
                    &absolute.to_string(),
                    &ttl_ms(idle.min(absolute), now_ms).to_string(),
                ],
            )
            .await?;
        if created == 0 {
            return Err(StorageError::Conflict("session already exists"));
        }
        Ok(Session {
            id: new.id.clone(),
            tenant_id: new.tenant_id,
            user_id: new.user_id,
            data: new.data.clone(),
            created_at: time("session.c", now_ms)?,
            last_seen_at: time("session.l", now_ms)?,
            idle_expires_at: time("session.i", idle)?,
            absolute_expires_at: time("session.a", absolute)?,
        })
    }

    pub(super) async fn session_get(&self, id: &str, now: OffsetDateTime) -> Result<Option<Session>, StorageError> {
        let mut conn = self.conn.clone();
        let fields: HashMap<String, String> =
            redis::cmd("HGETALL").arg(self.key("session", id)).query_async(&mut conn).await.map_err(redis_err)?;
        if fields.is_empty() {
            return Ok(None);
        }
        let session = to_session(id, &fields)?;
        Ok(session.is_alive_at(now).then_some(session))
    }

    pub(super) async fn session_touch(&self, id: &str, now: OffsetDateTime, idle_until: OffsetDateTime) -> Result<bool, StorageError> {
        let touched: i64 =
            self.run(&SESSION_TOUCH, &[&self.key("session", id)], &[&ms(now).to_string(), &ms(idle_until).to_string()]).await?;
        Ok(touched == 1)
    }

    pub(super) async fn session_update_data(&self, id: &str, data: &serde_json::Value) -> Result<(), StorageError> {
        let data = serde_json::to_string(data).map_err(|e| StorageError::Invalid(format!("not serialisable: {e}")))?;
        let updated: i64 = self.run(&SESSION_UPDATE_DATA, &[&self.key("session", id)], &[&data]).await?;
        if updated == 0 {
            return Err(StorageError::NotFound);
        }
        Ok(())
    }

    pub(super) async fn session_set_user(&self, id: &str, user_id: Option<Uuid>) -> Result<(), StorageError> {
        let user = user_id.map(|u| u.to_string()).unwrap_or_default();
        let updated: i64 = self.run(&SESSION_SET_USER, &[&self.key("session", id)], &[&self.prefix, id, &user]).await?;
        if updated == 0 {
            return Err(StorageError::NotFound);
        }
        Ok(())
    }

    pub(super) async fn session_rotate(&self, old_id: &str, new_id: &str) -> Result<(), StorageError> {
        let moved: i64 = self
            .run(&SESSION_ROTATE, &[&self.key("session", old_id), &self.key("session", new_id)], &[&self.prefix, old_id, new_id])
            .await?;
        match moved {
            1 => Ok(()),
            -1 => Err(StorageError::Conflict("session already exists")),
            _ => Err(StorageError::NotFound),
        }
    }

    pub(super) async fn session_delete(&self, id: &str) -> Result<bool, StorageError> {
        let deleted: i64 = self.run(&SESSION_DELETE, &[&self.key("session", id)], &[&self.prefix, id]).await?;
        Ok(deleted > 0)
    }

    /// The live sessions in the user's index (expired members are skipped; the index
    /// itself expires with the longest of them).
    pub(super) async fn session_list_for_user(&self, user_id: Uuid, now: OffsetDateTime) -> Result<Vec<Session>, StorageError> {
        let mut conn = self.conn.clone();
        let ids: Vec<String> =
            redis::cmd("SMEMBERS").arg(self.key("user-sessions", &user_id.to_string())).query_async(&mut conn).await.map_err(redis_err)?;
        let mut sessions = Vec::new();
        for id in ids {
            if let Some(session) = self.session_get(&id, now).await?.filter(|s| s.user_id == Some(user_id)) {
                sessions.push(session);
            }
        }
        sessions.sort_by_key(|s| s.created_at);
        Ok(sessions)
    }

    pub(super) async fn session_delete_for_user(&self, user_id: Uuid) -> Result<u64, StorageError> {
        let index = self.key("user-sessions", &user_id.to_string());
        let deleted: i64 = self.run(&SESSION_DELETE_FOR_USER, &[&index], &[&self.prefix]).await?;
        Ok(u64::try_from(deleted).unwrap_or(0))
    }

    // ---- authorization codes ----

    pub(super) async fn code_insert(
        &self,
        lookup_hash: &str,
        grant_id: Uuid,
        data: &serde_json::Value,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<AuthorizationCode, StorageError> {
        let text = serde_json::to_string(data).map_err(|e| StorageError::Invalid(format!("not serialisable: {e}")))?;
        let (now_ms, expires) = (ms(now), ms(expires_at));
        let grace = i64::try_from(CODE_GRACE.as_millis()).unwrap_or(i64::MAX);
        let ttl = ttl_ms(expires.saturating_add(grace), now_ms);
        let inserted: i64 = self
            .run(
                &CODE_INSERT,
                &[&self.key("code", lookup_hash)],
                &[&grant_id.to_string(), &text, &expires.to_string(), &now_ms.to_string(), &ttl.to_string()],
            )
            .await?;
        if inserted == 0 {
            return Err(StorageError::Conflict("code already exists"));
        }
        Ok(AuthorizationCode {
            lookup_hash: lookup_hash.to_owned(),
            grant_id,
            data: data.clone(),
            expires_at: time("code.e", expires)?,
            redeemed_at: None,
            created_at: time("code.c", now_ms)?,
        })
    }

    /// The grant a code belongs to, if the code is known.
    pub(super) async fn code_grant(&self, lookup_hash: &str) -> Result<Option<Uuid>, StorageError> {
        let mut conn = self.conn.clone();
        let grant: Option<String> =
            redis::cmd("HGET").arg(self.key("code", lookup_hash)).arg("g").query_async(&mut conn).await.map_err(redis_err)?;
        grant.map(|g| parse_uuid("code.g", &g)).transpose()
    }

    /// Marks the code redeemed and returns it, atomically: of many concurrent takes on
    /// any number of nodes exactly one gets `Code`.
    pub(super) async fn code_take(&self, lookup_hash: &str, now: OffsetDateTime) -> Result<Taken, StorageError> {
        let now_ms = ms(now);
        let reply: Vec<String> = self.run(&CODE_TAKE, &[&self.key("code", lookup_hash)], &[&now_ms.to_string()]).await?;
        let field = |i: usize| reply.get(i).map(String::as_str).ok_or_else(|| corrupt("code", "short reply"));
        match field(0)? {
            "1" => Ok(Taken::Code(AuthorizationCode {
                lookup_hash: lookup_hash.to_owned(),
                grant_id: parse_uuid("code.g", field(1)?)?,
                data: serde_json::from_str(field(2)?).map_err(|e| corrupt("code.d", e))?,
                expires_at: time("code.e", parse_ms("code.e", field(3)?)?)?,
                redeemed_at: Some(time("code.r", now_ms)?),
                created_at: time("code.c", parse_ms("code.c", field(4)?)?)?,
            })),
            "2" => Ok(Taken::AlreadyUsed(parse_uuid("code.g", field(1)?)?)),
            "3" => Ok(Taken::Expired),
            _ => Ok(Taken::NotFound),
        }
    }

    // ---- SAML replay cache ----

    pub(super) async fn remember_request_id(
        &self,
        tenant_id: Uuid,
        issuer: &str,
        request_id: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        let (now_ms, expires) = (ms(now), ms(expires_at));
        if expires <= now_ms {
            // Remembered for no time at all: nothing to store, nothing to refuse (the
            // message's own freshness check refuses old messages).
            return Ok(true);
        }
        let mut h = Sha256::new();
        h.update(tenant_id.as_bytes());
        for part in [issuer, request_id] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        let key = self.key("saml-seen", &hex::encode(h.finalize()));
        let mut conn = self.conn.clone();
        let set: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg("1")
            .arg("NX")
            .arg("PX")
            .arg(expires - now_ms)
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(set.is_some())
    }
}

impl RedisStore {
    // ---- failure counters ----

    pub(super) async fn throttle_failures(&self, hash: &str, now: OffsetDateTime) -> Result<Option<super::ThrottleWindow>, StorageError> {
        let key = self.key("throttle", hash);
        let (failures, ttl): (Option<u64>, i64) = self.run(&THROTTLE_READ, &[&key], &[]).await?;
        Ok(match failures {
            Some(failures) if ttl > 0 => {
                Some(super::ThrottleWindow { failures, ends_at: now.saturating_add(time::Duration::milliseconds(ttl)) })
            }
            _ => None,
        })
    }

    pub(super) async fn throttle_record_failure(
        &self,
        hash: &str,
        length: time::Duration,
        now: OffsetDateTime,
    ) -> Result<super::ThrottleWindow, StorageError> {
        let key = self.key("throttle", hash);
        let length_ms = i64::try_from(length.whole_milliseconds()).unwrap_or(i64::MAX).max(1);
        let (failures, ttl): (u64, i64) = self.run(&THROTTLE_COUNT, &[&key], &[&length_ms.to_string()]).await?;
        Ok(super::ThrottleWindow { failures, ends_at: now.saturating_add(time::Duration::milliseconds(ttl.max(1))) })
    }
}

// KEYS: counter. Replies {failures or nil, ttl in ms (negative when absent)}.
static THROTTLE_READ: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1])}
",
    )
});

// KEYS: counter. ARGV: window length in ms. The first failure of a window sets its
// expiry; the reply is {failures, ttl in ms}.
static THROTTLE_COUNT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if n == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
",
    )
});

/// Milliseconds from `now` to `until`, at least 1 (a TTL of 0 or less would delete the
/// key at once, and for the user index would drop other sessions' entries).
fn ttl_ms(until: i64, now: i64) -> i64 {
    until.saturating_sub(now).max(1)
}

fn to_session(id: &str, f: &HashMap<String, String>) -> Result<Session, StorageError> {
    let get = |name: &'static str| f.get(name).map(String::as_str).ok_or_else(|| corrupt("session", name));
    let user = get("u")?;
    Ok(Session {
        id: id.to_owned(),
        tenant_id: parse_uuid("session.t", get("t")?)?,
        user_id: if user.is_empty() { None } else { Some(parse_uuid("session.u", user)?) },
        data: serde_json::from_str(get("d")?).map_err(|e| corrupt("session.d", e))?,
        created_at: time("session.c", parse_ms("session.c", get("c")?)?)?,
        last_seen_at: time("session.l", parse_ms("session.l", get("l")?)?)?,
        idle_expires_at: time("session.i", parse_ms("session.i", get("i")?)?)?,
        absolute_expires_at: time("session.a", parse_ms("session.a", get("a")?)?)?,
    })
}

fn parse_uuid(field: &'static str, text: &str) -> Result<Uuid, StorageError> {
    Uuid::parse_str(text).map_err(|e| corrupt(field, e))
}

fn parse_ms(field: &'static str, text: &str) -> Result<i64, StorageError> {
    text.parse().map_err(|e| corrupt(field, e))
}

fn corrupt(what: &'static str, detail: impl fmt::Display) -> StorageError {
    StorageError::Backend(format!("unreadable Redis value {what}: {detail}"))
}

/// Connection trouble, timeouts and a server still loading its data are outages (503,
/// retry later); anything else is a backend error.
fn redis_err(e: RedisError) -> StorageError {
    use redis::{ErrorKind, ServerErrorKind};
    let transient = e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || matches!(
            e.kind(),
            ErrorKind::Server(
                ServerErrorKind::BusyLoading
                    | ServerErrorKind::TryAgain
                    | ServerErrorKind::MasterDown
                    | ServerErrorKind::ClusterDown
                    | ServerErrorKind::ReadOnly
            )
        );
    if transient {
        tracing::warn!(error = %e, "Redis unavailable");
        StorageError::Unavailable
    } else {
        StorageError::Backend(format!("redis: {e}"))
    }
}

/// Adds a session to its user's index and makes the index live at least as long as the
/// session can (its absolute limit, counted from its last activity).
const INDEX_ADD: &str = r"
local function index_add(prefix, user, id, skey)
  local idx = prefix .. 'user-sessions:' .. user
  redis.call('SADD', idx, id)
  local v = redis.call('HMGET', skey, 'l', 'a')
  local ttl = tonumber(v[2]) - tonumber(v[1])
  local p = redis.call('PTTL', skey)
  if p > ttl then ttl = p end
  if ttl < 1 then ttl = 1 end
  if redis.call('PTTL', idx) < ttl then redis.call('PEXPIRE', idx, ttl) end
end
";

fn with_index(body: &str) -> Script {
    Script::new(&format!("{INDEX_ADD}\n{body}"))
}

// KEYS: session. ARGV: prefix, id, tenant, user, data, now, idle, absolute, ttl.
static SESSION_CREATE: LazyLock<Script> = LazyLock::new(|| {
    with_index(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 't', ARGV[3], 'u', ARGV[4], 'd', ARGV[5], 'c', ARGV[6], 'l', ARGV[6], 'i', ARGV[7], 'a', ARGV[8])
redis.call('PEXPIRE', KEYS[1], ARGV[9])
if ARGV[4] ~= '' then index_add(ARGV[1], ARGV[4], ARGV[2], KEYS[1]) end
return 1
",
    )
});

// KEYS: session. ARGV: now, idle_until.
static SESSION_TOUCH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local v = redis.call('HMGET', KEYS[1], 'i', 'a')
if not v[1] then return 0 end
local now = tonumber(ARGV[1])
local a = tonumber(v[2])
if tonumber(v[1]) <= now or a <= now then return 0 end
local idle = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'l', ARGV[1], 'i', ARGV[2])
local ends = idle
if a < ends then ends = a end
local ttl = ends - now
if ttl < 1 then ttl = 1 end
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
",
    )
});

// KEYS: session. ARGV: data.
static SESSION_UPDATE_DATA: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'd', ARGV[1])
return 1
",
    )
});

// KEYS: session. ARGV: prefix, id, user ('' to unbind).
static SESSION_SET_USER: LazyLock<Script> = LazyLock::new(|| {
    with_index(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local old = redis.call('HGET', KEYS[1], 'u')
if old and old ~= '' then redis.call('SREM', ARGV[1] .. 'user-sessions:' .. old, ARGV[2]) end
redis.call('HSET', KEYS[1], 'u', ARGV[3])
if ARGV[3] ~= '' then index_add(ARGV[1], ARGV[3], ARGV[2], KEYS[1]) end
return 1
",
    )
});

// KEYS: old session, new session. ARGV: prefix, old id, new id. RENAME keeps the TTL.
static SESSION_ROTATE: LazyLock<Script> = LazyLock::new(|| {
    with_index(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
redis.call('RENAME', KEYS[1], KEYS[2])
local u = redis.call('HGET', KEYS[2], 'u')
if u and u ~= '' then
  redis.call('SREM', ARGV[1] .. 'user-sessions:' .. u, ARGV[2])
  index_add(ARGV[1], u, ARGV[3], KEYS[2])
end
return 1
",
    )
});

// KEYS: session. ARGV: prefix, id.
static SESSION_DELETE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local u = redis.call('HGET', KEYS[1], 'u')
local n = redis.call('DEL', KEYS[1])
if u and u ~= '' then redis.call('SREM', ARGV[1] .. 'user-sessions:' .. u, ARGV[2]) end
return n
",
    )
});

// KEYS: user index. ARGV: prefix.
static SESSION_DELETE_FOR_USER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local n = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  n = n + redis.call('DEL', ARGV[1] .. 'session:' .. id)
end
redis.call('DEL', KEYS[1])
return n
",
    )
});

// KEYS: code. ARGV: grant, data, expires, now, ttl.
static CODE_INSERT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'g', ARGV[1], 'd', ARGV[2], 'e', ARGV[3], 'c', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
",
    )
});

// KEYS: code. ARGV: now. Replies {'1', grant, data, expires, created} when this call
// redeemed it, {'2', grant} when it was redeemed before, {'3'} expired, {'0'} unknown.
static CODE_TAKE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local v = redis.call('HMGET', KEYS[1], 'g', 'd', 'e', 'c', 'r')
if not v[1] then return {'0'} end
if v[5] then return {'2', v[1]} end
if tonumber(v[3]) <= tonumber(ARGV[1]) then return {'3'} end
redis.call('HSET', KEYS[1], 'r', ARGV[1])
return {'1', v[1], v[2], v[3], v[4]}
",
    )
});
