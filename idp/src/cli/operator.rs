//! `mamori admin operator grant|revoke`: who may use the web console. An operator is a
//! user with a row in `admin_roles`; the console builds its [`Principal`] from that row,
//! so what a role may do is decided in the service layer, as for API tokens.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use mamori_storage::model::AdminRoleKind;

use crate::admin::{Principal, audit};
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
    let (grant, args) = match command {
        OperatorCommand::Grant(args) => (true, args),
        OperatorCommand::Revoke(args) => (false, args),
    };
    let role: AdminRoleKind = args.role.parse().map_err(|_| anyhow::anyhow!("--role {}: use tenant-admin or super-admin", args.role))?;
    let tenant = super::admin::find_tenant(app, &args.tenant).await?;
    let user = app
        .storage
        .users()
        .get_by_login_id(tenant.id, &args.login_id)
        .await?
        .with_context(|| format!("--login-id {}: no such user in tenant `{}`", args.login_id, tenant.slug))?;
    let role_tenant = (role == AdminRoleKind::TenantAdmin).then_some(tenant.id);
    let target = format!("tenant:{}/user:{}", tenant.slug, user.login_id);
    let principal = Principal::local_cli();
    if grant {
        app.storage.admin_roles().grant(user.id, role, role_tenant, app.now()).await?;
        audit::record(app, &principal, Some(tenant.id), "operator.grant", &target, serde_json::json!({"role": role.as_str()})).await;
        println!("{} of tenant {} is now {role}", user.login_id, tenant.slug);
    } else {
        let held = app.storage.admin_roles().list_for_user(user.id).await?;
        let found = held
            .into_iter()
            .find(|r| r.role == role && r.tenant_id == role_tenant)
            .with_context(|| format!("{} of tenant {} is not {role}", user.login_id, tenant.slug))?;
        app.storage.admin_roles().revoke(found.id).await?;
        audit::record(app, &principal, Some(tenant.id), "operator.revoke", &target, serde_json::json!({"role": role.as_str()})).await;
        println!("{} of tenant {} is no longer {role}", user.login_id, tenant.slug);
    }
    Ok(())
}
