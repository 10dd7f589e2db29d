//! Everything a request or a CLI command needs, opened once from the config.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use mamori_ca::{CertificateUrls, SealingKey};
use mamori_storage::{RedisSettings, SharedStore, Storage};
use mamori_ui::Ui;

use crate::blocking::BlockingPool;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::hashing::SecretHasher;
use crate::mail::Mailer;
use crate::pki::CaService;
use crate::web::csrf::CsrfKey;

pub struct App {
    pub config: Config,
    pub storage: Storage,
    /// Sessions, authorization codes and the SAML replay cache: in the database or Redis.
    pub shared: SharedStore,
    pub hasher: SecretHasher,
    pub ca: CaService,
    pub sealing: Arc<SealingKey>,
    pub clock: Arc<dyn Clock>,
    /// The one bounded pool for CPU-heavy work: Argon2id, key generation, RSA signing,
    /// SAML signatures and encryption (`hashing.max_concurrent` slots).
    pub pool: BlockingPool,
    /// What this node remembers between requests (see [`NodeCaches`]).
    pub caches: NodeCaches,
    /// Fetches of URLs that clients and operators give (JWK Sets, request objects,
    /// SP metadata, back-channel logout), behind the destination guard.
    pub outbound: Arc<crate::outbound::Outbound>,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub ui: Ui,
    pub csrf: CsrfKey,
    pub mailer: Mailer,
    pub token_writer: crate::oidc::token_writer::TokenWriter,
    /// Request objects fetched by reference, reused until they expire (per node).
    pub request_objects: crate::oidc::request_object::RequestObjectCache,
    /// When this node last purged ended throttle windows.
    pub throttle_purger: crate::throttle::Purger,
    /// The main listener's public URL once it is bound (issuer URLs in back-channel
    /// tokens made outside a request).
    pub bound_main_url: std::sync::OnceLock<String>,
    /// Signs the `.mobileconfig` profiles when a profile-signing certificate is configured.
    pub profile_signer: Option<Arc<crate::flows::mobileconfig_signing::ProfileSigner>>,
}

impl App {
    /// Loads the config file (warning about unknown keys) and opens everything.
    pub async fn open(config_path: &Path) -> anyhow::Result<App> {
        let loaded = Config::load(config_path)?;
        for key in &loaded.unknown_keys {
            eprintln!("warning: unknown config key `{key}` (in {} or MAMORI_* variables)", config_path.display());
        }
        Self::from_config(loaded.config).await
    }

    pub async fn from_config(config: Config) -> anyhow::Result<App> {
        let master_key = config.master_key_text()?;
        let sealing = SealingKey::from_base64(master_key.expose()).context("config key `secrets.master_key`: not a base64 32-byte key")?;
        let csrf = CsrfKey::derive(master_key.expose());
        let sealing = Arc::new(sealing);
        let storage = Storage::connect(&config.storage.url)
            .await
            .with_context(|| format!("config key `storage.url`: cannot open {}", redact_url(&config.storage.url)))?;
        storage.migrate().await.context("database migration failed")?;
        let shared = shared_store(&config, &storage)?;
        let pool = BlockingPool::new(config.hashing.max_concurrent);
        let hasher = SecretHasher::new(&config.hashing, pool.clone()).context("config section `hashing`")?;
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let profile_signer = crate::flows::mobileconfig_signing::ProfileSigner::from_config(&config.ca)?;
        let urls = certificate_urls(&config, &config.main_public_url(config.server.listen.port()));
        let ca = CaService::new(
            storage.clone(),
            Arc::clone(&sealing),
            pool.clone(),
            urls,
            Duration::from_secs(u64::from(config.ca.crl_validity_hours.max(1)) * 3600),
            Arc::clone(&metrics),
        );
        let outbound = Arc::new(crate::outbound::Outbound::new(&config.oidc));
        let ui = Ui::new();
        let mailer = Mailer::new(&config, storage.clone(), ui.clone())?;
        let writer = storage.dedicated_writer(&config.storage.url).await.context("config key `storage.url`")?;
        let token_writer = crate::oidc::token_writer::TokenWriter::new(writer);
        Ok(App {
            config,
            storage,
            shared,
            hasher,
            ca,
            sealing,
            clock: Arc::new(SystemClock),
            pool,
            caches: NodeCaches::default(),
            outbound,
            metrics,
            ui,
            csrf,
            mailer,
            token_writer,
            request_objects: Default::default(),
            throttle_purger: Default::default(),
            bound_main_url: Default::default(),
            profile_signer,
        })
    }

