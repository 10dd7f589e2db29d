//! The tenant's audit trail in the console: who did what to which object, when and from
//! where, newest first, 50 to a page; filtered by actor, action, target and days (on the
//! operator's clock), and exported as CSV with the same filters. Both read through the
//! service functions the REST API uses, so a tenant admin sees only their tenant's trail.

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use mamori_storage::model::{AuditEvent, AuditQuery};
use serde::Deserialize;
use time::OffsetDateTime;

use super::{Console, console_or_return, open_console};
use crate::admin::{Paging, audit};
use crate::state::SharedState;
use crate::urlcode;
use crate::web::context::PageCtx;

pub fn routes() -> Router<SharedState> {
    Router::new().route("/console/t/{tenant}/audit", get(list)).route("/console/t/{tenant}/audit.csv", get(export))
}

const PAGE_SIZE: u64 = 50;

/// Actions offered as suggestions in the filter (any other is typed).
const KNOWN_ACTIONS: &[&str] = &[
    "user.create",
    "user.update",
    "user.delete",
    "user.disable",
    "user.enable",
    "user.unlock",
    "user.force-password-change",
    "user.enrollment-ticket",
    "user.reissue-certificate",
    "user.end-sessions",
    "user.device-email",
    "certificate.revoke",
    "tenant.policy.update",
    "tenant.branding.update",
    "oidc-client.create",
    "oidc-client.update",
    "oidc-client.rotate-secret",
    "oidc-client.delete",
    "console.refused",
];

#[derive(Debug, Deserialize, Default)]
struct AuditParams {
    actor: Option<String>,
    action: Option<String>,
    target: Option<String>,
    /// First day shown, `YYYY-MM-DD` on the operator's clock.
    since: Option<String>,
    /// Last day shown, likewise (the whole day).
    until: Option<String>,
    page: Option<String>,
}

/// The filters as typed (bounded), to show again and to put in links.
struct Filters {
    actor: String,
    action: String,
    target: String,
    since: String,
    until: String,
}

impl Filters {
    fn of(params: &AuditParams) -> Self {
        let bounded = |v: &Option<String>| v.as_deref().unwrap_or_default().trim().chars().take(200).collect::<String>();
        Filters {
            actor: bounded(&params.actor),
            action: bounded(&params.action),
            target: bounded(&params.target),
            since: bounded(&params.since),
            until: bounded(&params.until),
        }
    }

    fn query_string(&self) -> String {
        format!(
            "actor={}&action={}&target={}&since={}&until={}",
            urlcode::component(&self.actor),
            urlcode::component(&self.action),
            urlcode::component(&self.target),
            urlcode::component(&self.since),
            urlcode::component(&self.until)
        )
    }

    /// The service's query, or the name of the day field that is not a date.
    fn query(&self, time_zone: &str) -> Result<AuditQuery, &'static str> {
        let text = |v: &str| (!v.is_empty()).then(|| v.to_owned());
        let since = if self.since.is_empty() { None } else { Some(day_start(&self.since, 0, time_zone).ok_or("since")?) };
        let until = if self.until.is_empty() { None } else { Some(day_start(&self.until, 1, time_zone).ok_or("until")?) };
        Ok(AuditQuery {
            tenant_id: None,
            actor: text(&self.actor),
            action: text(&self.action),
            target_contains: text(&self.target),
            since,
            until,
        })
    }
}

/// The start of the day `days` after `date` (`YYYY-MM-DD`) in `time_zone`.
fn day_start(date: &str, days: i64, time_zone: &str) -> Option<OffsetDateTime> {
    // Only the form a date field sends: the parser would also take a date-time.
    if date.len() != 10 || !date.chars().all(|c| c.is_ascii_digit() || c == '-') {
        return None;
    }
    let day: jiff::civil::Date = date.parse().ok()?;
    let day = day.checked_add(jiff::Span::new().days(days)).ok()?;
    let start = day.to_zoned_datetime(crate::flows::account::zone(time_zone)).ok()?;
    OffsetDateTime::from_unix_timestamp(start.timestamp().as_second()).ok()
}

fn audit_path(tenant: &str) -> String {
    format!("/console/t/{}/audit", urlcode::component(tenant))
}

