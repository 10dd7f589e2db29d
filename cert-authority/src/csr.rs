//! Reading PKCS#10 certificate signing requests (RFC 2986) from outside: the one screened
//! parser every CSR goes through. It bounds the size, takes exactly one PEM block (or
//! DER), refuses anything after the request, checks the version, the key against a
//! policy, and the self-signature (proof of possession of the private key), then keeps
//! only the public key. Subject, attributes and requested extensions are never copied:
//! the CA decides what goes into the certificate, and [`CheckedCsr::ignored`] says what
//! the request asked for in vain, so the user can be told.

use std::fmt;

use rcgen::SubjectPublicKeyInfo;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::error::X509Error;
use x509_parser::extensions::ParsedExtension;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_PKCS1_RSAENCRYPTION, OID_PKCS1_RSASSAPSS, OID_PKCS1_SHA1WITHRSA,
    OID_SIG_ED25519,
};
use x509_parser::prelude::FromDer as _;
use x509_parser::public_key::PublicKey;

use crate::CaError;
use crate::algorithm::rsa_modulus_bits;

/// Requests larger than this are not CSRs we want to parse (an RSA 8192 CSR is ~1.5 kB).
pub const MAX_CSR_BYTES: usize = 64 * 1024;

/// The crate's floor, whatever a caller's policy says: RSA below 2048 bits is refused
/// (NIST SP 800-131A), and above 8192 bits a signature check costs too much per request.
const RSA_FLOOR_BITS: usize = 2048;
const RSA_CEILING_BITS: usize = 8192;

/// Which keys a caller accepts in CSRs, on top of the crate's own floor (EC P-256 and
/// P-384 always; RSA of 2048 to 8192 bits at least).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsrKeyPolicy {
    /// Smallest RSA modulus accepted; values under 2048 are raised to 2048.
    pub min_rsa_bits: usize,
    /// Ed25519 keys: fine for rustls, but most browsers and OS key stores cannot use them
    /// for TLS client authentication, so a caller may prefer to refuse them up front.
    pub allow_ed25519: bool,
}

impl Default for CsrKeyPolicy {
    fn default() -> Self {
        Self { min_rsa_bits: RSA_FLOOR_BITS, allow_ed25519: true }
    }
}

/// Why a CSR is refused: each variant is one thing its maker can fix. The texts are
/// English sentence parts; a web page maps [`CsrProblem::code`] to its own messages.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsrProblem {
    Empty,
    TooLarge {
        max_bytes: usize,
    },
    /// It starts like PEM but is not readable PEM.
    BadPem,
    /// A PEM block of another kind: a certificate, a private key… (the label, shortened).
    WrongPemLabel(String),
    SeveralPemBlocks,
    /// The bytes are not a DER-encoded CertificationRequest.
    NotPkcs10,
    TrailingBytes,
    UnsupportedVersion(u32),
    /// A key type we do not certify (DSA, an unknown curve…), described in the text.
    UnsupportedKey(String),
    RsaKeyTooSmall {
        bits: usize,
        min_bits: usize,
    },
    RsaKeyTooLarge {
        bits: usize,
        max_bits: usize,
    },
    /// The request is signed with an algorithm we cannot check.
    UnsupportedSignatureAlgorithm,
    /// The request is signed with SHA-1, whose collisions make the proof of possession
    /// worth nothing (and which CAs stopped accepting long ago).
    WeakSignatureAlgorithm,
}

impl CsrProblem {
    /// A stable name for the problem (message keys, logs, metrics).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::TooLarge { .. } => "too-large",
            Self::BadPem => "bad-pem",
            Self::WrongPemLabel(_) => "wrong-pem-label",
            Self::SeveralPemBlocks => "several-pem-blocks",
            Self::NotPkcs10 => "not-pkcs10",
            Self::TrailingBytes => "trailing-bytes",
            Self::UnsupportedVersion(_) => "unsupported-version",
            Self::UnsupportedKey(_) => "unsupported-key",
            Self::RsaKeyTooSmall { .. } => "rsa-too-small",
            Self::RsaKeyTooLarge { .. } => "rsa-too-large",
            Self::UnsupportedSignatureAlgorithm => "unsupported-signature",
            Self::WeakSignatureAlgorithm => "weak-signature",
        }
    }
}

