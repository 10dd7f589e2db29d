//! What a waiting sign-in request gets once the browser comes back to it, shared by
//! OpenID Connect (`/oidc/resume/{id}`, `oidc::authorize`) and SAML (`/saml/resume/{id}`,
//! `saml::sso`): answer it now, send the user to log in (again), or refuse it. Plain
//! values in, an [`Outcome`] out; the handlers load the inputs (the pending request; the
//! session, its certificate binding and its user through `web::session::resuming`; the
//! stored consent; the assurance by `oidc::acr::assurance` or
//! `saml::authn_context::assurance`) and render the outcome in their protocol. Nothing
//! here knows HTTP (a test fails if `flows/` imports axum or the server).
//!
//! The checks, in order:
//! 1. A session usable on this connection (its certificate binding holds) is needed,
//!    else a login — or, for a passive request (`prompt=none`, `IsPassive`), a refusal.
//! 2. A session of another tenant: a login, unless it was made after the request (a login
//!    that lands in another tenant would only loop): refused.
//! 3. Its user must still exist (else a login) and be active and unlocked (else refused).
//! 4. The user an `id_token_hint` names: another user's session means a login, or a
//!    refusal when passive or when that login was made after the request (a loop).
//! 5. Freshness: `prompt=login`, `ForceAuthn` or `max_age` exceeded ask for a login made
//!    after the request.
//! 6. The requested assurance (`acr_values`, `RequestedAuthnContext`): a session that
//!    misses it gets a new login (a step-up) when the user's login method can reach it and
//!    the session predates the request, else a refusal.
//! 7. Consent (OpenID Connect only): declined is refused; needed is asked, or refused
//!    when passive; given is saved with the answer.
//!
//! Where the two handlers disagreed before they shared this, the stricter rule now holds
//! for both:
//! - A session of another tenant made after the request: SAML refused it, OIDC sent the
//!   browser to the login page again (a loop). Now refused by both (`access_denied`).
//! - A disabled or locked user's session: SAML refused it, OIDC treated it as no session
//!   and showed the login page (or `login_required`). Now refused by both, passive or not.
//! - A session that misses the requested assurance while the user's method could reach
//!   it: OIDC asked for a new login (`interaction_required` when passive), SAML answered
//!   `NoAuthnContext` at once. Now both ask for the new login (SAML `NoPassive` when
//!   passive), and refuse only when it cannot help.

use mamori_storage::model::LoginMethod;
use uuid::Uuid;

use super::login::Factor;
use super::session_binding::Binding;

/// The waiting request, as the decision needs it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The tenant the request was made at (the issuer's, the IdP's).
    pub tenant_id: Uuid,
    /// When the request was made, Unix milliseconds: a login at or after it is fresh.
    pub requested_at_ms: i64,
    /// Now, Unix milliseconds.
    pub now_ms: i64,
    /// `prompt=login` or `ForceAuthn`: only a login made after the request will do.
    pub force_login: bool,
    /// `max_age`, in seconds.
    pub max_age: Option<i64>,
    /// `prompt=none` or `IsPassive`: no page may be shown.
    pub passive: bool,
    /// The subject an `id_token_hint` names.
    pub hinted_subject: Option<&'a str>,
    /// Whether the requested assurance is met by the session, or a new login could meet it.
    pub assurance: Assurance,
    /// Consent (OpenID Connect): whether it must be asked, and the user's answer, if given.
    pub consent_needed: bool,
    pub consent_answer: Option<bool>,
}

/// The browser's completed login, as the decision needs it.
#[derive(Debug, Clone, Copy)]
pub struct Session<'a> {
    pub tenant_id: Uuid,
    /// Whether this connection may use the session (`session_binding::check`).
    pub binding: Binding,
    /// When the login completed, Unix milliseconds.
    pub auth_time_ms: i64,
    /// The session's user as stored now; `None` when it is gone.
    pub user: Option<Account<'a>>,
}

/// The session's user, as stored now.
#[derive(Debug, Clone, Copy)]
pub struct Account<'a> {
    /// The subject it is known by (the user ID, as `id_token_hint` names it).
    pub subject: &'a str,
    pub active: bool,
    pub locked: bool,
}

