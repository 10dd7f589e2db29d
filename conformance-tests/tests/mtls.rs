//! The certificate step of login (flow 3) as TLS tools see it: openssl s_client for what
//! each listener asks for, curl with PKCS#12 client certificates for what the login
//! pages answer, and the guards around the flow (CSRF, single-use enrollment URLs,
//! expired login sessions).

use std::path::{Path, PathBuf};

use mamori_conformance::login_client::element_text;
use mamori_conformance::{HtmlForm, Quickstart, body_and_status, mamori, ok, stderr, stdout, tool};

/// `openssl s_client` against a local port, for `localhost`, with no input.
fn s_client(qs: &Quickstart, port: u16) -> String {
    let out = tool(
        "openssl",
        &[
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-servername",
            "localhost",
            "-CAfile",
            &qs.dev_root().display().to_string(),
        ],
        &qs.data_dir(),
    );
    format!("{}{}", stdout(&out), stderr(&out))
}

/// The curl arguments that present a PKCS#12 client certificate.
fn p12_args(p12: &Path, password: &str) -> Vec<String> {
    vec!["--cert-type".into(), "P12".into(), "--cert".into(), format!("{}:{password}", p12.display())]
}

fn as_strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// GET on the certificate listener; returns (body, HTTP status).
fn get_mtls(qs: &Quickstart, path: &str, extra: &[String]) -> (String, u16) {
    let mut args = as_strs(extra);
    args.extend(["-w", "\n%{http_code}"]);
    body_and_status(&qs.curl_mtls(path, &args))
}

fn create_user(qs: &Quickstart, login_id: &str) {
    ok(mamori(
        &qs.config(),
        &["admin", "user", "create", "--tenant", "demo", "--login-id", login_id, "--email", &format!("{login_id}@example.test")],
    ));
}

/// A CA of our own and a client certificate from it, as a PKCS#12 (made with openssl).
fn foreign_p12(dir: &Path) -> (PathBuf, String) {
    let run = |args: &[&str]| {
        let out = tool("openssl", args, dir);
        assert!(out.status.success(), "openssl {args:?}: {}", stderr(&out));
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "foreign-ca.key",
        "-out",
        "foreign-ca.pem",
        "-subj",
        "/CN=Some Other CA",
        "-days",
        "30",
    ]);
    run(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "foreign.key",
        "-out",
        "foreign.csr",
        "-subj",
        "/CN=demo-user",
    ]);
    std::fs::write(dir.join("foreign.ext"), "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n")
        .expect("write");
    run(&[
        "x509",
        "-req",
        "-in",
        "foreign.csr",
        "-CA",
        "foreign-ca.pem",
        "-CAkey",
        "foreign-ca.key",
        "-CAcreateserial",
        "-days",
        "30",
        "-out",
        "foreign.pem",
        "-extfile",
        "foreign.ext",
    ]);
    run(&["pkcs12", "-export", "-inkey", "foreign.key", "-in", "foreign.pem", "-out", "foreign.p12", "-passout", "pass:Foreign-1"]);
    (dir.join("foreign.p12"), "Foreign-1".into())
}

fn refusal_reason(page: &str) -> Option<String> {
    let at = page.find("id=\"certificate-refusal\"")?;
    let tag_start = page[..at].rfind('<')?;
    let tag_end = at + page[at..].find('>')?;
    mamori_conformance::attribute(&page[tag_start..tag_end], "data-reason")
}

#[test]
fn only_the_certificate_listener_asks_for_a_client_certificate_and_names_our_ca() {
    let work = tempfile::tempdir().expect("tempdir");
    let qs = Quickstart::start(work.path());

    let mtls = s_client(&qs, qs.mtls_port());
    assert!(mtls.contains("Verify return code: 0 (ok)"), "the server chain verifies against the dev root:\n{mtls}");
    let names = mtls
        .split("Acceptable client certificate CA names")
        .nth(1)
        .unwrap_or_else(|| panic!("the certificate listener asks for a client certificate with CA names:\n{mtls}"));
    let names = names.split("Requested Signature Algorithms").next().unwrap_or(names);
    assert!(names.contains("Mamori Quickstart Issuing CA"), "our issuing CA is named:\n{names}");
    assert!(!names.contains("Dev TLS Root"), "the TLS dev root is not a client CA:\n{names}");

    let main = s_client(&qs, qs.main_port());
    assert!(main.contains("Verify return code: 0 (ok)"), "{main}");
    assert!(main.contains("No client certificate CA names sent"), "the main listener never asks:\n{main}");
    assert!(!main.contains("Acceptable client certificate CA names"), "{main}");
    qs.stop();
}

