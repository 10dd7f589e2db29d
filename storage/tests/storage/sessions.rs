//! Sessions: idle and absolute expiry, updates, logout.

use mamori_storage::model::{NewSession, Session};
use mamori_storage::{Storage, StorageError, token_lookup_hash};
use serde_json::json;
use time::Duration;

use crate::harness::{t0, tenant, unique, user};

on_both!(idle_and_absolute_expiry, state_updates_and_logout);

async fn login_session(s: &Storage, tenant_id: uuid::Uuid) -> Session {
    let new = NewSession {
        id: token_lookup_hash(&unique("cookie")),
        tenant_id,
        user_id: None,
        data: json!({"step": "certificate"}),
        idle_expires_at: t0() + Duration::minutes(30),
        absolute_expires_at: t0() + Duration::minutes(480),
    };
    s.sessions().create(&new, t0()).await.unwrap()
}

async fn idle_and_absolute_expiry(s: Storage) {
    let t = tenant(&s).await;
    let session = login_session(&s, t.id).await;
    let sessions = s.sessions();
    assert_eq!(sessions.get(&session.id, t0()).await.unwrap(), Some(session.clone()));

    // Idle limit: gone at 30 minutes without activity.
    assert!(sessions.get(&session.id, t0() + Duration::minutes(29)).await.unwrap().is_some());
    assert!(sessions.get(&session.id, t0() + Duration::minutes(30)).await.unwrap().is_none());

    // Activity keeps it alive past the first idle limit...
    let mut now = t0();
    while now + Duration::minutes(20) < t0() + Duration::minutes(480) {
        now += Duration::minutes(20);
        assert!(sessions.touch(&session.id, now, now + Duration::minutes(30)).await.unwrap());
    }
    let alive = sessions.get(&session.id, now).await.unwrap().unwrap();
    assert_eq!(alive.last_seen_at, now);
    // ...but never past the absolute limit.
    let end = t0() + Duration::minutes(480);
    assert!(sessions.get(&session.id, end).await.unwrap().is_none());
    assert!(!sessions.touch(&session.id, end, end + Duration::minutes(30)).await.unwrap());

    let other = login_session(&s, t.id).await;
    assert_eq!(sessions.purge_expired(end).await.unwrap(), 2);
    assert!(sessions.get(&other.id, t0()).await.unwrap().is_none());
}

async fn state_updates_and_logout(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let session = login_session(&s, t.id).await;
    let sessions = s.sessions();
    sessions.update_data(&session.id, &json!({"step": "password", "factors": ["hwk"]})).await.unwrap();
    sessions.set_user(&session.id, Some(u.id)).await.unwrap();
    let new_id = token_lookup_hash("rotated cookie");
    sessions.rotate(&session.id, &new_id).await.unwrap();
    assert!(sessions.get(&session.id, t0()).await.unwrap().is_none());
    let moved = sessions.get(&new_id, t0()).await.unwrap().unwrap();
    assert_eq!(moved.user_id, Some(u.id));
    assert_eq!(moved.data["factors"][0], "hwk");
    assert!(matches!(sessions.update_data("missing", &json!({})).await, Err(StorageError::NotFound)));

    // Logout on one session; then all of a user's sessions.
    let second = login_session(&s, t.id).await;
    sessions.set_user(&second.id, Some(u.id)).await.unwrap();
    let third = login_session(&s, t.id).await;
    sessions.set_user(&third.id, Some(u.id)).await.unwrap();
    // The operators' list: the user's live sessions only, oldest first.
    let listed: Vec<String> = sessions.list_for_user(u.id, t0()).await.unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(listed.len(), 3);
    assert!(listed.contains(&new_id) && listed.contains(&second.id) && listed.contains(&third.id));
    assert!(sessions.list_for_user(u.id, t0() + Duration::days(2)).await.unwrap().is_empty(), "expired ones are not listed");
    assert!(sessions.delete(&new_id).await.unwrap());
    assert!(!sessions.delete(&new_id).await.unwrap());
    assert_eq!(sessions.delete_for_user(u.id).await.unwrap(), 2);
    assert!(sessions.list_for_user(u.id, t0()).await.unwrap().is_empty());
    assert!(sessions.get(&third.id, t0()).await.unwrap().is_none());
}
