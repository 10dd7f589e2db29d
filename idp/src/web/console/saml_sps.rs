//! SAML service providers in the console: the tenant's list, and registering one from
//! its metadata file with the options the admin API's `POST …/saml-sps` takes (entity ID
//! to expect, name, NameID format, attribute release, signing, encryption, signed
//! requests). The checks, the confinement to the tenant and the audit trail are the
//! service function's (`admin::saml_sps::create_saml_sp`); the console only reads the
//! form and says in the operator's language what the service refused. An SP's own page,
//! where it is changed or removed, is in `saml_sp_edit`.
//!
//! The metadata comes as a file, or from a URL the server fetches under the rule for
//! URLs relying sites register (`admin::saml_sps::fetch_metadata`: https to public
//! addresses only), so that a tenant administrator cannot make this server reach into
//! its own network.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use mamori_storage::model::{ApiScope, SamlServiceProvider};
use serde::Serialize;

use super::sites::NoticeQuery;
use super::{Console, console_or_return, open_console};
use crate::admin::federation;
use crate::admin::saml_sps::{self, SpRegistration};
use crate::admin::{AdminError, AdminError::Invalid};
use crate::saml::service_providers::{RegisteredSp, ReleasePolicy};
use crate::saml::{ns, response};
use crate::state::SharedState;
use crate::urlcode;
use crate::web::context::{FormFields, PageCtx, PostedUpload, field};

/// The registration form's body limit: the metadata rule's (1 MiB) and room for the
/// other fields, so that a file a little too large gets the rule's message on the form
/// rather than the bare 413 page.
pub const FORM_BODY_BYTES: usize = saml_sps::MAX_METADATA + 64 * 1024;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/console/t/{tenant}/saml-sps", get(list).post(create).layer(DefaultBodyLimit::max(FORM_BODY_BYTES)))
        .route("/console/t/{tenant}/saml-sps/new", get(new_form))
}

pub(super) fn sps_path(tenant: &str) -> String {
    format!("/console/t/{}/saml-sps", urlcode::component(tenant))
}

/// An SP's own page.
pub(super) fn sp_path(tenant: &str, id: &str) -> String {
    format!("{}/{}", sps_path(tenant), urlcode::component(id))
}

/// Notices on the list after an action (`?notice=…`); only these are shown.
const LIST_NOTICES: &[&str] = &["removed"];

/// The NameID formats an operator chooses from, by the short names the service takes.
pub(super) const NAME_ID_FORMATS: [&str; 3] = ["persistent", "email", "transient"];

/// The short name of a stored NameID format URN (the URN itself for an unknown one).
pub(super) fn format_name(urn: &str) -> &str {
    match urn {
        ns::NAMEID_PERSISTENT => "persistent",
        ns::NAMEID_EMAIL => "email",
        ns::NAMEID_TRANSIENT => "transient",
        other => other,
    }
}

/// The attributes an SP is given, by key, as its release policy stores them.
pub(super) fn released(sp: &SamlServiceProvider) -> Vec<String> {
    serde_json::from_value::<ReleasePolicy>(sp.attribute_release.clone()).map(|p| p.attributes).unwrap_or_default()
}

/// The NameID options of a `<select>`, `selected` marked.
pub(super) fn format_options(console: &Console, selected: &str) -> Vec<serde_json::Value> {
    NAME_ID_FORMATS
        .iter()
        .map(|f| serde_json::json!({"value": f, "label": console.ctx.message(&format!("console.saml.format.{f}")), "selected": *f == selected}))
        .collect()
}

/// Every attribute this IdP can release, `chosen` ticked, for checkboxes.
pub(super) fn attribute_options(console: &Console, chosen: &[String]) -> Vec<serde_json::Value> {
    response::ATTRIBUTES
        .iter()
        .map(|a| {
            serde_json::json!({
                "key": a.key,
                "name": format!("attr_{}", a.key),
                "label": console.ctx.message(&format!("console.saml.attribute.{}", a.key)),
                "saml_name": a.friendly_name,
                "checked": chosen.iter().any(|c| c == a.key),
            })
        })
        .collect()
}

/// The attributes ticked on a form (`attr_{key}` checkboxes), in the IdP's order.
pub(super) fn ticked_attributes(fields: &FormFields) -> Vec<String> {
    response::ATTRIBUTES.iter().filter(|a| field(fields, &format!("attr_{}", a.key)) == "on").map(|a| a.key.to_owned()).collect()
}

