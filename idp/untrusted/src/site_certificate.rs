//! A certificate a relying site registers: a SAML SP's signing or encryption certificate
//! (from its metadata) or an OIDC client's `self_signed_tls_client_auth` certificate.
//! Self-signed is fine (the registration itself is the trust); what is refused is what
//! could never work: bytes that are not one whole X.509 certificate, a key Mamori cannot
//! use for the purpose, and a certificate outside its validity period. Relying parties
//! and TLS stacks refuse expired certificates, so registering one only postpones the
//! failure to a user's login; saying so at registration lets the operator fix it now.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, ECDSA_P384_SHA384_ASN1, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use x509_parser::certificate::X509Certificate;
use x509_parser::oid_registry::{OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_PKCS1_RSAENCRYPTION, OID_SIG_ED25519};
use x509_parser::prelude::FromDer;

/// What the certificate is for, which decides the keys that fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateUse {
    /// Verifying an SP's XML signatures (RSA 2048–8192 bits, EC P-256 or P-384).
    Signing,
    /// Encrypting assertions for an SP (RSA-OAEP: RSA 2048–8192 bits).
    Encryption,
    /// A TLS client certificate (RFC 8705): RSA, EC P-256/P-384 or Ed25519.
    TlsClient,
}

/// What a screened certificate shows back to the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screened {
    pub der: Vec<u8>,
    pub subject: String,
    /// notBefore and notAfter, in Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CertificateRefusal {
    #[error("not one PEM certificate (-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----)")]
    NotPem,
    #[error("the bytes are not an X.509 certificate")]
    NotACertificate,
    #[error("its public key is not one Mamori can use for this (RSA of 2048 to 8192 bits, or EC P-256 or P-384{0})")]
    UnusableKey(&'static str),
    #[error("it is not valid before {0} (Unix time); register it once it is valid")]
    NotYetValid(i64),
    #[error("it expired at {0} (Unix time); register the site's current certificate")]
    Expired(i64),
}

/// Screens one certificate given as PEM text (surrounding whitespace allowed).
pub fn screen_pem(text: &str, purpose: CertificateUse, now: i64) -> Result<Screened, CertificateRefusal> {
    let blocks = pem::parse_many(text.trim()).map_err(|_| CertificateRefusal::NotPem)?;
    match blocks.as_slice() {
        [only] if only.tag() == "CERTIFICATE" => screen_der(only.contents(), purpose, now),
        _ => Err(CertificateRefusal::NotPem),
    }
}

/// Screens one certificate in DER: exactly one certificate, nothing after it.
pub fn screen_der(der: &[u8], purpose: CertificateUse, now: i64) -> Result<Screened, CertificateRefusal> {
    let (rest, cert) = X509Certificate::from_der(der).map_err(|_| CertificateRefusal::NotACertificate)?;
    if !rest.is_empty() {
        return Err(CertificateRefusal::NotACertificate);
    }
    check_key(&cert, purpose)?;
    let validity = cert.validity();
    let (not_before, not_after) = (validity.not_before.timestamp(), validity.not_after.timestamp());
    if now < not_before {
        return Err(CertificateRefusal::NotYetValid(not_before));
    }
    if now > not_after {
        return Err(CertificateRefusal::Expired(not_after));
    }
    Ok(Screened { der: der.to_vec(), subject: cert.subject().to_string(), not_before, not_after })
}

