//! Mamori's page for requests too large for the HTTP/1 parser itself. hyper answers a
//! request line over 64 KiB (414) or a head over its buffer (431) on its own, with an
//! empty body, before any route runs: a user sent here by a site with an oversized SAML
//! URL would see a blank browser error. [`RewriteOversized`] sits between TLS and hyper,
//! recognises those automatic answers as they are written, and writes Mamori's error
//! page in the user's language instead. HTTP/2 is not rewritten (its answers are HPACK
//! frames): its header limit is raised so that every URL up to the `http` crate's own
//! 64 KiB cap reaches the routes (see `listener`). A request under `/scim/v2/` gets
//! SCIM's JSON error instead of the page: a provisioning client parses every answer there.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::http::StatusCode;
use mamori_ui::{Locale, Ui, negotiate_locale};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// How much of what the client sent last is kept to find its language headers in: the
/// end of a head (where they are), however long its request line.
const RECENT_BYTES: usize = 8 * 1024;

/// After our page, how long and how much of the rest of the oversized request is read
/// and dropped: a connection closed with unread data is reset by the kernel, and the
/// reset can destroy the page before a client still sending its request reads it.
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 4 * 1024 * 1024;

/// The statuses hyper answers on its own for an oversized head.
const REWRITTEN: [StatusCode; 2] = [StatusCode::URI_TOO_LONG, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE];

/// The complete HTTP/1.1 answers, rendered once at start-up, per status and language.
#[derive(Debug)]
pub struct OversizedPages {
    responses: Vec<(StatusCode, Locale, Arc<[u8]>)>,
    /// The same statuses as SCIM errors (RFC 7644 §3.12), for requests under `/scim/v2/`.
    scim: Vec<(StatusCode, Arc<[u8]>)>,
}

/// How much of the start of a request is kept: its request line (where it goes) and the
/// headers before a huge one (a browser sends Accept-Language before its cookies).
const START_BYTES: usize = 8 * 1024;

/// The head of an HTTP/1.1 answer with `content_type` and the headers every answer has.
fn head(status: StatusCode, content_type: &str, length: usize, security_headers: &[(&str, &str)]) -> String {
    let mut head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {length}\r\ncache-control: no-store\r\nconnection: close\r\n"
    );
    for (name, value) in security_headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head
}

impl OversizedPages {
    /// Renders the error page for each status and language, with the headers every
    /// Mamori response carries.
    pub fn render(ui: &Ui, security_headers: &[(&str, &str)]) -> anyhow::Result<Self> {
        let mut responses = Vec::new();
        let mut scim = Vec::new();
        for status in REWRITTEN {
            for locale in Locale::ALL {
                let message = ui.message(locale, "error.too_large");
                let body = ui.render("error.html", locale, serde_json::json!({ "message": message }))?;
                let head = head(status, "text/html; charset=utf-8", body.len(), security_headers);
                let bytes: Vec<u8> = [head.into_bytes(), body.into_bytes()].concat();
                responses.push((status, locale, Arc::from(bytes)));
            }
            let detail = if status == StatusCode::URI_TOO_LONG {
                "the request line is longer than 64 KiB: send a long filter in a POST to /Users/.search"
            } else {
                "the request's headers are too large"
            };
            let body = crate::scim::error::ScimError::new(status, None, detail).body().to_string();
            let head = head(status, crate::scim::error::SCIM_JSON, body.len(), security_headers);
            scim.push((status, Arc::from([head.into_bytes(), body.into_bytes()].concat())));
        }
        Ok(OversizedPages { responses, scim })
    }

    fn response(&self, status: StatusCode, locale: Locale, start: &[u8]) -> Option<Arc<[u8]>> {
        if is_scim_request(start) {
            return self.scim.iter().find(|(s, _)| *s == status).map(|(_, r)| Arc::clone(r));
        }
        self.responses.iter().find(|(s, l, _)| *s == status && *l == locale).map(|(_, _, r)| Arc::clone(r))
    }
}

