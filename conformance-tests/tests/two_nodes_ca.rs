//! Two real `mamori serve` nodes on one PostgreSQL database agree on the CA: a revocation
//! made through the CLI or through one node's admin API is in every node's CRL at once,
//! and after `ca init --replace` the running nodes issue from the new CA, sign the CRL
//! with it and ask browsers for its certificates (deploy/OPERATIONS.md, "Propagation
//! bounds across nodes"). CRLs are fetched over HTTPS with curl and read by openssl.

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mamori::pki::CertificateOwner;
use mamori_conformance::cluster::{Browser, Cluster, Node, SharedStateKind};
use mamori_conformance::login_client::{csrf_token, dev_roots, element_text};
use mamori_storage::model::{DeviceType, LoginMethod, NewDevice, NewUser};
use rustls::client::ResolvesClientCert;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;
use x509_parser::prelude::FromDer;

const PASSWORD: &str = "Two-Nodes-Ca1!";

/// How long the client-CA list of a running node may lag a CA replacement (the check
/// runs every second; OPERATIONS.md states 1 s), plus scheduling slack on a busy machine.
const CLIENT_CA_BOUND: Duration = Duration::from_millis(1500);

/// Fields drop in order: the nodes stop before their database is dropped.
struct Setup {
    a: Node,
    b: Node,
    app: mamori::app::App,
    cluster: Cluster,
}

async fn setup() -> anyhow::Result<Setup> {
    mamori::server::tls::install_default_provider();
    let cluster = Cluster::create(SharedStateKind::Database);
    let (a, b) = (cluster.start_node(), cluster.start_node());
    let app = cluster.app().await?;
    Ok(Setup { a, b, app, cluster })
}

/// A user of the demo tenant with one device and a certificate from the CA active now,
/// presented the way a browser does: only when the server's CertificateRequest names
/// the certificate's issuer.
struct CertUser {
    login_id: String,
    serial: String,
    /// The CRL and CA-issuer URLs written into the certificate.
    crl_url: String,
    ca_issuers_url: String,
    /// The OCSP responder written into the certificate's AIA.
    ocsp_url: String,
    tls: Arc<rustls::ClientConfig>,
    /// The browser of the last successful login (its session cookie).
    browser: Browser,
    offered: Arc<Mutex<Vec<bool>>>,
}

