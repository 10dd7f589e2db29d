//! The shared-state store: one test body per operation, run on the database (SQLite and
//! PostgreSQL) and on the real Redis (`MAMORI_TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379`). Each Redis test uses its own key prefix and deletes its keys
//! afterwards. "Two nodes" are two independent stores (two connection pools, two Redis
//! connection managers) over the same database and Redis.

use std::future::Future;
use std::time::Duration as StdDuration;

use mamori_storage::model::{CodeRedeemError, NewSession, NewTicket, Session, TicketKind};
use mamori_storage::{RedisSettings, SharedStore, Storage, StorageError, token_lookup_hash};
use serde_json::json;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::harness::{t0, tenant, unique, user};

const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// Defines `mod NAME { fn database_sqlite(); fn database_postgres(); fn redis(); }` for
/// test functions `async fn NAME(under: Under)`.
macro_rules! on_every_store {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn database_sqlite() {
                    crate::harness::run_sqlite(true, |db| super::with_database(db.storage(), super::$name)).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn database_postgres() {
                    crate::harness::run_postgres(true, |db| super::with_database(db.storage(), super::$name)).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn redis() {
                    crate::harness::run_sqlite(true, |db| super::with_redis(db.storage(), super::$name)).await;
                }
            }
        )+
    };
}

on_every_store!(
    session_lifecycle,
    session_rotation_and_logout_everywhere,
    sessions_expire_for_real,
    codes_are_single_use,
    twenty_parallel_takes_of_one_code_on_two_nodes,
    replay_cache_accepts_an_id_once,
    replay_cache_forgets_after_expiry,
    a_form_submission_acts_once_on_two_nodes,
    throttle_counts_every_failure_on_two_nodes,
    throttle_windows_end,
    a_logins_success_is_stored_with_its_session_or_not_at_all,
);

// Counters that stay in the database whatever `shared_state` says: exact under
// concurrency on both engines.
on_both!(lockout_counts_exactly_under_concurrency, otp_attempts_count_exactly_under_concurrency);

/// A store under test, a second "node" on the same backends, and the database.
pub struct Under {
    store: SharedStore,
    node2: SharedStore,
    storage: Storage,
    redis: Option<(redis::aio::ConnectionManager, String)>,
}

impl Under {
    /// Whether a key exists in Redis (None on the database).
    async fn redis_exists(&self, suffix: &str) -> Option<bool> {
        let (conn, prefix) = self.redis.as_ref()?;
        let mut conn = conn.clone();
        let n: i64 = redis::cmd("EXISTS").arg(format!("{prefix}{suffix}")).query_async(&mut conn).await.unwrap();
        Some(n == 1)
    }

    /// Every key under the test's prefix has a TTL (checked on Redis only).
    async fn assert_every_key_expires(&self) {
        let Some((conn, prefix)) = &self.redis else { return };
        let mut conn = conn.clone();
        for key in keys(&mut conn, prefix).await {
            let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn).await.unwrap();
            assert!(ttl > 0, "{key} has no TTL ({ttl})");
        }
    }
}

fn redis_url() -> String {
    std::env::var("MAMORI_TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS_URL.into())
}

/// Runs `test` with database-backed stores.
async fn with_database<F, Fut>(storage: Storage, test: F)
where
    F: FnOnce(Under) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    test(Under { store: SharedStore::database(storage.clone()), node2: SharedStore::database(storage.clone()), storage, redis: None })
        .await;
}

/// Runs `test` with Redis-backed stores under a fresh prefix, then deletes its keys.
async fn with_redis<F, Fut>(storage: Storage, test: F)
where
    F: FnOnce(Under) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let prefix = format!("mamori-test:{}:", Uuid::new_v4().simple());
    let settings = RedisSettings::new(redis_url(), prefix.clone());
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = match redis::aio::ConnectionManager::new(client).await {
        Ok(conn) => conn,
        Err(err) => panic!(
            "Redis is not reachable at {} ({err}).\nThese tests need it: start it with \
             `redis-server --daemonize yes`, or point MAMORI_TEST_REDIS_URL at one.",
            redis_url()
        ),
    };
    let under = Under {
        store: SharedStore::redis(storage.clone(), &settings).unwrap(),
        node2: SharedStore::redis(storage.clone(), &settings).unwrap(),
        storage,
        redis: Some((conn.clone(), prefix.clone())),
    };
    let outcome = tokio::spawn(test(under)).await;
    for key in keys(&mut conn, &prefix).await {
        let _: i64 = redis::cmd("DEL").arg(key).query_async(&mut conn).await.unwrap();
    }
    if let Err(err) = outcome {
        std::panic::resume_unwind(err.into_panic());
    }
}

