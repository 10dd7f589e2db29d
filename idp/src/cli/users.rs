//! `mamori admin user show|update|delete|import|devices|certificates|passkeys|remove-passkey`: through the admin
//! service layer as the local super-admin, so each is checked as the API checks it and
//! every change is audited.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;

use super::OutputArgs;
use super::oidc::cli_error;
use super::output::{fields, or_dash, print, table, time_text};
use crate::admin::api::passkeys::PasskeyOut;
use crate::admin::api::schema::{CertificateOut, DeviceOut, ImportReportOut, RowFailureOut, UserOut};
use crate::admin::passkeys;
use crate::admin::users::{self, UserChanges};
use crate::admin::{Principal, import};
use crate::app::App;

/// The largest CSV file `user import` reads (as the API takes).
/// The same limit as the API's (one number for both surfaces).
const MAX_IMPORT_BYTES: u64 = crate::admin::import::CSV_IMPORT_BYTES as u64;

#[derive(Debug, Subcommand)]
pub enum UserRecordCommand {
    /// Show one user.
    Show {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        login_id: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Change a user's display name, language, time zone or login method.
    ///
    /// Absent options stay as they are. E-mail addresses belong to the user's devices and
    /// are not changed here.
    Update {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        login_id: String,
        #[arg(long)]
        display_name: Option<String>,
        /// ja or en.
        #[arg(long)]
        locale: Option<String>,
        /// An IANA time zone, e.g. Asia/Tokyo.
        #[arg(long)]
        time_zone: Option<String>,
        /// cert, cert+password, cert+password+otp, password, password+otp (as the tenant allows).
        #[arg(long)]
        method: Option<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Delete a user: their certificates are revoked and their sessions end.
    Delete {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        login_id: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Create users from a CSV file; the exit status is non-zero if any row failed.
    ///
    /// The first line names the columns: login_id, email (required), display_name,
    /// login_method, locale, time_zone. Each row stands alone: a bad row never stops the
    /// good ones, and the report gives the line and reason of every failed row.
    Import {
        #[arg(long)]
        tenant: String,
        /// The CSV file (UTF-8); `-` reads standard input.
        #[arg(long)]
        file: PathBuf,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// A user's devices, deleted ones included.
    Devices {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        login_id: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// A user's certificates, newest first.
    Certificates {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        login_id: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// A user's passkeys, oldest first.
    Passkeys {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        login_id: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Remove one of a user's passkeys, even the last one; the user is told by mail.
    ///
    /// A user left without the passkey their login method needs recovers through a
    /// reissue (`mamori admin user reissue-cert` or an enrollment ticket).
    RemovePasskey {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        login_id: String,
        /// The passkey's ID, as `user passkeys` lists it.
        #[arg(long)]
        id: String,
        #[command(flatten)]
        output: OutputArgs,
    },
}

pub async fn run(app: &App, command: UserRecordCommand) -> anyhow::Result<()> {
    let principal = Principal::local_cli();
    match command {
        UserRecordCommand::Show { tenant, login_id, output } => {
            let user = users::get(app, &principal, &tenant, &login_id).await.map_err(cli_error)?;
            let out = UserOut::from(&user);
            // The addresses belong to the devices; text shows them with the user (the JSON
            // stays the API's, where they come from the devices endpoint).
            let devices = users::devices(app, &principal, &tenant, &login_id).await.map_err(cli_error)?;
            let mut addresses: Vec<String> = devices.iter().filter(|d| d.deleted_at.is_none()).map(|d| d.email.clone()).collect();
            addresses.dedup();
            print(output.output, &out, || fields(&user_rows(&out, Some(or_dash(Some(&addresses.join(", ")))))))
        }
        UserRecordCommand::Update { tenant, login_id, display_name, locale, time_zone, method, output } => {
            if display_name.is_none() && locale.is_none() && time_zone.is_none() && method.is_none() {
                anyhow::bail!("nothing to change: give --display-name, --locale, --time-zone or --method");
            }
            let changes = UserChanges { display_name, locale, time_zone, login_method: method };
            let user = users::update(app, &principal, &tenant, &login_id, &changes).await.map_err(cli_error)?;
            let out = UserOut::from(&user);
            print(output.output, &out, || format!("updated {login_id}\n{}", user_fields(&out)))
        }
        UserRecordCommand::Delete { tenant, login_id, output } => {
            users::delete(app, &principal, &tenant, &login_id).await.map_err(cli_error)?;
            print(output.output, &serde_json::json!({"deleted": login_id, "tenant": tenant}), || {
                format!("deleted {login_id} from tenant {tenant} and revoked their certificates")
            })
        }
        UserRecordCommand::Import { tenant, file, output } => {
            let text = read_csv(&file).await?;
            let report = import::import_users(app, &principal, &tenant, &text)
                .await
                .map_err(|e| cli_error(e).context(format!("--file {}", file.display())))?;
            let out = ImportReportOut {
                created: report.created.clone(),
                failed: report
                    .failed
                    .iter()
                    .map(|f| RowFailureOut { line: f.line as u64, login_id: f.login_id.clone(), reason: f.reason.clone() })
                    .collect(),
            };
            print(output.output, &out, || {
                let mut lines = vec![format!(
                    "created {} user(s){}",
                    out.created.len(),
                    if out.created.is_empty() { String::new() } else { format!(": {}", out.created.join(", ")) }
                )];
                for f in &out.failed {
                    lines.push(format!(
                        "line {}: {}{}",
                        f.line,
                        f.login_id.as_deref().map(|l| format!("{l}: ")).unwrap_or_default(),
                        f.reason
                    ));
                }
                lines.join("\n")
            })?;
            if !out.failed.is_empty() {
                anyhow::bail!(
                    "{} of {} row(s) failed; the {} good one(s) were imported",
                    out.failed.len(),
                    out.failed.len() + out.created.len(),
                    out.created.len()
                );
            }
            Ok(())
        }
        UserRecordCommand::Devices { tenant, login_id, output } => {
            let devices = users::devices(app, &principal, &tenant, &login_id).await.map_err(cli_error)?;
            let out: Vec<DeviceOut> = devices.iter().map(DeviceOut::from).collect();
            print(output.output, &out, || {
                let rows: Vec<Vec<String>> = out
                    .iter()
                    .map(|d| {
                        let state = d.deleted_at.as_deref().map_or("active".to_owned(), |t| format!("deleted {}", time_text(t)));
                        vec![d.device_no.to_string(), d.device_type.clone(), d.email.clone(), time_text(&d.created_at), state]
                    })
                    .collect();
                table(&["DEVICE", "TYPE", "E-MAIL", "ADDED", "STATE"], &rows)
            })
        }
        UserRecordCommand::Certificates { tenant, login_id, output } => {
            let certs = users::certificates(app, &principal, &tenant, &login_id).await.map_err(cli_error)?;
            let out: Vec<CertificateOut> = certs.iter().map(CertificateOut::from).collect();
            print(output.output, &out, || certificate_lines(&out))
        }
        UserRecordCommand::Passkeys { tenant, login_id, output } => {
            let listed = passkeys::list(app, &principal, &tenant, &login_id).await.map_err(cli_error)?;
            let out: Vec<PasskeyOut> = listed.iter().map(PasskeyOut::from).collect();
            print(output.output, &out, || passkey_lines(&out))
        }
        UserRecordCommand::RemovePasskey { tenant, login_id, id, output } => {
            let removed = passkeys::remove(app, &principal, &tenant, &login_id, &id).await.map_err(cli_error)?;
            let json = serde_json::json!({"removed": PasskeyOut::from(&removed), "login_id": login_id, "tenant": tenant});
            print(output.output, &json, || {
                format!("removed passkey {} ({}) of {login_id}; they were told by mail", removed.id, removed.name)
            })
        }
    }
}

/// A table of passkeys: ID, name, when added and last used, backup flags, counter.
fn passkey_lines(passkeys: &[PasskeyOut]) -> String {
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_owned();
    let rows: Vec<Vec<String>> = passkeys
        .iter()
        .map(|p| {
            vec![
                p.id.clone(),
                p.name.clone(),
                time_text(&p.created_at),
                or_dash(p.last_used_at.as_deref().map(time_text).as_deref()),
                yes_no(p.backup_eligible),
                yes_no(p.backed_up),
                p.sign_count.to_string(),
            ]
        })
        .collect();
    table(&["ID", "NAME", "ADDED", "LAST USED", "BACKUP ELIGIBLE", "BACKED UP", "COUNTER"], &rows)
}

fn user_fields(u: &UserOut) -> String {
    fields(&user_rows(u, None))
}

/// The rows `user show` prints, with the e-mail addresses when known: one block, one
/// column of values.
fn user_rows(u: &UserOut, email: Option<String>) -> Vec<(&'static str, String)> {
    let mut rows = vec![
        ("user ID", u.login_id.clone()),
        ("name", u.display_name.clone()),
        ("login method", u.login_method.clone()),
        ("status", u.status.clone()),
        (
            "locked",
            if u.locked {
                format!("yes ({}, since {})", or_dash(u.lock_reason.as_deref()), or_dash(u.locked_at.as_deref().map(time_text).as_deref()))
            } else {
                "no".to_owned()
            },
        ),
        ("enrolled", if u.enrolled { "yes" } else { "no" }.to_owned()),
        ("must change password", if u.password_must_change { "yes" } else { "no" }.to_owned()),
        ("locale", u.locale.clone()),
        ("time zone", u.time_zone.clone()),
        ("created", time_text(&u.created_at)),
        ("updated", time_text(&u.updated_at)),
    ];
    if let Some(email) = email {
        rows.insert(2, ("e-mail", email));
    }
    rows
}

/// A table of certificates: serial, status (with reason), validity, subject.
pub fn certificate_lines(certs: &[CertificateOut]) -> String {
    let rows: Vec<Vec<String>> = certs
        .iter()
        .map(|c| {
            let status = match (&c.revoked_at, &c.revocation_reason) {
                (Some(at), reason) => format!("revoked {} ({})", time_text(at), or_dash(reason.as_deref())),
                _ => c.status.clone(),
            };
            vec![c.serial.clone(), status, time_text(&c.not_before), time_text(&c.not_after), c.subject_cn.clone()]
        })
        .collect();
    table(&["SERIAL", "STATUS", "NOT BEFORE", "NOT AFTER", "SUBJECT"], &rows)
}

async fn read_csv(file: &std::path::Path) -> anyhow::Result<String> {
    use tokio::io::AsyncReadExt as _;
    let mut bytes = Vec::new();
    let name = file.display();
    if file.as_os_str() == "-" {
        // Standard input is read on the blocking pool (tokio's async stdin is not built in).
        bytes = tokio::task::spawn_blocking(|| {
            use std::io::Read as _;
            let mut bytes = Vec::new();
            std::io::stdin().take(MAX_IMPORT_BYTES + 1).read_to_end(&mut bytes).map(|_| bytes)
        })
        .await?
        .context("cannot read standard input")?;
    } else {
        let f = tokio::fs::File::open(file).await.with_context(|| format!("--file {name}: cannot open"))?;
        f.take(MAX_IMPORT_BYTES + 1).read_to_end(&mut bytes).await.with_context(|| format!("--file {name}: cannot read"))?;
    }
    anyhow::ensure!(bytes.len() as u64 <= MAX_IMPORT_BYTES, "--file {name}: larger than {MAX_IMPORT_BYTES} bytes: split it");
    String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("--file {name}: not UTF-8 text"))
}
