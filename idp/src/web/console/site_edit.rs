//! A relying site's own page in the console: what it is, and changing its name, redirect
//! URIs, machine-to-machine access, claim release list and the other fields the service
//! lets change (`site_fields`) with the registration form's fields and checks; a new client secret (shown once) and removing the site. Every
//! change is a CSRF-checked POST that calls the same service functions as the REST API,
//! so confinement to the tenant, validation and the audit trail are the API's own.

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use mamori_storage::model::{ApiScope, OidcClient};

use super::site_fields::{self, SiteExtras};
use super::sites::{NoticeQuery, SiteForm, accept_site_form, check_form, client_row, kind_of, site_path, sites_path};
use super::{Console, console_or_return, open_console};
use crate::admin::federation::{self, ClientRegistration, ClientUpdate};
use crate::oidc::clients::{ClientSettings, RegisteredClient};
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
    let site = match federation::registered_oidc_client(console.ctx.app(), &console.principal, &tenant, &client_id).await {
        Ok(c) => c,
        Err(err) => return console.refused(&err).await,
    };
    let notice = query.text(&console, NOTICES, "console.site.notice");
    let form = form_of(&site.client, &site.settings);
    site_page(&console, &tenant, &site, StatusCode::OK, &form, &[], notice).await
}

/// The site's page: its facts, the edit form (refilled from `form`) and the actions.
async fn site_page(
    console: &Console,
    tenant: &str,
    site: &RegisteredClient,
    status: StatusCode,
    form: &SiteForm,
    problems: &[String],
    notice: Option<String>,
) -> Response {
    let client = &site.client;
    let mut ctx = serde_json::to_value(form).unwrap_or_default();
    if let Some(map) = ctx.as_object_mut() {
        // The registered certificate, as self_signed_tls_client_auth compares it.
        map.insert("tls_fingerprints".to_owned(), serde_json::json!(site.settings.tls_client_certificate_sha256));
        map.insert("client".to_owned(), client_row(console, client));
        map.insert("problem".to_owned(), serde_json::json!(problems));
        map.insert("notice".to_owned(), serde_json::json!(notice));
        map.insert("href".to_owned(), serde_json::json!(site_path(tenant, &client.client_id)));
        map.insert("public".to_owned(), serde_json::json!(kind_of(client) == "public"));
        map.insert("has_secret".to_owned(), serde_json::json!(has_secret(client)));
        map.insert("sites_href".to_owned(), serde_json::json!(sites_path(tenant)));
        map.insert("options".to_owned(), site_fields::options(console, &form.extra));
    }
    console.page(status, "console/site.html", tenant, ctx).await
}

/// Whether the client authenticates with a secret (the only kind that can get a new one).
fn has_secret(client: &OidcClient) -> bool {
    client.token_endpoint_auth_method.starts_with("client_secret_")
}

/// The edit form filled in with the client as it is.
fn form_of(client: &OidcClient, settings: &ClientSettings) -> SiteForm {
    SiteForm {
        name: client.name.clone(),
        redirect_uris: client.redirect_uris.join("\n"),
        kind: kind_of(client).to_owned(),
        machine: client.grant_types.iter().any(|g| g == "client_credentials"),
        claims: client.claims.as_ref().map(|c| c.join(", ")).unwrap_or_default(),
        extra: SiteExtras::of(client, settings),
    }
}

/// The grant types after an edit. Machine-to-machine follows the checkbox, refresh
/// tokens theirs (they come with the code flow). The authorization code flow needs a
/// redirect URI, so it goes with the last one; it is kept where the client had it, and
/// added where the client had no redirect URI before or would have no grant left.
fn edited_grants(client: &OidcClient, redirect_uris: &[String], machine: bool, refresh: bool) -> Vec<String> {
    let had = |g: &str| client.grant_types.iter().any(|h| h == g);
    let code = !redirect_uris.is_empty() && (had("authorization_code") || client.redirect_uris.is_empty() || !machine);
    let mut grants = Vec::new();
    if code {
        grants.push("authorization_code".to_owned());
        if refresh {
            grants.push("refresh_token".to_owned());
        }
    }
    if machine {
        grants.push("client_credentials".to_owned());
    }
    grants
}

/// The change a checked form makes: the name, redirect URIs, grant types and claim
/// release list, and of the other fields those that changed (the auth method, and so
/// the kind, its certificate and client ID are fixed at registration).
fn update_of(site: &RegisteredClient, checked: ClientRegistration, form: &SiteForm) -> ClientUpdate {
    let client = &site.client;
    let mut update = ClientUpdate {
        grant_types: Some(edited_grants(client, &checked.redirect_uris, form.machine, form.extra.refresh)),
        name: Some(checked.name.clone()),
        redirect_uris: Some(checked.redirect_uris.clone()),
        claims: Some(checked.claims.clone()),
        ..ClientUpdate::default()
    };
    site_fields::changes(client, &site.settings, &checked, &mut update);
    update
}

