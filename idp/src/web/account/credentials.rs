//! Password change (current, new, confirmation; every rule named) and secret-question
//! change (choose a question, give the answer), from the account portal.

use crate::web::page::switch_stays_here;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;

use super::{Portal, back_to_account, portal_or_return, require_or_return};
use crate::flows::account::{self as flow, Feature, PasswordChangeOutcome};
use crate::flows::secret_answer::SECRET_QUESTIONS;
use crate::state::SharedState;
use crate::web::context::{PageCtx, Posted, field, invalid_fields};
use crate::web::session;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/account/password", switch_stays_here(get(show_password).post(change_password)))
        .route("/account/secret-question", switch_stays_here(get(show_secret_question).post(change_secret_question)))
}

/// The form; `problem` is the messages and the message keys they came from (which name
/// the fields in error).
fn password_page(portal: &Portal, problem: Option<(Vec<String>, Vec<&str>)>, status: StatusCode) -> Response {
    let (problem, keys) = problem.unzip();
    let invalid = invalid_fields(
        &keys.unwrap_or_default(),
        &[
            ("account.password.current_wrong", "current_password"),
            ("password.rule.confirmation_mismatch", "new_password_confirmation"),
            ("password.rule.", "new_password"),
        ],
        &["current_password", "new_password", "new_password_confirmation"],
    );
    let policy = &portal.tenant.policy;
    portal.page(
        status,
        "account/password.html",
        serde_json::json!({
            "min": policy.password_min_length.to_string(),
            "max": policy.password_max_length.to_string(),
            "problem": problem,
            "invalid": invalid,
        }),
    )
}

async fn show_password(ctx: PageCtx) -> Response {
    let portal = portal_or_return!(ctx, "/account/password");
    require_or_return!(portal, Feature::PasswordChange);
    password_page(&portal, None, StatusCode::OK)
}

async fn change_password(Posted { ctx, form }: Posted) -> Response {
    let portal = portal_or_return!(ctx, "/account/password");
    require_or_return!(portal, Feature::PasswordChange);
    let app = portal.ctx.app();
    let outcome = flow::change_password(
        app,
        &portal.tenant,
        &portal.user,
        field(&form, "current_password"),
        field(&form, "new_password"),
        field(&form, "new_password_confirmation"),
        &portal.attempt(),
    )
    .await;
    match outcome {
        Ok(PasswordChangeOutcome::Changed) => portal.ending_other_sessions(back_to_account("password-changed")).await,
        Ok(PasswordChangeOutcome::Invalid(problems)) => {
            let keys: Vec<&str> = problems.iter().map(|p| p.message_key()).collect();
            password_page(&portal, Some((portal.messages(&keys), keys)), StatusCode::UNPROCESSABLE_ENTITY)
        }
        Ok(PasswordChangeOutcome::WrongCurrent { attempts_left }) => {
            let mut problem = vec![portal.ctx.message("account.password.current_wrong")];
            if let Some(left) = attempts_left {
                problem.push(portal.ctx.state.app.ui.counted(portal.ctx.page.locale, "login.attempts_left", u64::from(left)));
            }
            password_page(&portal, Some((problem, vec!["account.password.current_wrong"])), StatusCode::UNAUTHORIZED)
        }
        Ok(PasswordChangeOutcome::Locked) => {
            // The account is locked now: the session ends with the lock page.
            let clear = session::destroy(app, &portal.session.id).await.ok();
            let mut response = portal.ctx.locked_page(PageCtx::render, Some(&portal.tenant.slug));
            if let Some(clear) = clear {
                response.headers_mut().append(header::SET_COOKIE, clear);
            }
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(err) => portal.internal(&err),
    }
}

fn secret_question_page(portal: &Portal, selected: &str, problem: Option<Vec<String>>, status: StatusCode) -> Response {
    let questions: Vec<serde_json::Value> =
        SECRET_QUESTIONS.iter().map(|q| serde_json::json!({ "code": q.code, "label": portal.ctx.message(q.label_key) })).collect();
    let selected = if selected.is_empty() { portal.user.secret_question.clone().unwrap_or_default() } else { selected.to_owned() };
    portal.page(
        status,
        "account/secret_question.html",
        serde_json::json!({ "questions": questions, "selected": selected, "problem": problem }),
    )
}

async fn show_secret_question(ctx: PageCtx) -> Response {
    let portal = portal_or_return!(ctx, "/account/secret-question");
    require_or_return!(portal, Feature::SecretQuestionChange);
    secret_question_page(&portal, "", None, StatusCode::OK)
}

async fn change_secret_question(Posted { ctx, form }: Posted) -> Response {
    let portal = portal_or_return!(ctx, "/account/secret-question");
    require_or_return!(portal, Feature::SecretQuestionChange);
    let question = field(&form, "secret_question");
    let result =
        flow::change_secret_question(portal.ctx.app(), &portal.user, question, field(&form, "secret_answer"), &portal.attempt()).await;
    match result {
        Ok(Ok(())) => back_to_account("secret-question-changed"),
        Ok(Err(problems)) => {
            let keys: Vec<&str> = problems.iter().map(|p| p.message_key()).collect();
            secret_question_page(&portal, question, Some(portal.messages(&keys)), StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(err) => portal.internal(&err),
    }
}
