//! The SAML identity provider's state: the request-ID replay cache (atomic, expiring),
//! pending requests and logouts, persistent pairwise NameIDs, and session participants
//! for single logout.

use mamori_storage::model::{NewSamlParticipant, NewSamlPending, SamlPendingKind};
use mamori_storage::{SamlRecords, Storage, StorageError};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::harness::{t0, tenant, user};

on_both!(
    request_ids_are_accepted_once_until_they_expire,
    concurrent_request_ids_are_accepted_once,
    pending_requests_are_consumed_once,
    a_request_is_kept_once_with_its_id,
    an_authn_request_is_answered_once_with_its_participant,
    persistent_name_ids_are_pairwise_and_stable,
    participants_are_ended_once_per_session,
    purge_removes_only_expired_saml_state
);

async fn request_ids_are_accepted_once_until_they_expire(s: Storage) {
    let t = tenant(&s).await;
    let repo = s.saml_records();
    let until = t0() + Duration::minutes(10);
    assert!(repo.remember_request_id(t.id, "https://sp.example", "_r1", until, t0()).await.unwrap());
    assert!(!repo.remember_request_id(t.id, "https://sp.example", "_r1", until, t0()).await.unwrap(), "replay");
    // Another SP, or another tenant, may use the same ID.
    assert!(repo.remember_request_id(t.id, "https://other.example", "_r1", until, t0()).await.unwrap());
    let t2 = tenant(&s).await;
    assert!(repo.remember_request_id(t2.id, "https://sp.example", "_r1", until, t0()).await.unwrap());
    // Issuer and ID are kept apart: "a" + "b_c" is not "a_b" + "c".
    assert!(repo.remember_request_id(t.id, "a", "b_c", until, t0()).await.unwrap());
    assert!(repo.remember_request_id(t.id, "a_b", "c", until, t0()).await.unwrap());
    // Still refused just before expiry; accepted again once expired.
    let late = until - Duration::seconds(1);
    assert!(!repo.remember_request_id(t.id, "https://sp.example", "_r1", late + Duration::minutes(10), late).await.unwrap());
    assert!(repo.remember_request_id(t.id, "https://sp.example", "_r1", until + Duration::minutes(10), until).await.unwrap());
}

async fn concurrent_request_ids_are_accepted_once(s: Storage) {
    let t = tenant(&s).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        let tenant_id = t.id;
        tasks.push(tokio::spawn(async move {
            s.saml_records().remember_request_id(tenant_id, "https://sp.example", "_race", t0() + Duration::minutes(5), t0()).await.unwrap()
        }));
    }
    let mut accepted = 0;
    for task in tasks {
        if task.await.unwrap() {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 1);
}

async fn pending_requests_are_consumed_once(s: Storage) {
    let t = tenant(&s).await;
    let repo = s.saml_records();
    let new = NewSamlPending {
        lookup_hash: "h1".into(),
        kind: SamlPendingKind::Authn,
        tenant_id: t.id,
        sp_entity_id: "https://sp.example".into(),
        data: json!({"acs": "https://sp.example/acs"}),
        expires_at: t0() + Duration::minutes(30),
    };
    repo.create_pending(&new, t0()).await.unwrap();
    let found = repo.find_pending("h1", SamlPendingKind::Authn, t0()).await.unwrap().unwrap();
    assert_eq!(found.data["acs"], "https://sp.example/acs");
    assert!(repo.find_pending("h1", SamlPendingKind::Logout, t0()).await.unwrap().is_none());
    assert!(repo.find_pending("h1", SamlPendingKind::Authn, t0() + Duration::minutes(31)).await.unwrap().is_none());
    // Compare-and-set of the data: only from the value it holds.
    assert!(!repo.update_pending_data("h1", SamlPendingKind::Authn, &json!({"acs": "x"}), &json!({"n": 2}), t0()).await.unwrap());
    assert!(repo.update_pending_data("h1", SamlPendingKind::Authn, &found.data, &json!({"n": 2}), t0()).await.unwrap());
    assert_eq!(repo.find_pending("h1", SamlPendingKind::Authn, t0()).await.unwrap().unwrap().data["n"], 2);
    assert!(repo.consume_pending("h1", SamlPendingKind::Authn, t0()).await.unwrap().is_some());
    assert!(repo.consume_pending("h1", SamlPendingKind::Authn, t0()).await.unwrap().is_none());
    assert!(repo.find_pending("h1", SamlPendingKind::Authn, t0()).await.unwrap().is_none());
}

fn pending(t: uuid::Uuid, lookup: &str) -> NewSamlPending {
    NewSamlPending {
        lookup_hash: lookup.into(),
        kind: SamlPendingKind::Authn,
        tenant_id: t,
        sp_entity_id: "https://sp.example".into(),
        data: json!({"acs": "https://sp.example/acs"}),
        expires_at: t0() + Duration::minutes(30),
    }
}

