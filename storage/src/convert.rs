//! Conversions between stored columns (milliseconds, JSON text, small integers, strings)
//! and the plain model types.

use std::str::FromStr;

use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use crate::StorageError;
use crate::error::corrupt;

/// Unix milliseconds; times beyond the i64 range saturate (far outside any real use).
pub(crate) fn ms(t: OffsetDateTime) -> i64 {
    let millis = t.unix_timestamp_nanos() / 1_000_000;
    i64::try_from(millis).unwrap_or(if millis < 0 { i64::MIN } else { i64::MAX })
}

pub(crate) fn opt_ms(t: Option<OffsetDateTime>) -> Option<i64> {
    t.map(ms)
}

pub(crate) fn time(column: &'static str, millis: i64) -> Result<OffsetDateTime, StorageError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).map_err(|e| corrupt(column, e))
}

pub(crate) fn opt_time(column: &'static str, millis: Option<i64>) -> Result<Option<OffsetDateTime>, StorageError> {
    millis.map(|m| time(column, m)).transpose()
}

/// A stored enum spelling back into the enum.
pub(crate) fn parse<T>(column: &'static str, text: &str) -> Result<T, StorageError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e| corrupt(column, e))
}

pub(crate) fn opt_parse<T>(column: &'static str, text: Option<&str>) -> Result<Option<T>, StorageError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    text.map(|t| parse(column, t)).transpose()
}

pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<String, StorageError> {
    serde_json::to_string(value).map_err(|e| StorageError::Invalid(format!("not serialisable: {e}")))
}

pub(crate) fn from_json<T: DeserializeOwned>(column: &'static str, text: &str) -> Result<T, StorageError> {
    serde_json::from_str(text).map_err(|e| corrupt(column, e))
}

/// A stored non-negative counter as `u32` (negative values cannot occur; clamp anyway).
pub(crate) fn count(value: i32) -> u32 {
    u32::try_from(value).unwrap_or(0)
}

/// A caller-given counter or limit as a column value.
pub(crate) fn small(name: &'static str, value: u32) -> Result<i32, StorageError> {
    i32::try_from(value).map_err(|_| StorageError::Invalid(format!("{name} is too large")))
}

/// Offset/limit as the database wants them.
pub(crate) fn page_bounds(offset: u64, limit: u64) -> (u64, u64) {
    (offset, limit.min(1000))
}

/// Lower-case hex without separators, for serials and fingerprints.
pub(crate) fn normalise_hex(text: &str) -> String {
    text.chars().filter(|c| !matches!(c, ':' | ' ' | '-')).flat_map(char::to_lowercase).collect()
}

/// The one written form of a certificate serial number, the CA's (lowercase hex of the
/// number without leading zero bytes): what is stored, compared and listed, however an
/// operator, OpenSSL or a DER INTEGER spelled it (case, `:`, leading zeros).
pub fn serial_key(text: &str) -> String {
    let hex = normalise_hex(text);
    let even = if hex.len() % 2 == 1 { format!("0{hex}") } else { hex };
    let mut rest = even.as_str();
    while rest.len() > 2 && rest.starts_with("00") {
        rest = &rest[2..];
    }
    rest.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn times_round_trip_at_millisecond_precision() {
        let t = datetime!(2026-04-01 09:00:00.123456 UTC);
        assert_eq!(ms(t), 1_775_034_000_123);
        assert_eq!(time("x", ms(t)).ok(), Some(datetime!(2026-04-01 09:00:00.123 UTC)));
        assert_eq!(normalise_hex("AB:cd 0F"), "abcd0f");
        for spelling in ["1a02", "1A:02", "00:1a:02", "0001a02", " 1a02 "] {
            assert_eq!(serial_key(spelling), "1a02", "{spelling}");
        }
        assert_eq!((serial_key("00"), serial_key("0080")), ("00".into(), "80".into()));
    }
}
