//! Devices: numbering and the device limit.

use mamori_storage::model::{DeviceType, LoginMethod, NewDevice, NewUser};
use mamori_storage::{Storage, StorageError};
use time::Duration;

use crate::harness::{t0, tenant, unique, user};

on_both!(
    numbers_are_never_reused,
    device_limit_holds_under_concurrency,
    email_verification_is_recorded_and_cleared_by_a_change,
    a_user_is_created_with_its_first_device_or_not_at_all
);

fn phone(user_id: uuid::Uuid, email: &str) -> NewDevice {
    NewDevice { user_id, device_type: DeviceType::Smartphone, email: email.to_owned() }
}

async fn numbers_are_never_reused(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let devices = s.devices();
    let one = devices.add_device(&phone(u.id, "a@example.jp"), 3, t0()).await.unwrap();
    let two = devices.add_device(&phone(u.id, "b@example.jp"), 3, t0()).await.unwrap();
    assert_eq!((one.device_no, two.device_no), (1, 2));

    devices.delete(two.id, t0() + Duration::hours(1)).await.unwrap();
    assert!(matches!(devices.delete(two.id, t0()).await, Err(StorageError::NotFound)));
    let deleted = devices.get(two.id).await.unwrap();
    assert_eq!(deleted.deleted_at, Some(t0() + Duration::hours(1)));
    assert!(deleted.is_deleted());

    let three = devices.add_device(&phone(u.id, "c@example.jp"), 3, t0()).await.unwrap();
    assert_eq!(three.device_no, 3);
    let active: Vec<_> = devices.list_for_user(u.id, false).await.unwrap();
    assert_eq!(active.iter().map(|d| d.device_no).collect::<Vec<_>>(), [1, 3]);
    assert_eq!(devices.list_for_user(u.id, true).await.unwrap().len(), 3);
    assert_eq!(devices.count_active(u.id).await.unwrap(), 2);

    devices.set_email(one.id, "new@example.jp").await.unwrap();
    assert_eq!(devices.get(one.id).await.unwrap().email, "new@example.jp");
    assert!(matches!(devices.set_email(two.id, "x@example.jp").await, Err(StorageError::NotFound)));
    assert!(matches!(devices.add_device(&phone(uuid::Uuid::new_v4(), "x@example.jp"), 3, t0()).await, Err(StorageError::NotFound)));
}

async fn device_limit_holds_under_concurrency(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let adds = (0..10).map(|i| {
        let s = s.clone();
        tokio::spawn(async move { s.devices().add_device(&phone(u.id, &format!("{i}@example.jp")), 3, t0()).await })
    });
    let results: Vec<_> = futures::future::join_all(adds).await.into_iter().map(|r| r.unwrap()).collect();
    let added = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(added, 3);
    for result in &results {
        if let Err(err) = result {
            assert!(matches!(err, StorageError::Conflict("device limit reached")), "{err:?}");
        }
    }
    let numbers: Vec<_> = s.devices().list_for_user(u.id, true).await.unwrap().iter().map(|d| d.device_no).collect();
    assert_eq!(numbers, [1, 2, 3]);
}

async fn email_verification_is_recorded_and_cleared_by_a_change(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let devices = s.devices();
    let d = devices.add_device(&phone(u.id, "a@example.jp"), 3, t0()).await.unwrap();
    assert_eq!(d.email_verified_at, None, "a new address is unproven");
    // A link mailed to another address proves nothing here.
    assert!(!devices.mark_email_verified(d.id, "b@example.jp", t0()).await.unwrap());
    assert!(devices.mark_email_verified(d.id, "a@example.jp", t0() + Duration::minutes(1)).await.unwrap());
    let got = devices.get(d.id).await.unwrap();
    assert_eq!(got.email_verified_at, Some(t0() + Duration::minutes(1)));
    devices.set_email(d.id, "b@example.jp").await.unwrap();
    assert_eq!(devices.get(d.id).await.unwrap().email_verified_at, None);
}

async fn a_user_is_created_with_its_first_device_or_not_at_all(s: Storage) {
    let t = tenant(&s).await;
    let login_id = unique("first-device");
    let new = NewUser::new(t.id, login_id.clone(), LoginMethod::CertPassword);
    let (created, device) = s.devices().create_user_with_device(&new, DeviceType::Pc, "a@example.jp", 3, t0()).await.unwrap();
    assert_eq!((device.user_id, device.device_no, device.email.as_str()), (created.id, 1, "a@example.jp"));
    // The next device continues the numbering.
    let next = s.devices().add_device(&phone(created.id, "b@example.jp"), 3, t0()).await.unwrap();
    assert_eq!(next.device_no, 2);

    // A tenant that allows no device: refused, and no user is left behind.
    let refused = NewUser::new(t.id, unique("no-device"), LoginMethod::CertPassword);
    assert!(matches!(
        s.devices().create_user_with_device(&refused, DeviceType::Pc, "c@example.jp", 0, t0()).await,
        Err(StorageError::Conflict(_))
    ));
    assert!(s.users().get_by_login_id(t.id, &refused.login_id).await.unwrap().is_none());

    // A taken user ID: refused as a conflict, the existing user untouched.
    assert!(matches!(
        s.devices().create_user_with_device(&new, DeviceType::Pc, "d@example.jp", 3, t0()).await,
        Err(StorageError::Conflict(_))
    ));
    assert_eq!(s.devices().list_for_user(created.id, false).await.unwrap().len(), 2);
}
