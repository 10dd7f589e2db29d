//! The OpenID Connect provider's state: pending requests, codes used once (a second use
//! revokes the grant), refresh-token rotation with reuse detection, access tokens,
//! consents, initial access tokens and client settings.

use mamori_storage::model::{
    AccessTokenFormat, CodeRedeemError, NewAccessToken, NewOidcClient, NewPendingRequest,
    PendingRequestKind, RefreshError,
};
use mamori_storage::{Storage, token_lookup_hash};
use serde_json::json;
use time::Duration;

use crate::harness::{t0, tenant, unique, user};

on_both!(
    pending_requests,
    codes_are_single_use_and_reuse_revokes_the_grant,
    concurrent_code_redemption_succeeds_once,
    refresh_rotation_and_reuse_detection,
    concurrent_refresh_rotation_succeeds_once,
    access_tokens_follow_their_grant,
    consents_are_remembered_and_replaced,
    consents_are_listed_per_user_and_withdrawn,
    initial_access_tokens_and_client_settings,
    purge_removes_only_expired
);

async fn pending_requests(s: Storage) {
    let t = tenant(&s).await;
    let repo = s.oidc_grants();
    let hash = token_lookup_hash("req-1");
    let new = NewPendingRequest {
        lookup_hash: hash.clone(),
        kind: PendingRequestKind::Authorization,
        tenant_id: t.id,
        client_id: "shop".into(),
        params: json!({"redirect_uri": "https://shop.example/cb", "state": "x"}),
        expires_at: t0() + Duration::minutes(10),
    };
    repo.create_pending(&new, t0()).await.unwrap();
    let found = repo
        .find_pending(&hash, PendingRequestKind::Authorization, t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.params["state"], "x");
    // The wrong kind, or after expiry: nothing.
    assert!(
        repo.find_pending(&hash, PendingRequestKind::Pushed, t0())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        repo.find_pending(
            &hash,
            PendingRequestKind::Authorization,
            t0() + Duration::minutes(11)
        )
        .await
        .unwrap()
        .is_none()
    );
    // Readable again until consumed; consumed once.
    assert!(
        repo.find_pending(&hash, PendingRequestKind::Authorization, t0())
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        repo.consume_pending(&hash, PendingRequestKind::Authorization, t0())
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        repo.consume_pending(&hash, PendingRequestKind::Authorization, t0())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        repo.find_pending(&hash, PendingRequestKind::Authorization, t0())
            .await
            .unwrap()
            .is_none()
    );
}

async fn codes_are_single_use_and_reuse_revokes_the_grant(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let repo = s.oidc_grants();
    let grant = repo
        .create_grant(t.id, "shop", Some(u.id), t0())
        .await
        .unwrap();
    let code = token_lookup_hash("code-1");
    repo.insert_code(
        &code,
        grant.id,
        &json!({"nonce": "n"}),
        t0() + Duration::minutes(1),
        t0(),
    )
    .await
    .unwrap();

    // A refresh token issued by the first redemption...
    let redeemed = repo.redeem_code(&code, t0()).await.unwrap();
    assert_eq!(redeemed.data["nonce"], "n");
    assert_eq!(redeemed.grant_id, grant.id);
    let rt = token_lookup_hash("rt-1");
    repo.insert_refresh_token(&rt, grant.id, &json!({}), t0() + Duration::days(1), t0())
        .await
        .unwrap();

    // ...dies with the second redemption.
    let again = repo.redeem_code(&code, t0()).await.unwrap_err();
    assert!(matches!(again, CodeRedeemError::AlreadyUsed { grant_id } if grant_id == grant.id));
    assert!(repo.get_grant(grant.id).await.unwrap().is_revoked());
    assert!(matches!(
        repo.rotate_refresh_token(&rt, t0()).await,
        Err(RefreshError::Revoked)
    ));

    // Unknown and expired codes.
    assert!(matches!(
        repo.redeem_code(&token_lookup_hash("nope"), t0()).await,
        Err(CodeRedeemError::NotFound)
    ));
    let g2 = repo
        .create_grant(t.id, "shop", Some(u.id), t0())
        .await
        .unwrap();
    let old = token_lookup_hash("code-2");
    repo.insert_code(&old, g2.id, &json!({}), t0() + Duration::minutes(1), t0())
        .await
        .unwrap();
    assert!(matches!(
        repo.redeem_code(&old, t0() + Duration::minutes(2)).await,
        Err(CodeRedeemError::Expired)
    ));
    assert!(!repo.get_grant(g2.id).await.unwrap().is_revoked());
}

