//! Connecting, migrating, and what the schema itself enforces.

use mamori_storage::model::{LoginMethod, NewTicket, NewUser, TicketKind};
use mamori_storage::{Backend, PoolSettings, Storage, StorageError};
use uuid::Uuid;

use crate::harness::{t0, tenant, user};

on_both!(migrations_are_idempotent, foreign_keys_are_enforced, unique_violations_map_to_conflict, ping_and_backend);
on_both_unmigrated!(concurrent_migrations_apply_once, login_id_keys_are_backfilled_on_existing_users);

async fn migrations_are_idempotent(s: Storage) {
    let t = tenant(&s).await;
    // Already migrated by the harness: twice more changes nothing and keeps the data.
    s.migrate().await.unwrap();
    s.migrate().await.unwrap();
    assert_eq!(s.tenants().get(t.id).await.unwrap(), t);
}

/// Several nodes starting at once on a fresh database: each migrates, all succeed, and
/// the schema is usable from every one of them.
async fn concurrent_migrations_apply_once(url: String) {
    let mut nodes = Vec::new();
    for _ in 0..4 {
        nodes.push(Storage::connect(&url).await.unwrap());
    }
    let runs = nodes.iter().map(|node| {
        let node = node.clone();
        tokio::spawn(async move { node.migrate().await })
    });
    for result in futures::future::join_all(runs).await {
        result.unwrap().unwrap();
    }
    for node in &nodes {
        let t = tenant(node).await;
        assert_eq!(node.tenants().get(t.id).await.unwrap().slug, t.slug);
    }
    for node in nodes {
        node.close().await.unwrap();
    }
}

async fn foreign_keys_are_enforced(s: Storage) {
    // Many concurrent attempts, so that every pooled connection is exercised: each one
    // must have foreign keys switched on.
    let attempts = (0..16).map(|i| {
        let s = s.clone();
        tokio::spawn(async move {
            let new = NewUser::new(Uuid::new_v4(), format!("orphan-{i}"), LoginMethod::Cert);
            s.users().create(&new, t0()).await
        })
    });
    for result in futures::future::join_all(attempts).await {
        match result.unwrap() {
            Err(StorageError::Invalid(_)) => {}
            other => panic!("user without tenant was accepted: {other:?}"),
        }
    }

    let t = tenant(&s).await;
    let ticket = NewTicket {
        kind: TicketKind::Enrollment,
        tenant_id: t.id,
        user_id: Uuid::new_v4(),
        device_id: None,
        lookup_hash: mamori_storage::token_lookup_hash("orphan"),
        secret_hash: None,
        acquisition_id: None,
        payload_sealed: None,
        expires_at: t0() + time::Duration::hours(1),
        attempts: 5,
        uses: 1,
    };
    assert!(matches!(s.tickets().create(&ticket, t0()).await, Err(StorageError::Invalid(_))));

    // Cascade: deleting the tenant removes its users.
    let u = user(&s, &t).await;
    s.tenants().delete(t.id, "cessationOfOperation", t0()).await.unwrap();
    assert!(matches!(s.users().get(u.id).await, Err(StorageError::NotFound)));
}

async fn unique_violations_map_to_conflict(s: Storage) {
    let t = tenant(&s).await;
    let err = s.tenants().create(&t.slug, "again", &t.policy, t0()).await.unwrap_err();
    assert!(matches!(err, StorageError::Conflict("tenant slug already exists")), "{err:?}");
    // The text users may see carries no SQL.
    assert_eq!(err.to_string(), "conflict: tenant slug already exists");
}

async fn ping_and_backend(s: Storage) {
    s.ping().await.unwrap();
    assert!(matches!(s.backend(), Backend::Sqlite | Backend::Postgres));
}

#[tokio::test]
async fn connect_rejects_unknown_schemes() {
    let err = Storage::connect("mysql://localhost/x").await.unwrap_err();
    assert!(matches!(err, StorageError::Invalid(_)));
}

#[tokio::test]
async fn unreachable_postgres_is_unavailable() {
    let settings = PoolSettings { connect_timeout: std::time::Duration::from_millis(500), ..Default::default() };
    let err = Storage::connect_with("postgres://postgres@127.0.0.1:1/none", &settings).await.unwrap_err();
    assert!(matches!(err, StorageError::Unavailable), "{err:?}");
}

#[tokio::test]
async fn sqlite_file_uses_wal_and_in_memory_works() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.db");
    let s = Storage::connect(&format!("sqlite://{}?mode=rwc", path.display())).await.unwrap();
    assert_eq!(s.backend(), Backend::Sqlite);
    s.migrate().await.unwrap();
    tenant(&s).await;
    assert!(dir.path().join("wal.db-wal").exists(), "no write-ahead log next to the database");
    s.close().await.unwrap();

    // One connection for an in-memory database, so that every query sees the same data.
    let memory = Storage::connect("sqlite::memory:").await.unwrap();
    memory.migrate().await.unwrap();
    let t = tenant(&memory).await;
    assert_eq!(memory.tenants().get(t.id).await.unwrap(), t);
}

