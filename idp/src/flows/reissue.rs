//! Password reissue (flow 5) and certificate reissue (flow 6): a single-use, expiring
//! link by mail, the secret answer behind it, then a new password shown once (and to be
//! changed at the next login) or a new certificate download. Wrong answers count against
//! the account and lock it at the tenant's threshold until an operator unlocks it.
//! A completed link proves the address it was mailed to (the `email_verified` claim).
//! Nothing here tells whether a user ID or address exists.

use mamori_storage::model::{
    Completion, Device, EmailVerification, NewTicket, PasswordChange, RedeemError, Tenant, TenantPolicy, Ticket, TicketKind, User,
    UserStatus,
};
use rand::Rng as _;
use rand::seq::IndexedRandom as _;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::account::{AccountChange, format_date_time, notify, record_change};
use super::device_certificate::{self, PendingDownload};
use super::enrollment::{EnrollmentUnavailable as LinkUnavailable, unavailable_reason};
use super::events::Attempt;
use super::password_policy::check_password;
use super::secret_answer;
use crate::app::App;

/// Which reissue a link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReissueKind {
    Password,
    Certificate,
}

impl ReissueKind {
    fn ticket_kind(self) -> TicketKind {
        match self {
            Self::Password => TicketKind::PasswordReissue,
            Self::Certificate => TicketKind::CertificateReissue,
        }
    }

    /// The page's path under the main listener, without the token.
    pub fn path(self) -> &'static str {
        match self {
            Self::Password => "/reissue/password",
            Self::Certificate => "/reissue/certificate",
        }
    }
}

// ---------------------------------------------------------------------------------------
// Step 1: the request and the link.

/// The user whose ID and device address both match, if any; always spends one Argon2id
/// verification so a match and a miss take the same time. Tenants whose policy disables
/// password reissue never match.
pub async fn find_password_reissue_target(
    app: &App,
    tenant_slug: Option<&str>,
    login_id: &str,
    email: &str,
) -> anyhow::Result<Option<(Tenant, User)>> {
    let login_id = login_id.trim();
    let email = email.trim();
    let tenants = match tenant_slug.filter(|s| !s.is_empty()) {
        Some(slug) => app.storage.tenants().get_by_slug(slug).await?.into_iter().collect(),
        None => app.storage.tenants().list().await?,
    };
    let mut found = None;
    if !login_id.is_empty() && !email.is_empty() {
        for tenant in tenants {
            let Some(user) = app.storage.users().get_by_login_id(tenant.id, login_id).await? else { continue };
            let devices = app.storage.devices().list_for_user(user.id, false).await?;
            let matches = devices.iter().any(|d| d.email.trim().eq_ignore_ascii_case(email));
            if matches && found.is_none() {
                found = Some((tenant, user));
            }
        }
    }
    // The constant-time part: one hash whatever happened above.
    let _ = app.hasher.verify(email, None).await?;
    Ok(found.filter(|(tenant, user)| tenant.policy.password_reissue_enabled && user.status == UserStatus::Active))
}

/// What a password-reissue ticket keeps, sealed under the master key: the address the
/// link was mailed to, so that completing the link proves that address (the ticket has no
/// device of its own, and the address may change before the link is used).
#[derive(Serialize, Deserialize)]
struct SealedDestination {
    email: String,
}

/// Binds the sealed destination to its own ticket.
fn destination_aad(lookup_hash: &str) -> Vec<u8> {
    format!("password-reissue:{lookup_hash}").into_bytes()
}

