//! A SAML service provider changed through one node changes on the other within a second,
//! although each node keeps registrations parsed between requests: two real `mamori serve`
//! nodes on one PostgreSQL database (and Redis or not). Node 1's admin API starts
//! requiring signed AuthnRequests, then deletes the SP; node 2, which has answered the
//! SP's unsigned requests before, is polled until it refuses them too.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mamori::saml::binding::{deflate, form_encode};
use mamori::saml::keys::{KeyUse, generate};
use mamori_conformance::cluster::{Browser, Cluster, Node, SharedStateKind};
use mamori_conformance::on_each_store;

on_each_store!(a_service_provider_changed_on_one_node_changes_on_both);

/// The bound deploy/OPERATIONS.md states for relying-site changes.
const BOUND: Duration = Duration::from_secs(1);

/// Fields drop in order: the nodes stop before their database is dropped.
struct Setup {
    n1: Node,
    n2: Node,
    cluster: Cluster,
    /// Bearer token of a super admin, for node 1's admin API.
    admin: String,
    /// The SP's entity ID and the id the admin API knows it by.
    entity: String,
    sp_id: String,
}

async fn setup(kind: SharedStateKind) -> anyhow::Result<Setup> {
    mamori::server::tls::install_default_provider();
    let cluster = Cluster::create(kind);
    let (n1, n2) = (cluster.start_node(), cluster.start_node());
    let admin = cluster.super_admin_bearer();

    let (_, _, der) = generate(KeyUse::Signing, time::OffsetDateTime::now_utc())?;
    let entity = "https://sp.two-nodes.test/metadata".to_owned();
    let metadata = format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity}"><md:SPSSODescriptor AuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.two-nodes.test/acs" index="0"/></md:SPSSODescriptor></md:EntityDescriptor>"#,
        STANDARD.encode(&der)
    );
    let path = cluster.data_dir().join("sp-metadata.xml");
    std::fs::write(&path, metadata)?;
    let added: serde_json::Value = serde_json::from_str(&cluster.run(&[
        "admin",
        "saml-sp",
        "add",
        "--tenant",
        "demo",
        "--metadata",
        path.to_str().expect("utf-8 path"),
        "--output",
        "json",
    ]))?;
    let sp_id = added["id"].as_str().expect("the SP's id").to_owned();
    Ok(Setup { n1, n2, cluster, admin, entity, sp_id })
}

impl Setup {
    /// The status of an unsigned HTTP-Redirect AuthnRequest from the SP at `node`: 303 to
    /// the login while the SP may send it, an error page once it may not.
    async fn unsigned_request(&self, node: &Node, n: usize) -> anyhow::Result<u16> {
        let now = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339)?;
        let xml = format!(
            r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_probe{n}" Version="2.0" IssueInstant="{now}"><saml:Issuer>{}</saml:Issuer></samlp:AuthnRequest>"#,
            self.entity
        );
        let query = format!("SAMLRequest={}", form_encode(&STANDARD.encode(deflate(xml.as_bytes()))));
        let r = Browser::anonymous(&self.cluster.data_dir())?.get(&node.main_addr(), &format!("/t/demo/saml/sso?{query}")).await?;
        anyhow::ensure!(r.status != 500, "server error on {}: {}", node.main_url, r.body);
        Ok(r.status)
    }

    async fn admin_api(&self, method: &str, body: Option<&str>) -> anyhow::Result<u16> {
        let path = format!("/admin/api/v1/tenants/demo/saml-sps/{}", self.sp_id);
        let mut headers = vec![("Authorization", self.admin.as_str())];
        if body.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        Ok(Browser::anonymous(&self.cluster.data_dir())?.send(&self.n1.main_addr(), method, &path, &headers, body).await?.status)
    }

    /// Polls node 2 until it refuses the unsigned request; how long that took.
    async fn until_node_2_refuses(&self, changed_at: Instant, what: &str, probe: &mut usize) -> anyhow::Result<Duration> {
        loop {
            *probe += 1;
            if self.unsigned_request(&self.n2, *probe).await? != 303 {
                let took = changed_at.elapsed();
                println!("{what}: node 2 agreed after {took:?}");
                return Ok(took);
            }
            assert!(changed_at.elapsed() < BOUND, "{what}: node 2 still answers after {:?}", changed_at.elapsed());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn a_service_provider_changed_on_one_node_changes_on_both(kind: SharedStateKind) -> anyhow::Result<()> {
    let s = setup(kind).await?;
    let mut probe = 0;
    // Both nodes read the registration (and keep it) by answering its requests.
    for _ in 0..2 {
        for node in [&s.n1, &s.n2] {
            probe += 1;
            assert_eq!(s.unsigned_request(node, probe).await?, 303, "an unsigned request while allowed, on {}", node.main_url);
        }
    }

    assert_eq!(s.admin_api("PATCH", Some(r#"{"want_authn_requests_signed":true}"#)).await?, 200);
    let changed_at = Instant::now();
    probe += 1;
    assert_ne!(s.unsigned_request(&s.n1, probe).await?, 303, "node 1 made the change and still answers");
    assert!(s.until_node_2_refuses(changed_at, "signed requests required", &mut probe).await? < BOUND);

    // Allowed again, then deleted: node 2 follows both.
    assert_eq!(s.admin_api("PATCH", Some(r#"{"want_authn_requests_signed":false}"#)).await?, 200);
    let allowed_at = Instant::now();
    loop {
        probe += 1;
        if s.unsigned_request(&s.n2, probe).await? == 303 {
            break;
        }
        assert!(allowed_at.elapsed() < BOUND, "node 2 still refuses after {:?}", allowed_at.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(s.admin_api("DELETE", None).await?, 204);
    let deleted_at = Instant::now();
    probe += 1;
    assert_ne!(s.unsigned_request(&s.n1, probe).await?, 303, "node 1 deleted the SP and still answers it");
    assert!(s.until_node_2_refuses(deleted_at, "SP deleted", &mut probe).await? < BOUND);
    Ok(())
}
