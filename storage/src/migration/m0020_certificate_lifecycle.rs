//! Certificate lifecycle policy per tenant (issue 21): expiry reminder mails (first one
//! `certificate_expiry_reminder_days` before a certificate runs out, then
//! `certificate_expiry_reminder_repeats` more, closer to it), the renewal grace period and
//! the smallest RSA key accepted in a CSR, which were server-wide config keys before
//! (existing tenants get those keys' defaults). And the reminders sent: one row per
//! certificate and threshold, whose primary key is what lets only one node send each.

use sea_orm_migration::{prelude::*, schema::*};

use super::fk;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    CertificateExpiryReminderDays,
    CertificateExpiryReminderRepeats,
    RenewalGraceDays,
    CsrMinRsaBits,
}

#[derive(DeriveIden)]
enum CertificateExpiryReminders {
    Table,
    CertificateId,
    ThresholdDays,
    SentAt,
}

#[derive(DeriveIden)]
enum Certificates {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for column in [
            integer(Tenants::CertificateExpiryReminderDays).default(30),
            integer(Tenants::CertificateExpiryReminderRepeats).default(1),
            integer(Tenants::RenewalGraceDays).default(14),
            integer(Tenants::CsrMinRsaBits).default(2048),
        ] {
            manager.alter_table(Table::alter().table(Tenants::Table).add_column(column).take()).await?;
        }
        use CertificateExpiryReminders as R;
        manager
            .create_table(
                Table::create()
                    .table(R::Table)
                    .col(uuid(R::CertificateId))
                    .col(integer(R::ThresholdDays))
                    .col(big_integer(R::SentAt))
                    .primary_key(Index::create().col(R::CertificateId).col(R::ThresholdDays))
                    .foreign_key(&mut fk(
                        "fk_certificate_expiry_reminders_certificate",
                        R::Table,
                        R::CertificateId,
                        Certificates::Table,
                        Certificates::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await
    }
}
