//! Table tests of the resume decision: every input dimension, each honest row next to
//! its hostile ones.

use mamori_storage::model::LoginMethod;
use uuid::Uuid;

use super::*;
use crate::flows::client_certificate::CertificateRefusal;
use crate::oidc::acr;
use LoginReason::*;
use Outcome::*;

const TENANT: Uuid = Uuid::from_u128(1);
const OTHER_TENANT: Uuid = Uuid::from_u128(2);
const ALICE: &str = "00000000-0000-0000-0000-00000000a11c";
const BOB: &str = "00000000-0000-0000-0000-000000000b0b";
/// The request was made at this moment (ms); now is 5 s later.
const REQUESTED: i64 = 1_800_000_000_000;
/// A login a minute before the request (65 s before now), and one just after it.
const STALE: i64 = REQUESTED - 60_000;
const FRESH: i64 = REQUESTED + 1_000;

fn request() -> Request<'static> {
    Request {
        tenant_id: TENANT,
        requested_at_ms: REQUESTED,
        now_ms: REQUESTED + 5_000,
        force_login: false,
        max_age: None,
        passive: false,
        hinted_subject: None,
        assurance: Assurance::Met,
        consent_needed: false,
        consent_answer: None,
    }
}

fn session() -> Session<'static> {
    Session {
        tenant_id: TENANT,
        binding: Binding::Holds,
        auth_time_ms: STALE,
        user: Some(Account { subject: ALICE, active: true, locked: false }),
    }
}

type Change<T> = fn(&mut T);

