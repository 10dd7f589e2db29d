//! The refresh token grant (RFC 6749 §6) with rotation: every use spends the token and
//! hands out a successor under the same grant; presenting a spent token again revokes
//! the whole family (OAuth 2.0 Security BCP, refresh token rotation).

use mamori_storage::model::RefreshError;
use uuid::Uuid;

use crate::app::App;
use crate::oidc::client_auth::AuthenticatedClient;
use crate::oidc::error::OAuthError;
use crate::oidc::token::{UserIssue, active_user, issue_for_user};
use crate::oidc::{Issuer, Params, split_spaces};

pub async fn exchange(app: &App, issuer: &Issuer, client: &AuthenticatedClient, params: &Params) -> Result<serde_json::Value, OAuthError> {
    let token = params.get("refresh_token").ok_or(OAuthError::InvalidRequest("refresh_token is missing"))?;
    let lookup = mamori_storage::token_lookup_hash(token);
    let repo = app.storage.oidc_grants();
    let invalid = OAuthError::InvalidGrant("the refresh token is invalid, expired or revoked");
    // Another client's token is refused before it is spent.
    let Some(found) = repo.find_refresh_token(&lookup).await? else { return Err(invalid) };
    if found.data["client_id"].as_str() != Some(client.registered.client_id()) {
        return Err(invalid);
    }
    let spent = match repo.rotate_refresh_token(&lookup, app.now()).await {
        Ok(t) => t,
        Err(RefreshError::Reused { grant_id }) => {
            tracing::warn!(%grant_id, client = client.registered.client_id(), "refresh token reused; grant revoked");
            return Err(invalid);
        }
        Err(RefreshError::Storage(err)) => return Err(err.into()),
        Err(_) => return Err(invalid),
    };
    let data = &spent.data;
    let original: Vec<String> = serde_json::from_value(data["scope"].clone()).unwrap_or_default();
    let scope = match params.get("scope") {
        None => original,
        Some(requested) => {
            let requested = split_spaces(Some(requested));
            if requested.iter().any(|s| !original.contains(s)) {
                return Err(OAuthError::InvalidScope("a requested scope exceeds the original grant"));
            }
            requested
        }
    };
    let user_id: Uuid = serde_json::from_value(data["user_id"].clone()).map_err(|e| OAuthError::internal(&e.into()))?;
    let user = active_user(app, user_id).await?;
    let amr: Vec<String> = serde_json::from_value(data["amr"].clone()).unwrap_or_default();
    issue_for_user(
        app,
        issuer,
        client,
        UserIssue {
            user: &user,
            grant_id: spent.grant_id,
            scope: &scope,
            auth_time: data["auth_time"].as_i64().unwrap_or(0),
            acr: data["acr"].as_str().unwrap_or(""),
            amr: &amr,
            nonce: None,
        },
    )
    .await
}
