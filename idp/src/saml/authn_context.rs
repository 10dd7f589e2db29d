//! Authentication context classes (SAML Authn Context 2.0; SAML Core §3.3.2.2.1
//! RequestedAuthnContext) and how a Mamori login satisfies them.
//!
//! A class is satisfied by a login that used what the class describes:
//!
//! | class | satisfied by | strength |
//! | --- | --- | --- |
//! | `…:ac:classes:X509` (and `…:TLSClient`) | the client certificate (`swk`) | 1 |
//! | `…:ac:classes:PasswordProtectedTransport`, `…:Password` | the password, always over TLS (`pwd`) | 1 |
//! | `…:ac:classes:TimeSyncToken` | a one-time password (`otp`) | 1 |
//! | `https://refeds.org/profile/mfa`, `…:MobileTwoFactorContract` | two or more factors | 2 |
//! | `https://refeds.org/profile/mfa`, `…:MobileTwoFactorContract` | also a passkey alone (two factors in one) | 2 |
//! | `urn:mamori:acr:cert`, `…:cert-password`, `…:mfa`, `…:passkey` | as in `oidc::acr` | 1, 2, 3, 2 |
//!
//! A response names the class the login reached when nothing was asked for (X509 for
//! the certificate alone, the REFEDS multi-factor class for two factors or more), else
//! the first requested class the login satisfies. Comparison `exact` (the default)
//! needs a requested class satisfied; `minimum` a login at least as strong as the
//! weakest requested class; `better` a stronger one; `maximum` one satisfied class no
//! stronger than the strongest requested (`better` asserts the strongest class the login
//! reaches, which must be stronger than the requested one it meets). Unknown classes and AuthnContextDeclRef are
//! never satisfied (`NoAuthnContext`).

use samael::schema::{AuthnContextComparison, RequestedAuthnContext};
use serde::{Deserialize, Serialize};

use mamori_storage::model::LoginMethod;

use crate::flows::login::Factor;
use crate::flows::resume::Assurance;
use crate::flows::step_up::{self, Wanted};
use crate::oidc::acr;

pub const X509: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:X509";
pub const TLS_CLIENT: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:TLSClient";
pub const PASSWORD_PROTECTED_TRANSPORT: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";
pub const PASSWORD: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:Password";
pub const TIME_SYNC_TOKEN: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken";
pub const MOBILE_TWO_FACTOR: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract";
pub const REFEDS_MFA: &str = "https://refeds.org/profile/mfa";

/// Every class this IdP can assert.
pub const SUPPORTED: [&str; 11] = [
    X509,
    TLS_CLIENT,
    PASSWORD_PROTECTED_TRANSPORT,
    PASSWORD,
    TIME_SYNC_TOKEN,
    MOBILE_TWO_FACTOR,
    REFEDS_MFA,
    acr::ACR_CERT,
    acr::ACR_CERT_PASSWORD,
    acr::ACR_MFA,
    acr::ACR_PASSKEY,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Comparison {
    Exact,
    Minimum,
    Maximum,
    Better,
}

/// A RequestedAuthnContext, kept with the pending request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requested {
    pub comparison: Comparison,
    pub classes: Vec<String>,
    /// AuthnContextDeclRef values were asked for: never satisfiable here.
    #[serde(default)]
    pub declarations: bool,
}

impl Requested {
    pub fn from_request(r: &RequestedAuthnContext) -> Requested {
        let comparison = match r.comparison {
            None | Some(AuthnContextComparison::Exact) => Comparison::Exact,
            Some(AuthnContextComparison::Minimum) => Comparison::Minimum,
            Some(AuthnContextComparison::Maximum) => Comparison::Maximum,
            Some(AuthnContextComparison::Better) => Comparison::Better,
        };
        let classes = r
            .authn_context_class_refs
            .iter()
            .flatten()
            .filter_map(|c| c.value.as_deref())
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect();
        let declarations = r.authn_context_decl_refs.as_ref().is_some_and(|d| !d.is_empty());
        Requested { comparison, classes, declarations }
    }

    /// Whether any login at all could satisfy this request (checked before the login).
    pub fn is_satisfiable(&self) -> bool {
        !self.declarations && self.classes.iter().any(|c| strength(c).is_some())
    }
}

