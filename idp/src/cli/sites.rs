//! `mamori admin oidc-client show|update|rotate-secret` and `mamori admin saml-sp
//! show|update`: relying sites read and changed through the admin service layer
//! (`admin::federation`, `admin::saml_sps`) as the local super-admin, so a change is
//! checked as the API checks it and audited.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use mamori_storage::model::{AccessTokenFormat, ApiScope, SigningAlgorithm};

use super::OutputArgs;
use super::oidc::cli_error;
use super::output::{fields, or_dash, print, time_text};
use crate::admin::Principal;
use crate::admin::api::schema::{OidcClientOut, SamlSpOut};
use crate::admin::federation::{self, ClientUpdate};
use crate::admin::saml_sps::{self, SpUpdate};
use crate::app::App;

#[derive(Debug, Subcommand)]
pub enum OidcClientChangeCommand {
    /// Show a relying site's registration.
    Show {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        client_id: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Change a relying site's registration.
    ///
    /// Absent options stay as they are; a list option given replaces the whole list. The
    /// auth method is fixed: register a new client to change it. Every running node
    /// follows within a second.
    Update(Box<OidcUpdateArgs>),
    /// Give a client_secret_* client a new secret (printed once).
    ///
    /// The old secret stops working on every running node within a second (each node
    /// rechecks a tenant's relying sites every 250 ms; deploy/OPERATIONS.md).
    RotateSecret {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        client_id: String,
        #[command(flatten)]
        output: OutputArgs,
    },
}

#[derive(Debug, Args)]
pub struct OidcUpdateArgs {
    #[arg(long)]
    pub tenant: String,
    #[arg(long)]
    pub client_id: String,
    /// Shown on the consent page.
    #[arg(long)]
    pub name: Option<String>,
    /// An allowed redirect URI (repeat for several; replaces the list).
    #[arg(long = "redirect-uri")]
    pub redirect_uris: Option<Vec<String>>,
    /// An allowed post-logout redirect URI (repeat; replaces the list).
    #[arg(long = "post-logout-redirect-uri", conflicts_with = "no_post_logout_redirect_uris")]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Remove every post-logout redirect URI.
    #[arg(long)]
    pub no_post_logout_redirect_uris: bool,
    /// authorization_code, refresh_token, client_credentials (repeat; replaces the list).
    #[arg(long = "grant-type")]
    pub grant_types: Option<Vec<String>>,
    /// An allowed scope (repeat; replaces the list).
    #[arg(long = "scope")]
    pub scopes: Option<Vec<String>>,
    /// The user claims the client may receive, comma-separated (replaces the list);
    /// `--claims ''` releases every claim the granted scopes allow again.
    #[arg(long, value_name = "CLAIM,...", conflicts_with = "all_claims")]
    pub claims: Option<String>,
    /// Remove the claim list: every claim the granted scopes allow.
    #[arg(long)]
    pub all_claims: bool,
    /// JWK Set (JSON file) of the client's public keys.
    #[arg(long, conflicts_with = "no_jwks")]
    pub jwks_file: Option<PathBuf>,
    /// Remove the client's JWK Set.
    #[arg(long)]
    pub no_jwks: bool,
    /// Where the client publishes its keys.
    #[arg(long, conflicts_with = "no_jwks_uri")]
    pub jwks_uri: Option<String>,
    /// Remove the JWKS URI.
    #[arg(long)]
    pub no_jwks_uri: bool,
    /// jwt (RFC 9068) or opaque.
    #[arg(long)]
    pub access_token_format: Option<String>,
    /// Operated by the tenant itself: users are not asked for consent.
    #[arg(long, value_name = "true|false")]
    pub first_party: Option<bool>,
    /// Require PKCE from a confidential client too.
    #[arg(long, value_name = "true|false")]
    pub require_pkce: Option<bool>,
    /// ES256 or RS256 for ID tokens.
    #[arg(long)]
    pub id_token_alg: Option<String>,
    /// A URL the client may pass as `request_uri` (repeat; replaces the list).
    #[arg(long = "request-uri", conflicts_with = "clear_request_uris")]
    pub request_uris: Option<Vec<String>>,
    /// Remove every registered request URI (`request_uri` is then refused).
    #[arg(long)]
    pub clear_request_uris: bool,
    /// Where Mamori POSTs a logout token when a session the client took part in ends.
    #[arg(long, conflicts_with = "no_backchannel_logout_uri")]
    pub backchannel_logout_uri: Option<String>,
    /// Remove the back-channel logout URI.
    #[arg(long)]
    pub no_backchannel_logout_uri: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Subcommand)]
