//! Small encoding rules shared by the modules: PEM in and out, fingerprints, serial
//! numbers, validity times and the names and URLs we put into certificates.

use pem::{EncodeConfig, LineEnding, Pem};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer as _;
use x509_parser::x509::X509Name;
use zeroize::Zeroizing;

use crate::CaError;

/// Upper bound of RFC 5280 (ub-common-name, ub-organization-name).
const MAX_NAME_CHARS: usize = 64;

pub(crate) fn sha256(der: &[u8]) -> [u8; 32] {
    Sha256::digest(der).into()
}

pub(crate) fn sha256_hex(der: &[u8]) -> String {
    hex::encode(sha256(der))
}

/// PEM with LF line endings (the `pem` crate defaults to CRLF).
pub(crate) fn pem_encode(tag: &str, der: &[u8]) -> String {
    pem::encode_config(&Pem::new(tag, der), EncodeConfig::new().set_line_ending(LineEnding::LF))
}

/// PEM for secrets: written straight into a buffer that is wiped on drop, because the
/// `pem` crate copies the contents and builds its base64 in buffers it does not wipe.
pub(crate) fn pem_encode_secret(tag: &str, der: &[u8]) -> Zeroizing<String> {
    use base64::Engine as _;
    let encoded = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(der));
    let lines = encoded.len().div_ceil(64);
    // Sized up front so the String never reallocates and leaves a copy behind.
    let mut out = Zeroizing::new(String::with_capacity(2 * tag.len() + 40 + encoded.len() + lines));
    out.push_str("-----BEGIN ");
    out.push_str(tag);
    out.push_str("-----\n");
    for line in encoded.as_bytes().chunks(64) {
        out.extend(line.iter().map(|&b| char::from(b)));
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(tag);
    out.push_str("-----\n");
    out
}

/// RFC 3339 for messages; falls back to `Display`, which cannot fail.
pub(crate) fn display_time(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| t.to_string())
}

pub(crate) fn parse_pem_blocks(what: &'static str, text: &str) -> Result<Vec<Pem>, CaError> {
    let blocks = pem::parse_many(text).map_err(|e| CaError::InvalidPem { what, reason: format!("it is not valid PEM ({e})") })?;
    if blocks.is_empty() {
        return Err(CaError::InvalidPem { what, reason: "it contains no PEM block".into() });
    }
    Ok(blocks)
}

/// Every block must be a CERTIFICATE; returns their DER in order.
pub(crate) fn certificates_from_pem(what: &'static str, text: &str) -> Result<Vec<Vec<u8>>, CaError> {
    parse_pem_blocks(what, text)?
        .into_iter()
        .map(|block| {
            if block.tag() == "CERTIFICATE" {
                Ok(block.into_contents())
            } else {
                Err(CaError::InvalidPem { what, reason: format!("expected CERTIFICATE blocks but found a {} block", block.tag()) })
            }
        })
        .collect()
}

/// Exactly one certificate, so that a full chain pasted by mistake is caught.
pub(crate) fn one_certificate_from_pem(what: &'static str, text: &str) -> Result<Vec<u8>, CaError> {
    let mut certificates = certificates_from_pem(what, text)?;
    match certificates.len() {
        1 => Ok(certificates.remove(0)),
        n => Err(CaError::InvalidPem { what, reason: format!("expected one certificate but found {n} (pass the issuers as the chain)") }),
    }
}

/// Parses DER and refuses trailing bytes, which would make fingerprints ambiguous.
pub(crate) fn parse_certificate<'a>(what: &'static str, der: &'a [u8]) -> Result<X509Certificate<'a>, CaError> {
    match X509Certificate::from_der(der) {
        Ok(([], certificate)) => Ok(certificate),
        Ok(_) => Err(CaError::InvalidPem { what, reason: "there are bytes after the certificate".into() }),
        Err(e) => Err(CaError::InvalidPem { what, reason: format!("it is not an X.509 certificate ({e})") }),
    }
}

pub(crate) fn common_name(name: &X509Name<'_>) -> Option<String> {
    name.iter_common_name().next().and_then(|attribute| attribute.as_str().ok()).map(str::to_owned)
}

