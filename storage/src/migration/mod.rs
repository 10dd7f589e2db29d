//! Numbered schema migrations. Each one runs in its own transaction (savepoint) on both
//! backends, inside the outer locked transaction of [`crate::Storage::migrate`].
//! Never edit a published migration: add a new one.

use sea_orm_migration::prelude::*;

mod m0001_tenants_users;
mod m0002_pki;
mod m0003_tickets_sessions;
mod m0004_events_mail;
mod m0005_federation;
mod m0006_totp_replay;
mod m0007_oidc;
mod m0008_saml;
mod m0009_admin;
mod m0010_email_verified;
mod m0011_client_claims;
mod m0012_lockout_release;
mod m0013_throttle;
mod m0014_relying_site_versions;
mod m0015_grant_sessions;
mod m0016_published_crls;
mod m0017_login_id_key;
mod m0018_login_id_skeleton;
mod m0019_certificate_public_key;
mod m0020_certificate_lifecycle;
mod m0021_tenant_branding;
mod m0022_user_external_id;
mod m0023_passkeys;
mod m0024_scim_consistency;
mod m0025_user_name_parts;
mod m0026_saml_unsolicited;

pub(crate) struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_tenants_users::Migration),
            Box::new(m0002_pki::Migration),
            Box::new(m0003_tickets_sessions::Migration),
            Box::new(m0004_events_mail::Migration),
            Box::new(m0005_federation::Migration),
            Box::new(m0006_totp_replay::Migration),
            Box::new(m0007_oidc::Migration),
            Box::new(m0008_saml::Migration),
            Box::new(m0009_admin::Migration),
            Box::new(m0010_email_verified::Migration),
            Box::new(m0011_client_claims::Migration),
            Box::new(m0012_lockout_release::Migration),
            Box::new(m0013_throttle::Migration),
            Box::new(m0014_relying_site_versions::Migration),
            Box::new(m0015_grant_sessions::Migration),
            Box::new(m0016_published_crls::Migration),
            Box::new(m0017_login_id_key::Migration),
            Box::new(m0018_login_id_skeleton::Migration),
            Box::new(m0019_certificate_public_key::Migration),
            Box::new(m0020_certificate_lifecycle::Migration),
            Box::new(m0021_tenant_branding::Migration),
            Box::new(m0022_user_external_id::Migration),
            Box::new(m0023_passkeys::Migration),
            Box::new(m0024_scim_consistency::Migration),
            Box::new(m0025_user_name_parts::Migration),
            Box::new(m0026_saml_unsolicited::Migration),
        ]
    }
}

/// A foreign key from `table.column` to `target.id`.
fn fk(
    name: &str,
    table: impl IntoIden,
    column: impl IntoIden,
    target: impl IntoIden,
    target_id: impl IntoIden,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, column)
        .to(target, target_id)
        .on_delete(on_delete)
        .on_update(ForeignKeyAction::Cascade)
        .take()
}
