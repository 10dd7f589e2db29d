//! SIGKILL one of two nodes in the middle of a load of logins and enrollments (each of
//! which issues a certificate) spread over both: nothing a client saw succeed is missing
//! from the database, nothing is there twice, and the other node never fails a request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use mamori_conformance::HtmlForm;
use mamori_conformance::cluster::{Browser, Cluster, SharedStateKind};
use mamori_conformance::login_client::{csrf_token, dev_roots, provision_user};
use mamori_storage::model::{DeviceType, LoginMethod, NewDevice, NewUser};

const PASSWORD: &str = "Kill-Load-Pw1!";
const ENROLL_PASSWORD: &str = "Enrolled-Kill-Pw1!";

#[derive(Debug)]
struct Attempt {
    /// The user agent that marks this attempt's login event, or the enrolled login ID.
    key: String,
    node: usize,
    ok: bool,
    error: Option<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_load_loses_no_login_event_and_no_certificate() -> anyhow::Result<()> {
    run(SharedStateKind::Database).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_load_with_redis_shared_state() -> anyhow::Result<()> {
    run(SharedStateKind::Redis).await
}

async fn run(kind: SharedStateKind) -> anyhow::Result<()> {
    mamori::server::tls::install_default_provider();
    let cluster = Cluster::create(kind);
    let mut n1 = cluster.start_node();
    let n2 = cluster.start_node();
    let app = cluster.app().await?;
    let tenant = app.storage.tenants().get_by_slug("demo").await?.expect("demo tenant");
    let roots = dev_roots(&cluster.data_dir())?;
    let hash = app.hasher.hash(PASSWORD).await?;
    let mut login_users = Vec::new();
    for i in 0..6 {
        login_users.push(Arc::new(provision_user(&app, &tenant, &format!("kl-{i}"), &hash, PASSWORD, &roots).await?));
    }
    // Users waiting to enroll: each enrollment issues their first certificate on a node.
    let mut enrollments = Vec::new();
    for i in 0..60 {
        let login_id = format!("ke-{i:02}");
        let email = format!("{login_id}@example.test");
        let user = app.storage.users().create(&NewUser::new(tenant.id, &login_id, LoginMethod::CertPassword), app.now()).await?;
        let device = NewDevice { user_id: user.id, device_type: DeviceType::Pc, email };
        app.storage.devices().add_device(&device, tenant.policy.max_devices, app.now()).await?;
        enrollments.push(mamori::flows::enrollment::issue_enrollment_ticket(&app, &tenant, &user, "").await?);
    }
    let enrollments = Arc::new(enrollments);

    let mtls = [n1.mtls_addr(), n2.mtls_addr()];
    let main = [n1.main_addr(), n2.main_addr()];
    let stop = Arc::new(AtomicBool::new(false));
    let counter = Arc::new(AtomicUsize::new(0));
    let next_enrollment = Arc::new(AtomicUsize::new(0));
    let anonymous = Browser::anonymous(&cluster.data_dir())?;
    let mut workers = Vec::new();
    for login_user in login_users.iter().take(3) {
        let (user, mtls, stop, counter) = (Arc::clone(login_user), mtls.clone(), Arc::clone(&stop), Arc::clone(&counter));
        workers.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let node = n % 2;
                let key = format!("kill-login-{n}");
                let mut browser = Browser::new(Arc::clone(&user.tls));
                browser.user_agent = key.clone();
                let outcome = login(&mut browser, &mtls[node], &user.login_id).await;
                if outcome.is_err() {
                    // A dead node refuses at once: do not spin on it.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                seen.push(Attempt { key, node, ok: outcome.is_ok(), error: outcome.err().map(|e| format!("{e:#}")) });
            }
            seen
        }));
    }
    for w in 0..2 {
        let (main, stop, counter, next, enrollments, browser) = (
            main.clone(),
            Arc::clone(&stop),
            Arc::clone(&counter),
            Arc::clone(&next_enrollment),
            Arc::clone(&enrollments),
            anonymous.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let Some(e) = enrollments.get(next.fetch_add(1, Ordering::Relaxed)) else { break };
                let node = (counter.fetch_add(1, Ordering::Relaxed) + w) % 2;
                let outcome = enroll(&mut browser.clone(), &main[node], &e.path, &e.one_time_password).await;
                seen.push(Attempt { key: e.login_id.clone(), node, ok: outcome.is_ok(), error: outcome.err().map(|e| format!("{e:#}")) });
            }
            seen
        }));
    }

    tokio::time::sleep(Duration::from_secs(4)).await;
    let before_kill = counter.load(Ordering::Relaxed);
    n1.kill();
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop.store(true, Ordering::Relaxed);
    let mut attempts = Vec::new();
    for worker in workers {
        attempts.extend(worker.await?);
    }
    let after_kill = counter.load(Ordering::Relaxed) - before_kill;
    assert!(before_kill >= 6 && after_kill >= 6, "too little load to prove anything ({before_kill} before, {after_kill} after)");

    // The surviving node failed nothing, before or after the kill.
    let failed_on_two: Vec<&Attempt> = attempts.iter().filter(|a| a.node == 1 && !a.ok).collect();
    assert!(failed_on_two.is_empty(), "node 2 failed requests: {failed_on_two:#?}");
    assert!(attempts.iter().any(|a| a.node == 0 && !a.ok), "node 1 was killed mid-load, so some of its requests failed");

    // Logins: each attempt the client saw succeed has exactly one success event; an
    // attempt cut off by the kill has at most one; none has two.
    let rows = cluster.db.query("SELECT user_agent, result FROM login_events WHERE user_agent LIKE 'kill-login-%'");
    let mut events: std::collections::HashMap<&str, Vec<&str>> = std::collections::HashMap::new();
    for row in rows.lines() {
        let (ua, result) = row.split_once('|').expect("two columns");
        events.entry(ua).or_default().push(result);
    }
    let mut logins = 0;
    for a in attempts.iter().filter(|a| a.key.starts_with("kill-login-")) {
        let recorded = events.remove(a.key.as_str()).unwrap_or_default();
        if a.ok {
            logins += 1;
            assert_eq!(recorded, ["success"], "{}: the client logged in, the database says {recorded:?}", a.key);
        } else {
            assert!(recorded.len() <= 1 && recorded.iter().all(|r| *r == "success"), "{}: {recorded:?} ({:?})", a.key, a.error);
        }
    }
    assert!(events.is_empty(), "events of attempts nobody made: {events:?}");

    // Certificates: every enrollment the client saw complete has exactly one certificate;
    // one cut off has none or one; nobody has two.
    let rows = cluster.db.query(
        "SELECT u.login_id, count(c.id) FROM users u LEFT JOIN certificates c ON c.user_id = u.id \
         WHERE u.login_id LIKE 'ke-%' GROUP BY u.login_id",
    );
    let certificates: std::collections::HashMap<&str, u32> =
        rows.lines().filter_map(|r| r.split_once('|')).map(|(id, n)| (id, n.parse().unwrap_or(99))).collect();
    let mut enrolled = 0;
    for a in attempts.iter().filter(|a| a.key.starts_with("ke-")) {
        let n = certificates.get(a.key.as_str()).copied().unwrap_or(0);
        if a.ok {
            enrolled += 1;
            assert_eq!(n, 1, "{}: enrolled, but {n} certificates in the database", a.key);
        } else {
            assert!(n <= 1, "{}: {n} certificates ({:?})", a.key, a.error);
        }
    }
    assert!(certificates.values().all(|n| *n <= 1), "a user got two certificates: {certificates:?}");
    assert!(logins > 0 && enrolled > 0, "{logins} logins and {enrolled} enrollments succeeded");

    // The survivor still serves a whole login.
    let mut browser = Browser::new(Arc::clone(&login_users[5].tls));
    login(&mut browser, &mtls[1], &login_users[5].login_id).await?;
    drop(n2);
    Ok(())
}

