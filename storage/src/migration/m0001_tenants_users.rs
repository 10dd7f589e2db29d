//! Tenants with their policy, users, password history and devices.

use sea_orm_migration::{prelude::*, schema::*};

use super::fk;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
pub(crate) enum Tenants {
    Table,
    Id,
    Slug,
    DisplayName,
    CreatedAt,
    AllowedLoginMethods,
    DefaultLoginMethod,
    PasswordMinLength,
    PasswordMaxLength,
    PasswordAllowDigits,
    PasswordAllowUpper,
    PasswordAllowLower,
    PasswordAllowSymbols,
    PasswordExpiryDays,
    PasswordHistoryCount,
    LockoutThresholdPassword,
    LockoutThresholdSecretAnswer,
    LockoutThresholdEnrollmentOtp,
    ShowAttemptsLeft,
    SelfServiceEnabled,
    PasswordReissueEnabled,
    DeviceManagementEnabled,
    LoginMethodChangeEnabled,
    UserCertificateReissueEnabled,
    MaxDevices,
    CertificateValidityDays,
    CertificateKeyType,
    Pkcs12Format,
    OtpKind,
    SessionIdleMinutes,
    SessionAbsoluteMinutes,
    EnrollmentTicketHours,
    DownloadTicketHours,
    DownloadMaxCount,
    ReissueLinkMinutes,
}

#[derive(DeriveIden)]
pub(crate) enum Users {
    Table,
    Id,
    TenantId,
    LoginId,
    DisplayName,
    Locale,
    TimeZone,
    LoginMethod,
    Status,
    LockedAt,
    LockReason,
    FailedPasswordCount,
    FailedSecretAnswerCount,
    PasswordHash,
    PasswordChangedAt,
    PasswordMustChange,
    SecretQuestion,
    SecretAnswerHash,
    TotpSecretSealed,
    LastDeviceNo,
    PasswordSeq,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PasswordHistory {
    Table,
    Id,
    UserId,
    Seq,
    PasswordHash,
    CreatedAt,
}

#[derive(DeriveIden)]
pub(crate) enum Devices {
    Table,
    Id,
    UserId,
    DeviceNo,
    DeviceType,
    Email,
    CreatedAt,
    DeletedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .col(pk_uuid(Tenants::Id))
                    .col(string_uniq(Tenants::Slug))
                    .col(string(Tenants::DisplayName))
                    .col(big_integer(Tenants::CreatedAt))
                    .col(text(Tenants::AllowedLoginMethods))
                    .col(string(Tenants::DefaultLoginMethod))
                    .col(integer(Tenants::PasswordMinLength))
                    .col(integer(Tenants::PasswordMaxLength))
                    .col(boolean(Tenants::PasswordAllowDigits))
                    .col(boolean(Tenants::PasswordAllowUpper))
                    .col(boolean(Tenants::PasswordAllowLower))
                    .col(boolean(Tenants::PasswordAllowSymbols))
                    .col(integer(Tenants::PasswordExpiryDays))
                    .col(integer(Tenants::PasswordHistoryCount))
                    .col(integer(Tenants::LockoutThresholdPassword))
                    .col(integer(Tenants::LockoutThresholdSecretAnswer))
                    .col(integer(Tenants::LockoutThresholdEnrollmentOtp))
                    .col(boolean(Tenants::ShowAttemptsLeft))
                    .col(boolean(Tenants::SelfServiceEnabled))
                    .col(boolean(Tenants::PasswordReissueEnabled))
                    .col(boolean(Tenants::DeviceManagementEnabled))
                    .col(boolean(Tenants::LoginMethodChangeEnabled))
                    .col(boolean(Tenants::UserCertificateReissueEnabled))
                    .col(integer(Tenants::MaxDevices))
                    .col(integer(Tenants::CertificateValidityDays))
                    .col(string(Tenants::CertificateKeyType))
                    .col(string(Tenants::Pkcs12Format))
                    .col(string(Tenants::OtpKind))
                    .col(integer(Tenants::SessionIdleMinutes))
                    .col(integer(Tenants::SessionAbsoluteMinutes))
                    .col(integer(Tenants::EnrollmentTicketHours))
                    .col(integer(Tenants::DownloadTicketHours))
                    .col(integer(Tenants::DownloadMaxCount))
                    .col(integer(Tenants::ReissueLinkMinutes))
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(pk_uuid(Users::Id))
                    .col(uuid(Users::TenantId))
                    .col(string(Users::LoginId))
                    .col(string(Users::DisplayName))
                    .col(string(Users::Locale))
                    .col(string(Users::TimeZone))
                    .col(string(Users::LoginMethod))
                    .col(string(Users::Status))
                    .col(big_integer_null(Users::LockedAt))
                    .col(string_null(Users::LockReason))
                    .col(integer(Users::FailedPasswordCount).default(0))
                    .col(integer(Users::FailedSecretAnswerCount).default(0))
                    .col(text_null(Users::PasswordHash))
                    .col(big_integer_null(Users::PasswordChangedAt))
                    .col(boolean(Users::PasswordMustChange).default(false))
                    .col(string_null(Users::SecretQuestion))
                    .col(text_null(Users::SecretAnswerHash))
                    .col(blob_null(Users::TotpSecretSealed))
                    .col(integer(Users::LastDeviceNo).default(0))
                    .col(big_integer(Users::PasswordSeq).default(0))
                    .col(big_integer(Users::CreatedAt))
                    .col(big_integer(Users::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_users_tenant",
                        Users::Table,
                        Users::TenantId,
                        Tenants::Table,
                        Tenants::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_users_tenant_login_id")
                    .table(Users::Table)
                    .col(Users::TenantId)
                    .col(Users::LoginId)
                    .unique()
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PasswordHistory::Table)
                    .col(pk_uuid(PasswordHistory::Id))
                    .col(uuid(PasswordHistory::UserId))
                    .col(big_integer(PasswordHistory::Seq))
                    .col(text(PasswordHistory::PasswordHash))
                    .col(big_integer(PasswordHistory::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_password_history_user",
                        PasswordHistory::Table,
                        PasswordHistory::UserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_password_history_user_seq")
                    .table(PasswordHistory::Table)
                    .col(PasswordHistory::UserId)
                    .col(PasswordHistory::Seq)
                    .unique()
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Devices::Table)
                    .col(pk_uuid(Devices::Id))
                    .col(uuid(Devices::UserId))
                    .col(integer(Devices::DeviceNo))
                    .col(string(Devices::DeviceType))
                    .col(string(Devices::Email))
                    .col(big_integer(Devices::CreatedAt))
                    .col(big_integer_null(Devices::DeletedAt))
                    .foreign_key(&mut fk(
                        "fk_devices_user",
                        Devices::Table,
                        Devices::UserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_devices_user_device_no")
                    .table(Devices::Table)
                    .col(Devices::UserId)
                    .col(Devices::DeviceNo)
                    .unique()
                    .take(),
            )
            .await?;
        Ok(())
    }
}