#[test]
fn curl_gets_the_password_page_with_a_device_certificate_and_a_clear_refusal_without() {
    let work = tempfile::tempdir().expect("tempdir");
    let qs = Quickstart::start(work.path());
    let dir = qs.data_dir();

    // A device certificate of a user: the ID/password page.
    create_user(&qs, "u-curl");
    let (p12, password, _) = qs.issue_device_certificate("u-curl", &[]);
    let (page, status) = get_mtls(&qs, "/login", &p12_args(&p12, &password));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("id=\"login-form\""), "the ID/password form:\n{page}");
    assert!(page.contains("<html lang=\"ja\">"), "Japanese unless asked otherwise:\n{page}");

    // No certificate: a page that says so, not a TLS failure.
    let (page, status) = get_mtls(&qs, "/login", &[]);
    assert_eq!(refusal_reason(&page).as_deref(), Some("Missing"), "{page}");
    assert_eq!(status, 401, "{page}");
    assert!(!page.contains("id=\"login-form\""));

    // An operator certificate from our CA (`ca issue`), bound to no user: Unknown.
    std::fs::write(dir.join("operator.pw"), "Operator-pw-1\n").expect("write");
    ok(mamori(
        &qs.config(),
        &[
            "ca",
            "issue",
            "--common-name",
            "ops laptop",
            "--p12",
            &dir.join("operator.p12").display().to_string(),
            "--password-file",
            &dir.join("operator.pw").display().to_string(),
        ],
    ));
    let (page, status) = get_mtls(&qs, "/login", &p12_args(&dir.join("operator.p12"), "Operator-pw-1"));
    assert_eq!(refusal_reason(&page).as_deref(), Some("Unknown"), "{page}");
    assert_eq!(status, 403, "{page}");

    // A certificate from another CA (curl sends it whatever CA names the server lists).
    let (foreign, foreign_pw) = foreign_p12(&dir);
    let (page, status) = get_mtls(&qs, "/login?lang=en", &p12_args(&foreign, &foreign_pw));
    assert_eq!(refusal_reason(&page).as_deref(), Some("ForeignCa"), "{page}");
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("not issued by this service"), "{page}");

    // The main listener never asks, so /login there sends the browser to the other one.
    let out = qs.curl("/login", &["-o", "/dev/null", "-w", "%{http_code} %{redirect_url}"]);
    let text = stdout(&out);
    assert!(text.starts_with("30") && text.contains(&qs.mtls_url), "{text}");
    qs.stop();
}

#[test]
fn a_forged_csrf_token_on_the_password_form_is_refused() {
    let work = tempfile::tempdir().expect("tempdir");
    let qs = Quickstart::start(work.path());
    create_user(&qs, "u-csrf");
    let (p12, password, _) = qs.issue_device_certificate("u-csrf", &[]);
    let jar = qs.data_dir().join("csrf.jar");
    let mut cert = p12_args(&p12, &password);
    cert.extend(["-c".into(), jar.display().to_string(), "-b".into(), jar.display().to_string()]);

    let (page, status) = get_mtls(&qs, "/login", &cert);
    assert_eq!(status, 200, "{page}");
    let form = HtmlForm::containing(&page, "id=\"login-form\"").expect("the login form");
    assert!(form.get("csrf_token").is_some_and(|t| !t.is_empty()), "the form carries a CSRF token: {form:?}");

    for forged in ["forged", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ""] {
        let mut post = form.clone();
        post.set("csrf_token", forged).set("login_id", "u-csrf").set("password", "whatever-1");
        let mut args = cert.clone();
        args.extend(post.curl_data());
        let (page, status) = get_mtls(&qs, &form.action, &args);
        assert_eq!(status, 403, "forged token {forged:?}: {page}");
        assert!(!page.contains("id=\"attempts-left\""), "a forged request must not count as a password attempt");
    }
    // The genuine token goes through (to the failure page: the user has no password yet).
    let mut post = form.clone();
    post.set("login_id", "u-csrf").set("password", "whatever-1");
    let mut args = cert.clone();
    args.extend(post.curl_data());
    let (page, status) = get_mtls(&qs, &form.action, &args);
    assert_ne!(status, 403, "the genuine token is accepted: {page}");
    assert!(status < 500, "{page}");
    qs.stop();
}

