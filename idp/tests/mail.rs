//! Mail delivery end to end, against a real SMTP server: aiosmtpd (Python), which stores
//! what it receives in a maildir. Python's `email` package then decodes each received
//! message, so the checks read what a mail client would show, not our own encoding.
//!
//! Needs `python3` with `aiosmtpd`: the Debian package `python3-aiosmtpd` (scripts/test
//! installs it), or a venv at conformance-tests/.venv, or `MAMORI_TEST_PYTHON`.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use mamori::app::App;
use mamori::config::{Config, MailTransport, Secret, SmtpSecurity};
use mamori::mail::smtp::{POLL_INTERVAL, retry_delay};
use mamori::mail::{Mailer, OutgoingMail};
use mamori::state::{ConnectionInfo, ListenerKind};
use mamori::state::{PublicUrls, ServerState};
use mamori_storage::model::OutboxMail;
use mamori_storage::{MAIL_MAX_ATTEMPTS, Storage};
use mamori_ui::{Locale, Ui};
use serde_json::json;
use time::OffsetDateTime;
use tower::ServiceExt as _;

// ---------------------------------------------------------------------------------------
// The SMTP server and the decoder

/// A Python that can run aiosmtpd.
fn python() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_owned();
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("MAMORI_TEST_PYTHON") {
        candidates.push(p.into());
    }
    candidates.push(workspace.join("conformance-tests/.venv/bin/python3"));
    candidates.push("/usr/bin/python3".into());
    candidates.push("python3".into());
    for candidate in candidates {
        let ok = Command::new(&candidate)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return candidate;
        }
    }
    panic!(
        "no python3 with aiosmtpd: install the Debian package python3-aiosmtpd (scripts/test does), \
         or `python3 -m venv conformance-tests/.venv && conformance-tests/.venv/bin/pip install aiosmtpd`, \
         or set MAMORI_TEST_PYTHON"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// `python3 -m aiosmtpd` on 127.0.0.1:`port`, storing every mail in `maildir`.
struct SmtpServer {
    child: Child,
    maildir: PathBuf,
}

impl SmtpServer {
    fn start(port: u16, dir: &Path) -> SmtpServer {
        let maildir = dir.join("maildir");
        let log = std::fs::File::create(dir.join("aiosmtpd.log")).expect("log file");
        let child = Command::new(python())
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start aiosmtpd");
        let mut server = SmtpServer { child, maildir };
        let deadline = Instant::now() + Duration::from_secs(20);
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                let log = std::fs::read_to_string(dir.join("aiosmtpd.log")).unwrap_or_default();
                panic!("aiosmtpd exited ({status}): {log}");
            }
            assert!(Instant::now() < deadline, "aiosmtpd did not listen on port {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// The files of the mails received so far.
    fn files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> =
            std::fs::read_dir(self.maildir.join("new")).map(|entries| entries.flatten().map(|e| e.path()).collect()).unwrap_or_default();
        files.sort();
        files
    }

    /// Waits until at least `n` mails arrived, or the deadline.
    async fn wait_files(&self, n: usize, within: Duration) {
        let deadline = Instant::now() + within;
        while self.files().len() < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until at least `n` mails arrived (or the deadline), then returns them decoded.
    async fn wait_for(&self, n: usize, within: Duration) -> Vec<Decoded> {
        self.wait_files(n, within).await;
        decode(&self.files())
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A received message as Python's `email` package reads it.
#[derive(Debug, serde::Deserialize)]
struct Decoded {
    subject: String,
    raw_subject: String,
    from: String,
    to: String,
    date: String,
    message_id: String,
    rcpt_to: String,
    mime_version: String,
    content_type: String,
    charset: String,
    transfer_encoding: String,
    body: String,
    ascii_only: bool,
}

const DECODE_PY: &str = r#"
import email, email.policy, json, sys
out = []
for path in sys.argv[1:]:
    raw = open(path, "rb").read()
    m = email.message_from_bytes(raw, policy=email.policy.default)
    plain = m.get_body(("plain",))
    out.append({
        "subject": str(m["subject"]),
        "raw_subject": email.message_from_bytes(raw)["subject"],
        "from": str(m["from"]),
        "to": str(m["to"]),
        "date": str(m["date"]),
        "message_id": str(m["message-id"]),
        "rcpt_to": str(m.get("x-rcptto", "")),
        "mime_version": str(m.get("mime-version", "")),
        "content_type": plain.get_content_type(),
        "charset": plain.get_content_charset() or "",
        "transfer_encoding": str(plain.get("content-transfer-encoding", "")),
        # Text is CRLF-canonical inside base64 / quoted-printable (RFC 2045); compare as lines.
        "body": plain.get_content().replace("\r\n", "\n"),
        "ascii_only": raw.isascii(),
    })
print(json.dumps(out))
"#;

fn decode(files: &[PathBuf]) -> Vec<Decoded> {
    if files.is_empty() {
        return Vec::new();
    }
    let output = Command::new(python()).arg("-c").arg(DECODE_PY).args(files).output().expect("run python");
    assert!(output.status.success(), "decoding failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("decoder output")
}

// ---------------------------------------------------------------------------------------
// Mamori's side

const FROM: &str = "Mamori 認証 <no-reply@mamori.test>";

fn config(dir: &Path, transport: MailTransport, smtp_port: u16) -> Config {
    let mut config = Config::default();
    config.storage.url = format!("sqlite://{}?mode=rwc", dir.join("mamori.db").display());
    config.mail.transport = transport;
    config.mail.from = FROM.into();
    config.mail.outbox_dir = dir.join("outbox");
    config.mail.smtp.host = "127.0.0.1".into();
    config.mail.smtp.port = smtp_port;
    config.mail.smtp.security = SmtpSecurity::None;
    config
}

async fn storage(config: &Config) -> Storage {
    let storage = Storage::connect(&config.storage.url).await.expect("open SQLite");
    storage.migrate().await.expect("migrate");
    storage
}

async fn mailer(config: &Config) -> (Mailer, Storage) {
    let storage = storage(config).await;
    (Mailer::new(config, storage.clone(), Ui::new()).expect("mailer"), storage)
}

fn login_code(to: &str, login_id: &str, code: &str) -> OutgoingMail {
    OutgoingMail {
        tenant_id: None,
        to: to.into(),
        locale: Locale::Ja,
        template: "login-code",
        context: json!({ "login_id": login_id, "code": code, "minutes": 10 }),
    }
}

async fn all_mails(storage: &Storage) -> Vec<OutboxMail> {
    storage.mail_outbox().list(None, 0, 1000).await.expect("list").items
}

// ---------------------------------------------------------------------------------------
// SMTP

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_japanese_mail_arrives_through_a_real_smtp_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let server = SmtpServer::start(port, dir.path());
    let config = config(dir.path(), MailTransport::Smtp, port);
    let (mailer, storage) = mailer(&config).await;
    let dispatcher = mailer.spawn_dispatcher();
    // Let the dispatcher finish its first round and wait, so the mail below is sent
    // because `send` woke it, not because it happened to be looking.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let sent_at = Instant::now();
    mailer.send(login_code("taro.yamada@example.com", "山田太郎", "042917"), OffsetDateTime::now_utc()).await.expect("queued");
    server.wait_files(1, Duration::from_secs(30)).await;
    let took = sent_at.elapsed();
    // The server stores the mail before it answers; the dispatcher marks it sent after.
    let deadline = Instant::now() + Duration::from_secs(10);
    while all_mails(&storage).await.iter().any(|m| m.sent_at.is_none()) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    dispatcher.abort();
    let received = decode(&server.files());

    assert_eq!(received.len(), 1, "{received:?}");
    let mail = &received[0];
    assert!(took < POLL_INTERVAL, "the dispatcher was not woken by send: the mail took {took:?}");
    assert_eq!(mail.subject, "ワンタイムパスワードのお知らせ");
    assert!(mail.raw_subject.starts_with("=?utf-8?"), "subject not RFC 2047 encoded: {}", mail.raw_subject);
    assert!(mail.ascii_only, "the message is not 7-bit clean");
    assert_eq!(mail.from, FROM);
    assert_eq!(mail.to, "taro.yamada@example.com");
    assert_eq!(mail.rcpt_to, "taro.yamada@example.com");
    assert_eq!(mail.mime_version, "1.0");
    assert_eq!((mail.content_type.as_str(), mail.charset.as_str()), ("text/plain", "utf-8"));
    assert!(["base64", "quoted-printable"].contains(&mail.transfer_encoding.as_str()), "{}", mail.transfer_encoding);
    assert!(mail.body.starts_with("山田太郎 様\n"), "{}", mail.body);
    assert!(mail.body.contains("ログイン用のワンタイムパスワードは次のとおりです。"), "{}", mail.body);
    assert!(mail.body.contains("    042917\n"), "{}", mail.body);
    assert!(mail.body.contains("有効期限は 10 分です"), "{}", mail.body);
    assert!(!mail.date.is_empty());

    let stored = all_mails(&storage).await;
    assert_eq!(stored.len(), 1);
    assert!(stored[0].sent_at.is_some(), "not marked sent: {:?}", stored[0]);
    assert_eq!(stored[0].attempts, 0);
    assert_eq!(mail.message_id, format!("<{}@mamori.test>", stored[0].id));

    // The .eml the outbox transport would write is the same message.
    let eml_path = dir.path().join("built.eml");
    std::fs::write(&eml_path, mailer.eml(&stored[0]).expect("eml")).expect("write");
    let built = &decode(&[eml_path])[0];
    assert_eq!(
        (&built.subject, &built.from, &built.to, &built.date, &built.message_id, &built.body),
        (&mail.subject, &mail.from, &mail.to, &mail.date, &mail.message_id, &mail.body)
    );
}

#[tokio::test]
async fn an_unreachable_server_marks_the_mail_failed_and_it_is_retried_later() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port(); // nothing listens there yet
    let mut config = config(dir.path(), MailTransport::Smtp, port);
    config.mail.smtp.username = Some("mamori".into());
    config.mail.smtp.password = Some(Secret::new("hunter2-smtp-secret"));
    let (mailer, storage) = mailer(&config).await;
    let now = OffsetDateTime::now_utc();
    mailer.send(login_code("hanako@example.com", "花子", "111111"), now).await.expect("queued");

    let report = mailer.dispatch_once(now).await.expect("dispatch");
    assert_eq!((report.claimed, report.sent, report.failed), (1, 0, 1), "{report:?}");
    let mail = &all_mails(&storage).await[0];
    assert_eq!(mail.attempts, 1);
    assert!(mail.sent_at.is_none());
    let error = mail.last_error.as_deref().expect("an error is recorded");
    assert!(!error.is_empty());
    assert!(!error.contains("hunter2"), "the password leaked into the error: {error}");

    // Not again before the back-off has passed...
    let backoff = retry_delay(1);
    let report = mailer.dispatch_once(now + Duration::from_secs(1)).await.expect("dispatch");
    assert_eq!(report.claimed, 0, "retried at once: {report:?}");
    let report = mailer.dispatch_once(now + backoff - Duration::from_secs(5)).await.expect("dispatch");
    assert_eq!(report.claimed, 0, "retried before the back-off: {report:?}");

    // ...then, with the server up, it goes out.
    let server = SmtpServer::start(port, dir.path());
    // Without TLS the server offers no AUTH, so send without credentials from here.
    config.mail.smtp.username = None;
    config.mail.smtp.password = None;
    let mailer = Mailer::new(&config, storage.clone(), Ui::new()).expect("mailer");
    let report = mailer.dispatch_once(now + backoff + Duration::from_secs(5)).await.expect("dispatch");
    assert_eq!((report.claimed, report.sent, report.failed), (1, 1, 0), "{report:?}");
    let received = server.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].subject, "ワンタイムパスワードのお知らせ");
    let mail = &all_mails(&storage).await[0];
    assert!(mail.sent_at.is_some());
    assert_eq!(mail.attempts, 1);
}

#[tokio::test]
async fn a_mail_that_keeps_failing_is_given_up_after_the_maximum_attempts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path(), MailTransport::Smtp, free_port());
    let (mailer, storage) = mailer(&config).await;
    let mut now = OffsetDateTime::now_utc();
    mailer.send(login_code("jiro@example.com", "次郎", "222222"), now).await.expect("queued");
    for attempt in 1..=MAIL_MAX_ATTEMPTS {
        let report = mailer.dispatch_once(now).await.expect("dispatch");
        assert_eq!((report.claimed, report.failed), (1, 1), "attempt {attempt}: {report:?}");
        now += retry_delay(attempt) + Duration::from_secs(5);
    }
    let report = mailer.dispatch_once(now + Duration::from_secs(86_400)).await.expect("dispatch");
    assert_eq!(report.claimed, 0, "tried more than {MAIL_MAX_ATTEMPTS} times");
    let mail = &all_mails(&storage).await[0];
    assert_eq!(mail.attempts, MAIL_MAX_ATTEMPTS);
    assert!(mail.sent_at.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_dispatchers_over_one_database_send_each_mail_once() {
    const N: usize = 40;
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let server = SmtpServer::start(port, dir.path());
    let config = config(dir.path(), MailTransport::Smtp, port);
    // Two nodes: each its own connection pool on the same SQLite file.
    let (node_a, storage) = mailer(&config).await;
    let (node_b, _) = mailer(&config).await;
    let now = OffsetDateTime::now_utc();
    for i in 0..N {
        let node = if i % 2 == 0 { &node_a } else { &node_b };
        node.send(login_code(&format!("user{i:02}@example.com"), &format!("user-{i:02}"), &format!("{i:06}")), now).await.expect("queued");
    }
    let dispatchers = [node_a.spawn_dispatcher(), node_b.spawn_dispatcher(), node_a.spawn_dispatcher()];
    let received = server.wait_for(N, Duration::from_secs(60)).await;
    // Anything sent twice would arrive by now.
    tokio::time::sleep(POLL_INTERVAL * 2).await;
    let received_late = decode(&server.files());
    for d in dispatchers {
        d.abort();
    }
    assert_eq!(received.len(), N);
    assert_eq!(received_late.len(), N, "a mail was sent more than once");

    let mut ids: Vec<&str> = received_late.iter().map(|m| m.message_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), N, "duplicate Message-IDs");
    let mut recipients: Vec<&str> = received_late.iter().map(|m| m.to.as_str()).collect();
    recipients.sort_unstable();
    let expected: Vec<String> = (0..N).map(|i| format!("user{i:02}@example.com")).collect();
    assert_eq!(recipients, expected.iter().map(String::as_str).collect::<Vec<_>>());
    let stored = all_mails(&storage).await;
    assert_eq!(stored.len(), N);
    assert!(stored.iter().all(|m| m.sent_at.is_some() && m.attempts == 0), "{stored:?}");
}

