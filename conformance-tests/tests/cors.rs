//! CORS for browser apps at the real binary, driven with curl as a browser would send
//! it (an `Origin` header, and `OPTIONS` preflights): a client's web origins (the origins
//! of its redirect URIs) get `Access-Control-Allow-Origin` on token, userinfo,
//! revocation, discovery and JWKS; every other origin gets none, and so do the
//! authorization and login pages. Each hostile origin sits beside the honest one it
//! imitates. (A single-page app in Chromium: `oidc/spa-cors.test.mjs`.)

use mamori_conformance::oidc::{cli_create, json};
use mamori_conformance::{Quickstart, ok, stdout};

/// The single-page app's registered origins.
const APP: &str = "https://app.example";
const APP_LOOPBACK: &str = "http://127.0.0.1:5173";
/// A web origin of another client of the same tenant.
const OTHER: &str = "https://other.example";
/// Origins nobody registered, each imitating [`APP`] or [`APP_LOOPBACK`].
const HOSTILE: [&str; 8] = [
    "null",
    "https://evil.example",
    "https://app.example.evil",
    "https://evil.app.example",
    "http://app.example",
    "https://app.example:8443",
    "http://127.0.0.1:5174",
    "http://localhost:5173",
];

/// A request with `Origin: origin` (and `extra` curl arguments): (status, lower-cased headers, body).
fn from_origin(qs: &Quickstart, method: &str, path: &str, origin: &str, extra: &[&str]) -> (u16, String, String) {
    let origin_header = format!("Origin: {origin}");
    let mut args = vec!["-D", "-", "-X", method, "-H", origin_header.as_str()];
    args.extend_from_slice(extra);
    let text = stdout(&qs.curl(path, &args));
    let (headers, body) = text.split_once("\r\n\r\n").unwrap_or((text.as_str(), ""));
    let status = headers.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, headers.to_ascii_lowercase(), body.to_owned())
}

/// The `Access-Control-Allow-Origin` value, if any.
fn allowed_origin(headers: &str) -> Option<String> {
    headers.lines().find_map(|l| l.strip_prefix("access-control-allow-origin:")).map(|v| v.trim().to_owned())
}

/// Every answer of a CORS endpoint says it varies by origin, and none allows credentials.
fn assert_cors_shape(headers: &str, what: &str) {
    assert!(headers.lines().any(|l| l.starts_with("vary:") && l.contains("origin")), "{what}: no Vary: Origin\n{headers}");
    assert!(!headers.contains("access-control-allow-credentials"), "{what}: credentials allowed\n{headers}");
}

fn preflight(qs: &Quickstart, path: &str, origin: &str, method: &str, headers: &str) -> (u16, String, String) {
    let method_header = format!("Access-Control-Request-Method: {method}");
    let headers_header = format!("Access-Control-Request-Headers: {headers}");
    from_origin(qs, "OPTIONS", path, origin, &["-H", &method_header, "-H", &headers_header])
}

fn form(body: &str) -> Vec<String> {
    ["-H", "Content-Type: application/x-www-form-urlencoded", "--data-binary", body].map(str::to_owned).to_vec()
}

fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn only_a_clients_own_web_origins_get_cors_and_only_on_the_five_endpoints() {
    let work = tempfile::tempdir().expect("tempdir");
    let qs = Quickstart::start(work.path());
    let public = |id: &str, uris: &[&str]| {
        let mut args = vec!["--client-id", id, "--name", id, "--auth-method", "none", "--grant-type", "authorization_code"];
        args.extend(uris.iter().flat_map(|u| ["--redirect-uri", *u]));
        ok(cli_create(&qs, &args))
    };
    public("spa", &["https://app.example/cb", "http://127.0.0.1:5173/callback"]);
    public("other", &["https://other.example/cb"]);
    let confidential = json(&ok(cli_create(
        &qs,
        &[
            "--client-id",
            "backend",
            "--name",
            "Backend",
            "--grant-type",
            "client_credentials",
            "--grant-type",
            "authorization_code",
            "--redirect-uri",
            "https://backend.example/cb",
        ],
    )));
    let secret = confidential["client_secret"].as_str().expect("a secret").to_owned();

    // Discovery and JWKS are the tenant's: any client's web origin reads them.
    for path in ["/t/demo/.well-known/openid-configuration", "/.well-known/oauth-authorization-server/t/demo", "/t/demo/jwks"] {
        for origin in [APP, APP_LOOPBACK, OTHER] {
            let (status, headers, _) = from_origin(&qs, "GET", path, origin, &[]);
            assert_eq!(status, 200, "{path} from {origin}");
            assert_cors_shape(&headers, path);
            assert_eq!(allowed_origin(&headers).as_deref(), Some(origin), "{path} from {origin}\n{headers}");
            let (status, headers, _) = preflight(&qs, path, origin, "GET", "authorization");
            assert_eq!((status, allowed_origin(&headers).as_deref()), (204, Some(origin)), "{path} preflight\n{headers}");
        }
        for origin in HOSTILE {
            let (status, headers, _) = from_origin(&qs, "GET", path, origin, &[]);
            assert_eq!(status, 200, "{path} from {origin}: the document is still served, only not to scripts");
            assert_cors_shape(&headers, path);
            assert_eq!(allowed_origin(&headers), None, "{path} from {origin}\n{headers}");
            let (_, headers, _) = preflight(&qs, path, origin, "GET", "authorization");
            assert_eq!(allowed_origin(&headers), None, "{path} preflight from {origin}\n{headers}");
        }
        // Without an Origin (not a browser's cross-origin request): no CORS, still Vary.
        let text = stdout(&qs.curl(path, &["-D", "-", "-o", "/dev/null"])).to_ascii_lowercase();
        assert_cors_shape(&text, path);
        assert_eq!(allowed_origin(&text), None, "{path} without Origin");
    }
    // An unknown tenant has no clients, so no origins.
    let (status, headers, _) = from_origin(&qs, "GET", "/t/nobody/.well-known/openid-configuration", APP, &[]);
    assert_eq!((status, allowed_origin(&headers)), (404, None), "{headers}");

    // Token and revocation preflights name no client: any web origin of the tenant passes,
    // with the methods and headers a browser app needs and nothing more.
    for path in ["/t/demo/token", "/t/demo/revoke"] {
        for origin in [APP, APP_LOOPBACK, OTHER] {
            let (status, headers, _) = preflight(&qs, path, origin, "POST", "authorization, content-type");
            assert_eq!((status, allowed_origin(&headers).as_deref()), (204, Some(origin)), "{path} preflight\n{headers}");
            assert_cors_shape(&headers, path);
            assert!(headers.contains("access-control-allow-methods: post\r\n"), "{headers}");
            assert!(headers.contains("access-control-allow-headers: authorization, content-type\r\n"), "{headers}");
            assert!(headers.contains("access-control-max-age:"), "{headers}");
            assert!(!headers.contains("access-control-expose-headers"), "{headers}");
        }
        for origin in HOSTILE {
            let (status, headers, _) = preflight(&qs, path, origin, "POST", "authorization, content-type");
            assert_eq!(status, 204, "{path} preflight from {origin}");
            assert_cors_shape(&headers, path);
            assert_eq!(allowed_origin(&headers), None, "{path} preflight from {origin}\n{headers}");
            assert!(!headers.contains("access-control-allow-methods"), "{path} preflight from {origin}\n{headers}");
        }
    }

    // The token endpoint's answer (here an invalid_grant, for a code never issued) is read
    // only from the origins of the client the request names: the SPA's own, not another
    // client's registered origin.
    let exchange = form(
        "grant_type=authorization_code&client_id=spa&code=never-issued&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&code_verifier=0123456789012345678901234567890123456789abc",
    );
    for origin in [APP, APP_LOOPBACK] {
        let (status, headers, body) = from_origin(&qs, "POST", "/t/demo/token", origin, &refs(&exchange));
        assert_eq!(status, 400, "{body}");
        assert_eq!(json(&body)["error"], "invalid_grant", "{body}");
        assert_cors_shape(&headers, "token");
        assert_eq!(allowed_origin(&headers).as_deref(), Some(origin), "token from {origin}\n{headers}");
    }
    for origin in HOSTILE.iter().chain(&[OTHER]) {
        let (status, headers, _) = from_origin(&qs, "POST", "/t/demo/token", origin, &refs(&exchange));
        assert_eq!(status, 400);
        assert_cors_shape(&headers, "token");
        assert_eq!(allowed_origin(&headers), None, "token for spa from {origin}\n{headers}");
    }
    // The other client's origin gets its own client's answers, not the SPA's.
    let other_exchange = form("grant_type=authorization_code&client_id=other&code=x&redirect_uri=https%3A%2F%2Fother.example%2Fcb");
    let (_, headers, _) = from_origin(&qs, "POST", "/t/demo/token", OTHER, &refs(&other_exchange));
    assert_eq!(allowed_origin(&headers).as_deref(), Some(OTHER), "{headers}");
    // A confidential client authenticating with Basic is named by it; its successful
    // answer (an access token) reaches no origin it did not register.
    let basic = format!("backend:{secret}");
    let cc = form("grant_type=client_credentials");
    let mut cc_args = refs(&cc);
    cc_args.extend(["-u", basic.as_str()]);
    let (status, headers, body) = from_origin(&qs, "POST", "/t/demo/token", APP, &cc_args);
    assert_eq!(status, 200, "{body}");
    assert_eq!(allowed_origin(&headers), None, "backend's token to the SPA's origin\n{headers}");
    let (status, headers, body) = from_origin(&qs, "POST", "/t/demo/token", "https://backend.example", &cc_args);
    assert_eq!(status, 200, "{body}");
    assert_eq!(allowed_origin(&headers).as_deref(), Some("https://backend.example"), "{headers}");
    let access_token = json(&body)["access_token"].as_str().expect("an access token").to_owned();

    // Revocation: the same rule (RFC 7009 answers 200 whether or not the token was known).
    let revoke = form("client_id=spa&token=unknown-token");
    for origin in [APP, APP_LOOPBACK] {
        let (status, headers, _) = from_origin(&qs, "POST", "/t/demo/revoke", origin, &refs(&revoke));
        assert_eq!(status, 200);
        assert_cors_shape(&headers, "revoke");
        assert_eq!(allowed_origin(&headers).as_deref(), Some(origin), "revoke from {origin}\n{headers}");
    }
    for origin in HOSTILE.iter().chain(&[OTHER]) {
        let (status, headers, _) = from_origin(&qs, "POST", "/t/demo/revoke", origin, &refs(&revoke));
        assert_eq!(status, 200);
        assert_cors_shape(&headers, "revoke");
        assert_eq!(allowed_origin(&headers), None, "revoke for spa from {origin}\n{headers}");
    }

    // Userinfo: a live token's answer goes only to its client's origins (here backend's
    // client_credentials token, which has no user: 403 insufficient_scope, still about
    // backend's token). Without a live token there is no client and nothing about anyone:
    // the tenant's origins may read the 401, others may not.
    let bearer = format!("Authorization: Bearer {access_token}");
    let (status, headers, _) = from_origin(&qs, "GET", "/t/demo/userinfo", "https://backend.example", &["-H", &bearer]);
    assert_eq!(status, 403, "{headers}");
    assert_cors_shape(&headers, "userinfo");
    assert_eq!(allowed_origin(&headers).as_deref(), Some("https://backend.example"), "{headers}");
    for origin in HOSTILE.iter().chain(&[APP, OTHER]) {
        let (status, headers, _) = from_origin(&qs, "GET", "/t/demo/userinfo", origin, &["-H", &bearer]);
        assert_eq!(status, 403);
        assert_eq!(allowed_origin(&headers), None, "backend's userinfo answer to {origin}\n{headers}");
    }
    let (status, headers, _) = from_origin(&qs, "GET", "/t/demo/userinfo", APP, &["-H", "Authorization: Bearer not-a-token"]);
    assert_eq!((status, allowed_origin(&headers).as_deref()), (401, Some(APP)), "{headers}");
    for origin in HOSTILE {
        let (status, headers, _) = from_origin(&qs, "GET", "/t/demo/userinfo", origin, &["-H", "Authorization: Bearer not-a-token"]);
        assert_eq!((status, allowed_origin(&headers)), (401, None), "{origin}\n{headers}");
    }
    let (status, headers, _) = preflight(&qs, "/t/demo/userinfo", APP, "GET", "authorization");
    assert_eq!((status, allowed_origin(&headers).as_deref()), (204, Some(APP)), "{headers}");
    assert!(headers.contains("access-control-allow-methods: get, post\r\n"), "{headers}");
    let (_, headers, _) = preflight(&qs, "/t/demo/userinfo", "https://app.example.evil", "GET", "authorization");
    assert_eq!(allowed_origin(&headers), None, "{headers}");

    // The pages a browser visits itself answer no CORS, even to a registered origin.
    let authorize = "/t/demo/authorize?client_id=spa&response_type=code&scope=openid&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";
    for (method, path) in
        [("GET", authorize), ("OPTIONS", authorize), ("GET", "/login"), ("OPTIONS", "/login"), ("OPTIONS", "/t/demo/introspect")]
    {
        let (status, headers, _) = from_origin(&qs, method, path, APP, &["-H", "Access-Control-Request-Method: POST"]);
        assert!(status != 0, "{method} {path}");
        assert_eq!(allowed_origin(&headers), None, "{method} {path}\n{headers}");
    }
    qs.stop();
}

