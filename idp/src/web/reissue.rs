//! Password reissue (flow 5, パスワード再発行) and certificate reissue (flow 6,
//! 証明書再発行), on the main listener: a user who lost a certificate cannot use the
//! other one. `/reissue/password` takes the user ID and e-mail address and answers the
//! same whatever matched; the mailed links `/reissue/password/{token}` and
//! `/reissue/certificate/{token}` ask the secret answer, then show the new password or
//! the new download password once. Handlers parse, check CSRF, call
//! `crate::flows::reissue`, and render.

use std::collections::HashMap;

use crate::web::page::switch_stays_here;
use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;

use super::request::client_ip;
use crate::flows::enrollment::EnrollmentUnavailable as LinkUnavailable;
use crate::flows::events::Attempt;
use crate::flows::reissue::{self as flow, AnswerOutcome, OpenReissue, ReissueKind};
use crate::flows::secret_answer::{SECRET_QUESTIONS, find_question};
use crate::state::SharedState;
use crate::web::context::{PageCtx, Posted, field};

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/reissue/password", switch_stays_here(get(show_request).post(request)))
        .route("/reissue/password/{token}", switch_stays_here(get(show_password_answer).post(answer_password)))
        .route("/reissue/certificate/{token}", switch_stays_here(get(show_certificate_answer).post(answer_certificate)))
}

fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn attempt<'a>(ctx: &PageCtx, tenant_id: uuid::Uuid, user_id: Option<uuid::Uuid>, login_id: Option<&'a str>) -> Attempt<'a> {
    Attempt {
        tenant_id,
        user_id,
        login_id,
        source_ip: client_ip(&ctx.conn, &ctx.headers, &ctx.app().config.server.trusted_proxies).to_string(),
        user_agent: ctx.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
    }
}

// ---------------------------------------------------------------------------------------
// Flow 5, step 1: the request.

fn request_page(ctx: &PageCtx, tenant: &str, login_id: &str, problem: Option<Vec<String>>, status: StatusCode) -> Response {
    no_store(ctx.form(
        status,
        "reissue/password_request.html",
        serde_json::json!({ "tenant": tenant, "login_id": login_id, "problem": problem }),
    ))
}

async fn show_request(ctx: PageCtx, Query(query): Query<HashMap<String, String>>) -> Response {
    let tenant = query.get("tenant").map(String::as_str).filter(|t| crate::fields::TenantSlug::parse(t).is_ok());
    if let Some(slug) = tenant {
        ctx.show_tenant_slug(slug, None).await;
    }
    request_page(&ctx, tenant.unwrap_or(""), "", None, StatusCode::OK)
}

/// Always the same page, after the same work (one hash); the link goes out only when
/// the ID and the address belong together, from a task of its own so the answer does
/// not wait for the mail either.
async fn request(Posted { ctx, form }: Posted) -> Response {
    let (tenant_slug, login_id, email) = (field(&form, "tenant"), field(&form, "login_id"), field(&form, "email"));
    ctx.show_tenant_slug(tenant_slug, None).await;
    if login_id.trim().is_empty() || email.trim().is_empty() {
        let problem = vec![ctx.message("reissue.request.required")];
        return request_page(&ctx, tenant_slug, login_id.trim(), Some(problem), StatusCode::BAD_REQUEST);
    }
    let app = ctx.app();
    let found = match flow::find_password_reissue_target(app, Some(tenant_slug), login_id, email).await {
        Ok(found) => found,
        Err(err) => return ctx.internal(&err),
    };
    if let Some((tenant, user)) = found {
        let app = std::sync::Arc::clone(&ctx.state.app);
        let main = ctx.state.urls.main.clone();
        let email = email.trim().to_owned();
        let source_ip = client_ip(&ctx.conn, &ctx.headers, &app.config.server.trusted_proxies).to_string();
        let user_agent = ctx.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned);
        tokio::spawn(async move {
            let attempt = Attempt { tenant_id: tenant.id, user_id: Some(user.id), login_id: Some(&user.login_id), source_ip, user_agent };
            if let Err(err) = flow::send_password_reissue(&app, &tenant, &user, &email, &main, &attempt).await {
                tracing::error!(error = %format!("{err:#}"), "password reissue mail not sent");
            }
        });
    }
    no_store(ctx.render(StatusCode::OK, "reissue/password_sent.html", serde_json::json!({})))
}