impl fmt::Display for CsrProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("it is empty"),
            Self::TooLarge { max_bytes } => write!(f, "it is larger than {} kB", max_bytes / 1024),
            Self::BadPem => f.write_str("it is not valid PEM"),
            Self::WrongPemLabel(label) => write!(f, "expected a CERTIFICATE REQUEST block but found {label}"),
            Self::SeveralPemBlocks => f.write_str("it holds more than one PEM block"),
            Self::NotPkcs10 => f.write_str("it is not a PKCS#10 request"),
            Self::TrailingBytes => f.write_str("there are bytes after the request"),
            Self::UnsupportedVersion(v) => write!(f, "its version is {v}, not 0 (v1)"),
            Self::UnsupportedKey(what) => write!(f, "its key is {what}; use P-256, P-384, Ed25519 or RSA of at least 2048 bits"),
            Self::RsaKeyTooSmall { bits, min_bits } => write!(f, "its RSA key has {bits} bits, fewer than the {min_bits} required"),
            Self::RsaKeyTooLarge { bits, max_bits } => write!(f, "its RSA key has {bits} bits, more than the {max_bits} accepted"),
            Self::UnsupportedSignatureAlgorithm => f.write_str("it is signed with an algorithm that cannot be checked"),
            Self::WeakSignatureAlgorithm => f.write_str("it is signed with SHA-1; sign it with SHA-256"),
        }
    }
}

/// Something a CSR asked for that the certificate will not carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IgnoredRequest {
    /// A subject name (the certificate gets Mamori's).
    Subject,
    /// basicConstraints CA:TRUE: a device never gets a CA certificate.
    CaCertificate,
    SubjectAltNames,
    ExtendedKeyUsage,
    KeyUsage,
    /// Any other requested extension.
    OtherExtensions,
}

impl IgnoredRequest {
    pub fn code(self) -> &'static str {
        match self {
            Self::Subject => "subject",
            Self::CaCertificate => "ca",
            Self::SubjectAltNames => "san",
            Self::ExtendedKeyUsage => "eku",
            Self::KeyUsage => "key-usage",
            Self::OtherExtensions => "other",
        }
    }
}

/// A CSR that passed every check: its public key, what kind of key it is, and what of
/// the request is ignored.
#[derive(Debug, Clone)]
pub struct CheckedCsr {
    /// "EC P-256", "EC P-384", "Ed25519" or "RSA 2048" (the modulus size).
    pub key_description: String,
    pub ignored: Vec<IgnoredRequest>,
    pub(crate) key: SubjectPublicKeyInfo,
    /// The SubjectPublicKeyInfo exactly as the CSR carried it.
    pub(crate) spki_der: Vec<u8>,
}

impl CheckedCsr {
    /// Lowercase hex SHA-256 of the request's SubjectPublicKeyInfo, as
    /// `IssuedCertificate::public_key_sha256_hex` writes it for the certificate.
    pub fn public_key_sha256_hex(&self) -> String {
        crate::encoding::sha256_hex(&self.spki_der)
    }
}

