//! Administration: API tokens, operator roles, the audit trail, and the filters of the
//! operators' list views.

use std::fmt;

use time::OffsetDateTime;
use uuid::Uuid;

use super::{CertificateStatus, UserStatus, string_enum};

string_enum! {
    /// What an API token may do: `read` lists and shows, `write` changes, `scim` lets a
    /// customer's directory provision the tenant's users over SCIM 2.0 (and nothing else:
    /// a token holding only `scim` cannot use the admin API).
    pub enum ApiScope {
        Read => "read",
        Write => "write",
        Scim => "scim",
    }
}

string_enum! {
    /// An operator's role: a super-admin administers every tenant, a tenant admin one.
    pub enum AdminRoleKind {
        SuperAdmin => "super-admin",
        TenantAdmin => "tenant-admin",
    }
}

/// An API token's record; the token text itself is never stored.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: Uuid,
    pub name: String,
    /// `None`: a super-admin token, valid for every tenant.
    pub tenant_id: Option<Uuid>,
    pub scopes: Vec<ApiScope>,
    /// Who created it (e.g. `cli`, or the actor of the API call).
    pub created_by: String,
    pub expires_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiToken")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("tenant_id", &self.tenant_id)
            .field("scopes", &self.scopes)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl ApiToken {
    /// Not revoked and not expired at `now`.
    pub fn is_usable_at(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewApiToken {
    pub name: String,
    pub tenant_id: Option<Uuid>,
    pub scopes: Vec<ApiScope>,
    pub created_by: String,
    /// Keyed hash of the token text, computed by the caller.
    pub lookup_hash: String,
    pub expires_at: OffsetDateTime,
}

/// A user's operator role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminRole {
    pub id: Uuid,
    pub user_id: Uuid,
    pub role: AdminRoleKind,
    /// The tenant of a tenant admin; `None` for a super-admin.
    pub tenant_id: Option<Uuid>,
    pub created_at: OffsetDateTime,
}

/// One administrative action, as kept in the audit trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    /// Who acted, e.g. `token:3f2a…` or `user:demo/alice`.
    pub actor: String,
    /// What was done, e.g. `user.unlock`.
    pub action: String,
    /// What it was done to, e.g. `tenant:demo/user:alice`.
    pub target: String,
    pub occurred_at: OffsetDateTime,
    pub source_ip: String,
    /// `success` or `failure`.
    pub outcome: String,
    /// Further facts as a JSON object.
    pub details: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAuditEvent {
    pub tenant_id: Option<Uuid>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub occurred_at: OffsetDateTime,
    pub source_ip: String,
    pub outcome: String,
    pub details: serde_json::Value,
}

/// Filters of the audit trail; `None` means any. Newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// `None`: every tenant (and actions on no tenant).
    pub tenant_id: Option<Uuid>,
    pub actor: Option<String>,
    pub action: Option<String>,
    /// Events whose target contains this text.
    pub target_contains: Option<String>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
}

/// Filters of a tenant's login history; `None` means any. Newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoginEventQuery {
    pub user_id: Option<Uuid>,
    /// The typed user ID (also matches attempts on unknown users).
    pub attempted_login_id: Option<String>,
    pub since: Option<OffsetDateTime>,
    /// Exclusive.
    pub until: Option<OffsetDateTime>,
    /// A result spelling such as `success` or `wrong-password`.
    pub result: Option<String>,
}

/// Filters of a tenant's user list, ordered by user ID.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// User IDs, display names or (active devices') e-mail addresses containing this
    /// text, ignoring case.
    pub text: Option<String>,
    pub status: Option<UserStatus>,
    pub locked: Option<bool>,
}

/// Filters of a tenant's certificates, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CertificateQuery {
    pub user_id: Option<Uuid>,
    pub status: Option<CertificateStatus>,
    /// Serial in hex (any case or separators).
    pub serial_hex: Option<String>,
    /// Subject common names containing this text.
    pub subject_contains: Option<String>,
}
