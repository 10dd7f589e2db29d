//! Configuration in layers: built-in defaults → a TOML file → `MAMORI_*` environment
//! variables (`__` separates nesting: `MAMORI_SERVER__LISTEN`). Every secret can also come
//! from a file (`*_file` keys), relative paths are relative to the config file's folder,
//! unknown keys are reported, and a bad value fails naming its key.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("config file {path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("config key `{key}`: {reason}")]
    Key { key: &'static str, reason: String },
}

/// A secret from the config: never printed by `Debug`, wiped from memory when dropped.
#[derive(Clone, Deserialize, Default)]
#[serde(from = "String")]
pub struct Secret(Zeroizing<String>);

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(Zeroizing::new(value))
    }
}

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub secrets: SecretsConfig,
    pub ca: CaConfig,
    pub mail: MailConfig,
    pub hashing: HashingConfig,
    pub log: LogConfig,
    pub metrics: MetricsConfig,
    pub oidc: OidcConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    /// Address of the listener that never asks for a client certificate (enrollment,
    /// download, reissue pages, protocol endpoints). Port 0 picks a free port.
    pub listen: SocketAddr,
    /// Address of the listener that asks for, but does not require, a client certificate
    /// (the certificate step of login, RFC 8705 mTLS endpoint aliases).
    pub mtls_listen: SocketAddr,
    /// Public base URL of the main listener; derived from the bound port when unset.
    pub public_url: Option<String>,
    /// Public base URL of the client-certificate listener; derived when unset.
    pub mtls_public_url: Option<String>,
    /// PEM file with the server certificate chain (leaf first).
    pub tls_certificate: PathBuf,
    /// PEM file with the server's private key (PKCS#8, SEC1 or PKCS#1).
    pub tls_private_key: PathBuf,
    /// Proxies (IP addresses) allowed to pass a client certificate in `client_cert_header`.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Header carrying a URL-encoded PEM client certificate from a trusted proxy.
    pub client_cert_header: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            mtls_listen: SocketAddr::from(([127, 0, 0, 1], 8444)),
            public_url: None,
            mtls_public_url: None,
            tls_certificate: PathBuf::from("tls/server.pem"),
            tls_private_key: PathBuf::from("tls/server.key"),
            trusted_proxies: Vec::new(),
            client_cert_header: "x-client-cert".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct StorageConfig {
    /// `sqlite://FILE` (relative to the config folder) or `postgres://USER@HOST/DB`.
    pub url: String,
    /// Where counters, sessions and single-use codes live: `database` (one node) or
    /// `redis` (several nodes).
    pub shared_state: SharedState,
    /// Redis URL when `shared_state = "redis"`.
    pub redis_url: Option<String>,
    /// Put before every Redis key, so that several deployments can share one Redis.
    pub redis_key_prefix: String,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self { url: "sqlite://mamori.db".into(), shared_state: SharedState::Database, redis_url: None, redis_key_prefix: "mamori:".into() }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum SharedState {
    #[default]
    Database,
    Redis,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct SecretsConfig {
    /// Base64 of 32 random bytes: the key that seals CA keys, signing keys and TOTP
    /// secrets at rest. Prefer `master_key_file`.
    pub master_key: Option<Secret>,
    /// File holding `master_key`.
    pub master_key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct CaConfig {
    /// CRL distribution point written into certificates; `{ca}` becomes the signing CA's
    /// key. Defaults to `{public_url}/ca/{ca}/crl.der`.
    pub crl_url: Option<String>,
    /// OCSP responder URL written into certificates' AIA extension (`{ca}` as above);
    /// defaults to `{public_url}/ca/{ca}/ocsp`, the responder every node runs.
    pub ocsp_url: Option<String>,
    /// CA issuers URL for the AIA extension (`{ca}` as above); defaults to
    /// `{public_url}/ca/{ca}/ca.der`.
    pub ca_issuers_url: Option<String>,
    /// How long a published CRL is valid (its nextUpdate), in hours.
    pub crl_validity_hours: u32,
    /// Whether the Apple configuration profile offered on the download page also installs
    /// the CA's root certificate as trusted (`com.apple.security.root`). Off by default: a
    /// root trusted on a device vouches for every TLS server it signs there, and a
    /// client-certificate CA should not, unless it also signs this server's certificate.
    pub mobileconfig_trust_root: bool,
    /// PEM file of the profile-signing certificate, then the CA certificates above it:
    /// with `mobileconfig_signing_key_file`, every `.mobileconfig` is signed (CMS,
    /// RFC 5652). Unsigned when neither is set.
    pub mobileconfig_signing_chain_file: Option<PathBuf>,
    /// PEM file of the profile-signing certificate's private key (P-256 or RSA). Keep it
    /// readable only by the service account.
    pub mobileconfig_signing_key_file: Option<PathBuf>,
    // The renewal grace period was `ca.renewal_grace_days` here; it is the tenant
    // policy's `renewal_grace_days` now (migration m0020, default 14 as before).
}

impl Default for CaConfig {
    fn default() -> Self {
        Self {
            crl_url: None,
            ocsp_url: None,
            ca_issuers_url: None,
            crl_validity_hours: 24,
            mobileconfig_trust_root: false,
            mobileconfig_signing_chain_file: None,
            mobileconfig_signing_key_file: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct MailConfig {
    /// `outbox` keeps mails in the database and as files in `outbox_dir` (development);
    /// `smtp` sends them through `smtp`.
    pub transport: MailTransport,
    /// The From header.
    pub from: String,
    /// Folder where the outbox transport writes each mail as an .eml file.
    pub outbox_dir: PathBuf,
    /// Development only: with `transport = "outbox"`, serve every queued mail (one-time
    /// passwords included) to anyone who reaches the server at `/dev/mailbox`. Never
    /// enable it on a server other people can reach.
    pub dev_mailbox: bool,
    pub smtp: SmtpConfig,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            transport: MailTransport::Outbox,
            from: "Mamori <no-reply@localhost>".into(),
            outbox_dir: PathBuf::from("outbox"),
            dev_mailbox: false,
            smtp: SmtpConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    #[default]
    Outbox,
    Smtp,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    /// `starttls`, `tls` (implicit TLS) or `none` (only for a relay on localhost).
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub password_file: Option<PathBuf>,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self { host: "localhost".into(), port: 587, security: SmtpSecurity::Starttls, username: None, password: None, password_file: None }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    Starttls,
    Tls,
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct HashingConfig {
    /// Argon2id memory cost in KiB (OWASP: 19456).
    pub argon2_memory_kib: u32,
    /// Argon2id passes.
    pub argon2_iterations: u32,
    /// Slots of the one blocking pool (Argon2id hashes, key generation, RSA and SAML
    /// signatures, SAML encryption) in use at once; 0 = number of cores.
    pub max_concurrent: usize,
}

impl Default for HashingConfig {
    fn default() -> Self {
        Self { argon2_memory_kib: 19456, argon2_iterations: 2, max_concurrent: 0 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: LogFormat,
    /// A tracing filter such as `info` or `mamori=debug,info`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { format: LogFormat::Text, level: "info".into() }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct MetricsConfig {
    /// Serve Prometheus metrics at `/metrics` on `listen`. Never on the public listeners.
    pub enabled: bool,
    /// Address of the plain-HTTP metrics listener; keep it on a private network.
    pub listen: SocketAddr,
    /// Networks allowed to scrape; any other peer gets 403.
    pub allow_from: Vec<ipnet::IpNet>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            listen: SocketAddr::from(([127, 0, 0, 1], 9464)),
            allow_from: vec![
                ipnet::IpNet::from(std::net::IpAddr::from([127, 0, 0, 1])),
                ipnet::IpNet::from(std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST)),
            ],
        }
    }
}

/// How this provider reaches out to OIDC clients: fetching a client's JWK Set from its
/// registered `jwks_uri`, and request objects from its registered `request_uris`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct OidcConfig {
    /// PEM file of CA certificates trusted for `jwks_uri` fetches in addition to the
    /// system roots (a private PKI of the relying sites; the end-to-end tests use it for
    /// their own test CA).
    pub jwks_fetch_extra_ca_file: Option<PathBuf>,
    /// Development only: also fetch `jwks_uri`s that are plain `http://` on the loopback
    /// (`127.0.0.1`, `[::1]`, `localhost`). Everything else must be https; keep it off
    /// in production, like `mail.dev_mailbox`.
    pub jwks_fetch_allow_loopback_http: bool,
    /// Development and closed networks only: let fetches of client-given URLs (`jwks_uri`,
    /// `request_uri`) reach loopback, private (RFC 1918, ULA), link-local (the cloud
    /// metadata address), CGNAT and other non-public addresses. Off: such destinations are
    /// refused before connecting (`jwks_fetch_allow_loopback_http` still allows loopback).
    pub outbound_allow_private: bool,
}

/// A loaded configuration and what loading it noticed.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    /// The folder relative paths were resolved against.
    pub base_dir: PathBuf,
    /// Keys present in the file or environment that Mamori does not know.
    pub unknown_keys: Vec<String>,
}

/// Environment variables of ours that are not config keys: the config file itself, the
/// quickstart's data folder and demo site address (`MAMORI_DEMO_RP_LISTEN`), and the test
/// harness's binary.
const NOT_CONFIG_KEYS: &[&str] = &["config", "data_dir", "demo_rp_listen", "bin"];

/// Config keys that became tenant policy knobs (migration m0020), and the knob.
const MOVED_TO_TENANT_POLICY: &[(&str, &str)] = &[("ca.renewal_grace_days", "renewal_grace_days")];

impl Config {
    /// Loads `path` (required to exist) with the environment layered on top.
    pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Unreadable { path: path.to_owned(), reason: e.to_string() })?;
        let base_dir = path.parent().map(Path::to_owned).unwrap_or_default();
        let base_dir = if base_dir.as_os_str().is_empty() { PathBuf::from(".") } else { base_dir };
        Self::load_layers(Some(&text), &base_dir).map_err(|reason| ConfigError::Invalid { path: path.to_owned(), reason })
    }

    /// Defaults and environment only, relative paths against `base_dir`.
    pub fn load_defaults(base_dir: &Path) -> Result<Loaded, ConfigError> {
        Self::load_layers(None, base_dir).map_err(|reason| ConfigError::Invalid { path: PathBuf::from("(environment)"), reason })
    }

    fn load_layers(toml: Option<&str>, base_dir: &Path) -> Result<Loaded, String> {
        let mut figment = Figment::new();
        if let Some(toml) = toml {
            figment = figment.merge(Toml::string(toml));
        }
        figment = figment.merge(
            Env::prefixed("MAMORI_").filter(|k| !k.as_str().to_ascii_lowercase().starts_with("test_")).ignore(NOT_CONFIG_KEYS).split("__"),
        );
        let mut config: Config = figment.extract().map_err(describe)?;
        config.resolve_relative_paths(base_dir);
        // A second pass with serde_ignored names the keys the structs do not know.
        let mut unknown_keys = Vec::new();
        if let Ok(merged) = figment.extract::<figment::value::Value>() {
            let _: Result<Config, figment::Error> = serde_ignored::deserialize(&merged, |path| unknown_keys.push(path.to_string()));
        }
        // A setting that moved to the tenant policy must not be dropped with only a
        // warning: the operator would silently get the default instead of their value.
        if let Some((key, knob)) = MOVED_TO_TENANT_POLICY.iter().find(|(key, _)| unknown_keys.iter().any(|k| k == key)) {
            // Said where the operator set it: the file, or an environment variable.
            let from_env = figment.find_metadata(key).is_some_and(|m| m.name.contains("environment"));
            let remove = if from_env {
                format!("unset the environment variable `MAMORI_{}`", key.replace('.', "__").to_ascii_uppercase())
            } else {
                "remove it from the config file".to_owned()
            };
            return Err(format!(
                "config key `{key}` is now the tenant policy knob `{knob}`: {remove} and set it per tenant with \
                 `mamori admin tenant policy --tenant SLUG --set {knob}=VALUE` (default 14)"
            ));
        }
        Ok(Loaded { config, base_dir: base_dir.to_owned(), unknown_keys })
    }

    fn resolve_relative_paths(&mut self, base: &Path) {
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        resolve(&mut self.server.tls_certificate);
        resolve(&mut self.server.tls_private_key);
        resolve(&mut self.mail.outbox_dir);
        if let Some(p) = self.secrets.master_key_file.as_mut() {
            resolve(p);
        }
        if let Some(p) = self.mail.smtp.password_file.as_mut() {
            resolve(p);
        }
        if let Some(p) = self.oidc.jwks_fetch_extra_ca_file.as_mut() {
            resolve(p);
        }
        for p in [&mut self.ca.mobileconfig_signing_chain_file, &mut self.ca.mobileconfig_signing_key_file].into_iter().flatten() {
            resolve(p);
        }
        if let Some(rest) = self.storage.url.strip_prefix("sqlite://") {
            let (file, query) = rest.split_once('?').unwrap_or((rest, ""));
            let file_path = Path::new(file);
            if file_path.is_relative() && file != ":memory:" {
                let joined = base.join(file_path);
                let q = if query.is_empty() { "mode=rwc".to_owned() } else { query.to_owned() };
                self.storage.url = format!("sqlite://{}?{q}", joined.display());
            }
        }
    }

    /// The master key's base64 text, from `master_key` or `master_key_file`.
    pub fn master_key_text(&self) -> Result<Secret, ConfigError> {
        read_secret(self.secrets.master_key.as_ref(), self.secrets.master_key_file.as_deref(), "secrets.master_key")?.ok_or(
            ConfigError::Key {
                key: "secrets.master_key",
                reason: "is not set (set secrets.master_key_file or MAMORI_SECRETS__MASTER_KEY)".into(),
            },
        )
    }

    /// The SMTP password, from `password` or `password_file`, if any.
    pub fn smtp_password(&self) -> Result<Option<Secret>, ConfigError> {
        read_secret(self.mail.smtp.password.as_ref(), self.mail.smtp.password_file.as_deref(), "mail.smtp.password")
    }
}

/// Every problem figment found, each naming its key and where the value came from.
fn describe(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let source = e.metadata.as_ref().map(|m| m.name.to_string());
            let mut line = if e.path.is_empty() { e.kind.to_string() } else { format!("key `{}`: {}", e.path.join("."), e.kind) };
            if let Some(source) = source.filter(|s| s.contains("environment")) {
                line.push_str(&format!(" (from {source})"));
            }
            line
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A secret given inline or as `*_file`; both at once is a mistake worth naming.
fn read_secret(inline: Option<&Secret>, file: Option<&Path>, key: &'static str) -> Result<Option<Secret>, ConfigError> {
    match (inline, file) {
        (Some(_), Some(_)) => Err(ConfigError::Key { key, reason: "is set both inline and as a file; keep one".into() }),
        (Some(s), None) => Ok(Some(s.clone())),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(|s| Some(Secret::new(s.trim().to_owned())))
            .map_err(|e| ConfigError::Key { key, reason: format!("cannot read file {}: {e}", path.display()) }),
        (None, None) => Ok(None),
    }
}

impl Config {
    /// The main listener's public base URL: configured, or derived from the bound port.
    pub fn main_public_url(&self, bound_port: u16) -> String {
        derived_url(self.server.public_url.as_deref(), self.server.listen, bound_port)
    }

    /// The client-certificate listener's public base URL.
    pub fn mtls_public_url(&self, bound_port: u16) -> String {
        derived_url(self.server.mtls_public_url.as_deref(), self.server.mtls_listen, bound_port)
    }
}

fn derived_url(configured: Option<&str>, listen: SocketAddr, bound_port: u16) -> String {
    if let Some(url) = configured {
        return url.trim_end_matches('/').to_owned();
    }
    let host = if listen.ip().is_loopback() || listen.ip().is_unspecified() {
        "localhost".to_owned()
    } else {
        match listen.ip() {
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        }
    };
    match bound_port {
        443 => format!("https://{host}"),
        port => format!("https://{host}:{port}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(toml: &str) -> Result<Loaded, ConfigError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("mamori.toml");
        std::fs::write(&path, toml).expect("write");
        Config::load(&path)
    }

    #[test]
    fn defaults_and_relative_paths() {
        let loaded = load("[storage]\nurl = \"sqlite://data/m.db\"\n").expect("loads");
        let c = &loaded.config;
        assert_eq!(c.server.listen.port(), 8443);
        assert!(c.server.tls_certificate.starts_with(&loaded.base_dir));
        assert!(c.storage.url.starts_with("sqlite://"), "{}", c.storage.url);
        assert!(c.storage.url.ends_with("/data/m.db?mode=rwc"), "{}", c.storage.url);
        assert!(loaded.unknown_keys.is_empty(), "{:?}", loaded.unknown_keys);
    }

    #[test]
    fn unknown_keys_are_reported() {
        let loaded = load("[server]\nlisten = \"127.0.0.1:9000\"\nlisen = 1\n[bogus]\nx = 1\n").expect("loads");
        assert_eq!(loaded.config.server.listen.port(), 9000);
        assert!(loaded.unknown_keys.contains(&"server.lisen".to_owned()), "{:?}", loaded.unknown_keys);
        assert!(loaded.unknown_keys.contains(&"bogus".to_owned()), "{:?}", loaded.unknown_keys);
    }

    #[test]
    fn a_key_moved_to_the_tenant_policy_stops_the_start_and_says_where_it_went() {
        let err = load("[ca]\nrenewal_grace_days = 30\n").expect_err("refused").to_string();
        assert!(err.contains("ca.renewal_grace_days"), "{err}");
        assert!(err.contains("--set renewal_grace_days="), "{err}");
        assert!(err.contains("remove it from the config file"), "{err}");
    }

    #[test]
    fn a_bad_value_names_its_key_and_file() {
        let err = load("[server]\nlisten = \"not an address\"\n").expect_err("fails").to_string();
        assert!(err.contains("mamori.toml"), "{err}");
        assert!(err.contains("listen"), "{err}");
    }

    #[test]
    fn a_missing_file_is_named() {
        let err = Config::load(Path::new("/nonexistent/mamori.toml")).expect_err("fails").to_string();
        assert!(err.contains("/nonexistent/mamori.toml"), "{err}");
    }

    #[test]
    fn secrets_from_files_and_never_debug_printed() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("key"), "c2VjcmV0\n").expect("write");
        let path = dir.path().join("mamori.toml");
        std::fs::write(&path, "[secrets]\nmaster_key_file = \"key\"\n").expect("write");
        let loaded = Config::load(&path).expect("loads");
        assert_eq!(loaded.config.master_key_text().expect("key").expose(), "c2VjcmV0");
        let inline = Secret::new("hunter2");
        assert!(!format!("{inline:?}").contains("hunter2"));
    }

    #[test]
    fn derived_urls() {
        let c = Config::default();
        assert_eq!(c.main_public_url(8443), "https://localhost:8443");
        assert_eq!(c.main_public_url(443), "https://localhost");
        let mut c = Config::default();
        c.server.public_url = Some("https://idp.example.com/".into());
        assert_eq!(c.main_public_url(1234), "https://idp.example.com");
    }
}
