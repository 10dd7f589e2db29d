//! Enrollment tickets (flow 1): an operator hands a user an enrollment URL and, through
//! another channel, a one-time password. The URL token is stored as its SHA-256, the
//! one-time password as an Argon2id hash; wrong passwords count down to a lock.

use mamori_ca::SealingKey;
use mamori_storage::model::{
    Completion, NewTicket, PasswordChange, RedeemError, SecretAnswerChange, Tenant, Ticket, TicketKind, User, UserStatus,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use unicode_normalization::UnicodeNormalization as _;
use uuid::Uuid;

use crate::app::App;
use crate::flows::device_certificate::{self, PendingDownload, SealedDownload};
use crate::flows::events::Attempt;
use crate::flows::passkey;
use crate::flows::secret_answer;

/// What the operator hands to the user; shown once, never stored in clear.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedEnrollment {
    pub login_id: String,
    /// The enrollment page's path, `/enroll/{token}`.
    pub path: String,
    pub url: String,
    pub one_time_password: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// Creates a fresh enrollment ticket for `user`, voiding any older one.
pub async fn issue_enrollment_ticket(app: &App, tenant: &Tenant, user: &User, base_url: &str) -> anyhow::Result<IssuedEnrollment> {
    let now = app.now();
    let token = crate::secrets::url_token();
    let otp = crate::secrets::enrollment_otp();
    let otp_hash = app.hasher.hash(&otp).await?;
    let expires_at = now + time::Duration::hours(i64::from(tenant.policy.enrollment_ticket_hours));
    let tickets = app.storage.tickets();
    tickets.invalidate_for_user(user.id, TicketKind::Enrollment).await?;
    tickets
        .create(
            &NewTicket {
                kind: TicketKind::Enrollment,
                tenant_id: tenant.id,
                user_id: user.id,
                device_id: None,
                lookup_hash: mamori_storage::token_lookup_hash(&token),
                secret_hash: Some(otp_hash),
                acquisition_id: None,
                payload_sealed: None,
                expires_at,
                attempts: tenant.policy.lockout_threshold_enrollment_otp,
                uses: 1,
            },
            now,
        )
        .await?;
    let path = format!("/enroll/{token}");
    Ok(IssuedEnrollment { login_id: user.login_id.clone(), url: format!("{base_url}{path}"), path, one_time_password: otp, expires_at })
}

// ---------------------------------------------------------------------------------------
// Redeeming the ticket: first authentication (one-time password), registration of the
// credentials, completion. Free of HTTP; `web::enroll` renders the outcomes.

/// Why an enrollment URL cannot be used now; each has its own page. A token we do not
/// know and a ticket whose user is gone or disabled are the same `NotFound`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrollmentUnavailable {
    NotFound,
    Expired,
    Spent,
    Locked,
}

/// An enrollment ticket with its tenant and user.
pub struct OpenEnrollment {
    pub ticket: Ticket,
    pub tenant: Tenant,
    pub user: User,
}

/// The enrollment behind a URL token, whatever its state (see [`unavailable_reason`]).
pub async fn find_enrollment(app: &App, token: &str) -> anyhow::Result<Option<OpenEnrollment>> {
    // Ours are URL-safe base64; anything else is made up (and must not reach a cookie path).
    if !crate::secrets::is_url_token(token) {
        return Ok(None);
    }
    let lookup = mamori_storage::token_lookup_hash(token);
    let Some(ticket) = app.storage.tickets().find_by_lookup_hash(&lookup).await? else {
        return Ok(None);
    };
    if ticket.kind != TicketKind::Enrollment {
        return Ok(None);
    }
    let user = match app.storage.users().get(ticket.user_id).await {
        Ok(user) => user,
        Err(mamori_storage::StorageError::NotFound) => return Ok(None),
        Err(err) => return Err(err.into()),
    };
    if user.status == UserStatus::Disabled {
        return Ok(None);
    }
    let tenant = app.storage.tenants().get(ticket.tenant_id).await?;
    Ok(Some(OpenEnrollment { ticket, tenant, user }))
}

/// Why the ticket cannot be used at `now`, if it cannot. Spent before locked before
/// expired: the most useful explanation first (as `redeem` reports it).
pub fn unavailable_reason(ticket: &Ticket, now: OffsetDateTime) -> Option<EnrollmentUnavailable> {
    if ticket.uses_left == 0 {
        Some(EnrollmentUnavailable::Spent)
    } else if ticket.attempts_left == 0 {
        Some(EnrollmentUnavailable::Locked)
    } else if ticket.expires_at <= now {
        Some(EnrollmentUnavailable::Expired)
    } else {
        None
    }
}

