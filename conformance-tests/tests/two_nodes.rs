//! Two real `mamori serve` nodes on one fresh PostgreSQL database behave as one: a login
//! moves between them, a code is redeemed once, parallel wrong passwords on both count
//! once each, a logout holds on both, and both publish the same keys.
//!
//! Each scenario runs per shared-state store (see `on_each_store!`): the node config is a
//! parameter, so the same assertions hold with sessions and counters in PostgreSQL or Redis.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use mamori_conformance::cluster::{Browser, Cluster, HttpResponse, Node, SharedStateKind, encode, follow_authorization, query_param};
use mamori_conformance::login_client::{LoginUser, csrf_token, dev_roots, element_text, login_with, provision_user};

use mamori_conformance::on_each_store;

on_each_store!(
    a_login_moves_between_nodes_and_a_logout_ends_it_on_both,
    an_authorization_code_from_one_node_is_redeemed_once,
    parallel_wrong_passwords_on_both_nodes_lock_at_exactly_the_threshold,
    both_nodes_publish_the_same_keys_and_follow_a_rotation,
);

const PASSWORD: &str = "Two-Nodes-Pw1!";

/// Fields drop in order: the nodes stop before their database is dropped.
struct Setup {
    n1: Node,
    n2: Node,
    app: mamori::app::App,
    cluster: Cluster,
}

async fn setup(kind: SharedStateKind) -> anyhow::Result<Setup> {
    mamori::server::tls::install_default_provider();
    let cluster = Cluster::create(kind);
    let (n1, n2) = (cluster.start_node(), cluster.start_node());
    let app = cluster.app().await?;
    Ok(Setup { n1, n2, app, cluster })
}

impl Setup {
    async fn user(&self, login_id: &str) -> anyhow::Result<LoginUser> {
        let tenant = self.app.storage.tenants().get_by_slug("demo").await?.expect("demo tenant");
        let hash = self.app.hasher.hash(PASSWORD).await?;
        provision_user(&self.app, &tenant, login_id, &hash, PASSWORD, &dev_roots(&self.cluster.data_dir())?).await
    }
}

async fn metrics(node: &Node) -> anyhow::Result<String> {
    let addr = node.metrics_url.trim_start_matches("http://").trim_end_matches("/metrics").to_owned();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await?;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await?;
    let mut text = String::new();
    tcp.read_to_string(&mut text).await?;
    anyhow::ensure!(text.starts_with("HTTP/1.1 200"), "metrics answered {}", text.lines().next().unwrap_or(""));
    Ok(text)
}

/// The value of one series in a Prometheus text exposition (0 when absent).
fn series(text: &str, name_and_labels: &str) -> f64 {
    text.lines().find_map(|l| l.strip_prefix(name_and_labels).and_then(|rest| rest.trim().parse().ok())).unwrap_or(0.0)
}

async fn a_login_moves_between_nodes_and_a_logout_ends_it_on_both(kind: SharedStateKind) -> anyhow::Result<()> {
    let s = setup(kind).await?;
    let user = s.user("mover").await?;
    let mut browser = Browser::new(Arc::clone(&user.tls));

    // The certificate step on node 1, the password on node 2.
    let page = browser.get(&s.n1.mtls_addr(), "/login").await?;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(csrf_token(&page.body).is_some(), "the password form has a CSRF token");
    let done = browser.post_password(&s.n2.mtls_addr(), &page, "mover", PASSWORD).await?;
    assert_eq!(done.status, 303, "node 2 did not continue node 1's login: {}", done.body);
    assert_eq!(done.header("location"), Some("/login/done"));

    // Logged in on both nodes.
    for node in [&s.n1, &s.n2] {
        let page = browser.get(&node.mtls_addr(), "/login/done").await?;
        assert_eq!(page.status, 200, "{}", page.body);
        assert_eq!(element_text(&page.body, "logged-in-user"), Some("mover"));
    }
    // The node that finished the login counted it; the other did not.
    let success = r#"mamori_logins_total{factors="swk+pwd+mfa",result="success"}"#;
    assert_eq!(series(&metrics(&s.n2).await?, success), 1.0);
    assert_eq!(series(&metrics(&s.n1).await?, success), 0.0);

    // Log out on node 2; the session cookie a thief kept no longer works on node 1.
    let stolen = browser.clone();
    let page = browser.get(&s.n2.mtls_addr(), "/login/done").await?;
    let token = csrf_token(&page.body).expect("csrf token").to_owned();
    let out = browser.post_form(&s.n2.mtls_addr(), "/logout", &[("csrf_token", &token)]).await?;
    assert_eq!(out.status, 200, "{}", out.body);
    for (who, mut b) in [("the browser", browser), ("the kept cookie", stolen)] {
        for node in [&s.n1, &s.n2] {
            let page = b.get(&node.mtls_addr(), "/login/done").await?;
            assert_eq!((page.status, page.header("location")), (303, Some("/login")), "{who} is still logged in");
        }
    }

    // Metrics are not on the public listeners.
    let mut anonymous = Browser::anonymous(&s.cluster.data_dir())?;
    assert_eq!(anonymous.get(&s.n1.main_addr(), "/metrics").await?.status, 404);
    assert_eq!(anonymous.get(&s.n1.mtls_addr(), "/metrics").await?.status, 404);
    Ok(())
}

