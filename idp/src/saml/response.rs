//! The `<samlp:Response>` of Web Browser SSO (SAML Profiles §4.1.4.2; SAML Core §2.3.3,
//! §3.3.3), built from samael's schema structs: samael's `sign_authn_response` lacks
//! `NotOnOrAfter` on SubjectConfirmationData, time limits on Conditions and
//! `SessionIndex`, and its Status cannot hold a second-level code, so the pieces are
//! assembled here.
//!
//! One assertion per response: a Subject with the SP's NameID and a bearer
//! SubjectConfirmation (Recipient = the ACS, NotOnOrAfter, InResponseTo), Conditions
//! (NotBefore, NotOnOrAfter, AudienceRestriction = the SP), an AuthnStatement (when,
//! SessionIndex, SessionNotOnOrAfter, the class the factors reached) and the SP's
//! attributes. The assertion is signed first (as a document of its own), then optionally
//! encrypted for the SP, then embedded in the Response, which is signed last: see
//! [`super::signing`]. All of this is CPU-bound: run it on the blocking pool.
//!
//! samael writes text content unescaped (`BytesText::from_escaped`), so every text value
//! that goes into its structs is escaped here first.

use samael::attribute::{Attribute, AttributeValue};
use samael::schema::{
    Assertion, AttributeStatement, AudienceRestriction, AuthnContext, AuthnContextClassRef, AuthnStatement, Conditions, Issuer, Response,
    Subject, SubjectConfirmation, SubjectConfirmationData, SubjectNameID,
};
use samael::traits::ToXml as _;
use time::OffsetDateTime;

use super::error::Status;
use super::keys::IdpKey;
use super::xml::escape;
use super::{chrono_time, limits, new_id, ns, signing};

/// An attribute Mamori can release: its key in a release policy, its SAML name (the
/// eduPerson / inetOrgPerson OIDs where one exists, `urn:oasis:…:attrname-format:uri`)
/// and friendly name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttributeDef {
    pub key: &'static str,
    pub name: &'static str,
    pub friendly_name: &'static str,
}

pub const ATTRIBUTES: [AttributeDef; 5] = [
    AttributeDef { key: "login_id", name: "urn:oid:0.9.2342.19200300.100.1.1", friendly_name: "uid" },
    AttributeDef { key: "email", name: "urn:oid:0.9.2342.19200300.100.1.3", friendly_name: "mail" },
    AttributeDef { key: "display_name", name: "urn:oid:2.16.840.1.113730.3.1.241", friendly_name: "displayName" },
    AttributeDef { key: "locale", name: "urn:oid:2.16.840.1.113730.3.1.39", friendly_name: "preferredLanguage" },
    AttributeDef { key: "amr", name: "urn:mamori:attribute:amr", friendly_name: "amr" },
];

/// The attribute a key, SAML name or friendly name stands for.
pub fn attribute(any_name: &str) -> Option<&'static AttributeDef> {
    ATTRIBUTES.iter().find(|a| a.key == any_name || a.name == any_name || a.friendly_name == any_name)
}

/// Everything an assertion says.
#[derive(Debug, Clone)]
pub struct AssertionContent {
    pub idp_entity_id: String,
    pub sp_entity_id: String,
    /// The ACS the response goes to (Destination and Recipient).
    pub acs_url: String,
    /// The AuthnRequest answered; `None` for IdP-initiated SSO.
    pub in_response_to: Option<String>,
    pub name_id: String,
    pub name_id_format: String,
    pub session_index: String,
    pub authn_instant: OffsetDateTime,
    pub session_not_on_or_after: OffsetDateTime,
    pub authn_context_class: String,
    /// (definition, values), in release order.
    pub attributes: Vec<(AttributeDef, Vec<String>)>,
    pub now: OffsetDateTime,
}

/// How the SP wants it protected.
#[derive(Debug, Clone)]
pub struct Protection {
    pub sign_assertion: bool,
    pub sign_response: bool,
    /// The SP's encryption certificate (DER) when assertions are encrypted.
    pub encrypt_for: Option<Vec<u8>>,
}

fn issuer(entity_id: &str) -> Issuer {
    Issuer { value: Some(escape(entity_id)), ..Default::default() }
}

fn err(e: Box<dyn std::error::Error>) -> anyhow::Error {
    anyhow::anyhow!("XML serialisation failed: {e}")
}