async fn concurrent_code_redemption_succeeds_once(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let grant = s
        .oidc_grants()
        .create_grant(t.id, "shop", Some(u.id), t0())
        .await
        .unwrap();
    let code = token_lookup_hash(&unique("code"));
    s.oidc_grants()
        .insert_code(
            &code,
            grant.id,
            &json!({}),
            t0() + Duration::minutes(1),
            t0(),
        )
        .await
        .unwrap();
    let tries = (0..8).map(|_| {
        let (s, code) = (s.clone(), code.clone());
        tokio::spawn(async move { s.oidc_grants().redeem_code(&code, t0()).await })
    });
    let results: Vec<_> = futures::future::join_all(tries)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, CodeRedeemError::AlreadyUsed { .. }))
    );
}

async fn refresh_rotation_and_reuse_detection(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let repo = s.oidc_grants();
    let grant = repo
        .create_grant(t.id, "shop", Some(u.id), t0())
        .await
        .unwrap();
    let first = token_lookup_hash("rt-a");
    repo.insert_refresh_token(
        &first,
        grant.id,
        &json!({"scope": "openid"}),
        t0() + Duration::days(1),
        t0(),
    )
    .await
    .unwrap();
    let spent = repo.rotate_refresh_token(&first, t0()).await.unwrap();
    assert_eq!(spent.data["scope"], "openid");
    let second = token_lookup_hash("rt-b");
    repo.insert_refresh_token(
        &second,
        grant.id,
        &spent.data,
        t0() + Duration::days(1),
        t0(),
    )
    .await
    .unwrap();
    assert_eq!(
        repo.find_refresh_token(&first)
            .await
            .unwrap()
            .unwrap()
            .rotated_at,
        Some(t0())
    );

    // The old one again: reuse, the family dies, the successor with it.
    let reuse = repo
        .rotate_refresh_token(&first, t0() + Duration::minutes(1))
        .await
        .unwrap_err();
    assert!(matches!(reuse, RefreshError::Reused { grant_id } if grant_id == grant.id));
    assert!(matches!(
        repo.rotate_refresh_token(&second, t0()).await,
        Err(RefreshError::Revoked)
    ));

    // Expired and unknown tokens.
    let g2 = repo
        .create_grant(t.id, "shop", Some(u.id), t0())
        .await
        .unwrap();
    let short = token_lookup_hash("rt-c");
    repo.insert_refresh_token(&short, g2.id, &json!({}), t0() + Duration::hours(1), t0())
        .await
        .unwrap();
    assert!(matches!(
        repo.rotate_refresh_token(&short, t0() + Duration::hours(2))
            .await,
        Err(RefreshError::Expired)
    ));
    assert!(matches!(
        repo.rotate_refresh_token(&token_lookup_hash("x"), t0())
            .await,
        Err(RefreshError::NotFound)
    ));
}

async fn concurrent_refresh_rotation_succeeds_once(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let grant = s
        .oidc_grants()
        .create_grant(t.id, "shop", Some(u.id), t0())
        .await
        .unwrap();
    let rt = token_lookup_hash(&unique("rt"));
    s.oidc_grants()
        .insert_refresh_token(&rt, grant.id, &json!({}), t0() + Duration::days(1), t0())
        .await
        .unwrap();
    let tries = (0..8).map(|_| {
        let (s, rt) = (s.clone(), rt.clone());
        tokio::spawn(async move { s.oidc_grants().rotate_refresh_token(&rt, t0()).await })
    });
    let results: Vec<_> = futures::future::join_all(tries)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
}

