//! A SAML service provider's own page in the console: what its metadata registered
//! (entity ID, endpoints, certificates), the settings the admin API's `PATCH
//! …/saml-sps/{id}` changes (name, NameID format, attribute release, signed requests,
//! what is signed, encryption, unsolicited responses), and removing it behind the
//! console's confirmation page.
//! Every change is a CSRF-checked POST to the service functions the API calls, which
//! confine to the tenant, check and write the audit trail; a refused change saves nothing.

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use mamori_storage::model::{ApiScope, SamlServiceProvider};
use serde::Serialize;

use super::saml_sps::{
    attribute_options, form_problem, format_name, format_options, idp_metadata_url, released, sp_path, sp_row, sps_path, ticked_attributes,
};
use super::sites::NoticeQuery;
use super::{Console, console_or_return, open_console};
use crate::admin::federation;
use crate::admin::saml_sps::{self, SpUpdate};
use crate::state::SharedState;
use crate::web::context::{FormFields, PageCtx, field};

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/console/t/{tenant}/saml-sps/{id}", get(show).post(save))
        .route("/console/t/{tenant}/saml-sps/{id}/delete", post(remove))
}

/// Notices on the SP's page after an action (`?notice=…`); only these are shown.
const NOTICES: &[&str] = &["saved", "registered"];

/// The edit form's values: the SP's, or what was typed.
#[derive(Debug, Serialize, PartialEq, Eq)]
struct EditForm {
    name: String,
    name_id_format: String,
    attributes: Vec<String>,
    want_authn_requests_signed: bool,
    sign_response: bool,
    sign_assertion: bool,
    encrypt_assertion: bool,
    allow_unsolicited: bool,
}

impl EditForm {
    fn of(sp: &SamlServiceProvider) -> Self {
        EditForm {
            name: sp.name.clone(),
            name_id_format: format_name(&sp.name_id_format).to_owned(),
            attributes: released(sp),
            want_authn_requests_signed: sp.want_authn_requests_signed,
            sign_response: sp.sign_response,
            sign_assertion: sp.sign_assertion,
            encrypt_assertion: sp.encrypt_assertion,
            allow_unsolicited: sp.allow_unsolicited,
        }
    }

    fn from_fields(fields: &FormFields) -> Self {
        let on = |name: &str| field(fields, name) == "on";
        EditForm {
            name: field(fields, "name").trim().to_owned(),
            name_id_format: field(fields, "name_id_format").to_owned(),
            attributes: ticked_attributes(fields),
            want_authn_requests_signed: on("want_authn_requests_signed"),
            sign_response: on("sign_response"),
            sign_assertion: on("sign_assertion"),
            encrypt_assertion: on("encrypt_assertion"),
            allow_unsolicited: on("allow_unsolicited"),
        }
    }

    /// Only what differs from `before`: an unchanged setting is not sent, so the audit
    /// trail names what changed and a setting stored before a stricter rule does not
    /// block changing another.
    fn update_from(&self, before: &EditForm) -> SpUpdate {
        let changed = |new: bool, old: bool| (new != old).then_some(new);
        SpUpdate {
            name: (self.name != before.name).then(|| self.name.clone()),
            name_id_format: (self.name_id_format != before.name_id_format).then(|| self.name_id_format.clone()),
            attributes: (self.attributes != before.attributes).then(|| self.attributes.clone()),
            want_authn_requests_signed: changed(self.want_authn_requests_signed, before.want_authn_requests_signed),
            sign_response: changed(self.sign_response, before.sign_response),
            sign_assertion: changed(self.sign_assertion, before.sign_assertion),
            encrypt_assertion: changed(self.encrypt_assertion, before.encrypt_assertion),
            allow_unsolicited: changed(self.allow_unsolicited, before.allow_unsolicited),
        }
    }
}

async fn show(ctx: PageCtx, Path((tenant, id)): Path<(String, String)>, Query(query): Query<NoticeQuery>) -> Response {
    let console = console_or_return!(ctx, &sp_path(&tenant, &id));
    let sp = match federation::saml_sp(console.ctx.app(), &console.principal, &tenant, &id, ApiScope::Read).await {
        Ok(sp) => sp,
        Err(err) => return console.refused(&err).await,
    };
    let notice = query.text(&console, NOTICES, "console.saml.notice");
    sp_page(&console, &tenant, &sp, StatusCode::OK, &EditForm::of(&sp), &[], &[], notice).await
}