// ---------------------------------------------------------------------------------------
// The links.

fn token_of(path: Result<Path<String>, PathRejection>) -> String {
    path.map(|Path(token)| token).unwrap_or_default()
}

fn unavailable_page(ctx: &PageCtx, reason: LinkUnavailable) -> Response {
    let (status, name) = match reason {
        LinkUnavailable::NotFound => (StatusCode::NOT_FOUND, "not_found"),
        LinkUnavailable::Expired => (StatusCode::GONE, "expired"),
        LinkUnavailable::Spent => (StatusCode::GONE, "spent"),
        LinkUnavailable::Locked => return locked_page(ctx),
    };
    ctx.render(status, "reissue/unavailable.html", serde_json::json!({ "reason": name }))
}

/// The account-lock page (アカウントロック): only the operator can unlock.
fn locked_page(ctx: &PageCtx) -> Response {
    no_store(ctx.locked_page(PageCtx::render, None))
}

/// The reissue behind a link, if it can be used now; else the page saying why.
async fn open_link(ctx: &PageCtx, token: &str, kind: ReissueKind) -> Result<OpenReissue, Response> {
    let app = ctx.app();
    let open = match flow::find_reissue(app, token, kind).await {
        Ok(Some(open)) => open,
        Ok(None) => return Err(unavailable_page(ctx, LinkUnavailable::NotFound)),
        Err(err) => return Err(ctx.internal(&err)),
    };
    if open.user.is_locked() {
        return Err(locked_page(ctx));
    }
    if let Some(reason) = flow::link_unavailable(&open, app.now()) {
        return Err(unavailable_page(ctx, reason));
    }
    Ok(open)
}

fn mismatch_problem(ctx: &PageCtx, attempts_left: Option<u32>) -> Vec<String> {
    let mut problem = vec![ctx.message("reissue.answer.mismatch")];
    if let Some(left) = attempts_left {
        problem.push(ctx.state.app.ui.counted(ctx.page.locale, "reissue.answer.attempts_left", u64::from(left)));
    }
    problem
}

// Flow 5, step 3.

fn password_answer_page(
    ctx: &PageCtx,
    open: &OpenReissue,
    token: &str,
    problem: Option<Vec<String>>,
    selected: &str,
    status: StatusCode,
) -> Response {
    let questions: Vec<serde_json::Value> =
        SECRET_QUESTIONS.iter().map(|q| serde_json::json!({ "code": q.code, "label": ctx.message(q.label_key) })).collect();
    no_store(ctx.form(
        status,
        "reissue/password_answer.html",
        serde_json::json!({
            "token": token,
            "login_id": open.user.login_id,
            "questions": questions,
            "selected": selected,
            "problem": problem,
        }),
    ))
}

async fn show_password_answer(ctx: PageCtx, path: Result<Path<String>, PathRejection>) -> Response {
    let token = token_of(path);
    match open_link(&ctx, &token, ReissueKind::Password).await {
        Ok(open) => password_answer_page(&ctx, &open, &token, None, "", StatusCode::OK),
        Err(page) => page,
    }
}