/// 128 random bits, positive (top bit clear) and never zero: RFC 5280 asks for positive
/// serials of at most 20 octets, and CA/B forum practice for at least 64 random bits.
pub(crate) fn random_serial() -> [u8; 16] {
    let mut rng = rand::rng();
    loop {
        let mut serial = [0u8; 16];
        rng.fill_bytes(&mut serial);
        serial[0] &= 0x7f;
        if serial.iter().any(|&b| b != 0) {
            return serial;
        }
    }
}

/// Lowercase hex of the serial's magnitude without leading zero bytes: the same text
/// for the number whether it came from our generator or from a parsed DER INTEGER.
pub(crate) fn serial_hex(magnitude: &[u8]) -> String {
    let start = magnitude.iter().position(|&b| b != 0).unwrap_or(magnitude.len());
    let hex = hex::encode(&magnitude[start..]);
    if hex.is_empty() { "00".to_owned() } else { hex }
}

/// Reads a serial written as hex, with or without `:` separators and leading zeros.
pub(crate) fn parse_serial_hex(text: &str) -> Result<Vec<u8>, CaError> {
    let digits: String = text.trim().chars().filter(|&c| c != ':').collect();
    if digits.is_empty() {
        return Err(CaError::InvalidSerial("it is empty".into()));
    }
    let padded = if digits.len() % 2 == 1 { format!("0{digits}") } else { digits };
    let bytes = hex::decode(&padded).map_err(|_| CaError::InvalidSerial(format!("\"{}\" is not hexadecimal", text.trim())))?;
    let start =
        bytes.iter().position(|&b| b != 0).ok_or_else(|| CaError::InvalidSerial("zero is not a certificate serial number".into()))?;
    let magnitude = bytes[start..].to_vec();
    // 20 octets once DER adds the sign byte, as RFC 5280 section 4.1.2.2 allows.
    let encoded_len = magnitude.len() + usize::from(magnitude[0] >= 0x80);
    if encoded_len > 20 {
        return Err(CaError::InvalidSerial(format!("\"{}\" is longer than the 20 octets RFC 5280 allows", text.trim())));
    }
    Ok(magnitude)
}

/// UTC, whole seconds (X.509 times have no fractions) and a year X.509 can express.
pub(crate) fn certificate_time(what: &str, t: OffsetDateTime) -> Result<OffsetDateTime, CaError> {
    let utc = t.to_offset(time::UtcOffset::UTC);
    let whole = utc.replace_nanosecond(0).map_err(|e| CaError::invalid_request(format!("{what}: {e}")))?;
    if !(1950..=9999).contains(&whole.year()) {
        return Err(CaError::invalid_request(format!("{what} must fall between the years 1950 and 9999")));
    }
    Ok(whole)
}

pub(crate) fn validity(not_before: OffsetDateTime, not_after: OffsetDateTime) -> Result<(OffsetDateTime, OffsetDateTime), CaError> {
    let not_before = certificate_time("not_before", not_before)?;
    let not_after = certificate_time("not_after", not_after)?;
    if not_after <= not_before {
        return Err(CaError::invalid_request("not_after must be later than not_before"));
    }
    Ok((not_before, not_after))
}

