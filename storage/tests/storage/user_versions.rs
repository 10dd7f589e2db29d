//! The user's version (m0024) and SCIM's compare-and-swap on it: every write to the
//! user or its devices moves it; `apply_changes` writes all its values or none, and only
//! while the version is the one the writer read, even when two writers race.

use mamori_storage::model::{DeviceType, LoginMethod, NewDevice, NewUser, UserChangeSet, UserStatus};
use mamori_storage::{Storage, StorageError};
use time::Duration;

use crate::harness::{t0, tenant, user};

on_both!(
    every_write_moves_the_version,
    changes_apply_together_on_the_version_read,
    of_two_racing_writers_one_wins,
    a_device_of_another_user_writes_nothing,
    external_ids_are_found_exactly,
    a_user_is_created_disabled_with_its_external_id_in_one_insert,
    a_delete_at_a_stale_version_revokes_and_deletes_nothing
);

async fn a_user_is_created_disabled_with_its_external_id_in_one_insert(s: Storage) {
    let t = tenant(&s).await;
    let new = NewUser {
        status: UserStatus::Disabled,
        external_id: Some("00u-7".into()),
        given_name: Some("Hanako".into()),
        ..NewUser::new(t.id, "scim-made", LoginMethod::Cert)
    };
    let (made, _) = s.devices().create_user_with_device(&new, DeviceType::Pc, "m@x.test", 5, t0()).await.unwrap();
    // The row as first written: the version is still the insert's own.
    let read = s.users().get(made.id).await.unwrap();
    assert_eq!((read.status, read.external_id.as_deref(), read.version), (UserStatus::Disabled, Some("00u-7"), made.version));
    assert_eq!((read.given_name.as_deref(), read.family_name.as_deref()), (Some("Hanako"), None));
    // The honest default: active, no identifier.
    let plain = s.users().create(&NewUser::new(t.id, "plain", LoginMethod::Cert), t0()).await.unwrap();
    assert_eq!((plain.status, plain.external_id), (UserStatus::Active, None));
}

async fn a_delete_at_a_stale_version_revokes_and_deletes_nothing(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let read = s.users().get(u.id).await.unwrap();
    s.users().set_status(u.id, UserStatus::Disabled, t0()).await.unwrap();
    assert!(!s.users().delete_at_version(u.id, read.version, "cessationOfOperation", t0()).await.unwrap(), "a writer came in between");
    let now = s.users().get(u.id).await.expect("still there");
    assert!(s.users().delete_at_version(u.id, now.version, "cessationOfOperation", t0()).await.unwrap());
    assert!(matches!(s.users().get(u.id).await, Err(StorageError::NotFound)));
    assert!(matches!(s.users().delete_at_version(u.id, now.version, "cessationOfOperation", t0()).await, Err(StorageError::NotFound)));
}

async fn every_write_moves_the_version(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    assert_eq!(u.version, 0);
    let mut last = 0;
    let mut moved = |now: i64, what: &str| {
        assert!(now > last, "{what} moves the version ({last} → {now})");
        last = now;
    };
    s.users().set_status(u.id, UserStatus::Disabled, t0()).await.unwrap();
    moved(s.users().get(u.id).await.unwrap().version, "a status change");
    let device =
        s.devices().add_device(&NewDevice { user_id: u.id, device_type: DeviceType::Pc, email: "a@x.test".into() }, 5, t0()).await.unwrap();
    moved(s.users().get(u.id).await.unwrap().version, "a new device");
    s.devices().set_email(device.id, "b@x.test").await.unwrap();
    moved(s.users().get(u.id).await.unwrap().version, "a device's new address");
    s.devices().delete(device.id, t0()).await.unwrap();
    moved(s.users().get(u.id).await.unwrap().version, "a deleted device");
    s.users().lock(u.id, mamori_storage::model::LockReason::Operator, t0()).await.unwrap();
    moved(s.users().get(u.id).await.unwrap().version, "a lock");
}

