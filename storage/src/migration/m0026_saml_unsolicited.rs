//! Whether a SAML service provider takes logins it did not ask for (IdP-initiated SSO,
//! SAML Profiles §4.1.5). Off unless an operator turns it on for the SP, existing ones
//! included: an unsolicited response skips what the SP's own request would have
//! carried (its ID to check InResponseTo against, its signature when the SP signs
//! requests), so only an SP that says it accepts them gets them.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveIden)]
enum SamlServiceProviders {
    Table,
    AllowUnsolicited,
}

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SamlServiceProviders::Table)
                    .add_column(boolean(SamlServiceProviders::AllowUnsolicited).default(false))
                    .take(),
            )
            .await
    }
}
