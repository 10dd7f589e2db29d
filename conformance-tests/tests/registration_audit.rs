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
    let issued: serde_json::Value = serde_json::from_str(&ok(mamori(
        &qs.config(),
        &["admin", "oidc-client", "initial-access-token", "--tenant", "demo", "--output", "json"],
    )))?;
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

/// RFC 7592: a client changing or deleting its own registration is audited like the
/// registration, by its registration access token (never the token itself); guessed
/// initial and registration access tokens are throttled per source like admin tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managing_a_registration_is_audited_and_guessed_tokens_are_throttled() -> anyhow::Result<()> {
    mamori::server::tls::install_default_provider();
    let work = tempfile::tempdir()?;
    let qs = Quickstart::start(work.path());
    let issued: serde_json::Value = serde_json::from_str(&ok(mamori(
        &qs.config(),
        &["admin", "oidc-client", "initial-access-token", "--tenant", "demo", "--output", "json"],
    )))?;
    let initial = format!("Authorization: Bearer {}", issued["initial_access_token"].as_str().expect("a token"));
    let send = |method: &str, path: &str, auth: &str, body: Option<&str>| {
        let mut args = vec!["-X", method, "-H", auth, "-w", "\n%{http_code}"];
        if let Some(body) = body {
            args.extend(["-H", "Content-Type: application/json", "--data", body]);
        }
        body_and_status(&qs.curl(path, &args))
    };
    let (body, status) =
        send("POST", "/t/demo/register", &initial, Some(r#"{"client_name":"Managed","redirect_uris":["https://rp.example/cb"]}"#));
    assert_eq!(status, 201, "{body}");
    let registered: serde_json::Value = serde_json::from_str(&body)?;
    let client_id = registered["client_id"].as_str().expect("client_id").to_owned();
    let rat = registered["registration_access_token"].as_str().expect("registration_access_token").to_owned();
    let manage = format!("Authorization: Bearer {rat}");
    let path = format!("/t/demo/register/{client_id}");

    // An update that moves the redirect URI to another site, then the deletion.
    let update = format!(r#"{{"client_id":"{client_id}","client_name":"Managed","redirect_uris":["https://elsewhere.example/cb"]}}"#);
    let (body, status) = send("PUT", &path, &manage, Some(&update));
    assert_eq!(status, 200, "{body}");
    let (body, status) = send("DELETE", &path, &manage, None);
    assert_eq!(status, 204, "{body}");

    let app = mamori::app::App::open(&qs.config()).await?;
    let events = app.storage.audit_events().search(&AuditQuery::default(), 0, 100).await?.items;
    let of = |action: &str| events.iter().find(|e| e.action == action && e.target.contains(&client_id));
    let updated = of("oidc-client.update").expect("the RFC 7592 update is audited");
    assert!(updated.actor.starts_with("registration-access-token:"), "{}", updated.actor);
    assert_eq!(updated.source_ip, "127.0.0.1");
    assert!(updated.details.to_string().contains("https://elsewhere.example/cb"), "what changed: {}", updated.details);
    let deleted = of("oidc-client.delete").expect("the RFC 7592 deletion is audited");
    assert_eq!(deleted.actor, updated.actor);
    for event in &events {
        let text = format!("{} {} {} {}", event.actor, event.target, event.action, event.details);
        assert!(!text.contains(&rat), "the registration access token is in the audit trail: {text}");
    }

    // Guessing: wrong registration access tokens, then wrong initial access tokens, from
    // one address. Past the per-source limit both endpoints answer 429 before looking
    // the token up, even for a token that would be good.
    let mut statuses = Vec::new();
    for i in 0..25 {
        let (_, status) = if i % 2 == 0 {
            send("GET", &path, &format!("Authorization: Bearer guess-{i}"), None)
        } else {
            send("POST", "/t/demo/register", &format!("Authorization: Bearer guess-{i}"), Some("{}"))
        };
        statuses.push(status);
    }
    assert!(statuses[..20].iter().all(|&s| s == 401), "{statuses:?}");
    assert!(statuses[20..].iter().all(|&s| s == 429), "guesses past the limit are not throttled: {statuses:?}");
    let fresh: serde_json::Value = serde_json::from_str(&ok(mamori(
        &qs.config(),
        &["admin", "oidc-client", "initial-access-token", "--tenant", "demo", "--output", "json"],
    )))?;
    let good = format!("Authorization: Bearer {}", fresh["initial_access_token"].as_str().expect("a token"));
    let (_, status) = send("POST", "/t/demo/register", &good, Some(r#"{"client_name":"Late","redirect_uris":["https://rp.example/cb"]}"#));
    assert_eq!(status, 429, "a throttled source registers nothing");
    qs.stop();
    Ok(())
}
