//! Single-use tickets: redemption, expiry, attempts.

use mamori_storage::model::{NewTicket, RedeemError, Tenant, TicketKind, User};
use mamori_storage::{Storage, StorageError, token_lookup_hash};
use time::Duration;
use uuid::Uuid;

use crate::harness::{t0, tenant, unique, user};

on_both!(
    create_and_find,
    concurrent_redemptions_succeed_once,
    multi_use_download,
    expired_ticket_is_refused,
    exhausted_attempts_lock_the_ticket,
    concurrent_wrong_secrets_never_go_below_zero,
    newer_ticket_voids_older,
    expired_tickets_are_purged
);

fn new_ticket(t: &Tenant, u: &User, kind: TicketKind, uses: u32) -> NewTicket {
    NewTicket {
        kind,
        tenant_id: t.id,
        user_id: u.id,
        device_id: None,
        lookup_hash: token_lookup_hash(&unique("token")),
        secret_hash: Some("$argon2id$otp".into()),
        acquisition_id: None,
        payload_sealed: None,
        expires_at: t0() + Duration::hours(72),
        attempts: 5,
        uses,
    }
}

async fn setup(s: &Storage) -> (Tenant, User) {
    let t = tenant(s).await;
    let u = user(s, &t).await;
    (t, u)
}

async fn create_and_find(s: Storage) {
    let (t, u) = setup(&s).await;
    let mut new = new_ticket(&t, &u, TicketKind::Download, 3);
    new.acquisition_id = Some("dl-7Q2K9".into());
    new.payload_sealed = Some(vec![1, 2, 3]);
    let ticket = s.tickets().create(&new, t0()).await.unwrap();
    assert_eq!((ticket.uses_left, ticket.attempts_left), (3, 5));
    assert_eq!(s.tickets().find_by_lookup_hash(&new.lookup_hash).await.unwrap(), Some(ticket.clone()));
    assert_eq!(s.tickets().find_by_acquisition_id("dl-7Q2K9").await.unwrap(), Some(ticket.clone()));
    assert_eq!(s.tickets().find_by_lookup_hash(&token_lookup_hash("nope")).await.unwrap(), None);
    assert_eq!(s.tickets().list_pending_for_user(u.id, t0()).await.unwrap(), vec![ticket]);

    let mut clash = new_ticket(&t, &u, TicketKind::Download, 1);
    clash.acquisition_id = Some("dl-7Q2K9".into());
    assert!(matches!(s.tickets().create(&clash, t0()).await, Err(StorageError::Conflict(_))));
    let mut clash = new_ticket(&t, &u, TicketKind::Enrollment, 1);
    clash.lookup_hash = new.lookup_hash.clone();
    assert!(matches!(s.tickets().create(&clash, t0()).await, Err(StorageError::Conflict(_))));
}

async fn concurrent_redemptions_succeed_once(s: Storage) {
    let (t, u) = setup(&s).await;
    let ticket = s.tickets().create(&new_ticket(&t, &u, TicketKind::Enrollment, 1), t0()).await.unwrap();
    let now = t0() + Duration::minutes(5);
    let redemptions = (0..50).map(|_| {
        let s = s.clone();
        tokio::spawn(async move { s.tickets().redeem(ticket.id, now).await })
    });
    let results: Vec<_> = futures::future::join_all(redemptions).await.into_iter().map(|r| r.unwrap()).collect();
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1);
    assert_eq!(winners[0].uses_left, 0);
    assert_eq!(winners[0].last_used_at, Some(now));
    let spent = results.iter().filter(|r| matches!(r, Err(RedeemError::Spent))).count();
    assert_eq!(spent, 49);
}

async fn multi_use_download(s: Storage) {
    let (t, u) = setup(&s).await;
    let mut new = new_ticket(&t, &u, TicketKind::Download, 3);
    new.payload_sealed = Some(b"sealed pkcs12".to_vec());
    let ticket = s.tickets().create(&new, t0()).await.unwrap();
    for left in [2, 1, 0] {
        let redeemed = s.tickets().redeem(ticket.id, t0()).await.unwrap();
        assert_eq!(redeemed.uses_left, left);
        assert_eq!(redeemed.payload_sealed.as_deref(), Some(&b"sealed pkcs12"[..]));
    }
    assert!(matches!(s.tickets().redeem(ticket.id, t0()).await, Err(RedeemError::Spent)));
    assert!(matches!(s.tickets().redeem(Uuid::new_v4(), t0()).await, Err(RedeemError::NotFound)));
}

