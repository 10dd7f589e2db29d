//! Authentication context classes (`acr`, OpenID Connect Core §2) and what satisfies
//! them. A login satisfies a class by the factors it used; a relying site asking for
//! classes gets one of them, a step-up (a new login) when the user's login method can
//! reach one, or an error — never less.
//!
//! | level | `acr` | satisfied by |
//! | --- | --- | --- |
//! | 1 | `urn:mamori:acr:cert` | the client certificate |
//! | 2 | `urn:mamori:acr:cert-password` | the certificate and a second factor (password or passkey) |
//! | 3 | `urn:mamori:acr:mfa` | the certificate and two more factors; a passkey counts as two |
//! | — | `urn:mamori:acr:passkey` | a user-verifying passkey, with or without a certificate |
//!
//! A passkey counts as two factors because it is a key the user has, unlocked on the
//! authenticator by a PIN or biometric the user knows or is (user verification is always
//! required): a multi-factor cryptographic authenticator in NIST SP 800-63B's terms.

use mamori_storage::model::LoginMethod;

use crate::flows::login::Factor;
use crate::flows::resume::Assurance;
use crate::flows::step_up::{self, Wanted};

pub const ACR_CERT: &str = "urn:mamori:acr:cert";
pub const ACR_CERT_PASSWORD: &str = "urn:mamori:acr:cert-password";
pub const ACR_MFA: &str = "urn:mamori:acr:mfa";
pub const ACR_PASSKEY: &str = "urn:mamori:acr:passkey";
/// What a login without a certificate or passkey is issued; it satisfies no request.
pub const ACR_PASSWORD: &str = "urn:mamori:acr:password";

/// Every `acr` a request may ask for (for discovery), certificate levels first.
pub const SUPPORTED: [&str; 4] = [ACR_CERT, ACR_CERT_PASSWORD, ACR_MFA, ACR_PASSKEY];

/// Factors beyond the certificate, a passkey counting two.
fn beyond_certificate(factors: &[Factor]) -> u8 {
    factors
        .iter()
        .map(|f| match f {
            Factor::Certificate => 0,
            Factor::Pwd | Factor::Otp => 1,
            Factor::Passkey => 2,
        })
        .sum()
}

/// How strong a class is on the scale SAML's comparisons use (1 to 3); `None` for
/// values we do not know. The passkey class is a two-factor class.
pub fn level_of(acr: &str) -> Option<u8> {
    match acr {
        ACR_CERT => Some(1),
        ACR_CERT_PASSWORD | ACR_PASSKEY => Some(2),
        ACR_MFA => Some(3),
        _ => None,
    }
}

/// Whether a login with `factors` satisfies `acr` (false for values we do not know).
pub fn satisfies(factors: &[Factor], acr: &str) -> bool {
    let certificate = factors.contains(&Factor::Certificate);
    match acr {
        ACR_CERT => certificate,
        ACR_CERT_PASSWORD => certificate && beyond_certificate(factors) >= 1,
        ACR_MFA => certificate && beyond_certificate(factors) >= 2,
        ACR_PASSKEY => factors.contains(&Factor::Passkey),
        _ => false,
    }
}

/// The `acr` a login with these factors reached, when nothing in particular was asked
/// for, and its strength (0: none of ours, e.g. a password alone).
pub fn achieved(factors: &[Factor]) -> (&'static str, u8) {
    if factors.contains(&Factor::Certificate) {
        return match beyond_certificate(factors) {
            0 => (ACR_CERT, 1),
            1 => (ACR_CERT_PASSWORD, 2),
            _ => (ACR_MFA, 3),
        };
    }
    if factors.contains(&Factor::Passkey) { (ACR_PASSKEY, 2) } else { (ACR_PASSWORD, 0) }
}

/// The `acr` to issue for a request that listed `acr_values`: the first of them this
/// login satisfies (the relying site's order of preference), else what it reached.
pub fn issued(factors: &[Factor], acr_values: &[String]) -> String {
    acr_values.iter().find(|v| satisfies(factors, v)).cloned().unwrap_or_else(|| achieved(factors).0.to_owned())
}

/// What a request's `acr_values` ask of a login's factors: any one of the values we know;
/// values we do not know are ignored (nothing known asked: anything meets it).
pub fn wanted(acr_values: &[String]) -> Wanted {
    let known: Vec<&String> = acr_values.iter().filter(|v| level_of(v).is_some()).collect();
    Wanted::from_predicate(|factors| known.is_empty() || known.iter().any(|v| satisfies(factors, v)))
}

