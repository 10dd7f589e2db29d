//! The mail outbox: every mail is written here first, then sent (or read, in development).

use time::OffsetDateTime;
use uuid::Uuid;

use super::Locale;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxMail {
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub to_address: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub locale: Locale,
    /// What the mail is for, e.g. "download-guidance".
    pub kind: String,
    pub created_at: OffsetDateTime,
    pub sent_at: Option<OffsetDateTime>,
    pub attempts: u32,
    pub last_error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMail {
    pub tenant_id: Option<Uuid>,
    pub to_address: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub locale: Locale,
    pub kind: String,
}
