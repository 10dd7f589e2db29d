//! The signing keys in the console, for super-admins only (the keys are shared by every
//! tenant; a tenant admin gets the console's 403 page): the OIDC and SAML keys with their
//! algorithm, use, state and dates, what relies on them (every tenant's OIDC sites and
//! SAML service providers, as far as the registrations tell), and their rotation behind
//! the console's confirmation page. Listing and rotating are the admin API's service
//! functions (`admin::keys`), which check the role and write the audit trail.

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use mamori_storage::model::ApiScope;

use super::sites::NoticeQuery;
use super::{Console, console_or_return, open_console};
use crate::admin::keys::{self, KeyInfo, KeyKind, KeyState};
use crate::admin::{AdminError, Paging, Reach, federation, tenants};
use crate::state::SharedState;
use crate::urlcode;
use crate::web::context::{FormFields, PageCtx, field};

pub fn routes() -> Router<SharedState> {
    Router::new().route("/console/t/{tenant}/keys", get(list)).route("/console/t/{tenant}/keys/rotate", post(rotate))
}

fn keys_path(tenant: &str) -> String {
    format!("/console/t/{}/keys", urlcode::component(tenant))
}

/// Notices on the page after a rotation (`?notice=…`); only these are shown.
const NOTICES: &[&str] = &["rotated-oidc", "rotated-saml"];

/// The SAML grace period offered first, as the CLI's and the API's default.
const DEFAULT_GRACE_DAYS: u32 = 7;

/// The page for a principal that is not a super-admin: the console's 403 page, and the
/// attempt in the audit trail as the console's other refusals are.
async fn not_super_admin(console: &Console, err: &AdminError) -> Response {
    if !matches!(err, AdminError::Forbidden(_)) {
        return console.refused(err).await;
    }
    let tenant = match console.principal.reach {
        Reach::Tenant(id) => Some(id),
        Reach::AllTenants => None,
    };
    let details = serde_json::json!({"status": 403});
    crate::admin::audit::record_refused(console.ctx.app(), &console.principal, tenant, "console.refused", &console.path, details).await;
    super::forbidden(&console.ctx, "console.keys.forbidden")
}

async fn list(ctx: PageCtx, Path(tenant): Path<String>, Query(query): Query<NoticeQuery>) -> Response {
    let console = console_or_return!(ctx, &keys_path(&tenant));
    if let Err(err) = console.principal.require_super_admin(ApiScope::Read) {
        return not_super_admin(&console, &err).await;
    }
    let notice = query.text(&console, NOTICES, "console.keys.notice");
    keys_page(&console, &tenant, StatusCode::OK, &[], notice).await
}

/// Who relies on the shared keys: per tenant, its OIDC sites (which verify ID tokens and
/// JWT access tokens with the JWKS) and its SAML service providers (which verify
/// responses with the key in the copy of the metadata they took in).
struct Usage {
    rows: Vec<serde_json::Value>,
    tenants: usize,
    oidc_sites: usize,
    saml_sps: usize,
}

async fn usage(console: &Console) -> Result<Usage, AdminError> {
    let app = console.ctx.app();
    let listed = tenants::list(app, &console.principal, Paging { offset: 0, limit: Paging::MAX_LIMIT }).await?;
    let mut usage = Usage { rows: Vec::new(), tenants: listed.items.len(), oidc_sites: 0, saml_sps: 0 };
    for t in &listed.items {
        let clients = federation::oidc_clients(app, &console.principal, &t.slug).await?;
        let sps = federation::saml_sps(app, &console.principal, &t.slug).await?;
        usage.oidc_sites += clients.len();
        usage.saml_sps += sps.len();
        usage.rows.push(serde_json::json!({
            "slug": t.slug,
            "oidc_sites": clients.len(),
            "saml_sps": sps.iter().map(|sp| serde_json::json!({"name": sp.name, "entity_id": sp.entity_id, "href": super::saml_sps::sp_path(&t.slug, &sp.id.to_string())})).collect::<Vec<_>>(),
        }));
    }
    Ok(usage)
}

/// What a key does now, in the operator's language: signing (or decrypting) for every
/// tenant, waiting to take over, or only verifying what it signed before.
fn key_use(console: &Console, key: &KeyInfo, all: &[KeyInfo]) -> String {
    let state = state_name(key.state);
    let text = console.ctx.message(&format!("console.keys.use.{}.{state}", key.purpose));
    let successor = all.iter().find(|k| k.purpose == key.purpose && k.state == KeyState::Next);
    let replaced = match (key.state, successor) {
        (KeyState::Active, Some(next)) => {
            format!(
                " {}",
                console
                    .ctx
                    .message("console.keys.replaced")
                    .replace("{kid}", &next.kid)
                    .replace("{from}", &console.time(next.activated_at))
            )
        }
        _ => String::new(),
    };
    let until = key.expires_at.map(|t| console.time(t)).unwrap_or_else(|| console.ctx.message("console.keys.no_date"));
    format!("{}{replaced}", text.replace("{from}", &console.time(key.activated_at)).replace("{until}", &until))
}

