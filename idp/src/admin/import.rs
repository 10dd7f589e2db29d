//! Bulk import of users from CSV. Each row stands alone: a bad row is reported with its
//! line number and reason and never stops the good ones.

/// The largest CSV user import accepted, in bytes (which also takes at most 10,000 rows);
/// the API's body limit and the CLI's file limit.
pub const CSV_IMPORT_BYTES: usize = 4 * 1024 * 1024;

use mamori_storage::model::ApiScope;

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
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct ImportReport {
    pub created: Vec<String>,
    pub failed: Vec<RowFailure>,
}

/// Imports users from CSV with a header line naming the columns: `login_id` and `email`
/// are required; `display_name`, `login_method`, `locale` and `time_zone` are optional.
pub async fn import_users(app: &App, principal: &Principal, slug: &str, text: &str) -> Result<ImportReport, AdminError> {
    let tenant = principal.tenant(app, slug, ApiScope::Write).await?;
    let table = super::csv::table(text, &COLUMNS, &["login_id", "email"], MAX_ROWS).map_err(|e| {
        AdminError::Invalid(match e {
            TableError::Empty => "the CSV is empty: the first line must name the columns".to_owned(),
            TableError::HeaderNotFirst => "the first line must name the columns".to_owned(),
            TableError::UnknownColumn(unknown) => format!("unknown column `{unknown}` (known: {})", COLUMNS.join(", ")),
            TableError::MissingColumn(required) => format!("the header lacks the `{required}` column"),
            TableError::TooManyRows => format!("at most {MAX_ROWS} rows per import"),
        })
    })?;
    let (names, rows, malformed) = (table.names, table.rows, table.malformed);
    let mut report = ImportReport {
        created: Vec::new(),
        failed: malformed.into_iter().map(|m| RowFailure { line: m.line, login_id: None, reason: m.reason }).collect(),
    };
    for row in rows {
        let get = |name: &str| names.iter().position(|n| n == name).and_then(|i| row.fields.get(i)).map(|v| v.trim().to_owned());
        let login_id = get("login_id").filter(|l| !l.is_empty());
        if row.fields.len() != names.len() {
            report.failed.push(RowFailure {
                line: row.line,
                login_id,
                reason: format!("{} fields where the header has {}", row.fields.len(), names.len()),
            });
            continue;
        }
        let input = NewUserInput {
            login_id: login_id.clone().unwrap_or_default(),
            email: get("email").unwrap_or_default(),
            display_name: get("display_name"),
            login_method: get("login_method"),
            locale: get("locale"),
            time_zone: get("time_zone"),
        };
        let outcome = match prepare_new_user(&tenant, &input) {
            Ok(_) => create_in(app, principal, &tenant, &input).await,
            Err(err) => Err(err),
        };
        match outcome {
            Ok(user) => report.created.push(user.login_id),
            Err(AdminError::Unavailable) => return Err(AdminError::Unavailable),
            Err(AdminError::Internal(detail)) => {
                tracing::error!(%detail, line = row.line, "user import row failed");
                report.failed.push(RowFailure { line: row.line, login_id, reason: "internal error".to_owned() });
            }
            Err(err) => report.failed.push(RowFailure { line: row.line, login_id, reason: err.to_string() }),
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
