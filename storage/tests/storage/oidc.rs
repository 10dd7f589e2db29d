//! The OpenID Connect provider's state: pending requests, codes used once (a second use
//! revokes the grant), refresh-token rotation with reuse detection, access tokens,
//! consents, initial access tokens and client settings.

use mamori_storage::OidcGrants;
use mamori_storage::model::{
    AccessTokenFormat, CodeRedeemError, CodeRedemption, NewAccessToken, NewOidcClient, NewPendingRequest, NewRefreshToken,
    PendingRequestKind, Redeemed, RefreshError, RefreshRotation, RefreshToken, Rotated,
};
use mamori_storage::{Storage, token_lookup_hash};
use serde_json::json;
use time::Duration;

use crate::harness::{t0, tenant, unique, user};

/// Presents refresh token `lookup` as client "shop", with `successor` to take its place.
async fn rotate(repo: &OidcGrants<'_>, lookup: &str, successor: &str, now: time::OffsetDateTime) -> Result<RefreshToken, RefreshError> {
    repo.rotate_refresh_token(rotation(lookup, successor, now, |_| true), now).await
}

fn rotation(
    lookup: &str,
    successor: &str,
    now: time::OffsetDateTime,
    accept: impl FnOnce(&RefreshToken) -> bool + Send + 'static,
) -> RefreshRotation {
    RefreshRotation {
        lookup_hash: lookup.to_owned(),
        client_id: "shop".to_owned(),
        successor_hash: successor.to_owned(),
        successor_expires_at: now + Duration::days(1),
        accept: Box::new(accept),
    }
}

on_both!(
    pending_requests,
    codes_are_single_use_and_reuse_revokes_the_grant,
    concurrent_code_redemption_succeeds_once,
    code_redemptions_in_one_batch,
    refresh_rotation_and_reuse_detection,
    concurrent_refresh_rotation_succeeds_once,
    refresh_rotations_in_one_batch,
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
    let found = repo.find_pending(&hash, PendingRequestKind::Authorization, t0()).await.unwrap().unwrap();
    assert_eq!(found.params["state"], "x");
    // The wrong kind, or after expiry: nothing.
    assert!(repo.find_pending(&hash, PendingRequestKind::Pushed, t0()).await.unwrap().is_none());
    assert!(repo.find_pending(&hash, PendingRequestKind::Authorization, t0() + Duration::minutes(11)).await.unwrap().is_none());
    // Readable again until consumed; consumed once.
    assert!(repo.find_pending(&hash, PendingRequestKind::Authorization, t0()).await.unwrap().is_some());
    assert!(repo.consume_pending(&hash, PendingRequestKind::Authorization, t0()).await.unwrap().is_some());
    assert!(repo.consume_pending(&hash, PendingRequestKind::Authorization, t0()).await.unwrap().is_none());
    assert!(repo.find_pending(&hash, PendingRequestKind::Authorization, t0()).await.unwrap().is_none());
}

