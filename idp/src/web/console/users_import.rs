//! Importing users from a CSV file in the console, in two steps. The upload is read and
//! checked by the service's [`import::preview_users`] (the admin API's reading and per-row
//! checks, plus "user ID taken", nothing written) and shown as a table with each bad
//! row's reason. Only a file without a bad row can be imported: the preview page carries
//! the file itself (base64, so the browser cannot rewrite its line ends) and a tag sealing
//! it to the tenant and the operator ([`crate::web::csrf::CsrfKey::seal_fields`]). The
//! confirmation checks the tag, so only the file previewed is imported, checks the rows
//! again (another operator may have taken a user ID since) and then calls
//! [`import::import_users`], the function the API's import calls, which writes the audit
//! trail. A tampered or changed file saves nothing.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine as _;
use mamori_storage::model::ApiScope;

use super::users::user_href;
use super::{Console, console_or_return, open_console};
use crate::admin::AdminError;
use crate::admin::import::{self, CSV_IMPORT_BYTES, ImportPreview, RowFailure};
use crate::admin::users::NewUserInput;
use crate::state::SharedState;
use crate::urlcode;
use crate::web::context::{PageCtx, PostedUpload, field};

/// The body limit of both forms: the largest file the import takes, as base64 on the
/// confirmation (4/3 of it), with room for the other fields. A file a little over the
/// import's own limit gets the page's message rather than the bare 413 page.
pub const FORM_BODY_BYTES: usize = CSV_IMPORT_BYTES * 2;

/// What the seal of a previewed file is for (it is no use elsewhere).
const SEAL_PURPOSE: &str = "console users import v2";
/// How long a preview may be confirmed: a page left open (or its form kept) must not
/// import, much later, users deleted since.
const PREVIEW_VALID: time::Duration = time::Duration::minutes(30);

/// Rows of each kind shown in the preview; the counts cover the rest.
const SHOWN_FAILED: usize = 200;
const SHOWN_READY: usize = 100;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/console/t/{tenant}/users-import", get(form).post(preview).layer(DefaultBodyLimit::max(FORM_BODY_BYTES)))
        .route("/console/t/{tenant}/users-import/confirm", post(confirm).layer(DefaultBodyLimit::max(FORM_BODY_BYTES)))
}

/// `/console/t/{tenant}/users-import` and its confirmation: the two upload forms, for
/// the body limit (`server::body_limit`).
pub fn is_import_form(path: &str) -> bool {
    path.strip_prefix("/console/t/")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(_tenant, rest)| rest == "users-import" || rest == "users-import/confirm")
}

fn import_path(tenant: &str) -> String {
    format!("/console/t/{}/users-import", urlcode::component(tenant))
}

async fn form(ctx: PageCtx, Path(tenant): Path<String>) -> Response {
    let console = console_or_return!(ctx, &import_path(&tenant));
    // The tenant check before the form, so another tenant's form is a 404 too.
    if let Err(err) = console.principal.tenant(console.ctx.app(), &tenant, ApiScope::Write).await {
        return console.refused(&err).await;
    }
    import_page(&console, &tenant, StatusCode::OK, &[], None).await
}

/// The import page: the upload form, the problems of a file refused as a whole, and the
/// preview of a file read.
async fn import_page(
    console: &Console,
    tenant: &str,
    status: StatusCode,
    problems: &[String],
    preview: Option<serde_json::Value>,
) -> Response {
    let ctx = serde_json::json!({
        "format_hint": message(console, "console.import.format_hint"),
        "action": import_path(tenant),
        "confirm_action": format!("{}/confirm", import_path(tenant)),
        "users_href": format!("/console/t/{}/users", urlcode::component(tenant)),
        "max_rows": import::MAX_ROWS,
        "problem": problems,
        "preview": preview,
    });
    console.page(status, "console/users_import.html", tenant, ctx).await
}

/// A file's text, or the message key of why it cannot be read.
fn file_text(bytes: Option<&[u8]>) -> Result<String, &'static str> {
    let bytes = bytes.ok_or("console.import.problem.no_file")?;
    if bytes.len() > CSV_IMPORT_BYTES {
        return Err("console.import.problem.too_large");
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| "console.import.problem.not_utf8")
}