async fn keys(conn: &mut redis::aio::ConnectionManager, prefix: &str) -> Vec<String> {
    let mut cursor = 0u64;
    let mut all = Vec::new();
    loop {
        let (next, batch): (u64, Vec<String>) =
            redis::cmd("SCAN").arg(cursor).arg("MATCH").arg(format!("{prefix}*")).arg("COUNT").arg(1000).query_async(conn).await.unwrap();
        all.extend(batch);
        if next == 0 {
            return all;
        }
        cursor = next;
    }
}

fn new_session(tenant_id: Uuid, user_id: Option<Uuid>, now: OffsetDateTime, idle: Duration, absolute: Duration) -> NewSession {
    NewSession {
        id: token_lookup_hash(&unique("cookie")),
        tenant_id,
        user_id,
        data: json!({"step": "certificate"}),
        idle_expires_at: now + idle,
        absolute_expires_at: now + absolute,
    }
}

async fn session_lifecycle(u: Under) {
    let t = tenant(&u.storage).await;
    let usr = user(&u.storage, &t).await;
    let sessions = u.store.sessions();
    let new = new_session(t.id, None, t0(), Duration::minutes(30), Duration::minutes(480));
    let created = sessions.create(&new, t0()).await.unwrap();
    assert_eq!(created.last_seen_at, t0());
    // The other node sees it at once.
    let seen: Session = u.node2.sessions().get(&new.id, t0()).await.unwrap().unwrap();
    assert_eq!(seen, created);
    assert!(matches!(sessions.create(&new, t0()).await, Err(StorageError::Conflict(_))));

    // Idle limit, then activity pushing it forward, never past the absolute limit.
    assert!(sessions.get(&new.id, t0() + Duration::minutes(29)).await.unwrap().is_some());
    assert!(sessions.get(&new.id, t0() + Duration::minutes(30)).await.unwrap().is_none());
    let mut now = t0();
    while now + Duration::minutes(20) < t0() + Duration::minutes(480) {
        now += Duration::minutes(20);
        assert!(sessions.touch(&new.id, now, now + Duration::minutes(30)).await.unwrap());
    }
    let alive = u.node2.sessions().get(&new.id, now).await.unwrap().unwrap();
    assert_eq!((alive.last_seen_at, alive.idle_expires_at), (now, now + Duration::minutes(30)));
    let end = t0() + Duration::minutes(480);
    assert!(sessions.get(&new.id, end).await.unwrap().is_none());
    assert!(!sessions.touch(&new.id, end, end + Duration::minutes(30)).await.unwrap());

    // State and user binding, written on one node and read on the other.
    sessions.update_data(&new.id, &json!({"step": "password", "n": 2})).await.unwrap();
    sessions.set_user(&new.id, Some(usr.id)).await.unwrap();
    let read = u.node2.sessions().get(&new.id, now).await.unwrap().unwrap();
    assert_eq!(read.data, json!({"step": "password", "n": 2}));
    assert_eq!(read.user_id, Some(usr.id));
    sessions.set_user(&new.id, None).await.unwrap();
    assert_eq!(sessions.get(&new.id, now).await.unwrap().unwrap().user_id, None);

    // Unknown sessions.
    assert!(!sessions.touch("nope", now, now + Duration::minutes(1)).await.unwrap());
    assert!(matches!(sessions.update_data("nope", &json!({})).await, Err(StorageError::NotFound)));
    assert!(matches!(sessions.set_user("nope", Some(usr.id)).await, Err(StorageError::NotFound)));
    assert!(sessions.get("nope", now).await.unwrap().is_none());
    u.assert_every_key_expires().await;
}

