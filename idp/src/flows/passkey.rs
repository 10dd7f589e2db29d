//! Passkeys (WebAuthn Level 3, verified by webauthn-rs): registering one, and the
//! assertion that is a login's passkey factor.
//!
//! A ceremony's server half (`Pending`) rides in the page's form, sealed under the
//! master key (AES-GCM, bound to its purpose), so a ceremony begun on one node finishes
//! on another without server-side state; it is single use on every node (its ID is taken
//! in the shared replay table before the browser's answer is looked at) and lives five
//! minutes. The relying party
//! ID is the host of the main listener's public URL; both listeners' origins are
//! allowed (the certificate listener shares the host). User verification is always
//! required, attestation never asked for (so no login claims a hardware key).
//!
//! Credentials belong to one user of one tenant: an assertion is looked up by its
//! credential ID within the tenant of the login, must belong to the user the login is
//! for, and (for a discoverable login) to the user its user handle names. A signature
//! counter that does not move forward refuses the login and is recorded as a possible
//! clone.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mamori_storage::StorageError;
use mamori_storage::model::{LoginResult, Passkey, PasskeyUse, Tenant, User};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;
use webauthn_rs::prelude::{
    Credential, DiscoverableAuthentication, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    Url, Webauthn, WebauthnBuilder, WebauthnError,
};

use super::events::{Attempt, record_login_event};
use crate::app::App;

/// What sealed ceremonies are bound to (no other sealed value opens as one).
const SEAL_AAD: &[u8] = b"mamori:webauthn-ceremony";
/// How long a ceremony waits for the browser (WebAuthn's recommended timeout).
pub const CEREMONY_TTL: time::Duration = time::Duration::minutes(5);
/// Passkeys one user may register.
pub const MAX_PER_USER: u32 = 10;
/// The longest name a user may give a passkey (characters).
pub const MAX_NAME: usize = 64;
/// The longest browser answer accepted (bytes of JSON): attestation objects of real
/// authenticators are a few kilobytes.
pub const MAX_RESPONSE: usize = 64 * 1024;

/// The verifier for this server's public URLs; `None` when the main listener's host
/// cannot be a WebAuthn relying party ID (an IP address), so passkeys are unavailable.
pub fn verifier(main_url: &str, mtls_url: &str) -> Option<Webauthn> {
    let main = Url::parse(main_url).ok()?;
    let rp_id = main.domain()?.to_owned();
    let mut builder = WebauthnBuilder::new(&rp_id, &main).ok()?.rp_name("Mamori");
    let mtls = Url::parse(mtls_url).ok();
    if let Some(mtls) = mtls.as_ref().filter(|m| m.origin() != main.origin()) {
        builder = builder.append_allowed_origin(mtls);
    }
    builder.build().ok()
}

/// The server half of a ceremony under way.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pending {
    /// Random; taken once in the shared replay table when the answer comes.
    id: String,
    tenant_id: Uuid,
    /// The user it is for; `None` for a discoverable login (the credential names them).
    user_id: Option<Uuid>,
    expires_at: i64,
    state: State,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum State {
    Registration(PasskeyRegistration),
    Assertion(PasskeyAuthentication),
    Discoverable(DiscoverableAuthentication),
}

impl Pending {
    fn new(tenant_id: Uuid, user_id: Option<Uuid>, state: State, now: OffsetDateTime) -> Pending {
        Pending { id: crate::secrets::url_token(), tenant_id, user_id, expires_at: (now + CEREMONY_TTL).unix_timestamp(), state }
    }

    pub fn is_registration(&self) -> bool {
        matches!(self.state, State::Registration(_))
    }

    /// The user the ceremony is for (`None`: a discoverable login).
    pub fn user_id(&self) -> Option<Uuid> {
        self.user_id
    }

    /// The ceremony as a form field: sealed, so the browser can neither read nor change
    /// the challenge it must answer.
    pub fn seal(&self, app: &App) -> anyhow::Result<String> {
        let sealed = app.sealing.seal(&serde_json::to_vec(self)?, SEAL_AAD)?;
        Ok(URL_SAFE_NO_PAD.encode(sealed))
    }

    /// The ceremony a form carried back; `None` when it was altered or is not one.
    pub fn open(app: &App, field: &str) -> Option<Pending> {
        let sealed = URL_SAFE_NO_PAD.decode(field.trim()).ok()?;
        let plain = app.sealing.open(&sealed, SEAL_AAD).ok()?;
        serde_json::from_slice(&plain).ok()
    }

