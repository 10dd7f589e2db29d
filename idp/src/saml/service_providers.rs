//! Registered service providers (SAML Metadata §2.4.4 SPSSODescriptor): reading their
//! metadata at registration, and what the endpoints need from a registration — the
//! AssertionConsumerService a request may name, the certificates that verify its
//! signatures and the one that encrypts for it, its SingleLogoutService, and which
//! attributes it is given.

use mamori_storage::model::{AssertionConsumerService, SamlServiceProvider, SingleLogoutService};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::binding::Binding;
use super::ns;
use super::xml::{self, METADATA_LIMITS};
use crate::app::App;

/// What `attribute_release` holds: the names of the attributes this SP is given (see
/// [`super::response::ATTRIBUTES`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasePolicy {
    #[serde(default)]
    pub attributes: Vec<String>,
}

/// A registration, with its release policy read.
#[derive(Debug, Clone)]
pub struct RegisteredSp {
    pub sp: SamlServiceProvider,
    pub release: ReleasePolicy,
}

pub async fn load(app: &App, tenant_id: Uuid, entity_id: &str) -> anyhow::Result<Option<RegisteredSp>> {
    let Some(sp) = app.storage.saml_service_providers().get_by_entity_id(tenant_id, entity_id).await? else {
        return Ok(None);
    };
    Ok(Some(RegisteredSp::new(sp)))
}

/// Why a request's AssertionConsumerService is not one we may answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AcsError {
    #[error("AssertionConsumerServiceURL and AssertionConsumerServiceIndex are both given")]
    Both,
    #[error("the AssertionConsumerService is not in the service provider's metadata")]
    NotRegistered,
    #[error("the service provider has no HTTP-POST AssertionConsumerService")]
    NoPostEndpoint,
}

impl RegisteredSp {
    pub fn new(sp: SamlServiceProvider) -> RegisteredSp {
        let release = serde_json::from_value(sp.attribute_release.clone()).unwrap_or_default();
        RegisteredSp { sp, release }
    }

    pub fn entity_id(&self) -> &str {
        &self.sp.entity_id
    }

    /// Every registered certificate, DER.
    pub fn certificates_der(&self) -> Vec<Vec<u8>> {
        self.sp.certificates.iter().filter_map(|p| pem::parse(p).ok()).map(|p| p.into_contents()).collect()
    }

    /// The certificate to encrypt assertions for: one its metadata marks for encryption
    /// (or for any use), else the first registered one.
    pub fn encryption_certificate(&self) -> Option<Vec<u8>> {
        let from_metadata = self
            .sp
            .metadata_xml
            .as_deref()
            .and_then(|m| parse_sp_metadata(m.as_bytes(), Some(&self.sp.entity_id)).ok())
            .and_then(|m| m.encryption_certificates.into_iter().next());
        from_metadata.or_else(|| self.certificates_der().into_iter().next())
    }

    /// The ACS a request names by URL or index, or the default; only HTTP-POST ones are
    /// answered (SAML Profiles §4.1.4.5 allows POST or Artifact; we send POST).
    pub fn resolve_acs(&self, url: Option<&str>, index: Option<usize>) -> Result<&AssertionConsumerService, AcsError> {
        let post = |a: &&AssertionConsumerService| a.binding == ns::BINDING_POST;
        match (url, index) {
            (Some(_), Some(_)) => Err(AcsError::Both),
            (Some(url), None) => {
                let mut matching = self.sp.acs.iter().filter(|a| a.url == url);
                let any = matching.clone().next().is_some();
                matching.find(post).ok_or(if any { AcsError::NoPostEndpoint } else { AcsError::NotRegistered })
            }
            (None, Some(index)) => match self.sp.acs.iter().find(|a| a.index as usize == index) {
                Some(a) if a.binding == ns::BINDING_POST => Ok(a),
                Some(_) => Err(AcsError::NoPostEndpoint),
                None => Err(AcsError::NotRegistered),
            },
            (None, None) => self.default_acs().ok_or(AcsError::NoPostEndpoint),
        }
    }

    /// The default HTTP-POST ACS: the one marked default, else the lowest index.
    pub fn default_acs(&self) -> Option<&AssertionConsumerService> {
        let mut post: Vec<&AssertionConsumerService> = self.sp.acs.iter().filter(|a| a.binding == ns::BINDING_POST).collect();
        post.sort_by_key(|a| (!a.is_default, a.index));
        post.into_iter().next()
    }

