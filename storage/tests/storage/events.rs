//! Login history paging.

use mamori_storage::Storage;
use mamori_storage::model::{LoginResult, NewLoginEvent};
use time::Duration;

use crate::harness::{t0, tenant, user};

on_both!(history_is_paged_with_total);

async fn history_is_paged_with_total(s: Storage) {
    let t = tenant(&s).await;
    let u = user(&s, &t).await;
    let other = user(&s, &t).await;
    for i in 0..57 {
        let result = if i % 10 == 3 { LoginResult::WrongPassword } else { LoginResult::Success };
        let event = NewLoginEvent {
            tenant_id: t.id,
            user_id: Some(u.id),
            attempted_login_id: Some(u.login_id.clone()),
            occurred_at: t0() + Duration::minutes(i),
            source_ip: "192.0.2.10".into(),
            result,
            factors: vec!["hwk".into(), "pwd".into()],
            user_agent: Some("Mozilla/5.0".into()),
            detail: None,
        };
        s.login_events().record(&event).await.unwrap();
    }
    // Someone else's event, and an event of a future version's kind.
    let foreign = NewLoginEvent {
        tenant_id: t.id,
        user_id: Some(other.id),
        attempted_login_id: None,
        occurred_at: t0(),
        source_ip: "2001:db8::1".into(),
        result: LoginResult::Other("passkey-mismatch".into()),
        factors: vec![],
        user_agent: None,
        detail: Some("x".into()),
    };
    let recorded = s.login_events().record(&foreign).await.unwrap();
    assert_eq!(recorded.result.as_str(), "passkey-mismatch");

    let events = s.login_events();
    let first = events.list_for_user(u.id, t0(), 0, 20).await.unwrap();
    assert_eq!((first.items.len(), first.total), (20, 57));
    // Newest first.
    assert_eq!(first.items[0].occurred_at, t0() + Duration::minutes(56));
    assert_eq!(first.items[0].factors, ["hwk", "pwd"]);
    let last = events.list_for_user(u.id, t0(), 40, 20).await.unwrap();
    assert_eq!((last.items.len(), last.total), (17, 57));
    assert_eq!(last.items.last().unwrap().occurred_at, t0());
    assert_eq!(last.items.iter().filter(|e| e.result == LoginResult::WrongPassword).count(), 2);

    // "The last month": only events since a cut-off count.
    let recent = events.list_for_user(u.id, t0() + Duration::minutes(50), 0, 20).await.unwrap();
    assert_eq!((recent.items.len(), recent.total), (7, 7));

    let tenant_wide = events.list_for_tenant(t.id, t0(), 0, 100).await.unwrap();
    assert_eq!(tenant_wide.total, 58);
    let other_page = events.list_for_user(other.id, t0(), 0, 20).await.unwrap();
    assert_eq!(other_page.items, vec![recorded]);

    assert_eq!(events.purge_before(t0() + Duration::minutes(10)).await.unwrap(), 11);
}