/// Creates the link (voiding older ones of the same kind) and mails it to `to`.
async fn issue_link(
    app: &App,
    tenant: &Tenant,
    user: &User,
    device: Option<&Device>,
    kind: ReissueKind,
    to: &str,
    public_url: &str,
) -> anyhow::Result<OffsetDateTime> {
    let now = app.now();
    let token = crate::secrets::url_token();
    let expires_at = now + time::Duration::minutes(i64::from(tenant.policy.reissue_link_minutes.max(1)));
    let lookup_hash = mamori_storage::token_lookup_hash(&token);
    // A certificate link names its device; a password link records where it was mailed.
    let payload_sealed = match kind {
        ReissueKind::Password => {
            let destination = serde_json::to_vec(&SealedDestination { email: to.to_owned() })?;
            Some(app.sealing.seal(&destination, &destination_aad(&lookup_hash))?)
        }
        ReissueKind::Certificate => None,
    };
    let tickets = app.storage.tickets();
    match device {
        Some(d) => tickets.invalidate_for_device(d.id, kind.ticket_kind()).await?,
        None => tickets.invalidate_for_user(user.id, kind.ticket_kind()).await?,
    };
    tickets
        .create(
            &NewTicket {
                kind: kind.ticket_kind(),
                tenant_id: tenant.id,
                user_id: user.id,
                device_id: device.map(|d| d.id),
                lookup_hash,
                secret_hash: None,
                acquisition_id: None,
                payload_sealed,
                expires_at,
                attempts: tenant.policy.lockout_threshold_secret_answer.max(1),
                uses: 1,
            },
            now,
        )
        .await?;
    let template = match kind {
        ReissueKind::Password => "password-reissue",
        ReissueKind::Certificate => "certificate-reissue",
    };
    app.mailer
        .send(
            crate::mail::OutgoingMail {
                tenant_id: Some(tenant.id),
                to: to.to_owned(),
                locale: crate::mail::ui_locale(user.locale),
                template,
                context: serde_json::json!({
                    "login_id": user.login_id,
                    "display_name": user.display_name,
                    "url": format!("{public_url}{}/{token}", kind.path()),
                    "expires_at": format_date_time(expires_at, &user.time_zone),
                    "device_no": device.map(|d| d.device_no),
                }),
            },
            now,
        )
        .await?;
    Ok(expires_at)
}

/// Mails the password-reissue link to the address the user typed (one of theirs).
pub async fn send_password_reissue(
    app: &App,
    tenant: &Tenant,
    user: &User,
    email: &str,
    public_url: &str,
    attempt: &Attempt<'_>,
) -> anyhow::Result<()> {
    issue_link(app, tenant, user, None, ReissueKind::Password, email.trim(), public_url).await?;
    record_change(app, attempt, AccountChange::PasswordReissueRequested).await;
    Ok(())
}

/// Starts a certificate reissue for `device` (an operator, or the user where the policy
/// lets them): the link goes to the device's address. Returns the link's expiry.
pub async fn start_certificate_reissue(
    app: &App,
    tenant: &Tenant,
    user: &User,
    device: &Device,
    public_url: &str,
    attempt: &Attempt<'_>,
) -> anyhow::Result<OffsetDateTime> {
    let expires = issue_link(app, tenant, user, Some(device), ReissueKind::Certificate, &device.email, public_url).await?;
    record_change(app, attempt, AccountChange::CertificateReissueRequested).await;
    Ok(expires)
}

// ---------------------------------------------------------------------------------------
// Step 2: the link, the secret answer, and the outcome.

pub struct OpenReissue {
    pub ticket: Ticket,
    pub tenant: Tenant,
    pub user: User,
}

/// The reissue behind a link token of `kind`; `None` for anything we do not know
/// (including a disabled user, so a link tells nothing about the account).
pub async fn find_reissue(app: &App, token: &str, kind: ReissueKind) -> anyhow::Result<Option<OpenReissue>> {
    if !crate::secrets::is_url_token(token) {
        return Ok(None);
    }
    let Some(ticket) = app.storage.tickets().find_by_lookup_hash(&mamori_storage::token_lookup_hash(token)).await? else {
        return Ok(None);
    };
    if ticket.kind != kind.ticket_kind() {
        return Ok(None);
    }
    let user = match app.storage.users().get(ticket.user_id).await {
        Ok(u) if u.status == UserStatus::Active => u,
        Ok(_) | Err(mamori_storage::StorageError::NotFound) => return Ok(None),
        Err(err) => return Err(err.into()),
    };
    let tenant = app.storage.tenants().get(ticket.tenant_id).await?;
    Ok(Some(OpenReissue { ticket, tenant, user }))
}

