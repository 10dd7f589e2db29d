//! Enrollment tickets (flow 1): an operator hands a user an enrollment URL and, through
//! another channel, a one-time password. The URL token is stored as its SHA-256, the
//! one-time password as an Argon2id hash; wrong passwords count down to a lock.

use mamori_storage::model::{NewTicket, Tenant, TicketKind, User};
use time::OffsetDateTime;

use crate::app::App;

/// What the operator hands to the user; shown once, never stored in clear.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IssuedEnrollment {
    pub login_id: String,
    /// The enrollment page's path, `/enroll/{token}`.
    pub path: String,
    pub url: String,
    pub one_time_password: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// Creates a fresh enrollment ticket for `user`, voiding any older one.
pub async fn issue_enrollment_ticket(
    app: &App,
    tenant: &Tenant,
    user: &User,
    base_url: &str,
) -> anyhow::Result<IssuedEnrollment> {
    let now = app.now();
    let token = crate::secrets::url_token();
    let otp = crate::secrets::enrollment_otp();
    let otp_hash = app.hasher.hash(&otp).await?;
    let expires_at = now + time::Duration::hours(i64::from(tenant.policy.enrollment_ticket_hours));
    let tickets = app.storage.tickets();
    tickets.invalidate_for_user(user.id, TicketKind::Enrollment).await?;
    tickets
        .create(&NewTicket {
            kind: TicketKind::Enrollment,
            tenant_id: tenant.id,
            user_id: user.id,
            device_id: None,
            lookup_hash: mamori_storage::token_lookup_hash(&token),
            secret_hash: Some(otp_hash),
            acquisition_id: None,
            payload_sealed: None,
            expires_at,
            attempts: tenant.policy.lockout_threshold_enrollment_otp,
            uses: 1,
        }, now)
        .await?;
    let path = format!("/enroll/{token}");
    Ok(IssuedEnrollment {
        login_id: user.login_id.clone(),
        url: format!("{base_url}{path}"),
        path,
        one_time_password: otp,
        expires_at,
    })
}
