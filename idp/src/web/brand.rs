//! The tenant's branding on its pages: the header's name and logo, and the accent colour
//! as a small style sheet of its own. Both files are served here, from the same origin,
//! so a login page fetches nothing from a third party and the page CSP (`default-src
//! 'self'`, no inline styles) stays as it is. What reaches the style sheet is only a
//! colour that passed [`crate::fields::AccentColour`]; it is checked again on the way out.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mamori_storage::model::{Tenant, TenantBranding};
use serde::Serialize;

use crate::app::App;
use crate::fields::{AccentColour, TenantSlug};
use crate::state::SharedState;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/branding/{slug}/logo.png", get(logo))
        .route("/branding/{slug}/accent.css", get(|state: State<SharedState>, slug: Path<String>| accent(state, slug, ":root")))
        .route("/branding/{slug}/preview.css", get(|state: State<SharedState>, slug: Path<String>| accent(state, slug, ".brand-preview")))
}

/// What `base.html` shows as `brand`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct PageBrand {
    pub name: String,
    pub slug: String,
    pub logo_url: Option<String>,
    pub style_url: Option<String>,
    /// The colour, for a preview's text (never put into a style by a template).
    pub accent_colour: Option<String>,
    /// The relying site a login page leads to ("Log in to Shop").
    pub site_name: Option<String>,
}

impl PageBrand {
    pub fn new(tenant: &Tenant, branding: &TenantBranding) -> Self {
        let slug = crate::urlcode::component(&tenant.slug);
        let colour = branding.accent_colour.as_deref().and_then(|c| AccentColour::parse(c).ok());
        PageBrand {
            name: tenant.display_name.clone(),
            slug: tenant.slug.clone(),
            // The digest names the version: a new logo or colour is a new URL, so both
            // files may be cached for long.
            logo_url: branding.logo_sha256.as_deref().map(|sha| logo_url(&tenant.slug, sha)),
            style_url: colour.as_ref().map(|c| format!("/branding/{slug}/accent.css?v={}", &c.as_str()[1..])),
            accent_colour: colour.map(AccentColour::into_string),
            site_name: None,
        }
    }

    /// The tenant's brand, or just its name when the branding cannot be read now (a page
    /// is not refused for its decoration, nor held up by it: see [`decoration`]).
    pub async fn load(app: &App, tenant: &Tenant) -> Self {
        let branding = match decoration(app.storage.tenant_brandings().get(tenant.id)).await {
            Some(Ok(branding)) => branding,
            Some(Err(err)) => {
                tracing::warn!(%err, "tenant branding unavailable");
                TenantBranding::default()
            }
            None => {
                tracing::warn!("tenant branding not read within its budget");
                TenantBranding::default()
            }
        };
        Self::new(tenant, &branding)
    }
}

/// How long a page waits for what only decorates it (brand, the relying site's name).
/// While the database is gone, each read waits for the pool's acquire timeout before it
/// fails; a decoration read that swallowed that wait would add it to the one the page's
/// own reads already take before their 503. With a healthy database these reads take
/// milliseconds.
pub const DECORATION_BUDGET: std::time::Duration = std::time::Duration::from_secs(1);

/// `read` if it finishes within [`DECORATION_BUDGET`].
pub async fn decoration<T>(read: impl std::future::Future<Output = T>) -> Option<T> {
    tokio::time::timeout(DECORATION_BUDGET, read).await.ok()
}

/// The name of the relying site whose sign-in request `return_to` resumes (an OIDC
/// client's or a SAML SP's registered name), if it is still waiting.
pub async fn relying_site_name(app: &App, return_to: &str) -> Option<String> {
    decoration(read_relying_site_name(app, return_to)).await.flatten()
}

