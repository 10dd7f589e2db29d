//! The mail outbox.

use std::collections::HashSet;

use mamori_storage::model::{Locale, NewMail};
use mamori_storage::{MAIL_MAX_ATTEMPTS, Storage};
use time::Duration;

use crate::harness::{t0, tenant};

on_both!(outbox_lifecycle, concurrent_claims_do_not_overlap);

fn mail(tenant_id: Option<uuid::Uuid>, i: usize) -> NewMail {
    NewMail {
        tenant_id,
        to_address: format!("user{i}@example.jp"),
        subject: "電子証明書ダウンロードのご案内".into(),
        body_text: "本文".into(),
        body_html: None,
        locale: Locale::Ja,
        kind: "download-guidance".into(),
    }
}

async fn outbox_lifecycle(s: Storage) {
    let t = tenant(&s).await;
    let outbox = s.mail_outbox();
    for i in 0..3 {
        outbox.enqueue(&mail(Some(t.id), i), t0() + Duration::seconds(i as i64)).await.unwrap();
    }
    outbox.enqueue(&mail(None, 9), t0()).await.unwrap();
    let page = outbox.list(Some(t.id), 0, 2).await.unwrap();
    assert_eq!((page.items.len(), page.total), (2, 3));
    assert_eq!(page.items[0].to_address, "user2@example.jp");
    assert_eq!(outbox.list(None, 0, 10).await.unwrap().total, 4);

    let lease = t0() + Duration::minutes(5);
    let claimed = outbox.claim_unsent(2, t0(), lease).await.unwrap();
    assert_eq!(claimed.len(), 2);
    // Claimed mails are not handed out again while the lease runs.
    let rest = outbox.claim_unsent(10, t0(), lease).await.unwrap();
    assert_eq!(rest.len(), 2);
    assert!(outbox.claim_unsent(10, t0(), lease).await.unwrap().is_empty());

    outbox.mark_sent(claimed[0].id, t0()).await.unwrap();
    outbox.mark_failed(claimed[1].id, "421 try later", t0() + Duration::minutes(1)).await.unwrap();
    let failed = outbox.get(claimed[1].id).await.unwrap();
    assert_eq!((failed.attempts, failed.last_error.as_deref()), (1, Some("421 try later")));
    assert_eq!(outbox.get(claimed[0].id).await.unwrap().sent_at, Some(t0()));

    // After the retry time (and other leases' expiry) the unsent ones come back; a sent
    // one never does.
    let again = outbox.claim_unsent(10, lease, lease + Duration::minutes(5)).await.unwrap();
    let ids: HashSet<_> = again.iter().map(|m| m.id).collect();
    assert_eq!(ids.len(), 3);
    assert!(!ids.contains(&claimed[0].id));

    // Mails that keep failing are left for an operator.
    for _ in 1..MAIL_MAX_ATTEMPTS {
        outbox.mark_failed(failed.id, "550", t0()).await.unwrap();
    }
    let later = lease + Duration::hours(1);
    let last = outbox.claim_unsent(10, later, later + Duration::minutes(5)).await.unwrap();
    assert!(last.iter().all(|m| m.id != failed.id));
}

async fn concurrent_claims_do_not_overlap(s: Storage) {
    let outbox = s.mail_outbox();
    for i in 0..30 {
        outbox.enqueue(&mail(None, i), t0()).await.unwrap();
    }
    let claimers = (0..6).map(|_| {
        let s = s.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = s.mail_outbox().claim_unsent(4, t0(), t0() + Duration::minutes(5)).await.unwrap();
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch.into_iter().map(|m| m.id));
            }
        })
    });
    let all: Vec<_> = futures::future::join_all(claimers).await.into_iter().flat_map(|r| r.unwrap()).collect();
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!((all.len(), distinct.len()), (30, 30));
}
