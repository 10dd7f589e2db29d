//! The "branding" group of the policy page: the tenant's display name, accent colour and
//! logo, with a preview of the header and login heading a user will see. A form of its
//! own (multipart, for the logo file) posting to the service function the admin API's
//! `PUT …/branding` and the CLI use; a refused value saves nothing and is named.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;

use super::{Console, console_or_return, open_console};
use crate::admin::AdminError;
use crate::admin::branding::{self, BrandingChange};
use crate::state::SharedState;
use crate::urlcode;
use crate::web::context::{PostedUpload, field};

/// This form's body limit: larger than the logo rule's (48 KiB), so that a logo a little
/// too large gets the rule's message beside its field rather than the bare 413 page.
pub const FORM_BODY_BYTES: usize = 1024 * 1024;

pub fn routes() -> Router<SharedState> {
    Router::new().route("/console/t/{tenant}/branding", post(save).layer(DefaultBodyLimit::max(FORM_BODY_BYTES)))
}

fn policy_path(tenant: &str) -> String {
    format!("/console/t/{}/policy", urlcode::component(tenant))
}

/// The group's fields: the branding as stored, or as typed after a refusal.
pub(super) async fn fields(console: &Console, tenant: &str, typed: Option<&serde_json::Value>) -> serde_json::Value {
    let stored = match branding::get(console.ctx.app(), &console.principal, tenant).await {
        Ok(stored) => stored,
        Err(_) => return serde_json::Value::Null,
    };
    let preview = crate::web::brand::PageBrand::new(
        &mamori_storage::model::Tenant {
            id: uuid::Uuid::nil(),
            slug: stored.slug.clone(),
            display_name: stored.display_name.clone(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            policy: Default::default(),
        },
        &mamori_storage::model::TenantBranding {
            accent_colour: stored.accent_colour.clone(),
            logo_sha256: stored.logo_sha256.clone(),
            logo_png: None,
        },
    );
    let typed_text = |name: &str| typed.and_then(|t| t[name].as_str()).map(str::to_owned);
    serde_json::json!({
        "action": format!("/console/t/{}/branding", urlcode::component(tenant)),
        "display_name": typed_text("display_name").unwrap_or(stored.display_name),
        "accent_colour": typed_text("accent_colour").unwrap_or_else(|| stored.accent_colour.clone().unwrap_or_default()),
        "invalid": typed.and_then(|t| t["invalid"].as_str()).map(str::to_owned),
        "preview": preview,
        "preview_style": preview.accent_colour.as_ref().map(|c| format!("/branding/{}/preview.css?v={}", urlcode::component(&stored.slug), &c[1..])),
    })
}

async fn save(Path(tenant): Path<String>, upload: PostedUpload) -> Response {
    let PostedUpload { ctx, form, large } = upload;
    let console = console_or_return!(ctx, &policy_path(&tenant));
    let colour = field(&form, "accent_colour").trim().to_owned();
    let accent = if field(&form, "remove_accent_colour") == "on" || colour.is_empty() { None } else { Some(colour.clone()) };
    let logo = if field(&form, "remove_logo") == "on" {
        Some(None)
    } else {
        let bytes = large.get("logo").cloned().or_else(|| form.get("logo").map(|s| s.as_bytes().to_vec()));
        bytes.filter(|b| !b.is_empty()).map(Some)
    };
    let name = field(&form, "display_name").trim().to_owned();
    let change = BrandingChange { display_name: Some(name.clone()), accent_colour: Some(accent), logo_png: logo };
    let app = console.ctx.app();
    match branding::change(app, &console.principal, &tenant, change).await {
        Ok(_) => Redirect::to(&format!("{}?notice=branding_saved#group-branding", policy_path(&tenant))).into_response(),
        Err(AdminError::Field(refused)) => {
            let label = console.ctx.message(&format!("console.branding.knob.{}", refused.field));
            let problem = format!("{label}: {}", console.ctx.message(refused.key));
            let typed = serde_json::json!({"display_name": name, "accent_colour": colour, "invalid": refused.field});
            super::policy::page_with_branding(&console, &tenant, StatusCode::UNPROCESSABLE_ENTITY, &[problem], &typed).await
        }
        Err(err) => console.refused(&err).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The form's fields, each a knob of [`BrandingChange`].
    const KNOBS: [&str; 5] = ["display_name", "accent_colour", "remove_accent_colour", "logo", "remove_logo"];

    #[test]
    fn every_branding_knob_is_on_the_page() {
        // A knob added to the change must be added here: this names every field.
        let BrandingChange { display_name: _, accent_colour: _, logo_png: _ } = BrandingChange::default();
        let page = include_str!("../../../../ui/templates/console/policy.html");
        for knob in KNOBS {
            assert!(page.contains(&format!("name=\"{knob}\"")), "{knob} is missing from console/policy.html");
        }
        assert!(page.contains("id=\"group-branding\"") && page.contains("id=\"branding-preview\""));
        assert!(page.contains("enctype=\"multipart/form-data\""), "the logo is a file");
    }
}
