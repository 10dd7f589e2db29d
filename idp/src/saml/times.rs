//! Times in SAML messages (SAML Core §1.3.3, xs:dateTime in UTC) and the arithmetic on
//! them. Times reach this code from requests (any xs:dateTime, year 0001 to 9999 and
//! beyond) and from operators (grace periods), so every sum and difference is checked:
//! leaving `time`'s range is an error to answer, never a panic.

use super::error::SamlError;
use super::limits;

/// A sum or difference of times outside what `time` holds (years -9999 to 9999).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a time is out of range")]
pub struct TimeOutOfRange;

/// `t + d`, or [`TimeOutOfRange`] where that leaves `time`'s range.
pub fn later(t: time::OffsetDateTime, d: time::Duration) -> Result<time::OffsetDateTime, TimeOutOfRange> {
    t.checked_add(d).ok_or(TimeOutOfRange)
}

/// `t - d`, checked (see [`later`]).
pub fn earlier(t: time::OffsetDateTime, d: time::Duration) -> Result<time::OffsetDateTime, TimeOutOfRange> {
    t.checked_sub(d).ok_or(TimeOutOfRange)
}

/// `time` to samael's chrono (whose range holds all of `time`'s).
pub fn chrono_time(t: time::OffsetDateTime) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(t.unix_timestamp(), t.nanosecond()).unwrap_or_default()
}

/// samael's chrono to `time`; `None` beyond `time`'s range (chrono reaches ±262143).
pub fn from_chrono(t: &chrono::DateTime<chrono::Utc>) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp(t.timestamp()).ok()
}

/// Whether an IssueInstant is acceptable at `now`. The window's ends are checked sums:
/// with a clock at the end of the calendar nothing is fresh, and nothing panics.
pub fn is_fresh(issue_instant: time::OffsetDateTime, now: time::OffsetDateTime) -> bool {
    let oldest = earlier(now, limits::MAX_REQUEST_AGE).and_then(|t| earlier(t, limits::CLOCK_SKEW));
    let newest = later(now, limits::CLOCK_SKEW);
    matches!((oldest, newest), (Ok(oldest), Ok(newest)) if issue_instant >= oldest && issue_instant <= newest)
}

/// An xs:dateTime as LogoutRequests carry it (RFC 3339 in practice); `None` when it does
/// not read or lies outside `time`'s range.
fn parse_instant(text: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339).ok()
}

