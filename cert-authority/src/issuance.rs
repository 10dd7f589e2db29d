//! Issuing end-entity certificates (RFC 5280 section 4.1 and 4.2): TLS client
//! certificates for devices, from a generated key or a CSR, and the development TLS
//! server certificate of the quickstart.

use std::fmt;
use std::net::IpAddr;

use rcgen::{
    CertificateParams, CrlDistributionPoint, CustomExtension, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyIdMethod,
    KeyPair, KeyUsagePurpose, PublicKeyData, SanType, SerialNumber,
};
use time::OffsetDateTime;
use zeroize::{Zeroize as _, Zeroizing};

use crate::csr::{CheckedCsr, CsrKeyPolicy, check_csr};
use crate::encoding::{
    check_email, check_name, check_url, parse_certificate, pem_encode, pem_encode_secret, random_serial, serial_hex, sha256_hex, validity,
};
use crate::{CaError, CertificateAuthority, KeyAlgorithm};

/// OID of the Authority Information Access extension (RFC 5280 section 4.2.2.1).
const AUTHORITY_INFO_ACCESS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 1];
const ACCESS_METHOD_OCSP: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1];
const ACCESS_METHOD_CA_ISSUERS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 2];

/// Where relying parties find revocation data and the issuer's certificate.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CertificateUrls {
    pub crl_distribution_point: Option<String>,
    pub ocsp: Option<String>,
    pub ca_issuers: Option<String>,
}

/// A client certificate for a device, with a key generated here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCertificateRequest {
    /// What the user sees in the browser's certificate picker.
    pub common_name: String,
    pub email: Option<String>,
    pub key_algorithm: KeyAlgorithm,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub urls: CertificateUrls,
}

/// A client certificate for a key the device generated itself. Subject and SANs come
/// from here; only the public key is taken from the CSR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrIssuanceRequest {
    pub common_name: String,
    pub email: Option<String>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub urls: CertificateUrls,
}

/// An issued certificate; `private_key_pkcs8_der` is set when we generated the key.
#[derive(Clone)]
pub struct IssuedCertificate {
    pub certificate_der: Vec<u8>,
    pub certificate_pem: String,
    pub private_key_pkcs8_der: Option<Zeroizing<Vec<u8>>>,
    /// Lowercase hex of the serial number without leading zeros.
    pub serial_hex: String,
    pub fingerprint_sha256_hex: String,
    /// Lowercase hex SHA-256 of the certificate's SubjectPublicKeyInfo: the key it
    /// certifies, so a key once revoked as compromised can be recognised again.
    pub public_key_sha256_hex: String,
    pub subject_common_name: String,
    /// As written in the certificate: UTC, whole seconds.
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl IssuedCertificate {
    /// The private key as PKCS#8 PEM ("PRIVATE KEY"), if we generated it.
    pub fn private_key_pem(&self) -> Option<Zeroizing<String>> {
        self.private_key_pkcs8_der.as_ref().map(|der| pem_encode_secret("PRIVATE KEY", der))
    }
}

impl fmt::Debug for IssuedCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCertificate")
            .field("subject_common_name", &self.subject_common_name)
            .field("serial_hex", &self.serial_hex)
            .field("fingerprint_sha256_hex", &self.fingerprint_sha256_hex)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("private_key", &self.private_key_pkcs8_der.as_ref().map(|_| "redacted"))
            .finish_non_exhaustive()
    }
}

impl CertificateAuthority {
    /// Generates a key and a TLS client certificate for a device: subject CN, optional
    /// e-mail SAN, EKU clientAuth only, keyUsage digitalSignature (critical), CA:FALSE,
    /// AKI/SKI, and the CRL distribution point and AIA URLs that are given.
    pub fn issue_device_certificate(&self, req: &DeviceCertificateRequest) -> Result<IssuedCertificate, CaError> {
        let params = self.client_params(&req.common_name, req.email.as_deref(), req.not_before, req.not_after, &req.urls)?;
        let key = GeneratedKey(req.key_algorithm.generate_key()?);
        self.issue(params, &key.0, Some(Zeroizing::new(key.0.serialized_der().to_vec())))
    }

    /// Issues a TLS client certificate for the public key in a CSR (PEM or DER) after
    /// screening it with the default key policy ([`check_csr`]). Nothing else is taken
    /// from the CSR.
    pub fn issue_from_csr(&self, csr_pem_or_der: &[u8], req: &CsrIssuanceRequest) -> Result<IssuedCertificate, CaError> {
        self.issue_for_checked_csr(&check_csr(csr_pem_or_der, &CsrKeyPolicy::default())?, req)
    }

