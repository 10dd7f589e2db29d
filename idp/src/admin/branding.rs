//! A tenant's branding: display name, accent colour and logo, as its users see them on
//! every page and in mails. The console, the admin API and the CLI change it here only.

use mamori_storage::model::{ApiScope, Tenant, TenantBranding};
use sha2::{Digest as _, Sha256};

use super::{AdminError, Principal, audit};
use crate::app::App;
use crate::fields::{AccentColour, DisplayName, Logo};

/// A tenant's branding, the logo included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Branding {
    pub slug: String,
    pub display_name: String,
    pub accent_colour: Option<String>,
    pub logo_png: Option<Vec<u8>>,
    pub logo_sha256: Option<String>,
}

/// What to change: `None` keeps a value; `Some(None)` removes the colour or the logo.
#[derive(Clone, Debug, Default)]
pub struct BrandingChange {
    pub display_name: Option<String>,
    pub accent_colour: Option<Option<String>>,
    pub logo_png: Option<Option<Vec<u8>>>,
}

pub async fn get(app: &App, principal: &Principal, slug: &str) -> Result<Branding, AdminError> {
    let tenant = principal.tenant(app, slug, ApiScope::Read).await?;
    let stored = app.storage.tenant_brandings().get_with_logo(tenant.id).await?;
    Ok(branding(&tenant, stored))
}

/// Checks every given value first, so a refused one leaves everything as it was.
pub async fn change(app: &App, principal: &Principal, slug: &str, change: BrandingChange) -> Result<Branding, AdminError> {
    let tenant = principal.tenant(app, slug, ApiScope::Write).await?;
    let display_name = change.display_name.as_deref().map(DisplayName::parse).transpose()?;
    let accent = match change.accent_colour {
        Some(Some(colour)) => Some(Some(AccentColour::parse(&colour)?.into_string())),
        Some(None) => Some(None),
        None => None,
    };
    let logo = match change.logo_png {
        Some(Some(bytes)) => Some(Some(Logo::parse(&bytes)?.into_bytes())),
        Some(None) => Some(None),
        None => None,
    };
    let mut stored = app.storage.tenant_brandings().get_with_logo(tenant.id).await?;
    if let Some(accent) = accent {
        stored.accent_colour = accent;
    }
    if let Some(logo) = logo {
        stored.logo_sha256 = logo.as_deref().map(|png| hex::encode(Sha256::digest(png)));
        stored.logo_png = logo;
    }
    app.storage.tenant_brandings().set(tenant.id, &stored, app.now()).await?;
    let mut tenant = tenant;
    if let Some(name) = display_name {
        app.storage.tenants().set_display_name(tenant.id, name.as_str()).await?;
        tenant.display_name = name.into_string();
    }
    let details = serde_json::json!({
        "display_name": tenant.display_name,
        "accent_colour": stored.accent_colour,
        "logo_sha256": stored.logo_sha256,
    });
    audit::record(app, principal, Some(tenant.id), "tenant.branding.update", &format!("tenant:{slug}"), details).await;
    Ok(branding(&tenant, stored))
}

fn branding(tenant: &Tenant, stored: TenantBranding) -> Branding {
    Branding {
        slug: tenant.slug.clone(),
        display_name: tenant.display_name.clone(),
        accent_colour: stored.accent_colour,
        logo_png: stored.logo_png,
        logo_sha256: stored.logo_sha256,
    }
}
