//! SCIM provisioning (issue 23), three things a directory needs that the rows lacked:
//! - `users.version`, bumped by every write to the user or its devices, so that a SCIM
//!   PUT or PATCH can apply all its changes in one compare-and-swap: a writer that read
//!   version N writes only while the row is still at N (a stale `If-Match` is a 412 even
//!   when two writers race, where an `updated_at` could tie within a millisecond).
//! - an index on `(tenant_id, external_id)`, so `externalId eq "…"` is one lookup, not a
//!   scan of the tenant's users.
//! - `tenants.scim_enrollment_mail`, the policy knob that mails a user created through
//!   SCIM their enrollment URL and one-time password (off: existing tenants keep handing
//!   tickets out themselves).
//!
//! (m0023 is left to the passkey work running alongside.)

use sea_orm_migration::{prelude::*, schema::*};

use super::m0001_tenants_users::Users;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum UserColumns {
    Version,
    TenantId,
    ExternalId,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    ScimEnrollmentMail,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Users::Table).add_column(big_integer(UserColumns::Version).default(0)).take()).await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_users_tenant_external_id")
                    .table(Users::Table)
                    .col(UserColumns::TenantId)
                    .col(UserColumns::ExternalId)
                    .take(),
            )
            .await?;
        manager
            .alter_table(Table::alter().table(Tenants::Table).add_column(boolean(Tenants::ScimEnrollmentMail).default(false)).take())
            .await
    }
}
