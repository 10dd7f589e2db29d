//! Users in the console: search (by user ID or name, 20 to a page), the user's page
//! (status, lock, devices, certificates, passkeys, recent logins) and its actions. Every action is
//! a CSRF-checked POST that calls the service layer (which writes the audit event) and
//! answers with a redirect back to the user's page, except the enrollment ticket, whose
//! URL and one-time password are shown once on the answer itself.

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use mamori_storage::model::{UserQuery, UserStatus};
use serde::Deserialize;

use super::{Console, console_or_return, open_console, user_edit, user_passkeys};
use crate::admin::events::LoginEventFilter;
use crate::admin::{Paging, users};
use crate::state::SharedState;
use crate::urlcode;
use crate::web::context::{FormFields, PageCtx, field};

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/console/t/{tenant}/users", get(search))
        .route("/console/t/{tenant}/users/{login_id}", get(detail))
        .route("/console/t/{tenant}/users/{login_id}/{action}", post(act))
}

const PAGE_SIZE: u64 = 20;
/// Recent logins shown on a user's page; the events page has the rest.
const RECENT_LOGINS: u64 = 10;

/// Notices after an action (`?notice=…`); only these are shown.
const NOTICES: &[&str] = &[
    "unlocked",
    "disabled",
    "enabled",
    "reissue-sent",
    "saved",
    "password-change-forced",
    "sessions-ended",
    super::user_passkeys::REMOVED_NOTICE,
];

/// Notices on the search page (`?notice=…`).
const SEARCH_NOTICES: &[&str] = &["deleted"];

#[derive(Debug, Deserialize, Default)]
struct SearchQuery {
    q: Option<String>,
    notice: Option<String>,
    /// `locked`, `disabled` or anything else for all.
    show: Option<String>,
    page: Option<String>,
}

async fn search(ctx: PageCtx, Path(tenant): Path<String>, Query(query): Query<SearchQuery>) -> Response {
    let text = query.q.clone().unwrap_or_default().trim().chars().take(100).collect::<String>();
    let show = query.show.clone().filter(|s| s == "locked" || s == "disabled").unwrap_or_default();
    let requested: u64 = query.page.as_deref().and_then(|p| p.parse().ok()).unwrap_or(1).clamp(1, 100_000);
    let path = format!("/console/t/{}/users?q={}&show={show}&page={requested}", urlcode::component(&tenant), urlcode::component(&text));
    let console = console_or_return!(ctx, &path);
    let notice =
        query.notice.as_deref().filter(|n| SEARCH_NOTICES.contains(n)).map(|n| console.ctx.message(&format!("console.users.notice.{n}")));
    let user_query = UserQuery {
        text: (!text.is_empty()).then(|| text.clone()),
        status: (show == "disabled").then_some(UserStatus::Disabled),
        locked: (show == "locked").then_some(true),
    };
    let paging = Paging { offset: (requested - 1) * PAGE_SIZE, limit: PAGE_SIZE };
    let listed = match users::list(console.ctx.app(), &console.principal, &tenant, &user_query, paging).await {
        Ok(l) => l,
        Err(err) => return console.refused(&err).await,
    };
    let rows: Vec<serde_json::Value> = listed
        .items
        .iter()
        .map(|u| {
            serde_json::json!({
                "login_id": u.login_id,
                "href": user_href(&tenant, &u.login_id),
                "display_name": u.display_name,
                "status": console.ctx.message(&format!("console.status.{}", u.status)),
                "locked": u.is_locked(),
                "method": console.ctx.message(&format!("account.method.{}", u.login_method)),
            })
        })
        .collect();
    let link =
        |page: u64| format!("/console/t/{}/users?q={}&show={show}&page={page}", urlcode::component(&tenant), urlcode::component(&text));
    console
        .page(
            StatusCode::OK,
            "console/users.html",
            &tenant,
            super::with_fields(
                serde_json::json!({
                    "q": text,
                    "show": show,
                    "notice": notice,
                    "new_user_href": format!("/console/t/{}/new-user", urlcode::component(&tenant)),
                    "import_href": format!("/console/t/{}/users-import", urlcode::component(&tenant)),
                    "rows": rows,
                }),
                console.paging_fields(requested, paging, listed.items.len(), listed.total, link),
            ),
        )
        .await
}

