//! Harness for end-to-end tests: starts the real `mamori` binary on ephemeral ports and
//! drives it with tools nobody on the team wrote (curl, openssl, browsers, RP libraries).
#![forbid(unsafe_code)]

pub mod cluster;
pub mod login_client;
pub mod oidc;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The `mamori` binary built by `cargo build --bin mamori` (scripts/test does it first).
pub fn mamori_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("MAMORI_BIN") {
        return PathBuf::from(path);
    }
    // target/<profile>/deps/<test> or target/<profile>/<bin> → target/<profile>/mamori
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().expect("target dir");
    let bin = [dir.join("mamori"), dir.parent().map(|d| d.join("mamori")).unwrap_or_default()]
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| dir.join("mamori"));
    assert!(bin.exists(), "{} is missing: run `cargo build --bin mamori` first (scripts/test does)", bin.display());
    bin
}

/// Runs a `mamori` command to completion with the given config.
pub fn mamori(config: &Path, args: &[&str]) -> Output {
    Command::new(mamori_bin()).arg("--config").arg(config).args(args).env_remove("MAMORI_CONFIG").output().expect("mamori runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts success and returns standard output.
#[track_caller]
pub fn ok(o: Output) -> String {
    assert!(o.status.success(), "command failed: {}\nstdout: {}\nstderr: {}", o.status, stdout(&o), stderr(&o));
    stdout(&o)
}

/// A running `mamori quickstart` in a temporary folder.
pub struct Quickstart {
    pub workdir: PathBuf,
    pub child: Child,
    pub main_url: String,
    pub mtls_url: String,
    /// Everything it printed up to "Press Ctrl-C to stop."
    pub banner: String,
    /// Its log (stderr), line by line.
    log: std::sync::Mutex<mpsc::Receiver<String>>,
}

impl Quickstart {
    /// Starts `mamori quickstart` in `workdir` (created data stays there between starts).
    pub fn start(workdir: &Path) -> Quickstart {
        Self::start_with_env(workdir, &[])
    }

    /// Starts it with extra `MAMORI_*` settings.
    pub fn start_with_env(workdir: &Path, env: &[(&str, &str)]) -> Quickstart {
        let mut child = Command::new(mamori_bin())
            .arg("quickstart")
            .current_dir(workdir)
            .envs(env.iter().copied())
            .env("MAMORI_SERVER__LISTEN", "127.0.0.1:0")
            .env("MAMORI_SERVER__MTLS_LISTEN", "127.0.0.1:0")
            .env("MAMORI_HASHING__ARGON2_MEMORY_KIB", "8192")
            .env_remove("MAMORI_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("quickstart starts");
        // The log (stderr) is passed on to the test's own output as before, and kept for
        // `log_lines`.
        let err = child.stderr.take().expect("stderr");
        let (log_tx, log_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                eprintln!("{line}");
                let _ = log_tx.send(line);
            }
        });
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut banner = String::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    banner.push_str(&line);
                    banner.push('\n');
                    if line.starts_with("Press Ctrl-C") {
                        break;
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("quickstart did not become ready; it printed:\n{banner}");
                }
            }
        }
        let line = banner.lines().find(|l| l.starts_with("mamori: listening on")).expect("listening line");
        let urls: Vec<&str> = line.split_whitespace().filter(|w| w.starts_with("https://")).collect();
        Quickstart {
            workdir: workdir.to_owned(),
            child,
            main_url: urls[0].to_owned(),
            mtls_url: urls[1].to_owned(),
            banner,
            log: std::sync::Mutex::new(log_rx),
        }
    }

    /// The log lines the server printed since the start (or the last call), waiting up
    /// to a second for one containing `until` (a request's line comes after its answer).
    pub fn log_lines(&self, until: &str) -> Vec<String> {
        let Ok(rx) = self.log.lock() else { return Vec::new() };
        let mut lines = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())) {
            let done = line.contains(until);
            lines.push(line);
            if done {
                break;
            }
        }
        lines
    }

    pub fn data_dir(&self) -> PathBuf {
        self.workdir.join("mamori-data")
    }

    pub fn config(&self) -> PathBuf {
        self.data_dir().join("mamori.toml")
    }

    pub fn dev_root(&self) -> PathBuf {
        self.data_dir().join("tls/dev-root.pem")
    }

    /// A value printed in the banner after `label`.
    pub fn banner_value(&self, label: &str) -> Option<String> {
        self.banner.lines().find_map(|l| l.trim_start().strip_prefix(label)).map(|rest| rest.trim().to_owned())
    }

    /// `curl` against the main listener, trusting only the dev root.
    pub fn curl(&self, path: &str, extra: &[&str]) -> Output {
        Command::new("curl")
            .args(["-sS", "--max-time", "20", "--cacert"])
            .arg(self.dev_root())
            .args(extra)
            .arg(format!("{}{path}", self.main_url))
            .output()
            .expect("curl runs")
    }

    /// Stops the server the way an operator does (SIGTERM) and waits for it.
    pub fn stop(mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Quickstart {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs a tool (openssl, curl, …), failing the test clearly when it is not installed.
pub fn tool(program: &str, args: &[&str], cwd: &Path) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| panic!("{program} is not available ({e}); scripts/test installs it"))
}