/// Names end up in certificate pickers and logs: no control characters, not blank,
/// and within the RFC 5280 length bound.
pub(crate) fn check_name(what: &str, value: &str) -> Result<(), CaError> {
    if value.trim().is_empty() {
        return Err(CaError::invalid_request(format!("the {what} must not be empty")));
    }
    if value.chars().count() > MAX_NAME_CHARS {
        return Err(CaError::invalid_request(format!("the {what} must be at most {MAX_NAME_CHARS} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(CaError::invalid_request(format!("the {what} must not contain control characters")));
    }
    Ok(())
}

/// URLs go into IA5String fields: ASCII only, and http(s) because that is what relying
/// parties fetch CRLs, OCSP responses and issuer certificates from.
pub(crate) fn check_url(what: &str, url: &str) -> Result<(), CaError> {
    let scheme_ok =
        ["http://", "https://"].iter().any(|scheme| url.len() > scheme.len() && url[..scheme.len()].eq_ignore_ascii_case(scheme));
    if !scheme_ok || !url.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(CaError::invalid_request(format!(
            "the {what} \"{url}\" must be an http:// or https:// URL of printable ASCII without spaces"
        )));
    }
    Ok(())
}

/// A plain ASCII address `local@domain`; internationalised addresses would need the
/// SmtpUTF8Mailbox otherName, which clients rarely understand.
pub(crate) fn check_email(email: &str) -> Result<(), CaError> {
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && (domain.contains('.') || domain == "localhost")
                && email.bytes().all(|b| b.is_ascii_graphic())
        }
        None => false,
    };
    if valid {
        Ok(())
    } else {
        Err(CaError::invalid_request(format!("\"{email}\" is not an e-mail address this CA can put in a certificate (ASCII local@domain)")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn serials_are_positive_nonzero_and_at_most_128_bits() {
        for _ in 0..1000 {
            let serial = random_serial();
            assert!(serial[0] < 0x80);
            assert!(serial.iter().any(|&b| b != 0));
        }
    }

    #[test]
    fn secret_pem_matches_the_pem_crate() {
        for len in [0, 1, 47, 48, 49, 138, 1217] {
            let der: Vec<u8> = (0..len).map(|i| (i * 7 % 256) as u8).collect();
            assert_eq!(pem_encode_secret("PRIVATE KEY", &der).as_str(), pem_encode("PRIVATE KEY", &der));
        }
    }

    #[test]
    fn serial_hex_is_canonical() {
        assert_eq!(serial_hex(&[0, 0, 0x1a, 0x02]), "1a02");
        assert_eq!(serial_hex(&[]), "00");
        assert_eq!(parse_serial_hex("1A:02").unwrap(), vec![0x1a, 0x02]);
        assert_eq!(parse_serial_hex("0001a02").unwrap(), vec![0x1a, 0x02]);
        assert_eq!(parse_serial_hex(" 7 ").unwrap(), vec![0x07]);
        assert!(matches!(parse_serial_hex("00"), Err(CaError::InvalidSerial(_))));
        assert!(matches!(parse_serial_hex("xyz"), Err(CaError::InvalidSerial(_))));
        assert!(matches!(parse_serial_hex(""), Err(CaError::InvalidSerial(_))));
        assert!(parse_serial_hex(&"7f".repeat(20)).is_ok());
        assert!(parse_serial_hex(&"80".repeat(20)).is_err());
    }

    #[test]
    fn times_are_normalised_to_utc_whole_seconds() {
        let t = certificate_time("t", datetime!(2049-12-31 23:00:00.5 -5)).unwrap();
        assert_eq!(t, datetime!(2050-01-01 04:00:00 UTC));
        assert_eq!(t.offset(), time::UtcOffset::UTC);
        assert!(certificate_time("t", datetime!(1949-12-31 23:59:59 UTC)).is_err());
        assert!(validity(datetime!(2030-01-01 0:00 UTC), datetime!(2030-01-01 0:00 UTC)).is_err());
    }

    #[test]
    fn names_urls_and_emails_are_checked() {
        assert!(check_name("common name", "Alice's laptop").is_ok());
        assert!(check_name("common name", " ").is_err());
        assert!(check_name("common name", &"x".repeat(65)).is_err());
        assert!(check_name("common name", "a\nb").is_err());
        assert!(check_url("URL", "http://ca.example/crl").is_ok());
        assert!(check_url("URL", "HTTPS://ca.example/x").is_ok());
        assert!(check_url("URL", "ftp://ca.example").is_err());
        assert!(check_url("URL", "http://ca.example/ä").is_err());
        assert!(check_url("URL", "http://").is_err());
        assert!(check_email("alice@example.com").is_ok());
        assert!(check_email("alice@localhost").is_ok());
        assert!(check_email("alice").is_err());
        assert!(check_email("@example.com").is_err());
        assert!(check_email("a@b@example.com").is_err());
        assert!(check_email("jörg@example.com").is_err());
    }
}
