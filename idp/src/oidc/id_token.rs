//! ID tokens (OpenID Connect Core §2, §3.1.3.6), built and signed by openidconnect:
//! its standard claims carry `acr`, `amr`, `azp` and `auth_time`; [`SessionClaims`] adds
//! `sid` (Back-Channel Logout §2.1), and `IdToken::new` fills `at_hash` and signs with
//! the tenant's key through [`PrivateSigningKey`](openidconnect::PrivateSigningKey) over
//! aws-lc-rs.
//!
//! The crate always writes `aud` as an array (allowed by Core §2); relying parties that
//! accept only a string are not spec-conformant.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use mamori_storage::model::SigningAlgorithm;
use openidconnect::core::{CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm};
use openidconnect::{
    AccessToken, AdditionalClaims, Audience, AuthenticationContextClass, AuthenticationMethodReference, ClientId, IdToken, IdTokenClaims,
    IssuerUrl, Nonce, StandardClaims, SubjectIdentifier,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::keys::{self, DatabaseKey};
use super::token::UserIssue;
use super::{ID_TOKEN_TTL, Issuer};
use crate::app::App;

/// The claims Mamori adds to the standard ones: the session ID, which back-channel
/// logout tokens name (Back-Channel Logout §2.1), when the grant came from a session.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

impl AdditionalClaims for SessionClaims {}

pub type MamoriIdTokenClaims = IdTokenClaims<SessionClaims, CoreGenderClaim>;
pub type MamoriIdToken = IdToken<SessionClaims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;

fn instant(unix: i64) -> anyhow::Result<DateTime<Utc>> {
    DateTime::from_timestamp(unix, 0).context("timestamp out of range")
}

/// The claims of an ID token for `client_id`, issued at `now` alongside `issue`'s grant.
/// Only `sub` and protocol claims (all in `userinfo::ALWAYS_RELEASED`): the user claims
/// come from UserInfo, so a client's claim release list has nothing to remove here. Any
/// user claim added here must go through `userinfo::restrict` with that list.
pub fn claims(issuer: &Issuer, client_id: &str, issue: &UserIssue<'_>, now: OffsetDateTime) -> anyhow::Result<MamoriIdTokenClaims> {
    Ok(MamoriIdTokenClaims::new(
        IssuerUrl::new(issuer.url.clone()).context("the issuer is not a URL")?,
        vec![Audience::new(client_id.to_owned())],
        instant((now + ID_TOKEN_TTL).unix_timestamp())?,
        instant(now.unix_timestamp())?,
        StandardClaims::new(SubjectIdentifier::new(issue.user.id.to_string())),
        SessionClaims { sid: issue.sid.map(str::to_owned) },
    )
    .set_authorized_party(Some(ClientId::new(client_id.to_owned())))
    .set_auth_time(Some(instant(issue.auth_time)?))
    .set_auth_context_ref(Some(AuthenticationContextClass::new(issue.acr.to_owned())))
    .set_auth_method_refs(Some(issue.amr.iter().cloned().map(AuthenticationMethodReference::new).collect()))
    .set_nonce(issue.nonce.map(|n| Nonce::new(n.to_owned()))))
}

/// Signs `claims` with `key`, with `at_hash` for the access token handed out beside it.
pub fn sign_with(key: &DatabaseKey, claims: MamoriIdTokenClaims, access_token: &str) -> anyhow::Result<String> {
    let token =
        MamoriIdToken::new(claims, key, keys::jws_algorithm(key.algorithm()), Some(&AccessToken::new(access_token.to_owned())), None)?;
    Ok(token.to_string())
}

/// Builds and signs the ID token of a user grant with the client's ID-token algorithm.
pub async fn issue(
    app: &App,
    issuer: &Issuer,
    client_id: &str,
    algorithm: SigningAlgorithm,
    issue: &UserIssue<'_>,
    access_token: &str,
) -> anyhow::Result<String> {
    let claims = claims(issuer, client_id, issue, app.now())?;
    let key = keys::signing_key(app, algorithm).await?;
    let access_token = access_token.to_owned();
    keys::with_key(app, key, move |key| sign_with(key, claims, &access_token)).await?
}

/// What an `id_token_hint` (Core §3.1.2.1, RP-Initiated Logout §2) says, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdTokenHint {
    /// The client it was issued to (its first audience).
    pub audience: Option<String>,
    /// The user it names.
    pub subject: Option<String>,
}

