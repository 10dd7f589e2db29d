//! Registered service providers (SAML Metadata §2.4.4 SPSSODescriptor): reading their
//! metadata at registration, and what the endpoints need from a registration — the
//! AssertionConsumerService a request may name, the certificates that verify its
//! signatures and the one that encrypts for it, its SingleLogoutService, and which
//! attributes it is given.

use std::sync::Arc;

use mamori_saml_wire::metadata;
pub use mamori_saml_wire::metadata::MetadataError;
use mamori_storage::model::{AssertionConsumerService, SamlServiceProvider, SingleLogoutService};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::binding::Binding;
use super::endpoint::check_endpoint_url;
use super::ns;
use crate::app::App;
use crate::oidc::site_version::VersionedRecords;

/// What `attribute_release` holds: the names of the attributes this SP is given (see
/// [`super::response::ATTRIBUTES`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasePolicy {
    #[serde(default)]
    pub attributes: Vec<String>,
}

/// A registration, with its release policy and key uses read.
#[derive(Debug, Clone)]
pub struct RegisteredSp {
    pub sp: SamlServiceProvider,
    pub release: ReleasePolicy,
    /// DER of the certificates that may verify this SP's signatures (see
    /// [`RegisteredSp::signature_certificates`]).
    signing: Vec<Vec<u8>>,
    /// DER of the certificates the metadata marks for encryption or any use.
    encryption: Vec<Vec<u8>>,
    /// The metadata says `WantAssertionsSigned="true"` (SAML Metadata §2.4.4).
    wants_signed_assertions: bool,
}

/// Registrations this node has read, current while their tenant's relying-site version is
/// (see [`crate::oidc::site_version`]): the metadata is parsed once per change, not on
/// every request. Bounded in count, and a registration whose endpoints and keys weigh
/// more than [`CACHED_SP_MAX_BYTES`] is read afresh each time instead, so no tenant can
/// make a node hold much.
pub type ParsedSps = VersionedRecords<Arc<RegisteredSp>, 1024>;

/// See [`ParsedSps`]; a usual registration weighs a few KiB.
const CACHED_SP_MAX_BYTES: usize = 32 * 1024;

pub async fn load(app: &App, tenant_id: Uuid, entity_id: &str) -> anyhow::Result<Option<Arc<RegisteredSp>>> {
    let key = cache_key(tenant_id, entity_id);
    let version = match app.caches.saml_sps.get(app, tenant_id, &key).await? {
        Ok(found) => return Ok(Some(found)),
        Err(version) => version,
    };
    let Some(sp) = app.storage.saml_service_providers().get_by_entity_id(tenant_id, entity_id).await? else {
        return Ok(None);
    };
    let mut found = RegisteredSp::new(sp);
    // Read into `signing`, `encryption` and `wants_signed_assertions`; the endpoints need no more of it.
    found.sp.metadata_xml = None;
    let found = Arc::new(found);
    if found.weight() <= CACHED_SP_MAX_BYTES {
        app.caches.saml_sps.put(tenant_id, version, &key, Arc::clone(&found));
    }
    Ok(Some(found))
}

/// Drops a registration this node remembers (after changing or deleting it here).
pub fn forget(app: &App, tenant_id: Uuid, entity_id: &str) {
    app.caches.saml_sps.forget(&cache_key(tenant_id, entity_id));
}

