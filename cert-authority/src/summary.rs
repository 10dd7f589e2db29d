//! What the server needs to know about a certificate a client presented, to find the
//! device record it belongs to.

use time::OffsetDateTime;
use x509_parser::extensions::{GeneralName, ParsedExtension};

use crate::CaError;
use crate::encoding::{common_name, parse_certificate, serial_hex, sha256_hex};

/// The identifying fields of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateSummary {
    /// Same form as [`crate::IssuedCertificate::serial_hex`].
    pub serial_hex: String,
    pub fingerprint_sha256_hex: String,
    /// `None` when the subject has no (readable) common name.
    pub subject_common_name: Option<String>,
    pub issuer_common_name: Option<String>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// rfc822Name entries of the subjectAltName extension.
    pub email_addresses: Vec<String>,
    /// Lowercase hex of the authorityKeyIdentifier's keyIdentifier: tells which CA key
    /// signed it without trusting the issuer name alone.
    pub authority_key_id_hex: Option<String>,
}

/// Reads a DER certificate. This does not verify anything: the TLS layer has already
/// checked the chain, and this only extracts the fields.
pub fn parse_certificate_summary(der: &[u8]) -> Result<CertificateSummary, CaError> {
    let certificate = parse_certificate("certificate", der)?;
    let mut email_addresses = Vec::new();
    let mut authority_key_id_hex = None;
    for extension in certificate.iter_extensions() {
        match extension.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                email_addresses.extend(san.general_names.iter().filter_map(|name| match name {
                    GeneralName::RFC822Name(email) => Some((*email).to_owned()),
                    _ => None,
                }));
            }
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                authority_key_id_hex = aki.key_identifier.as_ref().map(|id| hex::encode(id.0));
            }
            _ => {}
        }
    }
    Ok(CertificateSummary {
        serial_hex: serial_hex(certificate.raw_serial()),
        fingerprint_sha256_hex: sha256_hex(der),
        subject_common_name: common_name(certificate.subject()),
        issuer_common_name: common_name(certificate.issuer()),
        not_before: certificate.validity().not_before.to_datetime(),
        not_after: certificate.validity().not_after.to_datetime(),
        email_addresses,
        authority_key_id_hex,
    })
}