fn check_key(cert: &X509Certificate<'_>, purpose: CertificateUse) -> Result<(), CertificateRefusal> {
    let spki = cert.public_key();
    let key = spki.subject_public_key.data.as_ref();
    let unusable = CertificateRefusal::UnusableKey(match purpose {
        CertificateUse::Encryption => "; encryption needs RSA",
        CertificateUse::TlsClient => ", or Ed25519",
        CertificateUse::Signing => "",
    });
    let algorithm = &spki.algorithm.algorithm;
    // The key itself is parsed as the verifier will parse it: a modulus or point that
    // does not load is refused, whatever the certificate's structure says.
    let parses = if *algorithm == OID_PKCS1_RSAENCRYPTION {
        ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key).is_ok()
    } else if *algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY && purpose != CertificateUse::Encryption {
        let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok());
        match curve {
            Some(c) if c == OID_EC_P256 => ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, key).is_ok(),
            Some(c) if c == OID_NIST_EC_P384 => ParsedPublicKey::new(&ECDSA_P384_SHA384_ASN1, key).is_ok(),
            _ => false,
        }
    } else {
        *algorithm == OID_SIG_ED25519 && purpose == CertificateUse::TlsClient && key.len() == 32
    };
    if parses { Ok(()) } else { Err(unusable) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    /// A self-signed certificate for `alg`, valid from `from` to `to` (Unix seconds).
    fn certificate(alg: &'static rcgen::SignatureAlgorithm, from: i64, to: i64) -> (String, Vec<u8>) {
        let key = rcgen::KeyPair::generate_for(alg).expect("key");
        let mut params = rcgen::CertificateParams::new(vec!["sp.example".to_owned()]).expect("params");
        params.not_before = time::OffsetDateTime::from_unix_timestamp(from).expect("time");
        params.not_after = time::OffsetDateTime::from_unix_timestamp(to).expect("time");
        let cert = params.self_signed(&key).expect("certificate");
        (cert.pem(), cert.der().to_vec())
    }

    fn current(alg: &'static rcgen::SignatureAlgorithm) -> (String, Vec<u8>) {
        certificate(alg, NOW - 86_400, NOW + 86_400)
    }

    #[test]
    fn a_current_self_signed_certificate_is_kept_with_what_it_says() {
        let (pem, der) = current(&rcgen::PKCS_ECDSA_P256_SHA256);
        let screened = screen_pem(&format!("\n{pem}\n"), CertificateUse::Signing, NOW).expect("valid");
        assert_eq!(screened.der, der);
        assert!(screened.subject.contains("rcgen"), "{}", screened.subject);
        assert_eq!((screened.not_before, screened.not_after), (NOW - 86_400, NOW + 86_400));
        assert!(screen_der(&der, CertificateUse::TlsClient, NOW).is_ok());
        let (_, rsa) = current(&rcgen::PKCS_RSA_SHA256);
        for purpose in [CertificateUse::Signing, CertificateUse::Encryption, CertificateUse::TlsClient] {
            assert!(screen_der(&rsa, purpose, NOW).is_ok(), "{purpose:?}");
        }
        let (_, ed) = current(&rcgen::PKCS_ED25519);
        assert!(screen_der(&ed, CertificateUse::TlsClient, NOW).is_ok());
    }

    #[test]
    fn garbage_and_unusable_certificates_are_refused_saying_why() {
        let garbage = "-----BEGIN CERTIFICATE-----\nTm90IGEgY2VydGlmaWNhdGUgYXQgYWxs\n-----END CERTIFICATE-----";
        assert_eq!(screen_pem(garbage, CertificateUse::TlsClient, NOW), Err(CertificateRefusal::NotACertificate));
        for not_pem in ["", "not pem", "-----BEGIN CERTIFICATE-----\n", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"] {
            assert_eq!(screen_pem(not_pem, CertificateUse::TlsClient, NOW), Err(CertificateRefusal::NotPem), "{not_pem}");
        }
        let (pem, der) = current(&rcgen::PKCS_ECDSA_P256_SHA256);
        assert_eq!(screen_pem(&format!("{pem}{pem}"), CertificateUse::TlsClient, NOW), Err(CertificateRefusal::NotPem));
        let mut trailing = der.clone();
        trailing.push(0);
        assert_eq!(screen_der(&trailing, CertificateUse::Signing, NOW), Err(CertificateRefusal::NotACertificate));
        assert_eq!(screen_der(&der[..der.len() - 1], CertificateUse::Signing, NOW), Err(CertificateRefusal::NotACertificate));
        // RSA-OAEP encrypts to RSA keys only; Ed25519 signs no SAML message.
        assert!(matches!(screen_der(&der, CertificateUse::Encryption, NOW), Err(CertificateRefusal::UnusableKey(_))));
        let (_, ed) = current(&rcgen::PKCS_ED25519);
        assert!(matches!(screen_der(&ed, CertificateUse::Signing, NOW), Err(CertificateRefusal::UnusableKey(_))));
        let (_, expired) = certificate(&rcgen::PKCS_ECDSA_P256_SHA256, NOW - 200, NOW - 100);
        assert_eq!(screen_der(&expired, CertificateUse::Signing, NOW), Err(CertificateRefusal::Expired(NOW - 100)));
        let (_, early) = certificate(&rcgen::PKCS_ECDSA_P256_SHA256, NOW + 100, NOW + 200);
        assert_eq!(screen_der(&early, CertificateUse::Signing, NOW), Err(CertificateRefusal::NotYetValid(NOW + 100)));
    }
}