/// Records `participant` the way the server does: as the answer to an AuthnRequest that
/// was waiting for it, moving the participants of the session it `replaced`.
async fn answered(
    repo: &SamlRecords<'_>,
    participant: &NewSamlParticipant,
    replaced: Option<&str>,
    now: OffsetDateTime,
) -> Result<(), StorageError> {
    let lookup = uuid::Uuid::new_v4().to_string();
    repo.create_pending(&pending(participant.tenant_id, &lookup), now).await?;
    let taken = repo.answer_pending(&lookup, participant, replaced, now).await?;
    assert!(taken.is_some(), "the request was waiting");
    Ok(())
}

async fn a_request_is_kept_once_with_its_id(s: Storage) {
    let t = tenant(&s).await;
    let repo = s.saml_records();
    let until = t0() + Duration::minutes(10);
    assert!(repo.hold_new_request("_r1", &pending(t.id, "first"), until, t0()).await.unwrap());
    assert!(repo.find_pending("first", SamlPendingKind::Authn, t0()).await.unwrap().is_some());
    // A replay keeps nothing, and the ID is the one the replay cache knows.
    assert!(!repo.hold_new_request("_r1", &pending(t.id, "replay"), until, t0()).await.unwrap());
    assert!(repo.find_pending("replay", SamlPendingKind::Authn, t0()).await.unwrap().is_none());
    assert!(!repo.remember_request_id(t.id, "https://sp.example", "_r1", until, t0()).await.unwrap());
    assert!(repo.remember_request_id(t.id, "https://sp.example", "_r2", until, t0()).await.unwrap());
    assert!(!repo.hold_new_request("_r2", &pending(t.id, "after-remember"), until, t0()).await.unwrap());
    // Once its entry has expired, the ID is taken again.
    assert!(repo.hold_new_request("_r1", &pending(t.id, "later"), until + Duration::minutes(10), until).await.unwrap());

    // Eight at once with one ID: one is kept.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (s, new) = (s.clone(), pending(t.id, &format!("race-{i}")));
        tasks.push(tokio::spawn(async move { s.saml_records().hold_new_request("_race", &new, until, t0()).await.unwrap() }));
    }
    let mut kept = 0;
    for task in tasks {
        kept += usize::from(task.await.unwrap());
    }
    assert_eq!(kept, 1);
    let mut found = 0;
    for i in 0..8 {
        found += usize::from(repo.find_pending(&format!("race-{i}"), SamlPendingKind::Authn, t0()).await.unwrap().is_some());
    }
    assert_eq!(found, 1, "only the winner's request is kept");
}

async fn an_authn_request_is_answered_once_with_its_participant(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let repo = s.saml_records();
    let participant = |index: &str, session: &str| NewSamlParticipant {
        tenant_id: t.id,
        user_id: u.id,
        web_session_id: session.into(),
        sp_entity_id: "https://sp.example".into(),
        session_index: index.into(),
        name_id: "name".into(),
        name_id_format: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent".into(),
        expires_at: t0() + Duration::hours(8),
    };
    repo.create_pending(&pending(t.id, "p"), t0()).await.unwrap();
    answered(&repo, &participant("idx-old", "web-old"), None, t0()).await.unwrap();

    // A participant that cannot be recorded (its index is taken) leaves the request
    // waiting: nothing of the answer happened.
    assert!(repo.answer_pending("p", &participant("idx-old", "web-new"), Some("web-old"), t0()).await.is_err());
    assert!(repo.find_pending("p", SamlPendingKind::Authn, t0()).await.unwrap().is_some());
    assert_eq!(repo.live_participants("web-old", t0()).await.unwrap().len(), 1, "not moved");

    let taken = repo.answer_pending("p", &participant("idx-new", "web-new"), Some("web-old"), t0()).await.unwrap();
    assert_eq!(taken.unwrap().data["acs"], "https://sp.example/acs");
    let live = repo.live_participants("web-new", t0()).await.unwrap();
    assert_eq!(live.iter().map(|p| p.session_index.as_str()).collect::<Vec<_>>(), ["idx-old", "idx-new"]);
    assert!(repo.live_participants("web-old", t0()).await.unwrap().is_empty());

    // Answered once: a second answer records nothing.
    assert!(repo.answer_pending("p", &participant("idx-again", "web-new"), None, t0()).await.unwrap().is_none());
    assert!(repo.participant_by_session_index(t.id, "https://sp.example", "idx-again", t0()).await.unwrap().is_none());
    // Nor is an expired request answered.
    repo.create_pending(&pending(t.id, "old"), t0()).await.unwrap();
    assert!(repo.answer_pending("old", &participant("idx-late", "web-new"), None, t0() + Duration::minutes(31)).await.unwrap().is_none());
}

