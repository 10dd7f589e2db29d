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

#[test]
fn form_post_csp_source_is_the_redirect_origin() {
    assert_eq!(origin_of("https://rp.example:8443/cb?x=1"), "https://rp.example:8443");
    assert_eq!(origin_of("http://127.0.0.1:3000/cb"), "http://127.0.0.1:3000");
    assert_eq!(origin_of("https://evil;script-src *"), "'none'");
    assert_eq!(origin_of("not a uri"), "'none'");
}

#[test]
fn the_form_post_template_carries_the_hashed_script() {
    let ui = mamori_ui::Ui::new();
    let html = ui
        .render(
            "oidc/form_post.html",
            mamori_ui::Locale::En,
            serde_json::json!({"action": "https://rp/cb", "fields": [{"name": "code", "value": "a\"b"}]}),
        )
        .expect("renders");
    assert!(html.contains(&format!("<script>{FORM_POST_SCRIPT}</script>")), "{html}");
    assert!(html.contains("<noscript>"), "a button for browsers without scripts");
    assert!(html.contains("a&quot;b") || html.contains("a&#34;b"), "{html}");
}

#[test]
fn every_page_detail_is_in_both_catalogues() {
    let ui = mamori_ui::Ui::new();
    for (description, key) in PAGE_DETAILS {
        assert_eq!(page_detail_key(description), Some(key));
        for locale in [mamori_ui::Locale::En, mamori_ui::Locale::Ja] {
            assert_ne!(ui.message(locale, key), "??", "{key} in {locale:?}");
        }
    }
    assert_eq!(page_detail_key("something else"), None);
}