pub enum SamlSpChangeCommand {
    /// Show a service provider's settings.
    Show {
        #[command(flatten)]
        sp: SpRef,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Change a service provider's settings.
    ///
    /// Absent options stay as they are. Endpoints and certificates come from the
    /// metadata: register the SP again to change them.
    Update(Box<SpUpdateArgs>),
}

/// A service provider by entity ID (as `saml-sp list` shows) or by the API's id.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["entity_id", "id"])))]
pub struct SpRef {
    #[arg(long)]
    pub tenant: String,
    #[arg(long)]
    pub entity_id: Option<String>,
    /// The id the REST API uses.
    #[arg(long)]
    pub id: Option<String>,
}

#[derive(Debug, Args)]
pub struct SpUpdateArgs {
    #[command(flatten)]
    pub sp: SpRef,
    #[arg(long)]
    pub name: Option<String>,
    /// persistent, email or transient.
    #[arg(long)]
    pub name_id_format: Option<String>,
    /// An attribute to release: login_id, email, display_name, locale, amr (repeat, or
    /// comma-separated; replaces the list).
    #[arg(long = "attribute", value_delimiter = ',')]
    pub attributes: Option<Vec<String>>,
    /// Require signed AuthnRequests.
    #[arg(long, value_name = "true|false")]
    pub want_signed_requests: Option<bool>,
    #[arg(long, value_name = "true|false")]
    pub sign_response: Option<bool>,
    #[arg(long, value_name = "true|false")]
    pub sign_assertion: Option<bool>,
    /// Encrypt assertions for the SP (needs an encryption certificate in its metadata).
    #[arg(long, value_name = "true|false")]
    pub encrypt: Option<bool>,
    /// Send the SP IdP-initiated (unsolicited) responses.
    #[arg(long, value_name = "true|false")]
    pub allow_unsolicited: Option<bool>,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub async fn oidc_client(app: &App, command: OidcClientChangeCommand) -> anyhow::Result<()> {
    let principal = Principal::local_cli();
    match command {
        OidcClientChangeCommand::Show { tenant, client_id, output } => {
            let client = federation::registered_oidc_client(app, &principal, &tenant, &client_id).await.map_err(cli_error)?;
            let out = OidcClientOut::from(&client);
            print(output.output, &out, || client_fields(&out))
        }
        OidcClientChangeCommand::Update(a) => {
            let a = *a;
            let jwks = match (&a.jwks_file, a.no_jwks) {
                (Some(path), _) => {
                    let text =
                        tokio::fs::read_to_string(path).await.with_context(|| format!("--jwks-file {}: cannot read", path.display()))?;
                    Some(Some(serde_json::from_str(&text).with_context(|| format!("--jwks-file {}: not JSON", path.display()))?))
                }
                (None, true) => Some(None),
                (None, false) => None,
            };
            let access_token_format = a
                .access_token_format
                .as_deref()
                .map(|f| f.parse::<AccessTokenFormat>().map_err(|_| anyhow::anyhow!("--access-token-format {f}: use jwt or opaque")))
                .transpose()?;
            let id_token_signed_response_alg = a
                .id_token_alg
                .as_deref()
                .map(|v| v.parse::<SigningAlgorithm>().map_err(|_| anyhow::anyhow!("--id-token-alg {v}: use ES256 or RS256")))
                .transpose()?;
            let update = ClientUpdate {
                name: a.name,
                redirect_uris: a.redirect_uris,
                post_logout_redirect_uris: if a.no_post_logout_redirect_uris { Some(Vec::new()) } else { a.post_logout_redirect_uris },
                grant_types: a.grant_types,
                jwks,
                jwks_uri: if a.no_jwks_uri { Some(None) } else { a.jwks_uri.map(Some) },
                scopes: a.scopes,
                claims: if a.all_claims { Some(None) } else { a.claims.as_deref().map(super::oidc::claim_list) },
                access_token_format,
                first_party: a.first_party,
                require_pkce: a.require_pkce,
                id_token_signed_response_alg,
                request_uris: if a.clear_request_uris { Some(Vec::new()) } else { a.request_uris },
                backchannel_logout_uri: if a.no_backchannel_logout_uri { Some(None) } else { a.backchannel_logout_uri.map(Some) },
            };
            let client = federation::update_oidc_client(app, &principal, &a.tenant, &a.client_id, update)
                .await
                .map_err(|e| cli_error(e).context(format!("--client-id {}: cannot update the client", a.client_id)))?;
            let out = OidcClientOut::from(&client);
            print(a.output.output, &out, || format!("updated client {}\n{}", out.client_id, client_fields(&out)))
        }
        OidcClientChangeCommand::RotateSecret { tenant, client_id, output } => {
            let created = federation::rotate_oidc_client_secret(app, &principal, &tenant, &client_id)
                .await
                .map_err(|e| cli_error(e).context(format!("--client-id {client_id}")))?;
            let json =
                serde_json::json!({"client": OidcClientOut::new(&created.client, &created.settings), "client_secret": created.secret});
            print(output.output, &json, || {
                format!(
                    "new client secret for {client_id} (shown once; every node refuses the old one within a second): {}",
                    created.secret.as_deref().unwrap_or_default()
                )
            })
        }
    }
}

fn client_fields(c: &OidcClientOut) -> String {
    fields(&[
        ("client ID", c.client_id.clone()),
        ("name", c.name.clone()),
        ("auth method", c.token_endpoint_auth_method.clone()),
        ("redirect URIs", c.redirect_uris.join(" ")),
        ("post-logout URIs", or_dash(Some(&c.post_logout_redirect_uris.join(" ")))),
        ("grant types", c.grant_types.join(" ")),
        ("scopes", c.scopes.join(" ")),
        ("claims", c.claims.as_ref().map_or_else(|| "all the scopes allow".to_owned(), |l| l.join(" "))),
        ("access tokens", c.access_token_format.clone()),
        ("JWKS", if c.has_jwks { "registered".to_owned() } else { or_dash(c.jwks_uri.as_deref()) }),
        ("first party", c.first_party.to_string()),
        ("require PKCE", c.require_pkce.to_string()),
        ("request URIs", or_dash(Some(&c.request_uris.join(" ")))),
        ("created", time_text(&c.created_at)),
    ])
}

/// The service provider's id for the service layer, from its entity ID or id.
async fn sp_id(app: &App, principal: &Principal, sp: &SpRef) -> anyhow::Result<String> {
    match (&sp.id, &sp.entity_id) {
        (Some(id), _) => Ok(id.clone()),
        (None, Some(entity_id)) => federation::saml_sps(app, principal, &sp.tenant)
            .await
            .map_err(cli_error)?
            .into_iter()
            .find(|s| &s.entity_id == entity_id)
            .map(|s| s.id.to_string())
            .with_context(|| format!("--entity-id {entity_id}: no such service provider in tenant `{}`", sp.tenant)),
        (None, None) => anyhow::bail!("give --entity-id or --id"),
    }
}

pub async fn saml_sp(app: &App, command: SamlSpChangeCommand) -> anyhow::Result<()> {
    let principal = Principal::local_cli();
    match command {
        SamlSpChangeCommand::Show { sp, output } => {
            let id = sp_id(app, &principal, &sp).await?;
            let found = federation::saml_sp(app, &principal, &sp.tenant, &id, ApiScope::Read).await.map_err(cli_error)?;
            let out = SamlSpOut::from(&found);
            print(output.output, &out, || sp_fields(&out))
        }
        SamlSpChangeCommand::Update(a) => {
            let a = *a;
            let id = sp_id(app, &principal, &a.sp).await?;
            let update = SpUpdate {
                name: a.name,
                name_id_format: a.name_id_format,
                attributes: a.attributes,
                want_authn_requests_signed: a.want_signed_requests,
                sign_response: a.sign_response,
                sign_assertion: a.sign_assertion,
                encrypt_assertion: a.encrypt,
                allow_unsolicited: a.allow_unsolicited,
            };
            let sp = saml_sps::update_saml_sp(app, &principal, &a.sp.tenant, &id, update)
                .await
                .map_err(|e| cli_error(e).context("cannot update the service provider"))?;
            let out = SamlSpOut::from(&sp);
            print(a.output.output, &out, || format!("updated service provider {}\n{}", out.entity_id, sp_fields(&out)))
        }
    }
}

fn sp_fields(s: &SamlSpOut) -> String {
    let attributes = s
        .attribute_release
        .get("attributes")
        .and_then(|a| a.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(" "));
    fields(&[
        ("entity ID", s.entity_id.clone()),
        ("id", s.id.clone()),
        ("name", s.name.clone()),
        ("ACS URLs", s.acs_urls.join(" ")),
        ("NameID format", s.name_id_format.clone()),
        ("attributes", or_dash(attributes.as_deref())),
        ("signed requests", s.want_authn_requests_signed.to_string()),
        ("sign response", s.sign_response.to_string()),
        ("sign assertion", s.sign_assertion.to_string()),
        ("encrypt assertion", s.encrypt_assertion.to_string()),
        ("unsolicited responses", s.allow_unsolicited.to_string()),
        ("created", time_text(&s.created_at)),
    ])
}