/// The assertion, unsigned (samael struct).
pub fn assertion(content: &AssertionContent, id: &str) -> Assertion {
    let now = content.now;
    // Our own clock: saturating sums, as this builder cannot fail (they only saturate at
    // the end of the calendar, where nothing is valid anyway).
    let valid_until = chrono_time(now.saturating_add(limits::ASSERTION_TTL));
    let attributes: Vec<Attribute> = content
        .attributes
        .iter()
        .filter(|(_, values)| !values.is_empty())
        .map(|(def, values)| Attribute {
            friendly_name: Some(def.friendly_name.to_owned()),
            name: Some(def.name.to_owned()),
            name_format: Some(ns::ATTRNAME_URI.to_owned()),
            values: values
                .iter()
                // No xsi:type: a QName in an attribute value names a prefix that
                // namespace clean-ups drop (python3-saml after decrypting), leaving an
                // invalid document; untyped values read as strings everywhere.
                .map(|v| AttributeValue { attribute_type: None, value: Some(escape(v)) })
                .collect(),
        })
        .collect();
    Assertion {
        id: id.to_owned(),
        issue_instant: chrono_time(now),
        version: "2.0".to_owned(),
        issuer: issuer(&content.idp_entity_id),
        signature: None,
        subject: Some(Subject {
            name_id: Some(SubjectNameID { format: Some(content.name_id_format.clone()), value: escape(&content.name_id) }),
            subject_confirmations: Some(vec![SubjectConfirmation {
                method: Some(ns::CM_BEARER.to_owned()),
                name_id: None,
                subject_confirmation_data: Some(SubjectConfirmationData {
                    not_before: None,
                    not_on_or_after: Some(valid_until),
                    recipient: Some(content.acs_url.clone()),
                    in_response_to: content.in_response_to.clone(),
                    address: None,
                    content: None,
                }),
            }]),
        }),
        conditions: Some(Conditions {
            not_before: Some(chrono_time(now.saturating_sub(limits::CLOCK_SKEW))),
            not_on_or_after: Some(valid_until),
            audience_restrictions: Some(vec![AudienceRestriction { audience: vec![escape(&content.sp_entity_id)] }]),
            one_time_use: None,
            proxy_restriction: None,
        }),
        authn_statements: Some(vec![AuthnStatement {
            authn_instant: Some(chrono_time(content.authn_instant)),
            session_index: Some(content.session_index.clone()),
            session_not_on_or_after: Some(chrono_time(content.session_not_on_or_after)),
            subject_locality: None,
            authn_context: Some(AuthnContext { value: Some(AuthnContextClassRef { value: Some(escape(&content.authn_context_class)) }) }),
        }]),
        attribute_statements: (!attributes.is_empty()).then(|| vec![AttributeStatement { attributes }]),
    }
}

