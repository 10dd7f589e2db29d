//! Passkeys (migration 0023): a credential ID registered once across tenants, a per-user
//! limit and "keep one" counted under the user's row lock, the counter's compare-and-swap,
//! and another user's passkey out of reach.

use mamori_storage::model::{Passkey, PasskeyUse};
use mamori_storage::{LAST_PASSKEY, PASSKEY_ALREADY_REGISTERED, PASSKEY_LIMIT_REACHED, Storage, StorageError};
use uuid::Uuid;

use crate::harness::{t0, tenant, user};

on_both!(passkeys_are_registered_once_and_removed_keeping_what_the_method_needs);
on_both!(a_use_is_recorded_only_from_the_counter_it_was_checked_against);

fn passkey(tenant_id: Uuid, user_id: Uuid, credential_id: &str) -> Passkey {
    Passkey {
        id: Uuid::new_v4(),
        tenant_id,
        user_id,
        credential_id: credential_id.to_owned(),
        credential: format!("{{\"cred\":\"{credential_id}\"}}"),
        name: format!("key {credential_id}"),
        sign_count: 3,
        backup_eligible: true,
        backed_up: false,
        created_at: t0(),
        last_used_at: None,
    }
}

async fn passkeys_are_registered_once_and_removed_keeping_what_the_method_needs(s: Storage) {
    let (home, away) = (tenant(&s).await, tenant(&s).await);
    let (alice, bob, carol) = (user(&s, &home).await, user(&s, &home).await, user(&s, &away).await);
    let first = passkey(home.id, alice.id, "cred-1");
    s.passkeys().add(&first, 2).await.unwrap();
    assert_eq!(s.passkeys().list_for_user(alice.id).await.unwrap(), vec![first.clone()]);

    // The same credential ID again: for the same user, another user, another tenant.
    for (t, u) in [(home.id, alice.id), (home.id, bob.id), (away.id, carol.id)] {
        let again = s.passkeys().add(&passkey(t, u, "cred-1"), 5).await;
        assert!(matches!(again, Err(StorageError::Conflict(PASSKEY_ALREADY_REGISTERED))), "{again:?}");
    }
    // The limit.
    s.passkeys().add(&passkey(home.id, alice.id, "cred-2"), 2).await.unwrap();
    let over = s.passkeys().add(&passkey(home.id, alice.id, "cred-3"), 2).await;
    assert!(matches!(over, Err(StorageError::Conflict(PASSKEY_LIMIT_REACHED))), "{over:?}");

    // Looked up within its tenant only.
    assert_eq!(s.passkeys().find_by_credential(home.id, "cred-1").await.unwrap().map(|p| p.id), Some(first.id));
    assert_eq!(s.passkeys().find_by_credential(away.id, "cred-1").await.unwrap(), None);

    // Another user's passkey cannot be read, renamed or removed through this user.
    assert!(matches!(s.passkeys().get(bob.id, first.id).await, Err(StorageError::NotFound)));
    assert!(matches!(s.passkeys().rename(bob.id, first.id, "mine").await, Err(StorageError::NotFound)));
    assert!(matches!(s.passkeys().remove(bob.id, first.id, 0).await, Err(StorageError::NotFound)));
    s.passkeys().rename(alice.id, first.id, "laptop").await.unwrap();
    assert_eq!(s.passkeys().get(alice.id, first.id).await.unwrap().name, "laptop");

    // Removal keeps `keep`; two removals at once cannot take the last two.
    // (Registered in the same millisecond, the two may list in either order.)
    let second = s.passkeys().list_for_user(alice.id).await.unwrap().into_iter().find(|p| p.id != first.id).expect("the other one").id;
    let (one, two) = (s.passkeys(), s.passkeys());
    let (a, b) = tokio::join!(one.remove(alice.id, first.id, 1), two.remove(alice.id, second, 1));
    let removed = [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count();
    assert_eq!(removed, 1, "exactly one of two concurrent removals: {a:?} {b:?}");
    let refused = a.err().or(b.err());
    assert!(matches!(refused, Some(StorageError::Conflict(LAST_PASSKEY))), "the other is refused as the last one: {refused:?}");
    assert_eq!(s.passkeys().count_for_user(alice.id).await.unwrap(), 1);
    // With nothing to keep (an operator's removal), the last one goes too.
    let last = s.passkeys().list_for_user(alice.id).await.unwrap()[0].id;
    s.passkeys().remove(alice.id, last, 0).await.unwrap();
    assert_eq!(s.passkeys().count_for_user(alice.id).await.unwrap(), 0);

    // A deleted user's passkeys go with them.
    s.passkeys().add(&passkey(home.id, bob.id, "cred-bob"), 5).await.unwrap();
    s.users().delete(bob.id).await.unwrap();
    assert_eq!(s.passkeys().find_by_credential(home.id, "cred-bob").await.unwrap(), None);
}

async fn a_use_is_recorded_only_from_the_counter_it_was_checked_against(s: Storage) {
    let home = tenant(&s).await;
    let alice = user(&s, &home).await;
    let key = passkey(home.id, alice.id, "cred-cas");
    s.passkeys().add(&key, 5).await.unwrap();
    let used = |from: u32, to: u32| PasskeyUse {
        previous_sign_count: from,
        sign_count: to,
        backup_eligible: true,
        backed_up: true,
        credential: format!("{{\"count\":{to}}}"),
        at: t0() + time::Duration::minutes(1),
    };
    assert!(s.passkeys().record_use(key.id, &used(3, 4)).await.unwrap());
    // Another assertion checked against 3 lost the race: not recorded.
    assert!(!s.passkeys().record_use(key.id, &used(3, 5)).await.unwrap());
    let stored = s.passkeys().get(alice.id, key.id).await.unwrap();
    assert_eq!((stored.sign_count, stored.backed_up, stored.credential.as_str()), (4, true, "{\"count\":4}"));
    assert_eq!(stored.last_used_at, Some(t0() + time::Duration::minutes(1)));
}
