//! A `private_key_jwt` client that publishes its keys at a `jwks_uri` (issues #4, #7):
//! the real binary fetches the JWK Set over HTTPS from a small server in this test (its
//! certificate from a test CA trusted through `oidc.jwks_fetch_extra_ca_file`), gets a
//! token with it, follows a key rotation, and refuses unknown keys, an unreachable URI
//! and an oversized set with `invalid_client` rather than a server error. Signed request
//! objects verify with the same keys, given by value or fetched from a registered
//! `request_uri` (OpenID Connect Core §6.2) on the same server.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mamori_conformance::{Quickstart, body_and_status, mamori, ok};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A client's ES256 key and its public JWK.
struct ClientKey {
    kid: String,
    pair: EcdsaKeyPair,
}

impl ClientKey {
    fn new(kid: &str) -> ClientKey {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).expect("key");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).expect("key");
        ClientKey { kid: kid.to_owned(), pair }
    }

    fn jwk(&self) -> serde_json::Value {
        let point = self.pair.public_key().as_ref();
        serde_json::json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        })
    }

    /// An RFC 7523 client assertion for the token endpoint at `aud`.
    fn assertion(&self, client_id: &str, aud: &str) -> String {
        static JTI: AtomicUsize = AtomicUsize::new(0);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
        let claims = serde_json::json!({
            "iss": client_id, "sub": client_id, "aud": aud, "iat": now, "exp": now + 120,
            "jti": format!("jti-{now}-{}", JTI.fetch_add(1, Ordering::SeqCst)),
        });
        self.sign("JWT", &claims)
    }

    fn sign(&self, typ: &str, claims: &serde_json::Value) -> String {
        let header = serde_json::json!({"alg": "ES256", "kid": self.kid, "typ": typ});
        let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = self.pair.sign(&SystemRandom::new(), input.as_bytes()).expect("sign");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }
}

/// The relying site's key server: `/jwks` serves the current set (counting requests),
/// `/big` a set larger than the provider accepts, other paths what [`JwksServer::put`]
/// stored there (each request's path is kept in `paths`).
struct JwksServer {
    port: u16,
    jwks: Arc<Mutex<String>>,
    hits: Arc<AtomicUsize>,
    documents: Arc<Mutex<HashMap<String, String>>>,
    paths: Arc<Mutex<Vec<String>>>,
}

async fn start_jwks_server(dir: &std::path::Path) -> (JwksServer, std::path::PathBuf) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "jwks_uri test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().expect("key")).expect("CA");
    let leaf_key = rcgen::KeyPair::generate().expect("key");
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("params")
        .signed_by(&leaf_key, &*ca)
        .expect("leaf");
    let ca_file = dir.join("jwks-test-ca.pem");
    std::fs::write(&ca_file, ca.pem()).expect("write CA");

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()))
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let jwks = Arc::new(Mutex::new(String::new()));
    let hits = Arc::new(AtomicUsize::new(0));
    let documents = Arc::new(Mutex::new(HashMap::new()));
    let paths = Arc::new(Mutex::new(Vec::new()));
    let (served, counted, stored, seen) = (jwks.clone(), hits.clone(), documents.clone(), paths.clone());
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { continue };
            let (acceptor, served, counted) = (acceptor.clone(), served.clone(), counted.clone());
            let (stored, seen) = (stored.clone(), seen.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request);
                let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
                seen.lock().expect("lock").push(path.clone());
                let stored = stored.lock().expect("lock").get(&path).cloned();
                let body = match path.as_str() {
                    "/jwks" => {
                        counted.fetch_add(1, Ordering::SeqCst);
                        served.lock().expect("lock").clone()
                    }
                    "/big" => format!(r#"{{"keys":[],"padding":"{}"}}"#, "x".repeat(200 * 1024)),
                    _ => stored.unwrap_or_default(),
                };
                let status = if body.is_empty() { "404 Not Found" } else { "200 OK" };
                let head = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = tls.write_all(head.as_bytes()).await;
                let _ = tls.write_all(body.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (JwksServer { port, jwks, hits, documents, paths }, ca_file)
}

impl JwksServer {
    fn serve(&self, keys: &[&ClientKey]) {
        let set = serde_json::json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()});
        *self.jwks.lock().expect("lock") = set.to_string();
    }

    fn put(&self, path: &str, body: &str) {
        self.documents.lock().expect("lock").insert(path.to_owned(), body.to_owned());
    }

    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    fn requested(&self, path: &str) -> bool {
        self.paths.lock().expect("lock").iter().any(|p| p == path)
    }
}

