//! `mamori admin keys …` and `mamori admin oidc-client …`: token-signing keys and the
//! relying sites of the OpenID Connect provider.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use mamori_storage::model::{AccessTokenFormat, KeyPurpose, SigningAlgorithm};

use super::OutputArgs;
use super::output::print;
use crate::admin::Principal;
use crate::app::App;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// New ES256 and RS256 keys sign from now on; the previous ones stay in the JWKS
    /// until every token they signed has expired.
    Rotate(OutputArgs),
    /// The keys published in the JWKS now.
    List(OutputArgs),
}

#[derive(Debug, Subcommand)]
pub enum OidcClientCommand {
    /// Register a relying site. A client secret (for client_secret_*) is printed once.
    Create(Box<CreateClientArgs>),
    /// A tenant's relying sites.
    List {
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Remove a relying site.
    ///
    /// Its refresh tokens, codes and opaque access tokens end at once; every running node
    /// refuses the client and its JWT access tokens within a second (deploy/OPERATIONS.md).
    Delete {
        #[arg(long)]
        client_id: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// An initial access token for dynamic client registration (RFC 7591), printed once.
    InitialAccessToken {
        #[arg(long)]
        tenant: String,
        /// How many clients it may register.
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// Hours it stays valid.
        #[arg(long, default_value_t = 24)]
        hours: u32,
        #[command(flatten)]
        output: OutputArgs,
    },
    #[command(flatten)]
    Change(super::sites::OidcClientChangeCommand),
}

#[derive(Debug, Args)]
pub struct CreateClientArgs {
    #[arg(long)]
    pub tenant: String,
    /// The client ID; generated when absent.
    #[arg(long)]
    pub client_id: Option<String>,
    /// Shown on the consent page.
    #[arg(long)]
    pub name: String,
    /// An allowed redirect URI, matched exactly (repeat for several): https, or http on
    /// 127.0.0.1 or [::1] (where any port matches); no userinfo, no fragment.
    #[arg(long = "redirect-uri")]
    pub redirect_uris: Vec<String>,
    /// An allowed post-logout redirect URI (repeat for several).
    #[arg(long = "post-logout-redirect-uri")]
    pub post_logout_redirect_uris: Vec<String>,
    /// authorization_code, refresh_token, client_credentials (repeat; default the first two).
    #[arg(long = "grant-type")]
    pub grant_types: Vec<String>,
    /// client_secret_basic, client_secret_post, private_key_jwt, tls_client_auth,
    /// self_signed_tls_client_auth or none (a public client, PKCE required).
    #[arg(long, default_value = "client_secret_basic")]
    pub auth_method: String,
    /// JWK Set (JSON file) of the client's public keys, for private_key_jwt and request objects.
    #[arg(long, conflicts_with = "jwks_uri")]
    pub jwks_file: Option<PathBuf>,
    /// Where the client publishes its JWK Set instead (https; fetched and cached by Mamori).
    #[arg(long)]
    pub jwks_uri: Option<String>,
    /// An allowed scope (repeat; default openid profile email).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// The user claims the client may receive, comma-separated (e.g. `email,email_verified`);
    /// empty or absent: every claim the granted scopes allow.
    #[arg(long, value_name = "CLAIM,...", conflicts_with = "all_claims")]
    pub claims: Option<String>,
    /// Release every claim the granted scopes allow (the default).
    #[arg(long)]
    pub all_claims: bool,
    /// jwt (RFC 9068) or opaque.
    #[arg(long, default_value = "jwt")]
    pub access_token_format: String,
    /// Operated by the tenant itself: users are not asked for consent.
    #[arg(long)]
    pub first_party: bool,
    /// Require PKCE from a confidential client too (always required for public clients).
    #[arg(long)]
    pub require_pkce: bool,
    /// ES256 or RS256 for ID tokens.
    #[arg(long, default_value = "ES256")]
    pub id_token_alg: String,
    /// tls_client_auth: the subject DN of the client's certificate (from this Mamori's CA).
    #[arg(long)]
    pub tls_subject_dn: Option<String>,
    /// self_signed_tls_client_auth: the client's certificate (PEM).
    #[arg(long)]
    pub tls_certificate: Option<PathBuf>,
    /// Bind access tokens to the client's certificate (RFC 8705 `cnf.x5t#S256`).
    #[arg(long)]
    pub bound_tokens: bool,
    /// A URL the client may pass as `request_uri` (a request object Mamori fetches; repeat).
    #[arg(long = "request-uri")]
    pub request_uris: Vec<String>,
    /// Where Mamori POSTs a logout token when a session the client took part in ends
    /// (OpenID Connect Back-Channel Logout).
    #[arg(long)]
    pub backchannel_logout_uri: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub async fn keys(app: &App, command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Rotate(output) => {
            let kids = crate::admin::keys::rotate_shared(app, crate::admin::keys::KeyKind::Oidc).await.map_err(cli_error)?;
            print(output.output, &serde_json::json!({ "activated": kids }), || format!("activated signing keys: {}", kids.join(", ")))
        }
        KeysCommand::List(output) => {
            let keys = app.storage.signing_keys().list_published(None, KeyPurpose::Oidc, app.now()).await?;
            let json: Vec<_> = keys
                .iter()
                .map(|k| {
                    serde_json::json!({
                        "kid": k.kid, "alg": k.algorithm.as_str(), "activated_at": super::output::time(k.activated_at),
                        "retire_after": k.retire_after.map(super::output::time), "expires_at": k.expires_at.map(super::output::time),
                    })
                })
                .collect();
            print(output.output, &json, || {
                let rows: Vec<Vec<String>> = keys
                    .iter()
                    .map(|k| {
                        let state = if k.retire_after.is_some() { "retired" } else { "active" };
                        vec![k.kid.clone(), k.algorithm.to_string(), super::output::time(k.activated_at), state.to_owned()]
                    })
                    .collect();
                super::output::table(&["KID", "ALG", "ACTIVATED", "STATE"], &rows)
            })
        }
    }
}

pub async fn client(app: &App, command: OidcClientCommand) -> anyhow::Result<()> {
    match command {
        OidcClientCommand::Create(args) => create(app, *args).await,
        OidcClientCommand::Change(cmd) => super::sites::oidc_client(app, cmd).await,
        OidcClientCommand::List { tenant, output } => {
            let tenant = super::admin::find_tenant(app, &tenant).await?;
            let list = app.storage.oidc_clients().list(tenant.id).await?;
            let json: Vec<_> = list
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "client_id": c.client_id, "name": c.name, "redirect_uris": c.redirect_uris,
                        "grant_types": c.grant_types, "token_endpoint_auth_method": c.token_endpoint_auth_method,
                        "scopes": c.scopes, "access_token_format": c.access_token_format.as_str(), "first_party": c.first_party,
                    })
                })
                .collect();
            print(output.output, &json, || {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|c| vec![c.client_id.clone(), c.name.clone(), c.token_endpoint_auth_method.clone(), c.redirect_uris.join(" ")])
                    .collect();
                super::output::table(&["CLIENT ID", "NAME", "AUTH METHOD", "REDIRECT URIS"], &rows)
            })
        }
        OidcClientCommand::Delete { client_id, output } => {
            // Through the service layer (audited, the client cache forgotten) in its tenant.
            let client = app
                .storage
                .oidc_clients()
                .get_by_client_id(&client_id)
                .await?
                .with_context(|| format!("--client-id {client_id}: no such client"))?;
            let tenant = app.storage.tenants().get(client.tenant_id).await?;
            crate::admin::federation::delete_oidc_client(app, &crate::admin::Principal::local_cli(), &tenant.slug, &client_id)
                .await
                .map_err(cli_error)?;
            print(output.output, &serde_json::json!({"deleted": client_id, "tenant": tenant.slug}), || {
                format!("deleted client {client_id}")
            })
        }
        OidcClientCommand::InitialAccessToken { tenant, uses, hours, output } => {
            let tenant = super::admin::find_tenant(app, &tenant).await?;
            let token = crate::secrets::url_token();
            let now = app.now();
            let expires = now + time::Duration::hours(i64::from(hours.max(1)));
            app.storage
                .oidc_grants()
                .create_initial_access_token(&mamori_storage::token_lookup_hash(&token), tenant.id, uses.max(1), expires, now)
                .await?;
            let details = serde_json::json!({ "uses": uses.max(1), "expires_at": expires.unix_timestamp() });
            let target = format!("tenant:{}/initial-access-token:{}", tenant.slug, &mamori_storage::token_lookup_hash(&token)[..12]);
            crate::admin::audit::record(
                app,
                &crate::admin::Principal::local_cli(),
                Some(tenant.id),
                "oidc.initial-access-token.create",
                &target,
                details,
            )
            .await;
            print(
                output.output,
                &serde_json::json!({ "initial_access_token": token, "uses": uses, "expires_at": super::output::time(expires) }),
                || format!("initial access token (shown once): {token}\nuses:    {uses}\nexpires: {}", super::output::time(expires)),
            )
        }
    }
}