/// Screens a CSR (PEM or DER) against `policy`; see the module documentation.
pub fn check_csr(input: &[u8], policy: &CsrKeyPolicy) -> Result<CheckedCsr, CaError> {
    let invalid = CaError::InvalidCsr;
    if input.len() > MAX_CSR_BYTES {
        return Err(invalid(CsrProblem::TooLarge { max_bytes: MAX_CSR_BYTES }));
    }
    if input.trim_ascii().is_empty() {
        return Err(invalid(CsrProblem::Empty));
    }
    let der = csr_der(input)?;
    let csr = match X509CertificationRequest::from_der(&der) {
        Ok(([], csr)) => csr,
        Ok(_) => return Err(invalid(CsrProblem::TrailingBytes)),
        Err(_) => return Err(invalid(CsrProblem::NotPkcs10)),
    };
    let info = &csr.certification_request_info;
    if info.version.0 != 0 {
        return Err(invalid(CsrProblem::UnsupportedVersion(info.version.0)));
    }
    let spki = &info.subject_pki;
    let key_description = check_key(spki, policy)?;
    // Proof of possession: the request is signed by the private key of the public key it
    // carries. Checked after the key, so a weak key is named as such, not as a signature.
    // RSASSA-PSS is not verified here: say so, rather than call a good signature altered.
    if csr.signature_algorithm.algorithm == OID_PKCS1_RSASSAPSS {
        return Err(invalid(CsrProblem::UnsupportedSignatureAlgorithm));
    }
    if csr.signature_algorithm.algorithm == OID_PKCS1_SHA1WITHRSA {
        return Err(invalid(CsrProblem::WeakSignatureAlgorithm));
    }
    match csr.verify_signature() {
        Ok(()) => {}
        Err(X509Error::SignatureVerificationError) => return Err(CaError::CsrSignature),
        Err(X509Error::SignatureUnsupportedAlgorithm) => return Err(invalid(CsrProblem::UnsupportedSignatureAlgorithm)),
        Err(_) => return Err(CaError::CsrSignature),
    }
    let key = SubjectPublicKeyInfo::from_der(spki.raw).map_err(|_| invalid(CsrProblem::UnsupportedKey("not usable".into())))?;
    Ok(CheckedCsr { key_description, ignored: ignored_requests(&csr), key, spki_der: spki.raw.to_vec() })
}

/// What the request asks for that the CA never honours.
fn ignored_requests(csr: &X509CertificationRequest<'_>) -> Vec<IgnoredRequest> {
    let mut ignored = Vec::new();
    let mut note = |item| {
        if !ignored.contains(&item) {
            ignored.push(item);
        }
    };
    if csr.certification_request_info.subject.iter().next().is_some() {
        note(IgnoredRequest::Subject);
    }
    for extension in csr.requested_extensions().into_iter().flatten() {
        match extension {
            ParsedExtension::BasicConstraints(bc) if bc.ca => note(IgnoredRequest::CaCertificate),
            // CA:FALSE is what the certificate says anyway.
            ParsedExtension::BasicConstraints(_) => {}
            ParsedExtension::SubjectAlternativeName(_) => note(IgnoredRequest::SubjectAltNames),
            ParsedExtension::ExtendedKeyUsage(_) => note(IgnoredRequest::ExtendedKeyUsage),
            ParsedExtension::KeyUsage(_) => note(IgnoredRequest::KeyUsage),
            _ => note(IgnoredRequest::OtherExtensions),
        }
    }
    ignored
}

/// PEM ("CERTIFICATE REQUEST", or the older "NEW CERTIFICATE REQUEST") or raw DER. One
/// PEM block only: a second one (a key pasted along) is refused, not silently dropped.
fn csr_der(input: &[u8]) -> Result<Vec<u8>, CaError> {
    let looks_like_pem = input.trim_ascii_start().starts_with(b"-----BEGIN");
    if !looks_like_pem {
        return Ok(input.to_vec());
    }
    // The PEM reader skips text around its blocks; what follows the last END line is
    // refused as the DER reader refuses trailing bytes, so both forms take one request.
    if !after_last_pem_end(input).trim_ascii().is_empty() {
        return Err(CaError::InvalidCsr(CsrProblem::TrailingBytes));
    }
    let mut blocks = pem::parse_many(input).map_err(|_| CaError::InvalidCsr(CsrProblem::BadPem))?;
    let block = match (blocks.pop(), blocks.is_empty()) {
        (Some(block), true) => block,
        (None, _) => return Err(CaError::InvalidCsr(CsrProblem::BadPem)),
        (Some(_), false) => return Err(CaError::InvalidCsr(CsrProblem::SeveralPemBlocks)),
    };
    match block.tag() {
        "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => Ok(block.into_contents()),
        other => {
            let label: String = other.chars().filter(|c| c.is_ascii_graphic() || *c == ' ').take(40).collect();
            Err(CaError::InvalidCsr(CsrProblem::WrongPemLabel(label)))
        }
    }
}

