//! Several real `mamori serve` processes on one fresh PostgreSQL database (and, for the
//! Redis variant, one Redis under a key prefix of their own), and an HTTPS client that
//! keeps cookies across nodes the way a browser behind a load balancer does.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::Context as _;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::mamori_bin;

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres:postgres@127.0.0.1:5432/test";
const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// Where the nodes keep sessions, counters and single-use codes.
#[derive(Clone, Debug)]
pub enum SharedStateKind {
    Database,
    /// Redis at `MAMORI_TEST_REDIS_URL`, under a key prefix unique to the run.
    Redis,
}

/// A database created for one test and dropped (forcefully) when the test ends.
pub struct TestDatabase {
    admin_url: String,
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    pub fn create(prefix: &str) -> TestDatabase {
        let admin_url = std::env::var("MAMORI_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into());
        TestDatabase::create_on(&admin_url, prefix)
    }

    /// A fresh database on the server behind `admin_url` (a throw-away server of a test).
    pub fn create_on(admin_url: &str, prefix: &str) -> TestDatabase {
        let admin_url = admin_url.to_owned();
        let name = format!("{prefix}_{}", random_suffix());
        psql(&admin_url, &format!("CREATE DATABASE {name}"));
        let url = with_database(&admin_url, &name);
        TestDatabase { admin_url, name, url }
    }

    /// Runs one SQL query and returns its rows, `|`-separated (psql -tA).
    pub fn query(&self, sql: &str) -> String {
        psql(&self.url, sql)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([self.admin_url.as_str(), "-qtAc", &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)])
            .output();
    }
}

fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-qtAc", sql])
        .output()
        .unwrap_or_else(|e| panic!("psql is not available ({e}); scripts/test installs postgresql-client"));
    assert!(
        out.status.success(),
        "psql failed on {sql}: {}\n(PostgreSQL must run on 127.0.0.1:5432; scripts/test starts it)",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let authority = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority..].find('/') {
        Some(slash) => &base[..authority + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

pub fn random_suffix() -> String {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

/// One data folder (config, TLS, master key) shared by every node, one database.
pub struct Cluster {
    pub work: tempfile::TempDir,
    pub db: TestDatabase,
    pub shared: SharedStateKind,
    /// Extra `MAMORI_*` settings every node and command gets (Redis URL and prefix).
    env: Vec<(String, String)>,
    pub redis_prefix: Option<String>,
}

impl Cluster {
    /// A fresh database, a quickstart data folder pointed at it (CA, demo tenant).
    pub fn create(shared: SharedStateKind) -> Cluster {
        Cluster::on_database(TestDatabase::create("test_two_nodes"), shared)
    }

    /// Like [`Cluster::create`], on a database the caller made (e.g. on its own server).
    pub fn on_database(db: TestDatabase, shared: SharedStateKind) -> Cluster {
        let work = tempfile::tempdir().expect("tempdir");
        let mut env = vec![("MAMORI_STORAGE__URL".to_owned(), db.url.clone())];
        let mut redis_prefix = None;
        if let SharedStateKind::Redis = shared {
            let url = std::env::var("MAMORI_TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS_URL.into());
            let prefix = format!("mamori-test-{}:", random_suffix());
            env.push(("MAMORI_STORAGE__SHARED_STATE".into(), "redis".into()));
            env.push(("MAMORI_STORAGE__REDIS_URL".into(), url));
            env.push(("MAMORI_STORAGE__REDIS_KEY_PREFIX".into(), prefix.clone()));
            redis_prefix = Some(prefix);
        }
        let cluster = Cluster { work, db, shared, env, redis_prefix };
        let out = cluster.command(&["quickstart", "--no-serve"]).current_dir(cluster.work.path()).output().expect("quickstart runs");
        assert!(out.status.success(), "quickstart failed: {}", String::from_utf8_lossy(&out.stderr));
        // From here on the config file itself names the shared stores, so every process
        // (nodes, CLI commands, the library in the test) reads the same settings.
        let text = std::fs::read_to_string(cluster.config()).expect("quickstart wrote a config");
        let storage: String = cluster
            .env
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("MAMORI_STORAGE__").map(|key| format!("{} = \"{v}\"\n", key.to_ascii_lowercase())))
            .collect();
        let text = text.replace("url = \"sqlite://mamori.db\"\n", &storage);
        assert!(text.contains(&cluster.db.url), "the quickstart config changed shape:\n{text}");
        std::fs::write(cluster.config(), text).expect("rewrite the config");
        cluster
    }

    pub fn data_dir(&self) -> PathBuf {
        self.work.path().join("mamori-data")
    }

    pub fn config(&self) -> PathBuf {
        self.data_dir().join("mamori.toml")
    }

    /// The settings every process of this cluster gets, as `(name, value)`.
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    /// A `mamori` command with this cluster's settings (add `--config` yourself or use
    /// [`Cluster::run`]).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(mamori_bin());
        command
            .args(args)
            .env_remove("MAMORI_CONFIG")
            .env("MAMORI_HASHING__ARGON2_MEMORY_KIB", "8192")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        command
    }

    /// Runs `mamori --config … ARGS` to completion; standard output, or a panic naming
    /// what failed.
    #[track_caller]
    pub fn run(&self, args: &[&str]) -> String {
        let config = self.config();
        let mut all = vec!["--config", config.to_str().expect("utf-8 path")];
        all.extend_from_slice(args);
        crate::ok(self.command(&all).output().expect("mamori runs"))
    }

    /// `Authorization` value of a new super-admin API token (read and write), made with
    /// the CLI as an operator would.
    #[track_caller]
    pub fn super_admin_bearer(&self) -> String {
        let args = ["admin", "api-token", "create", "--super-admin", "--scope", "read,write", "--output", "json"];
        let created: serde_json::Value = serde_json::from_str(&self.run(&args)).expect("api-token JSON");
        format!("Bearer {}", created["token"].as_str().expect("token"))
    }

    /// Opens the library on the cluster's database (for setting up users).
    pub async fn app(&self) -> anyhow::Result<mamori::app::App> {
        let mut config = mamori::config::Config::load(&self.config())?.config;
        config.hashing.argon2_memory_kib = 8192;
        mamori::app::App::from_config(config).await
    }

    /// Starts one more `mamori serve` on ephemeral ports with metrics on.
    pub fn start_node(&self) -> Node {
        Node::start(self, "warn")
    }

    /// `start_node` with the node's log filter (tracing's directives, as
    /// `log.level` takes them): a test that makes a node warn on purpose keeps its own
    /// failure message readable.
    pub fn start_node_logging(&self, filter: &str) -> Node {
        Node::start(self, filter)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let (Some(prefix), Some((_, url))) = (&self.redis_prefix, self.env.iter().find(|(k, _)| k == "MAMORI_STORAGE__REDIS_URL")) {
            // Best effort: the run's keys all carry its prefix and expire anyway.
            let script = "for _,k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end return 0";
            let _ = Command::new("redis-cli").args(["-u", url, "EVAL", script, "0", &format!("{prefix}*")]).output();
        }
    }
}

/// A running node.
pub struct Node {
    pub child: Child,
    pub main_url: String,
    pub mtls_url: String,
    pub metrics_url: String,
}

impl Node {
    fn start(cluster: &Cluster, log_filter: &str) -> Node {
        let config = cluster.config();
        let mut child = cluster
            .command(&["--config", config.to_str().expect("utf-8 path"), "serve"])
            .env("MAMORI_SERVER__LISTEN", "127.0.0.1:0")
            .env("MAMORI_SERVER__MTLS_LISTEN", "127.0.0.1:0")
            .env("MAMORI_METRICS__ENABLED", "true")
            .env("MAMORI_METRICS__LISTEN", "127.0.0.1:0")
            .env("MAMORI_LOG__LEVEL", log_filter)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("mamori serve starts");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let (mut metrics_url, mut urls) = (None, None);
        while urls.is_none() {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) if line.starts_with("mamori: metrics on ") => {
                    metrics_url = line.split_whitespace().last().map(str::to_owned);
                }
                Ok(line) if line.starts_with("mamori: listening on") => {
                    let found: Vec<String> = line.split_whitespace().filter(|w| w.starts_with("https://")).map(str::to_owned).collect();
                    urls = Some((found[0].clone(), found[1].clone()));
                }
                Ok(_) => {}
                Err(_) => {
                    let _ = child.kill();
                    panic!("a node did not start within 60 s");
                }
            }
        }
        let (main_url, mtls_url) = urls.expect("urls");
        Node { child, main_url, mtls_url, metrics_url: metrics_url.expect("the node printed its metrics URL") }
    }

    /// `127.0.0.1:PORT` of the main listener (no client certificate asked).
    pub fn main_addr(&self) -> String {
        self.main_url.replace("https://localhost", "127.0.0.1")
    }

    /// `127.0.0.1:PORT` of the listener that asks for a client certificate.
    pub fn mtls_addr(&self) -> String {
        self.mtls_url.replace("https://localhost", "127.0.0.1")
    }

    /// SIGKILL: no drain, no goodbye.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
            for _ in 0..50 {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            self.kill();
        }
    }
}

