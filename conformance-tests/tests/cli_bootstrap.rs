//! The first admin from the shell: `mamori admin bootstrap` on an empty database, its
//! refusals (a second bootstrap, a bad user ID) leaving nothing behind, `mamori admin
//! operator list` in text and JSON, and `mamori quickstart` printing its own super-admin's
//! enrollment and the console's URL. The browser half (the enrollment link opened, the
//! certificate downloaded, the console logged in to) is conformance-tests/browser/bootstrap.test.mjs.

use std::path::{Path, PathBuf};
use std::process::Output;

use mamori_conformance::{mamori, ok, stderr, stdout};
use serde_json::Value;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[track_caller]
fn admin_json(config: &Path, args: &[&str]) -> Value {
    let mut all = vec!["admin"];
    all.extend_from_slice(args);
    all.extend(["--output", "json"]);
    json(&ok(mamori(config, &all)))
}

#[track_caller]
fn failed(o: Output) -> String {
    assert!(!o.status.success(), "succeeded unexpectedly: {}", stdout(&o));
    stderr(&o)
}

fn quickstart_no_serve(dir: &Path) -> String {
    let out = std::process::Command::new(mamori_conformance::mamori_bin())
        .args(["quickstart", "--no-serve"])
        .current_dir(dir)
        .env("MAMORI_HASHING__ARGON2_MEMORY_KIB", "8192")
        .env_remove("MAMORI_CONFIG")
        .output()
        .expect("runs");
    ok(out)
}

/// A data folder whose database is empty: the quickstart's config, TLS files and master
/// key, its database removed (a fresh one is migrated at the next command).
fn empty_database() -> (tempfile::TempDir, PathBuf) {
    let work = tempfile::tempdir().expect("tempdir");
    quickstart_no_serve(work.path());
    let data = work.path().join("mamori-data");
    for f in ["mamori.db", "mamori.db-wal", "mamori.db-shm"] {
        let _ = std::fs::remove_file(data.join(f));
    }
    (work, data.join("mamori.toml"))
}

fn bootstrap(config: &Path, tenant: &str, login_id: &str, extra: &[&str]) -> Output {
    let email = format!("{}@example.test", login_id.chars().filter(char::is_ascii_alphanumeric).collect::<String>());
    let mut args = vec!["admin", "bootstrap", "--tenant", tenant, "--login-id", login_id, "--email", email.as_str()];
    args.extend_from_slice(extra);
    mamori(config, &args)
}

fn slugs(config: &Path) -> Vec<String> {
    let tenants = admin_json(config, &["tenant", "list"]);
    tenants.as_array().expect("a list").iter().filter_map(|t| t["slug"].as_str().map(str::to_owned)).collect()
}

fn operators(config: &Path) -> Vec<(String, String, String, Value)> {
    let listed = admin_json(config, &["operator", "list"]);
    listed
        .as_array()
        .expect("a list")
        .iter()
        .map(|o| {
            let s = |k: &str| o[k].as_str().unwrap_or_default().to_owned();
            (s("tenant"), s("login_id"), s("role"), o["administers"].clone())
        })
        .collect()
}

