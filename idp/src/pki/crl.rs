//! CRLs, one per CA that ever issued here: at `/ca/{key}/crl.der`, the URL written into
//! that CA's certificates, and the active CA's also at `/ca/crl.der`.
//!
//! Every node serves the CRL stored in the database (`published_crls`) while it is
//! current: signed from the CA's present revocation mark, and less than half its
//! validity old. Otherwise the node signs a new one under the next CRL number and stores
//! it over the old one only if no node stored a higher number meanwhile; if one did, it
//! serves that. So every node answers with the same CRL, a revocation made anywhere is
//! listed from the next request on, and the number a poller sees never goes back.

use std::sync::Arc;

use mamori_ca::{Crl, RevocationReason, RevokedCertificate};
use mamori_storage::model::{CrlHeader, PublishedCrl, RevocationMark};
use time::OffsetDateTime;

use super::{ActiveCa, CaService, PkiError, pem_encode};

impl CaService {
    /// The active CA's current CRL.
    pub async fn current_crl(&self, now: OffsetDateTime) -> Result<Arc<Crl>, PkiError> {
        let active = self.active().await?;
        self.crl_of(&active, now).await
    }

    /// The current CRL of the CA `key` names (see [`super::url_key`]), active or not;
    /// `None` for no such CA.
    pub async fn crl_by_key(&self, key: &str, now: OffsetDateTime) -> Result<Option<Arc<Crl>>, PkiError> {
        match self.by_key(key).await? {
            Some(ca) => self.crl_of(&ca, now).await.map(Some),
            None => Ok(None),
        }
    }

    pub(super) async fn crl_of(&self, ca: &Arc<ActiveCa>, now: OffsetDateTime) -> Result<Arc<Crl>, PkiError> {
        let published = self.storage.published_crls();
        // The mark is read before the list of revoked certificates below: a revocation
        // landing in between is then listed under the older mark, which costs one more
        // signature later, never a CRL that misses it.
        let mark = self.storage.certificates().revocation_mark(ca.id).await?;
        if let Some(header) = published.header(ca.id).await?
            && is_current(&header, mark, now)
        {
            return self.local_copy(header).await;
        }
        let _signing = self.crl_signing.lock().await;
        // Another request on this node may have published it while this one waited.
        if let Some(header) = published.header(ca.id).await?
            && is_current(&header, mark, now)
        {
            return self.local_copy(header).await;
        }
        let revoked = self
            .storage
            .certificates()
            .list_revoked(ca.id)
            .await?
            .into_iter()
            .map(|c| RevokedCertificate {
                serial_hex: c.serial_hex,
                revoked_at: c.revoked_at.unwrap_or(c.created_at),
                reason: c.revocation_reason.as_deref().and_then(|r| r.parse().ok()).unwrap_or(RevocationReason::Unspecified),
            })
            .collect::<Vec<_>>();
        let number = self.storage.certificate_authorities().next_crl_number(ca.id).await?;
        let next_update = now + self.crl_validity;
        let signer = Arc::clone(ca);
        let crl = self.pool.run(move || signer.ca.sign_crl(&revoked, number, now, next_update)).await??;
        let header =
            CrlHeader { ca_id: ca.id, crl_number: crl.crl_number, this_update: crl.this_update, next_update: crl.next_update, mark };
        if published.publish(&PublishedCrl { header, der: crl.der.clone() }).await? {
            let crl = Arc::new(crl);
            self.crls.lock().await.insert(ca.id, Arc::clone(&crl));
            return Ok(crl);
        }
        // Another node stored a higher number meanwhile: serve its CRL, not this one.
        let header = published.header(ca.id).await?.ok_or(mamori_storage::StorageError::NotFound)?;
        self.local_copy(header).await
    }

    /// The published CRL `header` describes, from this node's copy when it has that
    /// number, otherwise read once from the database.
    async fn local_copy(&self, header: CrlHeader) -> Result<Arc<Crl>, PkiError> {
        if let Some(crl) = self.crls.lock().await.get(&header.ca_id)
            && crl.crl_number == header.crl_number
        {
            return Ok(Arc::clone(crl));
        }
        let stored = self.storage.published_crls().get(header.ca_id).await?.ok_or(mamori_storage::StorageError::NotFound)?;
        let h = stored.header;
        let crl = Arc::new(Crl {
            pem: pem_encode("X509 CRL", &stored.der),
            der: stored.der,
            crl_number: h.crl_number,
            this_update: h.this_update,
            next_update: h.next_update,
        });
        self.crls.lock().await.insert(h.ca_id, Arc::clone(&crl));
        Ok(crl)
    }
}

/// Whether a published CRL may still be served: it was signed from today's revocations
/// and is less than half its validity old (relying parties refetch at nextUpdate, so the
/// second half is their margin).
fn is_current(header: &CrlHeader, mark: RevocationMark, now: OffsetDateTime) -> bool {
    let half = (header.next_update - header.this_update) / 2;
    header.mark == mark && now < header.this_update + half
}
