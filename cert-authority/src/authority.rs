//! The CA itself (RFC 5280 section 4.2.1.9 and 4.2.1.3 for what makes a CA): creating
//! roots and intermediates, importing an existing CA, and sealing its key for storage.

use std::fmt;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, PublicKeyData,
    SerialNumber, SignatureAlgorithm, SigningKey,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::x509::X509Name;
use zeroize::Zeroize as _;

use crate::encoding::{
    check_name, common_name, display_time, one_certificate_from_pem, parse_certificate, pem_encode, random_serial, sha256, sha256_hex,
    validity,
};
use crate::private_key::load_ca_private_key;
use crate::{CaError, KeyAlgorithm, SealingKey};

/// The subject of a new CA certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaSubject {
    pub common_name: String,
    pub organization: Option<String>,
}

/// A CA certificate with its private key and the certificates above it.
///
/// The private key never leaves this type except sealed ([`CertificateAuthority::to_sealed`]).
pub struct CertificateAuthority {
    certificate_der: Vec<u8>,
    chain_der: Vec<Vec<u8>>,
    pub(crate) issuer: Issuer<'static, CaKey>,
    /// What issued certificates and CRLs carry as authorityKeyIdentifier.
    pub(crate) authority_key_id: KeyIdMethod,
    key_algorithm: KeyAlgorithm,
    subject_common_name: String,
    not_after: OffsetDateTime,
    path_len_constraint: Option<u32>,
}

/// A CA as it is stored: certificates in the clear, the PKCS#8 private key sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedCa {
    pub certificate_pem: String,
    pub chain_pem: Vec<String>,
    /// `SealingKey::seal` output; standard base64 in serialized form.
    #[serde(with = "base64_bytes")]
    pub sealed_private_key: Vec<u8>,
    pub key_algorithm: KeyAlgorithm,
}

/// Binds a sealed key to one certificate so it cannot be swapped onto another one.
fn sealing_aad(certificate_der: &[u8]) -> Vec<u8> {
    let mut aad = b"mamori-ca private key for certificate sha256:".to_vec();
    aad.extend_from_slice(&sha256(certificate_der));
    aad
}

impl CertificateAuthority {
    /// Creates a self-signed root: CA:TRUE without a path length limit, keyUsage
    /// keyCertSign + cRLSign (critical), subjectKeyIdentifier. Keys: p256 or rsa3072.
    pub fn create_root(
        subject: &CaSubject,
        alg: KeyAlgorithm,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<Self, CaError> {
        let params = ca_params(subject, alg, not_before, not_after, BasicConstraints::Unconstrained)?;
        let key = alg.generate_key()?;
        let certificate = params.self_signed(&key).map_err(|e| CaError::Generation(format!("signing the root certificate failed: {e}")))?;
        Self::from_parts(certificate.der().to_vec(), key, Vec::new())
    }

    /// Creates an intermediate CA signed by this one, with pathLen 0 so it can only
    /// issue end-entity certificates. Its chain is this CA's certificate, then our chain.
    pub fn create_intermediate(
        &self,
        subject: &CaSubject,
        alg: KeyAlgorithm,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<Self, CaError> {
        if self.path_len_constraint == Some(0) {
            return Err(CaError::invalid_request("this CA has pathLen 0 and may not create intermediate CAs"));
        }
        let mut params = ca_params(subject, alg, not_before, not_after, BasicConstraints::Constrained(0))?;
        self.check_within_validity(params.not_after)?;
        params.use_authority_key_identifier_extension = true;
        let key = alg.generate_key()?;
        let certificate = params
            .signed_by(&key, &self.issuer)
            .map_err(|e| CaError::Generation(format!("signing the intermediate certificate failed: {e}")))?;
        let mut chain = Vec::with_capacity(self.chain_der.len() + 1);
        chain.push(self.certificate_der.clone());
        chain.extend(self.chain_der.iter().cloned());
        Self::from_parts(certificate.der().to_vec(), key, chain)
    }

    /// Imports an existing CA. The key may be PKCS#8 ("PRIVATE KEY"), SEC1
    /// ("EC PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY"), unencrypted. The chain, when
    /// given, lists the certificates above this CA, nearest issuer first; each link is
    /// checked by verifying its signature.
    pub fn import(cert_pem: &str, key_pem: &str, chain_pem: Option<&str>) -> Result<Self, CaError> {
        let certificate_der = one_certificate_from_pem("CA certificate", cert_pem)?;
        let key_algorithm = {
            let certificate = parse_certificate("CA certificate", &certificate_der)?;
            check_is_ca(&certificate)?;
            KeyAlgorithm::from_spki(certificate.public_key())?
        };
        let key = load_ca_private_key(key_pem, key_algorithm)?;
        let mut chain = match chain_pem {
            Some(text) if !text.trim().is_empty() => crate::encoding::certificates_from_pem("certificate chain", text)?,
            _ => Vec::new(),
        };
        // A "full chain" file often starts with the CA certificate itself.
        if chain.first() == Some(&certificate_der) {
            chain.remove(0);
        }
        Self::from_parts(certificate_der, key, chain)
    }

    /// Checks every invariant the rest of the crate relies on, whatever the source.
    fn from_parts(certificate_der: Vec<u8>, key: KeyPair, chain_der: Vec<Vec<u8>>) -> Result<Self, CaError> {
        let key = CaKey(key);
        let certificate = parse_certificate("CA certificate", &certificate_der)?;
        let path_len_constraint = check_is_ca(&certificate)?;
        let key_algorithm = KeyAlgorithm::from_spki(certificate.public_key())?;
        if key.algorithm() != key_algorithm.signature_algorithm()
            || key.der_bytes() != &certificate.public_key().subject_public_key.data[..]
        {
            return Err(CaError::KeyMismatch);
        }
        check_name_is_reproducible(certificate.subject())?;
        check_chain(&certificate, &chain_der)?;

        let subject_key_id = certificate.iter_extensions().find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
            _ => None,
        });
        let subject_common_name = common_name(certificate.subject()).unwrap_or_else(|| certificate.subject().to_string());
        let not_after = certificate.validity().not_after.to_datetime();
        drop(certificate);

        let issuer = Issuer::from_ca_cert_der(&certificate_der.as_slice().into(), key)
            .map_err(|e| CaError::invalid_request(format!("the CA certificate cannot be used for issuing ({e})")))?;
        Ok(Self {
            certificate_der,
            chain_der,
            issuer,
            // Without an SKI to copy, rcgen derives the identifier from the key (RFC 7093).
            authority_key_id: subject_key_id.map_or(KeyIdMethod::Sha256, KeyIdMethod::PreSpecified),
            key_algorithm,
            subject_common_name,
            not_after,
            path_len_constraint,
        })
    }

    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    pub fn certificate_pem(&self) -> String {
        pem_encode("CERTIFICATE", &self.certificate_der)
    }

