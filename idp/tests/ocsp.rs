//! The OCSP responder (issue 21) as relying parties see it: the real `mamori quickstart`
//! binary, a device certificate issued with the CLI, and `openssl ocsp` asking over
//! HTTPS (POST) and, for GET, curl fetching the URL-encoded base64 path with the answer
//! read back by `openssl ocsp -respin`. Every signed answer must verify against the CA.
//!
//! Needs `openssl` and `curl` (scripts/test installs them).

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use time::OffsetDateTime;

/// A running `mamori quickstart` in a temporary folder, stopped on drop.
struct Quickstart {
    dir: tempfile::TempDir,
    child: Child,
    main_url: String,
}

impl Quickstart {
    fn start() -> Quickstart {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_mamori"))
            .arg("quickstart")
            .current_dir(dir.path())
            .env("MAMORI_SERVER__LISTEN", "127.0.0.1:0")
            .env("MAMORI_SERVER__MTLS_LISTEN", "127.0.0.1:0")
            .env("MAMORI_HASHING__ARGON2_MEMORY_KIB", "8192")
            .env_remove("MAMORI_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("quickstart starts");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut main_url = None;
        loop {
            let line = match rx.recv_timeout(Duration::from_secs(90)) {
                Ok(line) => line,
                Err(_) => {
                    let _ = child.kill();
                    panic!("quickstart did not become ready");
                }
            };
            if line.starts_with("mamori: listening on") {
                main_url = line.split_whitespace().find(|w| w.starts_with("https://")).map(str::to_owned);
            }
            if line.starts_with("Press Ctrl-C") {
                break;
            }
        }
        Quickstart { dir, child, main_url: main_url.expect("the listening line") }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn config(&self) -> PathBuf {
        self.path("mamori-data/mamori.toml")
    }

    fn mamori(&self, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_mamori")).arg("--config").arg(self.config()).args(args).output().unwrap();
        ok(&format!("mamori {args:?}"), out)
    }

    /// curl against the main listener, trusting the dev root; returns (headers, body file).
    fn curl(&self, path: &str, extra: &[&str], body: &Path) -> (String, Vec<u8>) {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "20", "-D", "-", "-o"])
            .arg(body)
            .arg("--cacert")
            .arg(self.path("mamori-data/tls/dev-root.pem"))
            .args(extra)
            .arg(format!("{}{path}", self.main_url))
            .output()
            .expect("curl runs");
        let headers = ok("curl", out);
        (headers.to_ascii_lowercase(), std::fs::read(body).unwrap_or_default())
    }

    /// A device certificate of a new user of the demo tenant, as PEM; returns (file, serial).
    fn issue(&self, login_id: &str) -> (PathBuf, String) {
        self.mamori(&[
            "admin",
            "user",
            "create",
            "--tenant",
            "demo",
            "--login-id",
            login_id,
            "--email",
            &format!("{login_id}@example.test"),
        ]);
        let password_file = self.path(&format!("{login_id}.pw"));
        std::fs::write(&password_file, "P12-password\n").unwrap();
        let p12 = self.path(&format!("{login_id}.p12"));
        let out = self.mamori(&[
            "admin",
            "user",
            "issue-cert",
            "--tenant",
            "demo",
            "--login-id",
            login_id,
            "--p12",
            p12.to_str().unwrap(),
            "--password-file",
            password_file.to_str().unwrap(),
        ]);
        let serial = out.split_whitespace().skip_while(|w| *w != "serial").nth(1).expect("issue-cert prints the serial").to_owned();
        let pem = self.path(&format!("{login_id}.pem"));
        openssl(&[
            "pkcs12",
            "-in",
            p12.to_str().unwrap(),
            "-passin",
            "pass:P12-password",
            "-nokeys",
            "-clcerts",
            "-out",
            pem.to_str().unwrap(),
        ]);
        if !self.path("chain.pem").exists() {
            let chain = self.path("chain.pem");
            openssl(&[
                "pkcs12",
                "-in",
                p12.to_str().unwrap(),
                "-passin",
                "pass:P12-password",
                "-nokeys",
                "-cacerts",
                "-out",
                chain.to_str().unwrap(),
            ]);
        }
        (pem, serial)
    }
}

