//! Users: creation, credentials, password history, lockout.

use mamori_storage::model::{DeviceType, Locale, LockReason, LoginMethod, NewDevice, NewUser, UserQuery, UserStatus};
use mamori_storage::{Storage, StorageError};
use time::Duration;

use crate::harness::{t0, tenant, user};

on_both!(
    create_and_find,
    login_ids_are_unique_per_tenant,
    listing_is_paged,
    password_history_is_pruned,
    credentials_and_status,
    concurrent_wrong_passwords_lock_exactly_once,
    secret_answer_lockout_and_unlock,
    operator_lock,
    totp_steps_are_accepted_once,
    a_first_totp_secret_is_registered_once,
    search_matches_email_ignoring_case,
    a_timed_release_ends_only_an_old_enough_password_lock,
    an_external_id_is_kept_and_cleared
);

/// SCIM's `externalId` (m0022): none for a new user, kept as given (any text a directory
/// uses, quotes and non-ASCII included), cleared again, and only on its own user.
async fn an_external_id_is_kept_and_cleared(s: Storage) {
    let t = tenant(&s).await;
    let a = s.users().create(&NewUser::new(t.id, "ext-a", LoginMethod::Cert), t0()).await.unwrap();
    let b = s.users().create(&NewUser::new(t.id, "ext-b", LoginMethod::Cert), t0()).await.unwrap();
    assert_eq!(a.external_id, None);
    let odd = "00u1'; DROP TABLE users; -- 山田";
    s.users().set_external_id(a.id, Some(odd), t0() + Duration::minutes(1)).await.unwrap();
    let read = s.users().get(a.id).await.unwrap();
    assert_eq!(read.external_id.as_deref(), Some(odd));
    assert_eq!(read.updated_at, t0() + Duration::minutes(1));
    assert_eq!(s.users().get(b.id).await.unwrap().external_id, None, "only its own user");
    s.users().set_external_id(a.id, None, t0()).await.unwrap();
    assert_eq!(s.users().get(a.id).await.unwrap().external_id, None);
}

async fn create_and_find(s: Storage) {
    let t = tenant(&s).await;
    let new = NewUser {
        tenant_id: t.id,
        login_id: "p-01-usr012".into(),
        display_name: "Yamada Taro".into(),
        locale: Locale::En,
        time_zone: "Europe/Paris".into(),
        login_method: LoginMethod::CertPasswordOtp,
        ..NewUser::new(t.id, "p-01-usr012", LoginMethod::CertPasswordOtp)
    };
    let u = s.users().create(&new, t0()).await.unwrap();
    assert_eq!(u.status, UserStatus::Active);
    assert_eq!((u.locale, u.time_zone.as_str()), (Locale::En, "Europe/Paris"));
    assert!(u.password_hash.is_none() && u.locked_at.is_none());
    assert_eq!(s.users().get(u.id).await.unwrap(), u);
    assert_eq!(s.users().get_by_login_id(t.id, "p-01-usr012").await.unwrap(), Some(u));
    assert_eq!(s.users().get_by_login_id(t.id, "p-01-usr013").await.unwrap(), None);
}

