//! Delivery over SMTP. [`Mailer::send`](super::Mailer::send) only queues; a dispatcher
//! (one per node, any number of nodes) claims unsent mails with a lease, so no two
//! dispatchers ever hold the same mail, sends each through lettre, and marks it sent or
//! failed. A failed mail waits an exponentially growing time before the next attempt, and
//! after [`MAIL_MAX_ATTEMPTS`] it stays in the outbox for an operator.
//!
//! A mail is only sent while its lease is guaranteed to outlast the send: each send is
//! bounded by [`SEND_TIMEOUT`], and a claimed mail whose remaining lease is shorter than
//! that (plus a margin) is left for the next claim instead.

use std::time::{Duration, Instant};

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use mamori_storage::MAIL_MAX_ATTEMPTS;
use mamori_storage::model::OutboxMail;
use time::OffsetDateTime;

use super::Mailer;
use crate::config::{Config, SmtpSecurity};

/// Mails claimed at once by one dispatcher.
pub const BATCH: u64 = 10;
/// How long a claim keeps other dispatchers off a mail.
pub const LEASE: Duration = Duration::from_secs(300);
/// The longest one mail may take to send, connection included.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(60);
/// Lease time kept in reserve after the send timeout (marking the mail, clock skew).
const LEASE_MARGIN: Duration = Duration::from_secs(30);
/// Timeout of each SMTP command.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a dispatcher looks for mails queued by other nodes (or due for a retry).
pub const POLL_INTERVAL: Duration = Duration::from_secs(3);
/// Back-off after the first failure; it doubles with each further one, up to the cap.
pub const RETRY_BASE: Duration = Duration::from_secs(30);
pub const RETRY_CAP: Duration = Duration::from_secs(3600);
/// Longest error text kept with a failed mail.
const MAX_ERROR_CHARS: usize = 500;

pub type SmtpTransport = AsyncSmtpTransport<Tokio1Executor>;

/// The transport `mail.smtp` describes.
pub fn transport(config: &Config) -> anyhow::Result<SmtpTransport> {
    let smtp = &config.mail.smtp;
    let host = smtp.host.trim();
    if host.is_empty() {
        anyhow::bail!("config key `mail.smtp.host`: is empty (mail.transport is \"smtp\")");
    }
    let tls = |required: bool| -> anyhow::Result<Tls> {
        let params = TlsParameters::new(host.to_owned())
            .map_err(|e| anyhow::anyhow!("config key `mail.smtp.host`: TLS set-up for {host} failed: {e}"))?;
        Ok(if required { Tls::Required(params) } else { Tls::Wrapper(params) })
    };
    let tls = match smtp.security {
        SmtpSecurity::Starttls => tls(true)?,
        SmtpSecurity::Tls => tls(false)?,
        SmtpSecurity::None => Tls::None,
    };
    let mut builder = SmtpTransport::builder_dangerous(host).port(smtp.port).tls(tls).timeout(Some(COMMAND_TIMEOUT));
    let password = config.smtp_password()?;
    match (&smtp.username, password) {
        (Some(user), Some(password)) => {
            builder = builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }
        (Some(_), None) => anyhow::bail!("config key `mail.smtp.password`: is not set but mail.smtp.username is"),
        (None, Some(_)) => anyhow::bail!("config key `mail.smtp.username`: is not set but a password is"),
        (None, None) => {}
    }
    if smtp.security == SmtpSecurity::None && smtp.username.is_some() {
        tracing::warn!("mail.smtp: security = \"none\" sends the SMTP password unencrypted");
    }
    Ok(builder.build())
}

/// How long to wait after the `attempts`-th failure (1 for the first).
pub fn retry_delay(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(16);
    RETRY_BASE.saturating_mul(1 << doublings).min(RETRY_CAP)
}

/// What one round of the dispatcher did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DispatchReport {
    /// Mails claimed from the outbox.
    pub claimed: usize,
    pub sent: usize,
    pub failed: usize,
    /// Claimed but not attempted: too little of the lease was left.
    pub deferred: usize,
}

impl Mailer {
    /// Starts the dispatcher: it sends what is queued, then waits to be woken by
    /// [`Mailer::send`] or for [`POLL_INTERVAL`], and again. With the outbox transport
    /// there is nothing to deliver and the task ends at once.
    pub fn spawn_dispatcher(&self) -> tokio::task::JoinHandle<()> {
        let mailer = self.clone();
        tokio::spawn(async move {
            if mailer.smtp.is_none() {
                return;
            }
            tracing::info!("mail dispatcher started");
            loop {
                let report = match mailer.dispatch_once(OffsetDateTime::now_utc()).await {
                    Ok(report) => report,
                    Err(err) => {
                        tracing::warn!(error = %format!("{err:#}"), "mail dispatcher: cannot read the outbox");
                        DispatchReport::default()
                    }
                };
                // A full batch sent: more may be waiting.
                if report.claimed as u64 == BATCH && report.deferred == 0 {
                    continue;
                }
                tokio::select! {
                    () = mailer.wake.notified() => {}
                    () = tokio::time::sleep(POLL_INTERVAL) => {}
                }
            }
        })
    }

