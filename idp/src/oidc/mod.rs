//! The OpenID Connect provider (OpenID Connect Core 1.0 on OAuth 2.0, RFC 6749): one
//! module per endpoint, one issuer per tenant at `{main}/t/{slug}`. Protocol logic lives
//! in plain functions; the handlers here and in each module parse and render.
//!
//! The login itself is the certificate login on the client-certificate listener: the
//! authorization endpoint stores the validated request (an unguessable id, 30 minutes)
//! and sends the browser to `{mtls}/oidc/resume/{id}`, which checks the session there,
//! sends the browser through `/login` when needed, asks for consent, and answers the
//! client.

pub mod acr;
pub mod authorize;
pub mod authorize_response;
pub mod backchannel;
pub mod client_auth;
pub mod clients;
pub mod cors;
pub mod discovery;
pub mod end_session;
pub mod error;
pub mod grants;
pub mod id_token;
pub mod introspection;
pub mod jwks;
pub mod jwks_fetch;
pub mod jwt;
pub mod keys;
pub mod par;
pub mod pkce;
pub mod presented;
pub mod redirect_uri;
pub mod registration;
pub mod request_object;
pub mod revocation;
pub mod routes;
pub mod site_version;
pub mod token;
pub mod token_writer;
pub mod tokens;
pub mod userinfo;

use std::collections::HashMap;

use mamori_storage::model::Tenant;

use crate::state::SharedState;

/// Lifetimes of what the provider hands out.
pub const AUTHORIZATION_REQUEST_TTL: time::Duration = time::Duration::minutes(30);
pub const PUSHED_REQUEST_TTL: time::Duration = time::Duration::seconds(90);
pub const CODE_TTL: time::Duration = time::Duration::seconds(60);
pub const ACCESS_TOKEN_TTL: time::Duration = time::Duration::minutes(10);
pub const ID_TOKEN_TTL: time::Duration = time::Duration::minutes(60);
pub const REFRESH_TOKEN_TTL: time::Duration = time::Duration::days(30);

/// A tenant seen as an issuer: where its endpoints are, on both listeners.
#[derive(Debug, Clone)]
pub struct Issuer {
    pub tenant: Tenant,
    /// `{main}/t/{slug}`.
    pub url: String,
    /// `{mtls}/t/{slug}`: the RFC 8705 endpoint aliases.
    pub mtls_url: String,
}

impl Issuer {
    pub fn endpoint(&self, name: &str) -> String {
        format!("{}/{name}", self.url)
    }

    pub fn mtls_endpoint(&self, name: &str) -> String {
        format!("{}/{name}", self.mtls_url)
    }

    /// Whether `aud` names this issuer or one of its endpoints, on either listener.
    pub fn is_own_audience(&self, aud: &str) -> bool {
        let own = |base: &str| aud == base || aud.strip_prefix(base).is_some_and(|rest| rest.starts_with('/'));
        own(&self.url) || own(&self.mtls_url)
    }
}

/// How long a node keeps a tenant or client record it read. A tenant's settings changed
/// elsewhere (the CLI, another node) take effect within this time; clients and CORS
/// origins follow their tenant's relying-site version ([`site_version`]) within a second,
/// and this bounds them only for changes made outside Mamori.
pub const RECORD_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// A small map of recently read records, each kept for [`RECORD_CACHE_TTL`].
pub struct RecentRecords<V> {
    map: std::sync::Mutex<HashMap<String, (std::time::Instant, V)>>,
}

impl<V: Clone> RecentRecords<V> {
    pub fn get(&self, key: &str) -> Option<V> {
        let map = self.map.lock().ok()?;
        let (at, value) = map.get(key)?;
        (at.elapsed() < RECORD_CACHE_TTL).then(|| value.clone())
    }

    pub fn put(&self, key: &str, value: V) {
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= 10_000 {
                map.clear();
            }
            map.insert(key.to_owned(), (std::time::Instant::now(), value));
        }
    }

    pub fn forget(&self, key: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(key);
        }
    }
}

impl<V> Default for RecentRecords<V> {
    fn default() -> Self {
        RecentRecords { map: Default::default() }
    }
}