    /// A SingleLogoutService for sending a message of `kind`, preferring `prefer`; with
    /// the URL to send to (ResponseLocation for responses when given).
    pub fn slo_endpoint(&self, prefer: Binding, response: bool) -> Option<(String, Binding)> {
        let usable = |s: &&SingleLogoutService| Binding::from_uri(&s.binding).is_some();
        let chosen = self
            .sp
            .slo
            .iter()
            .filter(usable)
            .find(|s| s.binding == prefer.uri())
            .or_else(|| self.sp.slo.iter().find(usable))?;
        let url = if response { chosen.response_url.clone().unwrap_or_else(|| chosen.url.clone()) } else { chosen.url.clone() };
        Some((url, Binding::from_uri(&chosen.binding)?))
    }
}

/// What an SP's metadata says, ready to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpMetadata {
    pub entity_id: String,
    pub acs: Vec<AssertionConsumerService>,
    pub slo: Vec<SingleLogoutService>,
    /// All certificates (PEM), signing and encryption.
    pub certificates: Vec<String>,
    /// DER of those usable for encryption (`use="encryption"` or no `use`).
    pub encryption_certificates: Vec<Vec<u8>>,
    pub want_authn_requests_signed: bool,
    pub want_assertions_signed: bool,
    pub name_id_formats: Vec<String>,
    /// Names of the attributes its AttributeConsumingService asks for (Name or
    /// FriendlyName as given).
    pub requested_attributes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("the metadata is not acceptable XML: {0}")]
    Xml(#[from] xml::XmlRefusal),
    #[error("the metadata root is not an md:EntityDescriptor")]
    NotEntityDescriptor,
    #[error("the metadata does not parse: {0}")]
    Parse(String),
    #[error("the metadata has no entityID")]
    NoEntityId,
    #[error("the metadata is for {found}, not {expected}")]
    OtherEntity { found: String, expected: String },
    #[error("the metadata has no SAML 2.0 SPSSODescriptor")]
    NoSpDescriptor,
    #[error("the metadata has no AssertionConsumerService")]
    NoAcs,
    #[error("an endpoint URL is not https (or http://localhost): {0}")]
    InsecureUrl(String),
    #[error("a certificate in the metadata does not parse")]
    BadCertificate,
}

/// The parts of SP metadata this IdP reads. samael's metadata model refuses valid
/// metadata (an empty `md:ServiceName`, as pysaml2 writes, fails its `$value` field), so
/// the SPSSODescriptor is read with these lenient structs; the root is checked by
/// namespace in [`xml::screen`] first.
mod wire {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    pub struct EntityDescriptor {
        #[serde(rename = "@entityID")]
        pub entity_id: Option<String>,
        #[serde(rename = "SPSSODescriptor", default)]
        pub sp_sso_descriptors: Vec<SpSsoDescriptor>,
    }

    #[derive(Debug, Deserialize)]
    pub struct SpSsoDescriptor {
        #[serde(rename = "@protocolSupportEnumeration")]
        pub protocol_support_enumeration: Option<String>,
        #[serde(rename = "@AuthnRequestsSigned")]
        pub authn_requests_signed: Option<bool>,
        #[serde(rename = "@WantAssertionsSigned")]
        pub want_assertions_signed: Option<bool>,
        #[serde(rename = "KeyDescriptor", default)]
        pub key_descriptors: Vec<KeyDescriptor>,
        #[serde(rename = "SingleLogoutService", default)]
        pub single_logout_services: Vec<Endpoint>,
        #[serde(rename = "NameIDFormat", default)]
        pub name_id_formats: Vec<Text>,
        #[serde(rename = "AssertionConsumerService", default)]
        pub assertion_consumer_services: Vec<Endpoint>,
        #[serde(rename = "AttributeConsumingService", default)]
        pub attribute_consuming_services: Vec<AttributeConsumingService>,
    }

    #[derive(Debug, Deserialize)]
    pub struct KeyDescriptor {
        #[serde(rename = "@use")]
        pub key_use: Option<String>,
        #[serde(rename = "KeyInfo")]
        pub key_info: Option<KeyInfo>,
    }

    #[derive(Debug, Deserialize)]
    pub struct KeyInfo {
        #[serde(rename = "X509Data", default)]
        pub x509_data: Vec<X509Data>,
    }

    #[derive(Debug, Deserialize)]
    pub struct X509Data {
        #[serde(rename = "X509Certificate", default)]
        pub certificates: Vec<Text>,
    }