impl Drop for Quickstart {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[track_caller]
fn ok(what: &str, out: Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{what} failed: {}\nstdout: {stdout}\nstderr: {}", out.status, String::from_utf8_lossy(&out.stderr));
    stdout
}

fn openssl_output(args: &[&str]) -> Output {
    Command::new("openssl").args(args).output().expect("openssl is installed (scripts/test installs it)")
}

#[track_caller]
fn openssl(args: &[&str]) -> String {
    ok(&format!("openssl {args:?}"), openssl_output(args))
}

/// stdout and stderr together: `openssl ocsp` prints "Response verify OK" on stderr.
fn all_output(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The value after `label` on the first line that has it.
fn field<'a>(text: &'a str, label: &str) -> &'a str {
    text.lines().find_map(|l| l.trim().strip_prefix(label)).map(str::trim).unwrap_or_else(|| panic!("no {label} in:\n{text}"))
}

/// An openssl time: `Dec  6 10:34:43 2026 GMT`.
fn openssl_time(text: &str) -> OffsetDateTime {
    let format = time::macros::format_description!("[month repr:short] [day padding:none] [hour]:[minute]:[second] [year] GMT");
    let single_spaced = text.split_whitespace().collect::<Vec<_>>().join(" ");
    time::PrimitiveDateTime::parse(&single_spaced, &format).unwrap_or_else(|e| panic!("{text}: {e}")).assume_utc()
}