async fn answer_password(path: Result<Path<String>, PathRejection>, Posted { ctx, form }: Posted) -> Response {
    let token = token_of(path);
    let open = match open_link(&ctx, &token, ReissueKind::Password).await {
        Ok(open) => open,
        Err(page) => return page,
    };
    let (question, answer) = (field(&form, "secret_question"), field(&form, "secret_answer"));
    if find_question(question).is_none() || answer.trim().is_empty() {
        let problem = vec![ctx.message("reissue.answer.required")];
        return password_answer_page(&ctx, &open, &token, Some(problem), question, StatusCode::BAD_REQUEST);
    }
    let attempt = attempt(&ctx, open.tenant.id, Some(open.user.id), Some(&open.user.login_id));
    match flow::reissue_password(ctx.app(), &open, question, answer, &attempt).await {
        Ok(AnswerOutcome::Accepted(password)) => no_store(ctx.render(
            StatusCode::OK,
            "reissue/password_done.html",
            serde_json::json!({
                "login_id": open.user.login_id,
                "new_password": password,
                "login_url": format!("/login?tenant={}", crate::urlcode::component(&open.tenant.slug)),
            }),
        )),
        Ok(AnswerOutcome::Mismatch { attempts_left }) => {
            let problem = mismatch_problem(&ctx, attempts_left);
            password_answer_page(&ctx, &open, &token, Some(problem), question, StatusCode::UNAUTHORIZED)
        }
        Ok(AnswerOutcome::Locked) => locked_page(&ctx),
        Ok(AnswerOutcome::Unavailable(reason)) => unavailable_page(&ctx, reason),
        Err(err) => ctx.internal(&err),
    }
}

// Flow 6, steps 2–3.

fn certificate_answer_page(ctx: &PageCtx, open: &OpenReissue, token: &str, problem: Option<Vec<String>>, status: StatusCode) -> Response {
    let question = open.user.secret_question.as_deref().and_then(find_question).map(|q| ctx.message(q.label_key)).unwrap_or_default();
    no_store(ctx.form(
        status,
        "reissue/certificate_answer.html",
        serde_json::json!({ "token": token, "login_id": open.user.login_id, "question": question, "problem": problem }),
    ))
}

async fn show_certificate_answer(ctx: PageCtx, path: Result<Path<String>, PathRejection>) -> Response {
    let token = token_of(path);
    match open_link(&ctx, &token, ReissueKind::Certificate).await {
        Ok(open) => certificate_answer_page(&ctx, &open, &token, None, StatusCode::OK),
        Err(page) => page,
    }
}

async fn answer_certificate(path: Result<Path<String>, PathRejection>, Posted { ctx, form }: Posted) -> Response {
    let token = token_of(path);
    let open = match open_link(&ctx, &token, ReissueKind::Certificate).await {
        Ok(open) => open,
        Err(page) => return page,
    };
    let answer = field(&form, "secret_answer");
    if answer.trim().is_empty() {
        let problem = vec![ctx.message("reissue.answer.required")];
        return certificate_answer_page(&ctx, &open, &token, Some(problem), StatusCode::BAD_REQUEST);
    }
    let attempt = attempt(&ctx, open.tenant.id, Some(open.user.id), Some(&open.user.login_id));
    let main = ctx.state.urls.main.clone();
    match flow::reissue_certificate(ctx.app(), &open, answer, &main, &attempt).await {
        Ok(AnswerOutcome::Accepted(download)) => no_store(ctx.render(
            StatusCode::OK,
            "reissue/certificate_done.html",
            serde_json::json!({
                "login_id": open.user.login_id,
                "download_password": download.download_password,
                "download_url": crate::flows::download::download_page_url("", &open.tenant.slug, Some(&download.acquisition_id)),
                "acquisition_id": download.acquisition_id,
                "certificate_name": download.certificate_name,
                "download_expires": download.expires_at.date().to_string(),
                "download_max_count": open.tenant.policy.download_max_count.to_string(),
            }),
        )),
        Ok(AnswerOutcome::Mismatch { attempts_left }) => {
            let problem = mismatch_problem(&ctx, attempts_left);
            certificate_answer_page(&ctx, &open, &token, Some(problem), StatusCode::UNAUTHORIZED)
        }
        Ok(AnswerOutcome::Locked) => locked_page(&ctx),
        Ok(AnswerOutcome::Unavailable(reason)) => unavailable_page(&ctx, reason),
        Err(err) => ctx.internal(&err),
    }
}