async fn login_ids_are_unique_per_tenant(s: Storage) {
    let (t1, t2) = (tenant(&s).await, tenant(&s).await);
    let new = NewUser::new(t1.id, "p-01-usr012", LoginMethod::Cert);
    s.users().create(&new, t0()).await.unwrap();
    let err = s.users().create(&new, t0()).await.unwrap_err();
    assert!(matches!(
        err,
        StorageError::Conflict("this user ID, or one differing only in case or looking the same, already exists in this tenant")
    ));
    // IDs that differ only in case are one (m0017's lower-cased key), whichever way in.
    for variant in ["P-01-USR012", "p-01-Usr012"] {
        let err = s.users().create(&NewUser::new(t1.id, variant, LoginMethod::Cert), t0()).await.unwrap_err();
        assert!(matches!(err, StorageError::Conflict(_)), "{variant}: {err:?}");
        let err = s
            .devices()
            .create_user_with_device(&NewUser::new(t1.id, variant, LoginMethod::Cert), DeviceType::Pc, "a@example.jp", 3, t0())
            .await
            .unwrap_err();
        assert!(matches!(err, StorageError::Conflict(_)), "{variant} with a device: {err:?}");
    }
    let accented = NewUser::new(t1.id, "ÉLODIE", LoginMethod::Cert);
    s.users().create(&accented, t0()).await.unwrap();
    let err = s.users().create(&NewUser::new(t1.id, "élodie", LoginMethod::Cert), t0()).await.unwrap_err();
    assert!(matches!(err, StorageError::Conflict(_)), "beyond ASCII: {err:?}");
    // IDs that look alike are one (m0018's skeleton): Cyrillic р, а, у beside Latin
    // p, a, y; the digit 1 beside the letter l; and the honest neighbours still pass.
    s.users().create(&NewUser::new(t1.id, "pay", LoginMethod::Cert), t0()).await.unwrap();
    s.users().create(&NewUser::new(t1.id, "paypal", LoginMethod::Cert), t0()).await.unwrap();
    for look_alike in ["\u{440}\u{430}\u{443}", "paypa1", "PAYPAl"] {
        let err = s.users().create(&NewUser::new(t1.id, look_alike, LoginMethod::Cert), t0()).await.unwrap_err();
        assert!(matches!(err, StorageError::Conflict(_)), "{look_alike}: {err:?}");
    }
    for neighbour in ["payer", "pay2", "\u{43f}\u{430}\u{443}"] {
        s.users().create(&NewUser::new(t1.id, neighbour, LoginMethod::Cert), t0()).await.unwrap();
    }
    // An ID found exactly as it was written.
    assert!(s.users().get_by_login_id(t1.id, "ÉLODIE").await.unwrap().is_some());
    // The same user ID in another tenant is someone else.
    s.users().create(&NewUser { tenant_id: t2.id, ..new }, t0()).await.unwrap();
}

async fn listing_is_paged(s: Storage) {
    let t = tenant(&s).await;
    for i in 0..7 {
        let new = NewUser::new(t.id, format!("user-{i:02}"), LoginMethod::Cert);
        s.users().create(&new, t0()).await.unwrap();
    }
    let page = s.users().list(t.id, 5, 5).await.unwrap();
    assert_eq!(page.total, 7);
    let ids: Vec<_> = page.items.iter().map(|u| u.login_id.as_str()).collect();
    assert_eq!(ids, ["user-05", "user-06"]);
}

async fn password_history_is_pruned(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    for i in 1..=5 {
        let now = t0() + Duration::minutes(i);
        s.users().set_password(u.id, &format!("$argon2id$hash{i}"), false, 3, now).await.unwrap();
    }
    let reread = s.users().get(u.id).await.unwrap();
    assert_eq!(reread.password_hash.as_deref(), Some("$argon2id$hash5"));
    assert_eq!(reread.password_changed_at, Some(t0() + Duration::minutes(5)));
    assert_eq!(s.users().recent_password_hashes(u.id, 10).await.unwrap(), ["$argon2id$hash5", "$argon2id$hash4", "$argon2id$hash3"]);
    assert_eq!(s.users().recent_password_hashes(u.id, 1).await.unwrap(), ["$argon2id$hash5"]);

    // A reissued password must be changed; `keep` below 1 still keeps the current one.
    s.users().set_password(u.id, "$argon2id$reissued", true, 0, t0()).await.unwrap();
    assert!(s.users().get(u.id).await.unwrap().password_must_change);
    assert_eq!(s.users().recent_password_hashes(u.id, 10).await.unwrap(), ["$argon2id$reissued"]);

    let missing = uuid::Uuid::new_v4();
    assert!(matches!(s.users().set_password(missing, "$x", false, 1, t0()).await, Err(StorageError::NotFound)));
}

