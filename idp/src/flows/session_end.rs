//! What ends with a browser session, whichever way it ends (logout at Mamori or at a
//! relying site, SAML single logout, a credential change, a revoked certificate, an
//! operator disabling the user): the OIDC grants that came from it, unless they asked for
//! `offline_access`, and a back-channel logout notice to every relying site that took part
//! in it and registered a `backchannel_logout_uri` (OpenID Connect Back-Channel Logout 1.0).
//!
//! Offline grants keep their refresh tokens (that is what `offline_access` asks for,
//! Core §11), but their sites are still told the session ended.

use std::collections::BTreeSet;

use mamori_storage::StorageError;
use mamori_storage::model::OidcGrant;
use uuid::Uuid;

use crate::app::App;
use crate::oidc::backchannel;

/// Which sessions of a user ended.
#[derive(Clone, Copy, Debug)]
pub enum Ended<'a> {
    /// One session, by its `sid`.
    One(&'a str),
    /// Every session of the user, except the one with this `sid` (the session that made
    /// a credential change goes on).
    AllBut(Option<&'a str>),
}

/// Ends the grants of the ended sessions and tells the relying sites. Storage errors are
/// returned: a logout must not say "done" while the session's tokens still work.
pub async fn grants_of_ended_sessions(app: &App, user_id: Uuid, ended: Ended<'_>) -> Result<(), StorageError> {
    let grants = app.storage.oidc_grants();
    let found = match ended {
        Ended::One("") => return Ok(()),
        Ended::One(sid) => grants.session_grants(user_id, Some(sid)).await?,
        Ended::AllBut(_) => grants.session_grants(user_id, None).await?,
    };
    let keep = match ended {
        Ended::AllBut(Some(sid)) => Some(sid),
        _ => None,
    };
    let (to_revoke, to_notify) = split(&found, keep);
    let revoked = grants.revoke_grants(&to_revoke, app.now()).await?;
    if revoked > 0 {
        tracing::info!(%user_id, revoked, "grants ended with their session");
    }
    backchannel::notify(app, user_id, to_notify).await;
    Ok(())
}

/// Ends every session of `user_id` on every node (a credential changed, a certificate
/// was revoked, the user was disabled or deleted), with the grants that came from them.
pub async fn end_all(app: &App, user_id: Uuid) -> Result<u64, StorageError> {
    let ended = app.shared.sessions().delete_for_user(user_id).await?;
    grants_of_ended_sessions(app, user_id, Ended::AllBut(None)).await?;
    Ok(ended)
}

/// Shuts a user out (disabled or deleted): [`end_all`], and then every grant of the user,
/// offline ones too. `offline_access` outlives a logout, never the account: re-enabling
/// the user must not bring old refresh tokens back.
pub async fn shut_out(app: &App, user_id: Uuid) -> Result<u64, StorageError> {
    let ended = end_all(app, user_id).await?;
    let revoked = app.storage.oidc_grants().revoke_user_grants(user_id, app.now()).await?;
    if revoked > 0 {
        tracing::info!(%user_id, revoked, "every grant of a shut-out user revoked, offline ones too");
    }
    Ok(ended)
}

/// Of a user's session grants, those to revoke (live, not offline, not of the kept
/// session) and the (tenant, client, sid) triples to notify (live ones, offline too).
fn split(found: &[OidcGrant], keep: Option<&str>) -> (Vec<Uuid>, BTreeSet<(Uuid, String, String)>) {
    let live = found
        .iter()
        .filter(|g| !g.is_revoked())
        .filter_map(|g| g.session_id.as_deref().map(|sid| (g, sid)))
        .filter(|(_, sid)| Some(*sid) != keep);
    let mut revoke = Vec::new();
    let mut notify = BTreeSet::new();
    for (grant, sid) in live {
        if !grant.offline {
            revoke.push(grant.id);
        }
        notify.insert((grant.tenant_id, grant.client_id.clone(), sid.to_owned()));
    }
    (revoke, notify)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(client: &str, sid: Option<&str>, offline: bool, revoked: bool) -> OidcGrant {
        let now = time::OffsetDateTime::UNIX_EPOCH;
        OidcGrant {
            id: Uuid::new_v4(),
            tenant_id: Uuid::nil(),
            client_id: client.into(),
            user_id: Some(Uuid::nil()),
            session_id: sid.map(str::to_owned),
            offline,
            revoked_at: revoked.then_some(now),
            created_at: now,
        }
    }

    #[test]
    fn offline_grants_survive_but_are_told_and_the_kept_session_is_untouched() {
        let online = grant("shop", Some("s1"), false, false);
        let offline = grant("mail", Some("s1"), true, false);
        let earlier = grant("shop", Some("s0"), false, true);
        let kept = grant("shop", Some("s2"), false, false);
        let sessionless = grant("batch", None, false, false);
        let all = [online.clone(), offline, earlier, kept, sessionless];
        let (revoke, notify) = split(&all, Some("s2"));
        assert_eq!(revoke, vec![online.id]);
        let told: Vec<_> = notify.iter().map(|(_, c, s)| (c.as_str(), s.as_str())).collect();
        assert_eq!(told, vec![("mail", "s1"), ("shop", "s1")]);
        // Nothing kept: the kept session's grant goes too.
        let (revoke, _) = split(&all, None);
        assert_eq!(revoke.len(), 2);
    }

    #[tokio::test]
    async fn a_shut_out_user_loses_offline_grants_too_a_logout_does_not() {
        use mamori_storage::model::{LoginMethod, TenantPolicy};
        let ctx = crate::test_context::TestContext::new().await;
        let tenant = ctx.tenant(TenantPolicy::default()).await;
        let taro = ctx.user(&tenant, "taro", LoginMethod::CertPassword, None).await;
        let (now, tenant_id, user_id) = (ctx.app.now(), tenant.id, taro.id);
        let make = |sid: Option<&'static str>, offline: bool| {
            let grants = ctx.app.storage.oidc_grants();
            async move { grants.create_grant_in_session(tenant_id, "shop", Some(user_id), sid, offline, now).await.expect("grant") }
        };
        let online = make(Some("s1"), false).await;
        let offline = make(Some("s1"), true).await;
        let sessionless = make(None, false).await;
        let app = &ctx.app;
        let revoked = |id| async move { app.storage.oidc_grants().get_grant(id).await.expect("grant").is_revoked() };

        end_all(&ctx.app, taro.id).await.expect("sessions end");
        assert!(revoked(online.id).await, "a session's grant ends with it");
        assert!(!revoked(offline.id).await, "offline_access outlives a logout");
        assert!(!revoked(sessionless.id).await);

        shut_out(&ctx.app, taro.id).await.expect("shut out");
        assert!(revoked(offline.id).await, "never the account: disabled or deleted, offline grants end too");
        assert!(revoked(sessionless.id).await);
    }
}
