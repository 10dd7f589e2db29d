//! Registering and changing SAML service providers from their metadata, for the API, the
//! CLI (`mamori admin saml-sp add`) and the console alike.

use mamori_storage::model::{ApiScope, NewSamlServiceProvider, SamlServiceProvider};

use super::federation::saml_sp;
use super::{AdminError, Principal, audit};
use crate::app::App;
use crate::fields::site_rules;
use crate::saml::service_providers::{ReleasePolicy, SpMetadata, parse_sp_metadata};
use crate::saml::{ns, response};
use mamori_untrusted::site_certificate::CertificateUse;

/// Largest metadata document accepted.
pub const MAX_METADATA: usize = crate::saml::xml::METADATA_LIMITS.max_bytes;

/// How long fetching an SP's metadata may take.
const METADATA_FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// An SP's metadata fetched from the URL an operator typed (the console), under the rule
/// for URLs that relying sites register: https to a public address only (private and
/// loopback destinations refused unless the server's `[oidc]` outbound settings allow
/// them), no redirects, at most [`MAX_METADATA`] bytes. The document is then read like an
/// uploaded one. The CLI's `--metadata URL` runs at the server's shell and may reach
/// private addresses; a tenant administrator in a browser may not.
pub async fn fetch_metadata(app: &App, url: &str) -> Result<Vec<u8>, AdminError> {
    let limits = crate::outbound::Limits::for_clients(&app.config.oidc, METADATA_FETCH_TIMEOUT, MAX_METADATA);
    match app.outbound.get(url.trim(), "application/samlmetadata+xml, application/xml", limits).await {
        Ok(fetched) => Ok(fetched.body.to_vec()),
        Err(err) => Err(AdminError::Invalid(format!("metadata_url: {err}"))),
    }
}

/// What an operator registers a service provider with.
#[derive(Debug, Clone, Default)]
pub struct SpRegistration {
    /// The SP's metadata (an `md:EntityDescriptor`).
    pub metadata: Vec<u8>,
    /// The entity ID the metadata must be for (refused otherwise).
    pub entity_id: Option<String>,
    /// A display name; the entity ID when absent.
    pub name: Option<String>,
    /// persistent (pairwise, the default), email or transient, or their URNs.
    pub name_id_format: Option<String>,
    /// Attributes to release (login_id, email, display_name, locale, amr); `None` = those
    /// the metadata's AttributeConsumingService asks for.
    pub attributes: Option<Vec<String>>,
    /// With neither `sign_response` nor `sign_assertion`, both are signed.
    pub sign_response: bool,
    pub sign_assertion: bool,
    /// Encrypt assertions for the SP (needs an encryption certificate in the metadata).
    pub encrypt_assertion: bool,
    /// Require signed AuthnRequests even if the metadata does not say so.
    pub require_signed_requests: bool,
    /// Send the SP IdP-initiated (unsolicited) responses when a user asks for them.
    pub allow_unsolicited: bool,
}

/// Changes to a service provider's settings; `None` leaves a field as it is. The
/// endpoints and certificates come from the metadata: register again to change them.
#[derive(Debug, Clone, Default)]
pub struct SpUpdate {
    pub name: Option<String>,
    pub name_id_format: Option<String>,
    pub attributes: Option<Vec<String>>,
    pub want_authn_requests_signed: Option<bool>,
    pub sign_response: Option<bool>,
    pub sign_assertion: Option<bool>,
    pub encrypt_assertion: Option<bool>,
    pub allow_unsolicited: Option<bool>,
}

/// The NameID format URN for a short name or URN.
pub fn name_id_format(text: &str) -> Result<&'static str, AdminError> {
    match text {
        "persistent" | ns::NAMEID_PERSISTENT => Ok(ns::NAMEID_PERSISTENT),
        "email" | "emailAddress" | ns::NAMEID_EMAIL => Ok(ns::NAMEID_EMAIL),
        "transient" | ns::NAMEID_TRANSIENT => Ok(ns::NAMEID_TRANSIENT),
        other => Err(AdminError::Invalid(format!(
            "name_id_format: `{}` is not one of persistent, email, transient",
            other.chars().take(100).collect::<String>()
        ))),
    }
}

