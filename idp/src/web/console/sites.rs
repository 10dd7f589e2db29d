//! Relying sites in the console: the tenant's OIDC clients, and registering one (name,
//! redirect URIs, confidential or public, optionally machine-to-machine, optionally the
//! user claims it may receive, and every other field the admin API takes: `site_fields`).
//! The client ID and, for a client with a secret, the secret are shown once on the answer. A site's own page, where it is changed, given a new
//! secret or removed, is in `site_edit`.

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use mamori_storage::model::{ApiScope, OidcClient};

use super::site_fields::{self, SiteExtras};
use super::{Console, console_or_return, open_console};
use crate::admin::federation::{self, ClientRegistration};
use crate::fields::{ClientName, RedirectUri, site_rules};
use crate::oidc::redirect_uri;
use crate::state::SharedState;
use crate::urlcode;
use crate::web::context::{FormFields, PageCtx, field};

pub fn routes() -> Router<SharedState> {
    Router::new().route("/console/t/{tenant}/sites", get(list).post(create)).route("/console/t/{tenant}/sites/new", get(new_form))
}

const MAX_REDIRECT_URIS: usize = crate::oidc::clients::MAX_REDIRECT_URIS;

pub(super) fn sites_path(tenant: &str) -> String {
    format!("/console/t/{}/sites", urlcode::component(tenant))
}

/// Notices on the list after an action (`?notice=…`); only these are shown.
const LIST_NOTICES: &[&str] = &["removed"];

/// The query of a page that may show a notice after an action: `?notice=…`.
#[derive(Debug, serde::Deserialize, Default)]
pub(super) struct NoticeQuery {
    notice: Option<String>,
}

impl NoticeQuery {
    /// The notice's text, when it is one of `allowed` (message `{prefix}.{notice}`).
    pub(super) fn text(&self, console: &Console, allowed: &[&str], prefix: &str) -> Option<String> {
        let notice = self.notice.as_deref().filter(|n| allowed.contains(n))?;
        Some(console.ctx.message(&format!("{prefix}.{notice}")))
    }
}

async fn list(ctx: PageCtx, Path(tenant): Path<String>, Query(query): Query<NoticeQuery>) -> Response {
    let console = console_or_return!(ctx, &sites_path(&tenant));
    let clients = match federation::oidc_clients(console.ctx.app(), &console.principal, &tenant).await {
        Ok(c) => c,
        Err(err) => return console.refused(&err).await,
    };
    let rows: Vec<serde_json::Value> = clients
        .iter()
        .map(|c| {
            let mut row = client_row(&console, c);
            row["href"] = serde_json::json!(site_path(&tenant, &c.client_id));
            row
        })
        .collect();
    let notice = query.text(&console, LIST_NOTICES, "console.sites.notice");
    console.page(StatusCode::OK, "console/sites.html", &tenant, serde_json::json!({ "clients": rows, "notice": notice })).await
}

/// A site's own page.
pub(super) fn site_path(tenant: &str, client_id: &str) -> String {
    format!("{}/{}", sites_path(tenant), urlcode::component(client_id))
}

/// `public` for a client without a secret or keys (`none`), else `confidential`.
pub(super) fn kind_of(c: &OidcClient) -> &'static str {
    if c.token_endpoint_auth_method == "none" { "public" } else { "confidential" }
}

pub(super) fn client_row(console: &Console, c: &OidcClient) -> serde_json::Value {
    let kind = kind_of(c);
    serde_json::json!({
        "client_id": c.client_id,
        "name": c.name,
        "kind": console.ctx.message(&format!("console.sites.kind.{kind}")),
        "redirect_uris": c.redirect_uris,
        "grant_types": c.grant_types.join(" "),
        "claims": match &c.claims {
            Some(list) => list.join(" "),
            None => console.ctx.message("console.sites.claims.all"),
        },
    })
}

async fn new_form(ctx: PageCtx, Path(tenant): Path<String>) -> Response {
    let console = console_or_return!(ctx, &format!("{}/new", sites_path(&tenant)));
    // The tenant check before the form, so another tenant's form is a 404 too.
    if let Err(err) = console.principal.tenant(console.ctx.app(), &tenant, ApiScope::Write).await {
        return console.refused(&err).await;
    }
    form_page(&console, &tenant, StatusCode::OK, &SiteForm::default(), &[]).await
}

/// What the registration form, and a site's edit form, hold.
#[derive(Debug, Default, serde::Serialize)]
pub(super) struct SiteForm {
    pub(super) name: String,
    pub(super) redirect_uris: String,
    pub(super) kind: String,
    pub(super) machine: bool,
    /// The claim release list as typed (comma- or space-separated); empty: every claim
    /// the granted scopes allow.
    pub(super) claims: String,
    #[serde(flatten)]
    pub(super) extra: SiteExtras,
}