async fn credentials_and_status(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let later = t0() + Duration::hours(1);
    let users = s.users();
    users.set_secret_answer(u.id, "first-car", "$argon2id$answer", later).await.unwrap();
    users.set_login_method(u.id, LoginMethod::CertPasswordOtp, later).await.unwrap();
    users.set_totp_secret(u.id, Some(&[1, 2, 3]), later).await.unwrap();
    users.set_status(u.id, UserStatus::Disabled, later).await.unwrap();
    users.update_profile(u.id, "Sato Hanako", Locale::En, "UTC", later).await.unwrap();
    let reread = users.get(u.id).await.unwrap();
    assert_eq!(reread.secret_question.as_deref(), Some("first-car"));
    assert_eq!(reread.secret_answer_hash.as_deref(), Some("$argon2id$answer"));
    assert_eq!(reread.login_method, LoginMethod::CertPasswordOtp);
    assert_eq!(reread.totp_secret_sealed, Some(vec![1, 2, 3]));
    assert_eq!(reread.status, UserStatus::Disabled);
    assert_eq!(reread.display_name, "Sato Hanako");
    assert_eq!(reread.updated_at, later);
    // Debug output leaves secrets out.
    assert!(!format!("{reread:?}").contains("argon2id"));

    users.set_totp_secret(u.id, None, later).await.unwrap();
    assert_eq!(users.get(u.id).await.unwrap().totp_secret_sealed, None);
}

async fn concurrent_wrong_passwords_lock_exactly_once(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let attempts = (0..20).map(|_| {
        let s = s.clone();
        tokio::spawn(async move { s.users().record_failed_password(u.id, 5, t0()).await })
    });
    let outcomes: Vec<_> = futures::future::join_all(attempts).await.into_iter().map(|r| r.unwrap().unwrap()).collect();

    assert_eq!(outcomes.iter().filter(|o| o.locked_now).count(), 1);
    let mut failures: Vec<_> = outcomes.iter().map(|o| o.failures).collect();
    failures.sort_unstable();
    assert_eq!(failures, (1..=20).collect::<Vec<_>>());
    for o in &outcomes {
        assert_eq!(o.locked, o.failures >= 5, "{o:?}");
        assert_eq!(o.attempts_left, 5u32.saturating_sub(o.failures), "{o:?}");
    }
    let locker = outcomes.iter().find(|o| o.locked_now).unwrap();
    assert_eq!(locker.failures, 5);

    let reread = s.users().get(u.id).await.unwrap();
    assert_eq!(reread.failed_password_count, 20);
    assert_eq!(reread.locked_at, Some(t0()));
    assert_eq!(reread.lock_reason, Some(LockReason::Password));
}

async fn secret_answer_lockout_and_unlock(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let users = s.users();
    let first = users.record_failed_secret_answer(u.id, 2, t0()).await.unwrap();
    assert_eq!((first.failures, first.attempts_left, first.locked), (1, 1, false));
    users.reset_failed_secret_answers(u.id, t0()).await.unwrap();
    users.record_failed_secret_answer(u.id, 2, t0()).await.unwrap();
    let second = users.record_failed_secret_answer(u.id, 2, t0()).await.unwrap();
    assert!(second.locked_now && second.locked);
    assert_eq!(users.get(u.id).await.unwrap().lock_reason, Some(LockReason::SecretAnswer));

    // Locked by secret answer: a wrong password counts but does not re-lock.
    let pwd = users.record_failed_password(u.id, 1, t0()).await.unwrap();
    assert!(pwd.locked && !pwd.locked_now);

    users.unlock(u.id, t0()).await.unwrap();
    let reread = users.get(u.id).await.unwrap();
    assert!(!reread.is_locked());
    assert_eq!((reread.failed_password_count, reread.failed_secret_answer_count), (0, 0));
    assert_eq!(reread.lock_reason, None);

    users.record_failed_password(u.id, 5, t0()).await.unwrap();
    users.reset_failed_passwords(u.id, t0()).await.unwrap();
    assert_eq!(users.get(u.id).await.unwrap().failed_password_count, 0);

    assert!(matches!(users.record_failed_password(uuid::Uuid::new_v4(), 5, t0()).await, Err(StorageError::NotFound)));
}