struct RelyingSite {
    client_id: String,
    secret: String,
}

const REDIRECT_URI: &str = "https://rp.two-nodes.test/cb";

fn register_client(cluster: &Cluster, extra: &[&str]) -> RelyingSite {
    let mut args = vec!["admin", "oidc-client", "create", "--tenant", "demo", "--name", "Two", "--redirect-uri", REDIRECT_URI];
    args.extend_from_slice(&["--auth-method", "client_secret_post", "--first-party", "--output", "json"]);
    args.extend_from_slice(extra);
    let created: serde_json::Value = serde_json::from_str(&cluster.run(&args)).expect("client JSON");
    RelyingSite {
        client_id: created["client_id"].as_str().expect("client_id").to_owned(),
        secret: created["client_secret"].as_str().expect("client_secret").to_owned(),
    }
}

/// Follows the authorization request through the certificate login on `node` to the
/// redirect back to the relying site; returns the code.
async fn authorization_code(browser: &mut Browser, node: &Node, rp: &RelyingSite, login_id: &str, state: &str) -> anyhow::Result<String> {
    let query = format!(
        "/t/demo/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state={state}&nonce=n-{state}",
        encode(&rp.client_id),
        encode(REDIRECT_URI)
    );
    let location = follow_authorization(browser, node, &query, REDIRECT_URI, login_id, PASSWORD).await?;
    assert_eq!(query_param(&location, "state").as_deref(), Some(state));
    Ok(query_param(&location, "code").expect("a code in the redirect"))
}

async fn redeem(node: &Node, data_dir: &std::path::Path, rp: &RelyingSite, code: &str) -> anyhow::Result<HttpResponse> {
    let mut client = Browser::anonymous(data_dir)?;
    client
        .post_form(
            &node.main_addr(),
            "/t/demo/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT_URI),
                ("client_id", &rp.client_id),
                ("client_secret", &rp.secret),
            ],
        )
        .await
}

async fn an_authorization_code_from_one_node_is_redeemed_once(kind: SharedStateKind) -> anyhow::Result<()> {
    let s = setup(kind).await?;
    let user = s.user("coder").await?;
    let rp = register_client(&s.cluster, &[]);
    let mut browser = Browser::new(Arc::clone(&user.tls));
    let code = authorization_code(&mut browser, &s.n1, &rp, "coder", "first").await?;
    let on_two = redeem(&s.n2, &s.cluster.data_dir(), &rp, &code).await?;
    assert_eq!(on_two.status, 200, "node 2 refused node 1's code: {}", on_two.body);
    assert!(on_two.json()["id_token"].is_string());
    let on_one = redeem(&s.n1, &s.cluster.data_dir(), &rp, &code).await?;
    assert_eq!(on_one.status, 400, "{}", on_one.body);
    assert_eq!(on_one.json()["error"], "invalid_grant");

    // The same code sent to both nodes at the same moment: exactly one wins.
    let code = authorization_code(&mut browser, &s.n1, &rp, "coder", "second").await?;
    let dir = s.cluster.data_dir();
    let (a, b) = tokio::join!(redeem(&s.n1, &dir, &rp, &code), redeem(&s.n2, &dir, &rp, &code));
    let mut statuses = [a?.status, b?.status];
    statuses.sort();
    assert_eq!(statuses, [200, 400], "a code raced on two nodes must be redeemed exactly once");

    let ok = r#"mamori_token_requests_total{grant_type="authorization_code",result="ok"}"#;
    let refused = r#"mamori_token_requests_total{grant_type="authorization_code",result="invalid_grant"}"#;
    let (m1, m2) = (metrics(&s.n1).await?, metrics(&s.n2).await?);
    assert_eq!(series(&m1, ok) + series(&m2, ok), 2.0);
    assert_eq!(series(&m1, refused) + series(&m2, refused), 2.0);
    Ok(())
}

