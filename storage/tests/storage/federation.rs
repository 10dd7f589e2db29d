//! OIDC clients, SAML service providers and signing keys.

use mamori_storage::model::{
    AccessTokenFormat, AssertionConsumerService, KeyPurpose, NewAccessToken, NewOidcClient, NewSamlServiceProvider, NewSigningKey,
    SigningAlgorithm, SingleLogoutService,
};
use mamori_storage::{Storage, StorageError, token_lookup_hash};
use serde_json::json;
use time::Duration;

use crate::harness::{t0, tenant, user};

on_both!(oidc_clients, saml_service_providers, signing_key_rotation, client_changes_bump_the_version_and_deletion_revokes);

async fn oidc_clients(s: Storage) {
    let t = tenant(&s).await;
    let new = NewOidcClient {
        tenant_id: t.id,
        client_id: "shop".into(),
        client_secret_hash: Some("$argon2id$secret".into()),
        name: "Shop".into(),
        redirect_uris: vec!["https://shop.example/cb".into()],
        post_logout_redirect_uris: vec!["https://shop.example/".into()],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        response_types: vec!["code".into()],
        token_endpoint_auth_method: "client_secret_basic".into(),
        jwks: None,
        jwks_uri: None,
        scopes: vec!["openid".into(), "profile".into()],
        claims: None,
        access_token_format: AccessTokenFormat::Jwt,
        first_party: false,
        require_pkce: true,
    };
    let client = s.oidc_clients().create(&new, t0()).await.unwrap();
    assert_eq!(client.redirect_uris, ["https://shop.example/cb"]);
    assert_eq!(s.oidc_clients().get_by_client_id("shop").await.unwrap(), Some(client.clone()));
    assert!(!format!("{client:?}").contains("argon2id"));
    let err = s.oidc_clients().create(&new, t0()).await.unwrap_err();
    assert!(matches!(err, StorageError::Conflict("client ID already exists")));
    assert_eq!(client.claims, None, "no list: every claim the scopes allow");
    assert_eq!(s.oidc_clients().list(t.id).await.unwrap(), vec![client.clone()]);

    // The claim release list survives a round trip: set, changed, cleared, and given at
    // creation; an empty list (release nothing but `sub`) is not the same as none.
    let mut changed = client.clone();
    changed.claims = Some(vec!["email".into(), "email_verified".into()]);
    s.oidc_clients().update(&changed).await.unwrap();
    let read = s.oidc_clients().get_by_client_id("shop").await.unwrap().unwrap();
    assert_eq!(read.claims.as_deref(), Some(&["email".to_owned(), "email_verified".to_owned()][..]));
    changed.claims = Some(vec![]);
    s.oidc_clients().update(&changed).await.unwrap();
    let read = s.oidc_clients().get_by_client_id("shop").await.unwrap().unwrap();
    assert_eq!(read.claims, Some(vec![]));
    changed.claims = None;
    s.oidc_clients().update(&changed).await.unwrap();
    assert_eq!(s.oidc_clients().get_by_client_id("shop").await.unwrap(), Some(client));
    let listed = NewOidcClient { client_id: "listed".into(), claims: Some(vec!["name".into()]), ..new.clone() };
    let created = s.oidc_clients().create(&listed, t0()).await.unwrap();
    assert_eq!(created.claims, Some(vec!["name".to_owned()]));
    assert_eq!(s.oidc_clients().get_by_client_id("listed").await.unwrap(), Some(created));
    s.oidc_clients().delete("listed", t0()).await.unwrap();
    s.oidc_clients().delete("shop", t0()).await.unwrap();
    assert_eq!(s.oidc_clients().get_by_client_id("shop").await.unwrap(), None);
    assert!(matches!(s.oidc_clients().delete("shop", t0()).await, Err(StorageError::NotFound)));
}