    /// Certificates above this CA, nearest issuer first; empty for a root.
    pub fn chain_der(&self) -> &[Vec<u8>] {
        &self.chain_der
    }

    pub fn subject_common_name(&self) -> String {
        self.subject_common_name.clone()
    }

    pub fn key_algorithm(&self) -> KeyAlgorithm {
        self.key_algorithm
    }

    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// Lowercase hex SHA-256 of the certificate DER.
    pub fn fingerprint_sha256_hex(&self) -> String {
        sha256_hex(&self.certificate_der)
    }

    /// Seals the PKCS#8 private key under `key`, bound to this certificate.
    ///
    /// Returns a `Result` because AES-GCM sealing can fail inside the crypto library.
    pub fn to_sealed(&self, key: &SealingKey) -> Result<SealedCa, CaError> {
        let pkcs8 = self.issuer.key().0.serialized_der();
        Ok(SealedCa {
            certificate_pem: self.certificate_pem(),
            chain_pem: self.chain_der.iter().map(|der| pem_encode("CERTIFICATE", der)).collect(),
            sealed_private_key: key.seal(pkcs8, &sealing_aad(&self.certificate_der))?,
            key_algorithm: self.key_algorithm,
        })
    }

    /// Opens a sealed CA; [`CaError::WrongSealingKey`] when `key` is not the one it was
    /// sealed with, or the sealed key or certificate was altered.
    pub fn from_sealed(sealed: &SealedCa, key: &SealingKey) -> Result<Self, CaError> {
        let certificate_der = one_certificate_from_pem("sealed CA certificate", &sealed.certificate_pem)?;
        let chain_der =
            sealed.chain_pem.iter().map(|pem| one_certificate_from_pem("sealed CA chain", pem)).collect::<Result<Vec<_>, _>>()?;
        let pkcs8 = key.open(&sealed.sealed_private_key, &sealing_aad(&certificate_der))?;
        let key_pair = KeyPair::try_from(pkcs8.as_slice())
            .map_err(|e| CaError::invalid_request(format!("the sealed CA key is not a usable PKCS#8 key ({e})")))?;
        let authority = Self::from_parts(certificate_der, key_pair, chain_der)?;
        if authority.key_algorithm != sealed.key_algorithm {
            return Err(CaError::invalid_request(format!(
                "the sealed CA says its key is {} but the certificate holds a {} key",
                sealed.key_algorithm, authority.key_algorithm
            )));
        }
        Ok(authority)
    }

