//! CSV import of users, certificates, login history and the audit trail.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mamori_storage::model::{ApiScope, AuditQuery, CertificateQuery, CertificateStatus};
use uuid::Uuid;

use super::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use super::problem::Problem;
use super::schema::{
    AuditEventList, AuditEventOut, AuditFilterParams, CertificateFilter, CertificateList, CertificateOut, ImportReportOut,
    LoginEventFilterParams, LoginEventList, LoginEventOut, PageInfo, RevokeIn, RowFailureOut, parse_time,
};
use crate::admin::events::LoginEventFilter;
use crate::admin::{AdminError, Paging, audit, certificates, events, import};
use crate::app::App;
use crate::state::SharedState;

type Result<T> = std::result::Result<T, Problem>;

/// Import users from CSV (header line: login_id, email and optionally display_name,
/// login_method, locale, time_zone). Each row succeeds or fails alone; the report gives
/// the line number and reason of every failed row.
#[utoipa::path(post, path = "/tenants/{tenant}/users/import", tag = "users", params(("tenant" = String, Path, description = "Tenant slug")),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, description = "Per-row report", body = ImportReportOut)))]
pub async fn import_users(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath(slug): ApiPath<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<ImportReportOut>> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content_type.to_ascii_lowercase().starts_with("text/csv") {
        return Err(Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "send the CSV as text/csv"));
    }
    // Larger bodies never get here: server::body_limit refuses them with 413.
    let text = std::str::from_utf8(&body).map_err(|_| AdminError::Invalid("the CSV is not UTF-8".to_owned()))?;
    let report = import::import_users(&s.app, &p, &slug, text).await?;
    Ok(Json(ImportReportOut {
        created: report.created,
        failed: report.failed.into_iter().map(|f| RowFailureOut { line: f.line as u64, login_id: f.login_id, reason: f.reason }).collect(),
    }))
}

/// Search the certificates of a tenant's users.
#[utoipa::path(get, path = "/tenants/{tenant}/certificates", tag = "certificates",
    params(("tenant" = String, Path, description = "Tenant slug"), CertificateFilter),
    responses((status = 200, description = "Certificates, newest first", body = CertificateList)))]
pub async fn certificates(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath(slug): ApiPath<String>,
    ApiQuery(f): ApiQuery<CertificateFilter>,
) -> Result<Json<CertificateList>> {
    let paging = Paging::new(f.offset, f.limit)?;
    let status = f
        .status
        .as_deref()
        .map(|v| v.parse::<CertificateStatus>().map_err(|_| AdminError::Invalid(format!("status: `{v}` is not active or revoked"))))
        .transpose()?;
    let query = CertificateQuery { status, serial_hex: f.serial, subject_contains: f.subject, ..CertificateQuery::default() };
    let listed = certificates::search(&s.app, &p, &slug, &query, f.login_id.as_deref(), paging).await?;
    Ok(Json(CertificateList { page: PageInfo::from(&listed), items: listed.items.iter().map(CertificateOut::from).collect() }))
}

/// Show a certificate by serial.
#[utoipa::path(get, path = "/tenants/{tenant}/certificates/{serial}", tag = "certificates",
    params(("tenant" = String, Path, description = "Tenant slug"), ("serial" = String, Path, description = "Serial in hex")),
    responses((status = 200, description = "The certificate", body = CertificateOut)))]
pub async fn certificate(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath((slug, serial)): ApiPath<(String, String)>,
) -> Result<Json<CertificateOut>> {
    let (_, cert) = certificates::get(&s.app, &p, &slug, &serial, ApiScope::Read).await?;
    Ok(Json(CertificateOut::from(&cert)))
}

/// Revoke a certificate; the next CRL lists it and it logs no one in.
#[utoipa::path(post, path = "/tenants/{tenant}/certificates/{serial}/revoke", tag = "certificates",
    params(("tenant" = String, Path, description = "Tenant slug"), ("serial" = String, Path, description = "Serial in hex")),
    request_body = RevokeIn, responses((status = 200, description = "Revoked", body = CertificateOut)))]
pub async fn revoke(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath((slug, serial)): ApiPath<(String, String)>,
    ApiJson(b): ApiJson<RevokeIn>,
) -> Result<Json<CertificateOut>> {
    Ok(Json(CertificateOut::from(&certificates::revoke(&s.app, &p, &slug, &serial, &b.reason).await?)))
}

fn login_filter(f: &LoginEventFilterParams) -> std::result::Result<LoginEventFilter, AdminError> {
    Ok(LoginEventFilter {
        login_id: f.login_id.clone(),
        since: parse_time("since", f.since.as_deref())?,
        until: parse_time("until", f.until.as_deref())?,
        result: f.result.clone(),
    })
}

/// User IDs for user references, looked up once each.
async fn login_ids(app: &App, ids: impl Iterator<Item = Uuid>) -> HashMap<Uuid, String> {
    let mut out = HashMap::new();
    for id in ids {
        if let std::collections::hash_map::Entry::Vacant(slot) = out.entry(id)
            && let Ok(user) = app.storage.users().get(id).await
        {
            slot.insert(user.login_id);
        }
    }
    out
}

