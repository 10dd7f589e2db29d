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
    let (tenant, user) = super::users::find(app, principal, slug, login_id, ApiScope::Write).await?;
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
    // As for disabling or deleting one: nobody could reach the console's shared pages (or
    // make another super-admin there) once the last enabled one is gone.
    if role == AdminRoleKind::SuperAdmin {
        super::users::check_not_last_super_admin(app, principal, &tenant, &user, "operator.revoke").await?;
    }
    app.storage.admin_roles().revoke(found.id).await?;
    let target = format!("tenant:{}/user:{}", tenant.slug, user.login_id);
    audit::record(app, principal, Some(tenant.id), "operator.revoke", &target, serde_json::json!({"role": role.as_str()})).await;
    Ok(role)
}

/// One operator role, as `mamori admin operator list` shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct OperatorRole {
    /// The operator's own tenant (where the user logs in).
    pub tenant: String,
    pub login_id: String,
    /// `super-admin` or `tenant-admin`.
    pub role: String,
    /// The tenant the role administers; `None` for a super-admin, who administers all.
    pub administers: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub granted_at: time::OffsetDateTime,
}

/// Who holds which operator role in which tenant, oldest grant first. Only a super-admin
/// may see every tenant's operators.
pub async fn list(app: &App, principal: &Principal) -> Result<Vec<OperatorRole>, AdminError> {
    principal.require_super_admin(ApiScope::Read)?;
    let roles = app.storage.admin_roles().list_all().await?;
    let tenants: std::collections::HashMap<uuid::Uuid, String> =
        app.storage.tenants().list().await?.into_iter().map(|t| (t.id, t.slug)).collect();
    let slug = |id: uuid::Uuid| tenants.get(&id).cloned().unwrap_or_else(|| id.to_string());
    let mut out = Vec::with_capacity(roles.len());
    for role in roles {
        let user = app.storage.users().get(role.user_id).await?;
        out.push(OperatorRole {
            tenant: slug(user.tenant_id),
            login_id: user.login_id,
            role: role.role.as_str().to_owned(),
            administers: role.tenant_id.map(slug),
            granted_at: role.created_at,
        });
    }
    Ok(out)
}

/// What the first super-admin is made from.
#[derive(Clone, Debug)]
pub struct BootstrapInput {
    /// The operator's tenant; created when absent.
    pub tenant: String,
    /// The display name of a tenant created here (the slug when absent).
    pub tenant_name: Option<String>,
    pub login_id: String,
    pub email: String,
    pub display_name: Option<String>,
    pub locale: Option<String>,
    /// Make a super-admin even though one exists already.
    pub another: bool,
}

/// The bootstrap's outcome: the enrollment that the new super-admin opens in a browser.
#[derive(Clone, Debug)]
pub struct Bootstrapped {
    pub tenant: Tenant,
    pub tenant_created: bool,
    pub user: User,
    pub enrollment: crate::flows::enrollment::IssuedEnrollment,
}

/// Why a second bootstrap is refused (the CLI adds the flag that overrides it).
pub const SUPER_ADMIN_EXISTS: &str = "a super-admin exists already: the bootstrap only makes the first one";

/// The login method of a bootstrapped operator: what the console asks for.
const OPERATOR_METHOD: mamori_storage::model::LoginMethod = mamori_storage::model::LoginMethod::CertPassword;

/// Makes the first super-admin of an installation: a user in `input.tenant` (created if
/// absent) with the super-admin role and a fresh enrollment ticket, so that the operator
/// enrolls in a browser, installs the certificate and opens the console. Refused once any
/// super-admin exists unless `input.another` says so, so that a forgotten bootstrap
/// script does not hand out a new super-admin at every run. Every value is checked
/// before anything is written: a refusal leaves nothing behind.
pub async fn bootstrap(app: &App, principal: &Principal, input: &BootstrapInput, public_url: &str) -> Result<Bootstrapped, AdminError> {
    use crate::fields::{DisplayName, Email, LoginId, TenantSlug};

    principal.require_super_admin(ApiScope::Write)?;
    let target = format!("tenant:{}/user:{}", input.tenant, input.login_id);
    if !input.another && app.storage.admin_roles().any_super_admin().await? {
        let details = serde_json::json!({"reason": "super-admin-exists"});
        audit::record_refused(app, principal, None, "operator.bootstrap", &target, details).await;
        return Err(AdminError::Conflict(SUPER_ADMIN_EXISTS.to_owned()));
    }
    TenantSlug::parse(&input.tenant)?;
    LoginId::parse(&input.login_id)?;
    Email::parse(&input.email)?;
    if let Some(name) = &input.display_name {
        DisplayName::parse(name)?;
    }
    let tenant_name = input.tenant_name.clone().unwrap_or_else(|| input.tenant.clone());
    DisplayName::parse(&tenant_name)?;
    let new_user = super::users::NewUserInput {
        login_id: input.login_id.clone(),
        email: input.email.clone(),
        display_name: input.display_name.clone(),
        login_method: Some(OPERATOR_METHOD.to_string()),
        locale: input.locale.clone(),
        time_zone: None,
        ..Default::default()
    };
    let existing = app.storage.tenants().get_by_slug(&input.tenant).await?;
    if let Some(tenant) = &existing {
        // The user's values against this tenant's policy, before the user is written.
        super::users::prepare_new_user(tenant, &new_user)?;
        if app.storage.users().get_by_login_id(tenant.id, &input.login_id).await?.is_some() {
            return Err(AdminError::Conflict(format!(
                "user `{}` exists already in tenant `{}`: grant the role to that user instead",
                input.login_id, input.tenant
            )));
        }
    } else {
        super::users::prepare_new_user(&placeholder_tenant(), &new_user)?;
    }
    let tenant_created = existing.is_none();
    let tenant = match existing {
        Some(t) => t,
        None => super::tenants::create(app, principal, &input.tenant, &tenant_name, None).await?,
    };
    let user = super::users::create_in(app, principal, &tenant, &new_user).await?;
    grant(app, principal, &tenant.slug, &user.login_id, AdminRoleKind::SuperAdmin.as_str()).await?;
    let enrollment = super::users::enrollment_ticket(app, principal, &tenant.slug, &user.login_id, public_url).await?;
    let details = serde_json::json!({"another": input.another, "tenant_created": tenant_created});
    audit::record(app, principal, Some(tenant.id), "operator.bootstrap", &target, details).await;
    Ok(Bootstrapped { tenant, tenant_created, user, enrollment })
}

/// A tenant with the default policy, as `tenants::create` will make it, to check the new
/// user's values against before anything is written.
fn placeholder_tenant() -> Tenant {
    Tenant {
        id: uuid::Uuid::nil(),
        slug: String::new(),
        display_name: String::new(),
        created_at: time::OffsetDateTime::UNIX_EPOCH,
        policy: mamori_storage::model::TenantPolicy::default(),
    }
}

#[cfg(test)]
#[path = "operators_tests.rs"]
mod tests;
