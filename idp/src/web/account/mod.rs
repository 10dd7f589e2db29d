//! The account portal (flow 4, アカウント管理画面) on the client-certificate listener,
//! where the session cookie of a login lives. Every handler starts with [`open_portal`]
//! (an authenticated session of an active, unlocked user, or a redirect to the login)
//! and, for a feature behind a policy knob, [`Portal::require`]: a hidden menu item is
//! refused too, not only hidden. One file per page group:
//!
//! - `overview`: the account page (user ID, device table) and the user's own request
//!   for a certificate reissue;
//! - `credentials`: password change and secret-question change;
//! - `history`: the login history of the last month;
//! - `devices`: add (form → confirmation → certificate), change e-mail, delete;
//! - `device_csr`: a device's certificate for a key made on the device (a CSR);
//! - `login_method`: choose → confirm (before/after) → authenticator → done;
//! - `sites`: the relying sites the user consented to, each consent withdrawable;
//! - `passkeys`: list, add, rename, remove.

mod credentials;
mod device_csr;
mod devices;
mod history;
mod login_method;
mod overview;
mod passkeys;
mod sites;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_storage::model::{Tenant, User, UserStatus};

use super::context::PageCtx;
use super::request::client_ip;
use super::session::{self, WebSession};
use crate::flows::account::{self as flow, Feature};
use crate::flows::events::Attempt;
use crate::state::SharedState;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .merge(overview::routes())
        .merge(credentials::routes())
        .merge(history::routes())
        .merge(devices::routes())
        .merge(device_csr::routes())
        .merge(login_method::routes())
        .merge(sites::routes())
        .merge(passkeys::routes())
}

/// A request of a logged-in user, with what every portal page shows.
pub(super) struct Portal {
    pub ctx: PageCtx,
    pub session: WebSession,
    pub tenant: Tenant,
    pub user: User,
    /// What the session's login proved.
    pub factors: Vec<crate::flows::login::Factor>,
}

/// The authorization check at the top of every portal handler. `path` is where to come
/// back to after a login (a GET's own address).
pub(super) async fn open_portal(ctx: PageCtx, path: &str) -> Result<Portal, Response> {
    let app = ctx.app();
    // Only on a connection presenting the certificate the session was opened with.
    let loaded = match session::logged_in(&ctx).await {
        Ok(s) => s,
        Err(err) => return Err(ctx.internal(&err)),
    };
    let Some(session::LoggedIn { session: web_session, auth }) = loaded else {
        return Err(Redirect::to(&format!("/login?return_to={}", crate::urlcode::path(path))).into_response());
    };
    let user_id = auth.user_id;
    let found = async {
        let user = app.storage.users().get(user_id).await?;
        let tenant = app.storage.tenants().get(user.tenant_id).await?;
        anyhow::Ok((user, tenant))
    }
    .await;
    let (user, tenant) = match found {
        Ok(found) => found,
        Err(err) => return Err(ctx.internal(&err)),
    };
    if user.status != UserStatus::Active || user.is_locked() || user.tenant_id != web_session.tenant_id {
        // Locked or disabled since the login: the session ends here.
        let clear = session::destroy(app, &web_session.id).await.ok();
        let mut response = if user.is_locked() {
            ctx.locked_page(PageCtx::render, Some(&tenant.slug))
        } else {
            // Disabled (or moved): say so, not that the password was mistyped too often.
            ctx.error(StatusCode::FORBIDDEN, "cert.user_disabled")
        };
        if let Some(clear) = clear {
            response.headers_mut().append(header::SET_COOKIE, clear);
        }
        return Err(response);
    }
    Ok(Portal { ctx, session: web_session, tenant, user, factors: auth.factors })
}

impl Portal {
    /// Refuses a feature the tenant's policy disables (403, "not available").
    #[allow(clippy::result_large_err)]
    pub fn require(&self, feature: Feature) -> Result<(), Response> {
        if flow::feature_enabled(&self.tenant.policy, &self.user, feature) {
            return Ok(());
        }
        Err(self.page(StatusCode::FORBIDDEN, "account/unavailable.html", serde_json::json!({})))
    }

    /// Renders a portal page: the menu, the user ID and a CSRF token are added; never cached.
    pub fn page(&self, status: StatusCode, template: &str, mut ctx: serde_json::Value) -> Response {
        if let Some(map) = ctx.as_object_mut() {
            map.insert("menu".into(), serde_json::json!(flow::menu(&self.tenant.policy, &self.user)));
            map.entry("login_id").or_insert_with(|| self.user.login_id.clone().into());
        }
        let mut response = self.ctx.form(status, template, ctx);
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }

    /// Who did it, from where: for the audit events.
    pub fn attempt(&self) -> Attempt<'_> {
        let headers = &self.ctx.headers;
        Attempt {
            tenant_id: self.tenant.id,
            user_id: Some(self.user.id),
            login_id: Some(&self.user.login_id),
            source_ip: client_ip(&self.ctx.conn, headers, &self.ctx.app().config.server.trusted_proxies).to_string(),
            user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
        }
    }

    pub fn internal(&self, err: &anyhow::Error) -> Response {
        self.ctx.internal(err)
    }

    /// After a change of the user's credentials: every other session of the user ends,
    /// on every node; this one goes on under a fresh token, set on `response`.
    pub async fn ending_other_sessions(&self, mut response: Response) -> Response {
        match session::end_other_sessions(self.ctx.app(), self.user.id, Some(&self.session)).await {
            Ok(cookie) => {
                if let Some(cookie) = cookie {
                    response.headers_mut().append(header::SET_COOKIE, cookie);
                }
                response
            }
            Err(err) => self.internal(&err),
        }
    }

    pub fn messages(&self, keys: &[&str]) -> Vec<String> {
        keys.iter().map(|k| self.ctx.message(k)).collect()
    }
}

/// A notice shown on the account page after a change (`/account?notice=…`); only these.
pub(super) const NOTICES: &[&str] =
    &["password-changed", "secret-question-changed", "device-email-changed", "device-deleted", "certificate-reissue-sent"];

pub(super) fn back_to_account(notice: &str) -> Response {
    Redirect::to(&format!("/account?notice={notice}")).into_response()
}

/// `open_portal`, returning the response from the handler when it refuses.
macro_rules! portal_or_return {
    ($ctx:expr, $path:expr) => {
        match super::open_portal($ctx, $path).await {
            Ok(portal) => portal,
            Err(response) => return response,
        }
    };
}
pub(super) use portal_or_return;

/// `Portal::require`, returning the refusal from the handler.
macro_rules! require_or_return {
    ($portal:expr, $feature:expr) => {
        if let Err(response) = $portal.require($feature) {
            return response;
        }
    };
}
pub(super) use require_or_return;