/// Why the link cannot be used now, if it cannot.
pub fn link_unavailable(open: &OpenReissue, now: OffsetDateTime) -> Option<LinkUnavailable> {
    unavailable_reason(&open.ticket, now)
}

pub enum AnswerOutcome<T> {
    Accepted(T),
    /// "The question and its answer do not match"; `attempts_left` when the policy shows it.
    Mismatch {
        attempts_left: Option<u32>,
    },
    /// The account is locked (now or before): only the operator can unlock it.
    Locked,
    Unavailable(LinkUnavailable),
}

/// Checks the secret question (when the form asks for it) and answer; counts a mismatch
/// against the account. A match spends nothing yet: the link is redeemed by the flow's
/// completion, together with what it records.
async fn check_answer(
    app: &App,
    open: &OpenReissue,
    question: Option<&str>,
    answer: &str,
    attempt: &Attempt<'_>,
) -> anyhow::Result<AnswerOutcome<()>> {
    let user = app.storage.users().get(open.user.id).await?;
    if user.is_locked() {
        return Ok(AnswerOutcome::Locked);
    }
    let now = app.now();
    let question_matches = question.is_none_or(|q| Some(q) == user.secret_question.as_deref());
    let answer_matches = secret_answer::verify_secret_answer(app, user.secret_answer_hash.as_deref(), answer).await?;
    if !(question_matches && answer_matches) {
        let threshold = open.tenant.policy.lockout_threshold_secret_answer;
        let outcome = app.storage.users().record_failed_secret_answer(user.id, threshold, now).await?;
        app.metrics.lockout("secret_answer", &outcome);
        record_change(app, attempt, AccountChange::WrongSecretAnswer).await;
        if outcome.locked {
            return Ok(AnswerOutcome::Locked);
        }
        let shown = open.tenant.policy.show_attempts_left.then_some(outcome.attempts_left);
        return Ok(AnswerOutcome::Mismatch { attempts_left: shown });
    }
    // A link already unusable is refused before the flow's slow preparation (the
    // completion re-checks it anyway).
    if let Some(reason) = link_unavailable(open, now) {
        return Ok(AnswerOutcome::Unavailable(reason));
    }
    Ok(AnswerOutcome::Accepted(()))
}

/// Redeems the link and records `completion` in one transaction (one of concurrent
/// submits wins); when it fails nothing is recorded and the link stays usable.
async fn complete(app: &App, completion: &Completion) -> anyhow::Result<Option<LinkUnavailable>> {
    match app.storage.completions().complete(completion, app.now()).await {
        Ok(()) => Ok(None),
        Err(RedeemError::Storage(err)) => Err(err.into()),
        Err(RedeemError::NotFound) => Ok(Some(LinkUnavailable::NotFound)),
        Err(RedeemError::Expired) => Ok(Some(LinkUnavailable::Expired)),
        Err(RedeemError::Locked) => Ok(Some(LinkUnavailable::Locked)),
        Err(_) => Ok(Some(LinkUnavailable::Spent)),
    }
}

