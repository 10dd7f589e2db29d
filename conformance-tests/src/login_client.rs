//! A minimal HTTPS client for driving logins with a client certificate, and provisioning
//! of login users through the library (the load generator and the login tests share it).
//! Only setup goes through the library; every login goes over TLS to the real binary.

use std::sync::Arc;

use anyhow::Context as _;
use mamori::pki::CertificateOwner;
use mamori_storage::model::{DeviceType, LoginMethod, NewDevice, NewUser, Tenant};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A user who can log in: its ID, password and a TLS client config with its certificate.
pub struct LoginUser {
    pub login_id: String,
    pub password: String,
    pub tls: Arc<rustls::ClientConfig>,
}

/// Creates a cert+password user with a certificate for its first device.
pub async fn provision_user(
    app: &mamori::app::App,
    tenant: &Tenant,
    login_id: &str,
    password_hash: &str,
    password: &str,
    roots: &rustls::RootCertStore,
) -> anyhow::Result<LoginUser> {
    provision_user_with(app, tenant, login_id, LoginMethod::CertPassword, password_hash, password, roots).await
}

/// Creates a user with `method`, a password and a certificate for its first device.
pub async fn provision_user_with(
    app: &mamori::app::App,
    tenant: &Tenant,
    login_id: &str,
    method: LoginMethod,
    password_hash: &str,
    password: &str,
    roots: &rustls::RootCertStore,
) -> anyhow::Result<LoginUser> {
    let now = app.now();
    let user = app.storage.users().create(&NewUser::new(tenant.id, login_id, method), now).await?;
    let device = app
        .storage
        .devices()
        .add_device(&NewDevice { user_id: user.id, device_type: DeviceType::Pc, email: format!("{login_id}@example.test") }, 3, now)
        .await?;
    app.storage.users().set_password(user.id, password_hash, false, 1, now).await?;
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
    let key = issued.private_key_pkcs8_der.as_ref().context("key")?.to_vec();
    let mut certs = vec![CertificateDer::from(issued.certificate_der.clone())];
    certs.extend(app.ca.pkcs12_chain().await?.into_iter().map(CertificateDer::from));
    let tls = rustls::ClientConfig::builder()
        .with_root_certificates(roots.clone())
        .with_client_auth_cert(certs, PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)))?;
    Ok(LoginUser { login_id: login_id.to_owned(), password: password.to_owned(), tls: Arc::new(tls) })
}

/// The dev root of a quickstart data folder as a trust store.
pub fn dev_roots(data_dir: &std::path::Path) -> anyhow::Result<rustls::RootCertStore> {
    let pem = std::fs::read(data_dir.join("tls/dev-root.pem"))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in <CertificateDer<'_> as rustls::pki_types::pem::PemObject>::pem_slice_iter(&pem) {
        roots.add(cert?)?;
    }
    Ok(roots)
}

/// One full login on a fresh TLS connection.
pub async fn login(addr: &str, user: &LoginUser) -> anyhow::Result<()> {
    let done = login_with(addr, user, &user.password).await?;
    anyhow::ensure!(done.status == 303, "password step: {}", done.status);
    Ok(())
}

/// Certificate step, then the password step with `password`; the password step's
/// response, or the certificate step's when it refused.
pub async fn login_with(addr: &str, user: &LoginUser, password: &str) -> anyhow::Result<Response> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let connector = tokio_rustls::TlsConnector::from(Arc::clone(&user.tls));
    let mut tls = connector.connect(ServerName::try_from("localhost")?, tcp).await?;
    let page = request(&mut tls, "GET /login HTTP/1.1\r\nHost: localhost\r\nAccept-Language: en\r\n\r\n").await?;
    if page.status != 200 {
        // Refused at the certificate step (e.g. a locked account): that is the answer.
        return Ok(page);
    }
    let token = page.body.split("name=\"csrf_token\" value=\"").nth(1).and_then(|s| s.split('"').next()).context("csrf token")?;
    let cookies = page.cookies.join("; ");
    let login = login_ref(&page.body).context("the password step names its login")?;
    let form = format!("csrf_token={token}&login_ref={login}&login_id={}&password={}", user.login_id, form_encode(password));
    let post = format!(
        "POST /login/password HTTP/1.1\r\nHost: localhost\r\nCookie: {cookies}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
        form.len()
    );
    request(&mut tls, &post).await
}

/// A browser-like session over one TLS connection: keeps cookies, reads CSRF tokens.
pub struct TlsSession {
    stream: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    cookies: Vec<(String, String)>,
    /// Sent as `Origin` with every POST, as a browser would for the page it posts from.
    origin: Option<String>,
}