async fn parallel_wrong_passwords_on_both_nodes_lock_at_exactly_the_threshold(kind: SharedStateKind) -> anyhow::Result<()> {
    let s = setup(kind).await?;
    let tenant = s.app.storage.tenants().get_by_slug("demo").await?.expect("demo tenant");
    assert_eq!(tenant.policy.lockout_threshold_password, 5, "the default policy locks at 5");
    let user = Arc::new(s.user("racer").await?);
    let addrs = [s.n1.mtls_addr(), s.n2.mtls_addr()];
    let attempts: Vec<_> = (0..20)
        .map(|i| {
            let (user, addr) = (Arc::clone(&user), addrs[i % 2].clone());
            tokio::spawn(async move { login_with(&addr, &user, &format!("Wrong-{i}")).await })
        })
        .collect();
    let (mut left, mut locked) = (Vec::new(), 0);
    for attempt in attempts {
        let response = attempt.await??;
        match response.status {
            401 => {
                let text = element_text(&response.body, "attempts-left").expect("the failure page says how many attempts are left");
                let n: u32 = text.chars().filter(char::is_ascii_digit).collect::<String>().parse()?;
                left.push(n);
            }
            403 if response.body.contains("id=\"locked-message\"") => locked += 1,
            other => panic!("unexpected answer {other}: {}", response.body),
        }
    }
    // Failures 1–4 warn with 4, 3, 2, 1 attempts left (each number once: no two nodes
    // counted the same failure), the 5th locks, every later one finds the account locked.
    left.sort_unstable();
    assert_eq!((left, locked), (vec![1, 2, 3, 4], 16));

    let db_user = s.app.storage.users().get_by_login_id(tenant.id, "racer").await?.expect("user");
    assert!(db_user.is_locked());
    let events = s.app.storage.login_events().list_for_user(db_user.id, s.app.now() - time::Duration::hours(1), 0, 100).await?;
    assert_eq!(events.total, 20, "every attempt is in the history once");
    assert!(events.items.iter().all(|e| !e.result.is_success()));

    // One lockout in all, counted by whichever node locked.
    let lockouts = r#"mamori_lockouts_total{kind="password"}"#;
    assert_eq!(series(&metrics(&s.n1).await?, lockouts) + series(&metrics(&s.n2).await?, lockouts), 1.0);

    // Locked on both nodes, even with the right password.
    for addr in &addrs {
        assert_eq!(login_with(addr, &user, PASSWORD).await?.status, 403);
    }
    Ok(())
}

fn certificates_in(metadata: &str) -> Vec<String> {
    let mut found: Vec<String> = metadata
        .split("<ds:X509Certificate>")
        .skip(1)
        .filter_map(|s| s.split("</ds:X509Certificate>").next())
        .map(|c| c.split_whitespace().collect())
        .collect();
    found.sort();
    found.dedup();
    found
}

fn kids(jwks: &serde_json::Value) -> Vec<String> {
    let mut kids: Vec<String> =
        jwks["keys"].as_array().expect("keys").iter().filter_map(|k| k["kid"].as_str().map(str::to_owned)).collect();
    kids.sort();
    kids
}