async fn read_relying_site_name(app: &App, return_to: &str) -> Option<String> {
    let now = app.now();
    if let Some(id) = return_to.strip_prefix("/oidc/resume/") {
        crate::secrets::is_url_token(id).then_some(())?;
        let lookup = mamori_storage::token_lookup_hash(id);
        let kind = mamori_storage::model::PendingRequestKind::Authorization;
        let pending = app.storage.oidc_grants().find_pending(&lookup, kind, now).await.ok()??;
        let request: crate::oidc::authorize::AuthorizationRequest = serde_json::from_value(pending.params).ok()?;
        let client = crate::oidc::clients::load(app, pending.tenant_id, &request.client_id).await.ok()??;
        // A dynamically registered client may have no name: the page then names none.
        return Some(client.client.name).filter(|name| !name.is_empty());
    }
    if let Some(id) = return_to.strip_prefix("/saml/resume/") {
        crate::secrets::is_url_token(id).then_some(())?;
        let lookup = mamori_storage::token_lookup_hash(id);
        let kind = mamori_storage::model::SamlPendingKind::Authn;
        let entry = app.storage.saml_records().find_pending(&lookup, kind, now).await.ok()??;
        let pending: crate::saml::sso::PendingAuthn = serde_json::from_value(entry.data).ok()?;
        let sp = crate::saml::service_providers::load(app, entry.tenant_id, &pending.sp_entity_id).await.ok()??;
        return Some(sp.sp.name.clone());
    }
    None
}

/// The logo's address: the digest names its version, so a new logo is a new URL.
pub fn logo_url(slug: &str, sha256: &str) -> String {
    format!("/branding/{}/logo.png?v={}", crate::urlcode::component(slug), &sha256[..sha256.len().min(16)])
}

async fn tenant(state: &SharedState, slug: &str) -> Option<Tenant> {
    TenantSlug::parse(slug).ok()?;
    state.app.storage.tenants().get_by_slug(slug).await.ok().flatten()
}

/// The logo, as the PNG it was checked to be: `nosniff` and a sandbox CSP, so even
/// opened on its own it runs nothing.
async fn logo(State(state): State<SharedState>, Path(slug): Path<String>) -> Response {
    let Some(tenant) = tenant(&state, &slug).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let png = match state.app.storage.tenant_brandings().get_with_logo(tenant.id).await {
        Ok(TenantBranding { logo_png: Some(png), .. }) if crate::fields::Logo::parse(&png).is_ok() => png,
        Ok(_) => return StatusCode::NOT_FOUND.into_response(),
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'; sandbox"),
            (header::CONTENT_DISPOSITION, "inline; filename=\"logo.png\""),
        ],
        png,
    )
        .into_response()
}

/// The accent colour as a custom property of `scope` (the page, or the console's preview
/// box); the rest of the design reads it.
async fn accent(State(state): State<SharedState>, Path(slug): Path<String>, scope: &'static str) -> Response {
    let Some(tenant) = tenant(&state, &slug).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let colour = match state.app.storage.tenant_brandings().get(tenant.id).await {
        Ok(branding) => branding.accent_colour.as_deref().and_then(|c| AccentColour::parse(c).ok()),
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    let Some(colour) = colour else {
        return StatusCode::NOT_FOUND.into_response();
    };
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=86400")], accent_css(scope, &colour))
        .into_response()
}

fn accent_css(scope: &str, colour: &AccentColour) -> String {
    format!("{scope} {{ --accent: {colour}; }}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_checked_colour_reaches_the_style_sheet() {
        let colour = AccentColour::parse("#1A4F8B").expect("a dark blue");
        assert_eq!(accent_css(":root", &colour), ":root { --accent: #1a4f8b; }\n");
        // A stored value that would not pass today (written by hand into the database)
        // gives no style sheet and no colour on the page.
        let tenant = Tenant {
            id: uuid::Uuid::nil(),
            slug: "acme".into(),
            display_name: "Acme".into(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            policy: Default::default(),
        };
        let hostile = TenantBranding { accent_colour: Some("red;}body{display:none".into()), ..Default::default() };
        let brand = PageBrand::new(&tenant, &hostile);
        assert_eq!((brand.style_url, brand.accent_colour), (None, None));
        let honest = TenantBranding { accent_colour: Some("#1a4f8b".into()), logo_sha256: Some("ab".repeat(32)), logo_png: None };
        let brand = PageBrand::new(&tenant, &honest);
        assert_eq!(brand.style_url.as_deref(), Some("/branding/acme/accent.css?v=1a4f8b"));
        assert_eq!(brand.logo_url.as_deref(), Some("/branding/acme/logo.png?v=abababababababab"));
    }
}
