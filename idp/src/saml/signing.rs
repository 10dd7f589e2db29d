//! Enveloped XML signatures (XML Signature 1.1; SAML Core §5): RSA-SHA256 over exclusive
//! canonicalisation with SHA-256 digests, made and checked by libxmlsec1 through samael.
//!
//! Where samael falls short, this module works around it at the edge rather than forking:
//! - samael's signature template digests with SHA-1: [`template`] takes its template and
//!   sets a SHA-256 DigestMethod.
//! - `sign_xml` signs only the first `ds:Signature` in document order: a Response with a
//!   signed Assertion is made by signing the Assertion as a document of its own, embedding
//!   the signed text, then signing the Response, whose template comes first (right after
//!   its Issuer). Exclusive c14n makes the embedded signature independent of its new
//!   context (namespaces are rendered where visibly used only).
//! - `sign_xml` loads the key with xmlsec's DER loader; OpenSSL 3 reads PKCS#8 there, so
//!   the key never needs samael's PKCS#1-only loader.
//! - For verification only what a signature covers is used ([`verify_enveloped`]): the
//!   message is reduced to the signed element (samael's `ValidateAndMarkNoAncestors`) and
//!   must be the very root that was screened, with exactly one signature, a child of
//!   the root, made with an algorithm we allow (SHA-1 refused): signature wrapping finds
//!   nothing to hide behind.

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use samael::crypto::{AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider, ReduceMode};
use samael::signature::{DigestAlgorithm, Signature};

use super::keys::IdpKey;
use super::ns;
use super::xml::{self, MESSAGE_LIMITS};

/// The algorithms accepted on incoming XML signatures (and their matching digests).
const ALLOWED: &[AllowedSignatureAlgorithm] = &[
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

/// A signature template for the element with `ref_id`: RSA-SHA256, exclusive c14n,
/// SHA-256 digest, our certificate in KeyInfo.
pub fn template(ref_id: &str, key: &IdpKey) -> Signature {
    let mut signature = Signature::template(ref_id, &CertificateDer::from(key.certificate_der().to_vec()));
    for reference in &mut signature.signed_info.reference {
        reference.digest_method.algorithm = DigestAlgorithm::Sha256;
    }
    signature
}

/// Signs the first signature template of `xml` (which must carry one); returns the signed
/// document without its XML declaration. CPU-bound: call it on the blocking pool.
pub fn sign_enveloped(xml: &str, key: &IdpKey) -> anyhow::Result<String> {
    let signed = Crypto::sign_xml(xml, key.private_key_der()).map_err(|e| anyhow::anyhow!("XML signing failed: {e}"))?;
    Ok(xml::without_declaration(&signed).to_owned())
}

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
    if certificates.is_empty() {
        return Err(SignatureError::Invalid);
    }
    let certs: Vec<CertificateDer> = certificates.iter().map(|c| CertificateDer::from(c.clone())).collect();
    let reduced =
        Crypto::reduce_xml_to_signed_with_allowed_algorithms(xml, &certs, ReduceMode::ValidateAndMarkNoAncestors, Some(ALLOWED))
            .map_err(|_| SignatureError::Invalid)?;
    // The signed element must be the message itself: same root, same ID.
    let (_, original) = xml::screen(xml.as_bytes(), limits).map_err(|_| SignatureError::Wrapped)?;
    let (_, signed) = xml::screen(reduced.as_bytes(), limits).map_err(|_| SignatureError::Wrapped)?;
    if signed.id.as_deref() != Some(root_id)
        || signed.local_name != original.local_name
        || signed.namespace != original.namespace
    {
        return Err(SignatureError::Wrapped);
    }
    Ok(reduced)
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
            let is_sig = matches!(resolved, ResolveResult::Bound(n) if n.as_ref() == ns::DSIG.as_bytes())
                && e.local_name().as_ref() == b"Signature";
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

#[cfg(test)]
mod tests {
    use super::super::keys::{KeyUse, tests::test_key};
    use super::*;
    use samael::traits::ToXml as _;

    fn signed_request(key: &IdpKey, id: &str) -> String {
        let sig = template(id, key).to_string().expect("template serialises");
        let xml = format!(
            r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="2026-04-01T09:00:00Z"><saml:Issuer>https://sp.example</saml:Issuer>{sig}<saml:NameID>alice</saml:NameID></samlp:LogoutRequest>"#
        );
        sign_enveloped(&xml, key).expect("signs")
    }

    #[test]
    fn the_template_digests_with_sha256() {
        let key = test_key(KeyUse::Signing);
        let text = template("_x", &key).to_string().expect("serialises");
        assert!(text.contains("http://www.w3.org/2001/04/xmlenc#sha256"), "{text}");
        assert!(!text.contains("xmldsig#sha1"), "{text}");
        assert!(text.contains("xml-exc-c14n"), "{text}");
    }

    #[test]
    fn signed_messages_verify_and_tampering_is_caught() {
        let key = test_key(KeyUse::Signing);
        let cert = key.certificate_der().to_vec();
        let signed = signed_request(&key, "_req1");
        assert!(signed.contains("<ds:DigestValue>") && !signed.contains("<ds:DigestValue></ds:DigestValue>"));
        let verified = verify_enveloped(&signed, "_req1", std::slice::from_ref(&cert)).expect("verifies");
        assert!(verified.contains("alice"));

        let tampered = signed.replace(">alice<", ">mallory<");
        assert_eq!(verify_enveloped(&tampered, "_req1", std::slice::from_ref(&cert)), Err(SignatureError::Invalid));
        let other = test_key(KeyUse::Encryption).certificate_der().to_vec();
        assert_eq!(verify_enveloped(&signed, "_req1", &[other]), Err(SignatureError::Invalid));
        assert_eq!(verify_enveloped(&signed, "_other", std::slice::from_ref(&cert)), Err(SignatureError::Wrapped));
    }

    #[test]
    fn wrapped_signatures_are_refused() {
        let key = test_key(KeyUse::Signing);
        let cert = key.certificate_der().to_vec();
        let genuine = signed_request(&key, "_genuine");
        // The genuine signed request hidden inside a forged one (XSW): the forged root is
        // unsigned, the signature is not its child.
        let forged = format!(
            r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_forged" Version="2.0" IssueInstant="2026-04-01T09:00:00Z"><saml:Issuer>https://sp.example</saml:Issuer><samlp:Extensions>{genuine}</samlp:Extensions><saml:NameID>mallory</saml:NameID></samlp:LogoutRequest>"#
        );
        assert_eq!(verify_enveloped(&forged, "_forged", std::slice::from_ref(&cert)), Err(SignatureError::Shape));
        // The forged content moved next to a signature that still points at the genuine ID.
        let swapped = genuine.replacen("ID=\"_genuine\"", "ID=\"_forged\"", 1);
        assert!(verify_enveloped(&swapped, "_forged", std::slice::from_ref(&cert)).is_err());
        let unsigned = r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_u" Version="2.0"/>"#;
        assert_eq!(verify_enveloped(unsigned, "_u", std::slice::from_ref(&cert)), Err(SignatureError::Missing));
    }
}
