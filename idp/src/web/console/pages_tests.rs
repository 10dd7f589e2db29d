//! The pages of the user, policy, certificate and audit consoles render with the values
//! their handlers give them, in both languages, every form with the CSRF token.

use mamori_ui::{Locale, Ui};

fn console() -> serde_json::Value {
    serde_json::json!({"tenant": "demo", "base": "/console/t/demo", "operator": "op", "role": "tenant admin", "tenants": []})
}

fn with_console(mut page: serde_json::Value) -> serde_json::Value {
    page["console"] = console();
    page["csrf_token"] = serde_json::json!("x");
    page
}

#[test]
fn new_console_pages_render_with_real_values() {
    let ui = Ui::new();
    let methods = serde_json::json!([{"value": "cert", "label": "Cert", "selected": true}]);
    let cert = serde_json::json!({"serial": "0a", "href": "/c/0a", "subject": "u1", "login_id": "u1", "user_href": "/u/u1", "not_after": "2027",
        "status": "active", "status_label": "Active", "revoked_at": null, "revocation_reason": null, "active": true});
    let pages = [
        (
            "console/user_new.html",
            serde_json::json!({"login_id": "u1", "display_name": "U", "email": "a@b.c", "login_method": "cert", "locale": "en",
            "methods": methods, "problem": ["bad"], "invalid": ["email"], "action": "/console/t/demo/new-user"}),
        ),
        (
            "console/user_edit.html",
            serde_json::json!({"login_id": "u1", "display_name": "U", "locale": "ja", "methods": methods,
            "emails": [{"device_no": 1, "name": "email_1", "email": "a@b.c"}], "problem": [], "invalid": ["email_1"], "action": "/a", "href": "/h"}),
        ),
        (
            "console/confirm.html",
            serde_json::json!({"title": "T", "lead": "L", "submit": "S", "login_id": "u1", "display_name": "U",
            "facts": [{"label": "Serial", "value": "0a"}], "hidden": [{"name": "reason", "value": "superseded"}], "action": "/a", "href": "/h"}),
        ),
        (
            "console/user.html",
            serde_json::json!({"href": "/console/t/demo/users/u1", "must_change_password": true,
            "user": {"login_id": "u1", "display_name": "U", "status": "Active", "disabled": false, "locked": null, "method": "cert", "enrolled": true, "created": "2026"},
            "devices": [], "certificates": [], "rows": [], "events_href": "/e",
            "sessions": [{"created": "2026", "last_seen": "2026", "expires": "2026", "factors": "swk pwd"}],
            "passkeys": [{"id": "p1", "name": "Laptop", "created": "2026", "last_used": null, "backup_eligible": "Yes", "backed_up": "No",
                "remove_href": "/console/t/demo/users/u1/passkeys/p1/remove"}]}),
        ),
        (
            "console/users.html",
            serde_json::json!({"q": "", "show": "", "rows": [], "summary": "0", "page_label": "1/1", "notice": "deleted", "new_user_href": "/n"}),
        ),
        (
            "console/policy.html",
            serde_json::json!({"notice": "saved", "problem": ["x"], "action": "/p", "groups": [{"name": "passwords", "legend": "P", "knobs": [
                {"name": "password_min_length", "label": "Min", "kind": "number", "value": "8", "checked": false, "options": [], "hint": "1..", "invalid": true},
                {"name": "show_attempts_left", "label": "Show", "kind": "switch", "value": "", "checked": true, "options": [], "hint": "", "invalid": false},
                {"name": "otp_kind", "label": "OTP", "kind": "choice", "value": "totp", "checked": false, "options": [{"value": "totp", "label": "T", "selected": true}], "hint": "", "invalid": false},
                {"name": "allowed_login_methods", "label": "M", "kind": "multi", "value": "", "checked": false, "options": methods, "hint": "h", "invalid": false}]}],
                "preview": {"min": "8", "max": "32", "lockout": "After 5 wrong passwords…"}}),
        ),
        (
            "console/certificates.html",
            serde_json::json!({"serial": "0a", "login_id": "u1", "status": "active", "rows": [cert], "summary": "1", "page_label": "1/1", "prev": null, "next": "/n"}),
        ),
        (
            "console/certificate.html",
            serde_json::json!({"certificate": cert, "reasons": [{"value": "superseded", "label": "S", "selected": true}], "problem": [], "notice": "revoked", "list_href": "/l"}),
        ),
        (
            "console/audit.html",
            serde_json::json!({"actor": "a", "action": "user.update", "target": "", "since": "2026-12-01", "until": "", "actions": ["user.update"],
            "problem": [], "invalid": [], "csv_href": "/c", "summary": "1", "page_label": "1/1", "prev": null, "next": null,
            "rows": [{"at": "2026", "actor": "user:demo/op", "action": "user.update", "target": "tenant:demo/user:u1", "outcome": "failure", "source_ip": "127.0.0.1"}]}),
        ),
        (
            "console/enrollment.html",
            serde_json::json!({"login_id": "u1", "href": "/h", "url": "https://x/enroll/t", "one_time_password": "1", "expires_at": "2026", "created": true}),
        ),
    ];
    for (name, page) in pages {
        let ctx = with_console(page);
        for locale in [Locale::Ja, Locale::En] {
            let html = ui.render(name, locale, &ctx).unwrap_or_else(|e| panic!("{name}: {e:#?}"));
            assert!(!html.contains("??"), "{name} {locale:?}: a missing message");
            assert_eq!(
                html.matches("<form method=\"post\"").count(),
                html.matches("name=\"csrf_token\" value=\"x\"").count(),
                "{name}: every form has the CSRF token"
            );
        }
    }
}

#[test]
fn policy_refusals_have_texts_in_both_languages() {
    let ui = Ui::new();
    for key in crate::admin::tenants::POLICY_KEYS {
        for locale in [Locale::Ja, Locale::En] {
            assert!(!ui.message(locale, key).contains("??"), "{key} {locale:?}");
        }
    }
}
