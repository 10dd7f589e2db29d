//! Certificates of a tenant's users: search and revocation.

use mamori_ca::RevocationReason;
use mamori_storage::model::{ApiScope, Certificate, CertificateQuery};

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
