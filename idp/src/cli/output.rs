//! Printing for the `mamori admin` commands that go through the admin service layer:
//! `--output json` prints what the REST API returns for the same operation, so a script
//! can move between the two; `--output text` is for people.

use super::OutputFormat;

/// Prints `json` as pretty JSON or `text()` as plain text.
pub fn print<T: serde::Serialize>(format: OutputFormat, json: &T, text: impl FnOnce() -> String) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(json)?),
        OutputFormat::Text => {
            let text = text();
            if !text.is_empty() {
                println!("{text}");
            }
        }
    }
    Ok(())
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
