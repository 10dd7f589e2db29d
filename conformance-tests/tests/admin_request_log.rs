//! The request log names who made each admin API call and from where: the token's id
//! (never the token) and the source address, on the request's own line, for calls that
//! succeed and calls that are refused.

use mamori_conformance::{Quickstart, body_and_status, mamori, ok};

#[test]
fn admin_calls_are_logged_with_the_token_id_and_source_address() {
    let work = tempfile::tempdir().expect("tempdir");
    // JSON lines, as production logs are shipped: the fields are read, not pattern-matched.
    let qs = Quickstart::start_with_env(work.path(), &[("MAMORI_LOG__FORMAT", "json")]);
    let created: serde_json::Value = serde_json::from_str(&ok(mamori(
        &qs.config(),
        &["admin", "api-token", "create", "--super-admin", "--scope", "read", "--output", "json"],
    )))
    .expect("json");
    let token = created["token"].as_str().expect("token").to_owned();
    let id = created["id"].as_str().expect("token id").to_owned();
    qs.log_lines("\u{0}");

    // A read with a good token: its line says which token and from where.
    let auth = format!("Authorization: Bearer {token}");
    let (body, status) = body_and_status(&qs.curl("/admin/api/v1/tenants/demo/users", &["-H", &auth, "-w", "\n%{http_code}"]));
    assert_eq!(status, 200, "{body}");
    let lines = qs.log_lines("/admin/api/v1/tenants/demo/users");
    let line = request_line(&lines, 200);
    assert_eq!(line["span"]["path"], "/admin/api/v1/tenants/demo/users", "{line}");
    assert_eq!(line["span"]["actor"], format!("token:{id}"), "the token id is not on the line: {line}");
    assert_eq!(line["span"]["source_ip"], "127.0.0.1", "the source address is not on the line: {line}");
    assert!(lines.iter().all(|l| !l.contains(&token)), "the token itself is in the log");

    // Refused (a wrong token): the line still names the source, and no token as actor.
    let (_, status) = body_and_status(
        &qs.curl("/admin/api/v1/tenants/demo/users", &["-H", "Authorization: Bearer mamori_at_wrong", "-w", "\n%{http_code}"]),
    );
    assert_eq!(status, 401);
    let line = request_line(&qs.log_lines("\"status\":401"), 401);
    assert_eq!(line["span"]["source_ip"], "127.0.0.1", "{line}");
    assert!(line["span"].get("actor").is_none(), "a refused call is logged as a token's: {line}");
    qs.stop();
}

/// The request's own line ("request", with its status) among JSON log lines.
fn request_line(lines: &[String], status: u16) -> serde_json::Value {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .rfind(|v| v["message"] == "request" && v["status"] == status)
        .unwrap_or_else(|| panic!("no request line with status {status} in {lines:#?}"))
}

/// Text logs as an operator ships them (to a file, not a terminal): no colour codes, no
/// single-use token from an enrollment or reissue link, and no path of any length; and
/// the documented `MAMORI_DEMO_RP_LISTEN` is not reported as an unknown config key.
#[test]
fn text_logs_carry_no_colour_codes_tokens_or_giant_paths() {
    let work = tempfile::tempdir().expect("tempdir");
    let qs = Quickstart::start_with_env(work.path(), &[("MAMORI_DEMO_RP_LISTEN", "127.0.0.1:0")]);
    let startup = qs.log_lines("\u{0}").join("\n");
    assert!(!startup.to_lowercase().contains("demo_rp_listen"), "MAMORI_DEMO_RP_LISTEN reported:\n{startup}");
    let secrets = ["/enroll/EnrollSecret4242", "/enroll/EnrollSecret4343/register", "/reissue/password/ReissueSecret77"];
    for path in secrets {
        let (_, status) = body_and_status(&qs.curl(path, &["-w", "\n%{http_code}"]));
        assert!(status < 500, "{path}: {status}");
    }
    let giant = format!("/t/{}", "x".repeat(20_000));
    let (_, status) = body_and_status(&qs.curl(&giant, &["-w", "\n%{http_code}"]));
    assert!(status < 500, "{status}");
    let lines = qs.log_lines("bytes)");
    let log = lines.join("\n");
    assert!(log.contains("/enroll/{token}") && log.contains("/reissue/password/{token}"), "the redacted paths are logged:\n{log}");
    for secret in ["EnrollSecret4242", "EnrollSecret4343", "ReissueSecret77"] {
        assert!(!log.contains(secret), "{secret} is in the log:\n{log}");
    }
    assert!(log.contains("… (20003 bytes)"), "the giant path is cut and its length said");
    assert!(lines.iter().all(|l| l.len() < 2000), "a log line holds the giant path");
    assert!(!log.contains('\u{1b}'), "colour codes in a log that is not a terminal:\n{log}");
    qs.stop();
}
