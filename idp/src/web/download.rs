//! Certificate download page (flow 2, 電子証明書の取得), on the main listener: the form
//! asks for the certificate-acquisition ID and the download password; a match answers
//! with the PKCS#12 file, anything else with a page that never says which part was wrong.
//! Browsers on iOS and macOS are also offered the same file inside an Apple configuration
//! profile (`.mobileconfig`): the same download, counted the same.

use std::collections::HashMap;

use crate::web::page::switch_stays_here;
use axum::Router;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::flows::download::{self as flow, CertificateFile, DownloadFormat, DownloadOutcome};
use crate::state::SharedState;
use crate::web::context::{PageCtx, Posted, field};

pub fn routes() -> Router<SharedState> {
    Router::new().route("/download", switch_stays_here(get(show).post(download)))
}

/// The form; `?acquisition_id=` fills the ID in (e.g. from a link), `?tenant=` shows the
/// tenant's brand (links from its pages and mails carry it: [`flow::download_page_url`]).
async fn show(ctx: PageCtx, query: Result<Query<HashMap<String, String>>, QueryRejection>) -> Response {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let tenant = query.get("tenant").map(String::as_str).unwrap_or_default();
    ctx.show_tenant_slug(tenant, None).await;
    let prefill = query
        .get("acquisition_id")
        .map(|id| flow::normalise_acquisition_id(id))
        .filter(|id| id.len() <= 32 && id.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or_default();
    form_page(&ctx, &prefill, tenant, None, StatusCode::OK)
}

async fn download(Posted { ctx, form }: Posted) -> Response {
    let acquisition_id = field(&form, "acquisition_id");
    let password = field(&form, "download_password");
    let tenant = field(&form, "tenant");
    ctx.show_tenant_slug(tenant, None).await;
    if acquisition_id.trim().is_empty() || password.trim().is_empty() {
        let problem = vec![ctx.message("download.required")];
        let invalid: Vec<&str> = [("acquisition_id", acquisition_id), ("download_password", password)]
            .into_iter()
            .filter(|(_, value)| value.trim().is_empty())
            .map(|(name, _)| name)
            .collect();
        return form_page(&ctx, acquisition_id.trim(), tenant, Some((problem, invalid)), StatusCode::BAD_REQUEST);
    }
    let Some(format) = DownloadFormat::from_field(field(&form, "format")) else {
        let problem = vec![ctx.message("download.format_unknown")];
        return form_page(&ctx, acquisition_id.trim(), tenant, Some((problem, Vec::new())), StatusCode::BAD_REQUEST);
    };
    // A profile that would not verify must not spend the download (the .p12 still can).
    if format == DownloadFormat::AppleProfile
        && let Some(signer) = &ctx.app().profile_signer
        && !signer.valid_at(ctx.app().now())
    {
        return ctx.internal(&anyhow::anyhow!("the profile-signing certificate is outside its validity"));
    }
    match flow::redeem_download(ctx.app(), acquisition_id, password).await {
        Ok(DownloadOutcome::Delivered(file)) if format == DownloadFormat::AppleProfile => {
            match flow::apple_profile(ctx.app(), &file, &ctx.state.urls.main, ctx.page.locale).await {
                Ok(profile) => profile_response(&file, profile),
                Err(err) => ctx.internal(&err),
            }
        }
        Ok(DownloadOutcome::Delivered(file)) => file_response(file),
        Ok(DownloadOutcome::WrongCredentials) => {
            let back = if tenant.is_empty() { "/download".to_owned() } else { flow::download_page_url("", tenant, None) };
            let mut response = ctx.render(StatusCode::UNAUTHORIZED, "download/failed.html", serde_json::json!({ "back_url": back }));
            no_store(&mut response);
            response
        }
        Ok(DownloadOutcome::Spent) => unavailable_page(&ctx, StatusCode::GONE, "spent"),
        Ok(DownloadOutcome::Expired) => unavailable_page(&ctx, StatusCode::GONE, "expired"),
        Ok(DownloadOutcome::Locked) => unavailable_page(&ctx, StatusCode::FORBIDDEN, "locked"),
        Ok(DownloadOutcome::AccountDisabled) => unavailable_page(&ctx, StatusCode::FORBIDDEN, "disabled"),
        Err(err) => ctx.internal(&err),
    }
}

/// The form; `problem` is the messages and the fields in error.
fn form_page(ctx: &PageCtx, acquisition_id: &str, tenant: &str, problem: Option<(Vec<String>, Vec<&str>)>, status: StatusCode) -> Response {
    let (problem, invalid) = problem.unzip();
    let mut response = ctx.form(
        status,
        "download/form.html",
        serde_json::json!({
            "acquisition_id": acquisition_id,
            // Kept through the POST so that the answer pages show the same brand.
            "tenant": crate::fields::TenantSlug::parse(tenant).is_ok().then_some(tenant),
            "problem": problem,
            "invalid": invalid,
            // What comes after the file: the login, on the certificate listener.
            "login_url": format!("{}/login", ctx.state.urls.mtls),
            // iOS and macOS install a configuration profile with a tap.
            "offer_profile": ctx.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok())
                .is_some_and(crate::flows::mobileconfig::is_apple_user_agent),
            // The install guide opened first; every other one is on the page too.
            "platform": install_platform(ctx.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("")),
        }),
    );
    no_store(&mut response);
    response
}

/// Which install guide fits the browser: Firefox on a desktop has its own certificate
/// store, so its guide wins there; on iOS and Android every browser uses the system's.
fn install_platform(user_agent: &str) -> &'static str {
    if user_agent.contains("iPhone") || user_agent.contains("iPad") || user_agent.contains("iPod") {
        "ios"
    } else if user_agent.contains("Android") {
        "android"
    } else if user_agent.contains("Firefox/") {
        "firefox"
    } else if user_agent.contains("Windows") {
        "windows"
    } else if user_agent.contains("Macintosh") || user_agent.contains("Mac OS X") {
        "macos"
    } else {
        ""
    }
}

fn unavailable_page(ctx: &PageCtx, status: StatusCode, reason: &str) -> Response {
    ctx.render(status, "download/unavailable.html", serde_json::json!({ "reason": reason }))
}

/// The PKCS#12 file as an attachment, never cached.
fn file_response(file: CertificateFile) -> Response {
    let disposition = format!("attachment; filename=\"{}\"", file.file_name);
    let mut response = (StatusCode::OK, file.pkcs12.to_vec()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-pkcs12"));
    // `file_name` is restricted to [A-Za-z0-9._-], so the header is always valid.
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The configuration profile, for Safari to hand to the profile installer; never cached.
fn profile_response(file: &CertificateFile, profile: Vec<u8>) -> Response {
    let name = format!("{}.mobileconfig", file.file_name.trim_end_matches(".p12"));
    let mut response = (StatusCode::OK, profile).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(crate::flows::mobileconfig::CONTENT_TYPE));
    // `file_name` is restricted to [A-Za-z0-9._-], so the header is always valid.
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn no_store(response: &mut Response) {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

#[cfg(test)]
mod tests {
    use super::install_platform;

    #[test]
    fn the_guide_opened_first_matches_the_browser() {
        for (ua, platform) in [
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                "windows",
            ),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", "firefox"),
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0", "firefox"),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
                "macos",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/133.0 Mobile/15E148 Safari/605.1.15",
                "ios",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                "android",
            ),
            ("Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0", "android"),
            ("curl/8.0", ""),
        ] {
            assert_eq!(install_platform(ua), platform, "{ua}");
        }
    }
}