async fn expired_ticket_is_refused(s: Storage) {
    let (t, u) = setup(&s).await;
    let ticket = s.tickets().create(&new_ticket(&t, &u, TicketKind::PasswordReissue, 1), t0()).await.unwrap();
    // Expiry is exclusive: at the instant it expires, it no longer works.
    let result = s.tickets().redeem(ticket.id, ticket.expires_at).await;
    assert!(matches!(result, Err(RedeemError::Expired)), "{result:?}");
    assert_eq!(s.tickets().get(ticket.id).await.unwrap().uses_left, 1);
    s.tickets().redeem(ticket.id, ticket.expires_at - Duration::milliseconds(1)).await.unwrap();
}

async fn exhausted_attempts_lock_the_ticket(s: Storage) {
    let (t, u) = setup(&s).await;
    let mut new = new_ticket(&t, &u, TicketKind::Enrollment, 1);
    new.attempts = 3;
    let ticket = s.tickets().create(&new, t0()).await.unwrap();
    let lefts: Vec<u32> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            v.push(s.tickets().record_failed_attempt(ticket.id).await.unwrap().attempts_left);
        }
        v
    };
    assert_eq!(lefts, [2, 1, 0, 0]);
    assert!(matches!(s.tickets().redeem(ticket.id, t0()).await, Err(RedeemError::Locked)));
    assert!(s.tickets().list_pending_for_user(u.id, t0()).await.unwrap().is_empty());
    assert!(matches!(s.tickets().record_failed_attempt(Uuid::new_v4()).await, Err(StorageError::NotFound)));
}

async fn concurrent_wrong_secrets_never_go_below_zero(s: Storage) {
    let (t, u) = setup(&s).await;
    let ticket = s.tickets().create(&new_ticket(&t, &u, TicketKind::Download, 3), t0()).await.unwrap();
    let attempts = (0..12).map(|_| {
        let s = s.clone();
        tokio::spawn(async move { s.tickets().record_failed_attempt(ticket.id).await })
    });
    let mut lefts: Vec<u32> = futures::future::join_all(attempts).await.into_iter().map(|r| r.unwrap().unwrap().attempts_left).collect();
    lefts.sort_unstable();
    // Five real decrements (4, 3, 2, 1, 0) and seven refusals at 0.
    assert_eq!(lefts, [0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
    assert_eq!(s.tickets().get(ticket.id).await.unwrap().attempts_left, 0);
}

async fn newer_ticket_voids_older(s: Storage) {
    let (t, u) = setup(&s).await;
    let mut new = new_ticket(&t, &u, TicketKind::CertificateReissue, 1);
    new.payload_sealed = Some(vec![7]);
    let old = s.tickets().create(&new, t0()).await.unwrap();
    let other_kind = s.tickets().create(&new_ticket(&t, &u, TicketKind::Enrollment, 1), t0()).await.unwrap();
    assert_eq!(s.tickets().invalidate_for_user(u.id, TicketKind::CertificateReissue).await.unwrap(), 1);
    assert!(matches!(s.tickets().redeem(old.id, t0()).await, Err(RedeemError::Spent)));
    assert_eq!(s.tickets().get(old.id).await.unwrap().payload_sealed, None);
    s.tickets().redeem(other_kind.id, t0()).await.unwrap();
}

async fn expired_tickets_are_purged(s: Storage) {
    let (t, u) = setup(&s).await;
    let mut short = new_ticket(&t, &u, TicketKind::PasswordReissue, 1);
    short.expires_at = t0() + Duration::minutes(60);
    let short = s.tickets().create(&short, t0()).await.unwrap();
    let long = s.tickets().create(&new_ticket(&t, &u, TicketKind::Enrollment, 1), t0()).await.unwrap();
    assert_eq!(s.tickets().purge_expired(t0() + Duration::hours(2)).await.unwrap(), 1);
    assert!(matches!(s.tickets().get(short.id).await, Err(StorageError::NotFound)));
    s.tickets().get(long.id).await.unwrap();
}
