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
