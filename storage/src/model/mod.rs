//! Plain Rust types that the repositories take and return. Nothing here names sea-orm.

mod admin;
mod completion;
mod event;
mod federation;
mod mail;
mod oidc;
mod passkey;
mod pki;
mod saml;
mod session;
mod tenant;
mod ticket;
mod user;

pub use admin::{
    AdminRole, AdminRoleKind, ApiScope, ApiToken, AuditEvent, AuditQuery, CertificateQuery, LoginEventQuery, NewApiToken, NewAuditEvent,
    UserQuery,
};
pub use completion::{
    CertificateDownload, Completion, DeviceAddition, EmailVerification, PasswordChange, RENEWAL_PENDING, SecretAnswerChange,
};
pub use event::{LoginEvent, LoginResult, NewLoginEvent};
pub use federation::{
    AccessTokenFormat, AssertionConsumerService, KeyPurpose, NewOidcClient, NewSamlServiceProvider, NewSigningKey, OidcClient,
    SamlServiceProvider, SigningAlgorithm, SigningKey, SingleLogoutService,
};
pub use mail::{NewMail, OutboxMail};
pub use oidc::*;
pub use passkey::{Passkey, PasskeyUse};
pub use pki::{
    Certificate, CertificateAuthority, CertificateStatus, CrlHeader, ExpiringCertificate, NewCertificate, NewCertificateAuthority,
    PublishedCrl, RevocationMark,
};
pub use saml::*;
pub use session::{NewSession, Session};
pub use tenant::{
    CertificateKeyType, LoginMethod, OtpKind, PasswordCharClasses, Pkcs12Format, PolicyProblem, PolicyRule, Tenant, TenantBranding,
    TenantPolicy,
};
pub use ticket::{AttemptOutcome, NewTicket, RedeemError, Ticket, TicketKind};
pub use user::{
    Device, DeviceType, Locale, LockReason, LockoutOutcome, NewDevice, NewUser, User, UserChangeSet, UserStatus, login_id_key,
    login_id_skeleton,
};

/// One page of a longer list, with the total so a UI can say "1 ~ 20 / 57 items".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// How many items match in all, across every page.
    pub total: u64,
}

/// A string that is not one of an enum's known spellings.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind}: {value:?}")]
pub struct ParseEnumError {
    pub kind: &'static str,
    pub value: String,
}

/// Declares a closed enum stored and serialised as fixed strings, with `as_str`,
/// `Display`, `FromStr`, serde and `ALL`.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and displayed spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text ),+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::model::ParseEnumError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $( $text => Ok($name::$variant), )+
                    _ => Err($crate::model::ParseEnumError {
                        kind: stringify!($name),
                        value: s.to_owned(),
                    }),
                }
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <::std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(::serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use string_enum;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_use_their_fixed_spellings() {
        let spelled: Vec<_> = LoginMethod::ALL.iter().map(|m| m.to_string()).collect();
        assert_eq!(
            spelled,
            ["cert", "cert+password", "cert+password+otp", "password", "password+otp", "cert+passkey", "cert+password+passkey", "passkey"]
        );
        for method in LoginMethod::ALL {
            assert_eq!(method.as_str().parse::<LoginMethod>(), Ok(*method));
        }
        assert_eq!("cert+otp".parse::<LoginMethod>(), Err(ParseEnumError { kind: "LoginMethod", value: "cert+otp".into() }));
        assert_eq!(serde_json::to_string(&DeviceType::MobilePhone).ok().as_deref(), Some("\"mobile-phone\""));
        assert_eq!(serde_json::from_str::<TicketKind>("\"password-reissue\"").ok(), Some(TicketKind::PasswordReissue));
        assert!(serde_json::from_str::<Locale>("\"fr\"").is_err());
        assert_eq!(SigningAlgorithm::Es256.as_str(), "ES256");
    }

    #[test]
    fn login_results_keep_unknown_values() {
        let Ok(known) = "certificate-revoked".parse::<LoginResult>();
        assert_eq!(known, LoginResult::CertificateRevoked);
        let Ok(unknown) = "webauthn-mismatch".parse::<LoginResult>();
        assert_eq!(unknown, LoginResult::Other("webauthn-mismatch".into()));
        assert_eq!(unknown.as_str(), "webauthn-mismatch");
    }

    #[test]
    fn default_policy_is_the_spec_default_and_valid() {
        let policy = TenantPolicy::default();
        assert_eq!(policy.validate(), Ok(()));
        assert_eq!((policy.password_min_length, policy.password_max_length), (8, 32));
        assert_eq!(policy.default_login_method, LoginMethod::CertPassword);
        assert_eq!((policy.session_idle_minutes, policy.session_absolute_minutes), (30, 480));

        let mut bad = policy.clone();
        bad.password_max_length = 4;
        assert!(bad.validate().is_err_and(|m| m.contains("password_max_length")));
        assert_eq!(bad.check(), Err(PolicyProblem { knob: "password_max_length", rule: PolicyRule::BelowMinimum }));
        let mut bad = policy.clone();
        bad.password_char_classes = PasswordCharClasses { digits: false, upper: false, lower: false, symbols: false };
        assert!(bad.validate().is_err());
        assert_eq!(bad.check().map_err(|p| p.knob), Err("password_char_classes"));
        let mut bad = policy;
        bad.lockout_threshold_secret_answer = 0;
        assert_eq!(bad.validate(), Err("lockout_threshold_secret_answer must be at least 1".to_owned()), "the API's text as before");
        bad.lockout_threshold_secret_answer = u32::MAX;
        assert_eq!(bad.check(), Err(PolicyProblem { knob: "lockout_threshold_secret_answer", rule: PolicyRule::TooLarge }));
    }
}