/// Registers a private_key_jwt client for client_credentials that publishes its keys at
/// `jwks_uri`, as an operator does (`mamori admin oidc-client create --jwks-uri`).
async fn register(qs: &Quickstart, client_id: &str, jwks_uri: &str) {
    ok(mamori(
        &qs.config(),
        &[
            "admin",
            "oidc-client",
            "create",
            "--tenant",
            "demo",
            "--client-id",
            client_id,
            "--name",
            client_id,
            "--grant-type",
            "client_credentials",
            "--auth-method",
            "private_key_jwt",
            "--jwks-uri",
            jwks_uri,
        ],
    ));
}

/// POSTs a client_credentials request authenticated by `assertion`; (status, JSON body).
fn token_request(qs: &Quickstart, assertion: &str) -> (u16, serde_json::Value) {
    let out = qs.curl(
        "/t/demo/token",
        &[
            "-w",
            "\n%{http_code}",
            "--data-urlencode",
            "grant_type=client_credentials",
            "--data-urlencode",
            "client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "--data-urlencode",
            &format!("client_assertion={assertion}"),
        ],
    );
    let (body, status) = body_and_status(&out);
    (status, serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON (HTTP {status}): {body}")))
}

#[track_caller]
fn assert_invalid_client(response: (u16, serde_json::Value), what: &str) {
    let (status, body) = response;
    assert_eq!(status, 401, "{what}: {body}");
    assert_eq!(body["error"], "invalid_client", "{what}: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_uri_client_gets_tokens_follows_rotation_and_fails_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, ca_file) = start_jwks_server(dir.path()).await;
    let ca = ca_file.display().to_string();
    // The key server is on 127.0.0.1, which the provider refuses to fetch from unless
    // the operator allows non-public destinations.
    let qs = Quickstart::start_with_env(
        dir.path(),
        &[("MAMORI_OIDC__JWKS_FETCH_EXTRA_CA_FILE", ca.as_str()), ("MAMORI_OIDC__OUTBOUND_ALLOW_PRIVATE", "true")],
    );
    let aud = format!("{}/t/demo/token", qs.main_url);

    let first = ClientKey::new("key-1");
    server.serve(&[&first]);
    register(&qs, "rotating-rp", &format!("https://127.0.0.1:{}/jwks", server.port)).await;
    // Nothing listens on a port we just released.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    register(&qs, "unreachable-rp", &format!("https://127.0.0.1:{closed}/jwks")).await;
    register(&qs, "oversized-rp", &format!("https://127.0.0.1:{}/big", server.port)).await;

    // The first assertion makes the provider fetch the set; the second uses its cache.
    let fetched_at = Instant::now();
    let (status, body) = token_request(&qs, &first.assertion("rotating-rp", &aud));
    assert_eq!(status, 200, "{body}");
    assert!(body["access_token"].as_str().is_some_and(|t| !t.is_empty()), "{body}");
    let (status, body) = token_request(&qs, &first.assertion("rotating-rp", &aud));
    assert_eq!(status, 200, "{body}");
    assert_eq!(server.hits.load(Ordering::SeqCst), 1, "the cached set is used");

    // A key the client never published: refused, and within 30 s of the last fetch an
    // unknown kid does not make the provider fetch again.
    let stranger = ClientKey::new("not-published");
    assert_invalid_client(token_request(&qs, &stranger.assertion("rotating-rp", &aud)), "unknown key");
    assert_eq!(server.hits.load(Ordering::SeqCst), 1, "no refetch within 30 s");

    // A published set the provider cannot get: refused as the client's failure, not a 500.
    assert_invalid_client(token_request(&qs, &first.assertion("unreachable-rp", &aud)), "unreachable jwks_uri");
    assert_invalid_client(token_request(&qs, &first.assertion("oversized-rp", &aud)), "oversized jwks_uri");

    // The client rotates: only the new key is published. Once 30 s have passed since the
    // last fetch, the new kid makes the provider fetch again and the client gets tokens.
    let second = ClientKey::new("key-2");
    server.serve(&[&second]);
    let wait = Duration::from_secs(31).saturating_sub(fetched_at.elapsed());
    tokio::time::sleep(wait).await;
    let (status, body) = token_request(&qs, &second.assertion("rotating-rp", &aud));
    assert_eq!(status, 200, "after rotation: {body}");
    assert_eq!(server.hits.load(Ordering::SeqCst), 2, "one refetch for the new kid");
    // The retired key no longer works, and the unknown key still does not.
    assert_invalid_client(token_request(&qs, &first.assertion("rotating-rp", &aud)), "retired key");
    assert_invalid_client(token_request(&qs, &stranger.assertion("rotating-rp", &aud)), "unknown key after rotation");

    // The failures were logged, not turned into server errors; the server is still up.
    let health = qs.curl("/t/demo/.well-known/openid-configuration", &["-o", "/dev/null", "-w", "%{http_code}"]);
    assert_eq!(mamori_conformance::stdout(&health), "200");
    qs.stop();
}

/// A GET of the authorization endpoint; (status, Location).
fn authorize(qs: &Quickstart, query: &[(&str, &str)]) -> (u16, String) {
    let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={}", mamori_conformance::cluster::encode(v))).collect();
    let out = qs.curl(&format!("/t/demo/authorize?{}", query.join("&")), &["-o", "/dev/null", "-w", "%{http_code} %{redirect_url}"]);
    let (status, location) = status_and_location(&out);
    // An accepted request continues at the certificate listener (where prompt=none is
    // answered); a refused one goes straight back to the client.
    if !location.contains("/oidc/resume/") {
        return (status, location);
    }
    let out = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "20", "--cacert"])
        .arg(qs.dev_root())
        .args(["-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", &location])
        .output()
        .expect("curl runs");
    status_and_location(&out)
}

