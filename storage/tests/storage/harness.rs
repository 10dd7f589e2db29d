//! Runs one test body on both backends, each on its own fresh database.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use mamori_storage::Storage;
use mamori_storage::model::{LoginMethod, NewUser, Tenant, TenantPolicy, User};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};
use time::OffsetDateTime;
use time::macros::datetime;

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Defines `mod NAME { fn sqlite(); fn postgres(); }` for test functions
/// `async fn NAME(storage: Storage)` that get a migrated database.
macro_rules! on_both {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    crate::harness::run_sqlite(true, |db| super::$name(db.storage())).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    crate::harness::run_postgres(true, |db| super::$name(db.storage())).await;
                }
            }
        )+
    };
}

/// Like `on_both!`, for `async fn NAME(url: String)` that get the URL of an empty,
/// unmigrated database.
macro_rules! on_both_unmigrated {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    crate::harness::run_sqlite(false, |db| super::$name(db.url)).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    crate::harness::run_postgres(false, |db| super::$name(db.url)).await;
                }
            }
        )+
    };
}

/// A database prepared for one test.
pub struct TestDb {
    pub url: String,
    storage: Option<Storage>,
}

impl TestDb {
    pub fn storage(&self) -> Storage {
        self.storage.clone().expect("this test database was not migrated")
    }
}

pub async fn run_sqlite<F, Fut>(migrate: bool, test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("mamori.db").display());
    let storage = prepare(&url, migrate).await;
    let outcome = tokio::spawn(test(TestDb { url, storage: storage.clone() })).await;
    if let Some(storage) = storage {
        storage.close().await.unwrap();
    }
    drop(dir);
    if let Err(err) = outcome {
        std::panic::resume_unwind(err.into_panic());
    }
}

pub async fn run_postgres<F, Fut>(migrate: bool, test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let admin_url = std::env::var("MAMORI_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into());
    let admin = admin_connection(&admin_url).await;
    let name = format!("mamori_t_{}", uuid::Uuid::new_v4().simple());
    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
    let url = with_database(&admin_url, &name);

    let storage = prepare(&url, migrate).await;
    let outcome = tokio::spawn(test(TestDb { url, storage: storage.clone() })).await;
    if let Some(storage) = storage {
        let _ = storage.close().await;
    }
    // Best effort: a leftover database is harmless, a failed drop must not hide the
    // test's own result.
    let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
    let _ = admin.close().await;
    if let Err(err) = outcome {
        std::panic::resume_unwind(err.into_panic());
    }
}

async fn admin_connection(admin_url: &str) -> DatabaseConnection {
    let mut options = ConnectOptions::new(admin_url);
    options.max_connections(1).sqlx_logging(false).connect_timeout(std::time::Duration::from_secs(5));
    match Database::connect(options).await {
        Ok(db) => db,
        Err(err) => panic!(
            "PostgreSQL is not reachable at {admin_url} ({err}).\n\
             These tests need it: start it with `pg_ctlcluster 15 main start`, or point \
             MAMORI_TEST_POSTGRES_URL at a server where the user may CREATE DATABASE."
        ),
    }
}

async fn prepare(url: &str, migrate: bool) -> Option<Storage> {
    if !migrate {
        return None;
    }
    let storage = Storage::connect(url).await.unwrap();
    storage.migrate().await.unwrap();
    Some(storage)
}

/// The admin URL with its database name replaced.
fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (admin_url, None),
    };
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// A fixed starting time; tests move forward from it explicitly.
pub fn t0() -> OffsetDateTime {
    datetime!(2026-04-01 09:00 UTC)
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name unique within this test run.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

pub async fn tenant(storage: &Storage) -> Tenant {
    storage.tenants().create(&unique("tenant"), "Demo", &TenantPolicy::default(), t0()).await.unwrap()
}

pub async fn user(storage: &Storage, tenant: &Tenant) -> User {
    let new = NewUser::new(tenant.id, unique("p-01-usr"), LoginMethod::CertPassword);
    storage.users().create(&new, t0()).await.unwrap()
}