    /// Takes the ceremony for its one use: false when it expired, or was taken already
    /// (a replayed or concurrent answer), on any node.
    async fn take(&self, app: &App, now: OffsetDateTime) -> anyhow::Result<bool> {
        let Ok(expires) = OffsetDateTime::from_unix_timestamp(self.expires_at) else { return Ok(false) };
        if now >= expires {
            return Ok(false);
        }
        Ok(app.shared.form_submissions().first_use(self.tenant_id, "webauthn", &self.id, expires, now).await?)
    }
}

/// The options for `navigator.credentials.create`/`get`, as WebAuthn's JSON.
pub type Options = serde_json::Value;

/// Starts registering a passkey for `user`: the options for the browser, and the state
/// to keep. Credentials the user has are excluded (no second registration of one key).
pub async fn start_registration(app: &App, webauthn: &Webauthn, user: &User) -> anyhow::Result<(Options, Pending)> {
    let existing = app.storage.passkeys().list_for_user(user.id).await?;
    let exclude: Vec<Vec<u8>> = existing.iter().filter_map(|p| URL_SAFE_NO_PAD.decode(&p.credential_id).ok()).collect();
    let (options, state) = webauthn.start_passkey_registration(user.id, &user.login_id, &user.login_id, Some(exclude))?;
    let mut options = serde_json::to_value(&options)?;
    // A discoverable credential, so the passkey also serves a login without a typed ID
    // (registration does not check residency; the option only asks the authenticator).
    let selection = &mut options["publicKey"]["authenticatorSelection"];
    selection["residentKey"] = "required".into();
    selection["requireResidentKey"] = true.into();
    let pending = Pending::new(user.tenant_id, Some(user.id), State::Registration(state), app.now());
    Ok((options, pending))
}

#[derive(Debug, PartialEq, Eq)]
pub enum RegistrationOutcome {
    Registered(Passkey),
    /// The answer did not verify (wrong origin or challenge, no user verification, not
    /// JSON, another ceremony's answer).
    Refused,
    /// The ceremony expired or was used already: start again.
    Expired,
    /// This authenticator's credential is registered already.
    AlreadyRegistered,
    LimitReached,
}

/// Finishes a registration with the browser's answer (JSON of the new credential).
pub async fn finish_registration(
    app: &App,
    webauthn: &Webauthn,
    user: &User,
    pending: &Pending,
    answer: &str,
    name: &str,
) -> anyhow::Result<RegistrationOutcome> {
    let now = app.now();
    let State::Registration(state) = &pending.state else { return Ok(RegistrationOutcome::Refused) };
    if pending.user_id != Some(user.id) || pending.tenant_id != user.tenant_id {
        return Ok(RegistrationOutcome::Refused);
    }
    if !pending.take(app, now).await? {
        return Ok(RegistrationOutcome::Expired);
    }
    let Some(credential) = parse::<RegisterPublicKeyCredential>(answer) else { return Ok(RegistrationOutcome::Refused) };
    let passkey = match webauthn.finish_passkey_registration(&credential, state) {
        Ok(passkey) => passkey,
        Err(err) => {
            tracing::info!(user = %user.id, error = %err, "passkey registration refused");
            return Ok(RegistrationOutcome::Refused);
        }
    };
    let internals = Credential::from(passkey.clone());
    let record = Passkey {
        id: Uuid::new_v4(),
        tenant_id: user.tenant_id,
        user_id: user.id,
        credential_id: URL_SAFE_NO_PAD.encode(passkey.cred_id()),
        credential: serde_json::to_string(&passkey)?,
        name: name.to_owned(),
        sign_count: internals.counter,
        backup_eligible: internals.backup_eligible,
        backed_up: internals.backup_state,
        created_at: now,
        last_used_at: None,
    };
    match app.storage.passkeys().add(&record, MAX_PER_USER).await {
        Ok(()) => Ok(RegistrationOutcome::Registered(record)),
        Err(StorageError::Conflict(mamori_storage::PASSKEY_ALREADY_REGISTERED)) => Ok(RegistrationOutcome::AlreadyRegistered),
        Err(StorageError::Conflict(mamori_storage::PASSKEY_LIMIT_REACHED)) => Ok(RegistrationOutcome::LimitReached),
        Err(err) => Err(err.into()),
    }
}

/// Starts an assertion by one of `user`'s passkeys; `None` when they have none.
pub async fn start_assertion(app: &App, webauthn: &Webauthn, user: &User) -> anyhow::Result<Option<(Options, Pending)>> {
    let stored = app.storage.passkeys().list_for_user(user.id).await?;
    let keys: Vec<webauthn_rs::prelude::Passkey> = stored.iter().filter_map(|p| serde_json::from_str(&p.credential).ok()).collect();
    if keys.is_empty() {
        return Ok(None);
    }
    let (options, state) = webauthn.start_passkey_authentication(&keys)?;
    let pending = Pending::new(user.tenant_id, Some(user.id), State::Assertion(state), app.now());
    Ok(Some((serde_json::to_value(&options)?, pending)))
}

