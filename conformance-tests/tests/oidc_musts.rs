//! The MUSTs of OpenID Connect and OAuth that a relying site (or an attacker posing as
//! one) meets at the real binary, driven with curl: redirect URIs parsed by one validator
//! wherever a client is registered, loopback ports for native apps, JSON errors at the
//! token endpoint, discovery of unknown issuers, and pushed requests that only their
//! client can spend. Each hostile request sits beside the honest one it imitates.

use mamori_conformance::cluster::{encode, query_param};
use mamori_conformance::{Quickstart, body_and_status, mamori, ok, stderr, stdout};

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// `mamori admin oidc-client create` in the demo tenant with `args`; the process output.
fn cli_create(qs: &Quickstart, args: &[&str]) -> std::process::Output {
    let mut all = vec![
        "admin",
        "oidc-client",
        "create",
        "--tenant",
        "demo",
        "--output",
        "json",
    ];
    all.extend_from_slice(args);
    mamori(&qs.config(), &all)
}

/// A GET of the authorization endpoint without following redirects: (status, Location).
fn authorize(qs: &Quickstart, query: &[(&str, &str)]) -> (u16, String) {
    let query: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    let out = qs.curl(
        &format!("/t/demo/authorize?{}", query.join("&")),
        &["-o", "/dev/null", "-w", "%{http_code} %{redirect_url}"],
    );
    let text = stdout(&out);
    let (status, location) = text.split_once(' ').unwrap_or((text.as_str(), ""));
    (status.parse().unwrap_or(0), location.to_owned())
}

/// Follows an accepted request to the certificate listener, where `prompt=none` without a
/// session is answered at the redirect URI: (status, Location).
fn resume(qs: &Quickstart, location: &str) -> (u16, String) {
    let out = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "20", "--cacert"])
        .arg(qs.dev_root())
        .args([
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{redirect_url}",
            location,
        ])
        .output()
        .expect("curl runs");
    let text = stdout(&out);
    let (status, location) = text.split_once(' ').unwrap_or((text.as_str(), ""));
    (status.parse().unwrap_or(0), location.to_owned())
}

/// A POST with `content_type` and `body` to `path`: (status, headers, body).
fn post(
    qs: &Quickstart,
    path: &str,
    content_type: &str,
    body: &str,
    extra: &[&str],
) -> (u16, String, String) {
    let mut args = vec![
        "-D",
        "-",
        "-X",
        "POST",
        "-H",
        "Accept: application/json",
        "--data-binary",
        body,
        "-w",
        "\n%{http_code}",
    ];
    let header = format!("Content-Type: {content_type}");
    args.extend_from_slice(&["-H", &header]);
    args.extend_from_slice(extra);
    let (text, status) = body_and_status(&qs.curl(path, &args));
    let (headers, body) = text.split_once("\r\n\r\n").unwrap_or((text.as_str(), ""));
    (status, headers.to_ascii_lowercase(), body.to_owned())
}

