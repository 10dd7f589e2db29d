//! Glue between the certificate authority (`mamori-ca`) and storage: the active issuing
//! CA lives sealed in the database, every certificate it issues is recorded (serial and
//! fingerprint) so login can map it to a device and the CRL can list it once revoked.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use mamori_ca::{
    CaSubject, CertificateAuthority, CertificateUrls, CheckedCsr, Crl, CsrIssuanceRequest, CsrKeyPolicy, DeviceCertificateRequest,
    IssuedCertificate, KeyAlgorithm, RevocationReason, SealingKey,
};
use mamori_storage::Storage;
use mamori_storage::model::{Certificate, NewCertificate, NewCertificateAuthority, TenantPolicy};
use rustls::DistinguishedName;
use time::OffsetDateTime;
use uuid::Uuid;
use x509_parser::prelude::FromDer;

use crate::blocking::{BlockingPool, PoolError};

mod crl;
mod ocsp;

pub use ocsp::{OcspAnswer, OcspCacheable};

/// How many hex digits of a CA's SHA-256 fingerprint name it in URLs: 64 bits, unique
/// among the few CAs one installation ever has, short enough for every certificate.
const URL_KEY_LEN: usize = 16;

/// The CA's name in its URLs (`/ca/{key}/crl.der`, `/ca/{key}/ca.der`): the start of its
/// certificate's fingerprint, so it never changes and says nothing about the database.
pub fn url_key(fingerprint_sha256: &str) -> &str {
    fingerprint_sha256.get(..URL_KEY_LEN).unwrap_or(fingerprint_sha256)
}

