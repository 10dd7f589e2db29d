//! Enrollment pages (flow 1: 初回認証 → 認証情報登録 → 認証情報登録完了), on the main
//! listener. `/enroll/{token}` asks for the one-time password; `/enroll/{token}/register`
//! takes the password and secret answer, redeems the ticket and shows the download
//! password. Handlers parse, check CSRF, call `crate::flows::enrollment`, and render.

use crate::web::page::switch_stays_here;
use axum::Router;
use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;

use super::request::cookie_value;
use crate::flows::device_certificate::PendingDownload;
use crate::flows::enrollment::{self as flow, EnrollmentUnavailable, OpenEnrollment, OtpCheck, ProofStage, RegistrationOutcome};
use crate::flows::secret_answer::SECRET_QUESTIONS;
use crate::state::SharedState;
use crate::web::context::{PageCtx, Posted, field, invalid_fields};

/// The cookie carrying the sealed proof between steps (see `crate::flows::enrollment`), scoped
/// to one enrollment URL by its path.
const PROOF_COOKIE: &str = "mamori_enroll";
/// Cookie lifetime; the sealed proof inside carries its own, shorter or equal, expiry.
const PROOF_COOKIE_SECONDS: u32 = 30 * 60;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/enroll/{token}", switch_stays_here(get(show).post(submit_otp)))
        .route("/enroll/{token}/register", switch_stays_here(get(show).post(register)))
}

fn token_of(path: Result<Path<String>, PathRejection>) -> String {
    path.map(|Path(token)| token).unwrap_or_default()
}

/// Whatever step the enrollment is at: the completion page while its proof lasts, a page
/// saying why the URL cannot be used, the registration form once the one-time password
/// was verified, else the one-time password form. Reloads and the language switch land here.
async fn show(ctx: PageCtx, path: Result<Path<String>, PathRejection>) -> Response {
    let token = token_of(path);
    let result = async {
        let app = ctx.app();
        let Some(open) = flow::find_enrollment(app, &token).await? else {
            return Ok(unavailable_page(&ctx, EnrollmentUnavailable::NotFound));
        };
        ctx.show_tenant(&open.tenant).await;
        let now = app.now();
        let proof = flow::open_proof(&app.sealing, open.ticket.id, cookie_value(&ctx.headers, PROOF_COOKIE).as_deref(), now);
        if let Some(ProofStage::Completed { acquisition_id }) = &proof {
            match acquisition_id {
                None => return Ok(complete_page(&ctx, &open, None)),
                Some(id) => {
                    if let Some(download) = flow::pending_download(app, &open, id).await? {
                        return Ok(complete_page(&ctx, &open, Some(&download)));
                    }
                }
            }
        }
        if flow::may_show_completion_again(&open.ticket, now) {
            // Completed moments ago, maybe without the browser ever seeing the page.
            let notice = vec![ctx.message("enroll.otp.show_again")];
            return Ok(otp_page(&ctx, &open, &token, Some(notice), StatusCode::OK));
        }
        if let Some(reason) = flow::unavailable_reason(&open.ticket, now) {
            return Ok(unavailable_page(&ctx, reason));
        }
        if proof == Some(ProofStage::OtpVerified) {
            return register_page(&ctx, &open, &token, None, "", StatusCode::OK).await;
        }
        Ok(otp_page(&ctx, &open, &token, None, StatusCode::OK))
    }
    .await;
    result.unwrap_or_else(|err: anyhow::Error| ctx.internal(&err))
}