impl SiteForm {
    /// The form as posted; `kind` comes from the form at registration and from the
    /// client afterwards (it is fixed at registration).
    pub(super) fn from_fields(fields: &FormFields, kind: &str) -> SiteForm {
        SiteForm {
            name: field(fields, "name").trim().to_owned(),
            redirect_uris: field(fields, "redirect_uris").to_owned(),
            // As posted: an unknown kind is refused by the service's rule, not guessed at.
            kind: kind.to_owned(),
            machine: field(fields, "machine") == "on",
            claims: field(fields, "claims").trim().to_owned(),
            extra: SiteExtras::from_fields(fields),
        }
    }
}

/// A site form's fields with the CSRF token checked, or the answer refusing it: the
/// redirect URI list may be longer than the usual field bound.
#[allow(clippy::result_large_err)] // the refusal is the page itself, answered at once
pub(super) fn accept_site_form(console: &Console, form: Result<Form<FormFields>, FormRejection>) -> Result<FormFields, Response> {
    let Ok(Form(fields)) = form else {
        return Err(console.ctx.error_to_console(StatusCode::BAD_REQUEST, "enroll.form.invalid"));
    };
    if !console.ctx.csrf_ok(&fields) {
        return Err(console.ctx.error_to_console(StatusCode::FORBIDDEN, "csrf.invalid"));
    }
    if let Some((name, max)) = crate::web::context::overlong_field(&fields, site_fields::max_chars) {
        return Err(console.ctx.too_long(name, max));
    }
    Ok(fields)
}

async fn form_page(console: &Console, tenant: &str, status: StatusCode, form: &SiteForm, problems: &[String]) -> Response {
    // The form's fields at the top level, as the template reads them (refilled after a
    // problem, without a JWK Set that holds secrets).
    let mut ctx = serde_json::to_value(form).unwrap_or_default();
    let mut extra = form.extra.clone();
    extra.forget_secret_keys();
    if extra.jwks.is_empty()
        && let Some(map) = ctx.as_object_mut()
    {
        map.insert("jwks".to_owned(), serde_json::json!(""));
    }
    if let Some(map) = ctx.as_object_mut() {
        map.insert("problem".to_owned(), serde_json::json!(problems));
        map.insert("action".to_owned(), serde_json::json!(sites_path(tenant)));
        map.insert("options".to_owned(), site_fields::options(console, &form.extra));
    }
    console.page(status, "console/site_new.html", tenant, ctx).await
}