async fn codes_are_single_use_and_reuse_revokes_the_grant(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let repo = s.oidc_grants();
    let grant = repo.create_grant(t.id, "shop", Some(u.id), t0()).await.unwrap();
    let code = token_lookup_hash("code-1");
    repo.insert_code(&code, grant.id, &json!({"nonce": "n"}), t0() + Duration::minutes(1), t0()).await.unwrap();

    // A refresh token issued by the first redemption...
    let redeemed = repo.redeem_code(&code, t0()).await.unwrap();
    assert_eq!(redeemed.data["nonce"], "n");
    assert_eq!(redeemed.grant_id, grant.id);
    let rt = token_lookup_hash("rt-1");
    repo.insert_refresh_token(&rt, grant.id, &json!({}), t0() + Duration::days(1), t0()).await.unwrap();

    // ...dies with the second redemption.
    let again = repo.redeem_code(&code, t0()).await.unwrap_err();
    assert!(matches!(again, CodeRedeemError::AlreadyUsed { grant_id } if grant_id == grant.id));
    assert!(repo.get_grant(grant.id).await.unwrap().is_revoked());
    assert!(matches!(rotate(&repo, &rt, &token_lookup_hash("rt-2"), t0()).await, Err(RefreshError::Revoked)));

    // Unknown and expired codes.
    assert!(matches!(repo.redeem_code(&token_lookup_hash("nope"), t0()).await, Err(CodeRedeemError::NotFound)));
    let g2 = repo.create_grant(t.id, "shop", Some(u.id), t0()).await.unwrap();
    let old = token_lookup_hash("code-2");
    repo.insert_code(&old, g2.id, &json!({}), t0() + Duration::minutes(1), t0()).await.unwrap();
    assert!(matches!(repo.redeem_code(&old, t0() + Duration::minutes(2)).await, Err(CodeRedeemError::Expired)));
    assert!(!repo.get_grant(g2.id).await.unwrap().is_revoked());

    // A live code of a grant revoked since (the user logged out, consent withdrawn) is
    // not redeemed, and the grant of another live code is untouched by that.
    let g3 = repo.create_grant(t.id, "shop", Some(u.id), t0()).await.unwrap();
    let g4 = repo.create_grant(t.id, "shop", Some(u.id), t0()).await.unwrap();
    let (dead, live) = (token_lookup_hash("code-3"), token_lookup_hash("code-4"));
    repo.insert_code(&dead, g3.id, &json!({}), t0() + Duration::minutes(1), t0()).await.unwrap();
    repo.insert_code(&live, g4.id, &json!({}), t0() + Duration::minutes(1), t0()).await.unwrap();
    assert!(repo.revoke_grant(g3.id, t0()).await.unwrap());
    assert!(matches!(repo.redeem_code(&dead, t0()).await, Err(CodeRedeemError::AlreadyUsed { grant_id }) if grant_id == g3.id));
    assert_eq!(repo.redeem_code(&live, t0()).await.unwrap().grant_id, g4.id);
}

async fn concurrent_code_redemption_succeeds_once(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let grant = s.oidc_grants().create_grant(t.id, "shop", Some(u.id), t0()).await.unwrap();
    let code = token_lookup_hash(&unique("code"));
    s.oidc_grants().insert_code(&code, grant.id, &json!({}), t0() + Duration::minutes(1), t0()).await.unwrap();
    let tries = (0..8).map(|_| {
        let (s, code) = (s.clone(), code.clone());
        tokio::spawn(async move { s.oidc_grants().redeem_code(&code, t0()).await })
    });
    let results: Vec<_> = futures::future::join_all(tries).await.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(results.iter().filter_map(|r| r.as_ref().err()).all(|e| matches!(e, CodeRedeemError::AlreadyUsed { .. })));
}