/// How a login with `factors`, by a user whose login method is `method` (with a passkey
/// registered or not), stands against the `acr_values` of a request: met, reachable by a
/// new login (a step-up, with a passkey step added where that is what it lacks), or
/// neither (`flows::step_up`).
pub fn assurance(factors: &[Factor], method: LoginMethod, has_passkey: bool, acr_values: &[String]) -> Assurance {
    step_up::assurance(factors, method, has_passkey, &wanted(acr_values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Factor::*;

    fn ask(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn levels_follow_the_factors() {
        assert_eq!(achieved(&[Certificate]), (ACR_CERT, 1));
        assert_eq!(achieved(&[Certificate, Pwd]), (ACR_CERT_PASSWORD, 2));
        assert_eq!(achieved(&[Certificate, Pwd, Otp]), (ACR_MFA, 3));
        assert_eq!(achieved(&[Certificate, Passkey]), (ACR_MFA, 3));
        assert_eq!(achieved(&[Certificate, Pwd, Passkey]), (ACR_MFA, 3));
        assert_eq!(achieved(&[Passkey]), (ACR_PASSKEY, 2));
        assert_eq!(achieved(&[Pwd]).1, 0);
        assert_eq!(achieved(&[Pwd, Otp]).0, ACR_PASSWORD);
    }

    #[test]
    fn only_a_passkey_satisfies_the_passkey_class() {
        assert!(satisfies(&[Passkey], ACR_PASSKEY));
        assert!(satisfies(&[Certificate, Pwd, Passkey], ACR_PASSKEY));
        assert!(!satisfies(&[Certificate, Pwd, Otp], ACR_PASSKEY));
        // A passkey alone is no certificate login, whatever its strength.
        assert!(!satisfies(&[Passkey], ACR_CERT));
        assert!(!satisfies(&[Passkey], ACR_MFA));
        assert!(!satisfies(&[Pwd, Otp], ACR_CERT_PASSWORD));
        assert!(!satisfies(&[Certificate, Pwd], "urn:other"));
    }

    #[test]
    fn the_issued_value_is_the_first_asked_that_the_login_meets() {
        let f = [Certificate, Pwd, Passkey];
        assert_eq!(issued(&f, &ask(&[ACR_PASSKEY, ACR_MFA])), ACR_PASSKEY);
        assert_eq!(issued(&f, &ask(&["urn:other", ACR_CERT])), ACR_CERT);
        assert_eq!(issued(&f, &[]), ACR_MFA);
        assert_eq!(issued(&[Certificate, Pwd], &ask(&[ACR_PASSKEY])), ACR_CERT_PASSWORD);
    }

    #[test]
    fn assurance_is_met_reachable_or_not() {
        let cert_pwd = [Certificate, Pwd];
        assert_eq!(assurance(&cert_pwd, LoginMethod::CertPassword, false, &[]), Assurance::Met);
        assert_eq!(assurance(&cert_pwd, LoginMethod::CertPassword, false, &ask(&["urn:other"])), Assurance::Met);
        assert_eq!(assurance(&cert_pwd, LoginMethod::CertPassword, false, &ask(&[ACR_CERT_PASSWORD])), Assurance::Met);
        assert_eq!(assurance(&cert_pwd, LoginMethod::CertPassword, false, &ask(&[ACR_MFA])), Assurance::Unreachable);
        assert_eq!(assurance(&cert_pwd, LoginMethod::CertPasswordOtp, false, &ask(&[ACR_MFA])), Assurance::Reachable);
        assert_eq!(assurance(&cert_pwd, LoginMethod::CertPasswordOtp, false, &ask(&[ACR_MFA, ACR_CERT])), Assurance::Met);
        assert_eq!(assurance(&[Certificate], LoginMethod::CertPassword, false, &ask(&[ACR_CERT_PASSWORD])), Assurance::Reachable);
        assert_eq!(assurance(&[Pwd], LoginMethod::Password, false, &ask(&[ACR_CERT])), Assurance::Unreachable);
        // A site asking for a passkey: a step-up where the method has one, never less.
        assert_eq!(assurance(&cert_pwd, LoginMethod::CertPasswordPasskey, false, &ask(&[ACR_PASSKEY])), Assurance::Reachable);
        assert_eq!(assurance(&cert_pwd, LoginMethod::CertPasswordOtp, false, &ask(&[ACR_PASSKEY])), Assurance::Unreachable);
        assert_eq!(assurance(&[Passkey], LoginMethod::Passkey, false, &ask(&[ACR_PASSKEY])), Assurance::Met);
        assert_eq!(assurance(&[Passkey], LoginMethod::Passkey, false, &ask(&[ACR_CERT])), Assurance::Unreachable);
        // A user whose method has no passkey but who registered one: a passkey step is added.
        assert_eq!(assurance(&cert_pwd, LoginMethod::CertPassword, true, &ask(&[ACR_PASSKEY])), Assurance::Reachable);
        assert_eq!(assurance(&cert_pwd, LoginMethod::CertPasswordOtp, true, &ask(&[ACR_PASSKEY])), Assurance::Reachable);
        // A passkey does not make a certificate login of a passkey-only user.
        assert_eq!(assurance(&[Passkey], LoginMethod::Passkey, true, &ask(&[ACR_CERT])), Assurance::Unreachable);
        // Level 3 for a cert+password user is a certificate, a password and a passkey.
        assert_eq!(assurance(&cert_pwd, LoginMethod::CertPassword, true, &ask(&[ACR_MFA])), Assurance::Reachable);
    }
}
