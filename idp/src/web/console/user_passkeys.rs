//! A user's passkeys on the user's console page, and their removal behind the console's
//! confirmation page. Listing and removal are the admin service's (`admin::passkeys`):
//! the same checks, mail to the user and audit event as the API's.

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;

use super::users::user_href;
use super::{Console, console_or_return, open_console};
use crate::admin::passkeys::{self, PasskeyView};
use crate::admin::{AdminError, users};
use crate::state::SharedState;
use crate::urlcode;
use crate::web::context::{FormFields, PageCtx, field};

pub fn routes() -> Router<SharedState> {
    Router::new().route("/console/t/{tenant}/users/{login_id}/passkeys/{id}/remove", post(remove))
}

/// The notice after a removal (`?notice=passkey-removed` on the user's page).
pub(super) const REMOVED_NOTICE: &str = "passkey-removed";

fn remove_href(tenant: &str, login_id: &str, id: &str) -> String {
    format!("{}/passkeys/{}/remove", user_href(tenant, login_id), urlcode::component(id))
}

fn flag(console: &Console, on: bool) -> String {
    console.ctx.message(if on { "console.yes" } else { "console.no" })
}

/// The rows of the user's page's passkey table.
pub(super) fn rows(console: &Console, tenant: &str, login_id: &str, list: &[PasskeyView]) -> Vec<serde_json::Value> {
    list.iter()
        .map(|p| {
            serde_json::json!({
                "id": p.id,
                "name": p.name,
                "created": console.time(p.created_at),
                "last_used": p.last_used_at.map(|at| console.time(at)),
                "backup_eligible": flag(console, p.backup_eligible),
                "backed_up": flag(console, p.backed_up),
                "remove_href": remove_href(tenant, login_id, &p.id.to_string()),
            })
        })
        .collect()
}

/// POST …/passkeys/{id}/remove: without `confirmed=yes` the confirmation page (naming
/// the passkey), with it the removal and back to the user's page.
async fn remove(
    ctx: PageCtx,
    Path((tenant, login_id, id)): Path<(String, String, String)>,
    form: Result<Form<FormFields>, FormRejection>,
) -> Response {
    let href = user_href(&tenant, &login_id);
    let mut console = console_or_return!(ctx, &href);
    console.path = remove_href(&tenant, &login_id, &id);
    let form = match console.ctx.accept_form(form) {
        Ok(form) => form,
        Err(response) => return response,
    };
    let result = if field(&form, "confirmed") == "yes" {
        passkeys::remove(console.ctx.app(), &console.principal, &tenant, &login_id, &id)
            .await
            .map(|_| Redirect::to(&format!("{href}?notice={REMOVED_NOTICE}")).into_response())
    } else {
        confirmation(&console, &tenant, &login_id, &id).await
    };
    match result {
        Ok(response) => response,
        Err(err) => console.refused(&err).await,
    }
}

async fn confirmation(console: &Console, tenant: &str, login_id: &str, id: &str) -> Result<Response, AdminError> {
    let app = console.ctx.app();
    // The same refusals as the removal itself: another tenant's user is not found, a
    // wider role is refused (and audited) before anything is shown.
    let (_, user) = users::find_to_change(app, &console.principal, tenant, login_id, "passkey.remove").await?;
    let listed = passkeys::list(app, &console.principal, tenant, login_id).await?;
    let passkey = listed
        .iter()
        .find(|p| p.id.to_string() == id)
        .ok_or_else(|| AdminError::NotFound(format!("`{login_id}` has no passkey `{}`", id.chars().take(60).collect::<String>())))?;
    let last_used = passkey.last_used_at.map_or_else(|| console.ctx.message("console.passkeys.never_used"), |at| console.time(at));
    let lead_key = if listed.len() == 1 && user.login_method.needs_passkey() {
        "console.confirm.remove-passkey.lead_last"
    } else {
        "console.confirm.remove-passkey.lead"
    };
    let confirmation = super::Confirmation {
        title_key: "console.confirm.remove-passkey.title".into(),
        submit_key: "console.confirm.remove-passkey.submit".into(),
        lead: console.ctx.message(lead_key),
        login_id: Some(user.login_id),
        display_name: Some(user.display_name),
        facts: vec![
            ("console.passkeys.name".into(), passkey.name.clone()),
            ("console.passkeys.created".into(), console.time(passkey.created_at)),
            ("console.passkeys.last_used".into(), last_used),
        ],
        action: remove_href(tenant, login_id, id),
        back: user_href(tenant, login_id),
        ..Default::default()
    };
    Ok(console.confirm(tenant, confirmation).await)
}
