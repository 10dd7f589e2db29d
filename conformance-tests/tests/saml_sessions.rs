//! SAML clauses that need a logged-in user, through the real binary without a browser: the
//! login over TLS with the user's certificate (`login_client`), the SAML messages made
//! here (DEFLATE, base64, query signatures with the SP's own RSA key). Each hostile case
//! beside its honest twin; `conformance-tests/clauses/saml-*.md` cite them.
//!
//! - Core §3.4.1.1, Profiles §4.1.4.1: `AllowCreate="false"` gets no new persistent
//!   identifier (InvalidNameIDPolicy), once one exists it is returned.
//! - Core §2.7.2, §3.4.1: after ForceAuthn the AuthnInstant is the new login.
//! - Core §3.7.3.2, Profiles §4.4.4.2, Bindings §3.4.5.2: a told SP's LogoutResponse that
//!   names another Destination does not confirm the logout: the requester gets
//!   Success + PartialLogout; a correctly addressed one gives plain Success.
//! - Core §3.4.1.4: a user who may no longer log in (locked) gets an error status
//!   (AuthnFailed) from the session that worked a moment before, never an assertion.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mamori::saml::binding::{deflate, form_encode, inflate};
use mamori::saml::keys::{KeyUse, generate};
use mamori_conformance::cluster::query_param;
use mamori_conformance::login_client::{LoginUser, Response, TlsSession, dev_roots, provision_user};
use mamori_conformance::{Quickstart, decode_entities, mamori, ok, stdout};
use mamori_storage::model::LockReason;

const PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// A test service provider: its entity ID, base URL and signing key (PKCS#8).
struct Sp {
    entity: String,
    base: String,
    pkcs8: Vec<u8>,
}

impl Sp {
    /// Generates a key and registers the SP (unsigned AuthnRequests allowed, Redirect SLO).
    fn register(qs: &Quickstart, dir: &std::path::Path, name: &str) -> anyhow::Result<Sp> {
        let (_, pkcs8, der) = generate(KeyUse::Signing, time::OffsetDateTime::now_utc())?;
        let base = format!("https://{name}.example");
        let entity = format!("{base}/metadata");
        let metadata = format!(
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity}"><md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{base}/slo"/><md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{base}/acs" index="0"/></md:SPSSODescriptor></md:EntityDescriptor>"#,
            STANDARD.encode(&der)
        );
        let path = dir.join(format!("{name}.xml"));
        std::fs::write(&path, metadata)?;
        ok(mamori(&qs.config(), &["admin", "saml-sp", "add", "--tenant", "demo", "--metadata", &path.display().to_string()]));
        Ok(Sp { entity, base, pkcs8: pkcs8.to_vec() })
    }

    /// A Redirect-binding query for `xml` as `param`, with RelayState when given, signed
    /// with this SP's key when `sign` (SAML Bindings §3.4.4.1).
    fn query(&self, param: &str, xml: &str, relay_state: Option<&str>, sign: bool) -> String {
        let mut q = format!("{param}={}", form_encode(&STANDARD.encode(deflate(xml.as_bytes()))));
        if let Some(rs) = relay_state {
            q.push_str(&format!("&RelayState={}", form_encode(rs)));
        }
        if !sign {
            return q;
        }
        q.push_str(&format!("&SigAlg={}", form_encode(RSA_SHA256)));
        let pair = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&self.pkcs8).expect("RSA key");
        let mut signature = vec![0u8; pair.public_modulus_len()];
        pair.sign(&aws_lc_rs::signature::RSA_PKCS1_SHA256, &aws_lc_rs::rand::SystemRandom::new(), q.as_bytes(), &mut signature)
            .expect("signs");
        q.push_str(&format!("&Signature={}", form_encode(&STANDARD.encode(signature))));
        q
    }

    fn authn_request(&self, qs: &Quickstart, id: &str, attrs: &str, allow_create: bool) -> String {
        let now = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).expect("time");
        format!(
            r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{now}" Destination="{}/t/demo/saml/sso"{attrs}><saml:Issuer>{}</saml:Issuer><samlp:NameIDPolicy Format="{PERSISTENT}" AllowCreate="{allow_create}"/></samlp:AuthnRequest>"#,
            qs.main_url, self.entity
        )
    }
}

