//! /tenants/{tenant}/branding: the display name, accent colour and logo a tenant's users
//! see. The logo travels as base64 of the PNG bytes (checked as a PNG, never by a name).

use axum::Json;
use axum::extract::State;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{ApiJson, ApiPath, Caller};
use super::problem::Problem;
use crate::admin::AdminError;
use crate::admin::branding::{self, Branding, BrandingChange};
use crate::fields::FieldError;
use crate::fields::branding::KEY_LOGO_NOT_PNG;
use crate::state::SharedState;

type Result<T> = std::result::Result<T, Problem>;

/// A tenant's branding.
#[derive(Debug, Serialize, ToSchema)]
pub struct BrandingOut {
    pub display_name: String,
    /// `#rrggbb`, or null for Mamori's own colour.
    pub accent_colour: Option<String>,
    /// The logo PNG, base64; null when none is set.
    pub logo_png_base64: Option<String>,
    /// Where pages load the logo from (same origin), null when none is set.
    pub logo_url: Option<String>,
}

/// The new branding: the colour and the logo are replaced (absent or null removes them),
/// the display name only when given.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrandingIn {
    /// The tenant's display name (the users' display-name rule).
    pub display_name: Option<String>,
    /// `#` and six hex digits, with a contrast of at least 4.5:1 against white.
    pub accent_colour: Option<String>,
    /// A PNG of at most 48 KiB and 1024×1024 pixels, base64 (SVG is refused).
    pub logo_png_base64: Option<String>,
}

impl From<Branding> for BrandingOut {
    fn from(b: Branding) -> Self {
        BrandingOut {
            display_name: b.display_name,
            accent_colour: b.accent_colour,
            logo_png_base64: b.logo_png.map(|png| base64::engine::general_purpose::STANDARD.encode(png)),
            logo_url: b.logo_sha256.as_deref().map(|sha| crate::web::brand::logo_url(&b.slug, sha)),
        }
    }
}

/// Show a tenant's branding.
#[utoipa::path(get, path = "/tenants/{tenant}/branding", tag = "tenants", operation_id = "get_branding", params(("tenant" = String, Path, description = "Tenant slug")),
    responses((status = 200, description = "The branding", body = BrandingOut)))]
pub async fn get(State(s): State<SharedState>, Caller(p): Caller, ApiPath(slug): ApiPath<String>) -> Result<Json<BrandingOut>> {
    Ok(Json(branding::get(&s.app, &p, &slug).await?.into()))
}

/// Replace a tenant's branding; every value is checked before anything changes.
#[utoipa::path(put, path = "/tenants/{tenant}/branding", tag = "tenants", operation_id = "put_branding", params(("tenant" = String, Path, description = "Tenant slug")),
    request_body = BrandingIn, responses((status = 200, description = "The new branding", body = BrandingOut)))]
pub async fn put(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath(slug): ApiPath<String>,
    ApiJson(body): ApiJson<BrandingIn>,
) -> Result<Json<BrandingOut>> {
    let logo = match body.logo_png_base64.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
        Some(text) => Some(base64::engine::general_purpose::STANDARD.decode(text).map_err(|_| {
            AdminError::Field(FieldError {
                field: "logo_png_base64",
                key: KEY_LOGO_NOT_PNG,
                detail: "logo_png_base64: not base64 (RFC 4648, with padding)".to_owned(),
            })
        })?),
        None => None,
    };
    let change = BrandingChange { display_name: body.display_name, accent_colour: Some(body.accent_colour), logo_png: Some(logo) };
    Ok(Json(branding::change(&s.app, &p, &slug, change).await?.into()))
}
