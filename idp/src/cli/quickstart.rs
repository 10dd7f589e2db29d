//! `mamori quickstart`: everything a newcomer needs on one machine, from one command.
//! The data folder is built beside its final place and renamed into it, so an interrupted
//! first run leaves nothing half-made; later runs reuse it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use mamori_ca::{CaSubject, CertificateAuthority, KeyAlgorithm, SealingKey};
use mamori_storage::model::LoginMethod;

use super::QuickstartArgs;
use crate::admin::{self, Principal};
use crate::app::App;
use crate::flows::enrollment::IssuedEnrollment;
use crate::pki::CaSource;

/// What quickstart tells the person at the terminal. A closed standard output loses the
/// text, never the running server (`println!` would panic).
macro_rules! say {
    ($($words:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($words)*);
    }};
}

const CONFIG_FILE: &str = "mamori.toml";
const DEMO_TENANT: &str = "demo";
const DEMO_USER: &str = "demo-user";
/// The operators' own tenant: the console's super-admin lives apart from the demo's users,
/// so that trying out the demo tenant's policy, importing or deleting its users, or
/// deleting the tenant itself never locks the operator out; as `mamori admin bootstrap`
/// would set up a production installation.
const ADMIN_TENANT: &str = "operators";
const ADMIN_USER: &str = "admin";

pub async fn run(args: QuickstartArgs) -> anyhow::Result<()> {
    let dir = args.data_dir;
    let config_path = dir.join(CONFIG_FILE);
    if !config_path.exists() {
        if dir.exists() && std::fs::read_dir(&dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
            anyhow::bail!("{} exists but has no {CONFIG_FILE}; move it away or pass --data-dir", dir.display());
        }
        create_data_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        say!("created {}", dir.display());
    } else {
        say!("reusing {}", dir.display());
    }

    let app = App::open(&config_path).await?;
    if matches!(app.ca.summary().await, Err(crate::pki::PkiError::NoCa)) {
        let source = CaSource::Create {
            subject: CaSubject { common_name: "Mamori Quickstart Root CA".into(), organization: Some("Mamori".into()) },
            key: KeyAlgorithm::EcP256,
            years: 10,
            intermediate: true,
        };
        app.ca.init(source, false, app.now()).await?;
    }
    let enrollment = ensure_demo_user(&app).await?;
    let admin_enrollment = ensure_admin(&app).await?;

    let outbox = app.config.mail.outbox_dir.clone();
    let dev_root = dir.join("tls").join("dev-root.pem");
    let demo_rp = if args.no_serve { None } else { Some(crate::demo_rp::prepare(&app, DEMO_TENANT, &dev_root).await?) };
    let config_shown = config_path.clone();
    // Found without --config only from the folder that holds ./mamori-data (the default);
    // with another --data-dir the banner shows the whole command.
    let admin_hint = if dir == Path::new("mamori-data") {
        "mamori admin --help (in this folder: the config is found without --config)".to_owned()
    } else {
        format!("mamori --config {} admin --help", config_path.display())
    };
    let serving = !args.no_serve;
    let print_next_steps = move |urls: &crate::state::PublicUrls| {
        say!();
        if serving {
            say!("Mamori is running.");
        } else {
            say!("Mamori is set up (not started: --no-serve). Start it with `mamori --config {} serve`.", config_shown.display());
        }
        match &enrollment {
            Some(_) => {
                say!("  open first:              the demo user's enrollment link below, in a browser; then log in at the start page")
            }
            None => say!("  open first:              the start page, and log in with the demo user's certificate"),
        }
        say!("  start page:              {}/", urls.main);
        match &enrollment {
            Some(e) => {
                say!("  enroll the demo user:    {}{}", urls.main, e.path);
                say!("  its one-time password:   {}", e.one_time_password);
                say!("  (user ID {}, valid until {})", e.login_id, utc_seconds(e.expires_at));
            }
            None => say!("  the demo user `{DEMO_USER}` has enrolled already; log in from the start page"),
        }
        match &admin_enrollment {
            Some(e) => {
                say!("  enroll the admin:        {}{}", urls.main, e.path);
                say!("  admin one-time password: {}", e.one_time_password);
                say!("  (super-admin {} of tenant {ADMIN_TENANT}, valid until {})", e.login_id, utc_seconds(e.expires_at));
            }
            None => say!("  the admin `{ADMIN_USER}` of tenant {ADMIN_TENANT} has enrolled already; log in at the console"),
        }
        say!("  console:                 {}/console", urls.mtls);
        say!("  trust this dev root:     {}", dev_root.display());
        say!("  mails land in:           {} (read them at {}/dev/mailbox)", outbox.display(), urls.main);
        say!("  config:                  {}", config_shown.display());
        say!("  OIDC issuer (demo):      {}/t/{DEMO_TENANT}", urls.main);
        say!("  OIDC discovery (demo):   {}/t/{DEMO_TENANT}/.well-known/openid-configuration", urls.main);
        say!("  SAML metadata (demo):    {}/t/{DEMO_TENANT}/saml/metadata", urls.main);
        say!("  admin commands:          {admin_hint}");
        if let Some(rp) = demo_rp {
            say!("  demo relying site:       {}/ (logs in through Mamori over OpenID Connect)", rp.url());
            rp.start(&urls.main, DEMO_TENANT);
        }
        if serving {
            say!("Press Ctrl-C to stop.");
        }
    };
    if args.no_serve {
        let port = app.config.server.listen.port();
        let mtls_port = app.config.server.mtls_listen.port();
        let urls = crate::state::PublicUrls {
            main: app.config.main_public_url(port),
            mtls: app.config.mtls_public_url(mtls_port),
            main_addr: app.config.server.listen,
            mtls_addr: app.config.server.mtls_listen,
        };
        print_next_steps(&urls);
        return Ok(());
    }
    crate::server::run(app, Some(Box::new(print_next_steps))).await
}

