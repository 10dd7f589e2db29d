//! Authentication context classes (`acr`, OpenID Connect Core §2) and the levels they
//! stand for. A login's level follows from the factors it used (their RFC 8176 `amr`
//! names); a relying site asking for a level gets at least that level, a step-up (a new
//! login) when the user's login method can reach it, or an error — never less.
//!
//! | level | `acr` | factors |
//! | --- | --- | --- |
//! | 1 | `urn:mamori:acr:cert` | client certificate (`swk`) |
//! | 2 | `urn:mamori:acr:cert-password` | certificate and password (`swk pwd mfa`) |
//! | 3 | `urn:mamori:acr:mfa` | certificate, password and one-time password (`swk pwd otp mfa`) |

use mamori_storage::model::LoginMethod;

use crate::flows::login::Factor;
use crate::flows::resume::Assurance;

pub const ACR_CERT: &str = "urn:mamori:acr:cert";
pub const ACR_CERT_PASSWORD: &str = "urn:mamori:acr:cert-password";
pub const ACR_MFA: &str = "urn:mamori:acr:mfa";

/// Every `acr` this provider issues, lowest level first (for discovery).
pub const SUPPORTED: [&str; 3] = [ACR_CERT, ACR_CERT_PASSWORD, ACR_MFA];

/// The level an `acr` value names; `None` for values we do not know.
pub fn level_of(acr: &str) -> Option<u8> {
    match acr {
        ACR_CERT => Some(1),
        ACR_CERT_PASSWORD => Some(2),
        ACR_MFA => Some(3),
        _ => None,
    }
}

/// The `acr` a login with these factors reached, and its level (0: none of ours, e.g. a
/// password alone).
pub fn achieved(factors: &[Factor]) -> (&'static str, u8) {
    let has = |f| factors.contains(&f);
    match (has(Factor::Certificate), has(Factor::Pwd), has(Factor::Otp)) {
        (true, true, true) => (ACR_MFA, 3),
        (true, true, false) => (ACR_CERT_PASSWORD, 2),
        (true, false, _) => (ACR_CERT, 1),
        _ => ("urn:mamori:acr:password", 0),
    }
}

/// The highest level a login with the user's method can reach.
pub fn reachable(method: LoginMethod) -> u8 {
    match method {
        LoginMethod::Cert => 1,
        LoginMethod::CertPassword => 2,
        LoginMethod::CertPasswordOtp => 3,
        _ => 0,
    }
}

/// The level a request demands: the lowest level among the `acr` values it lists that
/// we know (any of them satisfies it). `None` when it names none of ours.
pub fn required(acr_values: &[String]) -> Option<u8> {
    acr_values.iter().filter_map(|v| level_of(v)).min()
}

/// How a login with `factors`, by a user whose login method is `method`, stands against
/// the `acr_values` of a request: met, reachable by a new login (a step-up), or neither.
pub fn assurance(factors: &[Factor], method: LoginMethod, acr_values: &[String]) -> Assurance {
    match required(acr_values) {
        Some(level) if achieved(factors).1 < level => {
            if reachable(method) >= level {
                Assurance::Reachable
            } else {
                Assurance::Unreachable
            }
        }
        _ => Assurance::Met,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_the_factors() {
        assert_eq!(achieved(&[Factor::Certificate]), (ACR_CERT, 1));
        assert_eq!(achieved(&[Factor::Certificate, Factor::Pwd]), (ACR_CERT_PASSWORD, 2));
        assert_eq!(achieved(&[Factor::Certificate, Factor::Pwd, Factor::Otp]), (ACR_MFA, 3));
        assert_eq!(achieved(&[Factor::Pwd]).1, 0);
        assert_eq!(required(&["urn:mamori:acr:mfa".into(), "urn:mamori:acr:cert-password".into()]), Some(2));
        assert_eq!(required(&["urn:other".into()]), None);
        assert_eq!(reachable(LoginMethod::CertPassword), 2);
        for (i, acr) in SUPPORTED.iter().enumerate() {
            assert_eq!(level_of(acr), Some(i as u8 + 1));
        }
    }

    #[test]
    fn assurance_is_met_reachable_or_not() {
        let ask = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let cert_pwd = [Factor::Certificate, Factor::Pwd];
        assert_eq!(assurance(&cert_pwd, LoginMethod::CertPassword, &[]), Assurance::Met);
        assert_eq!(assurance(&cert_pwd, LoginMethod::CertPassword, &ask(&["urn:other"])), Assurance::Met);
        assert_eq!(assurance(&cert_pwd, LoginMethod::CertPassword, &ask(&[ACR_CERT_PASSWORD])), Assurance::Met);
        assert_eq!(assurance(&cert_pwd, LoginMethod::CertPassword, &ask(&[ACR_MFA])), Assurance::Unreachable);
        assert_eq!(assurance(&cert_pwd, LoginMethod::CertPasswordOtp, &ask(&[ACR_MFA])), Assurance::Reachable);
        assert_eq!(assurance(&cert_pwd, LoginMethod::CertPasswordOtp, &ask(&[ACR_MFA, ACR_CERT])), Assurance::Met);
        assert_eq!(assurance(&[Factor::Certificate], LoginMethod::CertPassword, &ask(&[ACR_CERT_PASSWORD])), Assurance::Reachable);
        assert_eq!(assurance(&[Factor::Pwd], LoginMethod::Password, &ask(&[ACR_CERT])), Assurance::Unreachable);
    }
}