    /// Certificates we issue must not outlive us: relying parties would reject them
    /// once we expire anyway, so a clear error now beats a surprise later.
    pub(crate) fn check_within_validity(&self, not_after: OffsetDateTime) -> Result<(), CaError> {
        if not_after > self.not_after {
            return Err(CaError::invalid_request(format!(
                "not_after ({}) is later than the issuing CA's own expiry ({})",
                display_time(not_after),
                display_time(self.not_after)
            )));
        }
        Ok(())
    }
}

impl fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("subject_common_name", &self.subject_common_name)
            .field("key_algorithm", &self.key_algorithm)
            .field("not_after", &self.not_after)
            .field("chain_len", &self.chain_der.len())
            .field("private_key", &"redacted")
            .finish()
    }
}

fn ca_params(
    subject: &CaSubject,
    alg: KeyAlgorithm,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    constraints: BasicConstraints,
) -> Result<CertificateParams, CaError> {
    if alg == KeyAlgorithm::Rsa2048 {
        return Err(CaError::invalid_request("a new CA key must be p256 or rsa3072 (rsa2048 is too weak for a CA's lifetime)"));
    }
    check_name("CA common name", &subject.common_name)?;
    let mut name = DistinguishedName::new();
    if let Some(organization) = &subject.organization {
        check_name("CA organization", organization)?;
        name.push(DnType::OrganizationName, organization.as_str());
    }
    name.push(DnType::CommonName, subject.common_name.as_str());

    let (not_before, not_after) = validity(not_before, not_after)?;
    let mut params = CertificateParams::default();
    params.not_before = not_before;
    params.not_after = not_after;
    params.serial_number = Some(SerialNumber::from_slice(&random_serial()));
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(constraints);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.key_identifier_method = KeyIdMethod::Sha256;
    Ok(params)
}

/// basicConstraints CA:TRUE and keyUsage with keyCertSign (RFC 5280 requires the
/// extension in CA certificates). Returns the pathLen constraint.
fn check_is_ca(certificate: &X509Certificate<'_>) -> Result<Option<u32>, CaError> {
    let constraints = certificate.basic_constraints().map_err(|_| CaError::NotACa)?;
    let key_usage = certificate.key_usage().map_err(|_| CaError::NotACa)?;
    match (constraints, key_usage) {
        (Some(bc), Some(ku)) if bc.value.ca && ku.value.key_cert_sign() => Ok(bc.value.path_len_constraint),
        _ => Err(CaError::NotACa),
    }
}

/// rcgen rebuilds the issuer name from a map of attribute types, so a multi-valued RDN
/// or a repeated attribute would come out different from the CA's subject and
/// certificate chains would break. Refuse such names rather than issue broken chains.
fn check_name_is_reproducible(name: &X509Name<'_>) -> Result<(), CaError> {
    let mut seen = Vec::new();
    for rdn in name.iter() {
        let mut attributes = rdn.iter();
        let (Some(attribute), None) = (attributes.next(), attributes.next()) else {
            return Err(CaError::invalid_request(
                "the CA certificate's subject has a multi-valued RDN, which this CA cannot reproduce \
                 in the certificates it issues",
            ));
        };
        if seen.contains(attribute.attr_type()) {
            return Err(CaError::invalid_request(format!(
                "the CA certificate's subject repeats attribute {}, which this CA cannot reproduce \
                 in the certificates it issues",
                attribute.attr_type()
            )));
        }
        seen.push(attribute.attr_type().clone());
    }
    if seen.is_empty() {
        return Err(CaError::invalid_request("the CA certificate's subject is empty"));
    }
    Ok(())
}

/// Each chain certificate must be a CA whose key verifies the signature of the one before.
fn check_chain(certificate: &X509Certificate<'_>, chain_der: &[Vec<u8>]) -> Result<(), CaError> {
    let parsed = chain_der.iter().map(|der| parse_certificate("certificate chain", der)).collect::<Result<Vec<_>, _>>()?;
    let mut child = certificate;
    for (position, parent) in parsed.iter().enumerate() {
        if child.verify_signature(Some(parent.public_key())).is_err() {
            return Err(CaError::invalid_request(format!(
                "chain certificate {} did not sign the certificate before it; list the chain \
                 nearest issuer first",
                position + 1
            )));
        }
        if !parent.is_ca() {
            return Err(CaError::invalid_request(format!("chain certificate {} is not a CA certificate", position + 1)));
        }
        child = parent;
    }
    Ok(())
}

/// The CA's key pair; wipes rcgen's PKCS#8 copy on drop.
pub(crate) struct CaKey(pub(crate) KeyPair);

impl PublicKeyData for CaKey {
    fn der_bytes(&self) -> &[u8] {
        self.0.der_bytes()
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        PublicKeyData::algorithm(&self.0)
    }
}

impl SigningKey for CaKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.0.sign(msg)
    }
}

impl Drop for CaKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// serde as standard base64, which keeps JSON and TOML storage compact and readable.
mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD.decode(text.trim()).map_err(serde::de::Error::custom)
    }
}