async fn access_tokens_follow_their_grant(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let repo = s.oidc_grants();
    let grant = repo
        .create_grant(t.id, "shop", Some(u.id), t0())
        .await
        .unwrap();
    let at = token_lookup_hash("at-1");
    let new = NewAccessToken {
        lookup_hash: at.clone(),
        grant_id: Some(grant.id),
        tenant_id: t.id,
        client_id: "shop".into(),
        data: json!({"scope": "openid profile", "sub": u.id}),
        expires_at: t0() + Duration::minutes(10),
    };
    repo.insert_access_token(&new, t0()).await.unwrap();
    let found = repo
        .find_active_access_token(&at, t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.data["scope"], "openid profile");
    assert!(
        repo.find_active_access_token(&at, t0() + Duration::minutes(11))
            .await
            .unwrap()
            .is_none()
    );
    repo.revoke_grant(grant.id, t0()).await.unwrap();
    assert!(
        repo.find_active_access_token(&at, t0())
            .await
            .unwrap()
            .is_none()
    );

    // Client-credentials tokens have no grant; they are revoked one by one.
    let cc = token_lookup_hash("at-2");
    repo.insert_access_token(
        &NewAccessToken {
            lookup_hash: cc.clone(),
            grant_id: None,
            ..new.clone()
        },
        t0(),
    )
    .await
    .unwrap();
    assert!(
        repo.find_active_access_token(&cc, t0())
            .await
            .unwrap()
            .is_some()
    );
    assert!(repo.revoke_access_token(&cc, t0()).await.unwrap());
    assert!(!repo.revoke_access_token(&cc, t0()).await.unwrap());
    assert!(
        repo.find_active_access_token(&cc, t0())
            .await
            .unwrap()
            .is_none()
    );
}

async fn consents_are_remembered_and_replaced(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let repo = s.oidc_grants();
    assert!(repo.find_consent("shop", u.id).await.unwrap().is_none());
    repo.save_consent(t.id, "shop", u.id, &["openid".into()], t0())
        .await
        .unwrap();
    repo.save_consent(
        t.id,
        "shop",
        u.id,
        &["openid".into(), "email".into()],
        t0() + Duration::minutes(1),
    )
    .await
    .unwrap();
    let consent = repo.find_consent("shop", u.id).await.unwrap().unwrap();
    assert_eq!(consent.scopes, ["openid", "email"]);
    assert_eq!(consent.granted_at, t0() + Duration::minutes(1));
    assert!(repo.find_consent("other", u.id).await.unwrap().is_none());
    assert!(repo.delete_consent("shop", u.id).await.unwrap());
    assert!(repo.find_consent("shop", u.id).await.unwrap().is_none());
}

