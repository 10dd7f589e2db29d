//! Enveloped XML signatures (XML Signature 1.1; SAML Core §5): RSA-SHA256 over exclusive
//! canonicalisation with SHA-256 digests.
//!
//! The IdP signs its own documents with the RSA key it keeps loaded (aws-lc, through
//! [`IdpKey`]): the signed element is canonicalised without its signature
//! ([`mamori_saml_wire::c14n`]) and digested, the digest put into the template's
//! `SignedInfo`, and the canonical `SignedInfo` signed. Handing the key to libxmlsec1 for
//! each signature, as samael's `sign_xml` does, parsed it again and set up RSA blinding
//! afresh every time: about half of a signed response's CPU (docs/benchmarks.md).
//!
//! - samael's signature template digests with SHA-1: [`template`] takes its template and
//!   sets a SHA-256 DigestMethod.
//! - A Response with a signed Assertion is made by signing the Assertion as a document of
//!   its own, embedding the signed text, then signing the Response. Exclusive c14n makes
//!   the embedded signature independent of its new context (namespaces are rendered where
//!   visibly used only).
//! - Verification of incoming signatures (only what a signature covers is used) stays with
//!   libxmlsec1, in `mamori_saml_wire::verify`, re-exported here.

use anyhow::Context as _;
use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use mamori_saml_wire::c14n::{self, Element};
use mamori_saml_wire::ns::DSIG;
pub use mamori_saml_wire::verify::*;
use samael::crypto::CertificateDer;
use samael::signature::{DigestAlgorithm, Signature};

use super::keys::IdpKey;
use super::xml;

const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const SHA256_URI: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

/// A signature template for the element with `ref_id`: RSA-SHA256, exclusive c14n,
/// SHA-256 digest, our certificate in KeyInfo.
pub fn template(ref_id: &str, key: &IdpKey) -> Signature {
    let mut signature = Signature::template(ref_id, &CertificateDer::from(key.certificate_der().to_vec()));
    for reference in &mut signature.signed_info.reference {
        reference.digest_method.algorithm = DigestAlgorithm::Sha256;
    }
    signature
}

/// Signs the signature template of `xml`: the root's one child `ds:Signature` (a signature
/// deeper down belongs to an element signed before), which must reference the root by ID
/// with the algorithms [`template`] writes. Returns the signed document without its XML
/// declaration. CPU-bound: call it on the blocking pool.
pub fn sign_enveloped(xml: &str, key: &IdpKey) -> anyhow::Result<String> {
    let doc = xml::without_declaration(xml);
    let elements = c14n::elements(doc)?;
    let template = Template::find(&elements)?;
    let signed = c14n::exclusive(doc, elements[0].span.start, Some(template.signature.span.start))?;
    let with_digest = fill(doc, template.digest_value, &BASE64.encode(digest(&SHA256, signed.as_bytes())))?;
    // SignedInfo starts before DigestValue, so filling it moved only what follows.
    let signed_info = c14n::exclusive(&with_digest, template.signed_info.span.start, None)?;
    let value = BASE64.encode(key.sign_rsa_sha256(signed_info.as_bytes())?);
    let moved = with_digest.len() - doc.len();
    let mut signature_value = template.signature_value.clone();
    signature_value.span = signature_value.span.start + moved..signature_value.span.end + moved;
    fill(&with_digest, &signature_value, &value)
}

/// The parts of a signature template that signing fills in or relies on.
struct Template<'e> {
    signature: &'e Element,
    signed_info: &'e Element,
    digest_value: &'e Element,
    signature_value: &'e Element,
}

