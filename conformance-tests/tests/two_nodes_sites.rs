//! A relying site changed through one node changes on the other within a second: two real
//! `mamori serve` nodes on one PostgreSQL database (and Redis or not), a client deleted or
//! given a new secret through node 1's admin API, node 2 polled until it agrees. The
//! measured propagation time is printed. The deleted client's tokens end on both nodes,
//! and a client nobody touched keeps working on both throughout.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mamori_conformance::cluster::{Browser, Cluster, HttpResponse, Node, SharedStateKind, encode, follow_authorization, query_param};
use mamori_conformance::login_client::{LoginUser, dev_roots, provision_user};

use mamori_conformance::on_each_store;

on_each_store!(
    a_client_deleted_on_one_node_stops_on_both_and_its_tokens_end,
    a_secret_rotated_on_one_node_changes_on_both,
    a_tenant_deleted_on_one_node_leaves_no_server_error_on_the_other
);

/// The bound deploy/OPERATIONS.md states for client deletion and secret rotation.
const BOUND: Duration = Duration::from_secs(1);
const PASSWORD: &str = "Two-Sites-Pw1!";
const REDIRECT_URI: &str = "https://rp.two-sites.test/cb";

/// Fields drop in order: the nodes stop before their database is dropped.
struct Setup {
    n1: Node,
    n2: Node,
    app: mamori::app::App,
    cluster: Cluster,
    /// Bearer token of a super admin, for node 1's admin API.
    admin: String,
}

async fn setup(kind: SharedStateKind) -> anyhow::Result<Setup> {
    mamori::server::tls::install_default_provider();
    let cluster = Cluster::create(kind);
    let (n1, n2) = (cluster.start_node(), cluster.start_node());
    let app = cluster.app().await?;
    let admin = cluster.super_admin_bearer();
    Ok(Setup { n1, n2, app, cluster, admin })
}

#[derive(Clone)]
struct RelyingSite {
    client_id: String,
    secret: String,
}

impl Setup {
    async fn user(&self, login_id: &str) -> anyhow::Result<LoginUser> {
        let tenant = self.app.storage.tenants().get_by_slug("demo").await?.expect("demo tenant");
        let hash = self.app.hasher.hash(PASSWORD).await?;
        provision_user(&self.app, &tenant, login_id, &hash, PASSWORD, &dev_roots(&self.cluster.data_dir())?).await
    }

    /// Registers a client_secret_post client through the CLI.
    fn register(&self, name: &str, extra: &[&str]) -> RelyingSite {
        let mut args = vec!["admin", "oidc-client", "create", "--tenant", "demo", "--name", name, "--redirect-uri", REDIRECT_URI];
        args.extend_from_slice(&["--auth-method", "client_secret_post", "--first-party", "--output", "json"]);
        args.extend_from_slice(extra);
        let created: serde_json::Value = serde_json::from_str(&self.cluster.run(&args)).expect("client JSON");
        RelyingSite {
            client_id: created["client_id"].as_str().expect("client_id").to_owned(),
            secret: created["client_secret"].as_str().expect("client_secret").to_owned(),
        }
    }

    fn browser(&self) -> Browser {
        Browser::anonymous(&self.cluster.data_dir()).expect("a TLS client")
    }

    async fn admin_api(&self, method: &str, path: &str) -> anyhow::Result<HttpResponse> {
        let path = format!("/admin/api/v1/tenants/demo/oidc-clients/{path}");
        self.browser().send(&self.n1.main_addr(), method, &path, &[("Authorization", &self.admin)], None).await
    }

    async fn token(&self, node: &Node, rp: &RelyingSite, fields: &[(&str, &str)]) -> anyhow::Result<HttpResponse> {
        let mut all = vec![("client_id", rp.client_id.as_str()), ("client_secret", rp.secret.as_str())];
        all.extend_from_slice(fields);
        self.browser().post_form(&node.main_addr(), "/t/demo/token", &all).await
    }

    async fn client_credentials(&self, node: &Node, rp: &RelyingSite) -> anyhow::Result<HttpResponse> {
        self.token(node, rp, &[("grant_type", "client_credentials")]).await
    }

    async fn introspect(&self, node: &Node, rp: &RelyingSite, token: &str) -> anyhow::Result<serde_json::Value> {
        let fields = [("token", token), ("client_id", &rp.client_id), ("client_secret", &rp.secret)];
        let r = self.browser().post_form(&node.main_addr(), "/t/demo/introspect", &fields).await?;
        anyhow::ensure!(r.status == 200, "introspection: {} {}", r.status, r.body);
        Ok(r.json())
    }

    async fn userinfo(&self, node: &Node, access_token: &str) -> anyhow::Result<u16> {
        let bearer = format!("Bearer {access_token}");
        Ok(self.browser().send(&node.main_addr(), "GET", "/t/demo/userinfo", &[("Authorization", &bearer)], None).await?.status)
    }

