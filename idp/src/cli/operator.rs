//! `mamori admin operator grant|revoke`: who may use the web console, through the service
//! layer (`admin::operators`) with the CLI's principal.

use clap::{Args, Subcommand};

use crate::admin::{Principal, operators};
use crate::app::App;

#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Make a user an operator of the console.
    Grant(OperatorArgs),
    /// Take an operator role away (the user stays; the console refuses them from the next page).
    Revoke(OperatorArgs),
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
}

pub async fn run(app: &App, command: OperatorCommand) -> anyhow::Result<()> {
    let cli = Principal::local_cli();
    match command {
        OperatorCommand::Grant(args) => {
            let role = operators::grant(app, &cli, &args.tenant, &args.login_id, &args.role).await.map_err(super::oidc::cli_error)?;
            println!("{} of tenant {} is now {role}", args.login_id, args.tenant);
        }
        OperatorCommand::Revoke(args) => {
            let role = operators::revoke(app, &cli, &args.tenant, &args.login_id, &args.role).await.map_err(super::oidc::cli_error)?;
            println!("{} of tenant {} is no longer {role}", args.login_id, args.tenant);
        }
    }
    Ok(())
}
