//! The MUSTs of OpenID Connect and OAuth that a relying site (or an attacker posing as
//! one) meets at the real binary, driven with curl: JSON errors at the token endpoint,
//! discovery of unknown issuers, pushed requests that only their client can spend, and
//! unknown clients refused without a slow hash (redirect URIs: `redirect_uris.rs`). Each
//! hostile request sits beside the honest one it imitates.

use mamori_conformance::cluster::query_param;
use mamori_conformance::oidc::{authorize, cli_create, json, post, resume};
use mamori_conformance::{Quickstart, body_and_status, ok, stdout};

#[test]
fn the_token_endpoint_answers_every_error_in_json_never_cached() {
    let work = tempfile::tempdir().expect("tempdir");
    let qs = Quickstart::start(work.path());
    let assert_json_error = |(status, headers, body): (u16, String, String), want: (u16, &str), what: &str| {
        assert_eq!(status, want.0, "{what}: {headers}{body}");
        assert!(headers.contains("content-type: application/json"), "{what}: {headers}");
        assert!(headers.contains("cache-control: no-store"), "{what}: {headers}");
        assert_eq!(json(&body)["error"].as_str(), Some(want.1), "{what}: {body}");
    };
    // Honest: a form body, answered in JSON even when refused.
    let form = post(&qs, "/t/demo/token", "application/x-www-form-urlencoded", "grant_type=password&client_id=nobody", &[]);
    assert_json_error(form, (401, "invalid_client"), "form");
    let form = post(&qs, "/t/demo/token", "application/x-www-form-urlencoded; charset=UTF-8", "grant_type=password", &[]);
    assert_json_error(form, (401, "invalid_client"), "form with charset");
    // Other bodies are invalid_request, not the framework's plain-text 415.
    for content_type in ["application/json", "text/plain", "multipart/form-data; boundary=x"] {
        let answer = post(&qs, "/t/demo/token", content_type, "{\"grant_type\":\"client_credentials\"}", &[]);
        assert_json_error(answer, (400, "invalid_request"), content_type);
    }
    // A tenant segment that does not decode to UTF-8: JSON too, not the router's text.
    let bad_tenant = post(&qs, "/t/%FF/token", "application/x-www-form-urlencoded", "grant_type=client_credentials", &[]);
    assert_json_error(bad_tenant, (400, "invalid_request"), "undecodable tenant");
    for endpoint in ["/t/demo/revoke", "/t/demo/introspect", "/t/demo/par"] {
        assert_json_error(post(&qs, endpoint, "text/plain", "token=x", &[]), (400, "invalid_request"), endpoint);
        let undecodable = endpoint.replace("demo", "%FF");
        let answer = post(&qs, &undecodable, "application/x-www-form-urlencoded", "token=x", &[]);
        assert_json_error(answer, (400, "invalid_request"), &undecodable);
    }
    // A GET is 405 with Allow, in JSON too.
    let (text, status) = body_and_status(&qs.curl("/t/demo/token", &["-D", "-", "-w", "\n%{http_code}"]));
    let lower = text.to_ascii_lowercase();
    assert_eq!(status, 405, "{text}");
    assert!(
        lower.contains("allow: post") && lower.contains("cache-control: no-store") && lower.contains("\"error\":\"invalid_request\""),
        "{text}"
    );
    qs.stop();
}

#[test]
fn discovery_is_404_for_an_unknown_issuer_and_served_at_the_rfc_8414_address() {
    let work = tempfile::tempdir().expect("tempdir");
    let qs = Quickstart::start(work.path());
    let get = |path: &str| body_and_status(&qs.curl(path, &["-w", "\n%{http_code}"]));
    let issuer = format!("{}/t/demo", qs.main_url);
    for path in [
        "/t/demo/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server/t/demo",
        "/t/demo/.well-known/oauth-authorization-server",
    ] {
        let (body, status) = get(path);
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(json(&body)["issuer"].as_str(), Some(issuer.as_str()), "{path}");
    }
    for path in [
        "/t/nosuch/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server/t/nosuch",
        "/t/%FF/.well-known/openid-configuration",
        // The unknown issuer's other resources are not there either (an outside review
        // saw 400 invalid_request here).
        "/t/nosuch/jwks",
        "/t/nosuch/userinfo",
    ] {
        let (body, status) = get(path);
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(json(&body)["error"].as_str(), Some("not_found"), "{path}: {body}");
    }
    let (status, _, body) = post(&qs, "/t/nosuch/register", "application/json", "{}", &["-H", "Authorization: Bearer x"]);
    assert_eq!((status, json(&body)["error"].as_str()), (404, Some("not_found")), "{body}");
    // A request with no token at all is challenged without an error code (RFC 6750 §3.1).
    let headers = stdout(&qs.curl("/t/demo/userinfo", &["-D", "-", "-o", "/dev/null"])).to_ascii_lowercase();
    let challenge = headers.lines().find(|l| l.starts_with("www-authenticate:")).unwrap_or_default();
    assert_eq!(challenge.trim_end(), "www-authenticate: bearer realm=\"mamori\"", "{headers}");
    qs.stop();
}

