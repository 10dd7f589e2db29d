//! A user's passkeys as operators see and remove them. What an operator sees is the
//! record without the credential (the public key and counter state stay with the login
//! flow); a removal goes through the user's own rule (mail, login history) with the
//! "keep one" rule waived: an operator removes a lost or compromised passkey, and the
//! user recovers through the reissue flows.

use mamori_storage::model::{ApiScope, Passkey};
use time::OffsetDateTime;
use uuid::Uuid;

use super::users::{find, find_to_change, target};
use super::{AdminError, Principal, audit};
use crate::app::App;
use crate::flows::account::{PasskeyChange, remove_passkey};
use crate::flows::events::Attempt;

/// A passkey as operators see it: never the credential or its public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeyView {
    pub id: Uuid,
    pub name: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    pub backup_eligible: bool,
    pub backed_up: bool,
    pub sign_count: u32,
}

impl From<&Passkey> for PasskeyView {
    fn from(p: &Passkey) -> Self {
        PasskeyView {
            id: p.id,
            name: p.name.clone(),
            created_at: p.created_at,
            last_used_at: p.last_used_at,
            backup_eligible: p.backup_eligible,
            backed_up: p.backed_up,
            sign_count: p.sign_count,
        }
    }
}

/// The passkeys of user `login_id`, oldest first.
pub async fn list(app: &App, principal: &Principal, slug: &str, login_id: &str) -> Result<Vec<PasskeyView>, AdminError> {
    let (_, user) = find(app, principal, slug, login_id, ApiScope::Read).await?;
    Ok(app.storage.passkeys().list_for_user(user.id).await?.iter().map(PasskeyView::from).collect())
}

fn not_found(login_id: &str, id: &str) -> AdminError {
    AdminError::NotFound(format!("`{login_id}` has no passkey `{}`", id.chars().take(60).collect::<String>()))
}

/// Removes passkey `id` of user `login_id`, even the last one. A malformed id, another
/// user's passkey and another tenant's are all "not found". The user is mailed and the
/// removal is in their login history; the operator's audit event names the passkey.
pub async fn remove(app: &App, principal: &Principal, slug: &str, login_id: &str, id: &str) -> Result<PasskeyView, AdminError> {
    let (tenant, user) = find_to_change(app, principal, slug, login_id, "passkey.remove").await?;
    let passkey_id: Uuid = id.parse().map_err(|_| not_found(login_id, id))?;
    let attempt = Attempt {
        tenant_id: tenant.id,
        user_id: Some(user.id),
        login_id: Some(&user.login_id),
        source_ip: principal.source_ip.clone(),
        user_agent: None,
    };
    let removed = match remove_passkey(app, &user, passkey_id, &attempt, true).await? {
        PasskeyChange::Done(removed) => removed,
        PasskeyChange::NotFound => return Err(not_found(login_id, id)),
        // Neither applies with `by_operator`: no name is given, and nothing is kept.
        PasskeyChange::LastOne | PasskeyChange::BadName => {
            return Err(AdminError::Internal("an operator's passkey removal was refused by the user's rule".to_owned()));
        }
    };
    let details = serde_json::json!({"passkey_id": removed.id, "name": removed.name});
    audit::record(
        app,
        principal,
        Some(tenant.id),
        "passkey.remove",
        &format!("{}/passkey:{}", target(&tenant, login_id), removed.id),
        details,
    )
    .await;
    Ok(PasskeyView::from(&removed))
}

#[cfg(test)]
#[path = "passkeys_tests.rs"]
mod tests;