/// Flow 5, step 3–4: the question and answer; a match sets a new random password, marked
/// to be changed at the next login, and returns it to be shown once.
pub async fn reissue_password(
    app: &App,
    open: &OpenReissue,
    question: &str,
    answer: &str,
    attempt: &Attempt<'_>,
) -> anyhow::Result<AnswerOutcome<String>> {
    match check_answer(app, open, Some(question), answer, attempt).await? {
        AnswerOutcome::Accepted(()) => {}
        AnswerOutcome::Mismatch { attempts_left } => return Ok(AnswerOutcome::Mismatch { attempts_left }),
        AnswerOutcome::Locked => return Ok(AnswerOutcome::Locked),
        AnswerOutcome::Unavailable(r) => return Ok(AnswerOutcome::Unavailable(r)),
    }
    let (tenant, user) = (&open.tenant, &open.user);
    let emails = super::account::registered_addresses(app, user).await?;
    let password = generate_password(&tenant.policy, &user.login_id, &emails);
    let hash = app.hasher.hash(&password).await?;
    // Best effort: an unreadable destination only means no address is marked proven.
    let verified_emails = destination_proofs(app, open).await.unwrap_or_else(|err| {
        tracing::warn!(error = %format!("{err:#}"), user = %user.id, "mailed address not marked verified");
        Vec::new()
    });
    let completion = Completion {
        ticket_id: Some(open.ticket.id),
        user_id: user.id,
        password: Some(PasswordChange { hash, must_change: true, keep: tenant.policy.password_history_count.max(1) }),
        reset_failed_passwords: true,
        reset_failed_secret_answers: true,
        verified_emails,
        ..Completion::default()
    };
    if let Some(reason) = complete(app, &completion).await? {
        return Ok(AnswerOutcome::Unavailable(reason));
    }
    // Whoever knew the old password is logged out everywhere.
    crate::flows::session_end::end_all(app, user.id).await?;
    record_change(app, attempt, AccountChange::PasswordReissued).await;
    notify(app, user, "notice-password-changed", serde_json::json!({ "reissued": true }), &[]).await;
    Ok(AnswerOutcome::Accepted(password))
}

/// The password link came to the address sealed on its ticket: completing it proves that
/// address for each of the user's devices that has exactly it (the mail went to what the
/// user typed, and only that mailbox is proven). The completion re-checks the address, so
/// a change racing this one is not verified either.
async fn destination_proofs(app: &App, open: &OpenReissue) -> anyhow::Result<Vec<EmailVerification>> {
    // Links issued before the destination was recorded prove nothing.
    let Some(sealed) = open.ticket.payload_sealed.as_deref() else {
        return Ok(Vec::new());
    };
    let plain = app.sealing.open(sealed, &destination_aad(&open.ticket.lookup_hash))?;
    let destination: SealedDestination = serde_json::from_slice(&plain)?;
    let devices = app.storage.devices().list_for_user(open.user.id, false).await?;
    Ok(devices
        .into_iter()
        .filter(|d| d.email == destination.email)
        .map(|d| EmailVerification { device_id: d.id, email: destination.email.clone() })
        .collect())
}

/// Flow 6, steps 2–4: the answer; a match issues a new certificate for the link's device
/// (the old one is revoked as superseded and on the next CRL) and mails the download
/// guidance; the download password is returned to be shown.
pub async fn reissue_certificate(
    app: &App,
    open: &OpenReissue,
    answer: &str,
    public_url: &str,
    attempt: &Attempt<'_>,
) -> anyhow::Result<AnswerOutcome<PendingDownload>> {
    match check_answer(app, open, None, answer, attempt).await? {
        AnswerOutcome::Accepted(()) => {}
        AnswerOutcome::Mismatch { attempts_left } => return Ok(AnswerOutcome::Mismatch { attempts_left }),
        AnswerOutcome::Locked => return Ok(AnswerOutcome::Locked),
        AnswerOutcome::Unavailable(r) => return Ok(AnswerOutcome::Unavailable(r)),
    }
    let device = match open.ticket.device_id {
        Some(id) => app.storage.devices().get(id).await?,
        None => return Ok(AnswerOutcome::Unavailable(LinkUnavailable::NotFound)),
    };
    if device.is_deleted() {
        return Ok(AnswerOutcome::Unavailable(LinkUnavailable::NotFound));
    }
    let (tenant, user) = (&open.tenant, &open.user);
    let prepared = device_certificate::prepare_download(app, tenant, user, &device).await?;
    let completion = Completion {
        ticket_id: Some(open.ticket.id),
        user_id: user.id,
        certificates: vec![prepared.record],
        reset_failed_secret_answers: true,
        // The link came to this address and was completed: the address works. (Changing
        // the address voids the device's reissue links, so it is still the one mailed to.)
        verified_emails: vec![EmailVerification { device_id: device.id, email: device.email.clone() }],
        ..Completion::default()
    };
    if let Some(reason) = complete(app, &completion).await? {
        return Ok(AnswerOutcome::Unavailable(reason));
    }
    // The old certificate is revoked: its sessions and the user's others end everywhere.
    crate::flows::session_end::end_all(app, user.id).await?;
    let download = prepared.pending;
    device_certificate::announce_download(app, tenant, user, &device, &download, public_url).await;
    record_change(app, attempt, AccountChange::CertificateReissued).await;
    let extra = serde_json::json!({ "device_no": device.device_no });
    notify(app, user, "notice-certificate-reissued", extra, &[]).await;
    Ok(AnswerOutcome::Accepted(download))
}