fn state_name(state: KeyState) -> &'static str {
    match state {
        KeyState::Next => "next",
        KeyState::Active => "active",
        KeyState::Retired => "retired",
    }
}

async fn keys_page(console: &Console, tenant: &str, status: StatusCode, problems: &[String], notice: Option<String>) -> Response {
    let app = console.ctx.app();
    let listed = match keys::list(app, &console.principal, tenant).await {
        Ok(listed) => listed,
        Err(err) => return console.refused(&err).await,
    };
    let usage = match usage(console).await {
        Ok(usage) => usage,
        Err(err) => return console.refused(&err).await,
    };
    let date = |t: Option<time::OffsetDateTime>| t.map(|t| console.time(t)).unwrap_or_else(|| console.ctx.message("console.keys.no_date"));
    let rows: Vec<serde_json::Value> = listed
        .iter()
        .map(|k| {
            let state = state_name(k.state);
            serde_json::json!({
                "kid": k.kid,
                "purpose": console.ctx.message(&format!("console.keys.purpose.{}", k.purpose)),
                "algorithm": k.algorithm,
                "state": state,
                "state_label": console.ctx.message(&format!("console.keys.state.{state}")),
                "created": console.time(k.created_at),
                "activated": console.time(k.activated_at),
                "retire_after": date(k.retire_after),
                "expires": date(k.expires_at),
                "used_by": key_use(console, k, &listed),
                "shared": k.shared,
            })
        })
        .collect();
    let ctx = serde_json::json!({
        "keys": rows,
        "usage": usage.rows,
        "usage_summary": summary(console, &usage),
        "problem": problems,
        "notice": notice,
        "action": format!("{}/rotate", keys_path(tenant)),
        "grace_days": DEFAULT_GRACE_DAYS,
    });
    console.page(status, "console/keys.html", tenant, ctx).await
}

fn summary(console: &Console, usage: &Usage) -> String {
    console
        .ctx
        .message("console.keys.usage.summary")
        .replace("{tenants}", &usage.tenants.to_string())
        .replace("{oidc}", &usage.oidc_sites.to_string())
        .replace("{saml}", &usage.saml_sps.to_string())
}

/// Which rotation a form asks for: `kind` oidc, or saml with `grace_days` (whole days;
/// the service decides the range). `None` for anything else.
fn requested(fields: &FormFields) -> Option<(KeyKind, &'static str, Option<u32>)> {
    match field(fields, "kind") {
        "oidc" => Some((KeyKind::Oidc, "oidc", None)),
        "saml" => {
            let days: u32 = field(fields, "grace_days").trim().parse().ok()?;
            Some((KeyKind::Saml { grace: time::Duration::days(i64::from(days)) }, "saml", Some(days)))
        }
        _ => None,
    }
}