impl<'e> Template<'e> {
    fn find(elements: &'e [Element]) -> anyhow::Result<Template<'e>> {
        let root = elements.first().context("no root element")?;
        let root_id = root.attribute("ID").context("the element to sign has no ID")?;
        // The enveloped signature is a child of the root; one nested deeper belongs to an
        // element signed before (an embedded assertion's).
        let mut signatures = elements.iter().filter(|e| e.is(DSIG, "Signature") && e.depth == 2);
        let signature = match (signatures.next(), signatures.next()) {
            (Some(signature), None) => signature,
            _ => anyhow::bail!("the root needs exactly one signature template"),
        };
        let within = |local: &'static str| elements.iter().filter(move |e| e.is(DSIG, local) && inside(e, signature));
        let one = |local: &'static str| -> anyhow::Result<&'e Element> {
            let mut found = within(local);
            match (found.next(), found.next()) {
                (Some(e), None) => Ok(e),
                _ => anyhow::bail!("the signature template needs exactly one {local}"),
            }
        };
        let algorithm = |local: &'static str| one(local).map(|e| e.attribute("Algorithm").unwrap_or_default());
        anyhow::ensure!(
            one("Reference")?.attribute("URI") == Some(&format!("#{root_id}")),
            "the signature template does not reference the root element"
        );
        anyhow::ensure!(algorithm("CanonicalizationMethod")? == EXC_C14N, "the template canonicalises other than exclusively");
        anyhow::ensure!(algorithm("SignatureMethod")? == RSA_SHA256, "the template signs with other than RSA-SHA256");
        anyhow::ensure!(algorithm("DigestMethod")? == SHA256_URI, "the template digests with other than SHA-256");
        let transforms: Vec<&str> = within("Transform").map(|t| t.attribute("Algorithm").unwrap_or_default()).collect();
        anyhow::ensure!(transforms == [ENVELOPED, EXC_C14N], "the template transforms other than enveloped + exclusive c14n");
        let (signed_info, digest_value, signature_value) = (one("SignedInfo")?, one("DigestValue")?, one("SignatureValue")?);
        anyhow::ensure!(
            signed_info.span.start < digest_value.span.start && digest_value.span.end <= signature_value.span.start,
            "the signature template is out of order"
        );
        Ok(Template { signature, signed_info, digest_value, signature_value })
    }
}

fn inside(element: &Element, outer: &Element) -> bool {
    outer.span.start <= element.span.start && element.span.end <= outer.span.end
}

/// `doc` with the empty `element` holding `text` (base64, nothing to escape).
fn fill(doc: &str, element: &Element, text: &str) -> anyhow::Result<String> {
    let written = &doc[element.span.clone()];
    let q = &element.qname;
    anyhow::ensure!(written == format!("<{q}/>") || written == format!("<{q}></{q}>"), "the template's {q} is not empty");
    Ok(format!("{}<{q}>{text}</{q}>{}", &doc[..element.span.start], &doc[element.span.end..]))
}

#[cfg(test)]
mod tests {
    use super::super::keys::{KeyUse, tests::test_key};
    use super::*;
    use samael::crypto::{Crypto, CryptoProvider as _};
    use samael::traits::ToXml as _;

    /// The same document signed by libxmlsec1, as samael signs (the reference to compare
    /// with, and a way to make signatures this module refuses to make).
    fn xmlsec_signed(xml: &str, key: &IdpKey) -> String {
        let signed = Crypto::sign_xml(xml, key.private_key_der()).expect("xmlsec signs");
        xml::without_declaration(&signed).to_owned()
    }

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
        assert!(sign_enveloped(&xml, &key).is_err(), "the IdP itself signs only by ID");
        let signed = xmlsec_signed(&xml, &key);
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

    /// `(DigestValue, SignatureValue)` of a signed document, line breaks removed (xmlsec
    /// breaks base64 lines).
    fn values(signed: &str) -> (String, String) {
        let text = |name: &str| {
            let (open, close) = (format!("<ds:{name}>"), format!("</ds:{name}>"));
            let start = signed.find(&open).map(|i| i + open.len()).expect("the value is written");
            let end = start + signed[start..].find(&close).expect("the value ends");
            signed[start..end].split_whitespace().collect::<String>()
        };
        (text("DigestValue"), text("SignatureValue"))
    }

    fn assertion_with(id: &str, sig: &str, content: &str) -> String {
        format!(
            "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" xmlns:unused=\"urn:unused\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"2026-04-01T09:00:00Z\"><saml:Issuer>https://idp.example</saml:Issuer>{sig}{content}</saml:Assertion>"
        )
    }