/// Step 1: the one-time password. Right → the registration form (and the proof cookie);
/// wrong → the same form with "does not match", until the ticket locks.
async fn submit_otp(path: Result<Path<String>, PathRejection>, Posted { ctx, form }: Posted) -> Response {
    let token = token_of(path);
    let result = async {
        let app = ctx.app();
        let Some(open) = flow::find_enrollment(app, &token).await? else {
            return Ok(unavailable_page(&ctx, EnrollmentUnavailable::NotFound));
        };
        ctx.show_tenant(&open.tenant).await;
        let show_again = flow::may_show_completion_again(&open.ticket, app.now());
        if !show_again && let Some(reason) = flow::unavailable_reason(&open.ticket, app.now()) {
            return Ok(unavailable_page(&ctx, reason));
        }
        let typed = field(&form, "one_time_password");
        if typed.trim().is_empty() {
            let problem = vec![ctx.message("enroll.otp.required")];
            return Ok(otp_page(&ctx, &open, &token, Some(problem), StatusCode::BAD_REQUEST));
        }
        match flow::check_enrollment_otp(app, &open, typed).await? {
            OtpCheck::Accepted if show_again => {
                // The same one-time password, shortly after completion: the page again.
                let download = flow::enrollment_download(app, &open).await?;
                let stage = ProofStage::Completed { acquisition_id: download.as_ref().map(|d| d.acquisition_id.clone()) };
                let mut response = complete_page(&ctx, &open, download.as_ref());
                let proof = flow::seal_proof(&app.sealing, open.ticket.id, stage, app.now())?;
                set_proof_cookie(&mut response, &token, &proof);
                Ok(response)
            }
            OtpCheck::Accepted => {
                let proof = flow::seal_proof(&app.sealing, open.ticket.id, ProofStage::OtpVerified, app.now())?;
                let mut response = register_page(&ctx, &open, &token, None, "", StatusCode::OK).await?;
                set_proof_cookie(&mut response, &token, &proof);
                Ok(response)
            }
            OtpCheck::Wrong { attempts_left } => {
                let mut problem = vec![ctx.message("enroll.otp.wrong")];
                if let Some(left) = attempts_left {
                    problem.push(ctx.state.app.ui.counted(ctx.page.locale, "enroll.otp.attempts_left", u64::from(left)));
                }
                Ok(otp_page(&ctx, &open, &token, Some(problem), StatusCode::UNAUTHORIZED))
            }
            OtpCheck::Locked => Ok(unavailable_page(&ctx, EnrollmentUnavailable::Locked)),
        }
    }
    .await;
    result.unwrap_or_else(|err: anyhow::Error| ctx.internal(&err))
}

/// Step 2: password (for methods that use one) and secret question. Valid → the ticket
/// is redeemed (one winner), the credentials stored, the certificate issued, and the
/// completion page shows the download password.
async fn register(path: Result<Path<String>, PathRejection>, Posted { ctx, form }: Posted) -> Response {
    let token = token_of(path);
    let result = async {
        let app = ctx.app();
        let Some(open) = flow::find_enrollment(app, &token).await? else {
            return Ok(unavailable_page(&ctx, EnrollmentUnavailable::NotFound));
        };
        ctx.show_tenant(&open.tenant).await;
        // The ticket's state first: the loser of a double submit learns it was used.
        if let Some(reason) = flow::unavailable_reason(&open.ticket, app.now()) {
            return Ok(unavailable_page(&ctx, reason));
        }
        let proof = flow::open_proof(&app.sealing, open.ticket.id, cookie_value(&ctx.headers, PROOF_COOKIE).as_deref(), app.now());
        if proof != Some(ProofStage::OtpVerified) {
            let problem = vec![ctx.message("enroll.otp.verify_first")];
            return Ok(otp_page(&ctx, &open, &token, Some(problem), StatusCode::FORBIDDEN));
        }
        let webauthn = crate::web::login_passkey::webauthn(&ctx);
        let registration = flow::Registration {
            password: field(&form, "password"),
            password_confirmation: field(&form, "password_confirmation"),
            secret_question: field(&form, "secret_question"),
            secret_answer: field(&form, "secret_answer"),
            passkey: webauthn.as_ref().map(|w| (w, field(&form, "ceremony"), field(&form, "credential"))),
            origin: crate::flows::password_login::Origin {
                source_ip: super::request::client_ip(&ctx.conn, &ctx.headers, &app.config.server.trusted_proxies).to_string(),
                user_agent: ctx.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
            },
        };
        match flow::register_credentials(app, &open, &registration, &ctx.state.urls.main).await? {
            RegistrationOutcome::Invalid(keys) => {
                let problem = keys.iter().map(|k| ctx.message(k)).collect();
                let invalid = invalid_fields(
                    &keys,
                    &[
                        ("password.rule.confirmation_mismatch", "password_confirmation"),
                        ("password.rule.", "password"),
                        ("secret_answer.problem.choose_question", "secret_question"),
                        ("secret_answer.problem.", "secret_answer"),
                        ("passkey.", "credential"),
                    ],
                    &["password", "password_confirmation", "secret_question", "secret_answer"],
                );
                let selected = registration.secret_question;
                register_page(&ctx, &open, &token, Some((problem, invalid)), selected, StatusCode::UNPROCESSABLE_ENTITY).await
            }
            RegistrationOutcome::Unavailable(reason) => Ok(unavailable_page(&ctx, reason)),
            RegistrationOutcome::NoDevice => Ok(ctx.error(StatusCode::CONFLICT, "enroll.no_device")),
            RegistrationOutcome::Completed(done) => {
                let stage = ProofStage::Completed { acquisition_id: done.download.as_ref().map(|d| d.acquisition_id.clone()) };
                let mut response = complete_page(&ctx, &open, done.download.as_ref());
                // The user has what matters on screen even if this proof cannot be made.
                match flow::seal_proof(&app.sealing, open.ticket.id, stage, app.now()) {
                    Ok(proof) => set_proof_cookie(&mut response, &token, &proof),
                    Err(err) => tracing::warn!(%err, "could not seal the enrollment completion proof"),
                }
                Ok(response)
            }
        }
    }
    .await;
    result.unwrap_or_else(|err: anyhow::Error| ctx.internal(&err))
}

