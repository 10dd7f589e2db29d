//! The session a certificate login opens is bound to that certificate: tried from the
//! attacker's side over real TLS against the real binary. A stolen session cookie opens
//! nothing on a connection without the certificate or with another one; a revoked
//! certificate or a deleted device ends the session at its next request, whichever
//! process revoked it; opening a login page never ends a session; a credential change
//! ends the user's other sessions; hostile redirect targets and path values never leave
//! the site nor break a header.

use std::sync::Arc;

use mamori_conformance::login_client::{LoginUser, Response, TlsSession, dev_roots, provision_user};
use mamori_conformance::{Quickstart, mamori, ok};

const SESSION: &str = "__Host-mamori_session";

struct Setup {
    qs: Quickstart,
    app: mamori::app::App,
    addr: String,
    alice: LoginUser,
    bob: LoginUser,
    anonymous: Arc<rustls::ClientConfig>,
}

async fn setup(work: &std::path::Path) -> anyhow::Result<Setup> {
    mamori::server::tls::install_default_provider();
    let qs = Quickstart::start(work);
    let app = mamori::app::App::open(&qs.config()).await?;
    let tenant = app.storage.tenants().get_by_slug("demo").await?.expect("demo tenant");
    let roots = dev_roots(&qs.data_dir())?;
    let hash = app.hasher.hash("Right-Password1").await?;
    let alice = provision_user(&app, &tenant, "alice", &hash, "Right-Password1", &roots).await?;
    let bob = provision_user(&app, &tenant, "bob", &hash, "Right-Password1", &roots).await?;
    let anonymous = Arc::new(rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth());
    let addr = qs.mtls_url.replace("https://localhost", "127.0.0.1");
    Ok(Setup { qs, app, addr, alice, bob, anonymous })
}

/// A full login of `user` on a new connection; the session holding its cookies.
async fn logged_in(addr: &str, user: &LoginUser, path: &str) -> anyhow::Result<(TlsSession, Response)> {
    let mut session = TlsSession::connect(addr, Arc::clone(&user.tls)).await?;
    let page = session.get(path).await?;
    assert_eq!(page.status, 200, "{}", page.body);
    let done = session.post("/login/password", &page, &[("login_id", &user.login_id), ("password", &user.password)]).await?;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(session.cookie(SESSION).is_some(), "a completed login sets the session cookie");
    Ok((session, done))
}

/// `/account` with `cookie` on a new connection made with `tls`.
async fn account_with(addr: &str, tls: &Arc<rustls::ClientConfig>, cookie: &str) -> anyhow::Result<Response> {
    let mut other = TlsSession::connect(addr, Arc::clone(tls)).await?;
    other.set_cookie(SESSION, cookie);
    other.get("/account").await
}

