//! The UserInfo endpoint (OpenID Connect Core §5.3): claims about the user by scope,
//! for a live bearer token (RFC 6750) carrying `openid`; a certificate-bound token only
//! with the same certificate on the mTLS listener (RFC 8705 §3). A client registered
//! with a claim release list gets only the claims on it (and always `sub`).

use axum::Extension;
use axum::extract::{Path, RawForm, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use mamori_storage::model::User;
use serde_json::{Value, json};

use super::clients::RegisteredClient;
use super::error::{OAuthError, bearer_error};
use super::presented::certificate_thumbprint;
use super::tokens::{self, AccessTokenClaims};
use crate::app::App;
use crate::state::ConnectionInfo;
use crate::state::SharedState;

pub async fn userinfo_get(
    State(state): State<SharedState>,
    Extension(conn): Extension<ConnectionInfo>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Response {
    respond(&state, &conn, &slug, &headers, None).await
}

pub async fn userinfo_post(
    State(state): State<SharedState>,
    Extension(conn): Extension<ConnectionInfo>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    RawForm(body): RawForm,
) -> Response {
    let form = super::token::form_params(&body).ok();
    let token = form.as_ref().and_then(|f| f.get("access_token")).map(str::to_owned);
    respond(&state, &conn, &slug, &headers, token).await
}

/// The bearer token of a request: the Authorization header, or (POST only) the form.
pub fn bearer_token(headers: &HeaderMap, form_token: Option<String>) -> Result<String, OAuthError> {
    let header = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    match (header, form_token) {
        (Some(_), Some(_)) => Err(OAuthError::InvalidRequest("the token was sent more than once")),
        (Some(h), None) => {
            let (scheme, token) = h.split_once(' ').ok_or(OAuthError::InvalidToken("malformed Authorization header"))?;
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(OAuthError::InvalidToken("a Bearer token is required"));
            }
            Ok(token.trim().to_owned())
        }
        (None, Some(t)) => Ok(t),
        (None, None) => Err(OAuthError::MissingToken),
    }
}

async fn respond(state: &SharedState, conn: &ConnectionInfo, slug: &str, headers: &HeaderMap, form_token: Option<String>) -> Response {
    let mut client = None;
    let response = match claims_for(state, conn, slug, headers, form_token, &mut client).await {
        Ok(claims) => super::token::no_store(axum::Json(claims).into_response()),
        Err(err) => bearer_error(&err),
    };
    match client {
        // A live token: only its client's origins may read about its user.
        Some(client) => super::cors::for_client(Some(&client), headers, response),
        // No live token, so no client and nothing about anyone in the answer: the tenant's
        // apps may read the 401 (and refresh) instead of seeing a network error.
        None => super::cors::for_tenant(state, slug, headers, response).await,
    }
}

async fn claims_for(
    state: &SharedState,
    conn: &ConnectionInfo,
    slug: &str,
    headers: &HeaderMap,
    form_token: Option<String>,
    token_client: &mut Option<RegisteredClient>,
) -> Result<Value, OAuthError> {
    let issuer = super::token::issuer_of_resource(state, slug).await?;
    let token = bearer_token(headers, form_token)?;
    let app = &state.app;
    let claims = tokens::validate(app, &issuer.url, issuer.tenant.id, &token)
        .await?
        .ok_or(OAuthError::InvalidToken("the access token is invalid, expired or revoked"))?;
    let client = super::clients::load(app, issuer.tenant.id, &claims.client_id)
        .await
        .map_err(|e| OAuthError::internal(&e))?
        .ok_or(OAuthError::InvalidToken("the client is gone"))?;
    let client = token_client.insert(client);
    check_binding(&claims, conn)?;
    if !claims.scopes().any(|s| s == "openid") || claims.gid.is_none() {
        return Err(OAuthError::InsufficientScope);
    }
    let user_id = claims.sub.parse().map_err(|_| OAuthError::InvalidToken("the token is not about a user"))?;
    let user = app.storage.users().get(user_id).await.map_err(|_| OAuthError::InvalidToken("the user is gone"))?;
    let mut released = user_claims(app, &user, &claims).await.map_err(|e| OAuthError::internal(&e))?;
    restrict(&mut released, client.claim_list());
    Ok(released)
}

/// The user claims Mamori can release (by scope: `profile` the first five, `email` the
/// last two); a client's claim release list names some of these. `sub` and the protocol
/// claims of the ID token are not on it: they are always present.
pub const USER_CLAIMS: [&str; 7] = ["name", "preferred_username", "locale", "zoneinfo", "updated_at", "email", "email_verified"];

/// The claims of `claims_supported` that every ID token (or UserInfo response, for `sub`)
/// carries whatever a client's list says: they identify the user and make the token valid.
pub const ALWAYS_RELEASED: [&str; 12] = ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "at_hash", "sid"];