/// Whether a login meets what the request asks of its strength.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assurance {
    /// Met (or nothing was asked).
    Met,
    /// Not met by this session, but a new login by the user's method would meet it.
    Reachable,
    /// Not met, and no login by the user's method can meet it.
    Unreachable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answer the request with the session's login; save the consent first if given.
    Proceed {
        save_consent: bool,
    },
    /// Send the browser to the login page.
    Login(LoginReason),
    /// Show the consent page.
    AskConsent,
    Refuse(Refusal),
}

/// Why a login is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginReason {
    /// No session usable on this connection, or its user is gone.
    NoSession,
    /// A session of another tenant, made before the request.
    OtherTenant,
    /// The session is another user's than the one `id_token_hint` names.
    HintedOtherUser,
    /// `prompt=login`, `ForceAuthn` or `max_age`: the session's login is too old.
    TooOld,
    /// The session misses the requested assurance; a new login can meet it.
    StepUp,
}

impl LoginReason {
    /// Whether the new login replaces the same user's session (SAML moves its service
    /// providers over to the new one).
    pub fn replaces_session(self) -> bool {
        matches!(self, LoginReason::TooOld | LoginReason::StepUp)
    }
}

/// Why the request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A login was needed, and the request allows no interaction.
    Passive(LoginReason),
    /// Consent was needed, and the request allows no interaction.
    ConsentRequired,
    /// A login made after the request, of another tenant.
    OtherTenant,
    /// The session's user is disabled or locked.
    UserDisabled,
    /// A login made after the request, of another user than the hinted one.
    HintedOtherUser,
    /// The requested assurance cannot be met.
    Unmet,
    /// The user declined consent.
    Declined,
}

/// Decides what the request gets (see the module's documentation for the order).
pub fn decide(request: &Request, session: Option<&Session>) -> Outcome {
    let login = |reason| if request.passive { Outcome::Refuse(Refusal::Passive(reason)) } else { Outcome::Login(reason) };
    let Some(session) = session.filter(|s| s.binding == Binding::Holds) else {
        return login(LoginReason::NoSession);
    };
    let fresh = session.auth_time_ms >= request.requested_at_ms;
    if session.tenant_id != request.tenant_id {
        return if fresh { Outcome::Refuse(Refusal::OtherTenant) } else { login(LoginReason::OtherTenant) };
    }
    let Some(user) = session.user else {
        return login(LoginReason::NoSession);
    };
    if !user.active || user.locked {
        return Outcome::Refuse(Refusal::UserDisabled);
    }
    if request.hinted_subject.is_some_and(|sub| sub != user.subject) {
        // A new login that is still someone else's would only loop: tell the site.
        return if fresh && !request.passive { Outcome::Refuse(Refusal::HintedOtherUser) } else { login(LoginReason::HintedOtherUser) };
    }
    // In milliseconds, like `fresh`: max_age=0 within the second of the last login still
    // asks for a new one (OpenID Connect Core §3.1.2.1).
    let too_old = request.max_age.is_some_and(|max| request.now_ms.saturating_sub(session.auth_time_ms) > max.saturating_mul(1000));
    if !fresh && (request.force_login || too_old) {
        return login(LoginReason::TooOld);
    }
    match request.assurance {
        Assurance::Met => {}
        Assurance::Reachable if !fresh => return login(LoginReason::StepUp),
        Assurance::Reachable | Assurance::Unreachable => return Outcome::Refuse(Refusal::Unmet),
    }
    match request.consent_answer {
        Some(false) => Outcome::Refuse(Refusal::Declined),
        Some(true) => Outcome::Proceed { save_consent: true },
        None if request.consent_needed && request.passive => Outcome::Refuse(Refusal::ConsentRequired),
        None if request.consent_needed => Outcome::AskConsent,
        None => Outcome::Proceed { save_consent: false },
    }
}

/// The factors a login by `method` completes.
pub fn factors_of(method: LoginMethod) -> Vec<Factor> {
    let mut factors = Vec::new();
    if method.needs_certificate() {
        factors.push(Factor::Certificate);
    }
    if method.needs_password() {
        factors.push(Factor::Pwd);
    }
    if method.needs_otp() {
        factors.push(Factor::Otp);
    }
    if method.needs_passkey() {
        factors.push(Factor::Passkey);
    }
    factors
}

#[cfg(test)]
#[path = "resume_tests.rs"]
mod tests;
