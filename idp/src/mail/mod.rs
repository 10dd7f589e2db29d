//! Mail: every mail is rendered in the recipient's language from `ui/templates/mail/`,
//! written to the database outbox first (so nothing is lost if sending fails), then
//! delivered by the configured transport:
//!
//! - `outbox` (development): the mail is also written to `mail.outbox_dir` as an .eml
//!   file and counts as sent; with `mail.dev_mailbox` the server shows it at `/dev/mailbox`.
//! - `smtp`: [`Mailer::send`] only queues and wakes the dispatcher ([`smtp`]), which
//!   sends through the configured relay, retrying with back-off.
//!
//! Both build the message with [`message::build`], so an .eml file is byte for byte what
//! SMTP would have carried.

pub mod address;
pub mod message;
pub mod smtp;

use std::sync::Arc;

use anyhow::Context as _;
use lettre::message::Mailbox;
use mamori_storage::Storage;
use mamori_storage::model::{Locale as StoredLocale, NewMail, OutboxMail};
use mamori_ui::{Locale, Ui};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::config::{Config, MailTransport};

pub use smtp::DispatchReport;

/// Whom a mail greets: the user's display name when one is set, with the user ID beside
/// it (a person may hold several accounts), else the user ID.
pub fn greeting_name(login_id: Option<&str>, display_name: Option<&str>) -> String {
    let login_id = login_id.unwrap_or_default();
    match display_name.map(str::trim) {
        Some(name) if !name.is_empty() && name != login_id => format!("{name} ({login_id})"),
        _ => login_id.to_owned(),
    }
}

/// A mail to send: `template` names `mail/{template}.{locale}.txt`, whose first line is
/// `Subject: …` and the rest the body.
pub struct OutgoingMail {
    pub tenant_id: Option<Uuid>,
    pub to: String,
    pub locale: Locale,
    pub template: &'static str,
    pub context: serde_json::Value,
}

#[derive(Clone)]
pub struct Mailer {
    storage: Storage,
    ui: Ui,
    transport: MailTransport,
    outbox_dir: std::path::PathBuf,
    from: Mailbox,
    /// The SMTP transport, when `mail.transport = "smtp"`.
    smtp: Option<smtp::SmtpTransport>,
    /// Wakes this node's dispatcher when a mail is queued.
    wake: Arc<Notify>,
}

impl Mailer {
    pub fn new(config: &Config, storage: Storage, ui: Ui) -> anyhow::Result<Self> {
        let from: Mailbox = config
            .mail
            .from
            .parse()
            .map_err(|e| anyhow::anyhow!("config key `mail.from`: {:?} is not a mail address: {e}", config.mail.from))?;
        let smtp = match config.mail.transport {
            MailTransport::Outbox => {
                std::fs::create_dir_all(&config.mail.outbox_dir).map_err(|e| {
                    anyhow::anyhow!("config key `mail.outbox_dir`: cannot create {}: {e}", config.mail.outbox_dir.display())
                })?;
                if config.mail.dev_mailbox && !config.server.listen.ip().is_loopback() {
                    tracing::warn!(
                        listen = %config.server.listen,
                        "mail.dev_mailbox is on and the server listens beyond this machine: \
                         anyone who reaches it can read every mail at /dev/mailbox"
                    );
                }
                None
            }
            MailTransport::Smtp => Some(smtp::transport(config)?),
        };
        Ok(Self {
            storage,
            ui,
            transport: config.mail.transport,
            outbox_dir: config.mail.outbox_dir.clone(),
            from,
            smtp,
            wake: Arc::new(Notify::new()),
        })
    }

