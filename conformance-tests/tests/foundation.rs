//! The foundation as a newcomer and an operator meet it: `mamori quickstart`, the `ca`
//! and `admin` commands, checked with curl and openssl rather than with our own code.

use std::path::Path;

use mamori_conformance::{Quickstart, body_and_status, mamori, ok, stderr, stdout, tool};

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn quickstart_serves_over_tls_then_reuses_its_data() {
    let work = tempfile::tempdir().expect("tempdir");
    let qs = Quickstart::start(work.path());
    assert!(qs.banner.contains("created mamori-data"), "{}", qs.banner);
    let otp1 = qs.banner_value("its one-time password:").expect("an enrollment one-time password is printed");
    let enroll_url = qs.banner_value("enroll the demo user:").expect("an enrollment URL is printed");
    assert!(enroll_url.starts_with(&format!("{}/enroll/", qs.main_url)), "{enroll_url}");
    let hint = qs.banner_value("admin commands:").expect("how to run admin commands");
    assert!(hint.starts_with("mamori admin --help (in this folder"), "{hint}");

    // Served over TLS with a certificate for localhost that the dev root vouches for.
    assert_eq!(ok(qs.curl("/healthz", &[])), "ok");
    let page = ok(qs.curl("/", &["-H", "Accept-Language: ja"]));
    assert!(page.contains("<html lang=\"ja\">") && page.contains("電子証明書"), "{page}");
    let page = ok(qs.curl("/?lang=en", &[]));
    assert!(page.contains("<html lang=\"en\">"), "{page}");
    let headers = ok(qs.curl("/", &["-D", "-", "-o", "/dev/null"]));
    for h in ["strict-transport-security", "content-security-policy", "x-frame-options: DENY"] {
        assert!(headers.to_lowercase().contains(&h.to_lowercase()), "missing {h} in {headers}");
    }
    let missing = qs.curl("/no/such/page", &["-w", "%{http_code}"]);
    assert!(stdout(&missing).ends_with("404"), "{}", stdout(&missing));

    // The published CA and CRL are what openssl expects.
    let dir = qs.data_dir();
    std::fs::write(dir.join("ca.pem"), ok(qs.curl("/ca/ca.pem", &[]))).expect("write");
    let crl = qs.curl("/ca/crl.der", &[]);
    std::fs::write(dir.join("crl.der"), &crl.stdout).expect("write");
    let verify = tool("openssl", &["crl", "-inform", "DER", "-in", "crl.der", "-CAfile", "ca.pem", "-noout"], &dir);
    assert!(verify.status.success() && stderr(&verify).contains("verify OK"), "{}", stderr(&verify));

    let fingerprint = json(&ok(mamori(&qs.config(), &["ca", "show", "--output", "json"])))["fingerprint_sha256"].clone();
    qs.stop();

    // A second run reuses everything: same CA, the demo and operators tenants, a new
    // one-time password.
    let qs = Quickstart::start(work.path());
    assert!(qs.banner.contains("reusing mamori-data"), "{}", qs.banner);
    let otp2 = qs.banner_value("its one-time password:").expect("a new one-time password");
    assert_ne!(otp1, otp2);
    let again = json(&ok(mamori(&qs.config(), &["ca", "show", "--output", "json"])))["fingerprint_sha256"].clone();
    assert_eq!(fingerprint, again, "the CA was replaced on rerun");
    let tenants = json(&ok(mamori(&qs.config(), &["admin", "tenant", "list", "--output", "json"])));
    assert_eq!(tenants.as_array().map(Vec::len), Some(2), "{tenants}");
    assert_eq!(ok(qs.curl("/healthz", &[])), "ok");
    qs.stop();
}

/// With the data folder elsewhere (`--data-dir`, `MAMORI_DATA_DIR`), the banner's admin
/// command names the config, and works as printed from the folder quickstart ran in.
#[test]
fn the_banner_names_the_config_when_the_data_folder_is_elsewhere() {
    let work = tempfile::tempdir().expect("tempdir");
    let qs = Quickstart::start_with_env(work.path(), &[("MAMORI_DATA_DIR", "elsewhere")]);
    let hint = qs.banner_value("admin commands:").expect("how to run admin commands");
    assert_eq!(hint, "mamori --config elsewhere/mamori.toml admin --help", "{}", qs.banner);
    let listed = std::process::Command::new(mamori_conformance::mamori_bin())
        .args(["--config", "elsewhere/mamori.toml", "admin", "tenant", "list", "--output", "json"])
        .current_dir(work.path())
        .env_remove("MAMORI_CONFIG")
        .output()
        .expect("mamori runs");
    assert_eq!(json(&ok(listed)).as_array().map(Vec::len), Some(2));
    qs.stop();
}