/// What follows the last `-----END …-----` marker of a PEM text (all of it when there is
/// none): the rest of that line after the closing dashes, and the lines after it.
fn after_last_pem_end(input: &[u8]) -> &[u8] {
    const END: &[u8] = b"-----END ";
    let Some(at) = input.windows(END.len()).rposition(|w| w == END) else { return input };
    let rest = &input[at + END.len()..];
    match rest.windows(5).position(|w| w == b"-----") {
        Some(close) => &rest[close + 5..],
        None => rest,
    }
}

/// The key type rule with the default policy, for the fuzz target's invariant.
pub(crate) fn fuzzing_key_type_accepted(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> bool {
    check_key(spki, &CsrKeyPolicy::default()).is_ok()
}

/// Client keys TLS stacks accept: P-256, P-384, Ed25519 (if allowed), or RSA within the
/// policy's bounds. Returns the key's description.
fn check_key(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>, policy: &CsrKeyPolicy) -> Result<String, CaError> {
    let unsupported = |what: String| CaError::InvalidCsr(CsrProblem::UnsupportedKey(what));
    let algorithm = &spki.algorithm.algorithm;
    if *algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok());
        return match curve {
            Some(c) if c == OID_EC_P256 => Ok("EC P-256".into()),
            Some(c) if c == OID_NIST_EC_P384 => Ok("EC P-384".into()),
            Some(c) => Err(unsupported(format!("an EC key on curve {c}"))),
            None => Err(unsupported("an EC key without a named curve".into())),
        };
    }
    if *algorithm == OID_PKCS1_RSAENCRYPTION {
        let (bits, exponent) = match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => (rsa_modulus_bits(rsa.modulus), rsa.exponent),
            _ => return Err(unsupported("an RSA key that cannot be read".into())),
        };
        // A small public exponent (3, say) invites the attacks on unpadded or badly padded
        // RSA; every mainstream key generator uses 65537, and the CA/Browser Forum asks
        // for an odd exponent of at least 65537. Such a key is refused, not certified.
        if !acceptable_rsa_exponent(exponent) {
            return Err(unsupported("an RSA key with a public exponent that is even or below 65537".into()));
        }
        let min_bits = policy.min_rsa_bits.max(RSA_FLOOR_BITS);
        if bits < min_bits {
            return Err(CaError::InvalidCsr(CsrProblem::RsaKeyTooSmall { bits, min_bits }));
        }
        if bits > RSA_CEILING_BITS {
            return Err(CaError::InvalidCsr(CsrProblem::RsaKeyTooLarge { bits, max_bits: RSA_CEILING_BITS }));
        }
        return Ok(format!("RSA {bits}"));
    }
    if *algorithm == OID_SIG_ED25519 {
        return if policy.allow_ed25519 { Ok("Ed25519".into()) } else { Err(unsupported("an Ed25519 key".into())) };
    }
    Err(unsupported(format!("of type {algorithm}")))
}

/// An odd public exponent of at least 65537 (big-endian bytes, leading zeros allowed).
fn acceptable_rsa_exponent(exponent: &[u8]) -> bool {
    let significant = match exponent.iter().position(|b| *b != 0) {
        Some(first) => &exponent[first..],
        None => return false,
    };
    let odd = significant.last().is_some_and(|b| b & 1 == 1);
    let at_least_65537 = significant.len() > 3 || significant.iter().fold(0u32, |v, b| (v << 8) | u32::from(*b)) >= 65537;
    odd && at_least_65537
}

#[cfg(test)]
#[path = "csr_tests.rs"]
mod tests;