fn is_account_page(r: &Response) -> bool {
    r.status == 200 && r.body.contains("id=\"devices\"")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_cookie_opens_nothing_without_its_certificate() -> anyhow::Result<()> {
    let work = tempfile::tempdir()?;
    let s = setup(work.path()).await?;
    let (mut session, _) = logged_in(&s.addr, &s.alice, "/login").await?;
    let cookie = session.cookie(SESSION).expect("cookie").to_owned();
    // Honest: the same certificate, on this connection and on a new one.
    assert!(is_account_page(&session.get("/account").await?));
    assert!(is_account_page(&account_with(&s.addr, &s.alice.tls, &cookie).await?));
    // Hostile: the cookie on a connection without a certificate, or with Bob's.
    for (who, tls) in [("no certificate", &s.anonymous), ("another user's certificate", &s.bob.tls)] {
        let r = account_with(&s.addr, tls, &cookie).await?;
        assert!(!is_account_page(&r), "{who}: the stolen cookie opened the account page");
        assert_eq!(r.status, 303, "{who}: sent to the login instead");
        assert!(r.header("location").is_some_and(|l| l.starts_with("/login")), "{who}");
    }
    // The console is refused the same way (it redirects to the login, never answers 200).
    let mut thief = TlsSession::connect(&s.addr, Arc::clone(&s.anonymous)).await?;
    thief.set_cookie(SESSION, &cookie);
    assert_ne!(thief.get("/console").await?.status, 200);
    // And the owner's session survived the attempts.
    assert!(is_account_page(&session.get("/account").await?));
    s.qs.stop();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_the_certificate_or_deleting_the_device_ends_the_session() -> anyhow::Result<()> {
    let work = tempfile::tempdir()?;
    let s = setup(work.path()).await?;
    let (mut alice, _) = logged_in(&s.addr, &s.alice, "/login").await?;
    let (mut bob, _) = logged_in(&s.addr, &s.bob, "/login").await?;
    assert!(is_account_page(&alice.get("/account").await?));

    // Revoked by another process (the CLI), as another node would.
    let user = s
        .app
        .storage
        .users()
        .get_by_login_id(s.app.storage.tenants().get_by_slug("demo").await?.expect("demo").id, "alice")
        .await?
        .expect("alice");
    let serial = s.app.storage.certificates().list_for_user(user.id).await?.into_iter().next().expect("a certificate").serial_hex;
    ok(mamori(&s.qs.config(), &["ca", "revoke", "--serial", &serial, "--reason", "key-compromise"]));
    let after = alice.get("/account").await?;
    assert!(!is_account_page(&after), "the session outlived the revocation");
    assert_eq!(after.status, 303);
    // The login it is sent to names the reason.
    let login = alice.get("/login").await?;
    assert_eq!(login.status, 403, "{}", login.body);

    // Deleting Bob's device (its certificate still unrevoked) ends Bob's session too.
    assert!(is_account_page(&bob.get("/account").await?));
    let bob_user = s.app.storage.users().get_by_login_id(user.tenant_id, "bob").await?.expect("bob");
    let device = s.app.storage.devices().list_for_user(bob_user.id, false).await?.into_iter().next().expect("device");
    s.app.storage.devices().delete(device.id, s.app.now()).await?;
    assert!(!is_account_page(&bob.get("/account").await?), "the session outlived its device");
    s.qs.stop();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_a_login_page_never_ends_the_session() -> anyhow::Result<()> {
    let work = tempfile::tempdir()?;
    let s = setup(work.path()).await?;
    let (mut alice, _) = logged_in(&s.addr, &s.alice, "/login").await?;
    // A plain GET of the login page, one for an unknown tenant, and an abandoned login.
    for path in ["/login", "/login?tenant=other", "/login?return_to=/account"] {
        let page = alice.get(path).await?;
        assert!(page.status < 500, "{path}: {}", page.status);
        assert!(is_account_page(&alice.get("/account").await?), "{path} ended the session");
    }
    // A login left half-way (wrong password) ends nothing either.
    let page = alice.get("/login").await?;
    let wrong = alice.post("/login/password", &page, &[("login_id", "alice"), ("password", "Wrong-Password1")]).await?;
    assert_eq!(wrong.status, 401);
    assert!(is_account_page(&alice.get("/account").await?), "a failed login ended the session");
    s.qs.stop();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_ends_the_other_sessions_only() -> anyhow::Result<()> {
    let work = tempfile::tempdir()?;
    let s = setup(work.path()).await?;
    let (mut here, _) = logged_in(&s.addr, &s.alice, "/login").await?;
    let (mut elsewhere, _) = logged_in(&s.addr, &s.alice, "/login").await?;
    let form = here.get("/account/password").await?;
    assert_eq!(form.status, 200, "{}", form.body);
    let changed = here
        .post(
            "/account/password",
            &form,
            &[("current_password", "Right-Password1"), ("new_password", "Newer-Secret42"), ("new_password_confirmation", "Newer-Secret42")],
        )
        .await?;
    assert_eq!(changed.status, 303, "{}", changed.body);
    let account = here.get(changed.header("location").expect("back to the account page")).await?;
    assert!(is_account_page(&account), "the session that made the change stays");
    assert!(account.body.contains("logged out everywhere else"), "the page says so");
    assert!(!is_account_page(&elsewhere.get("/account").await?), "the other session survived a password change");
    s.qs.stop();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_are_host_only_and_secret_pages_are_never_cached() -> anyhow::Result<()> {
    let work = tempfile::tempdir()?;
    let s = setup(work.path()).await?;
    let mut session = TlsSession::connect(&s.addr, Arc::clone(&s.alice.tls)).await?;
    let page = session.get("/login").await?;
    assert_eq!(page.header("cache-control"), Some("no-store"), "HTML pages are not cached");
    let done = session.post("/login/password", &page, &[("login_id", "alice"), ("password", "Right-Password1")]).await?;
    let set_cookies: Vec<&str> =
        page.headers.iter().chain(done.headers.iter()).filter(|(n, _)| n == "set-cookie").map(|(_, v)| v.as_str()).collect();
    assert!(set_cookies.iter().any(|c| c.starts_with("__Host-mamori_csrf=")), "{set_cookies:?}");
    assert!(set_cookies.iter().any(|c| c.starts_with("__Host-mamori_session=")), "{set_cookies:?}");
    for cookie in set_cookies {
        assert!(cookie.starts_with("__Host-"), "{cookie}");
        assert!(cookie.contains("; Secure") && cookie.contains("Path=/;") && !cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
    }
    s.qs.stop();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_targets_stay_on_the_site_and_never_break_a_header() -> anyhow::Result<()> {
    let work = tempfile::tempdir()?;
    let s = setup(work.path()).await?;
    // Honest: a local target is where the login ends.
    let (_, done) = logged_in(&s.addr, &s.alice, "/login?return_to=%2Faccount%2Fhistory").await?;
    assert_eq!(done.header("location"), Some("/account/history"));
    // Hostile: each is dropped, and the login ends on Mamori's own page.
    for hostile in ["/%09/evil.example/", "//evil.example/", "/%5Cevil.example", "https://evil.example/", "/%0D%0ASet-Cookie:%20x=y"] {
        let (_, done) = logged_in(&s.addr, &s.alice, &format!("/login?return_to={hostile}")).await?;
        assert_eq!(done.header("location"), Some("/login/done"), "return_to={hostile}");
    }
    // Control characters in path values get a page, never a bare 500.
    let mut session = TlsSession::connect(&s.addr, Arc::clone(&s.alice.tls)).await?;
    for path in ["/saml/resume/%01", "/oidc/resume/%01", "/oidc/resume/%0D%0Ax", "/t/%0D%0A/end_session"] {
        let r = session.get(path).await?;
        assert!(r.status == 400 || r.status == 404, "{path}: {} {}", r.status, r.body);
        assert!(r.body.contains("<html"), "{path}: an error page");
    }
    s.qs.stop();
    Ok(())
}

/// The login without a certificate answers an unknown ID, a wrong password and a locked
/// account alike: nothing has named the user yet, so nothing may say that the ID exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_only_login_never_tells_whether_an_id_exists() -> anyhow::Result<()> {
    use mamori_storage::model::{LoginMethod, TenantPolicy};
    let work = tempfile::tempdir()?;
    let s = setup(work.path()).await?;
    let tenant = s.app.storage.tenants().get_by_slug("demo").await?.expect("demo");
    let policy = TenantPolicy {
        allowed_login_methods: vec![LoginMethod::CertPassword, LoginMethod::Password],
        show_attempts_left: true,
        lockout_threshold_password: 3,
        ..tenant.policy.clone()
    };
    s.app.storage.tenants().update_policy(tenant.id, &policy).await?;
    let roots = dev_roots(&s.qs.data_dir())?;
    let hash = s.app.hasher.hash("Right-Password1").await?;
    mamori_conformance::login_client::provision_user_with(
        &s.app,
        &tenant,
        "carol",
        LoginMethod::Password,
        &hash,
        "Right-Password1",
        &roots,
    )
    .await?;

    let attempt = |login_id: &'static str, password: &'static str| {
        let (addr, tls) = (s.addr.clone(), Arc::clone(&s.anonymous));
        async move {
            let mut browser = TlsSession::connect(&addr, tls).await?;
            let form = browser.get("/login?tenant=demo").await?;
            assert_eq!(form.status, 200, "the form without a certificate: {}", form.body);
            let r = browser.post("/login/identify", &form, &[("tenant", "demo"), ("login_id", login_id), ("password", password)]).await?;
            anyhow::Ok((r.status, mamori_conformance::login_client::without_csrf_token(&r.body)))
        }
    };
    let unknown = attempt("nobody-here", "Wrong-Password1").await?;
    assert_eq!(unknown.0, 401);
    // Wrong passwords for a real ID, up to and past the lock: the same page every time.
    for i in 0..4 {
        let known = attempt("carol", "Wrong-Password1").await?;
        assert_eq!(known, unknown, "attempt {i}: a real ID is told apart from an unknown one");
        assert!(!known.1.contains("attempts-left") && !known.1.contains("locked-message"), "attempt {i}");
    }
    // The lock is real all the same: the right password no longer opens the account.
    let user = s.app.storage.users().get_by_login_id(tenant.id, "carol").await?.expect("carol");
    assert!(user.is_locked(), "wrong passwords still count towards the lockout");
    assert_eq!(attempt("carol", "Right-Password1").await?, unknown);
    s.qs.stop();
    Ok(())
}

/// A certificate of tenant X at a site of tenant Y: told plainly at the login's start,
/// not sent round the password form for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_of_another_tenant_is_told_so() -> anyhow::Result<()> {
    use mamori_storage::model::TenantPolicy;
    let work = tempfile::tempdir()?;
    let s = setup(work.path()).await?;
    let acme = s.app.storage.tenants().create("acme", "ACME", &TenantPolicy::default(), s.app.now()).await?;
    let hash = s.app.hasher.hash("Right-Password1").await?;
    let outsider = provision_user(&s.app, &acme, "outsider", &hash, "Right-Password1", &dev_roots(&s.qs.data_dir())?).await?;
    let mut browser = TlsSession::connect(&s.addr, Arc::clone(&outsider.tls)).await?;
    // Hostile: the demo tenant's site sent an ACME user here.
    let page = browser.get("/login?tenant=demo&return_to=%2Faccount").await?;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("another site"), "{}", page.body);
    assert!(!page.body.contains("name=\"password\""), "no password form that can never succeed");
    // Honest: at its own tenant's site, the same certificate gets the password step.
    let own = browser.get("/login?tenant=acme").await?;
    assert_eq!(own.status, 200);
    assert!(own.body.contains("name=\"password\""), "{}", own.body);
    s.qs.stop();
    Ok(())
}

/// Another site on the same host name (another port) shares Mamori's cookies, so it can
/// plant a CSRF cookie whose token it knows: a form posted from there is refused all the
/// same, by the origin the browser names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_posted_from_another_origin_of_the_same_host_is_refused() -> anyhow::Result<()> {
    let work = tempfile::tempdir()?;
    let s = setup(work.path()).await?;
    let (mut alice, _) = logged_in(&s.addr, &s.alice, "/login").await?;
    let change = |answer: &'static str| [("secret_question", "first-car"), ("secret_answer", answer)];
    for hostile in ["https://localhost:9443", "https://evil.example", "null"] {
        let form = alice.get("/account/secret-question").await?;
        alice.post_from_origin(Some(hostile));
        let r = alice.post("/account/secret-question", &form, &change("Planted-answer")).await?;
        assert_eq!(r.status, 403, "a post from {hostile} was taken: {}", r.body);
    }
    // Honest: from Mamori's own page (its listener's origin), or with no Origin at all.
    let own = s.qs.mtls_url.clone();
    for origin in [Some(own.as_str()), None] {
        let form = alice.get("/account/secret-question").await?;
        alice.post_from_origin(origin);
        let r = alice.post("/account/secret-question", &form, &change("Kyoto ramen")).await?;
        assert_eq!(r.status, 303, "{origin:?}: {}", r.body);
    }
    s.qs.stop();
    Ok(())
}

/// An operator's change of a user's login method ends the user's sessions: one opened
/// under the old method may lack a factor the new one needs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operators_method_change_ends_the_users_sessions() -> anyhow::Result<()> {
    let work = tempfile::tempdir()?;
    let s = setup(work.path()).await?;
    let (mut alice, _) = logged_in(&s.addr, &s.alice, "/login").await?;
    let (mut bob, _) = logged_in(&s.addr, &s.bob, "/login").await?;
    ok(mamori(&s.qs.config(), &["admin", "user", "update", "--tenant", "demo", "--login-id", "alice", "--method", "cert+password+otp"]));
    assert!(!is_account_page(&alice.get("/account").await?), "a session of the old method survived");
    // Honest: another user's session is untouched.
    assert!(is_account_page(&bob.get("/account").await?));
    s.qs.stop();
    Ok(())
}

/// A known address asked with the wrong method answers with a page, never an empty 405.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_method_gets_a_page_not_an_empty_answer() -> anyhow::Result<()> {
    let work = tempfile::tempdir()?;
    let s = setup(work.path()).await?;
    let mut browser = TlsSession::connect(&s.addr, Arc::clone(&s.alice.tls)).await?;
    for path in ["/logout", "/account/login-method/execute"] {
        let r = browser.get(path).await?;
        assert_eq!(r.status, 405, "{path}");
        assert!(r.body.contains("<html") && r.body.contains("does not take that kind of request"), "{path}: {}", r.body);
    }
    // A path segment no route can read (not UTF-8, not a number): a page too.
    for path in ["/account/devices/%ff/delete", "/account/devices/99999999999999999999999/delete"] {
        let r = browser.get(path).await?;
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        assert!(r.body.contains("<html") && r.header("content-type").is_some_and(|t| t.starts_with("text/html")), "{path}: {}", r.body);
    }
    // Honest: the protocol endpoints keep their own JSON answer.
    let token = browser.get("/t/demo/token").await?;
    assert_eq!(token.status, 405);
    assert!(token.header("content-type").is_some_and(|t| t.starts_with("application/json")), "{:?}", token.headers);
    s.qs.stop();
    Ok(())
}
