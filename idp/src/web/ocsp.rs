//! HTTP for the OCSP responders (RFC 6960 appendix A, RFC 5019 section 5): `POST
//! /ca/{ca}/ocsp` with an `application/ocsp-request` body, and `GET
//! /ca/{ca}/ocsp/{base64 of the DER request, URL-encoded}`. The answer is always `200`
//! with an `application/ocsp-response` (OCSP's own error statuses included), except a
//! body over [`MAX_OCSP_REQUEST_BYTES`] (413) or a POST of another content type (415).
//!
//! `/ca/ocsp` (POST, and GET with the request after it) is the issuing CA's responder
//! under a name that does not change when the CA is replaced: for clients configured
//! with one fixed OCSP URL. It answers for the CA that issues now; a certificate of an
//! earlier CA gets `unauthorized` there, and its own URL (in its AIA) answers for it.
//!
//! A signed answer to a GET without a nonce may be cached (RFC 5019 section 6.2) for at
//! most [`MAX_CACHE_SECONDS`], never past its `nextUpdate`, so that a revocation reaches a
//! client behind a cache within minutes; its `ETag` changes only when what it states
//! changes, and a revalidation that names it gets `304` without a new signature.
//! Everything else is `no-store`, a nonce'd answer above all, since it is made for one
//! request. The work is `pki::ocsp`.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use mamori_ca::MAX_OCSP_REQUEST_BYTES;
use time::OffsetDateTime;

use crate::pki::OcspAnswer;
use crate::state::SharedState;

pub const OCSP_REQUEST_TYPE: &str = "application/ocsp-request";
pub const OCSP_RESPONSE_TYPE: &str = "application/ocsp-response";
/// How long a cache may keep a GET answer before it asks again.
pub const MAX_CACHE_SECONDS: i64 = 300;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/ca/{ca}/ocsp", post(by_post))
        .route("/ca/{ca}/ocsp/{*request}", get(by_get))
        .route("/ca/ocsp", post(issuing_by_post))
        .route("/ca/ocsp/{*request}", get(issuing_by_get))
}

/// The URL key of the CA that issues now; an empty key (answered `unauthorized`, as for
/// an unknown CA) before one is set up or while the database is away.
async fn issuing_key(state: &SharedState) -> String {
    match state.app.storage.certificate_authorities().active().await {
        Ok(Some(ca)) => crate::pki::url_key(&ca.fingerprint_sha256).to_owned(),
        Ok(None) => String::new(),
        Err(err) => {
            tracing::warn!(%err, "OCSP: the issuing CA could not be read");
            String::new()
        }
    }
}

async fn issuing_by_post(State(state): State<SharedState>, headers: HeaderMap, body: Body) -> Response {
    let key = issuing_key(&state).await;
    by_post(State(state), Path(key), headers, body).await
}

async fn issuing_by_get(State(state): State<SharedState>, uri: Uri, headers: HeaderMap) -> Response {
    let Some(encoded) = uri.path().strip_prefix("/ca/ocsp/") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let key = issuing_key(&state).await;
    answer_get(&state, &key, encoded, &headers).await
}

async fn by_post(State(state): State<SharedState>, Path(key): Path<String>, headers: HeaderMap, body: Body) -> Response {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(|v| v.split(';').next().unwrap_or("").trim());
    if content_type.is_some_and(|t| !t.eq_ignore_ascii_case(OCSP_REQUEST_TYPE)) {
        return StatusCode::UNSUPPORTED_MEDIA_TYPE.into_response();
    }
    let Ok(request) = axum::body::to_bytes(body, MAX_OCSP_REQUEST_BYTES).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let now = state.app.clock.now();
    let answer = state.app.ca.ocsp_response(&key, &request, None, now).await;
    respond(answer, false, now)
}

/// The path is read from the URI itself rather than a decoded path parameter, so that
/// any bytes a client puts there end in an OCSP `malformedRequest`, not an HTML page.
async fn by_get(State(state): State<SharedState>, uri: Uri, headers: HeaderMap) -> Response {
    let Some((key, encoded)) = uri.path().strip_prefix("/ca/").and_then(|rest| rest.split_once("/ocsp/")) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    answer_get(&state, key, encoded, &headers).await
}

async fn answer_get(state: &SharedState, key: &str, encoded: &str, headers: &HeaderMap) -> Response {
    // Base64 takes 4 characters for 3 bytes; %2F and friends take 3 characters for 1.
    if encoded.len() > (MAX_OCSP_REQUEST_BYTES / 3 + 1) * 4 * 3 {
        return StatusCode::URI_TOO_LONG.into_response();
    }
    let now = state.app.clock.now();
    let if_none_match = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok());
    let answer = match decode_get_path(encoded) {
        Some(request) => state.app.ca.ocsp_response(key, &request, if_none_match, now).await,
        None => OcspAnswer { der: mamori_ca::OcspFailure::MalformedRequest.response_der(), cacheable: None, not_modified: false },
    };
    respond(answer, true, now)
}

