//! The one place a queued mail becomes an RFC 5322 message. The SMTP dispatcher and the
//! outbox transport's .eml files both go through [`build`], and everything in the message
//! comes from the stored mail (its id, creation time, texts), so a message built twice is
//! the same bytes: what a developer opens is what SMTP would have sent.

use std::time::SystemTime;

use lettre::Message;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use mamori_storage::model::{Locale as StoredLocale, OutboxMail};

/// Why a stored mail cannot be turned into a message (nothing a retry would fix).
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("recipient address {0:?} is not a valid mail address")]
    BadRecipient(String),
    #[error("the message cannot be built: {0}")]
    Build(#[from] lettre::error::Error),
}

/// Parses a recipient: a bare address by the same rule as every address Mamori stores
/// ([`super::address::parse`]), so that what was accepted can be mailed.
pub fn recipient(to: &str) -> Result<Mailbox, MessageError> {
    let address = super::address::parse(to.trim()).map_err(|_| MessageError::BadRecipient(to.to_owned()))?;
    Ok(Mailbox::new(None, address))
}

/// The Message-ID of a queued mail: its outbox id at the sender's domain. It stays the
/// same across retries, so a receiver that got a mail twice can tell.
pub fn message_id(mail: &OutboxMail, from: &Mailbox) -> String {
    format!("<{}@{}>", mail.id, from.email.domain())
}

/// Builds the message: From, To, Subject (RFC 2047 encoded when not ASCII), Date (when
/// the mail was queued), Message-ID, MIME-Version, a UTF-8 text/plain body (with an HTML
/// alternative when the mail has one) in the transfer encoding lettre finds shortest.
pub fn build(mail: &OutboxMail, from: &Mailbox) -> Result<Message, MessageError> {
    let to = recipient(&mail.to_address)?;
    let language = match mail.locale {
        StoredLocale::En => "en",
        _ => "ja",
    };
    let builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject.as_str())
        .date(SystemTime::from(mail.created_at))
        .message_id(Some(message_id(mail, from)))
        // RFC 3834: machine-generated, so vacation responders stay quiet.
        .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("Auto-Submitted"), "auto-generated".into()))
        .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("Content-Language"), language.into()));
    let plain = SinglePart::builder().header(ContentType::TEXT_PLAIN).body(mail.body_text.clone());
    let message = match &mail.body_html {
        None => builder.singlepart(plain)?,
        Some(html) => {
            let html = SinglePart::builder().header(ContentType::TEXT_HTML).body(html.clone());
            // A boundary from the mail id keeps the bytes reproducible.
            let alternative = MultiPart::alternative().boundary(format!("mamori-{}", mail.id.simple())).singlepart(plain).singlepart(html);
            builder.multipart(alternative)?
        }
    };
    Ok(message)
}

/// The message as the bytes an .eml file (or the SMTP DATA command) carries.
pub fn eml(mail: &OutboxMail, from: &Mailbox) -> Result<Vec<u8>, MessageError> {
    Ok(build(mail, from)?.formatted())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;
    use uuid::Uuid;

    fn mail(subject: &str, body: &str) -> OutboxMail {
        OutboxMail {
            id: Uuid::from_u128(0x1234),
            tenant_id: None,
            to_address: "user@example.com".into(),
            subject: subject.into(),
            body_text: body.into(),
            body_html: None,
            locale: StoredLocale::Ja,
            kind: "login-code".into(),
            created_at: datetime!(2026-11-23 10:00:00 UTC),
            sent_at: None,
            attempts: 0,
            last_error: None,
        }
    }

    fn from() -> Mailbox {
        "Mamori <no-reply@idp.example.com>".parse().expect("mailbox")
    }

    #[test]
    fn japanese_subject_and_body_are_encoded_and_headers_present() {
        let text = String::from_utf8(eml(&mail("ワンタイムパスワードのお知らせ", "こんにちは\n123456\n"), &from()).expect("builds"))
            .expect("ascii");
        assert!(text.is_ascii(), "{text}");
        assert!(text.contains("Subject: =?utf-8?b?"), "{text}");
        assert!(text.contains("From: Mamori <no-reply@idp.example.com>\r\n"), "{text}");
        assert!(text.contains("To: user@example.com\r\n"), "{text}");
        assert!(text.contains("Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"), "{text}");
        assert!(text.contains("Message-ID: <00000000-0000-0000-0000-000000001234@idp.example.com>\r\n"), "{text}");
        assert!(text.contains("MIME-Version: 1.0\r\n"), "{text}");
        assert!(text.contains("Content-Type: text/plain; charset=utf-8\r\n"), "{text}");
        assert!(text.contains("Auto-Submitted: auto-generated\r\n"), "{text}");
    }

    #[test]
    fn the_same_mail_builds_to_the_same_bytes() {
        let m = mail("件名", "本文 https://example.com/x\n");
        assert_eq!(eml(&m, &from()).expect("builds"), eml(&m, &from()).expect("builds"));
        let mut m = m;
        m.body_html = Some("<p>本文</p>".into());
        assert_eq!(eml(&m, &from()).expect("builds"), eml(&m, &from()).expect("builds"));
    }

    #[test]
    fn a_bad_recipient_is_refused() {
        let mut m = mail("s", "b");
        m.to_address = "not an address".into();
        assert!(matches!(build(&m, &from()), Err(MessageError::BadRecipient(_))));
    }
}
