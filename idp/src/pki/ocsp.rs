//! The OCSP responder of each CA (RFC 6960), at `/ca/{key}/ocsp`, the URL written into
//! that CA's certificates' AIA. `mamori_ca` reads the request and signs the answer; this
//! module finds the CA, reads each certificate's status and the CRL's window, and keeps
//! the node's delegated signer.
//!
//! - Status is read from the database per request, so a revocation made on any node (or
//!   with the CLI) is answered from the next request on, as with the CRL.
//! - `thisUpdate`/`nextUpdate` are those of the CA's current CRL, which is re-signed
//!   whenever a revocation lands (`crl.rs`): the OCSP answer and the CRL a relying party
//!   fetches describe the same state over the same window. The status is read before the
//!   CRL, so the CRL's window is never older than the revocations the answer reports.
//! - Each node makes its own delegated signer from the CA key it already holds: a P-256
//!   key and a certificate with id-kp-OCSPSigning and id-pkix-ocsp-nocheck, valid for
//!   twice the CRL validity (at least two days) and replaced once half of that has
//!   passed, so it always outlives the `nextUpdate` of what it signs. Nothing needs to
//!   be shared between nodes: clients trust any signer the CA certified.

use std::sync::Arc;
use std::time::Duration;

use mamori_ca::{OcspFailure, OcspQuery, OcspSigner, OcspStatus, OcspTimes, RevocationReason, parse_ocsp_request};
use mamori_storage::StorageError;
use mamori_storage::model::CertificateStatus;
use time::OffsetDateTime;

use super::{ActiveCa, CaService, PkiError};

/// What the responder answers: an OCSPResponse (DER), and for a signed answer to a
/// request without a nonce what lets HTTP caches keep it.
#[derive(Debug, Clone)]
pub struct OcspAnswer {
    /// Empty when `not_modified`: the client's copy still says the same.
    pub der: Vec<u8>,
    pub cacheable: Option<OcspCacheable>,
    pub not_modified: bool,
}

/// The window in which an answer may be kept, and its validator: a digest of what the
/// answer states (the CA, the serials, their statuses, the window), which changes only
/// when that does. The DER itself differs on every request (`producedAt`, the signature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspCacheable {
    pub this_update: OffsetDateTime,
    pub next_update: OffsetDateTime,
    pub etag: String,
}

impl OcspAnswer {
    fn failure(failure: OcspFailure) -> Self {
        Self { der: failure.response_der(), cacheable: None, not_modified: false }
    }
}

/// `If-None-Match` as the client sent it: a list of entity tags, or `*`.
fn names_etag(if_none_match: Option<&str>, etag: &str) -> bool {
    if_none_match.is_some_and(|v| v.split(',').map(|t| t.trim().trim_start_matches("W/")).any(|t| t == etag || t == "*"))
}

impl CaService {
    /// Answers the DER OCSP request `request` for the CA `key` names (see
    /// [`super::url_key`]). Never fails: every problem is an OCSP error status.
    /// `if_none_match` is a GET's validator: when it names the answer's, the answer is
    /// `not_modified` and nothing is signed.
    pub async fn ocsp_response(&self, key: &str, request: &[u8], if_none_match: Option<&str>, now: OffsetDateTime) -> OcspAnswer {
        let query = match parse_ocsp_request(request) {
            Ok(query) => query,
            Err(failure) => return OcspAnswer::failure(failure),
        };
        match self.answer(key, &query, if_none_match, now).await {
            Ok(answer) => answer,
            Err(err) => {
                // A database that is away comes back: clients should retry, not give up.
                let failure = match &err {
                    PkiError::Storage(StorageError::Unavailable) => OcspFailure::TryLater,
                    _ => OcspFailure::InternalError,
                };
                tracing::warn!(%err, ?failure, "OCSP request failed");
                OcspAnswer::failure(failure)
            }
        }
    }

    async fn answer(&self, key: &str, query: &OcspQuery, if_none_match: Option<&str>, now: OffsetDateTime) -> Result<OcspAnswer, PkiError> {
        // A CA we do not have, or a CertID naming another issuer: not ours to answer.
        let Some(ca) = self.by_key(key).await? else { return Ok(OcspAnswer::failure(OcspFailure::Unauthorized)) };
        let signer = self.ocsp_signer(&ca, now).await?;
        if !query.certificates.iter().all(|requested| signer.is_issuer_of(requested)) {
            return Ok(OcspAnswer::failure(OcspFailure::Unauthorized));
        }
        let mut statuses = Vec::with_capacity(query.certificates.len());
        for requested in &query.certificates {
            let Some(serial) = &requested.serial_hex else {
                statuses.push(OcspStatus::Unknown);
                continue;
            };
            let status = match self.storage.certificates().find_by_serial(serial).await? {
                Some(cert) if cert.ca_id == ca.id => match cert.status {
                    CertificateStatus::Active => OcspStatus::Good,
                    CertificateStatus::Revoked => OcspStatus::Revoked {
                        at: cert.revoked_at.unwrap_or(cert.created_at),
                        reason: cert.revocation_reason.as_deref().and_then(|r| r.parse().ok()).unwrap_or(RevocationReason::Unspecified),
                    },
                },
                _ => OcspStatus::Unknown,
            };
            statuses.push(status);
        }
        let crl = self.crl_of(&ca, now).await?;
        // The signer outlives every CRL window it signs for, unless its CA ends sooner.
        let times = OcspTimes { produced_at: now, this_update: crl.this_update, next_update: crl.next_update.min(signer.not_after()) };
        let cacheable = (!query.has_nonce()).then(|| {
            let serials: Vec<Option<&str>> = query.certificates.iter().map(|c| c.serial_hex.as_deref()).collect();
            let stated = format!("{}|{serials:?}|{statuses:?}|{}|{}", ca.key, times.this_update, times.next_update);
            let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, stated.as_bytes());
            let etag = format!("\"{}\"", &hex::encode(digest)[..32]);
            OcspCacheable { this_update: times.this_update, next_update: times.next_update, etag }
        });
        if let Some(cacheable) = cacheable.as_ref().filter(|c| names_etag(if_none_match, &c.etag)) {
            return Ok(OcspAnswer { der: Vec::new(), cacheable: Some(cacheable.clone()), not_modified: true });
        }
        let der = signer.respond(query, &statuses, times)?;
        Ok(OcspAnswer { der, cacheable, not_modified: false })
    }

    /// How long a delegated signer is valid: twice the CRL validity, at least two days.
    fn ocsp_signer_lifetime(&self) -> Duration {
        (self.crl_validity * 2).max(Duration::from_secs(2 * 86_400))
    }

    /// This node's delegated signer for `ca`, made anew once half its lifetime is gone.
    async fn ocsp_signer(&self, ca: &Arc<ActiveCa>, now: OffsetDateTime) -> Result<Arc<OcspSigner>, PkiError> {
        let lifetime = self.ocsp_signer_lifetime();
        let mut signers = self.ocsp_signers.lock().await;
        if let Some(signer) = signers.get(&ca.id)
            && now < signer.not_before() + time::Duration::hours(1) + lifetime / 2
            && now >= signer.not_before()
        {
            return Ok(Arc::clone(signer));
        }
        let issuer = Arc::clone(ca);
        let signer = Arc::new(self.pool.run(move || issuer.ca.ocsp_signer(now, lifetime)).await??);
        tracing::info!(ca = %ca.key, not_after = %signer.not_after(), "made a new delegated OCSP signer");
        signers.insert(ca.id, Arc::clone(&signer));
        Ok(signer)
    }
}