async fn refresh_rotation_and_reuse_detection(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let repo = s.oidc_grants();
    let grant = repo.create_grant(t.id, "shop", Some(u.id), t0()).await.unwrap();
    let first = token_lookup_hash("rt-a");
    repo.insert_refresh_token(&first, grant.id, &json!({"scope": "openid"}), t0() + Duration::days(1), t0()).await.unwrap();
    let second = token_lookup_hash("rt-b");
    let spent = rotate(&repo, &first, &second, t0()).await.unwrap();
    assert_eq!(spent.data["scope"], "openid");
    // The successor was stored with the spending: same grant, same data, live.
    let successor = repo.find_refresh_token(&second).await.unwrap().unwrap();
    assert_eq!((successor.grant_id, &successor.data), (grant.id, &spent.data));
    assert!(successor.rotated_at.is_none());
    assert_eq!(repo.find_refresh_token(&first).await.unwrap().unwrap().rotated_at, Some(t0()));

    // The old one again: reuse, the family dies, the successor with it.
    let reuse = rotate(&repo, &first, &token_lookup_hash("rt-b2"), t0() + Duration::minutes(1)).await.unwrap_err();
    assert!(matches!(reuse, RefreshError::Reused { grant_id } if grant_id == grant.id));
    assert!(matches!(rotate(&repo, &second, &token_lookup_hash("rt-b3"), t0()).await, Err(RefreshError::Revoked)));
    assert!(repo.find_refresh_token(&token_lookup_hash("rt-b2")).await.unwrap().is_none());

    // Expired and unknown tokens.
    let g2 = repo.create_grant(t.id, "shop", Some(u.id), t0()).await.unwrap();
    let short = token_lookup_hash("rt-c");
    repo.insert_refresh_token(&short, g2.id, &json!({}), t0() + Duration::hours(1), t0()).await.unwrap();
    assert!(matches!(rotate(&repo, &short, &token_lookup_hash("rt-c2"), t0() + Duration::hours(2)).await, Err(RefreshError::Expired)));
    assert!(matches!(rotate(&repo, &token_lookup_hash("x"), &token_lookup_hash("x2"), t0()).await, Err(RefreshError::NotFound)));

    // Another client's token: refused as unknown, left unspent, its grant alive.
    let g3 = repo.create_grant(t.id, "other-shop", Some(u.id), t0()).await.unwrap();
    let theirs = token_lookup_hash("rt-d");
    repo.insert_refresh_token(&theirs, g3.id, &json!({}), t0() + Duration::days(1), t0()).await.unwrap();
    assert!(matches!(rotate(&repo, &theirs, &token_lookup_hash("rt-d2"), t0()).await, Err(RefreshError::NotFound)));
    let untouched = repo.find_refresh_token(&theirs).await.unwrap().unwrap();
    assert!(untouched.rotated_at.is_none());
    assert!(!repo.get_grant(g3.id).await.unwrap().is_revoked());

    // Refused by the caller after seeing it: nothing spent, no successor.
    let g4 = repo.create_grant(t.id, "shop", Some(u.id), t0()).await.unwrap();
    let mine = token_lookup_hash("rt-e");
    repo.insert_refresh_token(&mine, g4.id, &json!({"scope": ["openid"]}), t0() + Duration::days(1), t0()).await.unwrap();
    let refused = repo
        .rotate_refresh_token(rotation(&mine, &token_lookup_hash("rt-e2"), t0(), |found| found.data["scope"][0] == "admin"), t0())
        .await;
    assert!(matches!(refused, Err(RefreshError::Refused)));
    assert!(repo.find_refresh_token(&mine).await.unwrap().unwrap().rotated_at.is_none());
    assert!(repo.find_refresh_token(&token_lookup_hash("rt-e2")).await.unwrap().is_none());
    // Its successor hash taken already: the spending rolls back with the failed insert.
    assert!(matches!(repo.rotate_refresh_token(rotation(&mine, &theirs, t0(), |_| true), t0()).await, Err(RefreshError::Storage(_))));
    assert!(repo.find_refresh_token(&mine).await.unwrap().unwrap().rotated_at.is_none());
    assert!(rotate(&repo, &mine, &token_lookup_hash("rt-e3"), t0()).await.is_ok());
}

