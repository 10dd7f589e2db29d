//! Plain Rust types that the repositories take and return. Nothing here names sea-orm.

mod event;
mod federation;
mod mail;
mod pki;
mod session;
mod tenant;
mod ticket;
mod user;

pub use event::{LoginEvent, LoginResult, NewLoginEvent};
pub use federation::{
    AccessTokenFormat, AssertionConsumerService, KeyPurpose, NewOidcClient,
    NewSamlServiceProvider, NewSigningKey, OidcClient, SamlServiceProvider, SigningAlgorithm,
    SigningKey, SingleLogoutService,
};
pub use mail::{NewMail, OutboxMail};
pub use pki::{
    Certificate, CertificateAuthority, CertificateStatus, NewCertificate,
    NewCertificateAuthority,
};
pub use session::{NewSession, Session};
pub use tenant::{
    CertificateKeyType, LoginMethod, OtpKind, PasswordCharClasses, Pkcs12Format, Tenant,
    TenantPolicy,
};
pub use ticket::{AttemptOutcome, NewTicket, RedeemError, Ticket, TicketKind};
pub use user::{
    Device, DeviceType, Locale, LockReason, LockoutOutcome, NewDevice, NewUser, User, UserStatus,
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