#[test]
fn bootstrap_makes_the_first_super_admin_once_and_a_refusal_makes_nothing() {
    let (_work, config) = empty_database();
    let config = config.as_path();
    assert!(operators(config).is_empty(), "an empty database has no operator");

    // Hostile first: a user ID with a bidirectional override is refused by its field's
    // name, and neither the tenant nor a user is left behind.
    let bidi = failed(bootstrap(config, "ops", "evil\u{202e}gpj", &[]));
    assert!(bidi.contains("login_id"), "{bidi}");
    let bad_mail = failed(mamori(config, &["admin", "bootstrap", "--tenant", "ops", "--login-id", "root", "--email", "not-a-mail"]));
    assert!(bad_mail.contains("email"), "{bad_mail}");
    let bad_slug = failed(bootstrap(config, "Ops Team", "root", &[]));
    assert!(bad_slug.contains("slug"), "{bad_slug}");
    assert!(slugs(config).is_empty(), "a refused bootstrap made a tenant: {:?}", slugs(config));
    assert!(operators(config).is_empty());

    // Honest: the tenant is created, the user made super-admin, and a link printed.
    let text = ok(bootstrap(config, "ops", "root-admin", &["--tenant-name", "Operations"]));
    assert!(text.contains("created tenant ops"), "{text}");
    assert!(text.contains("created super-admin root-admin in tenant ops"), "{text}");
    let line = |label: &str| text.lines().find_map(|l| l.strip_prefix(label)).map(|v| v.trim().to_owned());
    let url = line("enrollment URL:").expect("an enrollment URL");
    assert!(url.starts_with("https://") && url.contains("/enroll/"), "{url}");
    let otp = line("one-time password:").expect("a one-time password");
    assert!(!otp.is_empty(), "{text}");
    assert!(line("console:").is_some_and(|c| c.ends_with("/console")), "{text}");
    assert_eq!(slugs(config), ["ops"]);
    assert_eq!(operators(config), [("ops".into(), "root-admin".into(), "super-admin".into(), Value::Null)]);
    let user = admin_json(config, &["user", "show", "--tenant", "ops", "--login-id", "root-admin"]);
    assert_eq!(user["login_method"], "cert+password", "the console asks for a certificate and a password: {user}");

    // A second bootstrap is refused without --another, says so, and makes nothing: not
    // the user, nor a tenant it names.
    let again = failed(bootstrap(config, "ops2", "second", &[]));
    assert!(again.contains("super-admin exists") && again.contains("--another"), "{again}");
    assert_eq!(slugs(config), ["ops"]);
    failed(mamori(config, &["admin", "user", "show", "--tenant", "ops", "--login-id", "second"]));
    assert_eq!(operators(config).len(), 1);
    // An existing user is not taken over by a bootstrap either.
    let taken = failed(bootstrap(config, "ops", "root-admin", &["--another"]));
    assert!(taken.contains("exists already"), "{taken}");

    // With --another, a second super-admin in the existing tenant, as JSON.
    let done = admin_json(config, &["bootstrap", "--tenant", "ops", "--login-id", "second", "--email", "second@example.test", "--another"]);
    assert_eq!((&done["tenant"], &done["tenant_created"], &done["role"]), (&"ops".into(), &false.into(), &"super-admin".into()), "{done}");
    assert!(done["enrollment"]["one_time_password"].as_str().is_some_and(|p| !p.is_empty()), "{done}");
    assert!(done["enrollment"]["path"].as_str().is_some_and(|p| p.starts_with("/enroll/")), "{done}");

    // The list, as text with a header row and as JSON, names every tenant's operators.
    ok(mamori(config, &["admin", "tenant", "create", "--slug", "acme", "--name", "ACME"]));
    ok(mamori(config, &["admin", "user", "create", "--tenant", "acme", "--login-id", "taro", "--email", "taro@example.test"]));
    ok(mamori(config, &["admin", "operator", "grant", "--tenant", "acme", "--login-id", "taro", "--role", "tenant-admin"]));
    let listed = operators(config);
    assert_eq!(
        listed,
        [
            ("ops".into(), "root-admin".into(), "super-admin".into(), Value::Null),
            ("ops".into(), "second".into(), "super-admin".into(), Value::Null),
            ("acme".into(), "taro".into(), "tenant-admin".into(), "acme".into()),
        ]
    );
    let text = ok(mamori(config, &["admin", "operator", "list"]));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
    assert_eq!(header, ["TENANT", "LOGIN ID", "ROLE", "ADMINISTERS", "GRANTED"], "{text}");
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert_eq!(rows[0][..4], ["ops", "root-admin", "super-admin", "every"], "{text}");
    assert_eq!(rows[2][..4], ["acme", "taro", "tenant-admin", "acme"], "{text}");

    // The bootstraps and the refusal are in the audit trail, by the CLI.
    let trail = admin_json(config, &["events", "audit", "--limit", "500"]);
    let events = trail["items"].as_array().expect("items");
    let found = |action: &str, outcome: &str, target: &str| {
        events.iter().any(|e| {
            e["action"] == action
                && e["outcome"] == outcome
                && e["actor"] == "cli"
                && e["target"].as_str().is_some_and(|t| t.contains(target))
        })
    };
    assert!(found("operator.bootstrap", "success", "user:root-admin"), "{trail}");
    assert!(found("operator.bootstrap", "success", "user:second"), "{trail}");
    assert!(found("operator.bootstrap", "failure", "user:second"), "{trail}");
    assert!(found("operator.grant", "success", "user:root-admin"), "{trail}");
    assert!(found("tenant.create", "success", "tenant:ops"), "{trail}");
}

#[test]
fn quickstart_prints_its_admins_enrollment_and_the_console_until_it_has_enrolled() {
    let work = tempfile::tempdir().expect("tempdir");
    let first = quickstart_no_serve(work.path());
    let value = |text: &str, label: &str| text.lines().find_map(|l| l.trim_start().strip_prefix(label)).map(|v| v.trim().to_owned());
    let url = value(&first, "enroll the admin:").expect("the admin's enrollment URL");
    assert!(url.starts_with("https://localhost:8443/enroll/"), "{first}");
    let otp1 = value(&first, "admin one-time password:").expect("the admin's one-time password");
    assert_eq!(value(&first, "console:").as_deref(), Some("https://localhost:8444/console"), "{first}");
    // The demo user's lines are still there, apart from the admin's.
    let demo_otp = value(&first, "its one-time password:").expect("the demo user's one-time password");
    assert_ne!(demo_otp, otp1);

    let config = work.path().join("mamori-data/mamori.toml");
    let listed = operators(&config);
    assert_eq!(listed, [("operators".into(), "admin".into(), "super-admin".into(), Value::Null)]);

    // A rerun makes nothing twice and prints a fresh one-time password.
    let second = quickstart_no_serve(work.path());
    let otp2 = value(&second, "admin one-time password:").expect("a fresh one-time password");
    assert_ne!(otp1, otp2);
    assert_eq!(operators(&config), listed);
    let mut tenants = slugs(&config);
    tenants.sort();
    assert_eq!(tenants, ["demo", "operators"]);
    let users = admin_json(&config, &["user", "list", "--tenant", "operators"]);
    assert_eq!(users.as_array().map(Vec::len), Some(1), "{users}");
}
