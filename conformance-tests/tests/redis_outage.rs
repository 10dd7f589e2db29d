//! `storage.shared_state = "redis"` when Redis goes away and comes back: the node keeps
//! running, answers a clear 503 (page and readiness) while Redis is unreachable, and
//! serves again once it is back — without a restart of Mamori. Redis here is a
//! throw-away `redis-server` of the test's own on an ephemeral port, so the machine's
//! Redis on 6379 is never touched.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mamori_conformance::{Quickstart, body_and_status};

/// A `redis-server` this test started (and stops).
struct ThrowAwayRedis {
    child: Child,
}

impl ThrowAwayRedis {
    fn start(port: u16) -> ThrowAwayRedis {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("redis-server is not available ({e}); scripts/test installs it"));
        let redis = ThrowAwayRedis { child };
        wait_until("the throw-away Redis answers PING", || {
            Command::new("redis-cli")
                .args(["-p", &port.to_string(), "ping"])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "PONG")
        });
        redis
    }

    /// Ends it abruptly, as a crash would.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ThrowAwayRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

#[track_caller]
fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out waiting until {what}");
}

fn readyz(qs: &Quickstart) -> (String, u16) {
    body_and_status(&qs.curl("/readyz", &["-w", "\n%{http_code}"]))
}

/// The account portal with a session cookie: the node must look the session up in Redis.
fn account_page(qs: &Quickstart) -> (String, u16) {
    body_and_status(&qs.curl_mtls(
        "/account",
        &["-H", "Cookie: __Host-mamori_session=some-old-cookie", "-H", "Accept-Language: en", "-w", "\n%{http_code}"],
    ))
}

#[test]
fn a_redis_outage_is_a_clear_503_and_heals_without_a_restart() {
    let port = free_port();
    let work = tempfile::tempdir().expect("tempdir");
    let prefix = format!("mamori-outage-{}:", std::process::id());
    let url = format!("redis://127.0.0.1:{port}");
    // Started while nothing listens on the Redis port: the node still comes up.
    let qs = Quickstart::start_with_env(
        work.path(),
        &[("MAMORI_STORAGE__SHARED_STATE", "redis"), ("MAMORI_STORAGE__REDIS_URL", &url), ("MAMORI_STORAGE__REDIS_KEY_PREFIX", &prefix)],
    );
    let (body, status) = body_and_status(&qs.curl("/healthz", &["-w", "\n%{http_code}"]));
    assert_eq!((body.trim(), status), ("ok", 200), "alive, even without Redis");
    let (body, status) = readyz(&qs);
    assert_eq!((body.trim(), status), ("redis unavailable", 503));
    let (page, status) = account_page(&qs);
    assert_eq!(status, 503, "{page}");
    assert!(page.contains("temporarily unavailable"), "{page}");

    // Redis appears: the same process becomes ready and serves.
    let redis = ThrowAwayRedis::start(port);
    wait_until("/readyz says ready", || readyz(&qs) == ("ready".to_owned(), 200));
    let (page, status) = account_page(&qs);
    assert_eq!(status, 303, "an unknown session is sent to the login, not an error: {page}");

    // Redis crashes: 503 again, quickly, with the page that says so.
    redis.kill();
    let started = Instant::now();
    let (page, status) = account_page(&qs);
    assert_eq!(status, 503, "{page}");
    assert!(page.contains("temporarily unavailable"), "{page}");
    assert!(started.elapsed() < Duration::from_secs(10), "the failure took {:?}", started.elapsed());
    wait_until("/readyz reports the outage", || readyz(&qs).1 == 503);

    // And back once more.
    let _redis = ThrowAwayRedis::start(port);
    wait_until("/readyz says ready again", || readyz(&qs) == ("ready".to_owned(), 200));
    wait_until("the account page works again", || account_page(&qs).1 == 303);
    qs.stop();
}