#[test]
fn a_pushed_request_presented_by_another_client_is_not_spent_for_its_owner() {
    let work = tempfile::tempdir().expect("tempdir");
    let qs = Quickstart::start(work.path());
    let owner = json(&ok(cli_create(&qs, &["--client-id", "par-owner", "--name", "Owner", "--redirect-uri", "https://rp.test/cb"])));
    ok(cli_create(&qs, &["--client-id", "par-other", "--name", "Other", "--redirect-uri", "https://rp.test/cb"]));
    let secret = owner["client_secret"].as_str().unwrap_or_else(|| panic!("no secret in {owner}")).to_owned();
    let form = "response_type=code&redirect_uri=https%3A%2F%2Frp.test%2Fcb&scope=openid&state=pushed&prompt=none";
    let credentials = format!("par-owner:{secret}");
    let (status, _, body) = post(&qs, "/t/demo/par", "application/x-www-form-urlencoded", form, &["-u", &credentials]);
    assert_eq!(status, 201, "{body}");
    let request_uri = json(&body)["request_uri"].as_str().unwrap_or_default().to_owned();

    // Another client, then the right client at an unknown tenant: refused on our page.
    let (status, location) = authorize(&qs, &[("client_id", "par-other"), ("request_uri", &request_uri)]);
    assert_eq!((status, location.as_str()), (400, ""), "another client used the pushed request");
    // Its owner still can, once.
    let (status, location) = authorize(&qs, &[("client_id", "par-owner"), ("request_uri", &request_uri)]);
    assert!((300..400).contains(&status) && location.contains("/oidc/resume/"), "HTTP {status} to {location}");
    let (_, answer) = resume(&qs, &location);
    assert_eq!(query_param(&answer, "state").as_deref(), Some("pushed"), "{answer}");
    let (status, location) = authorize(&qs, &[("client_id", "par-owner"), ("request_uri", &request_uri)]);
    assert_eq!((status, location.as_str()), (400, ""), "a pushed request was used twice");
    qs.stop();
}

#[test]
fn an_unknown_client_is_refused_without_spending_an_argon2_hash() {
    let work = tempfile::tempdir().expect("tempdir");
    // A server whose own hashes are slow (about a second), so a hash spent on an unknown
    // client shows in the answer time; clients registered by the CLI keep its defaults.
    let qs = Quickstart::start_with_env(work.path(), &[("MAMORI_HASHING__ARGON2_ITERATIONS", "200")]);
    let known = json(&ok(cli_create(&qs, &["--client-id", "known", "--name", "Known", "--grant-type", "client_credentials"])));
    assert!(known["client_secret"].is_string(), "{known}");
    let attempt = |client_id: &str| {
        let credentials = format!("{client_id}:wrong-secret");
        let out =
            qs.curl("/t/demo/token", &["-u", &credentials, "-d", "grant_type=client_credentials", "-w", "\n%{http_code} %{time_total}"]);
        let text = stdout(&out);
        let (body, tail) = text.rsplit_once('\n').unwrap_or(("", text.as_str()));
        let (status, seconds) = tail.split_once(' ').unwrap_or((tail, "0"));
        (status.parse::<u16>().unwrap_or(0), body.to_owned(), seconds.parse::<f64>().unwrap_or(f64::MAX))
    };
    // The same answer for an unknown client as for a known one with a wrong secret ...
    let (status, body, _) = attempt("known");
    assert_eq!((status, json(&body)["error"].as_str()), (401, Some("invalid_client")), "{body}");
    let (status, unknown_body, _) = attempt("no-such-client");
    assert_eq!((status, unknown_body.as_str()), (401, body.as_str()), "an unknown client is told apart");
    // ... but fast: the quickest of three well under one slow hash.
    let fastest = (0..3).map(|_| attempt("no-such-client").2).fold(f64::MAX, f64::min);
    assert!(fastest < 0.4, "an unknown client took {fastest} s: a hash was spent on it");
    qs.stop();
}

/// The page a person meets when a request cannot be answered at its redirect URI says
/// what is wrong in the page's language: no English description on a Japanese page, the
/// error code kept as the identifier to report.
#[test]
fn the_authorization_error_page_speaks_the_page_language() {
    let work = tempfile::tempdir().expect("tempdir");
    let qs = Quickstart::start(work.path());
    let path = "/t/demo/authorize?client_id=no-such-site&response_type=code&scope=openid&redirect_uri=https%3A%2F%2Frp.test%2Fcb";
    let page = |language: &str| {
        let (body, status) = body_and_status(&qs.curl(path, &["-H", &format!("Accept-Language: {language}"), "-w", "\n%{http_code}"]));
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("id=\"oauth-error\">invalid_request<"), "{body}");
        body
    };
    let ja = page("ja");
    assert!(ja.contains("このログインサービスに登録されていません"), "{ja}");
    assert!(!ja.contains("unknown client_id"), "English on a Japanese page:\n{ja}");
    let en = page("en");
    assert!(en.contains("is not registered with this login service"), "{en}");
    qs.stop();
}