    /// PKCS #1 v1.5 signatures are deterministic: the same template signed here and by
    /// libxmlsec1 must carry the same digest and the same signature value, so any
    /// difference between this canonical form and libxml2's shows. Content a user or a
    /// service provider controls is where the two could part: escapes, line ends,
    /// whitespace in attributes, other scripts, namespaces declared and redeclared.
    #[test]
    fn signatures_are_those_libxmlsec1_makes_byte_for_byte() {
        let key = test_key(KeyUse::Signing);
        let cert = key.certificate_der().to_vec();
        let contents = [
            "<saml:Subject><saml:NameID>alice</saml:NameID></saml:Subject>",
            "<saml:Subject><saml:NameID>a &amp; b &lt;c&gt; \"d\" 'e' &#x26; &#60;</saml:NameID></saml:Subject>",
            "<saml:Subject><saml:NameID>l1\r\nl2\rl3&#13;l4&#10;</saml:NameID></saml:Subject>",
            "<saml:AttributeStatement><saml:Attribute Name=\"x&#10;y&#9;z&#13;\" FriendlyName=\"t\tu\nv\r\nw &quot;&apos;&lt;&amp;&gt;\"/></saml:AttributeStatement>",
            "<saml:AttributeStatement><saml:Attribute Name=\"表示名\"><saml:AttributeValue>山田 太郎 👤</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>",
            "<saml:AttributeStatement><saml:Attribute Name=\"n\"><saml:AttributeValue xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"xs:string\">v</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>",
            "<x xmlns=\"urn:x\" b=\"2\" a=\"1\"><y xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\"><z xmlns=\"\"><saml:w/></z></y></x>",
            "<saml:Conditions NotBefore=\"2026-04-01T08:59:00Z\">\n  <!-- a comment --><saml:AudienceRestriction><saml:Audience><![CDATA[https://sp.example/?a=1&b=<2>]]></saml:Audience></saml:AudienceRestriction>\n</saml:Conditions>",
        ];
        for (n, content) in contents.iter().enumerate() {
            let id = format!("_a{n}");
            let sig = template(&id, &key).to_string().expect("template serialises");
            let xml = assertion_with(&id, &sig, content);
            let ours = sign_enveloped(&xml, &key).expect("signs");
            assert_eq!(values(&ours), values(&xmlsec_signed(&xml, &key)), "{content}");
            // Metadata's limits: messages from outside may not carry comments.
            let limits = mamori_saml_wire::xml::METADATA_LIMITS;
            verify_enveloped_with_limits(&ours, &id, std::slice::from_ref(&cert), &limits).expect("verifies");
        }

        // A signed assertion inside a signed response, as `response::success` nests them.
        let inner = sign_enveloped(&assertion_with("_in", &template("_in", &key).to_string().expect("template"), contents[4]), &key)
            .expect("signs the assertion");
        let sig = template("_out", &key).to_string().expect("template serialises");
        let response = format!(
            "<saml2p:Response xmlns:saml2p=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"_out\" Version=\"2.0\" IssueInstant=\"2026-04-01T09:00:00Z\"><saml2:Issuer xmlns:saml2=\"urn:oasis:names:tc:SAML:2.0:assertion\">https://idp.example</saml2:Issuer>{sig}<saml2p:Status><saml2p:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></saml2p:Status>{inner}</saml2p:Response>"
        );
        let ours = sign_enveloped(&response, &key).expect("signs the response");
        // (Incoming messages may carry one signature only, so `verify_enveloped` refuses
        // this shape; the SAML suite has service providers verify it.)
        assert_eq!(values(&ours), values(&xmlsec_signed(&response, &key)));
        assert!(ours.contains(&inner), "the assertion's signed text is embedded unchanged");
    }

    #[test]
    fn only_a_template_this_module_wrote_is_signed() {
        let key = test_key(KeyUse::Signing);
        let sig = template("_t", &key).to_string().expect("template serialises");
        let good = assertion_with("_t", &sig, "");
        assert!(sign_enveloped(&good, &key).is_ok());
        for (what, bad) in [
            ("another element's ID", good.replace("URI=\"#_t\"", "URI=\"#_other\"")),
            ("a SHA-1 digest", good.replace(SHA256_URI, "http://www.w3.org/2000/09/xmldsig#sha1")),
            ("RSA-SHA1", good.replace(RSA_SHA256, "http://www.w3.org/2000/09/xmldsig#rsa-sha1")),
            ("inclusive c14n", good.replacen(EXC_C14N, "http://www.w3.org/TR/2001/REC-xml-c14n-20010315", 1)),
            ("no template", assertion_with("_t", "", "")),
            ("two templates", assertion_with("_t", &format!("{sig}{sig}"), "")),
            ("already signed", sign_enveloped(&good, &key).expect("signs")),
            ("a root without ID", good.replace("ID=\"_t\"", "")),
        ] {
            assert!(sign_enveloped(&bad, &key).is_err(), "{what} was signed");
        }
    }
}
