//! Certificates of a tenant's users: search and revocation.

use mamori_ca::RevocationReason;
use mamori_storage::model::{ApiScope, Certificate, CertificateQuery, ExpiringCertificate};

use super::{AdminError, Listed, Paging, Principal, audit};
use crate::app::App;

/// The tenant's certificates matching `query`, and with `login_id` those of that user of
/// the tenant (none when the tenant has no such user: another tenant's user is no one).
pub async fn search(
    app: &App,
    principal: &Principal,
    slug: &str,
    query: &CertificateQuery,
    login_id: Option<&str>,
    paging: Paging,
) -> Result<Listed<Certificate>, AdminError> {
    let tenant = principal.tenant(app, slug, ApiScope::Read).await?;
    let mut query = query.clone();
    if let Some(login_id) = login_id {
        match app.storage.users().get_by_login_id(tenant.id, login_id).await? {
            Some(user) => query.user_id = Some(user.id),
            None => return Ok(Listed { items: Vec::new(), total: 0, paging }),
        }
    }
    let page = app.storage.certificates().search_for_tenant(tenant.id, &query, paging.offset, paging.limit).await?;
    Ok(Listed::from_page(page, paging))
}

/// The certificate with this serial, if it belongs to a user of the tenant.
pub async fn get(
    app: &App,
    principal: &Principal,
    slug: &str,
    serial: &str,
    scope: ApiScope,
) -> Result<(mamori_storage::model::Tenant, Certificate), AdminError> {
    let tenant = principal.tenant(app, slug, scope).await?;
    let query = CertificateQuery { serial_hex: Some(serial.to_owned()), ..CertificateQuery::default() };
    let page = app.storage.certificates().search_for_tenant(tenant.id, &query, 0, 1).await?;
    let cert = page
        .items
        .into_iter()
        .next()
        .ok_or_else(|| AdminError::NotFound(format!("no certificate with serial `{serial}` in tenant `{slug}`")))?;
    Ok((tenant, cert))
}

/// Revokes a certificate with an RFC 5280 reason; the next CRL lists it.
pub async fn revoke(app: &App, principal: &Principal, slug: &str, serial: &str, reason: &str) -> Result<Certificate, AdminError> {
    let reason: RevocationReason = reason.parse().map_err(|_| {
        let known: Vec<_> = RevocationReason::ALL.iter().map(|r| r.as_str()).collect();
        AdminError::Invalid(format!("reason: `{reason}` is not one of {}", known.join(", ")))
    })?;
    let (tenant, cert) = get(app, principal, slug, serial, ApiScope::Write).await?;
    // Revoking takes a user's device away: the same rule as every other change to a user.
    if let Some(user_id) = cert.user_id {
        let user = app.storage.users().get(user_id).await?;
        super::users::check_may_act_on(app, principal, &tenant, &user, "certificate.revoke").await?;
    }
    match app.ca.revoke(&cert.serial_hex, reason, app.now()).await {
        Ok(_) => {}
        Err(crate::pki::PkiError::AlreadyRevoked(_)) => return Err(AdminError::Conflict("the certificate is already revoked".to_owned())),
        Err(crate::pki::PkiError::UnknownSerial(_)) => return Err(AdminError::NotFound("no such certificate".to_owned())),
        Err(err) => return Err(AdminError::Internal(err.to_string())),
    }
    // Its sessions would end at their next request anyway; the user's others end too.
    if let Some(user_id) = cert.user_id {
        crate::flows::session_end::end_all(app, user_id).await?;
    }
    audit::record(
        app,
        principal,
        Some(tenant.id),
        "certificate.revoke",
        &format!("tenant:{}/certificate:{}", tenant.slug, cert.serial_hex),
        serde_json::json!({"reason": reason.as_str(), "subject": cert.subject_cn}),
    )
    .await;
    Ok(app.storage.certificates().get(cert.id).await?)
}

/// The widest window [`expiring`] looks ahead: ten years, beyond any validity.
pub const MAX_EXPIRING_WITHIN_DAYS: u32 = 3650;

/// The tenant's unrevoked certificates that expire within `within_days` (1 to
/// [`MAX_EXPIRING_WITHIN_DAYS`]), soonest first, with their users and devices: what the
/// admin API, the CLI and the console list and export.
pub async fn expiring(app: &App, principal: &Principal, slug: &str, within_days: u32) -> Result<Vec<ExpiringCertificate>, AdminError> {
    if !(1..=MAX_EXPIRING_WITHIN_DAYS).contains(&within_days) {
        return Err(AdminError::Invalid(format!("within_days: use a whole number from 1 to {MAX_EXPIRING_WITHIN_DAYS}")));
    }
    let tenant = principal.tenant(app, slug, ApiScope::Read).await?;
    let now = app.now();
    let until = now + time::Duration::days(i64::from(within_days));
    Ok(app.storage.certificate_expiry().expiring_for_tenant(tenant.id, now, until).await?)
}

/// The header of [`expiring_csv`].
pub const EXPIRING_CSV_HEADER: &str = "serial,subject_cn,login_id,display_name,user_status,device_no,device_email,not_after,renewed\r\n";

/// [`expiring`]'s list as CSV, one certificate a line; cells that a spreadsheet would read
/// as formulas are quoted safe.
pub fn expiring_csv(list: &[ExpiringCertificate]) -> String {
    let mut out = String::from(EXPIRING_CSV_HEADER);
    for e in list {
        let not_after = e.certificate.not_after.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        let device_no = e.device.as_ref().map(|d| d.device_no.to_string()).unwrap_or_default();
        let email = e.device.as_ref().map(|d| d.email.clone()).unwrap_or_default();
        let cells = [
            e.certificate.serial_hex.as_str(),
            &e.certificate.subject_cn,
            &e.user.login_id,
            &e.user.display_name,
            e.user.status.as_str(),
            &device_no,
            &email,
            &not_after,
            if e.renewed { "true" } else { "false" },
        ];
        out.push_str(&cells.iter().map(|c| super::csv::quote(c)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}
