//! The decision log's writer: decisions are queued by the request handlers
//! and written by one task in batches (group commit). A handler answers only
//! once its decision's batch is committed, so an acknowledged decision is on
//! disk; the batching keeps that to one transaction for many requests.
//!
//! Back-pressure: the queue is bounded. When it is full the handler does not
//! wait and does not drop the record: it answers 503 with `Retry-After`, and
//! no decision is acknowledged.

use std::time::Duration;

use hmac::{Hmac, Mac};
use medpol_core::determination::{Coverage, Determination};
use medpol_core::Request;
use sha2::Sha256;
use tokio::sync::{mpsc, oneshot};

use crate::store::{self, DecisionRecord, Store};

/// The key of request digests. It lives outside the database (a file or the
/// environment): a digest keyed by something the database also holds can be
/// reversed by anyone who reads the database, by hashing each candidate
/// diagnosis. Without a key, no digest is kept.
#[derive(Clone)]
pub struct DigestKey(Vec<u8>);

impl std::fmt::Debug for DigestKey {
    // Never print the key itself.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DigestKey({} bytes)", self.0.len())
    }
}

/// The shortest key accepted (bytes).
pub const MIN_DIGEST_KEY: usize = 32;

impl DigestKey {
    pub fn new(key: &[u8]) -> Result<DigestKey, String> {
        let key = key.trim_ascii();
        if key.len() < MIN_DIGEST_KEY {
            return Err(format!(
                "the decision digest key has {} bytes; it needs at least {MIN_DIGEST_KEY} (e.g. `openssl rand -hex 32`)",
                key.len()
            ));
        }
        Ok(DigestKey(key.to_vec()))
    }

    /// HMAC-SHA-256 of the canonical request, hex.
    pub fn digest(&self, canonical: &[u8]) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(canonical);
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// What the decision log keeps of a determination, as configured.
#[derive(Debug, Clone, Default)]
pub struct RecordPolicy {
    /// Keep diagnoses and indication-revealing statement paths
    /// (`--log-clinical`).
    pub keep_clinical: bool,
    /// The request digest's key; none, no digest.
    pub digest_key: Option<DigestKey>,
}

impl RecordPolicy {
    /// The decision log's record of a determination: what an audit and a
    /// replay need (who decided what, under which policy version, for which
    /// codes, product, setting and date), no patient identifiers (requests
    /// carry none), and nothing that reveals a diagnosis unless clinical data
    /// is kept: neither the diagnoses nor the path of a statement the policy
    /// chose by indication. See docs/decision-log.md.
    pub fn record_of(
        &self,
        request: &Request,
        d: &Determination<'_>,
        source: &str,
    ) -> anyhow::Result<DecisionRecord> {
        // The request's outcome: its strictest line, in the one order of strictness.
        let outcome = d
            .lines
            .iter()
            .map(|l| l.coverage)
            .fold(Coverage::NoPolicy, Coverage::stricter);
        // The record's JSON columns are written straight from the
        // determination (no JSON tree built and dropped per decision). Keys
        // in alphabetical order, as the log has always written them.
        #[derive(serde::Serialize)]
        struct PolicyOut<'a> {
            effective: chrono::NaiveDate,
            number: &'a str,
            payer: &'a str,
            title: &'a str,
            version: &'a str,
        }
        #[derive(serde::Serialize)]
        struct CitationOut<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            path: Option<&'a str>,
            policy: &'a str,
            section: &'a str,
            version: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            withheld: Option<&'static str>,
        }
        #[derive(serde::Serialize)]
        struct LineOut<'a> {
            citations: Vec<CitationOut<'a>>,
            code: &'a medpol_core::Code,
            coverage: Coverage,
            modifiers: &'a [medpol_core::code::Modifier],
            prior_auth: medpol_core::determination::PriorAuth,
            reasons: &'a [medpol_core::determination::Reason],
        }
        let mut keys: Vec<String> = Vec::new();
        let mut policies = Vec::new();
        for line in &d.lines {
            for p in &line.policies {
                let key = format!("{}/{}", p.payer, p.number);
                if !keys.contains(&key) {
                    keys.push(key);
                    policies.push(PolicyOut {
                        effective: p.effective,
                        number: p.number,
                        payer: p.payer,
                        title: p.title,
                        version: p.version,
                    });
                }
            }
        }
        let withhold = !self.keep_clinical && !request.diagnoses.is_empty();
        let lines: Vec<LineOut> = d
            .lines
            .iter()
            .map(|l| LineOut {
                citations: l
                    .citations
                    .iter()
                    .map(|c| {
                        let hide = withhold && c.names_indication;
                        CitationOut {
                            path: (!hide).then_some(c.path),
                            policy: c.policy,
                            section: c.section,
                            version: c.version,
                            withheld: hide.then_some("indication"),
                        }
                    })
                    .collect(),
                code: &l.code,
                coverage: l.coverage,
                modifiers: &l.modifiers,
                prior_auth: l.prior_auth,
                reasons: &l.reasons,
            })
            .collect();
        let raw = |v: String| serde_json::value::RawValue::from_string(v);
        let request_digest = match &self.digest_key {
            Some(key) => Some(key.digest(&serde_json::to_vec(request)?)),
            None => None,
        };
        Ok(DecisionRecord {
            // Time-ordered (v7): each insert lands at the end of the primary
            // key's B-tree instead of a random page of it, which a random id
            // would have to read back from disk once the log outgrows the cache.
            id: uuid::Uuid::now_v7().to_string(),
            decided_at: store::now(),
            source: source.to_string(),
            request_digest,
            payer: d.payer.to_string(),
            product: d.product.to_string(),
            setting: d.setting.id().to_string(),
            date_of_service: d.date.to_string(),
            outcome: outcome.id().to_string(),
            policy_keys: format!(",{},", keys.join(",")),
            policies: raw(serde_json::to_string(&policies)?)?,
            lines: raw(serde_json::to_string(&lines)?)?,
            clinical: if self.keep_clinical {
                Some(raw(serde_json::to_string(
                    &serde_json::json!({ "diagnoses": request.diagnoses }),
                )?)?)
            } else {
                None
            },
        })
    }
}

