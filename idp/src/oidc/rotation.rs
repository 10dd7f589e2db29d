//! Refresh-token rotations, written in batches by one task per node: while one batch is
//! in the database, the next gathers, so under load a transaction carries many rotations
//! and an idle node still writes each at once (no timer, no added latency).

use std::sync::OnceLock;

use mamori_storage::model::{RefreshError, RefreshRotation, RefreshToken, Rotated, User};
use mamori_storage::{Storage, StorageError};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

/// Most rotations one transaction carries: enough to amortise its round trips, few
/// enough that the write lock is held briefly.
const BATCH: usize = 64;

type Reply = oneshot::Sender<Result<Rotated, StorageError>>;

pub struct RefreshRotator {
    storage: Storage,
    queue: OnceLock<mpsc::Sender<(RefreshRotation, OffsetDateTime, Reply)>>,
}

impl RefreshRotator {
    pub fn new(storage: Storage) -> Self {
        RefreshRotator { storage, queue: OnceLock::new() }
    }

    /// Spends the presented token and stores its successor (see
    /// [`mamori_storage::OidcGrants::rotate_refresh_tokens`]); also answers the grant's
    /// user as the same transaction read it.
    pub async fn rotate(&self, rotation: RefreshRotation, now: OffsetDateTime) -> Result<(RefreshToken, Option<Box<User>>), RefreshError> {
        let (lookup, client) = (rotation.lookup_hash.clone(), rotation.client_id.clone());
        let (reply, answer) = oneshot::channel();
        // Started on first use, so that only a serving runtime runs the task.
        let queue = self.queue.get_or_init(|| {
            let (queue, jobs) = mpsc::channel(4 * BATCH);
            tokio::spawn(run(self.storage.clone(), jobs));
            queue
        });
        queue.send((rotation, now, reply)).await.map_err(|_| StorageError::Unavailable)?;
        match answer.await.map_err(|_| StorageError::Unavailable)?? {
            Rotated::Spent { token, user } => Ok((token, user)),
            Rotated::Refused => Err(RefreshError::Refused),
            Rotated::NotSpent => Err(self.storage.oidc_grants().why_not_rotated(&lookup, &client, now).await),
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
