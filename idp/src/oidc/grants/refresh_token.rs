//! The refresh token grant (RFC 6749 §6) with rotation: every use spends the token and
//! hands out a successor under the same grant; presenting a spent token again revokes
//! the whole family (OAuth 2.0 Security BCP, refresh token rotation).

use mamori_storage::model::{RefreshError, RefreshRotation, RefreshToken};
use serde::Deserialize as _;

use crate::app::App;
use crate::oidc::client_auth::AuthenticatedClient;
use crate::oidc::error::OAuthError;
use crate::oidc::token::{UserIssue, issue_for_user, still_active};
use crate::oidc::{Issuer, Params, REFRESH_TOKEN_TTL, split_spaces};

/// What a refresh token carries from its grant. Read strictly: a token whose data does
/// not read is an error, never a token with an empty scope, `amr` or `auth_time`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RefreshData {
    pub client_id: String,
    pub user_id: uuid::Uuid,
    pub scope: Vec<String>,
    pub auth_time: i64,
    pub acr: String,
    pub amr: Vec<String>,
    pub sid: Option<String>,
}

impl From<&super::authorization_code::CodeData> for RefreshData {
    /// A refresh token carries its code's facts: its tokens repeat them.
    fn from(code: &super::authorization_code::CodeData) -> RefreshData {
        RefreshData {
            client_id: code.client_id.clone(),
            user_id: code.user_id,
            scope: code.scope.clone(),
            auth_time: code.auth_time,
            acr: code.acr.clone(),
            amr: code.amr.clone(),
            sid: code.sid.clone(),
        }
    }
}

impl RefreshData {
    pub fn read(data: &serde_json::Value) -> Result<RefreshData, OAuthError> {
        RefreshData::deserialize(data).map_err(|e| {
            tracing::error!(error = %e, "a stored refresh token's data does not read");
            OAuthError::ServerError
        })
    }
}

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
        // Data that does not read is refused after the rotation, as a server error.
        move |found: &RefreshToken| match RefreshData::deserialize(&found.data) {
            Ok(data) => requested.is_none_or(|r| r.iter().all(|s| data.scope.contains(s))),
            Err(_) => true,
        }
    };
    let rotation = RefreshRotation {
        lookup_hash: mamori_storage::token_lookup_hash(token),
        client_id: client.registered.client_id().to_owned(),
        successor_hash: mamori_storage::token_lookup_hash(&successor),
        successor_expires_at: now + REFRESH_TOKEN_TTL,
        accept: Box::new(accept),
    };
    let (spent, user) = match app.token_writer.rotate(rotation, now).await {
        Ok(found) => found,
        Err(RefreshError::Refused) => return Err(OAuthError::InvalidScope("a requested scope exceeds the original grant")),
        Err(RefreshError::Reused { grant_id }) => {
            tracing::warn!(%grant_id, client = client.registered.client_id(), "refresh token reused; grant revoked");
            return Err(invalid);
        }
        Err(RefreshError::Storage(err)) => return Err(err.into()),
        Err(_) => return Err(invalid),
    };
    let data = RefreshData::read(&spent.data)?;
    let scope = requested.unwrap_or_else(|| data.scope.clone());
    let user = still_active(user)?;
    issue_for_user(
        app,
        issuer,
        client,
        UserIssue {
            user: &user,
            grant_id: spent.grant_id,
            scope: &scope,
            auth_time: data.auth_time,
            acr: &data.acr,
            amr: &data.amr,
            nonce: None,
            sid: data.sid.as_deref(),
            stored_refresh: Some(successor),
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_data_reads_what_token_issuance_writes_and_nothing_less() {
        let written = serde_json::json!({
            "client_id": "rp", "user_id": uuid::Uuid::nil(), "scope": ["openid"], "auth_time": 1_700_000_000,
            "acr": "urn:mamori:acr:cert", "amr": ["swk", "pwd"], "sid": null,
        });
        let data = RefreshData::read(&written).expect("reads");
        assert_eq!(
            (data.scope, data.amr, data.auth_time, data.sid),
            (vec!["openid".to_owned()], vec!["swk".to_owned(), "pwd".to_owned()], 1_700_000_000, None)
        );
        // Without its amr or auth_time a token would be re-issued with weaker claims.
        for missing in ["amr", "auth_time", "scope", "acr"] {
            let mut damaged = written.clone();
            damaged.as_object_mut().expect("object").remove(missing);
            assert!(matches!(RefreshData::read(&damaged), Err(OAuthError::ServerError)), "{missing}");
        }
    }
}
