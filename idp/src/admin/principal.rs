//! Who is acting: an API token or (later) an operator logged in to the console, with the
//! tenants it reaches and what it may do there.

use mamori_storage::model::{ApiScope, Tenant};
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
        Principal {
            actor: "cli".to_owned(),
            reach: Reach::AllTenants,
            scopes: ApiScope::ALL.to_vec(),
            source_ip: "local".to_owned(),
        }
    }

    pub fn is_super_admin(&self) -> bool {
        self.reach == Reach::AllTenants
    }

    /// Fails unless the principal holds `scope`.
    pub fn require(&self, scope: ApiScope) -> Result<(), AdminError> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(AdminError::Forbidden(format!("this credential lacks the `{scope}` scope")))
        }
    }

    /// Fails unless the principal is a super-admin holding `scope`.
    pub fn require_super_admin(&self, scope: ApiScope) -> Result<(), AdminError> {
        self.require(scope)?;
        if self.is_super_admin() {
            Ok(())
        } else {
            Err(AdminError::Forbidden("only a super-admin may do this".to_owned()))
        }
    }

    pub fn reaches(&self, tenant_id: Uuid) -> bool {
        match self.reach {
            Reach::AllTenants => true,
            Reach::Tenant(own) => own == tenant_id,
        }
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
