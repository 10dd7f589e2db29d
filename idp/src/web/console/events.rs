//! The tenant's login history in the console: newest first, 50 to a page, filtered by
//! user ID (also IDs nobody has, to see attempts on them) and by result.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use mamori_storage::model::LoginEvent;
use serde::Deserialize;
use uuid::Uuid;

use super::{Console, console_or_return, open_console};
use crate::admin::Paging;
use crate::admin::events::{LoginEventFilter, search};
use crate::flows::account::HISTORY_RESULTS;
use crate::state::SharedState;
use crate::urlcode;
use crate::web::context::PageCtx;

pub fn routes() -> Router<SharedState> {
    Router::new().route("/console/t/{tenant}/events", get(list))
}

const PAGE_SIZE: u64 = 50;

/// The results an operator filters by, in the order of the filter's menu.
const FILTER_RESULTS: &[&str] = &[
    "success",
    "wrong-password",
    "unknown-user",
    "locked",
    "wrong-otp",
    "no-certificate",
    "unknown-certificate",
    "certificate-expired",
    "certificate-revoked",
    "certificate-user-mismatch",
    "device-deleted",
    "user-disabled",
    "password-expired",
    "password-must-change",
];

#[derive(Debug, Deserialize, Default)]
struct EventsQuery {
    login_id: Option<String>,
    result: Option<String>,
    page: Option<String>,
}

async fn list(ctx: PageCtx, Path(tenant): Path<String>, Query(query): Query<EventsQuery>) -> Response {
    let login_id: String = query.login_id.clone().unwrap_or_default().trim().chars().take(64).collect();
    let result = query.result.clone().filter(|r| FILTER_RESULTS.contains(&r.as_str())).unwrap_or_default();
    let requested: u64 = query.page.as_deref().and_then(|p| p.parse().ok()).unwrap_or(1).clamp(1, 100_000);
    let link = |page: u64| {
        format!("/console/t/{}/events?login_id={}&result={result}&page={page}", urlcode::component(&tenant), urlcode::component(&login_id))
    };
    let console = console_or_return!(ctx, &link(requested));
    let filter = LoginEventFilter {
        login_id: (!login_id.is_empty()).then(|| login_id.clone()),
        result: (!result.is_empty()).then(|| result.clone()),
        ..LoginEventFilter::default()
    };
    let paging = Paging { offset: (requested - 1) * PAGE_SIZE, limit: PAGE_SIZE };
    let app = console.ctx.app();
    let listed = match search(app, &console.principal, &tenant, &filter, paging).await {
        Ok(l) => l,
        Err(err) => return console.refused(&err).await,
    };
    // The events are the tenant's (the search confined them); their users' IDs for display.
    let mut names: HashMap<Uuid, String> = HashMap::new();
    for id in listed.items.iter().filter_map(|e| e.user_id) {
        if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(id)
            && let Ok(user) = app.storage.users().get(id).await
        {
            slot.insert(user.login_id);
        }
    }
    let rows = rows(&console, &listed.items, |e| e.user_id.and_then(|id| names.get(&id).cloned()));
    let results: Vec<serde_json::Value> = FILTER_RESULTS
        .iter()
        .map(|r| serde_json::json!({"value": r, "label": console.ctx.message(&format!("history.result.{r}")), "selected": *r == result}))
        .collect();
    console
        .page(
            StatusCode::OK,
            "console/events.html",
            &tenant,
            super::with_fields(
                serde_json::json!({ "login_id": login_id, "results": results, "rows": rows }),
                console.paging_fields(requested, paging, listed.items.len(), listed.total, link),
            ),
        )
        .await
}

/// Table rows of login events, the user's ID from `login_id_of` or else what was typed.
pub(super) fn rows(
    console: &Console,
    events: &[LoginEvent],
    login_id_of: impl Fn(&LoginEvent) -> Option<String>,
) -> Vec<serde_json::Value> {
    events
        .iter()
        .map(|e| {
            let result = e.result.to_string();
            let label = if HISTORY_RESULTS.contains(&result.as_str()) {
                console.ctx.message(&format!("history.result.{result}"))
            } else {
                result.clone()
            };
            serde_json::json!({
                "at": console.time(e.occurred_at),
                "login_id": login_id_of(e).or_else(|| e.attempted_login_id.clone()).unwrap_or_default(),
                "result": result,
                "label": label,
                "success": result == "success",
                "factors": e.factors.join(" "),
                "source_ip": e.source_ip,
            })
        })
        .collect()
}