async fn session_rotation_and_logout_everywhere(u: Under) {
    let t = tenant(&u.storage).await;
    let alice = user(&u.storage, &t).await;
    let bob = user(&u.storage, &t).await;
    let (node1, node2) = (u.store.sessions(), u.node2.sessions());
    let now = t0();
    let s1 = new_session(t.id, None, now, Duration::minutes(30), Duration::minutes(480));
    node1.create(&s1, now).await.unwrap();

    // Login: a fresh id bound to the user; the old cookie no longer works anywhere.
    let rotated = token_lookup_hash(&unique("cookie"));
    node1.rotate(&s1.id, &rotated).await.unwrap();
    node1.set_user(&rotated, Some(alice.id)).await.unwrap();
    assert!(node2.get(&s1.id, now).await.unwrap().is_none());
    assert_eq!(node2.get(&rotated, now).await.unwrap().unwrap().user_id, Some(alice.id));
    assert!(matches!(node1.rotate(&s1.id, "x").await, Err(StorageError::NotFound)));
    let other = new_session(t.id, Some(bob.id), now, Duration::minutes(30), Duration::minutes(480));
    node1.create(&other, now).await.unwrap();
    assert!(matches!(node1.rotate(&rotated, &other.id).await, Err(StorageError::Conflict(_))));

    // Logout on node 2 ends the session on node 1; twice is harmless.
    assert!(node2.delete(&rotated).await.unwrap());
    assert!(node1.get(&rotated, now).await.unwrap().is_none());
    assert!(!node1.delete(&rotated).await.unwrap());

    // "End all of Alice's sessions" (disable, password change) leaves Bob's alone,
    // including sessions bound to her by rotation and by creation.
    let a1 = new_session(t.id, Some(alice.id), now, Duration::minutes(30), Duration::minutes(480));
    let a2 = new_session(t.id, None, now, Duration::minutes(30), Duration::minutes(480));
    node1.create(&a1, now).await.unwrap();
    node2.create(&a2, now).await.unwrap();
    let a2_rotated = token_lookup_hash(&unique("cookie"));
    node2.rotate(&a2.id, &a2_rotated).await.unwrap();
    node2.set_user(&a2_rotated, Some(alice.id)).await.unwrap();
    u.assert_every_key_expires().await;
    // Either node lists both of alice's sessions, and not the other user's.
    let mut listed: Vec<String> = node1.list_for_user(alice.id, now).await.unwrap().into_iter().map(|s| s.id).collect();
    listed.sort();
    let mut expected = vec![a1.id.clone(), a2_rotated.clone()];
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(node2.delete_for_user(alice.id).await.unwrap(), 2);
    assert!(node1.list_for_user(alice.id, now).await.unwrap().is_empty());
    assert!(node1.get(&a1.id, now).await.unwrap().is_none());
    assert!(node1.get(&a2_rotated, now).await.unwrap().is_none());
    assert!(node1.get(&other.id, now).await.unwrap().is_some());
    assert_eq!(node1.delete_for_user(alice.id).await.unwrap(), 0);
}

async fn sessions_expire_for_real(u: Under) {
    let t = tenant(&u.storage).await;
    let usr = user(&u.storage, &t).await;
    let sessions = u.store.sessions();
    // Real clock: Redis must drop the key by itself once the idle limit passes.
    let now = OffsetDateTime::now_utc();
    let short = new_session(t.id, Some(usr.id), now, Duration::milliseconds(300), Duration::hours(8));
    let long = new_session(t.id, None, now, Duration::minutes(30), Duration::hours(8));
    sessions.create(&short, now).await.unwrap();
    sessions.create(&long, now).await.unwrap();
    assert!(u.redis_exists(&format!("session:{}", short.id)).await.unwrap_or(true));
    tokio::time::sleep(StdDuration::from_millis(700)).await;
    let later = OffsetDateTime::now_utc();
    assert!(sessions.get(&short.id, later).await.unwrap().is_none());
    assert!(!sessions.touch(&short.id, later, later + Duration::minutes(30)).await.unwrap());
    assert!(sessions.get(&long.id, later).await.unwrap().is_some());
    // Only Redis removes the key on its own; the database waits for purge_expired.
    assert_eq!(u.redis_exists(&format!("session:{}", short.id)).await, u.redis.as_ref().map(|_| false));
    sessions.purge_expired(later).await.unwrap();
    assert!(sessions.get(&long.id, later).await.unwrap().is_some());
    u.assert_every_key_expires().await;
}