/// `(status, Location)` of a GET on the main listener.
fn get_main(qs: &Quickstart, path_and_query: &str) -> (u16, String) {
    let text = stdout(&qs.curl(path_and_query, &["-o", "/dev/null", "-w", "%{http_code} %{redirect_url}"]));
    let (status, location) = text.split_once(' ').unwrap_or((text.as_str(), ""));
    (status.parse().unwrap_or(0), location.to_owned())
}

/// The XML of the SAMLResponse an auto-POST page carries.
fn posted_response(page: &Response) -> String {
    assert_eq!(page.status, 200, "{}", page.body);
    let value = page.body.split("name=\"SAMLResponse\" value=\"").nth(1).and_then(|s| s.split('"').next()).expect("a SAMLResponse field");
    String::from_utf8(STANDARD.decode(decode_entities(value)).expect("base64")).expect("UTF-8")
}

/// The XML of the message a redirect carries in `param`.
fn redirected_message(location: &str, param: &str) -> String {
    let value = query_param(location, param).unwrap_or_else(|| panic!("no {param} in {location}"));
    String::from_utf8(inflate(&STANDARD.decode(value).expect("base64")).expect("inflates")).expect("UTF-8")
}

fn attribute(xml: &str, name: &str) -> Option<String> {
    xml.split(&format!(" {name}=\"")).nth(1).and_then(|s| s.split('"').next()).map(str::to_owned)
}

fn name_id(xml: &str) -> Option<String> {
    xml.split("<saml2:NameID").nth(1)?.split_once('>')?.1.split('<').next().map(str::to_owned)
}

/// A fresh browser: a TLS session with the user's certificate, logged in with the password.
async fn logged_in(addr: &str, user: &LoginUser) -> anyhow::Result<TlsSession> {
    let mut session = TlsSession::connect(addr, Arc::clone(&user.tls)).await?;
    let page = session.get("/login").await?;
    let done = session.post("/login/password", &page, &[("login_id", &user.login_id), ("password", &user.password)]).await?;
    assert_eq!(done.status, 303, "{}", done.body);
    Ok(session)
}