/// A data folder from `quickstart --no-serve`, for CLI tests that need no server.
fn prepared() -> (tempfile::TempDir, std::path::PathBuf) {
    let work = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new(mamori_conformance::mamori_bin())
        .args(["quickstart", "--no-serve"])
        .current_dir(work.path())
        .env("MAMORI_HASHING__ARGON2_MEMORY_KIB", "8192")
        .output()
        .expect("runs");
    // It prepares and exits: nothing to stop, so it does not say so.
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Ctrl-C"), "{}", String::from_utf8_lossy(&out.stdout));
    ok(out);
    let config = work.path().join("mamori-data/mamori.toml");
    (work, config)
}

#[test]
fn ca_issues_what_openssl_accepts_and_revocation_reaches_the_crl() {
    let (work, config) = prepared();
    let dir = work.path();
    std::fs::write(dir.join("pw"), "S3cret-download\n").expect("write");

    // A new key in a PKCS#12 file, modern and legacy.
    let out = ok_keep(run_in(
        dir,
        &config,
        &[
            "ca",
            "issue",
            "--common-name",
            "Taro's laptop",
            "--email",
            "taro@example.test",
            "--p12",
            "taro.p12",
            "--password-file",
            "pw",
            "--out",
            "taro.pem",
        ],
    ));
    let serial = serial_from(&stderr(&out));
    let info = tool("openssl", &["pkcs12", "-info", "-in", "taro.p12", "-passin", "pass:S3cret-download", "-noout"], dir);
    assert!(info.status.success(), "{}", stderr(&info));
    assert!(stderr(&info).contains("AES-256-CBC"), "{}", stderr(&info));
    ok_keep(run_in(
        dir,
        &config,
        &[
            "ca",
            "issue",
            "--common-name",
            "old phone",
            "--p12",
            "old.p12",
            "--password-file",
            "pw",
            "--legacy",
            "--key-type",
            "rsa2048",
            "--out",
            "old.pem",
        ],
    ));
    let legacy = tool("openssl", &["pkcs12", "-legacy", "-info", "-in", "old.p12", "-passin", "pass:S3cret-download", "-noout"], dir);
    assert!(legacy.status.success() && stderr(&legacy).contains("TripleDES"), "{}", stderr(&legacy));

    // From a CSR: the key never leaves the "device".
    let req = tool(
        "openssl",
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "dev.key",
            "-subj",
            "/CN=ignored",
            "-out",
            "dev.csr",
        ],
        dir,
    );
    assert!(req.status.success(), "{}", stderr(&req));
    ok_keep(run_in(dir, &config, &["ca", "issue", "--common-name", "Hanako's phone", "--csr", "dev.csr", "--out", "dev.pem"]));
    let pubkey_cert = tool("openssl", &["x509", "-in", "dev.pem", "-noout", "-pubkey"], dir);
    let pubkey_key = tool("openssl", &["pkey", "-in", "dev.key", "-pubout"], dir);
    assert_eq!(stdout(&pubkey_cert), stdout(&pubkey_key), "the certificate does not carry the CSR's key");

    // openssl verifies the chain and the client purpose.
    ok(run_in(dir, &config, &["ca", "chain", "--out", "chain.pem"]));
    let chain = std::fs::read_to_string(dir.join("chain.pem")).expect("chain written");
    assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2, "issuing CA and root: {chain}");
    for leaf in ["taro.pem", "old.pem", "dev.pem"] {
        let v = tool("openssl", &["verify", "-CAfile", "chain.pem", "-purpose", "sslclient", leaf], dir);
        assert!(v.status.success(), "{leaf}: {}{}", stdout(&v), stderr(&v));
    }

    // Revoke one; the next CRL lists it and openssl refuses it, the others still pass.
    ok(run_in(dir, &config, &["ca", "revoke", "--serial", &serial, "--reason", "key-compromise"]));
    ok(run_in(dir, &config, &["ca", "crl", "--out", "crl.pem"]));
    let text = tool("openssl", &["crl", "-in", "crl.pem", "-noout", "-text"], dir);
    assert!(stdout(&text).to_lowercase().contains(&serial.to_lowercase()[..8]), "{}", stdout(&text));
    assert!(stdout(&text).contains("Key Compromise"), "{}", stdout(&text));
    let refused = tool("openssl", &["verify", "-crl_check", "-CAfile", "chain.pem", "-CRLfile", "crl.pem", "taro.pem"], dir);
    assert!(!refused.status.success(), "a revoked certificate verified");
    assert!(format!("{}{}", stdout(&refused), stderr(&refused)).contains("certificate revoked"));
    let accepted = tool("openssl", &["verify", "-crl_check", "-CAfile", "chain.pem", "-CRLfile", "crl.pem", "dev.pem"], dir);
    assert!(accepted.status.success(), "{}", stderr(&accepted));

    // Revoking twice is refused and says so.
    let twice = run_in(dir, &config, &["ca", "revoke", "--serial", &serial]);
    assert!(!twice.status.success() && stderr(&twice).contains("already revoked"), "{}", stderr(&twice));
}