async fn save(ctx: PageCtx, Path((tenant, client_id)): Path<(String, String)>, form: Result<Form<FormFields>, FormRejection>) -> Response {
    let href = site_path(&tenant, &client_id);
    let console = console_or_return!(ctx, &href);
    let fields = match accept_site_form(&console, form) {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let app = console.ctx.app();
    // Write scope first, so that a read-only role is refused before anything is read.
    if let Err(err) = federation::oidc_client(app, &console.principal, &tenant, &client_id, ApiScope::Write).await {
        return console.refused(&err).await;
    }
    let site = match federation::registered_oidc_client(app, &console.principal, &tenant, &client_id).await {
        Ok(c) => c,
        Err(err) => return console.refused(&err).await,
    };
    let mut form = SiteForm::from_fields(&fields, kind_of(&site.client));
    // Fixed at registration: the form's values are the client's, whatever was posted.
    let fixed = SiteExtras::of(&site.client, &site.settings);
    form.extra.client_id = fixed.client_id;
    form.extra.auth_method = fixed.auth_method;
    form.extra.tls_client_auth_subject_dn = fixed.tls_client_auth_subject_dn;
    form.extra.tls_bound = fixed.tls_bound;
    form.extra.tls_client_certificate = String::new();
    let problems = match check_form(&form) {
        Ok(checked) => {
            let update = update_of(&site, checked, &form);
            match federation::update_oidc_client(app, &console.principal, &tenant, &client_id, update).await {
                Ok(_) => return Redirect::to(&format!("{href}?notice=saved")).into_response(),
                Err(err) => match site_fields::refusal_message(&console, &err, "console.site.problem.refused") {
                    Some(problem) => vec![problem],
                    None => return console.refused(&err).await,
                },
            }
        }
        Err(keys) => keys.iter().map(|k| console.ctx.message(k)).collect(),
    };
    form.extra.forget_secret_keys();
    site_page(&console, &tenant, &site, StatusCode::UNPROCESSABLE_ENTITY, &form, &problems, None).await
}

/// A new client secret, shown this once; the old one stops working.
async fn new_secret(
    ctx: PageCtx,
    Path((tenant, client_id)): Path<(String, String)>,
    form: Result<Form<FormFields>, FormRejection>,
) -> Response {
    let href = site_path(&tenant, &client_id);
    let console = console_or_return!(ctx, &href);
    let fields = match console.ctx.accept_form(form) {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    // The site's working secret stops at once: the operator confirms first (another
    // tenant's site is a 404 here too).
    if field(&fields, "confirmed") != "yes" {
        let site = match federation::oidc_client(console.ctx.app(), &console.principal, &tenant, &client_id, ApiScope::Write).await {
            Ok(site) => site,
            Err(err) => return console.refused(&err).await,
        };
        let confirmation = super::Confirmation {
            title_key: "console.confirm.secret.title".into(),
            submit_key: "console.confirm.secret.submit".into(),
            lead: console.ctx.message("console.confirm.secret.lead"),
            facts: vec![("console.sites.client_id".into(), site.client_id.clone()), ("console.sites.name".into(), site.name.clone())],
            action: format!("{href}/secret"),
            back: href,
            ..Default::default()
        };
        return console.confirm(&tenant, confirmation).await;
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
        if let Err(err) = federation::oidc_client(app, &console.principal, &tenant, &client_id, ApiScope::Write).await {
            return console.refused(&err).await;
        }
        let site = match federation::registered_oidc_client(app, &console.principal, &tenant, &client_id).await {
            Ok(c) => c,
            Err(err) => return console.refused(&err).await,
        };
        let problems = [console.ctx.message("console.site.problem.confirm")];
        let form = form_of(&site.client, &site.settings);
        return site_page(&console, &tenant, &site, StatusCode::UNPROCESSABLE_ENTITY, &form, &problems, None).await;
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
        let form = form_of(&c, &ClientSettings::default());
        assert_eq!(form.name, "Shop");
        assert_eq!(form.redirect_uris, "https://a.example/cb\nhttps://b.example/cb");
        assert_eq!(form.kind, "confidential");
        assert!(form.machine);
        assert_eq!(form.claims, "email, name");
        // Unchanged, it passes the registration's checks and changes nothing.
        let checked = check_form(&form).expect("valid");
        let update = update_of(&RegisteredClient { client: c.clone(), settings: ClientSettings::default() }, checked, &form);
        assert_eq!(update.redirect_uris.as_deref(), Some(&c.redirect_uris[..]));
        assert_eq!(update.grant_types.as_deref(), Some(&c.grant_types[..]));
        assert_eq!(update.claims, Some(Some(vec!["email".to_owned(), "name".to_owned()])));
        assert!(update.scopes.is_none() && update.require_pkce.is_none() && update.jwks.is_none(), "nothing else is touched");
        // Refresh tokens follow their box.
        assert!(!form.extra.refresh, "the client has no refresh tokens");
        let with = SiteForm { extra: SiteExtras { refresh: true, ..form.extra.clone() }, ..form_of(&c, &ClientSettings::default()) };
        let site = RegisteredClient { client: c.clone(), settings: ClientSettings::default() };
        let update = update_of(&site, check_form(&with).expect("valid"), &with);
        let grants = ["authorization_code", "refresh_token", "client_credentials"].map(str::to_owned);
        assert_eq!(update.grant_types.as_deref(), Some(&grants[..]));

        let public =
            form_of(&client("none", &["https://app.example/cb"], &["authorization_code", "refresh_token"]), &ClientSettings::default());
        assert_eq!((public.kind.as_str(), public.machine, public.claims.as_str()), ("public", false, ""));
    }

    #[test]
    fn a_public_client_cannot_become_machine_to_machine() {
        let form = SiteForm {
            machine: true,
            ..form_of(&client("none", &["https://app.example/cb"], &["authorization_code"]), &ClientSettings::default())
        };
        assert_eq!(check_form(&form).err(), Some(vec!["console.sites.problem.public_machine"]));
    }

    #[test]
    fn grants_follow_the_form_and_keep_the_clients_choices() {
        let web = client("client_secret_basic", &["https://a.example/cb"], &["authorization_code", "refresh_token"]);
        let two = uris(&["https://a.example/cb", "https://a.example/cb2"]);
        assert_eq!(edited_grants(&web, &two, false, true), ["authorization_code", "refresh_token"]);
        assert_eq!(edited_grants(&web, &two, true, true), ["authorization_code", "refresh_token", "client_credentials"]);
        // No redirect URI left: machine-to-machine only.
        assert_eq!(edited_grants(&web, &[], true, true), ["client_credentials"]);
        // Code without refresh tokens (registered through the API) stays so.
        let no_refresh = client("client_secret_basic", &["https://a.example/cb"], &["authorization_code"]);
        assert_eq!(edited_grants(&no_refresh, &two, false, false), ["authorization_code"]);
        // A machine client given its first redirect URI gets the browser login, as at registration.
        let machine = client("client_secret_basic", &[], &["client_credentials"]);
        assert_eq!(edited_grants(&machine, &two, true, true), ["authorization_code", "refresh_token", "client_credentials"]);
        // One that had redirect URIs but no code flow keeps it so while it stays machine-to-machine.
        let cc_with_uris = client("client_secret_basic", &["https://a.example/cb"], &["client_credentials"]);
        assert_eq!(edited_grants(&cc_with_uris, &two, true, true), ["client_credentials"]);
        assert_eq!(edited_grants(&cc_with_uris, &two, false, true), ["authorization_code", "refresh_token"]);
    }

    #[test]
    fn the_claim_list_can_be_emptied() {
        let mut c = client("client_secret_basic", &["https://a.example/cb"], &["authorization_code"]);
        c.claims = Some(vec!["email".into()]);
        let form = SiteForm { claims: String::new(), ..form_of(&c, &ClientSettings::default()) };
        let site = RegisteredClient { client: c.clone(), settings: ClientSettings::default() };
        let update = update_of(&site, check_form(&form).expect("valid"), &form);
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
        let option = serde_json::json!([{"value": "v", "label": "L", "selected": true}]);
        let options =
            serde_json::json!({"auth_methods": option, "token_formats": option, "id_token_algs": option, "auth_method_label": "Secret"});
        let pages = [
            (
                "console/site.html",
                serde_json::json!({"console": console, "csrf_token": "x", "client": client, "name": "N", "redirect_uris": "https://a/cb", "kind": "confidential",
                "machine": true, "claims": "email", "problem": ["bad"], "notice": "saved", "href": "/console/t/demo/sites/c-1", "public": false, "has_secret": true, "sites_href": "/s", "options": options, "scopes": "openid", "jwks": "{}"}),
            ),
            (
                "console/site.html",
                serde_json::json!({"console": console, "csrf_token": "x", "client": client, "name": "N", "redirect_uris": "", "kind": "public",
                "machine": false, "claims": "", "problem": [], "notice": null, "href": "/console/t/demo/sites/c-1", "public": true, "has_secret": false, "sites_href": "/s", "options": options, "refresh": true}),
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
                serde_json::json!({"console": console, "csrf_token": "x", "name": "N", "redirect_uris": "https://a/cb", "kind": "public", "machine": false, "claims": "email", "problem": ["bad"], "action": "/console/t/demo/sites", "options": options, "client_id": "demo.x"}),
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
