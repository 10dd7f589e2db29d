//! Login history.

use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;
use uuid::Uuid;

/// Outcome of one login attempt, as shown in the login history.
///
/// Values unknown to this version (written by a newer one) read back as `Other`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LoginResult {
    Success,
    WrongPassword,
    UnknownUser,
    Locked,
    NoCertificate,
    UnknownCertificate,
    CertificateExpired,
    CertificateNotYetValid,
    CertificateRevoked,
    CertificateUserMismatch,
    DeviceDeleted,
    UserDisabled,
    WrongOtp,
    PasswordExpired,
    /// The password was set for the user (a reissue, an operator's reset) and must be
    /// replaced by one of their own: not an expired one.
    PasswordMustChange,
    /// A passkey assertion that did not verify (wrong origin, signature, challenge, or a
    /// credential of another user or tenant).
    PasskeyFailed,
    /// A passkey whose signature counter did not move forward: the authenticator may have
    /// been cloned, so the assertion was refused.
    PasskeyCloned,
    Other(String),
}

impl LoginResult {
    const NAMED: &'static [(LoginResult, &'static str)] = &[
        (LoginResult::Success, "success"),
        (LoginResult::WrongPassword, "wrong-password"),
        (LoginResult::UnknownUser, "unknown-user"),
        (LoginResult::Locked, "locked"),
        (LoginResult::NoCertificate, "no-certificate"),
        (LoginResult::UnknownCertificate, "unknown-certificate"),
        (LoginResult::CertificateExpired, "certificate-expired"),
        (LoginResult::CertificateNotYetValid, "certificate-not-yet-valid"),
        (LoginResult::CertificateRevoked, "certificate-revoked"),
        (LoginResult::CertificateUserMismatch, "certificate-user-mismatch"),
        (LoginResult::DeviceDeleted, "device-deleted"),
        (LoginResult::UserDisabled, "user-disabled"),
        (LoginResult::WrongOtp, "wrong-otp"),
        (LoginResult::PasswordExpired, "password-expired"),
        (LoginResult::PasswordMustChange, "password-must-change"),
        (LoginResult::PasskeyFailed, "passkey-failed"),
        (LoginResult::PasskeyCloned, "passkey-cloned"),
    ];

    pub fn as_str(&self) -> &str {
        if let LoginResult::Other(text) = self {
            return text;
        }
        LoginResult::NAMED.iter().find(|(value, _)| value == self).map_or("other", |(_, text)| text)
    }

    pub fn is_success(&self) -> bool {
        *self == LoginResult::Success
    }
}

impl fmt::Display for LoginResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LoginResult {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(LoginResult::NAMED
            .iter()
            .find(|(_, text)| *text == s)
            .map_or_else(|| LoginResult::Other(s.to_owned()), |(value, _)| value.clone()))
    }
}

impl serde::Serialize for LoginResult {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for LoginResult {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let Ok(result) = text.parse();
        Ok(result)
    }
}

/// One recorded login attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginEvent {
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// The user, when the attempt could be tied to one.
    pub user_id: Option<Uuid>,
    /// What was typed as the user ID, if anything.
    pub attempted_login_id: Option<String>,
    pub occurred_at: OffsetDateTime,
    pub source_ip: String,
    pub result: LoginResult,
    /// Factors completed, as `amr` values such as "swk", "pwd", "otp".
    pub factors: Vec<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewLoginEvent {
    pub tenant_id: Uuid,
    pub user_id: Option<Uuid>,
    pub attempted_login_id: Option<String>,
    pub occurred_at: OffsetDateTime,
    pub source_ip: String,
    pub result: LoginResult,
    pub factors: Vec<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
}