type Ack = oneshot::Sender<Result<(), String>>;

/// One caller's decisions (a determination: one; a CDS Hooks call: one per
/// order and setting), committed together and acknowledged once.
type Item = (Vec<DecisionRecord>, Ack);

#[derive(Clone)]
pub struct DecisionLog {
    tx: mpsc::Sender<Item>,
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

impl DecisionLog {
    /// Starts the writer; it ends when every `DecisionLog` handle is dropped
    /// and the queue is drained (so a graceful shutdown flushes it).
    pub fn start(store: Store, capacity: usize) -> (DecisionLog, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel::<Item>(capacity.max(1));
        let handle = tokio::spawn(async move {
            let mut batch: Vec<Item> = Vec::new();
            let mut records: Vec<DecisionRecord> = Vec::with_capacity(MAX_BATCH);
            while let Some(first) = rx.recv().await {
                // Natural group commit: take what queued up while the last
                // batch was being written, without waiting for more. Under
                // load a batch is as big as the traffic of one fsync; when
                // idle a decision is written at once.
                let mut count = first.0.len();
                batch.push(first);
                while count < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(item) => {
                            count += item.0.len();
                            batch.push(item);
                        }
                        Err(_) => break,
                    }
                }
                records.clear();
                records.extend(batch.iter().flat_map(|(r, _)| r.iter().cloned()));
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
        self.record_all(vec![record]).await
    }

    /// Queues decisions that answer one call and waits until all of them are
    /// committed, in one transaction: all or none.
    pub async fn record_all(&self, records: Vec<DecisionRecord>) -> Result<(), LogError> {
        if records.is_empty() {
            return Ok(());
        }
        let (ack, done) = oneshot::channel();
        self.tx.try_send((records, ack)).map_err(|e| match e {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DecisionFilter;

    fn record(id: &str) -> DecisionRecord {
        crate::store::tests::record(id, &store::now())
    }

    /// A hook call's decisions are committed together: all or none.
    #[tokio::test]
    async fn one_call_is_one_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite://{}", dir.path().join("t.db").display()))
            .await
            .unwrap();
        let (log, writer) = DecisionLog::start(store.clone(), 4);
        log.record_all(vec![record("a"), record("b"), record("c")])
            .await
            .unwrap();
        // "a" again: the whole call fails, "d" included.
        let e = log.record_all(vec![record("d"), record("a")]).await;
        assert!(matches!(e, Err(LogError::Write(_))), "{e:?}");
        log.record_all(Vec::new()).await.unwrap();
        drop(log);
        writer.await.unwrap();
        let all = DecisionFilter {
            limit: 100,
            ..Default::default()
        };
        let mut ids: Vec<String> = store
            .decisions(&all)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        ids.sort();
        assert_eq!(ids, ["a", "b", "c"]);
    }

    #[test]
    fn digests_are_hmac_sha256() {
        // RFC 4231, test case 6: a key longer than the block.
        let key = DigestKey::new(&[0xaa; 131]).unwrap();
        assert_eq!(
            key.digest(b"Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        assert!(DigestKey::new(b"short").is_err());
        assert!(!format!("{key:?}").contains("aa"));
    }
}
