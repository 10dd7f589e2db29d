//! Refresh-token rotations, written in batches by one task per node: while one batch is
//! in the database, the next gathers, so under load a transaction carries many rotations
//! and an idle node still writes each at once (no timer, no added latency).

use std::sync::Mutex;

use mamori_storage::model::{RefreshError, RefreshRotation, RefreshToken, Rotated, User};
use mamori_storage::{Storage, StorageError};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

/// Most rotations one transaction carries: enough to amortise its round trips, few
/// enough that the write lock is held briefly.
const BATCH: usize = 64;

type Reply = oneshot::Sender<Result<Rotated, StorageError>>;
type Queue = mpsc::Sender<(RefreshRotation, OffsetDateTime, Reply)>;

pub struct RefreshRotator {
    storage: Storage,
    queue: Mutex<Option<Queue>>,
}

impl RefreshRotator {
    pub fn new(storage: Storage) -> Self {
        RefreshRotator { storage, queue: Mutex::new(None) }
    }

    /// Spends the presented token and stores its successor (see
    /// [`mamori_storage::OidcGrants::rotate_refresh_tokens`]); also answers the grant's
    /// user as the same transaction read it.
    pub async fn rotate(&self, rotation: RefreshRotation, now: OffsetDateTime) -> Result<(RefreshToken, Option<Box<User>>), RefreshError> {
        let (lookup, client) = (rotation.lookup_hash.clone(), rotation.client_id.clone());
        let (reply, answer) = oneshot::channel();
        self.queue().send((rotation, now, reply)).await.map_err(|_| StorageError::Unavailable)?;
        match answer.await.map_err(|_| StorageError::Unavailable)?? {
            Rotated::Spent { token, user } => Ok((token, user)),
            Rotated::Refused => Err(RefreshError::Refused),
            Rotated::NotSpent => Err(self.storage.oidc_grants().why_not_rotated(&lookup, &client, now).await),
        }
    }

    /// The writer task's queue. The task starts on first use, so that only a serving
    /// runtime runs it, and again if it ever ended (a panic in a batch), so that one bad
    /// batch costs its own requests a 503 and not every refresh until a restart.
    fn queue(&self) -> Queue {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        match queue.as_ref() {
            Some(live) if !live.is_closed() => live.clone(),
            _ => {
                let (sender, jobs) = mpsc::channel(4 * BATCH);
                tokio::spawn(run(self.storage.clone(), jobs));
                *queue = Some(sender.clone());
                sender
            }
        }
    }
}

async fn run(storage: Storage, mut jobs: mpsc::Receiver<(RefreshRotation, OffsetDateTime, Reply)>) {
    let mut batch = Vec::with_capacity(BATCH);
    while jobs.recv_many(&mut batch, BATCH).await > 0 {
        // The latest clock reading of the batch: a token that expired a moment before any
        // of its requests is not spent.
        let now = batch.iter().map(|(_, now, _)| *now).max().unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let (rotations, replies): (Vec<_>, Vec<_>) = batch.drain(..).map(|(r, _, reply)| (r, reply)).unzip();
        match storage.oidc_grants().rotate_refresh_tokens(rotations, now).await {
            Ok(answers) => {
                for (reply, answer) in replies.into_iter().zip(answers) {
                    let _ = reply.send(Ok(answer));
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "refresh-token rotation batch failed");
                for reply in replies {
                    let _ = reply.send(Err(err.clone()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use mamori_storage::model::{LoginMethod, NewUser, TenantPolicy};
    use mamori_storage::token_lookup_hash;

    use super::*;

    fn rotation(lookup: &str, successor: &str, accept: impl FnOnce(&RefreshToken) -> bool + Send + 'static) -> RefreshRotation {
        RefreshRotation {
            lookup_hash: token_lookup_hash(lookup),
            client_id: "shop".to_owned(),
            successor_hash: token_lookup_hash(successor),
            successor_expires_at: OffsetDateTime::now_utc() + time::Duration::days(1),
            accept: Box::new(accept),
        }
    }

    #[tokio::test]
    async fn a_panicking_batch_costs_only_its_own_requests() {
        let storage = Storage::connect("sqlite::memory:").await.expect("opens");
        storage.migrate().await.expect("migrates");
        let now = OffsetDateTime::now_utc();
        let tenant = storage.tenants().create("t", "T", &TenantPolicy::default(), now).await.expect("tenant");
        let user = storage.users().create(&NewUser::new(tenant.id, "u", LoginMethod::CertPassword), now).await.expect("user");
        let grants = storage.oidc_grants();
        let grant = grants.create_grant(tenant.id, "shop", Some(user.id), now).await.expect("grant");
        for name in ["a", "b"] {
            let expires = now + time::Duration::days(1);
            grants.insert_refresh_token(&token_lookup_hash(name), grant.id, &serde_json::json!({}), expires, now).await.expect("token");
        }
        let rotator = RefreshRotator::new(storage.clone());

        let failed = rotator.rotate(rotation("a", "a2", |_| panic!("a bug in one batch")), now).await;
        assert!(matches!(failed, Err(RefreshError::Storage(StorageError::Unavailable))), "{failed:?}");
        // Nothing of the failed batch was kept, and the next refresh is served.
        assert!(grants.find_refresh_token(&token_lookup_hash("a")).await.expect("reads").is_some_and(|t| t.rotated_at.is_none()));
        let (spent, owner) = rotator.rotate(rotation("b", "b2", |_| true), now).await.expect("served after the panic");
        assert_eq!((spent.grant_id, owner.map(|u| u.id)), (grant.id, Some(user.id)));
        assert!(grants.find_refresh_token(&token_lookup_hash("b2")).await.expect("reads").is_some());
    }
}