/// Starts a discoverable assertion for a login without a typed ID at `tenant` (the
/// browser offers the passkeys it holds for this site; conditional UI where supported).
pub fn start_discoverable(app: &App, webauthn: &Webauthn, tenant: &Tenant) -> anyhow::Result<(Options, Pending)> {
    let (options, state) = webauthn.start_discoverable_authentication()?;
    let pending = Pending::new(tenant.id, None, State::Discoverable(state), app.now());
    Ok((serde_json::to_value(&options)?, pending))
}

#[derive(Debug, PartialEq, Eq)]
pub enum AssertionOutcome {
    /// A passkey of `user_id` verified, with user verification; its use is recorded.
    Verified { user_id: Uuid, passkey_id: Uuid },
    /// Did not verify: recorded as `passkey-failed` when a user is known.
    Refused,
    /// The ceremony expired or was used already: start again.
    Expired,
    /// The counter did not move forward: recorded as `passkey-cloned`.
    Cloned,
    /// It verified, but its owner may not log in this way now (the `admit` check, with
    /// the result recorded): nothing about the passkey is recorded, its counter included.
    NotAdmitted(LoginResult),
}

/// Whether the owner of a verified passkey may log in with it now; else the result to
/// record. Checked before the use is recorded, so a refused login moves no counter.
pub type Admit = fn(&User) -> Result<(), LoginResult>;

/// An active, unlocked user.
pub fn admit_active(user: &User) -> Result<(), LoginResult> {
    if user.status != mamori_storage::model::UserStatus::Active {
        Err(LoginResult::UserDisabled)
    } else if user.is_locked() {
        Err(LoginResult::Locked)
    } else {
        Ok(())
    }
}

/// Finishes an assertion with the browser's answer. `attempt` names who the login is
/// for (for the history); a discoverable login learns the user from the credential.
pub async fn finish_assertion(
    app: &App,
    webauthn: &Webauthn,
    pending: &Pending,
    answer: &str,
    attempt: &Attempt<'_>,
    admit: Admit,
) -> anyhow::Result<AssertionOutcome> {
    let now = app.now();
    if matches!(pending.state, State::Registration(_)) || pending.tenant_id != attempt.tenant_id {
        return Ok(AssertionOutcome::Refused);
    }
    if !pending.take(app, now).await? {
        return Ok(AssertionOutcome::Expired);
    }
    let refuse = |user_id: Option<Uuid>, result: LoginResult| async move {
        let attempt = Attempt {
            tenant_id: attempt.tenant_id,
            user_id: user_id.or(attempt.user_id),
            login_id: attempt.login_id,
            source_ip: attempt.source_ip.clone(),
            user_agent: attempt.user_agent.clone(),
        };
        if attempt.user_id.is_some() {
            record_login_event(app, &attempt, result, &[]).await;
        }
    };
    let Some(credential) = parse::<PublicKeyCredential>(answer) else {
        refuse(None, LoginResult::PasskeyFailed).await;
        return Ok(AssertionOutcome::Refused);
    };
    let credential_id = URL_SAFE_NO_PAD.encode(credential.get_credential_id());
    // Only this tenant's credentials, and only the login's user's.
    let stored = app.storage.passkeys().find_by_credential(pending.tenant_id, &credential_id).await?;
    let Some(stored) = stored.filter(|s| pending.user_id.is_none_or(|u| u == s.user_id)) else {
        refuse(None, LoginResult::PasskeyFailed).await;
        return Ok(AssertionOutcome::Refused);
    };
    let Ok(mut key) = serde_json::from_str::<webauthn_rs::prelude::Passkey>(&stored.credential) else {
        anyhow::bail!("passkey {} is stored unreadable", stored.id);
    };
    let verified = match &pending.state {
        State::Assertion(state) => webauthn.finish_passkey_authentication(&credential, state),
        State::Discoverable(state) => {
            // The user handle the authenticator returns must name the credential's owner.
            let named = webauthn.identify_discoverable_authentication(&credential).ok().map(|(user, _)| user);
            if named != Some(stored.user_id) {
                refuse(Some(stored.user_id), LoginResult::PasskeyFailed).await;
                return Ok(AssertionOutcome::Refused);
            }
            webauthn.finish_discoverable_authentication_v2(&credential, state.clone(), &key)
        }
        State::Registration(_) => return Ok(AssertionOutcome::Refused),
    };
    let result = match verified {
        Ok(result) if result.user_verified() => result,
        Ok(_) => {
            refuse(Some(stored.user_id), LoginResult::PasskeyFailed).await;
            return Ok(AssertionOutcome::Refused);
        }
        Err(WebauthnError::CredentialPossibleCompromise) => {
            refuse(Some(stored.user_id), LoginResult::PasskeyCloned).await;
            return Ok(AssertionOutcome::Cloned);
        }
        Err(err) => {
            tracing::info!(passkey = %stored.id, error = %err, "passkey assertion refused");
            refuse(Some(stored.user_id), LoginResult::PasskeyFailed).await;
            return Ok(AssertionOutcome::Refused);
        }
    };
    // The state's copy of the counter is from when the ceremony began: compare with the
    // stored one now too (another login may have moved it since).
    if counter_went_back(stored.sign_count, result.counter()) {
        refuse(Some(stored.user_id), LoginResult::PasskeyCloned).await;
        return Ok(AssertionOutcome::Cloned);
    }
    // A refused login leaves the passkey as it was: its counter moves only with a login.
    let owner = app.storage.users().get(stored.user_id).await?;
    if let Err(refused) = admit(&owner) {
        let attempt = Attempt {
            tenant_id: attempt.tenant_id,
            user_id: Some(owner.id),
            login_id: Some(&owner.login_id),
            source_ip: attempt.source_ip.clone(),
            user_agent: attempt.user_agent.clone(),
        };
        record_login_event(app, &attempt, refused.clone(), &[]).await;
        return Ok(AssertionOutcome::NotAdmitted(refused));
    }
    key.update_credential(&result);
    let used = PasskeyUse {
        previous_sign_count: stored.sign_count,
        sign_count: result.counter().max(stored.sign_count),
        backup_eligible: result.backup_eligible() || stored.backup_eligible,
        backed_up: result.backup_state(),
        credential: serde_json::to_string(&key)?,
        at: now,
    };
    if !app.storage.passkeys().record_use(stored.id, &used).await? {
        // Another assertion from the same counter value was recorded first.
        refuse(Some(stored.user_id), LoginResult::PasskeyCloned).await;
        return Ok(AssertionOutcome::Cloned);
    }
    Ok(AssertionOutcome::Verified { user_id: stored.user_id, passkey_id: stored.id })
}