/// Whether a request line (its first bytes) targets SCIM: `METHOD /scim/v2/…`.
fn is_scim_request(start: &[u8]) -> bool {
    let Some(space) = start.iter().position(|b| *b == b' ') else { return false };
    start[space + 1..].starts_with(b"/scim/v2/")
}

/// hyper's own answer to an oversized head: a bare status line, `content-length: 0`, a
/// date, nothing else. No route of ours answers 414 or 431, let alone with an empty body.
pub fn automatic_answer(written: &[u8]) -> Option<StatusCode> {
    if written.len() > 256 || !written.ends_with(b"\r\n\r\n") || !contains(written, b"\r\ncontent-length: 0\r\n") {
        return None;
    }
    REWRITTEN.into_iter().find(|status| written.starts_with(format!("HTTP/1.1 {} ", status.as_u16()).as_bytes()))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The value of the last `name:` header line in `recent` (ASCII case-insensitive).
fn last_header<'a>(recent: &'a [u8], name: &str) -> Option<&'a str> {
    let pattern = format!("\r\n{name}:");
    let start = recent.windows(pattern.len()).rposition(|w| w.eq_ignore_ascii_case(pattern.as_bytes()))? + pattern.len();
    let rest = &recent[start..];
    let end = rest.windows(2).position(|w| w == b"\r\n").unwrap_or(rest.len());
    std::str::from_utf8(&rest[..end]).ok().map(str::trim)
}

/// The page language a request asks for: the language cookie, else Accept-Language (as
/// [`crate::web::page::PageLocale`] decides for routed pages). `parts` are what is kept of
/// the request, its end last: a header found in a later part wins.
pub fn locale_of(parts: &[&[u8]]) -> Locale {
    let last = |name| parts.iter().rev().find_map(|part| last_header(part, name));
    let cookie = last("cookie")
        .and_then(|c| c.split(';').filter_map(|pair| pair.trim().split_once('=')).find(|(k, _)| *k == "mamori_lang").map(|(_, v)| v));
    negotiate_locale(cookie, last("accept-language"))
}

/// Where heads end in `read`: the positions just after each CRLFCRLF, counting those that
/// begin in `tail` (the last four bytes read before; a head that ended exactly there ends
/// at 0 here, where the next request may begin).
fn head_ends(tail: &[u8], read: &[u8]) -> Vec<usize> {
    let straddle: Vec<u8> = tail.iter().chain(read.iter().take(3)).copied().collect();
    let across = straddle.windows(4).enumerate().filter(|(_, w)| *w == b"\r\n\r\n").map(|(at, _)| (at + 4).saturating_sub(tail.len()));
    let within = read.windows(4).enumerate().filter(|(_, w)| *w == b"\r\n\r\n").map(|(at, _)| at + 4);
    across.chain(within).collect()
}

/// Whether `bytes` begin like a request line (`TOKEN SP /…`, `* ` or an absolute URL):
/// where another request starts, rather than the rest of a long line or a body.
fn begins_request_line(bytes: &[u8]) -> bool {
    let Some(space) = bytes.iter().take(21).position(|b| *b == b' ') else { return false };
    space > 0
        && bytes[..space].iter().all(u8::is_ascii_uppercase)
        && bytes.get(space + 1).is_some_and(|b| matches!(b, b'/' | b'*' | b'h' | b'H'))
}

/// A connection's byte stream, with hyper's automatic oversized-head answers replaced by
/// Mamori's page. Without pages (`None`) it only passes bytes through.
pub struct RewriteOversized<IO> {
    io: IO,
    pages: Option<Arc<OversizedPages>>,
    /// The first [`START_BYTES`] of the request being read.
    start: Vec<u8>,
    /// Its last [`RECENT_BYTES`] (where the language headers are after a long line).
    recent: Vec<u8>,
    /// The last bytes read, to find a head's end split across reads.
    tail: Vec<u8>,
    /// An answer was written since the last read.
    answered: bool,
    phase: Phase,
}

