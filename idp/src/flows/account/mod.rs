//! Account self-service for a logged-in user (flows 4, 7 and 8): which menu items the
//! tenant's policy enables, password and secret-question change, the login history of the
//! last month in the user's time zone, devices (add / change e-mail / delete) and the
//! login-method change. Every change is recorded as an audit event and announced by mail
//! to every address the user has registered; no mail carries a secret shown on screen.
//!
//! One file per flow: `history` (time zone, login history), `notices` (audit events and
//! notification mails), `credentials` (password and secret question), `devices`, and
//! `device_csr` (a device's certificate for its own key), `renewal` (a new certificate
//! while the old one still works), `expiry_reminders` (mails before a certificate runs
//! out), and `method` (login-method change); the policy gate of every feature is here.

mod credentials;
mod device_csr;
mod devices;
mod expiry_reminders;
mod history;
mod method;
pub(crate) mod notices;
mod passkeys;
mod renewal;

pub use credentials::*;
pub use device_csr::*;
pub use devices::*;
pub use expiry_reminders::*;
pub use history::*;
pub use method::*;
pub use notices::*;
pub use passkeys::*;
pub use renewal::*;

use mamori_storage::model::{TenantPolicy, User};
use serde::Serialize;

/// A self-service feature, each behind a policy knob (spec: "depends on your contract").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    /// The portal itself: user ID and device table.
    AccountManagement,
    PasswordChange,
    SecretQuestionChange,
    LoginHistory,
    /// Add, change and delete devices.
    Devices,
    LoginMethodChange,
    /// The user asks for a certificate reissue link themselves.
    CertificateReissue,
    /// Register, rename and remove passkeys: where a method the tenant allows (or the
    /// user's own) uses one.
    Passkeys,
}

/// Whether `feature` is on for `user` under `policy`. Handlers call this before acting,
/// so a hidden menu item cannot be reached by typing its address.
pub fn feature_enabled(policy: &TenantPolicy, user: &User, feature: Feature) -> bool {
    if !policy.self_service_enabled {
        return false;
    }
    match feature {
        Feature::AccountManagement | Feature::SecretQuestionChange | Feature::LoginHistory => true,
        Feature::PasswordChange => user.login_method.needs_password(),
        Feature::Devices => policy.device_management_enabled,
        Feature::LoginMethodChange => {
            policy.login_method_change_enabled && policy.allowed_login_methods.iter().any(|m| *m != user.login_method)
        }
        Feature::CertificateReissue => policy.user_certificate_reissue_enabled && user.login_method.needs_certificate(),
        Feature::Passkeys => user.login_method.needs_passkey() || policy.allowed_login_methods.iter().any(|m| m.needs_passkey()),
    }
}

/// The menu of flow 4 as the templates read it: one flag per item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Menu {
    pub account: bool,
    pub password: bool,
    pub secret_question: bool,
    pub history: bool,
    pub login_method: bool,
    pub devices: bool,
    pub certificate_reissue: bool,
    pub passkeys: bool,
}

pub fn menu(policy: &TenantPolicy, user: &User) -> Menu {
    let on = |f| feature_enabled(policy, user, f);
    Menu {
        account: on(Feature::AccountManagement),
        password: on(Feature::PasswordChange),
        secret_question: on(Feature::SecretQuestionChange),
        history: on(Feature::LoginHistory),
        login_method: on(Feature::LoginMethodChange),
        devices: on(Feature::Devices),
        certificate_reissue: on(Feature::CertificateReissue),
        passkeys: on(Feature::Passkeys),
    }
}

/// A user of each method for the tests of every flow file.
#[cfg(test)]
pub(crate) mod test_support {
    use mamori_storage::model::{LoginMethod, User};
    use time::OffsetDateTime;
    use uuid::Uuid;

    pub fn user(method: LoginMethod) -> User {
        let now = OffsetDateTime::UNIX_EPOCH;
        User {
            id: Uuid::nil(),
            tenant_id: Uuid::nil(),
            login_id: "p-01-usr012".into(),
            display_name: String::new(),
            locale: mamori_storage::model::Locale::Ja,
            time_zone: "Asia/Tokyo".into(),
            login_method: method,
            status: mamori_storage::model::UserStatus::Active,
            locked_at: None,
            lock_reason: None,
            failed_password_count: 0,
            failed_secret_answer_count: 0,
            password_hash: None,
            password_changed_at: None,
            password_must_change: false,
            secret_question: None,
            secret_answer_hash: None,
            external_id: None,
            given_name: None,
            family_name: None,
            version: 0,
            totp_secret_sealed: None,
            created_at: now,
            updated_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::user;
    use super::*;
    use mamori_storage::model::LoginMethod;

    #[test]
    fn the_menu_follows_the_policy() {
        let mut policy = TenantPolicy::default();
        let u = user(LoginMethod::CertPassword);
        let m = menu(&policy, &u);
        assert!(m.account && m.password && m.secret_question && m.history && m.login_method && m.devices);
        assert!(!m.certificate_reissue, "off by default");
        policy.device_management_enabled = false;
        policy.login_method_change_enabled = false;
        policy.user_certificate_reissue_enabled = true;
        let m = menu(&policy, &u);
        assert!(!m.devices && !m.login_method && m.certificate_reissue && m.password);
        assert!(!menu(&policy, &user(LoginMethod::Cert)).password, "no password to change");
        policy.self_service_enabled = false;
        let m = menu(&policy, &u);
        assert!(!(m.account || m.password || m.secret_question || m.history || m.devices || m.certificate_reissue));
        // Only one method allowed, and it is the user's: nothing to change to.
        let policy = TenantPolicy { allowed_login_methods: vec![LoginMethod::CertPassword], ..TenantPolicy::default() };
        assert!(!menu(&policy, &u).login_method);
    }
}
