//! Bulk import of users from CSV. Each row stands alone: a bad row is reported with its
//! line number and reason and never stops the good ones. [`preview_users`] reads a file
//! the same way and says what an import would do, row by row, without writing anything.

/// The largest CSV user import accepted, in bytes (which also takes at most 10,000 rows);
/// the API's body limit and the CLI's file limit.
pub const CSV_IMPORT_BYTES: usize = 4 * 1024 * 1024;

use std::collections::HashMap;

use mamori_storage::model::{ApiScope, Tenant};

use super::csv::TableError;
use super::users::{NewUserInput, create_in, prepare_new_user};
use super::{AdminError, Principal, audit};
use crate::app::App;

/// The most rows one import takes (bigger files: split them).
pub const MAX_ROWS: usize = super::csv::MAX_IMPORT_ROWS;

const COLUMNS: [&str; 6] = super::csv::USER_COLUMNS;

#[derive(Clone, Debug, serde::Serialize)]
pub struct RowFailure {
    /// The line of the CSV text the row starts on (the header is line 1).
    pub line: usize,
    pub login_id: Option<String>,
    pub reason: String,
    /// The message key saying `reason` in the operator's language (pages show it; the
    /// API and the CLI give `reason`).
    #[serde(skip)]
    pub key: &'static str,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct ImportReport {
    pub created: Vec<String>,
    pub failed: Vec<RowFailure>,
}

/// What an import of a file would do, nothing written: the rows it would create (with
/// their line) and the rows it would refuse, each with its reason and, where the row
/// could be read, its values.
#[derive(Clone, Debug, Default)]
pub struct ImportPreview {
    pub ready: Vec<(usize, NewUserInput)>,
    pub failed: Vec<(RowFailure, Option<NewUserInput>)>,
}

/// A file's rows as values for [`create_in`], and the rows that cannot even be read.
struct Rows {
    rows: Vec<(usize, NewUserInput)>,
    failed: Vec<RowFailure>,
}

/// Reads the CSV: a header line naming the columns (`login_id` and `email` required,
/// `display_name`, `login_method`, `locale` and `time_zone` optional), then the rows.
fn read_rows(text: &str) -> Result<Rows, AdminError> {
    let table = super::csv::table(text, &COLUMNS, &["login_id", "email"], MAX_ROWS).map_err(|e| {
        AdminError::Invalid(match e {
            TableError::Empty => "the CSV is empty: the first line must name the columns".to_owned(),
            TableError::HeaderNotFirst => "the first line must name the columns".to_owned(),
            TableError::UnknownColumn(unknown) => format!("unknown column `{unknown}` (known: {})", COLUMNS.join(", ")),
            TableError::MissingColumn(required) => format!("the header lacks the `{required}` column"),
            TableError::TooManyRows => format!("at most {MAX_ROWS} rows per import"),
        })
    })?;
    let (names, records, malformed) = (table.names, table.rows, table.malformed);
    let mut out = Rows {
        rows: Vec::new(),
        failed: malformed
            .into_iter()
            .map(|m| RowFailure { line: m.line, login_id: None, reason: m.reason, key: "import.row.malformed" })
            .collect(),
    };
    for row in records {
        let get = |name: &str| names.iter().position(|n| n == name).and_then(|i| row.fields.get(i)).map(|v| v.trim().to_owned());
        let login_id = get("login_id").filter(|l| !l.is_empty());
        if row.fields.len() != names.len() {
            out.failed.push(RowFailure {
                line: row.line,
                login_id,
                reason: format!("{} fields where the header has {}", row.fields.len(), names.len()),
                key: "import.row.field_count",
            });
            continue;
        }
        let input = NewUserInput {
            login_id: login_id.unwrap_or_default(),
            email: get("email").unwrap_or_default(),
            display_name: get("display_name"),
            login_method: get("login_method"),
            locale: get("locale"),
            time_zone: get("time_zone"),
            ..Default::default()
        };
        out.rows.push((row.line, input));
    }
    Ok(out)
}

/// The failure of row `line` refused with `err`, its message key chosen from the error
/// (a field parser's own key; the service's texts start with the field they are about).
fn row_failure(line: usize, login_id: Option<String>, err: &AdminError) -> RowFailure {
    let key = match err {
        AdminError::Field(refused) => refused.key,
        AdminError::Conflict(_) => "import.row.taken",
        AdminError::Invalid(why) if why.starts_with("login_method") => "import.row.login_method",
        AdminError::Invalid(why) if why.starts_with("locale") => "import.row.locale",
        AdminError::Invalid(why) if why.starts_with("time_zone") => "import.row.time_zone",
        AdminError::Internal(_) => "error.internal",
        _ => "import.row.invalid",
    };
    let reason = if matches!(err, AdminError::Internal(_)) { "internal error".to_owned() } else { err.to_string() };
    RowFailure { line, login_id, reason, key }
}

