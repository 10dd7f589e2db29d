//! Load run of full certificate + password logins against the real `mamori` binary.
//!
//! Each login opens a new TLS connection presenting the user's client certificate,
//! fetches the login page (certificate step, session, CSRF), posts ID and password, and
//! expects the redirect of a completed login. Users, passwords and certificates are set
//! up through the library beforehand; nothing in the measured path is in-process.
//!
//! `cargo run --release -p mamori-conformance --bin login-load -- [USERS] [SECONDS] [CONCURRENCY...]`
//!
//! MAMORI_TEST_LOAD_PAGE=/account measures a page of a logged-in session instead: each
//! worker logs in once, then asks for that page again and again on its connection, so
//! server CPU per request is what a session costs (load, certificate binding, render);
//! MAMORI_TEST_LOAD_PAGE=/ gives the same for a page without a session, to compare.
//!
//! MAMORI_TEST_LOAD_NODES=2 starts two `mamori serve` nodes on the same config (give them
//! a shared database and `MAMORI_STORAGE__SHARED_STATE=redis`) and sends the logins to
//! them in turn, as a round-robin load balancer would; server CPU is the sum of both.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use mamori_conformance::cpu_seconds;
use mamori_conformance::login_client::{dev_roots, login, provision_user};

const PASSWORD: &str = "Load-Test-Pw1!";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let users: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(50);
    let seconds: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(15);
    let mut levels: Vec<usize> = args.iter().skip(2).filter_map(|a| a.parse().ok()).collect();
    if levels.is_empty() {
        levels = vec![1, 2, 4, 8];
    }
    mamori::server::tls::install_default_provider();
    let bin = mamori_conformance::mamori_bin();
    let work = tempfile::tempdir()?;
    // MAMORI_TEST_LOAD_CONFIG: an existing quickstart-made data folder's config (e.g. on a
    // PostgreSQL seeded with conformance-tests/bench/seed-users.sh) and
    // MAMORI_TEST_LOAD_TENANT its tenant; otherwise a fresh quickstart.
    let (config_path, slug) = match std::env::var_os("MAMORI_TEST_LOAD_CONFIG") {
        Some(path) => (std::path::PathBuf::from(path), std::env::var("MAMORI_TEST_LOAD_TENANT").unwrap_or_else(|_| "demo".into())),
        None => {
            let status = std::process::Command::new(&bin).args(["quickstart", "--no-serve"]).current_dir(work.path()).output()?;
            anyhow::ensure!(status.status.success(), "quickstart failed: {}", String::from_utf8_lossy(&status.stderr));
            (work.path().join("mamori-data/mamori.toml"), "demo".to_owned())
        }
    };
    let app = mamori::app::App::open(&config_path).await?;
    let tenant = app.storage.tenants().get_by_slug(&slug).await?.context("the tenant")?;

    let roots = dev_roots(config_path.parent().context("config folder")?)?;
    let hash = app.hasher.hash(PASSWORD).await?;
    let mut login_users = Vec::new();
    // A run tag keeps the IDs of repeated runs on one database apart.
    let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() % 100_000;
    for i in 0..users {
        login_users.push(provision_user(&app, &tenant, &format!("load-{run}-{i:04}"), &hash, PASSWORD, &roots).await?);
    }
    // The Argon2id cost of one login, measured alone with the server's parameters: wall
    // time, and CPU time (which other processes on the machine cannot inflate).
    let (hash_time, hash_cpu) = {
        let (start, cpu0) = (Instant::now(), cpu_seconds(std::process::id()));
        for _ in 0..20 {
            app.hasher.verify(PASSWORD, Some(&hash)).await?;
        }
        (start.elapsed() / 20, (cpu_seconds(std::process::id()) - cpu0) / 20.0)
    };
    drop(app);

    let nodes: usize = std::env::var("MAMORI_TEST_LOAD_NODES").ok().and_then(|n| n.parse().ok()).unwrap_or(1);
    let (mut servers, mut addrs) = (Vec::new(), Vec::new());
    for _ in 0..nodes {
        let mut server = std::process::Command::new(&bin)
            .args(["--config"])
            .arg(&config_path)
            .arg("serve")
            .env("MAMORI_SERVER__LISTEN", "127.0.0.1:0")
            .env("MAMORI_SERVER__MTLS_LISTEN", "127.0.0.1:0")
            .env("MAMORI_LOG__LEVEL", "warn")
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        addrs.push(format!("127.0.0.1:{}", read_mtls_port(&mut server)?));
        servers.push(server);
    }
    let addrs = Arc::new(addrs);
    let users = Arc::new(login_users);
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);

    println!("hash time (one Argon2id verify, alone): {:.2} ms wall, {:.2} ms CPU", ms(hash_time), hash_cpu * 1000.0);
    println!("expected ceiling: {cores} cores / hash time = {:.0} logins/s", cores as f64 / hash_time.as_secs_f64());
    println!("nodes: {nodes}");
    // The last two columns say where the machine's CPU went: the load generator shares the
    // cores with the servers, and "machine busy" (all processes, from /proc/stat) near
    // 100 % means the cores, not Mamori, set the rate.
    println!(
        "| concurrency | logins/s | p50 ms | p99 ms | failures | server CPU per login, ms | of which beyond the hash, ms | CPU ceiling, logins/s | load generator CPU per login, ms | machine busy, % |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let server_pids: Vec<u32> = servers.iter().map(std::process::Child::id).collect();
    if let Ok(page) = std::env::var("MAMORI_TEST_LOAD_PAGE") {
        let servers_cpu = || server_pids.iter().map(|&pid| cpu_seconds(pid)).sum::<f64>();
        return page_load(&page, &users, &addrs, seconds, &levels, servers_cpu, servers).await;
    }
    let servers_cpu = || server_pids.iter().map(|&pid| cpu_seconds(pid)).sum::<f64>();
    for &concurrency in &levels {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let (cpu_before, own_before, machine_before) = (servers_cpu(), cpu_seconds(std::process::id()), machine_ticks());
        let mut tasks = Vec::new();
        for worker in 0..concurrency {
            let users = Arc::clone(&users);
            let addrs = Arc::clone(&addrs);
            tasks.push(tokio::spawn(async move {
                let (mut latencies, mut failures, mut i) = (Vec::new(), 0usize, worker);
                while Instant::now() < deadline {
                    let user = &users[i % users.len()];
                    let addr = &addrs[i % addrs.len()];
                    i += concurrency;
                    let start = Instant::now();
                    match login(addr, user).await {
                        Ok(()) => latencies.push(start.elapsed()),
                        Err(_) => failures += 1,
                    }
                }
                (latencies, failures)
            }));
        }
        let (mut all, mut failures) = (Vec::new(), 0);
        for task in tasks {
            let (l, f) = task.await?;
            all.extend(l);
            failures += f;
        }
        all.sort();
        let rate = all.len() as f64 / seconds as f64;
        let p = |q: f64| quantile(&all, q);
        let cpu_per_login = (servers_cpu() - cpu_before) / all.len().max(1) as f64;
        let own_per_login = (cpu_seconds(std::process::id()) - own_before) / all.len().max(1) as f64;
        let (busy, total) = machine_ticks();
        let busy_percent = 100.0 * (busy - machine_before.0) / (total - machine_before.1).max(1.0);
        let beyond = cpu_per_login - hash_cpu;
        let ceiling = cores as f64 / cpu_per_login;
        println!(
            "| {concurrency} | {rate:.0} | {:.1} | {:.1} | {failures} | {:.2} | {:.2} | {ceiling:.0} | {:.2} | {busy_percent:.0} |",
            ms(p(0.5)),
            ms(p(0.99)),
            cpu_per_login * 1000.0,
            beyond * 1000.0,
            own_per_login * 1000.0
        );
    }
    for mut server in servers {
        let _ = server.kill();
        let _ = server.wait();
    }
    Ok(())
}