/// WebAuthn §7.2 step 22: a counter that is not greater than the stored one, when either
/// is not zero, may mean a cloned authenticator.
pub fn counter_went_back(stored: u32, presented: u32) -> bool {
    (stored != 0 || presented != 0) && presented <= stored
}

/// The browser's JSON answer, within its size limit.
fn parse<T: serde::de::DeserializeOwned>(answer: &str) -> Option<T> {
    if answer.len() > MAX_RESPONSE {
        return None;
    }
    serde_json::from_str(answer).ok()
}

/// A passkey's name as the user typed it: trimmed, 1 to [`MAX_NAME`] characters, no
/// control characters; `None` otherwise.
pub fn clean_name(typed: &str) -> Option<String> {
    let name = typed.trim();
    let ok = !name.is_empty() && name.chars().count() <= MAX_NAME && !name.chars().any(char::is_control);
    ok.then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_must_move_forward_unless_the_authenticator_keeps_none() {
        assert!(!counter_went_back(0, 0), "synced passkeys keep no counter");
        assert!(!counter_went_back(4, 5));
        assert!(counter_went_back(5, 5), "the same value twice is a replay or a clone");
        assert!(counter_went_back(5, 3));
        assert!(counter_went_back(5, 0), "a counter that drops to zero");
    }

    #[test]
    fn the_relying_party_is_the_main_host_and_both_listeners_are_allowed() {
        let webauthn = verifier("https://login.example.com", "https://login.example.com:8444").expect("a verifier");
        let origins: Vec<String> = webauthn.get_allowed_origins().iter().map(|u| u.origin().ascii_serialization()).collect();
        assert_eq!(origins, ["https://login.example.com", "https://login.example.com:8444"]);
        assert!(verifier("https://127.0.0.1:8443", "https://127.0.0.1:8444").is_none(), "an IP address is no RP ID");
        assert!(verifier("not a url", "https://x").is_none());
    }

    #[test]
    fn names_are_trimmed_bounded_and_printable() {
        assert_eq!(clean_name("  work laptop ").as_deref(), Some("work laptop"));
        assert_eq!(clean_name("仕事用 MacBook").as_deref(), Some("仕事用 MacBook"));
        assert!(clean_name("   ").is_none());
        assert!(clean_name("a\u{0}b").is_none());
        assert!(clean_name(&"x".repeat(MAX_NAME + 1)).is_none());
        assert!(clean_name(&"鍵".repeat(MAX_NAME)).is_some());
    }

    #[test]
    fn oversized_or_malformed_answers_are_not_parsed() {
        assert!(parse::<PublicKeyCredential>("{").is_none());
        assert!(parse::<PublicKeyCredential>(&format!("\"{}\"", "a".repeat(MAX_RESPONSE))).is_none());
    }
}
