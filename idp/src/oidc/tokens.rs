//! Access-token formats behind one trait: signed JWTs (RFC 9068) that resource servers
//! verify with the JWKS, or opaque random strings kept server-side by their SHA-256.
//! Either way the claims are [`AccessTokenClaims`], and either way a token dies with its
//! grant or when revoked (RFC 7009).

use mamori_storage::model::{AccessTokenFormat, NewAccessToken, SigningAlgorithm};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::jwt;
use crate::app::App;

/// What an access token says, whatever its format.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccessTokenClaims {
    pub iss: String,
    /// The user's ID, or the client's ID for client_credentials.
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// RFC 8705 §3.1: `{"x5t#S256": …}` when bound to the client's certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<serde_json::Value>,
    /// The grant the token was issued under (user tokens only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<Uuid>,
    /// The tenant (private claim).
    pub tid: Uuid,
    /// The client's registration the token was issued under (private claim): a client
    /// deleted and registered again under the same ID is another registration, and the
    /// first one's tokens stay dead. Absent from tokens issued before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crg: Option<Uuid>,
}

impl AccessTokenClaims {
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split(' ').filter(|s| !s.is_empty())
    }

    pub fn bound_thumbprint(&self) -> Option<&str> {
        self.cnf.as_ref()?.get("x5t#S256")?.as_str()
    }
}

/// Issues access tokens of one format.
pub trait AccessTokenStrategy {
    fn issue(&self, app: &App, claims: &AccessTokenClaims) -> impl Future<Output = anyhow::Result<String>> + Send;
}

/// RFC 9068 JWTs (`typ: at+jwt`), signed with the ES256 key.
pub struct JwtAccessTokens;

impl AccessTokenStrategy for JwtAccessTokens {
    async fn issue(&self, app: &App, claims: &AccessTokenClaims) -> anyhow::Result<String> {
        jwt::sign(app, SigningAlgorithm::Es256, "at+jwt", claims).await
    }
}

/// 256-bit random strings; the claims live in the database under the token's SHA-256.
pub struct OpaqueAccessTokens;

impl AccessTokenStrategy for OpaqueAccessTokens {
    async fn issue(&self, app: &App, claims: &AccessTokenClaims) -> anyhow::Result<String> {
        let token = crate::secrets::url_token();
        let expires_at = OffsetDateTime::from_unix_timestamp(claims.exp)?;
        let record = NewAccessToken {
            lookup_hash: mamori_storage::token_lookup_hash(&token),
            grant_id: claims.gid,
            tenant_id: claims.tid,
            client_id: claims.client_id.clone(),
            data: serde_json::to_value(claims)?,
            expires_at,
        };
        app.storage.oidc_grants().insert_access_token(&record, app.now()).await?;
        Ok(token)
    }
}

/// Issues a token in the client's chosen format.
pub async fn issue(app: &App, format: AccessTokenFormat, claims: &AccessTokenClaims) -> anyhow::Result<String> {
    match format {
        AccessTokenFormat::Jwt => JwtAccessTokens.issue(app, claims).await,
        AccessTokenFormat::Opaque => OpaqueAccessTokens.issue(app, claims).await,
    }
}

/// The claims of a live token of `tenant_id` and `issuer`: signature (JWT) or record
/// (opaque), expiry, revocation of the token and of its grant.
pub async fn validate(app: &App, issuer: &str, tenant_id: Uuid, token: &str) -> anyhow::Result<Option<AccessTokenClaims>> {
    let now = app.now();
    let lookup = mamori_storage::token_lookup_hash(token);
    let claims = if token.matches('.').count() == 2 {
        let Ok(parsed) = jwt::parse(token) else { return Ok(None) };
        if parsed.header["typ"].as_str() != Some("at+jwt") {
            return Ok(None);
        }
        let jwks = super::keys::published_jwks(app).await?;
        if parsed.verify(&jwks).is_err() {
            return Ok(None);
        }
        let Ok(claims) = serde_json::from_value::<AccessTokenClaims>(parsed.claims) else { return Ok(None) };
        // A revoked JWT is remembered by its hash until it would have expired anyway.
        if app.storage.oidc_grants().is_access_token_revoked(&lookup).await? {
            return Ok(None);
        }
        claims
    } else {
        let Some(record) = app.storage.oidc_grants().find_active_access_token(&lookup, now).await? else {
            return Ok(None);
        };
        let Ok(claims) = serde_json::from_value::<AccessTokenClaims>(record.data) else { return Ok(None) };
        claims
    };
    if claims.exp <= now.unix_timestamp() || claims.iss != issuer || claims.tid != tenant_id {
        return Ok(None);
    }
    if !grant_still_allowed(app, &claims).await? || !client_still_registered(app, &claims).await? {
        return Ok(None);
    }
    Ok(Some(claims))
}

/// A token ends when its reason ends: its grant revoked or gone, or its user disabled or
/// deleted, at once, on every node.
async fn grant_still_allowed(app: &App, claims: &AccessTokenClaims) -> anyhow::Result<bool> {
    let Some(gid) = claims.gid else { return Ok(true) };
    let grant = match app.storage.oidc_grants().get_grant(gid).await {
        Ok(grant) if !grant.is_revoked() => grant,
        Ok(_) | Err(mamori_storage::StorageError::NotFound) => return Ok(false),
        Err(err) => return Err(err.into()),
    };
    let Some(user_id) = grant.user_id else { return Ok(true) };
    match app.storage.users().get(user_id).await {
        Ok(user) => Ok(user.status == mamori_storage::model::UserStatus::Active),
        Err(mamori_storage::StorageError::NotFound) => Ok(false),
        Err(err) => Err(err.into()),
    }
}

/// A deleted client's tokens end with it, on every node within the relying-site version
/// bound: its grants and recorded tokens are revoked as it is deleted, but a JWT access
/// token is not recorded. A client registered again under the same ID does not bring
/// back tokens of the earlier registration: the token names its registration (`crg`).
/// Tokens from before that claim fall back to the registration time, in whole seconds.
async fn client_still_registered(app: &App, claims: &AccessTokenClaims) -> anyhow::Result<bool> {
    let Some(current) = super::clients::load(app, claims.tid, &claims.client_id).await? else { return Ok(false) };
    Ok(match claims.crg {
        Some(registration) => registration == current.client.id,
        None => current.client.created_at.unix_timestamp() <= claims.iat,
    })
}

/// Revokes an access token (RFC 7009): an opaque token's record is marked; a JWT's hash
/// is recorded as revoked until it expires.
pub async fn revoke(app: &App, claims: &AccessTokenClaims, token: &str) -> anyhow::Result<()> {
    let lookup = mamori_storage::token_lookup_hash(token);
    let repo = app.storage.oidc_grants();
    let now = app.now();
    if !repo.revoke_access_token(&lookup, now).await? {
        let record = NewAccessToken {
            lookup_hash: lookup.clone(),
            grant_id: claims.gid,
            tenant_id: claims.tid,
            client_id: claims.client_id.clone(),
            data: serde_json::json!({ "revoked_jwt": true }),
            expires_at: OffsetDateTime::from_unix_timestamp(claims.exp)?,
        };
        match repo.insert_access_token(&record, now).await {
            Ok(_) | Err(mamori_storage::StorageError::Conflict(_)) => {}
            Err(err) => return Err(err.into()),
        }
        repo.revoke_access_token(&lookup, now).await?;
    }
    Ok(())
}
