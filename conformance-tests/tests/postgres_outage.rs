//! `storage.backend = "postgres"` when PostgreSQL stops mid-load and comes back: the node
//! keeps running and answers a clear 503 (an HTML page that says to try again, or
//! `temporarily_unavailable` from the token endpoint, both with `Retry-After`; `/readyz`
//! 503 while `/healthz` stays 200), never a 500 or a dropped connection, and serves again
//! within a bound once PostgreSQL is back — without a restart of Mamori. Nothing written
//! before the outage is lost, and each login a client saw succeed has exactly one event.
//!
//! PostgreSQL here is a throw-away cluster of the test's own (`initdb` in a temporary
//! folder, an ephemeral port, its socket in that folder), so the machine's PostgreSQL on
//! 5432 is never touched. It is stopped once with `pg_ctl stop -m fast` (sessions ended
//! by the server) and once with `-m immediate` (as a crash: recovery from the WAL).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mamori_conformance::HtmlForm;
use mamori_conformance::cluster::{Browser, Cluster, HttpResponse, SharedStateKind, TestDatabase};
use mamori_conformance::login_client::{csrf_token, dev_roots, provision_user};
use mamori_storage::model::{DeviceType, LoginMethod, NewDevice, NewUser};

const PASSWORD: &str = "Outage-Load-Pw1!";
const ENROLL_PASSWORD: &str = "Enrolled-Outage-Pw1!";
/// From `pg_ctl start` until every request succeeds again.
const RECOVERY_BOUND: Duration = Duration::from_secs(30);
/// The longest a request may wait for its 503 while the database is gone (the pool
/// retries the connection for its acquire timeout, 5 s; the answer must come, not hang).
const OUTAGE_ANSWER_BOUND: Duration = Duration::from_secs(7);
/// How long PostgreSQL stays down: long enough for whole requests to start and end in it.
const OUTAGE: Duration = Duration::from_secs(10);
/// The node's log filter: an outage makes the pool, the storage layer and every failed
/// request log a line (thousands in a run), which would bury this test's own message.
/// Anything else still shows.
const NODE_LOG: &str =
    "warn,sqlx=off,sqlx_core=off,mamori_storage=off,mamori::web::context=off,mamori::oidc::error=off,mamori::server=error";

