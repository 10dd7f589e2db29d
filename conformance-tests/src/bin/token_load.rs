//! Token-endpoint latency against the real `mamori` binary, for the scale benchmark
//! (docs/benchmarks.md, issue 8): the same run on a database with 10,000 and with
//! 1,000,000 users shows whether the token path depends on the size of the user tables.
//!
//! Users and one confidential client are set up through the library and the CLI; every
//! token then comes from a real authorization code flow over HTTPS (certificate + password
//! login on the mTLS listener, code redirect to the client). What is timed:
//! - `authorization_code`: each code's redemption at the token endpoint, one at a time;
//! - `refresh_token`: rotations, each worker chaining the new refresh token of every answer
//!   into its next request (a refresh token is single use), at each concurrency level.
//!
//! Token requests go over one keep-alive TLS connection per worker, as a relying site's
//! HTTP client does, so the numbers are the token path and not TLS handshakes.
//!
//! `token-load [USERS] [SECONDS] [CONCURRENCY...]`, with MAMORI_TEST_LOAD_CONFIG and
//! MAMORI_TEST_LOAD_TENANT as for login-load (required: it measures an existing database).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use mamori_conformance::cluster::{Browser, encode, query_param};
use mamori_conformance::cpu_seconds;
use mamori_conformance::login_client::{LoginUser, dev_roots, provision_user, request};
use rustls::pki_types::ServerName;
use tokio::sync::Mutex;

const PASSWORD: &str = "Token-Load-Pw1!";
const REDIRECT_URI: &str = "https://rp.token-load.test/cb";
/// Code flows per user: each gives one code to time and one refresh-token chain.
const FLOWS_PER_USER: usize = 10;

type Stream = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

struct Target {
    main_addr: String,
    mtls_url: String,
    slug: String,
    client_id: String,
    secret: String,
    /// Trusts the dev root; no client certificate (the token endpoint's listener).
    tls: Arc<rustls::ClientConfig>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let users: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(20);
    let seconds: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(15);
    let mut levels: Vec<usize> = args.iter().skip(2).filter_map(|a| a.parse().ok()).collect();
    if levels.is_empty() {
        levels = vec![1, 4, 8];
    }
    mamori::server::tls::install_default_provider();
    let bin = mamori_conformance::mamori_bin();
    let config_path = std::path::PathBuf::from(std::env::var_os("MAMORI_TEST_LOAD_CONFIG").context("set MAMORI_TEST_LOAD_CONFIG")?);
    let slug = std::env::var("MAMORI_TEST_LOAD_TENANT").unwrap_or_else(|_| "demo".into());
    let data_dir = config_path.parent().context("config folder")?.to_owned();

    let app = mamori::app::App::open(&config_path).await?;
    let tenant = app.storage.tenants().get_by_slug(&slug).await?.context("the tenant")?;
    let roots = dev_roots(&data_dir)?;
    let hash = app.hasher.hash(PASSWORD).await?;
    // A run tag keeps the IDs of repeated runs on one database apart.
    let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() % 100_000;
    let mut login_users = Vec::new();
    for i in 0..users {
        login_users.push(provision_user(&app, &tenant, &format!("tok-{run}-{i:04}"), &hash, PASSWORD, &roots).await?);
    }
    drop(app);
    let out = std::process::Command::new(&bin)
        .arg("--config")
        .arg(&config_path)
        .args(["admin", "oidc-client", "create", "--tenant", &slug, "--name", "Token load", "--redirect-uri", REDIRECT_URI])
        .args(["--auth-method", "client_secret_post", "--scope", "openid", "--first-party", "--output", "json"])
        .output()?;
    anyhow::ensure!(out.status.success(), "oidc-client create: {}", String::from_utf8_lossy(&out.stderr));
    let created: serde_json::Value = serde_json::from_slice(&out.stdout)?;

