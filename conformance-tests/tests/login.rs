//! Login behaviour that needs many requests at once, over real TLS with client
//! certificates: lockout counting under concurrency.

use mamori_conformance::login_client::{dev_roots, login, login_with, provision_user};
use mamori_conformance::{Quickstart, mamori, ok};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_wrong_passwords_lock_at_exactly_the_threshold() -> anyhow::Result<()> {
    mamori::server::tls::install_default_provider();
    let work = tempfile::tempdir()?;
    let qs = Quickstart::start(work.path());
    let app = mamori::app::App::open(&qs.config()).await?;
    let tenant = app.storage.tenants().get_by_slug("demo").await?.expect("demo tenant");
    assert_eq!(tenant.policy.lockout_threshold_password, 5, "the default policy locks at 5");
    let hash = app.hasher.hash("Right-Password1").await?;
    let user = provision_user(&app, &tenant, "racer", &hash, "Right-Password1", &dev_roots(&qs.data_dir())?).await?;
    let addr = qs.mtls_url.replace("https://localhost", "127.0.0.1");
    let user = std::sync::Arc::new(user);

    let attempts: Vec<_> = (0..20)
        .map(|i| {
            let (user, addr) = (std::sync::Arc::clone(&user), addr.clone());
            tokio::spawn(async move { login_with(&addr, &user, &format!("Wrong-{i}")).await })
        })
        .collect();
    let mut failed_pages = 0;
    let mut locked_pages = 0;
    for attempt in attempts {
        let response = attempt.await??;
        match response.status {
            401 if response.body.contains("id=\"attempts-left\"") => failed_pages += 1,
            403 if response.body.contains("id=\"locked-message\"") => locked_pages += 1,
            other => panic!("unexpected answer {other}: {}", response.body),
        }
    }
    // Failures 1–4 warn, the 5th locks, and every later one finds the account locked.
    assert_eq!((failed_pages, locked_pages), (4, 16));

    // Every attempt is in the login history, none a success.
    let db_user = app.storage.users().get_by_login_id(tenant.id, "racer").await?.expect("user");
    let events = app.storage.login_events().list_for_user(db_user.id, app.now() - time::Duration::hours(1), 0, 100).await?;
    assert_eq!(events.total, 20, "{:?}", events.items.iter().map(|e| e.result.as_str().to_owned()).collect::<Vec<_>>());
    assert!(events.items.iter().all(|e| !e.result.is_success()));
    assert!(db_user.is_locked());

    // The right password does not open a locked account; the operator's unlock does.
    let right = login_with(&addr, &user, "Right-Password1").await?;
    assert_eq!(right.status, 403, "a locked account accepted its password");
    ok(mamori(&qs.config(), &["admin", "user", "unlock", "--tenant", "demo", "--login-id", "racer"]));
    login(&addr, &user).await?;
    qs.stop();
    Ok(())
}

use mamori_conformance::login_client::{TlsSession, element_text, provision_user_with};
use mamori_storage::model::{LoginMethod, OtpKind, TenantPolicy};

/// Logs `user` in up to the step after the password; returns the session and that page.
async fn past_password(
    addr: &str,
    user: &mamori_conformance::login_client::LoginUser,
) -> anyhow::Result<(TlsSession, mamori_conformance::login_client::Response)> {
    let mut session = TlsSession::connect(addr, std::sync::Arc::clone(&user.tls)).await?;
    let page = session.get("/login").await?;
    assert_eq!(page.status, 200, "{}", page.body);
    let next = session.post("/login/password", &page, &[("login_id", &user.login_id), ("password", &user.password)]).await?;
    Ok((session, next))
}