#[test]
fn redirect_uris_are_parsed_by_one_validator_wherever_a_client_is_registered() {
    let work = tempfile::tempdir().expect("tempdir");
    let qs = Quickstart::start(work.path());
    // The reported bypasses: userinfo that a prefix test read as a loopback host, sending
    // the browser to evil.example.
    let hostile = [
        "http://localhost:@evil.example/cb",
        "http://127.0.0.1:80@evil.example/cb",
        "https://rp.test/cb#frag",
        "http://localhost:8080/cb",
    ];

    // The CLI (and through it the admin service): refused, naming the field.
    for uri in hostile {
        let out = cli_create(&qs, &["--name", "Evil", "--redirect-uri", uri]);
        assert!(
            !out.status.success(),
            "{uri} was registered: {}",
            stdout(&out)
        );
        assert!(
            stderr(&out).contains("redirect_uris"),
            "{uri}: {}",
            stderr(&out)
        );
        let out = cli_create(
            &qs,
            &[
                "--name",
                "Evil",
                "--redirect-uri",
                "https://rp.test/cb",
                "--post-logout-redirect-uri",
                uri,
            ],
        );
        assert!(
            !out.status.success(),
            "post-logout {uri} was registered: {}",
            stdout(&out)
        );
        assert!(
            stderr(&out).contains("post_logout_redirect_uris"),
            "{uri}: {}",
            stderr(&out)
        );
    }
    let honest = json(&ok(cli_create(
        &qs,
        &[
            "--client-id",
            "native",
            "--name",
            "Native app",
            "--auth-method",
            "none",
            "--redirect-uri",
            "http://127.0.0.1/cb",
            "--redirect-uri",
            "http://[::1]/cb",
            "--redirect-uri",
            "https://rp.test/cb",
            "--post-logout-redirect-uri",
            "https://rp.test/bye",
        ],
    )));
    assert_eq!(honest["client_id"], "native", "{honest}");

    // The admin API: the same validator, as problem+json naming the field.
    let token = json(&ok(mamori(
        &qs.config(),
        &[
            "admin",
            "api-token",
            "create",
            "--super-admin",
            "--scope",
            "read,write",
            "--output",
            "json",
        ],
    )));
    let token = token["token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token in {token}"))
        .to_owned();
    let bearer = format!("Authorization: Bearer {token}");
    for uri in hostile {
        let body = serde_json::json!({"name": "Evil", "redirect_uris": [uri]}).to_string();
        let (status, headers, body) = post(
            &qs,
            "/admin/api/v1/tenants/demo/oidc-clients",
            "application/json",
            &body,
            &["-H", &bearer],
        );
        assert_eq!(status, 422, "{uri}: {body}");
        assert!(
            headers.contains("application/problem+json")
                && json(&body)["detail"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("redirect_uris:")),
            "{uri}: {body}"
        );
    }
    let body = serde_json::json!({"name": "API RP", "redirect_uris": ["https://rp.test/cb", "http://127.0.0.1:8080/cb"]}).to_string();
    let (status, _, created) = post(
        &qs,
        "/admin/api/v1/tenants/demo/oidc-clients",
        "application/json",
        &body,
        &["-H", &bearer],
    );
    assert_eq!(status, 201, "{created}");

    // Dynamic registration (RFC 7591): invalid_redirect_uri, or invalid_client_metadata
    // for a post-logout URI.
    let initial = |qs: &Quickstart| {
        let t = json(&ok(mamori(
            &qs.config(),
            &[
                "admin",
                "oidc-client",
                "initial-access-token",
                "--tenant",
                "demo",
                "--output",
                "json",
            ],
        )));
        format!(
            "Authorization: Bearer {}",
            t["initial_access_token"].as_str().unwrap_or_default()
        )
    };
    for uri in hostile {
        for (field, error) in [
            ("redirect_uris", "invalid_redirect_uri"),
            ("post_logout_redirect_uris", "invalid_client_metadata"),
        ] {
            let mut metadata =
                serde_json::json!({"client_name": "Evil", "redirect_uris": ["https://rp.test/cb"]});
            metadata[field] = serde_json::json!([uri]);
            let (status, _, body) = post(
                &qs,
                "/t/demo/register",
                "application/json",
                &metadata.to_string(),
                &["-H", &initial(&qs)],
            );
            assert_eq!(
                (status, json(&body)["error"].as_str()),
                (400, Some(error)),
                "{field} {uri}: {body}"
            );
        }
    }
    let metadata = serde_json::json!({"client_name": "Dyn", "redirect_uris": ["http://[::1]:9000/cb"], "post_logout_redirect_uris": ["https://rp.test/bye"]});
    let (status, _, body) = post(
        &qs,
        "/t/demo/register",
        "application/json",
        &metadata.to_string(),
        &["-H", &initial(&qs)],
    );
    assert_eq!(status, 201, "{body}");

    // RFC 8252 §7.3: a native app's loopback redirect matches on any port, and only the
    // port may differ. Accepted requests go on to the certificate listener, where
    // prompt=none is answered at the redirect URI with the port the app asked for.
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let ask = |redirect_uri: &str| {
        authorize(
            &qs,
            &[
                ("client_id", "native"),
                ("redirect_uri", redirect_uri),
                ("response_type", "code"),
                ("scope", "openid"),
                ("state", "s1"),
                ("prompt", "none"),
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
            ],
        )
    };
    for uri in [
        "http://127.0.0.1:51234/cb",
        "http://127.0.0.1/cb",
        "http://[::1]:40000/cb",
        "https://rp.test/cb",
    ] {
        let (status, location) = ask(uri);
        assert!(
            (300..400).contains(&status) && location.contains("/oidc/resume/"),
            "{uri}: HTTP {status} to {location}"
        );
        let (status, answer) = resume(&qs, &location);
        assert!(
            (300..400).contains(&status) && answer.starts_with(&format!("{uri}?")),
            "{uri}: HTTP {status} to {answer}"
        );
        assert_eq!(
            query_param(&answer, "error").as_deref(),
            Some("login_required"),
            "{answer}"
        );
    }
    for uri in [
        "http://127.0.0.1:51234/other",
        "http://127.0.0.1:51234/cb?x=1",
        "http://127.0.0.2:51234/cb",
        "http://localhost:51234/cb",
        "http://127.0.0.1:51234@evil.example/cb",
        "https://127.0.0.1:51234/cb",
        "https://rp.test:8443/cb",
    ] {
        let (status, location) = ask(uri);
        assert_eq!((status, location.as_str()), (400, ""), "{uri} was followed");
    }

    // A client registered before the validator, its hostile URI still in the database:
    // the authorization endpoint does not follow it, while its honest URI still works.
    ok(cli_create(
        &qs,
        &[
            "--client-id",
            "legacy",
            "--name",
            "Legacy",
            "--redirect-uri",
            "https://rp.test/cb",
        ],
    ));
    let db = qs.data_dir().join("mamori.db");
    let tamper = "UPDATE oidc_clients SET redirect_uris = '[\"http://localhost:@evil.example/cb\",\"https://rp.test/cb\"]' WHERE client_id = 'legacy'; SELECT changes();";
    let out =
        mamori_conformance::tool("sqlite3", &[&db.display().to_string(), tamper], work.path());
    assert_eq!(stdout(&out).trim(), "1", "sqlite3: {}", stderr(&out));
    let legacy = |redirect_uri: &str| {
        authorize(
            &qs,
            &[
                ("client_id", "legacy"),
                ("redirect_uri", redirect_uri),
                ("response_type", "code"),
                ("scope", "openid"),
                ("state", "s2"),
            ],
        )
    };
    let (status, location) = legacy("http://localhost:@evil.example/cb");
    assert_eq!(
        (status, location.as_str()),
        (400, ""),
        "a stored hostile redirect URI was followed"
    );
    let (status, location) = legacy("https://rp.test/cb");
    assert!(
        (300..400).contains(&status) && location.contains("/oidc/resume/"),
        "HTTP {status} to {location}"
    );
    qs.stop();
}