/// Codes typed by hand (one-time and download passwords, acquisition IDs): full-width
/// characters from a Japanese input method become ASCII, surrounding blanks go.
pub fn normalise_typed_code(typed: &str) -> String {
    typed.nfkc().collect::<String>().trim().to_owned()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpCheck {
    Accepted,
    /// `attempts_left` only when the tenant shows the warning.
    Wrong {
        attempts_left: Option<u32>,
    },
    Locked,
}

/// First authentication: checks the one-time password; a wrong one counts down the
/// ticket's attempts (atomically, so parallel guesses all count). The ticket is not
/// redeemed here: a user who leaves at the next step can come back with the same password.
pub async fn check_enrollment_otp(app: &App, open: &OpenEnrollment, typed: &str) -> anyhow::Result<OtpCheck> {
    let otp = normalise_typed_code(typed);
    if app.hasher.verify(&otp, open.ticket.secret_hash.as_deref()).await? {
        return Ok(OtpCheck::Accepted);
    }
    let outcome = app.storage.tickets().record_failed_attempt(open.ticket.id).await?;
    tracing::info!(ticket = %open.ticket.id, attempts_left = outcome.attempts_left, "wrong enrollment one-time password");
    if outcome.is_locked() {
        return Ok(OtpCheck::Locked);
    }
    let shown = open.tenant.policy.show_attempts_left.then_some(outcome.attempts_left);
    Ok(OtpCheck::Wrong { attempts_left: shown })
}

// The proof carried between steps. After the one-time password is verified, the browser
// gets a cookie holding `EnrollmentProof`, sealed (AES-256-GCM under the master key, bound
// to the ticket by the associated data) with a short expiry. It is stateless, so it holds
// on every node, cannot be forged or moved to another ticket, and every use re-checks the
// ticket itself (spent, locked, expired), so it grants nothing once the ticket is done.
// After registration the same cookie says "completed", so a reload or the language
// switch shows the completion page again instead of losing the download password.

/// How long a verified one-time password stays good for the registration step.
const OTP_PROOF_MINUTES: i64 = 30;
/// How long the completion page can be shown again.
const COMPLETION_PROOF_MINUTES: i64 = 30;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum ProofStage {
    OtpVerified,
    Completed { acquisition_id: Option<String> },
}

#[derive(Serialize, Deserialize)]
struct EnrollmentProof {
    ticket: Uuid,
    #[serde(flatten)]
    stage: ProofStage,
    /// Unix seconds.
    expires: i64,
}

fn proof_aad(ticket_id: Uuid) -> Vec<u8> {
    format!("enrollment-proof:{ticket_id}").into_bytes()
}

/// Seals a proof for `stage` of `ticket_id`, for a cookie.
pub fn seal_proof(key: &SealingKey, ticket_id: Uuid, stage: ProofStage, now: OffsetDateTime) -> anyhow::Result<String> {
    use base64::Engine as _;
    let minutes = match stage {
        ProofStage::OtpVerified => OTP_PROOF_MINUTES,
        ProofStage::Completed { .. } => COMPLETION_PROOF_MINUTES,
    };
    let proof = EnrollmentProof { ticket: ticket_id, stage, expires: (now + time::Duration::minutes(minutes)).unix_timestamp() };
    let sealed = key.seal(&serde_json::to_vec(&proof)?, &proof_aad(ticket_id))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed))
}

/// The stage a proof attests for `ticket_id`; `None` when absent, forged, for another
/// ticket, or expired.
pub fn open_proof(key: &SealingKey, ticket_id: Uuid, value: Option<&str>, now: OffsetDateTime) -> Option<ProofStage> {
    use base64::Engine as _;
    let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(value?).ok()?;
    let plain = key.open(&sealed, &proof_aad(ticket_id)).ok()?;
    let proof: EnrollmentProof = serde_json::from_slice(&plain).ok()?;
    (proof.ticket == ticket_id && proof.expires > now.unix_timestamp()).then_some(proof.stage)
}

/// What the user submitted at the registration step.
pub struct Registration<'a> {
    pub password: &'a str,
    pub password_confirmation: &'a str,
    pub secret_question: &'a str,
    pub secret_answer: &'a str,
    /// The passkey of a `passkey`-method user (that method has no other factor to
    /// register one later): the verifier, the page's sealed ceremony, the browser's answer.
    pub passkey: Option<(&'a webauthn_rs::prelude::Webauthn, &'a str, &'a str)>,
    /// Where the form came from, for the history of what it registers.
    pub origin: crate::flows::password_login::Origin,
}