pub(super) fn user_href(tenant: &str, login_id: &str) -> String {
    format!("/console/t/{}/users/{}", urlcode::component(tenant), urlcode::component(login_id))
}

#[derive(Debug, Deserialize, Default)]
struct DetailQuery {
    notice: Option<String>,
}

async fn detail(ctx: PageCtx, Path((tenant, login_id)): Path<(String, String)>, Query(query): Query<DetailQuery>) -> Response {
    let console = console_or_return!(ctx, &user_href(&tenant, &login_id));
    let app = console.ctx.app();
    let p = &console.principal;
    let user = match users::get(app, p, &tenant, &login_id).await {
        Ok(u) => u,
        Err(err) => return console.refused(&err).await,
    };
    let found = async {
        let devices = users::devices(app, p, &tenant, &login_id).await?;
        let certificates = users::certificates(app, p, &tenant, &login_id).await?;
        let filter = LoginEventFilter { login_id: Some(login_id.clone()), ..LoginEventFilter::default() };
        let logins = crate::admin::events::search(app, p, &tenant, &filter, Paging { offset: 0, limit: RECENT_LOGINS }).await?;
        let sessions = users::sessions(app, p, &tenant, &login_id).await?;
        let passkeys = crate::admin::passkeys::list(app, p, &tenant, &login_id).await?;
        Ok::<_, crate::admin::AdminError>((devices, certificates, logins, sessions, passkeys))
    }
    .await;
    let (devices, certificates, logins, sessions, passkeys) = match found {
        Ok(found) => found,
        Err(err) => return console.refused(&err).await,
    };
    let devices: Vec<serde_json::Value> = devices
        .iter()
        .map(|d| {
            serde_json::json!({
                "device_no": d.device_no,
                "type": console.ctx.message(&format!("account.device_type.{}", d.device_type)),
                "email": d.email,
                "deleted": d.is_deleted(),
            })
        })
        .collect();
    let certificates: Vec<serde_json::Value> = certificates
        .iter()
        .map(|c| {
            serde_json::json!({
                "serial": c.serial_hex,
                "subject": c.subject_cn,
                "not_after": console.time(c.not_after),
                "status": console.ctx.message(&format!("console.certificate.{}", c.status)),
                "revocation_reason": c.revocation_reason.as_deref().map(|r| super::certificates::reason_label(&console, r)),
            })
        })
        .collect();
    let sessions: Vec<serde_json::Value> = sessions.iter().map(|s| session_row(&console, s)).collect();
    let logins = super::events::rows(&console, &logins.items, |_| Some(login_id.clone()));
    let notice = query.notice.as_deref().filter(|n| NOTICES.contains(n)).map(|n| console.ctx.message(&format!("console.user.notice.{n}")));
    let lock = user.locked_at.map(|at| {
        let reason = user.lock_reason.map(|r| console.ctx.message(&format!("console.lock_reason.{r}"))).unwrap_or_default();
        format!("{} ({reason})", console.time(at))
    });
    console
        .page(
            StatusCode::OK,
            "console/user.html",
            &tenant,
            serde_json::json!({
                "notice": notice,
                "href": user_href(&tenant, &user.login_id),
                "user": {
                    "login_id": user.login_id,
                    "display_name": user.display_name,
                    "status": console.ctx.message(&format!("console.status.{}", user.status)),
                    "disabled": user.status == UserStatus::Disabled,
                    "locked": lock,
                    "method": console.ctx.message(&format!("account.method.{}", user.login_method)),
                    "enrolled": user.secret_answer_hash.is_some(),
                    "created": console.time(user.created_at),
                },
                "must_change_password": user.password_must_change,
                "devices": devices,
                "certificates": certificates,
                "sessions": sessions,
                "passkeys": user_passkeys::rows(&console, &tenant, &user.login_id, &passkeys),
                "rows": logins,
                "events_href": format!("/console/t/{}/events?login_id={}", urlcode::component(&tenant), urlcode::component(&user.login_id)),
            }),
        )
        .await
}

