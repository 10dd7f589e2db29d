//! `--output json` on the action commands of `mamori admin` and `mamori ca` (issue #19):
//! each prints one JSON object describing what it did, parsed here and checked against
//! the effect seen through another command; every time in it is RFC 3339 UTC in whole
//! seconds; a refused action prints `{"error": …}` on standard error, nothing on standard
//! output, and exits non-zero (a command line clap refuses as well).

use std::path::Path;
use std::process::Output;

use mamori_conformance::{mamori, ok, stderr, stdout};
use serde_json::Value;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not one JSON value ({e}): {text}"))
}

/// `mamori <args> --output json`: succeeds, prints one JSON object with only RFC 3339
/// whole-second UTC times in it.
#[track_caller]
fn run_json(config: &Path, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--output", "json"]);
    let value = json(&ok(mamori(config, &all)));
    assert!(value.is_object(), "{args:?}: not an object: {value}");
    times_are_rfc3339(&value);
    value
}

/// The JSON error of a refused command: non-zero, nothing on standard output, one
/// `{"error": "…"}` object on standard error.
#[track_caller]
fn refused_json(o: Output) -> String {
    assert!(!o.status.success(), "succeeded unexpectedly: {}", stdout(&o));
    assert_eq!(stdout(&o).trim(), "", "a failure prints no result");
    let err = json(stderr(&o).trim());
    assert_eq!(err.as_object().map(|m| m.len()), Some(1), "{err}");
    err["error"].as_str().unwrap_or_else(|| panic!("no error text: {err}")).to_owned()
}

#[track_caller]
fn times_are_rfc3339(value: &Value) {
    match value {
        Value::String(s) if s.len() >= 19 && s.as_bytes()[4] == b'-' && s.as_bytes()[10] == b'T' => {
            assert!(s.len() == 20 && s.ends_with('Z'), "not RFC 3339 UTC in whole seconds: {s}");
        }
        Value::Array(items) => items.iter().for_each(times_are_rfc3339),
        Value::Object(map) => map.values().for_each(times_are_rfc3339),
        _ => {}
    }
}

