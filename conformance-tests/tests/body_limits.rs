//! A body larger than its endpoint takes is refused from its declared length, at once:
//! before authentication (no token lookup, no Argon2 hash) and without waiting for the
//! bytes, in the endpoint's own format. The CSV import takes what the README says.

use mamori_conformance::{HtmlForm, Quickstart, attribute, body_and_status, mamori, ok};

#[test]
fn declared_oversized_bodies_are_refused_before_authentication_and_without_waiting() {
    let work = tempfile::tempdir().expect("tempdir");
    let qs = Quickstart::start(work.path());
    // 100 MB declared, one byte sent: a server that waited for the body would hold the
    // request until curl gives up (--max-time), so an answer at all shows it did not.
    let declared =
        ["--http1.1", "-X", "POST", "-H", "Content-Length: 100000000", "--data-binary", "x", "--max-time", "20", "-w", "\n%{http_code}"];
    let (body, status) =
        body_and_status(&qs.curl("/t/demo/token", &[&declared[..], &["-H", "Content-Type: application/x-www-form-urlencoded"]].concat()));
    assert_eq!(status, 413, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("a JSON error");
    assert_eq!(json["error"], "invalid_request");
    // The admin API answers 413 before it looks at the (missing) token: not 401.
    let (body, status) =
        body_and_status(&qs.curl("/admin/api/v1/tenants/demo/users", &[&declared[..], &["-H", "Content-Type: application/json"]].concat()));
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("payload-too-large"), "{body}");
    // Pages too: every form, SAML's HTTP-POST binding and the portal on the mTLS
    // listener answer the error page in the user's language at once, instead of reading
    // megabytes or waiting for bytes that never come.
    let form = ["-H", "Content-Type: application/x-www-form-urlencoded", "-H", "Accept-Language: ja"];
    for path in ["/download", "/reissue/password", "/enroll/some-ticket", "/t/demo/authorize", "/t/demo/saml/sso", "/t/demo/saml/slo"] {
        let (body, status) = body_and_status(&qs.curl(path, &[&declared[..], &form[..]].concat()));
        assert_eq!(status, 413, "POST {path}: {body}");
        assert!(body.contains("<html") && body.contains("lang=\"ja\""), "POST {path}: not the Japanese error page: {body}");
    }
    let (body, status) = body_and_status(&qs.curl_mtls("/account/password", &[&declared[..], &form[..]].concat()));
    assert_eq!(status, 413, "POST /account/password: {body}");
    // Honest: a form of ordinary size still reaches its page (the download form answers
    // its own refusal for a missing CSRF token, not 413).
    let (body, status) = body_and_status(&qs.curl(
        "/download",
        &["--http1.1", "-X", "POST", "--data", "acquisition_id=x", "-w", "\n%{http_code}", "-H", "Accept-Language: en"],
    ));
    assert!(status != 413 && status < 500, "{status}: {body}");
    // Honest: a small body goes on to authentication as before.
    let (_, status) = body_and_status(&qs.curl(
        "/admin/api/v1/tenants/demo/users",
        &["--http1.1", "-X", "POST", "-H", "Content-Type: application/json", "--data", "{}", "-w", "\n%{http_code}"],
    ));
    assert_eq!(status, 401);
    // Over HTTP/2 too, every time: an answer given before the body was read used to end
    // in a stream reset that curl reports as an error (and no answer) now and then.
    for i in 0..20 {
        let (body, status) = body_and_status(&qs.curl(
            "/admin/api/v1/tenants/demo/users",
            &["--http2", "-X", "POST", "-H", "Content-Type: application/json", "--data", "{}", "-w", "\n%{http_code}"],
        ));
        assert_eq!(status, 401, "attempt {i}: {body}");
    }
    qs.stop();
}

#[test]
fn the_csv_import_takes_the_four_mebibytes_the_readme_states() {
    let work = tempfile::tempdir().expect("tempdir");
    let qs = Quickstart::start(work.path());
    let token: serde_json::Value = serde_json::from_str(&ok(mamori(
        &qs.config(),
        &["admin", "api-token", "create", "--super-admin", "--scope", "read,write", "--output", "json"],
    )))
    .expect("json");
    let auth = format!("Authorization: Bearer {}", token["token"].as_str().expect("token"));
    let import = |bytes: usize| {
        // Long rows of a bad e-mail address (under the 10,000-row cap): each fails alone,
        // quickly, and nothing is created.
        let mut csv = String::from("login_id,email\n");
        let mut i = 0;
        let filler = "x".repeat(400);
        while csv.len() < bytes {
            csv.push_str(&format!("user-{i:07},not-an-address-{filler}\n"));
            i += 1;
        }
        let file = work.path().join(format!("import-{bytes}.csv"));
        std::fs::write(&file, &csv).expect("write");
        let data = format!("@{}", file.display());
        body_and_status(&qs.curl(
            "/admin/api/v1/tenants/demo/users/import",
            // HTTP/1.1 asks `Expect: 100-continue` for a large body: a refusal arrives before
            // the upload (over HTTP/2 a refusal mid-upload resets the stream).
            &["--http1.1", "-X", "POST", "-H", &auth, "-H", "Content-Type: text/csv", "--data-binary", &data, "-w", "\n%{http_code}"],
        ))
    };
    // 3 MiB: over axum's 2 MB default, under the stated 4 MiB: read and reported per row.
    let (body, status) = import(3 * 1024 * 1024);
    assert_eq!(status, 200, "{}", &body[..body.len().min(300)]);
    // Over 4 MiB: a problem document.
    let (body, status) = import(4 * 1024 * 1024 + 10);
    assert_eq!(status, 413, "{}", &body[..body.len().min(300)]);
    assert!(body.contains("payload-too-large"), "{}", &body[..body.len().min(300)]);
    qs.stop();
}

