//! The `mamori` command line: one binary that serves, sets up and administers.

mod account;
mod admin;
mod api_token;
pub(crate) mod ca;
mod oidc;
mod operator;
mod output;
mod quickstart;
mod records;
mod saml;
mod sites;
mod tenants;
mod users;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "mamori", version, about = "Mamori identity provider: client certificates + password + OTP, over OIDC and SAML")]
pub struct Cli {
    /// The TOML config file (every key can be overridden by MAMORI_* variables). Without
    /// it: ./mamori.toml, else the quickstart's ./mamori-data/mamori.toml.
    #[arg(long, short, global = true, env = "MAMORI_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create ./mamori-data (config, SQLite, dev CA, TLS certificate, mail outbox), a demo
    /// tenant and user, a super-admin for the console, and start the server. Running it
    /// again reuses the data.
    Quickstart(QuickstartArgs),
    /// Run the server.
    Serve,
    /// Apply database migrations and exit.
    Migrate(OutputArgs),
    /// The certificate authority.
    #[command(subcommand)]
    Ca(CaCommand),
    /// Tenants, users and enrollment.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Debug, Args)]
pub struct QuickstartArgs {
    /// Where the quickstart keeps its data.
    #[arg(long, env = "MAMORI_DATA_DIR", default_value = "mamori-data")]
    pub data_dir: PathBuf,
    /// Set everything up, print what to open, but do not start the server.
    #[arg(long)]
    pub no_serve: bool,
}

#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Create the CA (a root, optionally with an issuing intermediate) or import one.
    Init(CaInitArgs),
    /// Issue a certificate, for a new key (written as PKCS#12) or from a CSR.
    Issue(CaIssueArgs),
    /// Revoke a certificate by serial number.
    Revoke(CaRevokeArgs),
    /// Write the current CRL.
    Crl(CaCrlArgs),
    /// Show the active CA.
    Show(OutputArgs),
    /// Write the issuing CA certificate and the chain above it (PEM), for trust stores.
    Chain(CaChainArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CaKeyType {
    P256,
    Rsa3072,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DeviceKeyType {
    P256,
    Rsa2048,
}

#[derive(Debug, Args)]
pub struct CaInitArgs {
    /// Common name of the root CA.
    #[arg(long, default_value = "Mamori Root CA")]
    pub common_name: String,
    /// Organization name in the CA's subject.
    #[arg(long)]
    pub organization: Option<String>,
    #[arg(long, value_enum, default_value = "p256")]
    pub key_type: CaKeyType,
    /// Years the root is valid.
    #[arg(long, default_value_t = 20)]
    pub years: u16,
    /// Also create an issuing intermediate under the root; device certificates are issued by it.
    #[arg(long)]
    pub intermediate: bool,
    /// Import an existing CA certificate (PEM) instead of creating one.
    #[arg(long, requires = "import_key")]
    pub import_cert: Option<PathBuf>,
    /// The imported CA's private key (PEM).
    #[arg(long, requires = "import_cert")]
    pub import_key: Option<PathBuf>,
    /// Certificates above the imported CA (PEM), nearest first.
    #[arg(long, requires = "import_cert")]
    pub import_chain: Option<PathBuf>,
    /// Replace an existing active CA (its certificates stay valid until they expire or are revoked).
    #[arg(long)]
    pub replace: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct CaIssueArgs {
    /// Subject common name (what the browser's certificate picker shows).
    #[arg(long)]
    pub common_name: String,
    /// E-mail address for the subjectAltName.
    #[arg(long)]
    pub email: Option<String>,
    /// Issue for the public key in this CSR (PEM or DER); the key never leaves the device.
    #[arg(long, conflicts_with_all = ["p12", "key_type"])]
    pub csr: Option<PathBuf>,
    /// Generate a key and write it with the certificate to this PKCS#12 file.
    #[arg(long, requires = "password_file")]
    pub p12: Option<PathBuf>,
    /// File holding the PKCS#12 password.
    #[arg(long)]
    pub password_file: Option<PathBuf>,
    /// Write the legacy (3DES/SHA-1) PKCS#12 form for old devices.
    #[arg(long)]
    pub legacy: bool,
    #[arg(long, value_enum)]
    pub key_type: Option<DeviceKeyType>,
    /// Days the certificate is valid.
    #[arg(long, default_value_t = 365)]
    pub days: u32,
    /// Where to write the certificate (PEM); standard output when absent (with
    /// `--output json`, the `certificate_pem` member).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct CaRevokeArgs {
    /// Serial number in hex, as `ca issue` printed it.
    #[arg(long)]
    pub serial: String,
    /// unspecified, key-compromise, ca-compromise, affiliation-changed, superseded,
    /// cessation-of-operation, certificate-hold, privilege-withdrawn.
    #[arg(long, default_value = "unspecified")]
    pub reason: String,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct CaChainArgs {
    /// Where to write the chain; standard output when absent (with `--output json`, the
    /// `pem` member).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct CaCrlArgs {
    /// Where to write the CRL; standard output when absent (with `--output json`, the
    /// `pem` member).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// DER instead of PEM.
    #[arg(long)]
    pub der: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum, Default, PartialEq, Eq)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// text for people; json for scripts: one JSON value on standard output (an action
    /// describes its result, a deletion names what went in `deleted`), times in RFC 3339
    /// UTC. A failure prints {"error": "…"} on standard error and exits non-zero.
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Tenants: create, list, show, change, delete, and their policy.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Users: create, show, change, import, enrollment tickets, locks, devices and certificates.
    #[command(subcommand)]
    User(UserCommand),
    /// Token-signing keys of the OpenID Connect provider.
    #[command(subcommand)]
    Keys(oidc::KeysCommand),
    /// Relying sites of the OpenID Connect provider.
    #[command(subcommand)]
    OidcClient(oidc::OidcClientCommand),
    /// Service providers of the SAML identity provider.
    #[command(subcommand)]
    SamlSp(saml::SamlSpCommand),
    /// Signing and encryption keys of the SAML identity provider.
    #[command(subcommand)]
    SamlKeys(saml::SamlKeysCommand),
    /// Tokens for the admin REST API (/admin/api/v1).
    #[command(subcommand)]
    ApiToken(api_token::ApiTokenCommand),
    /// Operators of the web console (/console): users with an admin role.
    #[command(subcommand)]
    Operator(operator::OperatorCommand),
    /// Make the first super-admin (in a tenant created if absent) and print its enrollment
    /// link; refused once a super-admin exists, unless --another is given.
    Bootstrap(operator::BootstrapArgs),
    /// Certificates of a tenant's users: search and revoke.
    #[command(subcommand, visible_alias = "certificates")]
    Certificate(records::CertificateCommand),
    /// The login history and the audit trail.
    #[command(subcommand)]
    Events(records::EventsCommand),
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant with the default policy.
    Create {
        /// Short name used in URLs, e.g. `acme`.
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// List tenants.
    List(OutputArgs),
    /// Show a tenant's policy, or change knobs with --set KEY=VALUE.
    Policy(account::TenantPolicyArgs),
    #[command(flatten)]
    Change(tenants::TenantChangeCommand),
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user with one device.
    Create {
        #[arg(long)]
        tenant: String,
        /// The user ID, e.g. `p-01-usr012`.
        #[arg(long)]
        login_id: String,
        /// The e-mail address of the user's first device.
        #[arg(long)]
        email: String,
        #[arg(long)]
        display_name: Option<String>,
        /// cert, cert+password, cert+password+otp, password, password+otp (default: the tenant's).
        #[arg(long)]
        method: Option<String>,
        /// ja or en.
        #[arg(long, default_value = "ja")]
        locale: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// List a tenant's users.
    List {
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Create an enrollment ticket: prints the enrollment URL and one-time password.
    Enroll {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        login_id: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Unlock a locked account.
    Unlock {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        login_id: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Disable or re-enable an account (a disabled account's certificates log no one in).
    SetStatus {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        login_id: String,
        /// active or disabled.
        #[arg(long)]
        status: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Make the user choose a new password at the next login.
    ExpirePassword {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        login_id: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Issue a new certificate for one of the user's devices, revoking the device's
    /// previous one, and write it as PKCS#12 (instead of mailing a download link). The
    /// user's sessions end, with the relying sites' grants that came from them.
    IssueCert {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        login_id: String,
        /// Device No (1, 2, …); the first active device when absent.
        #[arg(long)]
        device: Option<u32>,
        #[arg(long)]
        p12: PathBuf,
        /// File holding the PKCS#12 password.
        #[arg(long)]
        password_file: PathBuf,
        /// Start of validity (RFC 3339); now when absent.
        #[arg(long)]
        not_before: Option<String>,
        /// End of validity (RFC 3339); the tenant's certificate validity when absent.
        #[arg(long)]
        not_after: Option<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Start a certificate reissue (flow 6): a single-use link is mailed to the device's address.
    ReissueCert(account::ReissueCertArgs),
    /// Delete a device: its certificate is revoked and stops logging in; the user's
    /// sessions end, with the relying sites' grants that came from them.
    DeleteDevice {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        login_id: String,
        #[arg(long)]
        device: u32,
        #[command(flatten)]
        output: OutputArgs,
    },
    #[command(flatten)]
    Record(users::UserRecordCommand),
}

/// Parses the command line and runs it; the process exit code follows the result. With
/// `--output json` a failure, a refused command line included, is one JSON object on
/// standard error (`{"error": "…"}`), so a script reads every outcome the same way.
pub fn main() -> std::process::ExitCode {
    let json = asks_for_json(std::env::args_os().skip(1));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if json && err.use_stderr() => {
            let text = err.to_string();
            print_error(true, text.strip_prefix("error: ").unwrap_or(&text));
            return std::process::ExitCode::from(2);
        }
        // --help and --version are answers like any other: a failed write is reported.
        Err(err) if !err.use_stderr() => return exit_code(output::line(err.render().to_string().trim_end()), json),
        Err(err) => err.exit(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(err) => {
            print_error(json, &format!("cannot start the async runtime: {err}"));
            return std::process::ExitCode::FAILURE;
        }
    };
    crate::server::tls::install_default_provider();
    exit_code(runtime.block_on(run(cli)), json)
}

/// How a command's outcome ends the process.
fn exit_code(outcome: anyhow::Result<()>, json: bool) -> std::process::ExitCode {
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // `mamori … | head`: the reader has what it wanted; exit as a command killed by
        // SIGPIPE would (128 + 13), without a message nobody reads.
        Err(err) if err.downcast_ref::<output::OutputFailed>().is_some_and(|failed| failed.0.kind() == std::io::ErrorKind::BrokenPipe) => {
            std::process::ExitCode::from(141)
        }
        Err(err) => {
            print_error(json, &format!("{err:#}"));
            std::process::ExitCode::FAILURE
        }
    }
}

/// Whether the command line says `--output json` (or `--output=json`). Read from the
/// words themselves so that it is known even when clap refuses the rest of the line; clap
/// takes no option value that starts with `--`, so a value cannot pass for the flag.
fn asks_for_json(args: impl Iterator<Item = std::ffi::OsString>) -> bool {
    let args: Vec<String> = args.map(|a| a.to_string_lossy().into_owned()).collect();
    args.iter().any(|a| a == "--output=json") || args.windows(2).any(|w| w[0] == "--output" && w[1] == "json")
}

/// A failure on standard error: `error: …` for people, `{"error": "…"}` for scripts.
fn print_error(json: bool, message: &str) {
    if json {
        output::note(&serde_json::json!({ "error": message.trim_end() }).to_string());
    } else {
        output::note(&format!("error: {message}"));
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = || config_file(cli.config.clone(), std::path::Path::new("."));
    match cli.command {
        Command::Quickstart(args) => quickstart::run(args).await,
        Command::Serve => {
            let app = crate::app::App::open(&config()).await?;
            crate::server::run(app, None).await
        }
        Command::Migrate(args) => {
            let app = crate::app::App::open(&config()).await?;
            let backend = format!("{:?}", app.storage.backend()).to_lowercase();
            output::print(args.output, &serde_json::json!({ "database": backend, "up_to_date": true }), || {
                format!("database schema is up to date ({backend})")
            })
        }
        Command::Ca(cmd) => ca::run(&config(), cmd).await,
        Command::Admin(cmd) => admin::run(&config(), cmd).await,
    }
}

/// The config file to open: the one named (`--config`, `MAMORI_CONFIG`), else
/// `mamori.toml` in `dir`, else the quickstart's `mamori-data/mamori.toml` there, so an
/// operator in the quickstart folder types `mamori admin …` as the banner shows it. When
/// neither exists the first is named, and loading it says it is missing.
fn config_file(named: Option<PathBuf>, dir: &std::path::Path) -> PathBuf {
    if let Some(path) = named {
        return path;
    }
    let (own, quickstart) = (dir.join("mamori.toml"), dir.join("mamori-data").join("mamori.toml"));
    if !own.exists() && quickstart.exists() { quickstart } else { own }
}

#[cfg(test)]
mod tests {
    use super::config_file;

    /// Every command and command group says what it does in `--help`, and every option
    /// of every command has a line too where clap cannot say it by itself.
    #[test]
    fn every_command_has_help_text() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                let here = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() {
                    missing.push(here.clone());
                }
                walk(sub, &here, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&<super::Cli as clap::CommandFactory>::command(), "mamori", &mut missing);
        assert!(missing.is_empty(), "commands without help text:\n{}", missing.join("\n"));
    }

    /// Every command a script may run takes `--output json` (issue #19): a command added
    /// without it fails here. Only the two that run the server are apart.
    #[test]
    fn every_command_takes_output_json() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let subs: Vec<&clap::Command> = cmd.get_subcommands().filter(|s| s.get_name() != "help").collect();
            if subs.is_empty() {
                let json = cmd
                    .get_arguments()
                    .find(|a| a.get_id() == "output")
                    .is_some_and(|a| a.get_possible_values().iter().any(|v| v.get_name() == "json"));
                if !json && !["mamori serve", "mamori quickstart"].contains(&path) {
                    missing.push(path.to_owned());
                }
            }
            for sub in subs {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&<super::Cli as clap::CommandFactory>::command(), "mamori", &mut missing);
        assert!(missing.is_empty(), "commands without --output json:\n{}", missing.join("\n"));
    }

    #[test]
    fn json_is_asked_for_by_the_flag_and_its_value_only() {
        let words = |s: &str| s.split(' ').map(std::ffi::OsString::from).collect::<Vec<_>>().into_iter();
        assert!(super::asks_for_json(words("admin user unlock --tenant a --login-id b --output json")));
        assert!(super::asks_for_json(words("admin user unlock --output=json")));
        assert!(!super::asks_for_json(words("admin user unlock --output text")));
        assert!(!super::asks_for_json(words("admin events login --output csv --tenant json")));
        assert!(!super::asks_for_json(words("admin user show --login-id json")));
    }

    #[test]
    fn the_config_is_found_in_the_quickstart_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (own, quickstart) = (dir.path().join("mamori.toml"), dir.path().join("mamori-data/mamori.toml"));
        assert_eq!(config_file(None, dir.path()), own, "nothing there: the default is named");
        std::fs::create_dir(dir.path().join("mamori-data")).expect("write");
        std::fs::write(&quickstart, "").expect("write");
        assert_eq!(config_file(None, dir.path()), quickstart);
        std::fs::write(&own, "").expect("write");
        assert_eq!(config_file(None, dir.path()), own, "a mamori.toml of its own wins");
        let named = dir.path().join("elsewhere.toml");
        assert_eq!(config_file(Some(named.clone()), dir.path()), named, "--config always wins");
    }
}
