//! The account page (flow 4): the user ID and the device table (device No, e-mail,
//! certificate expiry, the download password while a download is pending), with the
//! device actions, the user's own certificate-reissue request where the policy allows,
//! and the renewal of a device's certificate while it is still valid.

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;

use super::{NOTICES, back_to_account, portal_or_return, require_or_return};
use crate::flows::account::{self as flow, Feature};
use crate::flows::download::download_page_url;
use crate::flows::reissue;
use crate::state::SharedState;
use crate::web::context::{PageCtx, Posted};

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/account", get(show))
        .route("/account/devices/{device_no}/reissue", post(request_certificate_reissue))
        .route("/account/devices/{device_no}/renew", post(renew_certificate))
}

#[derive(Debug, Deserialize, Default)]
struct AccountQuery {
    notice: Option<String>,
}

async fn show(ctx: PageCtx, Query(query): Query<AccountQuery>) -> Response {
    let portal = portal_or_return!(ctx, "/account");
    require_or_return!(portal, Feature::AccountManagement);
    let app = portal.ctx.app();
    let devices = match flow::device_rows(app, &portal.user).await {
        Ok(rows) => rows,
        Err(err) => return portal.internal(&err),
    };
    let devices: Vec<serde_json::Value> = devices
        .into_iter()
        .map(|d| {
            let label = flow::DEVICE_TYPES.iter().find(|(t, _)| t.as_str() == d.device_type).map(|(_, k)| *k);
            let mut row = serde_json::json!(d);
            row["device_type_label"] = label.map(|k| portal.ctx.message(k)).unwrap_or_default().into();
            row
        })
        .collect();
    let notice = query.notice.as_deref().filter(|n| NOTICES.contains(n)).map(|n| portal.ctx.message(&format!("account.notice.{n}")));
    portal.page(
        StatusCode::OK,
        "account/index.html",
        serde_json::json!({
            "devices": devices,
            "device_count": devices.len(),
            "max_devices": portal.tenant.policy.max_devices,
            "can_add_device": (devices.len() as u64) < u64::from(portal.tenant.policy.max_devices),
            // A certificate from the device's own key (CSR) only where logins use one.
            "can_use_csr": portal.user.login_method.needs_certificate(),
            "login_method": portal.ctx.message(&format!("account.method.{}", portal.user.login_method)),
            "notice": notice,
        }),
    )
}

/// The user asks for a certificate reissue of one device (flow 6, "or the user asks, per
/// policy"): the link goes to that device's address.
async fn request_certificate_reissue(Path(device_no): Path<u32>, Posted { ctx, .. }: Posted) -> Response {
    let portal = portal_or_return!(ctx, "/account");
    require_or_return!(portal, Feature::CertificateReissue);
    let app = portal.ctx.app();
    let result = async {
        let Some(device) = flow::find_device(app, &portal.user, device_no).await? else {
            return Ok(portal.ctx.error(StatusCode::NOT_FOUND, "account.device.not_found"));
        };
        let main = portal.ctx.state.urls.main.clone();
        reissue::start_certificate_reissue(app, &portal.tenant, &portal.user, &device, &main, &portal.attempt()).await?;
        Ok(back_to_account("certificate-reissue-sent"))
    }
    .await;
    result.unwrap_or_else(|err: anyhow::Error| portal.internal(&err))
}

/// Renewal before expiry: a new certificate for the device, for download, while the
/// current one keeps working until the new one is used (issue 21).
async fn renew_certificate(Path(device_no): Path<u32>, Posted { ctx, .. }: Posted) -> Response {
    let portal = portal_or_return!(ctx, "/account");
    require_or_return!(portal, Feature::Devices);
    let app = portal.ctx.app();
    let device = match flow::find_device(app, &portal.user, device_no).await {
        Ok(Some(device)) => device,
        Ok(None) => return portal.ctx.error_to_account(StatusCode::NOT_FOUND, "account.device.not_found"),
        Err(err) => return portal.internal(&err),
    };
    let main = portal.ctx.state.urls.main.clone();
    match flow::renew_device_certificate(app, &portal.tenant, &portal.user, &device, &main, &portal.attempt()).await {
        Ok(flow::RenewOutcome::Renewed(download)) => portal.page(
            StatusCode::OK,
            "account/device_renewed.html",
            serde_json::json!({
                "device_no": device.device_no,
                "email": device.email,
                "download_password": download.download_password,
                "acquisition_id": download.acquisition_id,
                "certificate_name": download.certificate_name,
                "download_url": download_page_url(&main, &portal.tenant.slug, Some(&download.acquisition_id)),
                "grace_days": portal.tenant.policy.renewal_grace_days,
            }),
        ),
        // The user came from the account page and goes back there, not to the start page.
        Ok(flow::RenewOutcome::AlreadyPending) => portal.ctx.error_to_account(StatusCode::CONFLICT, "account.renew.already_pending"),
        Ok(flow::RenewOutcome::NoLiveCertificate) => portal.ctx.error_to_account(StatusCode::CONFLICT, "account.renew.no_certificate"),
        Ok(flow::RenewOutcome::NoCertificateMethod) => {
            portal.ctx.error_to_account(StatusCode::CONFLICT, "csr.problem.no-certificate-method")
        }
        Err(err) => portal.internal(&err),
    }
}
