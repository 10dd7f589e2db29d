//! Operator roles: who may use the web console. An operator is a user with a role row;
//! the console builds its [`Principal`] from it. Granting or taking a role changes who
//! may administer what, so only a super-admin may, and every change is audited.

use mamori_storage::model::{AdminRoleKind, ApiScope, Tenant, User};

use super::{AdminError, Principal, audit};
use crate::app::App;

/// A role change's subject: the tenant, the user and the role as the audit names them.
async fn subject(
    app: &App,
    principal: &Principal,
    slug: &str,
    login_id: &str,
    role: &str,
) -> Result<(Tenant, User, AdminRoleKind), AdminError> {
    principal.require_super_admin(ApiScope::Write)?;
    let role: AdminRoleKind =
        role.parse().map_err(|_| AdminError::Invalid(format!("role: `{role}` is not tenant-admin or super-admin")))?;
    let tenant = principal.tenant(app, slug, ApiScope::Write).await?;
    let user = app
        .storage
        .users()
        .get_by_login_id(tenant.id, login_id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("no user `{login_id}` in tenant `{slug}`")))?;
    Ok((tenant, user, role))
}

/// Gives `login_id` of tenant `slug` the operator `role` (a tenant admin administers that
/// tenant; a super-admin every tenant). Granting a role the user holds changes nothing.
pub async fn grant(app: &App, principal: &Principal, slug: &str, login_id: &str, role: &str) -> Result<AdminRoleKind, AdminError> {
    let (tenant, user, role) = subject(app, principal, slug, login_id, role).await?;
    let role_tenant = (role == AdminRoleKind::TenantAdmin).then_some(tenant.id);
    app.storage.admin_roles().grant(user.id, role, role_tenant, app.now()).await?;
    let target = format!("tenant:{}/user:{}", tenant.slug, user.login_id);
    audit::record(app, principal, Some(tenant.id), "operator.grant", &target, serde_json::json!({"role": role.as_str()})).await;
    Ok(role)
}

/// Takes the operator `role` away from `login_id` of tenant `slug`; the user stays, and the
/// console refuses them from their next page.
pub async fn revoke(app: &App, principal: &Principal, slug: &str, login_id: &str, role: &str) -> Result<AdminRoleKind, AdminError> {
    let (tenant, user, role) = subject(app, principal, slug, login_id, role).await?;
    let role_tenant = (role == AdminRoleKind::TenantAdmin).then_some(tenant.id);
    let held = app.storage.admin_roles().list_for_user(user.id).await?;
    let found = held
        .into_iter()
        .find(|r| r.role == role && r.tenant_id == role_tenant)
        .ok_or_else(|| AdminError::NotFound(format!("{} of tenant {} is not {role}", user.login_id, tenant.slug)))?;
    app.storage.admin_roles().revoke(found.id).await?;
    let target = format!("tenant:{}/user:{}", tenant.slug, user.login_id);
    audit::record(app, principal, Some(tenant.id), "operator.revoke", &target, serde_json::json!({"role": role.as_str()})).await;
    Ok(role)
}
