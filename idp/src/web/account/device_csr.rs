//! A device's certificate for a key made on the device (issue 21): the form shows how to
//! make a key and a certificate signing request with `openssl`, takes the request pasted
//! or uploaded (PEM or DER), and answers with the certificate and its chain as PEM, shown
//! and offered as files. The files are `data:` links in the page itself: issuing revokes
//! the device's previous certificate, which may be the one this browser's session runs
//! on, so nothing after this page may depend on the session.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use base64::Engine as _;
use mamori_ca::CsrProblem;
use mamori_storage::model::Device;

use super::{Portal, portal_or_return, require_or_return};
use crate::flows::account::{self as flow, CsrCertificate, CsrOutcome, CsrRefusal, Feature};
use crate::state::SharedState;
use crate::web::context::{PageCtx, PostedUpload, field};
use crate::web::page::switch_stays_here;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/account/devices/{device_no}/csr", switch_stays_here(get(show).post(submit)).layer(DefaultBodyLimit::max(FORM_BODY_BYTES)))
}

/// The field names of the form (see `account/device_csr.html`).
const PASTED: &str = "csr_pem";
const UPLOADED: &str = "csr_file";
const SUBMISSION: &str = "submission";
/// The seal binding the submission token to the user and device the form was made for.
const SUBMISSION_SEAL: &str = "submission_seal";
const SEAL_PURPOSE: &str = "device-csr-submission";

/// The seal of a submission token for this user's device: a token from a form made for
/// another user or device, or one made up, is no submission of this form.
fn submission_seal(portal: &Portal, device: &Device, token: &str) -> String {
    let (user, device_no) = (portal.user.id.to_string(), device.device_no.to_string());
    portal.ctx.app().csrf.seal_fields(SEAL_PURPOSE, &[Some(&user), Some(&device_no), Some(token)])
}

/// The most the form's body may carry, read as it streams in: what the server lets any
/// page declare (`server::body_limit`, which handlers do not depend on), so that a
/// chunked body gets no more room than a declared one.
const FORM_BODY_BYTES: usize = 64 * 1024;

/// The largest request this page takes. Real ones are far smaller (RSA 8192: ~2.3 kB of
/// PEM); the CA's own bound ([`mamori_ca::MAX_CSR_BYTES`]) is the last line, not this.
const MAX_REQUEST_BYTES: usize = 16 * 1024;

async fn device_or_page(portal: &Portal, device_no: u32) -> Result<Device, Response> {
    match flow::find_device(portal.ctx.app(), &portal.user, device_no).await {
        Ok(Some(device)) => Ok(device),
        Ok(None) => Err(portal.ctx.error(StatusCode::NOT_FOUND, "account.device.not_found")),
        Err(err) => Err(portal.internal(&err)),
    }
}

/// The form, with a fresh one-time token: each rendering can issue one certificate.
fn form_page(portal: &Portal, device: &Device, problem: Option<Vec<String>>, status: StatusCode) -> Response {
    let file_stem = file_stem(&portal.user.login_id, device.device_no);
    let submission = crate::secrets::url_token();
    portal.page(
        status,
        "account/device_csr.html",
        serde_json::json!({
            "device_no": device.device_no,
            "email": device.email,
            "file_stem": file_stem,
            "submission": submission,
            "submission_seal": submission_seal(portal, device, &submission),
            "max_kb": MAX_REQUEST_BYTES / 1024,
            // The tenant's own minimum, in the instructions as in the check.
            "min_rsa_bits": portal.tenant.policy.csr_min_rsa_bits.to_string(),
            "problem": problem,
            // A refusal for the state of things (409, 429) has nothing in the form to
            // correct: no "please correct" before it.
            "problem_plain": status == StatusCode::CONFLICT || status == StatusCode::TOO_MANY_REQUESTS,
        }),
    )
}

async fn show(ctx: PageCtx, Path(device_no): Path<u32>) -> Response {
    let portal = portal_or_return!(ctx, &format!("/account/devices/{device_no}/csr"));
    require_or_return!(portal, Feature::Devices);
    match device_or_page(&portal, device_no).await {
        Ok(device) => form_page(&portal, &device, None, StatusCode::OK),
        Err(page) => page,
    }
}

