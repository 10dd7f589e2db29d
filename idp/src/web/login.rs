//! Login pages (flow 3), served on the client-certificate listener: the certificate,
//! ID/password, a forced password change, the one-time password, and logout. Handlers
//! parse, check CSRF and the session, call `flows::login`, and render. Without a
//! certificate, `login_password` opens the login with the ID/password instead, for the
//! methods that need none.

use std::collections::HashMap;

use axum::Router;
use axum::extract::Query;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use mamori_storage::model::{LoginResult, Tenant, User};

use super::login_password::login_page;
use super::page::{LangQuery, switch_stays_here};
use super::request::{client_ip, local_return_target, presented_certificate};
use super::session::{self, WebSession};
use crate::flows::client_certificate::{self, CertificateCheck, CertificateRefusal};
use crate::flows::events::{Attempt, record_login_event};
use crate::flows::login::{self, Completion, LoginProgress, LoginStep, OtpOutcome, PasswordOutcome, SendCodeOutcome, TotpSetupOutcome};
use crate::flows::otp;
use crate::flows::password_login;
use crate::flows::session_binding::CertificateBinding;
use crate::state::ListenerKind;
use crate::state::SharedState;
use crate::urlcode;
use crate::web::context::{PageCtx, Posted};

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/login", get(start))
        // A GET on a step's address (the language switch, a reload) starts the login
        // again from the certificate step, in the chosen language, instead of a 405.
        .route("/login/password", switch_stays_here(post(password).get(restart)))
        .route("/login/change-password", switch_stays_here(post(change_password).get(restart)))
        .route("/login/otp", switch_stays_here(post(one_time_password).get(restart)))
        .route("/login/otp/send", switch_stays_here(post(send_code).get(restart)))
        .route("/login/totp", switch_stays_here(post(totp_setup).get(restart)))
        .route("/login/done", get(done))
        .route("/logout", post(logout))
        .merge(super::login_password::routes())
        .merge(super::login_passkey::routes())
}

type Ctx = PageCtx;

/// Who is attempting, for the login history.
pub(super) fn attempt<'a>(ctx: &Ctx, tenant: &Tenant, user: Option<&User>, login_id: Option<&'a str>) -> Attempt<'a> {
    Attempt {
        tenant_id: tenant.id,
        user_id: user.map(|u| u.id),
        login_id,
        source_ip: client_ip(&ctx.conn, &ctx.headers, &ctx.state.app.config.server.trusted_proxies).to_string(),
        user_agent: ctx.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
    }
}

/// The leaf certificate the client presented on this connection.
fn presented_leaf(ctx: &Ctx) -> Option<Vec<u8>> {
    presented_certificate(&ctx.conn, &ctx.headers, &ctx.state.app.config.server)
}

/// A continuation path we may redirect to: local, never another origin.
pub(super) fn safe_return_to(value: Option<&String>) -> Option<String> {
    value.and_then(|v| local_return_target(v))
}

async fn start(ctx: PageCtx, Query(query): Query<HashMap<String, String>>) -> Response {
    let tenant = query.get("tenant").map(String::as_str).filter(|s| crate::fields::TenantSlug::parse(s).is_ok());
    let return_to = safe_return_to(query.get("return_to"));
    let login_hint = query.get("login_hint").map(String::as_str).filter(|h| valid_login_hint(h));
    if let Some(slug) = tenant {
        ctx.show_tenant_slug(slug, return_to.as_deref()).await;
    }
    if ctx.conn.listener == ListenerKind::Main && ctx.conn.client_chain.is_none() {
        // A tenant none of whose methods needs a certificate logs in right here; for the
        // others the certificate can only be asked for on the other listener.
        match super::login_password::form_on_main_listener(&ctx, tenant, return_to.as_deref(), login_hint).await {
            Ok(Some(page)) => return page,
            Ok(None) => {}
            Err(err) => return ctx.internal(&err),
        }
        let qs = query_string(&query);
        return Redirect::to(&format!("{}/login{qs}", ctx.state.urls.mtls)).into_response();
    }
    match begin(&ctx, return_to, tenant, login_hint).await {
        Ok(response) => response,
        Err(err) => ctx.internal(&err),
    }
}

