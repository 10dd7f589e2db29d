//! The passkey pages of a login: the assertion step, the first passkey's set-up, and
//! the discoverable login of the `passkey` method (no ID typed). The ceremony's state
//! rides sealed in each form (`flows::passkey`); handlers parse, check the login record
//! as the other steps do, call `flows::passkey_login`, and render.

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use mamori_storage::model::{LoginMethod, Tenant, User};
use webauthn_rs::prelude::Webauthn;

use super::login::{advance, attempt, open_transaction, restart, resume, resume_or_return, safe_return_to};
use super::login_password::login_page;
use super::page::switch_stays_here;
use super::session::{self, WebSession};
use crate::flows::login::{LoginProgress, LoginStep};
use crate::flows::passkey;
use crate::flows::passkey_login::{self, Answer, DiscoverableOutcome, StepOutcome};
use crate::state::SharedState;
use crate::web::context::{PageCtx, Posted, field};

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/login/passkey", switch_stays_here(post(assertion).get(restart)))
        .route("/login/passkey/setup", switch_stays_here(post(setup).get(restart)))
        .route("/login/passkey/discover", post(discover).get(restart))
}

/// The verifier for this server's addresses; `None` where passkeys cannot work (the
/// main address is an IP address).
pub(super) fn webauthn(ctx: &PageCtx) -> Option<Webauthn> {
    passkey::verifier(&ctx.state.urls.main, &ctx.state.urls.mtls)
}

fn unavailable(ctx: &PageCtx) -> Response {
    ctx.error(StatusCode::SERVICE_UNAVAILABLE, "passkey.unavailable")
}

/// The page of a passkey step, with a new ceremony (called by `login::advance`).
pub(super) async fn step_page(
    ctx: &PageCtx,
    user: &User,
    progress: &LoginProgress,
    login_ref: &str,
    problem: Option<serde_json::Value>,
) -> anyhow::Result<Response> {
    let app = ctx.app();
    let Some(webauthn) = webauthn(ctx) else { return Ok(unavailable(ctx)) };
    let (template, started) = match &progress.step {
        LoginStep::PasskeySetup => ("login/passkey_setup.html", Some(passkey::start_registration(app, &webauthn, user).await?)),
        _ => ("login/passkey.html", passkey::start_assertion(app, &webauthn, user).await?),
    };
    // No passkey, and this method registers none at a login: a new enrollment does.
    let Some((options, pending)) = started else { return Ok(ctx.error(StatusCode::FORBIDDEN, "passkey.none_registered")) };
    // A step-up says why a passkey is asked for although the user's method has none.
    let context = serde_json::json!({
        "options": options,
        "ceremony": pending.seal(app)?,
        "problem": problem,
        "step_up": progress.step_up_passkey,
        "login_ref": login_ref,
    });
    Ok(ctx.form(StatusCode::OK, template, context))
}

async fn assertion(Posted { ctx, form }: Posted) -> Response {
    let (mut web_session, tenant, user) = resume_or_return!(ctx, form);
    let result = async {
        let Some(mut progress) = web_session.state.login.clone() else { return Ok(Redirect::to("/login").into_response()) };
        let Some(webauthn) = webauthn(&ctx) else { return Ok(unavailable(&ctx)) };
        let attempt = attempt(&ctx, &tenant, Some(&user), Some(&user.login_id));
        let answer = Answer { ceremony: field(&form, "ceremony"), credential: field(&form, "credential") };
        let outcome = passkey_login::submit_assertion(ctx.app(), &webauthn, &tenant, &mut progress, answer, &attempt).await?;
        respond(&ctx, &mut web_session, &tenant, &user, progress, outcome).await
    }
    .await;
    result.unwrap_or_else(|err| ctx.internal(&err))
}

async fn setup(Posted { ctx, form }: Posted) -> Response {
    let (mut web_session, tenant, user) = resume_or_return!(ctx, form);
    let result = async {
        let Some(mut progress) = web_session.state.login.clone() else { return Ok(Redirect::to("/login").into_response()) };
        let Some(webauthn) = webauthn(&ctx) else { return Ok(unavailable(&ctx)) };
        let attempt = attempt(&ctx, &tenant, Some(&user), Some(&user.login_id));
        let answer = Answer { ceremony: field(&form, "ceremony"), credential: field(&form, "credential") };
        let name = field(&form, "name");
        let outcome = passkey_login::confirm_setup(ctx.app(), &webauthn, &tenant, &mut progress, answer, name, &attempt).await?;
        respond(&ctx, &mut web_session, &tenant, &user, progress, outcome).await
    }
    .await;
    result.unwrap_or_else(|err| ctx.internal(&err))
}