async fn codes_are_single_use(u: Under) {
    let t = tenant(&u.storage).await;
    let usr = user(&u.storage, &t).await;
    let grants = u.storage.oidc_grants();
    let codes = u.store.authorization_codes();
    let grant = grants.create_grant(t.id, "shop", Some(usr.id), t0()).await.unwrap();
    let code = token_lookup_hash(&unique("code"));
    let data = json!({"nonce": "n-1", "scope": "openid"});
    let stored = codes.insert(&code, grant.id, &data, t0() + Duration::minutes(1), t0()).await.unwrap();
    assert_eq!((stored.grant_id, &stored.data, stored.redeemed_at), (grant.id, &data, None));
    assert!(matches!(codes.insert(&code, grant.id, &data, t0() + Duration::minutes(1), t0()).await, Err(StorageError::Conflict(_))));

    // Redeemed on node 2, then refused on node 1 — and the reuse revokes the grant.
    let redeemed = u.node2.authorization_codes().redeem(&code, t0() + Duration::seconds(5)).await.unwrap();
    assert_eq!((redeemed.grant_id, redeemed.data), (grant.id, data.clone()));
    assert_eq!(redeemed.redeemed_at, Some(t0() + Duration::seconds(5)));
    assert!(!grants.get_grant(grant.id).await.unwrap().is_revoked());
    match codes.redeem(&code, t0() + Duration::seconds(6)).await {
        Err(CodeRedeemError::AlreadyUsed { grant_id }) => assert_eq!(grant_id, grant.id),
        other => panic!("{other:?}"),
    }
    assert!(grants.get_grant(grant.id).await.unwrap().is_revoked());

    // Expired, unknown, and a fresh code of a revoked grant.
    let g2 = grants.create_grant(t.id, "shop", Some(usr.id), t0()).await.unwrap();
    let old = token_lookup_hash(&unique("code"));
    codes.insert(&old, g2.id, &json!({}), t0() + Duration::minutes(1), t0()).await.unwrap();
    assert!(matches!(codes.redeem(&old, t0() + Duration::minutes(1)).await, Err(CodeRedeemError::Expired)));
    assert!(!grants.get_grant(g2.id).await.unwrap().is_revoked());
    assert!(matches!(codes.redeem(&token_lookup_hash("never issued"), t0()).await, Err(CodeRedeemError::NotFound)));
    let late = token_lookup_hash(&unique("code"));
    codes.insert(&late, grant.id, &json!({}), t0() + Duration::minutes(1), t0()).await.unwrap();
    assert!(matches!(codes.redeem(&late, t0()).await, Err(CodeRedeemError::AlreadyUsed { .. })));
    u.assert_every_key_expires().await;
}

async fn twenty_parallel_takes_of_one_code_on_two_nodes(u: Under) {
    let t = tenant(&u.storage).await;
    let usr = user(&u.storage, &t).await;
    let grant = u.storage.oidc_grants().create_grant(t.id, "shop", Some(usr.id), t0()).await.unwrap();
    let code = token_lookup_hash(&unique("code"));
    u.store.authorization_codes().insert(&code, grant.id, &json!({}), t0() + Duration::minutes(1), t0()).await.unwrap();
    let tries = (0..20).map(|i| {
        let store = if i % 2 == 0 { u.store.clone() } else { u.node2.clone() };
        let code = code.clone();
        tokio::spawn(async move { store.authorization_codes().redeem(&code, t0()).await })
    });
    let results: Vec<_> = futures::future::join_all(tries).await.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(results.iter().filter_map(|r| r.as_ref().err()).all(|e| matches!(e, CodeRedeemError::AlreadyUsed { .. })), "{results:?}");
}

async fn replay_cache_accepts_an_id_once(u: Under) {
    let t = tenant(&u.storage).await;
    let cache = u.store.saml_replay_cache();
    let until = t0() + Duration::minutes(10);
    assert!(cache.remember(t.id, "https://sp.example", "_id1", until, t0()).await.unwrap());
    assert!(!u.node2.saml_replay_cache().remember(t.id, "https://sp.example", "_id1", until, t0()).await.unwrap());
    // The same ID from another SP is another message.
    assert!(cache.remember(t.id, "https://other.example", "_id1", until, t0()).await.unwrap());
    // Twenty concurrent deliveries of one message over two nodes: one is accepted.
    let tries = (0..20).map(|i| {
        let store = if i % 2 == 0 { u.store.clone() } else { u.node2.clone() };
        tokio::spawn(async move { store.saml_replay_cache().remember(t.id, "https://sp.example", "_race", until, t0()).await.unwrap() })
    });
    let accepted = futures::future::join_all(tries).await.into_iter().filter(|r| *r.as_ref().unwrap()).count();
    assert_eq!(accepted, 1);
    u.assert_every_key_expires().await;
}