/// How strong a class is; `None` for classes we do not know.
pub fn strength(class: &str) -> Option<u8> {
    match class {
        X509 | TLS_CLIENT | PASSWORD_PROTECTED_TRANSPORT | PASSWORD | TIME_SYNC_TOKEN => Some(1),
        MOBILE_TWO_FACTOR | REFEDS_MFA => Some(2),
        other => acr::level_of(other),
    }
}

/// The strongest class a login with `factors` can be asserted under, with its strength:
/// the default class (REFEDS MFA, X509, …), or Mamori's own class (`oidc::acr`) where
/// that says more (three factors, or a certificate and a passkey: `urn:mamori:acr:mfa`).
fn strongest_class(factors: &[Factor]) -> (&'static str, u8) {
    let default = default_class(factors);
    let default_strength = strength(default).unwrap_or(0);
    match acr::achieved(factors) {
        (class, level) if level > default_strength => (class, level),
        _ => (default, default_strength),
    }
}

/// A user-verifying passkey is two factors in one (`oidc::acr`).
fn factor_count(factors: &[Factor]) -> u8 {
    factors.iter().map(|f| if *f == Factor::Passkey { 2u8 } else { 1 }).fold(0, u8::saturating_add)
}

/// Whether a login with `factors` used what `class` describes.
pub fn satisfies(factors: &[Factor], class: &str) -> bool {
    let has = |f| factors.contains(&f);
    match class {
        X509 | TLS_CLIENT => has(Factor::Certificate),
        PASSWORD_PROTECTED_TRANSPORT | PASSWORD => has(Factor::Pwd),
        TIME_SYNC_TOKEN => has(Factor::Otp),
        MOBILE_TWO_FACTOR | REFEDS_MFA => factor_count(factors) >= 2,
        other => acr::satisfies(factors, other),
    }
}

/// The class a login with `factors` reached, when nothing was asked for.
pub fn default_class(factors: &[Factor]) -> &'static str {
    if factor_count(factors) >= 2 {
        REFEDS_MFA
    } else if factors.contains(&Factor::Certificate) {
        X509
    } else if factors.contains(&Factor::Pwd) {
        PASSWORD_PROTECTED_TRANSPORT
    } else {
        "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"
    }
}

/// The class to assert for a login with `factors` under `requested`; `None` when the
/// login does not meet it (`NoAuthnContext`).
pub fn choose(factors: &[Factor], requested: Option<&Requested>) -> Option<String> {
    let Some(requested) = requested else {
        return Some(default_class(factors).to_owned());
    };
    if requested.declarations {
        return None;
    }
    let known: Vec<(&str, u8)> = requested.classes.iter().filter_map(|c| strength(c).map(|s| (c.as_str(), s))).collect();
    if known.is_empty() {
        return None;
    }
    let first_satisfied = || known.iter().find(|(c, _)| satisfies(factors, c)).map(|(c, _)| (*c).to_owned());
    match requested.comparison {
        Comparison::Exact => first_satisfied(),
        // "At least as strong as" a class means meeting it: strength alone does not order
        // classes of different kinds (a passkey and a certificate level are both strength
        // 2, yet neither stands in for the other).
        Comparison::Minimum => first_satisfied(),
        // The class asserted must itself be stronger than a requested one the login meets
        // (SAML Core §3.3.2.2.1): the strongest class the login reaches, never one of the
        // same strength as the request.
        Comparison::Better => {
            let (class, ours) = strongest_class(factors);
            known.iter().any(|(c, s)| satisfies(factors, c) && ours > *s).then(|| class.to_owned())
        }
        Comparison::Maximum => {
            let strongest = known.iter().map(|(_, s)| *s).max().unwrap_or(0);
            known.iter().find(|(c, s)| *s <= strongest && satisfies(factors, c)).map(|(c, _)| (*c).to_owned())
        }
    }
}

/// What `requested` asks of a login's factors (nothing requested: anything meets it).
pub fn wanted(requested: Option<&Requested>) -> Wanted {
    Wanted::from_predicate(|factors| choose(factors, requested).is_some())
}