/// (what the row shows, change to the request, change to the session (`None`: no session), outcome)
type Row = (&'static str, Change<Request<'static>>, Option<Change<Session<'static>>>, Outcome);

fn same<T>(_: &mut T) {}

fn run(rows: &[Row]) {
    for (name, change_request, change_session, expected) in rows {
        let mut r = request();
        change_request(&mut r);
        let s = change_session.map(|change| {
            let mut s = session();
            change(&mut s);
            s
        });
        assert_eq!(decide(&r, s.as_ref()), *expected, "{name}");
    }
}

const PROCEED: Outcome = Proceed { save_consent: false };

#[test]
fn the_session_must_be_usable_here() {
    run(&[
        ("a session made before the request", same, Some(same), PROCEED),
        ("a session made after the request", same, Some(|s| s.auth_time_ms = FRESH), PROCEED),
        ("passive, with a session", |r| r.passive = true, Some(same), PROCEED),
        ("no session", same, None, Login(NoSession)),
        ("no session, passive", |r| r.passive = true, None, Refuse(Refusal::Passive(NoSession))),
        ("another connection's certificate", same, Some(|s| s.binding = Binding::NotThisConnection), Login(NoSession)),
        (
            "another connection's certificate, passive",
            |r| r.passive = true,
            Some(|s| s.binding = Binding::NotThisConnection),
            Refuse(Refusal::Passive(NoSession)),
        ),
        ("a revoked certificate", same, Some(|s| s.binding = Binding::Ended(CertificateRefusal::Revoked)), Login(NoSession)),
        ("an expired certificate", same, Some(|s| s.binding = Binding::Ended(CertificateRefusal::Expired)), Login(NoSession)),
        (
            "a revoked certificate, fresh, consent given",
            |r| r.consent_answer = Some(true),
            Some(|s| {
                s.binding = Binding::Ended(CertificateRefusal::Revoked);
                s.auth_time_ms = FRESH;
            }),
            Login(NoSession),
        ),
    ]);
}

#[test]
fn a_session_of_another_tenant_is_never_used() {
    run(&[
        ("the request's tenant", same, Some(same), PROCEED),
        ("another tenant, made before the request", same, Some(|s| s.tenant_id = OTHER_TENANT), Login(LoginReason::OtherTenant)),
        (
            "another tenant, made before the request, passive",
            |r| r.passive = true,
            Some(|s| s.tenant_id = OTHER_TENANT),
            Refuse(Refusal::Passive(LoginReason::OtherTenant)),
        ),
        (
            "another tenant, made after the request (a login would loop)",
            same,
            Some(|s| {
                s.tenant_id = OTHER_TENANT;
                s.auth_time_ms = FRESH;
            }),
            Refuse(Refusal::OtherTenant),
        ),
        (
            "another tenant, at the very millisecond of the request",
            same,
            Some(|s| {
                s.tenant_id = OTHER_TENANT;
                s.auth_time_ms = REQUESTED;
            }),
            Refuse(Refusal::OtherTenant),
        ),
        (
            "another tenant, fresh, passive",
            |r| r.passive = true,
            Some(|s| {
                s.tenant_id = OTHER_TENANT;
                s.auth_time_ms = FRESH;
            }),
            Refuse(Refusal::OtherTenant),
        ),
        (
            "another tenant, with consent given and the hinted user",
            |r| {
                r.consent_answer = Some(true);
                r.hinted_subject = Some(ALICE);
            },
            Some(|s| s.tenant_id = OTHER_TENANT),
            Login(LoginReason::OtherTenant),
        ),
        (
            "another tenant, fresh, but not usable on this connection",
            same,
            Some(|s| {
                s.tenant_id = OTHER_TENANT;
                s.auth_time_ms = FRESH;
                s.binding = Binding::NotThisConnection;
            }),
            Login(NoSession),
        ),
    ]);
}

#[test]
fn the_user_must_exist_and_be_active() {
    run(&[
        ("active", same, Some(same), PROCEED),
        ("gone", same, Some(|s| s.user = None), Login(NoSession)),
        ("gone, passive", |r| r.passive = true, Some(|s| s.user = None), Refuse(Refusal::Passive(NoSession))),
        (
            "disabled",
            same,
            Some(|s| s.user = Some(Account { subject: ALICE, active: false, locked: false })),
            Refuse(Refusal::UserDisabled),
        ),
        ("locked", same, Some(|s| s.user = Some(Account { subject: ALICE, active: true, locked: true })), Refuse(Refusal::UserDisabled)),
        (
            "disabled, passive",
            |r| r.passive = true,
            Some(|s| s.user = Some(Account { subject: ALICE, active: false, locked: false })),
            Refuse(Refusal::UserDisabled),
        ),
        (
            "locked, fresh, consent given",
            |r| r.consent_answer = Some(true),
            Some(|s| {
                s.user = Some(Account { subject: ALICE, active: true, locked: true });
                s.auth_time_ms = FRESH;
            }),
            Refuse(Refusal::UserDisabled),
        ),
        (
            "disabled, but with prompt=login (refused before any login)",
            |r| r.force_login = true,
            Some(|s| s.user = Some(Account { subject: ALICE, active: false, locked: false })),
            Refuse(Refusal::UserDisabled),
        ),
    ]);
}

#[test]
fn the_hinted_user_must_be_the_sessions() {
    run(&[
        ("the hinted user", |r| r.hinted_subject = Some(ALICE), Some(same), PROCEED),
        ("the hinted user, fresh", |r| r.hinted_subject = Some(ALICE), Some(|s| s.auth_time_ms = FRESH), PROCEED),
        ("another user, made before the request", |r| r.hinted_subject = Some(BOB), Some(same), Login(HintedOtherUser)),
        (
            "another user, passive",
            |r| {
                r.hinted_subject = Some(BOB);
                r.passive = true;
            },
            Some(same),
            Refuse(Refusal::Passive(HintedOtherUser)),
        ),
        (
            "another user, made after the request (a login would loop)",
            |r| r.hinted_subject = Some(BOB),
            Some(|s| s.auth_time_ms = FRESH),
            Refuse(Refusal::HintedOtherUser),
        ),
        (
            "another user, fresh, passive",
            |r| {
                r.hinted_subject = Some(BOB);
                r.passive = true;
            },
            Some(|s| s.auth_time_ms = FRESH),
            Refuse(Refusal::Passive(HintedOtherUser)),
        ),
        ("an empty hint", |r| r.hinted_subject = Some(""), Some(same), Login(HintedOtherUser)),
        (
            "a hint differing only in case",
            |r| r.hinted_subject = Some("00000000-0000-0000-0000-00000000A11C"),
            Some(same),
            Login(HintedOtherUser),
        ),
        (
            "another user, consent given",
            |r| {
                r.hinted_subject = Some(BOB);
                r.consent_answer = Some(true);
            },
            Some(same),
            Login(HintedOtherUser),
        ),
        ("the hinted user, without a session", |r| r.hinted_subject = Some(ALICE), None, Login(NoSession)),
    ]);
}

#[test]
fn forced_and_aged_logins_must_be_fresh() {
    run(&[
        ("prompt=login / ForceAuthn, fresh", |r| r.force_login = true, Some(|s| s.auth_time_ms = FRESH), PROCEED),
        (
            "prompt=login / ForceAuthn, at the request's millisecond",
            |r| r.force_login = true,
            Some(|s| s.auth_time_ms = REQUESTED),
            PROCEED,
        ),
        (
            "prompt=login / ForceAuthn, a millisecond before",
            |r| r.force_login = true,
            Some(|s| s.auth_time_ms = REQUESTED - 1),
            Login(TooOld),
        ),
        ("prompt=login / ForceAuthn, stale", |r| r.force_login = true, Some(same), Login(TooOld)),
        (
            "ForceAuthn with IsPassive, stale",
            |r| {
                r.force_login = true;
                r.passive = true;
            },
            Some(same),
            Refuse(Refusal::Passive(TooOld)),
        ),
        ("max_age not exceeded (65 s old, 65 allowed)", |r| r.max_age = Some(65), Some(same), PROCEED),
        ("max_age exceeded (65 s old, 64 allowed)", |r| r.max_age = Some(64), Some(same), Login(TooOld)),
        ("max_age exceeded by a millisecond", |r| r.max_age = Some(65), Some(|s| s.auth_time_ms = STALE - 1), Login(TooOld)),
        (
            "max_age exceeded, passive",
            |r| {
                r.max_age = Some(10);
                r.passive = true;
            },
            Some(same),
            Refuse(Refusal::Passive(TooOld)),
        ),
        ("max_age=0, stale", |r| r.max_age = Some(0), Some(same), Login(TooOld)),
        ("max_age=0, logged in after the request", |r| r.max_age = Some(0), Some(|s| s.auth_time_ms = FRESH), PROCEED),
        (
            "max_age=0, logged in within the request's second",
            |r| r.max_age = Some(0),
            Some(|s| s.auth_time_ms = REQUESTED - 1),
            Login(TooOld),
        ),
        ("a huge max_age", |r| r.max_age = Some(i64::MAX), Some(|s| s.auth_time_ms = i64::MIN), PROCEED),
        ("a session that never recorded milliseconds", |r| r.force_login = true, Some(|s| s.auth_time_ms = 0), Login(TooOld)),
        (
            "prompt=login, consent given",
            |r| {
                r.force_login = true;
                r.consent_answer = Some(true);
            },
            Some(same),
            Login(TooOld),
        ),
    ]);
}

#[test]
fn a_weaker_session_steps_up_or_is_refused() {
    run(&[
        ("met", |r| r.assurance = Assurance::Met, Some(same), PROCEED),
        ("reachable, stale: a new login", |r| r.assurance = Assurance::Reachable, Some(same), Login(StepUp)),
        (
            "reachable, passive",
            |r| {
                r.assurance = Assurance::Reachable;
                r.passive = true;
            },
            Some(same),
            Refuse(Refusal::Passive(StepUp)),
        ),
        (
            "reachable, but the new login still misses it (a loop)",
            |r| r.assurance = Assurance::Reachable,
            Some(|s| s.auth_time_ms = FRESH),
            Refuse(Refusal::Unmet),
        ),
        ("unreachable", |r| r.assurance = Assurance::Unreachable, Some(same), Refuse(Refusal::Unmet)),
        ("unreachable, fresh", |r| r.assurance = Assurance::Unreachable, Some(|s| s.auth_time_ms = FRESH), Refuse(Refusal::Unmet)),
        (
            "unreachable, passive",
            |r| {
                r.assurance = Assurance::Unreachable;
                r.passive = true;
            },
            Some(same),
            Refuse(Refusal::Unmet),
        ),
        (
            "reachable with ForceAuthn: the login comes first",
            |r| {
                r.assurance = Assurance::Reachable;
                r.force_login = true;
            },
            Some(same),
            Login(TooOld),
        ),
        (
            "unreachable, consent given",
            |r| {
                r.assurance = Assurance::Unreachable;
                r.consent_answer = Some(true);
            },
            Some(same),
            Refuse(Refusal::Unmet),
        ),
        ("unreachable, no session: the login comes first", |r| r.assurance = Assurance::Unreachable, None, Login(NoSession)),
    ]);
}

#[test]
fn consent_is_asked_given_or_declined() {
    run(&[
        ("not needed", same, Some(same), PROCEED),
        ("needed", |r| r.consent_needed = true, Some(same), AskConsent),
        (
            "needed, passive",
            |r| {
                r.consent_needed = true;
                r.passive = true;
            },
            Some(same),
            Refuse(Refusal::ConsentRequired),
        ),
        (
            "needed and given",
            |r| {
                r.consent_needed = true;
                r.consent_answer = Some(true);
            },
            Some(same),
            Proceed { save_consent: true },
        ),
        ("given when not needed", |r| r.consent_answer = Some(true), Some(same), Proceed { save_consent: true }),
        (
            "needed and declined",
            |r| {
                r.consent_needed = true;
                r.consent_answer = Some(false);
            },
            Some(same),
            Refuse(Refusal::Declined),
        ),
        ("declined when not needed", |r| r.consent_answer = Some(false), Some(same), Refuse(Refusal::Declined)),
        ("given, without a session", |r| r.consent_answer = Some(true), None, Login(NoSession)),
        (
            "given, without a session, passive",
            |r| {
                r.consent_answer = Some(true);
                r.passive = true;
            },
            None,
            Refuse(Refusal::Passive(NoSession)),
        ),
        (
            "given, by a disabled user",
            |r| r.consent_answer = Some(true),
            Some(|s| s.user = Some(Account { subject: ALICE, active: false, locked: false })),
            Refuse(Refusal::UserDisabled),
        ),
    ]);
}

#[test]
fn only_a_login_of_the_same_user_replaces_the_session() {
    assert!(TooOld.replaces_session());
    assert!(StepUp.replaces_session());
    for reason in [NoSession, LoginReason::OtherTenant, HintedOtherUser] {
        assert!(!reason.replaces_session(), "{reason:?}");
    }
}

#[test]
fn a_methods_factors_reach_its_level() {
    use Factor::*;
    assert_eq!(factors_of(LoginMethod::Cert), [Certificate]);
    assert_eq!(factors_of(LoginMethod::CertPassword), [Certificate, Pwd]);
    assert_eq!(factors_of(LoginMethod::CertPasswordOtp), [Certificate, Pwd, Otp]);
    assert_eq!(factors_of(LoginMethod::Password), [Pwd]);
    assert_eq!(factors_of(LoginMethod::PasswordOtp), [Pwd, Otp]);
    assert_eq!(factors_of(LoginMethod::CertPasskey), [Certificate, Passkey]);
    assert_eq!(factors_of(LoginMethod::CertPasswordPasskey), [Certificate, Pwd, Passkey]);
    assert_eq!(factors_of(LoginMethod::Passkey), [Passkey]);
    for method in LoginMethod::ALL {
        let factors = factors_of(*method);
        let (reached, _) = acr::achieved(&factors);
        assert!(reached == acr::ACR_PASSWORD || acr::satisfies(&factors, reached), "{method:?} reaches {reached}");
    }
}