async fn a_form_submission_acts_once_on_two_nodes(u: Under) {
    let t = tenant(&u.storage).await;
    let until = t0() + Duration::days(2);
    let tries = (0..10).map(|i| {
        let store = if i % 2 == 0 { u.store.clone() } else { u.node2.clone() };
        tokio::spawn(async move { store.form_submissions().first_use(t.id, "device-csr", "tok1", until, t0()).await.unwrap() })
    });
    let accepted = futures::future::join_all(tries).await.into_iter().filter(|r| *r.as_ref().unwrap()).count();
    assert_eq!(accepted, 1, "one of ten submissions of one form acts");
    // Another form's token, and the same token of another form, are their own.
    assert!(u.store.form_submissions().first_use(t.id, "device-csr", "tok2", until, t0()).await.unwrap());
    assert!(u.store.form_submissions().first_use(t.id, "other-form", "tok1", until, t0()).await.unwrap());
    u.assert_every_key_expires().await;
}

async fn replay_cache_forgets_after_expiry(u: Under) {
    let t = tenant(&u.storage).await;
    let cache = u.store.saml_replay_cache();
    let now = OffsetDateTime::now_utc();
    let until = now + Duration::milliseconds(300);
    assert!(cache.remember(t.id, "https://sp.example", "_short", until, now).await.unwrap());
    assert!(!cache.remember(t.id, "https://sp.example", "_short", until, now).await.unwrap());
    tokio::time::sleep(StdDuration::from_millis(600)).await;
    let later = OffsetDateTime::now_utc();
    assert!(cache.remember(t.id, "https://sp.example", "_short", later + Duration::minutes(5), later).await.unwrap());
}

async fn a_logins_success_is_stored_with_its_session_or_not_at_all(u: Under) {
    let t = tenant(&u.storage).await;
    let usr = user(&u.storage, &t).await;
    let success = |agent: &str| mamori_storage::model::NewLoginEvent {
        tenant_id: t.id,
        user_id: Some(usr.id),
        attempted_login_id: Some(usr.login_id.clone()),
        occurred_at: t0(),
        source_ip: "192.0.2.10".into(),
        result: mamori_storage::model::LoginResult::Success,
        factors: vec!["swk".into(), "pwd".into()],
        user_agent: Some(agent.into()),
        detail: None,
    };
    let agents = |page: mamori_storage::model::Page<mamori_storage::model::LoginEvent>| {
        page.items.into_iter().filter_map(|e| e.user_agent).collect::<Vec<_>>()
    };
    // Stored: the session exists on the other node, and the history says success once.
    let new = new_session(t.id, Some(usr.id), t0(), Duration::minutes(30), Duration::minutes(480));
    u.store.sessions().create_with_success(&new, &success("stored"), t0()).await.unwrap();
    assert!(u.node2.sessions().get(&new.id, t0()).await.unwrap().is_some());
    // Not stored (the session store refuses it): no success in the history either.
    let refused = u.store.sessions().create_with_success(&new, &success("refused"), t0()).await;
    assert!(matches!(refused, Err(StorageError::Conflict(_))), "{refused:?}");
    let history = u.storage.login_events().list_for_user(usr.id, t0() - Duration::days(1), 0, 10).await.unwrap();
    assert_eq!(agents(history), vec!["stored".to_owned()]);
    u.assert_every_key_expires().await;
}