impl Setup {
    async fn user(&self, login_id: &str) -> anyhow::Result<CertUser> {
        let app = &self.app;
        let tenant = app.storage.tenants().get_by_slug("demo").await?.expect("demo tenant");
        let now = app.now();
        let user = app.storage.users().create(&NewUser::new(tenant.id, login_id, LoginMethod::CertPassword), now).await?;
        let device = app
            .storage
            .devices()
            .add_device(&NewDevice { user_id: user.id, device_type: DeviceType::Pc, email: format!("{login_id}@example.test") }, 3, now)
            .await?;
        app.storage.users().set_password(user.id, &app.hasher.hash(PASSWORD).await?, false, 1, now).await?;
        let issued = app
            .ca
            .issue_device_certificate(
                CertificateOwner { user_id: Some(user.id), device_id: Some(device.id) },
                login_id.to_owned(),
                None,
                mamori_ca::KeyAlgorithm::EcP256,
                now,
                now + time::Duration::days(1),
            )
            .await?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(issued.private_key_pkcs8_der.as_ref().expect("a generated key").to_vec()));
        let mut chain = vec![CertificateDer::from(issued.certificate_der.clone())];
        chain.extend(app.ca.pkcs12_chain().await?.into_iter().map(CertificateDer::from));
        let (_, leaf) = x509_parser::certificate::X509Certificate::from_der(&issued.certificate_der)?;
        let (crl_url, ca_issuers_url, ocsp_url) = certificate_urls(&leaf);
        let offered = Arc::new(Mutex::new(Vec::new()));
        let resolver = AsksForIssuer {
            issuer: leaf.issuer().as_raw().to_vec(),
            key: Arc::new(CertifiedKey::new(chain, rustls::crypto::aws_lc_rs::sign::any_supported_type(&key)?)),
            offered: Arc::clone(&offered),
        };
        let tls = rustls::ClientConfig::builder()
            .with_root_certificates(dev_roots(&self.cluster.data_dir())?)
            .with_client_cert_resolver(Arc::new(resolver));
        let tls = Arc::new(tls);
        Ok(CertUser {
            login_id: login_id.to_owned(),
            serial: issued.serial_hex,
            crl_url,
            ca_issuers_url,
            ocsp_url,
            browser: Browser::new(Arc::clone(&tls)),
            tls,
            offered,
        })
    }

    /// The CRL `node` serves at `/ca/crl.der` (the active CA's), parsed by openssl.
    fn crl(&self, node: &Node) -> Crl {
        self.crl_at(&format!("{}/ca/crl.der", node.main_url))
    }

    /// The CRL at `url` (one a certificate names, say), fetched with curl and parsed by
    /// openssl.
    fn crl_at(&self, url: &str) -> Crl {
        let der = self.cluster.work.path().join(format!("crl-{}.der", rand_name()));
        let got = self.curl(url, &der);
        assert!(got.status.success(), "GET {url}: {}", String::from_utf8_lossy(&got.stderr));
        let text = mamori_conformance::ok(
            Command::new("openssl")
                .args(["crl", "-inform", "DER", "-noout", "-text", "-in", der.to_str().expect("utf-8")])
                .output()
                .expect("openssl runs"),
        );
        Crl { der, text }
    }

    /// GET `url` into the file `out`, trusting the cluster's dev root.
    fn curl(&self, url: &str, out: &std::path::Path) -> std::process::Output {
        let root = self.cluster.data_dir().join("tls/dev-root.pem");
        Command::new("curl")
            .args(["-sS", "--fail", "--cacert", root.to_str().expect("utf-8"), "-o", out.to_str().expect("utf-8"), url])
            .output()
            .expect("curl runs")
    }

    /// What `node`'s OCSP responder (the one `user`'s certificate names) says of the
    /// certificate, asked by `openssl ocsp` with a nonce; the answer must verify.
    async fn ocsp_status(&self, node: &Node, user: &CertUser) -> anyhow::Result<String> {
        let chain = self.app.ca.published_chain_pem().await?;
        let end = chain.find("-----END CERTIFICATE-----").expect("a certificate") + "-----END CERTIFICATE-----\n".len();
        let (issuer, trust) = (self.cluster.work.path().join("ocsp-issuer.pem"), self.cluster.work.path().join("ocsp-trust.pem"));
        std::fs::write(&issuer, &chain[..end])?;
        let dev_root = std::fs::read_to_string(self.cluster.data_dir().join("tls/dev-root.pem"))?;
        std::fs::write(&trust, format!("{chain}{dev_root}"))?;
        let out = Command::new("openssl")
            .args(["ocsp", "-issuer", issuer.to_str().expect("utf-8"), "-serial", &format!("0x{}", user.serial)])
            .args(["-url", &on(node, &user.ocsp_url), "-CAfile", trust.to_str().expect("utf-8"), "-resp_text"])
            .output()?;
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success() && text.contains("Response verify OK"), "OCSP at {}:\n{text}", node.main_url);
        let status = text.lines().find_map(|l| l.trim().strip_prefix("Cert Status: ")).expect("a certificate status");
        Ok(status.to_owned())
    }

    /// The active CA's chain (PEM) in a file, for `openssl … -CAfile`.
    async fn chain_file(&self, name: &str) -> anyhow::Result<std::path::PathBuf> {
        let path = self.cluster.work.path().join(name);
        std::fs::write(&path, self.app.ca.published_chain_pem().await?)?;
        Ok(path)
    }
}

