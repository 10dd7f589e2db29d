//! Service provider metadata (SAML Metadata §2.4.4 SPSSODescriptor) as an administrator
//! uploads it: screened like any XML from outside, then the parts the IdP registers read
//! — entity ID, AssertionConsumerService and SingleLogoutService endpoints (each held to
//! [`crate::endpoint::check_endpoint_url`]), certificates by key use, and what the SP asks
//! for.

use crate::endpoint::{EndpointUrlError, check_endpoint_url};
use crate::ns;
use crate::xml::{self, METADATA_LIMITS};

/// The most AssertionConsumerService and SingleLogoutService endpoints an SP registers:
/// an SP has a handful; each one more is work for every anonymous AuthnRequest naming it.
pub const MAX_ENDPOINTS: usize = 20;
/// The most distinct signing (and, apart, encryption) certificates an SP registers: key
/// rollover needs two; a badly signed request is tried against each.
pub const MAX_KEYS: usize = 4;

/// An AssertionConsumerService endpoint as the metadata gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcsEndpoint {
    pub url: String,
    /// Binding URI, e.g. `urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST`.
    pub binding: String,
    pub index: u32,
    pub is_default: bool,
}

/// A SingleLogoutService endpoint as the metadata gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SloEndpoint {
    pub url: String,
    pub binding: String,
    pub response_url: Option<String>,
}

/// What an SP's metadata says, ready to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpMetadata {
    pub entity_id: String,
    pub acs: Vec<AcsEndpoint>,
    pub slo: Vec<SloEndpoint>,
    /// All certificates (PEM), signing and encryption.
    pub certificates: Vec<String>,
    /// DER of those usable for encryption (`use="encryption"` or no `use`).
    pub encryption_certificates: Vec<Vec<u8>>,
    /// DER of those usable to verify signatures (`use="signing"` or no `use`).
    pub signing_certificates: Vec<Vec<u8>>,
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
    #[error(
        "the metadata's entityID is not an absolute URI of at most {MAX_ENTITY_ID_CHARS} characters without whitespace or control characters"
    )]
    BadEntityId,
    #[error("the metadata is for {found}, not {expected}")]
    OtherEntity { found: String, expected: String },
    #[error("the metadata has no SAML 2.0 SPSSODescriptor")]
    NoSpDescriptor,
    #[error("the metadata has no AssertionConsumerService")]
    NoAcs,
    #[error("endpoint {url}: {reason}")]
    InsecureUrl { url: String, reason: EndpointUrlError },
    #[error("a certificate in the metadata does not parse")]
    BadCertificate,
    #[error("a KeyDescriptor's use is neither signing nor encryption")]
    KeyUse,
    #[error("the metadata has more than {max} {what}")]
    TooMany { what: &'static str, max: usize },
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

/// SAML's bound on an `entityID` (SAML Metadata §2.3.2, `entityIDType`).
pub const MAX_ENTITY_ID_CHARS: usize = 1024;

/// An `entityID` is an absolute URI of at most [`MAX_ENTITY_ID_CHARS`] characters (SAML
/// Core §8.3.6). Whitespace and control characters are refused outright: written into an
/// assertion's Audience, a CR is read back by any XML parser as LF, so an SP registered
/// as `a\rb` would be named by an assertion the SP `a\nb` accepts (outside review r2).
pub fn check_entity_id(entity_id: &str) -> Result<(), MetadataError> {
    let plain = !entity_id.is_empty() && !entity_id.chars().any(|c| c.is_whitespace() || c.is_control());
    if !plain || entity_id.chars().count() > MAX_ENTITY_ID_CHARS || url::Url::parse(entity_id).is_err() {
        return Err(MetadataError::BadEntityId);
    }
    Ok(())
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
    check_entity_id(&entity_id)?;
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
        check_endpoint_url(url).map(drop).map_err(|reason| MetadataError::InsecureUrl { url: url.chars().take(200).collect(), reason })
    };
    // Counted before any endpoint is checked or certificate parsed.
    let too_many = |what, max| MetadataError::TooMany { what, max };
    if sp.assertion_consumer_services.len() > MAX_ENDPOINTS {
        return Err(too_many("AssertionConsumerService endpoints", MAX_ENDPOINTS));
    }
    if sp.single_logout_services.len() > MAX_ENDPOINTS {
        return Err(too_many("SingleLogoutService endpoints", MAX_ENDPOINTS));
    }
    let mut acs = Vec::new();
    for e in &sp.assertion_consumer_services {
        check_url(&e.location)?;
        acs.push(AcsEndpoint {
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
        slo.push(SloEndpoint { url: e.location, binding: e.binding, response_url: e.response_location });
    }
    let mut certificates = Vec::new();
    let mut encryption_certificates = Vec::new();
    let mut signing_certificates = Vec::new();
    for kd in sp.key_descriptors {
        // SAML Metadata §2.4.1.1: `use` is "signing" or "encryption"; without it the key
        // serves both. Any other value is refused rather than guessed at.
        let (signs, encrypts) = match kd.key_use.as_deref().map(str::trim) {
            None => (true, true),
            Some("signing") => (true, false),
            Some("encryption") => (false, true),
            Some(_) => return Err(MetadataError::KeyUse),
        };
        let texts = kd.key_info.into_iter().flat_map(|k| k.x509_data).flat_map(|d| d.certificates);
        for text in texts {
            let clean: String = text.value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let der = base64::engine::general_purpose::STANDARD.decode(clean).map_err(|_| MetadataError::BadCertificate)?;
            x509_parser::parse_x509_certificate(&der).map_err(|_| MetadataError::BadCertificate)?;
            if encrypts && !encryption_certificates.contains(&der) {
                if encryption_certificates.len() == MAX_KEYS {
                    return Err(too_many("encryption certificates", MAX_KEYS));
                }
                encryption_certificates.push(der.clone());
            }
            if signs && !signing_certificates.contains(&der) {
                if signing_certificates.len() == MAX_KEYS {
                    return Err(too_many("signing certificates", MAX_KEYS));
                }
                signing_certificates.push(der.clone());
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
        signing_certificates,
        want_authn_requests_signed: sp.authn_requests_signed.unwrap_or(false),
        want_assertions_signed: sp.want_assertions_signed.unwrap_or(false),
        name_id_formats: sp.name_id_formats.into_iter().map(|t| t.value.trim().to_owned()).collect(),
        requested_attributes,
    })
}
