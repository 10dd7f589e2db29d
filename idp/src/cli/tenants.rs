//! `mamori admin tenant update|delete`: through the admin service layer as the local
//! super-admin, so each change is checked as the API checks it and audited.

use clap::Subcommand;

use super::OutputArgs;
use super::oidc::cli_error;
use super::output::{fields, print};
use crate::admin::api::schema::TenantOut;
use crate::admin::branding::{self, BrandingChange};
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
    /// Show or set the tenant's branding: the display name, accent colour and logo its
    /// users see on every page and in mails. Without a change it shows the branding.
    Branding {
        #[arg(long)]
        tenant: String,
        /// The new display name.
        #[arg(long)]
        name: Option<String>,
        /// `#rrggbb`, dark enough for white text on it (contrast at least 4.5:1).
        #[arg(long, conflicts_with = "no_accent_colour")]
        accent_colour: Option<String>,
        /// Back to Mamori's own colour.
        #[arg(long)]
        no_accent_colour: bool,
        /// A PNG file of at most 48 KiB and 1024×1024 pixels (SVG is refused).
        #[arg(long, conflicts_with = "no_logo")]
        logo: Option<std::path::PathBuf>,
        /// Remove the logo.
        #[arg(long)]
        no_logo: bool,
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
                fields(&[
                    ("slug", out.slug.clone()),
                    ("name", out.display_name.clone()),
                    ("created", super::output::time_text(&out.created_at)),
                ])
            })
        }
        TenantChangeCommand::Update { tenant, name, output } => {
            let t =
                tenants::rename(app, &principal, &tenant, &name).await.map_err(|e| cli_error(e).context(format!("--tenant {tenant}")))?;
            print(output.output, &TenantOut::from(&t), || format!("renamed tenant {} to {}", t.slug, t.display_name))
        }
        TenantChangeCommand::Branding { tenant, name, accent_colour, no_accent_colour, logo, no_logo, output } => {
            let logo = match logo {
                Some(path) => Some(Some(read_logo(&path)?)),
                None if no_logo => Some(None),
                None => None,
            };
            let accent = match accent_colour {
                Some(colour) => Some(Some(colour)),
                None if no_accent_colour => Some(None),
                None => None,
            };
            let change = BrandingChange { display_name: name, accent_colour: accent, logo_png: logo };
            let unchanged = change.display_name.is_none() && change.accent_colour.is_none() && change.logo_png.is_none();
            let result = if unchanged {
                branding::get(app, &principal, &tenant).await
            } else {
                branding::change(app, &principal, &tenant, change).await
            };
            let b = result.map_err(|e| cli_error(e).context(format!("--tenant {tenant}")))?;
            let logo_url = b.logo_sha256.as_deref().map(|sha| crate::web::brand::logo_url(&b.slug, sha));
            let out = serde_json::json!({
                "slug": b.slug, "display_name": b.display_name, "accent_colour": b.accent_colour, "logo_url": logo_url,
            });
            print(output.output, &out, || {
                fields(&[
                    ("slug", b.slug.clone()),
                    ("name", b.display_name.clone()),
                    ("accent colour", b.accent_colour.clone().unwrap_or_else(|| "-".to_owned())),
                    ("logo", logo_url.clone().unwrap_or_else(|| "-".to_owned())),
                ])
            })
        }
        TenantChangeCommand::Delete { tenant, yes: _, output } => {
            tenants::delete(app, &principal, &tenant).await.map_err(|e| cli_error(e).context(format!("--tenant {tenant}")))?;
            print(output.output, &serde_json::json!({"deleted": tenant}), || format!("deleted tenant {tenant}"))
        }
    }
}

/// The logo file's bytes, read no further than one byte past the limit (the rule in
/// `fields::Logo` then refuses it with its own message).
fn read_logo(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| anyhow::anyhow!("--logo {}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    let limit = crate::fields::branding::MAX_LOGO_BYTES as u64 + 1;
    file.take(limit).read_to_end(&mut bytes).map_err(|e| anyhow::anyhow!("--logo {}: {e}", path.display()))?;
    Ok(bytes)
}