fn rand_name() -> String {
    mamori_conformance::cluster::random_suffix()
}

struct Crl {
    der: std::path::PathBuf,
    text: String,
}

/// The CRL distribution point and the AIA caIssuers and OCSP URLs of a certificate.
fn certificate_urls(cert: &x509_parser::certificate::X509Certificate<'_>) -> (String, String, String) {
    use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
    let (mut crl, mut issuers, mut ocsp) = (None, None, None);
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::CRLDistributionPoints(points) => {
                for point in points.iter() {
                    if let Some(DistributionPointName::FullName(names)) = &point.distribution_point {
                        for name in names {
                            if let GeneralName::URI(uri) = name {
                                crl = Some((*uri).to_owned());
                            }
                        }
                    }
                }
            }
            ParsedExtension::AuthorityInfoAccess(aia) => {
                for desc in &aia.accessdescs {
                    if desc.access_method == x509_parser::oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS
                        && let GeneralName::URI(uri) = &desc.access_location
                    {
                        issuers = Some((*uri).to_owned());
                    }
                    if desc.access_method == x509_parser::oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_OCSP
                        && let GeneralName::URI(uri) = &desc.access_location
                    {
                        ocsp = Some((*uri).to_owned());
                    }
                }
            }
            _ => {}
        }
    }
    (crl.expect("a CRL distribution point"), issuers.expect("a caIssuers URL"), ocsp.expect("an OCSP URL"))
}

impl Crl {
    /// The CRL number, as openssl prints it.
    fn number(&self) -> u64 {
        let mut lines = self.text.lines();
        lines.find(|l| l.contains("X509v3 CRL Number"));
        lines.next().and_then(|l| l.trim().parse().ok()).unwrap_or_else(|| panic!("no CRL number in:\n{}", self.text))
    }

    /// Whether the CRL lists `serial` (hex as Mamori prints it).
    fn lists(&self, serial: &str) -> bool {
        let wanted = serial.trim_start_matches('0').to_ascii_uppercase();
        self.text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Serial Number:"))
            .any(|s| s.trim().trim_start_matches('0').eq_ignore_ascii_case(&wanted))
    }

    /// Whether openssl verifies the CRL's signature with the CA chain in `ca_file`.
    fn signed_by(&self, ca_file: &std::path::Path) -> bool {
        let out = Command::new("openssl")
            .args([
                "crl",
                "-inform",
                "DER",
                "-noout",
                "-in",
                self.der.to_str().expect("utf-8"),
                "-CAfile",
                ca_file.to_str().expect("utf-8"),
            ])
            .output()
            .expect("openssl runs");
        out.status.success() && String::from_utf8_lossy(&out.stderr).contains("verify OK")
    }
}

/// Offers its certificate only when the server's CertificateRequest names its issuer
/// (as browsers do); records each decision.
#[derive(Debug)]
struct AsksForIssuer {
    issuer: Vec<u8>,
    key: Arc<CertifiedKey>,
    offered: Arc<Mutex<Vec<bool>>>,
}

impl ResolvesClientCert for AsksForIssuer {
    fn resolve(&self, root_hint_subjects: &[&[u8]], _schemes: &[rustls::SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        let named = root_hint_subjects.contains(&self.issuer.as_slice());
        if let Ok(mut offered) = self.offered.lock() {
            offered.push(named);
        }
        named.then(|| Arc::clone(&self.key))
    }

    fn has_certs(&self) -> bool {
        true
    }
}

impl CertUser {
    /// Whether the last handshake offered the certificate.
    fn was_offered(&self) -> bool {
        self.offered.lock().map(|o| o.last().copied().unwrap_or(false)).unwrap_or(false)
    }