/// `<samlp:Status>` with an optional second-level code (samael's Status has none).
pub fn status_xml(status: &Status) -> String {
    let inner = status.sub_code.map(|sub| format!(r#"<saml2p:StatusCode Value="{}"/>"#, escape(sub))).unwrap_or_default();
    let code = if inner.is_empty() {
        format!(r#"<saml2p:StatusCode Value="{}"/>"#, escape(status.code))
    } else {
        format!(r#"<saml2p:StatusCode Value="{}">{inner}</saml2p:StatusCode>"#, escape(status.code))
    };
    let message = if status.message.is_empty() {
        String::new()
    } else {
        format!("<saml2p:StatusMessage>{}</saml2p:StatusMessage>", escape(status.message))
    };
    format!("<saml2p:Status>{code}{message}</saml2p:Status>")
}

/// A Response shell (Issuer and, when signed, a signature template), with `body` (the
/// Status and any assertion, as XML) put at its end, signed when asked.
fn response_document(
    idp_entity_id: &str,
    destination: &str,
    in_response_to: Option<&str>,
    now: OffsetDateTime,
    body: &str,
    sign: bool,
    key: &IdpKey,
) -> anyhow::Result<String> {
    let id = new_id();
    let response = Response {
        id: id.clone(),
        in_response_to: in_response_to.map(str::to_owned),
        version: "2.0".to_owned(),
        issue_instant: chrono_time(now),
        destination: Some(destination.to_owned()),
        consent: None,
        issuer: Some(issuer(idp_entity_id)),
        signature: sign.then(|| signing::template(&id, key)),
        status: None,
        encrypted_assertion: None,
        assertion: None,
    };
    let shell = response.to_string().map_err(err)?;
    let close = "</saml2p:Response>";
    let at = shell.rfind(close).ok_or_else(|| anyhow::anyhow!("samael wrote no Response end tag"))?;
    let document = format!("{}{body}{close}", &shell[..at]);
    if sign { signing::sign_enveloped(&document, key) } else { Ok(super::xml::without_declaration(&document).to_owned()) }
}

/// A successful Response carrying the assertion, signed/encrypted per `protection`.
pub fn success(content: &AssertionContent, protection: &Protection, key: &IdpKey) -> anyhow::Result<String> {
    let assertion_id = new_id();
    let mut assertion = assertion(content, &assertion_id);
    if protection.sign_assertion {
        assertion.signature = Some(signing::template(&assertion_id, key));
    }
    let assertion_xml = assertion.to_string().map_err(err)?;
    let assertion_xml = if protection.sign_assertion {
        signing::sign_enveloped(&assertion_xml, key)?
    } else {
        super::xml::without_declaration(&assertion_xml).to_owned()
    };
    let assertion_xml = match &protection.encrypt_for {
        Some(cert) => super::encryption::encrypt_assertion(&assertion_xml, cert)?,
        None => assertion_xml,
    };
    let body = format!("{}{assertion_xml}", status_xml(&Status::SUCCESS));
    response_document(
        &content.idp_entity_id,
        &content.acs_url,
        content.in_response_to.as_deref(),
        content.now,
        &body,
        protection.sign_response,
        key,
    )
}

/// An error Response (no assertion), always signed.
pub fn failure(
    idp_entity_id: &str,
    acs_url: &str,
    in_response_to: Option<&str>,
    status: &Status,
    now: OffsetDateTime,
    key: &IdpKey,
) -> anyhow::Result<String> {
    response_document(idp_entity_id, acs_url, in_response_to, now, &status_xml(status), true, key)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::keys::{KeyUse, tests::test_key};
    use super::*;

    pub(crate) fn content() -> AssertionContent {
        let now = OffsetDateTime::now_utc();
        AssertionContent {
            idp_entity_id: "https://idp.example/t/demo/saml/metadata".into(),
            sp_entity_id: "https://sp.example/metadata".into(),
            acs_url: "https://sp.example/acs".into(),
            in_response_to: Some("_req<1>".into()),
            name_id: "pair&wise<id>".into(),
            name_id_format: ns::NAMEID_PERSISTENT.into(),
            session_index: "_s1".into(),
            authn_instant: now,
            session_not_on_or_after: now + time::Duration::hours(8),
            authn_context_class: super::super::authn_context::X509.into(),
            attributes: vec![(ATTRIBUTES[1], vec!["a&b@example.com".into()]), (ATTRIBUTES[4], vec!["swk".into(), "pwd".into()])],
            now,
        }
    }

    #[test]
    fn the_assertion_carries_every_required_part_escaped() {
        let key = test_key(KeyUse::Signing);
        let protection = Protection { sign_assertion: true, sign_response: true, encrypt_for: None };
        let xml = success(&content(), &protection, &key).expect("builds");
        for needle in [
            "Recipient=\"https://sp.example/acs\"",
            "InResponseTo=\"_req&lt;1&gt;\"",
            "NotOnOrAfter=",
            "<saml2:Audience>https://sp.example/metadata</saml2:Audience>",
            "SessionIndex=\"_s1\"",
            "urn:oasis:names:tc:SAML:2.0:ac:classes:X509",
            "pair&amp;wise&lt;id&gt;",
            "a&amp;b@example.com",
            "urn:oasis:names:tc:SAML:2.0:status:Success",
            "Destination=\"https://sp.example/acs\"",
        ] {
            assert!(xml.contains(needle), "missing {needle} in {xml}");
        }
        assert_eq!(xml.matches("<ds:Signature ").count(), 2, "assertion and response signed");
        // Response signature first, then the assertion's.
        let response_sig = xml.find("<ds:Signature ").expect("sig");
        assert!(response_sig < xml.find("<saml2:Assertion").expect("assertion"));
        // The document parses back and both signatures verify.
        let (_, root) = super::super::xml::screen(xml.as_bytes(), &super::super::xml::MESSAGE_LIMITS).expect("screens");
        assert!(root.is(ns::PROTOCOL, "Response"));
    }

    /// Core §2.5.1 and §2.4.1.2 (NotBefore before NotOnOrAfter, the confirmation inside
    /// the Conditions' window), Profiles §4.1.4.2 (no NotBefore on a bearer confirmation),
    /// Core §1.3.3 (every time in UTC, `Z`).
    #[test]
    fn assertion_times_are_ordered_and_in_utc() {
        let content = content();
        let a = assertion(&content, "_a");
        let conditions = a.conditions.as_ref().expect("conditions");
        let (not_before, not_on_or_after) = (conditions.not_before.expect("NotBefore"), conditions.not_on_or_after.expect("NotOnOrAfter"));
        assert!(not_before < not_on_or_after);
        assert!(not_before <= chrono_time(content.now) && chrono_time(content.now) < not_on_or_after, "valid now");
        let confirmation = &a.subject.as_ref().and_then(|s| s.subject_confirmations.as_ref()).expect("confirmations")[0];
        let data = confirmation.subject_confirmation_data.as_ref().expect("data");
        assert_eq!(data.not_before, None, "bearer SubjectConfirmationData never carries NotBefore");
        let until = data.not_on_or_after.expect("NotOnOrAfter");
        assert!(until <= not_on_or_after && until > chrono_time(content.now), "inside the Conditions' window");

        let key = test_key(KeyUse::Signing);
        let xml = success(&content, &Protection { sign_assertion: true, sign_response: true, encrypt_for: None }, &key).expect("builds");
        let mut times = 0;
        for name in ["IssueInstant=\"", "AuthnInstant=\"", "NotBefore=\"", "NotOnOrAfter=\"", "SessionNotOnOrAfter=\""] {
            for (at, _) in xml.match_indices(name) {
                let value = xml[at + name.len()..].split('"').next().unwrap_or("");
                assert!(value.ends_with('Z') && !value.contains('+'), "{name}{value}\" is not UTC with Z");
                times += 1;
            }
        }
        assert!(times >= 7, "Response, Assertion and AuthnStatement times all seen ({times})");
        assert!(!xml.contains("<saml2:SubjectConfirmationData NotBefore"), "{xml}");
    }

    /// A CR in a user's value reaches the SP as a CR: written raw, every XML parser would
    /// read it as LF (XML 1.0 §2.11), so the SP would see another value than the user's,
    /// under a signature that still verifies.
    #[test]
    fn a_carriage_return_in_a_value_reads_back_as_written() {
        let key = test_key(KeyUse::Signing);
        let mut content = content();
        content.in_response_to = Some("_r1".into());
        content.name_id = "id\r1".into();
        content.attributes = vec![(ATTRIBUTES[1], vec!["first\r\nsecond\rthird\n".into()])];
        let xml = success(&content, &Protection { sign_assertion: false, sign_response: true, encrypt_for: None }, &key).expect("builds");
        assert!(xml.contains(">first&#13;\nsecond&#13;third\n<") && xml.contains(">id&#13;1<"), "{xml}");
        let id = xml.split("ID=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("the Response's ID");
        let cert = key.certificate_der().to_vec();
        let verified = super::super::signing::verify_enveloped(&xml, id, std::slice::from_ref(&cert)).expect("verifies");
        // What a parser hands the SP: the text of each element, references resolved.
        let mut reader = quick_xml::Reader::from_str(&verified);
        let (mut texts, mut open) = (Vec::<(String, String)>::new(), false);
        loop {
            match reader.read_event().expect("reads") {
                quick_xml::events::Event::Start(e) => {
                    texts.push((String::from_utf8_lossy(e.local_name().as_ref()).into_owned(), String::new()));
                    open = true;
                }
                quick_xml::events::Event::End(_) => open = false,
                quick_xml::events::Event::Text(t) if open => texts.last_mut().expect("open").1.push_str(&t.xml10_content().expect("text")),
                quick_xml::events::Event::GeneralRef(r) if open => {
                    let c = match r.resolve_char_ref().expect("a reference") {
                        Some(c) => c,
                        None => {
                            quick_xml::escape::resolve_xml_entity(&r.decode().expect("name")).and_then(|s| s.chars().next()).expect("known")
                        }
                    };
                    texts.last_mut().expect("open").1.push(c);
                }
                quick_xml::events::Event::Eof => break,
                _ => {}
            }
        }
        let value = |element: &str| texts.iter().find(|(n, _)| n == element).map(|(_, t)| t.clone()).unwrap_or_default();
        assert_eq!(value("NameID"), "id\r1");
        assert_eq!(value("AttributeValue"), "first\r\nsecond\rthird\n");
    }

    #[test]
    fn failures_carry_a_second_level_code() {
        let key = test_key(KeyUse::Signing);
        let status = super::super::error::SamlError::NoPassive.answer(true);
        let super::super::error::Answer::Status(status) = status else { panic!("status") };
        let xml = failure("https://idp", "https://sp/acs", Some("_r"), &status, OffsetDateTime::now_utc(), &key).expect("builds");
        assert!(xml.contains(r#"<saml2p:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder"><saml2p:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:NoPassive"/></saml2p:StatusCode>"#), "{xml}");
        assert!(!xml.contains("<saml2:Assertion"));
    }
}