async fn create(app: &App, args: CreateClientArgs) -> anyhow::Result<()> {
    use crate::admin::federation::{self, ClientRegistration};
    let jwks = match &args.jwks_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("--jwks-file {}: cannot read", path.display()))?;
            Some(serde_json::from_str(&text).with_context(|| format!("--jwks-file {}: not JSON", path.display()))?)
        }
        None => None,
    };
    let tls_client_certificate_pem = match &args.tls_certificate {
        Some(path) => Some(std::fs::read_to_string(path).with_context(|| format!("--tls-certificate {}: cannot read", path.display()))?),
        None => None,
    };
    let access_token_format: AccessTokenFormat = args
        .access_token_format
        .parse()
        .map_err(|_| anyhow::anyhow!("--access-token-format {}: use jwt or opaque", args.access_token_format))?;
    let id_token_alg: SigningAlgorithm =
        args.id_token_alg.parse().map_err(|_| anyhow::anyhow!("--id-token-alg {}: use ES256 or RS256", args.id_token_alg))?;
    let registration = ClientRegistration {
        client_id: args.client_id,
        name: args.name,
        redirect_uris: args.redirect_uris,
        post_logout_redirect_uris: args.post_logout_redirect_uris,
        grant_types: args.grant_types,
        token_endpoint_auth_method: args.auth_method,
        jwks,
        jwks_uri: args.jwks_uri,
        scopes: args.scopes,
        claims: args.claims.as_deref().and_then(claim_list),
        access_token_format,
        first_party: args.first_party,
        require_pkce: args.require_pkce,
        id_token_signed_response_alg: id_token_alg,
        tls_client_auth_subject_dn: args.tls_subject_dn,
        tls_client_certificate_pem,
        tls_client_certificate_bound_access_tokens: args.bound_tokens,
        request_uris: args.request_uris,
        backchannel_logout_uri: args.backchannel_logout_uri,
    };
    let created = federation::create_oidc_client(app, &Principal::local_cli(), &args.tenant, registration)
        .await
        .map_err(|e| cli_error(e).context("cannot register the client"))?;
    let (c, secret) = (&created.client, &created.secret);
    let json = serde_json::json!({
        "client_id": c.client_id,
        "client_secret": secret,
        "tenant": args.tenant,
        "redirect_uris": c.redirect_uris,
        "token_endpoint_auth_method": c.token_endpoint_auth_method,
        "claims": c.claims,
        "request_uris": created.settings.request_uris,
        "backchannel_logout_uri": created.settings.backchannel_logout_uri,
    });
    print(args.output.output, &json, || {
        let mut text = format!("created client {} in tenant {}", c.client_id, args.tenant);
        if let Some(s) = secret {
            text.push_str(&format!("\nclient secret (shown once): {s}"));
        }
        text
    })
}

/// `--claims a,b,c` as a claim release list; empty (`--claims ''`) means none, that is
/// every claim the granted scopes allow.
pub(super) fn claim_list(arg: &str) -> Option<Vec<String>> {
    let claims: Vec<String> = arg.split(',').map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned).collect();
    (!claims.is_empty()).then_some(claims)
}

/// An admin error as the operator at the shell should read it (with the detail an API
/// caller is not shown).
pub(super) fn cli_error(err: crate::admin::AdminError) -> anyhow::Error {
    match err {
        crate::admin::AdminError::Internal(detail) => anyhow::anyhow!(detail),
        other => anyhow::anyhow!(other),
    }
}