    #[derive(Debug, Deserialize)]
    pub struct Endpoint {
        #[serde(rename = "@Binding")]
        pub binding: String,
        #[serde(rename = "@Location")]
        pub location: String,
        #[serde(rename = "@ResponseLocation")]
        pub response_location: Option<String>,
        #[serde(rename = "@index")]
        pub index: Option<u32>,
        #[serde(rename = "@isDefault")]
        pub is_default: Option<bool>,
    }

    #[derive(Debug, Deserialize)]
    pub struct AttributeConsumingService {
        #[serde(rename = "RequestedAttribute", default)]
        pub requested_attributes: Vec<RequestedAttribute>,
    }

    #[derive(Debug, Deserialize)]
    pub struct RequestedAttribute {
        #[serde(rename = "@Name")]
        pub name: String,
        #[serde(rename = "@FriendlyName")]
        pub friendly_name: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    pub struct Text {
        #[serde(rename = "$text", default)]
        pub value: String,
    }
}

/// Reads SP metadata (an md:EntityDescriptor with an SPSSODescriptor), screened like any
/// XML from outside.
pub fn parse_sp_metadata(bytes: &[u8], expected_entity_id: Option<&str>) -> Result<SpMetadata, MetadataError> {
    use base64::Engine as _;
    let (text, root) = xml::screen(bytes, &METADATA_LIMITS)?;
    if !root.is(ns::METADATA, "EntityDescriptor") {
        return Err(MetadataError::NotEntityDescriptor);
    }
    let descriptor: wire::EntityDescriptor = quick_xml::de::from_str(text).map_err(|e| MetadataError::Parse(e.to_string()))?;
    let entity_id = descriptor.entity_id.clone().filter(|e| !e.is_empty()).ok_or(MetadataError::NoEntityId)?;
    if let Some(expected) = expected_entity_id
        && expected != entity_id
    {
        return Err(MetadataError::OtherEntity { found: entity_id, expected: expected.to_owned() });
    }
    let sp = descriptor
        .sp_sso_descriptors
        .into_iter()
        .find(|d| d.protocol_support_enumeration.as_deref().is_some_and(|p| p.split_whitespace().any(|p| p == ns::PROTOCOL)))
        .ok_or(MetadataError::NoSpDescriptor)?;
    let check_url = |url: &str| -> Result<(), MetadataError> {
        let ok = url.starts_with("https://")
            || url.starts_with("http://localhost")
            || url.starts_with("http://127.0.0.1")
            || url.starts_with("http://[::1]");
        if ok { Ok(()) } else { Err(MetadataError::InsecureUrl(url.to_owned())) }
    };
    let mut acs = Vec::new();
    for e in &sp.assertion_consumer_services {
        check_url(&e.location)?;
        acs.push(AssertionConsumerService {
            url: e.location.clone(),
            binding: e.binding.clone(),
            index: e.index.unwrap_or(0),
            is_default: e.is_default.unwrap_or(false),
        });
    }
    if acs.is_empty() {
        return Err(MetadataError::NoAcs);
    }
    let mut slo = Vec::new();
    for e in sp.single_logout_services {
        check_url(&e.location)?;
        if let Some(r) = &e.response_location {
            check_url(r)?;
        }
        slo.push(SingleLogoutService { url: e.location, binding: e.binding, response_url: e.response_location });
    }
    let mut certificates = Vec::new();
    let mut encryption_certificates = Vec::new();
    for kd in sp.key_descriptors {
        let texts = kd.key_info.into_iter().flat_map(|k| k.x509_data).flat_map(|d| d.certificates);
        for text in texts {
            let clean: String = text.value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let der = base64::engine::general_purpose::STANDARD.decode(clean).map_err(|_| MetadataError::BadCertificate)?;
            x509_parser::parse_x509_certificate(&der).map_err(|_| MetadataError::BadCertificate)?;
            if kd.key_use.as_deref() != Some("signing") && !encryption_certificates.contains(&der) {
                encryption_certificates.push(der.clone());
            }
            let pem_text = pem::encode(&pem::Pem::new("CERTIFICATE", der));
            if !certificates.contains(&pem_text) {
                certificates.push(pem_text);
            }
        }
    }
    let requested_attributes = sp
        .attribute_consuming_services
        .into_iter()
        .flat_map(|s| s.requested_attributes)
        .flat_map(|a| [Some(a.name), a.friendly_name])
        .flatten()
        .collect();
    Ok(SpMetadata {
        entity_id,
        acs,
        slo,
        certificates,
        encryption_certificates,
        want_authn_requests_signed: sp.authn_requests_signed.unwrap_or(false),
        want_assertions_signed: sp.want_assertions_signed.unwrap_or(false),
        name_id_formats: sp.name_id_formats.into_iter().map(|t| t.value.trim().to_owned()).collect(),
        requested_attributes,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sp_metadata(entity_id: &str, cert_b64: &str) -> String {
        format!(
            r#"<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity_id}">
  <!-- generated for a test -->
  <md:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{cert_b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:KeyDescriptor use="encryption"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{cert_b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://sp.example/slo"/>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact" Location="https://sp.example/artifact" index="0"/>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example/acs" index="1" isDefault="true"/>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example/acs2" index="2"/>
    <md:AttributeConsumingService index="0"><md:ServiceName xml:lang="en"/>
      <md:RequestedAttribute Name="urn:oid:0.9.2342.19200300.100.1.3" FriendlyName="mail"/>
    </md:AttributeConsumingService>
  </md:SPSSODescriptor>
</md:EntityDescriptor>"#
        )
    }

    fn registered(meta: &SpMetadata) -> RegisteredSp {
        RegisteredSp::new(SamlServiceProvider {
            id: Uuid::new_v4(),
            tenant_id: Uuid::new_v4(),
            entity_id: meta.entity_id.clone(),
            name: "Shop".into(),
            metadata_xml: None,
            acs: meta.acs.clone(),
            slo: meta.slo.clone(),
            certificates: meta.certificates.clone(),
            want_authn_requests_signed: true,
            name_id_format: ns::NAMEID_PERSISTENT.into(),
            attribute_release: serde_json::json!({"attributes": ["email"]}),
            sign_response: true,
            sign_assertion: true,
            encrypt_assertion: false,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        })
    }

    #[test]
    fn metadata_is_read_and_acs_resolved_from_it_only() {
        let key = super::super::keys::tests::test_key(super::super::keys::KeyUse::Signing);
        let xml = sp_metadata("https://sp.example/metadata", &key.certificate_base64());
        let meta = parse_sp_metadata(xml.as_bytes(), Some("https://sp.example/metadata")).expect("parses");
        assert_eq!(meta.acs.len(), 3);
        assert_eq!(meta.certificates.len(), 1);
        assert_eq!(meta.encryption_certificates.len(), 1);
        assert!(meta.want_authn_requests_signed && meta.want_assertions_signed);
        assert_eq!(meta.requested_attributes, ["urn:oid:0.9.2342.19200300.100.1.3", "mail"]);
        let sp = registered(&meta);
        assert_eq!(sp.resolve_acs(None, None).map(|a| a.url.as_str()), Ok("https://sp.example/acs"));
        assert_eq!(sp.resolve_acs(Some("https://sp.example/acs2"), None).map(|a| a.index), Ok(2));
        assert_eq!(sp.resolve_acs(None, Some(2)).map(|a| a.url.as_str()), Ok("https://sp.example/acs2"));
        assert_eq!(sp.resolve_acs(Some("https://evil.example/acs"), None), Err(AcsError::NotRegistered));
        assert_eq!(sp.resolve_acs(None, Some(9)), Err(AcsError::NotRegistered));
        assert_eq!(sp.resolve_acs(None, Some(0)), Err(AcsError::NoPostEndpoint));
        assert_eq!(sp.resolve_acs(Some("https://sp.example/acs"), Some(1)), Err(AcsError::Both));
        assert_eq!(sp.slo_endpoint(Binding::Post, false), Some(("https://sp.example/slo".into(), Binding::Redirect)));
        assert_eq!(sp.release.attributes, ["email"]);
    }

    #[test]
    fn bad_metadata_is_refused() {
        assert!(matches!(
            parse_sp_metadata(b"<!DOCTYPE x><x/>", None),
            Err(MetadataError::Xml(xml::XmlRefusal::Dtd))
        ));
        assert_eq!(parse_sp_metadata(b"<x/>", None), Err(MetadataError::NotEntityDescriptor));
        let xml = sp_metadata("https://sp.example/metadata", "bm90IGEgY2VydA==");
        assert_eq!(parse_sp_metadata(xml.as_bytes(), None), Err(MetadataError::BadCertificate));
        let key = super::super::keys::tests::test_key(super::super::keys::KeyUse::Signing);
        let xml = sp_metadata("https://sp.example/metadata", &key.certificate_base64());
        assert!(matches!(parse_sp_metadata(xml.as_bytes(), Some("https://other")), Err(MetadataError::OtherEntity { .. })));
        let insecure = xml.replace("https://sp.example/acs2", "http://sp.example/acs2");
        assert!(matches!(parse_sp_metadata(insecure.as_bytes(), None), Err(MetadataError::InsecureUrl(_))));
    }
}