/// The demo tenant and user; a fresh enrollment ticket while the user has not enrolled
/// (its one-time password is stored only as a hash, so each run prints a new one).
async fn ensure_demo_user(app: &App) -> anyhow::Result<Option<IssuedEnrollment>> {
    // Through the service layer, as `mamori admin` does: checked and audited.
    let cli = Principal::local_cli();
    let tenant = match app.storage.tenants().get_by_slug(DEMO_TENANT).await? {
        Some(t) => t,
        None => admin::tenants::create(app, &cli, DEMO_TENANT, "Demo", None).await.map_err(super::oidc::cli_error)?,
    };
    let user = match app.storage.users().get_by_login_id(tenant.id, DEMO_USER).await? {
        Some(u) => u,
        None => {
            let input = admin::users::NewUserInput {
                login_id: DEMO_USER.into(),
                email: "demo-user@example.test".into(),
                display_name: Some("Demo User".into()),
                login_method: Some(LoginMethod::CertPassword.to_string()),
                locale: Some("ja".into()),
                time_zone: None,
                ..Default::default()
            };
            admin::users::create_in(app, &cli, &tenant, &input).await.map_err(super::oidc::cli_error)?
        }
    };
    if user.secret_answer_hash.is_some() {
        return Ok(None);
    }
    // The URL printed is built from the bound port; the base here is only a placeholder.
    Ok(Some(crate::flows::enrollment::issue_enrollment_ticket(app, &tenant, &user, "").await?))
}