/// A LogoutRequest's IssueInstant must be fresh and its NotOnOrAfter (SAML Core §3.7.1)
/// not passed at `now`, give or take the clock skew. A limit so far off that adding the
/// skew leaves the range of times is refused as out of range.
pub fn check_logout_request_times(issue_instant: &str, not_on_or_after: Option<&str>, now: time::OffsetDateTime) -> Result<(), SamlError> {
    let issued = parse_instant(issue_instant).ok_or(SamlError::Stale)?;
    if !is_fresh(issued, now) {
        return Err(SamlError::Stale);
    }
    if let Some(limit) = not_on_or_after {
        let limit = parse_instant(limit).ok_or(SamlError::Stale)?;
        if later(limit, limits::CLOCK_SKEW).map_err(|_| SamlError::TimeOutOfRange)? <= now {
            return Err(SamlError::Stale);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mamori_saml_wire::messages::parse_authn_request;

    #[test]
    fn times_convert_both_ways() {
        let t = time::macros::datetime!(2026-04-01 09:00:05 UTC);
        assert_eq!(from_chrono(&chrono_time(t)), Some(t));
        for extreme in [
            time::macros::datetime!(0001-01-01 00:00:00 UTC),
            time::macros::datetime!(9999-12-31 23:59:59 UTC),
            time::macros::datetime!(-9999-01-01 00:00:00 UTC),
        ] {
            assert_eq!(from_chrono(&chrono_time(extreme)), Some(extreme));
        }
        let far: chrono::DateTime<chrono::Utc> = "+10000-01-01T00:00:00Z".parse().expect("chrono reads five-digit years");
        assert_eq!(from_chrono(&far), None);
        assert_eq!(from_chrono(&chrono::DateTime::<chrono::Utc>::MIN_UTC), None);
        assert_eq!(from_chrono(&chrono::DateTime::<chrono::Utc>::MAX_UTC), None);
    }

    #[test]
    fn time_arithmetic_is_checked_at_both_ends() {
        // The ends of `time`'s range (year ±9999, or ±999999 with its `large-dates`).
        let (max, min) = (time::PrimitiveDateTime::MAX.assume_utc(), time::PrimitiveDateTime::MIN.assume_utc());
        assert_eq!(later(max, limits::CLOCK_SKEW), Err(TimeOutOfRange));
        assert_eq!(earlier(min, limits::CLOCK_SKEW), Err(TimeOutOfRange));
        assert_eq!(later(min, time::Duration::MAX), Err(TimeOutOfRange));
        assert_eq!(earlier(max, time::Duration::MIN), Err(TimeOutOfRange));
        let year1 = time::macros::datetime!(0001-01-01 00:00:00 UTC);
        assert_eq!(earlier(year1, time::Duration::days(1)), Ok(time::macros::datetime!(0000-12-31 00:00:00 UTC)));
        assert_eq!(later(year1, limits::CLOCK_SKEW), Ok(time::macros::datetime!(0001-01-01 00:01:00 UTC)));
    }

    #[test]
    fn issue_instants_are_fresh_within_the_window() {
        let now = time::macros::datetime!(2026-04-01 09:00 UTC);
        assert!(is_fresh(now, now));
        assert!(is_fresh(now - time::Duration::minutes(5), now));
        assert!(!is_fresh(now - time::Duration::minutes(7), now));
        assert!(is_fresh(now + time::Duration::seconds(30), now));
        assert!(!is_fresh(now + time::Duration::minutes(2), now));
    }

    #[test]
    fn issue_instants_at_the_ends_of_the_calendar_are_refused_without_panic() {
        let now = time::macros::datetime!(2026-04-01 09:00 UTC);
        let (max, min) = (time::PrimitiveDateTime::MAX.assume_utc(), time::PrimitiveDateTime::MIN.assume_utc());
        for instant in [max, min, time::macros::datetime!(0001-01-01 00:00 UTC), time::macros::datetime!(9999-12-31 23:59:59 UTC)] {
            assert!(!is_fresh(instant, now), "{instant}");
        }
        // The IdP's own clock at either end: nothing is fresh, nothing panics.
        assert!(!is_fresh(max, max));
        assert!(!is_fresh(min, min));
        // AuthnRequests carrying such instants parse; their instant converts or is out of range.
        let request = |instant: &str| {
            format!(
                r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" Version="2.0" IssueInstant="{instant}"><saml:Issuer>https://sp.example</saml:Issuer></samlp:AuthnRequest>"#
            )
        };
        for instant in ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"] {
            let (_, r) = parse_authn_request(request(instant).as_bytes()).expect("parses");
            let converted = from_chrono(&r.issue_instant).expect("in range");
            assert!(!is_fresh(converted, now), "{instant}");
        }
    }

    #[test]
    fn logout_request_times_at_the_ends_of_the_calendar_never_panic() {
        let now = time::macros::datetime!(2026-12-05 12:00:00 UTC);
        let fresh = "2026-12-05T12:00:00Z";
        assert!(check_logout_request_times(fresh, None, now).is_ok());
        assert!(check_logout_request_times(fresh, Some("2026-12-05T12:05:00Z"), now).is_ok());
        assert!(matches!(check_logout_request_times(fresh, Some("2026-12-05T11:58:00Z"), now), Err(SamlError::Stale)));
        // The limit plus the clock skew leaves the range of times: refused, no panic.
        assert!(matches!(check_logout_request_times(fresh, Some("9999-12-31T23:59:59Z"), now), Err(SamlError::TimeOutOfRange)));
        assert!(matches!(check_logout_request_times(fresh, Some("0001-01-01T00:00:00Z"), now), Err(SamlError::Stale)));
        assert!(matches!(check_logout_request_times(fresh, Some("-0001-01-01T00:00:00Z"), now), Err(SamlError::Stale)));
        for instant in
            ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "-0001-01-01T00:00:00Z", "+10000-01-01T00:00:00Z"]
        {
            assert!(matches!(check_logout_request_times(instant, None, now), Err(SamlError::Stale)), "{instant}");
        }
        // An IdP clock at either end of the range: still an answer, never a panic.
        let (max, min) = (time::PrimitiveDateTime::MAX.assume_utc(), time::PrimitiveDateTime::MIN.assume_utc());
        assert!(check_logout_request_times("9999-12-31T23:59:59Z", Some("9999-12-31T23:59:59Z"), max).is_err());
        assert!(check_logout_request_times("0001-01-01T00:00:00Z", None, min).is_err());
    }
}