/// Imports users from CSV with a header line naming the columns: `login_id` and `email`
/// are required; `display_name`, `login_method`, `locale` and `time_zone` are optional.
pub async fn import_users(app: &App, principal: &Principal, slug: &str, text: &str) -> Result<ImportReport, AdminError> {
    let tenant = principal.tenant(app, slug, ApiScope::Write).await?;
    let Rows { rows, failed } = read_rows(text)?;
    let mut report = ImportReport { created: Vec::new(), failed };
    for (line, input) in rows {
        let login_id = Some(input.login_id.clone()).filter(|l| !l.is_empty());
        let outcome = match prepare_new_user(&tenant, &input) {
            Ok(_) => create_in(app, principal, &tenant, &input).await,
            Err(err) => Err(err),
        };
        match outcome {
            Ok(user) => report.created.push(user.login_id),
            Err(AdminError::Unavailable) => return Err(AdminError::Unavailable),
            Err(err) => {
                if let AdminError::Internal(detail) = &err {
                    tracing::error!(%detail, line, "user import row failed");
                }
                report.failed.push(row_failure(line, login_id, &err));
            }
        }
    }
    report.failed.sort_by_key(|f| f.line);
    audit::record(
        app,
        principal,
        Some(tenant.id),
        "user.import",
        &format!("tenant:{}", tenant.slug),
        serde_json::json!({"created": report.created.len(), "failed": report.failed.len()}),
    )
    .await;
    Ok(report)
}

/// What [`import_users`] would do with `text`, writing nothing: the same reading and the
/// same per-row checks ([`prepare_new_user`]), and the two refusals creating the row would
/// meet, a user ID already in the tenant and one an earlier row of the file takes. The
/// same role and scope as the import itself. (Between a preview and the import another
/// operator may take a user ID: the import still refuses that row alone.)
pub async fn preview_users(app: &App, principal: &Principal, slug: &str, text: &str) -> Result<ImportPreview, AdminError> {
    let tenant = principal.tenant(app, slug, ApiScope::Write).await?;
    let Rows { rows, failed } = read_rows(text)?;
    let mut preview = ImportPreview { ready: Vec::new(), failed: failed.into_iter().map(|f| (f, None)).collect() };
    // The line of the first row taking each (checked, so normalised) user ID.
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for (line, input) in rows {
        let login_id = Some(input.login_id.clone()).filter(|l| !l.is_empty());
        match check_row(app, &tenant, &input, line, &mut first_line).await {
            Ok(()) => preview.ready.push((line, input)),
            Err(AdminError::Unavailable) => return Err(AdminError::Unavailable),
            Err(AdminError::Internal(detail)) => return Err(AdminError::Internal(detail)),
            Err(err) => preview.failed.push((row_failure(line, login_id, &err), Some(input))),
        }
    }
    preview.failed.sort_by_key(|(f, _)| f.line);
    Ok(preview)
}

async fn check_row(
    app: &App,
    tenant: &Tenant,
    input: &NewUserInput,
    line: usize,
    first_line: &mut HashMap<String, usize>,
) -> Result<(), AdminError> {
    let new = prepare_new_user(tenant, input)?;
    // Under the form the database keeps unique (case and look-alikes folded): `dupA` and
    // `DUPA` are one ID, and the preview must say so before the import trips over it.
    let skeleton = mamori_storage::model::login_id_skeleton(&new.login_id);
    if let Some(earlier) = first_line.get(&skeleton) {
        return Err(AdminError::Conflict(format!("login_id: `{}` is taken by line {earlier} of this file", new.login_id)));
    }
    first_line.insert(skeleton, line);
    if app.storage.users().login_id_in_use(tenant.id, &new.login_id).await? {
        return Err(AdminError::Conflict(format!("login_id: `{}` is taken", new.login_id)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_read_with_their_lines_and_unreadable_ones_named() {
        let text = "login_id,email,display_name\nu1,u1@example.com,One\nu2,u2@example.com\n\"u3,u3@example.com,Three\n";
        let rows = read_rows(text).expect("a table");
        assert_eq!(rows.rows.len(), 1);
        assert_eq!((rows.rows[0].0, rows.rows[0].1.login_id.as_str(), rows.rows[0].1.display_name.as_deref()), (2, "u1", Some("One")));
        let keys: Vec<(usize, &str)> = rows.failed.iter().map(|f| (f.line, f.key)).collect();
        assert!(keys.contains(&(3, "import.row.field_count")), "{keys:?}");
        assert!(keys.contains(&(4, "import.row.malformed")), "{keys:?}");
        assert!(matches!(read_rows("email\nx@example.com\n"), Err(AdminError::Invalid(m)) if m.contains("login_id")));
        assert!(matches!(read_rows(""), Err(AdminError::Invalid(_))));
    }

    #[test]
    fn failures_carry_a_message_key() {
        let f = row_failure(2, None, &AdminError::Invalid("locale: `fr` is not ja or en".into()));
        assert_eq!(f.key, "import.row.locale");
        assert_eq!(row_failure(2, None, &AdminError::Conflict("x".into())).key, "import.row.taken");
        let internal = row_failure(2, None, &AdminError::Internal("db detail".into()));
        assert_eq!((internal.key, internal.reason.as_str()), ("error.internal", "internal error"), "no detail leaks");
    }
}