async fn persistent_name_ids_are_pairwise_and_stable(s: Storage) {
    let t = tenant(&s).await;
    let (alice, bob) = (user(&s, &t).await, user(&s, &t).await);
    let repo = s.saml_records();
    assert!(repo.find_persistent_name_id(t.id, alice.id, "sp-a").await.unwrap().is_none());
    let a1 = repo.persistent_name_id(t.id, alice.id, "sp-a", "alice-at-a", t0()).await.unwrap();
    assert_eq!(a1, "alice-at-a");
    // A later candidate does not replace it.
    assert_eq!(repo.persistent_name_id(t.id, alice.id, "sp-a", "other", t0()).await.unwrap(), "alice-at-a");
    assert_eq!(repo.persistent_name_id(t.id, alice.id, "sp-b", "alice-at-b", t0()).await.unwrap(), "alice-at-b");
    assert_eq!(repo.persistent_name_id(t.id, bob.id, "sp-a", "bob-at-a", t0()).await.unwrap(), "bob-at-a");
    assert_eq!(repo.user_of_persistent_name_id(t.id, "sp-a", "alice-at-a").await.unwrap(), Some(alice.id));
    assert_eq!(repo.user_of_persistent_name_id(t.id, "sp-b", "alice-at-a").await.unwrap(), None);
    // Two users cannot share a value at one SP.
    assert!(repo.persistent_name_id(t.id, bob.id, "sp-b", "alice-at-b", t0()).await.is_err());
}

async fn participants_are_ended_once_per_session(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let repo = s.saml_records();
    let new = |sp: &str, index: &str, session: &str| NewSamlParticipant {
        tenant_id: t.id,
        user_id: u.id,
        web_session_id: session.into(),
        sp_entity_id: sp.into(),
        session_index: index.into(),
        name_id: format!("name-at-{sp}"),
        name_id_format: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent".into(),
        expires_at: t0() + Duration::hours(8),
    };
    answered(&repo, &new("sp-a", "idx-a", "web-1"), None, t0()).await.unwrap();
    answered(&repo, &new("sp-b", "idx-b", "web-1"), None, t0() + Duration::seconds(1)).await.unwrap();
    answered(&repo, &new("sp-c", "idx-c", "web-2"), None, t0()).await.unwrap();
    assert!(answered(&repo, &new("sp-a", "idx-a", "web-1"), None, t0()).await.is_err(), "session indexes are unique");

    let found = repo.participant_by_session_index(t.id, "sp-a", "idx-a", t0()).await.unwrap().unwrap();
    assert_eq!(found.web_session_id, "web-1");
    assert!(repo.participant_by_session_index(t.id, "sp-b", "idx-a", t0()).await.unwrap().is_none(), "another SP's index");
    assert_eq!(repo.participants_by_name_id(t.id, "sp-b", "name-at-sp-b", t0()).await.unwrap().len(), 1);

    // A new login (web-1) replaced web-2: its participants follow.
    answered(&repo, &new("sp-d", "idx-d", "web-1"), Some("web-2"), t0() + Duration::seconds(2)).await.unwrap();
    assert!(repo.live_participants("web-2", t0()).await.unwrap().is_empty());
    let live = repo.live_participants("web-1", t0()).await.unwrap();
    assert_eq!(live.iter().map(|p| p.sp_entity_id.as_str()).collect::<Vec<_>>(), ["sp-a", "sp-c", "sp-b", "sp-d"]);

    // Two logouts of the same session at once: every participant goes to one of them.
    let (a, b) = tokio::join!(repo.end_session_participants("web-1", t0()), repo.end_session_participants("web-1", t0()));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.len() + b.len(), 4);
    assert!(repo.live_participants("web-1", t0()).await.unwrap().is_empty());
    assert!(repo.participant_by_session_index(t.id, "sp-a", "idx-a", t0()).await.unwrap().is_none());
}

async fn purge_removes_only_expired_saml_state(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let repo = s.saml_records();
    repo.remember_request_id(t.id, "sp", "old", t0() + Duration::minutes(1), t0()).await.unwrap();
    repo.remember_request_id(t.id, "sp", "new", t0() + Duration::hours(1), t0()).await.unwrap();
    let pending = |hash: &str, minutes| NewSamlPending {
        lookup_hash: hash.into(),
        kind: SamlPendingKind::Logout,
        tenant_id: t.id,
        sp_entity_id: "sp".into(),
        data: json!({}),
        expires_at: t0() + Duration::minutes(minutes),
    };
    repo.create_pending(&pending("p-old", 1), t0()).await.unwrap();
    repo.create_pending(&pending("p-new", 60), t0()).await.unwrap();
    let participant = NewSamlParticipant {
        tenant_id: t.id,
        user_id: u.id,
        web_session_id: "web".into(),
        sp_entity_id: "sp".into(),
        session_index: "i-old".into(),
        name_id: "n".into(),
        name_id_format: "f".into(),
        expires_at: t0() + Duration::minutes(1),
    };
    answered(&repo, &participant, None, t0()).await.unwrap();
    let purged = repo.purge_expired(t0() + Duration::minutes(2)).await.unwrap();
    assert_eq!(purged, 3);
    let later = t0() + Duration::minutes(2);
    assert!(!repo.remember_request_id(t.id, "sp", "new", t0() + Duration::hours(2), later).await.unwrap());
    assert!(repo.find_pending("p-new", SamlPendingKind::Logout, later).await.unwrap().is_some());
}
