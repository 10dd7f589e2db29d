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
//! - Verification of incoming signatures (only what a signature covers is used) lives in
//!   `mamori_saml_wire::verify`, re-exported here.

pub use mamori_saml_wire::verify::*;
use samael::crypto::{CertificateDer, Crypto, CryptoProvider};
use samael::signature::{DigestAlgorithm, Signature};

use super::keys::IdpKey;
use super::xml;

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
    fn a_signature_over_the_whole_document_is_not_a_saml_signature() {
        // Core §5.4.2: the Reference names the root's ID. `URI=""` signs the whole
        // document, verifies cryptographically, and is still refused (outside review).
        let key = test_key(KeyUse::Signing);
        let cert = key.certificate_der().to_vec();
        let sig = template("_whole", &key).to_string().expect("template serialises").replace(r##"URI="#_whole""##, r#"URI="""#);
        assert!(sig.contains(r#"URI="""#), "{sig}");
        let xml = format!(
            r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_whole" Version="2.0" IssueInstant="2026-04-01T09:00:00Z"><saml:Issuer>https://sp.example</saml:Issuer>{sig}<saml:NameID>alice</saml:NameID></samlp:LogoutRequest>"#
        );
        let signed = sign_enveloped(&xml, &key).expect("signs");
        assert_eq!(verify_enveloped(&signed, "_whole", std::slice::from_ref(&cert)), Err(SignatureError::Wrapped));
        assert!(
            verify_enveloped(&signed_request(&key, "_whole"), "_whole", std::slice::from_ref(&cert)).is_ok(),
            "the same message signed by ID"
        );
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