fn cache_key(tenant_id: Uuid, entity_id: &str) -> String {
    format!("{tenant_id} {entity_id}")
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
    pub fn new(mut sp: SamlServiceProvider) -> RegisteredSp {
        // A registration stored before the endpoint rule was strict may hold a location
        // it refuses now: such an endpoint is never answered at.
        let (acs, slo) = (sp.acs.len(), sp.slo.len());
        sp.acs.retain(|a| check_endpoint_url(&a.url).is_ok());
        sp.slo.retain(|s| check_endpoint_url(&s.url).is_ok() && s.response_url.as_deref().is_none_or(|r| check_endpoint_url(r).is_ok()));
        if sp.acs.len() != acs || sp.slo.len() != slo {
            tracing::warn!(sp = %sp.entity_id, "stored SP endpoints the endpoint rule refuses are ignored");
        }
        let release = serde_json::from_value(sp.attribute_release.clone()).unwrap_or_default();
        // The stored certificate list has no `use`: the metadata it came from says which
        // key is for what, so it is read again here.
        let (signing, encryption, wants_signed_assertions) = match sp.metadata_xml.as_deref() {
            Some(xml) => match parse_sp_metadata(xml.as_bytes(), Some(&sp.entity_id)) {
                Ok(meta) => (meta.signing_certificates, meta.encryption_certificates, meta.want_assertions_signed),
                Err(err) => {
                    // Fail closed: with unreadable metadata no key is trusted to sign.
                    tracing::warn!(sp = %sp.entity_id, error = %err, "stored SP metadata no longer reads; its signatures are refused");
                    (Vec::new(), Vec::new(), true)
                }
            },
            // A registration without metadata has no `use` to go by; a key without
            // `use` may sign and encrypt (SAML Metadata §2.4.1.1).
            None => {
                let all = der_of(&sp.certificates);
                (all.clone(), all, false)
            }
        };
        RegisteredSp { sp, release, signing, encryption, wants_signed_assertions }
    }

    /// Roughly the bytes this registration holds beyond its fixed fields.
    fn weight(&self) -> usize {
        let sp = &self.sp;
        let endpoints: usize = sp.acs.iter().map(|a| a.url.len() + a.binding.len() + 32).sum::<usize>()
            + sp.slo.iter().map(|s| s.url.len() + s.response_url.as_ref().map_or(0, String::len) + s.binding.len() + 32).sum::<usize>();
        let keys: usize = self.signing.iter().chain(&self.encryption).map(Vec::len).sum::<usize>()
            + sp.certificates.iter().map(String::len).sum::<usize>();
        endpoints
            + keys
            + sp.entity_id.len()
            + sp.name.len()
            + sp.attribute_release.to_string().len()
            + self.release.attributes.iter().map(String::len).sum::<usize>()
    }

    pub fn entity_id(&self) -> &str {
        &self.sp.entity_id
    }

    /// The certificates that may verify this SP's AuthnRequests, LogoutRequests and
    /// LogoutResponses, DER: those its metadata publishes with `use="signing"` or without
    /// `use`. A key published for encryption only never verifies a signature.
    pub fn signature_certificates(&self) -> &[Vec<u8>] {
        &self.signing
    }

    /// Whether the SP's metadata requires signed assertions (`WantAssertionsSigned`),
    /// whatever the registration's own signing settings say.
    pub fn wants_signed_assertions(&self) -> bool {
        self.wants_signed_assertions
    }

    /// The certificate to encrypt assertions for: the first its metadata marks for
    /// encryption or for any use.
    pub fn encryption_certificate(&self) -> Option<Vec<u8>> {
        self.encryption.first().cloned()
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
        let chosen = self.sp.slo.iter().filter(usable).find(|s| s.binding == prefer.uri()).or_else(|| self.sp.slo.iter().find(usable))?;
        let url = if response { chosen.response_url.clone().unwrap_or_else(|| chosen.url.clone()) } else { chosen.url.clone() };
        Some((url, Binding::from_uri(&chosen.binding)?))
    }
}

/// DER of PEM certificates (unparsable ones skipped).
fn der_of(pems: &[String]) -> Vec<Vec<u8>> {
    pems.iter().filter_map(|p| pem::parse(p).ok()).map(|p| p.into_contents()).collect()
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
    /// DER of those usable to verify signatures (`use="signing"` or no `use`).
    pub signing_certificates: Vec<Vec<u8>>,
    pub want_authn_requests_signed: bool,
    pub want_assertions_signed: bool,
    pub name_id_formats: Vec<String>,
    /// Names of the attributes its AttributeConsumingService asks for (Name or
    /// FriendlyName as given).
    pub requested_attributes: Vec<String>,
}