async fn login(browser: &mut Browser, addr: &str, login_id: &str) -> anyhow::Result<()> {
    let page = browser.get(addr, "/login").await?;
    anyhow::ensure!(page.status == 200, "certificate step: {}", page.status);
    let done = browser.post_password(addr, &page, login_id, PASSWORD).await?;
    anyhow::ensure!(done.status == 303, "password step: {} {}", done.status, done.body);
    Ok(())
}

async fn enroll(browser: &mut Browser, addr: &str, path: &str, otp: &str) -> anyhow::Result<()> {
    let page = browser.get(addr, path).await?;
    anyhow::ensure!(page.status == 200, "enrollment page: {}", page.status);
    let token = csrf_token(&page.body).unwrap_or_default().to_owned();
    let register = browser.post_form(addr, path, &[("csrf_token", &token), ("one_time_password", otp)]).await?;
    anyhow::ensure!(register.status == 200, "one-time password: {} {}", register.status, register.body);
    let mut form = HtmlForm::containing(&register.body, "id=\"secret_answer\"").ok_or_else(|| anyhow::anyhow!("no register form"))?;
    form.set("password", ENROLL_PASSWORD).set("password_confirmation", ENROLL_PASSWORD).set("secret_answer", "kingfisher");
    let fields: Vec<(&str, &str)> = form.fields.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let done = browser.post_form(addr, &format!("{path}/register"), &fields).await?;
    anyhow::ensure!(done.status == 200 && done.body.contains("id=\"acquisition-id\""), "register: {} {}", done.status, done.body);
    Ok(())
}
