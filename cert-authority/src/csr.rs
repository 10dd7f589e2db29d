//! Reading PKCS#10 certificate signing requests (RFC 2986): verify the self-signature,
//! then keep only the public key. Subject, attributes and requested extensions are
//! ignored on purpose; the CA decides what goes into the certificate.

use rcgen::SubjectPublicKeyInfo;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::error::X509Error;
use x509_parser::oid_registry::{OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_PKCS1_RSAENCRYPTION, OID_SIG_ED25519};
use x509_parser::prelude::FromDer as _;
use x509_parser::public_key::PublicKey;

use crate::CaError;
use crate::algorithm::rsa_modulus_bits;

/// Requests larger than this are not CSRs we want to parse (an RSA 8192 CSR is ~1.5 kB).
const MAX_CSR_BYTES: usize = 64 * 1024;

pub(crate) struct CsrPublicKey {
    pub(crate) key: SubjectPublicKeyInfo,
    /// The SubjectPublicKeyInfo exactly as the CSR carried it.
    pub(crate) spki_der: Vec<u8>,
}

pub(crate) fn public_key_from_csr(input: &[u8]) -> Result<CsrPublicKey, CaError> {
    if input.len() > MAX_CSR_BYTES {
        return Err(CaError::InvalidCsr(format!("it is larger than {} kB", MAX_CSR_BYTES / 1024)));
    }
    let der = csr_der(input)?;
    let csr = match X509CertificationRequest::from_der(&der) {
        Ok(([], csr)) => csr,
        Ok(_) => {
            return Err(CaError::InvalidCsr("there are bytes after the request".into()));
        }
        Err(e) => {
            return Err(CaError::InvalidCsr(format!("it is not a PKCS#10 request ({e})")));
        }
    };
    let spki = &csr.certification_request_info.subject_pki;
    check_key_type(spki)?;
    match csr.verify_signature() {
        Ok(()) => {}
        Err(X509Error::SignatureVerificationError) => return Err(CaError::CsrSignature),
        Err(e) => {
            return Err(CaError::InvalidCsr(format!("its signature cannot be checked ({e})")));
        }
    }
    let key = SubjectPublicKeyInfo::from_der(spki.raw).map_err(|e| CaError::InvalidCsr(format!("its public key is not usable ({e})")))?;
    Ok(CsrPublicKey { key, spki_der: spki.raw.to_vec() })
}

/// PEM ("CERTIFICATE REQUEST", or the older "NEW CERTIFICATE REQUEST") or raw DER.
fn csr_der(input: &[u8]) -> Result<Vec<u8>, CaError> {
    let looks_like_pem = input.trim_ascii_start().starts_with(b"-----BEGIN");
    if !looks_like_pem {
        return Ok(input.to_vec());
    }
    let block = pem::parse(input).map_err(|e| CaError::InvalidCsr(format!("it is not valid PEM ({e})")))?;
    match block.tag() {
        "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => Ok(block.into_contents()),
        other => Err(CaError::InvalidCsr(format!("expected a CERTIFICATE REQUEST block but found {other}"))),
    }
}

/// The key type rule, for the fuzz target's invariant.
pub(crate) fn fuzzing_key_type_accepted(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> bool {
    check_key_type(spki).is_ok()
}

/// Client keys TLS stacks accept: P-256, P-384, Ed25519, or RSA of 2048 to 8192 bits.
fn check_key_type(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> Result<(), CaError> {
    let algorithm = &spki.algorithm.algorithm;
    let accepted = if *algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok());
        matches!(curve, Some(c) if c == OID_EC_P256 || c == OID_NIST_EC_P384)
    } else if *algorithm == OID_PKCS1_RSAENCRYPTION {
        match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => (2048..=8192).contains(&rsa_modulus_bits(rsa.modulus)),
            _ => false,
        }
    } else {
        *algorithm == OID_SIG_ED25519
    };
    if accepted {
        Ok(())
    } else {
        Err(CaError::InvalidCsr("its key type is not accepted (use P-256, P-384, Ed25519 or RSA of at least 2048 bits)".into()))
    }
}
