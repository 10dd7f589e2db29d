//! Shared fixtures: a few CAs built once per test binary, a tempdir workspace, and a
//! wrapper around the `openssl` CLI, the independent implementation we check against.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use mamori_ca::{CaSubject, CertificateAuthority, CertificateUrls, DeviceCertificateRequest, IssuedCertificate, KeyAlgorithm};
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};

/// openssl verifies against the real clock, so fixtures are valid around "now".
pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc().replace_nanosecond(0).unwrap()
}

pub fn subject(common_name: &str) -> CaSubject {
    CaSubject { common_name: common_name.into(), organization: Some("Mamori Tests".into()) }
}

pub fn p256_root() -> &'static CertificateAuthority {
    static ROOT: OnceLock<CertificateAuthority> = OnceLock::new();
    ROOT.get_or_init(|| {
        let now = now();
        CertificateAuthority::create_root(
            &subject("Mamori Test Root P-256"),
            KeyAlgorithm::EcP256,
            now - Duration::days(1),
            now + Duration::days(3650),
        )
        .unwrap()
    })
}

/// RSA 3072 key generation is slow in tests, so there is exactly one RSA CA.
pub fn rsa_root() -> &'static CertificateAuthority {
    static ROOT: OnceLock<CertificateAuthority> = OnceLock::new();
    ROOT.get_or_init(|| {
        let now = now();
        CertificateAuthority::create_root(
            &subject("Mamori Test Root RSA"),
            KeyAlgorithm::Rsa3072,
            now - Duration::days(1),
            now + Duration::days(3650),
        )
        .unwrap()
    })
}

pub fn p256_intermediate() -> &'static CertificateAuthority {
    static INTERMEDIATE: OnceLock<CertificateAuthority> = OnceLock::new();
    INTERMEDIATE.get_or_init(|| {
        let now = now();
        p256_root()
            .create_intermediate(
                &subject("Mamori Test Devices CA"),
                KeyAlgorithm::EcP256,
                now - Duration::days(1),
                now + Duration::days(1825),
            )
            .unwrap()
    })
}

pub fn device_request(common_name: &str, key_algorithm: KeyAlgorithm) -> DeviceCertificateRequest {
    let now = now();
    DeviceCertificateRequest {
        common_name: common_name.into(),
        email: Some("alice@example.com".into()),
        key_algorithm,
        not_before: now - Duration::hours(1),
        not_after: now + Duration::days(365),
        urls: CertificateUrls {
            crl_distribution_point: Some("http://pki.mamori.test/devices.crl".into()),
            ocsp: Some("http://ocsp.mamori.test".into()),
            ca_issuers: Some("http://pki.mamori.test/devices-ca.der".into()),
        },
    }
}

pub fn p256_device(ca: &CertificateAuthority, common_name: &str) -> IssuedCertificate {
    ca.issue_device_certificate(&device_request(common_name, KeyAlgorithm::EcP256)).unwrap()
}

/// A tempdir to hand files to openssl.
pub struct Workspace {
    dir: TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap() }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        let path = self.path(name);
        std::fs::write(&path, contents).unwrap();
        path.to_str().unwrap().to_owned()
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }

    pub fn read_string(&self, name: &str) -> String {
        String::from_utf8(self.read(name)).unwrap()
    }

    /// Runs `openssl args...` in the workspace; returns success and stdout + stderr.
    pub fn openssl(&self, args: &[&str]) -> (bool, String) {
        run_openssl(self.dir.path(), args)
    }

    /// Runs openssl and fails the test, showing its output, unless it succeeds.
    pub fn openssl_ok(&self, args: &[&str]) -> String {
        let (ok, output) = self.openssl(args);
        assert!(ok, "openssl {} failed:\n{output}", args.join(" "));
        output
    }

    /// Writes the CA bundle openssl should trust and any intermediates it may use.
    pub fn write_chain_files(&self, ca: &CertificateAuthority) -> Vec<String> {
        // The last certificate in the chain is the root; a root CA is its own anchor.
        let (root_der, untrusted): (&[u8], Vec<&[u8]>) = match ca.chain_der().split_last() {
            None => (ca.certificate_der(), Vec::new()),
            Some((root, middle)) => {
                let mut untrusted = vec![ca.certificate_der()];
                untrusted.extend(middle.iter().map(Vec::as_slice));
                (root.as_slice(), untrusted)
            }
        };
        let root = self.write("root.pem", pem("CERTIFICATE", root_der));
        let mut args = vec!["-CAfile".to_owned(), root];
        if !untrusted.is_empty() {
            let bundle: String = untrusted.iter().map(|der| pem("CERTIFICATE", der)).collect();
            args.push("-untrusted".to_owned());
            args.push(self.write("untrusted.pem", bundle));
        }
        args
    }
}

fn run_openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new("openssl").args(args).current_dir(dir).output().unwrap_or_else(|e| {
        panic!(
            "these interoperability tests need the `openssl` command-line tool on PATH \
             (Debian: apt-get install openssl); running it failed: {e}"
        )
    });
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

pub fn pem(tag: &str, der: &[u8]) -> String {
    pem::encode_config(&pem::Pem::new(tag, der), pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF))
}

/// `openssl verify` with the CA's chain files; returns success and output.
pub fn openssl_verify(ws: &Workspace, ca: &CertificateAuthority, leaf_pem: &str, extra: &[&str]) -> (bool, String) {
    let leaf = ws.write("leaf.pem", leaf_pem);
    let chain = ws.write_chain_files(ca);
    let mut args: Vec<&str> = vec!["verify"];
    args.extend(extra);
    args.extend(chain.iter().map(String::as_str));
    args.push(&leaf);
    ws.openssl(&args)
}
