//! OCSP (RFC 6960, with the RFC 5019 profile and RFC 8954 nonces): reading a request,
//! the delegated responder certificate a CA makes for itself, and signed responses.
//!
//! The ASN.1 is RustCrypto's `x509-ocsp`; signatures are aws-lc-rs through rcgen, as for
//! certificates and CRLs. What a certificate's status is comes from the caller (the
//! server reads it from its database per request); this module only says which of the
//! requested certificates belong to the CA and writes the answer.
//!
//! Decisions, so that clients see one consistent responder:
//! - A request whose CertID names another issuer (by name and key hash), or uses a hash
//!   we cannot compute, gets `unauthorized` (RFC 6960 section 2.3, RFC 5019 section
//!   2.2.3): we cannot answer authoritatively, and a signed `unknown` from a signer that
//!   the other CA never delegated would fail the client's check anyway.
//! - A serial this CA never issued gets a signed `unknown`.
//! - Everything that does not decode as an OCSPRequest, has no or too many entries, a
//!   nonce outside RFC 8954's 1..=32 octets, or a critical extension we do not know gets
//!   `malformedRequest`.

use std::time::Duration as StdDuration;

use aws_lc_rs::digest;
use der::asn1::{GeneralizedTime, ObjectIdentifier, OctetString};
use der::{Decode as _, Encode as _};
use rcgen::{
    CertificateParams, CustomExtension, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose,
    SerialNumber, SigningKey as _,
};
use spki::AlgorithmIdentifierOwned;
use time::OffsetDateTime;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::CrlReason;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspGeneralizedTime, OcspRequest, OcspResponse, OcspResponseStatus, ResponderId, ResponseData,
    RevokedInfo, SingleResponse, Version,
};
use zeroize::Zeroize as _;

use crate::encoding::{certificate_time, parse_certificate, random_serial, serial_hex, validity};
use crate::{CaError, CertificateAuthority, KeyAlgorithm, RevocationReason};

/// The most bytes of a DER request we read. A request for one certificate is about 80
/// bytes; this leaves room for [`MAX_REQUEST_ENTRIES`] of them, a nonce and a signed
/// request's certificates, and nothing for a client that sends more.
pub const MAX_OCSP_REQUEST_BYTES: usize = 8 * 1024;
/// The most certificates one request may ask about.
pub const MAX_REQUEST_ENTRIES: usize = 16;
/// RFC 8954 section 2.1: a nonce is 1 to 32 octets.
const MAX_NONCE_BYTES: usize = 32;

const ID_PKIX_OCSP_NONCE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");
const ID_PKIX_OCSP_NOCHECK: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1, 5];
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");

/// The hashes a CertID may use that we can compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertIdHash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl CertIdHash {
    const ALL: [CertIdHash; 4] = [Self::Sha1, Self::Sha256, Self::Sha384, Self::Sha512];

    fn oid(self) -> ObjectIdentifier {
        match self {
            Self::Sha1 => ObjectIdentifier::new_unwrap("1.3.14.3.2.26"),
            Self::Sha256 => ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1"),
            Self::Sha384 => ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2"),
            Self::Sha512 => ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3"),
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        let algorithm = match self {
            Self::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha256 => &digest::SHA256,
            Self::Sha384 => &digest::SHA384,
            Self::Sha512 => &digest::SHA512,
        };
        digest::digest(algorithm, data).as_ref().to_vec()
    }

    /// The hash an AlgorithmIdentifier names; parameters must be absent or NULL.
    fn from_algorithm(algorithm: &AlgorithmIdentifierOwned) -> Option<Self> {
        let parameters_ok = match &algorithm.parameters {
            None => true,
            Some(any) => any.to_der().ok().as_deref() == Some(&[0x05, 0x00][..]),
        };
        if !parameters_ok {
            return None;
        }
        Self::ALL.into_iter().find(|hash| hash.oid() == algorithm.oid)
    }
}

/// Why a request gets no signed answer: the OCSPResponseStatus values other than
/// `successful` (RFC 6960 section 4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OcspFailure {
    MalformedRequest,
    InternalError,
    TryLater,
    Unauthorized,
}

