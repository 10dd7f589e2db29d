//! Devices (flow 7, 端末の追加・変更・削除): add with e-mail, its confirmation and the
//! device type → confirmation page (Back / Register) → the certificate is issued and the
//! download mail goes to the new address; change a device's e-mail; delete a device
//! (its certificate is revoked). The tenant's maximum number of devices is enforced.

use crate::web::page::switch_stays_here;
use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use mamori_storage::model::Device;

use super::{Portal, back_to_account, portal_or_return, require_or_return};
use crate::flows::account::{self as flow, AddDeviceOutcome, DEVICE_TYPES, DeleteDeviceOutcome, Feature};
use crate::flows::download::download_page_url;
use crate::state::SharedState;
use crate::web::context::{FormFields, PageCtx, Posted, field};

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/account/devices/new", switch_stays_here(get(show_new).post(confirm_new)))
        .route("/account/devices/register", post(register))
        .route("/account/devices/{device_no}/email", switch_stays_here(get(show_email).post(change_email)))
        .route("/account/devices/{device_no}/delete", get(show_delete).post(delete))
}

struct NewDeviceFields<'a> {
    email: &'a str,
    confirmation: &'a str,
    device_type: &'a str,
}

impl<'a> NewDeviceFields<'a> {
    fn from(form: &'a FormFields) -> Self {
        Self {
            email: field(form, "device_email"),
            confirmation: field(form, "device_email_confirmation"),
            device_type: field(form, "device_type"),
        }
    }
}

fn device_types(portal: &Portal) -> Vec<serde_json::Value> {
    DEVICE_TYPES.iter().map(|(t, key)| serde_json::json!({ "code": t.as_str(), "label": portal.ctx.message(key) })).collect()
}

fn new_device_page(portal: &Portal, fields: &NewDeviceFields<'_>, problem: Option<Vec<String>>, status: StatusCode) -> Response {
    portal.page(
        status,
        "account/device_new.html",
        serde_json::json!({
            "types": device_types(portal),
            "email": fields.email,
            "email_confirmation": fields.confirmation,
            "selected": fields.device_type,
            "max_devices": portal.tenant.policy.max_devices,
            "problem": problem,
        }),
    )
}

async fn show_new(ctx: PageCtx) -> Response {
    let portal = portal_or_return!(ctx, "/account/devices/new");
    require_or_return!(portal, Feature::Devices);
    let empty = NewDeviceFields { email: "", confirmation: "", device_type: "" };
    // At the limit already: say so before anything is typed.
    match portal.ctx.app().storage.devices().count_active(portal.user.id).await {
        Ok(n) if n >= u64::from(portal.tenant.policy.max_devices) => {
            let problem = portal.messages(&["account.device.limit"]);
            new_device_page(&portal, &empty, Some(problem), StatusCode::CONFLICT)
        }
        Ok(_) => new_device_page(&portal, &empty, None, StatusCode::OK),
        Err(err) => portal.internal(&err.into()),
    }
}

/// Step 2: the values are checked, then shown for confirmation (Back / Register).
async fn confirm_new(Posted { ctx, form }: Posted) -> Response {
    let portal = portal_or_return!(ctx, "/account/devices/new");
    require_or_return!(portal, Feature::Devices);
    let fields = NewDeviceFields::from(&form);
    let app = portal.ctx.app();
    match flow::check_new_device(app, &portal.tenant, &portal.user, fields.email, fields.confirmation, fields.device_type).await {
        Ok(Ok(device_type)) => {
            let label = DEVICE_TYPES.iter().find(|(t, _)| *t == device_type).map(|(_, k)| portal.ctx.message(k));
            portal.page(
                StatusCode::OK,
                "account/device_confirm.html",
                serde_json::json!({
                    "email": fields.email.trim(),
                    "email_confirmation": fields.confirmation.trim(),
                    "device_type": device_type.as_str(),
                    "device_type_label": label,
                    "issues_certificate": portal.user.login_method.needs_certificate(),
                }),
            )
        }
        Ok(Err(keys)) => {
            let status = if keys.contains(&"account.device.limit") { StatusCode::CONFLICT } else { StatusCode::UNPROCESSABLE_ENTITY };
            new_device_page(&portal, &fields, Some(portal.messages(&keys)), status)
        }
        Err(err) => portal.internal(&err),
    }
}

/// Step 3: Back (the form again, filled in) or Register (device added, certificate issued).
async fn register(Posted { ctx, form }: Posted) -> Response {
    let portal = portal_or_return!(ctx, "/account/devices/new");
    require_or_return!(portal, Feature::Devices);
    let fields = NewDeviceFields::from(&form);
    if field(&form, "action") == "back" {
        return new_device_page(&portal, &fields, None, StatusCode::OK);
    }
    let app = portal.ctx.app();
    let main = portal.ctx.state.urls.main.clone();
    let outcome = flow::add_device(
        app,
        &portal.tenant,
        &portal.user,
        fields.email,
        fields.confirmation,
        fields.device_type,
        &main,
        &portal.attempt(),
    )
    .await;
    match outcome {
        Ok(AddDeviceOutcome::Added { device, download }) => portal.page(
            StatusCode::OK,
            "account/device_added.html",
            serde_json::json!({
                "device_no": device.device_no,
                "email": device.email,
                "has_certificate": download.is_some(),
                "download_password": download.as_ref().map(|d| d.download_password.as_str()),
                "acquisition_id": download.as_ref().map(|d| d.acquisition_id.as_str()),
                "certificate_name": download.as_ref().map(|d| d.certificate_name.as_str()),
                "download_url": download.as_ref().map(|d| download_page_url(&main, &portal.tenant.slug, Some(&d.acquisition_id))),
            }),
        ),
        Ok(AddDeviceOutcome::Invalid(keys)) => {
            let status = if keys.contains(&"account.device.limit") { StatusCode::CONFLICT } else { StatusCode::UNPROCESSABLE_ENTITY };
            new_device_page(&portal, &fields, Some(portal.messages(&keys)), status)
        }
        Err(err) => portal.internal(&err),
    }
}

