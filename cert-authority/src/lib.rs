//! Mamori's certificate authority: CA keys, TLS client certificates for devices,
//! PKCS#12 export, CRLs and OCSP responses (RFC 5280, RFC 7292, RFC 6960).
//!
//! No HTTP, no database and no clock: the server stores [`SealedCa`] values and
//! revocation records, and passes times in, so issuance is deterministic in tests.
//! aws-lc-rs is the only crypto backend.
//!
//! ```no_run
//! # fn main() -> Result<(), mamori_ca::CaError> {
//! use mamori_ca::*;
//! use time::{Duration, OffsetDateTime};
//!
//! let now = OffsetDateTime::now_utc();
//! let subject = CaSubject { common_name: "Mamori Root CA".into(), organization: Some("Example".into()) };
//! let root = CertificateAuthority::create_root(&subject, KeyAlgorithm::EcP256, now, now + Duration::days(3650))?;
//! let device = root.issue_device_certificate(&DeviceCertificateRequest {
//!     common_name: "Alice's laptop".into(),
//!     email: Some("alice@example.com".into()),
//!     key_algorithm: KeyAlgorithm::EcP256,
//!     not_before: now,
//!     not_after: now + Duration::days(365),
//!     urls: CertificateUrls::default(),
//! })?;
//! let p12 = export_pkcs12(&device, &[root.certificate_der().to_vec()], "secret", "Alice's laptop", Pkcs12Format::Modern)?;
//! let sealed = root.to_sealed(&SealingKey::generate())?;
//! # let _ = (p12, sealed);
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

mod algorithm;
mod authority;
mod crl;
mod csr;
mod encoding;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod issuance;
mod ocsp;
mod pkcs12;
mod private_key;
mod sealing;
mod summary;

pub use algorithm::KeyAlgorithm;
pub use authority::{CaSubject, CertificateAuthority, SealedCa};
pub use crl::{Crl, RevocationReason, RevokedCertificate};
pub use csr::{CheckedCsr, CsrKeyPolicy, CsrProblem, IgnoredRequest, MAX_CSR_BYTES, check_csr};
pub use error::CaError;
pub use issuance::{CertificateUrls, CsrIssuanceRequest, DeviceCertificateRequest, IssuedCertificate};
pub use ocsp::{
    CertIdHash, MAX_OCSP_REQUEST_BYTES, MAX_REQUEST_ENTRIES, OcspFailure, OcspQuery, OcspSigner, OcspStatus, OcspTimes,
    RequestedCertificate, parse_ocsp_request,
};
pub use pkcs12::{Pkcs12Format, export_pkcs12};
pub use sealing::SealingKey;
pub use summary::{CertificateSummary, parse_certificate_summary};