/// Removes from `claims` every user claim not on the client's list (`None`: keep all the
/// scopes released). `sub` always stays: without it the response identifies nobody.
pub fn restrict(claims: &mut Value, allowed: Option<&[String]>) {
    let (Some(allowed), Some(object)) = (allowed, claims.as_object_mut()) else {
        return;
    };
    object.retain(|name, _| name == "sub" || allowed.iter().any(|a| a == name));
}

/// RFC 8705 §3: a bound token is accepted only with the certificate it is bound to.
pub fn check_binding(claims: &AccessTokenClaims, conn: &ConnectionInfo) -> Result<(), OAuthError> {
    match claims.bound_thumbprint() {
        None => Ok(()),
        Some(bound) if certificate_thumbprint(conn).as_deref() == Some(bound) => Ok(()),
        Some(_) => Err(OAuthError::InvalidToken("the token is bound to another client certificate")),
    }
}

/// `sub` and the claims the token's scopes release.
pub async fn user_claims(app: &App, user: &User, token: &AccessTokenClaims) -> anyhow::Result<Value> {
    let mut claims = json!({ "sub": user.id.to_string() });
    if token.scopes().any(|s| s == "profile") {
        claims["name"] = user.display_name.clone().into();
        claims["preferred_username"] = user.login_id.clone().into();
        claims["locale"] = user.locale.to_string().into();
        claims["zoneinfo"] = user.time_zone.clone().into();
        claims["updated_at"] = user.updated_at.unix_timestamp().into();
    }
    if token.scopes().any(|s| s == "email") {
        let devices = app.storage.devices().list_for_user(user.id, false).await?;
        if let Some(device) = devices.first() {
            claims["email"] = device.email.clone().into();
            // True only once a link mailed to this address was completed (a reissue).
            claims["email_verified"] = device.email_verified_at.is_some().into();
        }
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `user_claims` gives for the scopes `openid profile email`.
    fn all_scopes() -> Value {
        json!({
            "sub": "8d1f2c3a-0000-4000-8000-000000000001", "name": "Hanako Yamada", "preferred_username": "hanako",
            "locale": "ja", "zoneinfo": "Asia/Tokyo", "updated_at": 1_700_000_000, "email": "hanako@example.jp",
            "email_verified": true,
        })
    }

    #[test]
    fn a_client_allowed_only_email_gets_email_but_not_the_profile() {
        let mut claims = all_scopes();
        restrict(&mut claims, Some(&["email".to_owned()]));
        assert_eq!(claims, json!({"sub": "8d1f2c3a-0000-4000-8000-000000000001", "email": "hanako@example.jp"}));
    }

    #[test]
    fn without_a_list_every_claim_the_scopes_allow_is_released() {
        let mut claims = all_scopes();
        restrict(&mut claims, None);
        assert_eq!(claims, all_scopes());
    }

    #[test]
    fn the_list_never_adds_a_claim_the_scopes_did_not_allow_and_sub_always_stays() {
        // Scope `openid profile`: no e-mail claims, even though the list names them.
        let mut claims = json!({"sub": "u", "name": "Hanako Yamada", "preferred_username": "hanako"});
        restrict(&mut claims, Some(&["email".to_owned(), "name".to_owned()]));
        assert_eq!(claims, json!({"sub": "u", "name": "Hanako Yamada"}));
        restrict(&mut claims, Some(&[]));
        assert_eq!(claims, json!({"sub": "u"}));
    }
}