    /// Renders and queues the mail. With the outbox transport it is also written as an
    /// .eml file a person can open (and counts as sent); with SMTP the dispatcher is woken.
    pub async fn send(&self, mail: OutgoingMail, now: time::OffsetDateTime) -> anyhow::Result<()> {
        // A mail that could never be addressed is the caller's mistake: say so now.
        message::recipient(&mail.to)?;
        let name = format!("mail/{}.{}.txt", mail.template, mail.locale.tag());
        let mut context = mail.context;
        if let Some(map) = context.as_object_mut() {
            let name = greeting_name(map.get("login_id").and_then(|v| v.as_str()), map.get("display_name").and_then(|v| v.as_str()));
            map.insert("greeting_name".into(), name.into());
        }
        let rendered = self.ui.render(&name, mail.locale, &context)?;
        let (subject, body) = split_subject(&rendered);
        let body = self.signed(body, mail.tenant_id, mail.locale).await;
        let queued = self
            .storage
            .mail_outbox()
            .enqueue(
                &NewMail {
                    tenant_id: mail.tenant_id,
                    to_address: mail.to.trim().to_owned(),
                    subject,
                    body_text: body,
                    body_html: None,
                    locale: stored_locale(mail.locale),
                    kind: mail.template.to_owned(),
                },
                now,
            )
            .await?;
        match self.transport {
            MailTransport::Outbox => {
                let eml = message::eml(&queued, &self.from)?;
                // Named by the wall clock in nanoseconds, zero-padded, so that sorting the
                // names lists mails in the order they were written, even within one second.
                let written = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
                let file = self.outbox_dir.join(format!("{written:020}-{}.eml", queued.id));
                tokio::fs::write(&file, eml).await.with_context(|| format!("cannot write {}", file.display()))?;
                self.storage.mail_outbox().mark_sent(queued.id, now).await?;
            }
            MailTransport::Smtp => self.wake.notify_one(),
        }
        Ok(())
    }

    /// The body with the tenant's sign-off: every mail of a tenant names it by its display
    /// name (its branding), so a user knows whose account it is about. A tenant that
    /// cannot be read now leaves the mail unsigned rather than unsent.
    async fn signed(&self, body: String, tenant_id: Option<Uuid>, locale: Locale) -> String {
        let Some(tenant) = tenant_id else {
            return body;
        };
        match self.storage.tenants().get(tenant).await {
            Ok(tenant) => {
                let line = self.ui.message(locale, "mail.sign_off").replace("{tenant}", &tenant.display_name);
                format!("{}\n\n-- \n{line}\n", body.trim_end())
            }
            Err(err) => {
                tracing::warn!(%err, "mail sent without the tenant's sign-off");
                body
            }
        }
    }

    /// The message a queued mail is (or was) sent as: the .eml bytes.
    pub fn eml(&self, mail: &OutboxMail) -> anyhow::Result<Vec<u8>> {
        Ok(message::eml(mail, &self.from)?)
    }

    /// The From header's mailbox.
    pub fn from_mailbox(&self) -> &Mailbox {
        &self.from
    }
}

fn split_subject(rendered: &str) -> (String, String) {
    let rendered = rendered.trim_start();
    match rendered.split_once('\n') {
        Some((first, rest)) if first.starts_with("Subject:") => {
            (first.trim_start_matches("Subject:").trim().to_owned(), rest.trim_start_matches('\n').to_owned())
        }
        _ => (String::new(), rendered.to_owned()),
    }
}

pub fn stored_locale(locale: Locale) -> StoredLocale {
    match locale {
        Locale::Ja => StoredLocale::Ja,
        Locale::En => StoredLocale::En,
    }
}

pub fn ui_locale(locale: StoredLocale) -> Locale {
    match locale {
        StoredLocale::En => Locale::En,
        _ => Locale::Ja,
    }
}

#[cfg(test)]
mod greeting_tests {
    use super::greeting_name;

    #[test]
    fn mails_greet_by_display_name_with_the_user_id_beside_it() {
        assert_eq!(greeting_name(Some("p-01-taro"), Some("山田太郎")), "山田太郎 (p-01-taro)");
        assert_eq!(greeting_name(Some("p-01-taro"), None), "p-01-taro");
        assert_eq!(greeting_name(Some("p-01-taro"), Some("  ")), "p-01-taro", "a blank name is no name");
        assert_eq!(greeting_name(Some("taro"), Some("taro")), "taro", "not twice");
    }
}

#[cfg(test)]
mod template_tests {
    use mamori_ui::{Locale, Ui};

    /// The guidance mail follows a renewal and a reissue as well as a registration: it
    /// must not send the user to look for the password on the registration page only.
    #[test]
    fn the_download_mail_names_every_page_its_password_is_shown_on() {
        let ui = Ui::new();
        let context = serde_json::json!({"greeting_name": "taro", "download_max_count": 3});
        let en = ui.render("mail/download-guidance.en.txt", Locale::En, &context).expect("renders");
        assert!(en.contains("renewed") && en.contains("reissued") && !en.contains("when you completed registration"), "{en}");
        let ja = ui.render("mail/download-guidance.ja.txt", Locale::Ja, &context).expect("renders");
        assert!(ja.contains("更新") && ja.contains("再発行"), "{ja}");
    }
}