    /// The main listener's public URL: as bound when serving, else as configured.
    pub fn main_url(&self) -> String {
        match self.bound_main_url.get() {
            Some(url) => url.clone(),
            None => self.config.main_public_url(self.config.server.listen.port()),
        }
    }

    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }
}

/// What one node keeps in memory between requests. Each cache is owned here, not by the
/// process, so two `App`s in one process (tests, a CLI command beside a server) share
/// nothing; each cache's module says how stale an entry may be and how a change made on
/// another node reaches it.
#[derive(Default)]
pub struct NodeCaches {
    /// Tenants by slug and by ID, for [`crate::oidc::RECORD_CACHE_TTL`].
    pub tenants: crate::oidc::RecentRecords<mamori_storage::model::Tenant>,
    /// Each tenant's relying-site version, checked every
    /// [`crate::oidc::site_version::VERSION_CHECK_EVERY`].
    pub site_versions: crate::oidc::site_version::CheckedVersions,
    /// OIDC clients, current while their tenant's relying-site version is.
    pub clients: crate::oidc::site_version::VersionedRecords<crate::oidc::clients::RegisteredClient>,
    /// SAML service providers with their metadata read, like `clients`.
    pub saml_sps: crate::saml::service_providers::ParsedSps,
    /// Each tenant's registered web origins (CORS), like `clients`.
    pub cors_origins: crate::oidc::site_version::VersionedRecords<Arc<std::collections::BTreeSet<String>>>,
    /// Client secrets this node verified recently (so a busy client pays Argon2id once).
    pub verified_secrets: crate::oidc::client_auth::VerifiedSecrets,
    /// JWK Sets fetched from clients' `jwks_uri`.
    pub client_jwks: crate::oidc::jwks_fetch::JwksCache,
    /// The OIDC and SAML keys in use, re-read every few seconds (another node may rotate).
    pub oidc_keys: crate::oidc::keys::ActiveKeys,
    pub saml_keys: crate::saml::keys::ActiveKeys,
    /// When this node last purged expired OIDC records.
    pub oidc_purged_at: std::sync::Mutex<Option<std::time::Instant>>,
}

/// The shared-state store `storage.shared_state` asks for. Redis is reached lazily: a node
/// starts while Redis is down and answers 503 (and /readyz "not ready") until it is back.
fn shared_store(config: &Config, storage: &Storage) -> anyhow::Result<SharedStore> {
    match config.storage.shared_state {
        crate::config::SharedState::Database => Ok(SharedStore::database(storage.clone())),
        crate::config::SharedState::Redis => {
            let url = config
                .storage
                .redis_url
                .as_deref()
                .context("config key `storage.redis_url` is required when `storage.shared_state = \"redis\"`")?;
            let settings = RedisSettings::new(url, config.storage.redis_key_prefix.clone());
            SharedStore::redis(storage.clone(), &settings).context("config key `storage.redis_url`")
        }
    }
}

/// The URLs written into certificates: configured ones, or ours under the public URL.
/// `{ca}` stands for the signing CA's key (`pki::url_key`), filled in at issuance, so
/// an earlier CA's certificates keep naming that CA's CRL after a replacement.
pub fn certificate_urls(config: &Config, main_url: &str) -> CertificateUrls {
    CertificateUrls {
        crl_distribution_point: Some(config.ca.crl_url.clone().unwrap_or_else(|| format!("{main_url}/ca/{{ca}}/crl.der"))),
        ocsp: Some(config.ca.ocsp_url.clone().unwrap_or_else(|| format!("{main_url}/ca/{{ca}}/ocsp"))),
        ca_issuers: Some(config.ca.ca_issuers_url.clone().unwrap_or_else(|| format!("{main_url}/ca/{{ca}}/ca.der"))),
    }
}

/// A database URL without its password, for messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;