/// The message key for a file refused as a whole by the service's reading.
fn file_problem(why: &str) -> &'static str {
    if why.contains("rows per import") { "console.import.problem.too_many_rows" } else { "console.import.problem.columns" }
}

/// A page message with its `{max}` (rows, megabytes) filled in.
fn message(console: &Console, key: &str) -> String {
    console
        .ctx
        .message(key)
        .replace("{max}", &import::MAX_ROWS.to_string())
        .replace("{mb}", &(CSV_IMPORT_BYTES / (1024 * 1024)).to_string())
}

async fn preview(Path(tenant): Path<String>, upload: PostedUpload) -> Response {
    let text = file_text(upload.bytes("file"));
    let PostedUpload { ctx, .. } = upload;
    let console = console_or_return!(ctx, &import_path(&tenant));
    let app = console.ctx.app();
    // Another tenant's import is a 404 whatever the file holds.
    if let Err(err) = console.principal.tenant(app, &tenant, ApiScope::Write).await {
        return console.refused(&err).await;
    }
    let text = match text {
        Ok(text) => text,
        Err(key) => return import_page(&console, &tenant, StatusCode::UNPROCESSABLE_ENTITY, &[message(&console, key)], None).await,
    };
    let previewed = match import::preview_users(app, &console.principal, &tenant, &text).await {
        Ok(previewed) => previewed,
        Err(AdminError::Invalid(why)) => {
            let problems = [message(&console, file_problem(&why))];
            return import_page(&console, &tenant, StatusCode::UNPROCESSABLE_ENTITY, &problems, None).await;
        }
        Err(err) => return console.refused(&err).await,
    };
    let status = if previewed.failed.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let shown = preview_fields(&console, &tenant, &text, &previewed);
    import_page(&console, &tenant, status, &[], Some(shown)).await
}

/// The preview's table and counts; and, when every row is ready, the file and its seal
/// for the confirmation form.
fn preview_fields(console: &Console, tenant: &str, text: &str, previewed: &ImportPreview) -> serde_json::Value {
    let mut rows: Vec<(usize, serde_json::Value)> =
        previewed.ready.iter().take(SHOWN_READY).map(|(line, input)| (*line, row_values(*line, input))).collect();
    rows.extend(previewed.failed.iter().take(SHOWN_FAILED).map(|(f, input)| {
        let mut row = input.as_ref().map_or_else(|| serde_json::json!({"line": f.line}), |input| row_values(f.line, input));
        row["ok"] = serde_json::json!(false);
        row["login_id"] = serde_json::json!(f.login_id.clone().unwrap_or_default());
        row["problem"] = serde_json::json!(console.ctx.message(f.key));
        (f.line, row)
    }));
    rows.sort_by_key(|(line, _)| *line);
    let shown = rows.len();
    let total = previewed.ready.len() + previewed.failed.len();
    let ready = previewed.failed.is_empty() && !previewed.ready.is_empty();
    let csv = ready.then(|| base64::engine::general_purpose::STANDARD.encode(text.as_bytes()));
    let previewed_at = console.ctx.app().now().unix_timestamp().to_string();
    let seal = csv.as_deref().map(|csv| seal(console, tenant, csv, &previewed_at));
    let counted = |key: &str, n: usize| counted(console, key, n);
    serde_json::json!({
        "rows": rows.into_iter().map(|(_, row)| row).collect::<Vec<_>>(),
        "ready_count": counted("console.import.ready_count", previewed.ready.len()),
        "failed_count": (!previewed.failed.is_empty()).then(|| counted("console.import.failed_count", previewed.failed.len())),
        "hidden": (total > shown).then(|| counted("console.import.hidden", total - shown)),
        "empty": previewed.ready.is_empty() && previewed.failed.is_empty(),
        "csv": csv,
        "seal": seal,
        "previewed_at": previewed_at,
    })
}

