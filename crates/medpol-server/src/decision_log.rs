//! The decision log's writer: decisions are queued by the request handlers
//! and written by one task in batches (group commit). A handler answers only
//! once its decision's batch is committed, so an acknowledged decision is on
//! disk; the batching keeps that to one transaction for many requests.
//!
//! Back-pressure: the queue is bounded. When it is full the handler does not
//! wait and does not drop the record: it answers 503 with `Retry-After`, and
//! no decision is acknowledged.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::store::{DecisionRecord, Store};

type Ack = oneshot::Sender<Result<(), String>>;

#[derive(Clone)]
pub struct DecisionLog {
    tx: mpsc::Sender<(DecisionRecord, Ack)>,
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("the decision log is full; retry shortly")]
    Full,
    #[error("the decision log is closed")]
    Closed,
    #[error("the decision could not be recorded: {0}")]
    Write(String),
}

/// The most decisions one transaction writes.
const MAX_BATCH: usize = 512;
/// How long the writer waits for more decisions before committing a batch.
const LINGER: Duration = Duration::from_millis(2);

impl DecisionLog {
    /// Starts the writer; it ends when every `DecisionLog` handle is dropped
    /// and the queue is drained (so a graceful shutdown flushes it).
    pub fn start(store: Store, capacity: usize) -> (DecisionLog, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel::<(DecisionRecord, Ack)>(capacity.max(1));
        let handle = tokio::spawn(async move {
            let mut batch: Vec<(DecisionRecord, Ack)> = Vec::with_capacity(MAX_BATCH);
            while let Some(first) = rx.recv().await {
                batch.push(first);
                let deadline = tokio::time::Instant::now() + LINGER;
                while batch.len() < MAX_BATCH {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(item)) => batch.push(item),
                        _ => break,
                    }
                }
                let records: Vec<DecisionRecord> = batch.iter().map(|(r, _)| r.clone()).collect();
                let mut result = store.insert_decisions(&records).await;
                if result.is_err() {
                    // One retry covers a transient lock or connection hiccup.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    result = store.insert_decisions(&records).await;
                }
                let outcome = result.map_err(|e| format!("{e:#}"));
                if let Err(e) = &outcome {
                    tracing::error!(error = %e, count = records.len(), "decision log write failed");
                }
                for (_, ack) in batch.drain(..) {
                    let _ = ack.send(outcome.clone());
                }
            }
        });
        (DecisionLog { tx }, handle)
    }

    /// Queues a decision and waits until it is committed.
    pub async fn record(&self, record: DecisionRecord) -> Result<(), LogError> {
        let (ack, done) = oneshot::channel();
        self.tx.try_send((record, ack)).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => LogError::Full,
            mpsc::error::TrySendError::Closed(_) => LogError::Closed,
        })?;
        match done.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(LogError::Write(e)),
            Err(_) => Err(LogError::Closed),
        }
    }
}