#[test]
fn a_stored_redirect_uri_that_todays_rules_refuse_grants_no_origin() {
    let work = tempfile::tempdir().expect("tempdir");
    let qs = Quickstart::start(work.path());
    ok(cli_create(&qs, &["--client-id", "legacy", "--name", "Legacy", "--auth-method", "none", "--redirect-uri", "https://rp.test/cb"]));
    // Stored before the redirect URI validator: its WHATWG origin is the attacker's.
    let db = qs.data_dir().join("mamori.db");
    let tamper = "UPDATE oidc_clients SET redirect_uris = '[\"http://localhost:@evil.example/cb\",\"https://rp.test/cb\"]' WHERE client_id = 'legacy'; SELECT changes();";
    let out = mamori_conformance::tool("sqlite3", &[&db.display().to_string(), tamper], work.path());
    assert_eq!(stdout(&out).trim(), "1");
    let revoke = form("client_id=legacy&token=unknown-token");
    let (status, headers, _) = from_origin(&qs, "POST", "/t/demo/revoke", "https://rp.test", &refs(&revoke));
    assert_eq!((status, allowed_origin(&headers).as_deref()), (200, Some("https://rp.test")), "{headers}");
    let (status, headers, _) = from_origin(&qs, "POST", "/t/demo/revoke", "http://evil.example", &refs(&revoke));
    assert_eq!((status, allowed_origin(&headers)), (200, None), "{headers}");
    let (_, headers, _) = from_origin(&qs, "GET", "/t/demo/jwks", "http://evil.example", &[]);
    assert_eq!(allowed_origin(&headers), None, "{headers}");
    let (_, headers, _) = from_origin(&qs, "GET", "/t/demo/jwks", "https://rp.test", &[]);
    assert_eq!(allowed_origin(&headers).as_deref(), Some("https://rp.test"), "{headers}");
    qs.stop();
}