/// m0017 keys the users that exist when it runs: on a database that already holds users
/// (one ID differing only in case from an older one), undo m0017 and run it again, as on
/// an upgrade. It must not fail, must key every user, and must leave the later of two
/// case-twins without a key rather than refuse to start.
async fn login_id_keys_are_backfilled_on_existing_users(url: String) {
    use sea_orm::ConnectionTrait as _;
    let s = Storage::connect(&url).await.unwrap();
    s.migrate().await.unwrap();
    let (t1, t2) = (tenant(&s).await, tenant(&s).await);
    let raw = sea_orm::Database::connect(&url).await.unwrap();
    raw.execute_unprepared("DROP INDEX ux_users_tenant_login_id_key").await.unwrap();
    // Case twins are also look-alike twins (m0018): an older database had neither index.
    raw.execute_unprepared("DROP INDEX ux_users_tenant_login_id_skeleton").await.unwrap();
    let users = s.users();
    let taro = users.create(&NewUser::new(t1.id, "Taro", LoginMethod::Cert), t0()).await.unwrap();
    let twin = users.create(&NewUser::new(t1.id, "TARO", LoginMethod::Cert), t0() + time::Duration::seconds(1)).await.unwrap();
    let other = users.create(&NewUser::new(t2.id, "taro", LoginMethod::Cert), t0()).await.unwrap();
    let jiro = users.create(&NewUser::new(t1.id, "Jiro-ÄÖ", LoginMethod::Cert), t0()).await.unwrap();
    raw.execute_unprepared("ALTER TABLE users DROP COLUMN login_id_key").await.unwrap();
    raw.execute_unprepared("DELETE FROM seaql_migrations WHERE version LIKE 'm0017%'").await.unwrap();

    s.migrate().await.unwrap();
    let stmt = sea_orm::Statement::from_string(raw.get_database_backend(), "SELECT login_id, login_id_key FROM users");
    let mut keys: Vec<(String, Option<String>)> = raw
        .query_all_raw(stmt)
        .await
        .unwrap()
        .iter()
        .map(|row| (row.try_get("", "login_id").unwrap(), row.try_get("", "login_id_key").unwrap()))
        .collect();
    keys.sort();
    let expected: Vec<(String, Option<String>)> = vec![
        ("Jiro-ÄÖ".into(), Some("jiro-äö".into())),
        ("TARO".into(), None),
        ("Taro".into(), Some("taro".into())),
        ("taro".into(), Some("taro".into())),
    ];
    assert_eq!(keys, expected, "every user keyed, the later case-twin of a tenant without a key");
    assert_eq!(users.get_by_login_id(t2.id, "taro").await.unwrap().map(|u| u.id), Some(other.id));
    assert_eq!(users.get_by_login_id(t1.id, "Taro").await.unwrap().map(|u| u.id), Some(taro.id));
    // The later twin still exists and keeps its exact ID; the index holds from now on.
    assert_eq!(users.get(twin.id).await.unwrap().login_id, "TARO");
    let again = users.create(&NewUser::new(t1.id, "tArO", LoginMethod::Cert), t0()).await.unwrap_err();
    assert!(matches!(again, mamori_storage::StorageError::Conflict(_)), "{again:?}");

    // m0018 likewise: look-alikes that exist when it runs (Cyrillic р, а, у beside Latin
    // `pay`, created while no index stood) are skeleton-keyed oldest first; the later
    // look-alike keeps none, and no new one can join them.
    let pay = users.create(&NewUser::new(t1.id, "pay", LoginMethod::Cert), t0()).await.unwrap();
    let cyrillic =
        users.create(&NewUser::new(t1.id, "\u{440}\u{430}\u{443}", LoginMethod::Cert), t0() + time::Duration::seconds(1)).await.unwrap();
    raw.execute_unprepared("ALTER TABLE users DROP COLUMN login_id_skeleton").await.unwrap();
    raw.execute_unprepared("DELETE FROM seaql_migrations WHERE version LIKE 'm0018%'").await.unwrap();
    s.migrate().await.unwrap();
    let skeleton_of = |id: uuid::Uuid| {
        let raw = &raw;
        async move {
            let stmt = sea_orm::Statement::from_sql_and_values(
                raw.get_database_backend(),
                if raw.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
                    "SELECT login_id_skeleton FROM users WHERE id = $1"
                } else {
                    "SELECT login_id_skeleton FROM users WHERE id = ?"
                },
                [id.into()],
            );
            let row = raw.query_one_raw(stmt).await.unwrap().expect("the user's row");
            row.try_get::<Option<String>>("", "login_id_skeleton").unwrap()
        }
    };
    assert_eq!(skeleton_of(pay.id).await, Some("pay".into()));
    assert_eq!(skeleton_of(cyrillic.id).await, None, "the later look-alike keeps no skeleton");
    assert!(skeleton_of(jiro.id).await.is_some());
    let again = users.create(&NewUser::new(t1.id, "pa\u{443}", LoginMethod::Cert), t0()).await.unwrap_err();
    assert!(matches!(again, mamori_storage::StorageError::Conflict(_)), "{again:?}");
    s.close().await.unwrap();
}
