//! Server-side sessions and login transactions: each cookie holds a random token, the
//! store row its SHA-256.
//!
//! A login under way is a record of its own (cookie [`LOGIN_COOKIE`]), apart from the
//! session (cookie [`SESSION_COOKIE`]): opening or abandoning a login never touches the
//! browser's session, which is replaced, under a fresh token, only when a login
//! completes. Both cookies carry the `__Host-` prefix (Secure, `Path=/`, no Domain), so no
//! other host can set or shadow them; the two listeners share the host name and so share
//! the cookies, which is why a session is checked against the connection's certificate
//! on every request ([`logged_in`]) rather than trusted by listener.

use axum::http::{HeaderMap, HeaderValue};
use mamori_storage::model::{NewLoginEvent, NewSession, Tenant, User, UserStatus};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::context::PageCtx;
use super::request::{cookie_value, presented_certificate};
use crate::app::App;
use crate::flows::login::{Authenticated, LoginProgress};
use crate::flows::resume;
use crate::flows::session_binding::{self, Binding};
use crate::flows::session_end::{self, Ended};

pub const SESSION_COOKIE: &str = "__Host-mamori_session";
pub const LOGIN_COOKIE: &str = "__Host-mamori_login";

/// The longest a login may stay unfinished, whatever the tenant's session lifetime.
const LOGIN_MINUTES: i64 = 30;

/// Everything a session or a login record remembers between requests.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SessionState {
    /// A login under way (in a login record): which factors are done, what is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<LoginProgress>,
    /// A completed login (in a session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticated: Option<Authenticated>,
}

pub struct WebSession {
    /// SHA-256 of the cookie token: the row's key.
    pub id: String,
    pub tenant_id: Uuid,
    pub user_id: Option<Uuid>,
    pub state: SessionState,
    /// When the session ends whatever its activity (what an SP's
    /// `SessionNotOnOrAfter` says).
    pub absolute_expires_at: OffsetDateTime,
}

/// Activity moves a session's idle limit forward at most this often: a page that makes
/// several requests writes once, and the limit is at most this much early.
const TOUCH_GRANULARITY: time::Duration = time::Duration::seconds(10);

/// The browser's session, with its idle limit pushed forward; `None` when it has none,
/// or it expired, or it belongs to nothing we know. It is not yet checked against the
/// connection: pages that a session opens use [`logged_in`].
pub async fn load(app: &App, headers: &HeaderMap) -> anyhow::Result<Option<WebSession>> {
    Ok(load_by_cookie(app, headers, SESSION_COOKIE).await?.map(|(session, _)| session))
}

/// The login under way in this browser, if any.
pub async fn load_login(app: &App, headers: &HeaderMap) -> anyhow::Result<Option<WebSession>> {
    Ok(load_by_cookie(app, headers, LOGIN_COOKIE).await?.map(|(session, _)| session).filter(|s| s.state.login.is_some()))
}

/// The store key of the session the browser's cookie names, without loading it.
pub fn cookie_session_id(headers: &HeaderMap) -> Option<String> {
    cookie_row_id(headers, SESSION_COOKIE)
}

/// The store key of the row cookie `cookie` names: its token's lookup hash.
fn cookie_row_id(headers: &HeaderMap, cookie: &str) -> Option<String> {
    cookie_value(headers, cookie).map(|token| mamori_storage::token_lookup_hash(&token))
}