impl Quickstart {
    /// The port of the main listener (no client certificate asked).
    pub fn main_port(&self) -> u16 {
        port_of(&self.main_url)
    }

    /// The port of the listener that asks for a client certificate.
    pub fn mtls_port(&self) -> u16 {
        port_of(&self.mtls_url)
    }

    /// `curl` against the certificate listener, trusting only the dev root; `extra` can
    /// carry `--cert-type P12 --cert file.p12:PASSWORD`, cookie jars, form data, …
    pub fn curl_mtls(&self, path: &str, extra: &[&str]) -> Output {
        Command::new("curl")
            .args(["-sS", "--max-time", "20", "--cacert"])
            .arg(self.dev_root())
            .args(extra)
            .arg(format!("{}{path}", self.mtls_url))
            .output()
            .expect("curl runs")
    }

    /// `mamori admin user issue-cert` for a user of the demo tenant: a device certificate
    /// written as a modern PKCS#12 into the data folder. Returns (file, password, serial).
    pub fn issue_device_certificate(&self, login_id: &str, validity: &[&str]) -> (PathBuf, String, String) {
        let dir = self.data_dir();
        let password = format!("P12-{login_id}-pw");
        let password_file = dir.join(format!("{login_id}.p12.pw"));
        std::fs::write(&password_file, format!("{password}\n")).expect("write the password file");
        let p12 = dir.join(format!("{login_id}.p12"));
        let mut args = vec!["admin", "user", "issue-cert", "--tenant", "demo", "--login-id", login_id, "--p12"];
        let (p12_arg, pw_arg) = (p12.display().to_string(), password_file.display().to_string());
        args.extend([p12_arg.as_str(), "--password-file", pw_arg.as_str()]);
        args.extend(validity);
        let out = ok(mamori(&self.config(), &args));
        let serial = out.split_whitespace().skip_while(|w| *w != "serial").nth(1).expect("issue-cert prints the serial").to_owned();
        (p12, password, serial)
    }
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().and_then(|p| p.trim_end_matches('/').parse().ok()).unwrap_or_else(|| panic!("no port in {url}"))
}

/// A form found in a page: where it posts and the values it carries (hidden fields,
/// pre-filled inputs, the first real option of each select), HTML entities decoded.
#[derive(Debug, Clone, Default)]
pub struct HtmlForm {
    pub action: String,
    pub fields: Vec<(String, String)>,
}