/// Reads an `id_token_hint`: an ID token this issuer signed (an expired one is fine: it
/// only names a user and a client). The one check for the authorization and logout
/// endpoints.
pub async fn read_hint(app: &App, issuer: &Issuer, hint: &str) -> Result<IdTokenHint, super::error::OAuthError> {
    use super::error::OAuthError;
    let parsed = super::jwt::parse(hint).map_err(|_| OAuthError::InvalidRequest("id_token_hint is not a JWT"))?;
    let jwks = keys::published_jwks(app).await?;
    if parsed.verify(&jwks).is_err() || parsed.claims["iss"].as_str() != Some(issuer.url.as_str()) {
        return Err(OAuthError::InvalidRequest("id_token_hint was not issued by this provider"));
    }
    let audience = match &parsed.claims["aud"] {
        serde_json::Value::String(a) => Some(a.clone()),
        serde_json::Value::Array(a) => a.first().and_then(|v| v.as_str()).map(str::to_owned),
        _ => None,
    };
    Ok(IdTokenHint { audience, subject: parsed.claims["sub"].as_str().map(str::to_owned) })
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use openidconnect::PrivateSigningKey as _;
    use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet};

    use super::*;

    /// An ID token signed through the crate verifies with aws-lc-rs against the JWK and
    /// with openidconnect's relying-party verifier, and carries the expected claims.
    #[test]
    fn id_tokens_verify_and_carry_at_hash() {
        // The access token and its at_hash from an independent computation
        // (base64url(sha256(token)[:16]) in Python's hashlib).
        let (access_token, at_hash) = ("jHkWEdUXMU1BwAsC4vtUsZwnNTkQDl1ZYDc7xeMyUDr", "nhL_SNRgfbam_9Os9mk4pw");
        for algorithm in [SigningAlgorithm::Es256, SigningAlgorithm::Rs256] {
            let key = DatabaseKey::generated(algorithm);
            let now = Utc::now().timestamp();
            let claims = MamoriIdTokenClaims::new(
                IssuerUrl::new("https://idp.example/t/acme".into()).expect("url"),
                vec![Audience::new("shop".into())],
                instant(now + 300).expect("exp"),
                instant(now).expect("iat"),
                StandardClaims::new(SubjectIdentifier::new("user-1".into())),
                SessionClaims { sid: Some("s-1".into()) },
            )
            .set_authorized_party(Some(ClientId::new("shop".into())))
            .set_auth_time(Some(instant(now - 5).expect("auth_time")))
            .set_auth_context_ref(Some(AuthenticationContextClass::new("urn:mamori:acr:mfa".into())))
            .set_auth_method_refs(Some(["swk", "pwd", "otp", "mfa"].map(|m| AuthenticationMethodReference::new(m.into())).to_vec()))
            .set_nonce(Some(Nonce::new("n-0S6".into())));
            let token = sign_with(&key, claims, access_token).expect("signs");

            let jwks = serde_json::json!({ "keys": [serde_json::to_value(key.as_verification_key()).expect("jwk")] });
            let parsed = super::super::jwt::parse(&token).expect("a compact JWS");
            parsed.verify(&jwks).expect("verifies with aws-lc-rs");
            assert_eq!(parsed.header["alg"], algorithm.as_str());
            assert_eq!(parsed.header["kid"], key.kid());
            let c = &parsed.claims;
            assert_eq!(c["at_hash"], at_hash);
            assert_eq!(c["aud"], serde_json::json!(["shop"]));
            assert_eq!((c["azp"].as_str(), c["sub"].as_str(), c["nonce"].as_str()), (Some("shop"), Some("user-1"), Some("n-0S6")));
            assert_eq!((c["iat"].as_i64(), c["exp"].as_i64(), c["auth_time"].as_i64()), (Some(now), Some(now + 300), Some(now - 5)));
            assert_eq!(c["acr"], "urn:mamori:acr:mfa");
            assert_eq!(c["amr"], serde_json::json!(["swk", "pwd", "otp", "mfa"]));
            assert_eq!(c["sid"], "s-1");

            let set: CoreJsonWebKeySet = serde_json::from_value(jwks).expect("a JWK Set");
            let verifier = CoreIdTokenVerifier::new_public_client(
                ClientId::new("shop".into()),
                IssuerUrl::new("https://idp.example/t/acme".into()).expect("url"),
                set,
            )
            .set_allowed_algs([keys::jws_algorithm(algorithm)]);
            let parsed: CoreIdToken = token.parse().expect("an ID token");
            parsed.claims(&verifier, &Nonce::new("n-0S6".into())).expect("the crate's verifier accepts it");

            let mut forged = token.clone();
            forged.truncate(token.rfind('.').expect("three parts") + 1);
            forged.push_str(&URL_SAFE_NO_PAD.encode([0u8; 64]));
            let forged: CoreIdToken = forged.parse().expect("still a JWT");
            assert!(forged.claims(&verifier, &Nonce::new("n-0S6".into())).is_err(), "a bad signature is refused");
        }
    }
}
