//! The tenant's certificates in the console: search by serial, user or status (newest
//! first, 20 to a page), a certificate's page, and revoking it with an RFC 5280 reason
//! behind a confirmation page. The search and the revocation are the REST API's service
//! functions, so tenant confinement, the role rule and the audit trail are theirs.

use std::collections::HashMap;

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use mamori_ca::RevocationReason;
use mamori_storage::model::{ApiScope, Certificate, CertificateQuery, CertificateStatus};
use serde::Deserialize;
use uuid::Uuid;

use super::sites::NoticeQuery;
use super::users::user_href;
use super::{Console, console_or_return, open_console};
use crate::admin::{AdminError, Paging, certificates, users};
use crate::state::SharedState;
use crate::urlcode;
use crate::web::context::{FormFields, PageCtx, field};

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/console/t/{tenant}/certificates", get(search))
        .route("/console/t/{tenant}/certificates/{serial}", get(show))
        .route("/console/t/{tenant}/certificates/{serial}/revoke", post(revoke))
        .route("/console/t/{tenant}/expiring-certificates.csv", get(expiring_csv))
}

const PAGE_SIZE: u64 = 20;

fn list_path(tenant: &str) -> String {
    format!("/console/t/{}/certificates", urlcode::component(tenant))
}

fn certificate_path(tenant: &str, serial: &str) -> String {
    format!("{}/{}", list_path(tenant), urlcode::component(serial))
}

#[derive(Debug, Deserialize, Default)]
struct SearchQuery {
    serial: Option<String>,
    login_id: Option<String>,
    /// `active`, `revoked` or anything else for both.
    status: Option<String>,
    page: Option<String>,
    /// Days ahead: when given, the unrevoked certificates that expire within them instead.
    expiring_within_days: Option<String>,
}

/// A query parameter as typed, trimmed and cut to `max` characters.
fn bounded(value: Option<&str>, max: usize) -> String {
    value.unwrap_or_default().trim().chars().take(max).collect()
}

async fn search(ctx: PageCtx, Path(tenant): Path<String>, Query(query): Query<SearchQuery>) -> Response {
    if let Some(days) = query.expiring_within_days.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        return expiring(ctx, &tenant, days).await;
    }
    let serial = bounded(query.serial.as_deref(), 64);
    let login_id = bounded(query.login_id.as_deref(), 64);
    let status = query.status.clone().filter(|s| s == "active" || s == "revoked").unwrap_or_default();
    let requested: u64 = query.page.as_deref().and_then(|p| p.parse().ok()).unwrap_or(1).clamp(1, 100_000);
    let link = |page: u64| {
        format!(
            "{}?serial={}&login_id={}&status={status}&page={page}",
            list_path(&tenant),
            urlcode::component(&serial),
            urlcode::component(&login_id)
        )
    };
    let console = console_or_return!(ctx, &link(requested));
    let filter = CertificateQuery {
        serial_hex: (!serial.is_empty()).then(|| serial.clone()),
        status: status.parse::<CertificateStatus>().ok(),
        ..CertificateQuery::default()
    };
    let paging = Paging { offset: (requested - 1) * PAGE_SIZE, limit: PAGE_SIZE };
    let app = console.ctx.app();
    let who = (!login_id.is_empty()).then_some(login_id.as_str());
    let listed = match certificates::search(app, &console.principal, &tenant, &filter, who, paging).await {
        Ok(listed) => listed,
        Err(err) => return console.refused(&err).await,
    };
    let owners = owners(&console, &listed.items).await;
    let rows: Vec<serde_json::Value> = listed.items.iter().map(|c| row(&console, &tenant, c, &owners)).collect();
    console
        .page(
            StatusCode::OK,
            "console/certificates.html",
            &tenant,
            super::with_fields(
                serde_json::json!({ "serial": serial, "login_id": login_id, "status": status, "rows": rows }),
                console.paging_fields(requested, paging, listed.items.len(), listed.total, link),
            ),
        )
        .await
}

