//! Printing for the `mamori admin` commands that go through the admin service layer:
//! `--output json` prints what the REST API returns for the same operation, so a script
//! can move between the two; `--output text` is for people.

use super::OutputFormat;

/// Prints `json` as pretty JSON or `text()` as plain text.
pub fn print<T: serde::Serialize>(format: OutputFormat, json: &T, text: impl FnOnce() -> String) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => line(&serde_json::to_string_pretty(json)?),
        OutputFormat::Text => {
            let text = text();
            if text.is_empty() { Ok(()) } else { line(&text) }
        }
    }
}

/// Standard output could not take the command's answer: a reader that went away (`| head`)
/// or a full disk. The command itself ran; `main` says so, or stays quiet for a closed pipe.
#[derive(Debug)]
pub struct OutputFailed(pub std::io::Error);

impl std::fmt::Display for OutputFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the command ran, but its output could not be written to standard output: {}", self.0)
    }
}

impl std::error::Error for OutputFailed {}

/// Writes `text` and a newline to standard output and flushes it, so that a failed write
/// is an error the command reports ([`OutputFailed`]) instead of `println!`'s panic, and is
/// not lost in a buffer flushed silently at exit.
pub fn line(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").and_then(|()| out.flush()).map_err(|e| OutputFailed(e).into())
}

/// A note for people on standard error (what was written where); a closed stderr loses
/// the note, never the command (`eprintln!` would panic).
pub fn note(text: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// `2026-12-02T14:05:50Z`: the one way the command line writes a time, in text and in
/// the JSON of its own commands (RFC 3339, UTC, whole seconds), unlike `OffsetDateTime`'s
/// `Display` with nanoseconds and a `+00:00:00` offset, or a bare Unix number.
pub fn time(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC).replace_nanosecond(0).unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// An RFC 3339 time as the API writes it (fractions included), in [`time`]'s form; text
/// that is not such a time is shown as it is.
pub fn time_text(value: &str) -> String {
    time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339).map_or_else(|_| value.to_owned(), self::time)
}

/// `label: value` lines with the values aligned, for showing one object.
pub fn fields(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(label, _)| label.chars().count()).max().unwrap_or(0) + 1;
    rows.iter().map(|(label, value)| format!("{:<width$} {value}", format!("{label}:"))).collect::<Vec<_>>().join("\n")
}

/// The value or `-` when absent, for text columns.
pub fn or_dash(value: Option<&str>) -> String {
    value.filter(|v| !v.is_empty()).unwrap_or("-").to_owned()
}

/// `--offset`/`--limit` checked as the API checks them.
pub fn paging(offset: u64, limit: u64) -> anyhow::Result<crate::admin::Paging> {
    crate::admin::Paging::new(Some(offset), Some(limit)).map_err(|e| anyhow::anyhow!("--limit/--offset: {e}"))
}

/// The total when a page holds fewer items than match, so text output does not hide them.
pub fn more_note<T>(listed: &crate::admin::Listed<T>) -> Option<String> {
    let shown = listed.items.len() as u64;
    (listed.paging.offset + shown < listed.total).then(|| {
        format!("({shown} shown from offset {} of {} matching; use --offset/--limit for more)", listed.paging.offset, listed.total)
    })
}

/// Columns under a header row, each as wide as its widest cell (the last one unpadded).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| if i == last { (*c).to_owned() } else { format!("{c:<width$}", width = widths[i]) })
            .collect::<Vec<_>>()
            .join("  ")
    };
    std::iter::once(line(header.to_vec()))
        .chain(rows.iter().map(|r| line(r.iter().map(String::as_str).collect())))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_rfc_3339_utc_whole_seconds() {
        let t = time::macros::datetime!(2026-12-02 23:05:50.123456789 +09:00);
        assert_eq!(super::time(t), "2026-12-02T14:05:50Z");
        assert_eq!(super::time_text("2026-12-02T14:05:50.5+00:00"), "2026-12-02T14:05:50Z");
        assert_eq!(super::time_text("-"), "-");
    }

    #[test]
    fn a_table_aligns_its_columns_under_the_header() {
        let rows = vec![vec!["ops".to_owned(), "root".to_owned(), "x".to_owned()], vec!["a".to_owned(), "b".to_owned(), "y".to_owned()]];
        assert_eq!(super::table(&["TENANT", "ID", "Z"], &rows), "TENANT  ID    Z\nops     root  x\na       b     y");
    }
}
