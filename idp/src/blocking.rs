//! A bounded pool for CPU-heavy work (Argon2id, RSA key generation, signing): tokio's
//! blocking threads behind a semaphore, so the async runtime never stalls and a burst
//! queues instead of exhausting memory.

use std::sync::Arc;

use tokio::sync::Semaphore;

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("the blocking pool is shut down")]
    Closed,
    #[error("a blocking task panicked")]
    Panicked,
}

#[derive(Clone, Debug)]
pub struct BlockingPool {
    permits: Arc<Semaphore>,
}

impl BlockingPool {
    /// `size` 0 means one slot per core.
    pub fn new(size: usize) -> Self {
        let size = match size {
            0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            n => n,
        };
        Self { permits: Arc::new(Semaphore::new(size)) }
    }

    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, PoolError> {
        let _permit = self.permits.acquire().await.map_err(|_| PoolError::Closed)?;
        tokio::task::spawn_blocking(work).await.map_err(|_| PoolError::Panicked)
    }
}