async fn create(ctx: PageCtx, Path(tenant): Path<String>, form: Result<Form<FormFields>, FormRejection>) -> Response {
    let console = console_or_return!(ctx, &sites_path(&tenant));
    let fields = match accept_site_form(&console, form) {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let form = SiteForm::from_fields(&fields, field(&fields, "kind"));
    if let Err(refused) = site_rules::client_kind(&form.kind) {
        let problem = format!("{}: {}", console.ctx.message("console.sites.kind"), console.field_text(&refused));
        return form_page(&console, &tenant, StatusCode::UNPROCESSABLE_ENTITY, &form, &[problem]).await;
    }
    let spec = match check_form(&form) {
        Ok(spec) => spec,
        Err(keys) => {
            let problems: Vec<String> = keys.iter().map(|k| console.ctx.message(k)).collect();
            return form_page(&console, &tenant, StatusCode::UNPROCESSABLE_ENTITY, &form, &problems).await;
        }
    };
    let (client, secret) = match federation::create_oidc_client(console.ctx.app(), &console.principal, &tenant, spec).await {
        Ok(created) => (created.client, created.secret),
        Err(err) => {
            return match site_fields::refusal_message(&console, &err, "console.sites.problem.refused") {
                Some(problem) => form_page(&console, &tenant, StatusCode::UNPROCESSABLE_ENTITY, &form, &[problem]).await,
                None => console.refused(&err).await,
            };
        }
    };
    let main = &console.ctx.state.urls.main;
    let slug = urlcode::component(&tenant);
    console
        .page(
            StatusCode::CREATED,
            "console/site_created.html",
            &tenant,
            serde_json::json!({
                "client": client_row(&console, &client),
                "client_secret": secret,
                "issuer_config": format!("{main}/t/{slug}/.well-known/openid-configuration"),
                "token_endpoint": format!("{main}/t/{slug}/token"),
                "sites_href": sites_path(&tenant),
            }),
        )
        .await
}

/// The registration for a filled-in form, or the message keys of what is wrong (checked
/// here first so the page can say it in the operator's language; the service layer
/// checks again).
pub(super) fn check_form(form: &SiteForm) -> Result<ClientRegistration, Vec<&'static str>> {
    let mut problems = Vec::new();
    // The parsers the service layer uses, so the console accepts exactly what the API
    // does; a refusal's message key says what is wrong in the operator's language.
    if let Err(refused) = ClientName::parse(&form.name) {
        problems.push(refused.key);
    }
    let redirect_uris: Vec<String> = form.redirect_uris.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect();
    if redirect_uris.len() > MAX_REDIRECT_URIS {
        problems.push("console.sites.problem.redirect_uri");
    }
    if let Err(refused) = RedirectUri::parse_list(redirect_uri::REDIRECT_URIS, &redirect_uris) {
        problems.push(refused.key);
    }
    let public = form.kind == "public";
    if public && form.machine {
        problems.push("console.sites.problem.public_machine");
    }
    // Browsers log in through the authorization code flow, which needs a redirect URI;
    // a machine-only client may have none.
    if redirect_uris.is_empty() && !form.machine {
        problems.push("console.sites.problem.no_redirect_uri");
    }
    let listed: Vec<String> =
        form.claims.split(|c: char| c == ',' || c.is_whitespace()).filter(|c| !c.is_empty()).map(str::to_owned).collect();
    // The API's check, so the console accepts exactly the names the API does.
    let claims = if listed.is_empty() { None } else { federation::checked_claims(listed).ok() };
    if claims.is_none() && form.claims.split(|c: char| c == ',' || c.is_whitespace()).any(|c| !c.is_empty()) {
        problems.push("console.sites.problem.claims");
    }
    let mut grant_types = Vec::new();
    if !redirect_uris.is_empty() {
        grant_types.push("authorization_code".to_owned());
        if form.extra.refresh {
            grant_types.push("refresh_token".to_owned());
        }
    }
    if form.machine {
        grant_types.push("client_credentials".to_owned());
    }
    let mut registration =
        ClientRegistration { name: form.name.clone(), redirect_uris, grant_types, claims, ..ClientRegistration::default() };
    if let Err(keys) = form.extra.apply(&mut registration, public) {
        problems.extend(keys);
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(registration)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(name: &str, uris: &str, kind: &str, machine: bool) -> SiteForm {
        SiteForm {
            name: name.into(),
            redirect_uris: uris.into(),
            kind: kind.into(),
            machine,
            claims: String::new(),
            extra: SiteExtras::default(),
        }
    }

    #[test]
    fn the_claim_list_is_optional_and_checked_as_the_api_checks_it() {
        let with = |claims: &str| {
            check_form(&SiteForm { claims: claims.into(), ..form("Shop", "https://shop.example/cb", "confidential", false) })
        };
        assert_eq!(with("").expect("valid").claims, None);
        assert_eq!(
            with("email, email_verified name,email").expect("valid").claims,
            Some(vec!["email".into(), "email_verified".into(), "name".into()])
        );
        for bad in ["phone_number", "email,Email", "email;name"] {
            assert_eq!(with(bad).err(), Some(vec!["console.sites.problem.claims"]), "{bad}");
        }
    }

    #[test]
    fn the_form_becomes_a_client_spec() {
        let spec =
            check_form(&form("Shop", "https://shop.example/cb\r\n\r\nhttp://127.0.0.1:8080/cb", "confidential", false)).expect("valid");
        assert_eq!(spec.redirect_uris, ["https://shop.example/cb", "http://127.0.0.1:8080/cb"]);
        assert_eq!(spec.grant_types, ["authorization_code", "refresh_token"]);
        assert_eq!(spec.token_endpoint_auth_method, "client_secret_basic");

        let spec = check_form(&form("App", "https://app.example/cb", "public", false)).expect("valid");
        assert_eq!(spec.token_endpoint_auth_method, "none");
        assert!(spec.require_pkce);

        let spec = check_form(&form("Batch", "", "confidential", true)).expect("valid");
        assert_eq!(spec.grant_types, ["client_credentials"]);
    }

    #[test]
    fn bad_forms_name_their_problems() {
        // The name by the API's own parser: blank, over-long, or hiding a bidi override.
        for name in [String::new(), "名".repeat(201), "\u{202E}emcA".to_owned()] {
            assert_eq!(
                check_form(&form(&name, "https://a.example/cb", "confidential", false)).err(),
                Some(vec!["field.client_name.invalid"])
            );
        }
        for (uri, key) in [
            ("http://evil.example/cb", "oidc.redirect_uri.not_https"),
            ("http://localhost:@evil.example/cb", "oidc.redirect_uri.userinfo"),
            ("http://127.0.0.1:80@evil.example/cb", "oidc.redirect_uri.userinfo"),
            ("https://shop.example/cb#x", "oidc.redirect_uri.fragment"),
        ] {
            assert_eq!(check_form(&form("X", uri, "confidential", false)).err(), Some(vec![key]), "{uri}");
        }
        let many = vec!["https://a.example/cb"; MAX_REDIRECT_URIS + 1].join("\n");
        assert_eq!(check_form(&form("X", &many, "confidential", false)).err(), Some(vec!["console.sites.problem.redirect_uri"]));
        assert_eq!(check_form(&form("X", "", "public", true)).err(), Some(vec!["console.sites.problem.public_machine"]));
        assert_eq!(check_form(&form("X", "", "confidential", false)).err(), Some(vec!["console.sites.problem.no_redirect_uri"]));
    }
}