// ---------------------------------------------------------------------------------------
// The reissued password.

const PASSWORD_LETTERS_UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const PASSWORD_LETTERS_LOWER: &[u8] = b"abcdefghijkmnpqrstuvwxyz";
const PASSWORD_DIGITS: &[u8] = b"23456789";
/// Symbols that survive being read aloud or copied from a screen.
const PASSWORD_SYMBOLS: &[u8] = b"#%+-=?@";

/// A random password that passes the tenant's rules: 12 characters (within the policy's
/// bounds), at least one of each allowed class, not containing the user ID or an
/// address's name part.
pub fn generate_password(policy: &TenantPolicy, login_id: &str, emails: &[String]) -> String {
    let classes = policy.password_char_classes;
    let groups: Vec<&[u8]> = [
        (classes.upper, PASSWORD_LETTERS_UPPER),
        (classes.lower, PASSWORD_LETTERS_LOWER),
        (classes.digits, PASSWORD_DIGITS),
        (classes.symbols, PASSWORD_SYMBOLS),
    ]
    .into_iter()
    .filter_map(|(on, set)| on.then_some(set))
    .collect();
    let length = 12u32.clamp(policy.password_min_length, policy.password_max_length.max(policy.password_min_length)) as usize;
    let all: Vec<u8> = groups.iter().flat_map(|g| g.iter().copied()).collect();
    let mut rng = rand::rng();
    loop {
        let mut chars: Vec<u8> = groups.iter().filter_map(|g| g.choose(&mut rng).copied()).take(length).collect();
        while chars.len() < length {
            chars.push(*all.choose(&mut rng).unwrap_or(&b'x'));
        }
        // Shuffle so the class order does not show.
        for i in (1..chars.len()).rev() {
            chars.swap(i, rng.random_range(0..=i));
        }
        let password: String = chars.into_iter().map(char::from).collect();
        if check_password(policy, &password, &password, login_id, emails).is_empty() {
            return password;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reissued_passwords_pass_the_rules() {
        let emails = vec!["taro.yamada@example.jp".to_owned()];
        let policy = TenantPolicy::default();
        for _ in 0..200 {
            let p = generate_password(&policy, "p-01-usr012", &emails);
            assert_eq!(p.len(), 12);
            assert!(check_password(&policy, &p, &p, "p-01-usr012", &emails).is_empty(), "{p}");
            assert!(p.bytes().any(|b| b.is_ascii_uppercase()) && p.bytes().any(|b| b.is_ascii_lowercase()));
            assert!(p.bytes().any(|b| b.is_ascii_digit()) && p.bytes().any(|b| PASSWORD_SYMBOLS.contains(&b)));
        }
        assert_ne!(generate_password(&policy, "u", &[]), generate_password(&policy, "u", &[]));
    }

    #[test]
    fn reissued_passwords_follow_narrow_policies() {
        let mut policy = TenantPolicy::default();
        policy.password_char_classes.symbols = false;
        policy.password_char_classes.upper = false;
        policy.password_min_length = 16;
        policy.password_max_length = 20;
        let p = generate_password(&policy, "user", &[]);
        assert_eq!(p.len(), 16);
        assert!(p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()), "{p}");
        policy.password_min_length = 4;
        policy.password_max_length = 6;
        assert_eq!(generate_password(&policy, "user", &[]).len(), 6);
    }

    #[test]
    fn link_paths() {
        assert_eq!(ReissueKind::Password.path(), "/reissue/password");
        assert_eq!(ReissueKind::Certificate.ticket_kind(), TicketKind::CertificateReissue);
    }
}
