//! Login behaviour that needs many requests at once, over real TLS with client
//! certificates: lockout counting under concurrency.

use mamori_conformance::login_client::{dev_roots, login, login_with, provision_user};
use mamori_conformance::{Quickstart, mamori, ok};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_wrong_passwords_lock_at_exactly_the_threshold() -> anyhow::Result<()> {
    mamori::server::tls::install_default_provider();
    let work = tempfile::tempdir()?;
    let qs = Quickstart::start(work.path());
    let app = mamori::app::App::open(&qs.config()).await?;
    let tenant = app.storage.tenants().get_by_slug("demo").await?.expect("demo tenant");
    assert_eq!(tenant.policy.lockout_threshold_password, 5, "the default policy locks at 5");
    let hash = app.hasher.hash("Right-Password1").await?;
    let user = provision_user(&app, &tenant, "racer", &hash, "Right-Password1", &dev_roots(&qs.data_dir())?).await?;
    let addr = qs.mtls_url.replace("https://localhost", "127.0.0.1");
    let user = std::sync::Arc::new(user);

    let attempts: Vec<_> = (0..20)
        .map(|i| {
            let (user, addr) = (std::sync::Arc::clone(&user), addr.clone());
            tokio::spawn(async move { login_with(&addr, &user, &format!("Wrong-{i}")).await })
        })
        .collect();
    let mut failed_pages = 0;
    let mut locked_pages = 0;
    for attempt in attempts {
        let response = attempt.await??;
        match response.status {
            401 if response.body.contains("id=\"attempts-left\"") => failed_pages += 1,
            403 if response.body.contains("id=\"locked-message\"") => locked_pages += 1,
            other => panic!("unexpected answer {other}: {}", response.body),
        }
    }
    // Failures 1–4 warn, the 5th locks, and every later one finds the account locked.
    assert_eq!((failed_pages, locked_pages), (4, 16));

    // Every attempt is in the login history, none a success.
    let db_user = app.storage.users().get_by_login_id(tenant.id, "racer").await?.expect("user");
    let events = app.storage.login_events().list_for_user(db_user.id, app.now() - time::Duration::hours(1), 0, 100).await?;
    assert_eq!(events.total, 20, "{:?}", events.items.iter().map(|e| e.result.as_str().to_owned()).collect::<Vec<_>>());
    assert!(events.items.iter().all(|e| !e.result.is_success()));
    assert!(db_user.is_locked());

    // The right password does not open a locked account; the operator's unlock does.
    let right = login_with(&addr, &user, "Right-Password1").await?;
    assert_eq!(right.status, 403, "a locked account accepted its password");
    ok(mamori(&qs.config(), &["admin", "user", "unlock", "--tenant", "demo", "--login-id", "racer"]));
    login(&addr, &user).await?;
    qs.stop();
    Ok(())
}
