//! Connected sites (OpenID Connect consents): the relying sites the user has agreed to
//! share their data with — name, scopes, when — each with a "withdraw" button. Withdrawing
//! forgets the consent and revokes the user's grants with that site (and so its refresh
//! and access tokens), so the site's next authorization asks for consent again.

use axum::Router;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::{Portal, portal_or_return, require_or_return};
use crate::flows::account::{AccountChange, Feature, format_date_time, record_change};
use crate::state::SharedState;
use crate::web::context::{PageCtx, Posted, field};

pub fn routes() -> Router<SharedState> {
    Router::new().route("/account/sites", get(show)).route("/account/sites/withdraw", post(withdraw))
}

#[derive(Debug, Deserialize, Default)]
struct SitesQuery {
    /// Only `withdrawn` shows a notice; anything else is ignored.
    notice: Option<String>,
}

async fn show(ctx: PageCtx, Query(query): Query<SitesQuery>) -> Response {
    let portal = portal_or_return!(ctx, "/account/sites");
    require_or_return!(portal, Feature::AccountManagement);
    let notice = (query.notice.as_deref() == Some("withdrawn")).then(|| portal.ctx.message("account.sites.withdrawn"));
    match rows(&portal).await {
        Ok(sites) => portal.page(StatusCode::OK, "account/sites.html", serde_json::json!({ "sites": sites, "notice": notice })),
        Err(err) => portal.internal(&err),
    }
}

/// One row per consent, with the client's display name (its ID when the client is gone)
/// and the scopes in the user's language.
async fn rows(portal: &Portal) -> anyhow::Result<Vec<serde_json::Value>> {
    let app = portal.ctx.app();
    let consents = app.storage.oidc_grants().list_consents(portal.user.id).await?;
    let mut rows = Vec::with_capacity(consents.len());
    for consent in consents {
        let name = crate::oidc::clients::load(app, portal.tenant.id, &consent.client_id)
            .await?
            .map_or_else(|| consent.client_id.clone(), |c| c.client.name);
        let scopes: Vec<String> = consent.scopes.iter().map(|s| scope_text(portal, s)).collect();
        rows.push(serde_json::json!({
            "client_id": consent.client_id,
            "name": name,
            "scopes": scopes,
            "granted_at": format_date_time(consent.granted_at, &portal.user.time_zone),
        }));
    }
    Ok(rows)
}

/// The consent page's wording of a scope; a custom scope is shown by its name.
fn scope_text(portal: &Portal, scope: &str) -> String {
    let key = format!("oidc.scope.{scope}");
    let text = portal.ctx.message(&key);
    if text == key || text.starts_with("??") { scope.to_owned() } else { text }
}

async fn withdraw(Posted { ctx, form }: Posted) -> Response {
    let portal = portal_or_return!(ctx, "/account/sites");
    require_or_return!(portal, Feature::AccountManagement);
    let client_id = field(&form, "client_id");
    let app = portal.ctx.app();
    let now = app.now();
    let done = async {
        let repo = app.storage.oidc_grants();
        // Only this user's rows are touched: a client ID typed by hand cannot reach another
        // user's consent. The grants go even without a stored consent (a first-party
        // site), so "withdraw" always cuts the site off.
        let deleted = repo.delete_consent(client_id, portal.user.id).await?;
        let revoked = repo.revoke_grants_of(client_id, portal.user.id, now).await?;
        anyhow::Ok(deleted || revoked > 0)
    }
    .await;
    match done {
        Ok(true) => {
            // In the user's login history, like the other account changes.
            record_change(app, &portal.attempt(), AccountChange::ConsentWithdrawn).await;
            Redirect::to("/account/sites?notice=withdrawn").into_response()
        }
        Ok(false) => Redirect::to("/account/sites").into_response(),
        Err(err) => portal.internal(&err),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sites_page_renders_rows_with_a_csrf_protected_withdraw_form() {
        let ui = mamori_ui::Ui::new();
        for locale in [mamori_ui::Locale::En, mamori_ui::Locale::Ja] {
            let html = ui
                .render(
                    "account/sites.html",
                    locale,
                    serde_json::json!({
                        "csrf_token": "tok",
                        "menu": {"account": true},
                        "sites": [{"client_id": "c-1", "name": "Shop", "scopes": ["openid"], "granted_at": "2026-01-01 09:00:00 JST"}],
                    }),
                )
                .expect("renders");
            assert!(html.contains(r#"id="site-c-1""#), "{html}");
            assert!(html.contains(r#"name="client_id" value="c-1""#), "{html}");
            assert!(html.contains(r#"name="csrf_token" value="tok""#), "{html}");
            assert!(html.contains("/account/sites/withdraw"), "{html}");
            assert!(!html.contains("??"), "every message is translated: {html}");
        }
    }
}