// ---------------------------------------------------------------------------------------
// The outbox transport and the development mailbox

async fn app(dir: &Path, transport: MailTransport, dev_mailbox: bool) -> Arc<App> {
    std::fs::create_dir_all(dir).expect("app folder");
    let mut config = config(dir, transport, free_port());
    config.mail.dev_mailbox = dev_mailbox;
    config.secrets.master_key = Some(Secret::new("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
    Arc::new(App::from_config(config).await.expect("app"))
}

async fn get(app: &Arc<App>, path: &str) -> (StatusCode, String, axum::http::HeaderMap) {
    let urls = PublicUrls {
        main: "https://localhost:8443".into(),
        mtls: "https://localhost:8444".into(),
        main_addr: SocketAddr::from(([127, 0, 0, 1], 8443)),
        mtls_addr: SocketAddr::from(([127, 0, 0, 1], 8444)),
    };
    let router = mamori::server::routes::main_router(Arc::new(ServerState { app: Arc::clone(app), urls }));
    let mut request = Request::get(path).header("accept-language", "ja").body(Body::empty()).expect("request");
    request.extensions_mut().insert(ConnectionInfo {
        peer: SocketAddr::from(([127, 0, 0, 1], 50000)),
        client_chain: None,
        listener: ListenerKind::Main,
    });
    let response = router.oneshot(request).await.expect("response");
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
    (status, String::from_utf8(body.to_vec()).expect("utf-8"), headers)
}

#[tokio::test]
async fn the_dev_mailbox_lists_and_shows_mails_with_only_safe_links() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app(dir.path(), MailTransport::Outbox, true).await;
    let hostile = "<script>alert(1)</script>";
    let url = "https://localhost:8443/download?acquisition_id=AB12&x=1";
    app.mailer
        .send(
            OutgoingMail {
                tenant_id: None,
                to: "saburo@example.com".into(),
                locale: Locale::Ja,
                template: "download-guidance",
                context: json!({
                    "login_id": hostile,
                    "certificate_name": "javascript:alert(2)",
                    "acquisition_id": "AB12",
                    "download_url": format!("{url}\"><b>x</b>"),
                    "download_max_count": 3,
                    "expires_at": "2026-12-01 00:00",
                }),
            },
            app.now(),
        )
        .await
        .expect("sent to the outbox");
    let stored = all_mails(&app.storage).await;
    assert_eq!(stored.len(), 1);
    let id = stored[0].id;
    assert!(stored[0].sent_at.is_some());

    // The .eml file is the message SMTP would carry.
    let files: Vec<PathBuf> = std::fs::read_dir(dir.path().join("outbox")).expect("outbox").flatten().map(|e| e.path()).collect();
    assert_eq!(files.len(), 1);
    let eml = std::fs::read(&files[0]).expect("eml");
    assert_eq!(eml, app.mailer.eml(&stored[0]).expect("eml"));
    let decoded = &decode(&files)[0];
    assert_eq!(decoded.subject, "電子証明書ダウンロードのご案内");
    assert_eq!(decoded.message_id, format!("<{id}@mamori.test>"));

    let (status, list, headers) = get(&app, "/dev/mailbox").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(headers.get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    assert!(list.contains("開発用メールボックス"), "{list}");
    assert!(list.contains("saburo@example.com"), "{list}");
    assert!(list.contains("電子証明書ダウンロードのご案内"), "{list}");
    assert!(
        list.contains(&format!("href=\"/dev/mailbox/{id}\"")) || list.contains(&format!("href=\"&#x2f;dev&#x2f;mailbox&#x2f;{id}\"")),
        "{list}"
    );

    let (status, page, _) = get(&app, &format!("/dev/mailbox/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("電子証明書ダウンロードのご案内"), "{page}");
    assert!(!page.contains("<script>alert"), "markup from the mail reached the page: {page}");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;") || page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(!page.contains("<b>x</b>"), "{page}");
    assert!(!page.contains("href=\"javascript"), "{page}");
    // Exactly one link in the body: the https:// URL, ending where the quote starts.
    let body = page.split("<pre id=\"mail-body\">").nth(1).and_then(|b| b.split("</pre>").next()).expect("body");
    assert_eq!(body.matches("<a ").count(), 1, "{body}");
    let escaped_url = url.replace('&', "&amp;").replace('/', "&#x2f;");
    assert!(
        body.contains(&format!("<a href=\"{escaped_url}\" rel=\"noopener noreferrer\">{escaped_url}</a>&quot;&gt;&lt;b&gt;")),
        "{body}"
    );

    let (status, raw, headers) = get(&app, &format!("/dev/mailbox/{id}/raw")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers.get("content-type").and_then(|v| v.to_str().ok()), Some("text/plain; charset=utf-8"));
    assert_eq!(raw.as_bytes(), eml.as_slice());

    assert_eq!(get(&app, "/dev/mailbox/not-a-uuid").await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(&app, &format!("/dev/mailbox/{}", uuid::Uuid::new_v4())).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_dev_mailbox_is_a_404_unless_enabled_with_the_outbox_transport() {
    let dir = tempfile::tempdir().expect("tempdir");
    let off = app(&dir.path().join("off"), MailTransport::Outbox, false).await;
    let smtp = app(&dir.path().join("smtp"), MailTransport::Smtp, true).await;
    for app in [&off, &smtp] {
        app.mailer.send(login_code("shiro@example.com", "四郎", "333333"), app.now()).await.expect("queued");
        let id = all_mails(&app.storage).await[0].id;
        for path in ["/dev/mailbox".to_owned(), format!("/dev/mailbox/{id}"), format!("/dev/mailbox/{id}/raw")] {
            let (status, body, _) = get(app, &path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
            assert!(!body.contains("shiro@example.com") && !body.contains("333333"), "{path}: {body}");
        }
    }
}
