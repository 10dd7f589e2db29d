//! The refresh token grant (RFC 6749 §6) with rotation: every use spends the token and
//! hands out a successor under the same grant; presenting a spent token again revokes
//! the whole family (OAuth 2.0 Security BCP, refresh token rotation).

use mamori_storage::model::{RefreshError, RefreshRotation, RefreshToken};

use crate::app::App;
use crate::oidc::client_auth::AuthenticatedClient;
use crate::oidc::error::OAuthError;
use crate::oidc::token::{UserIssue, issue_for_user, still_active};
use crate::oidc::{Issuer, Params, REFRESH_TOKEN_TTL, split_spaces};

pub async fn exchange(app: &App, issuer: &Issuer, client: &AuthenticatedClient, params: &Params) -> Result<serde_json::Value, OAuthError> {
    let token = params.get("refresh_token").ok_or(OAuthError::InvalidRequest("refresh_token is missing"))?;
    let invalid = OAuthError::InvalidGrant("the refresh token is invalid, expired or revoked");
    let now = app.now();
    // The successor is stored in the same transaction that spends the token (batched
    // with other rotations, see `rotation`); another client's token is left unspent.
    let successor = crate::secrets::url_token();
    // A narrower scope applies to this access token only; the successor keeps the grant's
    // scope (RFC 6749 §6). A scope beyond the grant is refused before anything is spent.
    let requested = params.get("scope").map(|s| split_spaces(Some(s)));
    let accept = {
        let requested = requested.clone();
        move |found: &RefreshToken| {
            let original: Vec<String> = serde_json::from_value(found.data["scope"].clone()).unwrap_or_default();
            requested.is_none_or(|r| r.iter().all(|s| original.contains(s)))
        }
    };
    let rotation = RefreshRotation {
        lookup_hash: mamori_storage::token_lookup_hash(token),
        client_id: client.registered.client_id().to_owned(),
        successor_hash: mamori_storage::token_lookup_hash(&successor),
        successor_expires_at: now + REFRESH_TOKEN_TTL,
        accept: Box::new(accept),
    };
    let (spent, user) = match app.refresh_rotator.rotate(rotation, now).await {
        Ok(found) => found,
        Err(RefreshError::Refused) => return Err(OAuthError::InvalidScope("a requested scope exceeds the original grant")),
        Err(RefreshError::Reused { grant_id }) => {
            tracing::warn!(%grant_id, client = client.registered.client_id(), "refresh token reused; grant revoked");
            return Err(invalid);
        }
        Err(RefreshError::Storage(err)) => return Err(err.into()),
        Err(_) => return Err(invalid),
    };
    let data = &spent.data;
    let scope = match requested {
        Some(requested) => requested,
        None => serde_json::from_value(data["scope"].clone()).unwrap_or_default(),
    };
    let user = still_active(user)?;
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
            sid: data["sid"].as_str(),
            rotated_refresh: Some(successor),
        },
    )
    .await
}
