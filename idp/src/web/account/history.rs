//! Login history (ログイン履歴閲覧): the last month, newest first, 20 to a page, with the
//! date-time in the user's time zone, source IP, result and factors; "1 ~ 20 / 57 items"
//! and page "1/3".

use axum::Router;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use super::{portal_or_return, require_or_return};
use crate::flows::account::{self as flow, Feature, HISTORY_RESULTS};
use crate::state::SharedState;
use crate::web::context::PageCtx;

pub fn routes() -> Router<SharedState> {
    Router::new().route("/account/history", get(show))
}

#[derive(Debug, Deserialize, Default)]
struct HistoryQuery {
    /// Anything that is not a page number shows the first page.
    page: Option<String>,
}

async fn show(ctx: PageCtx, Query(query): Query<HistoryQuery>) -> Response {
    let requested: u64 = query.page.as_deref().and_then(|p| p.parse().ok()).unwrap_or(1).clamp(1, 100_000);
    let path = format!("/account/history?page={requested}");
    let portal = portal_or_return!(ctx, &path);
    require_or_return!(portal, Feature::LoginHistory);
    let history = match flow::login_history(portal.ctx.app(), &portal.user, requested).await {
        Ok(h) => h,
        Err(err) => return portal.internal(&err),
    };
    let rows: Vec<serde_json::Value> = history
        .rows
        .iter()
        .map(|r| {
            let label = if HISTORY_RESULTS.contains(&r.result.as_str()) {
                portal.ctx.message(&format!("history.result.{}", r.result))
            } else {
                r.result.clone()
            };
            let mut row = serde_json::json!(r);
            row["label"] = label.into();
            row
        })
        .collect();
    let s = history.summary;
    let summary = portal
        .ctx
        .message("history.summary")
        .replace("{first}", &s.first.to_string())
        .replace("{last}", &s.last.to_string())
        .replace("{total}", &s.total.to_string());
    portal.page(
        StatusCode::OK,
        "account/history.html",
        serde_json::json!({
            "rows": rows,
            "summary": summary,
            "page_label": format!("{}/{}", s.page, s.pages),
            "prev": (s.page > 1).then(|| s.page - 1),
            "next": (s.page < s.pages).then(|| s.page + 1),
            "time_zone": portal.user.time_zone,
        }),
    )
}
