//! OpenID Connect Back-Channel Logout 1.0: when a session ends, each relying site that
//! took part in it and registered a `backchannel_logout_uri` gets a logout token (§2.4),
//! POSTed as a form (§2.5) from whichever node ended the session.
//!
//! Tokens are signed before the caller's answer (they need the keys), delivered in the
//! background: a slow or dead site must not hold up the user's logout. One retry; the
//! outcome is logged. Delivery goes through the outbound guard like every URL a client
//! gives us, so it cannot reach internal addresses.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;
use uuid::Uuid;

use super::{clients, jwt};
use crate::app::App;
use crate::outbound::Limits;

pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// `typ` of a logout token (§2.4: explicit typing is recommended).
pub const TOKEN_TYPE: &str = "logout+jwt";
/// A logout token is for immediate delivery: two minutes covers the retry and clock skew.
const TOKEN_LIFETIME_SECS: i64 = 120;
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// Tells each (tenant, client, sid) that registered for it that the session ended.
pub async fn notify(app: &App, user_id: Uuid, sessions: BTreeSet<(Uuid, String, String)>) {
    let mut deliveries = Vec::new();
    for (tenant_id, client_id, sid) in sessions {
        match logout_token(app, tenant_id, &client_id, user_id, &sid).await {
            Ok(Some((uri, token))) => deliveries.push(deliver(app, client_id, uri, token)),
            Ok(None) => {}
            Err(err) => tracing::warn!(error = %format!("{err:#}"), client = client_id, "cannot make a back-channel logout token"),
        }
    }
    // A serving node answers the user at once and delivers in the background; a CLI
    // command (nothing bound) would exit first, so it waits for its deliveries.
    if app.bound_main_url.get().is_some() {
        for delivery in deliveries {
            tokio::spawn(delivery);
        }
    } else {
        futures::future::join_all(deliveries).await;
    }
}

/// The client's logout URI and a signed logout token for it, or `None` when the client
/// (still) exists without one.
async fn logout_token(app: &App, tenant_id: Uuid, client_id: &str, user_id: Uuid, sid: &str) -> anyhow::Result<Option<(String, String)>> {
    let Some(client) = clients::load(app, tenant_id, client_id).await? else { return Ok(None) };
    let Some(uri) = client.settings.backchannel_logout_uri.clone() else { return Ok(None) };
    let tenant = app.storage.tenants().get(tenant_id).await?;
    let now = app.now().unix_timestamp();
    let claims = json!({
        "iss": format!("{}/t/{}", app.main_url(), tenant.slug),
        "aud": client_id,
        "iat": now,
        "exp": now + TOKEN_LIFETIME_SECS,
        "jti": crate::secrets::url_token(),
        "sub": user_id.to_string(),
        "sid": sid,
        "events": { EVENT: {} },
    });
    let token = jwt::sign(app, client.settings.id_token_algorithm(), TOKEN_TYPE, &claims).await?;
    Ok(Some((uri, token)))
}

fn deliver(app: &App, client_id: String, uri: String, token: String) -> impl std::future::Future<Output = ()> + Send + 'static {
    let outbound = std::sync::Arc::clone(&app.outbound);
    let limits = Limits::for_clients(&app.config.oidc, DELIVERY_TIMEOUT, 64 * 1024);
    // A compact JWS is base64url and dots: nothing to encode.
    let form = format!("logout_token={token}");
    async move {
        for attempt in 1..=2 {
            match outbound.post_form(&uri, form.clone(), limits).await {
                Ok(_) => {
                    tracing::info!(client = client_id, attempt, "back-channel logout delivered");
                    return;
                }
                Err(err) if attempt == 1 => {
                    tracing::info!(client = client_id, error = %err, "back-channel logout failed; retrying once");
                    tokio::time::sleep(RETRY_AFTER).await;
                }
                Err(err) => tracing::warn!(client = client_id, error = %err, "back-channel logout not delivered"),
            }
        }
    }
}
