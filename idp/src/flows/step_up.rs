//! Step-up: what a relying site's requested authentication context (OIDC `acr_values` /
//! essential `acr` claim, SAML RequestedAuthnContext) asks of a login, and the one
//! decision both protocols share about it.
//!
//! Each protocol turns its request into a [`Wanted`]: the combinations of factors that
//! meet it (by its own predicates, `oidc::acr::satisfies` and
//! `saml::authn_context::choose`). From there the decision is the same for both:
//! - a session whose factors meet it: met;
//! - else a new login by the user's method meets it: reachable (a new login);
//! - else the user's method does not include a passkey, but with one it would meet it and
//!   the user has a passkey registered: reachable, and the new login adds a passkey step
//!   after the method's own steps ([`adds_passkey`], `LoginProgress::step_up_passkey`);
//! - else unreachable: the protocol's error (`unmet_authentication_requirements`, SAML
//!   `NoAuthnContext`), never a lower level. A user without a passkey is never offered
//!   to register one here: a passkey registered on the strength of a weaker login would
//!   prove no more than that login.
//!
//! The asserted values (`amr`, `acr`, AuthnContextClassRef) are always derived from the
//! factors the login actually completed, never from what was asked.

use mamori_storage::model::{LoginMethod, User};
use serde::{Deserialize, Serialize};

use super::login::{Factor, LoginProgress, LoginStep};
use super::resume::{Assurance, factors_of};
use crate::app::App;

/// Every factor, in the order a login proves them (the bit order of [`Wanted`]).
const ALL: [Factor; 4] = [Factor::Certificate, Factor::Pwd, Factor::Otp, Factor::Passkey];

/// What a request asks of a login's factors: bit `s` is set when the set of factors `s`
/// (bit `i` of `s` standing for `ALL[i]`) meets it. Protocol-neutral and small, so a
/// login under way can carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wanted {
    met_by: u16,
}

impl Wanted {
    /// Nothing asked: every login meets it.
    pub const ANYTHING: Wanted = Wanted { met_by: u16::MAX };

    /// The combinations of factors `meets` accepts. The predicates only ask which factors
    /// a login has, never their order or count, so the 16 subsets say everything.
    pub fn from_predicate(meets: impl Fn(&[Factor]) -> bool) -> Wanted {
        let mut met_by = 0u16;
        for subset in 0u16..16 {
            if meets(&factors_in(subset)) {
                met_by |= 1 << subset;
            }
        }
        Wanted { met_by }
    }

    /// Whether a login with `factors` meets it.
    pub fn met(&self, factors: &[Factor]) -> bool {
        self.met_by & (1 << subset_of(factors)) != 0
    }
}

fn factors_in(subset: u16) -> Vec<Factor> {
    ALL.iter().enumerate().filter(|(i, _)| subset & (1 << i) != 0).map(|(_, f)| *f).collect()
}

fn subset_of(factors: &[Factor]) -> u16 {
    ALL.iter().enumerate().filter(|(_, f)| factors.contains(f)).fold(0, |s, (i, _)| s | (1 << i))
}

/// Whether a new login by `method` must add a passkey step to meet `wanted`: its own
/// factors miss it, the same factors and a passkey meet it, and the user has a passkey.
pub fn adds_passkey(method: LoginMethod, has_passkey: bool, wanted: &Wanted) -> bool {
    let mut own = factors_of(method);
    if !has_passkey || own.contains(&Factor::Passkey) || wanted.met(&own) {
        return false;
    }
    own.push(Factor::Passkey);
    wanted.met(&own)
}

/// How a session with `factors`, of a user whose method is `method` (and who has a
/// passkey registered or not), stands against `wanted`.
pub fn assurance(factors: &[Factor], method: LoginMethod, has_passkey: bool, wanted: &Wanted) -> Assurance {
    if wanted.met(factors) {
        Assurance::Met
    } else if wanted.met(&factors_of(method)) || adds_passkey(method, has_passkey, wanted) {
        Assurance::Reachable
    } else {
        Assurance::Unreachable
    }
}

/// Readies a login that just opened for what the relying site it returns to asked
/// (`wanted`, `None` when it returns to none): a user whose method misses it, but would
/// meet it with a passkey they have, gets a passkey step after the method's own steps.
/// The caller stores `progress` afterwards.
pub async fn plan(app: &App, user: &User, progress: &mut LoginProgress, wanted: Option<&Wanted>) -> anyhow::Result<()> {
    let Some(wanted) = wanted else { return Ok(()) };
    let method = user.login_method;
    if method.needs_passkey() || wanted.met(&factors_of(method)) {
        return Ok(());
    }
    let has_passkey = app.storage.passkeys().count_for_user(user.id).await? > 0;
    progress.step_up_passkey = adds_passkey(method, has_passkey, wanted);
    if progress.step_up_passkey && progress.step == LoginStep::Done && !progress.factors.contains(&Factor::Passkey) {
        progress.step = LoginStep::Passkey;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Factor::*;

    fn passkey_class() -> Wanted {
        Wanted::from_predicate(|f| f.contains(&Passkey))
    }

    #[test]
    fn wanted_remembers_exactly_the_sets_that_meet_it() {
        let w = Wanted::from_predicate(|f| f.contains(&Certificate) && f.len() >= 2);
        assert!(w.met(&[Certificate, Pwd]));
        assert!(w.met(&[Pwd, Certificate]), "order does not matter");
        assert!(!w.met(&[Certificate]));
        assert!(!w.met(&[Pwd, Otp]));
        assert!(Wanted::ANYTHING.met(&[]));
        let serialised = serde_json::to_string(&w).expect("serialises");
        assert_eq!(serde_json::from_str::<Wanted>(&serialised).expect("reads"), w);
    }

    #[test]
    fn a_passkey_step_is_added_only_for_a_user_with_a_passkey_whose_method_has_none() {
        let w = passkey_class();
        assert!(adds_passkey(LoginMethod::CertPassword, true, &w));
        assert!(adds_passkey(LoginMethod::Cert, true, &w));
        assert!(adds_passkey(LoginMethod::PasswordOtp, true, &w));
        assert!(!adds_passkey(LoginMethod::CertPassword, false, &w), "no passkey registered: never a lower level");
        assert!(!adds_passkey(LoginMethod::CertPasswordPasskey, true, &w), "the method has its own passkey step");
        assert!(!adds_passkey(LoginMethod::CertPassword, true, &Wanted::ANYTHING), "nothing asked, nothing added");
        // Something a passkey cannot give (a one-time password) is not stepped up to.
        let otp = Wanted::from_predicate(|f| f.contains(&Otp));
        assert!(!adds_passkey(LoginMethod::CertPassword, true, &otp));
    }

    #[test]
    fn assurance_counts_the_passkey_step_only_where_it_can_be_added() {
        let w = passkey_class();
        let cert_pwd = [Certificate, Pwd];
        assert_eq!(assurance(&cert_pwd, LoginMethod::CertPassword, true, &w), Assurance::Reachable);
        assert_eq!(assurance(&cert_pwd, LoginMethod::CertPassword, false, &w), Assurance::Unreachable);
        assert_eq!(assurance(&[Certificate, Pwd, Passkey], LoginMethod::CertPassword, false, &w), Assurance::Met);
        assert_eq!(assurance(&cert_pwd, LoginMethod::CertPasswordPasskey, false, &w), Assurance::Reachable);
        assert_eq!(assurance(&cert_pwd, LoginMethod::CertPassword, true, &Wanted::ANYTHING), Assurance::Met);
    }
}
