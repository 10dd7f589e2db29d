//! The audit trail: one event per admin action with actor, target, time and source IP.

use mamori_storage::model::{AuditEvent, AuditQuery, NewAuditEvent};
use uuid::Uuid;

use super::{AdminError, Listed, Paging, Principal};
use crate::app::App;

/// Records that `principal` did `action` to `target`. A failure to record is logged, not
/// returned: the action itself has already happened and must not be reported as failed.
pub async fn record(app: &App, principal: &Principal, tenant_id: Option<Uuid>, action: &str, target: &str, details: serde_json::Value) {
    write(app, principal, tenant_id, action, target, "success", details).await;
}

/// Records that `principal` tried `action` on `target` and was refused (outcome
/// `failure`, `details.reason` saying why), and logs it as a security event: an operator
/// reviewing the trail sees attempts, not only what happened.
pub async fn record_refused(
    app: &App,
    principal: &Principal,
    tenant_id: Option<Uuid>,
    action: &str,
    target: &str,
    details: serde_json::Value,
) {
    tracing::warn!(actor = %principal.actor, source_ip = %principal.source_ip, action, target, %details, "admin action refused");
    write(app, principal, tenant_id, action, target, "failure", details).await;
}

async fn write(
    app: &App,
    principal: &Principal,
    tenant_id: Option<Uuid>,
    action: &str,
    target: &str,
    outcome: &str,
    details: serde_json::Value,
) {
    let event = NewAuditEvent {
        tenant_id,
        actor: principal.actor.clone(),
        action: action.to_owned(),
        target: target.to_owned(),
        occurred_at: app.now(),
        source_ip: principal.source_ip.clone(),
        outcome: outcome.to_owned(),
        details,
    };
    if let Err(err) = app.storage.audit_events().record(&event).await {
        tracing::error!(error = %err.log_detail(), action, target, "cannot record an audit event");
    }
}

/// The audit trail of one tenant, or with `tenant` `None` of everything (super-admin).
pub async fn search(
    app: &App,
    principal: &Principal,
    tenant: Option<&str>,
    mut query: AuditQuery,
    paging: Paging,
) -> Result<Listed<AuditEvent>, AdminError> {
    use mamori_storage::model::ApiScope;
    match tenant {
        Some(slug) => query.tenant_id = Some(principal.tenant(app, slug, ApiScope::Read).await?.id),
        None => {
            principal.require_super_admin(ApiScope::Read)?;
            query.tenant_id = None;
        }
    }
    let page = app.storage.audit_events().search(&query, paging.offset, paging.limit).await?;
    Ok(Listed::from_page(page, paging))
}

/// The most events one CSV export holds: a larger trail is exported in time slices.
pub const MAX_EXPORT: u64 = 100_000;

/// The matching events as CSV, newest first (at most [`MAX_EXPORT`]), with the same reach
/// as [`search`]. Every cell goes through [`super::csv::quote`]: actors, targets and
/// details hold text that users and API clients chose, which a spreadsheet must not run
/// as a formula.
pub async fn export_csv(app: &App, principal: &Principal, tenant: Option<&str>, query: AuditQuery) -> Result<String, AdminError> {
    let mut out = String::from("occurred_at,actor,action,target,outcome,source_ip,details\r\n");
    let mut offset = 0;
    while offset < MAX_EXPORT {
        let limit = 1000.min(MAX_EXPORT - offset);
        let page = search(app, principal, tenant, query.clone(), Paging { offset, limit }).await?;
        if page.items.is_empty() {
            break;
        }
        for event in &page.items {
            out.push_str(&csv_line(event));
        }
        offset += page.items.len() as u64;
    }
    Ok(out)
}

fn csv_line(event: &AuditEvent) -> String {
    let when = event.occurred_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    let fields = [when.as_str(), &event.actor, &event.action, &event.target, &event.outcome, &event.source_ip, &event.details.to_string()];
    let mut line = fields.iter().map(|f| super::csv::quote(f)).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_cannot_become_formulas() {
        let event = AuditEvent {
            id: Uuid::nil(),
            tenant_id: None,
            actor: "=HYPERLINK(\"https://evil.example\")".into(),
            action: "+user.update".into(),
            target: "tenant:demo/user:-1,2".into(),
            occurred_at: time::OffsetDateTime::UNIX_EPOCH,
            source_ip: "@127.0.0.1".into(),
            outcome: "success".into(),
            details: serde_json::json!({"display_name": "a\nb"}),
        };
        let line = csv_line(&event);
        assert_eq!(
            line,
            "1970-01-01T00:00:00Z,\"'=HYPERLINK(\"\"https://evil.example\"\")\",'+user.update,\"tenant:demo/user:-1,2\",success,'@127.0.0.1,\"{\"\"display_name\"\":\"\"a\\nb\"\"}\"\r\n"
        );
    }
}