fn jwt_kid(token: &str) -> String {
    let header = token.split('.').next().expect("a JWT");
    let header: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).expect("base64url")).expect("JSON");
    header["kid"].as_str().expect("kid").to_owned()
}

/// How long a node may keep signing with a key another node retired (documented in
/// deploy/OPERATIONS.md: the active key is looked up again every 10 s).
const ROTATION_BOUND: Duration = Duration::from_secs(10);

async fn both_nodes_publish_the_same_keys_and_follow_a_rotation(kind: SharedStateKind) -> anyhow::Result<()> {
    let s = setup(kind).await?;
    let client = Browser::anonymous(&s.cluster.data_dir())?;
    let jwks = |node: &Node| {
        let (mut c, addr) = (client.clone(), node.main_addr());
        async move { anyhow::Ok(c.get(&addr, "/t/demo/jwks").await?.json()) }
    };
    let metadata = |node: &Node| {
        let (mut c, addr) = (client.clone(), node.main_addr());
        async move { anyhow::Ok(c.get(&addr, "/t/demo/saml/metadata").await?.body) }
    };
    let before = kids(&jwks(&s.n1).await?);
    assert!(before.len() >= 2, "ES256 and RS256 keys are published: {before:?}");
    assert_eq!(kids(&jwks(&s.n2).await?), before, "the nodes publish different JWKS");
    let saml_before = certificates_in(&metadata(&s.n1).await?);
    assert!(!saml_before.is_empty());
    assert_eq!(certificates_in(&metadata(&s.n2).await?), saml_before, "the nodes publish different SAML keys");

    // Both nodes sign with the published key.
    let rp = register_client(&s.cluster, &["--grant-type", "client_credentials"]);
    let token_kid = |node: &Node| {
        let (mut c, addr, rp_id, secret) = (client.clone(), node.main_addr(), rp.client_id.clone(), rp.secret.clone());
        async move {
            let r = c
                .post_form(
                    &addr,
                    "/t/demo/token",
                    &[("grant_type", "client_credentials"), ("client_id", &rp_id), ("client_secret", &secret)],
                )
                .await?;
            anyhow::ensure!(r.status == 200, "client_credentials: {} {}", r.status, r.body);
            anyhow::Ok(jwt_kid(r.json()["access_token"].as_str().expect("access token")))
        }
    };
    let (k1, k2) = (token_kid(&s.n1).await?, token_kid(&s.n2).await?);
    assert_eq!(k1, k2);
    assert!(before.contains(&k1));

    // Rotate through the CLI (a process of its own, like an operator's).
    let rotated: serde_json::Value = serde_json::from_str(&s.cluster.run(&["admin", "keys", "rotate", "--output", "json"]))?;
    let new_kids: Vec<String> =
        rotated["activated"].as_array().expect("activated").iter().filter_map(|k| k.as_str().map(str::to_owned)).collect();
    let rotated_at = Instant::now();
    // Published at once on both nodes, beside the old keys.
    for node in [&s.n1, &s.n2] {
        let now = kids(&jwks(node).await?);
        assert!(new_kids.iter().all(|k| now.contains(k)), "{now:?} lacks {new_kids:?}");
        assert!(before.iter().all(|k| now.contains(k)), "the old keys must stay published");
    }
    // Used for signing on both within the bound.
    for node in [&s.n1, &s.n2] {
        loop {
            let kid = token_kid(node).await?;
            if new_kids.contains(&kid) {
                break;
            }
            assert!(rotated_at.elapsed() < ROTATION_BOUND + Duration::from_secs(2), "{} still signs with {kid}", node.main_url);
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    // SAML: the new keys appear in both nodes' metadata within the bound.
    s.cluster.run(&["admin", "saml-keys", "rotate", "--grace-days", "1"]);
    let rotated_at = Instant::now();
    loop {
        let (a, b) = (certificates_in(&metadata(&s.n1).await?), certificates_in(&metadata(&s.n2).await?));
        if a == b && a.len() > saml_before.len() && saml_before.iter().all(|c| a.contains(c)) {
            break;
        }
        assert!(rotated_at.elapsed() < ROTATION_BOUND + Duration::from_secs(2), "SAML metadata after rotation: {a:?} / {b:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(())
}
