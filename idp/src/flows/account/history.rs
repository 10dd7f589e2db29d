//! The login history of the last month (flow 4), in the user's time zone and paged like
//! the manual ("1 ~ 20 / 57 items", page "1/3").

use mamori_storage::model::{LoginEvent, User};
use serde::Serialize;
use time::OffsetDateTime;

use crate::app::App;

/// The user's IANA zone from the bundled database; UTC for a name it does not know.
pub fn zone(name: &str) -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get(name).unwrap_or(jiff::tz::TimeZone::UTC)
}

fn zoned(at: OffsetDateTime, time_zone: &str) -> Option<jiff::ZonedDateTime> {
    let ts = jiff::Timestamp::from_nanosecond(at.unix_timestamp_nanos()).ok()?;
    Some(ts.to_zoned_datetime(zone(time_zone)))
}

/// A moment as the user reads it: `2026-11-24 03:05:09 JST`.
pub fn format_date_time(at: OffsetDateTime, time_zone: &str) -> String {
    zoned(at, time_zone).map_or_else(|| at.to_string(), |z| z.strftime("%Y-%m-%d %H:%M:%S %Z").to_string())
}

/// A day as the user reads it: `2027-11-24`.
pub fn format_date(at: OffsetDateTime, time_zone: &str) -> String {
    zoned(at, time_zone).map_or_else(|| at.date().to_string(), |z| z.strftime("%Y-%m-%d").to_string())
}

/// The start of the login history: one calendar month before `now` on the user's clock.
pub fn history_since(now: OffsetDateTime, time_zone: &str) -> OffsetDateTime {
    let fallback = now - time::Duration::days(31);
    let Some(z) = zoned(now, time_zone) else { return fallback };
    match z.checked_sub(jiff::Span::new().months(1)) {
        Ok(back) => OffsetDateTime::from_unix_timestamp(back.timestamp().as_second()).unwrap_or(fallback),
        Err(_) => fallback,
    }
}

pub const HISTORY_PAGE_SIZE: u64 = 20;

/// Where a page sits in a list: "first ~ last / total items", page "page/pages".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PageSummary {
    pub first: u64,
    pub last: u64,
    pub total: u64,
    pub page: u64,
    pub pages: u64,
}

/// The page actually shown for a requested one (1-based, clamped into range).
pub fn page_summary(total: u64, requested_page: u64, per_page: u64) -> PageSummary {
    let per_page = per_page.max(1);
    let pages = total.div_ceil(per_page).max(1);
    let page = requested_page.clamp(1, pages);
    let first = if total == 0 { 0 } else { (page - 1) * per_page + 1 };
    let last = (page * per_page).min(total);
    PageSummary { first, last, total, page, pages }
}

/// One row of the history, ready to show.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryRow {
    pub at: String,
    pub source_ip: String,
    /// The stored result (`success`, `wrong-password`, `password-changed`, …).
    pub result: String,
    pub success: bool,
    pub factors: String,
}

pub struct HistoryPage {
    pub rows: Vec<HistoryRow>,
    pub summary: PageSummary,
}

/// The user's login and audit events of the last month, newest first, `requested_page`
/// of them (clamped to the pages there are).
pub async fn login_history(app: &App, user: &User, requested_page: u64) -> anyhow::Result<HistoryPage> {
    let since = history_since(app.now(), &user.time_zone);
    let events = app.storage.login_events();
    let offset = (requested_page.max(1) - 1) * HISTORY_PAGE_SIZE;
    let mut page = events.list_for_user(user.id, since, offset, HISTORY_PAGE_SIZE).await?;
    let summary = page_summary(page.total, requested_page, HISTORY_PAGE_SIZE);
    if summary.page != requested_page.max(1) {
        page = events.list_for_user(user.id, since, (summary.page - 1) * HISTORY_PAGE_SIZE, HISTORY_PAGE_SIZE).await?;
    }
    let summary = page_summary(page.total, summary.page, HISTORY_PAGE_SIZE);
    let rows = page.items.iter().map(|e| history_row(e, &user.time_zone)).collect();
    Ok(HistoryPage { rows, summary })
}

fn history_row(event: &LoginEvent, time_zone: &str) -> HistoryRow {
    HistoryRow {
        at: format_date_time(event.occurred_at, time_zone),
        source_ip: event.source_ip.clone(),
        result: event.result.as_str().to_owned(),
        success: event.result.is_success(),
        factors: event.factors.join(" "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_summarised_like_the_manual() {
        assert_eq!(page_summary(57, 1, 20), PageSummary { first: 1, last: 20, total: 57, page: 1, pages: 3 });
        assert_eq!(page_summary(57, 3, 20), PageSummary { first: 41, last: 57, total: 57, page: 3, pages: 3 });
        assert_eq!(page_summary(57, 9, 20).page, 3, "past the end shows the last page");
        assert_eq!(page_summary(57, 0, 20).page, 1);
        assert_eq!(page_summary(3, 1, 20), PageSummary { first: 1, last: 3, total: 3, page: 1, pages: 1 });
        assert_eq!(page_summary(0, 1, 20), PageSummary { first: 0, last: 0, total: 0, page: 1, pages: 1 });
        assert_eq!(page_summary(40, 2, 20), PageSummary { first: 21, last: 40, total: 40, page: 2, pages: 2 });
    }

    #[test]
    fn times_are_shown_in_the_users_zone() {
        let at = OffsetDateTime::from_unix_timestamp(1_767_225_600).expect("time"); // 2026-01-01T00:00:00Z
        assert_eq!(format_date_time(at, "Asia/Tokyo"), "2026-01-01 09:00:00 JST");
        assert_eq!(format_date_time(at, "America/New_York"), "2025-12-31 19:00:00 EST");
        assert_eq!(format_date_time(at, "Not/AZone"), "2026-01-01 00:00:00 UTC");
        assert_eq!(format_date(at, "America/New_York"), "2025-12-31");
        let summer = OffsetDateTime::from_unix_timestamp(1_782_864_000).expect("time"); // 2026-07-01T00:00:00Z
        assert_eq!(format_date_time(summer, "America/New_York"), "2026-06-30 20:00:00 EDT");
    }

    #[test]
    fn the_history_covers_one_calendar_month_on_the_users_clock() {
        // 2026-03-31 10:00 JST → 2026-02-28 10:00 JST (no 31 February).
        let now = OffsetDateTime::from_unix_timestamp(1_774_918_800).expect("time");
        let since = history_since(now, "Asia/Tokyo");
        assert_eq!(format_date_time(since, "Asia/Tokyo"), "2026-02-28 10:00:00 JST");
        let days = (now - since).whole_days();
        assert!((28..=31).contains(&days));
    }
}