async fn changes_apply_together_on_the_version_read(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let device = s
        .devices()
        .add_device(&NewDevice { user_id: u.id, device_type: DeviceType::Pc, email: "old@x.test".into() }, 5, t0())
        .await
        .unwrap();
    let read = s.users().get(u.id).await.unwrap();
    let changes = UserChangeSet {
        display_name: Some("New Name".into()),
        external_id: Some(Some("ext-1".into())),
        given_name: Some(Some("Hanako".into())),
        family_name: Some(Some("Sato".into())),
        status: Some(UserStatus::Disabled),
        device_email: Some((device.id, "new@x.test".into())),
    };
    let later = t0() + Duration::minutes(5);
    let (written, devices) = s.users().apply_changes(u.id, read.version, &changes, later).await.unwrap().expect("applied");
    let after = s.users().get(u.id).await.unwrap();
    assert_eq!(written, after, "what the write answers is what it wrote");
    assert_eq!(devices.iter().map(|d| d.email.as_str()).collect::<Vec<_>>(), ["new@x.test"]);
    assert_eq!((after.given_name.as_deref(), after.family_name.as_deref()), (Some("Hanako"), Some("Sato")));
    assert_eq!(
        (after.display_name.as_str(), after.external_id.as_deref(), after.status),
        ("New Name", Some("ext-1"), UserStatus::Disabled)
    );
    assert_eq!(after.updated_at, later);
    assert!(after.version > read.version);
    assert_eq!(s.devices().get(device.id).await.unwrap().email, "new@x.test");

    // The version read before is stale now: nothing of a second change set is written.
    let stale = UserChangeSet {
        display_name: Some("Stale".into()),
        device_email: Some((device.id, "stale@x.test".into())),
        ..UserChangeSet::default()
    };
    assert!(s.users().apply_changes(u.id, read.version, &stale, later).await.unwrap().is_none());
    let unchanged = s.users().get(u.id).await.unwrap();
    assert_eq!((unchanged.display_name.as_str(), unchanged.version), ("New Name", after.version));
    assert_eq!(s.devices().get(device.id).await.unwrap().email, "new@x.test");
    // A missing user is an error, not a stale version.
    assert!(matches!(s.users().apply_changes(uuid::Uuid::new_v4(), 0, &stale, later).await, Err(StorageError::NotFound)));
}

async fn of_two_racing_writers_one_wins(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let read = s.users().get(u.id).await.unwrap();
    for round in 0..5 {
        let version = s.users().get(u.id).await.unwrap().version;
        let a = UserChangeSet { display_name: Some(format!("A{round}")), ..UserChangeSet::default() };
        let b = UserChangeSet { display_name: Some(format!("B{round}")), ..UserChangeSet::default() };
        let (users_a, users_b) = (s.users(), s.users());
        let (ra, rb) = tokio::join!(users_a.apply_changes(u.id, version, &a, t0()), users_b.apply_changes(u.id, version, &b, t0()));
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        assert!(ra.is_some() ^ rb.is_some(), "exactly one of two writers holding version {version} wins (round {round})");
        let (winner, _) = ra.clone().or(rb).expect("one won");
        let name = s.users().get(u.id).await.unwrap().display_name;
        assert_eq!(name, if ra.is_some() { format!("A{round}") } else { format!("B{round}") });
        assert_eq!(winner.display_name, name, "the winner answers its own write");
    }
    assert!(s.users().get(u.id).await.unwrap().version >= read.version + 5);
}

async fn a_device_of_another_user_writes_nothing(s: Storage) {
    let t = tenant(&s).await;
    let (u, other) = (user(&s, &t).await, user(&s, &t).await);
    let theirs = s
        .devices()
        .add_device(&NewDevice { user_id: other.id, device_type: DeviceType::Pc, email: "theirs@x.test".into() }, 5, t0())
        .await
        .unwrap();
    let read = s.users().get(u.id).await.unwrap();
    let changes = UserChangeSet {
        display_name: Some("Mine".into()),
        device_email: Some((theirs.id, "hijack@x.test".into())),
        ..UserChangeSet::default()
    };
    assert!(matches!(s.users().apply_changes(u.id, read.version, &changes, t0()).await, Err(StorageError::NotFound)));
    assert_eq!(s.devices().get(theirs.id).await.unwrap().email, "theirs@x.test");
    let after = s.users().get(u.id).await.unwrap();
    assert_eq!((after.display_name, after.version), (read.display_name, read.version), "all or nothing");
}

async fn external_ids_are_found_exactly(s: Storage) {
    let t = tenant(&s).await;
    let other_tenant = tenant(&s).await;
    let (a, b) = (user(&s, &t).await, user(&s, &other_tenant).await);
    s.users().set_external_id(a.id, Some("Ext-1"), t0()).await.unwrap();
    s.users().set_external_id(b.id, Some("Ext-1"), t0()).await.unwrap();
    let found = s.users().find_by_external_id(t.id, "Ext-1").await.unwrap();
    assert_eq!(found.iter().map(|u| u.id).collect::<Vec<_>>(), vec![a.id], "only the tenant's own user");
    assert!(s.users().find_by_external_id(t.id, "ext-1").await.unwrap().is_empty(), "externalId is case-exact");
    assert!(s.users().find_by_external_id(t.id, "Ext-%").await.unwrap().is_empty(), "no wildcards");
}
