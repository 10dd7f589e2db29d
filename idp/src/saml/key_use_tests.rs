//! A service provider's encryption-only key never authenticates its messages: every
//! message kind the IdP verifies (AuthnRequest, LogoutRequest, LogoutResponse), on both
//! bindings, through the one check they share ([`super::sso::authenticate_message`]).

use mamori_storage::model::{AssertionConsumerService, SamlServiceProvider};
use samael::traits::ToXml as _;
use uuid::Uuid;

use super::binding::{self, Binding, MessageKind};
use super::error::SamlError;
use super::keys::{IdpKey, KeyUse, tests::test_key};
use super::service_providers::RegisteredSp;
use super::sso::authenticate_message;
use super::{ns, signing};

const ENTITY: &str = "https://sp.example/metadata";

/// An SP whose metadata publishes `signing` for signing and `encryption` for encryption.
fn sp(signing: &IdpKey, encryption: &IdpKey) -> RegisteredSp {
    let descriptor = |key_use: &str, key: &IdpKey| {
        format!(
            r#"<md:KeyDescriptor use="{key_use}"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
            key.certificate_base64()
        )
    };
    let metadata = format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{ENTITY}"><md:SPSSODescriptor AuthnRequestsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{}{}<md:AssertionConsumerService Binding="{}" Location="https://sp.example/acs" index="0"/></md:SPSSODescriptor></md:EntityDescriptor>"#,
        descriptor("signing", signing),
        descriptor("encryption", encryption),
        ns::BINDING_POST
    );
    let pem = |key: &IdpKey| pem::encode(&pem::Pem::new("CERTIFICATE", key.certificate_der().to_vec()));
    RegisteredSp::new(SamlServiceProvider {
        id: Uuid::new_v4(),
        tenant_id: Uuid::new_v4(),
        entity_id: ENTITY.into(),
        name: "Shop".into(),
        metadata_xml: Some(metadata),
        acs: vec![AssertionConsumerService {
            url: "https://sp.example/acs".into(),
            binding: ns::BINDING_POST.into(),
            index: 0,
            is_default: true,
        }],
        slo: Vec::new(),
        // Both certificates are stored, as registration stores every one it reads.
        certificates: vec![pem(signing), pem(encryption)],
        want_authn_requests_signed: true,
        name_id_format: ns::NAMEID_PERSISTENT.into(),
        attribute_release: serde_json::json!({"attributes": []}),
        sign_response: true,
        sign_assertion: true,
        encrypt_assertion: false,
        allow_unsolicited: false,
        created_at: time::OffsetDateTime::UNIX_EPOCH,
    })
}

/// The three messages an SP sends us: (root element, kind, XML with `{sig}` where an
/// enveloped signature goes).
fn messages(id: &str) -> Vec<(&'static str, MessageKind, String)> {
    let head = |root: &str, extra: &str| {
        format!(
            r#"<samlp:{root} xmlns:samlp="{}" xmlns:saml="{}" ID="{id}" Version="2.0" IssueInstant="2026-04-01T09:00:00Z"{extra}><saml:Issuer>{ENTITY}</saml:Issuer>{{sig}}"#,
            ns::PROTOCOL,
            ns::ASSERTION
        )
    };
    vec![
        ("AuthnRequest", MessageKind::Request, format!("{}</samlp:AuthnRequest>", head("AuthnRequest", ""))),
        (
            "LogoutRequest",
            MessageKind::Request,
            format!("{}<saml:NameID>alice</saml:NameID></samlp:LogoutRequest>", head("LogoutRequest", "")),
        ),
        (
            "LogoutResponse",
            MessageKind::Response,
            format!(
                r#"{}<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>"#,
                head("LogoutResponse", r#" InResponseTo="_ours""#)
            ),
        ),
    ]
}

/// Whether `key`'s signature on each message, over each binding, authenticates it as
/// the SP's: `(message, binding, accepted)`.
fn outcomes(sp: &RegisteredSp, key: &IdpKey) -> Vec<(&'static str, Binding, bool)> {
    let mut seen = Vec::new();
    for (root, kind, xml) in messages("_m1") {
        let plain = xml.replace("{sig}", "");
        let url = binding::redirect_url("https://idp.example/slo", kind, &plain, Some("rs"), key).expect("signs the query");
        let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
        let incoming = binding::from_redirect_query(query).expect("decodes");
        seen.push((root, Binding::Redirect, authenticate_message(&incoming, &plain, "_m1", sp, true).is_ok()));

        let template = signing::template("_m1", key).to_string().expect("template");
        let signed = signing::sign_enveloped(&xml.replace("{sig}", &template), key).expect("signs the XML");
        let body = format!(
            "{}={}",
            kind.param(),
            crate::urlcode::component(&base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &signed))
        );
        let incoming = binding::from_post_form(body.as_bytes()).expect("decodes");
        let accepted = match authenticate_message(&incoming, &signed, "_m1", sp, true) {
            Ok(_) => true,
            Err(SamlError::Signature(_) | SamlError::QuerySignature(_)) => false,
            Err(other) => panic!("{root} over POST: unexpected {other}"),
        };
        seen.push((root, Binding::Post, accepted));
    }
    seen
}

#[test]
fn messages_signed_with_the_signing_key_are_authenticated() {
    let (signing, encryption) = (test_key(KeyUse::Signing), test_key(KeyUse::Encryption));
    let sp = sp(&signing, &encryption);
    for (root, binding, accepted) in outcomes(&sp, &signing) {
        assert!(accepted, "{root} over {binding:?}, signed with the signing key");
    }
}

#[test]
fn messages_signed_with_the_encryption_only_key_are_refused() {
    let (signing, encryption) = (test_key(KeyUse::Signing), test_key(KeyUse::Encryption));
    let sp = sp(&signing, &encryption);
    let outcomes = outcomes(&sp, &encryption);
    assert_eq!(outcomes.len(), 6, "three messages, two bindings");
    for (root, binding, accepted) in outcomes {
        assert!(!accepted, "{root} over {binding:?}, signed with the encryption-only key");
    }
}