/// Rotates once confirmed; the first POST shows the confirmation page with what will
/// change and who relies on the keys. Declining is the page's link back.
async fn rotate(ctx: PageCtx, Path(tenant): Path<String>, form: Result<Form<FormFields>, FormRejection>) -> Response {
    let console = console_or_return!(ctx, &format!("{}/rotate", keys_path(&tenant)));
    let fields = match console.ctx.accept_form(form) {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    if let Err(err) = console.principal.require_super_admin(ApiScope::Write) {
        return not_super_admin(&console, &err).await;
    }
    let requested = match field(&fields, "kind") {
        "oidc" | "saml" => requested(&fields).filter(|(kind, _, _)| kind.check().is_ok()),
        _ => {
            let problems = [console.ctx.message("console.keys.problem.kind")];
            return keys_page(&console, &tenant, StatusCode::UNPROCESSABLE_ENTITY, &problems, None).await;
        }
    };
    // Checked before the confirmation, so an operator never confirms what is refused.
    let Some((kind, name, days)) = requested else {
        let problems = [console.ctx.message("console.keys.problem.grace_days")];
        return keys_page(&console, &tenant, StatusCode::UNPROCESSABLE_ENTITY, &problems, None).await;
    };
    if field(&fields, "confirmed") != "yes" {
        return confirmation(&console, &tenant, name, days).await;
    }
    match keys::rotate(console.ctx.app(), &console.principal, &tenant, kind).await {
        Ok(_) => Redirect::to(&format!("{}?notice=rotated-{name}", keys_path(&tenant))).into_response(),
        Err(AdminError::Invalid(why)) => {
            tracing::info!(why, "console: key rotation refused");
            let problems = [console.ctx.message("console.keys.problem.grace_days")];
            keys_page(&console, &tenant, StatusCode::UNPROCESSABLE_ENTITY, &problems, None).await
        }
        Err(err) => console.refused(&err).await,
    }
}

async fn confirmation(console: &Console, tenant: &str, name: &str, days: Option<u32>) -> Response {
    // The tenant check (a 404 for one out of reach) and who relies on the keys.
    if let Err(err) = console.principal.tenant(console.ctx.app(), tenant, ApiScope::Write).await {
        return console.refused(&err).await;
    }
    let usage = match usage(console).await {
        Ok(usage) => usage,
        Err(err) => return console.refused(&err).await,
    };
    let mut facts = vec![
        ("console.keys.confirm.which".to_owned(), console.ctx.message(&format!("console.keys.kind.{name}"))),
        ("console.keys.usage.title".to_owned(), summary(console, &usage)),
    ];
    let mut hidden = vec![("kind", name.to_owned())];
    if let Some(days) = days {
        facts.push(("console.keys.grace_days".to_owned(), days.to_string()));
        hidden.push(("grace_days", days.to_string()));
    }
    let path = keys_path(tenant);
    let confirmation = super::Confirmation {
        title_key: format!("console.keys.confirm.{name}.title"),
        submit_key: "console.keys.confirm.submit".into(),
        lead: console.ctx.message(&format!("console.keys.confirm.{name}.lead")).replace("{days}", &days.unwrap_or(0).to_string()),
        facts,
        hidden,
        action: format!("{path}/rotate"),
        back: path,
        ..Default::default()
    };
    console.confirm(tenant, confirmation).await
}

#[cfg(test)]
mod tests {
    use mamori_storage::model::KeyPurpose;

    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> FormFields {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn the_form_names_the_rotation() {
        assert!(matches!(requested(&fields(&[("kind", "oidc")])), Some((KeyKind::Oidc, "oidc", None))));
        let saml = requested(&fields(&[("kind", "saml"), ("grace_days", " 14 ")]));
        assert!(matches!(saml, Some((KeyKind::Saml { grace }, "saml", Some(14))) if grace == time::Duration::days(14)));
        // Out of range is the service's to refuse; not a number, or no kind, is the form's.
        assert!(matches!(requested(&fields(&[("kind", "saml"), ("grace_days", "91")])), Some((_, "saml", Some(91)))));
        for bad in [fields(&[("kind", "saml"), ("grace_days", "-1")]), fields(&[("kind", "saml")]), fields(&[("kind", "all")]), fields(&[])]
        {
            assert!(requested(&bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn every_purpose_and_state_has_words() {
        let ui = mamori_ui::Ui::new();
        for locale in [mamori_ui::Locale::Ja, mamori_ui::Locale::En] {
            for purpose in [KeyPurpose::Oidc, KeyPurpose::Saml, KeyPurpose::SamlEncryption] {
                assert_ne!(ui.message(locale, &format!("console.keys.purpose.{purpose}")), "??");
                for state in [KeyState::Next, KeyState::Active, KeyState::Retired] {
                    let key = format!("console.keys.use.{purpose}.{}", state_name(state));
                    assert_ne!(ui.message(locale, &key), "??", "{key}");
                }
            }
        }
    }

    #[test]
    fn keys_page_renders_with_real_values() {
        use mamori_ui::{Locale, Ui};
        let ui = Ui::new();
        let console = serde_json::json!({"tenant": "demo", "base": "/console/t/demo", "operator": "op", "role": "super-admin", "tenants": [], "super_admin": true});
        let key = serde_json::json!({"kid": "k1", "purpose": "OIDC", "algorithm": "ES256", "state": "active", "state_label": "Active", "created": "2026",
            "activated": "2026", "retire_after": "-", "expires": "-", "used_by": "Signs", "shared": true});
        let usage = serde_json::json!([{"slug": "demo", "oidc_sites": 1, "saml_sps": [{"name": "Wiki", "entity_id": "https://sp/md", "href": "/h"}]}]);
        let ctx = serde_json::json!({"console": console, "csrf_token": "x", "keys": [key], "usage": usage, "usage_summary": "1 tenant", "problem": ["bad"],
            "notice": "rotated", "action": "/console/t/demo/keys/rotate", "grace_days": 7});
        for locale in [Locale::Ja, Locale::En] {
            let html = ui.render("console/keys.html", locale, &ctx).unwrap_or_else(|e| panic!("{e:#?}"));
            assert!(!html.contains("??"), "{locale:?}: a missing message");
            assert!(html.contains("id=\"menu-keys\""), "a super-admin's menu links the keys");
            assert_eq!(html.matches("name=\"csrf_token\" value=\"x\"").count(), 3, "both rotation forms and the logout carry the token");
        }
        let tenant_admin = serde_json::json!({"console": {"tenant": "demo", "base": "/console/t/demo", "operator": "op", "role": "tenant admin", "tenants": [], "super_admin": false}});
        let html = ui.render("console/saml_sps.html", Locale::En, &tenant_admin).expect("renders");
        assert!(!html.contains("id=\"menu-keys\""), "a tenant admin's menu does not offer the keys");
    }
}
