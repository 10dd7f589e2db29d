//! Helpers for the OpenID Connect end-to-end tests: curl against the quickstart's demo
//! tenant, and the CLI that registers its clients.

use crate::cluster::encode;
use crate::{Quickstart, body_and_status, mamori, stdout};

/// `text` as JSON, failing the test with the text when it is not.
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// `mamori admin oidc-client create` in the demo tenant with `args`; the process output.
pub fn cli_create(qs: &Quickstart, args: &[&str]) -> std::process::Output {
    let mut all = vec!["admin", "oidc-client", "create", "--tenant", "demo", "--output", "json"];
    all.extend_from_slice(args);
    mamori(&qs.config(), &all)
}

/// A GET of the authorization endpoint without following redirects: (status, Location).
pub fn authorize(qs: &Quickstart, query: &[(&str, &str)]) -> (u16, String) {
    let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
    let out = qs.curl(&format!("/t/demo/authorize?{}", query.join("&")), &["-o", "/dev/null", "-w", "%{http_code} %{redirect_url}"]);
    let text = stdout(&out);
    let (status, location) = text.split_once(' ').unwrap_or((text.as_str(), ""));
    (status.parse().unwrap_or(0), location.to_owned())
}

/// Follows an accepted request to the certificate listener, where `prompt=none` without a
/// session is answered at the redirect URI: (status, Location).
pub fn resume(qs: &Quickstart, location: &str) -> (u16, String) {
    let out = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "20", "--cacert"])
        .arg(qs.dev_root())
        .args(["-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", location])
        .output()
        .expect("curl runs");
    let text = stdout(&out);
    let (status, location) = text.split_once(' ').unwrap_or((text.as_str(), ""));
    (status.parse().unwrap_or(0), location.to_owned())
}

/// A POST with `content_type` and `body` to `path`: (status, headers, body).
pub fn post(qs: &Quickstart, path: &str, content_type: &str, body: &str, extra: &[&str]) -> (u16, String, String) {
    let mut args = vec!["-D", "-", "-X", "POST", "-H", "Accept: application/json", "--data-binary", body, "-w", "\n%{http_code}"];
    let header = format!("Content-Type: {content_type}");
    args.extend_from_slice(&["-H", &header]);
    args.extend_from_slice(extra);
    let (text, status) = body_and_status(&qs.curl(path, &args));
    let (headers, body) = text.split_once("\r\n\r\n").unwrap_or((text.as_str(), ""));
    (status, headers.to_ascii_lowercase(), body.to_owned())
}
