//! The token endpoint's writes that must happen once, in batches, by one task per node:
//! refresh-token rotations, and authorization codes redeemed with the refresh token they
//! come with. While one batch is in the database the next gathers, so under load a
//! transaction carries many requests and an idle node still writes each at once (no
//! timer, no added latency). On SQLite the task writes through a connection of its own,
//! whose page cache stays warm (`Storage::dedicated_writer`).

use std::sync::Mutex;

use mamori_storage::model::{
    AuthorizationCode, CodeRedeemError, CodeRedemption, Redeemed, RefreshError, RefreshRotation, RefreshToken, Rotated, User,
};
use mamori_storage::{Storage, StorageError};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

/// Most requests one transaction carries: enough to amortise its round trips, few enough
/// that the write lock is held briefly.
const BATCH: usize = 64;

type Reply<T> = oneshot::Sender<Result<T, StorageError>>;

enum Job {
    Rotate(RefreshRotation, Reply<Rotated>),
    Redeem(CodeRedemption, Reply<Redeemed>),
}

type Queue = mpsc::Sender<(Job, OffsetDateTime)>;

pub struct TokenWriter {
    storage: Storage,
    queue: Mutex<Option<Queue>>,
}

impl TokenWriter {
    pub fn new(storage: Storage) -> Self {
        TokenWriter { storage, queue: Mutex::new(None) }
    }

    /// Spends the presented token and stores its successor (see
    /// [`mamori_storage::OidcGrants::rotate_refresh_tokens`]); also answers the grant's
    /// user as the same transaction read it.
    pub async fn rotate(&self, rotation: RefreshRotation, now: OffsetDateTime) -> Result<(RefreshToken, Option<Box<User>>), RefreshError> {
        let (lookup, client) = (rotation.lookup_hash.clone(), rotation.client_id.clone());
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Rotate(rotation, reply), now).await?;
        match answer.await.map_err(|_| StorageError::Unavailable)?? {
            Rotated::Spent { token, user } => Ok((token, user)),
            Rotated::Refused => Err(RefreshError::Refused),
            Rotated::NotSpent => Err(self.storage.oidc_grants().why_not_rotated(&lookup, &client, now).await),
        }
    }

    /// Spends the presented code and stores the refresh token its `refresh` answers (see
    /// [`mamori_storage::OidcGrants::redeem_codes`]); answers the code, the grant's user
    /// as the same transaction read it, and whether that refresh token is stored. A code
    /// used before revokes its grant.
    pub async fn redeem(
        &self,
        redemption: CodeRedemption,
        now: OffsetDateTime,
    ) -> Result<(AuthorizationCode, Option<Box<User>>, bool), CodeRedeemError> {
        let lookup = redemption.lookup_hash.clone();
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Redeem(redemption, reply), now).await?;
        match answer.await.map_err(|_| StorageError::Unavailable)?? {
            Redeemed::Spent { code, user, refresh_stored } => Ok((code, user, refresh_stored)),
            Redeemed::NotSpent => Err(self.storage.oidc_grants().why_not_redeemed(&lookup, now).await),
        }
    }

    async fn submit(&self, job: Job, now: OffsetDateTime) -> Result<(), StorageError> {
        self.queue().send((job, now)).await.map_err(|_| StorageError::Unavailable)
    }

    /// The writer task's queue. The task starts on first use, so that only a serving
    /// runtime runs it, and again if it ever ended (a panic in a batch), so that one bad
    /// batch costs its own requests a 503 and not every token request until a restart.
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

async fn run(storage: Storage, mut jobs: mpsc::Receiver<(Job, OffsetDateTime)>) {
    let mut batch = Vec::with_capacity(BATCH);
    while jobs.recv_many(&mut batch, BATCH).await > 0 {
        // The latest clock reading of the batch: a token or code that expired a moment
        // before any of its requests is not spent.
        let now = batch.iter().map(|(_, now)| *now).max().unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let (mut rotations, mut rotation_replies, mut redemptions, mut redemption_replies) = (vec![], vec![], vec![], vec![]);
        for (job, _) in batch.drain(..) {
            match job {
                Job::Rotate(rotation, reply) => {
                    rotations.push(rotation);
                    rotation_replies.push(reply);
                }
                Job::Redeem(redemption, reply) => {
                    redemptions.push(redemption);
                    redemption_replies.push(reply);
                }
            }
        }
        if !rotations.is_empty() {
            answer(rotation_replies, storage.oidc_grants().rotate_refresh_tokens(rotations, now).await, "refresh-token rotation");
        }
        if !redemptions.is_empty() {
            answer(redemption_replies, storage.oidc_grants().redeem_codes(redemptions, now).await, "code redemption");
        }
    }
}

/// Each request's own answer, or the batch's error to all of them.
fn answer<T>(replies: Vec<Reply<T>>, outcome: Result<Vec<T>, StorageError>, what: &str) {
    match outcome {
        Ok(answers) => {
            for (reply, answer) in replies.into_iter().zip(answers) {
                let _ = reply.send(Ok(answer));
            }
        }
        Err(err) => {
            tracing::warn!(error = %err, "{what} batch failed");
            for reply in replies {
                let _ = reply.send(Err(err.clone()));
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
        let rotator = TokenWriter::new(storage.clone());

        let failed = rotator.rotate(rotation("a", "a2", |_| panic!("a bug in one batch")), now).await;
        assert!(matches!(failed, Err(RefreshError::Storage(StorageError::Unavailable))), "{failed:?}");
        // Nothing of the failed batch was kept, and the next refresh is served.
        assert!(grants.find_refresh_token(&token_lookup_hash("a")).await.expect("reads").is_some_and(|t| t.rotated_at.is_none()));
        let (spent, owner) = rotator.rotate(rotation("b", "b2", |_| true), now).await.expect("served after the panic");
        assert_eq!((spent.grant_id, owner.map(|u| u.id)), (grant.id, Some(user.id)));
        assert!(grants.find_refresh_token(&token_lookup_hash("b2")).await.expect("reads").is_some());
    }
}