/// How often a node deletes expired requests, codes and tokens.
const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// Deletes expired OIDC records in the background, at most every [`PURGE_EVERY`] per
/// node; called on the way through busy endpoints, so an idle node does no work.
pub fn purge_expired_now_and_then(app: &std::sync::Arc<crate::app::App>) {
    let due = match app.caches.oidc_purged_at.lock() {
        Ok(mut last) if last.is_none_or(|at| at.elapsed() >= PURGE_EVERY) => {
            *last = Some(std::time::Instant::now());
            true
        }
        _ => false,
    };
    if due {
        let app = std::sync::Arc::clone(app);
        tokio::spawn(async move {
            match app.storage.oidc_grants().purge_expired(app.now()).await {
                Ok(n) => tracing::debug!(deleted = n, "expired OIDC records purged"),
                Err(err) => tracing::warn!(error = %err.log_detail(), "purging expired OIDC records failed"),
            }
        });
    }
}

pub async fn issuer(state: &SharedState, slug: &str) -> anyhow::Result<Option<Issuer>> {
    Ok(recent_tenant_by_slug(&state.app, slug).await?.map(|tenant| issuer_for(state, tenant)))
}

/// The tenant `slug` names, as this node read it within [`RECORD_CACHE_TTL`]: for the
/// protocol endpoints, which need its ID and slug on every request.
pub async fn recent_tenant_by_slug(app: &crate::app::App, slug: &str) -> Result<Option<Tenant>, mamori_storage::StorageError> {
    let key = format!("slug:{slug}");
    if let Some(tenant) = app.caches.tenants.get(&key) {
        return Ok(Some(tenant));
    }
    let Some(tenant) = app.storage.tenants().get_by_slug(slug).await? else {
        return Ok(None);
    };
    app.caches.tenants.put(&key, tenant.clone());
    Ok(Some(tenant))
}

/// True when `tenant` no longer exists in the database; the node then forgets it, so the
/// next request finds no tenant instead of waiting out [`RECORD_CACHE_TTL`].
pub async fn tenant_is_gone(app: &crate::app::App, tenant: &Tenant) -> bool {
    let gone = matches!(app.storage.tenants().get(tenant.id).await, Err(mamori_storage::StorageError::NotFound));
    if gone {
        app.caches.tenants.forget(&format!("slug:{}", tenant.slug));
        app.caches.tenants.forget(&format!("id:{}", tenant.id));
    }
    gone
}

/// [`recent_tenant_by_slug`] by the tenant's ID.
pub async fn recent_tenant(app: &crate::app::App, id: uuid::Uuid) -> Result<Tenant, mamori_storage::StorageError> {
    let key = format!("id:{id}");
    if let Some(tenant) = app.caches.tenants.get(&key) {
        return Ok(tenant);
    }
    let tenant = app.storage.tenants().get(id).await?;
    app.caches.tenants.put(&key, tenant.clone());
    Ok(tenant)
}

pub fn issuer_for(state: &SharedState, tenant: Tenant) -> Issuer {
    Issuer { url: format!("{}/t/{}", state.urls.main, tenant.slug), mtls_url: format!("{}/t/{}", state.urls.mtls, tenant.slug), tenant }
}

/// Request parameters, each at most once (RFC 6749 §3.1: "parameters MUST NOT be
/// included more than once").
#[derive(Debug, Clone, Default)]
pub struct Params(HashMap<String, String>);

impl Params {
    /// Parameters from pairs; `Err(name)` names one that was repeated. Empty values count
    /// as absent (RFC 6749 §3.1).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Params, String> {
        let mut map = HashMap::new();
        for (k, v) in pairs {
            if v.is_empty() {
                continue;
            }
            if map.insert(k.clone(), v).is_some() {
                return Err(k);
            }
        }
        Ok(Params(map))
    }

    pub fn from_query(query: Option<&str>) -> Result<Params, String> {
        let pairs: Vec<(String, String)> = crate::urlcode::form_pairs(query.unwrap_or(""));
        Params::from_pairs(pairs)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    pub fn insert(&mut self, name: &str, value: String) {
        self.0.insert(name.to_owned(), value);
    }

    pub fn remove(&mut self, name: &str) -> Option<String> {
        self.0.remove(name)
    }

    pub fn into_map(self) -> HashMap<String, String> {
        self.0
    }
}

/// Space-separated values (scope, prompt, acr_values, ui_locales).
pub fn split_spaces(value: Option<&str>) -> Vec<String> {
    value.unwrap_or("").split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_appear_once_and_decode() {
        let p = Params::from_query(Some("a=1&b=x%20y+z&c=&d=%E3%81%82")).expect("parses");
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), Some("x y z"));
        assert_eq!(p.get("c"), None);
        assert_eq!(p.get("d"), Some("あ"));
        assert_eq!(Params::from_query(Some("a=1&a=2")).err().as_deref(), Some("a"));
        assert_eq!(split_spaces(Some(" openid  profile ")), ["openid", "profile"]);
    }
}