/// Codes redeemed in one transaction with their refresh tokens: each answer is the one
/// it would get alone, a code is spent even when its check refuses the refresh token
/// (wrong client, wrong verifier), and a replay in the same batch revokes the grant.
async fn code_redemptions_in_one_batch(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let repo = s.oidc_grants();
    let h = |n: &str| token_lookup_hash(&format!("{n}-{}", t.id));
    let (live, refused, replayed, expired, revoked) = (
        repo.create_grant(t.id, "shop", Some(u.id), t0()).await.unwrap(),
        repo.create_grant(t.id, "shop", Some(u.id), t0()).await.unwrap(),
        repo.create_grant(t.id, "shop", Some(u.id), t0()).await.unwrap(),
        repo.create_grant(t.id, "shop", Some(u.id), t0()).await.unwrap(),
        repo.create_grant(t.id, "shop", Some(u.id), t0()).await.unwrap(),
    );
    for (name, grant, ttl) in [("a", &live, 1), ("b", &refused, 1), ("c", &replayed, 1), ("d", &expired, -1), ("e", &revoked, 1)] {
        repo.insert_code(&h(name), grant.id, &json!({"n": name}), t0() + Duration::minutes(ttl), t0() - Duration::minutes(2))
            .await
            .unwrap();
    }
    assert!(repo.revoke_grant(revoked.id, t0()).await.unwrap());
    let redemption = |code: &str, refresh: Option<&str>| {
        let refresh =
            refresh.map(|r| NewRefreshToken { lookup_hash: h(r), data: json!({"from": code}), expires_at: t0() + Duration::days(1) });
        let owner = u.id;
        CodeRedemption {
            lookup_hash: h(code),
            refresh: Box::new(move |_, user| refresh.filter(|_| user.is_some_and(|user| user.id == owner))),
        }
    };
    let batch = vec![
        redemption("a", Some("rt-a")),
        redemption("b", None),
        redemption("c", Some("rt-c")),
        redemption("c", Some("rt-c2")),
        redemption("d", Some("rt-d")),
        redemption("e", Some("rt-e")),
        redemption("unknown", Some("rt-u")),
    ];
    let answers = repo.redeem_codes(batch, t0()).await.unwrap();
    assert!(
        matches!(&answers[0], Redeemed::Spent { code, user: Some(owner), refresh_stored: true } if code.data["n"] == "a" && code.grant_id == live.id && owner.id == u.id),
        "{answers:?}"
    );
    assert!(matches!(&answers[1], Redeemed::Spent { refresh_stored: false, .. }), "{answers:?}");
    assert!(matches!(&answers[2], Redeemed::Spent { refresh_stored: true, .. }), "{answers:?}");
    for (i, answer) in answers.iter().enumerate().skip(3) {
        assert!(matches!(answer, Redeemed::NotSpent), "{i}: {answers:?}");
    }
    let stored = |n: &'static str| {
        let repo = s.oidc_grants();
        let hash = h(n);
        async move { repo.find_refresh_token(&hash).await.unwrap() }
    };
    let a = stored("rt-a").await.expect("stored with its code");
    assert_eq!((a.grant_id, a.data["from"].as_str()), (live.id, Some("a")));
    for absent in ["rt-c2", "rt-d", "rt-e", "rt-u"] {
        assert!(stored(absent).await.is_none(), "{absent} was stored");
    }
    // The refused code is spent all the same: presented again, it revokes its grant.
    assert!(matches!(repo.why_not_redeemed(&h("b"), t0()).await, CodeRedeemError::AlreadyUsed { grant_id } if grant_id == refused.id));
    // The second "c" was a replay: asking why revokes the grant, and with it the refresh
    // token the first obtained.
    assert!(matches!(repo.why_not_redeemed(&h("c"), t0()).await, CodeRedeemError::AlreadyUsed { grant_id } if grant_id == replayed.id));
    assert!(matches!(rotate(&repo, &h("rt-c"), &h("rt-c3"), t0()).await, Err(RefreshError::Revoked)));
    assert!(matches!(repo.why_not_redeemed(&h("d"), t0()).await, CodeRedeemError::Expired));
    assert!(matches!(repo.why_not_redeemed(&h("e"), t0()).await, CodeRedeemError::AlreadyUsed { grant_id } if grant_id == revoked.id));
    assert!(matches!(repo.why_not_redeemed(&h("unknown"), t0()).await, CodeRedeemError::NotFound));
    assert!(!repo.get_grant(live.id).await.unwrap().is_revoked());
    // A batch that spends nothing writes nothing and still answers.
    assert!(matches!(repo.redeem_codes(vec![redemption("a", Some("rt-a2"))], t0()).await.unwrap()[..], [Redeemed::NotSpent]));
    assert!(stored("rt-a2").await.is_none());
}