/// Where a connection is in answering an oversized head with our page.
enum Phase {
    /// Bytes pass through.
    Passing,
    /// hyper has given up on a head: read on to its end, where the language headers are.
    FindingHeadEnd { status: StatusCode, deadline: Pin<Box<Sleep>>, read: usize },
    /// Our page, and how much of it is written.
    Writing { page: Arc<[u8]>, written: usize },
    /// Reading and dropping what the client still sends, so that closing does not reset
    /// the connection (a reset can destroy the page before the client reads it).
    Draining { deadline: Pin<Box<Sleep>>, read: usize },
    /// Answered; hyper closes the connection.
    Done,
}

impl<IO> RewriteOversized<IO> {
    pub fn new(io: IO, pages: Option<Arc<OversizedPages>>) -> Self {
        RewriteOversized { io, pages, start: Vec::new(), recent: Vec::new(), tail: Vec::new(), answered: false, phase: Phase::Passing }
    }

    /// Keeps the start and the end of the request being read. A request begins where a
    /// request line begins after a head's end (requests a client pipelined arrive in one
    /// read, before the answer to the first) or at the first read after an answer; the
    /// rest of a long line, a header or a body after an answer does not begin one.
    fn remember_request(&mut self, read: &[u8]) {
        if read.is_empty() {
            return;
        }
        if std::mem::take(&mut self.answered) && begins_request_line(read) {
            self.start_request();
        }
        let mut from = 0;
        for end in head_ends(&self.tail, read) {
            if begins_request_line(&read[end..]) {
                // The request that ends here keeps its last bytes before the next begins.
                self.keep(&read[from..end]);
                self.start_request();
                from = end;
            }
        }
        self.keep(&read[from..]);
        // The last four bytes (of this read, or of the ones before if it is shorter).
        let mut tail = [self.tail.as_slice(), read].concat();
        tail.drain(..tail.len().saturating_sub(4));
        self.tail = tail;
    }

    fn start_request(&mut self) {
        self.start.clear();
        self.recent.clear();
    }

    fn keep(&mut self, bytes: &[u8]) {
        let room = START_BYTES.saturating_sub(self.start.len());
        self.start.extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.remember(bytes);
    }

    fn remember(&mut self, read: &[u8]) {
        if read.len() >= RECENT_BYTES {
            self.recent.clear();
            self.recent.extend_from_slice(&read[read.len() - RECENT_BYTES..]);
        } else {
            self.recent.extend_from_slice(read);
            let excess = self.recent.len().saturating_sub(RECENT_BYTES);
            self.recent.drain(..excess);
        }
    }

    /// Takes over when `written` is hyper's automatic answer; whether it did.
    fn take_over(&mut self, written: &[u8]) -> bool {
        match (&self.phase, &self.pages, automatic_answer(written)) {
            (Phase::Passing, Some(_), Some(status)) => {
                self.phase = Phase::FindingHeadEnd { status, deadline: Box::pin(tokio::time::sleep(LINGER)), read: 0 };
                true
            }
            _ => false,
        }
    }