/// The answer to one request.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }
}

/// A browser-like HTTPS client: one TLS config (with or without a client certificate),
/// cookies kept across requests and across nodes, a new connection per request (a load
/// balancer may send any request to any node).
#[derive(Clone)]
pub struct Browser {
    tls: Arc<rustls::ClientConfig>,
    cookies: Vec<(String, String)>,
    pub user_agent: String,
    /// The local address to connect from (another 127.x address is another client).
    pub source: Option<std::net::IpAddr>,
}

impl Browser {
    pub fn new(tls: Arc<rustls::ClientConfig>) -> Browser {
        Browser { tls, cookies: Vec::new(), user_agent: "mamori-two-nodes-test".into(), source: None }
    }

    /// A client without a certificate, trusting the cluster's dev root.
    pub fn anonymous(data_dir: &Path) -> anyhow::Result<Browser> {
        let roots = crate::login_client::dev_roots(data_dir)?;
        Ok(Browser::new(Arc::new(rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth())))
    }

    pub async fn get(&mut self, addr: &str, path: &str) -> anyhow::Result<HttpResponse> {
        self.send(addr, "GET", path, &[], None).await
    }

    /// Posts form fields (already plain values; they are URL-encoded here).
    pub async fn post_form(&mut self, addr: &str, path: &str, fields: &[(&str, &str)]) -> anyhow::Result<HttpResponse> {
        let body = fields.iter().map(|(n, v)| format!("{}={}", encode(n), encode(v))).collect::<Vec<_>>().join("&");
        self.send(addr, "POST", path, &[("Content-Type", "application/x-www-form-urlencoded")], Some(&body)).await
    }

    /// Posts the password step of `page` as a browser posts its form: the page's CSRF token
    /// and login reference (empty when the page has none) with the ID and password.
    pub async fn post_password(&mut self, addr: &str, page: &HttpResponse, login_id: &str, password: &str) -> anyhow::Result<HttpResponse> {
        let token = crate::login_client::csrf_token(&page.body).unwrap_or_default().to_owned();
        let login = crate::login_client::login_ref(&page.body).unwrap_or_default().to_owned();
        let fields = [("csrf_token", token.as_str()), ("login_ref", login.as_str()), ("login_id", login_id), ("password", password)];
        self.post_form(addr, "/login/password", &fields).await
    }