/// What the list and an SP's page show of it.
pub(super) fn sp_row(console: &Console, tenant: &str, sp: &SamlServiceProvider) -> serde_json::Value {
    let registered = RegisteredSp::new(sp.clone());
    let attributes = released(sp);
    let yes_no = |b: bool| console.ctx.message(if b { "console.saml.yes" } else { "console.saml.no" });
    serde_json::json!({
        "id": sp.id.to_string(),
        "href": sp_path(tenant, &sp.id.to_string()),
        "entity_id": sp.entity_id,
        "name": sp.name,
        "acs_urls": sp.acs.iter().map(|a| a.url.clone()).collect::<Vec<_>>(),
        "slo_urls": sp.slo.iter().map(|s| s.url.clone()).collect::<Vec<_>>(),
        "name_id_format": console.ctx.message(&format!("console.saml.format.{}", format_name(&sp.name_id_format))),
        "attributes": if attributes.is_empty() { console.ctx.message("console.saml.attributes.none") } else { attributes.join(" ") },
        "signing": signing_label(console, sp),
        "encrypt": yes_no(sp.encrypt_assertion),
        "signed_requests": yes_no(sp.want_authn_requests_signed),
        "certificates": console
            .ctx
            .message("console.saml.certificates_value")
            .replace("{signing}", &registered.signature_certificates().len().to_string())
            .replace("{encryption}", &yes_no(registered.encryption_certificate().is_some())),
        "created": console.time(sp.created_at),
    })
}

/// What is signed: the response, the assertion, or both.
fn signing_label(console: &Console, sp: &SamlServiceProvider) -> String {
    let key = match (sp.sign_response, sp.sign_assertion) {
        (true, true) => "console.saml.signing.both",
        (true, false) => "console.saml.signing.response",
        _ => "console.saml.signing.assertion",
    };
    console.ctx.message(key)
}

async fn list(ctx: PageCtx, Path(tenant): Path<String>, Query(query): Query<NoticeQuery>) -> Response {
    let console = console_or_return!(ctx, &sps_path(&tenant));
    let sps = match federation::saml_sps(console.ctx.app(), &console.principal, &tenant).await {
        Ok(sps) => sps,
        Err(err) => return console.refused(&err).await,
    };
    let rows: Vec<serde_json::Value> = sps.iter().map(|sp| sp_row(&console, &tenant, sp)).collect();
    let notice = query.text(&console, LIST_NOTICES, "console.saml.notice");
    let ctx = serde_json::json!({"sps": rows, "notice": notice, "idp_metadata": idp_metadata_url(&console, &tenant)});
    console.page(StatusCode::OK, "console/saml_sps.html", &tenant, ctx).await
}

/// This IdP's metadata for the tenant, which the operator gives to the SP.
pub(super) fn idp_metadata_url(console: &Console, tenant: &str) -> String {
    format!("{}/t/{}/saml/metadata", console.ctx.state.urls.main, urlcode::component(tenant))
}

/// What the registration form holds, to show it again after a refusal (never the file).
#[derive(Debug, Serialize)]
struct NewSpForm {
    /// Where to fetch the metadata from, instead of a file.
    metadata_url: String,
    entity_id: String,
    name: String,
    name_id_format: String,
    /// Release what the metadata's AttributeConsumingService asks for.
    attributes_from_metadata: bool,
    attributes: Vec<String>,
    sign_response: bool,
    sign_assertion: bool,
    encrypt_assertion: bool,
    require_signed_requests: bool,
    allow_unsolicited: bool,
}

impl Default for NewSpForm {
    fn default() -> Self {
        NewSpForm {
            metadata_url: String::new(),
            entity_id: String::new(),
            name: String::new(),
            name_id_format: "persistent".to_owned(),
            attributes_from_metadata: true,
            attributes: Vec::new(),
            sign_response: true,
            sign_assertion: true,
            encrypt_assertion: false,
            require_signed_requests: false,
            allow_unsolicited: false,
        }
    }
}

impl NewSpForm {
    fn from_fields(fields: &FormFields) -> Self {
        let on = |name: &str| field(fields, name) == "on";
        NewSpForm {
            metadata_url: field(fields, "metadata_url").trim().to_owned(),
            entity_id: field(fields, "entity_id").trim().to_owned(),
            name: field(fields, "name").trim().to_owned(),
            name_id_format: field(fields, "name_id_format").to_owned(),
            attributes_from_metadata: on("attributes_from_metadata"),
            attributes: ticked_attributes(fields),
            sign_response: on("sign_response"),
            sign_assertion: on("sign_assertion"),
            encrypt_assertion: on("encrypt_assertion"),
            require_signed_requests: on("require_signed_requests"),
            allow_unsolicited: on("allow_unsolicited"),
        }
    }

    /// The registration the service checks; blank optional fields are left out.
    fn registration(&self, metadata: Vec<u8>) -> SpRegistration {
        let optional = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        SpRegistration {
            metadata,
            entity_id: optional(&self.entity_id),
            name: optional(&self.name),
            name_id_format: optional(&self.name_id_format),
            attributes: (!self.attributes_from_metadata).then(|| self.attributes.clone()),
            sign_response: self.sign_response,
            sign_assertion: self.sign_assertion,
            encrypt_assertion: self.encrypt_assertion,
            require_signed_requests: self.require_signed_requests,
            allow_unsolicited: self.allow_unsolicited,
        }
    }
}

