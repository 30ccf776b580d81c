//! The single writer connection. Every insert, update and delete goes through one task that
//! owns it, so writers never contend for SQLite's lock and `SQLITE_BUSY` cannot reach a
//! request. Writes that arrive while a commit is running are committed together in the next
//! transaction (group commit), and each caller is answered only after its own transaction is
//! durable.

use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection, Executor};
use tokio::sync::{mpsc, oneshot};

use super::integrations::{self, WriteOutcome, WriteRequest};
use super::tokens::{TokenWrite, TokenWriteOutcome};
use super::StoreError;

/// Writes waiting for the writer, beyond which callers wait to enqueue.
const QUEUE_CAPACITY: usize = 1024;
/// Most writes committed in one transaction.
const MAX_BATCH: usize = 256;
/// Interval between background WAL checkpoints.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(500);

type Reply = oneshot::Sender<Result<WriteOutcome, StoreError>>;

/// A handle to the writer task. Cloning it is cheap; the task stops when every handle is gone.
#[derive(Clone)]
pub(crate) struct Writer {
    queue: mpsc::Sender<(WriteRequest, Reply)>,
}

impl Writer {
    /// Starts the writer task on `connection` and a checkpoint task on its own connection.
    pub(crate) fn start(connection: SqliteConnection, options: SqliteConnectOptions) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(run(connection, receiver));
        tokio::spawn(checkpoint_periodically(options, queue.downgrade()));
        Self { queue }
    }

    /// Runs `request` in the next transaction and waits until it is committed.
    pub(crate) async fn write(&self, request: WriteRequest) -> Result<WriteOutcome, StoreError> {
        let (reply, outcome) = oneshot::channel();
        self.queue
            .send((request, reply))
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        outcome.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// Runs a token write in the next transaction and waits until it is committed.
    pub(crate) async fn write_tokens(
        &self,
        write: TokenWrite,
    ) -> Result<TokenWriteOutcome, StoreError> {
        match self.write(WriteRequest::Tokens(write)).await? {
            WriteOutcome::Tokens(outcome) => Ok(outcome),
            _ => unreachable!("a token write has a token outcome"),
        }
    }
}

async fn run(
    mut connection: SqliteConnection,
    mut receiver: mpsc::Receiver<(WriteRequest, Reply)>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        commit_batch(&mut connection, &mut batch).await;
    }
    if let Err(error) = connection.close().await {
        tracing::warn!(error = %error, "failed to close the writer connection");
    }
}

/// Runs every request of `batch` in one transaction and answers each caller. A request that
/// fails on a constraint fails alone, because SQLite undoes just that statement. Any other
/// failure, of a statement or of the commit, rolls back the whole transaction and fails every
/// request in it, so no caller is told of a write that is not on disk.
async fn commit_batch(connection: &mut SqliteConnection, batch: &mut Vec<(WriteRequest, Reply)>) {
    let outcomes = match run_transaction(connection, batch).await {
        Ok(outcomes) => outcomes,
        Err(error) => {
            tracing::error!(error = %error, writes = batch.len(), "failed to commit writes");
            if let Err(error) = connection.execute("ROLLBACK").await {
                tracing::debug!(error = %error, "rollback after a failed commit did nothing");
            }
            let error = StoreError::Unavailable(Arc::new(error));
            batch.iter().map(|_| Err(error.clone())).collect()
        }
    };
    for ((_, reply), outcome) in batch.drain(..).zip(outcomes) {
        // A caller that gave up (its request was cancelled) no longer needs the answer.
        let _ = reply.send(outcome);
    }
}

async fn run_transaction(
    connection: &mut SqliteConnection,
    batch: &[(WriteRequest, Reply)],
) -> Result<Vec<Result<WriteOutcome, StoreError>>, sqlx::Error> {
    connection.execute("BEGIN IMMEDIATE").await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for (request, _) in batch {
        match integrations::apply(connection, request).await {
            Ok(outcome) => outcomes.push(Ok(outcome)),
            Err(error) if is_constraint_violation(&error) => outcomes.push(Err(error.into())),
            Err(error) => return Err(error),
        }
    }
    connection.execute("COMMIT").await?;
    Ok(outcomes)
}

fn is_constraint_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}

/// Moves committed WAL pages into the database file off the request path, so no commit pays
/// for a checkpoint. `PASSIVE` never blocks the writer or readers. Stops with the writer.
async fn checkpoint_periodically(
    options: SqliteConnectOptions,
    writer: mpsc::WeakSender<(WriteRequest, Reply)>,
) {
    let mut connection = match SqliteConnection::connect_with(&options).await {
        Ok(connection) => connection,
        Err(error) => {
            tracing::error!(error = %error, "failed to open the checkpoint connection");
            return;
        }
    };
    let mut ticks = tokio::time::interval(CHECKPOINT_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failures = 0u64;
    loop {
        ticks.tick().await;
        if writer.upgrade().is_none() {
            break;
        }
        match connection.execute("PRAGMA wal_checkpoint(PASSIVE)").await {
            Ok(_) => failures = 0,
            Err(error) => {
                failures += 1;
                // Logs the first failure of a run and then one in a hundred.
                if failures % 100 == 1 {
                    tracing::warn!(error = %error, failures, "WAL checkpoint failed");
                }
            }
        }
    }
    let _ = connection.close().await;
}
