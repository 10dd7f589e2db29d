//! Connecting, migrating and handing out repositories.

use std::fmt;
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

use crate::StorageError;
use crate::error::db_err;
use crate::migration::Migrator;
use crate::repo::{
    CertificateAuthorities, CertificateExpiry, Certificates, Devices, LoginEvents, MailOutbox, OidcClients, PublishedCrls,
    RelyingSiteVersions, SamlServiceProviders, Sessions, SigningKeys, Tenants, Tickets, Users,
};

/// Which database engine a [`Storage`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Key of the PostgreSQL advisory lock that serialises migrations across nodes
/// ("mamori" in ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x6d61_6d6f_7269;

/// Pool size for file-backed SQLite: readers run in parallel under WAL; writers queue on
/// the busy timeout.
const SQLITE_POOL_SIZE: u32 = 8;
const POSTGRES_POOL_SIZE: u32 = 10;
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Pool tuning; `Default` suits one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolSettings {
    /// Connections in the pool; `None` = 8 for SQLite files, 10 for PostgreSQL.
    /// (An in-memory SQLite database always uses exactly one.)
    pub max_connections: Option<u32>,
    /// How long to try to open a connection before reporting `Unavailable`.
    pub connect_timeout: Duration,
    /// How long a query waits for a free pooled connection.
    pub acquire_timeout: Duration,
    /// Page cache per SQLite connection in KiB; `None` keeps SQLite's 2 MiB.
    pub sqlite_cache_kib: Option<u32>,
}

impl Default for PoolSettings {
    fn default() -> Self {
        // While the database is down, every request waits this long before its 503 (the
        // pool keeps retrying the connection until then), so it is kept short; with a
        // healthy database a connection is free within milliseconds, and a wait this long
        // means overload, where a 503 is the right answer too.
        PoolSettings {
            max_connections: None,
            connect_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(5),
            sqlite_cache_kib: None,
        }
    }
}

/// A connection pool plus the repositories over it. Cheap to clone.
#[derive(Clone)]
pub struct Storage {
    pub(crate) db: DatabaseConnection,
    backend: Backend,
}

impl fmt::Debug for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password, so only the backend is shown.
        f.debug_struct("Storage").field("backend", &self.backend).finish_non_exhaustive()
    }
}

impl Storage {
    /// Opens a pool for `sqlite://PATH?mode=rwc` (or `sqlite::memory:`) or
    /// `postgres://USER@HOST/DB`.
    ///
    /// Every SQLite connection gets WAL journaling, enforced foreign keys, a 5 s busy
    /// timeout and `synchronous = NORMAL`.
    pub async fn connect(url: &str) -> Result<Storage, StorageError> {
        Storage::connect_with(url, &PoolSettings::default()).await
    }