fn status_and_location(out: &std::process::Output) -> (u16, String) {
    let text = mamori_conformance::stdout(out);
    let (status, location) = text.split_once(' ').unwrap_or((text.as_str(), ""));
    (status.parse().unwrap_or(0), location.to_owned())
}

#[track_caller]
fn assert_answer(answer: (u16, String), error: &str, state: &str) {
    let (status, location) = answer;
    assert!((300..400).contains(&status) && location.starts_with("https://rp.test/cb?"), "HTTP {status} to {location}");
    assert_eq!(mamori_conformance::cluster::query_param(&location, "error").as_deref(), Some(error), "{location}");
    assert_eq!(mamori_conformance::cluster::query_param(&location, "state").as_deref(), Some(state), "{location}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_objects_verify_with_jwks_uri_keys_by_value_and_by_reference() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, ca_file) = start_jwks_server(dir.path()).await;
    let ca = ca_file.display().to_string();
    let qs = Quickstart::start_with_env(
        dir.path(),
        &[("MAMORI_OIDC__JWKS_FETCH_EXTRA_CA_FILE", ca.as_str()), ("MAMORI_OIDC__OUTBOUND_ALLOW_PRIVATE", "true")],
    );
    let key = ClientKey::new("ro-key");
    server.serve(&[&key]);
    // Registered with a hash fragment, as Dynamic Registration suggests; matched without it.
    ok(mamori(
        &qs.config(),
        &[
            "admin",
            "oidc-client",
            "create",
            "--tenant",
            "demo",
            "--client-id",
            "ro-rp",
            "--name",
            "ro-rp",
            "--redirect-uri",
            "https://rp.test/cb",
            "--grant-type",
            "authorization_code",
            "--auth-method",
            "private_key_jwt",
            "--jwks-uri",
            &server.url("/jwks"),
            "--request-uri",
            &server.url("/ro/good#v1"),
            "--request-uri",
            &server.url("/ro/gone"),
        ],
    ));
    let discovery = qs.curl("/t/demo/.well-known/openid-configuration", &[]);
    let discovery: serde_json::Value = serde_json::from_str(&mamori_conformance::stdout(&discovery)).expect("discovery JSON");
    assert_eq!(discovery["request_uri_parameter_supported"], true);
    assert_eq!(discovery["require_request_uri_registration"], true);

    // prompt=none without a session: the answer at the redirect URI carries the object's
    // state, so the object (not the query) was the request.
    let in_five_minutes = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) + 300;
    let claims = |state: &str| {
        serde_json::json!({
            "iss": "ro-rp", "aud": format!("{}/t/demo", qs.main_url), "client_id": "ro-rp", "response_type": "code",
            "redirect_uri": "https://rp.test/cb", "scope": "openid", "state": state, "nonce": "n", "prompt": "none",
            "exp": in_five_minutes,
        })
    };
    let object = |state: &str| key.sign("oauth-authz-req+jwt", &claims(state));
    let by_value = object("by-value");
    assert_answer(authorize(&qs, &[("client_id", "ro-rp"), ("request", &by_value)]), "login_required", "by-value");
    // The same object without exp could be replayed forever: refused (the query's state
    // answers, as the object was not honoured).
    let mut unbounded = claims("no-exp");
    if let Some(c) = unbounded.as_object_mut() {
        c.remove("exp");
    }
    let fallback_query = [("client_id", "ro-rp"), ("redirect_uri", "https://rp.test/cb"), ("state", "query")];
    let mut q = fallback_query.to_vec();
    let no_exp = key.sign("oauth-authz-req+jwt", &unbounded);
    q.push(("request", &no_exp));
    assert_answer(authorize(&qs, &q), "invalid_request_object", "query");

    server.put("/ro/good", &object("by-reference"));
    let good = server.url("/ro/good");
    assert_answer(authorize(&qs, &[("client_id", "ro-rp"), ("request_uri", &good)]), "login_required", "by-reference");
    // Anonymous requests naming it again reuse the object until its exp: one fetch, not one
    // per request.
    for _ in 0..3 {
        assert_answer(authorize(&qs, &[("client_id", "ro-rp"), ("request_uri", &good)]), "login_required", "by-reference");
    }
    let fetches = server.paths.lock().expect("lock").iter().filter(|p| *p == "/ro/good").count();
    assert_eq!(fetches, 1, "the request object was fetched for every request");

    // A request object signed by a key the client does not publish is refused (a changed
    // object comes with a new fragment, Core §6.2, so it is fetched anew).
    server.put("/ro/good", &ClientKey::new("ro-key").sign("oauth-authz-req+jwt", &serde_json::json!({"iss": "ro-rp", "state": "forged"})));
    let fallback = [("client_id", "ro-rp"), ("redirect_uri", "https://rp.test/cb"), ("state", "query")];
    let with = |uri: &str| {
        let mut q = fallback.to_vec();
        q.push(("request_uri", uri));
        authorize(&qs, &q)
    };
    assert_answer(with(&format!("{good}#v2")), "invalid_request_object", "query");

    // Not registered: refused without fetching it.
    let other = server.url("/ro/other");
    server.put("/ro/other", &object("unregistered"));
    assert_answer(with(&other), "invalid_request_uri", "query");
    assert!(!server.requested("/ro/other"), "an unregistered request_uri is never fetched");
    // Registered, but the fetch fails (404) or returns no JWT.
    assert_answer(with(&server.url("/ro/gone")), "invalid_request_uri", "query");
    server.put("/ro/gone", "<html>not a request object</html>");
    assert_answer(with(&server.url("/ro/gone")), "invalid_request_uri", "query");
    qs.stop();
}