/// The page after a passkey step: the next step, or this one again with what went wrong.
async fn respond(
    ctx: &PageCtx,
    web_session: &mut WebSession,
    tenant: &Tenant,
    user: &User,
    progress: LoginProgress,
    outcome: StepOutcome,
) -> anyhow::Result<Response> {
    let app = ctx.app();
    let (key, status) = match outcome {
        StepOutcome::Accepted | StepOutcome::NotThisStep => {
            web_session.state.login = Some(progress);
            session::save(app, web_session).await?;
            let user = app.storage.users().get(user.id).await?;
            return advance(ctx, web_session, tenant, &user, None).await;
        }
        StepOutcome::Refused => ("passkey.refused", StatusCode::UNAUTHORIZED),
        StepOutcome::Expired => ("passkey.expired", StatusCode::BAD_REQUEST),
        StepOutcome::Cloned => ("passkey.cloned", StatusCode::FORBIDDEN),
        StepOutcome::AlreadyRegistered => ("passkey.already_registered", StatusCode::CONFLICT),
    };
    let message = app.ui.message(ctx.page.locale, key);
    let mut response = advance(ctx, web_session, tenant, user, Some(vec![message].into())).await?;
    *response.status_mut() = status;
    Ok(response)
}

/// The tenant a login form offers the discoverable passkey login for: the one named (or
/// the only one), when its policy allows the `passkey` method.
pub(super) async fn passkey_tenant(ctx: &PageCtx, slug: Option<&str>) -> anyhow::Result<Option<Tenant>> {
    let app = ctx.app();
    let tenant = match slug {
        Some(slug) => app.storage.tenants().get_by_slug(slug).await?,
        None => {
            let mut all = app.storage.tenants().list().await?;
            if all.len() == 1 { all.pop() } else { None }
        }
    };
    Ok(tenant.filter(|t| t.policy.allowed_login_methods.contains(&LoginMethod::Passkey)))
}

/// What the login form needs for its "log in with a passkey" part, if offered there.
pub(super) async fn discover_form(ctx: &PageCtx, slug: Option<&str>) -> anyhow::Result<Option<serde_json::Value>> {
    let Some(tenant) = passkey_tenant(ctx, slug).await? else { return Ok(None) };
    let Some(webauthn) = webauthn(ctx) else { return Ok(None) };
    let (options, pending) = passkey::start_discoverable(ctx.app(), &webauthn, &tenant)?;
    Ok(Some(serde_json::json!({ "options": options, "ceremony": pending.seal(ctx.app())?, "tenant": tenant.slug })))
}

async fn discover(Posted { ctx, form }: Posted) -> Response {
    let return_to = safe_return_to(form.get("return_to").filter(|r| !r.is_empty()));
    let slug = Some(field(&form, "tenant")).filter(|s| crate::fields::TenantSlug::parse(s).is_ok());
    let result = async {
        let Some(tenant) = passkey_tenant(&ctx, slug).await? else {
            return Ok(ctx.error(StatusCode::BAD_REQUEST, "login.session_expired"));
        };
        ctx.show_tenant_slug(&tenant.slug, return_to.as_deref()).await;
        let Some(webauthn) = webauthn(&ctx) else { return Ok(unavailable(&ctx)) };
        let attempt = attempt(&ctx, &tenant, None, None);
        let answer = Answer { ceremony: field(&form, "ceremony"), credential: field(&form, "credential") };
        let outcome = passkey_login::discoverable(ctx.app(), &webauthn, &tenant, answer, return_to.clone(), &attempt).await?;
        let back = login_page(Some(&tenant.slug), return_to.as_deref());
        let refusal =
            |status, key: &str| ctx.render(status, "error.html", serde_json::json!({ "message": ctx.message(key), "back": back.clone() }));
        Ok(match outcome {
            DiscoverableOutcome::Started(started) => open_transaction(&ctx, &tenant, &started.user, started.progress).await?,
            DiscoverableOutcome::Refused => refusal(StatusCode::UNAUTHORIZED, "passkey.discover.refused"),
            DiscoverableOutcome::Expired => refusal(StatusCode::BAD_REQUEST, "passkey.expired"),
            DiscoverableOutcome::Locked => ctx.locked_page(PageCtx::form, Some(&tenant.slug)),
        })
    }
    .await;
    result.unwrap_or_else(|err: anyhow::Error| ctx.internal(&err))
}