#[allow(clippy::too_many_arguments)] // the page's parts, each shown
async fn sp_page(
    console: &Console,
    tenant: &str,
    sp: &SamlServiceProvider,
    status: StatusCode,
    form: &EditForm,
    problems: &[String],
    invalid: &[&str],
    notice: Option<String>,
) -> Response {
    let mut ctx = serde_json::to_value(form).unwrap_or_default();
    let href = sp_path(tenant, &sp.id.to_string());
    if let Some(map) = ctx.as_object_mut() {
        map.insert("sp".into(), sp_row(console, tenant, sp));
        map.insert("formats".into(), serde_json::json!(format_options(console, &form.name_id_format)));
        map.insert("attribute_options".into(), serde_json::json!(attribute_options(console, &form.attributes)));
        map.insert("problem".into(), serde_json::json!(problems));
        map.insert("invalid".into(), serde_json::json!(invalid));
        map.insert("notice".into(), serde_json::json!(notice));
        map.insert("href".into(), serde_json::json!(href));
        map.insert("delete_action".into(), serde_json::json!(format!("{href}/delete")));
        map.insert("sps_href".into(), serde_json::json!(sps_path(tenant)));
        map.insert("idp_metadata".into(), serde_json::json!(idp_metadata_url(console, tenant)));
    }
    console.page(status, "console/saml_sp.html", tenant, ctx).await
}