/// One transaction for many presentations: each gets the answer it would get alone, and
/// only spent tokens get a successor.
async fn refresh_rotations_in_one_batch(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let repo = s.oidc_grants();
    let mine = repo.create_grant(t.id, "shop", Some(u.id), t0()).await.unwrap();
    let theirs = repo.create_grant(t.id, "other-shop", Some(u.id), t0()).await.unwrap();
    let h = |n: &str| token_lookup_hash(&format!("{n}-{}", t.id));
    for (name, grant) in [("a", mine.id), ("b", mine.id), ("c", theirs.id)] {
        repo.insert_refresh_token(&h(name), grant, &json!({"n": name}), t0() + Duration::days(1), t0()).await.unwrap();
    }
    let batch = vec![
        rotation(&h("a"), &h("a2"), t0(), |_| true),
        rotation(&h("a"), &h("a3"), t0(), |_| true),
        rotation(&h("b"), &h("b2"), t0(), |_| false),
        rotation(&h("c"), &h("c2"), t0(), |_| true),
        rotation(&h("unknown"), &h("u2"), t0(), |_| true),
    ];
    let answers = repo.rotate_refresh_tokens(batch, t0()).await.unwrap();
    assert!(
        matches!(&answers[0], Rotated::Spent { token, user: Some(owner) } if token.data["n"] == "a" && owner.id == u.id),
        "{answers:?}"
    );
    assert!(matches!(answers[1], Rotated::NotSpent), "{answers:?}");
    assert!(matches!(answers[2], Rotated::Refused), "{answers:?}");
    assert!(matches!(answers[3], Rotated::NotSpent), "{answers:?}");
    assert!(matches!(answers[4], Rotated::NotSpent), "{answers:?}");
    let stored = |n: &'static str| {
        let repo = s.oidc_grants();
        let hash = h(n);
        async move { repo.find_refresh_token(&hash).await.unwrap() }
    };
    assert_eq!(stored("a2").await.unwrap().data["n"], "a");
    for absent in ["a3", "b2", "c2", "u2"] {
        assert!(stored(absent).await.is_none(), "{absent} was stored");
    }
    assert!(stored("b").await.unwrap().rotated_at.is_none());
    assert!(stored("c").await.unwrap().rotated_at.is_none());
    // The second presentation of "a" was a reuse: asking why revokes the family.
    assert!(matches!(
        repo.why_not_rotated(&h("a"), "shop", t0()).await,
        RefreshError::Reused { grant_id } if grant_id == mine.id
    ));
    assert!(matches!(repo.why_not_rotated(&h("c"), "shop", t0()).await, RefreshError::NotFound));
    assert!(!repo.get_grant(theirs.id).await.unwrap().is_revoked());
}

async fn concurrent_refresh_rotation_succeeds_once(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let grant = s.oidc_grants().create_grant(t.id, "shop", Some(u.id), t0()).await.unwrap();
    let rt = token_lookup_hash(&unique("rt"));
    s.oidc_grants().insert_refresh_token(&rt, grant.id, &json!({}), t0() + Duration::days(1), t0()).await.unwrap();
    let tries = (0..8).map(|_| {
        let (s, rt) = (s.clone(), rt.clone());
        tokio::spawn(async move {
            let successor = token_lookup_hash(&unique("rt-next"));
            rotate(&s.oidc_grants(), &rt, &successor, t0()).await
        })
    });
    let results: Vec<_> = futures::future::join_all(tries).await.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
}

async fn access_tokens_follow_their_grant(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let repo = s.oidc_grants();
    let grant = repo.create_grant(t.id, "shop", Some(u.id), t0()).await.unwrap();
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
    let found = repo.find_active_access_token(&at, t0()).await.unwrap().unwrap();
    assert_eq!(found.data["scope"], "openid profile");
    assert!(repo.find_active_access_token(&at, t0() + Duration::minutes(11)).await.unwrap().is_none());
    repo.revoke_grant(grant.id, t0()).await.unwrap();
    assert!(repo.find_active_access_token(&at, t0()).await.unwrap().is_none());

    // Client-credentials tokens have no grant; they are revoked one by one.
    let cc = token_lookup_hash("at-2");
    repo.insert_access_token(&NewAccessToken { lookup_hash: cc.clone(), grant_id: None, ..new.clone() }, t0()).await.unwrap();
    assert!(repo.find_active_access_token(&cc, t0()).await.unwrap().is_some());
    assert!(repo.revoke_access_token(&cc, t0()).await.unwrap());
    assert!(!repo.revoke_access_token(&cc, t0()).await.unwrap());
    assert!(repo.find_active_access_token(&cc, t0()).await.unwrap().is_none());
}

