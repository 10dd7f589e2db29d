//! `mamori admin …` as a script drives it: the commands that go through the admin service
//! layer (the same functions as the REST API), run as the real binary with
//! `--output json`, their JSON parsed and their effect checked with other commands, and
//! every change found in the audit trail under the CLI's actor.

use std::path::Path;
use std::process::Output;

use mamori_conformance::login_client::{dev_roots, login, login_with, provision_user};
use mamori_conformance::{Quickstart, mamori, ok, stderr, stdout};
use serde_json::Value;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Runs `mamori admin <args> --output json`, asserts success and parses the output.
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

fn strings(v: &Value) -> Vec<&str> {
    v.as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

#[test]
fn cli_admin_changes_go_through_the_service_layer_and_are_audited() {
    let (work, config) = mamori_conformance::quickstart_data();
    let dir = work.path();
    let config = config.as_path();
    ok(mamori(config, &["admin", "tenant", "create", "--slug", "acme", "--name", "ACME"]));

    // Tenants: rename, then show reflects it.
    let renamed = admin_json(config, &["tenant", "update", "--tenant", "acme", "--name", "ACME Corp"]);
    assert_eq!(renamed["display_name"], "ACME Corp");
    assert_eq!(admin_json(config, &["tenant", "show", "--tenant", "acme"])["display_name"], "ACME Corp");

    // Users: update, then show reflects it; a method the tenant refuses is refused by name.
    ok(mamori(config, &["admin", "user", "create", "--tenant", "acme", "--login-id", "taro", "--email", "Taro.Yamada@Example.test"]));
    // The hostile twin, refused by the service's own rule and naming the field: an ID
    // with a bidirectional override.
    let bidi = failed(mamori(
        config,
        &["admin", "user", "create", "--tenant", "acme", "--login-id", "evil\u{202e}gpj", "--email", "e@example.test"],
    ));
    assert!(bidi.contains("login_id"), "{bidi}");
    let updated = admin_json(
        config,
        &[
            "user",
            "update",
            "--tenant",
            "acme",
            "--login-id",
            "taro",
            "--display-name",
            "Yamada Taro",
            "--locale",
            "en",
            "--time-zone",
            "Europe/Paris",
        ],
    );
    assert_eq!(updated["display_name"], "Yamada Taro");
    let shown = admin_json(config, &["user", "show", "--tenant", "acme", "--login-id", "taro"]);
    assert_eq!(
        (&shown["display_name"], &shown["locale"], &shown["time_zone"]),
        (&"Yamada Taro".into(), &"en".into(), &"Europe/Paris".into()),
        "{shown}"
    );
    assert_eq!(shown["status"], "active");
    let err = failed(mamori(config, &["admin", "user", "update", "--tenant", "acme", "--login-id", "taro", "--method", "telepathy"]));
    assert!(err.contains("telepathy"), "{err}");
    let err = failed(mamori(config, &["admin", "user", "show", "--tenant", "acme", "--login-id", "nobody"]));
    assert!(err.contains("nobody"), "{err}");
    let devices = admin_json(config, &["user", "devices", "--tenant", "acme", "--login-id", "taro"]);
    assert_eq!(devices[0]["email"], "Taro.Yamada@Example.test", "{devices}");

    // Text for people: the user with their address, lists under a header row, and every
    // time as RFC 3339 in whole seconds, UTC (never `+00:00:00` or nanoseconds).
    let shown = ok(mamori(config, &["admin", "user", "show", "--tenant", "acme", "--login-id", "taro"]));
    assert!(shown.lines().any(|l| l.starts_with("e-mail:") && l.contains("Taro.Yamada@Example.test")), "{shown}");
    let listed = ok(mamori(config, &["admin", "user", "devices", "--tenant", "acme", "--login-id", "taro"]));
    assert!(listed.starts_with("DEVICE") && listed.contains("E-MAIL"), "a header row:\n{listed}");
    let tokens = ok(mamori(config, &["admin", "api-token", "list"]));
    assert!(tokens.starts_with("ID") && tokens.contains("EXPIRES"), "a header row:\n{tokens}");
    for text in [&shown, &listed, &tokens] {
        assert!(!text.contains("+00:00:00") && !text.contains(" UTC"), "{text}");
        for word in text.split_whitespace().filter(|w| w.starts_with("20") && w.contains('T')) {
            let word = word.trim_end_matches([',', ')']);
            assert!(word.len() == 20 && word.ends_with('Z'), "not RFC 3339 in whole seconds: {word}\n{text}");
        }
    }

    // Import: the bad row (line 3) is reported with its line and reason, the good rows are
    // created anyway, and the exit status says something failed.
    std::fs::write(dir.join("users.csv"), "login_id,email,display_name\r\nhanako,hanako@example.test,Sato Hanako\r\nbad user,bad@example.test,Bad\r\njiro,jiro@example.test,\"Suzuki, Jiro\"\r\n")
        .expect("write");
    let csv = dir.join("users.csv").display().to_string();
    let out = mamori(config, &["admin", "user", "import", "--tenant", "acme", "--file", &csv, "--output", "json"]);
    assert!(!out.status.success(), "an import with a bad row exited 0");
    assert!(stderr(&out).contains("1 of 3"), "{}", stderr(&out));
    let report = json(&stdout(&out));
    assert_eq!(strings(&report["created"]), ["hanako", "jiro"], "{report}");
    let failures = report["failed"].as_array().expect("failed is a list");
    assert_eq!(failures.len(), 1, "{report}");
    assert_eq!((&failures[0]["line"], &failures[0]["login_id"]), (&3.into(), &"bad user".into()), "{report}");
    assert!(failures[0]["reason"].as_str().is_some_and(|r| r.contains("login_id")), "{report}");
    assert_eq!(admin_json(config, &["user", "show", "--tenant", "acme", "--login-id", "jiro"])["display_name"], "Suzuki, Jiro");
    // A clean import exits 0.
    std::fs::write(dir.join("more.csv"), "login_id,email\nsaburo,saburo@example.test\n").expect("write");
    let more = dir.join("more.csv").display().to_string();
    let report = admin_json(config, &["user", "import", "--tenant", "acme", "--file", &more]);
    assert_eq!(strings(&report["created"]), ["saburo"]);

    // Certificates: issue one, find it, revoke it with a reason, find it revoked.
    std::fs::write(dir.join("pw"), "P12-password-1\n").expect("write");
    let (p12, pw) = (dir.join("taro.p12").display().to_string(), dir.join("pw").display().to_string());
    let issued = ok(mamori(
        config,
        &["admin", "user", "issue-cert", "--tenant", "acme", "--login-id", "taro", "--p12", &p12, "--password-file", &pw],
    ));
    let serial = issued.split_whitespace().skip_while(|w| *w != "serial").nth(1).expect("serial printed").to_owned();
    let found = admin_json(config, &["certificate", "search", "--tenant", "acme", "--login-id", "taro"]);
    assert_eq!((&found["items"][0]["serial"], &found["items"][0]["status"]), (&serial.as_str().into(), &"active".into()), "{found}");
    assert_eq!(found["page"]["total"], 1);
    let revoked = admin_json(config, &["certificate", "revoke", "--tenant", "acme", "--serial", &serial, "--reason", "key-compromise"]);
    assert_eq!(revoked["status"], "revoked");
    let found = admin_json(config, &["certificates", "search", "--tenant", "acme", "--status", "revoked"]);
    let items = found["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{found}");
    assert_eq!((&items[0]["serial"], &items[0]["revocation_reason"]), (&serial.as_str().into(), &"key-compromise".into()), "{found}");
    assert!(items[0]["revoked_at"].is_string(), "{found}");
    let active = admin_json(config, &["certificate", "search", "--tenant", "acme", "--status", "active"]);
    assert_eq!(active["page"]["total"], 0, "{active}");
    let by_serial = admin_json(config, &["certificate", "search", "--tenant", "acme", "--serial", &serial]);
    assert_eq!(by_serial["items"][0]["status"], "revoked");
    let own = admin_json(config, &["user", "certificates", "--tenant", "acme", "--login-id", "taro"]);
    assert_eq!(own[0]["revocation_reason"], "key-compromise", "{own}");
    let err =
        failed(mamori(config, &["admin", "certificate", "revoke", "--tenant", "acme", "--serial", &serial, "--reason", "superseded"]));
    assert!(err.contains("already revoked"), "{err}");
    // Another tenant does not see acme's certificate.
    let err = failed(mamori(config, &["admin", "certificate", "revoke", "--tenant", "demo", "--serial", &serial]));
    assert!(err.contains("no certificate"), "{err}");

    // Relying sites: an OIDC client changed and given a new secret, a SAML SP changed.
    let created = admin_json(
        config,
        &[
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
            "--request-uri",
            "https://wiki.acme.test/ro/1",
        ],
    );
    assert_eq!(strings(&created["request_uris"]), ["https://wiki.acme.test/ro/1"], "{created}");
    let first_secret = created["client_secret"].as_str().expect("a secret").to_owned();
    let client = admin_json(
        config,
        &[
            "oidc-client",
            "update",
            "--tenant",
            "acme",
            "--client-id",
            "wiki",
            "--name",
            "ACME Wiki",
            "--redirect-uri",
            "https://wiki.acme.test/cb",
            "--redirect-uri",
            "https://wiki.acme.test/cb2",
            "--first-party",
            "true",
        ],
    );
    assert_eq!(strings(&client["redirect_uris"]), ["https://wiki.acme.test/cb", "https://wiki.acme.test/cb2"]);
    let shown = admin_json(config, &["oidc-client", "show", "--tenant", "acme", "--client-id", "wiki"]);
    assert_eq!((&shown["name"], &shown["first_party"]), (&"ACME Wiki".into(), &true.into()), "{shown}");
    // An update that does not name request URIs keeps them; --request-uri replaces them,
    // --clear-request-uris removes them, and show reads back what is stored.
    assert_eq!(strings(&shown["request_uris"]), ["https://wiki.acme.test/ro/1"], "{shown}");
    let client = admin_json(
        config,
        &[
            "oidc-client",
            "update",
            "--tenant",
            "acme",
            "--client-id",
            "wiki",
            "--request-uri",
            "https://wiki.acme.test/ro/2",
            "--request-uri",
            "https://wiki.acme.test/ro/3#v1",
        ],
    );
    assert_eq!(strings(&client["request_uris"]), ["https://wiki.acme.test/ro/2", "https://wiki.acme.test/ro/3#v1"], "{client}");
    let shown = admin_json(config, &["oidc-client", "show", "--tenant", "acme", "--client-id", "wiki"]);
    assert_eq!(strings(&shown["request_uris"]), ["https://wiki.acme.test/ro/2", "https://wiki.acme.test/ro/3#v1"], "{shown}");
    let text = ok(mamori(config, &["admin", "oidc-client", "show", "--tenant", "acme", "--client-id", "wiki"]));
    assert!(text.contains("https://wiki.acme.test/ro/2 https://wiki.acme.test/ro/3#v1"), "{text}");
    let err = failed(mamori(
        config,
        &["admin", "oidc-client", "update", "--tenant", "acme", "--client-id", "wiki", "--request-uri", "http://wiki.acme.test/ro"],
    ));
    assert!(err.contains("http://wiki.acme.test/ro"), "{err}");
    let client = admin_json(config, &["oidc-client", "update", "--tenant", "acme", "--client-id", "wiki", "--clear-request-uris"]);
    assert_eq!(client["request_uris"], serde_json::json!([]), "{client}");
    let shown = admin_json(config, &["oidc-client", "show", "--tenant", "acme", "--client-id", "wiki"]);
    assert_eq!((&shown["request_uris"], &shown["name"]), (&serde_json::json!([]), &"ACME Wiki".into()), "{shown}");
    let err = failed(mamori(
        config,
        &["admin", "oidc-client", "update", "--tenant", "acme", "--client-id", "wiki", "--redirect-uri", "http://wiki.acme.test/cb"],
    ));
    assert!(err.contains("http://wiki.acme.test/cb"), "{err}");
    let rotated = admin_json(config, &["oidc-client", "rotate-secret", "--tenant", "acme", "--client-id", "wiki"]);
    let second_secret = rotated["client_secret"].as_str().expect("a new secret");
    assert!(second_secret.len() >= 32 && second_secret != first_secret, "{rotated}");
    assert_eq!(rotated["client"]["client_id"], "wiki");

    std::fs::write(dir.join("sp.xml"), r#"<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.acme.test/metadata">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.acme.test/acs" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"#).expect("write");
    let sp_file = dir.join("sp.xml").display().to_string();
    ok(mamori(config, &["admin", "saml-sp", "add", "--tenant", "acme", "--metadata", &sp_file, "--name", "Portal"]));
    let entity = "https://sp.acme.test/metadata";
    let sp = admin_json(
        config,
        &[
            "saml-sp",
            "update",
            "--tenant",
            "acme",
            "--entity-id",
            entity,
            "--name",
            "ACME Portal",
            "--name-id-format",
            "email",
            "--attribute",
            "email,login_id",
            "--sign-response",
            "false",
        ],
    );
    assert_eq!(sp["name"], "ACME Portal");
    let shown = admin_json(config, &["saml-sp", "show", "--tenant", "acme", "--id", sp["id"].as_str().expect("id")]);
    assert_eq!(shown["name_id_format"], "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress", "{shown}");
    assert_eq!(strings(&shown["attribute_release"]["attributes"]), ["email", "login_id"], "{shown}");
    assert_eq!((&shown["sign_response"], &shown["sign_assertion"]), (&false.into(), &true.into()), "{shown}");
    let err =
        failed(mamori(config, &["admin", "saml-sp", "update", "--tenant", "acme", "--entity-id", entity, "--sign-assertion", "false"]));
    assert!(err.contains("sign"), "{err}");

    // Deleting a user: it is gone, its certificates stay revoked.
    let deleted = admin_json(config, &["user", "delete", "--tenant", "acme", "--login-id", "saburo"]);
    assert_eq!(deleted["deleted"], "saburo");
    failed(mamori(config, &["admin", "user", "show", "--tenant", "acme", "--login-id", "saburo"]));

    // The imported users are listed with the others; the deleted one is not.
    let listed = admin_json(config, &["user", "list", "--tenant", "acme"]);
    let ids: Vec<&str> = listed.as_array().expect("list").iter().filter_map(|u| u["login_id"].as_str()).collect();
    assert_eq!(ids, ["hanako", "jiro", "taro"], "{listed}");

    // The older user commands go through the same audited service layer.
    ok(mamori(config, &["admin", "user", "set-status", "--tenant", "acme", "--login-id", "jiro", "--status", "disabled"]));
    assert_eq!(admin_json(config, &["user", "show", "--tenant", "acme", "--login-id", "jiro"])["status"], "disabled");
    ok(mamori(config, &["admin", "user", "set-status", "--tenant", "acme", "--login-id", "jiro", "--status", "active"]));
    ok(mamori(config, &["admin", "user", "unlock", "--tenant", "acme", "--login-id", "jiro"]));
    ok(mamori(config, &["admin", "user", "expire-password", "--tenant", "acme", "--login-id", "jiro"]));
    ok(mamori(config, &["admin", "user", "enroll", "--tenant", "acme", "--login-id", "hanako"]));
    failed(mamori(config, &["admin", "user", "unlock", "--tenant", "acme", "--login-id", "nobody"]));

    // Operator roles through the service layer: granted, refused by name when not held,
    // taken away.
    ok(mamori(config, &["admin", "operator", "grant", "--tenant", "acme", "--login-id", "taro", "--role", "tenant-admin"]));
    let not_held =
        failed(mamori(config, &["admin", "operator", "revoke", "--tenant", "acme", "--login-id", "taro", "--role", "super-admin"]));
    assert!(not_held.contains("is not super-admin"), "{not_held}");
    let bad_role = failed(mamori(config, &["admin", "operator", "grant", "--tenant", "acme", "--login-id", "taro", "--role", "root"]));
    assert!(bad_role.contains("role"), "{bad_role}");
    ok(mamori(config, &["admin", "operator", "revoke", "--tenant", "acme", "--login-id", "taro", "--role", "tenant-admin"]));

    // Every change is in acme's audit trail, by the CLI, from the local shell.
    let trail = admin_json(config, &["events", "audit", "--tenant", "acme", "--limit", "500"]);
    let events = trail["items"].as_array().expect("items");
    for e in events {
        assert_eq!((&e["actor"], &e["source_ip"], &e["outcome"]), (&"cli".into(), &"local".into(), &"success".into()), "{e}");
    }
    let has = |action: &str, target_part: &str| {
        events.iter().any(|e| e["action"] == action && e["target"].as_str().is_some_and(|t| t.contains(target_part)))
    };
    for (action, target) in [
        ("tenant.update", "tenant:acme"),
        ("user.update", "user:taro"),
        ("user.import", "tenant:acme"),
        ("user.create", "user:taro"),
        ("operator.grant", "user:taro"),
        ("operator.revoke", "user:taro"),
        ("user.create", "user:hanako"),
        ("user.create", "user:jiro"),
        ("certificate.revoke", serial.as_str()),
        ("oidc-client.create", "oidc-client:wiki"),
        ("oidc-client.update", "oidc-client:wiki"),
        ("oidc-client.rotate-secret", "oidc-client:wiki"),
        ("saml-sp.update", entity),
        ("user.delete", "user:saburo"),
        ("user.disable", "user:jiro"),
        ("user.enable", "user:jiro"),
        ("user.unlock", "user:jiro"),
        ("user.force-password-change", "user:jiro"),
        ("user.enrollment-ticket", "user:hanako"),
    ] {
        assert!(has(action, target), "no {action} on {target} in the audit trail: {trail}");
    }
    assert!(
        !events.iter().any(|e| e["action"] == "user.create" && e["target"].as_str().is_some_and(|t| t.contains("bad user"))),
        "a failed row was audited as created"
    );
    let revoke = events.iter().find(|e| e["action"] == "certificate.revoke").expect("revoke event");
    assert_eq!(revoke["details"]["reason"], "key-compromise");
    // Filters: by action, and the time range.
    let only = admin_json(config, &["events", "audit", "--tenant", "acme", "--action", "user.update"]);
    assert_eq!(only["page"]["total"], 1, "{only}");
    let future = admin_json(config, &["events", "audit", "--tenant", "acme", "--since", "2999-01-01T00:00:00Z"]);
    assert_eq!(future["page"]["total"], 0, "{future}");

    // Deleting a tenant needs --yes; then it is gone, and the trail (every tenant) keeps it.
    ok(mamori(config, &["admin", "tenant", "create", "--slug", "doomed", "--name", "Doomed"]));
    failed(mamori(config, &["admin", "tenant", "delete", "--tenant", "doomed"]));
    admin_json(config, &["tenant", "delete", "--tenant", "doomed", "--yes"]);
    let tenants = admin_json(config, &["tenant", "list"]);
    assert!(!tenants.as_array().expect("list").iter().any(|t| t["slug"] == "doomed"), "{tenants}");
    let all = admin_json(config, &["events", "audit", "--action", "tenant.delete"]);
    assert_eq!((&all["items"][0]["target"], &all["items"][0]["actor"]), (&"tenant:doomed".into(), &"cli".into()), "{all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_admin_events_login_reports_the_login_history() -> anyhow::Result<()> {
    mamori::server::tls::install_default_provider();
    let work = tempfile::tempdir()?;
    let qs = Quickstart::start(work.path());
    let app = mamori::app::App::open(&qs.config()).await?;
    let tenant = app.storage.tenants().get_by_slug("demo").await?.expect("demo tenant");
    let hash = app.hasher.hash("Right-Password1").await?;
    let user = provision_user(&app, &tenant, "kanako", &hash, "Right-Password1", &dev_roots(&qs.data_dir())?).await?;
    let addr = qs.mtls_url.replace("https://localhost", "127.0.0.1");
    let wrong = login_with(&addr, &user, "Wrong-Password1").await?;
    assert_eq!(wrong.status, 401);
    login(&addr, &user).await?;
    let config = qs.config();

    let history = admin_json(&config, &["events", "login", "--tenant", "demo", "--login-id", "kanako"]);
    let results: Vec<&str> = history["items"].as_array().expect("items").iter().filter_map(|e| e["result"].as_str()).collect();
    assert_eq!(results, ["success", "wrong-password"], "newest first: {history}");
    assert_eq!(history["items"][0]["login_id"], "kanako");
    assert!(strings(&history["items"][0]["factors"]).contains(&"pwd"), "{history}");
    let failures = admin_json(&config, &["events", "login", "--tenant", "demo", "--login-id", "kanako", "--result", "wrong-password"]);
    assert_eq!(failures["page"]["total"], 1, "{failures}");
    let until_then = admin_json(&config, &["events", "login", "--tenant", "demo", "--until", "2000-01-01T00:00:00Z"]);
    assert_eq!(until_then["page"]["total"], 0, "{until_then}");
    let recent = admin_json(&config, &["events", "login", "--tenant", "demo", "--since", "2000-01-01T00:00:00Z", "--limit", "1"]);
    assert_eq!(recent["items"].as_array().map(Vec::len), Some(1), "{recent}");

    let csv = ok(mamori(&config, &["admin", "events", "login", "--tenant", "demo", "--login-id", "kanako", "--output", "csv"]));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "occurred_at,login_id,result,factors,source_ip,user_agent", "{csv}");
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[1].contains(",kanako,success,") && lines[2].contains(",kanako,wrong-password,"), "{csv}");

    let err = failed(mamori(&config, &["admin", "events", "login", "--tenant", "demo", "--since", "yesterday"]));
    assert!(err.contains("--since"), "{err}");
    qs.stop();
    Ok(())
}

/// The longest names the admin surfaces accept (a 200-character tenant name, a
/// 64-character user ID) still make a certificate: its common name is shortened to
/// RFC 5280's 64 characters instead of the issuance failing with a server error.
#[test]
fn the_longest_names_allowed_still_get_a_certificate() {
    let (work, config) = mamori_conformance::quickstart_data();
    let tenant_name = "Long Tenant Name ".repeat(12);
    let tenant_name = tenant_name.trim_end().chars().take(200).collect::<String>();
    ok(mamori(&config, &["admin", "tenant", "update", "--tenant", "demo", "--name", &tenant_name]));
    let login_id = "u".repeat(64);
    ok(mamori(
        &config,
        &["admin", "user", "create", "--tenant", "demo", "--login-id", &login_id, "--email", "long@example.test", "--method", "cert"],
    ));
    let password_file = work.path().join("p12.pw");
    std::fs::write(&password_file, "Long-Names-P12-pw\n").expect("write");
    let p12 = work.path().join("long.p12");
    let out = ok(mamori(
        &config,
        &[
            "admin",
            "user",
            "issue-cert",
            "--tenant",
            "demo",
            "--login-id",
            &login_id,
            "--p12",
            p12.to_str().expect("utf-8"),
            "--password-file",
            password_file.to_str().expect("utf-8"),
        ],
    ));
    assert!(out.contains("serial"), "{out}");
    // openssl reads the subject: within 64 characters, ending in the device number.
    let pem = work.path().join("long.pem");
    ok(std::process::Command::new("openssl")
        .args([
            "pkcs12",
            "-in",
            p12.to_str().expect("utf-8"),
            "-passin",
            "pass:Long-Names-P12-pw",
            "-nokeys",
            "-clcerts",
            "-out",
            pem.to_str().expect("utf-8"),
        ])
        .output()
        .expect("openssl runs"));
    let subject = ok(std::process::Command::new("openssl")
        .args(["x509", "-in", pem.to_str().expect("utf-8"), "-noout", "-subject", "-nameopt", "oneline,-esc_msb"])
        .output()
        .expect("openssl runs"));
    let cn = subject.split("CN = ").nth(1).unwrap_or_else(|| panic!("no CN in {subject}")).trim().to_owned();
    assert!(cn.chars().count() <= 64 && cn.ends_with(" #1"), "{cn}");
}

/// Deleting a tenant revokes its users' certificates: they outlive the tenant on the
/// devices, so the CRL must list them, or a relying party that trusts Mamori's CA would
/// keep accepting them until they expire.
#[test]
fn deleting_a_tenant_revokes_its_certificates_on_the_crl() {
    let (work, config) = mamori_conformance::quickstart_data();
    ok(mamori(&config, &["admin", "tenant", "create", "--slug", "gone", "--name", "Gone"]));
    ok(mamori(
        &config,
        &["admin", "user", "create", "--tenant", "gone", "--login-id", "leaver", "--email", "leaver@example.test", "--method", "cert"],
    ));
    ok(mamori(
        &config,
        &["admin", "user", "create", "--tenant", "demo", "--login-id", "stayer", "--email", "stayer@example.test", "--method", "cert"],
    ));
    let password_file = work.path().join("p12.pw");
    std::fs::write(&password_file, "Tenant-Gone-P12-pw\n").expect("write");
    let issue = |tenant: &str, login_id: &str| {
        let p12 = work.path().join(format!("{login_id}.p12"));
        let out = ok(mamori(
            &config,
            &[
                "admin",
                "user",
                "issue-cert",
                "--tenant",
                tenant,
                "--login-id",
                login_id,
                "--p12",
                p12.to_str().expect("utf-8"),
                "--password-file",
                password_file.to_str().expect("utf-8"),
            ],
        ));
        out.split_whitespace().skip_while(|w| *w != "serial").nth(1).expect("issue-cert prints the serial").to_owned()
    };
    let (leaver, stayer) = (issue("gone", "leaver"), issue("demo", "stayer"));
    let listed = |serial: &str| {
        let crl = work.path().join("crl.pem");
        ok(mamori(&config, &["ca", "crl", "--out", crl.to_str().expect("utf-8")]));
        let text = ok(std::process::Command::new("openssl")
            .args(["crl", "-noout", "-text", "-in", crl.to_str().expect("utf-8")])
            .output()
            .expect("openssl runs"));
        let wanted = serial.trim_start_matches('0').to_ascii_uppercase();
        text.lines()
            .filter_map(|l| l.trim().strip_prefix("Serial Number:"))
            .any(|s| s.trim().trim_start_matches('0').eq_ignore_ascii_case(&wanted))
    };
    assert!(!listed(&leaver) && !listed(&stayer));
    ok(mamori(&config, &["admin", "tenant", "delete", "--tenant", "gone", "--yes"]));
    assert!(listed(&leaver), "the deleted tenant's certificate is not on the CRL");
    assert!(!listed(&stayer), "another tenant's certificate was revoked");
}

/// `mamori admin … | head` and a full disk: the command reports the failed write (or, for
/// a reader that went away, exits as `SIGPIPE` would) instead of panicking.
#[test]
fn output_to_a_closed_pipe_or_a_full_disk_is_reported_not_a_panic() {
    use std::process::{Command, Stdio};
    let (_work, config) = mamori_conformance::quickstart_data();
    let command = || {
        let mut c = Command::new(mamori_conformance::mamori_bin());
        c.arg("--config").arg(&config).args(["admin", "tenant", "show", "--tenant", "demo"]).env_remove("MAMORI_CONFIG");
        c
    };
    // The reader closes its end before the command has opened its database.
    let mut child = command().stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("mamori starts");
    drop(child.stdout.take());
    let closed = child.wait_with_output().expect("mamori ends");
    let text = stderr(&closed);
    assert!(!text.contains("panicked"), "no panic on a closed pipe: {text}");
    assert_eq!(closed.status.code(), Some(141), "exits as a command stopped by SIGPIPE: {text}");

    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
    let out = command().stdout(Stdio::from(full)).output().expect("mamori runs");
    let text = stderr(&out);
    assert!(!text.contains("panicked"), "no panic on a full disk: {text}");
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("could not be written to standard output") && text.contains("No space left"), "{text}");
    // Help is an answer too.
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
    let help =
        Command::new(mamori_conformance::mamori_bin()).args(["admin", "--help"]).stdout(Stdio::from(full)).output().expect("mamori runs");
    assert_eq!(help.status.code(), Some(1), "--help to a full disk: {}", stderr(&help));
}

/// A setting that moved to the tenant policy, set through the environment: the refusal
/// names the variable to unset, not a line of the config file that is not there.
#[test]
fn a_moved_setting_in_the_environment_is_named_as_a_variable() {
    let (_work, config) = mamori_conformance::quickstart_data();
    let out = std::process::Command::new(mamori_conformance::mamori_bin())
        .arg("--config")
        .arg(&config)
        .args(["admin", "tenant", "show", "--tenant", "demo"])
        .env_remove("MAMORI_CONFIG")
        .env("MAMORI_CA__RENEWAL_GRACE_DAYS", "30")
        .output()
        .expect("mamori runs");
    let text = failed(out);
    assert!(text.contains("unset the environment variable `MAMORI_CA__RENEWAL_GRACE_DAYS`"), "{text}");
    assert!(text.contains("--set renewal_grace_days="), "{text}");
}