async fn operator_lock(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    assert!(s.users().lock(u.id, LockReason::Operator, t0()).await.unwrap());
    assert!(!s.users().lock(u.id, LockReason::EnrollmentOtp, t0()).await.unwrap());
    assert_eq!(s.users().get(u.id).await.unwrap().lock_reason, Some(LockReason::Operator));
    s.users().delete(u.id).await.unwrap();
    assert!(matches!(s.users().delete(u.id).await, Err(StorageError::NotFound)));
}

async fn a_first_totp_secret_is_registered_once(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let users = s.users();
    // Two set-ups finishing at once: one registers, the other changes nothing.
    let (a, b) = tokio::join!(users.set_first_totp_secret(u.id, b"first", t0()), users.set_first_totp_secret(u.id, b"second", t0()));
    assert!(a.unwrap() ^ b.unwrap(), "exactly one set-up registers");
    let kept = users.get(u.id).await.unwrap().totp_secret_sealed.expect("a secret");
    assert!(kept == b"first" || kept == b"second");
    // A later one, too, leaves the registered secret alone.
    assert!(!users.set_first_totp_secret(u.id, b"late", t0()).await.unwrap());
    assert_eq!(users.get(u.id).await.unwrap().totp_secret_sealed, Some(kept));
    // Once the secret is cleared (a method change away from TOTP), a set-up registers again.
    users.set_totp_secret(u.id, None, t0()).await.unwrap();
    assert!(users.set_first_totp_secret(u.id, b"again", t0()).await.unwrap());
}

async fn totp_steps_are_accepted_once(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let users = s.users();
    users.set_totp_secret(u.id, Some(b"sealed"), t0()).await.unwrap();
    // The same code sent to two nodes at once is accepted once.
    let (a, b) = tokio::join!(users.consume_totp_step(u.id, 100), users.consume_totp_step(u.id, 100));
    assert!(a.unwrap() ^ b.unwrap());
    assert!(!users.consume_totp_step(u.id, 99).await.unwrap());
    assert!(users.consume_totp_step(u.id, 101).await.unwrap());
    // A new secret starts afresh.
    users.set_totp_secret(u.id, Some(b"other"), t0()).await.unwrap();
    assert!(users.consume_totp_step(u.id, 101).await.unwrap());
    assert!(matches!(users.consume_totp_step(uuid::Uuid::new_v4(), 1).await, Err(StorageError::NotFound)));
}

