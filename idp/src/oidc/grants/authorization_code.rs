//! The authorization code grant at the token endpoint (RFC 6749 §4.1.3, OpenID Connect
//! Core §3.1.3.2): the code is redeemed once (a second use revokes everything the first
//! obtained), for the client it was issued to, with the same redirect URI, and with the
//! PKCE verifier of its challenge.

use mamori_storage::model::{CodeRedeemError, CodeRedemption, NewRefreshToken, RefreshWithCode};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::refresh_token::RefreshData;
use crate::app::App;
use crate::oidc::client_auth::AuthenticatedClient;
use crate::oidc::error::OAuthError;
use crate::oidc::token::{UserIssue, active_user, issue_for_user, still_active};
use crate::oidc::{Issuer, Params, REFRESH_TOKEN_TTL, pkce};

/// What a code stands for, stored under its hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeData {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: Vec<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub user_id: Uuid,
    pub auth_time: i64,
    pub acr: String,
    pub amr: Vec<String>,
    /// The session the code came from (`sid`), absent in codes of older versions.
    #[serde(default)]
    pub sid: Option<String>,
}

pub async fn exchange(app: &App, issuer: &Issuer, client: &AuthenticatedClient, params: &Params) -> Result<serde_json::Value, OAuthError> {
    let code = params.get("code").ok_or(OAuthError::InvalidRequest("code is missing"))?;
    let lookup_hash = mamori_storage::token_lookup_hash(code);
    let now = app.now();
    let client_id = client.registered.client_id();
    let codes = app.shared.authorization_codes();
    // The code, and with codes in the database the grant's user and the refresh token,
    // spent, read and stored in one batched transaction; with codes in Redis, the code
    // alone (the user is read and the refresh token stored below).
    let (redeemed, batched) = if codes.in_database() {
        let refresh = crate::secrets::url_token();
        let redemption = CodeRedemption {
            lookup_hash,
            refresh: refresh_with_code(client_id, client.registered.allows_grant("refresh_token"), params, &refresh, now),
        };
        match app.token_writer.redeem(redemption, now).await {
            Ok((code, user, refresh_stored)) => (Ok(code), Some((user, refresh_stored.then_some(refresh)))),
            Err(err) => (Err(err), None),
        }
    } else {
        (codes.redeem(&lookup_hash, now).await, None)
    };
    let redeemed = match redeemed {
        Ok(r) => r,
        Err(CodeRedeemError::AlreadyUsed { grant_id }) => {
            tracing::warn!(%grant_id, client = client_id, "authorization code reused; grant revoked");
            return Err(OAuthError::InvalidGrant("the code is invalid, expired or already used"));
        }
        Err(CodeRedeemError::NotFound | CodeRedeemError::Expired) => {
            return Err(OAuthError::InvalidGrant("the code is invalid, expired or already used"));
        }
        Err(CodeRedeemError::Storage(err)) => return Err(err.into()),
        Err(_) => return Err(OAuthError::ServerError),
    };
    let data: CodeData = serde_json::from_value(redeemed.data).map_err(|e| OAuthError::internal(&e.into()))?;
    check(&data, client_id, params)?;
    let (user, stored_refresh) = match batched {
        Some((user, stored_refresh)) => (still_active(user.map(|u| *u).filter(|u| u.id == data.user_id))?, stored_refresh),
        None => (active_user(app, data.user_id).await?, None),
    };
    issue_for_user(
        app,
        issuer,
        client,
        UserIssue {
            user: &user,
            grant_id: redeemed.grant_id,
            scope: &data.scope,
            auth_time: data.auth_time,
            acr: &data.acr,
            amr: &data.amr,
            nonce: data.nonce.as_deref(),
            sid: data.sid.as_deref(),
            stored_refresh,
        },
    )
    .await
}

/// What decides, inside the redemption's transaction, whether the code's refresh token is
/// stored: the same checks the answer makes after it (the code's client, redirect URI
/// and verifier; the user still active), and a client that may refresh.
fn refresh_with_code(client_id: &str, may_refresh: bool, params: &Params, refresh: &str, now: time::OffsetDateTime) -> RefreshWithCode {
    let (client_id, params, lookup_hash) = (client_id.to_owned(), params.clone(), mamori_storage::token_lookup_hash(refresh));
    Box::new(move |code, user| {
        let data: CodeData = serde_json::from_value(code.data.clone()).ok()?;
        check(&data, &client_id, &params).ok()?;
        still_active(user.filter(|u| u.id == data.user_id)).ok()?;
        let data = serde_json::to_value(RefreshData::from(&data)).ok()?;
        may_refresh.then_some(NewRefreshToken { lookup_hash, data, expires_at: now + REFRESH_TOKEN_TTL })
    })
}

/// The checks of RFC 6749 §4.1.3 and RFC 7636 §4.6 on a redeemed code.
pub fn check(data: &CodeData, client_id: &str, params: &Params) -> Result<(), OAuthError> {
    if data.client_id != client_id {
        // The words of an unknown code: a client holding another's code must not learn
        // that it is still live (the presentation spends it all the same).
        return Err(OAuthError::InvalidGrant("the code is invalid, expired or already used"));
    }
    if params.get("redirect_uri") != Some(data.redirect_uri.as_str()) {
        return Err(OAuthError::InvalidGrant("redirect_uri does not match the authorization request"));
    }
    match (&data.code_challenge, params.get("code_verifier")) {
        (Some(challenge), Some(verifier)) if pkce::verify_s256(verifier, challenge) => Ok(()),
        (Some(_), Some(_)) => Err(OAuthError::InvalidGrant("the PKCE verifier does not match")),
        (Some(_), None) => Err(OAuthError::InvalidGrant("code_verifier is missing")),
        (None, Some(_)) => Err(OAuthError::InvalidGrant("code_verifier sent for a request without code_challenge")),
        (None, None) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> CodeData {
        CodeData {
            client_id: "rp".into(),
            redirect_uri: "https://rp/cb".into(),
            scope: vec!["openid".into()],
            nonce: None,
            code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
            user_id: Uuid::nil(),
            auth_time: 0,
            acr: "urn:mamori:acr:cert".into(),
            amr: vec!["swk".into()],
            sid: None,
        }
    }

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()).expect("params")
    }

    #[test]
    fn code_checks() {
        let good = [("redirect_uri", "https://rp/cb"), ("code_verifier", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")];
        assert_eq!(check(&data(), "rp", &params(&good)), Ok(()));
        assert!(matches!(check(&data(), "other", &params(&good)), Err(OAuthError::InvalidGrant(_))));
        let wrong_uri = [("redirect_uri", "https://rp/other"), good[1]];
        assert!(matches!(check(&data(), "rp", &params(&wrong_uri)), Err(OAuthError::InvalidGrant(_))));
        assert!(matches!(check(&data(), "rp", &params(&good[..1])), Err(OAuthError::InvalidGrant(_))));
        let wrong_verifier = [good[0], ("code_verifier", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx")];
        assert!(matches!(check(&data(), "rp", &params(&wrong_verifier)), Err(OAuthError::InvalidGrant(_))));
        let mut no_pkce = data();
        no_pkce.code_challenge = None;
        assert_eq!(check(&no_pkce, "rp", &params(&good[..1])), Ok(()));
        assert!(check(&no_pkce, "rp", &params(&good)).is_err());
    }
}