    /// [`Storage::connect`] with explicit pool settings.
    pub async fn connect_with(url: &str, settings: &PoolSettings) -> Result<Storage, StorageError> {
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StorageError::Invalid("database URL must start with sqlite: or postgres://".to_owned()));
        };

        let mut options = ConnectOptions::new(url);
        // Each pooled PostgreSQL connection is pinged before use (sqlx's default, kept on
        // purpose): connections that died with a database restart are dropped and
        // replaced, so the pool heals by itself once the database is back. A SQLite
        // connection is a file handle that cannot go away, so it skips the round trip.
        options
            .test_before_acquire(backend == Backend::Postgres)
            .sqlx_logging(false)
            .connect_timeout(settings.connect_timeout)
            .acquire_timeout(settings.acquire_timeout);
        match backend {
            Backend::Sqlite => {
                // Each connection to an in-memory database sees its own database, so such a
                // pool must hold exactly one connection for its whole life.
                if in_memory(url) {
                    options.max_connections(1).min_connections(1).idle_timeout(None).max_lifetime(None);
                } else {
                    options.max_connections(settings.max_connections.unwrap_or(SQLITE_POOL_SIZE));
                }
                let cache_kib = settings.sqlite_cache_kib;
                options.map_sqlx_sqlite_opts(move |o| {
                    // Temporary tables and statement journals in memory: a multi-row
                    // UPDATE inside a transaction spills its statement journal to a temp
                    // file (open, write, close, unlink per statement) otherwise.
                    let o = o
                        .journal_mode(SqliteJournalMode::Wal)
                        .foreign_keys(true)
                        .busy_timeout(SQLITE_BUSY_TIMEOUT)
                        .synchronous(SqliteSynchronous::Normal)
                        .pragma("temp_store", "memory");
                    match cache_kib {
                        Some(kib) => o.pragma("cache_size", format!("-{kib}")),
                        None => o,
                    }
                });
            }
            Backend::Postgres => {
                options.max_connections(settings.max_connections.unwrap_or(POSTGRES_POOL_SIZE));
            }
        }

        let db = Database::connect(options).await.map_err(|e| {
            tracing::warn!(error = %e, "cannot connect to the database");
            match db_err(e) {
                StorageError::Backend(_) => StorageError::Unavailable,
                other => other,
            }
        })?;
        Ok(Storage { db, backend })
    }

    /// A handle for one task that writes often (refresh-token rotations, code
    /// redemptions): on a SQLite file, a connection of its own with a 4 MiB page cache
    /// (16 MiB cost 12 MiB more at the peak and no less CPU, docs/benchmarks.md). SQLite
    /// drops a connection's whole page cache when another connection has written since
    /// its last transaction, so a writer drawing a different pooled connection for each
    /// batch re-read the indexes it touches every time; a connection only that task
    /// writes through keeps them. PostgreSQL and in-memory SQLite answer this same pool.
    pub async fn dedicated_writer(&self, url: &str) -> Result<Storage, StorageError> {
        if self.backend != Backend::Sqlite || in_memory(url) {
            return Ok(self.clone());
        }
        let settings = PoolSettings { max_connections: Some(1), sqlite_cache_kib: Some(4 * 1024), ..PoolSettings::default() };
        Storage::connect_with(url, &settings).await
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies pending migrations; a no-op when the schema is current.
    ///
    /// Everything runs in one transaction. On PostgreSQL it first takes an advisory lock
    /// (held until commit), so several nodes starting at once migrate exactly once; on
    /// SQLite `BEGIN IMMEDIATE` does the same job.
    pub async fn migrate(&self) -> Result<(), StorageError> {
        let txn = begin_write(&self.db).await?;
        if self.backend == Backend::Postgres {
            txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")).await.map_err(db_err)?;
        }
        Migrator::up(&txn, None).await.map_err(db_err)?;
        txn.commit().await.map_err(db_err)
    }

    /// Readiness: the database answers.
    pub async fn ping(&self) -> Result<(), StorageError> {
        self.db.ping().await.map_err(|e| {
            tracing::warn!(error = %e, "database ping failed");
            StorageError::Unavailable
        })
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(self) -> Result<(), StorageError> {
        self.db.close().await.map_err(db_err)
    }

    pub fn tenants(&self) -> Tenants<'_> {
        Tenants::new(&self.db)
    }

    pub fn tenant_brandings(&self) -> crate::TenantBrandings<'_> {
        crate::TenantBrandings::new(&self.db)
    }

    pub fn users(&self) -> Users<'_> {
        Users::new(&self.db)
    }

    pub fn devices(&self) -> Devices<'_> {
        Devices::new(&self.db)
    }

    pub fn passkeys(&self) -> crate::Passkeys<'_> {
        crate::Passkeys::new(&self.db)
    }

    pub fn certificate_authorities(&self) -> CertificateAuthorities<'_> {
        CertificateAuthorities::new(&self.db)
    }

    pub fn published_crls(&self) -> PublishedCrls<'_> {
        PublishedCrls::new(&self.db)
    }

    pub fn certificates(&self) -> Certificates<'_> {
        Certificates::new(&self.db)
    }

    /// Certificates that expire soon and the reminders sent about them.
    pub fn certificate_expiry(&self) -> CertificateExpiry<'_> {
        CertificateExpiry::new(&self.db)
    }

    pub fn tickets(&self) -> Tickets<'_> {
        Tickets::new(&self.db)
    }

    /// Atomic completion of a flow (ticket redemption plus everything it records).
    pub fn completions(&self) -> crate::Completions<'_> {
        crate::Completions::new(&self.db)
    }

    pub fn sessions(&self) -> Sessions<'_> {
        Sessions::new(&self.db)
    }

    pub fn login_events(&self) -> LoginEvents<'_> {
        LoginEvents::new(&self.db)
    }

    pub fn oidc_clients(&self) -> OidcClients<'_> {
        OidcClients::new(&self.db)
    }

    pub fn relying_site_versions(&self) -> RelyingSiteVersions<'_> {
        RelyingSiteVersions::new(&self.db)
    }

    pub fn saml_service_providers(&self) -> SamlServiceProviders<'_> {
        SamlServiceProviders::new(&self.db)
    }

    pub fn signing_keys(&self) -> SigningKeys<'_> {
        SigningKeys::new(&self.db)
    }

    pub fn oidc_grants(&self) -> crate::OidcGrants<'_> {
        crate::OidcGrants::new(&self.db)
    }

    pub fn throttle(&self) -> crate::Throttle<'_> {
        crate::Throttle::new(&self.db)
    }

    pub fn saml_records(&self) -> crate::SamlRecords<'_> {
        crate::SamlRecords::new(&self.db)
    }

    pub fn mail_outbox(&self) -> MailOutbox<'_> {
        MailOutbox::new(&self.db)
    }

    pub fn api_tokens(&self) -> crate::ApiTokens<'_> {
        crate::ApiTokens::new(&self.db)
    }

    pub fn admin_roles(&self) -> crate::AdminRoles<'_> {
        crate::AdminRoles::new(&self.db)
    }

    pub fn audit_events(&self) -> crate::AuditEvents<'_> {
        crate::AuditEvents::new(&self.db)
    }
}

/// Whether a SQLite URL names an in-memory database (each connection sees its own).
fn in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// A transaction that intends to write. On SQLite it takes the write lock up front
/// (`BEGIN IMMEDIATE`): a deferred transaction that reads first and writes later fails
/// with SQLITE_BUSY under concurrency instead of waiting.
pub(crate) async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, StorageError> {
    let options = match db.get_database_backend() {
        DbBackend::Sqlite => {
            TransactionOptions { sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate), ..TransactionOptions::default() }
        }
        _ => TransactionOptions::default(),
    };
    db.begin_with_options(options).await.map_err(db_err)
}