impl OcspFailure {
    /// The unsigned OCSPResponse that carries only this status.
    pub fn response_der(self) -> Vec<u8> {
        let response = match self {
            Self::MalformedRequest => OcspResponse::malformed_request(),
            Self::InternalError => OcspResponse::internal_error(),
            Self::TryLater => OcspResponse::try_later(),
            Self::Unauthorized => OcspResponse::unauthorized(),
        };
        let status = response.response_status as u8;
        // Encoding an ENUMERATED cannot fail; the fallback is the same five bytes.
        response.to_der().unwrap_or_else(|_| vec![0x30, 0x03, 0x0a, 0x01, status])
    }
}

/// One certificate a request asks about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedCertificate {
    /// `None` for a hash algorithm we cannot compute (the issuer cannot be recognised).
    pub hash: Option<CertIdHash>,
    /// Canonical lowercase hex of the serial (as [`crate::IssuedCertificate::serial_hex`]);
    /// `None` for a zero or negative serial, which no CA issues.
    pub serial_hex: Option<String>,
    cert_id: CertId,
}

/// A decoded OCSP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspQuery {
    pub certificates: Vec<RequestedCertificate>,
    /// The request's nonce extension, as sent, echoed in the response.
    nonce: Option<Extension>,
}

impl OcspQuery {
    pub fn has_nonce(&self) -> bool {
        self.nonce.is_some()
    }

    /// The nonce's octets, if the request carried one.
    pub fn nonce(&self) -> Option<Vec<u8>> {
        let extension = self.nonce.as_ref()?;
        OctetString::from_der(extension.extn_value.as_bytes()).ok().map(|octets| octets.as_bytes().to_vec())
    }
}

/// Reads a DER OCSPRequest. Every refusal is `malformedRequest`.
pub fn parse_ocsp_request(der: &[u8]) -> Result<OcspQuery, OcspFailure> {
    if der.is_empty() || der.len() > MAX_OCSP_REQUEST_BYTES {
        return Err(OcspFailure::MalformedRequest);
    }
    // `from_der` refuses trailing bytes; the version is an enum of v1 only.
    let request = OcspRequest::from_der(der).map_err(|_| OcspFailure::MalformedRequest)?;
    let tbs = request.tbs_request;
    if tbs.version != Version::V1 || tbs.request_list.is_empty() || tbs.request_list.len() > MAX_REQUEST_ENTRIES {
        return Err(OcspFailure::MalformedRequest);
    }
    let mut nonce = None;
    for extension in tbs.request_extensions.into_iter().flatten() {
        if extension.extn_id == ID_PKIX_OCSP_NONCE {
            let value = OctetString::from_der(extension.extn_value.as_bytes()).map_err(|_| OcspFailure::MalformedRequest)?;
            if nonce.is_some() || value.as_bytes().is_empty() || value.as_bytes().len() > MAX_NONCE_BYTES {
                return Err(OcspFailure::MalformedRequest);
            }
            nonce = Some(extension);
        } else if extension.critical {
            return Err(OcspFailure::MalformedRequest);
        }
    }
    let mut certificates = Vec::with_capacity(tbs.request_list.len());
    for entry in tbs.request_list {
        if entry.single_request_extensions.iter().flatten().any(|extension| extension.critical) {
            return Err(OcspFailure::MalformedRequest);
        }
        let cert_id = entry.req_cert;
        let serial = cert_id.serial_number.as_bytes();
        let positive = serial.first().is_some_and(|&b| b < 0x80) && serial.iter().any(|&b| b != 0);
        certificates.push(RequestedCertificate {
            hash: CertIdHash::from_algorithm(&cert_id.hash_algorithm),
            serial_hex: positive.then(|| serial_hex(serial)),
            cert_id,
        });
    }
    Ok(OcspQuery { certificates, nonce })
}

/// What the caller found out about one requested certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OcspStatus {
    Good,
    Revoked {
        at: OffsetDateTime,
        reason: RevocationReason,
    },
    /// Not a certificate of this CA.
    Unknown,
}

/// The times a response states; `this_update`/`next_update` are the window of the CRL
/// that lists the same revocations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OcspTimes {
    pub produced_at: OffsetDateTime,
    pub this_update: OffsetDateTime,
    pub next_update: OffsetDateTime,
}

