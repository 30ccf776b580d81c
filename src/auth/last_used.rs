//! Recording when tokens were used, off the request path: checks send uses to a channel,
//! and a task writes them through the store's single writer.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::domain::TokenId;
use crate::store::TokenStore;

/// Uses waiting to be written, beyond which new ones are dropped.
const QUEUE_CAPACITY: usize = 1024;
/// Most uses written in one transaction.
const MAX_BATCH: usize = 256;

/// The sending side of the recorder. The task stops when the recorder is dropped.
pub struct LastUsedRecorder {
    queue: mpsc::Sender<(TokenId, DateTime<Utc>)>,
    dropped: AtomicU64,
}

impl LastUsedRecorder {
    /// Starts the task that writes recorded uses to `store`. Needs a Tokio runtime.
    pub fn start(store: TokenStore) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(write_uses(store, receiver));
        Self {
            queue,
            dropped: AtomicU64::new(0),
        }
    }

    /// Queues a use without waiting. When the queue is full the use is dropped, which only
    /// leaves `last_used_at` older than it could be.
    pub fn record(&self, id: TokenId, used_at: DateTime<Utc>) {
        if self.queue.try_send((id, used_at)).is_err() {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            // Logs the first drop and then one in a thousand.
            if dropped % 1000 == 1 {
                tracing::warn!(dropped, "last-used queue is full; dropped token uses");
            }
        }
    }
}

async fn write_uses(store: TokenStore, mut receiver: mpsc::Receiver<(TokenId, DateTime<Utc>)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let uses = std::mem::take(&mut batch);
        let count = uses.len();
        if let Err(error) = store.record_last_used(uses).await {
            tracing::warn!(error = %error, uses = count, "failed to record token last-used times");
        }
    }
}