async fn saml_service_providers(s: Storage) {
    let (t1, t2) = (tenant(&s).await, tenant(&s).await);
    let new = NewSamlServiceProvider {
        tenant_id: t1.id,
        entity_id: "https://sp.example/metadata".into(),
        name: "SP".into(),
        metadata_xml: Some("<EntityDescriptor/>".into()),
        acs: vec![AssertionConsumerService {
            url: "https://sp.example/acs".into(),
            binding: "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST".into(),
            index: 0,
            is_default: true,
        }],
        slo: vec![SingleLogoutService {
            url: "https://sp.example/slo".into(),
            binding: "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect".into(),
            response_url: None,
        }],
        certificates: vec!["-----BEGIN CERTIFICATE-----".into()],
        want_authn_requests_signed: true,
        name_id_format: "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified".into(),
        attribute_release: json!({"mail": "email"}),
        sign_response: true,
        sign_assertion: true,
        encrypt_assertion: false,
        allow_unsolicited: false,
    };
    let sp = s.saml_service_providers().create(&new, t0()).await.unwrap();
    assert_eq!(sp.acs, new.acs);
    let found = s.saml_service_providers().get_by_entity_id(t1.id, &new.entity_id).await.unwrap();
    assert_eq!(found.as_ref(), Some(&sp));
    assert!(!sp.allow_unsolicited);
    // The operator's settings are written and read back, unsolicited responses included.
    let changed = mamori_storage::model::SamlServiceProvider { allow_unsolicited: true, encrypt_assertion: true, ..sp.clone() };
    s.saml_service_providers().update_settings(&changed).await.unwrap();
    let found = s.saml_service_providers().get_by_entity_id(t1.id, &new.entity_id).await.unwrap().unwrap();
    assert!(found.allow_unsolicited && found.encrypt_assertion);
    assert!(matches!(
        s.saml_service_providers().create(&new, t0()).await,
        Err(StorageError::Conflict("entity ID already exists in this tenant"))
    ));
    // The same SP may also serve another tenant.
    s.saml_service_providers().create(&NewSamlServiceProvider { tenant_id: t2.id, ..new.clone() }, t0()).await.unwrap();
    assert_eq!(s.saml_service_providers().list(t2.id).await.unwrap().len(), 1);
    s.saml_service_providers().delete(t1.id, &new.entity_id).await.unwrap();
    assert!(s.saml_service_providers().list(t1.id).await.unwrap().is_empty());
}

