//! Users, their lockout state, and their devices.

use std::fmt;

use time::OffsetDateTime;
use uuid::Uuid;

use super::{LoginMethod, string_enum};

string_enum! {
    /// UI language of a user.
    pub enum Locale {
        Ja => "ja",
        En => "en",
    }
}

string_enum! {
    pub enum UserStatus {
        Active => "active",
        Disabled => "disabled",
    }
}

string_enum! {
    /// Why an account is locked.
    pub enum LockReason {
        Password => "password",
        SecretAnswer => "secret-answer",
        EnrollmentOtp => "enrollment-otp",
        Operator => "operator",
    }
}

string_enum! {
    pub enum DeviceType {
        Pc => "pc",
        MobilePhone => "mobile-phone",
        Smartphone => "smartphone",
    }
}

/// An end user. Secrets arrive hashed (PHC strings) or sealed; this crate never sees them
/// in clear.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// The user ID people type, unique per tenant (e.g. `p-01-usr012`).
    pub login_id: String,
    pub display_name: String,
    pub locale: Locale,
    /// IANA time-zone name used to show times to the user.
    pub time_zone: String,
    pub login_method: LoginMethod,
    pub status: UserStatus,
    /// Set while locked; stays until an operator unlocks.
    pub locked_at: Option<OffsetDateTime>,
    pub lock_reason: Option<LockReason>,
    pub failed_password_count: u32,
    pub failed_secret_answer_count: u32,
    /// Argon2 PHC string; `None` for the certificate-only method or before enrollment.
    pub password_hash: Option<String>,
    pub password_changed_at: Option<OffsetDateTime>,
    /// Reissued or expired: the user must choose a new password at the next login.
    pub password_must_change: bool,
    /// Code of the chosen secret question, e.g. "first-car".
    pub secret_question: Option<String>,
    pub secret_answer_hash: Option<String>,
    pub totp_secret_sealed: Option<Vec<u8>>,
    /// The identifier a provisioning client (SCIM `externalId`) gave the user, if any.
    pub external_id: Option<String>,
    /// SCIM `name.givenName` and `name.familyName`, if a directory sent them; the display
    /// name is its own value.
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// Bumped by every write to the user or its devices ([`crate::Users::apply_changes`]
    /// writes only while it is unchanged).
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// Changes a provisioning client makes to a user at once ([`crate::Users::apply_changes`]):
/// all of them or none. `None` keeps a value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserChangeSet {
    pub display_name: Option<String>,
    /// `Some(None)` clears it.
    pub external_id: Option<Option<String>>,
    /// `Some(None)` clears it.
    pub given_name: Option<Option<String>>,
    /// `Some(None)` clears it.
    pub family_name: Option<Option<String>>,
    pub status: Option<UserStatus>,
    /// A new address for one active device (by its row id).
    pub device_email: Option<(Uuid, String)>,
}

impl UserChangeSet {
    pub fn is_empty(&self) -> bool {
        *self == UserChangeSet::default()
    }
}

impl User {
    pub fn is_locked(&self) -> bool {
        self.locked_at.is_some()
    }
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Hashes and sealed secrets stay out of logs.
        f.debug_struct("User")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("login_id", &self.login_id)
            .field("login_method", &self.login_method)
            .field("status", &self.status)
            .field("locked_at", &self.locked_at)
            .field("lock_reason", &self.lock_reason)
            .field("failed_password_count", &self.failed_password_count)
            .field("failed_secret_answer_count", &self.failed_secret_answer_count)
            .field("password_must_change", &self.password_must_change)
            .finish_non_exhaustive()
    }
}

/// The form of a user ID under which it is unique within its tenant: lower-cased (full
/// Unicode case mapping, done here in Rust so both backends agree), so that IDs differing
/// only in case are one.
pub fn login_id_key(login_id: &str) -> String {
    login_id.to_lowercase()
}

/// The form of a user ID under which it is unique within its tenant by look: the TR 39
/// confusable skeleton of the lower-cased ID, so `рау` (Cyrillic) is `pay`, `paypa1` is
/// `paypal` and `ROOT` is `root` (m0018). Only compared, never shown or used to log in.
pub fn login_id_skeleton(login_id: &str) -> String {
    unicode_security::confusable_detection::skeleton(&login_id.to_lowercase()).collect()
}

/// What `Users::create` needs; credentials are set later, at enrollment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewUser {
    pub tenant_id: Uuid,
    pub login_id: String,
    pub display_name: String,
    pub locale: Locale,
    pub time_zone: String,
    pub login_method: LoginMethod,
    /// Created disabled when a provisioning client says so, in the same insert: no reader
    /// ever sees it active.
    pub status: UserStatus,
    pub external_id: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
}

impl NewUser {
    /// A user with the usual defaults: Japanese, Asia/Tokyo.
    pub fn new(tenant_id: Uuid, login_id: impl Into<String>, login_method: LoginMethod) -> Self {
        let login_id = login_id.into();
        NewUser {
            tenant_id,
            display_name: login_id.clone(),
            login_id,
            locale: Locale::Ja,
            time_zone: "Asia/Tokyo".to_owned(),
            login_method,
            status: UserStatus::Active,
            external_id: None,
            given_name: None,
            family_name: None,
        }
    }
}

/// Result of counting one wrong password or secret answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockoutOutcome {
    /// Failures counted so far, this one included.
    pub failures: u32,
    /// The account is locked now (by this failure or earlier, for any reason).
    pub locked: bool,
    /// This very call locked the account: true for exactly one of many concurrent calls.
    pub locked_now: bool,
    /// Failures left before the lock (0 once locked).
    pub attempts_left: u32,
}

/// A user's device: one e-mail address and one certificate at a time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub id: Uuid,
    pub user_id: Uuid,
    /// 1, 2, 3… per user; never reused, even after deletion.
    pub device_no: u32,
    pub device_type: DeviceType,
    pub email: String,
    pub created_at: OffsetDateTime,
    /// Soft delete: kept so that its certificates are recognised as a deleted device's.
    pub deleted_at: Option<OffsetDateTime>,
    /// When a link mailed to `email` was last completed; cleared when `email` changes.
    pub email_verified_at: Option<OffsetDateTime>,
}

impl Device {
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDevice {
    pub user_id: Uuid,
    pub device_type: DeviceType,
    pub email: String,
}