    let (mut server, main_url, mtls_url) = start_server(&bin, &config_path)?;
    let target = Arc::new(Target {
        main_addr: main_url.replace("https://localhost", "127.0.0.1"),
        mtls_url,
        slug,
        client_id: created["client_id"].as_str().context("client_id")?.to_owned(),
        secret: created["client_secret"].as_str().context("client_secret")?.to_owned(),
        tls: Arc::new(rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth()),
    });
    let server_pid = server.id();

    // Code flows, one at a time; only the redemption is timed.
    let mut redeem_times = Vec::new();
    let mut chains = Vec::new();
    let mut conn = connect(&target).await?;
    // The first request with the client's secret pays one Argon2id verify, then the node
    // remembers the secret for minutes; an untimed request that fails after client
    // authentication (an unknown code) keeps that one-off cost out of the percentiles.
    let warm_up = token_request(&mut conn, &target, "grant_type=authorization_code&code=warm-up&redirect_uri=x").await;
    anyhow::ensure!(warm_up.as_ref().is_err_and(|e| e.to_string().contains("400")), "warm-up: {warm_up:?}");
    for _ in 0..FLOWS_PER_USER {
        for user in &login_users {
            let mut browser = Browser::new(Arc::clone(&user.tls));
            let code = authorization_code(&mut browser, &target, user).await?;
            let form = format!("grant_type=authorization_code&code={}&redirect_uri={}", encode(&code), encode(REDIRECT_URI));
            let start = Instant::now();
            let refresh = token_request(&mut conn, &target, &form).await?;
            redeem_times.push(start.elapsed());
            chains.push(Mutex::new(Some(refresh)));
        }
    }
    drop(conn);
    let chains = Arc::new(chains);
    redeem_times.sort();
    println!(
        "authorization_code, concurrency 1: {} codes, p50 {:.1} ms, p99 {:.1} ms",
        redeem_times.len(),
        ms(pct(&redeem_times, 0.5)),
        ms(pct(&redeem_times, 0.99))
    );

