//! The operators' web console under `/console`, on the client-certificate listener where
//! the session of Mamori's own login lives. An operator is a user with a row in
//! `admin_roles`; [`open_console`] turns the session's user into a [`Principal`] and
//! every page then calls the same service-layer functions (`crate::admin`) as the REST
//! API, so tenant confinement, validation and the audit trail are the API's own.
//!
//! - `users`: find a user, the user's page (devices, certificates, sessions, recent
//!   logins) and its actions: unlock, disable/enable, enrollment ticket, certificate
//!   reissue, password change at the next login, ending the sessions, deleting;
//! - `user_passkeys`: the user's passkeys on the user's page, and removing one;
//! - `user_edit`: creating a user with its first device, changing one, and the
//!   confirmation page in front of what destroys or locks something;
//! - `users_import`: users from a CSV file, previewed row by row before anything is saved;
//! - `sites`: the tenant's OIDC clients and registering one;
//! - `site_edit`: a site's page: changing it, a new client secret, removing it;
//! - `events`: the tenant's login history;
//! - `policy`: the tenant's policy, every knob;
//! - `certificates`: search, a certificate's page, revocation with a reason;
//! - `audit`: the audit trail and its CSV export;
//! - `saml_sps`, `saml_sp_edit`: the tenant's SAML service providers, registering one
//!   from its metadata, changing and removing one;
//! - `keys`: the signing keys and their rotation (super-admins only).
//!
//! URLs name the tenant (`/console/t/{tenant}/…`) so that a super-admin can work in any
//! tenant; a tenant admin asking for another tenant gets the same 404 as for an absent
//! object, and a logged-in user without a role a 403 page that says nothing else.

mod audit;
pub(crate) mod branding;
mod certificates;
mod events;
mod keys;
#[cfg(test)]
mod pages_tests;
mod policy;
mod saml_sp_edit;
pub(crate) mod saml_sps;
mod site_edit;
mod site_fields;
mod sites;
mod user_edit;
mod user_passkeys;
mod users;
pub(crate) mod users_import;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use mamori_storage::model::{AdminRole, AdminRoleKind, ApiScope, Tenant, User, UserStatus};

use super::context::PageCtx;
use super::request::client_ip;
use super::session;
use crate::admin::{AdminError, Paging, Principal, Reach};
use crate::flows::login::Factor;
use crate::state::SharedState;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/console", get(home))
        .merge(users::routes())
        .merge(user_edit::routes())
        .merge(user_passkeys::routes())
        .merge(users_import::routes())
        .merge(sites::routes())
        .merge(site_edit::routes())
        .merge(events::routes())
        .merge(policy::routes())
        .merge(branding::routes())
        .merge(certificates::routes())
        .merge(audit::routes())
        .merge(saml_sps::routes())
        .merge(saml_sp_edit::routes())
        .merge(keys::routes())
}

/// `open_console`, returning the response from the handler when it refuses.
macro_rules! console_or_return {
    ($ctx:expr, $path:expr) => {
        match open_console($ctx, $path).await {
            Ok(console) => console,
            Err(response) => return response,
        }
    };
}
use crate::urlcode;
use console_or_return;

/// A request of a logged-in operator.
struct Console {
    ctx: PageCtx,
    principal: Principal,
    /// The operator's own tenant (where a tenant admin works and a super-admin starts).
    home: Tenant,
    operator: User,
    /// The page asked for, as recorded when the service refuses it.
    path: String,
}

