//! A relying site's own page in the console: what it is, and changing its name, redirect
//! URIs, machine-to-machine access and claim release list with the registration form's
//! fields and checks; a new client secret (shown once) and removing the site. Every
//! change is a CSRF-checked POST that calls the same service functions as the REST API,
//! so confinement to the tenant, validation and the audit trail are the API's own.

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use mamori_storage::model::{ApiScope, OidcClient};

use super::sites::{NoticeQuery, SiteForm, accept_site_form, check_form, client_row, kind_of, site_path, sites_path};
use super::{Console, console_or_return, open_console};
use crate::admin::AdminError;
use crate::admin::federation::{self, ClientRegistration, ClientUpdate};
use crate::state::SharedState;
use crate::web::context::{FormFields, PageCtx, field};

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/console/t/{tenant}/sites/{client_id}", get(show).post(save))
        .route("/console/t/{tenant}/sites/{client_id}/secret", post(new_secret))
        .route("/console/t/{tenant}/sites/{client_id}/delete", post(remove))
}

/// Notices on the site's page after an action (`?notice=…`); only these are shown.
const NOTICES: &[&str] = &["saved"];

async fn show(ctx: PageCtx, Path((tenant, client_id)): Path<(String, String)>, Query(query): Query<NoticeQuery>) -> Response {
    let console = console_or_return!(ctx, &site_path(&tenant, &client_id));
    let client = match federation::oidc_client(console.ctx.app(), &console.principal, &tenant, &client_id, ApiScope::Read).await {
        Ok(c) => c,
        Err(err) => return console.refused(&err).await,
    };
    let notice = query.text(&console, NOTICES, "console.site.notice");
    site_page(&console, &tenant, &client, StatusCode::OK, &form_of(&client), &[], notice).await
}

/// The site's page: its facts, the edit form (refilled from `form`) and the actions.
async fn site_page(
    console: &Console,
    tenant: &str,
    client: &OidcClient,
    status: StatusCode,
    form: &SiteForm,
    problems: &[String],
    notice: Option<String>,
) -> Response {
    let mut ctx = serde_json::to_value(form).unwrap_or_default();
    if let Some(map) = ctx.as_object_mut() {
        map.insert("client".to_owned(), client_row(console, client));
        map.insert("problem".to_owned(), serde_json::json!(problems));
        map.insert("notice".to_owned(), serde_json::json!(notice));
        map.insert("href".to_owned(), serde_json::json!(site_path(tenant, &client.client_id)));
        map.insert("public".to_owned(), serde_json::json!(kind_of(client) == "public"));
        map.insert("has_secret".to_owned(), serde_json::json!(has_secret(client)));
        map.insert("sites_href".to_owned(), serde_json::json!(sites_path(tenant)));
    }
    console.page(status, "console/site.html", tenant, ctx).await
}

/// Whether the client authenticates with a secret (the only kind that can get a new one).
fn has_secret(client: &OidcClient) -> bool {
    client.token_endpoint_auth_method.starts_with("client_secret_")
}

/// The edit form filled in with the client as it is.
fn form_of(client: &OidcClient) -> SiteForm {
    SiteForm {
        name: client.name.clone(),
        redirect_uris: client.redirect_uris.join("\n"),
        kind: kind_of(client).to_owned(),
        machine: client.grant_types.iter().any(|g| g == "client_credentials"),
        claims: client.claims.as_ref().map(|c| c.join(", ")).unwrap_or_default(),
    }
}

/// The grant types after an edit. Machine-to-machine follows the checkbox. The
/// authorization code flow needs a redirect URI, so it goes with the last one; it is kept
/// where the client had it, and added (with refresh tokens, as at registration) where the
/// client had no redirect URI before or would have no grant left. Otherwise a client
/// registered through the API keeps its choices (say, code without refresh tokens).
fn edited_grants(client: &OidcClient, redirect_uris: &[String], machine: bool) -> Vec<String> {
    let had = |g: &str| client.grant_types.iter().any(|h| h == g);
    let code = !redirect_uris.is_empty() && (had("authorization_code") || client.redirect_uris.is_empty() || !machine);
    let mut grants = Vec::new();
    if code {
        grants.push("authorization_code".to_owned());
        if had("refresh_token") || !had("authorization_code") {
            grants.push("refresh_token".to_owned());
        }
    }
    if machine {
        grants.push("client_credentials".to_owned());
    }
    grants
}

