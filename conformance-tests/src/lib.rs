//! Harness for end-to-end tests: starts the real `mamori` binary on ephemeral ports and
//! drives it with tools nobody on the team wrote (curl, openssl, browsers, RP libraries).
#![forbid(unsafe_code)]

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
    // target/debug/deps/<test> → target/debug/mamori
    let exe = std::env::current_exe().expect("test executable path");
    let bin = exe.parent().and_then(Path::parent).map(|d| d.join("mamori")).expect("target dir");
    assert!(bin.exists(), "{} is missing: run `cargo build --bin mamori` first (scripts/test does)", bin.display());
    bin
}

/// Runs a `mamori` command to completion with the given config.
pub fn mamori(config: &Path, args: &[&str]) -> Output {
    Command::new(mamori_bin())
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("MAMORI_CONFIG")
        .output()
        .expect("mamori runs")
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
}

impl Quickstart {
    /// Starts `mamori quickstart` in `workdir` (created data stays there between starts).
    pub fn start(workdir: &Path) -> Quickstart {
        let mut child = Command::new(mamori_bin())
            .arg("quickstart")
            .current_dir(workdir)
            .env("MAMORI_SERVER__LISTEN", "127.0.0.1:0")
            .env("MAMORI_SERVER__MTLS_LISTEN", "127.0.0.1:0")
            .env("MAMORI_HASHING__ARGON2_MEMORY_KIB", "8192")
            .env_remove("MAMORI_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("quickstart starts");
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
        }
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
        self.banner
            .lines()
            .find_map(|l| l.trim_start().strip_prefix(label))
            .map(|rest| rest.trim().to_owned())
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
