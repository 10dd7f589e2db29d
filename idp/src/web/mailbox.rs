//! The development mailbox: every mail in the outbox, newest first, and each one's text
//! with its https:// links made clickable, so a developer can follow an enrollment or
//! download link without a mail client. Served only with `mail.transport = "outbox"` and
//! `mail.dev_mailbox = true`; otherwise these paths are the ordinary 404 page.
//!
//! Mails carry one-time passwords and links: never enable it where others can reach.

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mamori_storage::StorageError;
use mamori_storage::model::OutboxMail;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::context::PageCtx;
use crate::config::MailTransport;
use crate::state::SharedState;

/// Mails per page of the list.
const PAGE_SIZE: u64 = 50;

pub fn routes() -> Router<SharedState> {
    Router::new().route("/dev/mailbox", get(list)).route("/dev/mailbox/{id}", get(show)).route("/dev/mailbox/{id}/raw", get(raw))
}

#[derive(Debug, Deserialize, Default)]
struct ListQuery {
    page: Option<u64>,
}

/// Whether the mailbox is served at all.
pub fn enabled(state: &SharedState) -> bool {
    let mail = &state.app.config.mail;
    mail.transport == MailTransport::Outbox && mail.dev_mailbox
}

async fn list(ctx: PageCtx, Query(query): Query<ListQuery>) -> Response {
    if !enabled(&ctx.state) {
        return ctx.error(StatusCode::NOT_FOUND, "error.not_found");
    }
    let page = query.page.unwrap_or(1).max(1);
    let offset = (page - 1).saturating_mul(PAGE_SIZE);
    let found = match ctx.app().storage.mail_outbox().list(None, offset, PAGE_SIZE).await {
        Ok(found) => found,
        Err(err) => return ctx.internal(&err.into()),
    };
    let mails: Vec<_> = found
        .items
        .iter()
        .map(|m| {
            serde_json::json!({
                "id": m.id.to_string(),
                "time": format_time(m.created_at),
                "to": m.to_address,
                "subject": m.subject,
                "sent": m.sent_at.is_some(),
            })
        })
        .collect();
    let last_page = found.total.div_ceil(PAGE_SIZE).max(1);
    let mut response = ctx.render(
        StatusCode::OK,
        "dev/mailbox.html",
        serde_json::json!({
            "mails": mails,
            "total": found.total,
            "outbox_dir": ctx.app().config.mail.outbox_dir.display().to_string(),
            "previous_page": (page > 1).then(|| page - 1),
            "next_page": (page < last_page).then(|| page + 1),
        }),
    );
    private(&mut response);
    response
}

async fn show(ctx: PageCtx, Path(id): Path<String>) -> Response {
    let mail = match find(&ctx, &id).await {
        Ok(mail) => mail,
        Err(response) => return response,
    };
    let from = ctx.app().mailer.from_mailbox().to_string();
    let mut response = ctx.render(
        StatusCode::OK,
        "dev/mailbox_message.html",
        serde_json::json!({
            "id": mail.id.to_string(),
            "time": format_time(mail.created_at),
            "from": from,
            "to": mail.to_address,
            "subject": mail.subject,
            "kind": mail.kind,
            "body": linkify(&mail.body_text),
        }),
    );
    private(&mut response);
    response
}

/// The message exactly as built for sending (the .eml), as plain text.
async fn raw(ctx: PageCtx, Path(id): Path<String>) -> Response {
    let mail = match find(&ctx, &id).await {
        Ok(mail) => mail,
        Err(response) => return response,
    };
    match ctx.app().mailer.eml(&mail) {
        Ok(eml) => {
            let mut response = (StatusCode::OK, eml).into_response();
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
            private(&mut response);
            response
        }
        Err(err) => ctx.internal(&err),
    }
}

/// The mail with this id, or the page to answer with (404 when disabled or unknown).
#[allow(clippy::result_large_err)]
async fn find(ctx: &PageCtx, id: &str) -> Result<OutboxMail, Response> {
    let not_found = || ctx.error(StatusCode::NOT_FOUND, "error.not_found");
    if !enabled(&ctx.state) {
        return Err(not_found());
    }
    let Ok(id) = Uuid::parse_str(id) else {
        return Err(not_found());
    };
    match ctx.app().storage.mail_outbox().get(id).await {
        Ok(mail) => Ok(mail),
        Err(StorageError::NotFound) => Err(not_found()),
        Err(err) => Err(ctx.internal(&err.into())),
    }
}