    pub async fn send(
        &mut self,
        addr: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> anyhow::Result<HttpResponse> {
        let connect = async {
            let Some(source) = self.source else { return tokio::net::TcpStream::connect(addr).await };
            let socket = if source.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
            socket.bind(std::net::SocketAddr::new(source, 0))?;
            let target = tokio::net::lookup_host(addr).await?.next().ok_or_else(|| std::io::Error::other("no address"))?;
            socket.connect(target).await
        };
        let tcp = tokio::time::timeout(Duration::from_secs(10), connect).await??;
        tcp.set_nodelay(true)?;
        let connector = tokio_rustls::TlsConnector::from(Arc::clone(&self.tls));
        let mut tls = connector.connect(ServerName::try_from("localhost")?, tcp).await?;
        let mut text = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAccept-Language: en\r\nUser-Agent: {}\r\nConnection: close\r\n",
            self.user_agent
        );
        if !self.cookies.is_empty() {
            let jar = self.cookies.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("; ");
            text.push_str(&format!("Cookie: {jar}\r\n"));
        }
        for (name, value) in headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        let body = body.unwrap_or("");
        if method != "GET" {
            text.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        text.push_str("\r\n");
        text.push_str(body);
        tls.write_all(text.as_bytes()).await?;
        let response = tokio::time::timeout(Duration::from_secs(30), read_response(&mut tls)).await.context("no answer in 30 s")??;
        for (name, value) in &response.headers {
            if name.eq_ignore_ascii_case("set-cookie")
                && let Some((n, v)) = value.split(';').next().and_then(|p| p.split_once('='))
            {
                self.cookies.retain(|(old, _)| old != n);
                if !v.is_empty() {
                    self.cookies.push((n.trim().to_owned(), v.trim().to_owned()));
                }
            }
        }
        Ok(response)
    }
}

async fn read_response<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> anyhow::Result<HttpResponse> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    let head_end = loop {
        let n = stream.read(&mut chunk).await?;
        anyhow::ensure!(n > 0, "connection closed before an answer");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':').map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))).collect();
    let find = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    let mut body = buf[head_end..].to_vec();
    if let Some(length) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
        while body.len() < length {
            let n = stream.read(&mut chunk).await?;
            anyhow::ensure!(n > 0, "connection closed in the body");
            body.extend_from_slice(&chunk[..n]);
        }
        body.truncate(length);
    } else if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        while !body.ends_with(b"0\r\n\r\n") {
            let n = stream.read(&mut chunk).await?;
            anyhow::ensure!(n > 0, "connection closed in a chunked body");
            body.extend_from_slice(&chunk[..n]);
        }
        body = dechunk(&body);
    } else {
        // Read to the end; a TLS close without close_notify still ends the body.
        while let Ok(n) = stream.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    Ok(HttpResponse { status, headers, body: String::from_utf8_lossy(&body).into_owned() })
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&raw[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = eol + 2;
        out.extend_from_slice(&raw[start..(start + size).min(raw.len())]);
        raw = &raw[(start + size + 2).min(raw.len())..];
    }
    out
}

pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value of a query parameter in a URL (percent-decoded).
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (n, v) = pair.split_once('=')?;
        (n == name).then(|| decode(v))
    })
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Follows `authorize_path` on `node` through the certificate login (the password form,
/// when it is asked for) to the redirect back to `redirect_uri`; returns that redirect.
pub async fn follow_authorization(
    browser: &mut Browser,
    node: &Node,
    authorize_path: &str,
    redirect_uri: &str,
    login_id: &str,
    password: &str,
) -> anyhow::Result<String> {
    let mut response = browser.get(&node.main_addr(), authorize_path).await?;
    for _ in 0..8 {
        let location = response.header("location").map(str::to_owned);
        match (response.status, location) {
            (302 | 303 | 307, Some(location)) if location.starts_with(redirect_uri) => return Ok(location),
            (302 | 303 | 307, Some(location)) => {
                let path = location.strip_prefix(&node.mtls_url).unwrap_or(&location).to_owned();
                response = browser.get(&node.mtls_addr(), &path).await?;
            }
            (200, _) if response.body.contains("name=\"password\"") => {
                let page = response;
                response = browser.post_password(&node.mtls_addr(), &page, login_id, password).await?;
            }
            (status, _) => anyhow::bail!("unexpected answer {status}: {}", response.body),
        }
    }
    anyhow::bail!("too many redirects")
}

/// `mod NAME { database(), redis() }` around `async fn NAME(SharedStateKind)`: one
/// multi-node scenario per shared-state store.
#[macro_export]
macro_rules! on_each_store {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn database() -> anyhow::Result<()> {
                    super::$name(mamori_conformance::cluster::SharedStateKind::Database).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn redis() -> anyhow::Result<()> {
                    super::$name(mamori_conformance::cluster::SharedStateKind::Redis).await
                }
            }
        )+
    };
}