#[test]
fn operators_create_tenants_users_and_enrollment_tickets() {
    let (_work, config) = prepared();
    ok(mamori(&config, &["admin", "tenant", "create", "--slug", "acme", "--name", "ACME"]));
    let created = json(&ok(mamori(
        &config,
        &[
            "admin",
            "user",
            "create",
            "--tenant",
            "acme",
            "--login-id",
            "p-01-usr012",
            "--email",
            "usr012@example.test",
            "--method",
            "cert+password+otp",
            "--output",
            "json",
        ],
    )));
    assert_eq!(created["login_id"], "p-01-usr012");
    let ticket =
        json(&ok(mamori(&config, &["admin", "user", "enroll", "--tenant", "acme", "--login-id", "p-01-usr012", "--output", "json"])));
    assert!(ticket["url"].as_str().is_some_and(|u| u.contains("/enroll/")), "{ticket}");
    assert_eq!(ticket["one_time_password"].as_str().map(str::len), Some(10), "{ticket}");
    let users = ok(mamori(&config, &["admin", "user", "list", "--tenant", "acme"]));
    assert!(users.contains("p-01-usr012") && users.contains("cert+password+otp"), "{users}");
    assert!(users.starts_with("USER ID"), "a list has a header row: {users}");
    for list in [
        &["admin", "tenant", "list"][..],
        &["admin", "oidc-client", "list", "--tenant", "acme"],
        &["admin", "saml-sp", "list", "--tenant", "acme"],
    ] {
        let text = ok(mamori(&config, list));
        assert!(text.lines().next().is_some_and(|h| h.chars().all(|c| c.is_ascii_uppercase() || c == ' ')), "{list:?}: {text}");
    }
    let audit = ok(mamori(&config, &["admin", "events", "audit", "--tenant", "acme"]));
    assert!(audit.starts_with("TIME"), "{audit}");
    assert!(
        !audit.lines().skip(1).any(|l| l.split_whitespace().next().is_some_and(|t| t.contains('.'))),
        "times in whole seconds: {audit}"
    );

    let dup = mamori(&config, &["admin", "user", "create", "--tenant", "acme", "--login-id", "p-01-usr012", "--email", "x@example.test"]);
    assert!(!dup.status.success() && stderr(&dup).contains("already exists"), "{}", stderr(&dup));
    let dup = mamori(&config, &["admin", "tenant", "create", "--slug", "acme", "--name", "again"]);
    assert!(!dup.status.success() && stderr(&dup).contains("acme"), "{}", stderr(&dup));
}

