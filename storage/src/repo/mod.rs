//! Repositories: one small struct per aggregate, borrowed from [`crate::Storage`].

use sea_orm::sea_query::UpdateStatement;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, FromQueryResult};

mod admin;
mod brandings;
mod completion;
mod crls;
mod devices;
mod expiry;
mod federation;
mod login_events;
mod mail;
mod oidc_grants;
mod passkeys;
mod pki;
mod saml;
mod sessions;
mod tenants;
mod throttle;
mod tickets;
mod users;

pub use admin::{AdminRoles, ApiTokens, AuditEvents};
pub use brandings::TenantBrandings;
pub use completion::Completions;
pub use crls::PublishedCrls;
pub use devices::{DEVICE_LIMIT_REACHED, Devices};
pub use expiry::CertificateExpiry;
pub use federation::{OidcClients, RelyingSiteVersions, SamlServiceProviders, SigningKeys};
pub use login_events::LoginEvents;
pub use mail::MailOutbox;
pub use oidc_grants::OidcGrants;
pub use passkeys::{LAST_PASSKEY, PASSKEY_ALREADY_REGISTERED, PASSKEY_LIMIT_REACHED, Passkeys};
pub use pki::{CertificateAuthorities, Certificates};
pub use saml::SamlRecords;
pub use sessions::Sessions;
pub use tenants::Tenants;
pub use throttle::Throttle;
pub use tickets::Tickets;
pub use users::Users;

/// Runs an UPDATE with `RETURNING *` and reads the rows back as entity models.
///
/// sea-orm only uses RETURNING on SQLite behind a feature flag; SQLite has had it since
/// 3.35 (bundled here), and it lets one statement both change and report a row, which is
/// what the atomic counters need.
pub(crate) async fn update_returning<E, C>(db: &C, mut stmt: UpdateStatement) -> Result<Vec<E::Model>, DbErr>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    stmt.returning_all();
    let rows = db.query_all(&stmt).await?;
    rows.iter().map(|row| E::Model::from_query_result(row, "")).collect()
}
