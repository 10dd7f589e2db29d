//! Passkeys on the account page: the list (name, registered, last used, whether synced),
//! a new one (a WebAuthn registration after a login that met the user's whole method),
//! rename, and removal behind a confirmation. The rules are `flows::account::passkeys`.

use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use uuid::Uuid;

use super::{Portal, portal_or_return, require_or_return};
use crate::flows::account::{Feature, PasskeyChange, add_passkey, format_date_time, passkeys_to_keep, remove_passkey, rename_passkey};
use crate::flows::passkey::{self, RegistrationOutcome};
use crate::state::SharedState;
use crate::web::context::{PageCtx, Posted, field};

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/account/passkeys", get(show))
        .route("/account/passkeys/add", post(add))
        .route("/account/passkeys/rename", post(rename))
        .route("/account/passkeys/remove", post(remove))
}

async fn show(ctx: PageCtx) -> Response {
    let portal = portal_or_return!(ctx, "/account/passkeys");
    require_or_return!(portal, Feature::Passkeys);
    page(&portal, StatusCode::OK, None, None).await
}

/// The page, with a notice (a change done) or a problem (a change refused).
async fn page(portal: &Portal, status: StatusCode, notice: Option<String>, problem: Option<String>) -> Response {
    let result = async {
        let app = portal.ctx.app();
        let stored = app.storage.passkeys().list_for_user(portal.user.id).await?;
        let tz = &portal.user.time_zone;
        let rows: Vec<serde_json::Value> = stored
            .iter()
            .map(|p| {
                let synced = match (p.backed_up, p.backup_eligible) {
                    (true, _) => "yes",
                    (false, true) => "eligible",
                    (false, false) => "no",
                };
                serde_json::json!({
                    "id": p.id,
                    "name": p.name,
                    "created_at": format_date_time(p.created_at, tz),
                    "last_used_at": p.last_used_at.map(|t| format_date_time(t, tz)),
                    "synced": synced,
                })
            })
            .collect();
        // A new passkey only after a login that met the whole method (not a session from
        // before a method change that asks for more).
        let full_strength = crate::flows::login::satisfies(portal.user.login_method, &portal.factors);
        let webauthn = super::super::login_passkey::webauthn(&portal.ctx);
        let add = match webauthn {
            Some(webauthn) if full_strength && stored.len() < passkey::MAX_PER_USER as usize => {
                let (options, pending) = passkey::start_registration(app, &webauthn, &portal.user).await?;
                Some(serde_json::json!({ "options": options, "ceremony": pending.seal(app)? }))
            }
            _ => None,
        };
        let keep_one = passkeys_to_keep(&portal.user) > 0 && stored.len() <= 1;
        let context = serde_json::json!({
            "passkeys": rows,
            "add": add,
            "full_strength": full_strength,
            "limit_reached": stored.len() >= passkey::MAX_PER_USER as usize,
            "keep_one": keep_one,
            "notice": notice,
            "problem": problem.map(|p| vec![p]),
            "problem_plain": true,
        });
        anyhow::Ok(portal.page(status, "account/passkeys.html", context))
    }
    .await;
    result.unwrap_or_else(|err| portal.internal(&err))
}

fn notice(portal: &Portal, key: &str, name: &str) -> Option<String> {
    Some(portal.ctx.message(key).replace("{name}", name))
}