/// The expiring certificates (every one, soonest first) and a link to them as CSV.
async fn expiring(ctx: PageCtx, tenant: &str, typed: &str) -> Response {
    let typed: String = typed.chars().take(8).collect();
    let here = format!("{}?expiring_within_days={}", list_path(tenant), urlcode::component(&typed));
    let console = console_or_return!(ctx, &here);
    let Ok(days) = typed.parse::<u32>() else {
        return console.ctx.error_to_console(StatusCode::BAD_REQUEST, "console.certificates.expiring_days_invalid");
    };
    let list = match certificates::expiring(console.ctx.app(), &console.principal, tenant, days).await {
        Ok(list) => list,
        Err(AdminError::Invalid(_)) => {
            return console.ctx.error_to_console(StatusCode::BAD_REQUEST, "console.certificates.expiring_days_invalid");
        }
        Err(err) => return console.refused(&err).await,
    };
    let owners: HashMap<Uuid, String> = list.iter().map(|e| (e.user.id, e.user.login_id.clone())).collect();
    let rows: Vec<serde_json::Value> = list
        .iter()
        .map(|e| {
            let mut row = row(&console, tenant, &e.certificate, &owners);
            row["device_no"] = serde_json::json!(e.device.as_ref().map(|d| d.device_no));
            row["renewed"] = serde_json::json!(e.renewed);
            row
        })
        .collect();
    let paging = Paging { offset: 0, limit: u64::try_from(list.len()).unwrap_or(u64::MAX).max(1) };
    let total = u64::try_from(list.len()).unwrap_or(u64::MAX);
    console
        .page(
            StatusCode::OK,
            "console/certificates.html",
            tenant,
            super::with_fields(
                serde_json::json!({
                    "serial": "", "login_id": "", "status": "", "rows": rows,
                    "expiring_within_days": days,
                    "csv_href": format!("/console/t/{}/expiring-certificates.csv?within_days={days}", urlcode::component(tenant)),
                }),
                console.paging_fields(1, paging, list.len(), total, |_| here.clone()),
            ),
        )
        .await
}

#[derive(Debug, Deserialize, Default)]
struct ExpiringQuery {
    within_days: Option<String>,
}

async fn expiring_csv(ctx: PageCtx, Path(tenant): Path<String>, Query(query): Query<ExpiringQuery>) -> Response {
    let typed: String = query.within_days.unwrap_or_default().trim().chars().take(8).collect();
    let here = format!("/console/t/{}/expiring-certificates.csv?within_days={}", urlcode::component(&tenant), urlcode::component(&typed));
    let console = console_or_return!(ctx, &here);
    let Ok(days) = typed.parse::<u32>() else {
        return console.ctx.error_to_console(StatusCode::BAD_REQUEST, "console.certificates.expiring_days_invalid");
    };
    match certificates::expiring(console.ctx.app(), &console.principal, &tenant, days).await {
        Ok(list) => {
            let csv = certificates::expiring_csv(&list);
            crate::admin::api::records::csv_for_spreadsheets(&format!("expiring-certificates-{tenant}.csv"), &csv)
        }
        Err(AdminError::Invalid(_)) => console.ctx.error_to_console(StatusCode::BAD_REQUEST, "console.certificates.expiring_days_invalid"),
        Err(err) => console.refused(&err).await,
    }
}

/// The user IDs of the certificates' owners (the search confined them to the tenant).
async fn owners(console: &Console, certs: &[Certificate]) -> HashMap<Uuid, String> {
    let mut names = HashMap::new();
    for id in certs.iter().filter_map(|c| c.user_id) {
        if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(id)
            && let Ok(user) = console.ctx.app().storage.users().get(id).await
        {
            slot.insert(user.login_id);
        }
    }
    names
}

fn row(console: &Console, tenant: &str, cert: &Certificate, owners: &HashMap<Uuid, String>) -> serde_json::Value {
    let owner = cert.user_id.and_then(|id| owners.get(&id).cloned());
    serde_json::json!({
        "serial": cert.serial_hex,
        "href": certificate_path(tenant, &cert.serial_hex),
        "subject": cert.subject_cn,
        "login_id": owner,
        "user_href": owner.as_deref().map(|l| user_href(tenant, l)),
        "not_after": console.time(cert.not_after),
        "status": cert.status.to_string(),
        "status_label": console.ctx.message(&format!("console.certificate.{}", cert.status)),
        "revoked_at": cert.revoked_at.map(|at| console.time(at)),
        "revocation_reason": cert.revocation_reason.as_deref().map(|r| reason_label(console, r)),
        "active": cert.status == CertificateStatus::Active,
    })
}

pub(super) fn reason_label(console: &Console, reason: &str) -> String {
    if RevocationReason::ALL.iter().any(|r| r.as_str() == reason) {
        console.ctx.message(&format!("console.revocation_reason.{reason}"))
    } else {
        reason.to_owned()
    }
}

