//! The signing keys a tenant's JWKS and SAML metadata publish, and their rotation (as
//! `mamori admin keys rotate` and `mamori admin saml-keys rotate` do).

use mamori_storage::model::{ApiScope, KeyPurpose, SigningKey};
use time::OffsetDateTime;

use super::{AdminError, Principal, audit};
use crate::app::App;

/// Where a key is in its life at the time of listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// Published, not yet used (a staged SAML rotation).
    Next,
    /// Used to sign (or to decrypt) now.
    Active,
    /// No longer used, still published until it expires.
    Retired,
}

/// A published key: public facts only, never key material.
#[derive(Clone, Debug)]
pub struct KeyInfo {
    pub kid: String,
    pub purpose: KeyPurpose,
    pub algorithm: String,
    pub state: KeyState,
    /// Shared by every tenant (today all keys are).
    pub shared: bool,
    pub created_at: OffsetDateTime,
    pub activated_at: OffsetDateTime,
    pub retire_after: Option<OffsetDateTime>,
    pub expires_at: Option<OffsetDateTime>,
}

impl KeyInfo {
    fn new(k: SigningKey, now: OffsetDateTime) -> KeyInfo {
        let state = if k.activated_at > now {
            KeyState::Next
        } else if k.retire_after.is_some_and(|t| t <= now) {
            KeyState::Retired
        } else {
            KeyState::Active
        };
        KeyInfo {
            kid: k.kid,
            purpose: k.purpose,
            algorithm: k.algorithm.to_string(),
            state,
            shared: k.tenant_id.is_none(),
            created_at: k.created_at,
            activated_at: k.activated_at,
            retire_after: k.retire_after,
            expires_at: k.expires_at,
        }
    }
}

/// Which keys a rotation replaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// The ES256 and RS256 keys of OIDC tokens: the new ones sign at once.
    Oidc,
    /// The SAML signing and encryption keys: published now, used after `grace`.
    Saml { grace: time::Duration },
}

/// The OIDC and SAML keys tenant `slug` publishes now, newest first per purpose.
pub async fn list(app: &App, principal: &Principal, slug: &str) -> Result<Vec<KeyInfo>, AdminError> {
    let tenant = principal.tenant(app, slug, ApiScope::Read).await?;
    let now = app.now();
    let mut keys = Vec::new();
    for purpose in [KeyPurpose::Oidc, KeyPurpose::Saml, KeyPurpose::SamlEncryption] {
        for key in app.storage.signing_keys().list_published(Some(tenant.id), purpose, now).await? {
            keys.push(KeyInfo::new(key, now));
        }
    }
    Ok(keys)
}

impl KeyKind {
    /// The rotation's own rule: a SAML grace period of 0 to 90 days (service providers
    /// fetch metadata at least that often; longer would leave a published key unused).
    /// Surfaces check it before asking for a confirmation, and [`rotate`] again.
    pub fn check(&self) -> Result<(), AdminError> {
        match self {
            KeyKind::Saml { grace } if *grace < time::Duration::ZERO || *grace > time::Duration::days(90) => {
                Err(AdminError::Invalid("grace_days: 0 to 90".to_owned()))
            }
            _ => Ok(()),
        }
    }
}

/// Rotates the keys of `kind` and returns the new key IDs. The keys are shared by every
/// tenant, so although it is reached through a tenant (which must exist and be within
/// reach, else "not found"), only a super-admin may rotate. Audited as `signing-key.rotate`.
pub async fn rotate(app: &App, principal: &Principal, slug: &str, kind: KeyKind) -> Result<Vec<String>, AdminError> {
    let tenant = principal.tenant(app, slug, ApiScope::Write).await?;
    principal.require_super_admin(ApiScope::Write)?;
    kind.check()?;
    let kids = rotate_shared(app, kind).await?;
    let (what, grace_days) = match kind {
        KeyKind::Oidc => ("oidc", None),
        KeyKind::Saml { grace } => ("saml", Some(grace.whole_days())),
    };
    audit::record(
        app,
        principal,
        Some(tenant.id),
        "signing-key.rotate",
        &format!("signing-keys:{what}"),
        serde_json::json!({"kids": kids, "grace_days": grace_days}),
    )
    .await;
    Ok(kids)
}

/// The rotation itself, for the CLI on the server's shell too.
pub async fn rotate_shared(app: &App, kind: KeyKind) -> Result<Vec<String>, AdminError> {
    Ok(match kind {
        KeyKind::Oidc => crate::oidc::keys::rotate(app).await?,
        KeyKind::Saml { grace } => crate::saml::keys::rotate(app, grace).await?,
    })
}
