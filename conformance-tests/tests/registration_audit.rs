//! Dynamic client registration (RFC 7591) is a write like any other: issuing the initial
//! access token and each client it registers are on the audit trail, by who and from
//! where, never with the token itself.

use mamori_conformance::{Quickstart, body_and_status, mamori, ok};
use mamori_storage::model::AuditQuery;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuing_an_initial_access_token_and_registering_with_it_are_audited() -> anyhow::Result<()> {
    mamori::server::tls::install_default_provider();
    let work = tempfile::tempdir()?;
    let qs = Quickstart::start(work.path());
    let issued: serde_json::Value =
        serde_json::from_str(&ok(mamori(&qs.config(), &["admin", "oidc-client", "initial-access-token", "--tenant", "demo", "--output", "json"])))?;
    let token = issued["initial_access_token"].as_str().expect("a token").to_owned();
    let metadata = r#"{"client_name":"Self-registered","redirect_uris":["https://rp.example/cb"]}"#;
    let auth = format!("Authorization: Bearer {token}");
    let args = ["-X", "POST", "-H", auth.as_str(), "-H", "Content-Type: application/json", "--data", metadata, "-w", "\n%{http_code}"];
    let (body, status) = body_and_status(&qs.curl("/t/demo/register", &args));
    assert_eq!(status, 201, "{body}");
    let client_id = serde_json::from_str::<serde_json::Value>(&body)?["client_id"].as_str().expect("client_id").to_owned();
    // Hostile: the used-up token registers nothing, and leaves no "success" behind.
    let (_, refused) = body_and_status(&qs.curl("/t/demo/register", &args));
    assert_eq!(refused, 401);

    let app = mamori::app::App::open(&qs.config()).await?;
    let events = app.storage.audit_events().search(&AuditQuery::default(), 0, 100).await?.items;
    let issued_event = events.iter().find(|e| e.action == "oidc.initial-access-token.create").expect("the token's issue is audited");
    assert_eq!(issued_event.actor, "cli");
    let registered: Vec<_> = events.iter().filter(|e| e.action == "oidc-client.register").collect();
    assert_eq!(registered.len(), 1, "one registration, one event");
    assert!(registered[0].target.contains(&client_id), "{}", registered[0].target);
    assert!(registered[0].actor.starts_with("initial-access-token:"), "{}", registered[0].actor);
    assert_eq!(registered[0].source_ip, "127.0.0.1");
    for event in &events {
        let text = format!("{} {} {} {}", event.actor, event.target, event.action, event.details);
        assert!(!text.contains(&token), "the token itself is in the audit trail: {text}");
    }
    qs.stop();
    Ok(())
}
