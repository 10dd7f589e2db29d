//! `mamori admin …`: tenants, users and enrollment from the shell (directly on the
//! database, for an operator on the server).

use std::path::Path;

use anyhow::Context as _;
use mamori_storage::model::{Tenant, UserStatus};

use super::output::print;
use super::{AdminCommand, TenantCommand, UserCommand};
use crate::admin::{self, Principal};
use crate::app::App;

pub async fn run(config: &Path, command: AdminCommand) -> anyhow::Result<()> {
    let app = App::open(config).await?;
    match command {
        AdminCommand::Tenant(TenantCommand::Create { slug, name, output }) => {
            // The service layer, so the CLI checks the slug and name as the API does.
            let tenant = admin::tenants::create(&app, &Principal::local_cli(), &slug, &name, None)
                .await
                .map_err(|e| super::oidc::cli_error(e).context(format!("cannot create tenant `{slug}`")))?;
            print(output.output, &tenant_json(&tenant), || format!("created tenant {} ({})", tenant.slug, tenant.display_name))
        }
        AdminCommand::Tenant(TenantCommand::List(output)) => {
            let tenants = app.storage.tenants().list().await?;
            let json: Vec<_> = tenants.iter().map(tenant_json).collect();
            print(output.output, &json, || {
                let rows: Vec<Vec<String>> = tenants.iter().map(|t| vec![t.slug.clone(), t.display_name.clone()]).collect();
                super::output::table(&["SLUG", "NAME"], &rows)
            })
        }
        AdminCommand::Tenant(TenantCommand::Policy(args)) => super::account::tenant_policy(&app, args).await,
        AdminCommand::Tenant(TenantCommand::Change(cmd)) => super::tenants::run(&app, cmd).await,
        AdminCommand::User(UserCommand::ReissueCert(args)) => super::account::reissue_cert(&app, args).await,
        AdminCommand::User(cmd) => user(&app, cmd).await,
        AdminCommand::Keys(cmd) => super::oidc::keys(&app, cmd).await,
        AdminCommand::OidcClient(cmd) => super::oidc::client(&app, cmd).await,
        AdminCommand::SamlSp(cmd) => super::saml::run(&app, cmd).await,
        AdminCommand::SamlKeys(cmd) => super::saml::keys(&app, cmd).await,
        AdminCommand::ApiToken(cmd) => super::api_token::run(&app, cmd).await,
        AdminCommand::Operator(cmd) => super::operator::run(&app, cmd).await,
        AdminCommand::Bootstrap(args) => super::operator::bootstrap(&app, args).await,
        AdminCommand::Certificate(cmd) => super::records::certificate(&app, cmd).await,
        AdminCommand::Events(cmd) => super::records::events(&app, cmd).await,
    }
}

