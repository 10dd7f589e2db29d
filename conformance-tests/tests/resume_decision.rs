//! The decision after a login (`flows::resume`), through the real binary: the cases where
//! the OpenID Connect and SAML continuations used to disagree. A session of another
//! tenant made after the request is refused (it used to send the browser round the login
//! again), one made before it gets the login; a locked user's session is refused (it used
//! to get the login page), an active one gets its code.

use std::sync::Arc;

use mamori_conformance::cluster::query_param;
use mamori_conformance::login_client::{LoginUser, Response, TlsSession, dev_roots, provision_user};
use mamori_conformance::oidc::{authorize, cli_create};
use mamori_conformance::{Quickstart, ok};
use mamori_storage::model::{LockReason, TenantPolicy};

const REDIRECT_URI: &str = "https://rp.test/cb";

/// A full login of `user` at `path` on a new connection; the session holding its cookies.
async fn logged_in(addr: &str, user: &LoginUser, path: &str) -> anyhow::Result<TlsSession> {
    let mut session = TlsSession::connect(addr, Arc::clone(&user.tls)).await?;
    let page = session.get(path).await?;
    assert_eq!(page.status, 200, "{}", page.body);
    let done = session.post("/login/password", &page, &[("login_id", &user.login_id), ("password", &user.password)]).await?;
    assert_eq!(done.status, 303, "{}", done.body);
    Ok(session)
}

/// A new authorization request of the demo tenant's client: the path of its continuation.
fn new_request(qs: &Quickstart, state: &str) -> String {
    let query =
        [("client_id", "resume-rp"), ("redirect_uri", REDIRECT_URI), ("response_type", "code"), ("scope", "openid"), ("state", state)];
    let (status, location) = authorize(qs, &query);
    assert!((300..400).contains(&status), "HTTP {status} to {location}");
    let path = location.strip_prefix(&qs.mtls_url).unwrap_or_else(|| panic!("not on the certificate listener: {location}"));
    assert!(path.starts_with("/oidc/resume/"), "{path}");
    path.to_owned()
}

fn location(r: &Response) -> String {
    assert_eq!(r.status, 303, "{}", r.body);
    r.header("location").unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_resume_refuses_a_fresh_session_of_another_tenant_and_a_locked_user() -> anyhow::Result<()> {
    mamori::server::tls::install_default_provider();
    let work = tempfile::tempdir()?;
    let qs = Quickstart::start(work.path());
    let app = mamori::app::App::open(&qs.config()).await?;
    let demo = app.storage.tenants().get_by_slug("demo").await?.expect("demo tenant");
    let acme = app.storage.tenants().create("acme", "ACME", &TenantPolicy::default(), app.now()).await?;
    let roots = dev_roots(&qs.data_dir())?;
    let hash = app.hasher.hash("Right-Password1").await?;
    let alice = provision_user(&app, &demo, "alice", &hash, "Right-Password1", &roots).await?;
    let outsider = provision_user(&app, &acme, "outsider", &hash, "Right-Password1", &roots).await?;
    let addr = qs.mtls_url.replace("https://localhost", "127.0.0.1");
    ok(cli_create(&qs, &["--client-id", "resume-rp", "--name", "Resume RP", "--redirect-uri", REDIRECT_URI, "--first-party"]));

    // Hostile: an ACME login made after the demo site's request would loop through the
    // login page (whose login lands in ACME again): refused.
    let waiting = new_request(&qs, "other-tenant-fresh");
    let mut outsider_browser = logged_in(&addr, &outsider, "/login?tenant=acme").await?;
    let answer = location(&outsider_browser.get(&waiting).await?);
    assert!(answer.starts_with(REDIRECT_URI), "{answer}");
    assert_eq!(query_param(&answer, "error").as_deref(), Some("access_denied"), "{answer}");
    assert_eq!(query_param(&answer, "state").as_deref(), Some("other-tenant-fresh"), "{answer}");
    assert_eq!(query_param(&answer, "code"), None, "{answer}");
    // Honest: the same session, older than the next request, is sent to log in at demo.
    let later = new_request(&qs, "other-tenant-stale");
    let answer = location(&outsider_browser.get(&later).await?);
    assert!(answer.starts_with("/login?") && answer.contains("tenant=demo"), "{answer}");

    // Honest: the tenant's own active user gets a code.
    let mut alice_browser = logged_in(&addr, &alice, "/login").await?;
    let answer = location(&alice_browser.get(&new_request(&qs, "active")).await?);
    assert!(answer.starts_with(REDIRECT_URI) && query_param(&answer, "code").is_some(), "{answer}");
    assert_eq!(query_param(&answer, "state").as_deref(), Some("active"), "{answer}");

    // Hostile: the same session once the account is locked (locking from elsewhere
    // leaves its sessions): refused, not a login page another user could use.
    let user = app.storage.users().get_by_login_id(demo.id, "alice").await?.expect("alice");
    assert!(app.storage.users().lock(user.id, LockReason::Password, app.now()).await?);
    let answer = location(&alice_browser.get(&new_request(&qs, "locked")).await?);
    assert!(answer.starts_with(REDIRECT_URI), "{answer}");
    assert_eq!(query_param(&answer, "error").as_deref(), Some("access_denied"), "{answer}");
    assert_eq!(query_param(&answer, "code"), None, "{answer}");
    qs.stop();
    Ok(())
}