/// A delegated OCSP signer for one CA (RFC 6960 section 4.2.2.2): a short-lived
/// certificate the CA issued with EKU id-kp-OCSPSigning and id-pkix-ocsp-nocheck, its
/// P-256 key, and what identifies the CA in requests.
pub struct OcspSigner {
    certificate_der: Vec<u8>,
    certificate: x509_cert::Certificate,
    key: KeyPair,
    /// SHA-1 of the signer's public key, the ResponderID byKey (RFC 6960 section 4.2.1).
    responder_key_hash: Vec<u8>,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    /// (hash, issuerNameHash, issuerKeyHash) of the CA for each hash we compute.
    issuer_ids: Vec<(CertIdHash, Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for OcspSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OcspSigner")
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("private_key", &"redacted")
            .finish_non_exhaustive()
    }
}

impl Drop for OcspSigner {
    fn drop(&mut self) {
        self.key.zeroize();
    }
}

impl CertificateAuthority {
    /// Makes a delegated OCSP signer: a fresh P-256 key (fast to sign with whatever the
    /// CA's own key is) and a certificate for it valid from an hour before `now` (clock
    /// skew of relying parties) for `lifetime`, cut at the CA's own expiry. Nothing
    /// records it: it is short-lived, and id-pkix-ocsp-nocheck tells clients not to ask
    /// for its own status.
    pub fn ocsp_signer(&self, now: OffsetDateTime, lifetime: StdDuration) -> Result<OcspSigner, CaError> {
        let lifetime = time::Duration::try_from(lifetime).map_err(|_| CaError::invalid_request("the OCSP signer lifetime is too long"))?;
        let not_before = certificate_time("not_before", now - time::Duration::hours(1))?;
        let not_after = certificate_time("not_after", (now + lifetime).min(self.not_after()))?;
        let (not_before, not_after) = validity(not_before, not_after)?;

        let mut name = DistinguishedName::new();
        let common_name: String = format!("{} OCSP", self.subject_common_name()).chars().take(64).collect();
        name.push(DnType::CommonName, common_name);
        let mut params = CertificateParams::default();
        params.not_before = not_before;
        params.not_after = not_after;
        params.serial_number = Some(SerialNumber::from_slice(&random_serial()));
        params.distinguished_name = name;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::OcspSigning];
        params.use_authority_key_identifier_extension = true;
        params.key_identifier_method = KeyIdMethod::Sha256;
        let null = yasna::construct_der(|writer| writer.write_null());
        params.custom_extensions.push(CustomExtension::from_oid_content(ID_PKIX_OCSP_NOCHECK, null));

        let key = KeyAlgorithm::EcP256.generate_key()?;
        let certificate = params
            .signed_by(&key, &self.issuer)
            .map_err(|e| CaError::Generation(format!("signing the OCSP signer certificate failed: {e}")))?;
        let certificate_der = certificate.der().to_vec();
        let parsed = x509_cert::Certificate::from_der(&certificate_der).map_err(CaError::generation)?;
        let responder_key_hash = CertIdHash::Sha1.digest(parsed.tbs_certificate.subject_public_key_info.subject_public_key.raw_bytes());

        let ca = parse_certificate("CA certificate", self.certificate_der())?;
        let (subject, public_key) = (ca.subject().as_raw(), &ca.public_key().subject_public_key.data);
        let issuer_ids = CertIdHash::ALL.into_iter().map(|hash| (hash, hash.digest(subject), hash.digest(public_key))).collect();
        Ok(OcspSigner { certificate_der, certificate: parsed, key, responder_key_hash, not_before, not_after, issuer_ids })
    }
}

impl OcspSigner {
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    pub fn not_before(&self) -> OffsetDateTime {
        self.not_before
    }

    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// Whether the CertID names this signer's CA (issuer name and key hash, RFC 6960
    /// section 4.1.1), in a hash we compute.
    pub fn is_issuer_of(&self, requested: &RequestedCertificate) -> bool {
        let Some(hash) = requested.hash else { return false };
        let id = &requested.cert_id;
        self.issuer_ids.iter().any(|(h, name, key)| {
            *h == hash && id.issuer_name_hash.as_bytes() == name.as_slice() && id.issuer_key_hash.as_bytes() == key.as_slice()
        })
    }