/// The release policy for attribute names (any of each attribute's names), deduplicated.
pub fn release_policy<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<ReleasePolicy, AdminError> {
    let mut attributes = Vec::new();
    for name in names.into_iter().map(str::trim).filter(|a| !a.is_empty()) {
        let def = response::attribute(name).ok_or_else(|| {
            let known: Vec<&str> = response::ATTRIBUTES.iter().map(|a| a.key).collect();
            AdminError::Invalid(format!("attributes: `{}` is not one of {}", name.chars().take(100).collect::<String>(), known.join(", ")))
        })?;
        if !attributes.contains(&def.key.to_owned()) {
            attributes.push(def.key.to_owned());
        }
    }
    Ok(ReleasePolicy { attributes })
}

/// A service provider's name follows the rule of every relying site's name
/// ([`ClientName`]: the same bound the console's field and the OIDC clients have).
fn check_name(name: &str) -> Result<(), AdminError> {
    crate::fields::ClientName::parse(name)?;
    Ok(())
}

/// The name an SP gets when none is given: its entity ID (at most
/// [`mamori_saml_wire::metadata::MAX_ENTITY_ID_CHARS`], checked by the metadata's parser),
/// shortened to fit the name's rule.
fn default_name(entity_id: &str) -> String {
    let max = crate::fields::MAX_CLIENT_NAME_CHARS;
    if entity_id.chars().count() <= max {
        return entity_id.to_owned();
    }
    let mut short: String = entity_id.chars().take(max - 1).collect();
    short.push('…');
    short
}

/// The metadata's certificates, screened for what each is used for at `now`
/// ([`site_rules::certificate_der`]): every signing one (whole, current, a key XML
/// signatures verify with), every one marked for encryption only, and, when assertions
/// are to be encrypted, the one they are encrypted for (RSA). A certificate the metadata
/// gives without a `use` serves both; it must sign, and it must encrypt only if asked to.
fn check_certificates(meta: &SpMetadata, encrypt: bool, now: time::OffsetDateTime) -> Result<(), AdminError> {
    for (i, der) in meta.signing_certificates.iter().enumerate() {
        site_rules::certificate_der("metadata", &format!("signing certificate {}", i + 1), der, CertificateUse::Signing, now)?;
    }
    for (i, der) in meta.encryption_certificates.iter().enumerate() {
        let only_encrypts = !meta.signing_certificates.contains(der);
        // The first is the one assertions are encrypted for.
        if only_encrypts || (encrypt && i == 0) {
            site_rules::certificate_der("metadata", &format!("encryption certificate {}", i + 1), der, CertificateUse::Encryption, now)?;
        }
    }
    Ok(())
}

/// Registers a service provider in the tenant `slug` from its metadata (checked: an SP
/// descriptor with https endpoints and parsable certificates), for a super-admin or the
/// tenant's admin holding the write scope. Audited as `saml-sp.create`.
pub async fn create_saml_sp(app: &App, principal: &Principal, slug: &str, reg: SpRegistration) -> Result<SamlServiceProvider, AdminError> {
    let tenant = principal.tenant(app, slug, ApiScope::Write).await?;
    if reg.metadata.len() > MAX_METADATA {
        return Err(AdminError::Invalid(format!("metadata: larger than {MAX_METADATA} bytes")));
    }
    let meta = parse_sp_metadata(&reg.metadata, reg.entity_id.as_deref()).map_err(|e| AdminError::Invalid(format!("metadata: {e}")))?;
    let name_id_format = name_id_format(reg.name_id_format.as_deref().unwrap_or("persistent"))?;
    let release = match &reg.attributes {
        Some(names) => release_policy(names.iter().map(String::as_str))?,
        // Only what this IdP knows of what the SP asks for.
        None => release_policy(meta.requested_attributes.iter().map(String::as_str).filter(|a| response::attribute(a).is_some()))?,
    };
    if let Some(name) = &reg.name {
        check_name(name)?;
    }
    check_certificates(&meta, reg.encrypt_assertion, app.now())?;
    if reg.encrypt_assertion && meta.encryption_certificates.is_empty() {
        return Err(AdminError::Invalid("encrypt_assertion: the metadata has no certificate to encrypt for".to_owned()));
    }
    let want_signed = reg.require_signed_requests || meta.want_authn_requests_signed;
    if want_signed && meta.signing_certificates.is_empty() {
        return Err(AdminError::Invalid("signed requests are required but the metadata has no signing certificate".to_owned()));
    }
    let (sign_response, sign_assertion) = match (reg.sign_response, reg.sign_assertion) {
        (false, false) => (true, true),
        other => other,
    };
    let new = NewSamlServiceProvider {
        tenant_id: tenant.id,
        entity_id: meta.entity_id.clone(),
        name: reg.name.unwrap_or_else(|| default_name(&meta.entity_id)),
        metadata_xml: Some(String::from_utf8_lossy(&reg.metadata).into_owned()),
        acs: meta.acs.clone(),
        slo: meta.slo.clone(),
        certificates: meta.certificates.clone(),
        want_authn_requests_signed: want_signed,
        name_id_format: name_id_format.to_owned(),
        attribute_release: serde_json::to_value(&release).map_err(anyhow::Error::from)?,
        sign_response,
        sign_assertion,
        encrypt_assertion: reg.encrypt_assertion,
        allow_unsolicited: reg.allow_unsolicited,
    };
    let sp = app.storage.saml_service_providers().create(&new, app.now()).await?;
    audit::record(
        app,
        principal,
        Some(tenant.id),
        "saml-sp.create",
        &format!("tenant:{slug}/saml-sp:{}", sp.entity_id),
        serde_json::json!({
            "name": sp.name,
            "name_id_format": sp.name_id_format,
            "attributes": release.attributes,
            "allow_unsolicited": sp.allow_unsolicited,
        }),
    )
    .await;
    Ok(sp)
}