/// The change a checked form makes: only the name, redirect URIs, grant types and claim
/// release list (the auth method, and so the kind, is fixed at registration).
fn update_of(client: &OidcClient, checked: ClientRegistration, machine: bool) -> ClientUpdate {
    ClientUpdate {
        grant_types: Some(edited_grants(client, &checked.redirect_uris, machine)),
        name: Some(checked.name),
        redirect_uris: Some(checked.redirect_uris),
        claims: Some(checked.claims),
        ..ClientUpdate::default()
    }
}

async fn save(ctx: PageCtx, Path((tenant, client_id)): Path<(String, String)>, form: Result<Form<FormFields>, FormRejection>) -> Response {
    let href = site_path(&tenant, &client_id);
    let console = console_or_return!(ctx, &href);
    let fields = match accept_site_form(&console, form) {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let app = console.ctx.app();
    let client = match federation::oidc_client(app, &console.principal, &tenant, &client_id, ApiScope::Write).await {
        Ok(c) => c,
        Err(err) => return console.refused(&err).await,
    };
    let form = SiteForm::from_fields(&fields, kind_of(&client));
    let problems = match check_form(&form) {
        Ok(checked) => {
            let update = update_of(&client, checked, form.machine);
            match federation::update_oidc_client(app, &console.principal, &tenant, &client_id, update).await {
                Ok(_) => return Redirect::to(&format!("{href}?notice=saved")).into_response(),
                Err(AdminError::Field(refused)) => vec![console.ctx.message(refused.key)],
                Err(AdminError::Invalid(why) | AdminError::Conflict(why)) => {
                    // Checked above; what remains is told in general terms.
                    tracing::info!(why, "console: OIDC client change refused");
                    vec![console.ctx.message("console.site.problem.refused")]
                }
                Err(err) => return console.refused(&err).await,
            }
        }
        Err(keys) => keys.iter().map(|k| console.ctx.message(k)).collect(),
    };
    site_page(&console, &tenant, &client, StatusCode::UNPROCESSABLE_ENTITY, &form, &problems, None).await
}

/// A new client secret, shown this once; the old one stops working.
async fn new_secret(
    ctx: PageCtx,
    Path((tenant, client_id)): Path<(String, String)>,
    form: Result<Form<FormFields>, FormRejection>,
) -> Response {
    let href = site_path(&tenant, &client_id);
    let console = console_or_return!(ctx, &href);
    if let Err(response) = console.ctx.accept_form(form) {
        return response;
    }
    let rotated = match federation::rotate_oidc_client_secret(console.ctx.app(), &console.principal, &tenant, &client_id).await {
        Ok(rotated) => rotated,
        Err(err) => return console.refused(&err).await,
    };
    console
        .page(
            StatusCode::OK,
            "console/site_secret.html",
            &tenant,
            serde_json::json!({
                "client": client_row(&console, &rotated.client),
                "client_secret": rotated.secret,
                "href": href,
            }),
        )
        .await
}

/// Removes the site once the operator has ticked the confirmation; back to the list.
async fn remove(
    ctx: PageCtx,
    Path((tenant, client_id)): Path<(String, String)>,
    form: Result<Form<FormFields>, FormRejection>,
) -> Response {
    let console = console_or_return!(ctx, &site_path(&tenant, &client_id));
    let fields = match console.ctx.accept_form(form) {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let app = console.ctx.app();
    if field(&fields, "confirm") != "on" {
        // Not confirmed: the page again, saying so (another tenant's site is still a 404).
        let client = match federation::oidc_client(app, &console.principal, &tenant, &client_id, ApiScope::Write).await {
            Ok(c) => c,
            Err(err) => return console.refused(&err).await,
        };
        let problems = [console.ctx.message("console.site.problem.confirm")];
        return site_page(&console, &tenant, &client, StatusCode::UNPROCESSABLE_ENTITY, &form_of(&client), &problems, None).await;
    }
    match federation::delete_oidc_client(app, &console.principal, &tenant, &client_id).await {
        Ok(()) => Redirect::to(&format!("{}?notice=removed", sites_path(&tenant))).into_response(),
        Err(err) => console.refused(&err).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(auth: &str, uris: &[&str], grants: &[&str]) -> OidcClient {
        OidcClient {
            id: uuid::Uuid::nil(),
            tenant_id: uuid::Uuid::nil(),
            client_id: "c-1".into(),
            client_secret_hash: None,
            name: "Shop".into(),
            redirect_uris: uris.iter().map(|u| (*u).to_owned()).collect(),
            post_logout_redirect_uris: Vec::new(),
            grant_types: grants.iter().map(|g| (*g).to_owned()).collect(),
            response_types: Vec::new(),
            token_endpoint_auth_method: auth.into(),
            jwks: None,
            jwks_uri: None,
            scopes: vec!["openid".into()],
            claims: None,
            access_token_format: mamori_storage::model::AccessTokenFormat::Jwt,
            first_party: false,
            require_pkce: false,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn uris(list: &[&str]) -> Vec<String> {
        list.iter().map(|u| (*u).to_owned()).collect()
    }

    #[test]
    fn the_edit_form_starts_from_the_client() {
        let mut c =
            client("client_secret_basic", &["https://a.example/cb", "https://b.example/cb"], &["authorization_code", "client_credentials"]);
        c.claims = Some(vec!["email".into(), "name".into()]);
        let form = form_of(&c);
        assert_eq!(form.name, "Shop");
        assert_eq!(form.redirect_uris, "https://a.example/cb\nhttps://b.example/cb");
        assert_eq!(form.kind, "confidential");
        assert!(form.machine);
        assert_eq!(form.claims, "email, name");
        // Unchanged, it passes the registration's checks and changes nothing.
        let checked = check_form(&form).expect("valid");
        let update = update_of(&c, checked, form.machine);
        assert_eq!(update.redirect_uris.as_deref(), Some(&c.redirect_uris[..]));
        assert_eq!(update.grant_types.as_deref(), Some(&c.grant_types[..]));
        assert_eq!(update.claims, Some(Some(vec!["email".to_owned(), "name".to_owned()])));
        assert!(update.scopes.is_none() && update.require_pkce.is_none() && update.jwks.is_none(), "nothing else is touched");

        let public = form_of(&client("none", &["https://app.example/cb"], &["authorization_code", "refresh_token"]));
        assert_eq!((public.kind.as_str(), public.machine, public.claims.as_str()), ("public", false, ""));
    }

    #[test]
    fn a_public_client_cannot_become_machine_to_machine() {
        let form = SiteForm { machine: true, ..form_of(&client("none", &["https://app.example/cb"], &["authorization_code"])) };
        assert_eq!(check_form(&form).err(), Some(vec!["console.sites.problem.public_machine"]));
    }

    #[test]
    fn grants_follow_the_form_and_keep_the_clients_choices() {
        let web = client("client_secret_basic", &["https://a.example/cb"], &["authorization_code", "refresh_token"]);
        let two = uris(&["https://a.example/cb", "https://a.example/cb2"]);
        assert_eq!(edited_grants(&web, &two, false), ["authorization_code", "refresh_token"]);
        assert_eq!(edited_grants(&web, &two, true), ["authorization_code", "refresh_token", "client_credentials"]);
        // No redirect URI left: machine-to-machine only.
        assert_eq!(edited_grants(&web, &[], true), ["client_credentials"]);
        // Code without refresh tokens (registered through the API) stays so.
        let no_refresh = client("client_secret_basic", &["https://a.example/cb"], &["authorization_code"]);
        assert_eq!(edited_grants(&no_refresh, &two, false), ["authorization_code"]);
        // A machine client given its first redirect URI gets the browser login, as at registration.
        let machine = client("client_secret_basic", &[], &["client_credentials"]);
        assert_eq!(edited_grants(&machine, &two, true), ["authorization_code", "refresh_token", "client_credentials"]);
        // One that had redirect URIs but no code flow keeps it so while it stays machine-to-machine.
        let cc_with_uris = client("client_secret_basic", &["https://a.example/cb"], &["client_credentials"]);
        assert_eq!(edited_grants(&cc_with_uris, &two, true), ["client_credentials"]);
        assert_eq!(edited_grants(&cc_with_uris, &two, false), ["authorization_code", "refresh_token"]);
    }

    #[test]
    fn the_claim_list_can_be_emptied() {
        let mut c = client("client_secret_basic", &["https://a.example/cb"], &["authorization_code"]);
        c.claims = Some(vec!["email".into()]);
        let form = SiteForm { claims: String::new(), ..form_of(&c) };
        let update = update_of(&c, check_form(&form).expect("valid"), false);
        assert_eq!(update.claims, Some(None), "every claim the scopes allow again");
    }

    #[test]
    fn only_secret_clients_get_a_new_secret() {
        assert!(has_secret(&client("client_secret_basic", &[], &[])));
        assert!(has_secret(&client("client_secret_post", &[], &[])));
        assert!(!has_secret(&client("none", &[], &[])));
        assert!(!has_secret(&client("private_key_jwt", &[], &[])));
    }

    /// The new pages with the values the handlers give them, in both languages.
    #[test]
    fn site_pages_render_with_real_values() {
        use mamori_ui::{Locale, Ui};
        let ui = Ui::new();
        let console =
            serde_json::json!({"tenant": "demo", "base": "/console/t/demo", "operator": "op", "role": "tenant admin", "tenants": []});
        let client = serde_json::json!({"client_id": "c-1", "name": "N", "kind": "Confidential", "redirect_uris": ["https://a/cb"], "grant_types": "authorization_code", "claims": "email"});
        let pages = [
            (
                "console/site.html",
                serde_json::json!({"console": console, "csrf_token": "x", "client": client, "name": "N", "redirect_uris": "https://a/cb", "kind": "confidential",
                "machine": true, "claims": "email", "problem": ["bad"], "notice": "saved", "href": "/console/t/demo/sites/c-1", "public": false, "has_secret": true, "sites_href": "/s"}),
            ),
            (
                "console/site.html",
                serde_json::json!({"console": console, "csrf_token": "x", "client": client, "name": "N", "redirect_uris": "", "kind": "public",
                "machine": false, "claims": "", "problem": [], "notice": null, "href": "/console/t/demo/sites/c-1", "public": true, "has_secret": false, "sites_href": "/s"}),
            ),
            (
                "console/site_secret.html",
                serde_json::json!({"console": console, "csrf_token": "x", "client": client, "client_secret": "s3cret", "href": "/h"}),
            ),
            (
                "console/sites.html",
                serde_json::json!({"console": console, "csrf_token": "x", "notice": "removed", "clients": [{"client_id": "c-1", "href": "/h", "name": "N", "kind": "Public", "redirect_uris": [], "grant_types": "g", "claims": "c"}]}),
            ),
            (
                "console/site_new.html",
                serde_json::json!({"console": console, "csrf_token": "x", "name": "N", "redirect_uris": "https://a/cb", "kind": "public", "machine": false, "claims": "email", "problem": ["bad"], "action": "/console/t/demo/sites"}),
            ),
        ];
        for (name, ctx) in pages {
            for locale in [Locale::Ja, Locale::En] {
                let html = ui.render(name, locale, &ctx).unwrap_or_else(|e| panic!("{name}: {e:#?}"));
                assert!(!html.contains("??"), "{name} {locale:?}: a missing message");
                assert!(
                    !html.contains("<form") || html.contains("name=\"csrf_token\" value=\"x\""),
                    "{name}: every form has the CSRF token"
                );
            }
        }
    }
}
