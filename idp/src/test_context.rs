//! The context unit tests of the flows run in: a whole [`App`] on in-memory SQLite, with
//! a low Argon2 cost, mail into a temporary outbox and a clock the test moves, so a flow
//! is tested through the same calls the pages make, without HTTP and without sleeping.

use std::sync::{Arc, Mutex};

use mamori_storage::model::{LoginMethod, NewUser, Tenant, TenantPolicy, User};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::app::App;
use crate::clock::Clock;
use crate::config::{Config, Secret};
use crate::flows::events::Attempt;

/// A clock that stands still until the test moves it.
pub struct TestClock(Mutex<OffsetDateTime>);

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl TestClock {
    pub fn advance(&self, by: time::Duration) {
        let mut now = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }
}

pub struct TestContext {
    pub app: App,
    pub clock: Arc<TestClock>,
    _dir: tempfile::TempDir,
}

/// Where every test's clock starts.
pub const T0: OffsetDateTime = datetime!(2026-04-01 09:00:00 UTC);

impl TestContext {
    pub async fn new() -> TestContext {
        Self::on_database(|_| "sqlite::memory:".into()).await
    }

    /// A context on a SQLite file, so that [`Self::another_node`] can share its database.
    pub async fn with_database_file() -> TestContext {
        Self::on_database(|dir| format!("sqlite://{}?mode=rwc", dir.join("mamori.db").display())).await
    }

    /// A second node: its own [`App`] on this context's database, outbox and clock, as
    /// another server of a cluster would be (only with [`Self::with_database_file`]).
    pub async fn another_node(&self) -> App {
        let mut app = App::from_config(self.app.config.clone()).await.expect("the second node opens");
        app.clock = self.clock.clone();
        app
    }

    async fn on_database(url: impl FnOnce(&std::path::Path) -> String) -> TestContext {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let mut config = Config::default();
        config.storage.url = url(dir.path());
        config.secrets.master_key = Some(Secret::new("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="));
        config.hashing.argon2_memory_kib = 64;
        config.hashing.argon2_iterations = 1;
        config.mail.outbox_dir = dir.path().join("outbox");
        let mut app = App::from_config(config).await.expect("the test app opens");
        let clock = Arc::new(TestClock(Mutex::new(T0)));
        app.clock = clock.clone();
        TestContext { app, clock, _dir: dir }
    }

    /// The server state around this context's app, with the listeners at
    /// `https://main.test` and `https://mtls.test:8444`; the folder must outlive it.
    pub fn into_server_state(self) -> (crate::state::SharedState, tempfile::TempDir) {
        let urls = crate::state::PublicUrls {
            main: "https://main.test".into(),
            mtls: "https://mtls.test:8444".into(),
            main_addr: ([127, 0, 0, 1], 443).into(),
            mtls_addr: ([127, 0, 0, 1], 8444).into(),
        };
        (Arc::new(crate::state::ServerState { app: Arc::new(self.app), urls }), self._dir)
    }

    pub async fn tenant(&self, policy: TenantPolicy) -> Tenant {
        self.app.storage.tenants().create("t", "Test", &policy, self.app.now()).await.expect("tenant")
    }

    /// A user of `tenant` with `method` and, when given, a password.
    pub async fn user(&self, tenant: &Tenant, login_id: &str, method: LoginMethod, password: Option<&str>) -> User {
        let now = self.app.now();
        let users = self.app.storage.users();
        let user = users.create(&NewUser::new(tenant.id, login_id, method), now).await.expect("user");
        if let Some(password) = password {
            let hash = self.app.hasher.hash(password).await.expect("hash");
            users.set_password(user.id, &hash, false, 1, now).await.expect("password");
        }
        users.get(user.id).await.expect("reads back")
    }

    /// A device of `user` with a certificate of the context's CA (made on first use), valid
    /// from a minute ago for 30 days: its DER and the binding a login with it records.
    pub async fn device_certificate(&self, user: &User) -> (Vec<u8>, crate::flows::session_binding::CertificateBinding) {
        let now = self.app.now();
        if matches!(self.app.ca.summary().await, Err(crate::pki::PkiError::NoCa)) {
            let source = crate::pki::CaSource::Create {
                subject: mamori_ca::CaSubject { common_name: "Test Root CA".into(), organization: None },
                key: mamori_ca::KeyAlgorithm::EcP256,
                years: 1,
                intermediate: false,
            };
            self.app.ca.init(source, false, now).await.expect("a CA");
        }
        let new = mamori_storage::model::NewDevice {
            user_id: user.id,
            device_type: mamori_storage::model::DeviceType::Pc,
            email: format!("{}@example.com", user.login_id),
        };
        let device = self.app.storage.devices().add_device(&new, 5, now).await.expect("a device");
        let owner = crate::pki::CertificateOwner { user_id: Some(user.id), device_id: Some(device.id) };
        let issued = self
            .app
            .ca
            .issue_device_certificate(
                owner,
                user.login_id.clone(),
                None,
                mamori_ca::KeyAlgorithm::EcP256,
                now - time::Duration::minutes(1),
                now + time::Duration::days(30),
            )
            .await
            .expect("issued");
        let binding = crate::flows::session_binding::CertificateBinding::of(&issued.serial_hex, &issued.certificate_der);
        (issued.certificate_der, binding)
    }

    pub fn attempt<'a>(&self, tenant: &Tenant, user: &'a User) -> Attempt<'a> {
        Attempt {
            tenant_id: tenant.id,
            user_id: Some(user.id),
            login_id: Some(&user.login_id),
            source_ip: "192.0.2.1".into(),
            user_agent: None,
        }
    }
}