async fn throttle_counts_every_failure_on_two_nodes(u: Under) {
    let now = OffsetDateTime::now_utc();
    let key = unique("client-auth:shop");
    assert_eq!(u.store.throttle().failures(&key, now).await.unwrap(), None);
    let tries = (0..20).map(|i| {
        let store = if i % 2 == 0 { u.store.clone() } else { u.node2.clone() };
        let key = key.clone();
        tokio::spawn(async move { store.throttle().record_failure(&key, Duration::minutes(1), now).await.unwrap() })
    });
    let mut counts: Vec<u64> = futures::future::join_all(tries).await.into_iter().map(|r| r.unwrap().failures).collect();
    counts.sort_unstable();
    // Every failure counted once, whichever node saw it.
    assert_eq!(counts, (1..=20).collect::<Vec<u64>>());
    let seen = u.node2.throttle().failures(&key, now).await.unwrap().expect("counted");
    assert_eq!(seen.failures, 20);
    assert!(seen.ends_at > now && seen.ends_at <= now + Duration::minutes(1) + Duration::seconds(1), "{seen:?}");
    // Another key is another counter.
    assert_eq!(u.store.throttle().failures(&unique("client-auth:other"), now).await.unwrap(), None);
    u.assert_every_key_expires().await;
}

async fn throttle_windows_end(u: Under) {
    let key = unique("admin-token:192.0.2.7");
    let now = OffsetDateTime::now_utc();
    for _ in 0..3 {
        u.store.throttle().record_failure(&key, Duration::milliseconds(300), now).await.unwrap();
    }
    assert_eq!(u.store.throttle().failures(&key, now).await.unwrap().map(|w| w.failures), Some(3));
    tokio::time::sleep(StdDuration::from_millis(600)).await;
    let later = OffsetDateTime::now_utc();
    assert_eq!(u.store.throttle().failures(&key, later).await.unwrap(), None);
    // The next failure opens a new window, counting from one.
    let fresh = u.node2.throttle().record_failure(&key, Duration::minutes(1), later).await.unwrap();
    assert_eq!(fresh.failures, 1);
    assert!(fresh.ends_at > later + Duration::seconds(50), "{fresh:?}");
    assert!(u.store.throttle().purge_expired(later + Duration::minutes(2)).await.unwrap() <= 1);
}

async fn lockout_counts_exactly_under_concurrency(s: Storage) {
    let t = tenant(&s).await;
    let usr = user(&s, &t).await;
    let threshold = 5;
    // Two "nodes": two handles, ten wrong passwords each, all at once.
    let tries = (0..20).map(|_| {
        let s = s.clone();
        tokio::spawn(async move { s.users().record_failed_password(usr.id, threshold, t0()).await.unwrap() })
    });
    let outcomes: Vec<_> = futures::future::join_all(tries).await.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(outcomes.iter().filter(|o| o.locked_now).count(), 1, "{outcomes:?}");
    let mut counted: Vec<u32> = outcomes.iter().map(|o| o.failures).collect();
    counted.sort_unstable();
    assert_eq!(counted, (1..=20).collect::<Vec<_>>(), "every failure counted once");
    let locker = outcomes.iter().find(|o| o.locked_now).unwrap();
    assert_eq!(locker.failures, threshold);
    let stored = s.users().get(usr.id).await.unwrap();
    assert!(stored.locked_at.is_some());
    assert_eq!(stored.failed_password_count, 20);
}

async fn otp_attempts_count_exactly_under_concurrency(s: Storage) {
    let t = tenant(&s).await;
    let usr = user(&s, &t).await;
    let ticket = s
        .tickets()
        .create(
            &NewTicket {
                kind: TicketKind::Enrollment,
                tenant_id: t.id,
                user_id: usr.id,
                device_id: None,
                lookup_hash: token_lookup_hash(&unique("ticket")),
                secret_hash: Some("$argon2id$placeholder".into()),
                acquisition_id: None,
                payload_sealed: None,
                expires_at: t0() + Duration::hours(1),
                attempts: 5,
                uses: 1,
            },
            t0(),
        )
        .await
        .unwrap();
    let tries = (0..20).map(|_| {
        let s = s.clone();
        tokio::spawn(async move { s.tickets().record_failed_attempt(ticket.id).await.unwrap().attempts_left })
    });
    let mut left: Vec<u32> = futures::future::join_all(tries).await.into_iter().map(|r| r.unwrap()).collect();
    left.sort_unstable();
    // Five wrong OTPs counted (4, 3, 2, 1, 0 left), the other fifteen found it locked.
    assert_eq!(left, [vec![0; 16], vec![1, 2, 3, 4]].concat());
    assert!(s.tickets().redeem(ticket.id, t0()).await.is_err());
}