/// Sends an unsigned AuthnRequest and follows it in `session`; the page it ends on.
async fn sso(qs: &Quickstart, session: &mut TlsSession, sp: &Sp, id: &str, attrs: &str, allow_create: bool) -> anyhow::Result<Response> {
    let (status, location) =
        get_main(qs, &format!("/t/demo/saml/sso?{}", sp.query("SAMLRequest", &sp.authn_request(qs, id, attrs, allow_create), None, false)));
    assert_eq!(status, 303, "{location}");
    let path = location.strip_prefix(&qs.mtls_url).unwrap_or_else(|| panic!("not on the certificate listener: {location}")).to_owned();
    session.get(&path).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saml_answers_that_need_a_logged_in_user() -> anyhow::Result<()> {
    mamori::server::tls::install_default_provider();
    let work = tempfile::tempdir()?;
    let qs = Quickstart::start(work.path());
    let app = mamori::app::App::open(&qs.config()).await?;
    let demo = app.storage.tenants().get_by_slug("demo").await?.expect("demo tenant");
    let roots = dev_roots(&qs.data_dir())?;
    let hash = app.hasher.hash("Right-Password1").await?;
    let alice = provision_user(&app, &demo, "alice", &hash, "Right-Password1", &roots).await?;
    let addr = qs.mtls_url.replace("https://localhost", "127.0.0.1");
    let (a, b) = (Sp::register(&qs, work.path(), "sp-a")?, Sp::register(&qs, work.path(), "sp-b")?);

    // AllowCreate (Core §3.4.1.1): "false" before any identifier exists → InvalidNameIDPolicy,
    // no assertion; "true" creates it; "false" afterwards returns the same one.
    let mut browser = logged_in(&addr, &alice).await?;
    let refused = posted_response(&sso(&qs, &mut browser, &a, "_ac_false_1", "", false).await?);
    assert!(refused.contains("status:InvalidNameIDPolicy"), "{refused}");
    assert!(!refused.contains("<saml2:Assertion"), "{refused}");
    let created = posted_response(&sso(&qs, &mut browser, &a, "_ac_true", "", true).await?);
    assert!(created.contains("status:Success"), "{created}");
    let first = name_id(&created).expect("a NameID");
    let again = posted_response(&sso(&qs, &mut browser, &a, "_ac_false_2", "", false).await?);
    assert!(again.contains("status:Success"), "{again}");
    assert_eq!(name_id(&again).as_deref(), Some(first.as_str()), "the established identifier");

    // ForceAuthn (Core §3.4.1): a new login, and the AuthnInstant says so (Core §2.7.2).
    let before = time::OffsetDateTime::parse(
        &attribute(&again, "AuthnInstant").expect("AuthnInstant"),
        &time::format_description::well_known::Rfc3339,
    )?;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let login = sso(&qs, &mut browser, &a, "_force", r#" ForceAuthn="true""#, true).await?;
    assert_eq!(login.status, 303, "ForceAuthn sends to the login: {}", login.body);
    let form_at = login.header("location").expect("location").to_owned();
    let form = browser.get(&form_at).await?;
    let done = browser.post("/login/password", &form, &[("login_id", "alice"), ("password", "Right-Password1")]).await?;
    assert_eq!(done.status, 303, "{}", done.body);
    let back = done.header("location").expect("location").to_owned();
    let forced = posted_response(&browser.get(&back).await?);
    let after = time::OffsetDateTime::parse(
        &attribute(&forced, "AuthnInstant").expect("AuthnInstant"),
        &time::format_description::well_known::Rfc3339,
    )?;
    assert!(after > before, "AuthnInstant {after} after ForceAuthn, {before} before");

    // Single logout from A tells B; B's LogoutResponse decides Success or PartialLogout.
    let wrong = format!("{}/t/other/saml/slo", qs.main_url);
    let right = format!("{}/t/demo/saml/slo", qs.main_url);
    for (case, destination, partial) in [("hostile", wrong.as_str(), true), ("honest", right.as_str(), false)] {
        let mut browser = logged_in(&addr, &alice).await?;
        let at_a = posted_response(&sso(&qs, &mut browser, &a, &format!("_slo_a_{case}"), "", true).await?);
        let at_b = posted_response(&sso(&qs, &mut browser, &b, &format!("_slo_b_{case}"), "", true).await?);
        assert!(at_b.contains("status:Success"), "{at_b}");
        let (index, name) = (attribute(&at_a, "SessionIndex").expect("SessionIndex"), name_id(&at_a).expect("NameID"));
        let now = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339)?;
        let logout = format!(
            r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_lr_{case}" Version="2.0" IssueInstant="{now}" Destination="{right}"><saml:Issuer>{}</saml:Issuer><saml:NameID Format="{PERSISTENT}">{name}</saml:NameID><samlp:SessionIndex>{index}</samlp:SessionIndex></samlp:LogoutRequest>"#,
            a.entity
        );
        let (status, to_b) = get_main(&qs, &format!("/t/demo/saml/slo?{}", a.query("SAMLRequest", &logout, Some("from-a"), true)));
        assert_eq!(status, 303, "{to_b}");
        assert!(to_b.starts_with(&format!("{}/slo?", b.base)), "B is told: {to_b}");
        let told = redirected_message(&to_b, "SAMLRequest");
        let chain = query_param(&to_b, "RelayState").expect("RelayState");
        let request_id = attribute(&told, "ID").expect("ID");
        let answer = format!(
            r#"<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_resp_{case}" Version="2.0" IssueInstant="{now}" Destination="{destination}" InResponseTo="{request_id}"><saml:Issuer>{}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>"#,
            b.entity
        );
        let (status, to_a) = get_main(&qs, &format!("/t/demo/saml/slo?{}", b.query("SAMLResponse", &answer, Some(&chain), true)));
        assert_eq!(status, 303, "{case}: {to_a}");
        assert!(to_a.starts_with(&format!("{}/slo?", a.base)), "{case}: A gets the answer: {to_a}");
        assert_eq!(query_param(&to_a, "RelayState").as_deref(), Some("from-a"));
        let result = redirected_message(&to_a, "SAMLResponse");
        assert!(result.contains(r#"StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success""#), "{case}: {result}");
        assert_eq!(result.contains("status:PartialLogout"), partial, "{case} (Destination {destination}): {result}");
    }

    // Single logout ends the sessions of the principal the NameID names (Profiles §4.4.4),
    // not those of the browser that happens to carry the message: alice's NameID, carried
    // by bob's browser, logs alice out and leaves bob logged in.
    let bob = provision_user(&app, &demo, "bob", &hash, "Right-Password1", &roots).await?;
    let mut alices = logged_in(&addr, &alice).await?;
    let at_a = posted_response(&sso(&qs, &mut alices, &a, "_carrier_alice", "", true).await?);
    let mut bobs = logged_in(&addr, &bob).await?;
    assert!(posted_response(&sso(&qs, &mut bobs, &a, "_carrier_bob", "", true).await?).contains("status:Success"));
    let (index, name) = (attribute(&at_a, "SessionIndex").expect("SessionIndex"), name_id(&at_a).expect("NameID"));
    let now = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339)?;
    let logout = format!(
        r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_lr_carrier" Version="2.0" IssueInstant="{now}" Destination="{}/t/demo/saml/slo"><saml:Issuer>{}</saml:Issuer><saml:NameID Format="{PERSISTENT}">{name}</saml:NameID><samlp:SessionIndex>{index}</samlp:SessionIndex></samlp:LogoutRequest>"#,
        qs.main_url, a.entity
    );
    let carried = bobs.get(&format!("/t/demo/saml/slo?{}", a.query("SAMLRequest", &logout, None, true))).await?;
    assert_eq!(carried.status, 303, "{}", carried.body);
    assert!(carried.header("location").is_some_and(|l| l.starts_with(&format!("{}/slo?", a.base))), "A gets its answer");
    let bob_after = posted_response(&sso(&qs, &mut bobs, &a, "_carrier_bob_after", "", true).await?);
    assert!(bob_after.contains("status:Success"), "bob, who carried it, is still logged in: {bob_after}");
    let alice_after = sso(&qs, &mut alices, &a, "_carrier_alice_after", "", true).await?;
    assert_eq!(alice_after.status, 303, "alice's session ended: she is sent to log in: {}", alice_after.body);

    // A locked user (Core §3.4.1.4): the same session that was just answered gets AuthnFailed.
    let mut browser = logged_in(&addr, &alice).await?;
    let before_lock = posted_response(&sso(&qs, &mut browser, &a, "_before_lock", "", true).await?);
    assert!(before_lock.contains("status:Success"), "{before_lock}");
    let user = app.storage.users().get_by_login_id(demo.id, "alice").await?.expect("alice");
    assert!(app.storage.users().lock(user.id, LockReason::Password, app.now()).await?);
    let locked = posted_response(&sso(&qs, &mut browser, &a, "_after_lock", "", true).await?);
    assert!(locked.contains(r#"status:Responder"><saml2p:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:AuthnFailed""#), "{locked}");
    assert!(!locked.contains("<saml2:Assertion"), "{locked}");
    qs.stop();
    Ok(())
}
