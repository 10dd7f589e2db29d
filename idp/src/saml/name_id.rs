//! The NameID a service provider gets (SAML Core §8.3, §3.4.1.1 NameIDPolicy):
//!
//! - persistent: a random pairwise identifier per user and SP, kept in storage, never the
//!   user's login ID, so two SPs cannot correlate a user;
//! - e-mail address: the user's e-mail (from their device record);
//! - transient: a fresh random value per assertion.
//!
//! The registered format is the most identifying one an SP gets: a request may ask for
//! it, for `unspecified`, or for something less identifying (transient always; persistent
//! when e-mail is registered), never for more. `AllowCreate="false"` with no persistent
//! identifier yet is refused (InvalidNameIDPolicy).

use mamori_storage::model::User;
use samael::schema::NameIdPolicy;
use serde::{Deserialize, Serialize};

use super::error::SamlError;
use super::ns;
use super::service_providers::RegisteredSp;
use crate::app::App;

/// The formats this IdP issues.
pub const SUPPORTED: [&str; 3] = [ns::NAMEID_PERSISTENT, ns::NAMEID_EMAIL, ns::NAMEID_TRANSIENT];

/// What the request's NameIDPolicy settled, kept with the pending request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameIdChoice {
    pub format: String,
    pub allow_create: bool,
}

/// How identifying a format is (higher reveals more).
fn exposure(format: &str) -> Option<u8> {
    match format {
        ns::NAMEID_TRANSIENT => Some(0),
        ns::NAMEID_PERSISTENT => Some(1),
        ns::NAMEID_EMAIL => Some(2),
        _ => None,
    }
}

/// The format registered for the SP (persistent when it names none we issue).
pub fn registered_format(sp: &RegisteredSp) -> &'static str {
    SUPPORTED.into_iter().find(|f| *f == sp.sp.name_id_format).unwrap_or(ns::NAMEID_PERSISTENT)
}

/// Settles a request's NameIDPolicy against the registration (before the login).
pub fn choose(sp: &RegisteredSp, policy: Option<&NameIdPolicy>) -> Result<NameIdChoice, SamlError> {
    let registered = registered_format(sp);
    let Some(policy) = policy else {
        return Ok(NameIdChoice { format: registered.to_owned(), allow_create: true });
    };
    if policy.sp_name_qualifier.as_deref().is_some_and(|q| q != sp.entity_id()) {
        return Err(SamlError::NameIdPolicy("SPNameQualifier names another provider"));
    }
    let format = match policy.format.as_deref() {
        None | Some(ns::NAMEID_UNSPECIFIED) => registered,
        Some(asked) => match (exposure(asked), exposure(registered)) {
            (Some(a), Some(r)) if a <= r => SUPPORTED.into_iter().find(|f| *f == asked).unwrap_or(registered),
            (Some(_), _) => return Err(SamlError::NameIdPolicy("the format reveals more than the registration allows")),
            (None, _) => return Err(SamlError::NameIdPolicy("unsupported NameID format")),
        },
    };
    Ok(NameIdChoice { format: format.to_owned(), allow_create: policy.allow_create.unwrap_or(false) })
}

/// The NameID value for `user` at `sp` (after the login).
pub async fn issue(app: &App, sp: &RegisteredSp, user: &User, choice: &NameIdChoice) -> Result<String, SamlError> {
    let repo = app.storage.saml_records();
    match choice.format.as_str() {
        ns::NAMEID_PERSISTENT => {
            if let Some(existing) = repo.find_persistent_name_id(user.tenant_id, user.id, sp.entity_id()).await? {
                return Ok(existing);
            }
            if !choice.allow_create {
                return Err(SamlError::NameIdPolicy("no persistent identifier yet and AllowCreate is false"));
            }
            let candidate = crate::secrets::url_token();
            Ok(repo.persistent_name_id(user.tenant_id, user.id, sp.entity_id(), &candidate, app.now()).await?)
        }
        ns::NAMEID_EMAIL => {
            let devices = app.storage.devices().list_for_user(user.id, false).await?;
            devices.into_iter().map(|d| d.email).find(|e| !e.is_empty()).ok_or(SamlError::NameIdPolicy("the user has no e-mail address"))
        }
        _ => Ok(crate::secrets::url_token()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp(format: &str) -> RegisteredSp {
        RegisteredSp::new(mamori_storage::model::SamlServiceProvider {
            id: uuid::Uuid::new_v4(),
            tenant_id: uuid::Uuid::new_v4(),
            entity_id: "https://sp.example".into(),
            name: "SP".into(),
            metadata_xml: None,
            acs: vec![],
            slo: vec![],
            certificates: vec![],
            want_authn_requests_signed: false,
            name_id_format: format.into(),
            attribute_release: serde_json::json!({}),
            sign_response: true,
            sign_assertion: true,
            encrypt_assertion: false,
            allow_unsolicited: false,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        })
    }

    fn policy(format: Option<&str>, allow_create: Option<bool>, qualifier: Option<&str>) -> NameIdPolicy {
        NameIdPolicy { format: format.map(str::to_owned), sp_name_qualifier: qualifier.map(str::to_owned), allow_create }
    }

    #[test]
    fn requests_never_get_more_than_registered() {
        let persistent = sp(ns::NAMEID_PERSISTENT);
        assert_eq!(choose(&persistent, None).expect("ok").format, ns::NAMEID_PERSISTENT);
        assert_eq!(choose(&persistent, Some(&policy(Some(ns::NAMEID_UNSPECIFIED), None, None))).expect("ok").format, ns::NAMEID_PERSISTENT);
        assert_eq!(choose(&persistent, Some(&policy(Some(ns::NAMEID_TRANSIENT), None, None))).expect("ok").format, ns::NAMEID_TRANSIENT);
        assert!(choose(&persistent, Some(&policy(Some(ns::NAMEID_EMAIL), None, None))).is_err());
        assert!(choose(&persistent, Some(&policy(Some("urn:oasis:names:tc:SAML:2.0:nameid-format:kerberos"), None, None))).is_err());
        assert!(choose(&persistent, Some(&policy(None, Some(true), Some("https://other.example")))).is_err());
        let email = sp(ns::NAMEID_EMAIL);
        assert_eq!(choose(&email, Some(&policy(Some(ns::NAMEID_PERSISTENT), Some(true), None))).expect("ok").format, ns::NAMEID_PERSISTENT);
        assert_eq!(choose(&email, None).expect("ok").format, ns::NAMEID_EMAIL);
        assert!(!choose(&persistent, Some(&policy(None, None, None))).expect("ok").allow_create);
        assert_eq!(registered_format(&sp("urn:example:odd")), ns::NAMEID_PERSISTENT);
    }
}