/// Whether enrollment registers the user's passkey: methods where nothing but the
/// certificate comes before the passkey (`passkey`, `cert+passkey`), so that no login
/// registers one on the certificate's strength alone.
pub fn enrolls_passkey(user: &User) -> bool {
    user.login_method.needs_passkey() && !user.login_method.needs_password()
}

pub enum RegistrationOutcome {
    /// Message keys of every problem found, in form order.
    Invalid(Vec<&'static str>),
    Unavailable(EnrollmentUnavailable),
    /// The method needs a certificate but the user has no device to issue it for.
    NoDevice,
    Completed(EnrollmentCompleted),
}

pub struct EnrollmentCompleted {
    /// The certificate waiting for download; `None` for methods without a certificate.
    pub download: Option<PendingDownload>,
}

/// Registers the credentials and, for certificate methods, issues the certificate of the
/// user's first device. Everything that can be refused is checked, and everything slow
/// done (hashing, key generation, signing, sealing), before anything is written; then the
/// ticket's redemption and all the records go in one transaction. So of two tabs or a
/// double submit exactly one proceeds and the other gets `Spent`, and a failure half-way
/// leaves the ticket usable with nothing recorded (the signed certificate is dropped).
pub async fn register_credentials(
    app: &App,
    open: &OpenEnrollment,
    form: &Registration<'_>,
    public_url: &str,
) -> anyhow::Result<RegistrationOutcome> {
    let (tenant, user) = (&open.tenant, &open.user);
    let needs_password = user.login_method.needs_password();
    let mut problems: Vec<&'static str> = Vec::new();
    if needs_password {
        let found = crate::flows::login::validate_new_password(app, tenant, user, form.password, form.password_confirmation).await?;
        problems.extend(found.into_iter().map(|p| p.message_key()));
    }
    problems
        .extend(secret_answer::check_question_and_answer(form.secret_question, form.secret_answer).into_iter().map(|p| p.message_key()));
    if !problems.is_empty() {
        return Ok(RegistrationOutcome::Invalid(problems));
    }
    let device = if user.login_method.needs_certificate() {
        match app.storage.devices().list_for_user(user.id, false).await?.into_iter().next() {
            Some(device) => Some(device),
            None => return Ok(RegistrationOutcome::NoDevice),
        }
    } else {
        None
    };
    // A ticket already unusable is refused before the expensive preparation below (the
    // transaction re-checks it anyway).
    if let Some(reason) = unavailable_reason(&open.ticket, app.now()) {
        return Ok(RegistrationOutcome::Unavailable(reason));
    }
    let password = if needs_password {
        let hash = app.hasher.hash(form.password).await?;
        Some(PasswordChange { hash, must_change: false, keep: tenant.policy.password_history_count.max(1) })
    } else {
        None
    };
    let answer_hash = secret_answer::hash_secret_answer(app, form.secret_answer).await?;
    // The passkey goes in first (verifying it spends its ceremony); if the ticket then
    // cannot be completed it is taken out again, so nothing is left half-done.
    let passkey = if enrolls_passkey(user) {
        let Some((webauthn, ceremony, answer)) = form.passkey else { return Ok(RegistrationOutcome::Invalid(vec!["passkey.unavailable"])) };
        let Some(pending) = passkey::Pending::open(app, ceremony).filter(|p| p.is_registration() && p.user_id() == Some(user.id)) else {
            return Ok(RegistrationOutcome::Invalid(vec!["passkey.refused"]));
        };
        let name = crate::flows::passkey_login::default_name(app);
        match passkey::finish_registration(app, webauthn, user, &pending, answer, &name).await? {
            passkey::RegistrationOutcome::Registered(added) => Some(added),
            passkey::RegistrationOutcome::Expired => return Ok(RegistrationOutcome::Invalid(vec!["passkey.expired"])),
            passkey::RegistrationOutcome::AlreadyRegistered | passkey::RegistrationOutcome::LimitReached => {
                return Ok(RegistrationOutcome::Invalid(vec!["passkey.already_registered"]));
            }
            passkey::RegistrationOutcome::Refused => return Ok(RegistrationOutcome::Invalid(vec!["passkey.refused"])),
        }
    } else {
        None
    };
    let prepared = match &device {
        Some(device) => Some(device_certificate::prepare_download(app, tenant, user, device).await?),
        None => None,
    };
    let (certificate, pending) = prepared.map(|p| (p.record, p.pending)).unzip();
    let completion = Completion {
        ticket_id: Some(open.ticket.id),
        user_id: user.id,
        password,
        secret_answer: Some(SecretAnswerChange { question: form.secret_question.to_owned(), answer_hash }),
        certificates: certificate.into_iter().collect(),
        ..Completion::default()
    };
    let unavailable = match app.storage.completions().complete(&completion, app.now()).await {
        Ok(()) => None,
        Err(RedeemError::Storage(err)) => return Err(err.into()),
        Err(RedeemError::NotFound) => Some(EnrollmentUnavailable::NotFound),
        Err(RedeemError::Expired) => Some(EnrollmentUnavailable::Expired),
        Err(RedeemError::Spent) => Some(EnrollmentUnavailable::Spent),
        Err(RedeemError::Locked) => Some(EnrollmentUnavailable::Locked),
        Err(other) => return Err(other.into()),
    };
    if let Some(reason) = unavailable {
        if let Some(added) = &passkey {
            app.storage.passkeys().remove(user.id, added.id, 0).await?;
        }
        return Ok(RegistrationOutcome::Unavailable(reason));
    }
    if let Some(added) = &passkey {
        // Like every other registration: in the history, and mailed.
        let attempt = Attempt {
            tenant_id: tenant.id,
            user_id: Some(user.id),
            login_id: Some(&user.login_id),
            source_ip: form.origin.source_ip.clone(),
            user_agent: form.origin.user_agent.clone(),
        };
        crate::flows::account::record_change(app, &attempt, crate::flows::account::AccountChange::PasskeyAdded).await;
        let context = serde_json::json!({ "passkey_name": added.name });
        crate::flows::account::notify(app, user, "notice-passkey-added", context, &[]).await;
    }
    if let (Some(device), Some(pending)) = (&device, &pending) {
        device_certificate::announce_download(app, tenant, user, device, pending, public_url).await;
    }
    tracing::info!(user = %user.id, certificate = pending.is_some(), "enrollment completed");
    Ok(RegistrationOutcome::Completed(EnrollmentCompleted { download: pending }))
}

/// How long after completing the enrollment its URL and one-time password show the
/// completion page again, for a user whose browser never received it (tab closed,
/// network dropped): short, since URL and one-time password are all it asks for.
const SHOW_AGAIN_MINUTES: i64 = 15;

/// Whether a completed enrollment may still show its completion page to its one-time
/// password: completed within [`SHOW_AGAIN_MINUTES`], not locked by wrong passwords.
pub fn may_show_completion_again(ticket: &Ticket, now: OffsetDateTime) -> bool {
    let window = time::Duration::minutes(SHOW_AGAIN_MINUTES);
    ticket.uses_left == 0
        && ticket.attempts_left > 0
        && ticket.last_used_at.and_then(|at| at.checked_add(window)).is_some_and(|until| now < until)
}

/// The certificate download this enrollment created, while it can still be redeemed
/// (`None` for a method without a certificate, or once it is used up or replaced).
pub async fn enrollment_download(app: &App, open: &OpenEnrollment) -> anyhow::Result<Option<PendingDownload>> {
    let pending = app.storage.tickets().list_pending_for_user(open.user.id, app.now()).await?;
    let made_by_it = pending
        .into_iter()
        .filter(|t| t.kind == TicketKind::Download && t.created_at >= open.ticket.created_at)
        .find_map(|t| t.acquisition_id);
    match made_by_it {
        Some(id) => pending_download(app, open, &id).await,
        None => Ok(None),
    }
}

/// The pending download behind a completion proof, to show the completion page again:
/// only while that download still belongs to the enrolled user and can be redeemed.
pub async fn pending_download(app: &App, open: &OpenEnrollment, acquisition_id: &str) -> anyhow::Result<Option<PendingDownload>> {
    let Some(ticket) = app.storage.tickets().find_by_acquisition_id(acquisition_id).await? else {
        return Ok(None);
    };
    let now = app.now();
    if ticket.kind != TicketKind::Download || ticket.user_id != open.user.id || unavailable_reason(&ticket, now).is_some() {
        return Ok(None);
    }
    let (Some(payload), Some(device_id)) = (&ticket.payload_sealed, ticket.device_id) else {
        return Ok(None);
    };
    let plain = app.sealing.open(payload, &device_certificate::download_aad(acquisition_id))?;
    let sealed: SealedDownload = serde_json::from_slice(&plain)?;
    let device = app.storage.devices().get(device_id).await?;
    Ok(Some(PendingDownload {
        acquisition_id: acquisition_id.to_owned(),
        download_password: sealed.download_password,
        certificate_name: device_certificate::certificate_name(&open.tenant, &open.user, &device),
        expires_at: ticket.expires_at,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(uses: u32, attempts: u32, expires_in_minutes: i64) -> Ticket {
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        Ticket {
            id: Uuid::new_v4(),
            kind: TicketKind::Enrollment,
            tenant_id: Uuid::new_v4(),
            user_id: Uuid::new_v4(),
            device_id: None,
            lookup_hash: String::new(),
            secret_hash: None,
            acquisition_id: None,
            payload_sealed: None,
            expires_at: now + time::Duration::minutes(expires_in_minutes),
            attempts_left: attempts,
            uses_left: uses,
            created_at: now,
            last_used_at: None,
        }
    }

    #[test]
    fn unavailability_is_explained_most_useful_first() {
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        assert_eq!(unavailable_reason(&ticket(1, 5, 10), now), None);
        assert_eq!(unavailable_reason(&ticket(0, 5, 10), now), Some(EnrollmentUnavailable::Spent));
        assert_eq!(unavailable_reason(&ticket(1, 0, 10), now), Some(EnrollmentUnavailable::Locked));
        assert_eq!(unavailable_reason(&ticket(1, 5, 0), now), Some(EnrollmentUnavailable::Expired));
        assert_eq!(unavailable_reason(&ticket(1, 5, -1), now), Some(EnrollmentUnavailable::Expired));
        assert_eq!(unavailable_reason(&ticket(0, 0, -1), now), Some(EnrollmentUnavailable::Spent));
        assert_eq!(unavailable_reason(&ticket(1, 0, -1), now), Some(EnrollmentUnavailable::Locked));
    }

    #[test]
    fn typed_codes_lose_full_width_and_blanks() {
        assert_eq!(normalise_typed_code(" ＡｂＣ２３ \n"), "AbC23");
        assert_eq!(normalise_typed_code("\u{3000}YQLSZBDj\u{3000}"), "YQLSZBDj");
        assert_eq!(normalise_typed_code("Ｃ０１２３"), "C0123");
    }

    #[test]
    fn proofs_hold_only_for_their_ticket_key_and_time() {
        let key = SealingKey::generate();
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        let ticket = Uuid::new_v4();
        let sealed = seal_proof(&key, ticket, ProofStage::OtpVerified, now).expect("seal");
        assert_eq!(open_proof(&key, ticket, Some(&sealed), now), Some(ProofStage::OtpVerified));
        assert_eq!(open_proof(&key, ticket, Some(&sealed), now + time::Duration::minutes(29)), Some(ProofStage::OtpVerified));
        assert_eq!(open_proof(&key, ticket, Some(&sealed), now + time::Duration::minutes(30)), None);
        assert_eq!(open_proof(&key, Uuid::new_v4(), Some(&sealed), now), None);
        assert_eq!(open_proof(&SealingKey::generate(), ticket, Some(&sealed), now), None);
        assert_eq!(open_proof(&key, ticket, Some("not-a-proof"), now), None);
        assert_eq!(open_proof(&key, ticket, None, now), None);
        let mut tampered = sealed.into_bytes();
        if let Some(b) = tampered.get_mut(20) {
            *b = if *b == b'A' { b'B' } else { b'A' };
        }
        assert_eq!(open_proof(&key, ticket, std::str::from_utf8(&tampered).ok(), now), None);
        let done = ProofStage::Completed { acquisition_id: Some("C00000000001".into()) };
        let sealed = seal_proof(&key, ticket, done.clone(), now).expect("seal");
        assert_eq!(open_proof(&key, ticket, Some(&sealed), now), Some(done));
    }

    #[test]
    fn proof_stage_serialises_compactly() {
        let proof = EnrollmentProof { ticket: Uuid::nil(), stage: ProofStage::OtpVerified, expires: 1 };
        let json = serde_json::to_value(&proof).expect("json");
        assert_eq!(json["stage"], "otp_verified");
        let back: EnrollmentProof = serde_json::from_value(json).expect("back");
        assert_eq!(back.stage, ProofStage::OtpVerified);
        let done = EnrollmentProof { ticket: Uuid::nil(), stage: ProofStage::Completed { acquisition_id: Some("C1".into()) }, expires: 1 };
        let back: EnrollmentProof = serde_json::from_slice(&serde_json::to_vec(&done).expect("json")).expect("back");
        assert_eq!(back.stage, ProofStage::Completed { acquisition_id: Some("C1".into()) });
    }
}