async fn act(
    ctx: PageCtx,
    Path((tenant, login_id, action)): Path<(String, String, String)>,
    form: Result<Form<FormFields>, FormRejection>,
) -> Response {
    let href = user_href(&tenant, &login_id);
    let mut console = console_or_return!(ctx, &href);
    console.path = format!("{href}/{action}");
    let form = match console.ctx.accept_form(form) {
        Ok(form) => form,
        Err(response) => return response,
    };
    let app = console.ctx.app();
    let p = &console.principal;
    let back = |notice: &str| Redirect::to(&format!("{href}?notice={notice}")).into_response();
    if user_edit::CONFIRMED_ACTIONS.contains(&action.as_str()) && field(&form, "confirmed") != "yes" {
        return match user_edit::confirmation(&console, &tenant, &login_id, &action).await {
            Ok(response) => response,
            Err(err) => console.refused(&err).await,
        };
    }
    let result = match action.as_str() {
        "unlock" => users::unlock(app, p, &tenant, &login_id).await.map(|_| back("unlocked")),
        "delete" => users::delete(app, p, &tenant, &login_id)
            .await
            .map(|()| Redirect::to(&format!("/console/t/{}/users?notice=deleted", urlcode::component(&tenant))).into_response()),
        "end-sessions" => users::end_sessions(app, p, &tenant, &login_id).await.map(|_| back("sessions-ended")),
        "force-password-change" => users::force_password_change(app, p, &tenant, &login_id).await.map(|_| back("password-change-forced")),
        "disable" => users::set_status(app, p, &tenant, &login_id, UserStatus::Disabled).await.map(|_| back("disabled")),
        "enable" => users::set_status(app, p, &tenant, &login_id, UserStatus::Active).await.map(|_| back("enabled")),
        "reissue-certificate" => {
            let device_no = field(&form, "device_no").parse().ok();
            users::reissue_certificate(app, p, &tenant, &login_id, device_no, &console.ctx.state.urls.main)
                .await
                .map(|_| back("reissue-sent"))
        }
        "enrollment-ticket" => match users::enrollment_ticket(app, p, &tenant, &login_id, &console.ctx.state.urls.main).await {
            Ok(issued) => Ok(enrollment_page(&console, &tenant, &href, &issued, false).await),
            Err(err) => Err(err),
        },
        _ => return console.ctx.error_to_console(StatusCode::NOT_FOUND, "error.not_found"),
    };
    match result {
        Ok(response) => response,
        Err(err) => console.refused(&err).await,
    }
}

/// The one time the enrollment URL and one-time password are shown; `created` after the
/// new-user form, which makes the user and the ticket in one go.
pub(super) async fn enrollment_page(
    console: &Console,
    tenant: &str,
    href: &str,
    issued: &crate::flows::enrollment::IssuedEnrollment,
    created: bool,
) -> Response {
    console
        .page(
            StatusCode::OK,
            "console/enrollment.html",
            tenant,
            serde_json::json!({
                "login_id": issued.login_id,
                "href": href,
                "url": issued.url,
                "one_time_password": issued.one_time_password,
                "expires_at": console.time(issued.expires_at),
                "created": created,
            }),
        )
        .await
}

/// A session as the user's page lists it: when it began and was last used, until when it
/// lasts unless used, and the factors its login proved.
fn session_row(console: &Console, session: &users::UserSession) -> serde_json::Value {
    serde_json::json!({
        "created": console.time(session.created_at),
        "last_seen": console.time(session.last_seen_at),
        "expires": console.time(session.expires_at),
        "factors": session.factors.join(" "),
    })
}
