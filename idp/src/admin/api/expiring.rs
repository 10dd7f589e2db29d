//! Certificates that expire soon (issue 21): the list and its CSV export, both from
//! `admin::certificates::expiring`, as the CLI and the console show them.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use mamori_storage::model::ExpiringCertificate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{ApiPath, ApiQuery, Caller};
use super::problem::Problem;
use super::records::csv_attachment;
use super::schema::{CertificateOut, rfc3339};
use crate::admin::certificates;
use crate::state::SharedState;

type Result<T> = std::result::Result<T, Problem>;

/// The window looked ahead when none is given.
pub const DEFAULT_WITHIN_DAYS: u32 = 30;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExpiringFilter {
    /// Days ahead, 1 to 3650; 30 when absent.
    pub within_days: Option<u32>,
}

/// An unrevoked certificate that expires soon, with its owner and device.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExpiringCertificateOut {
    pub certificate: CertificateOut,
    pub login_id: String,
    pub display_name: String,
    /// active or disabled.
    pub user_status: String,
    /// The device it was issued for; absent for a certificate of no device.
    pub device_no: Option<u32>,
    pub device_email: Option<String>,
    /// Whether the device has a newer certificate already (renewed or reissued).
    pub renewed: bool,
    /// Same as `certificate.not_after`, for sorting without parsing the nested object.
    pub not_after: String,
}

impl From<&ExpiringCertificate> for ExpiringCertificateOut {
    fn from(e: &ExpiringCertificate) -> Self {
        ExpiringCertificateOut {
            certificate: CertificateOut::from(&e.certificate),
            login_id: e.user.login_id.clone(),
            display_name: e.user.display_name.clone(),
            user_status: e.user.status.to_string(),
            device_no: e.device.as_ref().map(|d| d.device_no),
            device_email: e.device.as_ref().map(|d| d.email.clone()),
            renewed: e.renewed,
            not_after: rfc3339(e.certificate.not_after),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExpiringCertificateList {
    pub within_days: u32,
    /// Soonest first.
    pub items: Vec<ExpiringCertificateOut>,
}

/// Unrevoked certificates of the tenant's users that expire within `within_days`, soonest
/// first (every match: no paging).
#[utoipa::path(get, path = "/tenants/{tenant}/expiring-certificates", tag = "certificates",
    params(("tenant" = String, Path, description = "Tenant slug"), ExpiringFilter),
    responses((status = 200, description = "Expiring certificates, soonest first", body = ExpiringCertificateList)))]
pub async fn list(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath(slug): ApiPath<String>,
    ApiQuery(f): ApiQuery<ExpiringFilter>,
) -> Result<Json<ExpiringCertificateList>> {
    let within_days = f.within_days.unwrap_or(DEFAULT_WITHIN_DAYS);
    let list = certificates::expiring(&s.app, &p, &slug, within_days).await?;
    Ok(Json(ExpiringCertificateList { within_days, items: list.iter().map(ExpiringCertificateOut::from).collect() }))
}

/// The same list as CSV.
#[utoipa::path(get, path = "/tenants/{tenant}/expiring-certificates.csv", tag = "certificates",
    params(("tenant" = String, Path, description = "Tenant slug"), ExpiringFilter),
    responses((status = 200, description = "CSV with a header line", body = String, content_type = "text/csv")))]
pub async fn csv(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath(slug): ApiPath<String>,
    ApiQuery(f): ApiQuery<ExpiringFilter>,
) -> Result<Response> {
    let list = certificates::expiring(&s.app, &p, &slug, f.within_days.unwrap_or(DEFAULT_WITHIN_DAYS)).await?;
    Ok(csv_attachment(&format!("expiring-certificates-{slug}.csv"), certificates::expiring_csv(&list)))
}

#[cfg(test)]
#[path = "expiring_tests.rs"]
mod tests;