/// The console's super-admin, in its own tenant (made by the bootstrap the first time,
/// as `mamori admin bootstrap` makes it), and a fresh enrollment ticket while it has not
/// enrolled; a rerun makes nothing twice.
async fn ensure_admin(app: &App) -> anyhow::Result<Option<IssuedEnrollment>> {
    let cli = Principal::local_cli();
    let tenant = app.storage.tenants().get_by_slug(ADMIN_TENANT).await?;
    let user = match &tenant {
        Some(t) => app.storage.users().get_by_login_id(t.id, ADMIN_USER).await?,
        None => None,
    };
    let Some(user) = user else {
        let input = admin::operators::BootstrapInput {
            tenant: ADMIN_TENANT.into(),
            tenant_name: Some("Operators".into()),
            login_id: ADMIN_USER.into(),
            email: "admin@example.test".into(),
            display_name: Some("Quickstart Admin".into()),
            locale: Some("ja".into()),
            // The quickstart's own admin, whoever else an experiment made super-admin.
            another: true,
        };
        // The URL printed is built from the bound port; the base here is only a placeholder.
        let done = admin::operators::bootstrap(app, &cli, &input, "").await.map_err(super::oidc::cli_error)?;
        return Ok(Some(done.enrollment));
    };
    let roles = app.storage.admin_roles().list_for_user(user.id).await?;
    if !roles.iter().any(|r| r.role == mamori_storage::model::AdminRoleKind::SuperAdmin) {
        admin::operators::grant(app, &cli, ADMIN_TENANT, ADMIN_USER, "super-admin").await.map_err(super::oidc::cli_error)?;
    }
    if user.secret_answer_hash.is_some() {
        return Ok(None);
    }
    let issued = admin::users::enrollment_ticket(app, &cli, ADMIN_TENANT, ADMIN_USER, "").await.map_err(super::oidc::cli_error)?;
    Ok(Some(issued))
}

fn create_data_dir(dir: &Path) -> anyhow::Result<()> {
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "mamori-data".into());
    let staging = parent.join(format!(".{name}.partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let result = populate(&staging);
    match result {
        Ok(()) => {
            if dir.exists() {
                std::fs::remove_dir(dir).context("the empty target folder could not be replaced")?;
            }
            std::fs::rename(&staging, dir).context("cannot move the new data folder into place")?;
            Ok(())
        }
        Err(err) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(err)
        }
    }
}

fn populate(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.join("tls"))?;
    std::fs::create_dir_all(dir.join("outbox"))?;
    write_private(&dir.join("master.key"), SealingKey::generate().to_base64().as_bytes())?;

    // A throwaway dev root signs the localhost TLS certificate; its key is never kept,
    // so trusting it in a browser cannot let anything else be signed.
    let now = time::OffsetDateTime::now_utc();
    let root = CertificateAuthority::create_root(
        &CaSubject { common_name: "Mamori Quickstart Dev TLS Root".into(), organization: Some("Mamori".into()) },
        KeyAlgorithm::EcP256,
        now - time::Duration::minutes(5),
        now + time::Duration::days(3650),
    )?;
    let server = root.issue_server_certificate(
        &["localhost".to_owned()],
        &[IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)],
        now - time::Duration::minutes(5),
        now + time::Duration::days(397),
    )?;
    let key_pem = server.private_key_pem().context("the server certificate came without its key")?;
    std::fs::write(dir.join("tls/dev-root.pem"), root.certificate_pem())?;
    std::fs::write(dir.join("tls/server.pem"), format!("{}{}", server.certificate_pem, root.certificate_pem()))?;
    write_private(&dir.join("tls/server.key"), key_pem.as_bytes())?;
    std::fs::write(dir.join(CONFIG_FILE), QUICKSTART_CONFIG)?;
    Ok(())
}

/// Writes a file only its owner can read.
fn write_private(path: &PathBuf, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}

const QUICKSTART_CONFIG: &str = r#"# Mamori quickstart configuration. Paths are relative to this file's folder.
# Every key can be overridden with a MAMORI_* variable, e.g. MAMORI_SERVER__LISTEN.
# The full reference is deploy/mamori.example.toml in the source tree.

[server]
listen = "127.0.0.1:8443"        # pages and protocol endpoints; never asks for a certificate
mtls_listen = "127.0.0.1:8444"   # the certificate step of login
tls_certificate = "tls/server.pem"
tls_private_key = "tls/server.key"

[storage]
url = "sqlite://mamori.db"

[secrets]
master_key_file = "master.key"   # seals the CA and signing keys; back it up with the database

[mail]
transport = "outbox"
outbox_dir = "outbox"
dev_mailbox = true               # read the mails at /dev/mailbox; development only
"#;

/// The command line's one time format ([`super::output::time`]).
pub(crate) fn utc_seconds(t: time::OffsetDateTime) -> String {
    super::output::time(t)
}