/// Walks enrollment with curl on the main listener: the one-time password, then the
/// registration form. Returns the completion page.
fn enroll_with_curl(qs: &Quickstart, url: &str, otp: &str, jar: &Path) -> String {
    let path = url.strip_prefix(&qs.main_url).unwrap_or_else(|| panic!("{url} is not on {}", qs.main_url));
    let jar = jar.display().to_string();
    let curl = |path: &str, extra: &[String]| {
        let mut args: Vec<&str> = vec!["-c", &jar, "-b", &jar, "-w", "\n%{http_code}"];
        args.extend(as_strs(extra));
        body_and_status(&qs.curl(path, &args))
    };
    let (page, status) = curl(path, &[]);
    assert_eq!(status, 200, "the enrollment page: {page}");
    let mut form = HtmlForm::containing(&page, "id=\"one_time_password\"").unwrap_or_else(|| panic!("the OTP form:\n{page}"));
    form.set("one_time_password", otp);
    let action = if form.action.is_empty() { path.to_owned() } else { form.action.clone() };
    let (page, status) = curl(&action, &form.curl_data());
    assert!(status < 400, "the one-time password is accepted ({status}): {page}");
    let mut form = HtmlForm::containing(&page, "id=\"password_confirmation\"")
        .or_else(|| HtmlForm::containing(&page, "id=\"secret_answer\""))
        .unwrap_or_else(|| panic!("the registration form:\n{page}"));
    form.set("password", "Curl-enrolled-1").set("password_confirmation", "Curl-enrolled-1").set("secret_answer", "natto");
    let action = if form.action.is_empty() { path.to_owned() } else { form.action.clone() };
    let (page, status) = curl(&action, &form.curl_data());
    assert!(status < 400 && page.contains("id=\"download-password\""), "registration completes ({status}):\n{page}");
    page
}