    println!("| concurrency | refreshes/s | p50 ms | p99 ms | failures | server CPU per refresh, ms |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for &concurrency in &levels {
        anyhow::ensure!(concurrency <= chains.len(), "more workers than refresh-token chains ({})", chains.len());
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let cpu_before = cpu_seconds(server_pid);
        let mut tasks = Vec::new();
        for worker in 0..concurrency {
            let (chains, target) = (Arc::clone(&chains), Arc::clone(&target));
            tasks.push(tokio::spawn(async move {
                let (mut latencies, mut failures) = (Vec::new(), 0usize);
                let Ok(mut conn) = connect(&target).await else { return (latencies, 1) };
                // Worker w owns chains w, w + c, w + 2c, … so no chain is used twice at once.
                let mine: Vec<usize> = (worker..chains.len()).step_by(concurrency).collect();
                let (mut i, mut lost) = (0, 0);
                while Instant::now() < deadline && lost < mine.len() {
                    let mut slot = chains[mine[i % mine.len()]].lock().await;
                    i += 1;
                    let Some(token) = slot.take() else { continue };
                    let form = format!("grant_type=refresh_token&refresh_token={}", encode(&token));
                    let start = Instant::now();
                    match token_request(&mut conn, &target, &form).await {
                        Ok(next) => {
                            latencies.push(start.elapsed());
                            *slot = Some(next);
                        }
                        Err(_) => {
                            // The chain is lost (its token may have rotated); so may the connection.
                            failures += 1;
                            lost += 1;
                            match connect(&target).await {
                                Ok(c) => conn = c,
                                Err(_) => break,
                            }
                        }
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
        let cpu = (cpu_seconds(server_pid) - cpu_before) / all.len().max(1) as f64;
        println!(
            "| {concurrency} | {:.0} | {:.1} | {:.1} | {failures} | {:.2} |",
            all.len() as f64 / seconds as f64,
            ms(pct(&all, 0.5)),
            ms(pct(&all, 0.99)),
            cpu * 1000.0
        );
    }
    let _ = server.kill();
    let _ = server.wait();
    Ok(())
}

/// Follows the authorization request through the certificate + password login to the
/// redirect back to the client; returns the code.
async fn authorization_code(browser: &mut Browser, target: &Target, user: &LoginUser) -> anyhow::Result<String> {
    let path = format!(
        "/t/{}/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state=s&nonce=n",
        target.slug,
        encode(&target.client_id),
        encode(REDIRECT_URI)
    );
    let mtls_addr = target.mtls_url.replace("https://localhost", "127.0.0.1");
    let mut response = browser.get(&target.main_addr, &path).await?;
    for _ in 0..8 {
        let location = response.header("location").map(str::to_owned);
        response = match (response.status, location) {
            (302 | 303 | 307, Some(location)) if location.starts_with(REDIRECT_URI) => {
                return query_param(&location, "code").context("no code in the redirect");
            }
            // The login and the return to the authorization request go to the listener
            // that asks for the certificate (as in the two-node tests).
            (302 | 303 | 307, Some(location)) => {
                browser.get(&mtls_addr, location.strip_prefix(&target.mtls_url).unwrap_or(&location)).await?
            }
            (200, _) if response.body.contains("name=\"password\"") => {
                browser.post_password(&mtls_addr, &response, &user.login_id, PASSWORD).await?
            }
            (status, _) => anyhow::bail!("unexpected answer {status}: {}", response.body),
        };
    }
    anyhow::bail!("too many redirects")
}

async fn connect(target: &Target) -> anyhow::Result<Stream> {
    let tcp = tokio::net::TcpStream::connect(&target.main_addr).await?;
    tcp.set_nodelay(true)?;
    Ok(tokio_rustls::TlsConnector::from(Arc::clone(&target.tls)).connect(ServerName::try_from("localhost")?, tcp).await?)
}

/// One token request (client_secret_post) on a kept-alive connection; the new refresh token.
async fn token_request(conn: &mut Stream, target: &Target, grant: &str) -> anyhow::Result<String> {
    let form = format!("{grant}&client_id={}&client_secret={}", encode(&target.client_id), encode(&target.secret));
    let text = format!(
        "POST /t/{}/token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        target.slug,
        form.len()
    );
    let response = tokio::time::timeout(Duration::from_secs(30), request(conn, &text)).await.context("no answer in 30 s")??;
    anyhow::ensure!(response.status == 200, "token endpoint answered {}: {}", response.status, response.body);
    let json: serde_json::Value = serde_json::from_str(&response.body)?;
    Ok(json["refresh_token"].as_str().context("no refresh_token")?.to_owned())
}

/// `mamori serve` on ephemeral ports; its main and mTLS URLs. Its standard output keeps
/// being drained so that later lines never meet a closed pipe.
fn start_server(bin: &std::path::Path, config: &std::path::Path) -> anyhow::Result<(std::process::Child, String, String)> {
    use std::io::BufRead as _;
    let mut server = std::process::Command::new(bin)
        .arg("--config")
        .arg(config)
        .arg("serve")
        .env("MAMORI_SERVER__LISTEN", "127.0.0.1:0")
        .env("MAMORI_SERVER__MTLS_LISTEN", "127.0.0.1:0")
        .env("MAMORI_LOG__LEVEL", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let mut lines = std::io::BufReader::new(server.stdout.take().context("stdout")?).lines();
    for line in lines.by_ref() {
        let line = line?;
        if line.starts_with("mamori: listening on") {
            let urls: Vec<String> = line.split_whitespace().filter(|w| w.starts_with("https://")).map(str::to_owned).collect();
            anyhow::ensure!(urls.len() == 2, "unexpected listening line: {line}");
            std::thread::spawn(move || lines.for_each(drop));
            return Ok((server, urls[0].clone(), urls[1].clone()));
        }
    }
    anyhow::bail!("the server did not start")
}

fn pct(sorted: &[Duration], q: f64) -> Duration {
    sorted.get(((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1))).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