/// The query string (with its `?`) of `query`, for the same page on the other listener.
fn query_string(query: &HashMap<String, String>) -> String {
    if query.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = query.iter().map(|(k, v)| format!("{}={}", urlcode::path(k), urlcode::path(v))).collect();
    format!("?{}", pairs.join("&"))
}

/// A `login_hint` is used only when it could be a user ID (the admin API's rule); anything
/// else is ignored rather than shown back.
pub(super) fn valid_login_hint(hint: &str) -> bool {
    crate::fields::LoginId::parse(hint).is_ok()
}

async fn begin(ctx: &Ctx, return_to: Option<String>, tenant_slug: Option<&str>, login_hint: Option<&str>) -> anyhow::Result<Response> {
    let app = &ctx.state.app;
    let now = app.now();
    let leaf = presented_leaf(ctx);
    match client_certificate::check(app, leaf.as_deref(), now).await? {
        CertificateCheck::Refused { refusal: CertificateRefusal::Missing, .. } if password_login::offered(app, tenant_slug).await? => {
            // No certificate, and a method of this tenant needs none: the ID decides.
            super::login_password::form(ctx, tenant_slug, return_to.as_deref(), login_hint, StatusCode::OK).await
        }
        CertificateCheck::Refused { refusal, user } => {
            if let Some(user) = user.as_deref() {
                let tenant = app.storage.tenants().get(user.tenant_id).await?;
                record_login_event(app, &attempt(ctx, &tenant, Some(user), None), refusal.login_result(), &[]).await;
            } else {
                tracing::info!(peer = %ctx.conn.peer, ?refusal, "client certificate refused");
            }
            Ok(refused_page(ctx, refusal))
        }
        CertificateCheck::Accepted(certified) => {
            let (tenant, user) = (&certified.tenant, &certified.user);
            // The site that sent the user here belongs to another tenant: this account can
            // never log in there, so say so instead of asking for a password in vain.
            if tenant_slug.is_some_and(|slug| slug != tenant.slug) {
                let refusal = CertificateRefusal::OtherTenant;
                record_login_event(app, &attempt(ctx, tenant, Some(user), None), refusal.login_result(), &[]).await;
                return Ok(refused_page(ctx, refusal));
            }
            if user.is_locked() {
                record_login_event(app, &attempt(ctx, tenant, Some(user), None), LoginResult::Locked, &[]).await;
                return Ok(ctx.locked_page(PageCtx::form, Some(&tenant.slug)));
            }
            let Some(leaf) = leaf.as_deref() else { return Ok(refused_page(ctx, CertificateRefusal::Missing)) };
            let binding = CertificateBinding::of(&certified.certificate.serial_hex, leaf);
            let mut progress = login::start_with_certificate(user, tenant, binding, return_to, now);
            // Only a prefill: the ID typed (or left) there must still be the certificate's user.
            progress.login_hint = login_hint.map(str::to_owned);
            open_transaction(ctx, tenant, user, progress).await
        }
    }
}