impl HtmlForm {
    /// The form that contains `marker` (e.g. `id="one_time_password"` or `id="login-form"`).
    pub fn containing(html: &str, marker: &str) -> Option<HtmlForm> {
        let at = html.find(marker)?;
        let start = html[..at + marker.len()].rfind("<form")?;
        let end = html[start..].find("</form>").map_or(html.len(), |e| start + e);
        let body = &html[start..end];
        let form_tag = &body[..body.find('>')?];
        let mut form = HtmlForm { action: attribute(form_tag, "action").unwrap_or_default(), fields: Vec::new() };
        let mut rest = body;
        while let Some(i) = rest.find('<') {
            rest = &rest[i..];
            let tag_end = rest.find('>').unwrap_or(rest.len());
            let tag = &rest[..tag_end];
            if tag.starts_with("<input") {
                let kind = attribute(tag, "type").unwrap_or_else(|| "text".into());
                if let (Some(name), false) = (attribute(tag, "name"), matches!(kind.as_str(), "submit" | "button" | "checkbox" | "radio")) {
                    form.fields.push((name, attribute(tag, "value").unwrap_or_default()));
                }
            } else if tag.starts_with("<select")
                && let Some(name) = attribute(tag, "name")
            {
                let select_end = rest.find("</select>").unwrap_or(rest.len());
                let value = rest[..select_end]
                    .split("<option")
                    .skip(1)
                    .filter_map(|o| attribute(&o[..o.find('>').unwrap_or(o.len())], "value"))
                    .find(|v| !v.is_empty())
                    .unwrap_or_default();
                form.fields.push((name, value));
            }
            rest = &rest[tag_end.min(rest.len())..];
            if rest.len() <= 1 {
                break;
            }
            rest = &rest[1..];
        }
        Some(form)
    }

    /// Sets a field, adding it when the form has none of that name.
    pub fn set(&mut self, name: &str, value: &str) -> &mut Self {
        match self.fields.iter_mut().find(|(n, _)| n == name) {
            Some(field) => field.1 = value.to_owned(),
            None => self.fields.push((name.to_owned(), value.to_owned())),
        }
        self
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The fields as curl `--data-urlencode name=value` arguments.
    pub fn curl_data(&self) -> Vec<String> {
        self.fields.iter().flat_map(|(n, v)| ["--data-urlencode".to_owned(), format!("{n}={v}")]).collect()
    }
}

/// The value of `name="…"` in a tag, entities decoded.
pub fn attribute(tag: &str, name: &str) -> Option<String> {
    let mut search = tag;
    loop {
        let i = search.find(&format!("{name}="))?;
        let before = search[..i].chars().last();
        let after = &search[i + name.len() + 1..];
        if before.is_some_and(|c| c.is_whitespace()) {
            let quote = after.chars().next()?;
            let value = if quote == '"' || quote == '\'' {
                let rest = &after[1..];
                &rest[..rest.find(quote)?]
            } else {
                &after[..after.find(|c: char| c.is_whitespace() || c == '>').unwrap_or(after.len())]
            };
            return Some(decode_entities(value));
        }
        search = after;
    }
}

/// Decodes the entities an auto-escaping template engine writes.
pub fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ if entity.starts_with("#x") || entity.starts_with("#X") => {
                u32::from_str_radix(&entity[2..], 16).ok().and_then(char::from_u32)
            }
            _ if entity.starts_with('#') => entity[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Splits curl output made with `-w '\n%{http_code}'` into (body, status).
pub fn body_and_status(o: &Output) -> (String, u16) {
    let text = stdout(o);
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", text.as_str()));
    (body.to_owned(), code.trim().parse().unwrap_or_else(|_| panic!("no status code at the end of: {text}\n{}", stderr(o))))
}

/// User + system CPU seconds a process has used, for the load runs and benchmarks (Linux
/// /proc, in clock ticks of 1/100 s; 0 when the process is gone).
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    let Some(after) = stat.rfind(')').map(|i| &stat[i + 2..]) else { return 0.0 };
    let fields: Vec<&str> = after.split(' ').collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// A data folder from `quickstart --no-serve` (a cheap Argon2 for tests): the CLI works on
/// its database directly. The folder, and the config file in it.
pub fn quickstart_data() -> (tempfile::TempDir, PathBuf) {
    let work = tempfile::tempdir().expect("tempdir");
    let out = Command::new(mamori_bin())
        .args(["quickstart", "--no-serve"])
        .current_dir(work.path())
        .env("MAMORI_HASHING__ARGON2_MEMORY_KIB", "8192")
        .env_remove("MAMORI_CONFIG")
        .output()
        .expect("runs");
    ok(out);
    let config = work.path().join("mamori-data/mamori.toml");
    (work, config)
}