/// The session with its tenant as read for it (its idle limit), so that a page needs
/// not read the tenant again to wear its brand.
async fn load_by_cookie(app: &App, headers: &HeaderMap, cookie: &str) -> anyhow::Result<Option<(WebSession, Tenant)>> {
    let Some(id) = cookie_row_id(headers, cookie) else {
        return Ok(None);
    };
    let now = app.now();
    let sessions = app.shared.sessions();
    let Some(row) = sessions.get(&id, now).await? else {
        return Ok(None);
    };
    let tenant = app.storage.tenants().get(row.tenant_id).await?;
    let idle_until = (now + time::Duration::minutes(i64::from(tenant.policy.session_idle_minutes))).min(row.absolute_expires_at);
    if idle_until - row.idle_expires_at >= TOUCH_GRANULARITY {
        sessions.touch(&id, now, idle_until).await?;
    }
    // A state this version cannot read is no session at all, never a default one.
    let Ok(state) = serde_json::from_value(row.data) else {
        tracing::info!("unreadable session state: treated as logged out");
        return Ok(None);
    };
    let session = WebSession { id, tenant_id: row.tenant_id, user_id: row.user_id, state, absolute_expires_at: row.absolute_expires_at };
    Ok(Some((session, tenant)))
}

/// A logged-in browser on a connection its session may be used on.
pub struct LoggedIn {
    pub session: WebSession,
    pub auth: Authenticated,
}

/// The browser's completed login, if this connection may use it: a certificate login's
/// session needs the same certificate on this connection, still good (see
/// `flows::session_binding`). A session whose certificate went bad ends here, on
/// every node, at its next request.
pub async fn logged_in(ctx: &PageCtx) -> anyhow::Result<Option<LoggedIn>> {
    Ok(presented(ctx).await?.and_then(|(logged_in, binding)| (binding == Binding::Holds).then_some(logged_in)))
}

/// The browser's completed login, if any, with what its certificate allows on this
/// connection (for decisions that take the binding as an input, `flows::resume`); a
/// session whose certificate went bad is ended here, as in [`logged_in`].
pub async fn presented(ctx: &PageCtx) -> anyhow::Result<Option<(LoggedIn, Binding)>> {
    let app = ctx.app();
    let Some((session, tenant)) = load_by_cookie(app, &ctx.headers, SESSION_COOKIE).await? else {
        return Ok(None);
    };
    let Some(auth) = session.state.authenticated.clone() else {
        return Ok(None);
    };
    // Every page of a logged-in user (account portal, console) wears its tenant's brand.
    ctx.show_tenant(&tenant).await;
    let leaf = presented_certificate(&ctx.conn, &ctx.headers, &app.config.server);
    let binding = session_binding::check(app, &auth, leaf.as_deref(), app.now()).await?;
    if let Binding::Ended(why) = binding {
        tracing::info!(reason = ?why, "session ended: its certificate can no longer be used");
        end(app, &session.id).await?;
    }
    Ok(Some((LoggedIn { session, auth }, binding)))
}

/// What a waiting sign-in request of `tenant_id` finds in the browser, for
/// `flows::resume`: the session with its certificate binding, and its user as stored now
/// (looked up only for a session of that tenant that this connection may use).
pub struct Resuming {
    presented: Option<(LoggedIn, Binding)>,
    user: Option<(User, String)>,
}

pub async fn resuming(ctx: &PageCtx, tenant_id: Uuid) -> anyhow::Result<Resuming> {
    let presented = presented(ctx).await?;
    let user = match &presented {
        // A user that cannot be read counts as gone: the decision asks for a login.
        Some((logged_in, Binding::Holds)) if logged_in.session.tenant_id == tenant_id => {
            ctx.app().storage.users().get(logged_in.auth.user_id).await.ok().map(|u| {
                let subject = u.id.to_string();
                (u, subject)
            })
        }
        _ => None,
    };
    Ok(Resuming { presented, user })
}

impl Resuming {
    /// The session as the decision sees it.
    pub fn session(&self) -> Option<resume::Session<'_>> {
        self.presented.as_ref().map(|(logged_in, binding)| resume::Session {
            tenant_id: logged_in.session.tenant_id,
            binding: *binding,
            auth_time_ms: logged_in.auth.auth_time_ms,
            user: self.user.as_ref().map(|(u, subject)| resume::Account {
                subject,
                active: u.status == UserStatus::Active,
                locked: u.is_locked(),
            }),
        })
    }

    /// The login and its user, when the session may be used here by a user of the tenant.
    pub fn current(&self) -> Option<(&LoggedIn, &User)> {
        match (&self.presented, &self.user) {
            (Some((logged_in, Binding::Holds)), Some((user, _))) => Some((logged_in, user)),
            _ => None,
        }
    }

    pub fn into_current(self) -> Option<(LoggedIn, User)> {
        match (self.presented, self.user) {
            (Some((logged_in, Binding::Holds)), Some((user, _))) => Some((logged_in, user)),
            _ => None,
        }
    }
}

