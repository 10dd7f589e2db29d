//! `mamori admin api-token …`: tokens for the admin REST API, made on the server's shell
//! (as the local super-admin).

use clap::{Args, Subcommand};
use mamori_storage::model::ApiScope;

use super::{OutputArgs, OutputFormat};
use crate::admin::{Principal, tokens};
use crate::app::App;

#[derive(Debug, Subcommand)]
pub enum ApiTokenCommand {
    /// Create a token and print it once (it is stored only as a keyed hash).
    Create(CreateArgs),
    /// List tokens (never their text).
    List {
        /// Only the tokens of this tenant.
        #[arg(long)]
        tenant: Option<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Revoke a token by its id.
    Revoke {
        #[arg(long)]
        id: uuid::Uuid,
        #[command(flatten)]
        output: OutputArgs,
    },
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("reach").required(true).args(["tenant", "super_admin"])))]
pub struct CreateArgs {
    /// A tenant admin token confined to this tenant.
    #[arg(long)]
    pub tenant: Option<String>,
    /// A super-admin token for every tenant.
    #[arg(long)]
    pub super_admin: bool,
    /// read, write, scim (repeat or separate with commas; `scim` alone for a directory
    /// that provisions users over SCIM 2.0).
    #[arg(long = "scope", value_delimiter = ',', required = true)]
    pub scopes: Vec<String>,
    /// Lifetime: 90d, 12h, 30m, 45s.
    #[arg(long, default_value = "90d")]
    pub expires_in: String,
    /// A label for lists and the audit trail.
    #[arg(long, default_value = "api")]
    pub name: String,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub async fn run(app: &App, command: ApiTokenCommand) -> anyhow::Result<()> {
    let principal = Principal::local_cli();
    match command {
        ApiTokenCommand::Create(args) => {
            let scopes = args
                .scopes
                .iter()
                .map(|s| s.trim().parse::<ApiScope>().map_err(|_| anyhow::anyhow!("--scope {s}: use read, write or scim")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let lifetime = tokens::parse_lifetime(&args.expires_in).map_err(|e| anyhow::anyhow!("--expires-in {e}"))?;
            let created = tokens::create(app, &principal, &args.name, args.tenant.as_deref(), &scopes, lifetime)
                .await
                .map_err(|e| anyhow::anyhow!("cannot create the token: {e}"))?;
            // The command line's one time format, in JSON and text alike.
            let mut json = serde_json::to_value(&created)?;
            json["expires_at"] = super::output::time(created.expires_at).into();
            super::output::print(args.output.output, &json, || {
                format!(
                    "API token (shown once, keep it secret):\n{}\nid {}, {}, scopes {}, expires {}",
                    created.token,
                    created.id,
                    created.tenant.as_deref().map_or("super-admin".to_owned(), |t| format!("tenant {t}")),
                    created.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(","),
                    super::output::time(created.expires_at)
                )
            })
        }
        ApiTokenCommand::List { tenant, output } => {
            let tenant_id = match tenant {
                Some(slug) => Some(super::admin::find_tenant(app, &slug).await?.id),
                None => None,
            };
            let list = app.storage.api_tokens().list(tenant_id).await?;
            let json: Vec<_> = list
                .iter()
                .map(|t| {
                    serde_json::json!({
                        "id": t.id, "name": t.name, "tenant_id": t.tenant_id, "scopes": t.scopes,
                        "expires_at": super::output::time(t.expires_at), "revoked": t.revoked_at.is_some(),
                        "last_used_at": t.last_used_at.map(super::output::time),
                    })
                })
                .collect();
            match output.output {
                OutputFormat::Json => super::output::line(&serde_json::to_string_pretty(&json)?)?,
                OutputFormat::Text => {
                    let rows: Vec<Vec<String>> = list
                        .iter()
                        .map(|t| {
                            let state = if t.revoked_at.is_some() {
                                "revoked"
                            } else if t.expires_at <= app.now() {
                                "expired"
                            } else {
                                "active"
                            };
                            let last_used = t.last_used_at.map_or_else(|| "-".to_owned(), super::output::time);
                            vec![t.id.to_string(), t.name.clone(), super::output::time(t.expires_at), last_used, state.to_owned()]
                        })
                        .collect();
                    super::output::line(&super::output::table(&["ID", "NAME", "EXPIRES", "LAST USED", "STATE"], &rows))?;
                }
            }
            Ok(())
        }
        ApiTokenCommand::Revoke { id, output } => {
            tokens::revoke(app, &principal, &id.to_string()).await.map_err(|e| anyhow::anyhow!("--id {id}: {e}"))?;
            super::output::print(output.output, &serde_json::json!({"revoked": id}), || format!("revoked token {id}"))
        }
    }
}