#[test]
fn bad_input_fails_with_a_message_that_names_the_culprit() {
    let (work, config) = prepared();
    let dir = work.path();

    // (arguments, an optional (file, contents) to write first, what the error must name)
    type Case<'a> = (Vec<&'a str>, Option<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (vec!["--config", "/nonexistent/mamori.toml", "ca", "show"], None, "/nonexistent/mamori.toml"),
        (vec!["admin", "user", "list", "--tenant", "nope"], None, "--tenant nope"),
        (vec!["admin", "user", "enroll", "--tenant", "demo", "--login-id", "nobody"], None, "--login-id nobody"),
        (vec!["ca", "revoke", "--serial", "00ff00ff", "--reason", "key-compromise"], None, "00ff00ff"),
        (vec!["ca", "revoke", "--serial", "00ff00ff", "--reason", "bored"], None, "--reason bored"),
        (vec!["ca", "init"], None, "already exists"),
        (vec!["ca", "show"], Some(("MAMORI_SECRETS__MASTER_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")), "secrets.master_key"),
        (vec!["ca", "show"], Some(("MAMORI_SERVER__LISTEN", "not-an-address")), "listen"),
        (vec!["ca", "show"], Some(("MAMORI_STORAGE__URL", "postgres://nobody@127.0.0.1:1/none")), "storage.url"),
    ];
    for (args, env, expected) in cases {
        let mut cmd = std::process::Command::new(mamori_conformance::mamori_bin());
        if args[0] != "--config" {
            cmd.arg("--config").arg(&config);
        }
        cmd.args(&args).current_dir(dir);
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("runs");
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?} succeeded: {}", stdout(&out));
        assert!(err.contains(expected), "{args:?}: expected {expected:?} in: {err}");
        assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    }

    // A malformed CSR and a CSR whose signature was tampered with are refused by name.
    std::fs::write(dir.join("junk.csr"), "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n").expect("write");
    let out = run_in(dir, &config, &["ca", "issue", "--common-name", "x", "--csr", "junk.csr"]);
    assert!(!out.status.success() && stderr(&out).contains("junk.csr"), "{}", stderr(&out));
    let req = tool(
        "openssl",
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "k.pem",
            "-subj",
            "/CN=x",
            "-outform",
            "DER",
            "-out",
            "good.der",
        ],
        dir,
    );
    assert!(req.status.success());
    let mut der = std::fs::read(dir.join("good.der")).expect("read");
    let last = der.len() - 3;
    der[last] ^= 0x55;
    std::fs::write(dir.join("bad.der"), der).expect("write");
    let out = run_in(dir, &config, &["ca", "issue", "--common-name", "x", "--csr", "bad.der"]);
    assert!(!out.status.success() && stderr(&out).contains("bad.der"), "{}", stderr(&out));
    assert!(stderr(&out).to_lowercase().contains("signature"), "{}", stderr(&out));

    // An unknown config key is reported, not fatal.
    let out = std::process::Command::new(mamori_conformance::mamori_bin())
        .args(["--config"])
        .arg(&config)
        .args(["ca", "show"])
        .env("MAMORI_SERVER__LISSEN", "x")
        .output()
        .expect("runs");
    assert!(out.status.success() && stderr(&out).contains("server.lissen"), "{}", stderr(&out));
}

fn run_in(dir: &Path, config: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(mamori_conformance::mamori_bin())
        .arg("--config")
        .arg(config)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("runs")
}

#[track_caller]
fn ok_keep(o: std::process::Output) -> std::process::Output {
    assert!(o.status.success(), "failed: {}\n{}", stdout(&o), stderr(&o));
    o
}

fn serial_from(stderr: &str) -> String {
    stderr.split_whitespace().skip_while(|w| *w != "serial").nth(1).expect("serial printed").to_owned()
}

/// The quickstart's banner names what a newcomer opens next, and each URL answers: the
/// demo tenant's OIDC issuer (its discovery says the same issuer), the SAML metadata;
/// and `mamori admin …` typed in the quickstart folder finds the config by itself.
#[test]
fn the_banner_leads_on_and_admin_commands_find_the_quickstart_config() {
    let work = tempfile::tempdir().expect("tempdir");
    let qs = Quickstart::start(work.path());
    assert!(qs.banner_value("open first:").is_some_and(|v| v.contains("enrollment link")), "{}", qs.banner);
    let issuer = qs.banner_value("OIDC issuer (demo):").expect("the issuer");
    let discovery = qs.banner_value("OIDC discovery (demo):").expect("the discovery URL");
    let metadata = qs.banner_value("SAML metadata (demo):").expect("the SAML metadata URL");
    let path = |url: &str| url.strip_prefix(&qs.main_url).expect("on the main listener").to_owned();
    let (body, status) = body_and_status(&qs.curl(&path(&discovery), &["-w", "\n%{http_code}"]));
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["issuer"], issuer.as_str(), "the banner's issuer is the discovery's");
    let (body, status) = body_and_status(&qs.curl(&path(&metadata), &["-w", "\n%{http_code}"]));
    assert!(status == 200 && body.contains("EntityDescriptor") && body.contains("IDPSSODescriptor"), "{status}: {body}");

    // In the quickstart folder, no --config and no MAMORI_CONFIG: the data folder's config.
    let listed = std::process::Command::new(mamori_conformance::mamori_bin())
        .args(["admin", "operator", "list"])
        .current_dir(work.path())
        .env_remove("MAMORI_CONFIG")
        .output()
        .expect("mamori runs");
    let text = ok(listed);
    assert!(text.contains("admin") && text.contains("operators"), "the quickstart's operator is listed:\n{text}");
    // Elsewhere, the missing file is named.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let refused = std::process::Command::new(mamori_conformance::mamori_bin())
        .args(["admin", "operator", "list"])
        .current_dir(elsewhere.path())
        .env_remove("MAMORI_CONFIG")
        .output()
        .expect("mamori runs");
    assert!(!refused.status.success() && stderr(&refused).contains("mamori.toml"), "{refused:?}");
    qs.stop();
}
