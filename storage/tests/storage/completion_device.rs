//! Adding a device with its certificate in one completion: a failure leaves no device
//! without a certificate, and the tenant's limit holds under concurrent adds.

use mamori_storage::model::{CertificateDownload, Completion, Device, DeviceAddition, DeviceType, NewDevice, RedeemError};
use mamori_storage::{DEVICE_LIMIT_REACHED, Storage, StorageError};
use time::Duration;

use crate::completion::{Fixture, completion, fixture};
use crate::harness::t0;

on_both!(a_failed_addition_leaves_no_device, the_device_limit_holds_under_concurrent_additions);

async fn reserved(s: &Storage, f: &Fixture, email: &str) -> Device {
    let new = NewDevice { user_id: f.user.id, device_type: DeviceType::Smartphone, email: email.into() };
    s.devices().reserve(&new, t0()).await.unwrap()
}

/// A new device and its certificate, as the device-addition flow completes them.
fn addition(f: &Fixture, device: &Device, max_devices: u32) -> Completion {
    let mut issued: CertificateDownload = completion(f).certificates.remove(0);
    issued.device_id = device.id;
    issued.certificate.device_id = Some(device.id);
    issued.download.as_mut().unwrap().device_id = Some(device.id);
    Completion {
        user_id: f.user.id,
        new_device: Some(DeviceAddition { device: device.clone(), max_devices }),
        certificates: vec![issued],
        ..Completion::default()
    }
}

async fn a_failed_addition_leaves_no_device(s: Storage) {
    let f = fixture(&s).await;
    let now = t0() + Duration::minutes(5);
    let taken = s.certificates().insert(&completion(&f).certificates[0].certificate, t0()).await.unwrap();
    let device = reserved(&s, &f, "b@example.jp").await;
    assert_eq!(device.device_no, 2);
    let mut failing = addition(&f, &device, 3);
    failing.certificates[0].certificate.serial_hex = taken.serial_hex.clone();
    let result = s.completions().complete(&failing, now).await;
    assert!(matches!(result, Err(RedeemError::Storage(StorageError::Conflict(_)))), "{result:?}");
    let devices = s.devices().list_for_user(f.user.id, true).await.unwrap();
    assert_eq!(devices.len(), 1, "no device without its certificate: {devices:?}");
    assert!(matches!(s.devices().get(device.id).await, Err(StorageError::NotFound)));

    // Tried again (a new number: the failed one is not reused), it is recorded whole.
    let device = reserved(&s, &f, "b@example.jp").await;
    assert_eq!(device.device_no, 3);
    let good = addition(&f, &device, 3);
    s.completions().complete(&good, now).await.unwrap();
    let stored = s.devices().get(device.id).await.unwrap();
    assert_eq!((stored.device_no, stored.email.as_str(), stored.deleted_at), (3, "b@example.jp", None));
    let certs = s.certificates().list_for_device(device.id).await.unwrap();
    assert_eq!(certs.len(), 1);
    let acquisition_id = good.certificates[0].download.as_ref().unwrap().acquisition_id.clone().unwrap();
    let download = s.tickets().find_by_acquisition_id(&acquisition_id).await.unwrap().unwrap();
    assert_eq!(download.device_id, Some(device.id));
}

async fn the_device_limit_holds_under_concurrent_additions(s: Storage) {
    let f = fixture(&s).await;
    let now = t0() + Duration::minutes(5);
    // One device already; the limit is 3, and five are added at once.
    let mut tasks = Vec::new();
    for i in 0..5 {
        let device = reserved(&s, &f, &format!("n{i}@example.jp")).await;
        let c = addition(&f, &device, 3);
        let s = s.clone();
        tasks.push(tokio::spawn(async move { s.completions().complete(&c, now).await.map(|()| c) }));
    }
    let mut added = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(c) => added.push(c.new_device.unwrap().device.id),
            Err(RedeemError::Storage(StorageError::Conflict(DEVICE_LIMIT_REACHED))) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(added.len(), 2, "up to the limit: {added:?}");
    let devices = s.devices().list_for_user(f.user.id, false).await.unwrap();
    assert_eq!(devices.len(), 3);
    for id in added {
        let certs = s.certificates().list_for_device(id).await.unwrap();
        assert_eq!(certs.len(), 1, "each added device has its certificate");
    }
    let certs = s.certificates().list_for_device(f.device.id).await.unwrap();
    assert!(certs.is_empty(), "the first device is untouched");
}