/// A message counting `n` rows or users (its `.one` variant for one).
fn counted(console: &Console, key: &str, n: usize) -> String {
    console.ctx.app().ui.counted(console.ctx.page.locale, key, n as u64)
}

/// A row's values as the file gives them (absent: empty).
fn row_values(line: usize, input: &NewUserInput) -> serde_json::Value {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    serde_json::json!({
        "line": line, "ok": true, "login_id": input.login_id, "email": input.email,
        "display_name": text(&input.display_name), "login_method": text(&input.login_method),
        "locale": text(&input.locale), "time_zone": text(&input.time_zone),
    })
}

fn failed_row(console: &Console, f: &RowFailure) -> serde_json::Value {
    serde_json::json!({"line": f.line, "ok": false, "login_id": f.login_id, "problem": console.ctx.message(f.key)})
}

/// The tag binding a previewed file (as carried, base64) to this tenant, this operator
/// and the time of the preview.
fn seal(console: &Console, tenant: &str, csv: &str, previewed_at: &str) -> String {
    console.ctx.app().csrf.seal_fields(SEAL_PURPOSE, &[Some(tenant), Some(&console.principal.actor), Some(csv), Some(previewed_at)])
}

async fn confirm(Path(tenant): Path<String>, upload: PostedUpload) -> Response {
    let csv = upload.bytes("csv").map(<[u8]>::to_vec).unwrap_or_default();
    let PostedUpload { ctx, form, .. } = upload;
    let console = console_or_return!(ctx, &import_path(&tenant));
    let app = console.ctx.app();
    if let Err(err) = console.principal.tenant(app, &tenant, ApiScope::Write).await {
        return console.refused(&err).await;
    }
    // Only the file the preview showed, to this tenant, by this operator: anything else
    // (an edited hidden field, another tenant's preview) is refused and nothing is saved.
    let csv = String::from_utf8(csv).unwrap_or_default();
    let previewed_at = field(&form, "previewed_at");
    let sealed = console.ctx.app().csrf.fields_sealed(
        SEAL_PURPOSE,
        &[Some(&tenant), Some(&console.principal.actor), Some(&csv), Some(previewed_at)],
        field(&form, "seal"),
    );
    let text = base64::engine::general_purpose::STANDARD.decode(csv.as_bytes()).ok().and_then(|b| String::from_utf8(b).ok());
    let (true, Some(text)) = (sealed, text) else {
        tracing::info!(tenant, "console: a users import confirmed with a file other than the one previewed");
        let problems = [message(&console, "console.import.problem.tampered")];
        return import_page(&console, &tenant, StatusCode::BAD_REQUEST, &problems, None).await;
    };
    let age = previewed_at
        .parse::<i64>()
        .ok()
        .and_then(|at| time::OffsetDateTime::from_unix_timestamp(at).ok())
        .map(|at| console.ctx.app().now() - at);
    if !age.is_some_and(|age| age >= time::Duration::ZERO && age <= PREVIEW_VALID) {
        let problems = [message(&console, "console.import.problem.stale")];
        return import_page(&console, &tenant, StatusCode::CONFLICT, &problems, None).await;
    }
    // Checked again: a row the preview passed may have become bad since (a user ID taken).
    let previewed = match import::preview_users(app, &console.principal, &tenant, &text).await {
        Ok(previewed) => previewed,
        Err(err) => return console.refused(&err).await,
    };
    if !previewed.failed.is_empty() || previewed.ready.is_empty() {
        let problems = [message(&console, "console.import.problem.changed")];
        let shown = preview_fields(&console, &tenant, &text, &previewed);
        return import_page(&console, &tenant, StatusCode::CONFLICT, &problems, Some(shown)).await;
    }
    let report = match import::import_users(app, &console.principal, &tenant, &text).await {
        Ok(report) => report,
        Err(err) => return console.refused(&err).await,
    };
    let created: Vec<serde_json::Value> =
        report.created.iter().map(|id| serde_json::json!({"login_id": id, "href": user_href(&tenant, id)})).collect();
    let failed: Vec<serde_json::Value> = report.failed.iter().map(|f| failed_row(&console, f)).collect();
    console
        .page(
            StatusCode::OK,
            "console/users_imported.html",
            &tenant,
            serde_json::json!({
                "created": created,
                "created_count": counted(&console, "console.import.created_count", report.created.len()),
                "failed": failed,
                "users_href": format!("/console/t/{}/users", urlcode::component(&tenant)),
                "import_href": import_path(&tenant),
            }),
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_two_import_forms_get_the_large_body_limit() {
        assert!(is_import_form("/console/t/demo/users-import"));
        assert!(is_import_form("/console/t/demo/users-import/confirm"));
        assert!(!is_import_form("/console/t/demo/users"));
        assert!(!is_import_form("/console/t/demo/users/users-import"));
        assert!(!is_import_form("/t/demo/users-import"));
    }

    #[test]
    fn a_file_must_be_utf8_and_within_the_limit() {
        assert_eq!(file_text(None), Err("console.import.problem.no_file"));
        assert_eq!(file_text(Some(b"\xff\xfe")), Err("console.import.problem.not_utf8"));
        assert_eq!(file_text(Some(&vec![b'a'; CSV_IMPORT_BYTES + 1])), Err("console.import.problem.too_large"));
        assert_eq!(file_text(Some(b"login_id,email\n")).as_deref(), Ok("login_id,email\n"));
        assert_eq!(file_problem("at most 10000 rows per import"), "console.import.problem.too_many_rows");
        assert_eq!(file_problem("unknown column `x`"), "console.import.problem.columns");
    }

    /// The two pages with the values the handlers give them, in both languages, every
    /// form with the CSRF token.
    #[test]
    fn import_pages_render_with_real_values() {
        use mamori_ui::{Locale, Ui};
        let ui = Ui::new();
        let console =
            serde_json::json!({"tenant": "demo", "base": "/console/t/demo", "operator": "op", "role": "tenant admin", "tenants": []});
        let rows = serde_json::json!([
            {"line": 2, "ok": true, "login_id": "u1", "email": "u1@example.com", "display_name": "U", "login_method": null, "locale": "ja", "time_zone": null},
            {"line": 3, "ok": false, "login_id": null, "problem": "bad"},
        ]);
        let page = |preview: serde_json::Value| {
            serde_json::json!({"console": console, "csrf_token": "x", "action": "/a", "confirm_action": "/a/confirm", "users_href": "/u",
                "max_rows": 10000, "problem": ["p"], "preview": preview})
        };
        let pages = [
            ("console/users_import.html", page(serde_json::Value::Null)),
            (
                "console/users_import.html",
                page(
                    serde_json::json!({"rows": rows, "ready_count": "1", "failed_count": "1", "hidden": "2 more", "empty": false, "csv": null, "seal": null}),
                ),
            ),
            (
                "console/users_import.html",
                page(
                    serde_json::json!({"rows": rows, "ready_count": "1", "failed_count": null, "hidden": null, "empty": false, "csv": "bG9naW5faWQ=", "seal": "s"}),
                ),
            ),
            (
                "console/users_import.html",
                page(
                    serde_json::json!({"rows": [], "ready_count": "0", "failed_count": null, "hidden": null, "empty": true, "csv": null, "seal": null}),
                ),
            ),
            (
                "console/users_imported.html",
                serde_json::json!({"console": console, "csrf_token": "x", "created": [{"login_id": "u1", "href": "/console/t/demo/users/u1"}],
                "created_count": "1 user", "failed": [{"line": 3, "ok": false, "login_id": "u2", "problem": "taken"}], "users_href": "/u", "import_href": "/i"}),
            ),
        ];
        for (name, ctx) in pages {
            for locale in [Locale::Ja, Locale::En] {
                let html = ui.render(name, locale, &ctx).unwrap_or_else(|e| panic!("{name}: {e:#?}"));
                assert!(!html.contains("??"), "{name} {locale:?}: a missing message");
                let forms = html.matches("<form").count();
                assert_eq!(html.matches("name=\"csrf_token\" value=\"x\"").count(), forms, "{name}: every form has the CSRF token");
            }
        }
    }
}
