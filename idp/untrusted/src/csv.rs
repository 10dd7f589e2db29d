//! Just enough RFC 4180 CSV for user imports and exports: quoted fields with doubled
//! quotes, CRLF or LF line ends, and line numbers for the per-row report; and the header
//! and row limit an import reads with ([`table`]).

/// One record with the (1-based) line it starts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub line: usize,
    pub fields: Vec<String>,
}

/// A record that cannot be read (an unterminated quote); the rest are still returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Malformed {
    pub line: usize,
    pub reason: String,
}

/// Splits `text` into records; blank lines are skipped.
pub fn parse(text: &str) -> (Vec<Record>, Vec<Malformed>) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut malformed = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let start = line;
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        let mut was_quoted = false;
        let mut bad = None;
        loop {
            let Some(c) = chars.next() else {
                if quoted {
                    bad = Some("a quoted field is not closed".to_owned());
                }
                break;
            };
            if quoted {
                match c {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => quoted = false,
                    '\n' => {
                        line += 1;
                        field.push('\n');
                    }
                    _ => field.push(c),
                }
                continue;
            }
            match c {
                '"' if field.is_empty() && !was_quoted => {
                    quoted = true;
                    was_quoted = true;
                }
                '"' => {
                    if bad.is_none() {
                        bad = Some("a quote inside an unquoted field".to_owned());
                    }
                }
                ',' => {
                    fields.push(std::mem::take(&mut field));
                    was_quoted = false;
                }
                '\r' if chars.peek() == Some(&'\n') => {}
                '\n' => {
                    line += 1;
                    break;
                }
                _ => field.push(c),
            }
        }
        fields.push(field);
        match bad {
            Some(reason) => malformed.push(Malformed { line: start, reason }),
            None if fields.len() == 1 && fields[0].trim().is_empty() => {}
            None => records.push(Record { line: start, fields }),
        }
    }
    (records, malformed)
}

/// The columns of the user import; the first two are required.
pub const USER_COLUMNS: [&str; 6] = ["login_id", "email", "display_name", "login_method", "locale", "time_zone"];
/// The most rows one user import takes (bigger files: split them).
pub const MAX_IMPORT_ROWS: usize = 10_000;

/// A CSV whose first line names its columns, read as an import reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    /// The header's column names, trimmed and lower-cased.
    pub names: Vec<String>,
    /// The records after the header, at most the `max_rows` asked for.
    pub rows: Vec<Record>,
    pub malformed: Vec<Malformed>,
}

/// Why a whole file is refused (a bad row is reported with its line instead).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TableError {
    Empty,
    /// The first record does not start on line 1 (the first line was unreadable).
    HeaderNotFirst,
    UnknownColumn(String),
    MissingColumn(&'static str),
    TooManyRows,
}

/// Reads `text` with a header naming columns among `known`, all of `required` present,
/// and at most `max_rows` rows after it.
pub fn table(text: &str, known: &[&str], required: &[&'static str], max_rows: usize) -> Result<Table, TableError> {
    let (records, malformed) = parse(text);
    let mut records = records.into_iter();
    let header = records.next().ok_or(TableError::Empty)?;
    if header.line != 1 {
        return Err(TableError::HeaderNotFirst);
    }
    let names: Vec<String> = header.fields.iter().map(|f| f.trim().to_ascii_lowercase()).collect();
    if let Some(unknown) = names.iter().find(|n| !known.contains(&n.as_str())) {
        return Err(TableError::UnknownColumn(unknown.clone()));
    }
    for &column in required {
        if !names.iter().any(|n| n == column) {
            return Err(TableError::MissingColumn(column));
        }
    }
    let rows: Vec<_> = records.collect();
    if rows.len() > max_rows {
        return Err(TableError::TooManyRows);
    }
    Ok(Table { names, rows, malformed })
}

/// A field for export: quoted when it holds a comma, quote or line break, and prefixed
/// with `'` when a spreadsheet would take it for a formula.
pub fn quote(field: &str) -> String {
    let field = if field.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{field}") } else { field.to_owned() };
    if field.contains([',', '"', '\n', '\r']) { format!("\"{}\"", field.replace('"', "\"\"")) } else { field }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_keep_their_line_numbers() {
        let (records, bad) = parse("a,b\r\n\"x, y\",\"say \"\"hi\"\"\"\n\n\"multi\nline\",z\nq,\"open\n");
        assert_eq!(records.len(), 3);
        assert_eq!(records[1], Record { line: 2, fields: vec!["x, y".into(), "say \"hi\"".into()] });
        assert_eq!(records[2], Record { line: 4, fields: vec!["multi\nline".into(), "z".into()] });
        assert_eq!(bad, [Malformed { line: 6, reason: "a quoted field is not closed".into() }]);
        let (_, bad) = parse("a\"b,c\n");
        assert_eq!(bad.len(), 1);
    }

    #[test]
    fn exports_are_quoted_and_formula_safe() {
        assert_eq!(quote("plain"), "plain");
        assert_eq!(quote("a,b"), "\"a,b\"");
        assert_eq!(quote("=1+1"), "'=1+1");
        assert_eq!(quote("say \"x\""), "\"say \"\"x\"\"\"");
    }
}
