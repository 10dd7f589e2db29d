//! Audit events and notification mails: every change is a login-history event and a
//! mail to every address the user has registered.

use crate::app::App;
use crate::flows::events::{Attempt, record_login_event};
use mamori_storage::model::User;

use super::history::format_date_time;

/// A change to an account, recorded in the login history as its own result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountChange {
    PasswordChanged,
    SecretQuestionChanged,
    DeviceAdded,
    DeviceEmailChanged,
    DeviceDeleted,
    LoginMethodChanged,
    PasswordReissueRequested,
    PasswordReissued,
    CertificateReissueRequested,
    CertificateReissued,
    WrongSecretAnswer,
    WrongCurrentPassword,
    /// An OpenID Connect consent withdrawn on the Connected sites page.
    ConsentWithdrawn,
    PasskeyAdded,
    PasskeyRenamed,
    /// Removed by the user, or by an operator (then audited as well).
    PasskeyRemoved,
}

impl AccountChange {
    /// The result written to the login history.
    pub fn result(self) -> &'static str {
        match self {
            Self::PasswordChanged => "password-changed",
            Self::SecretQuestionChanged => "secret-question-changed",
            Self::DeviceAdded => "device-added",
            Self::DeviceEmailChanged => "device-email-changed",
            Self::DeviceDeleted => "device-deleted",
            Self::LoginMethodChanged => "login-method-changed",
            Self::PasswordReissueRequested => "password-reissue-requested",
            Self::PasswordReissued => "password-reissued",
            Self::CertificateReissueRequested => "certificate-reissue-requested",
            Self::CertificateReissued => "certificate-reissued",
            Self::WrongSecretAnswer => "wrong-secret-answer",
            Self::WrongCurrentPassword => "wrong-password",
            Self::ConsentWithdrawn => "consent-withdrawn",
            Self::PasskeyAdded => "passkey-added",
            Self::PasskeyRenamed => "passkey-renamed",
            Self::PasskeyRemoved => "passkey-removed",
        }
    }
}

/// Every result the history page has a label for (`history.result.<result>`).
pub const HISTORY_RESULTS: &[&str] = &[
    "success",
    "wrong-password",
    "unknown-user",
    "locked",
    "no-certificate",
    "unknown-certificate",
    "certificate-expired",
    "certificate-not-yet-valid",
    "certificate-revoked",
    "certificate-user-mismatch",
    "device-deleted",
    "user-disabled",
    "wrong-otp",
    "password-expired",
    "password-must-change",
    "password-changed",
    "secret-question-changed",
    "device-added",
    "device-email-changed",
    "login-method-changed",
    "password-reissue-requested",
    "password-reissued",
    "certificate-reissue-requested",
    "certificate-reissued",
    "wrong-secret-answer",
    "consent-withdrawn",
    "passkey-added",
    "passkey-renamed",
    "passkey-removed",
    "passkey-failed",
    "passkey-cloned",
];

pub async fn record_change(app: &App, attempt: &Attempt<'_>, change: AccountChange) {
    let Ok(result) = change.result().parse();
    record_login_event(app, attempt, result, &[]).await;
}

/// The addresses of the user's active devices, each once.
pub async fn registered_addresses(app: &App, user: &User) -> anyhow::Result<Vec<String>> {
    let devices = app.storage.devices().list_for_user(user.id, false).await?;
    Ok(unique_addresses(devices.into_iter().map(|d| d.email)))
}

/// Addresses without repeats (compared case-insensitively), in first-seen order.
pub fn unique_addresses(addresses: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    addresses.into_iter().map(|a| a.trim().to_owned()).filter(|a| !a.is_empty() && seen.insert(a.to_lowercase())).collect()
}

/// Sends notice `template` to every registered address (and `also`), in the user's
/// language, with the user ID and the time of the change. A mail that cannot be queued is
/// logged: the change itself has happened and stays.
pub async fn notify(app: &App, user: &User, template: &'static str, extra: serde_json::Value, also: &[String]) {
    let now = app.now();
    let mut addresses = match registered_addresses(app, user).await {
        Ok(a) => a,
        Err(err) => {
            tracing::error!(%err, user = %user.id, "cannot list addresses for a notice");
            Vec::new()
        }
    };
    addresses.extend(also.iter().cloned());
    let mut context = serde_json::json!({
        "login_id": user.login_id,
        "display_name": user.display_name,
        "changed_at": format_date_time(now, &user.time_zone),
    });
    if let (Some(map), serde_json::Value::Object(more)) = (context.as_object_mut(), extra) {
        map.extend(more);
    }
    for to in unique_addresses(addresses) {
        let mail = crate::mail::OutgoingMail {
            tenant_id: Some(user.tenant_id),
            to,
            locale: crate::mail::ui_locale(user.locale),
            template,
            context: context.clone(),
        };
        if let Err(err) = app.mailer.send(mail, now).await {
            tracing::error!(error = %format!("{err:#}"), user = %user.id, template, "notice mail not queued");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_audit_result_has_a_history_label() {
        use AccountChange as C;
        for c in [
            C::PasswordChanged,
            C::SecretQuestionChanged,
            C::DeviceAdded,
            C::DeviceEmailChanged,
            C::DeviceDeleted,
            C::LoginMethodChanged,
            C::PasswordReissueRequested,
            C::PasswordReissued,
            C::CertificateReissueRequested,
            C::CertificateReissued,
            C::WrongSecretAnswer,
            C::WrongCurrentPassword,
            C::ConsentWithdrawn,
            C::PasskeyAdded,
            C::PasskeyRenamed,
            C::PasskeyRemoved,
        ] {
            assert!(HISTORY_RESULTS.contains(&c.result()), "{c:?}");
        }
    }
}