async fn consents_are_remembered_and_replaced(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let repo = s.oidc_grants();
    assert!(repo.find_consent("shop", u.id).await.unwrap().is_none());
    repo.save_consent(t.id, "shop", u.id, &["openid".into()], t0()).await.unwrap();
    repo.save_consent(t.id, "shop", u.id, &["openid".into(), "email".into()], t0() + Duration::minutes(1)).await.unwrap();
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
    repo.save_consent(t.id, "shop", u.id, &["openid".into()], t0()).await.unwrap();
    repo.save_consent(t.id, "news", u.id, &["openid".into(), "email".into()], t0() + Duration::minutes(5)).await.unwrap();
    repo.save_consent(t.id, "shop", other.id, &["openid".into()], t0()).await.unwrap();
    let listed = repo.list_consents(u.id).await.unwrap();
    let clients: Vec<_> = listed.iter().map(|c| c.client_id.as_str()).collect();
    assert_eq!(clients, ["news", "shop"], "newest first, only this user's");
    assert_eq!(listed[0].scopes, ["openid", "email"]);
    assert_eq!(listed[0].granted_at, t0() + Duration::minutes(5));

    // Withdrawing: the consent goes and the user's grants with that client are revoked,
    // the other user's consent stays.
    let grant = repo.create_grant(t.id, "shop", Some(u.id), t0()).await.unwrap();
    let others = repo.create_grant(t.id, "shop", Some(other.id), t0()).await.unwrap();
    assert!(repo.delete_consent("shop", u.id).await.unwrap());
    assert_eq!(repo.revoke_grants_of("shop", u.id, t0()).await.unwrap(), 1);
    assert!(repo.get_grant(grant.id).await.unwrap().is_revoked());
    assert!(!repo.get_grant(others.id).await.unwrap().is_revoked());
    let clients: Vec<_> = repo.list_consents(u.id).await.unwrap().into_iter().map(|c| c.client_id).collect();
    assert_eq!(clients, ["news"]);
    assert_eq!(repo.list_consents(other.id).await.unwrap().len(), 1);
}

async fn initial_access_tokens_and_client_settings(s: Storage) {
    let t = tenant(&s).await;
    let repo = s.oidc_grants();
    let iat = token_lookup_hash("iat-1");
    repo.create_initial_access_token(&iat, t.id, 2, t0() + Duration::hours(1), t0()).await.unwrap();
    assert_eq!(repo.spend_initial_access_token(&iat, t0()).await.unwrap().unwrap().uses_left, 1);
    assert!(repo.spend_initial_access_token(&iat, t0() + Duration::hours(2)).await.unwrap().is_none());
    assert_eq!(repo.spend_initial_access_token(&iat, t0()).await.unwrap().unwrap().uses_left, 0);
    assert!(repo.spend_initial_access_token(&iat, t0()).await.unwrap().is_none());

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
    repo.set_client_settings(&client_id, &json!({"a": 1}), t0()).await.unwrap();
    repo.set_client_settings(&client_id, &json!({"a": 2}), t0()).await.unwrap();
    assert_eq!(repo.client_settings(&client_id).await.unwrap(), Some(json!({"a": 2})));
    s.oidc_clients().delete(&client_id, t0()).await.unwrap();
    assert!(repo.client_settings(&client_id).await.unwrap().is_none());
    // Not for a client that does not exist.
    assert!(repo.set_client_settings("ghost", &json!({}), t0()).await.is_err());
}

async fn purge_removes_only_expired(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let repo = s.oidc_grants();
    let grant = repo.create_grant(t.id, "shop", Some(u.id), t0()).await.unwrap();
    let (old, live) = (token_lookup_hash("c-old"), token_lookup_hash("c-live"));
    repo.insert_code(&old, grant.id, &json!({}), t0() + Duration::minutes(1), t0()).await.unwrap();
    repo.insert_code(&live, grant.id, &json!({}), t0() + Duration::minutes(10), t0()).await.unwrap();
    assert_eq!(repo.purge_expired(t0() + Duration::minutes(5)).await.unwrap(), 1);
    assert!(repo.redeem_code(&live, t0() + Duration::minutes(5)).await.is_ok());
    assert!(matches!(repo.redeem_code(&old, t0()).await, Err(CodeRedeemError::NotFound)));
}