impl TlsSession {
    pub async fn connect(addr: &str, tls: Arc<rustls::ClientConfig>) -> anyhow::Result<Self> {
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let stream = tokio_rustls::TlsConnector::from(tls).connect(ServerName::try_from("localhost")?, tcp).await?;
        Ok(Self { stream, cookies: Vec::new(), origin: None })
    }

    fn remember(&mut self, response: &Response) {
        for pair in &response.cookies {
            if let Some((name, value)) = pair.split_once('=') {
                self.cookies.retain(|(n, _)| n != name);
                if !value.is_empty() {
                    self.cookies.push((name.to_owned(), value.to_owned()));
                }
            }
        }
    }

    /// Posts from now on as a page of `origin` would (`None`: no Origin, like curl).
    pub fn post_from_origin(&mut self, origin: Option<&str>) {
        self.origin = origin.map(str::to_owned);
    }

    /// The value of cookie `name` this session holds.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Sends cookie `name` from now on, as a browser that was given it (or stole it) would.
    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.retain(|(n, _)| n != name);
        self.cookies.push((name.to_owned(), value.to_owned()));
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("; ")
    }

    pub async fn get(&mut self, path: &str) -> anyhow::Result<Response> {
        let text = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept-Language: en\r\nCookie: {}\r\n\r\n", self.cookie_header());
        let response = request(&mut self.stream, &text).await?;
        self.remember(&response);
        Ok(response)
    }

    /// Posts `fields` with the CSRF token found in `page`, and its login reference when it
    /// is a login step's page (as a browser posts the form's hidden fields).
    pub async fn post(&mut self, path: &str, page: &Response, fields: &[(&str, &str)]) -> anyhow::Result<Response> {
        let token = csrf_token(&page.body).context("the page has no CSRF token")?;
        let mut form = format!("csrf_token={token}");
        if let Some(login) = login_ref(&page.body) {
            form.push_str(&format!("&login_ref={login}"));
        }
        for (name, value) in fields {
            form.push_str(&format!("&{name}={}", form_encode(value)));
        }
        let origin = self.origin.as_ref().map(|o| format!("Origin: {o}\r\n")).unwrap_or_default();
        let text = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nAccept-Language: en\r\n{origin}Cookie: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            self.cookie_header(),
            form.len()
        );
        let response = request(&mut self.stream, &text).await?;
        self.remember(&response);
        Ok(response)
    }
}

pub fn csrf_token(html: &str) -> Option<&str> {
    html.split("name=\"csrf_token\" value=\"").nth(1).and_then(|s| s.split('"').next())
}

/// The login a login step's page belongs to (its hidden `login_ref`), posted back with
/// the step so that a page another login replaced cannot complete that login.
pub fn login_ref(html: &str) -> Option<&str> {
    html.split("name=\"login_ref\" value=\"").nth(1).and_then(|s| s.split('"').next())
}

/// The page without its CSRF token and login reference (which differ on every form and
/// login), to compare two pages.
pub fn without_csrf_token(html: &str) -> String {
    let mut page = html.to_owned();
    for value in [csrf_token(html), login_ref(html)].into_iter().flatten().filter(|t| !t.is_empty()) {
        page = page.replace(value, "");
    }
    page
}

/// The text of the element with `id`, if the page has one.
pub fn element_text<'a>(html: &'a str, id: &str) -> Option<&'a str> {
    let start = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[start..];
    let open_end = rest.find('>')? + 1;
    let close = rest[open_end..].find('<')?;
    Some(rest[open_end..open_end + close].trim())
}

fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub struct Response {
    pub status: u16,
    /// `name=value` of each Set-Cookie, without attributes.
    pub cookies: Vec<String>,
    /// Every header line, names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

pub async fn request<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(stream: &mut S, text: &str) -> anyhow::Result<Response> {
    stream.write_all(text.as_bytes()).await?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    let head_end = loop {
        let n = stream.read(&mut chunk).await?;
        anyhow::ensure!(n > 0, "connection closed");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut length = 0usize;
    let mut cookies = Vec::new();
    let mut headers = Vec::new();
    for line in head.lines() {
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("set-cookie:")
            && let Some(pair) = line.split_once(':').map(|(_, v)| v.trim()).and_then(|v| v.split(';').next())
        {
            cookies.push(pair.to_owned());
        }
    }
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await?;
        anyhow::ensure!(n > 0, "connection closed early");
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(Response { status, cookies, headers, body: String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned() })
}