fn totp_code(secret_base32: &str, unix: u64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret_base32).expect("base32 secret");
    let totp = totp_rs::Builder::new()
        .with_secret(secret)
        .with_digits(6)
        .with_step_duration(30)
        .with_skew(1)
        .with_account_name("x")
        .build()
        .expect("totp");
    totp.generate(unix).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_totp_code_is_accepted_once() -> anyhow::Result<()> {
    mamori::server::tls::install_default_provider();
    let work = tempfile::tempdir()?;
    let qs = Quickstart::start(work.path());
    let app = mamori::app::App::open(&qs.config()).await?;
    let tenant = app.storage.tenants().get_by_slug("demo").await?.expect("demo tenant");
    let hash = app.hasher.hash("Totp-Pass-1").await?;
    let user =
        provision_user_with(&app, &tenant, "totp-user", LoginMethod::CertPasswordOtp, &hash, "Totp-Pass-1", &dev_roots(&qs.data_dir())?)
            .await?;
    let addr = qs.mtls_url.replace("https://localhost", "127.0.0.1");

    // First login: register the authenticator with a code of the current step.
    let (mut session, setup) = past_password(&addr, &user).await?;
    let secret = element_text(&setup.body, "totp-secret").expect("the set-up page shows the secret").to_owned();
    let now = time::OffsetDateTime::now_utc().unix_timestamp() as u64;
    let code = totp_code(&secret, now);
    let done = session.post("/login/totp", &setup, &[("code", &code)]).await?;
    assert_eq!(done.status, 303, "{}", done.body);

    // Second login: the very same code (same step) is refused; the next step's code works.
    let (mut session, otp_page) = past_password(&addr, &user).await?;
    assert!(otp_page.body.contains("id=\"otp-form\""), "{}", otp_page.body);
    let replay = session.post("/login/otp", &otp_page, &[("code", &code)]).await?;
    assert_eq!(replay.status, 401, "a used TOTP code was accepted again");
    let next = totp_code(&secret, now + 30);
    let done = session.post("/login/otp", &replay, &[("code", &next)]).await?;
    assert_eq!(done.status, 303, "{}", done.body);
    qs.stop();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e_mailed_codes_are_single_use_rate_limited_and_hashed() -> anyhow::Result<()> {
    mamori::server::tls::install_default_provider();
    let work = tempfile::tempdir()?;
    let qs = Quickstart::start(work.path());
    let app = mamori::app::App::open(&qs.config()).await?;
    let policy = TenantPolicy { otp_kind: OtpKind::Email, ..TenantPolicy::default() };
    let tenant = app.storage.tenants().create("mailotp", "Mail OTP", &policy, app.now()).await?;
    let hash = app.hasher.hash("Mail-Pass-1").await?;
    let user =
        provision_user_with(&app, &tenant, "mail-user", LoginMethod::CertPasswordOtp, &hash, "Mail-Pass-1", &dev_roots(&qs.data_dir())?)
            .await?;
    let addr = qs.mtls_url.replace("https://localhost", "127.0.0.1");

    let (mut session, otp_page) = past_password(&addr, &user).await?;
    assert!(otp_page.body.contains("id=\"otp-send\""), "{}", otp_page.body);
    // Typing a code before one was sent asks for a new one.
    let early = session.post("/login/otp", &otp_page, &[("code", "123456")]).await?;
    assert_eq!(early.status, 401);
    let sent = session.post("/login/otp/send", &early, &[]).await?;
    assert_eq!(sent.status, 200, "{}", sent.body);
    let code = latest_code(&qs.data_dir().join("outbox"), "mail-user@example.test");
    // The code is in the mail, never in the database in clear (file and write-ahead log).
    for file in ["mamori.db", "mamori.db-wal"] {
        let bytes = std::fs::read(qs.data_dir().join(file)).unwrap_or_default();
        let needle = format!("\"{code}\"");
        assert!(!bytes.windows(needle.len()).any(|w| w == needle.as_bytes()), "the code is stored in clear in {file}");
    }

    let again = session.post("/login/otp/send", &sent, &[]).await?;
    assert_eq!(again.status, 429, "a second code within a minute was sent");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = session.post("/login/otp", &again, &[("code", wrong)]).await?;
    assert_eq!(refused.status, 401);
    let done = session.post("/login/otp", &refused, &[("code", &code)]).await?;
    assert_eq!(done.status, 303, "{}", done.body);

    // The code does not open a second login.
    let (mut session, otp_page) = past_password(&addr, &user).await?;
    let replay = session.post("/login/otp", &otp_page, &[("code", &code)]).await?;
    assert_eq!(replay.status, 401, "an e-mailed code worked twice");
    qs.stop();
    Ok(())
}

/// The six-digit code of the newest login-code mail to `to`.
fn latest_code(outbox: &std::path::Path, to: &str) -> String {
    let mut mails: Vec<_> = std::fs::read_dir(outbox).expect("outbox").flatten().map(|e| e.path()).collect();
    mails.sort();
    let text = mails
        .iter()
        .rev()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .filter(|m| m.contains(to))
        .map(|m| decoded_body(&m))
        .find(|m| m.lines().any(|l| l.trim().len() == 6 && l.trim().chars().all(|c| c.is_ascii_digit())))
        .expect("a login-code mail");
    text.lines().map(str::trim).find(|l| l.len() == 6 && l.chars().all(|c| c.is_ascii_digit())).expect("code").to_owned()
}

#[test]
fn an_expired_enrollment_ticket_is_refused() {
    let work = tempfile::tempdir().expect("tempdir");
    let qs = Quickstart::start(work.path());
    let url = qs.banner_value("enroll the demo user:").expect("enrollment URL");
    let path = url.trim_start_matches(&qs.main_url).to_owned();
    let fresh = qs.curl(&path, &["-w", "\n%{http_code}", "-H", "Accept-Language: en"]);
    assert!(mamori_conformance::stdout(&fresh).ends_with("200"));
    // Time passes: the ticket's expiry is moved into the past in the database.
    let db = qs.data_dir().join("mamori.db");
    let out = mamori_conformance::tool(
        "sqlite3",
        &[&db.display().to_string(), "UPDATE tickets SET expires_at = 1000 WHERE kind = 'enrollment';"],
        work.path(),
    );
    assert!(out.status.success(), "{}", mamori_conformance::stderr(&out));
    let stale = mamori_conformance::stdout(&qs.curl(&path, &["-w", "\n%{http_code}", "-H", "Accept-Language: en"]));
    let status: u16 = stale.rsplit('\n').next().and_then(|s| s.parse().ok()).expect("status");
    assert!((400..500).contains(&status), "an expired ticket answered {status}");
    assert!(stale.to_lowercase().contains("expired"), "the page says it expired: {stale}");
    assert!(!stale.contains("one_time_password"), "an expired ticket still asks for the one-time password");
    qs.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxy_may_pass_the_certificate_in_a_header_and_no_one_else() -> anyhow::Result<()> {
    mamori::server::tls::install_default_provider();
    for trusted in [true, false] {
        let work = tempfile::tempdir()?;
        let env: &[(&str, &str)] = if trusted { &[("MAMORI_SERVER__TRUSTED_PROXIES", "[\"127.0.0.1\"]")] } else { &[] };
        let qs = Quickstart::start_with_env(work.path(), env);
        let config = qs.config();
        ok(mamori(&config, &["admin", "user", "create", "--tenant", "demo", "--login-id", "proxied", "--email", "p@example.test"]));
        std::fs::write(work.path().join("pw"), "p12-pass\n")?;
        let p12 = work.path().join("p.p12");
        ok(mamori(
            &config,
            &[
                "admin",
                "user",
                "issue-cert",
                "--tenant",
                "demo",
                "--login-id",
                "proxied",
                "--p12",
                &p12.display().to_string(),
                "--password-file",
                &work.path().join("pw").display().to_string(),
            ],
        ));
        let pem = mamori_conformance::tool(
            "openssl",
            &["pkcs12", "-in", "p.p12", "-passin", "pass:p12-pass", "-nokeys", "-clcerts"],
            work.path(),
        );
        let pem = mamori_conformance::stdout(&pem);
        let pem = &pem[pem.find("-----BEGIN CERTIFICATE-----").expect("certificate")..];
        let encoded: String = pem
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        // The proxy talks to the certificate listener without a certificate of its own.
        let out = mamori_conformance::tool(
            "curl",
            &[
                "-sS",
                "--cacert",
                &qs.dev_root().display().to_string(),
                "-H",
                &format!("x-client-cert: {encoded}"),
                "-H",
                "Accept-Language: en",
                &format!("{}/login", qs.mtls_url),
            ],
            work.path(),
        );
        let page = mamori_conformance::stdout(&out);
        if trusted {
            assert!(page.contains("id=\"login-form\""), "a trusted proxy's header was not honoured: {page}");
        } else {
            assert!(page.contains("data-reason=\"Missing\""), "an untrusted client's header was honoured: {page}");
        }
        qs.stop();
    }
    Ok(())
}

/// The text body of an .eml file, decoded from base64 when the mail says it is.
fn decoded_body(eml: &str) -> String {
    use base64::Engine as _;
    let (head, body) = eml.split_once("\r\n\r\n").or_else(|| eml.split_once("\n\n")).unwrap_or((eml, ""));
    if head.to_ascii_lowercase().contains("content-transfer-encoding: base64") {
        let compact: String = body.split_whitespace().collect();
        let bytes = base64::engine::general_purpose::STANDARD.decode(compact).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        body.to_owned()
    }
}

/// curl with a cookie jar against the main listener.
fn curl_jar(qs: &Quickstart, jar: &std::path::Path, args: &[&str], path: &str) -> String {
    let out = mamori_conformance::tool(
        "curl",
        &[
            &[
                "-sS",
                "--cacert",
                &qs.dev_root().display().to_string(),
                "-b",
                &jar.display().to_string(),
                "-c",
                &jar.display().to_string(),
                "-H",
                "Accept-Language: en",
                "-w",
                "\n%{http_code}",
            ],
            args,
            &[&format!("{}{path}", qs.main_url)],
        ]
        .concat(),
        &qs.workdir,
    );
    mamori_conformance::stdout(&out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_works_the_allowed_number_of_times_then_is_spent() -> anyhow::Result<()> {
    mamori::server::tls::install_default_provider();
    let work = tempfile::tempdir()?;
    let qs = Quickstart::start(work.path());
    let app = mamori::app::App::open(&qs.config()).await?;
    let tenant = app.storage.tenants().get_by_slug("demo").await?.expect("demo tenant");
    let user = app.storage.users().get_by_login_id(tenant.id, "demo-user").await?.expect("demo user");
    let device = app.storage.devices().list_for_user(user.id, false).await?.remove(0);
    let pending = mamori::flows::device_certificate::issue_for_download(&app, &tenant, &user, &device, &qs.main_url).await?;
    assert_eq!(tenant.policy.download_max_count, 3);

    let jar = work.path().join("jar");
    let mut statuses = Vec::new();
    let mut last_body = String::new();
    for round in 0..4 {
        let form = curl_jar(&qs, &jar, &[], "/download");
        let token = mamori_conformance::login_client::csrf_token(&form).expect("CSRF token").to_owned();
        let file = work.path().join(format!("dl-{round}.p12"));
        let out = mamori_conformance::tool(
            "curl",
            &[
                "-sS",
                "--cacert",
                &qs.dev_root().display().to_string(),
                "-b",
                &jar.display().to_string(),
                "-H",
                "Accept-Language: en",
                "-o",
                &file.display().to_string(),
                "-w",
                "%{http_code} %{content_type}",
                "--data-urlencode",
                &format!("csrf_token={token}"),
                "--data-urlencode",
                &format!("acquisition_id={}", pending.acquisition_id),
                "--data-urlencode",
                &format!("download_password={}", pending.download_password),
                &format!("{}/download", qs.main_url),
            ],
            work.path(),
        );
        statuses.push(mamori_conformance::stdout(&out));
        last_body = std::fs::read_to_string(&file).unwrap_or_default();
        if round < 3 {
            let info = mamori_conformance::tool(
                "openssl",
                &[
                    "pkcs12",
                    "-info",
                    "-in",
                    &file.display().to_string(),
                    "-passin",
                    &format!("pass:{}", pending.download_password),
                    "-noout",
                ],
                work.path(),
            );
            assert!(info.status.success(), "download {round} is not a PKCS#12 that opens: {}", mamori_conformance::stderr(&info));
        }
    }
    for status in &statuses[..3] {
        assert!(status.starts_with("200 application/x-pkcs12"), "{statuses:?}");
    }
    assert!(statuses[3].starts_with("410") || statuses[3].starts_with("403"), "the fourth download was not refused: {statuses:?}");
    assert!(last_body.contains("downloaded as many times as allowed"), "{last_body}");
    qs.stop();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_download_answers_the_same_for_the_right_password_as_for_a_wrong_one() -> anyhow::Result<()> {
    mamori::server::tls::install_default_provider();
    let work = tempfile::tempdir()?;
    let qs = Quickstart::start(work.path());
    let app = mamori::app::App::open(&qs.config()).await?;
    let tenant = app.storage.tenants().get_by_slug("demo").await?.expect("demo tenant");
    let user = app.storage.users().get_by_login_id(tenant.id, "demo-user").await?.expect("demo user");
    let device = app.storage.devices().list_for_user(user.id, false).await?.remove(0);
    let pending = mamori::flows::device_certificate::issue_for_download(&app, &tenant, &user, &device, &qs.main_url).await?;
    let jar = work.path().join("jar");
    let attempt = |password: &str| {
        let form = curl_jar(&qs, &jar, &[], "/download");
        let token = mamori_conformance::login_client::csrf_token(&form).expect("CSRF token").to_owned();
        let answer = curl_jar(
            &qs,
            &jar,
            &[
                "--data-urlencode",
                &format!("csrf_token={token}"),
                "--data-urlencode",
                &format!("acquisition_id={}", pending.acquisition_id),
                "--data-urlencode",
                &format!("download_password={password}"),
            ],
            "/download",
        );
        // The page without its CSRF token, which differs on every form.
        mamori_conformance::login_client::without_csrf_token(&answer)
    };
    // Wrong passwords until the ticket locks (the answer changes from "wrong" to "locked").
    let first_wrong = attempt("Wrong-Pass");
    let mut locked = None;
    for _ in 0..20 {
        let answer = attempt("Wrong-Pass");
        if answer != first_wrong {
            locked = Some(answer);
            break;
        }
    }
    let locked = locked.expect("wrong download passwords never locked the ticket");
    assert!(locked.ends_with("403"), "{locked}");
    // Hostile: the right password now gets exactly the locked answer, no file.
    assert_eq!(attempt(&pending.download_password), locked, "a locked ticket told the right password apart");
    assert_eq!(attempt("Another-Wrong"), locked);
    qs.stop();
    Ok(())
}

/// A tenant may let a password lock end by itself after some minutes; without that
/// knob (the default) only the operator unlocks, however old the lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_lock_ends_by_itself_only_where_the_tenant_says_so() -> anyhow::Result<()> {
    mamori::server::tls::install_default_provider();
    let work = tempfile::tempdir()?;
    let qs = Quickstart::start(work.path());
    let app = mamori::app::App::open(&qs.config()).await?;
    let tenant = app.storage.tenants().get_by_slug("demo").await?.expect("demo tenant");
    let hash = app.hasher.hash("Right-Password1").await?;
    let user = provision_user(&app, &tenant, "sleeper", &hash, "Right-Password1", &dev_roots(&qs.data_dir())?).await?;
    let addr = qs.mtls_url.replace("https://localhost", "127.0.0.1");
    for i in 0..5 {
        login_with(&addr, &user, &format!("Wrong-{i}")).await?;
    }
    assert_eq!(login_with(&addr, &user, "Right-Password1").await?.status, 403, "locked");
    let db = qs.data_dir().join("mamori.db");
    let age_lock = |minutes: i64| {
        let sql = format!("UPDATE users SET locked_at = locked_at - {} WHERE login_id = 'sleeper';", minutes * 60_000);
        let out = mamori_conformance::tool("sqlite3", &[&db.display().to_string(), &sql], work.path());
        assert!(out.status.success(), "sqlite3: {}", mamori_conformance::stderr(&out));
    };
    // Hostile: a day-old lock, the default policy (operator only): still locked.
    age_lock(24 * 60);
    assert_eq!(login_with(&addr, &user, "Right-Password1").await?.status, 403, "the default policy released a lock");
    // A 30-minute release: a lock taken 10 minutes ago stays...
    let policy = mamori_storage::model::TenantPolicy { lockout_release_minutes: 30, ..tenant.policy.clone() };
    app.storage.tenants().update_policy(tenant.id, &policy).await?;
    let out = mamori_conformance::tool(
        "sqlite3",
        &[
            &db.display().to_string(),
            &format!(
                "UPDATE users SET locked_at = {} WHERE login_id = 'sleeper';",
                (time::OffsetDateTime::now_utc().unix_timestamp() - 600) * 1000
            ),
        ],
        work.path(),
    );
    assert!(out.status.success());
    assert_eq!(login_with(&addr, &user, "Right-Password1").await?.status, 403, "released before its time");
    // ...and one taken 31 minutes ago has ended: the right password logs in.
    age_lock(21);
    assert_eq!(login_with(&addr, &user, "Right-Password1").await?.status, 303, "the timed release did not end the lock");
    qs.stop();
    Ok(())
}