fn key(kid: &str, tenant_id: Option<uuid::Uuid>, activated_hours: i64) -> NewSigningKey {
    NewSigningKey {
        kid: kid.to_owned(),
        tenant_id,
        purpose: KeyPurpose::Oidc,
        algorithm: SigningAlgorithm::Es256,
        public_jwk: Some(format!(r#"{{"kid":"{kid}"}}"#)),
        certificate_pem: None,
        sealed_private_key: vec![1],
        activated_at: t0() + Duration::hours(activated_hours),
        retire_after: None,
        expires_at: None,
    }
}

async fn signing_key_rotation(s: Storage) {
    let t = tenant(&s).await;
    let keys = s.signing_keys();
    let mut old = key("k-old", None, 0);
    old.retire_after = Some(t0() + Duration::hours(24));
    old.expires_at = Some(t0() + Duration::hours(48));
    keys.insert(&old, t0()).await.unwrap();
    keys.insert(&key("k-new", None, 24), t0()).await.unwrap();
    assert!(matches!(keys.insert(&key("k-new", None, 0), t0()).await, Err(StorageError::Conflict(_))));

    let kids = |list: Vec<mamori_storage::model::SigningKey>| list.into_iter().map(|k| k.kid).collect::<Vec<_>>();
    let active = |hours: i64| keys.active(Some(t.id), KeyPurpose::Oidc, SigningAlgorithm::Es256, t0() + Duration::hours(hours));

    // Before the switch: sign with the old key, publish both.
    assert_eq!(active(1).await.unwrap().unwrap().kid, "k-old");
    assert_eq!(kids(keys.list_published(None, KeyPurpose::Oidc, t0()).await.unwrap()), ["k-new", "k-old"]);
    // After: sign with the new key, still publish the old one until it expires.
    assert_eq!(active(30).await.unwrap().unwrap().kid, "k-new");
    let at = |hours: i64| t0() + Duration::hours(hours);
    assert_eq!(kids(keys.list_published(Some(t.id), KeyPurpose::Oidc, at(30)).await.unwrap()), ["k-new", "k-old"]);
    assert_eq!(kids(keys.list_published(Some(t.id), KeyPurpose::Oidc, at(50)).await.unwrap()), ["k-new"]);
    assert!(keys.list_published(None, KeyPurpose::Saml, at(1)).await.unwrap().is_empty());

    // A tenant's own key wins over the global one.
    keys.insert(&key("k-tenant", Some(t.id), 0), t0()).await.unwrap();
    assert_eq!(active(30).await.unwrap().unwrap().kid, "k-tenant");
    let global = keys.active(None, KeyPurpose::Oidc, SigningAlgorithm::Es256, at(30)).await.unwrap();
    assert_eq!(global.unwrap().kid, "k-new");
    assert_eq!(keys.get("k-tenant").await.unwrap().tenant_id, Some(t.id));
    assert!(keys.active(None, KeyPurpose::Oidc, SigningAlgorithm::Rs256, at(30)).await.unwrap().is_none());
}

/// Every change to a tenant's clients bumps its relying-site version (nodes drop their
/// cached clients on it), and deleting a client revokes its grants and recorded tokens in
/// the same transaction.
async fn client_changes_bump_the_version_and_deletion_revokes(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let versions = s.relying_site_versions();
    assert_eq!(versions.get(t.id).await.unwrap(), 0);
    let new = NewOidcClient {
        tenant_id: t.id,
        client_id: "bumped".into(),
        client_secret_hash: Some("$argon2id$one".into()),
        name: "Bumped".into(),
        redirect_uris: vec!["https://rp.example/cb".into()],
        post_logout_redirect_uris: vec![],
        grant_types: vec!["authorization_code".into(), "client_credentials".into()],
        response_types: vec!["code".into()],
        token_endpoint_auth_method: "client_secret_basic".into(),
        jwks: None,
        jwks_uri: None,
        scopes: vec!["openid".into()],
        claims: None,
        access_token_format: AccessTokenFormat::Opaque,
        first_party: false,
        require_pkce: true,
    };
    let mut client = s.oidc_clients().create(&new, t0()).await.unwrap();
    assert_eq!(versions.get(t.id).await.unwrap(), 1);
    client.client_secret_hash = Some("$argon2id$two".into());
    s.oidc_clients().update(&client).await.unwrap();
    assert_eq!(versions.get(t.id).await.unwrap(), 2);
    s.oidc_grants().set_client_settings("bumped", &json!({}), t0()).await.unwrap();
    assert_eq!(versions.get(t.id).await.unwrap(), 3);
    // A failed change bumps nothing.
    assert!(s.oidc_clients().create(&new, t0()).await.is_err());
    assert_eq!(versions.get(t.id).await.unwrap(), 3);

    let grants = s.oidc_grants();
    let grant = grants.create_grant(t.id, "bumped", Some(u.id), t0()).await.unwrap();
    let token = |name: &str, grant_id| NewAccessToken {
        lookup_hash: token_lookup_hash(name),
        grant_id,
        tenant_id: t.id,
        client_id: "bumped".into(),
        data: json!({}),
        expires_at: t0() + Duration::minutes(10),
    };
    grants.insert_access_token(&token("user", Some(grant.id)), t0()).await.unwrap();
    grants.insert_access_token(&token("cc", None), t0()).await.unwrap();
    // Another client's token is not touched.
    let other = NewAccessToken { client_id: "other".into(), ..token("other", None) };
    grants.insert_access_token(&other, t0()).await.unwrap();
    s.oidc_clients().delete("bumped", t0()).await.unwrap();
    assert_eq!(versions.get(t.id).await.unwrap(), 4);
    assert!(grants.get_grant(grant.id).await.unwrap().is_revoked());
    for name in ["user", "cc"] {
        assert!(grants.find_active_access_token(&token_lookup_hash(name), t0()).await.unwrap().is_none(), "{name}");
    }
    assert!(grants.find_active_access_token(&token_lookup_hash("other"), t0()).await.unwrap().is_some());
    assert!(matches!(s.oidc_clients().delete("bumped", t0()).await, Err(StorageError::NotFound)));
    assert_eq!(versions.get(t.id).await.unwrap(), 4);
}