/// The device `device_no` of the portal's user, or the not-found page.
async fn device_or_page(portal: &Portal, device_no: u32) -> Result<Device, Response> {
    match flow::find_device(portal.ctx.app(), &portal.user, device_no).await {
        Ok(Some(device)) => Ok(device),
        Ok(None) => Err(portal.ctx.error(StatusCode::NOT_FOUND, "account.device.not_found")),
        Err(err) => Err(portal.internal(&err)),
    }
}

fn email_page(portal: &Portal, device: &Device, email: &str, problem: Option<Vec<String>>, status: StatusCode) -> Response {
    portal.page(
        status,
        "account/device_email.html",
        serde_json::json!({ "device_no": device.device_no, "current_email": device.email, "email": email, "problem": problem }),
    )
}

async fn show_email(ctx: PageCtx, Path(device_no): Path<u32>) -> Response {
    let portal = portal_or_return!(ctx, &format!("/account/devices/{device_no}/email"));
    require_or_return!(portal, Feature::Devices);
    match device_or_page(&portal, device_no).await {
        Ok(device) => email_page(&portal, &device, "", None, StatusCode::OK),
        Err(page) => page,
    }
}

async fn change_email(Path(device_no): Path<u32>, Posted { ctx, form }: Posted) -> Response {
    let portal = portal_or_return!(ctx, &format!("/account/devices/{device_no}/email"));
    require_or_return!(portal, Feature::Devices);
    let device = match device_or_page(&portal, device_no).await {
        Ok(device) => device,
        Err(page) => return page,
    };
    let (email, confirmation) = (field(&form, "device_email"), field(&form, "device_email_confirmation"));
    match flow::change_device_email(portal.ctx.app(), &portal.user, &device, email, confirmation, &portal.attempt()).await {
        Ok(Ok(())) => back_to_account("device-email-changed"),
        Ok(Err(keys)) => email_page(&portal, &device, email, Some(portal.messages(&keys)), StatusCode::UNPROCESSABLE_ENTITY),
        Err(err) => portal.internal(&err),
    }
}

fn delete_page(portal: &Portal, device: &Device, problem: Option<Vec<String>>, status: StatusCode) -> Response {
    portal.page(
        status,
        "account/device_delete.html",
        serde_json::json!({ "device_no": device.device_no, "email": device.email, "problem": problem }),
    )
}

/// The user's other sessions end; this one goes on, unless it was opened with the
/// deleted device's certificate: then it ends with them, here and not at its next
/// request, which a browser closed after the click would never make.
async fn after_deletion(portal: &Portal, device: &Device) -> Response {
    let app = portal.ctx.app();
    let serial = portal.session.state.authenticated.as_ref().and_then(|a| a.certificate.as_ref()).map(|c| c.serial.as_str());
    let own = match serial {
        Some(serial) => match app.storage.certificates().find_by_serial(serial).await {
            Ok(found) => found.is_some_and(|c| c.device_id == Some(device.id)),
            // Not knowing whether this session hangs on the deleted certificate, end it
            // too: a needless login again, rather than a session that should be gone.
            Err(err) => {
                tracing::warn!(error = %err.log_detail(), "reading the session's certificate failed; every session of the user ends");
                true
            }
        },
        None => false,
    };
    if !own {
        return portal.ending_other_sessions(back_to_account("device-deleted")).await;
    }
    // Every session of the user ends, this one included, with the grants from them.
    if let Err(err) = crate::flows::session_end::end_all(app, portal.user.id).await {
        return portal.internal(&err.into());
    }
    let mut response = back_to_account("device-deleted");
    let clear = crate::web::session::clear_cookie(crate::web::session::SESSION_COOKIE);
    response.headers_mut().append(axum::http::header::SET_COOKIE, clear);
    response
}

async fn show_delete(ctx: PageCtx, Path(device_no): Path<u32>) -> Response {
    let portal = portal_or_return!(ctx, &format!("/account/devices/{device_no}/delete"));
    require_or_return!(portal, Feature::Devices);
    match device_or_page(&portal, device_no).await {
        Ok(device) => delete_page(&portal, &device, None, StatusCode::OK),
        Err(page) => page,
    }
}

async fn delete(Path(device_no): Path<u32>, Posted { ctx, .. }: Posted) -> Response {
    let portal = portal_or_return!(ctx, &format!("/account/devices/{device_no}/delete"));
    require_or_return!(portal, Feature::Devices);
    let device = match device_or_page(&portal, device_no).await {
        Ok(device) => device,
        Err(page) => return page,
    };
    match flow::delete_device(portal.ctx.app(), &portal.user, &device, &portal.attempt()).await {
        // The revoked certificate's sessions, and the grants relying sites got from
        // them, end now on every node: a lost device never comes back to end its own.
        Ok(DeleteDeviceOutcome::Deleted) => after_deletion(&portal, &device).await,
        Ok(DeleteDeviceOutcome::LastCertificateDevice) => {
            delete_page(&portal, &device, Some(portal.messages(&["account.device.last"])), StatusCode::CONFLICT)
        }
        Err(err) => portal.internal(&err),
    }
}