/// Opens the record of a login whose first step passed, and shows the next step. The
/// browser's session, if it has one, stays as it is until this login completes.
pub(super) async fn open_transaction(ctx: &Ctx, tenant: &Tenant, user: &User, mut progress: LoginProgress) -> anyhow::Result<Response> {
    let app = &ctx.state.app;
    // What the relying site this login returns to asked for may add a passkey step.
    let wanted = wanted_by_return_to(app, progress.return_to.as_deref()).await?;
    crate::flows::step_up::plan(app, user, &mut progress, wanted.as_ref()).await?;
    let (mut login_record, cookie) = session::begin_login(app, tenant, progress).await?;
    let mut response = advance(ctx, &mut login_record, tenant, user, None).await?;
    // A login that completed (or ended) at once already says what becomes of its cookie.
    let settled = response.headers().get_all(header::SET_COOKIE).iter().any(|v| v.as_bytes().starts_with(session::LOGIN_COOKIE.as_bytes()));
    if !settled {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// What the sign-in request a login's `return_to` resumes asks of its factors, if it is one.
async fn wanted_by_return_to(app: &crate::app::App, return_to: Option<&str>) -> anyhow::Result<Option<crate::flows::step_up::Wanted>> {
    let Some(return_to) = return_to else { return Ok(None) };
    if let Some(id) = return_to.strip_prefix("/oidc/resume/") {
        return crate::oidc::authorize::wanted_by(app, id.split('?').next().unwrap_or(id)).await;
    }
    if let Some(id) = return_to.strip_prefix("/saml/resume/") {
        return crate::saml::sso::wanted_by(app, id.split('?').next().unwrap_or(id)).await;
    }
    Ok(None)
}

fn refused_page(ctx: &Ctx, refusal: CertificateRefusal) -> Response {
    let message = ctx.state.app.ui.message(ctx.page.locale, refusal.message_key());
    let status = if refusal == CertificateRefusal::Missing { StatusCode::UNAUTHORIZED } else { StatusCode::FORBIDDEN };
    ctx.page.render(
        &ctx.state,
        status,
        "login/certificate_refused.html",
        serde_json::json!({
            "message": message,
            "reason": format!("{refusal:?}"),
            "download_url": format!("{}/download", ctx.state.urls.main),
        }),
    )
}

/// The fields of a step's form to mark in error when it comes back with a problem: the
/// step's one field (the code), or the new password and its confirmation (each problem of
/// a new password is about the one typed twice).
fn invalid_fields(problem: &Option<serde_json::Value>, fields: &[&str]) -> Vec<String> {
    if problem.is_some() { fields.iter().map(|f| (*f).to_owned()).collect() } else { Vec::new() }
}

/// Renders the page for the transaction's current step, or finishes it.
pub(super) async fn advance(
    ctx: &Ctx,
    web_session: &mut WebSession,
    tenant: &Tenant,
    user: &User,
    problem: Option<serde_json::Value>,
) -> anyhow::Result<Response> {
    let app = &ctx.state.app;
    let Some(mut progress) = web_session.state.login.clone() else {
        return Ok(Redirect::to("/login").into_response());
    };
    ctx.show_login_tenant(tenant, progress.return_to.as_deref()).await;
    if login::prepare_step(app, tenant, user, &mut progress)? | crate::flows::passkey_login::prepare(app, user, &mut progress).await? {
        web_session.state.login = Some(progress.clone());
        session::save(app, web_session).await?;
    }
    let login_ref = session::form_ref(web_session);
    let base = serde_json::json!({ "login_id": user.login_id, "problem": problem.clone(), "login_ref": login_ref });
    let page = match &progress.step {
        LoginStep::Password => {
            let mut ctx_json = base;
            ctx_json["login_hint"] = progress.login_hint.clone().into();
            ctx_json["reissue_url"] = ctx.password_reissue_url(Some(&tenant.slug)).into();
            ctx.form(StatusCode::OK, "login/password.html", ctx_json)
        }
        LoginStep::CertificateRequired => return refuse_without_certificate(ctx, web_session, tenant, user).await,
        LoginStep::ChangePassword => {
            let mut ctx_json = base;
            ctx_json["min"] = tenant.policy.password_min_length.into();
            ctx_json["max"] = tenant.policy.password_max_length.into();
            ctx_json["invalid"] = invalid_fields(&problem, &["new_password", "new_password_confirmation"]).into();
            // A password set for the user is to be replaced, not "expired".
            ctx_json["must_change"] = user.password_must_change.into();
            ctx.form(StatusCode::OK, "login/change_password.html", ctx_json)
        }
        LoginStep::TotpSetup { sealed_secret } => {
            let view = otp::enrollment_view(app, user, sealed_secret)?;
            let mut ctx_json = base;
            ctx_json["qr_svg"] = view.qr_svg.into();
            ctx_json["invalid"] = invalid_fields(&problem, &["code"]).into();
            ctx_json["secret"] = view.secret_base32.into();
            ctx.form(StatusCode::OK, "login/totp_setup.html", ctx_json)
        }
        LoginStep::Otp => {
            let mut ctx_json = base;
            ctx_json["kind"] = tenant.policy.otp_kind.to_string().into();
            ctx_json["invalid"] = invalid_fields(&problem, &["code"]).into();
            ctx_json["code_sent"] = progress.email_code.is_some().into();
            ctx.form(StatusCode::OK, "login/otp.html", ctx_json)
        }
        LoginStep::Passkey | LoginStep::PasskeySetup => {
            return super::login_passkey::step_page(ctx, user, &progress, &login_ref, problem).await;
        }
        LoginStep::Done => return finish(ctx, web_session, tenant, user, &progress).await,
    };
    Ok(page)
}

async fn finish(
    ctx: &Ctx,
    web_session: &mut WebSession,
    tenant: &Tenant,
    user: &User,
    progress: &LoginProgress,
) -> anyhow::Result<Response> {
    let app = &ctx.state.app;
    let authenticated = match login::complete(app, progress).await? {
        Completion::Complete(authenticated) => authenticated,
        Completion::CertificateMissing => return refuse_without_certificate(ctx, web_session, tenant, user).await,
        Completion::Refused(refusal) => {
            let clear = session::abandon_login(app, web_session).await?;
            record_login_event(app, &attempt(ctx, tenant, Some(user), Some(&user.login_id)), refusal.login_result(), &[]).await;
            let mut response = refused_page(ctx, refusal);
            response.headers_mut().append(header::SET_COOKIE, clear);
            return Ok(response);
        }
        Completion::Locked => {
            let clear = session::abandon_login(app, web_session).await?;
            record_login_event(app, &attempt(ctx, tenant, Some(user), Some(&user.login_id)), LoginResult::Locked, &[]).await;
            let mut response = ctx.form(StatusCode::FORBIDDEN, "login/locked.html", serde_json::json!({}));
            response.headers_mut().append(header::SET_COOKIE, clear);
            return Ok(response);
        }
        Completion::StartAgain => {
            let clear = session::abandon_login(app, web_session).await?;
            let mut response = ctx.error(StatusCode::BAD_REQUEST, "login.session_expired");
            response.headers_mut().append(header::SET_COOKIE, clear);
            return Ok(response);
        }
    };
    // The session and its "success" in the history are stored together, or neither.
    let success = login::success_event(app, progress, &attempt(ctx, tenant, Some(user), Some(&user.login_id)));
    let (_, cookies) = session::complete_login(app, &ctx.headers, web_session, tenant, authenticated, &success).await?;
    login::count_success(app, progress);
    let target = progress.return_to.clone().unwrap_or_else(|| "/login/done".to_owned());
    let mut response = Redirect::to(&target).into_response();
    for cookie in cookies {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// Ends a login that lacks the certificate the user's method needs, with the clear page
/// of a missing certificate.
async fn refuse_without_certificate(ctx: &Ctx, web_session: &mut WebSession, tenant: &Tenant, user: &User) -> anyhow::Result<Response> {
    let app = &ctx.state.app;
    let clear = session::abandon_login(app, web_session).await?;
    record_login_event(app, &attempt(ctx, tenant, Some(user), Some(&user.login_id)), LoginResult::NoCertificate, &[]).await;
    let mut response = refused_page(ctx, CertificateRefusal::Missing);
    response.headers_mut().append(header::SET_COOKIE, clear);
    Ok(response)
}

/// Loads the record of a login under way and checks the request belongs to it: the page
/// was rendered for this very login (`login_ref`: not one another tab has replaced since),
/// and the connection presents the certificate it started with, by fingerprint (the
/// form's CSRF token was checked on arrival).
pub(super) async fn resume(ctx: &Ctx, form: &HashMap<String, String>) -> anyhow::Result<Result<(WebSession, Tenant, User), Response>> {
    let app = &ctx.state.app;
    let Some(login_record) = session::load_login(app, &ctx.headers).await? else {
        return Ok(Err(ctx.error(StatusCode::BAD_REQUEST, "login.session_expired")));
    };
    if !session::posted_for(&login_record, form.get("login_ref").map(String::as_str)) {
        // Nothing of the posted step is looked at (no password tried, no attempt counted);
        // the newer login stays as it is, in the tab that opened it.
        tracing::info!("a login step posted from a page another login has replaced");
        return Ok(Err(ctx.error(StatusCode::CONFLICT, "login.replaced")));
    }
    let Some(progress) = &login_record.state.login else {
        return Ok(Err(ctx.error(StatusCode::BAD_REQUEST, "login.session_expired")));
    };
    if !login::continues_on(progress, presented_leaf(ctx).as_deref()) {
        return Ok(Err(ctx.error(StatusCode::FORBIDDEN, "login.certificate_changed")));
    }
    let user = app.storage.users().get(progress.user_id).await?;
    let tenant = app.storage.tenants().get(login_record.tenant_id).await?;
    Ok(Ok((login_record, tenant, user)))
}

macro_rules! resume_or_return {
    ($ctx:expr, $form:expr) => {
        match resume(&$ctx, &$form).await {
            Ok(Ok(found)) => found,
            Ok(Err(page)) => return page,
            Err(err) => return $ctx.internal(&err),
        }
    };
}
pub(super) use resume_or_return;

async fn password(Posted { ctx, form }: Posted) -> Response {
    let (mut web_session, tenant, user) = resume_or_return!(ctx, form);
    let result = async {
        let Some(mut progress) = web_session.state.login.clone() else { return Ok(Redirect::to("/login").into_response()) };
        if progress.step != LoginStep::Password {
            return advance(&ctx, &mut web_session, &tenant, &user, None).await;
        }
        let login_id = form.get("login_id").map(String::as_str).unwrap_or("");
        let password = form.get("password").map(String::as_str).unwrap_or("");
        let attempt = attempt(&ctx, &tenant, Some(&user), Some(login_id));
        match login::submit_password(&ctx.state.app, &tenant, &mut progress, login_id, password, &attempt).await? {
            PasswordOutcome::Accepted => {
                web_session.state.login = Some(progress);
                session::save(&ctx.state.app, &web_session).await?;
                let user = ctx.state.app.storage.users().get(user.id).await?;
                advance(&ctx, &mut web_session, &tenant, &user, None).await
            }
            PasswordOutcome::Failed { attempts_left } => {
                // Back to the same login: a relying site's sign-in continues after it.
                let back = login_page(Some(&tenant.slug), progress.return_to.as_deref());
                Ok(ctx.form(
                    StatusCode::UNAUTHORIZED,
                    "login/failed.html",
                    serde_json::json!({
                        "attempts_left": attempts_left,
                        "back": back,
                        "reissue_url": ctx.password_reissue_url(Some(&tenant.slug)),
                    }),
                ))
            }
            PasswordOutcome::Locked => Ok(ctx.locked_page(PageCtx::form, Some(&tenant.slug))),
        }
    }
    .await;
    result.unwrap_or_else(|err| ctx.internal(&err))
}

async fn change_password(Posted { ctx, form }: Posted) -> Response {
    let (mut web_session, tenant, user) = resume_or_return!(ctx, form);
    let result = async {
        let Some(mut progress) = web_session.state.login.clone() else { return Ok(Redirect::to("/login").into_response()) };
        if progress.step != LoginStep::ChangePassword {
            return advance(&ctx, &mut web_session, &tenant, &user, None).await;
        }
        let new = form.get("new_password").map(String::as_str).unwrap_or("");
        let confirm = form.get("new_password_confirmation").map(String::as_str).unwrap_or("");
        match login::change_expired_password(&ctx.state.app, &tenant, &mut progress, new, confirm).await? {
            Ok(()) => {
                web_session.state.login = Some(progress);
                session::save(&ctx.state.app, &web_session).await?;
                let user = ctx.state.app.storage.users().get(user.id).await?;
                advance(&ctx, &mut web_session, &tenant, &user, None).await
            }
            Err(problems) => {
                let messages: Vec<String> = problems.iter().map(|p| ctx.state.app.ui.message(ctx.page.locale, p.message_key())).collect();
                let mut response = advance(&ctx, &mut web_session, &tenant, &user, Some(messages.into())).await?;
                *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
                Ok(response)
            }
        }
    }
    .await;
    result.unwrap_or_else(|err| ctx.internal(&err))
}

async fn totp_setup(Posted { ctx, form }: Posted) -> Response {
    let (mut web_session, tenant, user) = resume_or_return!(ctx, form);
    let result = async {
        let app = &ctx.state.app;
        let Some(mut progress) = web_session.state.login.clone() else { return Ok(Redirect::to("/login").into_response()) };
        let code = form.get("code").map(String::as_str).unwrap_or("");
        let attempt = attempt(&ctx, &tenant, Some(&user), Some(&user.login_id));
        match login::confirm_totp_setup(app, &tenant, &mut progress, code, &attempt).await? {
            TotpSetupOutcome::NotThisStep => advance(&ctx, &mut web_session, &tenant, &user, None).await,
            TotpSetupOutcome::Wrong => {
                let message = app.ui.message(ctx.page.locale, "otp.wrong");
                let mut response = advance(&ctx, &mut web_session, &tenant, &user, Some(vec![message].into())).await?;
                *response.status_mut() = StatusCode::UNAUTHORIZED;
                Ok(response)
            }
            TotpSetupOutcome::AlreadyRegistered => {
                web_session.state.login = Some(progress);
                session::save(app, &web_session).await?;
                let user = app.storage.users().get(user.id).await?;
                let message = app.ui.message(ctx.page.locale, "otp.totp_already_registered");
                let mut response = advance(&ctx, &mut web_session, &tenant, &user, Some(vec![message].into())).await?;
                *response.status_mut() = StatusCode::CONFLICT;
                Ok(response)
            }
            TotpSetupOutcome::Accepted => {
                web_session.state.login = Some(progress);
                session::save(app, &web_session).await?;
                let user = app.storage.users().get(user.id).await?;
                advance(&ctx, &mut web_session, &tenant, &user, None).await
            }
        }
    }
    .await;
    result.unwrap_or_else(|err| ctx.internal(&err))
}

async fn send_code(Posted { ctx, form }: Posted) -> Response {
    let (mut web_session, tenant, user) = resume_or_return!(ctx, form);
    let result = async {
        let app = &ctx.state.app;
        let Some(mut progress) = web_session.state.login.clone() else { return Ok(Redirect::to("/login").into_response()) };
        match login::send_email_code(app, &tenant, &mut progress).await? {
            SendCodeOutcome::NotThisStep => advance(&ctx, &mut web_session, &tenant, &user, None).await,
            outcome @ (SendCodeOutcome::TooSoon | SendCodeOutcome::TooMany) => {
                let key = if matches!(outcome, SendCodeOutcome::TooSoon) { "otp.wait_before_resend" } else { "otp.too_many_codes" };
                let message = app.ui.message(ctx.page.locale, key);
                let mut response = advance(&ctx, &mut web_session, &tenant, &user, Some(vec![message].into())).await?;
                *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
                Ok(response)
            }
            SendCodeOutcome::Sent => {
                web_session.state.login = Some(progress);
                session::save(app, &web_session).await?;
                advance(&ctx, &mut web_session, &tenant, &user, None).await
            }
        }
    }
    .await;
    result.unwrap_or_else(|err| ctx.internal(&err))
}

async fn one_time_password(Posted { ctx, form }: Posted) -> Response {
    let (mut web_session, tenant, user) = resume_or_return!(ctx, form);
    let result = async {
        let app = &ctx.state.app;
        let Some(mut progress) = web_session.state.login.clone() else { return Ok(Redirect::to("/login").into_response()) };
        if progress.step != LoginStep::Otp {
            return advance(&ctx, &mut web_session, &tenant, &user, None).await;
        }
        let code = form.get("code").map(String::as_str).unwrap_or("");
        let attempt = attempt(&ctx, &tenant, Some(&user), Some(&user.login_id));
        let outcome = login::submit_otp(app, &tenant, &mut progress, code, &attempt).await?;
        web_session.state.login = Some(progress);
        session::save(app, &web_session).await?;
        match outcome {
            OtpOutcome::Accepted => advance(&ctx, &mut web_session, &tenant, &user, None).await,
            OtpOutcome::Locked => Ok(ctx.locked_page(PageCtx::form, Some(&tenant.slug))),
            OtpOutcome::Wrong { attempts_left } => {
                let mut message = app.ui.message(ctx.page.locale, "otp.wrong");
                if let Some(left) = attempts_left {
                    message = format!("{message} {}", app.ui.counted(ctx.page.locale, "otp.attempts_left", u64::from(left)));
                }
                let mut response = advance(&ctx, &mut web_session, &tenant, &user, Some(vec![message].into())).await?;
                *response.status_mut() = StatusCode::UNAUTHORIZED;
                Ok(response)
            }
            OtpOutcome::Expired => {
                let message = app.ui.message(ctx.page.locale, "otp.expired");
                let mut response = advance(&ctx, &mut web_session, &tenant, &user, Some(vec![message].into())).await?;
                *response.status_mut() = StatusCode::UNAUTHORIZED;
                Ok(response)
            }
        }
    }
    .await;
    result.unwrap_or_else(|err| ctx.internal(&err))
}

/// A GET on a step's address: the login page again, for the same tenant and the same
/// way back to the relying site when a login is under way, in the language asked for.
pub(super) async fn restart(ctx: PageCtx, Query(lang): Query<LangQuery>) -> Response {
    let back = match login_page_of_record(&ctx).await {
        Ok(back) => back,
        Err(err) => return ctx.internal(&err),
    };
    match lang.lang.as_deref().and_then(mamori_ui::Locale::from_tag) {
        Some(locale) => {
            let separator = if back.contains('?') { '&' } else { '?' };
            Redirect::to(&format!("{back}{separator}lang={}", locale.tag())).into_response()
        }
        None => Redirect::to(&back).into_response(),
    }
}

/// The login page of the login under way in this browser (its tenant and `return_to`),
/// else the plain login page.
async fn login_page_of_record(ctx: &Ctx) -> anyhow::Result<String> {
    let app = &ctx.state.app;
    let Some(record) = session::load_login(app, &ctx.headers).await? else { return Ok("/login".to_owned()) };
    let Some(progress) = &record.state.login else { return Ok("/login".to_owned()) };
    let tenant = app.storage.tenants().get(record.tenant_id).await?;
    Ok(login_page(Some(&tenant.slug), progress.return_to.as_deref()))
}

async fn done(ctx: PageCtx) -> Response {
    let result = async {
        let app = &ctx.state.app;
        let Some(logged_in) = session::logged_in(&ctx).await? else {
            return Ok(Redirect::to("/login").into_response());
        };
        let user = app.storage.users().get(logged_in.auth.user_id).await?;
        let auth = &logged_in.auth;
        let factors = login::amr(&auth.factors);
        // The codes stay in the page (`data-amr`); the user reads them in words.
        let names: Vec<&str> = auth.factors.iter().map(|f| f.label_key()).collect();
        Ok(ctx.form(
            StatusCode::OK,
            "login/done.html",
            serde_json::json!({ "login_id": user.login_id, "factors": factors, "factor_names": names }),
        ))
    }
    .await;
    result.unwrap_or_else(|err: anyhow::Error| ctx.internal(&err))
}

async fn logout(Posted { ctx, .. }: Posted) -> Response {
    let result = async {
        let app = &ctx.state.app;
        if let Some(s) = session::load(app, &ctx.headers).await? {
            session::destroy(app, &s.id).await?;
        }
        if let Some(login_record) = session::load_login(app, &ctx.headers).await? {
            session::abandon_login(app, &login_record).await?;
        }
        let mut response = ctx.page.render(&ctx.state, StatusCode::OK, "login/logged_out.html", serde_json::json!({}));
        for name in [session::SESSION_COOKIE, session::LOGIN_COOKIE] {
            response.headers_mut().append(header::SET_COOKIE, session::clear_cookie(name));
        }
        Ok(response)
    }
    .await;
    result.unwrap_or_else(|err: anyhow::Error| ctx.internal(&err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_hint_that_could_be_a_user_id_is_used() {
        assert!(valid_login_hint("p-01-usr012"));
        assert!(!valid_login_hint(""));
        assert!(!valid_login_hint("a b"));
        assert!(!valid_login_hint("../account?x"));
        assert!(!valid_login_hint(&"x".repeat(65)));
    }

    #[test]
    fn the_password_step_prefills_the_hint_escaped() {
        let ui = mamori_ui::Ui::new();
        let html = ui
            .render("login/password.html", mamori_ui::Locale::En, serde_json::json!({"login_hint": "p-01\"<x>", "csrf_token": "t"}))
            .expect("renders");
        assert!(html.contains(r#"value="p-01&quot;&lt;x&gt;""#) || html.contains(r#"value="p-01&#34;&lt;x&gt;""#), "{html}");
        let plain = ui.render("login/password.html", mamori_ui::Locale::En, serde_json::json!({"csrf_token": "t"})).expect("renders");
        assert!(!plain.contains(r#"id="login_id" name="login_id" value"#), "{plain}");
    }
}