#[test]
fn every_action_describes_its_result_in_json_and_refusals_are_json_errors() {
    let (work, config) = mamori_conformance::quickstart_data();
    let (dir, config) = (work.path(), config.as_path());
    ok(mamori(config, &["admin", "tenant", "create", "--slug", "acme", "--name", "ACME"]));
    ok(mamori(config, &["admin", "user", "create", "--tenant", "acme", "--login-id", "taro", "--email", "taro@example.test"]));
    let user = ["--tenant", "acme", "--login-id", "taro"];
    // `user show` prints the API's own document (its times as the API writes them).
    let show = |config: &Path| json(&ok(mamori(config, &[&["admin", "user", "show"][..], &user[..], &["--output", "json"]].concat())));

    assert_eq!(run_json(config, &["migrate"])["up_to_date"], true);
    let ticket = run_json(config, &[&["admin", "user", "enroll"][..], &user[..]].concat());
    assert!(ticket["url"].as_str().is_some_and(|u| u.contains("/enroll/")) && ticket["expires_at"].is_string(), "{ticket}");

    // Users: each action says what it did, and `user show` agrees.
    let unlocked = run_json(config, &[&["admin", "user", "unlock"][..], &user[..]].concat());
    assert_eq!(
        (&unlocked["tenant"], &unlocked["user"], &unlocked["locked"]),
        (&"acme".into(), &"taro".into(), &false.into()),
        "{unlocked}"
    );
    let disabled = run_json(config, &[&["admin", "user", "set-status"][..], &user[..], &["--status", "disabled"]].concat());
    assert_eq!((&disabled["user"], &disabled["status"]), (&"taro".into(), &"disabled".into()), "{disabled}");
    assert_eq!(show(config)["status"], "disabled");
    let active = run_json(config, &[&["admin", "user", "set-status"][..], &user[..], &["--status", "active"]].concat());
    assert_eq!(active["status"], "active");
    assert_eq!(show(config)["status"], "active");
    let expired = run_json(config, &[&["admin", "user", "expire-password"][..], &user[..]].concat());
    assert_eq!(expired["password_must_change"], true, "{expired}");
    assert_eq!(show(config)["password_must_change"], true);

    // A certificate issued to a file: the serial in the JSON is the one the user has.
    std::fs::write(dir.join("pw"), "P12-password-1\n").expect("write");
    let (p12, pw) = (dir.join("taro.p12").display().to_string(), dir.join("pw").display().to_string());
    let issued = run_json(config, &[&["admin", "user", "issue-cert"][..], &user[..], &["--p12", &p12, "--password-file", &pw]].concat());
    let serial = issued["serial"].as_str().expect("serial").to_owned();
    assert_eq!((&issued["device"], &issued["p12"]), (&1.into(), &p12.as_str().into()), "{issued}");
    assert!(issued["not_after"].is_string() && std::fs::metadata(&p12).is_ok(), "{issued}");
    let certs =
        json(&ok(mamori(config, &["admin", "certificate", "search", "--tenant", "acme", "--login-id", "taro", "--output", "json"])));
    assert_eq!(certs["items"][0]["serial"], serial.as_str(), "{certs}");
    // Hostile twin: a path that cannot be written issues nothing (a new certificate
    // would supersede the one the user has, and its key would be lost).
    let nowhere = dir.join("no-such-dir/taro.p12").display().to_string();
    let err = refused_json(mamori(
        config,
        &[&["admin", "user", "issue-cert"][..], &user[..], &["--p12", &nowhere, "--password-file", &pw, "--output", "json"]].concat(),
    ));
    assert!(err.contains("cannot write"), "{err}");
    let after =
        json(&ok(mamori(config, &["admin", "certificate", "search", "--tenant", "acme", "--login-id", "taro", "--output", "json"])));
    assert_eq!(after["items"], certs["items"], "the failed command changed the certificates");

    // `ca revoke`: the certificate, its reason and when.
    let revoked = run_json(config, &["ca", "revoke", "--serial", &serial, "--reason", "key-compromise"]);
    assert_eq!((&revoked["status"], &revoked["revocation_reason"]), (&"revoked".into(), &"key-compromise".into()), "{revoked}");
    assert!(revoked["revoked_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{revoked}");
    let crl = run_json(config, &["ca", "crl"]);
    assert!(crl["pem"].as_str().is_some_and(|p| p.starts_with("-----BEGIN X509 CRL-----")), "{crl}");
    let chain = run_json(config, &["ca", "chain"]);
    assert!(chain["pem"].as_str().is_some_and(|p| p.contains("BEGIN CERTIFICATE")), "{chain}");
    let ca_issued = run_json(
        config,
        &["ca", "issue", "--common-name", "box", "--p12", &dir.join("box.p12").display().to_string(), "--password-file", &pw],
    );
    assert!(ca_issued["certificate_pem"].as_str().is_some_and(|p| p.contains("BEGIN CERTIFICATE")), "{ca_issued}");

    // Operators: granted, listed, revoked.
    let granted = run_json(config, &[&["admin", "operator", "grant"][..], &user[..], &["--role", "tenant-admin"]].concat());
    assert_eq!((&granted["role"], &granted["granted"]), (&"tenant-admin".into(), &true.into()), "{granted}");
    let listed = json(&ok(mamori(config, &["admin", "operator", "list", "--output", "json"])));
    times_are_rfc3339(&listed);
    assert!(listed.as_array().expect("list").iter().any(|r| r["login_id"] == "taro"), "{listed}");
    let taken = run_json(config, &[&["admin", "operator", "revoke"][..], &user[..], &["--role", "tenant-admin"]].concat());
    assert_eq!((&taken["role"], &taken["revoked"]), (&"tenant-admin".into(), &true.into()), "{taken}");

    // The tenant's policy: what changed and the whole policy as it now is.
    let policy = run_json(config, &["admin", "tenant", "policy", "--tenant", "acme", "--set", "max_devices=2"]);
    assert_eq!((&policy["tenant"], &policy["policy"]["max_devices"]), (&"acme".into(), &2.into()), "{policy}");
    assert_eq!(policy["changed"], serde_json::json!(["max_devices"]));

    // Deletions name what went in `deleted`.
    let device = run_json(config, &[&["admin", "user", "delete-device"][..], &user[..], &["--device", "1"]].concat());
    assert_eq!((&device["deleted"], &device["user"]), (&1.into(), &"taro".into()), "{device}");
    let devices = json(&ok(mamori(config, &[&["admin", "user", "devices"][..], &user[..], &["--output", "json"]].concat())));
    assert!(devices[0]["deleted_at"].is_string(), "{devices}");
    ok(mamori(
        config,
        &[
            "admin",
            "oidc-client",
            "create",
            "--tenant",
            "acme",
            "--client-id",
            "wiki",
            "--name",
            "Wiki",
            "--redirect-uri",
            "https://wiki.acme.test/cb",
        ],
    ));
    let gone = run_json(config, &["admin", "oidc-client", "delete", "--client-id", "wiki"]);
    assert_eq!((&gone["deleted"], &gone["tenant"]), (&"wiki".into(), &"acme".into()), "{gone}");
    std::fs::write(dir.join("sp.xml"), r#"<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.acme.test/metadata">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.acme.test/acs" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"#).expect("write");
    ok(mamori(config, &["admin", "saml-sp", "add", "--tenant", "acme", "--metadata", &dir.join("sp.xml").display().to_string()]));
    let gone = run_json(config, &["admin", "saml-sp", "delete", "--tenant", "acme", "--entity-id", "https://sp.acme.test/metadata"]);
    assert_eq!(gone["deleted"], "https://sp.acme.test/metadata", "{gone}");
    let token = run_json(config, &["admin", "api-token", "create", "--super-admin", "--scope", "read"]);
    let id = token["id"].as_str().expect("id");
    assert_eq!(run_json(config, &["admin", "api-token", "revoke", "--id", id])["revoked"], id);

    // Refused, as JSON: the service's refusal, an argument the command refuses, and a
    // command line clap refuses (a required option missing).
    let err = refused_json(mamori(config, &["admin", "user", "unlock", "--tenant", "acme", "--login-id", "nobody", "--output", "json"]));
    assert!(err.contains("nobody"), "{err}");
    let err = refused_json(mamori(
        config,
        &[&["admin", "user", "set-status"][..], &user[..], &["--status", "asleep", "--output", "json"]].concat(),
    ));
    assert!(err.contains("--status"), "{err}");
    assert_eq!(show(config)["status"], "active", "nothing changed");
    let err = refused_json(mamori(config, &["ca", "init", "--output", "json"]));
    assert!(err.to_lowercase().contains("exists") || err.contains("--replace"), "{err}");
    let o = mamori(config, &["admin", "user", "set-status", "--tenant", "acme", "--login-id", "taro", "--output", "json"]);
    assert_eq!(o.status.code(), Some(2), "clap's usage error status");
    let err = refused_json(o);
    assert!(err.contains("--status"), "{err}");
    // Honest twin: without --output json the same refusal stays text for people.
    let o = mamori(config, &["admin", "user", "unlock", "--tenant", "acme", "--login-id", "nobody"]);
    assert!(!o.status.success() && stderr(&o).starts_with("error: "), "{}", stderr(&o));
}