/// How a login with `factors`, by a user whose login method is `method` (with a passkey
/// registered or not), stands against `requested`: met, reachable by a new login (a
/// step-up, with a passkey step added where that is what it lacks), or neither
/// (`flows::step_up`).
pub fn assurance(factors: &[Factor], method: LoginMethod, has_passkey: bool, requested: Option<&Requested>) -> Assurance {
    step_up::assurance(factors, method, has_passkey, &wanted(requested))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Factor::*;

    fn req(comparison: Comparison, classes: &[&str]) -> Requested {
        Requested { comparison, classes: classes.iter().map(|c| (*c).to_owned()).collect(), declarations: false }
    }

    #[test]
    fn default_classes_tell_the_factors() {
        assert_eq!(choose(&[Certificate], None).as_deref(), Some(X509));
        assert_eq!(choose(&[Certificate, Pwd], None).as_deref(), Some(REFEDS_MFA));
        assert_eq!(choose(&[Certificate, Pwd, Otp], None).as_deref(), Some(REFEDS_MFA));
        assert_eq!(choose(&[Pwd], None).as_deref(), Some(PASSWORD_PROTECTED_TRANSPORT));
    }

    #[test]
    fn exact_requests_get_a_requested_class_or_nothing() {
        let ppt = req(Comparison::Exact, &[PASSWORD_PROTECTED_TRANSPORT]);
        assert_eq!(choose(&[Certificate, Pwd], Some(&ppt)).as_deref(), Some(PASSWORD_PROTECTED_TRANSPORT));
        assert_eq!(choose(&[Certificate], Some(&ppt)), None);
        let mfa = req(Comparison::Exact, &[REFEDS_MFA]);
        assert_eq!(choose(&[Certificate], Some(&mfa)), None);
        assert_eq!(choose(&[Certificate, Pwd], Some(&mfa)).as_deref(), Some(REFEDS_MFA));
        let mamori = req(Comparison::Exact, &[acr::ACR_MFA]);
        assert_eq!(choose(&[Certificate, Pwd], Some(&mamori)), None);
        assert_eq!(choose(&[Certificate, Pwd, Otp], Some(&mamori)).as_deref(), Some(acr::ACR_MFA));
        let unknown = req(Comparison::Exact, &["urn:example:smartcard"]);
        assert!(!unknown.is_satisfiable());
        assert_eq!(choose(&[Certificate, Pwd, Otp], Some(&unknown)), None);
        let decl = Requested { declarations: true, ..req(Comparison::Exact, &[X509]) };
        assert_eq!(choose(&[Certificate], Some(&decl)), None);
    }

    #[test]
    fn assurance_steps_up_only_where_the_method_reaches() {
        let ask = |classes: &[&str]| req(Comparison::Exact, classes);
        assert_eq!(assurance(&[Certificate], LoginMethod::Cert, false, None), Assurance::Met);
        assert_eq!(
            assurance(&[Certificate, Pwd], LoginMethod::CertPassword, false, Some(&ask(&[PASSWORD_PROTECTED_TRANSPORT]))),
            Assurance::Met
        );
        assert_eq!(assurance(&[Certificate], LoginMethod::CertPassword, false, Some(&ask(&[REFEDS_MFA]))), Assurance::Reachable);
        assert_eq!(assurance(&[Certificate, Pwd], LoginMethod::CertPassword, false, Some(&ask(&[acr::ACR_MFA]))), Assurance::Unreachable);
        assert_eq!(assurance(&[Certificate, Pwd], LoginMethod::CertPasswordOtp, false, Some(&ask(&[acr::ACR_MFA]))), Assurance::Reachable);
        assert_eq!(
            assurance(&[Certificate, Pwd, Otp], LoginMethod::CertPasswordOtp, false, Some(&ask(&["urn:example:smartcard"]))),
            Assurance::Unreachable
        );
        let decl = Requested { declarations: true, ..ask(&[X509]) };
        assert_eq!(assurance(&[Certificate], LoginMethod::Cert, false, Some(&decl)), Assurance::Unreachable);
    }

    #[test]
    fn comparisons_order_by_strength() {
        let min = req(Comparison::Minimum, &[REFEDS_MFA]);
        assert_eq!(choose(&[Certificate], Some(&min)), None);
        assert_eq!(choose(&[Certificate, Pwd], Some(&min)).as_deref(), Some(REFEDS_MFA));
        let better = req(Comparison::Better, &[X509]);
        assert_eq!(choose(&[Certificate], Some(&better)), None);
        assert_eq!(choose(&[Certificate, Pwd], Some(&better)).as_deref(), Some(REFEDS_MFA));
        // The class asserted is itself stronger than the one named: never the same class
        // a weaker login would get (the review's case: REFEDS MFA for `better` than it).
        let better_mfa = req(Comparison::Better, &[REFEDS_MFA]);
        assert_eq!(choose(&[Certificate, Pwd], Some(&better_mfa)), None, "equal is not better");
        assert_eq!(choose(&[Certificate, Pwd, Otp], Some(&better_mfa)).as_deref(), Some(acr::ACR_MFA));
        assert_eq!(choose(&[Certificate, Pwd, Passkey], Some(&better_mfa)).as_deref(), Some(acr::ACR_MFA));
        let better_pair = req(Comparison::Better, &[acr::ACR_CERT_PASSWORD]);
        assert_eq!(choose(&[Certificate, Pwd, Passkey], Some(&better_pair)).as_deref(), Some(acr::ACR_MFA));
        assert_eq!(choose(&[Certificate, Pwd, Otp], Some(&req(Comparison::Better, &[acr::ACR_MFA]))), None, "nothing is above mfa");
        for factors in [&[Certificate][..], &[Certificate, Pwd], &[Certificate, Pwd, Otp], &[Certificate, Pwd, Passkey], &[Passkey]] {
            for class in SUPPORTED {
                if let Some(asserted) = choose(factors, Some(&req(Comparison::Better, &[class]))) {
                    assert!(strength(&asserted) > strength(class), "{factors:?} better than {class}: {asserted}");
                    assert!(satisfies(factors, &asserted), "{factors:?}: {asserted} not reached");
                }
            }
        }
        let max = req(Comparison::Maximum, &[PASSWORD_PROTECTED_TRANSPORT]);
        assert_eq!(choose(&[Certificate, Pwd], Some(&max)).as_deref(), Some(PASSWORD_PROTECTED_TRANSPORT));
    }

    #[test]
    fn an_equal_strength_of_another_kind_meets_no_minimum() {
        // The review's case: a certificate and password login asked for at least a passkey.
        let passkey = req(Comparison::Minimum, &[acr::ACR_PASSKEY]);
        assert_eq!(choose(&[Certificate, Pwd], Some(&passkey)), None);
        assert_eq!(choose(&[Certificate, Pwd, Passkey], Some(&passkey)).as_deref(), Some(acr::ACR_PASSKEY));
        // And a passkey alone asked for at least a certificate.
        for class in [X509, acr::ACR_CERT, acr::ACR_CERT_PASSWORD] {
            assert_eq!(choose(&[Passkey], Some(&req(Comparison::Minimum, &[class]))), None, "{class}");
            assert_eq!(choose(&[Passkey], Some(&req(Comparison::Better, &[class]))), None, "{class}");
        }
        assert_eq!(choose(&[Passkey], Some(&req(Comparison::Minimum, &[REFEDS_MFA]))).as_deref(), Some(REFEDS_MFA));
        assert_eq!(assurance(&[Certificate, Pwd], LoginMethod::CertPassword, false, Some(&passkey)), Assurance::Unreachable);
        assert_eq!(assurance(&[Certificate, Pwd], LoginMethod::CertPasswordPasskey, false, Some(&passkey)), Assurance::Reachable);
        // The same user with a passkey registered: a passkey step is added, whichever
        // comparison names the passkey class.
        for comparison in [Comparison::Exact, Comparison::Minimum] {
            let asked = req(comparison, &[acr::ACR_PASSKEY]);
            assert_eq!(assurance(&[Certificate, Pwd], LoginMethod::CertPassword, true, Some(&asked)), Assurance::Reachable);
        }
        // `better` than a certificate and password: a passkey makes it stronger.
        let better = req(Comparison::Better, &[acr::ACR_CERT_PASSWORD]);
        assert_eq!(assurance(&[Certificate, Pwd], LoginMethod::CertPassword, false, Some(&better)), Assurance::Unreachable);
        assert_eq!(assurance(&[Certificate, Pwd], LoginMethod::CertPassword, true, Some(&better)), Assurance::Reachable);
    }
}
