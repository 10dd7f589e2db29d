use sea_orm::entity::prelude::*;

/// A tenant and, 1:1 in the same row, its policy.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub slug: String,
    pub display_name: String,
    pub created_at: i64,
    pub allowed_login_methods: String,
    pub default_login_method: String,
    pub password_min_length: i32,
    pub password_max_length: i32,
    pub password_allow_digits: bool,
    pub password_allow_upper: bool,
    pub password_allow_lower: bool,
    pub password_allow_symbols: bool,
    pub password_expiry_days: i32,
    pub password_history_count: i32,
    pub lockout_threshold_password: i32,
    pub lockout_threshold_secret_answer: i32,
    pub lockout_threshold_enrollment_otp: i32,
    pub show_attempts_left: bool,
    pub self_service_enabled: bool,
    pub password_reissue_enabled: bool,
    pub device_management_enabled: bool,
    pub login_method_change_enabled: bool,
    pub user_certificate_reissue_enabled: bool,
    pub max_devices: i32,
    pub certificate_validity_days: i32,
    pub certificate_key_type: String,
    pub pkcs12_format: String,
    pub otp_kind: String,
    pub session_idle_minutes: i32,
    pub session_absolute_minutes: i32,
    pub enrollment_ticket_hours: i32,
    pub download_ticket_hours: i32,
    pub download_max_count: i32,
    pub reissue_link_minutes: i32,
    pub lockout_release_minutes: i32,
    // Certificate lifecycle (m0020).
    pub certificate_expiry_reminder_days: i32,
    pub certificate_expiry_reminder_repeats: i32,
    pub renewal_grace_days: i32,
    pub csr_min_rsa_bits: i32,
    // SCIM provisioning (m0024).
    pub scim_enrollment_mail: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
