//! The demo relying site of `mamori quickstart`: a tiny website on its own port (plain
//! HTTPS with the quickstart's TLS certificate) that logs its visitor in through Mamori
//! with the authorization code flow and PKCE, verifies the ID token against the JWKS
//! (signature, issuer, audience, nonce, expiry) and shows its claims — the whole journey
//! from one command. It is a public client (`demo-rp`), re-registered at each start with
//! the port it got.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mamori_storage::model::{AccessTokenFormat, SigningAlgorithm};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
use openidconnect::{ClientId, IssuerUrl, Nonce};

use crate::app::App;
use crate::oidc::clients::{self, ClientSettings, ClientSpec};

pub const DEMO_CLIENT_ID: &str = "demo-rp";
const DEFAULT_LISTEN: &str = "127.0.0.1:8445";
const COOKIE: &str = "demo_rp_session";

/// The demo site, bound and registered, not yet serving.
pub struct DemoRp {
    listener: TcpListener,
    url: String,
    server_tls: Arc<rustls::ServerConfig>,
    client_tls: Arc<rustls::ClientConfig>,
}

/// Binds the demo site (`MAMORI_DEMO_RP_LISTEN`, default 127.0.0.1:8445, any free port
/// when that one is taken) and registers its client in `tenant_slug`.
pub async fn prepare(app: &App, tenant_slug: &str, dev_root: &Path) -> anyhow::Result<DemoRp> {
    let wanted: SocketAddr = std::env::var("MAMORI_DEMO_RP_LISTEN")
        .unwrap_or_else(|_| DEFAULT_LISTEN.to_owned())
        .parse()
        .context("MAMORI_DEMO_RP_LISTEN: not an address")?;
    let listener = match TcpListener::bind(wanted).await {
        Ok(l) => l,
        Err(_) => TcpListener::bind(SocketAddr::new(wanted.ip(), 0)).await.context("demo relying site: cannot listen")?,
    };
    let port = listener.local_addr()?.port();
    let url = format!("https://localhost:{port}");
    let tenant = app.storage.tenants().get_by_slug(tenant_slug).await?.context("the demo tenant is missing")?;
    match app.storage.oidc_clients().delete(DEMO_CLIENT_ID, app.now()).await {
        Ok(()) | Err(mamori_storage::StorageError::NotFound) => {}
        Err(err) => return Err(err.into()),
    }
    let spec = ClientSpec {
        client_id: Some(DEMO_CLIENT_ID.to_owned()),
        name: "Mamori demo site".into(),
        redirect_uris: vec![format!("{url}/callback")],
        post_logout_redirect_uris: vec![format!("{url}/")],
        grant_types: vec!["authorization_code".into()],
        auth_method: "none".into(),
        jwks: None,
        scopes: vec!["openid".into(), "profile".into(), "email".into()],
        access_token_format: AccessTokenFormat::Jwt,
        first_party: true,
        require_pkce: true,
        settings: ClientSettings { id_token_signed_response_alg: Some(SigningAlgorithm::Es256), ..ClientSettings::default() },
    };
    clients::create(app, tenant.id, spec).await?;

    let config = &app.config.server;
    let server_tls = crate::server::tls::listener_tls(&config.tls_certificate, &config.tls_private_key, Vec::new())?.main;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(dev_root).with_context(|| format!("cannot read {}", dev_root.display()))? {
        roots.add(cert?)?;
    }
    let client_tls = rustls::ClientConfig::builder_with_provider(crate::server::tls::crypto_provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(DemoRp { listener, url, server_tls, client_tls: Arc::new(client_tls) })
}

impl DemoRp {
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Serves in the background, relying on the issuer at `{main_url}/t/{tenant_slug}`.
    pub fn start(self, main_url: &str, tenant_slug: &str) {
        let state = Arc::new(RpState {
            issuer: format!("{main_url}/t/{tenant_slug}"),
            url: self.url.clone(),
            client_tls: self.client_tls,
            pending: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
        });
        let router = Router::new()
            .route("/", get(home))
            .route("/login", get(login))
            .route("/callback", get(callback))
            .route("/logout", get(logout))
            .with_state(state);
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let (_, acceptor) = tokio::sync::watch::channel(tokio_rustls::TlsAcceptor::from(self.server_tls));
        tokio::spawn(async move {
            let _keep_open = stop_tx;
            crate::server::listener::serve(self.listener, acceptor, crate::state::ListenerKind::Main, router, None, stop_rx).await;
        });
    }
}

struct RpState {
    issuer: String,
    url: String,
    client_tls: Arc<rustls::ClientConfig>,
    /// state → (nonce, PKCE verifier) of requests under way.
    pending: Mutex<HashMap<String, (String, String)>>,
    /// cookie → who logged in.
    sessions: Mutex<HashMap<String, Session>>,
}

#[derive(Clone)]
struct Session {
    /// The ID token's verified claims.
    claims: serde_json::Value,
    /// What the UserInfo endpoint said of the same `sub` (name and e-mail for `profile email`).
    userinfo: serde_json::Value,
    /// For the logout's `id_token_hint`.
    id_token: String,
}

type Rp = State<Arc<RpState>>;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn page(title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{t}</title>\
         <style>body{{font-family:sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem}}\
         pre{{background:#f4f4f4;padding:1rem;white-space:pre-wrap;overflow-wrap:anywhere}}</style>\
         </head><body><h1>{t}</h1>{body}</body></html>",
        t = escape(title)
    );
    Html(html).into_response()
}

fn session_of(state: &RpState, headers: &HeaderMap) -> Option<Session> {
    let cookie = crate::web::request::cookie_value(headers, COOKIE)?;
    state.sessions.lock().ok()?.get(&cookie).cloned()
}

async fn home(State(state): Rp, headers: HeaderMap) -> Response {
    match session_of(&state, &headers) {
        Some(session) => {
            let pretty = serde_json::to_string_pretty(&session.claims).unwrap_or_default();
            let said = |claim: &str| session.userinfo[claim].as_str().or_else(|| session.claims[claim].as_str()).map(escape);
            let name = said("name").or_else(|| said("preferred_username")).unwrap_or_default();
            let email = said("email").map(|e| format!(" (<span id=\"demo-email\">{e}</span>)")).unwrap_or_default();
            page(
                "Mamori demo site — logged in",
                &format!(
                    "<p>Welcome, <strong id=\"demo-name\">{name}</strong>{email}.</p>\
                     <p>Mamori logged you in. The ID token's signature, issuer, audience, nonce and expiry were verified; \
                     the name and e-mail come from the UserInfo endpoint, for the same subject. The ID token's claims:</p>\
                     <pre id=\"claims\">{}</pre><p><a id=\"demo-logout\" href=\"/logout\">Log out</a></p>",
                    escape(&pretty)
                ),
            )
        }
        None => page(
            "Mamori demo site",
            "<p>This small site relies on Mamori for login (OpenID Connect, code flow with PKCE).</p>\
             <p><a id=\"demo-login\" href=\"/login\">Log in with Mamori</a></p>",
        ),
    }
}

async fn login(State(state): Rp) -> Response {
    let request_state = crate::secrets::url_token();
    let nonce = crate::secrets::url_token();
    let verifier = crate::secrets::url_token();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if let Ok(mut pending) = state.pending.lock() {
        pending.insert(request_state.clone(), (nonce.clone(), verifier));
    }
    let params = [
        ("response_type", "code".to_owned()),
        ("client_id", DEMO_CLIENT_ID.to_owned()),
        ("redirect_uri", format!("{}/callback", state.url)),
        ("scope", "openid profile email".to_owned()),
        ("state", request_state),
        ("nonce", nonce),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256".to_owned()),
    ];
    Redirect::to(&crate::urlcode::with_query(&format!("{}/authorize", state.issuer), &params)).into_response()
}

async fn callback(State(state): Rp, Query(q): Query<HashMap<String, String>>) -> Response {
    match finish_login(&state, &q).await {
        Ok(cookie) => {
            let mut response = Redirect::to("/").into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("{COOKIE}={cookie}; Path=/; Secure; HttpOnly; SameSite=Lax")) {
                response.headers_mut().insert(header::SET_COOKIE, v);
            }
            response
        }
        Err(err) => {
            let mut response = page(
                "Mamori demo site — login failed",
                &format!("<p id=\"demo-error\">{}</p><p><a href=\"/\">Back</a></p>", escape(&format!("{err:#}"))),
            );
            *response.status_mut() = StatusCode::BAD_REQUEST;
            response
        }
    }
}

async fn finish_login(state: &RpState, q: &HashMap<String, String>) -> anyhow::Result<String> {
    if let Some(error) = q.get("error") {
        anyhow::bail!("Mamori answered {error}: {}", q.get("error_description").map(String::as_str).unwrap_or(""));
    }
    let request_state = q.get("state").context("no state in the response")?;
    let (nonce, verifier) = state.pending.lock().ok().and_then(|mut p| p.remove(request_state)).context("unknown or used state")?;
    anyhow::ensure!(q.get("iss") == Some(&state.issuer), "the response's iss is not Mamori's issuer");
    let code = q.get("code").context("no code in the response")?;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", &format!("{}/callback", state.url)),
        ("client_id", DEMO_CLIENT_ID),
        ("code_verifier", &verifier),
    ]
    .iter()
    .map(|(k, v)| format!("{k}={}", crate::urlcode::component(v)))
    .collect::<Vec<_>>()
    .join("&");
    let (status, body) = https(state, "POST", &format!("{}/token", state.issuer), Some(&form), None).await?;
    let tokens: serde_json::Value = serde_json::from_slice(&body).context("the token response is not JSON")?;
    anyhow::ensure!(status == 200, "the token endpoint answered {status}: {tokens}");
    let id_token = tokens["id_token"].as_str().context("no ID token")?.to_owned();
    let (_, jwks) = https(state, "GET", &format!("{}/jwks", state.issuer), None, None).await?;
    // The relying-party side of openidconnect checks the signature (with its own ES256
    // verifier, not the aws-lc-rs code that signed), issuer, audience, expiry and nonce.
    let jwks: CoreJsonWebKeySet = serde_json::from_slice(&jwks).context("the JWKS is not a JWK Set")?;
    let verifier =
        CoreIdTokenVerifier::new_public_client(ClientId::new(DEMO_CLIENT_ID.into()), IssuerUrl::new(state.issuer.clone())?, jwks)
            .set_allowed_algs([CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
    let token: CoreIdToken = id_token.parse().context("the ID token is not a JWT")?;
    let verified = token.claims(&verifier, &Nonce::new(nonce.clone())).map_err(|e| anyhow::anyhow!("ID token: {e}"))?;
    let claims = serde_json::to_value(verified)?;
    // Name and e-mail from UserInfo, kept only when it speaks of the ID token's subject
    // (OIDC Core §5.3.2: the sub MUST match, else the answer is not used).
    let access_token = tokens["access_token"].as_str().context("no access token")?;
    let (status, body) = https(state, "GET", &format!("{}/userinfo", state.issuer), None, Some(access_token)).await?;
    let userinfo: serde_json::Value = serde_json::from_slice(&body).context("the UserInfo answer is not JSON")?;
    anyhow::ensure!(status == 200, "the UserInfo endpoint answered {status}: {userinfo}");
    anyhow::ensure!(userinfo["sub"] == claims["sub"], "UserInfo speaks of another subject than the ID token");
    let cookie = crate::secrets::url_token();
    if let Ok(mut sessions) = state.sessions.lock() {
        sessions.insert(cookie.clone(), Session { claims, userinfo, id_token });
    }
    Ok(cookie)
}

async fn logout(State(state): Rp, headers: HeaderMap) -> Response {
    let cookie = crate::web::request::cookie_value(&headers, COOKIE);
    let session = cookie.as_ref().and_then(|c| state.sessions.lock().ok().and_then(|mut s| s.remove(c)));
    let mut response = match session {
        Some(Session { id_token, .. }) => {
            let params = [("id_token_hint", id_token), ("post_logout_redirect_uri", format!("{}/", state.url))];
            Redirect::to(&crate::urlcode::with_query(&format!("{}/end_session", state.issuer), &params)).into_response()
        }
        None => Redirect::to("/").into_response(),
    };
    response.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_static("demo_rp_session=; Path=/; Max-Age=0; Secure; HttpOnly"));
    response
}

/// One HTTPS/1.1 request to Mamori, trusting only the dev root, with a form body or a
/// bearer token; returns (status, body).
async fn https(state: &RpState, method: &str, url: &str, form: Option<&str>, bearer: Option<&str>) -> anyhow::Result<(u16, Vec<u8>)> {
    let rest = url.strip_prefix("https://").context("not an https URL")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (host, port) = authority.rsplit_once(':').map_or((authority, 443), |(h, p)| (h, p.parse().unwrap_or(443)));
    let tcp = TcpStream::connect((host, port)).await?;
    let connector = tokio_rustls::TlsConnector::from(Arc::clone(&state.client_tls));
    let mut tls = connector.connect(ServerName::try_from(host.to_owned())?, tcp).await?;
    let body = form.unwrap_or("");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nAccept: application/json\r\n");
    if form.is_some() {
        request.push_str(&format!("Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n", body.len()));
    }
    if let Some(token) = bearer {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    tls.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    let _ = tls.read_to_end(&mut raw).await;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").context("no HTTP header in the answer")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status: u16 = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).context("no HTTP status")?;
    let mut content = raw[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        content = dechunk(&content);
    }
    Ok((status, content))
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..line_end]).trim(), 16).unwrap_or(0);
        if size == 0 || data.len() < line_end + 2 + size {
            break;
        }
        out.extend_from_slice(&data[line_end + 2..line_end + 2 + size]);
        data = &data[(line_end + 4 + size).min(data.len())..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), b"abcde");
        assert_eq!(escape("<a href=\"x\">&"), "&lt;a href=&quot;x&quot;&gt;&amp;");
    }
}