/// The check at the top of every console handler: a session of Mamori's own login with
/// the certificate and the password, of an active, unlocked user holding an operator
/// role. `path` is where the login comes back to.
async fn open_console(ctx: PageCtx, path: &str) -> Result<Console, Response> {
    let app = ctx.app();
    // Only on a connection presenting the certificate the session was opened with.
    let loaded = match session::logged_in(&ctx).await {
        Ok(s) => s,
        Err(err) => return Err(ctx.internal(&err)),
    };
    let Some(session::LoggedIn { session: web_session, auth: authenticated }) = loaded else {
        return Err(Redirect::to(&format!("/login?return_to={}", urlcode::component(path))).into_response());
    };
    let found = async {
        let user = app.storage.users().get(authenticated.user_id).await?;
        let tenant = app.storage.tenants().get(user.tenant_id).await?;
        let roles = app.storage.admin_roles().list_for_user(user.id).await?;
        anyhow::Ok((user, tenant, roles))
    }
    .await;
    let (operator, home, roles) = match found {
        Ok(found) => found,
        Err(err) => return Err(ctx.internal(&err)),
    };
    if operator.status != UserStatus::Active || operator.is_locked() || operator.tenant_id != web_session.tenant_id {
        let clear = session::destroy(app, &web_session.id).await.ok();
        let mut response = ctx.render(StatusCode::FORBIDDEN, "login/locked.html", serde_json::json!({}));
        if let Some(clear) = clear {
            response.headers_mut().append(header::SET_COOKIE, clear);
        }
        return Err(response);
    }
    let Some(reach) = reach_of(&roles, home.id) else {
        return Err(forbidden(&ctx, "console.forbidden.message"));
    };
    // The console acts for every user of a tenant: a password alone, or a certificate
    // alone, is not enough for it even where the tenant lets users log in so.
    let factors = &authenticated.factors;
    if !(factors.contains(&Factor::Certificate) && factors.contains(&Factor::Pwd)) {
        // Logging in again only helps an operator whose method has both; for one without a
        // certificate or a password, say what has to change instead.
        let method = operator.login_method;
        let key =
            if method.needs_certificate() && method.needs_password() { "console.forbidden.factors" } else { "console.forbidden.method" };
        return Err(forbidden(&ctx, key));
    }
    let principal = Principal {
        actor: format!("user:{}/{}", home.slug, operator.login_id),
        reach,
        scopes: vec![ApiScope::Read, ApiScope::Write],
        source_ip: client_ip(&ctx.conn, &ctx.headers, &app.config.server.trusted_proxies).to_string(),
    };
    Ok(Console { ctx, principal, home, operator, path: path.to_owned() })
}

/// What the operator's roles reach: every tenant for a super-admin, else the tenant of a
/// tenant-admin role (the operator's own tenant first when there are several).
fn reach_of(roles: &[AdminRole], own_tenant: uuid::Uuid) -> Option<Reach> {
    if roles.iter().any(|r| r.role == AdminRoleKind::SuperAdmin) {
        return Some(Reach::AllTenants);
    }
    let tenants: Vec<uuid::Uuid> = roles.iter().filter(|r| r.role == AdminRoleKind::TenantAdmin).filter_map(|r| r.tenant_id).collect();
    tenants.iter().find(|t| **t == own_tenant).or(tenants.first()).map(|t| Reach::Tenant(*t))
}

/// `fields` (an object) added to `page` (an object).
fn with_fields(mut page: serde_json::Value, fields: serde_json::Value) -> serde_json::Value {
    if let (Some(map), serde_json::Value::Object(more)) = (page.as_object_mut(), fields) {
        map.extend(more);
    }
    page
}

