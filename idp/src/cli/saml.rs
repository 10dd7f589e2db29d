//! `mamori admin saml-sp …`: the service providers of the SAML identity provider,
//! registered from their metadata (a file, or an https URL fetched once).

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use super::OutputArgs;
use super::output::print;
use crate::app::App;
use crate::outbound;

#[derive(Debug, Subcommand)]
pub enum SamlSpCommand {
    /// Register a service provider from its metadata.
    Add(Box<AddSpArgs>),
    /// A tenant's service providers.
    List {
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Remove a service provider.
    Delete {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        entity_id: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    #[command(flatten)]
    Change(super::sites::SamlSpChangeCommand),
}

#[derive(Debug, Subcommand)]
pub enum SamlKeysCommand {
    /// New signing and encryption keys: published in the metadata now, used after the
    /// grace period (while SPs refresh their copy); the current ones until then.
    Rotate {
        /// Days between publishing the new keys and signing with them.
        #[arg(long, default_value_t = 7)]
        grace_days: u32,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// The keys the metadata publishes now.
    List(OutputArgs),
}

pub async fn keys(app: &App, command: SamlKeysCommand) -> anyhow::Result<()> {
    use crate::saml::keys::{self, KeyUse};
    match command {
        SamlKeysCommand::Rotate { grace_days, output } => {
            let grace = time::Duration::days(i64::from(grace_days));
            let kids = crate::admin::keys::rotate_shared(app, crate::admin::keys::KeyKind::Saml { grace })
                .await
                .map_err(super::oidc::cli_error)?;
            print(output.output, &serde_json::json!({ "published": kids, "grace_days": grace_days }), || {
                format!("published SAML keys {} (used from {grace_days} days on)", kids.join(", "))
            })
        }
        SamlKeysCommand::List(output) => {
            // The first keys are made on first use; listing makes them too.
            keys::active(app, KeyUse::Signing).await?;
            keys::active(app, KeyUse::Encryption).await?;
            let mut rows = Vec::new();
            for key_use in [KeyUse::Signing, KeyUse::Encryption] {
                for k in app.storage.signing_keys().list_published(None, key_use.purpose(), app.now()).await? {
                    rows.push(serde_json::json!({
                        "kid": k.kid, "use": format!("{key_use:?}").to_lowercase(),
                        "activated_at": super::output::time(k.activated_at), "retire_after": k.retire_after.map(super::output::time),
                        "expires_at": k.expires_at.map(super::output::time),
                    }));
                }
            }
            print(output.output, &rows, || {
                let cell = |r: &serde_json::Value, k: &str| r[k].as_str().unwrap_or("-").to_owned();
                let table: Vec<Vec<String>> =
                    rows.iter().map(|r| vec![cell(r, "kid"), cell(r, "use"), cell(r, "activated_at"), cell(r, "retire_after")]).collect();
                super::output::table(&["KID", "USE", "ACTIVATED", "RETIRES"], &table)
            })
        }
    }
}

#[derive(Debug, Args)]
pub struct AddSpArgs {
    #[arg(long)]
    pub tenant: String,
    /// The SP's metadata: a file, or an https:// URL (http:// only for localhost).
    #[arg(long)]
    pub metadata: String,
    /// The entity ID the metadata must be for (refused otherwise).
    #[arg(long)]
    pub entity_id: Option<String>,
    /// A display name (default: the entity ID).
    #[arg(long)]
    pub name: Option<String>,
    /// persistent (pairwise, the default), email or transient.
    #[arg(long, default_value = "persistent")]
    pub name_id_format: String,
    /// Sign the Response. With neither --sign-response nor --sign-assertion, both are signed.
    #[arg(long)]
    pub sign_response: bool,
    /// Sign the Assertion.
    #[arg(long)]
    pub sign_assertion: bool,
    /// Encrypt the assertion for the SP (AES-256-GCM, RSA-OAEP).
    #[arg(long)]
    pub encrypt: bool,
    /// Require signed AuthnRequests even if the metadata does not say AuthnRequestsSigned.
    #[arg(long)]
    pub require_signed_requests: bool,
    /// Send the SP IdP-initiated (unsolicited) responses at
    /// /t/TENANT/saml/sso/unsolicited?providerId=ENTITY_ID. Off by default: the SP gets
    /// only answers to its own AuthnRequests.
    #[arg(long)]
    pub allow_unsolicited: bool,
    /// An attribute to release: login_id, email, display_name, locale, amr (repeat, or
    /// comma-separated). Default: those the metadata's AttributeConsumingService asks for.
    #[arg(long = "attribute", value_delimiter = ',')]
    pub attributes: Vec<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub async fn run(app: &App, command: SamlSpCommand) -> anyhow::Result<()> {
    match command {
        SamlSpCommand::Add(args) => add(app, *args).await,
        SamlSpCommand::Change(cmd) => super::sites::saml_sp(app, cmd).await,
        SamlSpCommand::List { tenant, output } => {
            let tenant = super::admin::find_tenant(app, &tenant).await?;
            let sps = app.storage.saml_service_providers().list(tenant.id).await?;
            let json: Vec<_> = sps.iter().map(sp_json).collect();
            print(output.output, &json, || {
                let rows: Vec<Vec<String>> =
                    sps.iter().map(|s| vec![s.entity_id.clone(), s.name.clone(), s.name_id_format.clone()]).collect();
                super::output::table(&["ENTITY ID", "NAME", "NAMEID FORMAT"], &rows)
            })
        }
        SamlSpCommand::Delete { tenant, entity_id, output } => {
            // Through the service layer, so the deletion is in the audit trail.
            let principal = crate::admin::Principal::local_cli();
            let sp = crate::admin::federation::saml_sps(app, &principal, &tenant)
                .await
                .map_err(super::oidc::cli_error)?
                .into_iter()
                .find(|s| s.entity_id == entity_id)
                .with_context(|| format!("--entity-id {entity_id}: no such service provider in tenant `{tenant}`"))?;
            crate::admin::federation::delete_saml_sp(app, &principal, &tenant, &sp.id.to_string()).await.map_err(super::oidc::cli_error)?;
            print(output.output, &serde_json::json!({"deleted": entity_id, "tenant": tenant}), || {
                format!("deleted service provider {entity_id}")
            })
        }
    }
}

async fn add(app: &App, args: AddSpArgs) -> anyhow::Result<()> {
    use crate::admin::saml_sps::{self, SpRegistration};
    let registration = SpRegistration {
        metadata: read_metadata(app, &args.metadata).await?,
        entity_id: args.entity_id,
        name: args.name,
        name_id_format: Some(args.name_id_format),
        attributes: (!args.attributes.is_empty()).then_some(args.attributes),
        sign_response: args.sign_response,
        sign_assertion: args.sign_assertion,
        encrypt_assertion: args.encrypt,
        require_signed_requests: args.require_signed_requests,
        allow_unsolicited: args.allow_unsolicited,
    };
    let sp = saml_sps::create_saml_sp(app, &crate::admin::Principal::local_cli(), &args.tenant, registration)
        .await
        .map_err(|e| super::oidc::cli_error(e).context(format!("--metadata {}: cannot register the service provider", args.metadata)))?;
    print(args.output.output, &sp_json(&sp), || format!("registered service provider {} in tenant {}", sp.entity_id, args.tenant))
}

fn sp_json(sp: &mamori_storage::model::SamlServiceProvider) -> serde_json::Value {
    serde_json::json!({
        "id": sp.id,
        "entity_id": sp.entity_id,
        "name": sp.name,
        "acs": sp.acs.iter().map(|a| serde_json::json!({"url": a.url, "binding": a.binding, "index": a.index, "default": a.is_default})).collect::<Vec<_>>(),
        "slo": sp.slo.iter().map(|s| serde_json::json!({"url": s.url, "binding": s.binding})).collect::<Vec<_>>(),
        "certificates": sp.certificates.len(),
        "want_authn_requests_signed": sp.want_authn_requests_signed,
        "name_id_format": sp.name_id_format,
        "attribute_release": sp.attribute_release,
        "sign_response": sp.sign_response,
        "sign_assertion": sp.sign_assertion,
        "encrypt_assertion": sp.encrypt_assertion,
        "allow_unsolicited": sp.allow_unsolicited,
    })
}

/// Largest metadata document fetched or read.
const MAX_METADATA: usize = crate::admin::saml_sps::MAX_METADATA;

async fn read_metadata(app: &App, source: &str) -> anyhow::Result<Vec<u8>> {
    if source.starts_with("https://") || source.starts_with("http://") {
        return fetch(app, source).await.with_context(|| format!("--metadata {source}: cannot fetch"));
    }
    let bytes = tokio::fs::read(Path::new(source)).await.with_context(|| format!("--metadata {source}: cannot read"))?;
    anyhow::ensure!(bytes.len() <= MAX_METADATA, "--metadata {source}: larger than {MAX_METADATA} bytes");
    Ok(bytes)
}

/// One GET through the server's outbound client (no redirects; the system roots plus
/// `oidc.jwks_fetch_extra_ca_file`). The URL comes from the operator running this
/// command, not from a client, so private addresses are allowed, and plain http on the
/// loopback as before.
async fn fetch(app: &App, url: &str) -> anyhow::Result<Vec<u8>> {
    let limits =
        outbound::Limits { timeout: Duration::from_secs(20), max_body: MAX_METADATA, allow_private: true, allow_loopback_http: true };
    let fetched = app.outbound.get(url, "application/samlmetadata+xml, application/xml", limits).await?;
    Ok(fetched.body.to_vec())
}
