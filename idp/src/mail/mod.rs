//! Mail: every mail is rendered in the recipient's language from `ui/templates/mail/`,
//! written to the database outbox first (so nothing is lost if sending fails), then
//! delivered by the configured transport.

use mamori_storage::Storage;
use mamori_storage::model::{Locale as StoredLocale, NewMail};
use mamori_ui::{Locale, Ui};
use uuid::Uuid;

use crate::config::{Config, MailTransport};

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
    from: String,
}

impl Mailer {
    pub fn new(config: &Config, storage: Storage, ui: Ui) -> anyhow::Result<Self> {
        if config.mail.transport == MailTransport::Outbox {
            std::fs::create_dir_all(&config.mail.outbox_dir).map_err(|e| {
                anyhow::anyhow!("config key `mail.outbox_dir`: cannot create {}: {e}", config.mail.outbox_dir.display())
            })?;
        }
        Ok(Self {
            storage,
            ui,
            transport: config.mail.transport,
            outbox_dir: config.mail.outbox_dir.clone(),
            from: config.mail.from.clone(),
        })
    }

    /// Renders and queues the mail. With the outbox transport it is also written as an
    /// .eml file a person can open.
    pub async fn send(&self, mail: OutgoingMail, now: time::OffsetDateTime) -> anyhow::Result<()> {
        let name = format!("mail/{}.{}.txt", mail.template, mail.locale.tag());
        let rendered = self.ui.render(&name, mail.locale, &mail.context)?;
        let (subject, body) = split_subject(&rendered);
        let queued = self
            .storage
            .mail_outbox()
            .enqueue(
                &NewMail {
                    tenant_id: mail.tenant_id,
                    to_address: mail.to.clone(),
                    subject: subject.clone(),
                    body_text: body.clone(),
                    body_html: None,
                    locale: stored_locale(mail.locale),
                    kind: mail.template.to_owned(),
                },
                now,
            )
            .await?;
        if self.transport == MailTransport::Outbox {
            let file = self.outbox_dir.join(format!("{}-{}.eml", now.unix_timestamp(), queued.id));
            let eml = format!(
                "From: {}\r\nTo: {}\r\nSubject: {}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}",
                self.from, mail.to, subject, body
            );
            tokio::fs::write(&file, eml).await?;
            self.storage.mail_outbox().mark_sent(queued.id, now).await?;
        }
        Ok(())
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