#[test]
fn a_completed_enrollment_shows_its_page_again_to_its_one_time_password_for_a_short_while_only() {
    let work = tempfile::tempdir().expect("tempdir");
    let qs = Quickstart::start(work.path());
    let url = qs.banner_value("enroll the demo user:").expect("an enrollment URL");
    let otp = qs.banner_value("its one-time password:").expect("an enrollment one-time password");
    let path = url.strip_prefix(&qs.main_url).expect("on the main listener").to_owned();
    let completed = enroll_with_curl(&qs, &url, &otp, &qs.data_dir().join("enroll.jar"));
    let download_password = element_text(&completed, "download-password").expect("the download password").to_owned();

    // The completion page never reached the browser: the same URL from a fresh browser
    // asks for the one-time password again (never for new credentials)...
    let fresh = qs.data_dir().join("fresh.jar").display().to_string();
    let jar_args = ["-c", fresh.as_str(), "-b", fresh.as_str(), "-w", "\n%{http_code}"];
    let (page, status) = body_and_status(&qs.curl(&path, &jar_args));
    assert_eq!(status, 200, "{page}");
    assert!(!page.contains("id=\"password_confirmation\""), "{page}");
    let mut form = HtmlForm::containing(&page, "id=\"one_time_password\"").unwrap_or_else(|| panic!("the OTP form:\n{page}"));
    // Hostile: a wrong one-time password shows nothing (and counts).
    form.set("one_time_password", "WRONG-OTP-1");
    let mut post = jar_args.to_vec();
    let data = form.curl_data();
    post.extend(data.iter().map(String::as_str));
    let (page, status) = body_and_status(&qs.curl(&path, &post));
    assert_eq!(status, 401, "{page}");
    assert!(!page.contains(&download_password), "a wrong one-time password showed the download password");
    // Honest: the right one shows the completion page again, with the same password.
    let (page, _) = body_and_status(&qs.curl(&path, &jar_args));
    let mut form = HtmlForm::containing(&page, "id=\"one_time_password\"").expect("the OTP form");
    form.set("one_time_password", &otp);
    let mut post = jar_args.to_vec();
    let data = form.curl_data();
    post.extend(data.iter().map(String::as_str));
    let (page, status) = body_and_status(&qs.curl(&path, &post));
    assert_eq!(status, 200, "{page}");
    assert_eq!(element_text(&page, "download-password"), Some(download_password.as_str()), "{page}");
    assert!(!page.contains("id=\"password_confirmation\""), "never the forms to enroll a second time");

    // Past the window (the completion made 16 minutes old in the database): the "already
    // used" page, and the one-time password opens nothing.
    let db = qs.data_dir().join("mamori.db");
    let aged = tool(
        "sqlite3",
        &[&db.display().to_string(), "UPDATE tickets SET last_used_at = last_used_at - 960000 WHERE kind = 'enrollment';"],
        work.path(),
    );
    assert!(aged.status.success(), "sqlite3: {}", stderr(&aged));
    let other = qs.data_dir().join("other.jar").display().to_string();
    let other_args = ["-c", other.as_str(), "-b", other.as_str(), "-w", "\n%{http_code}"];
    let (page, status) = body_and_status(&qs.curl(&path, &other_args));
    assert!((400..500).contains(&status), "a used enrollment URL answers 4xx, got {status}: {page}");
    for form in ["one_time_password", "password_confirmation", "download-password"] {
        assert!(!page.contains(&format!("id=\"{form}\"")), "no {form} on a used URL: {page}");
    }
    let mut post = other_args.to_vec();
    let otp_field = format!("one_time_password={otp}");
    post.extend(["--data-urlencode", otp_field.as_str()]);
    let (page, status) = body_and_status(&qs.curl(&path, &post));
    assert!((400..500).contains(&status), "POST to a used URL answers 4xx, got {status}: {page}");
    assert!(!page.contains(&download_password), "{page}");
    qs.stop();
}

#[test]
fn an_expired_login_session_gets_a_clear_page() {
    let work = tempfile::tempdir().expect("tempdir");
    let qs = Quickstart::start(work.path());
    create_user(&qs, "u-slow");
    let (p12, password, _) = qs.issue_device_certificate("u-slow", &[]);
    let jar = qs.data_dir().join("slow.jar");
    let mut cert = p12_args(&p12, &password);
    cert.extend(["-c".into(), jar.display().to_string(), "-b".into(), jar.display().to_string()]);

    let (page, status) = get_mtls(&qs, "/login?lang=en", &cert);
    assert_eq!(status, 200, "{page}");
    let mut form = HtmlForm::containing(&page, "id=\"login-form\"").expect("the login form");
    form.set("login_id", "u-slow").set("password", "whatever-1");

    // The user walks away; the login session runs out (made to expire in the database,
    // rather than waiting out the tenant's idle limit).
    let db = qs.data_dir().join("mamori.db");
    let expire =
        tool("sqlite3", &[&db.display().to_string(), "UPDATE sessions SET idle_expires_at = 0, absolute_expires_at = 0;"], &qs.data_dir());
    assert!(expire.status.success(), "sqlite3: {}", stderr(&expire));

    let mut args = cert.clone();
    args.extend(form.curl_data());
    let (page, status) = get_mtls(&qs, &form.action, &args);
    assert!((400..500).contains(&status), "an expired login session answers 4xx, got {status}: {page}");
    assert!(page.contains("<html lang=\"en\">"), "{page}");
    assert!(page.to_lowercase().contains("expired"), "the page says the login session expired:\n{page}");
    assert!(page.contains("href=\"/login\"") || page.contains("login page"), "the page points back to the login page:\n{page}");
    qs.stop();
}
