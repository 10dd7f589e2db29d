//! Server-side sessions: the cookie holds a random token, the database row its SHA-256.
//! Cookies are `Secure; HttpOnly; SameSite=Lax`; a login gets a fresh token (no
//! fixation); idle and absolute limits come from the tenant's policy.

use axum::http::{HeaderMap, HeaderValue};
use mamori_storage::model::{NewSession, Tenant};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::request::cookie_value;
use crate::app::App;
use crate::flows::login::{Authenticated, LoginProgress};

pub const SESSION_COOKIE: &str = "mamori_session";

/// Everything a session remembers between requests.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SessionState {
    /// A login under way: which factors are done and what is still required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<LoginProgress>,
    /// Set once a login has completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticated: Option<Authenticated>,
}

pub struct WebSession {
    /// SHA-256 of the cookie token: the row's key.
    pub id: String,
    pub tenant_id: Uuid,
    pub user_id: Option<Uuid>,
    pub state: SessionState,
}

/// The browser's live session, with its idle limit pushed forward; `None` when it has
/// none, or it expired, or it belongs to nothing we know.
pub async fn load(app: &App, headers: &HeaderMap) -> anyhow::Result<Option<WebSession>> {
    let Some(token) = cookie_value(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let id = mamori_storage::token_lookup_hash(&token);
    let now = app.now();
    let sessions = app.shared.sessions();
    let Some(row) = sessions.get(&id, now).await? else {
        return Ok(None);
    };
    let tenant = app.storage.tenants().get(row.tenant_id).await?;
    let idle_until = now + time::Duration::minutes(i64::from(tenant.policy.session_idle_minutes));
    sessions.touch(&id, now, idle_until.min(row.absolute_expires_at)).await?;
    let state = serde_json::from_value(row.data).unwrap_or_default();
    Ok(Some(WebSession { id, tenant_id: row.tenant_id, user_id: row.user_id, state }))
}

/// Starts a session for `tenant`; returns it with the cookie to set.
pub async fn create(app: &App, tenant: &Tenant, state: SessionState) -> anyhow::Result<(WebSession, HeaderValue)> {
    let token = crate::secrets::url_token();
    let id = mamori_storage::token_lookup_hash(&token);
    let now = app.now();
    let (idle, absolute) = limits(tenant, now);
    app.shared
        .sessions()
        .create(
            &NewSession {
                id: id.clone(),
                tenant_id: tenant.id,
                user_id: None,
                data: serde_json::to_value(&state)?,
                idle_expires_at: idle,
                absolute_expires_at: absolute,
            },
            now,
        )
        .await?;
    Ok((WebSession { id, tenant_id: tenant.id, user_id: None, state }, cookie(&token)?))
}

pub async fn save(app: &App, session: &WebSession) -> anyhow::Result<()> {
    app.shared.sessions().update_data(&session.id, &serde_json::to_value(&session.state)?).await?;
    Ok(())
}

/// Binds the session to `user_id` under a fresh token (against session fixation).
pub async fn promote(app: &App, session: &mut WebSession, user_id: Uuid) -> anyhow::Result<HeaderValue> {
    let token = crate::secrets::url_token();
    let new_id = mamori_storage::token_lookup_hash(&token);
    let sessions = app.shared.sessions();
    sessions.rotate(&session.id, &new_id).await?;
    sessions.set_user(&new_id, Some(user_id)).await?;
    session.id = new_id;
    session.user_id = Some(user_id);
    save(app, session).await?;
    cookie(&token)
}

/// Ends the session; returns the header that clears the cookie.
pub async fn destroy(app: &App, session_id: &str) -> anyhow::Result<HeaderValue> {
    app.shared.sessions().delete(session_id).await?;
    Ok(HeaderValue::from_static("mamori_session=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax"))
}

fn limits(tenant: &Tenant, now: OffsetDateTime) -> (OffsetDateTime, OffsetDateTime) {
    let idle = now + time::Duration::minutes(i64::from(tenant.policy.session_idle_minutes));
    let absolute = now + time::Duration::minutes(i64::from(tenant.policy.session_absolute_minutes));
    (idle.min(absolute), absolute)
}

fn cookie(token: &str) -> anyhow::Result<HeaderValue> {
    Ok(HeaderValue::from_str(&format!("{SESSION_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Lax"))?)
}