    /// A fresh login on `node`: certificate step, then the password. The password step's
    /// answer (303 when logged in), or the certificate step's refusal.
    async fn login(&mut self, node: &Node) -> anyhow::Result<(u16, String)> {
        let mut browser = Browser::new(Arc::clone(&self.tls));
        let page = browser.get(&node.mtls_addr(), "/login").await?;
        if page.status != 200 {
            return Ok((page.status, page.body));
        }
        if csrf_token(&page.body).is_none() {
            return Ok((page.status, page.body));
        }
        let done = browser.post_password(&node.mtls_addr(), &page, &self.login_id, PASSWORD).await?;
        if done.status == 303 {
            self.browser = browser;
        }
        Ok((done.status, done.body))
    }
}

fn api_token(cluster: &Cluster) -> String {
    let out = cluster.run(&["admin", "api-token", "create", "--super-admin", "--scope", "read,write", "--output", "json"]);
    let json: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    json["token"].as_str().expect("a token").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revocation_is_in_every_nodes_crl_at_once() -> anyhow::Result<()> {
    let s = setup().await?;
    let (by_cli, by_api, kept) = (s.user("crl-cli").await?, s.user("crl-api").await?, s.user("crl-kept").await?);
    let ca_file = s.chain_file("ca.pem").await?;

    // Both nodes sign and cache a CRL before anything is revoked.
    for node in [&s.a, &s.b] {
        let crl = s.crl(node);
        assert!(crl.signed_by(&ca_file), "node {}'s CRL does not verify with the CA", node.main_url);
        for u in [&by_cli, &by_api, &kept] {
            assert!(!crl.lists(&u.serial), "{} is listed before any revocation:\n{}", u.serial, crl.text);
        }
        assert_eq!(s.ocsp_status(node, &by_api).await?, "good", "OCSP at {} before any revocation", node.main_url);
    }

    // Revoked by an operator's CLI process: listed by the next request to either node.
    s.cluster.run(&["ca", "revoke", "--serial", &by_cli.serial, "--reason", "key-compromise"]);
    let revoked_at = Instant::now();
    for node in [&s.a, &s.b] {
        let crl = s.crl(node);
        assert!(crl.lists(&by_cli.serial), "{} does not list the serial the CLI revoked:\n{}", node.main_url, crl.text);
        assert!(crl.signed_by(&ca_file));
    }
    println!("CLI revocation listed by both nodes after {:?} (two CRL fetches)", revoked_at.elapsed());

    // Revoked through node A's admin API: node B lists it from its next request.
    let bearer = format!("Bearer {}", api_token(&s.cluster));
    let mut client = Browser::anonymous(&s.cluster.data_dir())?;
    let path = format!("/admin/api/v1/tenants/demo/certificates/{}/revoke", by_api.serial);
    let r = client
        .send(
            &s.a.main_addr(),
            "POST",
            &path,
            &[("Authorization", &bearer), ("Content-Type", "application/json")],
            Some(r#"{"reason":"superseded"}"#),
        )
        .await?;
    assert_eq!(r.status, 200, "{}", r.body);
    let revoked_at = Instant::now();
    let crl = s.crl(&s.b);
    let elapsed = revoked_at.elapsed();
    assert!(crl.lists(&by_api.serial), "node B does not list the serial node A revoked:\n{}", crl.text);
    println!("API revocation on node A listed by node B after {elapsed:?} (one CRL fetch)");
    // OCSP says the same on both nodes at once (issue 21: no cache between them).
    for node in [&s.a, &s.b] {
        assert_eq!(s.ocsp_status(node, &by_api).await?, "revoked", "OCSP at {} after node A's revocation", node.main_url);
        assert_eq!(s.ocsp_status(node, &by_cli).await?, "revoked", "OCSP at {} after the CLI's revocation", node.main_url);
        assert_eq!(s.ocsp_status(node, &kept).await?, "good", "OCSP at {} for the kept certificate", node.main_url);
    }
    for node in [&s.a, &s.b] {
        let crl = s.crl(node);
        assert!(crl.lists(&by_cli.serial) && crl.lists(&by_api.serial), "{}:\n{}", node.main_url, crl.text);
        // The certificate nobody revoked is listed by neither node.
        assert!(!crl.lists(&kept.serial), "{} lists an unrevoked serial:\n{}", node.main_url, crl.text);
    }

    // Self-service on node A: the user adds a second PC, then deletes the first, which
    // revokes its certificate; node B lists it from its next request.
    let mut self_service = s.user("crl-self").await?;
    assert_eq!(self_service.login(&s.a).await?.0, 303);
    add_device_and_download(&s, &mut self_service, &s.a).await?;
    let page = self_service.browser.get(&s.a.mtls_addr(), "/account/devices/1/delete").await?;
    assert_eq!(page.status, 200, "{}", page.body);
    let token = csrf_token(&page.body).expect("csrf token").to_owned();
    let deleted = self_service.browser.post_form(&s.a.mtls_addr(), "/account/devices/1/delete", &[("csrf_token", &token)]).await?;
    assert_eq!(deleted.status, 303, "{}", deleted.body);
    let revoked_at = Instant::now();
    let crl = s.crl(&s.b);
    let elapsed = revoked_at.elapsed();
    assert!(crl.lists(&self_service.serial), "node B does not list the certificate of a device deleted on node A:\n{}", crl.text);
    assert!(!crl.lists(&kept.serial));
    println!("self-service device deletion on node A listed by node B after {elapsed:?} (one CRL fetch)");

    // Unchanged revocations: the CRL is served from the cache, not signed again per request.
    let (first, second) = (s.crl(&s.b), s.crl(&s.b));
    assert_eq!(std::fs::read(&first.der)?, std::fs::read(&second.der)?, "node B re-signed an unchanged CRL");

    // The URL written into the certificates is the active CA's own CRL, the same as
    // /ca/crl.der. Both nodes serve one published CRL (the same bytes), and a relying
    // party polling node after node never sees the CRL number go back (RFC 5280 §5.2.3).
    assert!(
        kept.crl_url.contains("/ca/") && kept.crl_url.ends_with("/crl.der") && !kept.crl_url.ends_with("/ca/crl.der"),
        "{}",
        kept.crl_url
    );
    let mut last = 0;
    for round in 0..3 {
        let (from_a, from_b) = (s.crl_at(&on(&s.a, &kept.crl_url)), s.crl_at(&on(&s.b, &kept.crl_url)));
        assert_eq!(std::fs::read(&from_a.der)?, std::fs::read(&from_b.der)?, "round {round}: nodes A and B serve different CRLs");
        assert_eq!(std::fs::read(&from_a.der)?, std::fs::read(&s.crl(&s.a).der)?, "the certificate's CRL URL and /ca/crl.der differ");
        assert!(from_a.number() >= last, "round {round}: CRL number {} after {last}", from_a.number());
        last = from_a.number();
        let next = s.user(&format!("crl-round-{round}")).await?;
        s.cluster.run(&["ca", "revoke", "--serial", &next.serial]);
        // Node B signs the next one; node A must serve it too, not its older copy.
        let (from_b, from_a) = (s.crl(&s.b), s.crl(&s.a));
        assert!(from_b.lists(&next.serial) && from_a.lists(&next.serial));
        assert!(from_b.number() > last, "round {round}: a new revocation did not raise the CRL number ({} after {last})", from_b.number());
        assert_eq!(
            from_a.number(),
            from_b.number(),
            "round {round}: node A serves CRL {} after node B served {}",
            from_a.number(),
            from_b.number()
        );
        last = from_b.number();
    }
    Ok(())
}

/// `url` (written into a certificate, naming one node's public URL) on `node`.
fn on(node: &Node, url: &str) -> String {
    let parsed = url::Url::parse(url).expect("a URL");
    format!("{}{}", node.main_url, parsed.path())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn running_nodes_follow_a_replaced_ca() -> anyhow::Result<()> {
    let s = setup().await?;
    let mut before = s.user("before-replace").await?;
    let old_ca = s.chain_file("old-ca.pem").await?;
    let old_ca_der = s.app.ca.issuing_certificate_der().await?;
    // Both nodes hold the old CA (they issued nothing yet but served its CRL and logins).
    for node in [&s.a, &s.b] {
        assert!(s.crl(node).signed_by(&old_ca));
        assert_eq!(before.login(node).await?.0, 303, "the old CA's certificate does not log in on {}", node.mtls_url);
        assert!(before.was_offered());
    }

    s.cluster.run(&["ca", "init", "--replace", "--common-name", "Replacement Root CA"]);
    let replaced_at = Instant::now();
    let new_ca = s.chain_file("new-ca.pem").await?;
    assert_ne!(std::fs::read(&old_ca)?, std::fs::read(&new_ca)?);

    // The CRL: signed by the new CA from the next request on, on both nodes.
    for node in [&s.a, &s.b] {
        let crl = s.crl(node);
        assert!(crl.signed_by(&new_ca), "{} still signs its CRL with the old CA:\n{}", node.main_url, crl.text);
        assert!(!crl.signed_by(&old_ca));
    }

    // A certificate of the new CA: both running nodes ask for it and log it in.
    let mut after = s.user("after-replace").await?;
    for node in [&s.a, &s.b] {
        loop {
            let (status, body) = after.login(node).await?;
            if status == 303 {
                break;
            }
            assert!(
                replaced_at.elapsed() < CLIENT_CA_BOUND,
                "{} does not take the new CA's certificate {:?} after the replacement: {status} {}",
                node.mtls_url,
                replaced_at.elapsed(),
                element_text(&body, "certificate-refusal").unwrap_or(""),
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(after.was_offered());
        println!("{} asks for and accepts the new CA's certificates {:?} after the replacement", node.mtls_url, replaced_at.elapsed());
    }

    // As design.md and OPERATIONS.md say: the old CA's certificates keep logging in (and
    // are still asked for) until they expire or are revoked; revoked, they are refused.
    for node in [&s.a, &s.b] {
        assert_eq!(before.login(node).await?.0, 303, "the old CA's certificate stopped logging in on {}", node.mtls_url);
        assert!(before.was_offered(), "{} no longer asks for the old CA's certificates", node.mtls_url);
    }
    s.cluster.run(&["ca", "revoke", "--serial", &before.serial]);
    let (status, body) = before.login(&s.b).await?;
    assert_eq!(status, 403, "a revoked certificate of the old CA: {body}");
    assert_eq!(element_text(&body, "certificate-refusal"), Some("The certificate presented has been revoked."));

    // The old CA's certificates name that CA's own CRL and certificate, not "the
    // active CA's": after the replacement both still answer on every node, the CRL
    // signed by the old CA and listing the revocation made after the replacement.
    assert_ne!(before.crl_url, after.crl_url, "both CAs' certificates name one CRL");
    assert_ne!(before.ca_issuers_url, after.ca_issuers_url);
    for node in [&s.a, &s.b] {
        let crl = s.crl_at(&on(node, &before.crl_url));
        assert!(crl.signed_by(&old_ca), "{}'s CRL for the old CA is not signed by it:\n{}", node.main_url, crl.text);
        assert!(crl.lists(&before.serial), "{}: the old CA's CRL does not list its revoked certificate:\n{}", node.main_url, crl.text);
        let issuer = s.cluster.work.path().join(format!("issuer-{}.der", rand_name()));
        assert!(s.curl(&on(node, &before.ca_issuers_url), &issuer).status.success());
        assert_eq!(std::fs::read(&issuer)?, old_ca_der, "{}: the caIssuers URL of an old certificate answers another CA", node.main_url);
        assert!(!s.crl_at(&on(node, &after.crl_url)).lists(&before.serial), "the new CA's CRL lists the old CA's serial");
    }
    // An unknown CA key is a 404, not another CA's CRL.
    let missing = s.curl(&format!("{}/ca/0123456789abcdef/crl.der", s.a.main_url), &s.cluster.work.path().join("missing.der"));
    assert!(!missing.status.success(), "a CRL for a CA that does not exist");

    // Node B issues a certificate for a new device (self-service, a node's own issuance):
    // from the new CA, not the old one.
    let p12 = add_device_and_download(&s, &mut after, &s.b).await?;
    let pem = s.cluster.work.path().join("issued-by-b.pem");
    let out = Command::new("openssl")
        .args(["pkcs12", "-in", p12.file.to_str().expect("utf-8"), "-passin", &format!("pass:{}", p12.password), "-nokeys", "-clcerts"])
        .args(["-out", pem.to_str().expect("utf-8")])
        .output()?;
    assert!(out.status.success(), "the download is not a PKCS#12 that opens: {}", String::from_utf8_lossy(&out.stderr));
    let verify = |ca: &std::path::Path| {
        Command::new("openssl")
            .args(["verify", "-partial_chain", "-CAfile", ca.to_str().expect("utf-8"), pem.to_str().expect("utf-8")])
            .output()
            .map(|o| o.status.success())
    };
    assert!(verify(&new_ca)?, "node B's new certificate does not chain to the new CA");
    assert!(!verify(&old_ca)?, "node B issued from the old CA after the replacement");
    Ok(())
}

struct Download {
    file: std::path::PathBuf,
    password: String,
}

/// Logged in on `node`: adds a PC, then downloads its PKCS#12 from the same node.
async fn add_device_and_download(s: &Setup, user: &mut CertUser, node: &Node) -> anyhow::Result<Download> {
    let addr = node.mtls_addr();
    let form = user.browser.get(&addr, "/account/devices/new").await?;
    assert_eq!(form.status, 200, "{}", form.body);
    let token = csrf_token(&form.body).expect("csrf token").to_owned();
    let email = format!("{}-2@example.test", user.login_id);
    let added = user
        .browser
        .post_form(
            &addr,
            "/account/devices/register",
            &[
                ("csrf_token", &token),
                ("device_email", &email),
                ("device_email_confirmation", &email),
                ("device_type", "pc"),
                ("action", "register"),
            ],
        )
        .await?;
    assert_eq!(added.status, 200, "{}", added.body);
    let acquisition_id = element_text(&added.body, "acquisition-id").expect("acquisition id").trim().to_owned();
    let password = element_text(&added.body, "download-password").expect("download password").trim().to_owned();
    // With curl: the answer is binary (the test client keeps text only).
    let (root, jar) = (s.cluster.data_dir().join("tls/dev-root.pem"), s.cluster.work.path().join("download-jar"));
    let curl = |extra: &[&str]| {
        Command::new("curl")
            .args(["-sS", "--fail", "--cacert", root.to_str().expect("utf-8"), "-b", jar.to_str().expect("utf-8")])
            .args(["-c", jar.to_str().expect("utf-8"), "-H", "Accept-Language: en"])
            .args(extra)
            .arg(format!("{}/download", node.main_url))
            .output()
    };
    let page = mamori_conformance::ok(curl(&[])?);
    let token = csrf_token(&page).expect("csrf token").to_owned();
    let file = s.cluster.work.path().join("download.p12");
    let got = curl(&[
        "-o",
        file.to_str().expect("utf-8"),
        "--data-urlencode",
        &format!("csrf_token={token}"),
        "--data-urlencode",
        &format!("acquisition_id={acquisition_id}"),
        "--data-urlencode",
        &format!("download_password={password}"),
    ])?;
    assert!(got.status.success(), "download: {}", String::from_utf8_lossy(&got.stderr));
    Ok(Download { file, password })
}
