//! `mamori admin tenant update|delete`: through the admin service layer as the local
//! super-admin, so each change is checked as the API checks it and audited.

use clap::Subcommand;

use super::OutputArgs;
use super::oidc::cli_error;
use super::output::{fields, print};
use crate::admin::api::schema::TenantOut;
use crate::admin::{Principal, tenants};
use crate::app::App;

#[derive(Debug, Subcommand)]
pub enum TenantChangeCommand {
    /// Show a tenant.
    Show {
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Rename a tenant (its policy: `tenant policy`).
    Update {
        #[arg(long)]
        tenant: String,
        /// The new display name.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Delete a tenant with everything it owns: users, devices, relying sites.
    Delete {
        #[arg(long)]
        tenant: String,
        /// Confirms that everything in the tenant goes.
        #[arg(long, required = true)]
        yes: bool,
        #[command(flatten)]
        output: OutputArgs,
    },
}

pub async fn run(app: &App, command: TenantChangeCommand) -> anyhow::Result<()> {
    let principal = Principal::local_cli();
    match command {
        TenantChangeCommand::Show { tenant, output } => {
            let t = tenants::get(app, &principal, &tenant).await.map_err(cli_error)?;
            let out = TenantOut::from(&t);
            print(output.output, &out, || {
                fields(&[("slug", out.slug.clone()), ("name", out.display_name.clone()), ("created", out.created_at.clone())])
            })
        }
        TenantChangeCommand::Update { tenant, name, output } => {
            let t =
                tenants::rename(app, &principal, &tenant, &name).await.map_err(|e| cli_error(e).context(format!("--tenant {tenant}")))?;
            print(output.output, &TenantOut::from(&t), || format!("renamed tenant {} to {}", t.slug, t.display_name))
        }
        TenantChangeCommand::Delete { tenant, yes: _, output } => {
            tenants::delete(app, &principal, &tenant).await.map_err(|e| cli_error(e).context(format!("--tenant {tenant}")))?;
            print(output.output, &serde_json::json!({"deleted": tenant}), || format!("deleted tenant {tenant}"))
        }
    }
}