async fn user(app: &App, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Create { tenant, login_id, email, display_name, method, locale, output } => {
            // The service layer, as the API and the console: the same checks, and audited.
            let input = admin::users::NewUserInput {
                login_id: login_id.clone(),
                email,
                display_name,
                login_method: method,
                locale: Some(locale),
                time_zone: None,
                ..Default::default()
            };
            let user = admin::users::create(app, &Principal::local_cli(), &tenant, &input)
                .await
                .map_err(|e| flag_error(e).context(format!("cannot create user `{login_id}` in tenant `{tenant}`")))?;
            print(output.output, &serde_json::json!({"id": user.id, "login_id": user.login_id, "tenant": tenant}), || {
                format!("created user {} in tenant {tenant}", user.login_id)
            })
        }
        UserCommand::List { tenant, output } => {
            let tenant = find_tenant(app, &tenant).await?;
            let page = app.storage.users().list(tenant.id, 0, 1000).await?;
            let json: Vec<_> = page
                .items
                .iter()
                .map(|u| {
                    serde_json::json!({
                        "id": u.id, "login_id": u.login_id, "display_name": u.display_name,
                        "login_method": u.login_method.to_string(), "locked": u.is_locked(),
                    })
                })
                .collect();
            print(output.output, &json, || {
                let rows: Vec<Vec<String>> = page
                    .items
                    .iter()
                    .map(|u| {
                        let locked = if u.is_locked() { "yes" } else { "no" };
                        vec![u.login_id.clone(), u.display_name.clone(), u.login_method.to_string(), locked.to_owned()]
                    })
                    .collect();
                super::output::table(&["USER ID", "NAME", "METHOD", "LOCKED"], &rows)
            })
        }
        // These go through the admin service layer, as the API and the console do, so that
        // every change made at the shell is in the audit trail too (actor `cli`).
        UserCommand::Enroll { tenant, login_id, output } => {
            user_exists(app, &tenant, &login_id).await?;
            let base = app.config.main_public_url(app.config.server.listen.port());
            let issued = admin::users::enrollment_ticket(app, &Principal::local_cli(), &tenant, &login_id, &base)
                .await
                .map_err(super::oidc::cli_error)?;
            let mut json = serde_json::to_value(&issued)?;
            json["expires_at"] = super::output::time(issued.expires_at).into();
            print(output.output, &json, || {
                format!(
                    "enrollment URL:      {}\none-time password:   {}\nexpires:             {}",
                    issued.url,
                    issued.one_time_password,
                    super::output::time(issued.expires_at)
                )
            })
        }
        UserCommand::Unlock { tenant, login_id, output } => {
            user_exists(app, &tenant, &login_id).await?;
            admin::users::unlock(app, &Principal::local_cli(), &tenant, &login_id).await.map_err(super::oidc::cli_error)?;
            print(output.output, &serde_json::json!({"tenant": tenant, "user": login_id, "locked": false}), || {
                format!("unlocked {login_id}")
            })
        }
        UserCommand::SetStatus { tenant, login_id, status, output } => {
            user_exists(app, &tenant, &login_id).await?;
            let status: UserStatus = status.parse().map_err(|_| anyhow::anyhow!("--status {status}: use active or disabled"))?;
            admin::users::set_status(app, &Principal::local_cli(), &tenant, &login_id, status).await.map_err(super::oidc::cli_error)?;
            print(output.output, &serde_json::json!({"tenant": tenant, "user": login_id, "status": status.to_string()}), || {
                format!("{login_id} is now {status}")
            })
        }
        UserCommand::ExpirePassword { tenant, login_id, output } => {
            user_exists(app, &tenant, &login_id).await?;
            admin::users::force_password_change(app, &Principal::local_cli(), &tenant, &login_id).await.map_err(super::oidc::cli_error)?;
            print(output.output, &serde_json::json!({"tenant": tenant, "user": login_id, "password_must_change": true}), || {
                format!("{login_id} must choose a new password at the next login")
            })
        }
        UserCommand::IssueCert { tenant, login_id, device, p12, password_file, not_before, not_after, output } => {
            let tenant = find_tenant(app, &tenant).await?;
            let user = find_user(app, &tenant, &login_id).await?;
            let device = find_device(app, &user, device).await?;
            let password = std::fs::read_to_string(&password_file)
                .with_context(|| format!("cannot read password file {}", password_file.display()))?;
            let password = password.trim_end_matches(['\r', '\n']);
            let now = app.now();
            let parse = |flag: &str, v: &str| {
                time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
                    .map_err(|e| anyhow::anyhow!("{flag} {v}: not an RFC 3339 time ({e})"))
            };
            let not_before = not_before.as_deref().map(|v| parse("--not-before", v)).transpose()?.unwrap_or(now);
            let not_after = match not_after.as_deref() {
                Some(v) => parse("--not-after", v)?,
                None => app.ca.device_not_after(&tenant.policy, not_before).await?,
            };
            if not_after <= not_before {
                anyhow::bail!("--not-after must be later than --not-before");
            }
            // Before the certificate exists (it supersedes the device's current one): a
            // path that cannot be written must leave the device as it was.
            let pending = crate::cli::ca::PendingFile::create(&p12).with_context(|| format!("cannot write {}", p12.display()))?;
            let issued =
                crate::flows::device_certificate::issue_to_file(app, &tenant, &user, &device, password, not_before, not_after).await?;
            pending.finish(&issued.pkcs12).with_context(|| format!("cannot write {}", p12.display()))?;
            // The superseded certificate is revoked: what it opened ends now, as with
            // `certificate revoke` (its sessions, and the relying sites' grants from them).
            let ended = crate::flows::session_end::end_all(app, user.id).await;
            let details =
                serde_json::json!({"device_no": device.device_no, "serial": issued.serial_hex, "sessions_ended": ended.as_ref().ok()});
            admin::audit::record(
                app,
                &Principal::local_cli(),
                Some(tenant.id),
                "user.issue-certificate",
                &admin::users::target(&tenant, &login_id),
                details,
            )
            .await;
            let ended = sessions_ended(ended, &format!("issued serial {} and wrote {}", issued.serial_hex, p12.display()))?;
            let json = serde_json::json!({
                "tenant": tenant.slug, "user": login_id, "device": device.device_no, "serial": issued.serial_hex,
                "not_before": super::output::time(not_before), "not_after": super::output::time(not_after), "p12": p12.display().to_string(),
                "sessions_ended": ended,
            });
            print(output.output, &json, || {
                format!(
                    "issued serial {} for device {} of {login_id}; wrote {}; ended {ended} session(s) of {login_id} and the relying sites' tokens from them",
                    issued.serial_hex,
                    device.device_no,
                    p12.display()
                )
            })
        }
        UserCommand::ReissueCert(args) => super::account::reissue_cert(app, args).await,
        UserCommand::Record(cmd) => super::users::run(app, cmd).await,
        UserCommand::DeleteDevice { tenant, login_id, device, output } => {
            let tenant = find_tenant(app, &tenant).await?;
            let user = find_user(app, &tenant, &login_id).await?;
            let device = find_device(app, &user, Some(device)).await?;
            crate::flows::account::remove_device(app, &device).await?;
            // As with `certificate revoke`: the revoked certificate's sessions, and the
            // relying sites' grants from them, end now (a lost device never comes back).
            let ended = crate::flows::session_end::end_all(app, user.id).await;
            let details = serde_json::json!({"device_no": device.device_no, "sessions_ended": ended.as_ref().ok()});
            admin::audit::record(
                app,
                &Principal::local_cli(),
                Some(tenant.id),
                "user.delete-device",
                &admin::users::target(&tenant, &login_id),
                details,
            )
            .await;
            let ended = sessions_ended(ended, &format!("deleted device {} and revoked its certificate", device.device_no))?;
            let json = serde_json::json!({"deleted": device.device_no, "tenant": tenant.slug, "user": login_id, "sessions_ended": ended});
            print(output.output, &json, || {
                format!(
                    "deleted device {} of {login_id}, revoked its certificate and ended {ended} session(s) of {login_id} and the relying sites' tokens from them",
                    device.device_no
                )
            })
        }
    }
}