    fn page(&self, status: StatusCode) -> Phase {
        match self.pages.as_ref().and_then(|p| p.response(status, locale_of(&[&self.start, &self.recent]), &self.start)) {
            Some(page) => Phase::Writing { page, written: 0 },
            None => Phase::Done,
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> RewriteOversized<IO> {
    /// Drives our answer: the rest of the head, the page, the drain.
    fn poll_answer(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            match &mut self.phase {
                // Every flush of every answer passes here: nothing to do, nothing to set up.
                Phase::Passing | Phase::Done => return Poll::Ready(Ok(())),
                Phase::FindingHeadEnd { status, deadline, read } => {
                    let status = *status;
                    if contains(&self.recent, b"\r\n\r\n") || *read >= LINGER_BYTES {
                        self.phase = self.page(status);
                        continue;
                    }
                    let mut scratch = [0u8; 8192];
                    let mut buf = ReadBuf::new(&mut scratch);
                    match Pin::new(&mut self.io).poll_read(cx, &mut buf) {
                        Poll::Ready(Ok(())) if !buf.filled().is_empty() => {
                            *read += buf.filled().len();
                            let filled = buf.filled().to_vec();
                            self.remember(&filled);
                        }
                        Poll::Ready(_) => self.phase = self.page(status),
                        Poll::Pending if deadline.as_mut().poll(cx).is_ready() => self.phase = self.page(status),
                        Poll::Pending => return Poll::Pending,
                    }
                }
                Phase::Writing { page, written } => {
                    if *written >= page.len() {
                        self.phase = Phase::Draining { deadline: Box::pin(tokio::time::sleep(LINGER)), read: 0 };
                        continue;
                    }
                    let n = ready!(Pin::new(&mut self.io).poll_write(cx, &page[*written..]))?;
                    if n == 0 {
                        return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                    }
                    *written += n;
                }
                Phase::Draining { deadline, read } => {
                    ready!(Pin::new(&mut self.io).poll_flush(cx))?;
                    let mut scratch = [0u8; 8192];
                    let mut buf = ReadBuf::new(&mut scratch);
                    match Pin::new(&mut self.io).poll_read(cx, &mut buf) {
                        Poll::Ready(Ok(())) if !buf.filled().is_empty() && *read < LINGER_BYTES => *read += buf.filled().len(),
                        Poll::Ready(_) => self.phase = Phase::Done,
                        Poll::Pending if deadline.as_mut().poll(cx).is_ready() => self.phase = Phase::Done,
                        Poll::Pending => return Poll::Pending,
                    }
                }
            }
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for RewriteOversized<IO> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        if this.pages.is_some() && matches!(polled, Poll::Ready(Ok(()))) {
            this.remember_request(&buf.filled()[before..]);
        }
        polled
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RewriteOversized<IO> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // hyper's answer is taken whole; the flush and shutdown it does next write ours.
        if this.take_over(buf) || !matches!(this.phase, Phase::Passing) {
            return Poll::Ready(Ok(buf.len()));
        }
        this.answered = true;
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let mut non_empty = bufs.iter().filter(|b| !b.is_empty());
        let only = match (non_empty.next(), non_empty.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        };
        if only.is_some_and(|b| this.take_over(b)) || !matches!(this.phase, Phase::Passing) {
            return Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()));
        }
        this.answered = true;
        Pin::new(&mut this.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_answer(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_answer(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    const HYPER_414: &[u8] = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Sat, 05 Dec 2026 23:00:00 GMT\r\n\r\n";

    #[test]
    fn only_hypers_bare_answers_are_recognised() {
        assert_eq!(automatic_answer(HYPER_414), Some(StatusCode::URI_TOO_LONG));
        let bare_431 = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert_eq!(automatic_answer(bare_431), Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE));
        assert_eq!(automatic_answer(b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 12\r\n\r\n"), None, "a body");
        assert_eq!(automatic_answer(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"), None);
        assert_eq!(automatic_answer(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"), None);
        assert_eq!(automatic_answer(&HYPER_414[..HYPER_414.len() - 2]), None, "not a whole head");
    }

    #[test]
    fn the_language_comes_from_the_cookie_else_accept_language() {
        assert_eq!(locale_of(&[b"GET /x HTTP/1.1\r\nhost: a\r\nAccept-Language: en-US,en;q=0.9\r\n\r\n"]), Locale::En);
        assert_eq!(locale_of(&[b"GET /x HTTP/1.1\r\naccept-language: ja\r\n\r\n"]), Locale::Ja);
        assert_eq!(locale_of(&[b"GET /x HTTP/1.1\r\naccept-language: en\r\ncookie: a=b; mamori_lang=ja\r\n\r\n"]), Locale::Ja);
        assert_eq!(locale_of(&[b"AAAA"]), Locale::default());
        // The start of a request and its end: the end's header wins, the start's is used
        // when the end has none.
        assert_eq!(locale_of(&[b"GET /x HTTP/1.1\r\naccept-language: en\r\nx-pad: aaa", b"aaaa\r\n\r\n"]), Locale::En);
        assert_eq!(locale_of(&[b"GET /x HTTP/1.1\r\naccept-language: en\r\nx-pad: a", b"aa\r\naccept-language: ja\r\n\r\n"]), Locale::Ja);
    }

    #[test]
    fn heads_end_where_crlfcrlf_ends_also_across_reads() {
        assert_eq!(head_ends(b"", b"GET / HTTP/1.1\r\n\r\nGET"), vec![18]);
        assert_eq!(head_ends(b"1\r\n\r", b"\nGET"), vec![1]);
        assert_eq!(head_ends(b"\r\n\r\n", b"GET /"), vec![0], "a head that ended with the last read");
        assert_eq!(head_ends(b"abcd", b"ef"), Vec::<usize>::new());
        assert!(begins_request_line(b"GET /scim/v2/Users") && begins_request_line(b"OPTIONS * HTTP/1.1"));
        assert!(
            !begins_request_line(b"aaaaaaaa")
                && !begins_request_line(b"X-Pad: a")
                && !begins_request_line(b"get /")
                && !begins_request_line(b"")
        );
    }

    fn pages() -> Arc<OversizedPages> {
        Arc::new(OversizedPages::render(&Ui::new(), &[("x-frame-options", "DENY")]).expect("renders"))
    }

    /// What a client sending `head` gets when hyper answers `hyper_answer` after reading
    /// `hyper_reads` bytes of it.
    async fn answer_to(head: String, hyper_reads: usize, hyper_answer: &[u8]) -> String {
        let (mut client, server) = tokio::io::duplex(1024 * 1024);
        let mut wrapped = RewriteOversized::new(server, Some(pages()));
        client.write_all(head.as_bytes()).await.expect("sends");
        client.shutdown().await.expect("ends its request");
        let mut seen = vec![0u8; hyper_reads];
        wrapped.read_exact(&mut seen).await.expect("reads");
        wrapped.write_all(hyper_answer).await.expect("writes");
        wrapped.flush().await.expect("flushes");
        wrapped.shutdown().await.expect("shuts down");
        let mut answer = String::new();
        client.read_to_string(&mut answer).await.expect("receives");
        answer
    }

    #[tokio::test]
    async fn hypers_answer_becomes_our_page_in_the_clients_language() {
        let head = format!("GET /t/demo/saml/sso?SAMLRequest={} HTTP/1.1\r\naccept-language: en\r\n\r\n", "A".repeat(20_000));
        let answer = answer_to(head.clone(), head.len(), HYPER_414).await;
        assert!(answer.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{answer}");
        assert!(answer.contains("content-type: text/html; charset=utf-8\r\n"));
        assert!(answer.contains("x-frame-options: DENY\r\n"));
        assert!(answer.contains(r#"<html lang="en">"#), "{answer}");
        let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
        assert!(head.contains(&format!("content-length: {}\r\n", body.len())));
    }

    #[tokio::test]
    async fn a_scim_request_gets_scims_json_error_not_the_page() {
        let head = format!("GET /scim/v2/t/acme/Users?filter={} HTTP/1.1\r\naccept-language: en\r\n\r\n", "a".repeat(70_000));
        let answer = answer_to(head.clone(), head.len(), HYPER_414).await;
        assert!(answer.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{answer}");
        assert!(answer.contains("content-type: application/scim+json\r\n"), "{answer}");
        let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
        assert!(head.contains(&format!("content-length: {}\r\n", body.len())));
        let body: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert_eq!((body["schemas"][0].as_str(), body["status"].as_str()), (Some(crate::scim::error::ERROR_SCHEMA), Some("414")));
        // A path that only contains /scim/v2/ further on is a page's.
        let page = format!("GET /t/demo/saml/sso?next=/scim/v2/{} HTTP/1.1\r\n\r\n", "a".repeat(70_000));
        assert!(answer_to(page.clone(), page.len(), HYPER_414).await.contains("text/html"));
    }

    #[tokio::test]
    async fn a_head_hyper_gave_up_on_is_read_to_its_end_for_the_language() {
        let head = format!("GET /t/demo/saml/sso?SAMLRequest={} HTTP/1.1\r\naccept-language: en\r\n\r\n", "A".repeat(50_000));
        let bare_431 = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let answer = answer_to(head, 30_000, bare_431).await;
        assert!(answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"), "{answer}");
        assert!(answer.contains(r#"<html lang="en">"#), "{answer}");
    }

    /// What a client that sent `sent` at once receives when hyper, in turn, reads so many
    /// bytes and writes an answer.
    async fn answers_to(sent: String, steps: &[(usize, &[u8])]) -> String {
        let (mut client, server) = tokio::io::duplex(4 * 1024 * 1024);
        let mut wrapped = RewriteOversized::new(server, Some(pages()));
        client.write_all(sent.as_bytes()).await.expect("sends");
        client.shutdown().await.expect("ends its requests");
        for (reads, answer) in steps {
            let mut seen = vec![0u8; *reads];
            wrapped.read_exact(&mut seen).await.expect("reads");
            wrapped.write_all(answer).await.expect("writes");
            wrapped.flush().await.expect("flushes");
        }
        wrapped.shutdown().await.expect("shuts down");
        let mut answer = String::new();
        client.read_to_string(&mut answer).await.expect("receives");
        answer
    }

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

    #[tokio::test]
    async fn a_scim_request_after_others_on_the_connection_gets_scims_error() {
        let scim = format!("GET /scim/v2/t/acme/Users?filter={} HTTP/1.1\r\naccept-language: en\r\n\r\n", "a".repeat(70_000));
        let first = "GET /healthz HTTP/1.1\r\nhost: a\r\naccept-language: ja\r\n\r\n".to_owned();
        let post = "POST /t/demo/token HTTP/1.1\r\ncontent-length: 5\r\n\r\na=b&c".to_owned();
        // Pipelined: the SCIM request arrives in the same read as the one before it.
        let pipelined = answers_to(format!("{first}{scim}"), &[(first.len() + 100, OK), (scim.len() - 100, HYPER_414)]).await;
        // Read after the answer to a request with a body.
        let after_body = answers_to(format!("{post}{scim}"), &[(post.len(), OK), (scim.len(), HYPER_414)]).await;
        for answer in [pipelined, after_body] {
            let last = answer.rsplit_once("HTTP/1.1 ").map(|(_, a)| a).expect("two answers");
            assert!(last.starts_with("414 URI Too Long\r\n") && last.contains("application/scim+json"), "{answer}");
        }
    }

    #[tokio::test]
    async fn the_language_is_the_oversized_requests_own_before_or_after_a_huge_header() {
        let first = "GET / HTTP/1.1\r\naccept-language: ja\r\n\r\n".to_owned();
        let bare_431 = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        for (language, huge) in [
            ("en", format!("GET / HTTP/1.1\r\nAccept-Language: en\r\nX-Pad: {}\r\n\r\n", "a".repeat(1_100_000))),
            ("en", format!("GET / HTTP/1.1\r\nCookie: mamori_lang=en; pad={}\r\n\r\n", "a".repeat(1_100_000))),
            ("en", format!("GET / HTTP/1.1\r\nX-Pad: {}\r\nAccept-Language: en\r\n\r\n", "a".repeat(1_100_000))),
        ] {
            let answer = answers_to(format!("{first}{huge}"), &[(first.len(), OK), (500_000, bare_431)]).await;
            let last = answer.rsplit_once("HTTP/1.1 ").map(|(_, a)| a).expect("two answers");
            assert!(last.starts_with("431 ") && last.contains(&format!(r#"<html lang="{language}">"#)), "{}", &last[..200.min(last.len())]);
        }
    }

    #[tokio::test]
    async fn everything_else_passes_through_untouched() {
        for (pages, written) in [(Some(pages()), &b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"[..]), (None, HYPER_414)] {
            let (mut client, server) = tokio::io::duplex(64 * 1024);
            let mut wrapped = RewriteOversized::new(server, pages);
            wrapped.write_all(written).await.expect("writes");
            wrapped.shutdown().await.expect("shuts down");
            let mut answer = Vec::new();
            client.read_to_end(&mut answer).await.expect("receives");
            assert_eq!(answer, written, "without pages, even hyper's answer is left as it is");
        }
    }
}
