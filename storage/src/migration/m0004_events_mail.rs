//! Login history and the mail outbox.

use sea_orm_migration::{prelude::*, schema::*};

use super::fk;
use super::m0001_tenants_users::{Tenants, Users};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum LoginEvents {
    Table,
    Id,
    TenantId,
    UserId,
    AttemptedLoginId,
    OccurredAt,
    SourceIp,
    Result,
    Factors,
    UserAgent,
    Detail,
}

#[derive(DeriveIden)]
enum MailOutbox {
    Table,
    Id,
    TenantId,
    ToAddress,
    Subject,
    BodyText,
    BodyHtml,
    Locale,
    Kind,
    CreatedAt,
    SentAt,
    Attempts,
    LastError,
    ClaimedUntil,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // History survives the user's deletion (audit), hence SET NULL.
        manager
            .create_table(
                Table::create()
                    .table(LoginEvents::Table)
                    .col(pk_uuid(LoginEvents::Id))
                    .col(uuid(LoginEvents::TenantId))
                    .col(uuid_null(LoginEvents::UserId))
                    .col(string_null(LoginEvents::AttemptedLoginId))
                    .col(big_integer(LoginEvents::OccurredAt))
                    .col(string(LoginEvents::SourceIp))
                    .col(string(LoginEvents::Result))
                    .col(text(LoginEvents::Factors))
                    .col(text_null(LoginEvents::UserAgent))
                    .col(text_null(LoginEvents::Detail))
                    .foreign_key(&mut fk(
                        "fk_login_events_tenant",
                        LoginEvents::Table,
                        LoginEvents::TenantId,
                        Tenants::Table,
                        Tenants::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_login_events_user",
                        LoginEvents::Table,
                        LoginEvents::UserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .take(),
            )
            .await?;
        for (name, column) in [("ix_login_events_user_time", LoginEvents::UserId), ("ix_login_events_tenant_time", LoginEvents::TenantId)] {
            manager
                .create_index(Index::create().name(name).table(LoginEvents::Table).col(column).col(LoginEvents::OccurredAt).take())
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(MailOutbox::Table)
                    .col(pk_uuid(MailOutbox::Id))
                    .col(uuid_null(MailOutbox::TenantId))
                    .col(string(MailOutbox::ToAddress))
                    .col(text(MailOutbox::Subject))
                    .col(text(MailOutbox::BodyText))
                    .col(text_null(MailOutbox::BodyHtml))
                    .col(string(MailOutbox::Locale))
                    .col(string(MailOutbox::Kind))
                    .col(big_integer(MailOutbox::CreatedAt))
                    .col(big_integer_null(MailOutbox::SentAt))
                    .col(integer(MailOutbox::Attempts).default(0))
                    .col(text_null(MailOutbox::LastError))
                    .col(big_integer_null(MailOutbox::ClaimedUntil))
                    .foreign_key(&mut fk(
                        "fk_mail_outbox_tenant",
                        MailOutbox::Table,
                        MailOutbox::TenantId,
                        Tenants::Table,
                        Tenants::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_mail_outbox_pending")
                    .table(MailOutbox::Table)
                    .col(MailOutbox::SentAt)
                    .col(MailOutbox::CreatedAt)
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_mail_outbox_tenant")
                    .table(MailOutbox::Table)
                    .col(MailOutbox::TenantId)
                    .col(MailOutbox::CreatedAt)
                    .take(),
            )
            .await?;
        Ok(())
    }
}
