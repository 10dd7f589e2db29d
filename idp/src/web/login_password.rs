//! The ID/password form of a login without a client certificate (`password` and
//! `password+otp` methods): shown on the client-certificate listener when the browser
//! presents none and the tenant allows such a method, and on the main listener for a
//! tenant none of whose methods needs a certificate. The steps after it (OTP, forced
//! password change, return to the relying site) are the certificate login's.

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::post;

use super::login::{open_transaction, safe_return_to};
use super::page::LangQuery;
use super::request::client_ip;
use crate::flows::password_login::{self, Origin, StartOutcome};
use crate::state::SharedState;
use crate::web::context::{PageCtx, Posted, field};

pub fn routes() -> Router<SharedState> {
    Router::new().route("/login/identify", post(identify).get(restart))
}

/// The form. `tenant` and `return_to` ride along as hidden fields, so the ID is looked up
/// in the relying site's tenant and the login resumes its OIDC or SAML request. Where the
/// tenant allows the `passkey` method it also offers the passkey login (and the ID field
/// offers passkeys in its autofill); a tenant whose methods without a certificate all
/// use a passkey shows no password form.
pub(super) async fn form(
    ctx: &PageCtx,
    tenant: Option<&str>,
    return_to: Option<&str>,
    login_hint: Option<&str>,
    status: StatusCode,
) -> anyhow::Result<Response> {
    let passkey = super::login_passkey::discover_form(ctx, tenant).await?;
    let password_offered = match passkey.as_ref().and(tenant) {
        Some(slug) => ctx
            .app()
            .storage
            .tenants()
            .get_by_slug(slug)
            .await?
            .is_none_or(|t| t.policy.allowed_login_methods.iter().any(|m| m.needs_password() && !m.needs_certificate())),
        None => true,
    };
    Ok(ctx.form(
        status,
        "login/password.html",
        serde_json::json!({
            "without_certificate": true,
            "reissue_url": ctx.password_reissue_url(tenant),
            "tenant": tenant.unwrap_or(""),
            "return_to": return_to.unwrap_or(""),
            "login_hint": login_hint,
            "passkey": passkey,
            "password_offered": password_offered,
        }),
    ))
}

/// The form on the main listener, when no method of the tenant (of every tenant, when
/// none is named) needs a certificate; `None` sends the login to the certificate listener.
pub(super) async fn form_on_main_listener(
    ctx: &PageCtx,
    tenant: Option<&str>,
    return_to: Option<&str>,
    login_hint: Option<&str>,
) -> anyhow::Result<Option<Response>> {
    let app = ctx.app();
    let tenants = match tenant {
        Some(slug) => app.storage.tenants().get_by_slug(slug).await?.into_iter().collect(),
        None => app.storage.tenants().list().await?,
    };
    let never = !tenants.is_empty() && tenants.iter().all(password_login::certificate_never_needed);
    if !never {
        return Ok(None);
    }
    Ok(Some(form(ctx, tenant, return_to, login_hint, StatusCode::OK).await?))
}

/// The login page this form came from, to try again.
pub(super) fn login_page(tenant: Option<&str>, return_to: Option<&str>) -> String {
    let mut pairs = Vec::new();
    if let Some(t) = tenant {
        pairs.push(format!("tenant={}", crate::urlcode::component(t)));
    }
    if let Some(r) = return_to {
        pairs.push(format!("return_to={}", crate::urlcode::component(r)));
    }
    if pairs.is_empty() { "/login".to_owned() } else { format!("/login?{}", pairs.join("&")) }
}

async fn identify(Posted { mut ctx, form }: Posted) -> Response {
    let tenant = Some(field(&form, "tenant")).filter(|s| crate::fields::TenantSlug::parse(s).is_ok());
    let return_to = safe_return_to(form.get("return_to").filter(|r| !r.is_empty()));
    // The switch starts this login again in the other language, for the same site.
    ctx.page.set_switch_address(login_page(tenant, return_to.as_deref()));
    if let Some(slug) = tenant {
        ctx.show_tenant_slug(slug, return_to.as_deref()).await;
    }
    let origin = Origin {
        source_ip: client_ip(&ctx.conn, &ctx.headers, &ctx.state.app.config.server.trusted_proxies).to_string(),
        user_agent: ctx.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
    };
    let result = async {
        let app = ctx.app();
        let outcome =
            password_login::submit(app, tenant, field(&form, "login_id"), field(&form, "password"), return_to.clone(), &origin).await?;
        match outcome {
            StartOutcome::Accepted(started) => open_transaction(&ctx, &started.tenant, &started.user, started.progress).await,
            StartOutcome::Failed => Ok(ctx.form(
                StatusCode::UNAUTHORIZED,
                "login/failed.html",
                serde_json::json!({
                    "without_certificate": true,
                    "back": login_page(tenant, return_to.as_deref()),
                    "reissue_url": ctx.password_reissue_url(tenant),
                }),
            )),
        }
    }
    .await;
    result.unwrap_or_else(|err: anyhow::Error| ctx.internal(&err))
}

async fn restart(axum::extract::Query(lang): axum::extract::Query<LangQuery>) -> Response {
    use axum::response::{IntoResponse, Redirect};
    match lang.lang.as_deref().and_then(mamori_ui::Locale::from_tag) {
        Some(locale) => Redirect::to(&format!("/login?lang={}", locale.tag())).into_response(),
        None => Redirect::to("/login").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_without_certificate_comes_back_to_its_tenant_and_request() {
        assert_eq!(login_page(None, None), "/login");
        assert_eq!(login_page(Some("demo"), Some("/oidc/resume/abc")), "/login?tenant=demo&return_to=%2Foidc%2Fresume%2Fabc");
        assert_eq!(login_page(None, Some("/account")), "/login?return_to=%2Faccount");
    }
}
