//! `mamori admin certificate search|revoke` and `mamori admin events login|audit`: the
//! certificates of a tenant's users, the login history and the audit trail, through the
//! admin service layer as the local super-admin (a revocation is audited like any change).

use std::collections::HashMap;

use clap::{Args, Subcommand, ValueEnum};
use mamori_storage::model::{ApiScope, AuditQuery, CertificateQuery, CertificateStatus};
use uuid::Uuid;

use super::oidc::cli_error;
use super::output::{more_note, or_dash, paging, print, table, time_text};
use super::{OutputArgs, OutputFormat};
use crate::admin::api::schema::{
    AuditEventList, AuditEventOut, CertificateList, CertificateOut, LoginEventList, LoginEventOut, PageInfo, parse_time,
};
use crate::admin::events::LoginEventFilter;
use crate::admin::{Principal, audit, certificates, events, users};
use crate::app::App;

#[derive(Debug, Subcommand)]
pub enum CertificateCommand {
    /// Search the certificates of a tenant's users, newest first.
    Search(CertificateSearchArgs),
    /// Revoke a certificate with an RFC 5280 reason.
    ///
    /// The next CRL lists it and it logs no one in any more.
    Revoke {
        #[arg(long)]
        tenant: String,
        /// Serial number in hex.
        #[arg(long)]
        serial: String,
        /// unspecified, key-compromise, ca-compromise, affiliation-changed, superseded,
        /// cessation-of-operation, certificate-hold, privilege-withdrawn.
        #[arg(long, default_value = "unspecified")]
        reason: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Unrevoked certificates that expire within some days, soonest first, with their
    /// owners and devices (`--output json`: what the admin API's
    /// `/tenants/{tenant}/expiring-certificates` returns; the console exports it as CSV).
    Expiring {
        #[arg(long)]
        tenant: String,
        /// Days ahead, 1 to 3650.
        #[arg(long, default_value_t = crate::admin::api::expiring::DEFAULT_WITHIN_DAYS)]
        within_days: u32,
        #[command(flatten)]
        output: OutputArgs,
    },
}

#[derive(Debug, Args)]
pub struct CertificateSearchArgs {
    #[arg(long)]
    pub tenant: String,
    /// The owner's user ID.
    #[arg(long)]
    pub login_id: Option<String>,
    /// Serial number in hex.
    #[arg(long)]
    pub serial: Option<String>,
    /// active or revoked.
    #[arg(long)]
    pub status: Option<String>,
    /// Subject common names containing this text.
    #[arg(long)]
    pub subject: Option<String>,
    #[command(flatten)]
    pub page: PageArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct PageArgs {
    /// How many matches to skip.
    #[arg(long, default_value_t = 0)]
    pub offset: u64,
    /// How many to show (1 to 500).
    #[arg(long, default_value_t = 100)]
    pub limit: u64,
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// A tenant's login history, newest first, by user, result and time.
    Login(LoginEventArgs),
    /// The audit trail of admin actions (one tenant's, or every tenant's), newest first.
    Audit(AuditEventArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum EventsOutput {
    Text,
    Json,
    /// Every match (--offset/--limit ignored), as the API's login-events.csv.
    Csv,
}

#[derive(Debug, Args)]
pub struct LoginEventArgs {
    #[arg(long)]
    pub tenant: String,
    /// The user ID (also finds attempts on IDs that do not exist).
    #[arg(long)]
    pub login_id: Option<String>,
    /// A result such as success, wrong-password, locked, unknown-user.
    #[arg(long)]
    pub result: Option<String>,
    /// RFC 3339 time, e.g. 2026-04-01T09:00:00Z: events at or after it.
    #[arg(long)]
    pub since: Option<String>,
    /// RFC 3339 time: events before it.
    #[arg(long)]
    pub until: Option<String>,
    #[command(flatten)]
    pub page: PageArgs,
    #[arg(long, value_enum, default_value = "text")]
    pub output: EventsOutput,
}

#[derive(Debug, Args)]
pub struct AuditEventArgs {
    /// One tenant's trail; every tenant's (and the tenant-less actions) when absent.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Who acted, e.g. cli or token:<id>.
    #[arg(long)]
    pub actor: Option<String>,
    /// What was done, e.g. user.update.
    #[arg(long)]
    pub action: Option<String>,
    /// Targets containing this text, e.g. user:alice.
    #[arg(long)]
    pub target: Option<String>,
    /// RFC 3339 time: events at or after it.
    #[arg(long)]
    pub since: Option<String>,
    /// RFC 3339 time: events before it.
    #[arg(long)]
    pub until: Option<String>,
    #[command(flatten)]
    pub page: PageArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub async fn certificate(app: &App, command: CertificateCommand) -> anyhow::Result<()> {
    let principal = Principal::local_cli();
    match command {
        CertificateCommand::Search(a) => {
            let paging = paging(a.page.offset, a.page.limit)?;
            let status = a
                .status
                .as_deref()
                .map(|v| v.parse::<CertificateStatus>().map_err(|_| anyhow::anyhow!("--status {v}: use active or revoked")))
                .transpose()?;
            let mut query = CertificateQuery { status, serial_hex: a.serial, subject_contains: a.subject, ..CertificateQuery::default() };
            if let Some(login_id) = &a.login_id {
                let (_, user) = users::find(app, &principal, &a.tenant, login_id, ApiScope::Read).await.map_err(cli_error)?;
                query.user_id = Some(user.id);
            }
            let listed = certificates::search(app, &principal, &a.tenant, &query, None, paging).await.map_err(cli_error)?;
            let out = CertificateList { page: PageInfo::from(&listed), items: listed.items.iter().map(CertificateOut::from).collect() };
            print(a.output.output, &out, || with_note(super::users::certificate_lines(&out.items), more_note(&listed)))
        }
        CertificateCommand::Expiring { tenant, within_days, output } => {
            use crate::admin::api::expiring::{ExpiringCertificateList, ExpiringCertificateOut};
            let list = certificates::expiring(app, &principal, &tenant, within_days).await.map_err(cli_error)?;
            let out = ExpiringCertificateList { within_days, items: list.iter().map(ExpiringCertificateOut::from).collect() };
            print(output.output, &out, || expiring_table(&out))
        }
        CertificateCommand::Revoke { tenant, serial, reason, output } => {
            let cert = certificates::revoke(app, &principal, &tenant, &serial, &reason)
                .await
                .map_err(|e| cli_error(e).context(format!("--serial {serial}")))?;
            let out = CertificateOut::from(&cert);
            print(output.output, &out, || {
                format!(
                    "revoked certificate {} ({}) of tenant {tenant}: {}",
                    out.serial,
                    out.subject_cn,
                    or_dash(out.revocation_reason.as_deref())
                )
            })
        }
    }
}

/// The expiring certificates as a table, or a line saying there are none.
fn expiring_table(list: &crate::admin::api::expiring::ExpiringCertificateList) -> String {
    if list.items.is_empty() {
        return format!("no certificate expires within {} days", list.within_days);
    }
    let rows: Vec<Vec<String>> = list
        .items
        .iter()
        .map(|e| {
            vec![
                super::output::time_text(&e.not_after),
                e.login_id.clone(),
                e.device_no.map_or_else(|| "-".to_owned(), |n| n.to_string()),
                e.user_status.clone(),
                if e.renewed { "yes" } else { "no" }.to_owned(),
                e.certificate.serial.clone(),
            ]
        })
        .collect();
    super::output::table(&["EXPIRES", "LOGIN ID", "DEVICE", "USER", "RENEWED", "SERIAL"], &rows)
}

pub async fn events(app: &App, command: EventsCommand) -> anyhow::Result<()> {
    let principal = Principal::local_cli();
    match command {
        EventsCommand::Login(a) => {
            let filter = LoginEventFilter {
                login_id: a.login_id.clone(),
                since: parse_time("--since", a.since.as_deref()).map_err(cli_error)?,
                until: parse_time("--until", a.until.as_deref()).map_err(cli_error)?,
                result: a.result.clone(),
            };
            if a.output == EventsOutput::Csv {
                let csv = events::export_csv(app, &principal, &a.tenant, &filter).await.map_err(cli_error)?;
                return super::output::line(csv.strip_suffix('\n').unwrap_or(&csv));
            }
            let listed =
                events::search(app, &principal, &a.tenant, &filter, paging(a.page.offset, a.page.limit)?).await.map_err(cli_error)?;
            let names = login_ids(app, listed.items.iter().filter_map(|e| e.user_id)).await;
            let items: Vec<LoginEventOut> =
                listed.items.iter().map(|e| LoginEventOut::new(e, e.user_id.and_then(|id| names.get(&id).cloned()))).collect();
            let out = LoginEventList { page: PageInfo::from(&listed), items };
            let format = if a.output == EventsOutput::Json { OutputFormat::Json } else { OutputFormat::Text };
            print(format, &out, || {
                let rows: Vec<Vec<String>> = out
                    .items
                    .iter()
                    .map(|e| {
                        let who = e.login_id.as_deref().or(e.attempted_login_id.as_deref());
                        vec![
                            time_text(&e.occurred_at),
                            or_dash(who),
                            e.result.clone(),
                            or_dash(Some(&e.factors.join(" "))),
                            e.source_ip.clone(),
                        ]
                    })
                    .collect();
                with_note(table(&["TIME", "USER ID", "RESULT", "FACTORS", "SOURCE"], &rows), more_note(&listed))
            })
        }
        EventsCommand::Audit(a) => {
            let query = AuditQuery {
                tenant_id: None,
                actor: a.actor,
                action: a.action,
                target_contains: a.target,
                since: parse_time("--since", a.since.as_deref()).map_err(cli_error)?,
                until: parse_time("--until", a.until.as_deref()).map_err(cli_error)?,
            };
            let listed = audit::search(app, &principal, a.tenant.as_deref(), query, paging(a.page.offset, a.page.limit)?)
                .await
                .map_err(cli_error)?;
            let out = AuditEventList { page: PageInfo::from(&listed), items: listed.items.iter().map(AuditEventOut::from).collect() };
            print(a.output.output, &out, || {
                let rows: Vec<Vec<String>> = out
                    .items
                    .iter()
                    .map(|e| {
                        vec![
                            time_text(&e.occurred_at),
                            e.actor.clone(),
                            e.action.clone(),
                            e.target.clone(),
                            e.source_ip.clone(),
                            e.details.to_string(),
                        ]
                    })
                    .collect();
                with_note(table(&["TIME", "ACTOR", "ACTION", "TARGET", "SOURCE", "DETAILS"], &rows), more_note(&listed))
            })
        }
    }
}

fn with_note(text: String, note: Option<String>) -> String {
    match note {
        Some(note) if text.is_empty() => note,
        Some(note) => format!("{text}\n{note}"),
        None => text,
    }
}

/// User IDs for the users the events name, looked up once each.
async fn login_ids(app: &App, ids: impl Iterator<Item = Uuid>) -> HashMap<Uuid, String> {
    let mut out = HashMap::new();
    for id in ids {
        if let std::collections::hash_map::Entry::Vacant(slot) = out.entry(id)
            && let Ok(user) = app.storage.users().get(id).await
        {
            slot.insert(user.login_id);
        }
    }
    out
}