/// Requests for `page` by logged-in sessions, one per worker, each on its own connection.
async fn page_load(
    page: &str,
    users: &Arc<Vec<mamori_conformance::login_client::LoginUser>>,
    addrs: &Arc<Vec<String>>,
    seconds: u64,
    levels: &[usize],
    servers_cpu: impl Fn() -> f64,
    servers: Vec<std::process::Child>,
) -> anyhow::Result<()> {
    use mamori_conformance::login_client::TlsSession;
    println!("page: {page}");
    println!("| concurrency | requests/s | p50 ms | p99 ms | failures | server CPU per request, µs |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for &concurrency in levels {
        let mut sessions = Vec::new();
        for worker in 0..concurrency {
            let user = &users[worker % users.len()];
            let mut session = TlsSession::connect(&addrs[worker % addrs.len()], Arc::clone(&user.tls)).await?;
            let form = session.get("/login").await?;
            let done = session.post("/login/password", &form, &[("login_id", &user.login_id), ("password", &user.password)]).await?;
            anyhow::ensure!(done.status == 303, "login for the page run: {}", done.status);
            sessions.push(session);
        }
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let cpu_before = servers_cpu();
        let tasks: Vec<_> = sessions
            .into_iter()
            .map(|mut session| {
                let page = page.to_owned();
                tokio::spawn(async move {
                    let (mut latencies, mut failures) = (Vec::new(), 0usize);
                    while Instant::now() < deadline {
                        let start = Instant::now();
                        match session.get(&page).await {
                            Ok(r) if r.status == 200 => latencies.push(start.elapsed()),
                            _ => failures += 1,
                        }
                    }
                    (latencies, failures)
                })
            })
            .collect();
        let (mut all, mut failures) = (Vec::new(), 0);
        for task in tasks {
            let (l, f) = task.await?;
            all.extend(l);
            failures += f;
        }
        all.sort();
        let p = |q: f64| quantile(&all, q);
        let cpu_per_request = (servers_cpu() - cpu_before) / all.len().max(1) as f64;
        println!(
            "| {concurrency} | {:.0} | {:.2} | {:.2} | {failures} | {:.0} |",
            all.len() as f64 / seconds as f64,
            ms(p(0.5)),
            ms(p(0.99)),
            cpu_per_request * 1e6
        );
    }
    for mut server in servers {
        let _ = server.kill();
        let _ = server.wait();
    }
    Ok(())
}

/// Busy and total clock ticks of all cores since boot (the first line of /proc/stat;
/// idle and iowait count as not busy).
fn machine_ticks() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> = stat.lines().next().unwrap_or("").split_whitespace().skip(1).filter_map(|t| t.parse().ok()).collect();
    let total: f64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3).copied().unwrap_or(0.0) + ticks.get(4).copied().unwrap_or(0.0);
    (total - idle, total)
}

/// The `q` quantile of sorted latencies (zero when there are none).
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted.get(((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1))).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn read_mtls_port(server: &mut std::process::Child) -> anyhow::Result<u16> {
    use std::io::BufRead as _;
    let out = server.stdout.take().context("stdout")?;
    for line in std::io::BufReader::new(out).lines() {
        let line = line?;
        if line.starts_with("mamori: listening on") {
            let url = line.split_whitespace().filter(|w| w.starts_with("https://")).nth(1).context("mtls url")?;
            return Ok(url.rsplit(':').next().context("port")?.parse()?);
        }
    }
    anyhow::bail!("the server did not start")
}