#[test]
fn the_token_endpoint_answers_every_error_in_json_never_cached() {
    let work = tempfile::tempdir().expect("tempdir");
    let qs = Quickstart::start(work.path());
    let assert_json_error =
        |(status, headers, body): (u16, String, String), want: (u16, &str), what: &str| {
            assert_eq!(status, want.0, "{what}: {headers}{body}");
            assert!(
                headers.contains("content-type: application/json"),
                "{what}: {headers}"
            );
            assert!(
                headers.contains("cache-control: no-store"),
                "{what}: {headers}"
            );
            assert_eq!(
                json(&body)["error"].as_str(),
                Some(want.1),
                "{what}: {body}"
            );
        };
    // Honest: a form body, answered in JSON even when refused.
    let form = post(
        &qs,
        "/t/demo/token",
        "application/x-www-form-urlencoded",
        "grant_type=password&client_id=nobody",
        &[],
    );
    assert_json_error(form, (401, "invalid_client"), "form");
    let form = post(
        &qs,
        "/t/demo/token",
        "application/x-www-form-urlencoded; charset=UTF-8",
        "grant_type=password",
        &[],
    );
    assert_json_error(form, (401, "invalid_client"), "form with charset");
    // Other bodies are invalid_request, not the framework's plain-text 415.
    for content_type in [
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=x",
    ] {
        let answer = post(
            &qs,
            "/t/demo/token",
            content_type,
            "{\"grant_type\":\"client_credentials\"}",
            &[],
        );
        assert_json_error(answer, (400, "invalid_request"), content_type);
    }
    // A tenant segment that does not decode to UTF-8: JSON too, not the router's text.
    let bad_tenant = post(
        &qs,
        "/t/%FF/token",
        "application/x-www-form-urlencoded",
        "grant_type=client_credentials",
        &[],
    );
    assert_json_error(bad_tenant, (400, "invalid_request"), "undecodable tenant");
    for endpoint in ["/t/demo/revoke", "/t/demo/introspect", "/t/demo/par"] {
        assert_json_error(
            post(&qs, endpoint, "text/plain", "token=x", &[]),
            (400, "invalid_request"),
            endpoint,
        );
        let undecodable = endpoint.replace("demo", "%FF");
        let answer = post(
            &qs,
            &undecodable,
            "application/x-www-form-urlencoded",
            "token=x",
            &[],
        );
        assert_json_error(answer, (400, "invalid_request"), &undecodable);
    }
    // A GET is 405 with Allow, in JSON too.
    let (text, status) =
        body_and_status(&qs.curl("/t/demo/token", &["-D", "-", "-w", "\n%{http_code}"]));
    let lower = text.to_ascii_lowercase();
    assert_eq!(status, 405, "{text}");
    assert!(
        lower.contains("allow: post")
            && lower.contains("cache-control: no-store")
            && lower.contains("\"error\":\"invalid_request\""),
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
        assert_eq!(
            json(&body)["issuer"].as_str(),
            Some(issuer.as_str()),
            "{path}"
        );
    }
    for path in [
        "/t/nosuch/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server/t/nosuch",
        "/t/%FF/.well-known/openid-configuration",
    ] {
        let (body, status) = get(path);
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(
            json(&body)["error"].as_str(),
            Some("not_found"),
            "{path}: {body}"
        );
    }
    qs.stop();
}