/// `mamori admin saml-sp add --metadata https://…` fetches through the same outbound
/// client (and its trust settings) as the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saml_sp_metadata_is_fetched_from_an_https_url() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, ca_file) = start_jwks_server(dir.path()).await;
    let qs = Quickstart::start(dir.path());
    server.put("/sp.xml", r#"<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.fetched.test/metadata">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.fetched.test/acs" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"#);
    let cli = |args: &[&str], trust: bool| {
        let mut command = std::process::Command::new(mamori_conformance::mamori_bin());
        command.arg("--config").arg(qs.config()).args(args).env_remove("MAMORI_CONFIG");
        if trust {
            command.env("MAMORI_OIDC__JWKS_FETCH_EXTRA_CA_FILE", &ca_file);
        }
        command.output().expect("mamori runs")
    };
    let add = |url: &str, trust: bool| cli(&["admin", "saml-sp", "add", "--tenant", "demo", "--metadata", url], trust);
    // Without the test CA the certificate is not trusted; a missing document is an error.
    let untrusted = add(&server.url("/sp.xml"), false);
    assert!(!untrusted.status.success(), "{}", mamori_conformance::stdout(&untrusted));
    let missing = add(&server.url("/nothing.xml"), true);
    assert!(!missing.status.success() && mamori_conformance::stderr(&missing).contains("404"), "{}", mamori_conformance::stderr(&missing));
    ok(add(&server.url("/sp.xml"), true));
    let listed = ok(cli(&["admin", "saml-sp", "list", "--tenant", "demo"], false));
    assert!(listed.contains("https://sp.fetched.test/metadata"), "{listed}");
    qs.stop();
}