/// The reference a login step's form carries (`login_ref`), derived from the login
/// record's key (itself a hash of the cookie's token, so the page reveals neither). One
/// browser has one login under way: a page of a login that another tab replaced since
/// carries another reference, and its submission must not complete the newer login, which
/// would answer a different relying site than the one the user sees (a confused deputy).
pub fn form_ref(login: &WebSession) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("mamori login form\0{}", login.id).as_bytes());
    hex::encode(&digest[..16])
}

/// Whether a posted step's `login_ref` names `login` (constant time: it stands for the
/// cookie's login).
pub fn posted_for(login: &WebSession, posted: Option<&str>) -> bool {
    use subtle::ConstantTimeEq as _;
    posted.is_some_and(|p| bool::from(p.as_bytes().ct_eq(form_ref(login).as_bytes())))
}

/// Opens the record of a login whose first step passed; returns it with its cookie.
pub async fn begin_login(app: &App, tenant: &Tenant, progress: LoginProgress) -> anyhow::Result<(WebSession, HeaderValue)> {
    let now = app.now();
    let (idle, absolute) = limits(tenant, now);
    let login_ends = now + time::Duration::minutes(LOGIN_MINUTES);
    let state = SessionState { login: Some(progress), authenticated: None };
    let (session, token) = insert(app, tenant.id, None, state, idle.min(login_ends), absolute.min(login_ends)).await?;
    Ok((session, cookie(LOGIN_COOKIE, &token)?))
}

pub async fn save(app: &App, session: &WebSession) -> anyhow::Result<()> {
    app.shared.sessions().update_data(&session.id, &serde_json::to_value(&session.state)?).await?;
    Ok(())
}

/// Completes a login: its record ends, and the browser's session is replaced by a new
/// one under a fresh token (against fixation). Returns the cookies to set.
pub async fn complete_login(
    app: &App,
    headers: &HeaderMap,
    login: &WebSession,
    tenant: &Tenant,
    authenticated: Authenticated,
    success: &NewLoginEvent,
) -> anyhow::Result<(WebSession, [HeaderValue; 2])> {
    let sessions = app.shared.sessions();
    // The session this login replaces, if the browser had one: gone, not touched first.
    if let Some(previous) = cookie_value(headers, SESSION_COOKIE) {
        sessions.delete(&mamori_storage::token_lookup_hash(&previous)).await?;
    }
    sessions.delete(&login.id).await?;
    let (idle, absolute) = limits(tenant, app.now());
    let user_id = authenticated.user_id;
    let state = SessionState { login: None, authenticated: Some(authenticated) };
    let (session, token) = insert_recording(app, tenant.id, Some(user_id), state, idle, absolute, Some(success)).await?;
    Ok((session, [cookie(SESSION_COOKIE, &token)?, clear_cookie(LOGIN_COOKIE)]))
}

/// Ends a login under way (the method changed, the certificate is missing).
pub async fn abandon_login(app: &App, login: &WebSession) -> anyhow::Result<HeaderValue> {
    app.shared.sessions().delete(&login.id).await?;
    Ok(clear_cookie(LOGIN_COOKIE))
}

/// Ends the session; returns the header that clears its cookie.
pub async fn destroy(app: &App, session_id: &str) -> anyhow::Result<HeaderValue> {
    end(app, session_id).await?;
    Ok(clear_cookie(SESSION_COOKIE))
}