#[test]
fn a_pushed_request_presented_by_another_client_is_not_spent_for_its_owner() {
    let work = tempfile::tempdir().expect("tempdir");
    let qs = Quickstart::start(work.path());
    let owner = json(&ok(cli_create(
        &qs,
        &[
            "--client-id",
            "par-owner",
            "--name",
            "Owner",
            "--redirect-uri",
            "https://rp.test/cb",
        ],
    )));
    ok(cli_create(
        &qs,
        &[
            "--client-id",
            "par-other",
            "--name",
            "Other",
            "--redirect-uri",
            "https://rp.test/cb",
        ],
    ));
    let secret = owner["client_secret"]
        .as_str()
        .unwrap_or_else(|| panic!("no secret in {owner}"))
        .to_owned();
    let form = "response_type=code&redirect_uri=https%3A%2F%2Frp.test%2Fcb&scope=openid&state=pushed&prompt=none";
    let credentials = format!("par-owner:{secret}");
    let (status, _, body) = post(
        &qs,
        "/t/demo/par",
        "application/x-www-form-urlencoded",
        form,
        &["-u", &credentials],
    );
    assert_eq!(status, 201, "{body}");
    let request_uri = json(&body)["request_uri"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    // Another client, then the right client at an unknown tenant: refused on our page.
    let (status, location) = authorize(
        &qs,
        &[("client_id", "par-other"), ("request_uri", &request_uri)],
    );
    assert_eq!(
        (status, location.as_str()),
        (400, ""),
        "another client used the pushed request"
    );
    // Its owner still can, once.
    let (status, location) = authorize(
        &qs,
        &[("client_id", "par-owner"), ("request_uri", &request_uri)],
    );
    assert!(
        (300..400).contains(&status) && location.contains("/oidc/resume/"),
        "HTTP {status} to {location}"
    );
    let (_, answer) = resume(&qs, &location);
    assert_eq!(
        query_param(&answer, "state").as_deref(),
        Some("pushed"),
        "{answer}"
    );
    let (status, location) = authorize(
        &qs,
        &[("client_id", "par-owner"), ("request_uri", &request_uri)],
    );
    assert_eq!(
        (status, location.as_str()),
        (400, ""),
        "a pushed request was used twice"
    );
    qs.stop();
}

#[test]
fn an_unknown_client_is_refused_without_spending_an_argon2_hash() {
    let work = tempfile::tempdir().expect("tempdir");
    // A server whose own hashes are slow (about a second), so a hash spent on an unknown
    // client shows in the answer time; clients registered by the CLI keep its defaults.
    let qs =
        Quickstart::start_with_env(work.path(), &[("MAMORI_HASHING__ARGON2_ITERATIONS", "200")]);
    let known = json(&ok(cli_create(
        &qs,
        &[
            "--client-id",
            "known",
            "--name",
            "Known",
            "--grant-type",
            "client_credentials",
        ],
    )));
    assert!(known["client_secret"].is_string(), "{known}");
    let attempt = |client_id: &str| {
        let credentials = format!("{client_id}:wrong-secret");
        let out = qs.curl(
            "/t/demo/token",
            &[
                "-u",
                &credentials,
                "-d",
                "grant_type=client_credentials",
                "-w",
                "\n%{http_code} %{time_total}",
            ],
        );
        let text = stdout(&out);
        let (body, tail) = text.rsplit_once('\n').unwrap_or(("", text.as_str()));
        let (status, seconds) = tail.split_once(' ').unwrap_or((tail, "0"));
        (
            status.parse::<u16>().unwrap_or(0),
            body.to_owned(),
            seconds.parse::<f64>().unwrap_or(f64::MAX),
        )
    };
    // The same answer for an unknown client as for a known one with a wrong secret ...
    let (status, body, _) = attempt("known");
    assert_eq!(
        (status, json(&body)["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    let (status, unknown_body, _) = attempt("no-such-client");
    assert_eq!(
        (status, unknown_body.as_str()),
        (401, body.as_str()),
        "an unknown client is told apart"
    );
    // ... but fast: the quickest of three well under one slow hash.
    let fastest = (0..3)
        .map(|_| attempt("no-such-client").2)
        .fold(f64::MAX, f64::min);
    assert!(
        fastest < 0.4,
        "an unknown client took {fastest} s: a hash was spent on it"
    );
    qs.stop();
}