/// The operators' search (`q` of the API, the console's find box) finds a user by any
/// active device's e-mail address, whatever its case, and by user ID or name ignoring
/// case, on both backends; LIKE wildcards in the text are literal.
async fn search_matches_email_ignoring_case(s: Storage) {
    let t = tenant(&s).await;
    let other = tenant(&s).await;
    let hanako = s
        .users()
        .create(&NewUser { display_name: "Sato Hanako".into(), ..NewUser::new(t.id, "p-01-hanako", LoginMethod::Cert) }, t0())
        .await
        .unwrap();
    let taro = s.users().create(&NewUser::new(t.id, "p-01-taro", LoginMethod::Cert), t0()).await.unwrap();
    let foreign = s.users().create(&NewUser::new(other.id, "p-01-x", LoginMethod::Cert), t0()).await.unwrap();
    let add = |user_id, email: &str| NewDevice { user_id, device_type: DeviceType::Pc, email: email.to_owned() };
    s.devices().add_device(&add(hanako.id, "Hanako.Sato@Example.JP"), 5, t0()).await.unwrap();
    let old = s.devices().add_device(&add(taro.id, "old_phone@mobile.example"), 5, t0()).await.unwrap();
    s.devices().add_device(&add(taro.id, "taro@example.jp"), 5, t0()).await.unwrap();
    s.devices().add_device(&add(foreign.id, "hanako.sato@example.jp"), 5, t0()).await.unwrap();

    let found = |text: &str| {
        let q = UserQuery { text: Some(text.to_owned()), ..UserQuery::default() };
        let users = s.users();
        let tenant_id = t.id;
        async move {
            let page = users.search(tenant_id, &q, 0, 10).await.unwrap();
            assert_eq!(page.total, page.items.len() as u64);
            page.items.into_iter().map(|u| u.login_id).collect::<Vec<_>>()
        }
    };
    assert_eq!(found("hanako.sato@example.jp").await, ["p-01-hanako"], "whole address, other case, own tenant only");
    assert_eq!(found("EXAMPLE.JP").await, ["p-01-hanako", "p-01-taro"], "part of the address");
    assert_eq!(found("SATO h").await, ["p-01-hanako"], "display name ignoring case");
    assert_eq!(found("P-01-TARO").await, ["p-01-taro"], "user ID ignoring case");
    assert_eq!(found("old_phone").await, ["p-01-taro"]);
    assert_eq!(found("example").await, ["p-01-hanako", "p-01-taro"], "two matching devices, one row");
    assert!(found("old%phone").await.is_empty(), "% is literal");
    assert!(found("old_phone@mobile_example").await.is_empty(), "_ is literal");
    s.devices().delete(old.id, t0()).await.unwrap();
    assert!(found("old_phone").await.is_empty(), "a deleted device's address finds no one");
    // Beyond ASCII: SQLite's LOWER() leaves `Ø` as it is, so the user ID is also searched
    // by its key (lower-cased by Rust), and looked up by it.
    let oyvind = s.users().create(&NewUser::new(t.id, "Øyvind-01", LoginMethod::Cert), t0()).await.unwrap();
    assert_eq!(found("Øyvind").await, ["Øyvind-01"], "a user ID finds itself");
    assert_eq!(found("øyvind-01").await, ["Øyvind-01"], "and in another case");
    let by_key = s.users().get_by_login_id_key(t.id, "ØYVIND-01").await.unwrap().map(|u| u.id);
    assert_eq!(by_key, Some(oyvind.id));
    assert_eq!(s.users().get_by_login_id_key(other.id, "øyvind-01").await.unwrap().map(|u| u.id), None, "own tenant only");
}

async fn a_timed_release_ends_only_an_old_enough_password_lock(s: Storage) {
    let t = tenant(&s).await;
    let users = s.users();
    let u = user(&s, &t).await;
    assert!(users.record_failed_password(u.id, 1, t0()).await.unwrap().locked_now);
    // A lock taken after the cut-off stays; one taken at or before it ends, once.
    assert!(!users.release_password_lock(u.id, t0() - Duration::seconds(1), t0()).await.unwrap());
    assert!(users.get(u.id).await.unwrap().is_locked());
    assert!(users.release_password_lock(u.id, t0(), t0()).await.unwrap());
    let released = users.get(u.id).await.unwrap();
    assert!(!released.is_locked());
    assert_eq!((released.failed_password_count, released.lock_reason), (0, None));
    assert!(!users.release_password_lock(u.id, t0(), t0()).await.unwrap(), "only one caller ends it");
    // A secret-answer lock is never released by time.
    let v = users.create(&NewUser::new(t.id, "answer-locked", LoginMethod::CertPassword), t0()).await.unwrap();
    assert!(users.record_failed_secret_answer(v.id, 1, t0()).await.unwrap().locked_now);
    assert!(!users.release_password_lock(v.id, t0() + Duration::days(1), t0()).await.unwrap());
    assert!(users.get(v.id).await.unwrap().is_locked());
}