/// Ends the session `session_id` on every node, and with it the grants that came from it
/// (`flows::session_end`).
pub async fn end(app: &App, session_id: &str) -> anyhow::Result<()> {
    let sessions = app.shared.sessions();
    let row = sessions.get(session_id, app.now()).await?;
    sessions.delete(session_id).await?;
    // A session whose state does not read is still deleted; the error is reported after.
    let state: Option<SessionState> = row.map(|row| serde_json::from_value(row.data)).transpose()?;
    let ended = state.and_then(|state| state.authenticated);
    if let Some(auth) = ended {
        session_end::grants_of_ended_sessions(app, auth.user_id, Ended::One(&auth.sid)).await?;
    }
    Ok(())
}

/// Ends every session of `user_id` on every node, after a change of its credentials.
/// `keep`, the session that made the change, goes on under a fresh token: the cookie to
/// set is returned.
pub async fn end_other_sessions(app: &App, user_id: Uuid, keep: Option<&WebSession>) -> anyhow::Result<Option<HeaderValue>> {
    let sessions = app.shared.sessions();
    let kept = match keep {
        Some(current) => sessions.get(&current.id, app.now()).await?,
        None => None,
    };
    let ended = sessions.delete_for_user(user_id).await?;
    tracing::info!(%user_id, ended, "sessions ended after a credential change");
    let state: Option<SessionState> = kept.as_ref().map(|row| serde_json::from_value(row.data.clone())).transpose()?;
    let kept_sid = state.as_ref().and_then(|s| s.authenticated.as_ref()).map(|a| a.sid.as_str());
    session_end::grants_of_ended_sessions(app, user_id, Ended::AllBut(kept_sid)).await?;
    let (Some(row), Some(state)) = (kept, state) else { return Ok(None) };
    let (_, token) = insert(app, row.tenant_id, row.user_id, state, row.idle_expires_at, row.absolute_expires_at).await?;
    Ok(Some(cookie(SESSION_COOKIE, &token)?))
}

async fn insert(
    app: &App,
    tenant_id: Uuid,
    user_id: Option<Uuid>,
    state: SessionState,
    idle_expires_at: OffsetDateTime,
    absolute_expires_at: OffsetDateTime,
) -> anyhow::Result<(WebSession, String)> {
    insert_recording(app, tenant_id, user_id, state, idle_expires_at, absolute_expires_at, None).await
}

/// [`insert`], with the login's success event stored together with the session.
async fn insert_recording(
    app: &App,
    tenant_id: Uuid,
    user_id: Option<Uuid>,
    state: SessionState,
    idle_expires_at: OffsetDateTime,
    absolute_expires_at: OffsetDateTime,
    success: Option<&NewLoginEvent>,
) -> anyhow::Result<(WebSession, String)> {
    let token = crate::secrets::url_token();
    let id = mamori_storage::token_lookup_hash(&token);
    let new = NewSession { id: id.clone(), tenant_id, user_id, data: serde_json::to_value(&state)?, idle_expires_at, absolute_expires_at };
    match success {
        Some(event) => app.shared.sessions().create_with_success(&new, event, app.now()).await?,
        None => app.shared.sessions().create(&new, app.now()).await?,
    };
    Ok((WebSession { id, tenant_id, user_id, state, absolute_expires_at }, token))
}

fn limits(tenant: &Tenant, now: OffsetDateTime) -> (OffsetDateTime, OffsetDateTime) {
    let idle = now + time::Duration::minutes(i64::from(tenant.policy.session_idle_minutes));
    let absolute = now + time::Duration::minutes(i64::from(tenant.policy.session_absolute_minutes));
    (idle.min(absolute), absolute)
}

fn cookie(name: &str, token: &str) -> anyhow::Result<HeaderValue> {
    Ok(HeaderValue::from_str(&format!("{name}={token}; Path=/; Secure; HttpOnly; SameSite=Lax"))?)
}