/// Changes a service provider's settings (the SP named by its id); audited as
/// `saml-sp.update` with the names of the fields changed and, for the switches, the
/// value each was set to.
pub async fn update_saml_sp(
    app: &App,
    principal: &Principal,
    slug: &str,
    id: &str,
    update: SpUpdate,
) -> Result<SamlServiceProvider, AdminError> {
    let mut sp = saml_sp(app, principal, slug, id, ApiScope::Write).await?;
    let mut changed = Vec::new();
    if let Some(name) = update.name {
        check_name(&name)?;
        sp.name = name;
        changed.push("name");
    }
    if let Some(format) = update.name_id_format {
        sp.name_id_format = name_id_format(&format)?.to_owned();
        changed.push("name_id_format");
    }
    if let Some(names) = update.attributes {
        let release = release_policy(names.iter().map(String::as_str))?;
        sp.attribute_release = serde_json::to_value(&release).map_err(anyhow::Error::from)?;
        changed.push("attributes");
    }
    if let Some(want) = update.want_authn_requests_signed {
        if want && crate::saml::service_providers::RegisteredSp::new(sp.clone()).signature_certificates().is_empty() {
            return Err(AdminError::Invalid("want_authn_requests_signed: the metadata has no signing certificate".to_owned()));
        }
        sp.want_authn_requests_signed = want;
        changed.push("want_authn_requests_signed");
    }
    if let Some(sign) = update.sign_response {
        sp.sign_response = sign;
        changed.push("sign_response");
    }
    if let Some(sign) = update.sign_assertion {
        sp.sign_assertion = sign;
        changed.push("sign_assertion");
    }
    if !sp.sign_response && !sp.sign_assertion {
        return Err(AdminError::Invalid("sign the response, the assertion, or both".to_owned()));
    }
    if let Some(encrypt) = update.encrypt_assertion {
        let registered = crate::saml::service_providers::RegisteredSp::new(sp.clone());
        match registered.encryption_certificate() {
            None if encrypt => {
                return Err(AdminError::Invalid("encrypt_assertion: the metadata has no certificate to encrypt for".to_owned()));
            }
            // Registered before certificates were screened, or expired since.
            Some(der) if encrypt => {
                site_rules::certificate_der("metadata", "the encryption certificate", &der, CertificateUse::Encryption, app.now())?;
            }
            _ => {}
        }
        sp.encrypt_assertion = encrypt;
        changed.push("encrypt_assertion");
    }
    if let Some(allow) = update.allow_unsolicited {
        sp.allow_unsolicited = allow;
        changed.push("allow_unsolicited");
    }
    app.storage.saml_service_providers().update_settings(&sp).await?;
    crate::saml::service_providers::forget(app, sp.tenant_id, &sp.entity_id);
    let switches = [
        ("want_authn_requests_signed", sp.want_authn_requests_signed),
        ("sign_response", sp.sign_response),
        ("sign_assertion", sp.sign_assertion),
        ("encrypt_assertion", sp.encrypt_assertion),
        ("allow_unsolicited", sp.allow_unsolicited),
    ];
    let set_to: serde_json::Map<String, serde_json::Value> =
        switches.iter().filter(|(name, _)| changed.contains(name)).map(|(name, on)| ((*name).to_owned(), (*on).into())).collect();
    audit::record(
        app,
        principal,
        Some(sp.tenant_id),
        "saml-sp.update",
        &format!("tenant:{slug}/saml-sp:{}", sp.entity_id),
        serde_json::json!({"changed": changed, "set_to": set_to}),
    )
    .await;
    Ok(sp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_relying_site_rule_and_a_long_entity_id_is_shortened_to_it() {
        assert!(check_name("Shop").is_ok());
        assert!(check_name(&"n".repeat(crate::fields::MAX_CLIENT_NAME_CHARS + 1)).is_err());
        assert!(check_name("evil\u{202e}name").is_err(), "bidirectional overrides");
        let long = format!("https://sp.example/{}", "a".repeat(900));
        let name = default_name(&long);
        assert_eq!(name.chars().count(), crate::fields::MAX_CLIENT_NAME_CHARS);
        assert!(name.ends_with('…') && check_name(&name).is_ok(), "the default name can be saved again: {name}");
        assert_eq!(default_name("https://sp.example/meta"), "https://sp.example/meta");
    }

    /// A self-signed P-256 certificate (base64 DER) valid from `from` to `to` days from now.
    fn ec_certificate(from: i64, to: i64) -> String {
        use base64::Engine as _;
        let now = time::OffsetDateTime::now_utc();
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(vec!["sp.example".to_owned()]).expect("params");
        params.not_before = now + time::Duration::days(from);
        params.not_after = now + time::Duration::days(to);
        base64::engine::general_purpose::STANDARD.encode(params.self_signed(&key).expect("certificate").der())
    }

    fn screened(cert_b64: &str, encrypt: bool) -> Result<(), AdminError> {
        let xml = crate::saml::service_providers::tests::sp_metadata("https://sp.example/metadata", cert_b64);
        let meta = parse_sp_metadata(xml.as_bytes(), None).expect("parses");
        check_certificates(&meta, encrypt, time::OffsetDateTime::now_utc())
    }

    fn refused_key(result: Result<(), AdminError>) -> Option<&'static str> {
        match result {
            Err(AdminError::Field(f)) if f.field == "metadata" => Some(f.key),
            _ => None,
        }
    }

    #[test]
    fn certificates_are_screened_for_what_they_are_used_for() {
        use crate::saml::keys::{KeyUse, tests::test_key};
        // An RSA certificate signs and encrypts; a current self-signed EC one signs.
        assert!(screened(&test_key(KeyUse::Signing).certificate_base64(), true).is_ok());
        let ec = ec_certificate(-1, 30);
        assert!(screened(&ec, false).is_ok());
        // RSA-OAEP cannot encrypt to an EC key: refused when encryption is asked for.
        assert_eq!(refused_key(screened(&ec, true)), Some(site_rules::KEY_CERT_KEY));
        assert_eq!(refused_key(screened(&ec_certificate(-30, -1), false)), Some(site_rules::KEY_CERT_EXPIRED));
        assert_eq!(refused_key(screened(&ec_certificate(1, 30), false)), Some(site_rules::KEY_CERT_NOT_YET_VALID));
        // Random bytes where the certificate goes never reach the screen: the metadata
        // parser refuses them first.
        let xml = crate::saml::service_providers::tests::sp_metadata("https://sp.example/metadata", "Tm90IGEgY2VydGlmaWNhdGU=");
        assert!(parse_sp_metadata(xml.as_bytes(), None).is_err());
    }

    #[test]
    fn name_id_formats_by_short_name_or_urn() {
        assert_eq!(name_id_format("persistent").ok(), Some(ns::NAMEID_PERSISTENT));
        assert_eq!(name_id_format("emailAddress").ok(), Some(ns::NAMEID_EMAIL));
        assert_eq!(name_id_format(ns::NAMEID_TRANSIENT).ok(), Some(ns::NAMEID_TRANSIENT));
        assert!(matches!(name_id_format("unspecified"), Err(AdminError::Invalid(_))));
    }

    #[test]
    fn release_policy_knows_the_attributes_and_dedups() {
        let policy = release_policy(["email", " email ", "login_id", ""]).ok();
        assert_eq!(policy.map(|p| p.attributes), Some(vec!["email".to_owned(), "login_id".to_owned()]));
        assert!(matches!(release_policy(["salary"]), Err(AdminError::Invalid(_))));
    }
}
