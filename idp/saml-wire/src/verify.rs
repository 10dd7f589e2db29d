//! Verification of enveloped XML signatures on incoming messages (XML Signature 1.1; SAML
//! Core §5) by libxmlsec1 through samael. Only what a signature covers is used: the
//! message is reduced to the signed element (samael's `ValidateAndMarkNoAncestors`) and
//! must be the very root that was screened, with exactly one signature, a child of the
//! root, made with an algorithm we allow (SHA-1 refused): signature wrapping finds
//! nothing to hide behind.

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use samael::crypto::{AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider, ReduceMode};

use crate::ns;
use crate::xml::{self, MESSAGE_LIMITS};

/// The algorithms accepted on incoming XML signatures (and their matching digests).
const ALLOWED: &[AllowedSignatureAlgorithm] = &[
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

/// Why a message's XML signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the message is not signed")]
    Missing,
    #[error("the message has more than one signature, or one that does not sign its root")]
    Shape,
    #[error("the signature does not verify with the service provider's certificates, or uses a refused algorithm")]
    Invalid,
    #[error("the signature covers something other than the message")]
    Wrapped,
}

/// Verifies the enveloped signature of a screened message with root ID `root_id` against
/// the service provider's `certificates` (DER); returns the signed XML — the only text
/// the caller may parse.
pub fn verify_enveloped(xml: &str, root_id: &str, certificates: &[Vec<u8>]) -> Result<String, SignatureError> {
    verify_enveloped_with_limits(xml, root_id, certificates, &MESSAGE_LIMITS)
}

/// [`verify_enveloped`] for documents screened under other limits (metadata).
pub fn verify_enveloped_with_limits(
    xml: &str,
    root_id: &str,
    certificates: &[Vec<u8>],
    limits: &xml::Limits,
) -> Result<String, SignatureError> {
    let shape = signature_shape(xml);
    match shape {
        SignatureShape { total: 0, .. } => return Err(SignatureError::Missing),
        SignatureShape { total: 1, under_root: 1 } => {}
        _ => return Err(SignatureError::Shape),
    }
    // Core §5.4.2: one Reference, a same-document reference to the root's ID. `URI=""`
    // (the whole document) would verify too, but is not what SAML signs.
    if reference_uris(xml) != [format!("#{root_id}")] {
        return Err(SignatureError::Wrapped);
    }
    if certificates.is_empty() {
        return Err(SignatureError::Invalid);
    }
    let certs: Vec<CertificateDer> = certificates.iter().map(|c| CertificateDer::from(c.clone())).collect();
    let reduced = Crypto::reduce_xml_to_signed_with_allowed_algorithms(xml, &certs, ReduceMode::ValidateAndMarkNoAncestors, Some(ALLOWED))
        .map_err(|_| SignatureError::Invalid)?;
    // The signed element must be the message itself: same root, same ID.
    let (_, original) = xml::screen(xml.as_bytes(), limits).map_err(|_| SignatureError::Wrapped)?;
    let (_, signed) = xml::screen(reduced.as_bytes(), limits).map_err(|_| SignatureError::Wrapped)?;
    if signed.id.as_deref() != Some(root_id) || signed.local_name != original.local_name || signed.namespace != original.namespace {
        return Err(SignatureError::Wrapped);
    }
    Ok(reduced)
}

/// The `URI` of every `ds:Reference` in the document (one signature's, once the shape
/// is checked); a Reference without one counts as `""`.
pub fn reference_uris(xml: &str) -> Vec<String> {
    let mut reader = NsReader::from_str(xml);
    let mut uris = Vec::new();
    while let Ok((resolved, event)) = reader.read_resolved_event() {
        let e = match &event {
            Event::Start(e) | Event::Empty(e) => e,
            Event::Eof => break,
            _ => continue,
        };
        if matches!(resolved, ResolveResult::Bound(n) if n.as_ref() == ns::DSIG.as_bytes()) && e.local_name().as_ref() == b"Reference" {
            let uri = e
                .attributes()
                .flatten()
                .find(|a| a.key.as_ref() == b"URI")
                .and_then(|a| a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok().map(|v| v.into_owned()))
                .unwrap_or_default();
            uris.push(uri);
        }
    }
    uris
}

/// Where the `ds:Signature` elements of a document are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignatureShape {
    pub total: usize,
    /// How many are direct children of the root.
    pub under_root: usize,
}

pub fn signature_shape(xml: &str) -> SignatureShape {
    let mut reader = NsReader::from_str(xml);
    let mut depth = 0usize;
    let mut shape = SignatureShape { total: 0, under_root: 0 };
    while let Ok((resolved, event)) = reader.read_resolved_event() {
        let (start, nests) = match &event {
            Event::Start(e) => (Some(e), true),
            Event::Empty(e) => (Some(e), false),
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                (None, false)
            }
            Event::Eof => break,
            _ => (None, false),
        };
        if let Some(e) = start {
            let is_sig =
                matches!(resolved, ResolveResult::Bound(n) if n.as_ref() == ns::DSIG.as_bytes()) && e.local_name().as_ref() == b"Signature";
            if is_sig {
                shape.total += 1;
                if depth == 1 {
                    shape.under_root += 1;
                }
            }
            if nests {
                depth += 1;
            }
        }
    }
    shape
}
