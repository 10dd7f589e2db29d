//! /tenants/{tenant}/users/{login_id}/passkeys: a user's passkeys, as operators see and
//! remove them (never the credential or its public key).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::{ApiPath, Caller};
use super::problem::Problem;
use super::schema::rfc3339;
use crate::admin::passkeys::{self, PasskeyView};
use crate::state::SharedState;

type Result<T> = std::result::Result<T, Problem>;

#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyOut {
    /// The passkey's ID in Mamori (not the WebAuthn credential ID).
    pub id: String,
    /// The user's name for it.
    pub name: String,
    pub created_at: String,
    /// The last login with it; null if never used.
    pub last_used_at: Option<String>,
    /// The authenticator may sync the key to other devices (WebAuthn BE flag).
    pub backup_eligible: bool,
    /// The key was synced as of its last use (WebAuthn BS flag).
    pub backed_up: bool,
    /// The authenticator's signature counter at its last use (0: it keeps none).
    pub sign_count: u32,
}

impl From<&PasskeyView> for PasskeyOut {
    fn from(p: &PasskeyView) -> Self {
        PasskeyOut {
            id: p.id.to_string(),
            name: p.name.clone(),
            created_at: rfc3339(p.created_at),
            last_used_at: p.last_used_at.map(rfc3339),
            backup_eligible: p.backup_eligible,
            backed_up: p.backed_up,
            sign_count: p.sign_count,
        }
    }
}

/// A user's passkeys, oldest first.
// Named apart: the tag prefix alone would make `users_list` twice.
#[utoipa::path(get, path = "/tenants/{tenant}/users/{login_id}/passkeys", tag = "users", operation_id = "list_passkeys",
    params(("tenant" = String, Path, description = "Tenant slug"), ("login_id" = String, Path, description = "User ID")),
    responses((status = 200, description = "Passkeys", body = Vec<PasskeyOut>)))]
pub async fn list(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath((slug, login_id)): ApiPath<(String, String)>,
) -> Result<Json<Vec<PasskeyOut>>> {
    Ok(Json(passkeys::list(&s.app, &p, &slug, &login_id).await?.iter().map(PasskeyOut::from).collect()))
}

/// Remove one of a user's passkeys, even the last one (the user recovers through a
/// reissue); the user is told by mail and the removal is audited.
#[utoipa::path(delete, path = "/tenants/{tenant}/users/{login_id}/passkeys/{passkey_id}", tag = "users", operation_id = "remove_passkey",
    params(("tenant" = String, Path, description = "Tenant slug"), ("login_id" = String, Path, description = "User ID"),
        ("passkey_id" = String, Path, description = "The passkey's ID")),
    responses((status = 204, description = "Removed")))]
pub async fn remove(
    State(s): State<SharedState>,
    Caller(p): Caller,
    ApiPath((slug, login_id, passkey_id)): ApiPath<(String, String, String)>,
) -> Result<StatusCode> {
    passkeys::remove(&s.app, &p, &slug, &login_id, &passkey_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
