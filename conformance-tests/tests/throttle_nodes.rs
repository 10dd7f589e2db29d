//! Failed credentials are throttled across nodes: client authentication per source
//! address and per client, admin API tokens per source address. Two real `mamori serve`
//! nodes on one PostgreSQL database, with the counters in PostgreSQL or Redis; the guesses
//! alternate between the nodes, as a load balancer would spread them. Another loopback
//! address (127.0.0.2) is another client, so the honest side is checked next to the hostile.

use std::net::IpAddr;

use mamori_conformance::cluster::{Browser, Cluster, HttpResponse, Node, SharedStateKind};

use mamori_conformance::on_each_store;

on_each_store!(client_authentication_is_throttled_across_nodes, admin_tokens_are_throttled_across_nodes);

/// The limits `mamori::throttle` states.
const CLIENT_AUTH_PER_SOURCE: usize = 30;
const ADMIN_TOKEN_PER_SOURCE: usize = 20;

fn from(cluster: &Cluster, source: &str) -> anyhow::Result<Browser> {
    let mut browser = Browser::anonymous(&cluster.data_dir())?;
    browser.source = Some(source.parse::<IpAddr>()?);
    Ok(browser)
}

async fn revoke(browser: &mut Browser, node: &Node, client_id: &str, secret: &str) -> anyhow::Result<HttpResponse> {
    let fields = [("token", "not-a-token"), ("client_id", client_id), ("client_secret", secret)];
    browser.post_form(&node.main_addr(), "/t/demo/revoke", &fields).await
}

fn assert_throttled(r: &HttpResponse) {
    assert_eq!(r.status, 429, "{}", r.body);
    let wait: u64 = r.header("retry-after").and_then(|v| v.parse().ok()).expect("Retry-After in seconds");
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    assert_eq!(r.header("cache-control"), Some("no-store"));
}

async fn client_authentication_is_throttled_across_nodes(kind: SharedStateKind) -> anyhow::Result<()> {
    mamori::server::tls::install_default_provider();
    let cluster = Cluster::create(kind);
    let nodes = [cluster.start_node(), cluster.start_node()];
    let created: serde_json::Value = serde_json::from_str(&cluster.run(&[
        "admin",
        "oidc-client",
        "create",
        "--tenant",
        "demo",
        "--name",
        "Throttled",
        "--redirect-uri",
        "https://rp.throttle.test/cb",
        "--auth-method",
        "client_secret_post",
        "--output",
        "json",
    ]))?;
    let (id, secret) = (created["client_id"].as_str().expect("id"), created["client_secret"].as_str().expect("secret"));

    let mut guesser = from(&cluster, "127.0.0.1")?;
    // Honest first: the right secret works.
    assert_eq!(revoke(&mut guesser, &nodes[0], id, secret).await?.status, 200);
    // Wrong secrets, spread over both nodes: each is an ordinary invalid_client...
    for i in 0..CLIENT_AUTH_PER_SOURCE {
        let r = revoke(&mut guesser, &nodes[i % 2], id, &format!("guess-{i}")).await?;
        assert_eq!(r.status, 401, "guess {i}: {}", r.body);
        assert_eq!(r.json()["error"], "invalid_client");
    }
    // ...until the address has used up its failures: then 429 on both nodes, before any
    // secret is hashed.
    for node in &nodes {
        let r = revoke(&mut guesser, node, id, "one-more-guess").await?;
        assert_throttled(&r);
        assert_eq!(r.json()["error"], "temporarily_unavailable");
    }
    // The right secret waits on the node that never checked it (trying it teaches nothing);
    // on the node that verified it a moment ago it still works, so a guesser cannot lock
    // out a busy client there.
    assert_throttled(&revoke(&mut guesser, &nodes[1], id, secret).await?);
    assert_eq!(revoke(&mut guesser, &nodes[0], id, secret).await?.status, 200);
    // Another address is not held back by the guesser: the right secret works, and a
    // wrong one is an ordinary failure.
    let mut honest = from(&cluster, "127.0.0.2")?;
    assert_eq!(revoke(&mut honest, &nodes[1], id, secret).await?.status, 200);
    assert_eq!(revoke(&mut honest, &nodes[0], id, "typo").await?.status, 401);

    // Probing client IDs costs the probing address too.
    let mut prober = from(&cluster, "127.0.0.3")?;
    for i in 0..CLIENT_AUTH_PER_SOURCE {
        let r = revoke(&mut prober, &nodes[i % 2], &format!("no-such-client-{i}"), "x").await?;
        assert_eq!(r.status, 401, "probe {i}: {}", r.body);
    }
    assert_throttled(&revoke(&mut prober, &nodes[0], "no-such-client-last", "x").await?);
    Ok(())
}

async fn admin_tokens_are_throttled_across_nodes(kind: SharedStateKind) -> anyhow::Result<()> {
    mamori::server::tls::install_default_provider();
    let cluster = Cluster::create(kind);
    let nodes = [cluster.start_node(), cluster.start_node()];
    let created: serde_json::Value =
        serde_json::from_str(&cluster.run(&["admin", "api-token", "create", "--super-admin", "--scope", "read", "--output", "json"]))?;
    let token = created["token"].as_str().expect("token").to_owned();
    let get = |browser: &mut Browser, node: &Node, token: String| {
        let mut browser = browser.clone();
        let addr = node.main_addr();
        async move {
            let bearer = format!("Bearer {token}");
            browser.send(&addr, "GET", "/admin/api/v1/tenants", &[("Authorization", &bearer)], None).await
        }
    };

    let mut guesser = from(&cluster, "127.0.0.1")?;
    assert_eq!(get(&mut guesser, &nodes[0], token.clone()).await?.status, 200);
    for i in 0..ADMIN_TOKEN_PER_SOURCE {
        let r = get(&mut guesser, &nodes[i % 2], format!("mamori_at_guess{i}")).await?;
        assert_eq!(r.status, 401, "guess {i}: {}", r.body);
    }
    for node in &nodes {
        let r = get(&mut guesser, node, "mamori_at_one-more".to_owned()).await?;
        assert_throttled(&r);
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        assert_eq!(r.json()["type"], "https://mamori.dev/problems/throttled");
        // A valid token from the same address is not stopped (a directory service sends
        // many tenants' calls from shared addresses); only failures are throttled.
        assert_eq!(get(&mut guesser, node, token.clone()).await?.status, 200);
        assert_throttled(&get(&mut guesser, node, "mamori_at_and-another".to_owned()).await?);
    }
    // An operator on another address is not locked out by the guesser.
    let mut operator = from(&cluster, "127.0.0.2")?;
    assert_eq!(get(&mut operator, &nodes[1], token.clone()).await?.status, 200);
    assert_eq!(get(&mut operator, &nodes[0], "mamori_at_typo".to_owned()).await?.status, 401);
    Ok(())
}