/// RFC 6960 appendix A.1: the DER request, base64, URL-encoded.
fn get_path(der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    percent_encoding::utf8_percent_encode(&b64, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[test]
fn openssl_ocsp_gets_good_revoked_unknown_and_unauthorized_answers_that_verify() {
    let qs = Quickstart::start();
    let (alice, _) = qs.issue("ocsp-alice");
    let (bob, bob_serial) = qs.issue("ocsp-bob");
    let chain = qs.path("chain.pem");

    // The certificate names the responder of its own CA in its AIA.
    let aia = openssl(&["x509", "-in", alice.to_str().unwrap(), "-noout", "-ext", "authorityInfoAccess"]);
    let aia_url = field(&aia, "OCSP - URI:").to_owned();
    let key = aia_url.rsplit('/').nth(1).unwrap().to_owned();
    assert!(aia_url.ends_with(&format!("/ca/{key}/ocsp")), "{aia_url}");
    let responder = format!("{}/ca/{key}/ocsp", qs.main_url);

    // The issuing CA is the first certificate of the chain; the trust file holds the CA
    // chain (for the answer) and the dev root (for HTTPS).
    let issuer = qs.path("issuer.pem");
    let chain_pem = std::fs::read_to_string(&chain).unwrap();
    let first_end = chain_pem.find("-----END CERTIFICATE-----").unwrap() + "-----END CERTIFICATE-----\n".len();
    std::fs::write(&issuer, &chain_pem[..first_end]).unwrap();
    let trust = qs.path("trust.pem");
    std::fs::write(&trust, format!("{chain_pem}{}", std::fs::read_to_string(qs.path("mamori-data/tls/dev-root.pem")).unwrap())).unwrap();
    let (issuer_s, trust_s) = (issuer.to_str().unwrap(), trust.to_str().unwrap());

    // The CRL's window, which every answer repeats.
    let crl_window = || {
        let (_, crl) = qs.curl(&format!("/ca/{key}/crl.der"), &[], &qs.path("crl.der"));
        assert!(!crl.is_empty());
        let text = openssl(&["crl", "-inform", "DER", "-in", qs.path("crl.der").to_str().unwrap(), "-noout", "-lastupdate", "-nextupdate"]);
        (openssl_time(field(&text, "lastUpdate=")), openssl_time(field(&text, "nextUpdate=")))
    };
    let ask = |cert: &Path| {
        let out = openssl_output(&[
            "ocsp",
            "-issuer",
            issuer_s,
            "-cert",
            cert.to_str().unwrap(),
            "-url",
            &responder,
            "-CAfile",
            trust_s,
            "-resp_text",
        ]);
        let text = all_output(&out);
        assert!(out.status.success(), "openssl ocsp failed:\n{text}");
        assert!(text.contains("Response verify OK"), "{text}");
        text
    };

    // Good, by POST, with openssl's nonce echoed.
    let text = ask(&alice);
    assert!(text.contains(&format!("{}: good", alice.display())), "{text}");
    assert!(text.contains("OCSP Nonce"), "the nonce is echoed:\n{text}");
    assert!(text.contains("OCSP Signing") && text.contains("OCSP No Check"), "a delegated signer:\n{text}");
    let (last, next) = crl_window();
    assert_eq!(openssl_time(field(&text, "This Update:")), last, "{text}");
    assert_eq!(openssl_time(field(&text, "Next Update:")), next, "{text}");

    // Revoked through the CLI: the very next answer says so, with reason and time.
    let before = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    qs.mamori(&["ca", "revoke", "--serial", &bob_serial, "--reason", "key-compromise"]);
    let after = OffsetDateTime::now_utc();
    let text = ask(&bob);
    assert!(text.contains(&format!("{}: revoked", bob.display())), "{text}");
    assert!(text.contains("Reason: keyCompromise"), "{text}");
    let revoked_at = openssl_time(field(&text, "Revocation Time:"));
    assert!(before <= revoked_at && revoked_at <= after, "revoked at {revoked_at}, between {before} and {after}");
    // The CRL was re-signed for the revocation, and the answer carries its new window.
    let (last, next) = crl_window();
    assert!(last >= before);
    assert_eq!(openssl_time(field(&text, "This Update:")), last, "{text}");
    assert_eq!(openssl_time(field(&text, "Next Update:")), next, "{text}");
    // Alice is still good.
    assert!(ask(&alice).contains(&format!("{}: good", alice.display())));

    // `/ca/ocsp`, the issuing CA's responder under a fixed name, answers alike, by POST
    // and by GET; a certificate of another CA is not its to answer there either.
    let alias = format!("{}/ca/ocsp", qs.main_url);
    let ask_alias = |cert: &Path, extra: &[&str]| {
        let mut args = vec!["ocsp", "-issuer", issuer_s, "-cert", cert.to_str().unwrap(), "-url", &alias, "-CAfile", trust_s];
        args.extend_from_slice(extra);
        all_output(&openssl_output(&args))
    };
    let text = ask_alias(&alice, &[]);
    assert!(text.contains("Response verify OK") && text.contains(&format!("{}: good", alice.display())), "{text}");
    let text = ask_alias(&bob, &[]);
    assert!(text.contains("Response verify OK") && text.contains(&format!("{}: revoked", bob.display())), "{text}");

    // A serial this CA never issued: unknown, signed.
    let out = openssl_output(&["ocsp", "-issuer", issuer_s, "-serial", "0x1234abcd5678", "-url", &responder, "-CAfile", trust_s]);
    let text = all_output(&out);
    assert!(text.contains("Response verify OK") && text.contains("0x1234abcd5678: unknown"), "{text}");

    // A certificate of another CA (the dev root's TLS certificate): not ours to answer.
    let out = openssl_output(&[
        "ocsp",
        "-issuer",
        qs.path("mamori-data/tls/dev-root.pem").to_str().unwrap(),
        "-cert",
        qs.path("mamori-data/tls/server.pem").to_str().unwrap(),
        "-url",
        &responder,
        "-CAfile",
        trust_s,
    ]);
    let text = all_output(&out);
    assert!(text.contains("Responder Error: unauthorized"), "{text}");

    // GET without a nonce: cacheable until nextUpdate; the answer verifies.
    let request = qs.path("req.der");
    let req_s = request.to_str().unwrap();
    openssl(&["ocsp", "-issuer", issuer_s, "-cert", bob.to_str().unwrap(), "-no_nonce", "-reqout", req_s]);
    let (headers, body) = qs.curl(&format!("/ca/{key}/ocsp/{}", get_path(&std::fs::read(&request).unwrap())), &[], &qs.path("get.der"));
    assert!(headers.starts_with("http/2 200") || headers.starts_with("http/1.1 200"), "{headers}");
    assert!(headers.contains("content-type: application/ocsp-response"), "{headers}");
    let max_age: i64 = field(&headers, "cache-control: public, max-age=").split(',').next().unwrap().trim().parse().unwrap();
    let remaining = (next - OffsetDateTime::now_utc()).whole_seconds();
    assert!(max_age > 0 && max_age <= remaining + 1, "max-age {max_age}, {remaining} s to nextUpdate");
    assert!(max_age <= 300, "a cache asks again within five minutes: max-age {max_age}");
    assert!(headers.contains("etag:") && headers.contains("last-modified:") && headers.contains("expires:"), "{headers}");
    assert!(!body.is_empty());
    // The validator names what the answer states, not its bytes: the same request gets
    // the same ETag, and a revalidation with it is a 304 with no body.
    let etag = field(&headers, "etag:").trim().to_owned();
    let get_url = format!("/ca/{key}/ocsp/{}", get_path(&std::fs::read(&request).unwrap()));
    let (again, _) = qs.curl(&get_url, &[], &qs.path("again.der"));
    assert_eq!(field(&again, "etag:").trim(), etag, "{again}");
    let (revalidated, empty) = qs.curl(&get_url, &["-H", &format!("If-None-Match: {etag}")], &qs.path("revalidated.der"));
    assert!(revalidated.starts_with("http/2 304") || revalidated.starts_with("http/1.1 304"), "{revalidated}");
    assert!(empty.is_empty() && revalidated.contains("cache-control: public, max-age="), "{revalidated}");
    let (other, _) = qs.curl(&get_url, &["-H", "If-None-Match: \"0123\""], &qs.path("other.der"));
    assert!(other.starts_with("http/2 200") || other.starts_with("http/1.1 200"), "another validator: the answer: {other}");
    let get_s = qs.path("get.der");
    let out = openssl_output(&[
        "ocsp",
        "-respin",
        get_s.to_str().unwrap(),
        "-no_nonce",
        "-issuer",
        issuer_s,
        "-cert",
        bob.to_str().unwrap(),
        "-CAfile",
        trust_s,
    ]);
    let text = all_output(&out);
    assert!(text.contains("Response verify OK") && text.contains(&format!("{}: revoked", bob.display())), "{text}");
    // The same GET at `/ca/ocsp/…`: the same cacheable, signed answer.
    let alias_s = qs.path("alias.der");
    let (headers, _) = qs.curl(&format!("/ca/ocsp/{}", get_path(&std::fs::read(&request).unwrap())), &[], &alias_s);
    assert!(headers.contains("cache-control: public, max-age="), "{headers}");
    let out = openssl_output(&[
        "ocsp",
        "-respin",
        alias_s.to_str().unwrap(),
        "-no_nonce",
        "-issuer",
        issuer_s,
        "-cert",
        bob.to_str().unwrap(),
        "-CAfile",
        trust_s,
    ]);
    let text = all_output(&out);
    assert!(text.contains("Response verify OK") && text.contains(&format!("{}: revoked", bob.display())), "{text}");

    // GET with a nonce: made for one request, never cached.
    openssl(&["ocsp", "-issuer", issuer_s, "-cert", alice.to_str().unwrap(), "-reqout", req_s]);
    let (headers, _) = qs.curl(&format!("/ca/{key}/ocsp/{}", get_path(&std::fs::read(&request).unwrap())), &[], &qs.path("get2.der"));
    assert!(headers.contains("cache-control: no-store"), "{headers}");
    let out = openssl_output(&[
        "ocsp",
        "-respin",
        qs.path("get2.der").to_str().unwrap(),
        // The request with its nonce (and no -cert, which would make openssl build a
        // new request with a nonce of its own): openssl checks the answer echoes it.
        "-reqin",
        req_s,
        "-CAfile",
        trust_s,
        "-resp_text",
    ]);
    let text = all_output(&out);
    assert!(out.status.success() && text.contains("Response verify OK"), "{text}");
    assert!(text.contains("OCSP Nonce") && text.contains("Cert Status: good"), "{text}");

    // Garbage, by POST and by GET: an OCSP malformedRequest, not a page or a crash.
    let malformed = [0x30, 0x03, 0x0a, 0x01, 0x01];
    let garbage = qs.path("garbage.bin");
    std::fs::write(&garbage, b"this is not an OCSP request").unwrap();
    let post = |file: &Path, out: &str| {
        qs.curl(
            &format!("/ca/{key}/ocsp"),
            &["-H", "Content-Type: application/ocsp-request", "--data-binary", &format!("@{}", file.display())],
            &qs.path(out),
        )
    };
    let (headers, body) = post(&garbage, "bad.der");
    assert!(headers.contains(" 200") && headers.contains("cache-control: no-store"), "{headers}");
    assert_eq!(body, malformed);
    let (_, body) = qs.curl(&format!("/ca/{key}/ocsp/not%20base64%21"), &[], &qs.path("bad2.der"));
    assert_eq!(body, malformed);
    let (_, body) = qs.curl(&format!("/ca/{key}/ocsp/{}", get_path(b"\x30\x03\x02\x01")), &[], &qs.path("bad3.der"));
    assert_eq!(body, malformed);
    // A CA this server does not have: unauthorized.
    let (_, body) = qs.curl(
        "/ca/0123456789abcdef/ocsp",
        &["-H", "Content-Type: application/ocsp-request", "--data-binary", &format!("@{req_s}")],
        &qs.path("bad4.der"),
    );
    assert_eq!(body, [0x30, 0x03, 0x0a, 0x01, 0x06]);

    // A body larger than any request is refused before it is read as one.
    let big = qs.path("big.bin");
    std::fs::write(&big, vec![0x30; mamori_ca::MAX_OCSP_REQUEST_BYTES + 1]).unwrap();
    let (headers, _) = post(&big, "big.out");
    assert!(headers.contains(" 413"), "{headers}");
}
