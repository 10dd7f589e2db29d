//! API tokens for automation: `mamori_at_` followed by 256 random bits, shown once.
//!
//! At rest only an HMAC-SHA256 of the token under a key derived from the master key is
//! kept. A slow password hash (Argon2id) buys nothing here: the token has 256 bits of
//! entropy, so no guessing attack is feasible whatever the hash speed, while Argon2id
//! would cost every API request tens of milliseconds and memory. The key means a copy of
//! the database alone cannot even test a guessed token, and a deterministic hash lets the
//! token be found by an indexed equality lookup instead of a scan.

use aws_lc_rs::hmac;
use mamori_storage::model::{ApiScope, ApiToken, NewApiToken};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{AdminError, Principal, Reach};
use crate::app::App;

pub const TOKEN_PREFIX: &str = "mamori_at_";
/// The longest lifetime a token may be given.
pub const MAX_LIFETIME_DAYS: i64 = 3650;

/// The keyed hash under which a token is stored.
pub fn lookup_hash(app: &App, token: &str) -> String {
    let root = hmac::Key::new(hmac::HMAC_SHA256, app.sealing.to_base64().as_bytes());
    let derived = hmac::sign(&root, b"mamori admin api token v1");
    let key = hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref());
    hex::encode(hmac::sign(&key, token.as_bytes()).as_ref())
}

/// A freshly created token: the text is returned exactly once.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CreatedToken {
    pub token: String,
    pub id: Uuid,
    pub name: String,
    /// The tenant's slug, or `None` for a super-admin token.
    pub tenant: Option<String>,
    pub scopes: Vec<ApiScope>,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// Creates a token for `tenant` (a slug) or, with `None`, a super-admin token. Only a
/// super-admin may create tokens (so a tenant token cannot mint a wider one).
pub async fn create(
    app: &App,
    principal: &Principal,
    name: &str,
    tenant: Option<&str>,
    scopes: &[ApiScope],
    lifetime: time::Duration,
) -> Result<CreatedToken, AdminError> {
    principal.require_super_admin(ApiScope::Write)?;
    if scopes.is_empty() {
        return Err(AdminError::Invalid("give at least one scope (read, write, scim)".to_owned()));
    }
    // A SCIM token acts on one tenant's users; a super-admin one would reach every
    // tenant's, the operators' own included, through a surface made for one directory.
    if tenant.is_none() && scopes.contains(&ApiScope::Scim) {
        return Err(AdminError::Invalid("a super-admin token cannot hold the scim scope: create a tenant token with --tenant".to_owned()));
    }
    if name.trim().is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(AdminError::Invalid("the name: 1 to 200 characters, no control characters".to_owned()));
    }
    if lifetime <= time::Duration::ZERO || lifetime > time::Duration::days(MAX_LIFETIME_DAYS) {
        return Err(AdminError::Invalid(format!("the lifetime must be positive and at most {MAX_LIFETIME_DAYS} days")));
    }
    let tenant = match tenant {
        Some(slug) => Some(principal.tenant(app, slug, ApiScope::Write).await?),
        None => None,
    };
    let token = format!("{TOKEN_PREFIX}{}", crate::secrets::url_token());
    let now = app.now();
    let record = app
        .storage
        .api_tokens()
        .create(
            &NewApiToken {
                name: name.to_owned(),
                tenant_id: tenant.as_ref().map(|t| t.id),
                scopes: scopes.to_vec(),
                created_by: principal.actor.clone(),
                lookup_hash: lookup_hash(app, &token),
                expires_at: now + lifetime,
            },
            now,
        )
        .await?;
    let target = format!("api-token:{}", record.id);
    super::audit::record(
        app,
        principal,
        tenant.as_ref().map(|t| t.id),
        "api-token.create",
        &target,
        serde_json::json!({"name": name, "scopes": record.scopes, "expires_at": record.expires_at.unix_timestamp()}),
    )
    .await;
    Ok(CreatedToken {
        token,
        id: record.id,
        name: record.name,
        tenant: tenant.map(|t| t.slug),
        scopes: record.scopes,
        expires_at: record.expires_at,
    })
}

/// A token's record with its tenant's slug (for a tenant token).
#[derive(Debug, Clone)]
pub struct ListedToken {
    pub token: ApiToken,
    pub tenant: Option<String>,
}

/// Every token, or those of tenant `slug`; never their text. Super-admin only.
pub async fn list(app: &App, principal: &Principal, tenant: Option<&str>) -> Result<Vec<ListedToken>, AdminError> {
    principal.require_super_admin(ApiScope::Read)?;
    let tenant_id = match tenant {
        Some(slug) => Some(principal.tenant(app, slug, ApiScope::Read).await?.id),
        None => None,
    };
    let slugs: std::collections::HashMap<Uuid, String> = app.storage.tenants().list().await?.into_iter().map(|t| (t.id, t.slug)).collect();
    let tokens = app.storage.api_tokens().list(tenant_id).await?;
    Ok(tokens
        .into_iter()
        .map(|token| {
            let tenant = token.tenant_id.and_then(|id| slugs.get(&id).cloned());
            ListedToken { token, tenant }
        })
        .collect())
}

