//! Login-method change (flow 8, ログイン方法の変更): choose the new method → confirmation
//! page with the method before and after, the user ID and the devices (and a new password
//! when the new method needs one the user does not use now) → Execute. A TOTP method
//! first registers the authenticator (QR code, first code); a certificate method issues a
//! certificate for every device; the factor given up stops working.

use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use mamori_storage::model::LoginMethod;

use super::{Portal, portal_or_return, require_or_return};
use crate::flows::account::{self as flow, Feature, MethodChangeDone, MethodChangeStep, TotpConfirmation};
use crate::flows::otp;
use crate::state::SharedState;
use crate::web::context::{FormFields, PageCtx, Posted, field};

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/account/login-method", get(show_choices))
        .route("/account/login-method/confirm", post(confirm))
        .route("/account/login-method/execute", post(execute))
        .route("/account/login-method/totp", post(totp))
}

fn method_label(portal: &Portal, method: LoginMethod) -> String {
    portal.ctx.message(&format!("account.method.{method}"))
}

fn choices_page(portal: &Portal, problem: Option<Vec<String>>, status: StatusCode) -> Response {
    // The current method first and selected, so that a hurried submit changes nothing
    // (it is refused as "choose a method") rather than picking the weakest on the list.
    let current = portal.user.login_method;
    let choices: Vec<serde_json::Value> = std::iter::once(current)
        .chain(flow::method_choices(&portal.tenant.policy, &portal.user))
        .map(|m| serde_json::json!({ "code": m.as_str(), "label": method_label(portal, m), "current": m == current }))
        .collect();
    portal.page(
        status,
        "account/login_method.html",
        serde_json::json!({
            "current": method_label(portal, portal.user.login_method),
            "choices": choices,
            "problem": problem,
        }),
    )
}

async fn show_choices(ctx: PageCtx) -> Response {
    let portal = portal_or_return!(ctx, "/account/login-method");
    require_or_return!(portal, Feature::LoginMethodChange);
    choices_page(&portal, None, StatusCode::OK)
}

async fn confirm_page(portal: &Portal, to: LoginMethod, problem: Option<Vec<String>>, status: StatusCode) -> Response {
    let app = portal.ctx.app();
    let devices = match app.storage.devices().list_for_user(portal.user.id, false).await {
        Ok(d) => d,
        Err(err) => return portal.internal(&err.into()),
    };
    let plan = flow::plan_method_change(portal.user.login_method, to, &portal.tenant.policy, portal.user.totp_secret_sealed.is_some());
    let devices: Vec<serde_json::Value> =
        devices.iter().map(|d| serde_json::json!({ "device_no": d.device_no, "email": d.email })).collect();
    let policy = &portal.tenant.policy;
    portal.page(
        status,
        "account/login_method_confirm.html",
        serde_json::json!({
            "before": method_label(portal, portal.user.login_method),
            "after": method_label(portal, to),
            "to": to.as_str(),
            "devices": devices,
            "plan": plan,
            "min": policy.password_min_length.to_string(),
            "max": policy.password_max_length.to_string(),
            "problem": problem,
        }),
    )
}

fn chosen(portal: &Portal, form: &FormFields) -> Option<LoginMethod> {
    let wanted = field(form, "login_method");
    flow::method_choices(&portal.tenant.policy, &portal.user).into_iter().find(|m| m.as_str() == wanted)
}

async fn confirm(Posted { ctx, form }: Posted) -> Response {
    let portal = portal_or_return!(ctx, "/account/login-method");
    require_or_return!(portal, Feature::LoginMethodChange);
    match chosen(&portal, &form) {
        Some(to) => confirm_page(&portal, to, None, StatusCode::OK).await,
        None => {
            let problem = portal.messages(&["account.login_method.choose"]);
            choices_page(&portal, Some(problem), StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

fn totp_page(portal: &Portal, pending: &str, sealed_secret: &str, problem: Option<Vec<String>>, status: StatusCode) -> Response {
    let view = match otp::enrollment_view(portal.ctx.app(), &portal.user, sealed_secret) {
        Ok(v) => v,
        Err(err) => return portal.internal(&err),
    };
    portal.page(
        status,
        "account/login_method_totp.html",
        serde_json::json!({ "pending": pending, "qr_svg": view.qr_svg, "secret": view.secret_base32, "problem": problem }),
    )
}

fn done_page(portal: &Portal, done: &MethodChangeDone) -> Response {
    let downloads: Vec<serde_json::Value> = done
        .downloads
        .iter()
        .map(|(no, d)| {
            serde_json::json!({
                "device_no": no,
                "download_password": d.download_password,
                "acquisition_id": d.acquisition_id,
                "certificate_name": d.certificate_name,
            })
        })
        .collect();
    portal.page(
        StatusCode::OK,
        "account/login_method_done.html",
        serde_json::json!({
            "before": method_label(portal, done.from),
            "after": method_label(portal, done.to),
            "downloads": downloads,
        }),
    )
}

async fn execute(Posted { ctx, form }: Posted) -> Response {
    let portal = portal_or_return!(ctx, "/account/login-method");
    require_or_return!(portal, Feature::LoginMethodChange);
    let Some(to) = chosen(&portal, &form) else {
        return choices_page(&portal, Some(portal.messages(&["account.login_method.choose"])), StatusCode::UNPROCESSABLE_ENTITY);
    };
    let main = portal.ctx.state.urls.main.clone();
    let step = flow::begin_method_change(
        portal.ctx.app(),
        &portal.tenant,
        &portal.user,
        to.as_str(),
        field(&form, "new_password"),
        field(&form, "new_password_confirmation"),
        &main,
        &portal.attempt(),
    )
    .await;
    match step {
        Ok(MethodChangeStep::Done(done)) => portal.ending_other_sessions(done_page(&portal, &done)).await,
        Ok(MethodChangeStep::NeedsTotp { pending, sealed_secret }) => totp_page(&portal, &pending, &sealed_secret, None, StatusCode::OK),
        Ok(MethodChangeStep::Invalid(keys)) => {
            confirm_page(&portal, to, Some(portal.messages(&keys)), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(err) => portal.internal(&err),
    }
}

async fn totp(Posted { ctx, form }: Posted) -> Response {
    let portal = portal_or_return!(ctx, "/account/login-method");
    require_or_return!(portal, Feature::LoginMethodChange);
    let app = portal.ctx.app();
    let pending = field(&form, "pending");
    let main = portal.ctx.state.urls.main.clone();
    let outcome =
        flow::confirm_method_change_totp(app, &portal.tenant, &portal.user, pending, field(&form, "code"), &main, &portal.attempt()).await;
    match outcome {
        Ok(TotpConfirmation::Done(done)) => portal.ending_other_sessions(done_page(&portal, &done)).await,
        Ok(TotpConfirmation::WrongCode) => match flow::pending_totp_secret(app, &portal.user, pending) {
            Some(secret) => totp_page(&portal, pending, &secret, Some(portal.messages(&["otp.wrong"])), StatusCode::UNAUTHORIZED),
            None => choices_page(&portal, Some(portal.messages(&["account.login_method.expired"])), StatusCode::BAD_REQUEST),
        },
        Ok(TotpConfirmation::Expired) => {
            choices_page(&portal, Some(portal.messages(&["account.login_method.expired"])), StatusCode::BAD_REQUEST)
        }
        Err(err) => portal.internal(&err),
    }
}