    /// Issues a TLS client certificate for a CSR that passed [`check_csr`]: its public
    /// key, and subject, SANs and extensions from `req` and this CA only.
    pub fn issue_for_checked_csr(&self, csr: &CheckedCsr, req: &CsrIssuanceRequest) -> Result<IssuedCertificate, CaError> {
        let params = self.client_params(&req.common_name, req.email.as_deref(), req.not_before, req.not_after, &req.urls)?;
        let issued = self.issue(params, &csr.key, None)?;
        // rcgen re-encodes the key; make sure it wrote exactly what the device holds.
        let certificate = parse_certificate("issued certificate", &issued.certificate_der)?;
        if certificate.public_key().raw != csr.spki_der.as_slice() {
            return Err(CaError::generation("the issued certificate does not carry the CSR's public key"));
        }
        Ok(issued)
    }

    /// A TLS server certificate (EKU serverAuth) with a fresh P-256 key, for the
    /// development setup of the quickstart. Needs at least one DNS name or IP address.
    pub fn issue_server_certificate(
        &self,
        dns_names: &[String],
        ip_addresses: &[IpAddr],
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<IssuedCertificate, CaError> {
        let first_name = dns_names
            .first()
            .cloned()
            .or_else(|| ip_addresses.first().map(IpAddr::to_string))
            .ok_or_else(|| CaError::invalid_request("a server certificate needs at least one DNS name or IP address"))?;
        let mut subject_alt_names = Vec::with_capacity(dns_names.len() + ip_addresses.len());
        for name in dns_names {
            check_dns_name(name)?;
            let ia5 =
                name.as_str().try_into().map_err(|e| CaError::invalid_request(format!("the DNS name \"{name}\" is not valid ({e})")))?;
            subject_alt_names.push(SanType::DnsName(ia5));
        }
        subject_alt_names.extend(ip_addresses.iter().copied().map(SanType::IpAddress));

        let common_name = if first_name.chars().count() <= 64 { first_name } else { "Mamori server".to_owned() };
        let mut params = self.end_entity_params(&common_name, not_before, not_after)?;
        params.subject_alt_names = subject_alt_names;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = GeneratedKey(KeyAlgorithm::EcP256.generate_key()?);
        self.issue(params, &key.0, Some(Zeroizing::new(key.0.serialized_der().to_vec())))
    }

    fn client_params(
        &self,
        common_name: &str,
        email: Option<&str>,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
        urls: &CertificateUrls,
    ) -> Result<CertificateParams, CaError> {
        let mut params = self.end_entity_params(common_name, not_before, not_after)?;
        if let Some(email) = email {
            check_email(email)?;
            let ia5 = email.try_into().map_err(|e| CaError::invalid_request(format!("the e-mail address is not valid ({e})")))?;
            params.subject_alt_names.push(SanType::Rfc822Name(ia5));
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        if let Some(url) = &urls.crl_distribution_point {
            check_url("CRL distribution point", url)?;
            params.crl_distribution_points = vec![CrlDistributionPoint { uris: vec![url.clone()] }];
        }
        if let Some(extension) = authority_info_access(urls)? {
            params.custom_extensions.push(extension);
        }
        Ok(params)
    }

    /// What every end-entity certificate has: CN, validity within ours, a random
    /// serial, CA:FALSE, digitalSignature, AKI and SKI.
    fn end_entity_params(
        &self,
        common_name: &str,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<CertificateParams, CaError> {
        check_name("common name", common_name)?;
        let (not_before, not_after) = validity(not_before, not_after)?;
        self.check_within_validity(not_after)?;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, common_name);

        let mut params = CertificateParams::default();
        params.not_before = not_before;
        params.not_after = not_after;
        params.serial_number = Some(SerialNumber::from_slice(&random_serial()));
        params.distinguished_name = name;
        // ExplicitNoCa writes basicConstraints CA:FALSE and, with it, the SKI.
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        params.key_identifier_method = KeyIdMethod::Sha256;
        Ok(params)
    }

    fn issue(
        &self,
        params: CertificateParams,
        public_key: &impl PublicKeyData,
        private_key_pkcs8_der: Option<Zeroizing<Vec<u8>>>,
    ) -> Result<IssuedCertificate, CaError> {
        let certificate =
            params.signed_by(public_key, &self.issuer).map_err(|e| CaError::Generation(format!("signing the certificate failed: {e}")))?;
        let certificate_der = certificate.der().to_vec();
        let public_key_sha256_hex = sha256_hex(&public_key.subject_public_key_info());
        let serial = params.serial_number.as_ref().map(|s| serial_hex(s.as_ref())).unwrap_or_default();
        let subject_common_name = match params.distinguished_name.get(&DnType::CommonName) {
            Some(rcgen::DnValue::Utf8String(name)) => name.clone(),
            _ => String::new(),
        };
        Ok(IssuedCertificate {
            certificate_pem: pem_encode("CERTIFICATE", &certificate_der),
            fingerprint_sha256_hex: sha256_hex(&certificate_der),
            public_key_sha256_hex,
            certificate_der,
            private_key_pkcs8_der,
            serial_hex: serial,
            subject_common_name,
            not_before: params.not_before,
            not_after: params.not_after,
        })
    }
}

/// Host names, optionally with a leading wildcard label; IDNs must be given as A-labels.
fn check_dns_name(name: &str) -> Result<(), CaError> {
    let host = name.strip_prefix("*.").unwrap_or(name);
    let valid = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if valid { Ok(()) } else { Err(CaError::invalid_request(format!("\"{name}\" is not a valid DNS name"))) }
}

/// AuthorityInfoAccessSyntax ::= SEQUENCE SIZE (1..MAX) OF AccessDescription, each
/// `SEQUENCE { accessMethod OID, accessLocation [6] IA5String }`. rcgen has no builder
/// for it, so we encode it and add it as a non-critical custom extension.
fn authority_info_access(urls: &CertificateUrls) -> Result<Option<CustomExtension>, CaError> {
    let mut descriptions = Vec::new();
    if let Some(url) = &urls.ocsp {
        check_url("OCSP URL", url)?;
        descriptions.push((ACCESS_METHOD_OCSP, url.as_str()));
    }
    if let Some(url) = &urls.ca_issuers {
        check_url("CA issuers URL", url)?;
        descriptions.push((ACCESS_METHOD_CA_ISSUERS, url.as_str()));
    }
    if descriptions.is_empty() {
        return Ok(None);
    }
    let der = yasna::construct_der(|writer| {
        writer.write_sequence(|writer| {
            for (method, url) in &descriptions {
                writer.next().write_sequence(|writer| {
                    writer.next().write_oid(&yasna::models::ObjectIdentifier::from_slice(method));
                    // check_url guaranteed ASCII, which write_ia5_string asserts.
                    writer.next().write_tagged_implicit(yasna::Tag::context(6), |writer| writer.write_ia5_string(url));
                });
            }
        });
    });
    Ok(Some(CustomExtension::from_oid_content(AUTHORITY_INFO_ACCESS, der)))
}

/// A freshly generated key pair whose PKCS#8 bytes are wiped once issuance is done.
struct GeneratedKey(KeyPair);

impl Drop for GeneratedKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_info_access_is_encoded_as_rfc_5280_says() {
        let urls = CertificateUrls {
            crl_distribution_point: None,
            ocsp: Some("http://o.example".into()),
            ca_issuers: Some("http://c.example/ca.der".into()),
        };
        let extension = authority_info_access(&urls).unwrap().unwrap();
        assert!(!extension.criticality());
        let content = extension.content();
        // SEQUENCE of two SEQUENCEs; the first carries id-ad-ocsp and a [6] URI.
        assert_eq!(content[0], 0x30);
        let ocsp_oid = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01];
        assert!(content.windows(ocsp_oid.len()).any(|w| w == ocsp_oid));
        assert!(content.windows(18).any(|w| w == b"\x86\x10http://o.example"));
        assert!(authority_info_access(&CertificateUrls::default()).unwrap().is_none());
        let bad = CertificateUrls { ocsp: Some("http://ü".into()), ..Default::default() };
        assert!(authority_info_access(&bad).is_err());
    }

    #[test]
    fn dns_names_are_checked() {
        for good in ["localhost", "mamori.example", "*.mamori.example", "a-b.c1"] {
            assert!(check_dns_name(good).is_ok(), "{good}");
        }
        for bad in ["", "a..b", "-a.example", "a b", "é.example", "*.", "a.*.b"] {
            assert!(check_dns_name(bad).is_err(), "{bad}");
        }
    }
}