/// RFC 6960 appendix A.1: `url-encoding of base-64 encoding of the DER encoding of the
/// OCSPRequest`. Padding may be dropped by clients; nothing else is forgiven.
fn decode_get_path(encoded: &str) -> Option<Vec<u8>> {
    let text: Vec<u8> = percent_encoding::percent_decode_str(encoded).collect();
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new().with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    engine.decode(text).ok()
}

fn respond(answer: OcspAnswer, by_get: bool, now: OffsetDateTime) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(OCSP_RESPONSE_TYPE));
    match answer.cacheable.filter(|_| by_get) {
        Some(cacheable) => {
            let max_age = (cacheable.next_update - now).whole_seconds().clamp(0, MAX_CACHE_SECONDS);
            let cache_control = format!("public, max-age={max_age}, no-transform, must-revalidate");
            for (name, value) in [
                (header::CACHE_CONTROL, Some(cache_control)),
                (header::LAST_MODIFIED, http_date(cacheable.this_update)),
                (header::EXPIRES, http_date(now + time::Duration::seconds(max_age))),
                (header::ETAG, Some(cacheable.etag)),
            ] {
                if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
                    headers.insert(name, value);
                }
            }
        }
        None => {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
    }
    if answer.not_modified && by_get {
        headers.remove(header::CONTENT_TYPE);
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    (StatusCode::OK, headers, Bytes::from(answer.der)).into_response()
}

/// An HTTP date (RFC 9110 section 5.6.7): `Sun, 06 Nov 1994 08:49:37 GMT`.
fn http_date(t: OffsetDateTime) -> Option<String> {
    let format = time::macros::format_description!("[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT");
    t.to_offset(time::UtcOffset::UTC).format(&format).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn get_paths_are_url_encoded_base64() {
        assert_eq!(decode_get_path("MAMCAQA%3D"), Some(vec![0x30, 0x03, 0x02, 0x01, 0x00]));
        assert_eq!(decode_get_path("MAMCAQA="), Some(vec![0x30, 0x03, 0x02, 0x01, 0x00]));
        assert_eq!(decode_get_path("MAMCAQA"), Some(vec![0x30, 0x03, 0x02, 0x01, 0x00]));
        // '/' and '+' of the alphabet, raw or escaped.
        assert_eq!(decode_get_path("+/8="), Some(vec![0xfb, 0xff]));
        assert_eq!(decode_get_path("%2B%2F8%3D"), Some(vec![0xfb, 0xff]));
        assert_eq!(decode_get_path("not base64!"), None);
        assert_eq!(decode_get_path("%ff%fe"), None);
    }

    #[test]
    fn http_dates_are_imf_fixdate() {
        assert_eq!(http_date(datetime!(1994-11-06 08:49:37 UTC)).as_deref(), Some("Sun, 06 Nov 1994 08:49:37 GMT"));
        assert_eq!(http_date(datetime!(1994-11-06 17:49:37 +9)).as_deref(), Some("Sun, 06 Nov 1994 08:49:37 GMT"));
    }

    #[test]
    fn only_signed_get_answers_without_a_nonce_are_cached() {
        let now = datetime!(2030-01-01 00:00:00 UTC);
        let window =
            |next_update| crate::pki::OcspCacheable { this_update: now - time::Duration::hours(1), next_update, etag: "\"e1\"".to_owned() };
        let answer = |cacheable, not_modified| OcspAnswer { der: vec![1, 2, 3], cacheable, not_modified };
        let cached = respond(answer(Some(window(now + time::Duration::hours(11))), false), true, now);
        let h = cached.headers();
        assert_eq!(h[header::CONTENT_TYPE], OCSP_RESPONSE_TYPE);
        // Five minutes at most, though the window runs 11 hours: a revocation shows soon.
        assert_eq!(h[header::CACHE_CONTROL], "public, max-age=300, no-transform, must-revalidate");
        assert_eq!(h[header::LAST_MODIFIED], "Mon, 31 Dec 2029 23:00:00 GMT");
        assert_eq!(h[header::EXPIRES], "Tue, 01 Jan 2030 00:05:00 GMT");
        assert_eq!(h[header::ETAG], "\"e1\"");
        // Never past nextUpdate.
        let ending = respond(answer(Some(window(now + time::Duration::seconds(42))), false), true, now);
        assert_eq!(ending.headers()[header::CACHE_CONTROL], "public, max-age=42, no-transform, must-revalidate");
        // A revalidation that still matches: 304 with the validators, no body.
        let same = respond(answer(Some(window(now + time::Duration::hours(11))), true), true, now);
        assert_eq!(same.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(same.headers()[header::ETAG], "\"e1\"");
        for (cacheable, by_get) in [(Some(window(now + time::Duration::hours(11))), false), (None, true)] {
            let answer = respond(answer(cacheable, false), by_get, now);
            assert_eq!(answer.headers()[header::CACHE_CONTROL], "no-store");
            assert!(!answer.headers().contains_key(header::ETAG));
        }
    }
}