    /// A signed BasicOCSPResponse answering `query`, one SingleResponse per requested
    /// certificate in `statuses` (same order), with the request's nonce echoed.
    pub fn respond(&self, query: &OcspQuery, statuses: &[OcspStatus], times: OcspTimes) -> Result<Vec<u8>, CaError> {
        if statuses.len() != query.certificates.len() {
            return Err(CaError::invalid_request("an OCSP response needs one status per requested certificate"));
        }
        if times.next_update <= times.this_update {
            return Err(CaError::invalid_request("next_update must be later than this_update"));
        }
        let this_update = ocsp_time("this_update", times.this_update)?;
        let next_update = ocsp_time("next_update", times.next_update)?;
        let responses = query
            .certificates
            .iter()
            .zip(statuses)
            .map(|(requested, status)| {
                let cert_status = match *status {
                    OcspStatus::Good => CertStatus::good(),
                    OcspStatus::Unknown => CertStatus::unknown(),
                    OcspStatus::Revoked { at, reason } => CertStatus::revoked(RevokedInfo {
                        revocation_time: ocsp_time("revoked_at", at)?,
                        revocation_reason: crl_reason(reason),
                    }),
                };
                Ok(SingleResponse {
                    cert_id: requested.cert_id.clone(),
                    cert_status,
                    this_update,
                    next_update: Some(next_update),
                    single_extensions: None,
                })
            })
            .collect::<Result<Vec<_>, CaError>>()?;
        let tbs_response_data = ResponseData {
            version: Version::V1,
            responder_id: ResponderId::ByKey(OctetString::new(self.responder_key_hash.clone()).map_err(CaError::generation)?),
            produced_at: ocsp_time("produced_at", times.produced_at)?,
            responses,
            response_extensions: query.nonce.clone().map(|nonce| vec![nonce]),
        };
        let tbs = tbs_response_data.to_der().map_err(CaError::generation)?;
        let signature = self.key.sign(&tbs).map_err(|e| CaError::Generation(format!("signing the OCSP response failed: {e}")))?;
        let basic = BasicOcspResponse {
            tbs_response_data,
            signature_algorithm: AlgorithmIdentifierOwned { oid: ECDSA_WITH_SHA256, parameters: None },
            signature: der::asn1::BitString::from_bytes(&signature).map_err(CaError::generation)?,
            certs: Some(vec![self.certificate.clone()]),
        };
        let response = OcspResponse::successful(basic).map_err(CaError::generation)?;
        debug_assert_eq!(response.response_status, OcspResponseStatus::Successful);
        response.to_der().map_err(CaError::generation)
    }
}

/// GeneralizedTime in UTC, whole seconds (RFC 6960 section 4.2.2.1, no fractions).
fn ocsp_time(what: &str, t: OffsetDateTime) -> Result<OcspGeneralizedTime, CaError> {
    let t = certificate_time(what, t)?;
    let seconds = u64::try_from(t.unix_timestamp()).map_err(|_| CaError::invalid_request(format!("{what} is before 1970")))?;
    let time = GeneralizedTime::from_unix_duration(StdDuration::from_secs(seconds)).map_err(CaError::generation)?;
    Ok(OcspGeneralizedTime(time))
}

/// `None` for Unspecified, as in the CRL (RFC 5280 section 5.3.1 says to omit it).
fn crl_reason(reason: RevocationReason) -> Option<CrlReason> {
    match reason {
        RevocationReason::Unspecified => None,
        RevocationReason::KeyCompromise => Some(CrlReason::KeyCompromise),
        RevocationReason::CaCompromise => Some(CrlReason::CaCompromise),
        RevocationReason::AffiliationChanged => Some(CrlReason::AffiliationChanged),
        RevocationReason::Superseded => Some(CrlReason::Superseded),
        RevocationReason::CessationOfOperation => Some(CrlReason::CessationOfOperation),
        RevocationReason::CertificateHold => Some(CrlReason::CertificateHold),
        RevocationReason::PrivilegeWithdrawn => Some(CrlReason::PrivilegeWithdrawn),
    }
}

#[cfg(test)]
#[path = "ocsp_tests.rs"]
mod tests;