/// The header that removes the session or login cookie from the browser.
pub fn clear_cookie(name: &'static str) -> HeaderValue {
    if name == LOGIN_COOKIE {
        HeaderValue::from_static("__Host-mamori_login=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax")
    } else {
        HeaderValue::from_static("__Host-mamori_session=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_host_only_and_secure() {
        for value in [cookie(SESSION_COOKIE, "t").expect("valid"), cookie(LOGIN_COOKIE, "t").expect("valid"), clear_cookie(LOGIN_COOKIE)] {
            let text = value.to_str().expect("ascii");
            assert!(text.starts_with("__Host-"), "{text}");
            assert!(text.contains("; Path=/;") && text.contains("; Secure;") && text.contains("HttpOnly"), "{text}");
            assert!(!text.to_ascii_lowercase().contains("domain="), "{text}");
        }
        assert!(clear_cookie(SESSION_COOKIE).to_str().is_ok_and(|t| t.starts_with(SESSION_COOKIE)));
        assert!(clear_cookie(LOGIN_COOKIE).to_str().is_ok_and(|t| t.starts_with(LOGIN_COOKIE)));
    }

    #[tokio::test]
    async fn activity_moves_the_idle_limit_but_writes_at_most_every_few_seconds() {
        use crate::test_context::{T0, TestContext};
        use time::Duration;
        let ctx = TestContext::new().await;
        let policy = mamori_storage::model::TenantPolicy { session_idle_minutes: 30, session_absolute_minutes: 60, ..Default::default() };
        let tenant = ctx.tenant(policy).await;
        let (idle, absolute) = limits(&tenant, T0);
        let (web, token) = insert(&ctx.app, tenant.id, None, SessionState::default(), idle, absolute).await.expect("stored");
        let mut headers = HeaderMap::new();
        headers.insert(axum::http::header::COOKIE, HeaderValue::from_str(&format!("{SESSION_COOKIE}={token}")).expect("ascii"));
        let stored_idle =
            || async { ctx.app.shared.sessions().get(&web.id, ctx.app.now()).await.expect("reads").map(|s| s.idle_expires_at) };

        // A request a moment later finds the session and leaves its row alone.
        ctx.clock.advance(Duration::seconds(5));
        let loaded = load(&ctx.app, &headers).await.expect("loads").expect("alive");
        assert_eq!(loaded.absolute_expires_at, absolute);
        assert_eq!(stored_idle().await, Some(T0 + Duration::minutes(30)), "not written within the granularity");
        // Later activity pushes the limit forward, so the session outlives its first limit.
        ctx.clock.advance(Duration::minutes(20));
        assert!(load(&ctx.app, &headers).await.expect("loads").is_some());
        assert_eq!(stored_idle().await, Some(T0 + Duration::seconds(5) + Duration::minutes(50)));
        ctx.clock.advance(Duration::minutes(20));
        assert!(load(&ctx.app, &headers).await.expect("loads").is_some(), "40 minutes in, active");
        // Never past the absolute limit.
        assert_eq!(stored_idle().await, Some(absolute));
        ctx.clock.advance(Duration::minutes(20));
        assert!(load(&ctx.app, &headers).await.expect("loads").is_none(), "past the absolute limit");

        // Idle for the whole limit: gone.
        let (web, token) = insert(
            &ctx.app,
            tenant.id,
            None,
            SessionState::default(),
            ctx.app.now() + Duration::minutes(30),
            ctx.app.now() + Duration::minutes(60),
        )
        .await
        .expect("stored");
        headers.insert(axum::http::header::COOKIE, HeaderValue::from_str(&format!("{SESSION_COOKIE}={token}")).expect("ascii"));
        ctx.clock.advance(Duration::minutes(30));
        assert!(load(&ctx.app, &headers).await.expect("loads").is_none(), "idle for 30 minutes");
        assert!(ctx.app.shared.sessions().get(&web.id, ctx.app.now()).await.expect("reads").is_none());
    }
}