async fn submit(Path(device_no): Path<u32>, upload: PostedUpload) -> Response {
    let PostedUpload { ctx, form, large } = upload;
    let pasted = large.get(PASTED).map(Vec::as_slice).unwrap_or(field(&form, PASTED).as_bytes()).to_vec();
    let uploaded = large.get(UPLOADED).cloned().unwrap_or_default();
    let portal = portal_or_return!(ctx, &format!("/account/devices/{device_no}/csr"));
    require_or_return!(portal, Feature::Devices);
    let device = match device_or_page(&portal, device_no).await {
        Ok(device) => device,
        Err(page) => return page,
    };
    let csr = match chosen_request(pasted, uploaded) {
        Ok(csr) => csr,
        Err(refusal) => return refused(&portal, &device, &refusal),
    };
    let app = portal.ctx.app();
    let token = field(&form, SUBMISSION);
    let (user, device_no) = (portal.user.id.to_string(), device.device_no.to_string());
    if !app.csrf.fields_sealed(SEAL_PURPOSE, &[Some(&user), Some(&device_no), Some(token)], field(&form, SUBMISSION_SEAL)) {
        return form_page(&portal, &device, Some(portal.messages(&["csr.problem.form-not-this"])), StatusCode::CONFLICT);
    }
    let outcome = flow::issue_for_device_csr(app, &portal.tenant, &portal.user, &device, csr, token, &portal.attempt()).await;
    match outcome {
        Ok(CsrOutcome::Issued(issued)) => {
            let page = issued_page(&portal, &device, &issued);
            // A certificate was revoked: the user's other sessions end, as after a reissue.
            portal.ending_other_sessions(page).await
        }
        Ok(CsrOutcome::Refused(refusal)) => refused(&portal, &device, &refusal),
        Ok(CsrOutcome::AlreadySubmitted) => {
            form_page(&portal, &device, Some(portal.messages(&["csr.problem.already-submitted"])), StatusCode::CONFLICT)
        }
        Ok(CsrOutcome::NoCertificateMethod) => {
            form_page(&portal, &device, Some(portal.messages(&["csr.problem.no-certificate-method"])), StatusCode::CONFLICT)
        }
        Ok(CsrOutcome::NoLiveCertificate) => {
            form_page(&portal, &device, Some(portal.messages(&["csr.problem.no-live-certificate"])), StatusCode::CONFLICT)
        }
        Ok(CsrOutcome::Throttled { retry_after_secs }) => {
            let minutes = retry_after_secs.div_ceil(60).to_string();
            let message = portal.ctx.message("csr.problem.throttled").replace("{minutes}", &minutes);
            let mut page = form_page(&portal, &device, Some(vec![message]), StatusCode::TOO_MANY_REQUESTS);
            if let Ok(value) = axum::http::HeaderValue::from_str(&retry_after_secs.to_string()) {
                page.headers_mut().insert(axum::http::header::RETRY_AFTER, value);
            }
            page
        }
        Err(err) => portal.internal(&err),
    }
}

/// The request the user sent: pasted or uploaded, not both, within the size bound.
fn chosen_request(pasted: Vec<u8>, uploaded: Vec<u8>) -> Result<Vec<u8>, CsrRefusal> {
    let pasted_empty = pasted.trim_ascii().is_empty();
    let chosen = match (pasted_empty, uploaded.is_empty()) {
        (true, true) => return Err(CsrRefusal::Missing),
        (false, false) => return Err(CsrRefusal::Both),
        (false, true) => pasted,
        (true, false) => uploaded,
    };
    if chosen.len() > MAX_REQUEST_BYTES {
        return Err(CsrRefusal::TooLarge);
    }
    Ok(chosen)
}

/// The form again, naming what is wrong with the request (422).
fn refused(portal: &Portal, device: &Device, refusal: &CsrRefusal) -> Response {
    let message = refusal_message(portal, refusal);
    form_page(portal, device, Some(vec![message]), StatusCode::UNPROCESSABLE_ENTITY)
}