async fn new_form(ctx: PageCtx, Path(tenant): Path<String>) -> Response {
    let console = console_or_return!(ctx, &format!("{}/new", sps_path(&tenant)));
    // The tenant check before the form, so another tenant's form is a 404 too.
    if let Err(err) = console.principal.tenant(console.ctx.app(), &tenant, ApiScope::Write).await {
        return console.refused(&err).await;
    }
    new_page(&console, &tenant, StatusCode::OK, &NewSpForm::default(), &[], &[]).await
}

async fn new_page(
    console: &Console,
    tenant: &str,
    status: StatusCode,
    form: &NewSpForm,
    problems: &[String],
    invalid: &[&str],
) -> Response {
    let mut ctx = serde_json::to_value(form).unwrap_or_default();
    if let Some(map) = ctx.as_object_mut() {
        map.insert("formats".into(), serde_json::json!(format_options(console, &form.name_id_format)));
        map.insert("attribute_options".into(), serde_json::json!(attribute_options(console, &form.attributes)));
        map.insert("problem".into(), serde_json::json!(problems));
        map.insert("invalid".into(), serde_json::json!(invalid));
        map.insert("action".into(), serde_json::json!(sps_path(tenant)));
        map.insert("sps_href".into(), serde_json::json!(sps_path(tenant)));
        map.insert("idp_metadata".into(), serde_json::json!(idp_metadata_url(console, tenant)));
        map.insert("max_kib".into(), serde_json::json!(saml_sps::MAX_METADATA / 1024));
    }
    console.page(status, "console/saml_sp_new.html", tenant, ctx).await
}

/// Registers the SP from the uploaded or fetched metadata, then shows its page.
async fn create(Path(tenant): Path<String>, upload: PostedUpload) -> Response {
    let mut metadata = upload.bytes("metadata").map(<[u8]>::to_vec).unwrap_or_default();
    let PostedUpload { ctx, form: fields, .. } = upload;
    let console = console_or_return!(ctx, &sps_path(&tenant));
    let form = NewSpForm::from_fields(&fields);
    let url = form.metadata_url.clone();
    if !url.is_empty() {
        let refused = |key: &str| [console.ctx.message(key)];
        if !metadata.is_empty() {
            let problems = refused("console.saml.problem.file_and_url");
            return new_page(&console, &tenant, StatusCode::UNPROCESSABLE_ENTITY, &form, &problems, &["metadata_url"]).await;
        }
        // The tenant first: nothing is fetched for a tenant out of reach.
        if let Err(err) = console.principal.tenant(console.ctx.app(), &tenant, ApiScope::Write).await {
            return console.refused(&err).await;
        }
        metadata = match saml_sps::fetch_metadata(console.ctx.app(), &url).await {
            Ok(bytes) => bytes,
            Err(err) => {
                tracing::info!(error = %err, "console: SP metadata not fetched");
                // The reason in English (the outbound guard's words) only on English pages.
                let text = console.ctx.message("console.saml.problem.fetch");
                let detail = err.to_string();
                let text = if console.ctx.page.locale == mamori_ui::Locale::En {
                    format!("{text} ({})", detail.trim_start_matches("metadata_url: "))
                } else {
                    text
                };
                return new_page(&console, &tenant, StatusCode::UNPROCESSABLE_ENTITY, &form, &[text], &["metadata_url"]).await;
            }
        };
    }
    let no_file = metadata.is_empty();
    match saml_sps::create_saml_sp(console.ctx.app(), &console.principal, &tenant, form.registration(metadata)).await {
        Ok(sp) => Redirect::to(&format!("{}?notice=registered", sp_path(&tenant, &sp.id.to_string()))).into_response(),
        Err(err) => match form_problem(&console, &err, no_file) {
            Some((problems, invalid)) => new_page(&console, &tenant, StatusCode::UNPROCESSABLE_ENTITY, &form, &problems, &[invalid]).await,
            None => console.refused(&err).await,
        },
    }
}