/// Revokes the token `id` (text, so that a malformed id is "not found" after the role
/// check, like any other). Super-admin only; audited as `api-token.revoke`.
pub async fn revoke(app: &App, principal: &Principal, id: &str) -> Result<ListedToken, AdminError> {
    principal.require_super_admin(ApiScope::Write)?;
    let not_found = || AdminError::NotFound(format!("no API token `{}`", id.chars().take(60).collect::<String>()));
    let id: Uuid = id.parse().map_err(|_| not_found())?;
    let token = app.storage.api_tokens().get(id).await.map_err(|e| match e {
        mamori_storage::StorageError::NotFound => not_found(),
        other => other.into(),
    })?;
    if token.revoked_at.is_some() {
        return Err(AdminError::Conflict("the token is already revoked".to_owned()));
    }
    app.storage.api_tokens().revoke(id, app.now()).await?;
    super::audit::record(
        app,
        principal,
        token.tenant_id,
        "api-token.revoke",
        &format!("api-token:{id}"),
        serde_json::json!({"name": token.name}),
    )
    .await;
    let token = app.storage.api_tokens().get(id).await?;
    let tenant = match token.tenant_id {
        Some(tid) => Some(app.storage.tenants().get(tid).await?.slug),
        None => None,
    };
    Ok(ListedToken { token, tenant })
}

/// The principal an `Authorization: Bearer` token stands for. Unknown, expired and
/// revoked tokens all fail the same way.
pub async fn authenticate(app: &App, token: &str, source_ip: String) -> Result<Principal, AdminError> {
    let unauthenticated = || AdminError::Unauthenticated("the API token is unknown, expired or revoked".to_owned());
    if !token.starts_with(TOKEN_PREFIX) || token.len() > 200 {
        return Err(unauthenticated());
    }
    let now = app.now();
    let record: ApiToken = app.storage.api_tokens().find_by_lookup_hash(&lookup_hash(app, token)).await?.ok_or_else(unauthenticated)?;
    if !record.is_usable_at(now) {
        // The id, never the token: which credential someone still holds and tries.
        tracing::warn!(token_id = %record.id, source_ip, revoked = record.revoked_at.is_some(), "refused an expired or revoked API token");
        return Err(unauthenticated());
    }
    if let Err(err) = app.storage.api_tokens().touch(record.id, now).await {
        tracing::warn!(error = %err.log_detail(), "cannot record the use of an API token");
    }
    Ok(Principal {
        actor: format!("token:{}", record.id),
        reach: record.tenant_id.map_or(Reach::AllTenants, Reach::Tenant),
        scopes: record.scopes,
        source_ip,
    })
}

/// Parses `30d`, `12h`, `90m`, `45s` or a bare number of days.
pub fn parse_lifetime(text: &str) -> Result<time::Duration, AdminError> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, "d"),
    };
    let n: i64 = digits.parse().map_err(|_| AdminError::Invalid(format!("`{text}`: use a number with d, h, m or s, e.g. 90d")))?;
    // Far beyond any lifetime allowed, and small enough that no Duration overflows.
    if n > 1_000_000_000 {
        return Err(AdminError::Invalid(format!("`{text}` is too long a lifetime")));
    }
    match unit {
        "d" => Ok(time::Duration::days(n)),
        "h" => Ok(time::Duration::hours(n)),
        "m" => Ok(time::Duration::minutes(n)),
        "s" => Ok(time::Duration::seconds(n)),
        _ => Err(AdminError::Invalid(format!("`{text}`: use a number with d, h, m or s, e.g. 90d"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_parse() {
        assert_eq!(parse_lifetime("90d").ok(), Some(time::Duration::days(90)));
        assert_eq!(parse_lifetime("12h").ok(), Some(time::Duration::hours(12)));
        assert_eq!(parse_lifetime("5m").ok(), Some(time::Duration::minutes(5)));
        assert_eq!(parse_lifetime("7").ok(), Some(time::Duration::days(7)));
        assert_eq!(parse_lifetime("45s").ok(), Some(time::Duration::seconds(45)));
        assert!(parse_lifetime("7w").is_err());
        assert!(parse_lifetime("d").is_err());
        assert!(parse_lifetime("99999999999999999999d").is_err());
        assert!(parse_lifetime("9999999999999d").is_err(), "no overflow panic");
    }
}
