//! Unit tests of `authorize.rs`: the error each refusal gets, and the form_post page.

use super::*;

#[test]
fn each_refusal_has_its_oauth_error() {
    let rows = [
        (Refusal::Passive(LoginReason::NoSession), "login_required"),
        (Refusal::Passive(LoginReason::TooOld), "login_required"),
        (Refusal::Passive(LoginReason::HintedOtherUser), "login_required"),
        (Refusal::Passive(LoginReason::OtherTenant), "login_required"),
        (Refusal::Passive(LoginReason::StepUp), "interaction_required"),
        (Refusal::HintedOtherUser, "login_required"),
        (Refusal::ConsentRequired, "consent_required"),
        (Refusal::OtherTenant, "access_denied"),
        (Refusal::UserDisabled, "access_denied"),
        (Refusal::Unmet, "unmet_authentication_requirements"),
        (Refusal::Declined, "access_denied"),
    ];
    for (refusal, code) in rows {
        assert_eq!(refused(refusal).code(), code, "{refusal:?}");
    }
}