async fn consents_are_listed_per_user_and_withdrawn(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let other = user(&s, &t).await;
    let repo = s.oidc_grants();
    assert!(repo.list_consents(u.id).await.unwrap().is_empty());
    repo.save_consent(t.id, "shop", u.id, &["openid".into()], t0())
        .await
        .unwrap();
    repo.save_consent(
        t.id,
        "news",
        u.id,
        &["openid".into(), "email".into()],
        t0() + Duration::minutes(5),
    )
    .await
    .unwrap();
    repo.save_consent(t.id, "shop", other.id, &["openid".into()], t0())
        .await
        .unwrap();
    let listed = repo.list_consents(u.id).await.unwrap();
    let clients: Vec<_> = listed.iter().map(|c| c.client_id.as_str()).collect();
    assert_eq!(clients, ["news", "shop"], "newest first, only this user's");
    assert_eq!(listed[0].scopes, ["openid", "email"]);
    assert_eq!(listed[0].granted_at, t0() + Duration::minutes(5));

    // Withdrawing: the consent goes and the user's grants with that client are revoked,
    // the other user's consent stays.
    let grant = repo
        .create_grant(t.id, "shop", Some(u.id), t0())
        .await
        .unwrap();
    let others = repo
        .create_grant(t.id, "shop", Some(other.id), t0())
        .await
        .unwrap();
    assert!(repo.delete_consent("shop", u.id).await.unwrap());
    assert_eq!(repo.revoke_grants_of("shop", u.id, t0()).await.unwrap(), 1);
    assert!(repo.get_grant(grant.id).await.unwrap().is_revoked());
    assert!(!repo.get_grant(others.id).await.unwrap().is_revoked());
    let clients: Vec<_> = repo
        .list_consents(u.id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    assert_eq!(clients, ["news"]);
    assert_eq!(repo.list_consents(other.id).await.unwrap().len(), 1);
}

async fn initial_access_tokens_and_client_settings(s: Storage) {
    let t = tenant(&s).await;
    let repo = s.oidc_grants();
    let iat = token_lookup_hash("iat-1");
    repo.create_initial_access_token(&iat, t.id, 2, t0() + Duration::hours(1), t0())
        .await
        .unwrap();
    assert_eq!(
        repo.spend_initial_access_token(&iat, t0())
            .await
            .unwrap()
            .unwrap()
            .uses_left,
        1
    );
    assert!(
        repo.spend_initial_access_token(&iat, t0() + Duration::hours(2))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        repo.spend_initial_access_token(&iat, t0())
            .await
            .unwrap()
            .unwrap()
            .uses_left,
        0
    );
    assert!(
        repo.spend_initial_access_token(&iat, t0())
            .await
            .unwrap()
            .is_none()
    );

    // Settings belong to a registered client and go with it.
    let client_id = unique("client");
    s.oidc_clients()
        .create(
            &NewOidcClient {
                tenant_id: t.id,
                client_id: client_id.clone(),
                client_secret_hash: None,
                name: "RP".into(),
                redirect_uris: vec!["https://rp.example/cb".into()],
                post_logout_redirect_uris: vec![],
                grant_types: vec!["authorization_code".into()],
                response_types: vec!["code".into()],
                token_endpoint_auth_method: "none".into(),
                jwks: None,
                jwks_uri: None,
                scopes: vec!["openid".into()],
                claims: None,
                access_token_format: AccessTokenFormat::Opaque,
                first_party: false,
                require_pkce: true,
            },
            t0(),
        )
        .await
        .unwrap();
    assert!(repo.client_settings(&client_id).await.unwrap().is_none());
    repo.set_client_settings(&client_id, &json!({"a": 1}), t0())
        .await
        .unwrap();
    repo.set_client_settings(&client_id, &json!({"a": 2}), t0())
        .await
        .unwrap();
    assert_eq!(
        repo.client_settings(&client_id).await.unwrap(),
        Some(json!({"a": 2}))
    );
    s.oidc_clients().delete(&client_id).await.unwrap();
    assert!(repo.client_settings(&client_id).await.unwrap().is_none());
    // Not for a client that does not exist.
    assert!(
        repo.set_client_settings("ghost", &json!({}), t0())
            .await
            .is_err()
    );
}

async fn purge_removes_only_expired(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let repo = s.oidc_grants();
    let grant = repo
        .create_grant(t.id, "shop", Some(u.id), t0())
        .await
        .unwrap();
    let (old, live) = (token_lookup_hash("c-old"), token_lookup_hash("c-live"));
    repo.insert_code(
        &old,
        grant.id,
        &json!({}),
        t0() + Duration::minutes(1),
        t0(),
    )
    .await
    .unwrap();
    repo.insert_code(
        &live,
        grant.id,
        &json!({}),
        t0() + Duration::minutes(10),
        t0(),
    )
    .await
    .unwrap();
    assert_eq!(
        repo.purge_expired(t0() + Duration::minutes(5))
            .await
            .unwrap(),
        1
    );
    assert!(
        repo.redeem_code(&live, t0() + Duration::minutes(5))
            .await
            .is_ok()
    );
    assert!(matches!(
        repo.redeem_code(&old, t0()).await,
        Err(CodeRedeemError::NotFound)
    ));
}
