//! Redirect URIs as a relying site (or an attacker posing as one) meets them at the real
//! binary, driven with curl: parsed by one validator wherever a client is registered (CLI,
//! admin API, dynamic registration), never followed when hostile even if already stored,
//! and matched on any port for a native app's loopback address (RFC 8252 §7.3). Each
//! hostile URI sits beside the honest one it imitates.

use mamori_conformance::cluster::query_param;
use mamori_conformance::oidc::{authorize, cli_create, json, post, resume};
use mamori_conformance::{Quickstart, mamori, ok, stderr, stdout};

#[test]
fn redirect_uris_are_parsed_by_one_validator_wherever_a_client_is_registered() {
    let work = tempfile::tempdir().expect("tempdir");
    let qs = Quickstart::start(work.path());
    // The reported bypasses: userinfo that a prefix test read as a loopback host, sending
    // the browser to evil.example.
    // Then what an outside review tried: the rest of 127.0.0.0/8 (RFC 8252 names only
    // 127.0.0.1 and [::1]), a host that reads like a wildcard, and a port no socket has.
    let hostile = [
        "http://localhost:@evil.example/cb",
        "http://127.0.0.1:80@evil.example/cb",
        "https://rp.test/cb#frag",
        "http://localhost:8080/cb",
        "http://127.0.0.2/cb",
        "https://*.rp.test/cb",
        "https://rp.test:99999/cb",
    ];

    // The CLI (and through it the admin service): refused, naming the field.
    for uri in hostile {
        let out = cli_create(&qs, &["--name", "Evil", "--redirect-uri", uri]);
        assert!(!out.status.success(), "{uri} was registered: {}", stdout(&out));
        assert!(stderr(&out).contains("redirect_uris"), "{uri}: {}", stderr(&out));
        let out = cli_create(&qs, &["--name", "Evil", "--redirect-uri", "https://rp.test/cb", "--post-logout-redirect-uri", uri]);
        assert!(!out.status.success(), "post-logout {uri} was registered: {}", stdout(&out));
        assert!(stderr(&out).contains("post_logout_redirect_uris"), "{uri}: {}", stderr(&out));
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
    let token =
        json(&ok(mamori(&qs.config(), &["admin", "api-token", "create", "--super-admin", "--scope", "read,write", "--output", "json"])));
    let token = token["token"].as_str().unwrap_or_else(|| panic!("no token in {token}")).to_owned();
    let bearer = format!("Authorization: Bearer {token}");
    for uri in hostile {
        let body = serde_json::json!({"name": "Evil", "redirect_uris": [uri]}).to_string();
        let (status, headers, body) = post(&qs, "/admin/api/v1/tenants/demo/oidc-clients", "application/json", &body, &["-H", &bearer]);
        assert_eq!(status, 422, "{uri}: {body}");
        assert!(
            headers.contains("application/problem+json") && json(&body)["detail"].as_str().is_some_and(|d| d.starts_with("redirect_uris:")),
            "{uri}: {body}"
        );
        // The field and a catalogue key, for a front end to say it in its own language.
        let problem = json(&body);
        assert_eq!(problem["field"], "redirect_uris", "{body}");
        let key = problem["message_key"].as_str().unwrap_or_default();
        assert!(key.starts_with("oidc.redirect_uri."), "{body}");
    }
    let body = serde_json::json!({"name": "API RP", "redirect_uris": ["https://rp.test/cb", "http://127.0.0.1:8080/cb"]}).to_string();
    let (status, _, created) = post(&qs, "/admin/api/v1/tenants/demo/oidc-clients", "application/json", &body, &["-H", &bearer]);
    assert_eq!(status, 201, "{created}");

    // Dynamic registration (RFC 7591): invalid_redirect_uri, or invalid_client_metadata
    // for a post-logout URI.
    let initial = |qs: &Quickstart| {
        let t = json(&ok(mamori(&qs.config(), &["admin", "oidc-client", "initial-access-token", "--tenant", "demo", "--output", "json"])));
        format!("Authorization: Bearer {}", t["initial_access_token"].as_str().unwrap_or_default())
    };
    for uri in hostile {
        for (field, error) in [("redirect_uris", "invalid_redirect_uri"), ("post_logout_redirect_uris", "invalid_client_metadata")] {
            let mut metadata = serde_json::json!({"client_name": "Evil", "redirect_uris": ["https://rp.test/cb"]});
            metadata[field] = serde_json::json!([uri]);
            let (status, _, body) = post(&qs, "/t/demo/register", "application/json", &metadata.to_string(), &["-H", &initial(&qs)]);
            assert_eq!((status, json(&body)["error"].as_str()), (400, Some(error)), "{field} {uri}: {body}");
            // The description names the field, as the admin API's detail does.
            let description = json(&body)["error_description"].as_str().unwrap_or_default().to_owned();
            assert!(description.starts_with(&format!("{field}: ")), "{field} {uri}: {body}");
        }
    }
    let metadata = serde_json::json!({"client_name": "Dyn", "redirect_uris": ["http://[::1]:9000/cb"], "post_logout_redirect_uris": ["https://rp.test/bye"]});
    let (status, _, body) = post(&qs, "/t/demo/register", "application/json", &metadata.to_string(), &["-H", &initial(&qs)]);
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
    for uri in ["http://127.0.0.1:51234/cb", "http://127.0.0.1/cb", "http://[::1]:40000/cb", "https://rp.test/cb"] {
        let (status, location) = ask(uri);
        assert!((300..400).contains(&status) && location.contains("/oidc/resume/"), "{uri}: HTTP {status} to {location}");
        let (status, answer) = resume(&qs, &location);
        assert!((300..400).contains(&status) && answer.starts_with(&format!("{uri}?")), "{uri}: HTTP {status} to {answer}");
        assert_eq!(query_param(&answer, "error").as_deref(), Some("login_required"), "{answer}");
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
    ok(cli_create(&qs, &["--client-id", "legacy", "--name", "Legacy", "--redirect-uri", "https://rp.test/cb"]));
    let db = qs.data_dir().join("mamori.db");
    let tamper = "UPDATE oidc_clients SET redirect_uris = '[\"http://localhost:@evil.example/cb\",\"https://rp.test/cb\"]' WHERE client_id = 'legacy'; SELECT changes();";
    let out = mamori_conformance::tool("sqlite3", &[&db.display().to_string(), tamper], work.path());
    assert_eq!(stdout(&out).trim(), "1", "sqlite3: {}", stderr(&out));
    let legacy = |redirect_uri: &str| {
        authorize(
            &qs,
            &[("client_id", "legacy"), ("redirect_uri", redirect_uri), ("response_type", "code"), ("scope", "openid"), ("state", "s2")],
        )
    };
    let (status, location) = legacy("http://localhost:@evil.example/cb");
    assert_eq!((status, location.as_str()), (400, ""), "a stored hostile redirect URI was followed");
    let (status, location) = legacy("https://rp.test/cb");
    assert!((300..400).contains(&status) && location.contains("/oidc/resume/"), "HTTP {status} to {location}");
    qs.stop();
}