#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("no certificate authority exists yet; create one with `mamori ca init`")]
    NoCa,
    #[error("a certificate authority already exists ({common_name}, SHA-256 {fingerprint}); pass --replace to replace it")]
    CaExists { common_name: String, fingerprint: String },
    #[error("the stored CA key cannot be opened: the master key (secrets.master_key) is not the one it was sealed with")]
    WrongMasterKey,
    #[error("no certificate with serial {0}")]
    UnknownSerial(String),
    #[error("certificate {0} is already revoked")]
    AlreadyRevoked(String),
    #[error(transparent)]
    Ca(#[from] mamori_ca::CaError),
    #[error("storage: {0}")]
    Storage(#[from] mamori_storage::StorageError),
    #[error(transparent)]
    Pool(#[from] PoolError),
}

/// How `ca init` makes the CA.
pub enum CaSource {
    Create { subject: CaSubject, key: KeyAlgorithm, years: u16, intermediate: bool },
    Import { certificate_pem: String, key_pem: String, chain_pem: Option<String> },
}

/// A CA unsealed from the database: the active one, or an earlier one that still signs
/// the CRL for its certificates.
struct ActiveCa {
    id: Uuid,
    /// Names the CA in its URLs (`/ca/{key}/crl.der`): see [`url_key`].
    key: String,
    ca: CertificateAuthority,
}

pub struct CaService {
    storage: Storage,
    sealing: Arc<SealingKey>,
    pool: BlockingPool,
    urls: RwLock<CertificateUrls>,
    crl_validity: Duration,
    active: tokio::sync::RwLock<Option<Arc<ActiveCa>>>,
    /// Earlier CAs, unsealed when their CRL is asked for.
    retired: tokio::sync::Mutex<HashMap<Uuid, Arc<ActiveCa>>>,
    /// This node's copy of each CA's published CRL (see `crl.rs`).
    crls: tokio::sync::Mutex<HashMap<Uuid, Arc<Crl>>>,
    /// One CRL signature at a time on this node.
    crl_signing: tokio::sync::Mutex<()>,
    /// This node's delegated OCSP signer of each CA (see `ocsp.rs`).
    ocsp_signers: tokio::sync::Mutex<HashMap<Uuid, Arc<mamori_ca::OcspSigner>>>,
    metrics: Arc<crate::metrics::Metrics>,
}

impl CaService {
    pub fn new(
        storage: Storage,
        sealing: Arc<SealingKey>,
        pool: BlockingPool,
        urls: CertificateUrls,
        crl_validity: Duration,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Self {
        Self {
            storage,
            sealing,
            pool,
            urls: RwLock::new(urls),
            crl_validity,
            active: tokio::sync::RwLock::new(None),
            retired: tokio::sync::Mutex::new(HashMap::new()),
            crls: tokio::sync::Mutex::new(HashMap::new()),
            crl_signing: tokio::sync::Mutex::new(()),
            ocsp_signers: tokio::sync::Mutex::new(HashMap::new()),
            metrics,
        }
    }

    /// The URLs written into new certificates; the server sets them once it knows its port.
    pub fn set_urls(&self, urls: CertificateUrls) {
        if let Ok(mut guard) = self.urls.write() {
            *guard = urls;
        }
    }

    /// The URLs for a certificate `ca` signs: `{ca}` in a configured URL (and in the
    /// defaults) becomes the CA's key, so each CA's certificates name its own CRL and
    /// certificate, and still do after the CA is replaced.
    fn urls_for(&self, ca: &ActiveCa) -> CertificateUrls {
        let urls = self.urls.read().map(|u| u.clone()).unwrap_or_default();
        let fill = |url: Option<String>| url.map(|u| u.replace("{ca}", &ca.key));
        CertificateUrls {
            crl_distribution_point: fill(urls.crl_distribution_point),
            ocsp: fill(urls.ocsp),
            ca_issuers: fill(urls.ca_issuers),
        }
    }

    /// Creates or imports the CA and makes it the active issuer. The records are written
    /// in one transaction, so an interrupted init leaves no CA that looks usable.
    pub async fn init(&self, source: CaSource, replace: bool, now: OffsetDateTime) -> Result<CaSummary, PkiError> {
        if let Some(existing) = self.storage.certificate_authorities().active().await?
            && !replace
        {
            return Err(PkiError::CaExists { common_name: existing.name, fingerprint: existing.fingerprint_sha256 });
        }
        let sealing = Arc::clone(&self.sealing);
        let (records, summary) = self
            .pool
            .run(move || -> Result<_, PkiError> {
                let (root, issuing) = match source {
                    CaSource::Create { subject, key, years, intermediate } => {
                        let not_after = now + time::Duration::days(365 * i64::from(years));
                        let root = CertificateAuthority::create_root(&subject, key, now, not_after)?;
                        if intermediate {
                            let sub = CaSubject {
                                common_name: format!("{} Issuing CA", subject.common_name.trim_end_matches(" Root CA")),
                                organization: subject.organization.clone(),
                            };
                            // The issuing CA never outlives its root.
                            let issuing_after = (now + time::Duration::days(365 * 10)).min(not_after);
                            let issuing = root.create_intermediate(&sub, key, now, issuing_after)?;
                            (Some(root), issuing)
                        } else {
                            (None, root)
                        }
                    }
                    CaSource::Import { certificate_pem, key_pem, chain_pem } => {
                        (None, CertificateAuthority::import(&certificate_pem, &key_pem, chain_pem.as_deref())?)
                    }
                };
                let mut records = Vec::new();
                for ca in root.iter().chain(std::iter::once(&issuing)) {
                    records.push(new_record(ca, &sealing)?);
                }
                Ok((records, CaSummary::of(&issuing)))
            })
            .await??;
        // A root above an intermediate is kept (sealed, inactive) to sign successors; the
        // issuing CA goes in last, in one transaction with its activation, so an
        // interruption in between leaves no active CA and the next init starts over.
        let cas = self.storage.certificate_authorities();
        let (issuing, above) = records.split_last().ok_or(PkiError::NoCa)?;
        for record in above {
            cas.insert(record, now).await?;
        }
        cas.insert_and_activate(issuing, now).await?;
        *self.active.write().await = None;
        Ok(summary)
    }

    /// The issuing CA. The one held is used only while the database still names it
    /// active (one indexed query on a table of a few rows), so every node issues from a
    /// replacement CA from the request after `ca init --replace`, wherever that ran.
    async fn active(&self) -> Result<Arc<ActiveCa>, PkiError> {
        let id = self.storage.certificate_authorities().active_id().await?.ok_or(PkiError::NoCa)?;
        if let Some(active) = self.active.read().await.as_ref()
            && active.id == id
        {
            return Ok(Arc::clone(active));
        }
        let active = self.unseal(id).await?;
        *self.active.write().await = Some(Arc::clone(&active));
        Ok(active)
    }

    /// The CA `id` with its key opened.
    async fn unseal(&self, id: Uuid) -> Result<Arc<ActiveCa>, PkiError> {
        let record = self.storage.certificate_authorities().get(id).await?;
        let sealed = mamori_ca::SealedCa {
            certificate_pem: record.certificate_pem.clone(),
            chain_pem: record.chain_pem.clone(),
            sealed_private_key: record.sealed_private_key.clone(),
            key_algorithm: record.key_algorithm.parse()?,
        };
        let ca = CertificateAuthority::from_sealed(&sealed, &self.sealing).map_err(|e| match e {
            mamori_ca::CaError::WrongSealingKey => PkiError::WrongMasterKey,
            other => PkiError::Ca(other),
        })?;
        Ok(Arc::new(ActiveCa { id: record.id, key: url_key(&record.fingerprint_sha256).to_owned(), ca }))
    }

    /// The CA named by `key` in a URL, any CA in the database, unsealed.
    async fn by_key(&self, key: &str) -> Result<Option<Arc<ActiveCa>>, PkiError> {
        let Some(record) = self.record_by_key(key).await? else { return Ok(None) };
        let active = self.active().await?;
        if active.id == record.id {
            return Ok(Some(active));
        }
        let mut retired = self.retired.lock().await;
        if let Some(ca) = retired.get(&record.id) {
            return Ok(Some(Arc::clone(ca)));
        }
        let ca = self.unseal(record.id).await?;
        retired.insert(record.id, Arc::clone(&ca));
        Ok(Some(ca))
    }

    /// The stored CA named by `key` (see [`url_key`]); `None` for a malformed key or no
    /// such CA. The table holds a few rows, one per CA ever made here.
    pub async fn record_by_key(&self, key: &str) -> Result<Option<mamori_storage::model::CertificateAuthority>, PkiError> {
        if key.len() != URL_KEY_LEN || !key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Ok(None);
        }
        let records = self.storage.certificate_authorities().list().await?;
        Ok(records.into_iter().find(|r| url_key(&r.fingerprint_sha256) == key))
    }

    pub async fn summary(&self) -> Result<CaSummary, PkiError> {
        Ok(CaSummary::of(&self.active().await?.ca))
    }

    /// Issues a certificate with a fresh key for a device and records it.
    pub async fn issue_device_certificate(
        &self,
        owner: CertificateOwner,
        common_name: String,
        email: Option<String>,
        key_algorithm: KeyAlgorithm,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<IssuedCertificate, PkiError> {
        let (issued, record) = self.sign_device_certificate(owner, common_name, email, key_algorithm, not_before, not_after).await?;
        self.storage.certificates().insert(&record, issued.not_before).await?;
        self.metrics.certificate_issued("generated");
        Ok(issued)
    }

    /// Signs a certificate with a fresh key for a device without recording it: the
    /// caller stores the returned record in the transaction that also stores how the
    /// certificate is handed over, and discards the certificate if that fails.
    /// When a device certificate issued at `now` under `policy` ends: the policy's
    /// validity, but never after the issuing CA itself (a certificate cannot outlive the
    /// CA that vouches for it; a long validity must not turn every enrollment into an
    /// error once the CA has less left).
    pub async fn device_not_after(&self, policy: &TenantPolicy, now: OffsetDateTime) -> Result<OffsetDateTime, PkiError> {
        let wanted = now.checked_add(time::Duration::days(i64::from(policy.certificate_validity_days.max(1))));
        let ca_end = self.active().await?.ca.not_after();
        Ok(wanted.map_or(ca_end, |t| t.min(ca_end)))
    }

    pub async fn sign_device_certificate(
        &self,
        owner: CertificateOwner,
        common_name: String,
        email: Option<String>,
        key_algorithm: KeyAlgorithm,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<(IssuedCertificate, NewCertificate), PkiError> {
        let active = self.active().await?;
        let request = DeviceCertificateRequest { common_name, email, key_algorithm, not_before, not_after, urls: self.urls_for(&active) };
        let ca = Arc::clone(&active);
        let issued = self.pool.run(move || ca.ca.issue_device_certificate(&request)).await??;
        let record = new_certificate(&active, owner, &issued);
        Ok((issued, record))
    }

    /// Issues a certificate for the public key of a CSR (the key never leaves the device).
    pub async fn issue_from_csr(
        &self,
        owner: CertificateOwner,
        csr: Vec<u8>,
        common_name: String,
        email: Option<String>,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<IssuedCertificate, PkiError> {
        let active = self.active().await?;
        let request = CsrIssuanceRequest { common_name, email, not_before, not_after, urls: self.urls_for(&active) };
        let ca = Arc::clone(&active);
        let issued = self.pool.run(move || ca.ca.issue_from_csr(&csr, &request)).await??;
        self.record(&active, owner, &issued).await?;
        self.metrics.certificate_issued("csr");
        Ok(issued)
    }

    /// Screens a CSR from outside (size, encoding, key against `policy`, proof of
    /// possession) on the blocking pool: an RSA signature check is not for the runtime.
    pub async fn check_csr(&self, csr: Vec<u8>, policy: CsrKeyPolicy) -> Result<CheckedCsr, PkiError> {
        Ok(self.pool.run(move || mamori_ca::check_csr(&csr, &policy)).await??)
    }

    /// Signs a device certificate for a screened CSR without recording it, like
    /// [`Self::sign_device_certificate`]: the caller records it with what else it writes.
    pub async fn sign_for_csr(
        &self,
        owner: CertificateOwner,
        csr: CheckedCsr,
        common_name: String,
        email: Option<String>,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<(IssuedCertificate, NewCertificate), PkiError> {
        let active = self.active().await?;
        let request = CsrIssuanceRequest { common_name, email, not_before, not_after, urls: self.urls_for(&active) };
        let ca = Arc::clone(&active);
        let issued = self.pool.run(move || ca.ca.issue_for_checked_csr(&csr, &request)).await??;
        let record = new_certificate(&active, owner, &issued);
        Ok((issued, record))
    }

    async fn record(&self, active: &ActiveCa, owner: CertificateOwner, issued: &IssuedCertificate) -> Result<(), PkiError> {
        self.storage.certificates().insert(&new_certificate(active, owner, issued), issued.not_before).await?;
        Ok(())
    }

    /// The chain to put in a PKCS#12 next to a device certificate: issuing CA first.
    pub async fn pkcs12_chain(&self) -> Result<Vec<Vec<u8>>, PkiError> {
        let active = self.active().await?;
        let mut chain = vec![active.ca.certificate_der().to_vec()];
        chain.extend(active.ca.chain_der().iter().cloned());
        Ok(chain)
    }

    /// Revokes by serial; the next CRL lists it. Returns the revoked record.
    pub async fn revoke(&self, serial_hex: &str, reason: RevocationReason, now: OffsetDateTime) -> Result<Certificate, PkiError> {
        // The storage reads the serial however it is spelled (`mamori_storage::serial_key`);
        // errors name it as the operator wrote it, so they recognise what they typed.
        let typed = || serial_hex.trim().to_owned();
        let revoked = match self.storage.certificates().revoke(serial_hex, reason.as_str(), now).await {
            Ok(cert) => cert,
            Err(mamori_storage::StorageError::NotFound) => return Err(PkiError::UnknownSerial(typed())),
            Err(mamori_storage::StorageError::Conflict(_)) => return Err(PkiError::AlreadyRevoked(typed())),
            Err(e) => return Err(e.into()),
        };
        Ok(revoked)
    }

    /// Subjects of every CA in the database and the CAs above them, for the TLS
    /// CertificateRequest: login accepts a certificate of any of them (an earlier CA's
    /// too, until it expires or is revoked), so browsers must be told to offer those.
    pub async fn client_ca_subjects(&self) -> Result<Vec<DistinguishedName>, PkiError> {
        let mut subjects: Vec<DistinguishedName> = Vec::new();
        for record in self.storage.certificate_authorities().list().await? {
            for pem in std::iter::once(&record.certificate_pem).chain(record.chain_pem.iter()) {
                let Some(der) = pem_to_der(pem) else { continue };
                let Ok((_, cert)) = x509_parser::certificate::X509Certificate::from_der(&der) else { continue };
                let subject = DistinguishedName::from(cert.tbs_certificate.subject.as_raw().to_vec());
                if !subjects.iter().any(|s| s.as_ref() == subject.as_ref()) {
                    subjects.push(subject);
                }
            }
        }
        Ok(subjects)
    }

    /// The issuing CA and the chain above it, PEM, for relying parties and TLS trust stores.
    pub async fn published_chain_pem(&self) -> Result<String, PkiError> {
        let active = self.active().await?;
        let mut out = active.ca.certificate_pem();
        for der in active.ca.chain_der() {
            out.push_str(&pem_encode("CERTIFICATE", der));
        }
        Ok(out)
    }

    pub async fn issuing_certificate_der(&self) -> Result<Vec<u8>, PkiError> {
        Ok(self.active().await?.ca.certificate_der().to_vec())
    }
}

/// Whom a certificate is for; both absent for a certificate an operator issued by hand.
#[derive(Debug, Default, Clone, Copy)]
pub struct CertificateOwner {
    pub user_id: Option<Uuid>,
    pub device_id: Option<Uuid>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct CaSummary {
    pub common_name: String,
    pub key_algorithm: String,
    pub fingerprint_sha256: String,
    /// Names the CA in its URLs: `/ca/{url_key}/crl.der` and `/ca/{url_key}/ca.der`.
    pub url_key: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    pub chain_length: usize,
}

impl CaSummary {
    fn of(ca: &CertificateAuthority) -> Self {
        Self {
            common_name: ca.subject_common_name(),
            key_algorithm: ca.key_algorithm().to_string(),
            url_key: url_key(&ca.fingerprint_sha256_hex()).to_owned(),
            fingerprint_sha256: ca.fingerprint_sha256_hex(),
            not_after: ca.not_after(),
            chain_length: ca.chain_der().len() + 1,
        }
    }
}

/// The record of a certificate `active` signed.
fn new_certificate(active: &ActiveCa, owner: CertificateOwner, issued: &IssuedCertificate) -> NewCertificate {
    NewCertificate {
        ca_id: active.id,
        user_id: owner.user_id,
        device_id: owner.device_id,
        serial_hex: issued.serial_hex.clone(),
        fingerprint_sha256: issued.fingerprint_sha256_hex.clone(),
        public_key_sha256: Some(issued.public_key_sha256_hex.clone()),
        subject_cn: issued.subject_common_name.clone(),
        not_before: issued.not_before,
        not_after: issued.not_after,
    }
}

fn new_record(ca: &CertificateAuthority, sealing: &SealingKey) -> Result<NewCertificateAuthority, PkiError> {
    let sealed = ca.to_sealed(sealing)?;
    Ok(NewCertificateAuthority {
        name: ca.subject_common_name(),
        certificate_pem: sealed.certificate_pem,
        chain_pem: sealed.chain_pem,
        sealed_private_key: sealed.sealed_private_key,
        key_algorithm: ca.key_algorithm().to_string(),
        fingerprint_sha256: ca.fingerprint_sha256_hex(),
    })
}

/// The DER inside one PEM block (`None` if it is not base64).
pub fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(body.trim()).ok()
}

pub fn pem_encode(tag: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {tag}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {tag}-----\n"));
    out
}