/// One sentence in the page's language for each way a request can be refused.
fn refusal_message(portal: &Portal, refusal: &CsrRefusal) -> String {
    let t = |key: &str| portal.ctx.message(key);
    match refusal {
        CsrRefusal::Missing => t("csr.problem.missing"),
        CsrRefusal::Both => t("csr.problem.both"),
        CsrRefusal::TooLarge => t("csr.problem.too-large").replace("{kb}", &(MAX_REQUEST_BYTES / 1024).to_string()),
        CsrRefusal::Signature => t("csr.problem.signature"),
        CsrRefusal::CompromisedKey => t("csr.problem.compromised-key"),
        CsrRefusal::KeyOfAnotherDevice => t("csr.problem.key-of-another-device"),
        CsrRefusal::Problem(problem) => {
            let text = t(&format!("csr.problem.{}", problem.code()));
            match problem {
                CsrProblem::TooLarge { max_bytes } => text.replace("{kb}", &(max_bytes / 1024).to_string()),
                CsrProblem::WrongPemLabel(label) => text.replace("{label}", label),
                CsrProblem::UnsupportedVersion(v) => text.replace("{version}", &v.to_string()),
                CsrProblem::RsaKeyTooSmall { bits, min_bits } => {
                    text.replace("{bits}", &bits.to_string()).replace("{min}", &min_bits.to_string())
                }
                CsrProblem::RsaKeyTooLarge { bits, max_bits } => {
                    text.replace("{bits}", &bits.to_string()).replace("{max}", &max_bits.to_string())
                }
                _ => text,
            }
        }
    }
}

fn issued_page(portal: &Portal, device: &Device, issued: &CsrCertificate) -> Response {
    let stem = file_stem(&portal.user.login_id, device.device_no);
    let data_link = |pem: &str| format!("data:application/x-pem-file;base64,{}", base64::engine::general_purpose::STANDARD.encode(pem));
    let ignored: Vec<String> = issued.ignored.iter().map(|i| portal.ctx.message(&format!("csr.ignored.{}", i.code()))).collect();
    portal.page(
        StatusCode::OK,
        "account/device_csr_issued.html",
        serde_json::json!({
            "device_no": device.device_no,
            "certificate_name": issued.certificate_name,
            "serial": issued.serial_hex,
            "expires": flow::format_date(issued.not_after, &portal.user.time_zone),
            "key": issued.key_description,
            "ignored": ignored,
            "certificate_pem": issued.certificate_pem,
            "chain_pem": issued.chain_pem,
            "certificate_href": data_link(&issued.certificate_pem),
            "chain_href": data_link(&issued.chain_pem),
            "file_stem": stem,
        }),
    )
}

/// File names for the key, request, certificate and chain: `mamori-{login}-{no}`, in the
/// characters a shell command and a `download` attribute take without quoting.
fn file_stem(login_id: &str, device_no: u32) -> String {
    let safe: String =
        login_id.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') { c } else { '_' }).take(64).collect();
    format!("mamori-{safe}-{device_no}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_request_is_taken_from_the_paste_or_the_upload() {
        assert_eq!(chosen_request(b" \n".to_vec(), Vec::new()), Err(CsrRefusal::Missing));
        assert_eq!(chosen_request(b"a".to_vec(), b"b".to_vec()), Err(CsrRefusal::Both));
        assert_eq!(chosen_request(b"a".to_vec(), Vec::new()), Ok(b"a".to_vec()));
        assert_eq!(chosen_request(Vec::new(), b"b".to_vec()), Ok(b"b".to_vec()));
        assert_eq!(chosen_request(vec![b'x'; MAX_REQUEST_BYTES + 1], Vec::new()), Err(CsrRefusal::TooLarge));
    }

    #[test]
    fn file_stems_need_no_quoting() {
        assert_eq!(file_stem("p-01-usr012", 2), "mamori-p-01-usr012-2");
        assert_eq!(file_stem("a b;$(x)", 1), "mamori-a_b___x_-1");
        assert_eq!(file_stem("山田", 3), "mamori-__-3");
    }
}