/// A refused field named as the option the operator typed (`--login-id`), with the
/// service's reason.
fn flag_error(err: admin::AdminError) -> anyhow::Error {
    match err {
        admin::AdminError::Field(field) => {
            let flag = match field.field {
                "login_method" => "method".to_owned(),
                other => other.replace('_', "-"),
            };
            anyhow::anyhow!("--{flag}: {}", field.detail)
        }
        other => super::oidc::cli_error(other),
    }
}

pub async fn find_tenant(app: &App, slug: &str) -> anyhow::Result<Tenant> {
    app.storage
        .tenants()
        .get_by_slug(slug)
        .await?
        .with_context(|| format!("--tenant {slug}: no such tenant (see `mamori admin tenant list`)"))
}

async fn find_device(
    app: &App,
    user: &mamori_storage::model::User,
    device_no: Option<u32>,
) -> anyhow::Result<mamori_storage::model::Device> {
    let devices = app.storage.devices().list_for_user(user.id, false).await?;
    match device_no {
        Some(no) => devices
            .into_iter()
            .find(|d| d.device_no == no)
            .with_context(|| format!("--device {no}: {} has no such active device", user.login_id)),
        None => devices.into_iter().next().with_context(|| format!("{} has no active device", user.login_id)),
    }
}

/// How many sessions a command that revoked a certificate ended (with the grants from
/// them), or, when ending them failed, an error saying that the change itself (`done`)
/// stands and how to finish: the relying sites' tokens from those sessions work until then.
pub fn sessions_ended(ended: Result<u64, mamori_storage::StorageError>, done: &str) -> anyhow::Result<u64> {
    ended.map_err(|err| {
        anyhow::Error::from(err).context(format!(
            "{done}, but the user's sessions did not end, and the relying sites' tokens from them still work: \
             end them in the console (the user's page) or with the admin API's end-sessions"
        ))
    })
}

/// Checks `--tenant` and `--login-id` first, so that an error names the flag that was
/// wrong (the service layer's "not found" knows nothing of flags).
async fn user_exists(app: &App, slug: &str, login_id: &str) -> anyhow::Result<()> {
    find_user(app, &find_tenant(app, slug).await?, login_id).await.map(|_| ())
}

async fn find_user(app: &App, tenant: &Tenant, login_id: &str) -> anyhow::Result<mamori_storage::model::User> {
    app.storage
        .users()
        .get_by_login_id(tenant.id, login_id)
        .await?
        .with_context(|| format!("--login-id {login_id}: no such user in tenant `{}`", tenant.slug))
}

fn tenant_json(t: &Tenant) -> serde_json::Value {
    serde_json::json!({"id": t.id, "slug": t.slug, "display_name": t.display_name})
}