/// Reads SP metadata (an md:EntityDescriptor with an SPSSODescriptor), screened like any
/// XML from outside. The reading is `mamori_saml_wire::metadata` (fuzzed on its own);
/// here its endpoints become the stored registration's.
pub fn parse_sp_metadata(bytes: &[u8], expected_entity_id: Option<&str>) -> Result<SpMetadata, MetadataError> {
    let meta = metadata::parse_sp_metadata(bytes, expected_entity_id)?;
    Ok(SpMetadata {
        entity_id: meta.entity_id,
        acs: meta
            .acs
            .into_iter()
            .map(|e| AssertionConsumerService { url: e.url, binding: e.binding, index: e.index, is_default: e.is_default })
            .collect(),
        slo: meta.slo.into_iter().map(|e| SingleLogoutService { url: e.url, binding: e.binding, response_url: e.response_url }).collect(),
        certificates: meta.certificates,
        encryption_certificates: meta.encryption_certificates,
        signing_certificates: meta.signing_certificates,
        want_authn_requests_signed: meta.want_authn_requests_signed,
        want_assertions_signed: meta.want_assertions_signed,
        name_id_formats: meta.name_id_formats,
        requested_attributes: meta.requested_attributes,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::saml::xml;

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
            allow_unsolicited: false,
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
        assert!(matches!(parse_sp_metadata(b"<!DOCTYPE x><x/>", None), Err(MetadataError::Xml(xml::XmlRefusal::Dtd))));
        assert_eq!(parse_sp_metadata(b"<x/>", None), Err(MetadataError::NotEntityDescriptor));
        let xml = sp_metadata("https://sp.example/metadata", "bm90IGEgY2VydA==");
        assert_eq!(parse_sp_metadata(xml.as_bytes(), None), Err(MetadataError::BadCertificate));
        let key = super::super::keys::tests::test_key(super::super::keys::KeyUse::Signing);
        let xml = sp_metadata("https://sp.example/metadata", &key.certificate_base64());
        assert!(matches!(parse_sp_metadata(xml.as_bytes(), Some("https://other")), Err(MetadataError::OtherEntity { .. })));
        let insecure = xml.replace("https://sp.example/acs2", "http://sp.example/acs2");
        assert!(matches!(parse_sp_metadata(insecure.as_bytes(), None), Err(MetadataError::InsecureUrl { .. })));
        for lookalike in ["http://localhost.evil.example/acs2", "http://localhost:80@evil.example/acs2", "https://sp.example/acs2#x"] {
            let bad = xml.replace("https://sp.example/acs2", lookalike);
            assert!(matches!(parse_sp_metadata(bad.as_bytes(), None), Err(MetadataError::InsecureUrl { .. })), "{lookalike}");
            let bad_slo = xml.replace("https://sp.example/slo", lookalike);
            assert!(matches!(parse_sp_metadata(bad_slo.as_bytes(), None), Err(MetadataError::InsecureUrl { .. })), "SLO {lookalike}");
        }
        let loopback = xml.replace("https://sp.example/acs2", "http://127.0.0.1:8080/acs2");
        assert!(parse_sp_metadata(loopback.as_bytes(), None).is_ok());
    }

    /// Metadata with one KeyDescriptor per `(use, certificate)`; `None` leaves `use` out.
    /// An entityID is an absolute URI without whitespace or control characters, at most
    /// 1024 characters: one a parser reads back differently (CR as LF) could be another
    /// SP's (outside review r2).
    #[test]
    fn entity_ids_are_absolute_uris_read_back_as_written() {
        let key = super::super::keys::tests::test_key(super::super::keys::KeyUse::Signing);
        let with = |id: &str| {
            sp_metadata("https://sp.example/metadata", &key.certificate_base64())
                .replace(r#"entityID="https://sp.example/metadata""#, &format!(r#"entityID="{id}""#))
        };
        for good in ["https://sp.example/metadata", "urn:example:sp", "http://localhost:8000/saml2/metadata/"] {
            assert!(parse_sp_metadata(with(good).as_bytes(), None).is_ok(), "{good}");
        }
        let long = format!("https://sp.example/{}", "a".repeat(1100));
        for bad in [
            "https://sp.example/a&#13;b",
            "https://sp.example/a\rb",
            "https://sp.example/a&#10;b",
            "https://sp.example/a\tb",
            "https://sp.example/a b",
            " https://sp.example/",
            "https://sp.example/a&#x7F;b",
            "sp.example/metadata",
            "sp",
            long.as_str(),
        ] {
            assert_eq!(parse_sp_metadata(with(bad).as_bytes(), None).map(|m| m.entity_id), Err(MetadataError::BadEntityId), "{bad:?}");
        }
    }

    fn metadata_with_keys(keys: &[(Option<&str>, String)]) -> String {
        let descriptors: String = keys
            .iter()
            .map(|(key_use, cert)| {
                let attr = key_use.map(|u| format!(r#" use="{u}""#)).unwrap_or_default();
                format!(
                    r#"<md:KeyDescriptor{attr}><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#
                )
            })
            .collect();
        format!(
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.example/metadata"><md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{descriptors}<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example/acs" index="0"/></md:SPSSODescriptor></md:EntityDescriptor>"#
        )
    }

    fn der(b64: &str) -> Vec<u8> {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.decode(b64).expect("base64")
    }

    #[test]
    fn logout_responses_go_to_the_response_location() {
        let key = super::super::keys::tests::test_key(super::super::keys::KeyUse::Signing);
        let xml = sp_metadata("https://sp.example/metadata", &key.certificate_base64()).replace(
            r#"Location="https://sp.example/slo"/>"#,
            r#"Location="https://sp.example/slo" ResponseLocation="https://sp.example/slo/response"/>"#,
        );
        let meta = parse_sp_metadata(xml.as_bytes(), None).expect("parses");
        let sp = registered(&meta);
        // SAML Metadata §2.2.2: responses go to ResponseLocation, requests to Location.
        assert_eq!(sp.slo_endpoint(Binding::Redirect, true), Some(("https://sp.example/slo/response".into(), Binding::Redirect)));
        assert_eq!(sp.slo_endpoint(Binding::Redirect, false), Some(("https://sp.example/slo".into(), Binding::Redirect)));
        // Without a ResponseLocation, responses go to Location.
        let plain = registered(
            &parse_sp_metadata(sp_metadata("https://sp.example/metadata", &key.certificate_base64()).as_bytes(), None).expect("parses"),
        );
        assert_eq!(plain.slo_endpoint(Binding::Redirect, true), Some(("https://sp.example/slo".into(), Binding::Redirect)));
    }

    #[test]
    fn an_encryption_only_key_never_verifies_signatures() {
        use super::super::keys::{KeyUse, tests::test_key};
        let (signing, encryption) = (test_key(KeyUse::Signing).certificate_base64(), test_key(KeyUse::Encryption).certificate_base64());
        let xml = metadata_with_keys(&[(Some("signing"), signing.clone()), (Some("encryption"), encryption.clone())]);
        let meta = parse_sp_metadata(xml.as_bytes(), None).expect("parses");
        assert_eq!(meta.signing_certificates, [der(&signing)]);
        assert_eq!(meta.encryption_certificates, [der(&encryption)]);
        let mut sp = registered(&meta);
        sp.sp.metadata_xml = Some(xml);
        let sp = RegisteredSp::new(sp.sp);
        assert_eq!(sp.signature_certificates(), [der(&signing)], "the registration verifies with the signing key only");
        assert_eq!(sp.encryption_certificate(), Some(der(&encryption)));

        // Only an encryption key: nothing may verify a signature.
        let xml = metadata_with_keys(&[(Some("encryption"), encryption.clone())]);
        let meta = parse_sp_metadata(xml.as_bytes(), None).expect("parses");
        assert!(meta.signing_certificates.is_empty());
        let mut sp = registered(&meta);
        sp.sp.metadata_xml = Some(xml);
        assert!(RegisteredSp::new(sp.sp).signature_certificates().is_empty());
    }

    #[test]
    fn a_key_without_use_signs_and_encrypts_and_an_unknown_use_is_refused() {
        use super::super::keys::{KeyUse, tests::test_key};
        let cert = test_key(KeyUse::Signing).certificate_base64();
        let meta = parse_sp_metadata(metadata_with_keys(&[(None, cert.clone())]).as_bytes(), None).expect("parses");
        assert_eq!(meta.signing_certificates, [der(&cert)]);
        assert_eq!(meta.encryption_certificates, [der(&cert)]);
        let bogus = metadata_with_keys(&[(Some("both"), cert)]);
        assert_eq!(parse_sp_metadata(bogus.as_bytes(), None), Err(MetadataError::KeyUse));
    }

    #[test]
    fn unreadable_stored_metadata_trusts_no_key() {
        use super::super::keys::{KeyUse, tests::test_key};
        let cert = test_key(KeyUse::Signing).certificate_base64();
        let meta = parse_sp_metadata(metadata_with_keys(&[(None, cert)]).as_bytes(), None).expect("parses");
        let mut sp = registered(&meta);
        assert!(!RegisteredSp::new(sp.sp.clone()).signature_certificates().is_empty(), "no metadata: the stored keys, use unknown");
        sp.sp.metadata_xml = Some("<not-metadata/>".into());
        assert!(RegisteredSp::new(sp.sp).signature_certificates().is_empty());
    }

    #[test]
    fn stored_endpoints_the_rule_refuses_are_never_answered_at() {
        let key = super::super::keys::tests::test_key(super::super::keys::KeyUse::Signing);
        let meta =
            parse_sp_metadata(sp_metadata("https://sp.example/metadata", &key.certificate_base64()).as_bytes(), None).expect("parses");
        let mut stored = registered(&meta).sp;
        stored.acs.iter_mut().for_each(|a| a.url = a.url.replace("https://sp.example", "http://localhost:80@evil.example"));
        stored.slo.iter_mut().for_each(|s| s.url = "http://localhost.evil.example/slo".into());
        let sp = RegisteredSp::new(stored);
        assert_eq!(sp.resolve_acs(None, None), Err(AcsError::NoPostEndpoint));
        assert_eq!(sp.resolve_acs(Some("http://localhost:80@evil.example/acs"), None), Err(AcsError::NotRegistered));
        assert_eq!(sp.slo_endpoint(Binding::Redirect, false), None);
    }

    /// An SP's metadata with `acs` AssertionConsumerService and `slo` SingleLogoutService
    /// endpoints and `keys` distinct signing certificates.
    fn metadata_of_size(acs: usize, slo: usize, keys: usize) -> String {
        use base64::Engine as _;
        let descriptors: String = (0..keys)
            .map(|_| {
                let cert = rcgen::generate_simple_self_signed(vec!["sp.example".to_owned()]).expect("certificate").cert;
                let b64 = base64::engine::general_purpose::STANDARD.encode(cert.der());
                format!(r#"<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#)
            })
            .collect();
        let slo: String = (0..slo)
            .map(|i| format!(r#"<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://sp.example/slo{i}"/>"#))
            .collect();
        let acs: String = (0..acs)
            .map(|i| format!(r#"<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example/acs{i}" index="{i}"/>"#))
            .collect();
        format!(
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.example/metadata"><md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{descriptors}{slo}{acs}</md:SPSSODescriptor></md:EntityDescriptor>"#
        )
    }

    #[test]
    fn endpoints_and_keys_are_capped() {
        use mamori_saml_wire::metadata::{MAX_ENDPOINTS, MAX_KEYS};
        let at_caps = parse_sp_metadata(metadata_of_size(MAX_ENDPOINTS, MAX_ENDPOINTS, MAX_KEYS).as_bytes(), None).expect("at the caps");
        assert_eq!((at_caps.acs.len(), at_caps.slo.len(), at_caps.signing_certificates.len()), (20, 20, 4));
        for (acs, slo, keys, what) in [
            (21, 0, 0, "AssertionConsumerService"),
            (1_700, 0, 0, "AssertionConsumerService"),
            (1, 21, 0, "SingleLogoutService"),
            (1, 0, 5, "signing certificates"),
        ] {
            let refused = parse_sp_metadata(metadata_of_size(acs, slo, keys).as_bytes(), None);
            assert!(
                matches!(&refused, Err(e @ MetadataError::TooMany { .. }) if e.to_string().contains(what)),
                "{acs} {slo} {keys}: {refused:?}"
            );
        }
    }
}
