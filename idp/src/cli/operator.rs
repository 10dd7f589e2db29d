//! `mamori admin operator grant|revoke|list` and `mamori admin bootstrap`: who may use the
//! web console, through the service layer (`admin::operators`) with the CLI's principal.

use clap::{Args, Subcommand};

use super::OutputArgs;
use super::output::{fields, print, table};
use crate::admin::{AdminError, Principal, operators};
use crate::app::App;

#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Make a user an operator of the console.
    Grant(OperatorArgs),
    /// Take an operator role away (the user stays; the console refuses them from the next page).
    Revoke(OperatorArgs),
    /// Who holds which role in which tenant.
    List(OutputArgs),
}

#[derive(Debug, Args)]
pub struct OperatorArgs {
    /// The user's tenant; a tenant admin administers this tenant.
    #[arg(long)]
    pub tenant: String,
    #[arg(long)]
    pub login_id: String,
    /// tenant-admin (this tenant only) or super-admin (every tenant).
    #[arg(long)]
    pub role: String,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// The operator's tenant (where the operator logs in); created if it does not exist.
    #[arg(long)]
    pub tenant: String,
    /// The display name of the tenant when it is created (the slug when absent).
    #[arg(long)]
    pub tenant_name: Option<String>,
    /// The super-admin's user ID.
    #[arg(long)]
    pub login_id: String,
    /// The e-mail address of the super-admin's first device.
    #[arg(long)]
    pub email: String,
    #[arg(long)]
    pub display_name: Option<String>,
    /// ja or en.
    #[arg(long, default_value = "ja")]
    pub locale: String,
    /// Make a super-admin although one exists already (the bootstrap is refused then otherwise).
    #[arg(long)]
    pub another: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub async fn run(app: &App, command: OperatorCommand) -> anyhow::Result<()> {
    let cli = Principal::local_cli();
    match command {
        OperatorCommand::Grant(args) => {
            let role = operators::grant(app, &cli, &args.tenant, &args.login_id, &args.role).await.map_err(super::oidc::cli_error)?;
            let json = serde_json::json!({"tenant": args.tenant, "user": args.login_id, "role": role.to_string(), "granted": true});
            print(args.output.output, &json, || format!("{} of tenant {} is now {role}", args.login_id, args.tenant))?;
        }
        OperatorCommand::Revoke(args) => {
            let role = operators::revoke(app, &cli, &args.tenant, &args.login_id, &args.role).await.map_err(super::oidc::cli_error)?;
            let json = serde_json::json!({"tenant": args.tenant, "user": args.login_id, "role": role.to_string(), "revoked": true});
            print(args.output.output, &json, || format!("{} of tenant {} is no longer {role}", args.login_id, args.tenant))?;
        }
        OperatorCommand::List(output) => {
            let roles = operators::list(app, &cli).await.map_err(super::oidc::cli_error)?;
            // The CLI's own JSON writes times as its text does: RFC 3339, whole seconds.
            let json: Vec<_> = roles
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "tenant": r.tenant, "login_id": r.login_id, "role": r.role, "administers": r.administers,
                        "granted_at": super::output::time(r.granted_at),
                    })
                })
                .collect();
            print(output.output, &json, || {
                let rows: Vec<Vec<String>> = roles
                    .iter()
                    .map(|r| {
                        vec![
                            r.tenant.clone(),
                            r.login_id.clone(),
                            r.role.clone(),
                            r.administers.clone().unwrap_or_else(|| "every tenant".to_owned()),
                            super::quickstart::utc_seconds(r.granted_at),
                        ]
                    })
                    .collect();
                table(&["TENANT", "LOGIN ID", "ROLE", "ADMINISTERS", "GRANTED"], &rows)
            })?;
        }
    }
    Ok(())
}

/// `mamori admin bootstrap`: the first super-admin and the enrollment link it opens.
pub async fn bootstrap(app: &App, args: BootstrapArgs) -> anyhow::Result<()> {
    let input = operators::BootstrapInput {
        tenant: args.tenant.clone(),
        tenant_name: args.tenant_name,
        login_id: args.login_id.clone(),
        email: args.email,
        display_name: args.display_name,
        locale: Some(args.locale),
        another: args.another,
    };
    let main = app.config.main_public_url(app.config.server.listen.port());
    let console = format!("{}/console", app.config.mtls_public_url(app.config.server.mtls_listen.port()));
    let done = operators::bootstrap(app, &Principal::local_cli(), &input, &main).await.map_err(|e| match e {
        AdminError::Conflict(why) if why == operators::SUPER_ADMIN_EXISTS => {
            anyhow::anyhow!("{why}; to make one more, pass --another (or grant the role with `mamori admin operator grant`)")
        }
        other => super::oidc::cli_error(other).context(format!("cannot bootstrap `{}` in tenant `{}`", args.login_id, args.tenant)),
    })?;
    let e = &done.enrollment;
    let json = serde_json::json!({
        "tenant": done.tenant.slug,
        "tenant_created": done.tenant_created,
        "login_id": done.user.login_id,
        "role": "super-admin",
        "enrollment": {"login_id": e.login_id, "path": e.path, "url": e.url, "one_time_password": e.one_time_password,
            "expires_at": super::output::time(e.expires_at)},
        "console_url": console,
    });
    print(args.output.output, &json, || {
        let mut text = String::new();
        if done.tenant_created {
            text.push_str(&format!("created tenant {}\n", done.tenant.slug));
        }
        text.push_str(&format!("created super-admin {} in tenant {}\n", done.user.login_id, done.tenant.slug));
        text.push_str(&fields(&[
            ("enrollment URL", e.url.clone()),
            ("one-time password", e.one_time_password.clone()),
            ("expires", super::quickstart::utc_seconds(e.expires_at)),
            ("console", console.clone()),
        ]));
        text.push_str(
            "\nOpen the enrollment URL in a browser, enter the one-time password, choose a password, download the\n\
             certificate (PKCS#12) and install it in the browser; then open the console and log in with it.",
        );
        text
    })
}