/// A PostgreSQL cluster this test created (and stops, and deletes).
struct ThrowAwayPostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl ThrowAwayPostgres {
    fn init() -> ThrowAwayPostgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server binaries in /usr/lib/postgresql (scripts/test installs them)")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|b| b.join("initdb").exists())
            .max_by_key(|b| b.parent().and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok()).unwrap_or(0))
            .expect("an initdb under /usr/lib/postgresql/*/bin");
        let dir = tempfile::tempdir().expect("tempdir");
        let pg = ThrowAwayPostgres { dir, bin, port: free_port() };
        if running_as_root() {
            // The server refuses to run as root: the folder goes to the `postgres` user.
            run(Command::new("chown").args(["-R", "postgres:", &pg.path("")]));
        }
        run(pg.pg_command("initdb").args(["-D", &pg.path("data"), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]));
        pg
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().expect("utf-8 path").to_owned()
    }

    /// A server binary, as the `postgres` user when this test runs as root.
    fn pg_command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if running_as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    fn start(&self) {
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, self.path(""));
        run(self.pg_command("pg_ctl").args(["-D", &self.path("data"), "-l", &self.path("log"), "-o", &options, "-w", "-t", "60", "start"]));
    }

    /// `pg_ctl stop -m MODE`: `fast` ends every session first, `immediate` is a crash.
    fn stop(&self, mode: &str) {
        run(self.pg_command("pg_ctl").args(["-D", &self.path("data"), "-m", mode, "-w", "stop"]));
    }

    fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for ThrowAwayPostgres {
    fn drop(&mut self) {
        let _ = self.pg_command("pg_ctl").args(["-D", &self.path("data"), "-m", "immediate", "stop"]).output();
    }
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

#[track_caller]
fn run(command: &mut Command) {
    let out = command.output().unwrap_or_else(|e| panic!("{command:?} cannot run: {e}"));
    assert!(out.status.success(), "{command:?} failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `GET /login` with a client certificate (the certificate is looked up).
    LoginPage,
    /// The password step; its user agent marks the login event.
    LoginPost,
    /// `/account` with the session of an earlier login.
    Account,
    /// `client_credentials` at the token endpoint.
    Token,
    /// An enrollment step (each completed enrollment issues a certificate).
    Enroll,
}

impl Kind {
    fn success(self) -> u16 {
        match self {
            Kind::LoginPost => 303,
            _ => 200,
        }
    }
}

#[derive(Debug)]
struct Sample {
    kind: Kind,
    key: String,
    started: Instant,
    ended: Instant,
    answer: Result<HttpResponse, String>,
}

impl Sample {
    fn ok(&self) -> bool {
        self.answer.as_ref().is_ok_and(|r| r.status == self.kind.success())
    }

    /// The clear 503 of an outage: a page that says so or RFC 6749's error, and when to retry.
    fn is_clear_503(&self) -> bool {
        let Ok(r) = &self.answer else { return false };
        let shaped = if self.kind == Kind::Token {
            r.header("content-type").is_some_and(|t| t.starts_with("application/json"))
                && serde_json::from_str::<serde_json::Value>(&r.body).is_ok_and(|j| j["error"] == "temporarily_unavailable")
        } else {
            r.header("content-type").is_some_and(|t| t.starts_with("text/html")) && r.body.contains("temporarily unavailable")
        };
        r.status == 503 && shaped && r.header("retry-after").is_some()
    }

    fn brief(&self) -> String {
        match &self.answer {
            Ok(r) => format!(
                "{:?} {} {} in {:?}: {}",
                self.kind,
                self.key,
                r.status,
                self.ended - self.started,
                r.body.chars().take(300).collect::<String>()
            ),
            Err(e) => format!("{:?} {} no answer after {:?}: {e}", self.kind, self.key, self.ended - self.started),
        }
    }
}

/// One outage: when the stop began, when the database was gone, when it was started
/// again, and when the node said ready.
#[derive(Debug)]
struct Round {
    mode: &'static str,
    stopping: Instant,
    down_from: Instant,
    down_until: Instant,
    ready_at: Instant,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_postgres_outage_is_a_clear_503_and_heals_without_a_restart() -> anyhow::Result<()> {
    mamori::server::tls::install_default_provider();
    let pg = ThrowAwayPostgres::init();
    pg.start();
    let cluster = Cluster::on_database(TestDatabase::create_on(&pg.admin_url(), "test_outage"), SharedStateKind::Database);
    let mut node = cluster.start_node_logging(NODE_LOG);
    let app = cluster.app().await?;
    let tenant = app.storage.tenants().get_by_slug("demo").await?.expect("demo tenant");
    let roots = dev_roots(&cluster.data_dir())?;
    let hash = app.hasher.hash(PASSWORD).await?;
    let mut users = Vec::new();
    for i in 0..4 {
        users.push(Arc::new(provision_user(&app, &tenant, &format!("po-{i}"), &hash, PASSWORD, &roots).await?));
    }
    let mut enrollments = Vec::new();
    for i in 0..40 {
        let login_id = format!("pe-{i:02}");
        let user = app.storage.users().create(&NewUser::new(tenant.id, &login_id, LoginMethod::CertPassword), app.now()).await?;
        let device = NewDevice { user_id: user.id, device_type: DeviceType::Pc, email: format!("{login_id}@example.test") };
        app.storage.devices().add_device(&device, tenant.policy.max_devices, app.now()).await?;
        enrollments.push(mamori::flows::enrollment::issue_enrollment_ticket(&app, &tenant, &user, "").await?);
    }
    // The test's own pool must not outlive the outages' checks with stale connections.
    drop(app);
    let client_id_and_secret = {
        let args = ["admin", "oidc-client", "create", "--tenant", "demo", "--name", "Outage", "--redirect-uri", "https://rp.example/cb"];
        let created: serde_json::Value = serde_json::from_str(&cluster.run(
            &[&args[..], &["--auth-method", "client_secret_post", "--grant-type", "client_credentials", "--output", "json"]].concat(),
        ))?;
        (created["client_id"].as_str().expect("client_id").to_owned(), created["client_secret"].as_str().expect("secret").to_owned())
    };

    let (mtls, main) = (node.mtls_addr(), node.main_addr());
    let stop = Arc::new(AtomicBool::new(false));
    let counter = Arc::new(AtomicUsize::new(0));
    let anonymous = Browser::anonymous(&cluster.data_dir())?;
    let mut workers = Vec::new();
    // Logins, each a page load and a password step.
    for user in users.iter().take(2) {
        let (user, addr, stop, counter) = (Arc::clone(user), mtls.clone(), Arc::clone(&stop), Arc::clone(&counter));
        workers.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let mut browser = Browser::new(Arc::clone(&user.tls));
                browser.user_agent = format!("outage-login-{}", counter.fetch_add(1, Ordering::Relaxed));
                login(&mut browser, &addr, &user.login_id, &mut seen).await;
            }
            seen
        }));
    }
    // The account portal of a logged-in user.
    {
        let (user, addr, stop) = (Arc::clone(&users[2]), mtls.clone(), Arc::clone(&stop));
        workers.push(tokio::spawn(async move {
            let mut browser = Browser::new(Arc::clone(&user.tls));
            browser.user_agent = "outage-portal".into();
            let mut seen = Vec::new();
            assert!(
                login(&mut browser, &addr, &user.login_id, &mut seen).await,
                "{:?}",
                seen.iter().map(Sample::brief).collect::<Vec<_>>()
            );
            while !stop.load(Ordering::Relaxed) {
                timed(&mut seen, Kind::Account, "portal", browser.get(&addr, "/account")).await;
            }
            seen
        }));
    }
    // Token requests.
    {
        let (client, addr, stop) = (anonymous.clone(), main.clone(), Arc::clone(&stop));
        let (id, secret) = client_id_and_secret.clone();
        workers.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let form = [("grant_type", "client_credentials"), ("client_id", id.as_str()), ("client_secret", secret.as_str())];
                timed(&mut seen, Kind::Token, "token", client.clone().post_form(&addr, "/t/demo/token", &form)).await;
            }
            seen
        }));
    }
    // Enrollments, one after another, each issuing a certificate.
    {
        let (client, addr, stop, enrollments) = (anonymous.clone(), main.clone(), Arc::clone(&stop), enrollments);
        workers.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            for e in &enrollments {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                enroll(&mut client.clone(), &addr, &e.login_id, &e.path, &e.one_time_password, &mut seen).await;
            }
            seen
        }));
    }

    let mut rounds = Vec::new();
    tokio::time::sleep(Duration::from_secs(4)).await;
    for mode in ["fast", "immediate"] {
        // What the database holds now must all be there after the outage.
        let before = ["login_events", "certificates"].map(|table| (table, cluster.db.query(&format!("SELECT id FROM {table}"))));
        let stopping = Instant::now();
        pg.stop(mode);
        let down_from = Instant::now();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut probe = anonymous.clone();
        let ready = probe.get(&main, "/readyz").await?;
        assert_eq!((ready.status, ready.body.trim()), (503, "database unavailable"), "-m {mode}");
        let alive = probe.get(&main, "/healthz").await?;
        assert_eq!((alive.status, alive.body.trim()), (200, "ok"), "-m {mode}: alive without the database");
        tokio::time::sleep(OUTAGE - Duration::from_secs(2)).await;
        let down_until = Instant::now();
        pg.start();
        let ready_at = loop {
            if probe.get(&main, "/readyz").await.is_ok_and(|r| r.status == 200) {
                break Instant::now();
            }
            assert!(down_until.elapsed() < RECOVERY_BOUND, "-m {mode}: not ready {RECOVERY_BOUND:?} after PostgreSQL is back");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        rounds.push(Round { mode, stopping, down_from, down_until, ready_at });
        for (table, ids) in &before {
            let now = cluster.db.query(&format!("SELECT id FROM {table}"));
            let now: std::collections::HashSet<&str> = now.lines().collect();
            let lost: Vec<&str> = ids.lines().filter(|id| !now.contains(id)).collect();
            assert!(lost.is_empty(), "-m {mode}: {table} rows written before the outage are gone: {lost:?}");
        }
        tokio::time::sleep(Duration::from_secs(4)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let ended = Instant::now();
    let mut samples = Vec::new();
    for worker in workers {
        samples.extend(worker.await?);
    }
    assert!(matches!(node.child.try_wait(), Ok(None)), "the node exited during the outages");

    // Every request got an answer: success, or the clear 503 of an outage.
    let bad: Vec<String> = samples.iter().filter(|s| !s.ok() && !s.is_clear_503()).map(Sample::brief).collect();
    assert!(bad.is_empty(), "answers that are neither a success nor a clear 503:\n{}", bad.join("\n"));
    for (i, round) in rounds.iter().enumerate() {
        let mode = round.mode;
        // Inside the outage: the pages that need the database answer a clear 503 (a token
        // for a client the node has cached may still be issued), quickly enough.
        let inside: Vec<&Sample> = samples.iter().filter(|s| s.started >= round.down_from && s.ended <= round.down_until).collect();
        for kind in [Kind::LoginPage, Kind::Account] {
            let of_kind: Vec<&&Sample> = inside.iter().filter(|s| s.kind == kind).collect();
            assert!(!of_kind.is_empty(), "-m {mode}: no {kind:?} request during the outage");
            let not_503: Vec<String> = of_kind.iter().filter(|s| !s.is_clear_503()).map(|s| s.brief()).collect();
            assert!(not_503.is_empty(), "-m {mode}: served without a database?\n{}", not_503.join("\n"));
        }
        let slow: Vec<String> = samples
            .iter()
            .filter(|s| s.started >= round.stopping && s.started <= round.down_until && s.ended - s.started > OUTAGE_ANSWER_BOUND)
            .map(Sample::brief)
            .collect();
        assert!(slow.is_empty(), "-m {mode}: answers slower than {OUTAGE_ANSWER_BOUND:?}:\n{}", slow.join("\n"));
        // Once ready, until the next outage: every request succeeds.
        let until = rounds.get(i + 1).map_or(ended, |next| next.stopping);
        let after: Vec<&Sample> = samples.iter().filter(|s| s.started >= round.ready_at && s.ended <= until).collect();
        let failed: Vec<String> = after.iter().filter(|s| !s.ok()).map(|s| s.brief()).collect();
        assert!(failed.is_empty(), "-m {mode}: failures after recovery:\n{}", failed.join("\n"));
        for kind in [Kind::LoginPost, Kind::Account, Kind::Token] {
            assert!(after.iter().any(|s| s.kind == kind), "-m {mode}: no {kind:?} request after recovery");
        }
        eprintln!(
            "-m {mode}: {} answers inside the outage, ready {:?} after the restart, {} successes after it",
            inside.len(),
            round.ready_at - round.down_until,
            after.len()
        );
    }
    // Before the first outage, nothing failed.
    let early: Vec<String> = samples.iter().filter(|s| s.ended <= rounds[0].stopping && !s.ok()).map(Sample::brief).collect();
    assert!(early.is_empty(), "failures before any outage:\n{}", early.join("\n"));
    // Each login the client saw succeed has exactly one success event; one refused with a
    // 503 has at most one; none has two; no event without an attempt.
    let rows = cluster.db.query("SELECT user_agent, result FROM login_events WHERE user_agent LIKE 'outage-login-%'");
    let mut events: std::collections::HashMap<&str, Vec<&str>> = std::collections::HashMap::new();
    for row in rows.lines() {
        let (ua, result) = row.split_once('|').expect("two columns");
        events.entry(ua).or_default().push(result);
    }
    let mut logins = 0;
    for s in samples.iter().filter(|s| s.kind == Kind::LoginPost && s.key.starts_with("outage-login-")) {
        let recorded = events.remove(s.key.as_str()).unwrap_or_default();
        if s.ok() {
            logins += 1;
            assert_eq!(recorded, ["success"], "{}: the client logged in, the database says {recorded:?}", s.key);
        } else {
            assert!(recorded.len() <= 1 && recorded.iter().all(|r| *r == "success"), "{}: {recorded:?}", s.brief());
        }
    }
    assert!(events.is_empty(), "events of password steps nobody sent: {events:?}");
    // Each enrollment the client saw complete has exactly one certificate; one cut off
    // has at most one.
    let rows = cluster.db.query(
        "SELECT u.login_id, count(c.id) FROM users u LEFT JOIN certificates c ON c.user_id = u.id \
         WHERE u.login_id LIKE 'pe-%' GROUP BY u.login_id",
    );
    let certificates: std::collections::HashMap<&str, u32> =
        rows.lines().filter_map(|r| r.split_once('|')).map(|(id, n)| (id, n.parse().unwrap_or(99))).collect();
    let completed: std::collections::HashSet<&str> =
        samples.iter().filter(|s| s.kind == Kind::Enroll && s.key.ends_with("/register") && s.ok()).map(|s| s.key.as_str()).collect();
    for (login_id, n) in &certificates {
        if completed.contains(format!("{login_id}/register").as_str()) {
            assert_eq!(*n, 1, "{login_id}: enrolled, but {n} certificates in the database");
        } else {
            assert!(*n <= 1, "{login_id}: {n} certificates");
        }
    }
    assert!(logins > 0 && !completed.is_empty(), "{logins} logins and {} enrollments succeeded", completed.len());
    drop(node);
    drop(cluster);
    Ok(())
}

/// Runs one request and records it; a failure is followed by a short pause so that the
/// workers do not spin while the database is gone.
async fn timed(
    seen: &mut Vec<Sample>,
    kind: Kind,
    key: &str,
    request: impl std::future::Future<Output = anyhow::Result<HttpResponse>>,
) -> Option<HttpResponse> {
    let started = Instant::now();
    let answer = request.await.map_err(|e| format!("{e:#}"));
    let sample = Sample { kind, key: key.to_owned(), started, ended: Instant::now(), answer };
    let ok = sample.ok();
    let response = sample.answer.as_ref().ok().cloned();
    seen.push(sample);
    if !ok {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    response.filter(|r| r.status == kind.success())
}

/// The certificate step and the password step; whether the login succeeded.
async fn login(browser: &mut Browser, addr: &str, login_id: &str, seen: &mut Vec<Sample>) -> bool {
    let key = browser.user_agent.clone();
    let Some(page) = timed(seen, Kind::LoginPage, &key, browser.get(addr, "/login")).await else { return false };
    timed(seen, Kind::LoginPost, &key, browser.post_password(addr, &page, login_id, PASSWORD)).await.is_some()
}

/// The enrollment pages up to the issued certificate; the steps are keyed
/// `LOGIN_ID/page`, `LOGIN_ID/otp` and `LOGIN_ID/register`.
async fn enroll(browser: &mut Browser, addr: &str, login_id: &str, path: &str, otp: &str, seen: &mut Vec<Sample>) {
    let Some(page) = timed(seen, Kind::Enroll, &format!("{login_id}/page"), browser.get(addr, path)).await else { return };
    let token = csrf_token(&page.body).unwrap_or_default().to_owned();
    let otp_form = [("csrf_token", token.as_str()), ("one_time_password", otp)];
    let Some(register) = timed(seen, Kind::Enroll, &format!("{login_id}/otp"), browser.post_form(addr, path, &otp_form)).await else {
        return;
    };
    let Some(mut form) = HtmlForm::containing(&register.body, "id=\"secret_answer\"") else { return };
    form.set("password", ENROLL_PASSWORD).set("password_confirmation", ENROLL_PASSWORD).set("secret_answer", "kingfisher");
    let fields: Vec<(&str, &str)> = form.fields.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    timed(seen, Kind::Enroll, &format!("{login_id}/register"), browser.post_form(addr, &format!("{path}/register"), &fields)).await;
}
