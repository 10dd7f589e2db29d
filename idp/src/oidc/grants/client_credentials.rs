//! The client credentials grant (RFC 6749 §4.4): a confidential client gets an access
//! token for itself, limited to its registered scopes; no refresh token, no ID token.

use crate::app::App;
use crate::oidc::client_auth::AuthenticatedClient;
use crate::oidc::error::OAuthError;
use crate::oidc::token::confirmation;
use crate::oidc::tokens::{self, AccessTokenClaims};
use crate::oidc::{ACCESS_TOKEN_TTL, Issuer, Params, split_spaces};

/// Scopes about a user, meaningless for a client acting for itself.
const USER_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

pub async fn exchange(app: &App, issuer: &Issuer, client: &AuthenticatedClient, params: &Params) -> Result<serde_json::Value, OAuthError> {
    let registered = &client.registered;
    if registered.is_public() {
        return Err(OAuthError::UnauthorizedClient("public clients cannot use client_credentials"));
    }
    let scope: Vec<String> = match params.get("scope") {
        Some(requested) => {
            let requested = split_spaces(Some(requested));
            if requested.iter().any(|s| USER_SCOPES.contains(&s.as_str()) || !registered.allows_scope(s)) {
                return Err(OAuthError::InvalidScope("a requested scope is not allowed for this client"));
            }
            requested
        }
        None => registered.client.scopes.iter().filter(|s| !USER_SCOPES.contains(&s.as_str())).cloned().collect(),
    };
    let now = app.now();
    let claims = AccessTokenClaims {
        iss: issuer.url.clone(),
        sub: registered.client_id().to_owned(),
        aud: issuer.url.clone(),
        client_id: registered.client_id().to_owned(),
        scope: scope.join(" "),
        iat: now.unix_timestamp(),
        exp: (now + ACCESS_TOKEN_TTL).unix_timestamp(),
        jti: crate::secrets::url_token(),
        auth_time: None,
        acr: None,
        amr: None,
        cnf: confirmation(client)?,
        gid: None,
        tid: issuer.tenant.id,
        crg: Some(registered.client.id),
    };
    let access_token = tokens::issue(app, registered.client.access_token_format, &claims).await?;
    Ok(serde_json::json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_TTL.whole_seconds(),
        "scope": claims.scope,
    }))
}