fn otp_page(ctx: &PageCtx, open: &OpenEnrollment, token: &str, problem: Option<Vec<String>>, status: StatusCode) -> Response {
    // An empty or wrong one-time password (not a notice, nor "verify it first").
    let invalid: &[&str] = if matches!(status, StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED) { &["one_time_password"] } else { &[] };
    let mut response = ctx.form(
        status,
        "enroll/otp.html",
        serde_json::json!({ "token": token, "login_id": open.user.login_id, "problem": problem, "invalid": invalid }),
    );
    no_store(&mut response);
    response
}

/// The registration page. A `passkey`-method user registers the passkey on it: a new
/// ceremony each time it is shown.
async fn register_page(
    ctx: &PageCtx,
    open: &OpenEnrollment,
    token: &str,
    problem: Option<(Vec<String>, Vec<String>)>,
    selected: &str,
    status: StatusCode,
) -> anyhow::Result<Response> {
    let passkey = match crate::web::login_passkey::webauthn(ctx) {
        Some(webauthn) if flow::enrolls_passkey(&open.user) => {
            let (options, pending) = crate::flows::passkey::start_registration(ctx.app(), &webauthn, &open.user).await?;
            Some(serde_json::json!({ "options": options, "ceremony": pending.seal(ctx.app())? }))
        }
        _ => None,
    };
    let questions: Vec<serde_json::Value> =
        SECRET_QUESTIONS.iter().map(|q| serde_json::json!({ "code": q.code, "label": ctx.message(q.label_key) })).collect();
    let policy = &open.tenant.policy;
    let (problem, invalid) = problem.unzip();
    let mut response = ctx.form(
        status,
        "enroll/register.html",
        serde_json::json!({
            "token": token,
            "login_id": open.user.login_id,
            "needs_password": open.user.login_method.needs_password(),
            "min": policy.password_min_length.to_string(),
            "max": policy.password_max_length.to_string(),
            "questions": questions,
            "selected": selected,
            "problem": problem,
            "invalid": invalid,
            "passkey": passkey,
            "passkey_unavailable": flow::enrolls_passkey(&open.user) && passkey.is_none(),
        }),
    );
    no_store(&mut response);
    Ok(response)
}

fn complete_page(ctx: &PageCtx, open: &OpenEnrollment, download: Option<&PendingDownload>) -> Response {
    let mut response = ctx.render(
        StatusCode::OK,
        "enroll/complete.html",
        serde_json::json!({
            "login_id": open.user.login_id,
            "has_certificate": download.is_some(),
            "download_password": download.map(|d| d.download_password.as_str()),
            "acquisition_id": download.map(|d| d.acquisition_id.as_str()),
            "download_url": download.map(|d| crate::flows::download::download_page_url("", &open.tenant.slug, Some(&d.acquisition_id))),
            "certificate_name": download.map(|d| d.certificate_name.as_str()),
            "download_expires": download.map(|d| d.expires_at.date().to_string()),
            "download_max_count": open.tenant.policy.download_max_count.to_string(),
        }),
    );
    // The page shows a secret: never from a cache.
    no_store(&mut response);
    response
}

fn unavailable_page(ctx: &PageCtx, reason: EnrollmentUnavailable) -> Response {
    let (status, name) = match reason {
        EnrollmentUnavailable::NotFound => (StatusCode::NOT_FOUND, "not_found"),
        EnrollmentUnavailable::Expired => (StatusCode::GONE, "expired"),
        EnrollmentUnavailable::Spent => (StatusCode::GONE, "spent"),
        EnrollmentUnavailable::Locked => (StatusCode::FORBIDDEN, "locked"),
    };
    ctx.render(status, "enroll/unavailable.html", serde_json::json!({ "reason": name }))
}

fn set_proof_cookie(response: &mut Response, token: &str, proof: &str) {
    // `token` is a known ticket's token, so URL-safe base64 only: nothing to escape.
    let cookie = format!("{PROOF_COOKIE}={proof}; Path=/enroll/{token}; Max-Age={PROOF_COOKIE_SECONDS}; Secure; HttpOnly; SameSite=Lax");
    match HeaderValue::from_str(&cookie) {
        Ok(value) => {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
        Err(err) => tracing::warn!(%err, "enrollment proof cookie not set"),
    }
}

fn no_store(response: &mut Response) {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}