fn forbidden(ctx: &PageCtx, key: &str) -> Response {
    let mut response = ctx.render(StatusCode::FORBIDDEN, "console/forbidden.html", serde_json::json!({ "message": ctx.message(key) }));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

impl Console {
    /// A field refusal's message in the operator's language, its `{value}` filled in with
    /// the value the refusal names (the service's rules in `fields::site_rules`).
    pub(super) fn field_text(&self, refused: &crate::fields::FieldError) -> String {
        let text = self.ctx.message(refused.key);
        match crate::fields::site_rules::shown_value(refused) {
            Some(value) => text.replace("{value}", value),
            None => text,
        }
    }

    /// The paging fields every listing page shows (`summary` "1 ~ 20 / 45", `page_label`
    /// "1/3", `prev` and `next` links), for page `requested` of `total` items of which
    /// this page, starting at `paging.offset`, shows `shown`; `link` makes a page's URL.
    fn paging_fields(&self, requested: u64, paging: Paging, shown: usize, total: u64, link: impl Fn(u64) -> String) -> serde_json::Value {
        let pages = total.div_ceil(paging.limit.max(1)).max(1);
        let first = if total == 0 { 0 } else { paging.offset + 1 };
        let summary = self
            .ctx
            .message("console.paging.summary")
            .replace("{first}", &first.to_string())
            .replace("{last}", &(paging.offset + shown as u64).to_string())
            .replace("{total}", &total.to_string());
        serde_json::json!({
            "summary": summary,
            "page_label": format!("{requested}/{pages}"),
            "prev": (requested > 1).then(|| link(requested - 1)),
            "next": (requested < pages).then(|| link(requested + 1)),
        })
    }

    /// The tenant a tenant admin works in, or a super-admin's own.
    fn home_slug(&self) -> String {
        self.home.slug.clone()
    }

    /// Renders a console page with the menu (tenant, operator, tenant switch for a
    /// super-admin) and a CSRF token; never cached, since pages show secrets once.
    async fn page(&self, status: StatusCode, template: &str, tenant: &str, mut ctx: serde_json::Value) -> Response {
        let tenants: Vec<serde_json::Value> = if self.principal.is_super_admin() {
            match crate::admin::tenants::list(self.ctx.app(), &self.principal, Paging { offset: 0, limit: Paging::MAX_LIMIT }).await {
                Ok(listed) => listed
                    .items
                    .iter()
                    .filter(|t| t.slug != tenant)
                    .map(|t| serde_json::json!({"slug": t.slug, "href": format!("{}/users", tenant_base(&t.slug))}))
                    .collect(),
                Err(_) => Vec::new(),
            }
        } else {
            Vec::new()
        };
        let role = if self.principal.is_super_admin() { "console.role.super-admin" } else { "console.role.tenant-admin" };
        if let Some(map) = ctx.as_object_mut() {
            map.insert(
                "console".into(),
                serde_json::json!({
                    "tenant": tenant,
                    "base": tenant_base(tenant),
                    "operator": self.operator.login_id,
                    "role": self.ctx.message(role),
                    "tenants": tenants,
                    // The menu offers the pages only a super-admin may open.
                    "super_admin": self.principal.is_super_admin(),
                }),
            );
        }
        let mut response = self.ctx.form(status, template, ctx);
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }

    /// The confirmation in front of a change that destroys or locks something
    /// (`console/confirm.html`): declining is the link back, confirming posts the action
    /// with `confirmed=yes` and the hidden fields.
    async fn confirm(&self, tenant: &str, c: Confirmation) -> Response {
        let facts: Vec<serde_json::Value> =
            c.facts.iter().map(|(label, value)| serde_json::json!({"label": self.ctx.message(label), "value": value})).collect();
        let hidden: Vec<serde_json::Value> =
            c.hidden.iter().map(|(name, value)| serde_json::json!({"name": name, "value": value})).collect();
        let ctx = serde_json::json!({
            "title": self.ctx.message(&c.title_key),
            "lead": c.lead,
            "submit": self.ctx.message(&c.submit_key),
            "login_id": c.login_id,
            "display_name": c.display_name,
            "facts": facts,
            "hidden": hidden,
            "action": c.action,
            "href": c.back,
        });
        self.page(StatusCode::OK, "console/confirm.html", tenant, ctx).await
    }

    /// The page for a refused or failed service call. Not-found and another tenant's
    /// objects look the same; the service's own texts (English, sometimes naming
    /// objects) stay in the log.
    async fn refused(&self, err: &AdminError) -> Response {
        // Another tenant's object, or a role that does not allow it: the attempt is
        // audited as the API's are (a wider-role refusal the service already audited).
        if let AdminError::NotFound(_) | AdminError::Forbidden(_) = err {
            let status = if matches!(err, AdminError::NotFound(_)) { 404 } else { 403 };
            let tenant = match self.principal.reach {
                Reach::Tenant(id) => Some(id),
                Reach::AllTenants => None,
            };
            let details = serde_json::json!({"status": status});
            crate::admin::audit::record_refused(self.ctx.app(), &self.principal, tenant, "console.refused", &self.path, details).await;
        }
        match err {
            AdminError::NotFound(_) => self.ctx.error_to_console(StatusCode::NOT_FOUND, "console.error.not_found"),
            AdminError::Forbidden(_) | AdminError::Unauthenticated(_) => {
                self.ctx.error_to_console(StatusCode::FORBIDDEN, "console.forbidden.message")
            }
            AdminError::WiderRole => forbidden(&self.ctx, "console.forbidden.wider_role"),
            AdminError::Conflict(_) => self.ctx.error_to_console(StatusCode::CONFLICT, "console.error.conflict"),
            AdminError::Invalid(_) => self.ctx.error_to_console(StatusCode::BAD_REQUEST, "console.error.invalid"),
            // The parser's own message key, in the operator's language.
            AdminError::Field(refused) => self.ctx.error_to_console(StatusCode::BAD_REQUEST, refused.key),
            AdminError::Unavailable => self.ctx.error_to_console(StatusCode::SERVICE_UNAVAILABLE, "error.unavailable"),
            AdminError::Internal(detail) => {
                tracing::error!(error = %detail, "console request failed");
                self.ctx.error_to_console(StatusCode::INTERNAL_SERVER_ERROR, "error.internal")
            }
        }
    }

    /// Time as the operator reads it, in their own time zone.
    fn time(&self, at: time::OffsetDateTime) -> String {
        crate::flows::account::format_date_time(at, &self.operator.time_zone)
    }
}

/// What a confirmation page shows and posts ([`Console::confirm`]).
#[derive(Default)]
struct Confirmation {
    /// Message keys of the heading and the button.
    title_key: String,
    submit_key: String,
    /// The lead in words (it may carry a count).
    lead: String,
    login_id: Option<String>,
    display_name: Option<String>,
    /// (label's message key, value) of what is about to change.
    facts: Vec<(String, String)>,
    hidden: Vec<(&'static str, String)>,
    action: String,
    back: String,
}

/// `/console`: the operator's own tenant's user search.
async fn home(ctx: PageCtx) -> Response {
    let console = console_or_return!(ctx, "/console");
    Redirect::to(&format!("{}/users", tenant_base(&console.home_slug()))).into_response()
}

/// Where a tenant's console pages live.
fn tenant_base(slug: &str) -> String {
    format!("/console/t/{}", urlcode::component(slug))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(role: AdminRoleKind, tenant_id: Option<uuid::Uuid>) -> AdminRole {
        AdminRole { id: uuid::Uuid::new_v4(), user_id: uuid::Uuid::nil(), role, tenant_id, created_at: time::OffsetDateTime::UNIX_EPOCH }
    }

    #[test]
    fn roles_decide_the_reach() {
        let own = uuid::Uuid::new_v4();
        let other = uuid::Uuid::new_v4();
        assert_eq!(reach_of(&[], own), None);
        assert_eq!(reach_of(&[role(AdminRoleKind::TenantAdmin, Some(own))], own), Some(Reach::Tenant(own)));
        assert_eq!(
            reach_of(&[role(AdminRoleKind::TenantAdmin, Some(other)), role(AdminRoleKind::TenantAdmin, Some(own))], own),
            Some(Reach::Tenant(own))
        );
        assert_eq!(
            reach_of(&[role(AdminRoleKind::TenantAdmin, Some(own)), role(AdminRoleKind::SuperAdmin, None)], own),
            Some(Reach::AllTenants)
        );
    }
}

#[cfg(test)]
mod render_tests {
    use mamori_ui::{Locale, Ui};

    fn console() -> serde_json::Value {
        serde_json::json!({"tenant": "demo", "base": "/console/t/demo", "operator": "op", "role": "tenant admin",
            "tenants": [{"slug": "other", "href": "/console/t/other/users"}]})
    }

    /// The pages with the values the handlers give them, in both languages.
    #[test]
    fn console_pages_render_with_real_values() {
        let ui = Ui::new();
        let login = serde_json::json!({"at": "2026-11-29 10:00:00 JST", "login_id": "u1", "result": "success", "label": "ok", "success": true, "factors": "swk pwd", "source_ip": "127.0.0.1"});
        let pages = [
            (
                "console/users.html",
                serde_json::json!({"console": console(), "csrf_token": "x", "q": "u", "show": "locked", "summary": "1 ~ 1 / 1", "page_label": "1/1", "prev": null, "next": "/n",
                "rows": [{"login_id": "u1", "href": "/console/t/demo/users/u1", "display_name": "U", "status": "Active", "locked": true, "method": "cert"}]}),
            ),
            (
                "console/user.html",
                serde_json::json!({"console": console(), "csrf_token": "x", "notice": "done", "href": "/console/t/demo/users/u1",
                "user": {"login_id": "u1", "display_name": "U", "status": "Active", "disabled": false, "locked": "2026 (pw)", "method": "cert", "enrolled": true, "created": "2026"},
                "devices": [{"device_no": 1, "type": "PC", "email": "a@b.c", "deleted": false}],
                "certificates": [{"serial": "0a", "subject": "u1", "not_after": "2027", "status": "Active", "revocation_reason": null}],
                "rows": [login.clone()], "events_href": "/e"}),
            ),
            (
                "console/events.html",
                serde_json::json!({"console": console(), "csrf_token": "x", "login_id": "u1", "results": [{"value": "success", "label": "ok", "selected": true}],
                "rows": [login], "summary": "s", "page_label": "1/1", "prev": "/p", "next": null}),
            ),
            (
                "console/enrollment.html",
                serde_json::json!({"console": console(), "csrf_token": "x", "login_id": "u1", "href": "/h", "url": "https://x/enroll/t", "one_time_password": "123456", "expires_at": "2026"}),
            ),
            (
                "console/sites.html",
                serde_json::json!({"console": console(), "csrf_token": "x", "clients": [{"client_id": "c-1", "name": "N", "kind": "Confidential", "redirect_uris": ["https://a/cb"], "grant_types": "authorization_code", "claims": "email"}]}),
            ),
            (
                "console/site_new.html",
                serde_json::json!({"console": console(), "csrf_token": "x", "name": "N", "redirect_uris": "https://a/cb", "kind": "public", "machine": false, "claims": "email", "problem": ["bad"], "action": "/console/t/demo/sites"}),
            ),
            (
                "console/site_created.html",
                serde_json::json!({"console": console(), "csrf_token": "x", "client": {"client_id": "c-1", "name": "N", "kind": "Confidential", "redirect_uris": ["https://a/cb"], "grant_types": "g", "claims": "email"},
                "client_secret": "s3cret", "issuer_config": "https://x/t/demo/.well-known/openid-configuration", "token_endpoint": "https://x/t/demo/token", "sites_href": "/s"}),
            ),
            ("console/forbidden.html", serde_json::json!({"message": "no"})),
        ];
        for (name, ctx) in pages {
            for locale in [Locale::Ja, Locale::En] {
                let html = ui.render(name, locale, &ctx).unwrap_or_else(|e| panic!("{name}: {e:#?}"));
                assert!(!html.contains("??"), "{name} {locale:?}: a missing message");
            }
        }
    }
}