async fn save(ctx: PageCtx, Path((tenant, id)): Path<(String, String)>, form: Result<Form<FormFields>, FormRejection>) -> Response {
    let href = sp_path(&tenant, &id);
    let console = console_or_return!(ctx, &href);
    let fields = match console.ctx.accept_form(form) {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let app = console.ctx.app();
    let sp = match federation::saml_sp(app, &console.principal, &tenant, &id, ApiScope::Write).await {
        Ok(sp) => sp,
        Err(err) => return console.refused(&err).await,
    };
    let form = EditForm::from_fields(&fields);
    let update = form.update_from(&EditForm::of(&sp));
    match saml_sps::update_saml_sp(app, &console.principal, &tenant, &id, update).await {
        Ok(_) => Redirect::to(&format!("{href}?notice=saved")).into_response(),
        Err(err) => match form_problem(&console, &err, false) {
            Some((problems, invalid)) => {
                sp_page(&console, &tenant, &sp, StatusCode::UNPROCESSABLE_ENTITY, &form, &problems, &[invalid], None).await
            }
            None => console.refused(&err).await,
        },
    }
}

/// The first POST shows what will be removed on the console's confirmation page; only
/// that page's own POST (`confirmed=yes`) removes it. Declining is the page's link back.
async fn remove(ctx: PageCtx, Path((tenant, id)): Path<(String, String)>, form: Result<Form<FormFields>, FormRejection>) -> Response {
    let href = sp_path(&tenant, &id);
    let console = console_or_return!(ctx, &format!("{href}/delete"));
    let fields = match console.ctx.accept_form(form) {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let app = console.ctx.app();
    if field(&fields, "confirmed") != "yes" {
        // The service's own check first, so another tenant's SP is a 404 here too.
        let sp = match federation::saml_sp(app, &console.principal, &tenant, &id, ApiScope::Write).await {
            Ok(sp) => sp,
            Err(err) => return console.refused(&err).await,
        };
        return confirmation(&console, &tenant, &sp).await;
    }
    match federation::delete_saml_sp(app, &console.principal, &tenant, &id).await {
        Ok(()) => Redirect::to(&format!("{}?notice=removed", sps_path(&tenant))).into_response(),
        Err(err) => console.refused(&err).await,
    }
}

async fn confirmation(console: &Console, tenant: &str, sp: &SamlServiceProvider) -> Response {
    let href = sp_path(tenant, &sp.id.to_string());
    let confirmation = super::Confirmation {
        title_key: "console.saml.confirm.delete.title".into(),
        submit_key: "console.saml.confirm.delete.submit".into(),
        lead: console.ctx.message("console.saml.confirm.delete.lead"),
        facts: vec![("console.saml.entity_id".into(), sp.entity_id.clone()), ("console.saml.name".into(), sp.name.clone())],
        action: format!("{href}/delete"),
        back: href,
        ..Default::default()
    };
    console.confirm(tenant, confirmation).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> EditForm {
        EditForm {
            name: "Wiki".into(),
            name_id_format: "persistent".into(),
            attributes: vec!["email".into()],
            want_authn_requests_signed: false,
            sign_response: true,
            sign_assertion: true,
            encrypt_assertion: false,
            allow_unsolicited: false,
        }
    }

    #[test]
    fn only_what_changed_is_sent() {
        let before = form();
        let SpUpdate {
            name,
            name_id_format,
            attributes,
            want_authn_requests_signed,
            sign_response,
            sign_assertion,
            encrypt_assertion,
            allow_unsolicited,
        } = form().update_from(&before);
        assert!(name.is_none() && name_id_format.is_none() && attributes.is_none());
        assert!(want_authn_requests_signed.is_none() && sign_response.is_none() && sign_assertion.is_none() && encrypt_assertion.is_none());
        assert!(allow_unsolicited.is_none());

        let after = EditForm { attributes: Vec::new(), sign_response: false, encrypt_assertion: true, ..form() };
        let update = after.update_from(&before);
        assert_eq!(update.attributes, Some(Vec::new()), "releasing nothing is a choice");
        assert_eq!((update.sign_response, update.encrypt_assertion, update.sign_assertion), (Some(false), Some(true), None));
        let update = EditForm { allow_unsolicited: true, ..form() }.update_from(&before);
        assert_eq!(update.allow_unsolicited, Some(true));
    }

    #[test]
    fn every_setting_the_api_changes_is_on_the_page() {
        // A field added to the update must be added here: this names each.
        let SpUpdate {
            name: _,
            name_id_format: _,
            attributes: _,
            want_authn_requests_signed: _,
            sign_response: _,
            sign_assertion: _,
            encrypt_assertion: _,
            allow_unsolicited: _,
        } = SpUpdate::default();
        let page = [
            include_str!("../../../../ui/templates/console/saml_sp.html"),
            include_str!("../../../../ui/templates/_console_saml_settings.html"),
        ]
        .concat();
        assert!(page.contains("{% include \"_console_saml_settings.html\" %}"));
        for name in [
            "name",
            "name_id_format",
            "want_authn_requests_signed",
            "sign_response",
            "sign_assertion",
            "encrypt_assertion",
            "allow_unsolicited",
        ] {
            assert!(page.contains(&format!("name=\"{name}\"")), "{name} is missing from console/saml_sp.html");
        }
        assert!(page.contains("name=\"{{ a.name }}\""), "the attribute checkboxes");
    }

    /// The pages with the values the handlers give them, in both languages.
    #[test]
    fn saml_pages_render_with_real_values() {
        use mamori_ui::{Locale, Ui};
        let ui = Ui::new();
        let console = serde_json::json!({"tenant": "demo", "base": "/console/t/demo", "operator": "op", "role": "tenant admin", "tenants": [], "super_admin": true});
        let sp = serde_json::json!({"id": "1", "href": "/console/t/demo/saml-sps/1", "entity_id": "https://sp.example/md", "name": "Wiki",
            "acs_urls": ["https://sp.example/acs"], "slo_urls": [], "name_id_format": "Persistent", "attributes": "email", "signing": "both",
            "encrypt": "No", "signed_requests": "No", "certificates": "0 / No", "created": "2026"});
        let formats = serde_json::json!([{"value": "persistent", "label": "P", "selected": true}]);
        let attrs = serde_json::json!([{"key": "email", "name": "attr_email", "label": "E-mail", "saml_name": "mail", "checked": true}]);
        let pages = [
            (
                "console/saml_sps.html",
                serde_json::json!({"console": console, "csrf_token": "x", "sps": [sp], "notice": "removed", "idp_metadata": "https://idp/md"}),
            ),
            (
                "console/saml_sps.html",
                serde_json::json!({"console": console, "csrf_token": "x", "sps": [], "notice": null, "idp_metadata": "https://idp/md"}),
            ),
            (
                "console/saml_sp_new.html",
                serde_json::json!({"console": console, "csrf_token": "x", "entity_id": "", "name": "", "name_id_format": "persistent", "attributes_from_metadata": true,
                "attributes": [], "sign_response": true, "sign_assertion": true, "encrypt_assertion": false, "require_signed_requests": false, "allow_unsolicited": false,
                "formats": formats, "attribute_options": attrs, "problem": ["bad"], "invalid": ["metadata"], "action": "/a", "sps_href": "/s", "idp_metadata": "https://idp/md", "max_kib": 1024}),
            ),
            (
                "console/saml_sp.html",
                serde_json::json!({"console": console, "csrf_token": "x", "sp": sp, "name": "Wiki", "name_id_format": "persistent", "attributes": ["email"],
                "want_authn_requests_signed": false, "sign_response": true, "sign_assertion": false, "encrypt_assertion": false, "allow_unsolicited": true, "formats": formats,
                "attribute_options": attrs, "problem": [], "invalid": [], "notice": "saved", "href": "/h", "delete_action": "/h/delete", "sps_href": "/s", "idp_metadata": "https://idp/md"}),
            ),
        ];
        for (name, ctx) in pages {
            for locale in [Locale::Ja, Locale::En] {
                let html = ui.render(name, locale, &ctx).unwrap_or_else(|e| panic!("{name}: {e:#?}"));
                assert!(!html.contains("??"), "{name} {locale:?}: a missing message");
                assert!(!html.contains("<form method=\"post\"") || html.contains("name=\"csrf_token\" value=\"x\""), "{name}: CSRF token");
                assert!(html.contains("id=\"menu-saml\""), "{name}: the menu links the SAML pages");
            }
        }
    }
}