async fn show(ctx: PageCtx, Path((tenant, serial)): Path<(String, String)>, Query(query): Query<NoticeQuery>) -> Response {
    let console = console_or_return!(ctx, &certificate_path(&tenant, &serial));
    let notice = query.text(&console, &["revoked"], "console.certificate_page.notice");
    match certificates::get(console.ctx.app(), &console.principal, &tenant, &serial, ApiScope::Read).await {
        Ok((_, cert)) => certificate_page(&console, &tenant, &cert, StatusCode::OK, "", &[], notice).await,
        Err(err) => console.refused(&err).await,
    }
}

async fn certificate_page(
    console: &Console,
    tenant: &str,
    cert: &Certificate,
    status: StatusCode,
    reason: &str,
    problems: &[String],
    notice: Option<String>,
) -> Response {
    let owners = owners(console, std::slice::from_ref(cert)).await;
    let reasons: Vec<serde_json::Value> = RevocationReason::ALL
        .iter()
        .map(|r| serde_json::json!({"value": r.as_str(), "label": reason_label(console, r.as_str()), "selected": r.as_str() == reason}))
        .collect();
    console
        .page(
            status,
            "console/certificate.html",
            tenant,
            serde_json::json!({
                "certificate": row(console, tenant, cert, &owners),
                "reasons": reasons,
                "problem": problems,
                "notice": notice,
                "list_href": list_path(tenant),
            }),
        )
        .await
}

/// Revokes with the chosen reason once confirmed; the first POST shows the confirmation
/// (after the service's own checks: the tenant's certificate, a role that may act on its
/// user), declining it revokes nothing.
async fn revoke(ctx: PageCtx, Path((tenant, serial)): Path<(String, String)>, form: Result<Form<FormFields>, FormRejection>) -> Response {
    let href = certificate_path(&tenant, &serial);
    let mut console = console_or_return!(ctx, &href);
    console.path = format!("{href}/revoke");
    let fields = match console.ctx.accept_form(form) {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let app = console.ctx.app();
    let (tenant_row, cert) = match certificates::get(app, &console.principal, &tenant, &serial, ApiScope::Write).await {
        Ok(found) => found,
        Err(err) => return console.refused(&err).await,
    };
    let reason = field(&fields, "reason");
    if !RevocationReason::ALL.iter().any(|r| r.as_str() == reason) {
        let problems = [console.ctx.message("console.certificate_page.problem.reason")];
        return certificate_page(&console, &tenant, &cert, StatusCode::UNPROCESSABLE_ENTITY, reason, &problems, None).await;
    }
    if field(&fields, "confirmed") != "yes" {
        if let Some(user_id) = cert.user_id {
            let checked = async {
                let user = app.storage.users().get(user_id).await?;
                users::check_may_act_on(app, &console.principal, &tenant_row, &user, "certificate.revoke").await
            }
            .await;
            if let Err(err) = checked {
                return console.refused(&err).await;
            }
        }
        return confirmation(&console, &tenant, &cert, reason).await;
    }
    match certificates::revoke(app, &console.principal, &tenant, &serial, reason).await {
        Ok(_) => Redirect::to(&format!("{href}?notice=revoked")).into_response(),
        Err(AdminError::Conflict(_)) => {
            let problems = [console.ctx.message("console.certificate_page.problem.revoked")];
            certificate_page(&console, &tenant, &cert, StatusCode::CONFLICT, reason, &problems, None).await
        }
        Err(err) => console.refused(&err).await,
    }
}

async fn confirmation(console: &Console, tenant: &str, cert: &Certificate, reason: &str) -> Response {
    let owners = owners(console, std::slice::from_ref(cert)).await;
    let href = certificate_path(tenant, &cert.serial_hex);
    let confirmation = super::Confirmation {
        title_key: "console.confirm.revoke.title".into(),
        submit_key: "console.confirm.revoke.submit".into(),
        lead: console.ctx.message("console.confirm.revoke.lead"),
        login_id: cert.user_id.and_then(|id| owners.get(&id).cloned()),
        facts: vec![
            ("console.certificates.serial".into(), cert.serial_hex.clone()),
            ("console.certificates.subject".into(), cert.subject_cn.clone()),
            ("console.certificates.reason".into(), reason_label(console, reason)),
        ],
        hidden: vec![("reason", reason.to_owned())],
        action: format!("{href}/revoke"),
        back: href,
        ..Default::default()
    };
    console.confirm(tenant, confirmation).await
}