/// Mails hold one-time passwords: never cached, never indexed.
fn private(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-robots-tag", HeaderValue::from_static("noindex"));
}

fn format_time(t: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    t.to_offset(time::UtcOffset::UTC).format(&format).unwrap_or_default()
}

/// A piece of a mail body: plain text, or an https:// URL to show as a link. The template
/// escapes both (the URL in the attribute as well), so the body can never inject markup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Segment {
    Text { text: String },
    Link { url: String },
}

/// Splits `body` into text and https:// URLs. A URL runs over printable ASCII except
/// quotes, angle brackets and the like, and loses trailing punctuation (and a closing
/// bracket it did not open), so "see https://x.example/a." links "https://x.example/a".
/// Other schemes (http:, javascript:, data:) stay text.
pub fn linkify(body: &str) -> Vec<Segment> {
    const SCHEME: &str = "https://";
    let mut segments = Vec::new();
    let mut text_start = 0;
    let mut search = 0;
    while let Some(found) = body[search..].find(SCHEME) {
        let start = search + found;
        let rest = &body[start + SCHEME.len()..];
        let run = rest.find(|c: char| !url_char(c)).unwrap_or(rest.len());
        let url = trim_url(&body[start..start + SCHEME.len() + run]);
        let host_starts_well = url[SCHEME.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '[');
        if !host_starts_well {
            search = start + SCHEME.len();
            continue;
        }
        if start > text_start {
            segments.push(Segment::Text { text: body[text_start..start].to_owned() });
        }
        segments.push(Segment::Link { url: url.to_owned() });
        text_start = start + url.len();
        search = text_start;
    }
    if text_start < body.len() {
        segments.push(Segment::Text { text: body[text_start..].to_owned() });
    }
    segments
}

fn url_char(c: char) -> bool {
    c.is_ascii_graphic() && !matches!(c, '<' | '>' | '"' | '\'' | '`' | '\\' | '{' | '}' | '|' | '^')
}

fn trim_url(mut url: &str) -> &str {
    loop {
        let Some(last) = url.chars().last() else { return url };
        let unbalanced = |open: char, close: char| last == close && url.matches(close).count() > url.matches(open).count();
        if matches!(last, '.' | ',' | ';' | ':' | '!' | '?') || unbalanced('(', ')') || unbalanced('[', ']') {
            url = &url[..url.len() - 1];
        } else {
            return url;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Segment {
        Segment::Text { text: s.into() }
    }
    fn link(s: &str) -> Segment {
        Segment::Link { url: s.into() }
    }

    #[test]
    fn https_urls_become_links_and_the_rest_stays_text() {
        assert_eq!(
            linkify("URL: https://idp.example.com/enroll/abc?x=1&y=2\nthanks"),
            vec![text("URL: "), link("https://idp.example.com/enroll/abc?x=1&y=2"), text("\nthanks")]
        );
        assert_eq!(linkify("no links"), vec![text("no links")]);
        assert_eq!(linkify(""), Vec::<Segment>::new());
        assert_eq!(linkify("https://a.example"), vec![link("https://a.example")]);
    }

    #[test]
    fn trailing_punctuation_and_japanese_text_end_a_url() {
        assert_eq!(linkify("see https://a.example/x."), vec![text("see "), link("https://a.example/x"), text(".")]);
        assert_eq!(
            linkify("（https://a.example/x）を開いてください。"),
            vec![text("（"), link("https://a.example/x"), text("）を開いてください。")]
        );
        assert_eq!(linkify("(https://a.example/x)"), vec![text("("), link("https://a.example/x"), text(")")]);
        assert_eq!(linkify("https://a.example/wiki/A_(b)"), vec![link("https://a.example/wiki/A_(b)")]);
    }

    #[test]
    fn markup_and_other_schemes_are_never_links() {
        assert_eq!(
            linkify("<a href=\"https://evil.example/\">x</a>"),
            vec![text("<a href=\""), link("https://evil.example/"), text("\">x</a>")]
        );
        assert_eq!(linkify("https://\"onmouseover=alert(1)"), vec![text("https://\"onmouseover=alert(1)")]);
        assert_eq!(linkify("https://"), vec![text("https://")]);
        for other in ["http://a.example/", "javascript:alert(1)", "data:text/html,<b>", "HTTPS://a.example"] {
            assert_eq!(linkify(other), vec![text(other)], "{other}");
        }
    }
}