async fn add(Posted { ctx, form }: Posted) -> Response {
    let portal = portal_or_return!(ctx, "/account/passkeys");
    require_or_return!(portal, Feature::Passkeys);
    if !crate::flows::login::satisfies(portal.user.login_method, &portal.factors) {
        return page(&portal, StatusCode::FORBIDDEN, None, Some(portal.ctx.message("login.session_expired"))).await;
    }
    let Some(webauthn) = super::super::login_passkey::webauthn(&portal.ctx) else {
        return page(&portal, StatusCode::SERVICE_UNAVAILABLE, None, Some(portal.ctx.message("passkey.unavailable"))).await;
    };
    let app = portal.ctx.app();
    let (ceremony, answer, name) = (field(&form, "ceremony"), field(&form, "credential"), field(&form, "name"));
    if !name.trim().is_empty() && passkey::clean_name(name).is_none() {
        return page(&portal, StatusCode::UNPROCESSABLE_ENTITY, None, Some(portal.ctx.message("passkey.portal.bad_name"))).await;
    }
    let outcome = match add_passkey(app, &webauthn, &portal.user, ceremony, answer, name, &portal.attempt()).await {
        Ok(outcome) => outcome,
        Err(err) => return portal.internal(&err),
    };
    let (status, key) = match outcome {
        RegistrationOutcome::Registered(added) => {
            let done = notice(&portal, "passkey.portal.added", &added.name);
            return page(&portal, StatusCode::OK, done, None).await;
        }
        RegistrationOutcome::Refused => (StatusCode::UNAUTHORIZED, "passkey.refused"),
        RegistrationOutcome::Expired => (StatusCode::BAD_REQUEST, "passkey.expired"),
        RegistrationOutcome::AlreadyRegistered => (StatusCode::CONFLICT, "passkey.already_registered"),
        RegistrationOutcome::LimitReached => (StatusCode::CONFLICT, "passkey.limit_reached"),
    };
    page(&portal, status, None, Some(portal.ctx.message(key))).await
}

fn passkey_id(form: &crate::web::context::FormFields) -> Option<Uuid> {
    Uuid::parse_str(field(form, "id")).ok()
}

async fn rename(Posted { ctx, form }: Posted) -> Response {
    let portal = portal_or_return!(ctx, "/account/passkeys");
    require_or_return!(portal, Feature::Passkeys);
    let Some(id) = passkey_id(&form) else { return portal.ctx.error_to_account(StatusCode::NOT_FOUND, "error.not_found") };
    match rename_passkey(portal.ctx.app(), &portal.user, id, field(&form, "name"), &portal.attempt()).await {
        Ok(PasskeyChange::Done(renamed)) => {
            let done = notice(&portal, "passkey.portal.renamed", &renamed.name);
            page(&portal, StatusCode::OK, done, None).await
        }
        Ok(PasskeyChange::BadName) => {
            page(&portal, StatusCode::UNPROCESSABLE_ENTITY, None, Some(portal.ctx.message("passkey.portal.bad_name"))).await
        }
        Ok(PasskeyChange::NotFound | PasskeyChange::LastOne) => portal.ctx.error_to_account(StatusCode::NOT_FOUND, "error.not_found"),
        Err(err) => portal.internal(&err),
    }
}

/// Removal: the first post asks for confirmation, the confirmed one removes.
async fn remove(Posted { ctx, form }: Posted) -> Response {
    let portal = portal_or_return!(ctx, "/account/passkeys");
    require_or_return!(portal, Feature::Passkeys);
    let Some(id) = passkey_id(&form) else { return portal.ctx.error_to_account(StatusCode::NOT_FOUND, "error.not_found") };
    let app = portal.ctx.app();
    if field(&form, "confirmed") != "yes" {
        let found = match app.storage.passkeys().get(portal.user.id, id).await {
            Ok(found) => found,
            Err(mamori_storage::StorageError::NotFound) => return portal.ctx.error_to_account(StatusCode::NOT_FOUND, "error.not_found"),
            Err(err) => return portal.internal(&err.into()),
        };
        let question = portal.ctx.message("passkey.portal.remove.confirm").replace("{name}", &found.name);
        let context = serde_json::json!({ "question": question, "id": id });
        return portal.page(StatusCode::OK, "account/passkey_remove.html", context);
    }
    match remove_passkey(app, &portal.user, id, &portal.attempt(), false).await {
        Ok(PasskeyChange::Done(removed)) => {
            page(&portal, StatusCode::OK, notice(&portal, "passkey.portal.removed", &removed.name), None).await
        }
        Ok(PasskeyChange::LastOne) => page(&portal, StatusCode::CONFLICT, None, Some(portal.ctx.message("passkey.portal.keep_one"))).await,
        Ok(PasskeyChange::NotFound | PasskeyChange::BadName) => portal.ctx.error_to_account(StatusCode::NOT_FOUND, "error.not_found"),
        Err(err) => portal.internal(&err),
    }
}