/// A refusal that belongs on the form: its text in the operator's language (with the
/// metadata parser's own words, in English, for what is wrong with the document) and
/// the field it names. The service's texts start with the field they are about. Other
/// refusals (not found, role, outage) get the console's error pages.
pub(super) fn form_problem(console: &Console, err: &AdminError, no_file: bool) -> Option<(Vec<String>, &'static str)> {
    let (key, field) = match err {
        Invalid(_) if no_file => ("console.saml.problem.no_file", "metadata"),
        Invalid(why) if why.starts_with("metadata:") => {
            // The parser's own words are English: a Japanese page keeps to its sentence.
            let detail = why.trim_start_matches("metadata:").trim();
            let text = console.ctx.message("console.saml.problem.metadata");
            let text = if console.ctx.page.locale == mamori_ui::Locale::En { format!("{text} ({detail})") } else { text };
            return Some((vec![text], "metadata"));
        }
        Invalid(why) if why.starts_with("name_id_format") => ("console.saml.problem.name_id_format", "name_id_format"),
        Invalid(why) if why.starts_with("attributes") => ("console.saml.problem.attributes", "attributes"),
        Invalid(why) if why.starts_with("name:") => ("console.saml.problem.name", "name"),
        Invalid(why) if why.starts_with("encrypt_assertion") => ("console.saml.problem.encrypt", "encrypt_assertion"),
        Invalid(why) if why.starts_with("signed requests") || why.starts_with("want_authn_requests_signed") => {
            ("console.saml.problem.signed_requests", "want_authn_requests_signed")
        }
        Invalid(why) if why.starts_with("sign the response") => ("console.saml.problem.sign", "sign_response"),
        Invalid(why) => {
            tracing::info!(why, "console: SAML service provider refused");
            ("console.saml.problem.refused", "")
        }
        AdminError::Conflict(_) => ("console.saml.problem.taken", "metadata"),
        // A certificate of the metadata (which one: the English detail says it).
        AdminError::Field(refused) if refused.field == "metadata" => {
            let text = console.field_text(refused);
            let detail = refused.detail.trim_start_matches("metadata:").trim();
            let text = if console.ctx.page.locale == mamori_ui::Locale::En { format!("{text} ({detail})") } else { text };
            return Some((vec![text], "metadata"));
        }
        // The relying-site name rule, in the operator's language.
        AdminError::Field(refused) => return Some((vec![console.ctx.message(refused.key)], "name")),
        _ => return None,
    };
    Some((vec![console.ctx.message(key)], field))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_becomes_the_apis_registration() {
        let mut fields = FormFields::new();
        for (k, v) in
            [("name", " Wiki "), ("name_id_format", "email"), ("attr_email", "on"), ("attr_amr", "on"), ("encrypt_assertion", "on")]
        {
            fields.insert(k.to_owned(), v.to_owned());
        }
        let form = NewSpForm::from_fields(&fields);
        let reg = form.registration(b"<md/>".to_vec());
        assert_eq!(reg.name.as_deref(), Some("Wiki"));
        assert_eq!(reg.entity_id, None, "a blank entity ID is not checked against");
        assert_eq!(reg.name_id_format.as_deref(), Some("email"));
        assert_eq!(reg.attributes, Some(vec!["email".to_owned(), "amr".to_owned()]));
        assert!(reg.encrypt_assertion && !reg.sign_response && !reg.sign_assertion && !reg.require_signed_requests);
        assert!(!reg.allow_unsolicited, "off unless ticked");
        fields.insert("allow_unsolicited".to_owned(), "on".to_owned());
        assert!(NewSpForm::from_fields(&fields).registration(Vec::new()).allow_unsolicited);

        fields.insert("attributes_from_metadata".to_owned(), "on".to_owned());
        let reg = NewSpForm::from_fields(&fields).registration(Vec::new());
        assert_eq!(reg.attributes, None, "what the metadata asks for");
    }

    #[test]
    fn every_registration_option_of_the_api_is_on_the_form() {
        // An option added to the registration must be added to the form: this names each.
        let SpRegistration {
            metadata: _,
            entity_id: _,
            name: _,
            name_id_format: _,
            attributes: _,
            sign_response: _,
            sign_assertion: _,
            encrypt_assertion: _,
            require_signed_requests: _,
            allow_unsolicited: _,
        } = SpRegistration::default();
        let page = [
            include_str!("../../../../ui/templates/console/saml_sp_new.html"),
            include_str!("../../../../ui/templates/_console_saml_settings.html"),
        ]
        .concat();
        assert!(page.contains("{% include \"_console_saml_settings.html\" %}"));
        for name in [
            "metadata",
            "entity_id",
            "name",
            "name_id_format",
            "attributes_from_metadata",
            "sign_response",
            "sign_assertion",
            "encrypt_assertion",
            "require_signed_requests",
            "allow_unsolicited",
        ] {
            assert!(page.contains(&format!("name=\"{name}\"")), "{name} is missing from console/saml_sp_new.html");
        }
        assert!(page.contains("enctype=\"multipart/form-data\""), "the metadata is a file");
    }

    #[test]
    fn stored_formats_read_back_as_the_short_names() {
        for f in NAME_ID_FORMATS {
            let urn = saml_sps::name_id_format(f).expect("a known format");
            assert_eq!(format_name(urn), f);
        }
    }
}