    /// One round: claims up to [`BATCH`] unsent mails due at `now` and tries each once.
    /// Does nothing (and claims nothing) unless the transport is SMTP.
    pub async fn dispatch_once(&self, now: OffsetDateTime) -> anyhow::Result<DispatchReport> {
        let Some(transport) = &self.smtp else {
            return Ok(DispatchReport::default());
        };
        let outbox = self.storage.mail_outbox();
        let claimed_at = Instant::now();
        let mails = outbox.claim_unsent(BATCH, now, now + LEASE).await?;
        let mut report = DispatchReport { claimed: mails.len(), ..DispatchReport::default() };
        for mail in mails {
            let elapsed = claimed_at.elapsed();
            if elapsed + SEND_TIMEOUT + LEASE_MARGIN > LEASE {
                // Another dispatcher may claim it once the lease runs out.
                report.deferred += 1;
                continue;
            }
            match self.deliver(transport, &mail).await {
                Ok(()) => {
                    let sent_at = now + claimed_at.elapsed();
                    self.record_sent(&mail, sent_at).await;
                    report.sent += 1;
                }
                Err(error) => {
                    let failed_at = now + claimed_at.elapsed();
                    self.record_failure(&mail, &error, failed_at).await;
                    report.failed += 1;
                }
            }
        }
        Ok(report)
    }

    async fn deliver(&self, transport: &SmtpTransport, mail: &OutboxMail) -> Result<(), String> {
        let message = super::message::build(mail, &self.from).map_err(|e| e.to_string())?;
        match tokio::time::timeout(SEND_TIMEOUT, transport.send(message)).await {
            Ok(Ok(_response)) => Ok(()),
            // lettre's errors carry the server's reply and the failing step, never the
            // credentials.
            Ok(Err(err)) => Err(describe(&err)),
            Err(_) => Err(format!("no answer within {} s", SEND_TIMEOUT.as_secs())),
        }
    }

    async fn record_sent(&self, mail: &OutboxMail, sent_at: OffsetDateTime) {
        let outbox = self.storage.mail_outbox();
        // The mail is out: try hard to record it, or it is sent again after the lease.
        for attempt in 1..=3 {
            match outbox.mark_sent(mail.id, sent_at).await {
                Ok(()) => {
                    tracing::info!(mail_id = %mail.id, kind = %mail.kind, "mail sent");
                    return;
                }
                Err(err) if attempt < 3 => {
                    tracing::warn!(mail_id = %mail.id, %err, "cannot mark mail sent; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
                Err(err) => {
                    tracing::error!(mail_id = %mail.id, %err, "mail sent but not marked; it may be sent again");
                }
            }
        }
    }

    async fn record_failure(&self, mail: &OutboxMail, error: &str, failed_at: OffsetDateTime) {
        let attempts = mail.attempts + 1;
        let delay = retry_delay(attempts);
        let error: String = error.chars().take(MAX_ERROR_CHARS).collect();
        if attempts >= MAIL_MAX_ATTEMPTS {
            tracing::error!(mail_id = %mail.id, kind = %mail.kind, attempts, %error, "mail not sent; giving up");
        } else {
            tracing::warn!(
                mail_id = %mail.id, kind = %mail.kind, attempts, retry_in_s = delay.as_secs(), %error,
                "mail not sent; will retry"
            );
        }
        if let Err(err) = self.storage.mail_outbox().mark_failed(mail.id, &error, failed_at + delay).await {
            tracing::error!(mail_id = %mail.id, %err, "cannot record the failed mail attempt");
        }
    }
}

/// A lettre error with its causes, on one line.
fn describe(err: &lettre::transport::smtp::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text.replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_up_to_the_cap() {
        assert_eq!(retry_delay(1), Duration::from_secs(30));
        assert_eq!(retry_delay(2), Duration::from_secs(60));
        assert_eq!(retry_delay(3), Duration::from_secs(120));
        assert_eq!(retry_delay(8), Duration::from_secs(3600));
        assert_eq!(retry_delay(u32::MAX), RETRY_CAP);
    }

    #[test]
    fn a_lease_outlasts_a_send() {
        assert!(SEND_TIMEOUT + LEASE_MARGIN < LEASE);
        assert!(COMMAND_TIMEOUT <= SEND_TIMEOUT);
    }
}