/// Query a tenant's login history by user, time range and result.
#[utoipa::path(get, path = "/tenants/{tenant}/login-events", tag = "events",
    params(("tenant" = String, Path, description = "Tenant slug"), LoginEventFilterParams),
    responses((status = 200, description = "Login attempts, newest first", body = LoginEventList)))]
pub async fn login_events(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath(slug): ApiPath<String>,
    ApiQuery(f): ApiQuery<LoginEventFilterParams>,
) -> Result<Json<LoginEventList>> {
    let listed = events::search(&s.app, &p, &slug, &login_filter(&f)?, Paging::new(f.offset, f.limit)?).await?;
    let names = login_ids(&s.app, listed.items.iter().filter_map(|e| e.user_id)).await;
    let items = listed.items.iter().map(|e| LoginEventOut::new(e, e.user_id.and_then(|id| names.get(&id).cloned()))).collect();
    Ok(Json(LoginEventList { page: PageInfo::from(&listed), items }))
}

/// The same query as CSV (offset and limit are ignored: every match, newest first).
#[utoipa::path(get, path = "/tenants/{tenant}/login-events.csv", tag = "events",
    params(("tenant" = String, Path, description = "Tenant slug"), LoginEventFilterParams),
    responses((status = 200, description = "CSV with a header line", body = String, content_type = "text/csv")))]
pub async fn login_events_csv(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath(slug): ApiPath<String>,
    ApiQuery(f): ApiQuery<LoginEventFilterParams>,
) -> Result<Response> {
    Paging::new(f.offset, f.limit)?;
    let csv = events::export_csv(&s.app, &p, &slug, &login_filter(&f)?).await?;
    Ok(csv_attachment(&format!("login-events-{slug}.csv"), csv))
}

fn audit_query(f: &AuditFilterParams) -> std::result::Result<AuditQuery, AdminError> {
    Ok(AuditQuery {
        tenant_id: None,
        actor: f.actor.clone(),
        action: f.action.clone(),
        target_contains: f.target.clone(),
        since: parse_time("since", f.since.as_deref())?,
        until: parse_time("until", f.until.as_deref())?,
    })
}

/// A tenant's audit trail: who did what to which object, when and from where.
#[utoipa::path(get, path = "/tenants/{tenant}/audit-events", tag = "events",
    params(("tenant" = String, Path, description = "Tenant slug"), AuditFilterParams),
    responses((status = 200, description = "Admin actions, newest first", body = AuditEventList)))]
pub async fn tenant_audit_events(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath(slug): ApiPath<String>,
    ApiQuery(f): ApiQuery<AuditFilterParams>,
) -> Result<Json<AuditEventList>> {
    let listed = audit::search(&s.app, &p, Some(&slug), audit_query(&f)?, Paging::new(f.offset, f.limit)?).await?;
    Ok(Json(AuditEventList { page: PageInfo::from(&listed), items: listed.items.iter().map(AuditEventOut::from).collect() }))
}

/// The same query as CSV (offset and limit are ignored: every match, newest first, at most
/// 100,000). Cells a spreadsheet would run as a formula are prefixed with `'`.
#[utoipa::path(get, path = "/tenants/{tenant}/audit-events.csv", tag = "events",
    params(("tenant" = String, Path, description = "Tenant slug"), AuditFilterParams),
    responses((status = 200, description = "CSV with a header line", body = String, content_type = "text/csv")))]
pub async fn tenant_audit_events_csv(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath(slug): ApiPath<String>,
    ApiQuery(f): ApiQuery<AuditFilterParams>,
) -> Result<Response> {
    Paging::new(f.offset, f.limit)?;
    let csv = audit::export_csv(&s.app, &p, Some(&slug), audit_query(&f)?).await?;
    Ok(csv_attachment(&format!("audit-events-{slug}.csv"), csv))
}

/// A CSV download; the file name loses anything a header cannot carry. Exports hold
/// users' names and addresses or the audit trail: no shared cache keeps a copy.
pub(crate) fn csv_attachment(file_name: &str, csv: String) -> Response {
    let disposition = format!("attachment; filename=\"{file_name}\"").replace(|c: char| !c.is_ascii() || c.is_ascii_control(), "_");
    let headers = [
        (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
        (header::CONTENT_DISPOSITION, disposition),
        (header::CACHE_CONTROL, "no-store".to_owned()),
    ];
    (headers, csv).into_response()
}

/// [`csv_attachment`] for a person who opens it in a spreadsheet: with a UTF-8 byte order
/// mark, without which Excel reads the file in the system's code page and garbles
/// Japanese names. The API's CSV has none (scripts read it); Mamori's import takes both.
pub(crate) fn csv_for_spreadsheets(file_name: &str, csv: &str) -> Response {
    csv_attachment(file_name, format!("\u{feff}{csv}"))
}

/// The whole audit trail, every tenant (super-admin).
#[utoipa::path(get, path = "/audit-events", tag = "events", params(AuditFilterParams),
    responses((status = 200, description = "Admin actions, newest first", body = AuditEventList)))]
pub async fn audit_events(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiQuery(f): ApiQuery<AuditFilterParams>,
) -> Result<Json<AuditEventList>> {
    let listed = audit::search(&s.app, &p, None, audit_query(&f)?, Paging::new(f.offset, f.limit)?).await?;
    Ok(Json(AuditEventList { page: PageInfo::from(&listed), items: listed.items.iter().map(AuditEventOut::from).collect() }))
}