/// A hand-made POST with a field longer than any page lets a browser type (`maxlength`):
/// the refusal names the field, in the page's language, links back to the form it came
/// from (its `return_to` kept), and nothing happened: no login attempt was recorded.
#[test]
fn an_overlong_login_field_is_named_and_the_way_back_kept() {
    let work = tempfile::tempdir().expect("tempdir");
    let qs = Quickstart::start(work.path());
    let jar = work.path().join("cookies");
    let jar_arg = jar.display().to_string();
    let cookies = ["-b", jar_arg.as_str(), "-c", jar_arg.as_str()];
    let attempts = || {
        let events = ok(mamori(&qs.config(), &["admin", "events", "login", "--tenant", "pw", "--output", "json"]));
        serde_json::from_str::<serde_json::Value>(&events).expect("json")["page"]["total"].as_u64().expect("total")
    };
    // A tenant that logs in with a password alone: its form is on the main listener.
    ok(mamori(&qs.config(), &["admin", "tenant", "create", "--slug", "pw", "--name", "Password only"]));
    ok(mamori(
        &qs.config(),
        &[
            "admin",
            "tenant",
            "policy",
            "--tenant",
            "pw",
            "--set",
            r#"allowed_login_methods=["password"]"#,
            "--set",
            "default_login_method=password",
        ],
    ));
    let before = attempts();
    let form_page = "/login?tenant=pw&return_to=%2Faccount";
    let (page, status) = body_and_status(&qs.curl(form_page, &[&cookies[..], &["-w", "\n%{http_code}"]].concat()));
    assert_eq!(status, 200, "{page}");
    let form = HtmlForm::containing(&page, "id=\"login-form\"").expect("the login form");
    let referer = format!("Referer: {}{form_page}", qs.main_url);
    let post = |login_id: &str, lang: &str, referer: Option<&str>| {
        let mut form = form.clone();
        form.set("login_id", login_id).set("password", "Wrong-password-1");
        let data = form.curl_data();
        let mut args: Vec<&str> = cookies.to_vec();
        args.extend(["-w", "\n%{http_code}", "-H", lang, "-X", "POST"]);
        if let Some(referer) = referer {
            args.extend(["-H", referer]);
        }
        args.extend(data.iter().map(String::as_str));
        body_and_status(&qs.curl(&form.action, &args))
    };
    let long = "x".repeat(300);
    for (lang, label) in [("Accept-Language: ja", "「ユーザID」"), ("Accept-Language: en", "“User ID”")] {
        let (body, status) = post(&long, lang, Some(&referer));
        assert_eq!(status, 400, "{body}");
        assert!(body.contains(label) && body.contains("64"), "{lang}: the field is not named with its limit: {body}");
        assert_eq!(way_back(&body).as_deref(), Some("/login?tenant=pw&return_to=%2Faccount"), "{lang}: {body}");
    }
    // Without a Referer (a script), still a way back: to the form's own address.
    let (body, status) = post(&long, "Accept-Language: en", None);
    assert_eq!(status, 400, "{body}");
    assert!(way_back(&body).is_some_and(|href| href.starts_with('/')), "{body}");
    // Hostile: a Referer of another site is not where the link leads.
    let (body, status) = post(&long, "Accept-Language: en", Some("Referer: https://evil.example/login?return_to=%2Faccount"));
    assert_eq!(status, 400, "{body}");
    assert!(way_back(&body).is_some_and(|href| href.starts_with('/') && !href.contains("evil")), "{body}");
    assert_eq!(attempts(), before, "a refused form recorded a login attempt");
    // Just past the form's maxlength (64, the user ID rule): refused as too long too, not
    // counted as a wrong login against anyone.
    let (body, status) = post(&"x".repeat(65), "Accept-Language: en", Some(&referer));
    assert_eq!(status, 400, "{body}");
    assert_eq!(attempts(), before, "a refused form recorded a login attempt");
    // Honest twin: a value at the limit is read, and fails as a wrong login does.
    let (body, status) = post(&"x".repeat(64), "Accept-Language: en", Some(&referer));
    assert!(status != 400 && !body.contains("is too long (at most"), "{status}: {body}");
    qs.stop();
}

/// The href of the error page's link back to the form.
fn way_back(page: &str) -> Option<String> {
    let at = page.find("id=\"error-back\"")?;
    let start = page[..at].rfind("<a")?;
    attribute(&page[start..at + page[at..].find('>')?], "href")
}