    /// The authorization endpoint's first answer for `rp`: a redirect to the login while
    /// the client exists, an error page once it does not.
    async fn authorize(&self, node: &Node, rp: &RelyingSite) -> anyhow::Result<HttpResponse> {
        self.browser().get(&node.main_addr(), &authorize_path(rp, "probe")).await
    }
}

fn authorize_path(rp: &RelyingSite, state: &str) -> String {
    format!(
        "/t/demo/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state={state}&nonce=n-{state}",
        encode(&rp.client_id),
        encode(REDIRECT_URI)
    )
}

/// Follows the authorization request through the certificate login on `node` to the
/// redirect back to the relying site; returns the code.
async fn authorization_code(browser: &mut Browser, node: &Node, rp: &RelyingSite, login_id: &str) -> anyhow::Result<String> {
    let location = follow_authorization(browser, node, &authorize_path(rp, "s1"), REDIRECT_URI, login_id, PASSWORD).await?;
    Ok(query_param(&location, "code").expect("a code in the redirect"))
}

fn field(r: &HttpResponse, name: &str) -> String {
    r.json()[name].as_str().unwrap_or_else(|| panic!("{name} in {}", r.body)).to_owned()
}

/// Polls `refused` on node 2 until it is true, while `steady` must keep getting tokens on
/// both nodes; the time from `changed_at` until node 2 agreed.
async fn until_refused<F, Fut>(s: &Setup, steady: &RelyingSite, changed_at: Instant, what: &str, mut refused: F) -> anyhow::Result<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    loop {
        if refused().await? {
            let took = changed_at.elapsed();
            println!("{what} ({:?} shared state): node 2 agreed after {took:?}", s.cluster.shared);
            return Ok(took);
        }
        for node in [&s.n1, &s.n2] {
            let r = s.client_credentials(node, steady).await?;
            assert_eq!(r.status, 200, "an unchanged client was refused on {}: {}", node.main_url, r.body);
        }
        assert!(changed_at.elapsed() < BOUND, "{what}: node 2 still accepts after {:?}", changed_at.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_client_deleted_on_one_node_stops_on_both_and_its_tokens_end(kind: SharedStateKind) -> anyhow::Result<()> {
    let s = setup(kind).await?;
    let user = s.user("leaver").await?;
    let grants = ["--grant-type", "authorization_code", "--grant-type", "refresh_token", "--grant-type", "client_credentials"];
    let doomed = s.register("Doomed", &grants);
    let steady = s.register("Steady", &["--grant-type", "client_credentials"]);

    // On each node: a user's tokens from a code flow, and a client_credentials token. (The
    // test nodes listen on their own ports, so each is its own issuer: a token is checked
    // at the node that issued it. Behind one public URL any node would do.)
    let mut browser = Browser::new(Arc::clone(&user.tls));
    let mut issued = Vec::new();
    for node in [&s.n1, &s.n2] {
        let code = authorization_code(&mut browser, node, &doomed, "leaver").await?;
        let tokens =
            s.token(node, &doomed, &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT_URI)]).await?;
        assert_eq!(tokens.status, 200, "{}", tokens.body);
        let cc = s.client_credentials(node, &doomed).await?;
        assert_eq!(cc.status, 200, "{}", cc.body);
        issued.push((node, field(&tokens, "access_token"), field(&tokens, "refresh_token"), field(&cc, "access_token")));
    }
    let last_issued = Instant::now();

    // Live on both nodes, and node 2 has the client (and its verified secret) cached.
    for (node, user_token, refresh, cc_token) in &issued {
        assert_eq!(s.userinfo(node, user_token).await?, 200);
        for token in [user_token, refresh, cc_token] {
            let seen = s.introspect(node, &doomed, token).await?;
            assert_eq!(seen["active"], true, "{seen}");
        }
        let page = s.authorize(node, &doomed).await?;
        assert!(matches!(page.status, 302 | 303), "the code flow starts: {} {}", page.status, page.body);
    }

    let deleted = s.admin_api("DELETE", &doomed.client_id).await?;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let deleted_at = Instant::now();
    let (setup, site) = (&s, &doomed);
    let took = until_refused(&s, &steady, deleted_at, "client deletion", move || async move {
        let r = setup.client_credentials(&setup.n2, site).await?;
        anyhow::ensure!(matches!(r.status, 200 | 401), "client_credentials: {} {}", r.status, r.body);
        Ok(r.status == 401)
    })
    .await?;
    assert!(took < BOUND);

    // Refused everywhere now: the token endpoint, the authorization endpoint, refresh; the
    // user's tokens are revoked with their grant.
    for (node, user_token, refresh, _) in &issued {
        let r = s.client_credentials(node, &doomed).await?;
        assert_eq!((r.status, r.json()["error"].as_str()), (401, Some("invalid_client")), "{}", r.body);
        let page = s.authorize(node, &doomed).await?;
        assert_eq!(page.status, 400, "the authorization endpoint still knows the client on {}", node.main_url);
        let r = s.token(node, &doomed, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await?;
        assert!(matches!(r.status, 400 | 401), "refresh after deletion: {} {}", r.status, r.body);
        assert_eq!(s.userinfo(node, user_token).await?, 401, "userinfo still answers on {}", node.main_url);
    }

    // A new client under the same ID, registered at once (usually within the second the
    // old tokens were issued in, which a comparison of times could not tell apart), sees
    // the old ones as inactive, its own as active: tokens name their registration.
    println!("registering the ID again {:?} after the last old token", last_issued.elapsed());
    let again = s.register("Again", &[&["--client-id", doomed.client_id.as_str()][..], &grants[..]].concat());
    for (node, user_token, refresh, cc_token) in &issued {
        for old in [user_token, refresh, cc_token] {
            assert_eq!(s.introspect(node, &again, old).await?["active"], false, "an old token lives again on {}", node.main_url);
        }
        let fresh = field(&s.client_credentials(node, &again).await?, "access_token");
        assert_eq!(s.introspect(node, &again, &fresh).await?["active"], true);
        let kept = field(&s.client_credentials(node, &steady).await?, "access_token");
        assert_eq!(s.introspect(node, &steady, &kept).await?["active"], true);
    }
    Ok(())
}

async fn a_secret_rotated_on_one_node_changes_on_both(kind: SharedStateKind) -> anyhow::Result<()> {
    let s = setup(kind).await?;
    let old = s.register("Rotated", &["--grant-type", "client_credentials"]);
    let steady = s.register("Steady", &["--grant-type", "client_credentials"]);
    // Both nodes have verified the old secret (and would answer from their caches).
    for node in [&s.n1, &s.n2] {
        assert_eq!(s.client_credentials(node, &old).await?.status, 200);
    }

    let rotated = s.admin_api("POST", &format!("{}/rotate-secret", old.client_id)).await?;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let rotated_at = Instant::now();
    let new = RelyingSite { client_id: old.client_id.clone(), secret: field(&rotated, "client_secret") };
    assert_ne!(new.secret, old.secret);
    let (setup, site) = (&s, &old);
    let took = until_refused(&s, &steady, rotated_at, "secret rotation", move || async move {
        let r = setup.client_credentials(&setup.n2, site).await?;
        anyhow::ensure!(matches!(r.status, 200 | 401), "client_credentials: {} {}", r.status, r.body);
        Ok(r.status == 401)
    })
    .await?;
    assert!(took < BOUND);

    for node in [&s.n1, &s.n2] {
        assert_eq!(s.client_credentials(node, &old).await?.status, 401, "the old secret works on {}", node.main_url);
        let r = s.client_credentials(node, &new).await?;
        assert_eq!(r.status, 200, "the new secret fails on {}: {}", node.main_url, r.body);
        assert_eq!(s.introspect(node, &new, &field(&r, "access_token")).await?["active"], true);
    }
    Ok(())
}

/// A tenant deleted through node 1 while node 2 still holds its client: node 2's token
/// requests are refused as the client's (401 invalid_client), never a server error from
/// writes whose tenant is gone, and within the bound not even that.
async fn a_tenant_deleted_on_one_node_leaves_no_server_error_on_the_other(kind: SharedStateKind) -> anyhow::Result<()> {
    let s = setup(kind).await?;
    s.cluster.run(&["admin", "tenant", "create", "--slug", "doomed", "--name", "Doomed"]);
    let args = [
        "admin",
        "oidc-client",
        "create",
        "--tenant",
        "doomed",
        "--name",
        "Opaque",
        "--grant-type",
        "client_credentials",
        "--auth-method",
        "client_secret_post",
    ];
    let created: serde_json::Value =
        serde_json::from_str(&s.cluster.run(&[&args[..], &["--access-token-format", "opaque", "--output", "json"]].concat()))?;
    let fields = [
        ("grant_type", "client_credentials"),
        ("client_id", created["client_id"].as_str().expect("client_id")),
        ("client_secret", created["client_secret"].as_str().expect("client_secret")),
    ];
    // Node 2 authenticates the client (and keeps it, and its verified secret).
    let first = s.browser().post_form(&s.n2.main_addr(), "/t/doomed/token", &fields).await?;
    assert_eq!(first.status, 200, "{}", first.body);

    let gone = s.browser().send(&s.n1.main_addr(), "DELETE", "/admin/api/v1/tenants/doomed", &[("Authorization", &s.admin)], None).await?;
    assert_eq!(gone.status, 204, "{}", gone.body);
    let deleted_at = Instant::now();
    let mut statuses = Vec::new();
    loop {
        let r = s.browser().post_form(&s.n2.main_addr(), "/t/doomed/token", &fields).await?;
        assert!(r.status < 500, "node 2 answered {} {} {:?} after the tenant's deletion", r.status, r.body, deleted_at.elapsed());
        statuses.push(r.status);
        if r.status != 200 {
            assert!(matches!(r.status, 400 | 401 | 404), "{} {}", r.status, r.body);
            break;
        }
        assert!(deleted_at.elapsed() < BOUND, "node 2 still issues tokens for a deleted tenant: {statuses:?}");
    }
    println!("node 2 refused the deleted tenant's client {:?} after the deletion ({statuses:?})", deleted_at.elapsed());
    Ok(())
}
