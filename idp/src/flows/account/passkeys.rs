//! A user's own passkeys on the account page: the list, a new one, a new name, removal.
//! Every change is a login-history event and a mail to the user's addresses. Removal
//! keeps the passkey the user's login method needs (counted under the user's row lock,
//! so two removals at once cannot take the last two).

use mamori_storage::StorageError;
use mamori_storage::model::{Passkey, User};
use uuid::Uuid;

use super::notices::{AccountChange, notify, record_change};
use crate::app::App;
use crate::flows::events::Attempt;
use crate::flows::passkey::{self, Pending, RegistrationOutcome};

/// How many passkeys `user`'s method needs kept.
pub fn passkeys_to_keep(user: &User) -> u32 {
    u32::from(user.login_method.needs_passkey())
}

#[derive(Debug, PartialEq, Eq)]
pub enum PasskeyChange {
    Done(Passkey),
    /// Another user's or no such passkey.
    NotFound,
    /// The last passkey of a method that needs one.
    LastOne,
    BadName,
}

/// Registers the passkey of a portal ceremony (`sealed`, the page's form field).
pub async fn add_passkey(
    app: &App,
    webauthn: &webauthn_rs::prelude::Webauthn,
    user: &User,
    sealed: &str,
    answer: &str,
    name: &str,
    attempt: &Attempt<'_>,
) -> anyhow::Result<RegistrationOutcome> {
    let Some(name) = passkey::clean_name(name).or_else(|| name.trim().is_empty().then(|| crate::flows::passkey_login::default_name(app)))
    else {
        return Ok(RegistrationOutcome::Refused);
    };
    let Some(pending) = Pending::open(app, sealed).filter(|p| p.is_registration() && p.user_id() == Some(user.id)) else {
        return Ok(RegistrationOutcome::Refused);
    };
    let outcome = passkey::finish_registration(app, webauthn, user, &pending, answer, &name).await?;
    if let RegistrationOutcome::Registered(added) = &outcome {
        record_change(app, attempt, AccountChange::PasskeyAdded).await;
        notify(app, user, "notice-passkey-added", serde_json::json!({ "passkey_name": added.name }), &[]).await;
    }
    Ok(outcome)
}

pub async fn rename_passkey(app: &App, user: &User, id: Uuid, name: &str, attempt: &Attempt<'_>) -> anyhow::Result<PasskeyChange> {
    let Some(name) = passkey::clean_name(name) else { return Ok(PasskeyChange::BadName) };
    let old = match app.storage.passkeys().get(user.id, id).await {
        Ok(old) => old,
        Err(StorageError::NotFound) => return Ok(PasskeyChange::NotFound),
        Err(err) => return Err(err.into()),
    };
    match app.storage.passkeys().rename(user.id, id, &name).await {
        Ok(()) => {}
        Err(StorageError::NotFound) => return Ok(PasskeyChange::NotFound),
        Err(err) => return Err(err.into()),
    }
    record_change(app, attempt, AccountChange::PasskeyRenamed).await;
    notify(app, user, "notice-passkey-renamed", serde_json::json!({ "passkey_name": name, "old_name": old.name }), &[]).await;
    Ok(PasskeyChange::Done(Passkey { name, ..old }))
}

/// Removes one of `user`'s passkeys. `by_operator` says so in the mail (the operator's
/// audit record is the admin service's).
pub async fn remove_passkey(app: &App, user: &User, id: Uuid, attempt: &Attempt<'_>, by_operator: bool) -> anyhow::Result<PasskeyChange> {
    let keep = if by_operator { 0 } else { passkeys_to_keep(user) };
    let removed = match app.storage.passkeys().remove(user.id, id, keep).await {
        Ok(removed) => removed,
        Err(StorageError::NotFound) => return Ok(PasskeyChange::NotFound),
        Err(StorageError::Conflict(mamori_storage::LAST_PASSKEY)) => return Ok(PasskeyChange::LastOne),
        Err(err) => return Err(err.into()),
    };
    record_change(app, attempt, AccountChange::PasskeyRemoved).await;
    let context = serde_json::json!({ "passkey_name": removed.name, "by_operator": by_operator });
    notify(app, user, "notice-passkey-removed", context, &[]).await;
    Ok(PasskeyChange::Done(removed))
}