async fn list(ctx: PageCtx, Path(tenant): Path<String>, Query(params): Query<AuditParams>) -> Response {
    let filters = Filters::of(&params);
    let requested: u64 = params.page.as_deref().and_then(|p| p.parse().ok()).unwrap_or(1).clamp(1, 100_000);
    let link = |page: u64| format!("{}?{}&page={page}", audit_path(&tenant), filters.query_string());
    let console = console_or_return!(ctx, &link(requested));
    let query = match filters.query(&console.operator.time_zone) {
        Ok(query) => query,
        Err(field) => {
            let problem = format!(
                "{}: {}",
                console.ctx.message(&format!("console.audit.{field}")),
                console.ctx.message("console.audit.problem.date")
            );
            return audit_page(&console, &tenant, StatusCode::UNPROCESSABLE_ENTITY, &filters, None, &[problem], &[field]).await;
        }
    };
    let paging = Paging { offset: (requested - 1) * PAGE_SIZE, limit: PAGE_SIZE };
    let listed = match audit::search(console.ctx.app(), &console.principal, Some(&tenant), query, paging).await {
        Ok(listed) => listed,
        Err(err) => return console.refused(&err).await,
    };
    let page = super::with_fields(
        serde_json::json!({ "rows": listed.items.iter().map(|e| row(&console, e)).collect::<Vec<_>>() }),
        console.paging_fields(requested, paging, listed.items.len(), listed.total, link),
    );
    audit_page(&console, &tenant, StatusCode::OK, &filters, Some(page), &[], &[]).await
}

async fn audit_page(
    console: &Console,
    tenant: &str,
    status: StatusCode,
    filters: &Filters,
    results: Option<serde_json::Value>,
    problems: &[String],
    invalid: &[&str],
) -> Response {
    let mut ctx = serde_json::json!({
        "actor": filters.actor,
        "action": filters.action,
        "target": filters.target,
        "since": filters.since,
        "until": filters.until,
        "actions": KNOWN_ACTIONS,
        "problem": problems,
        "invalid": invalid,
        "csv_href": format!("{}.csv?{}", audit_path(tenant), filters.query_string()),
    });
    if let (Some(map), Some(serde_json::Value::Object(results))) = (ctx.as_object_mut(), results) {
        map.extend(results);
    }
    console.page(status, "console/audit.html", tenant, ctx).await
}

fn row(console: &Console, event: &AuditEvent) -> serde_json::Value {
    serde_json::json!({
        "at": console.time(event.occurred_at),
        "actor": event.actor,
        "action": event.action,
        "target": event.target,
        "outcome": event.outcome,
        "source_ip": event.source_ip,
    })
}

/// The CSV of every match (up to the service's maximum), as the REST API's export.
async fn export(ctx: PageCtx, Path(tenant): Path<String>, Query(params): Query<AuditParams>) -> Response {
    let filters = Filters::of(&params);
    let console = console_or_return!(ctx, &format!("{}.csv?{}", audit_path(&tenant), filters.query_string()));
    let Ok(query) = filters.query(&console.operator.time_zone) else {
        return console.ctx.error_to_console(StatusCode::BAD_REQUEST, "console.audit.problem.date");
    };
    match audit::export_csv(console.ctx.app(), &console.principal, Some(&tenant), query).await {
        Ok(csv) => crate::admin::api::records::csv_for_spreadsheets(&format!("audit-events-{tenant}.csv"), &csv),
        Err(err) => console.refused(&err).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_read_on_the_operators_clock() {
        let at = |text: &str| OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).expect("RFC 3339");
        assert_eq!(day_start("2026-12-06", 0, "Asia/Tokyo"), Some(at("2026-12-05T15:00:00Z")));
        assert_eq!(day_start("2026-12-06", 1, "UTC"), Some(at("2026-12-07T00:00:00Z")));
        for bad in ["2026-13-01", "yesterday", "2026-12-06T00:00", "=1+1"] {
            assert_eq!(day_start(bad, 0, "UTC"), None, "{bad}");
        }
        let filters =
            Filters { actor: String::new(), action: String::new(), target: String::new(), since: "x".into(), until: String::new() };
        assert_eq!(filters.query("UTC").err(), Some("since"));
    }
}
