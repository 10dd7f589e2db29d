//! Who is acting: an API token or (later) an operator logged in to the console, with the
//! tenants it reaches and what it may do there.

use mamori_storage::model::{AdminRole, AdminRoleKind, ApiScope, Tenant};
use uuid::Uuid;

use super::AdminError;
use crate::app::App;

/// Which tenants a principal administers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// A super-admin: every tenant, and tenants themselves.
    AllTenants,
    /// A tenant admin: this tenant only.
    Tenant(Uuid),
}

#[derive(Clone, Debug)]
pub struct Principal {
    /// Recorded in the audit trail, e.g. `token:<id>` or `cli`.
    pub actor: String,
    pub reach: Reach,
    pub scopes: Vec<ApiScope>,
    /// Where the request came from (`local` for the CLI).
    pub source_ip: String,
}

impl Principal {
    /// The operator at the server's shell: a super-admin with every scope.
    pub fn local_cli() -> Principal {
        Principal { actor: "cli".to_owned(), reach: Reach::AllTenants, scopes: ApiScope::ALL.to_vec(), source_ip: "local".to_owned() }
    }

    /// A relying site registering itself (RFC 7591) with an initial access token, named
    /// in the audit trail by the first characters of the token's hash (never the token).
    pub fn dynamic_registration(token_lookup_hash: &str, tenant_id: Uuid, source_ip: String) -> Principal {
        Principal {
            actor: format!("initial-access-token:{}", token_lookup_hash.get(..12).unwrap_or(token_lookup_hash)),
            reach: Reach::Tenant(tenant_id),
            scopes: Vec::new(),
            source_ip,
        }
    }

    /// A client managing its own registration (RFC 7592) with its registration access token.
    pub fn registration_access(token_lookup_hash: &str, tenant_id: Uuid, source_ip: String) -> Principal {
        Principal {
            actor: format!("registration-access-token:{}", token_lookup_hash.get(..12).unwrap_or(token_lookup_hash)),
            reach: Reach::Tenant(tenant_id),
            scopes: Vec::new(),
            source_ip,
        }
    }

    pub fn is_super_admin(&self) -> bool {
        self.reach == Reach::AllTenants
    }

    /// Fails unless the principal holds `scope`.
    pub fn require(&self, scope: ApiScope) -> Result<(), AdminError> {
        if self.scopes.contains(&scope) { Ok(()) } else { Err(AdminError::Forbidden(format!("this credential lacks the `{scope}` scope"))) }
    }

    /// Fails unless the principal is a super-admin holding `scope`.
    pub fn require_super_admin(&self, scope: ApiScope) -> Result<(), AdminError> {
        self.require(scope)?;
        if self.is_super_admin() { Ok(()) } else { Err(AdminError::Forbidden("only a super-admin may do this".to_owned())) }
    }

    pub fn reaches(&self, tenant_id: Uuid) -> bool {
        match self.reach {
            Reach::AllTenants => true,
            Reach::Tenant(own) => own == tenant_id,
        }
    }

    /// Whether the principal may act on a user holding the operator roles `target_roles`:
    /// only if everything those roles administer lies within the principal's own reach.
    /// Otherwise an enrollment ticket, a disable or a password reset would hand the
    /// principal an account wider than its own: a tenant admin would climb to
    /// super-admin, or sideways to another tenant's admin who happens to live in its
    /// tenant. Equal reach is no climb: a tenant admin may act on a fellow tenant admin.
    pub fn may_act_on(&self, target_roles: &[AdminRole]) -> bool {
        target_roles.iter().all(|role| match (role.role, role.tenant_id) {
            (AdminRoleKind::TenantAdmin, Some(tenant)) => self.reaches(tenant),
            // A tenant admin without a tenant cannot be stored; if it were, it would
            // read as wider than any tenant.
            (AdminRoleKind::SuperAdmin, _) | (AdminRoleKind::TenantAdmin, None) => self.is_super_admin(),
        })
    }

    /// The tenant named `slug`, if it exists and the principal reaches it; any other tenant
    /// is "not found", so a tenant admin cannot even learn which slugs exist. Every
    /// tenant-scoped operation starts here.
    pub async fn tenant(&self, app: &App, slug: &str, scope: ApiScope) -> Result<Tenant, AdminError> {
        self.require(scope)?;
        match app.storage.tenants().get_by_slug(slug).await? {
            Some(tenant) if self.reaches(tenant.id) => Ok(tenant),
            _ => Err(AdminError::NotFound(format!("no tenant `{slug}`"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(reach: Reach) -> Principal {
        Principal { actor: "test".to_owned(), reach, scopes: ApiScope::ALL.to_vec(), source_ip: "local".to_owned() }
    }

    fn role(role: AdminRoleKind, tenant_id: Option<Uuid>) -> AdminRole {
        AdminRole { id: Uuid::new_v4(), user_id: Uuid::nil(), role, tenant_id, created_at: time::OffsetDateTime::UNIX_EPOCH }
    }

    /// Every principal against every kind of target: may it act?
    #[test]
    fn no_principal_acts_on_a_wider_role() {
        let (own, other) = (Uuid::new_v4(), Uuid::new_v4());
        let plain: Vec<AdminRole> = Vec::new();
        let super_admin = vec![role(AdminRoleKind::SuperAdmin, None)];
        let own_admin = vec![role(AdminRoleKind::TenantAdmin, Some(own))];
        let other_admin = vec![role(AdminRoleKind::TenantAdmin, Some(other))];
        let both_admin = vec![role(AdminRoleKind::TenantAdmin, Some(own)), role(AdminRoleKind::TenantAdmin, Some(other))];
        let unscoped_admin = vec![role(AdminRoleKind::TenantAdmin, None)];
        let table: [(&str, Reach, &[AdminRole], bool); 12] = [
            ("super-admin on a plain user", Reach::AllTenants, &plain, true),
            ("super-admin on a super-admin", Reach::AllTenants, &super_admin, true),
            ("super-admin on a tenant admin", Reach::AllTenants, &other_admin, true),
            ("super-admin on an admin of two tenants", Reach::AllTenants, &both_admin, true),
            ("tenant admin on a plain user", Reach::Tenant(own), &plain, true),
            ("tenant admin on a fellow admin", Reach::Tenant(own), &own_admin, true),
            ("tenant admin on a super-admin", Reach::Tenant(own), &super_admin, false),
            ("tenant admin on another tenant's admin", Reach::Tenant(own), &other_admin, false),
            ("tenant admin on an admin of its and another tenant", Reach::Tenant(own), &both_admin, false),
            ("tenant admin on an admin without a tenant", Reach::Tenant(own), &unscoped_admin, false),
            ("other tenant's admin on this tenant's admin", Reach::Tenant(other), &own_admin, false),
            ("super-admin on an admin without a tenant", Reach::AllTenants, &unscoped_admin, true),
        ];
        for (case, reach, target, allowed) in table {
            assert_eq!(principal(reach).may_act_on(target), allowed, "{case}");
        }
    }
}
