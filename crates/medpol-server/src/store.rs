//! The store: payers, append-only policy revisions and the decision log, on
//! SQLite (embedded, the default) or PostgreSQL (shared by replicas), through
//! sqlx's `Any` driver with one SQL dialect both accept.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use chrono::{NaiveDate, SecondsFormat, Utc};
use medpol_core::model::{Catalog, Payer, Policy};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Row};

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    pub backend: Backend,
    /// Publications from this process, one at a time: they would only race
    /// each other for the next revision number.
    publishing: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// The database was too busy to take a write in time (SQLite's lock, a
/// PostgreSQL serialization failure, or too many concurrent publishers):
/// nothing was written; the caller may retry.
#[derive(Debug, thiserror::Error)]
#[error("the policy store is busy ({0}); nothing was written, retry shortly")]
pub struct StoreBusy(pub String);

/// Whether an error is the database being busy rather than broken.
pub fn is_busy(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<StoreBusy>().is_some()
            || c.downcast_ref::<sqlx::Error>().is_some_and(|e| match e {
                sqlx::Error::Database(db) => {
                    let m = db.message();
                    m.contains("database is locked")
                        || m.contains("database is busy")
                        || db.code().as_deref() == Some("40001")
                        || db.code().as_deref() == Some("40P01")
                }
                sqlx::Error::PoolTimedOut => true,
                _ => false,
            })
    })
}

/// One stored revision, as the catalogue is composed from it.
#[derive(Debug, Clone)]
pub struct Revision {
    pub seq: i64,
    pub revision: i64,
    pub in_force_from: Option<NaiveDate>,
    pub published_at: String,
    pub published_by: String,
    pub digest: String,
    pub policy: Policy,
}

/// A decision as the log keeps it (see docs/decision-log.md for what is kept
/// and why).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct DecisionRecord {
    pub id: String,
    /// RFC 3339, UTC, milliseconds.
    pub decided_at: String,
    /// `api` or `cds-hooks`.
    pub source: String,
    /// HMAC-SHA-256 of the request (canonical JSON) under a key kept outside
    /// the database (`--decision-digest-key-file`): whoever holds the request
    /// and the key can prove which request was decided; the database alone
    /// cannot be searched for a diagnosis. Absent when no key is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_digest: Option<String>,
    pub payer: String,
    pub product: String,
    pub setting: String,
    pub date_of_service: String,
    /// The strictest coverage among the lines.
    pub outcome: String,
    /// `payer/number` of every policy applied, comma-separated.
    #[serde(skip)]
    pub policy_keys: String,
    /// The policies applied, with the version of each (JSON).
    #[schema(value_type = Vec<Object>)]
    pub policies: Box<RawValue>,
    /// Per line: code, coverage, reasons, prior auth, citations (JSON). A
    /// citation of a statement chosen by diagnosis carries `withheld:
    /// "indication"` instead of its path unless clinical data is kept.
    #[schema(value_type = Vec<Object>)]
    pub lines: Box<RawValue>,
    /// Diagnoses, kept only when the service is configured to keep clinical data.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub clinical: Option<Box<RawValue>>,
}

/// Filters for reading the decision log.
#[derive(Debug, Clone, Default)]
pub struct DecisionFilter {
    pub from: Option<String>,
    pub to: Option<String>,
    pub policy: Option<String>,
    pub outcome: Option<String>,
    pub limit: i64,
}

pub fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn digest(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

fn policy_digest(policy: &Policy) -> anyhow::Result<(String, String)> {
    let doc = serde_json::to_string(policy).context("serializing a policy")?;
    let d = digest(doc.as_bytes());
    Ok((doc, d))
}

impl Store {
    /// Opens (creating if needed) the database and brings its schema up to date.
    pub async fn open(url: &str) -> anyhow::Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            anyhow::bail!("--database `{url}`: expected sqlite://FILE or postgres://USER@HOST/DB");
        };
        let url = if backend == Backend::Sqlite && !url.contains('?') {
            // Create the file when missing; WAL lets readers run beside the
            // log writer; FULL sync makes an acknowledged decision durable.
            format!("{url}?mode=rwc")
        } else {
            url.to_string()
        };
        let options =
            AnyConnectOptions::from_str(&url).with_context(|| format!("--database {url}"))?;
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 16 })
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        sqlx::query("PRAGMA journal_mode = WAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA synchronous = FULL")
                            .execute(&mut *conn)
                            .await?;
                        // 64 MiB of page cache per connection (the default is 2 MiB):
                        // the log's indexes stay in memory under load.
                        sqlx::query("PRAGMA cache_size = -65536")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA busy_timeout = 5000")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .with_context(|| format!("connecting to {url}"))?;
        match backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite").run(&pool).await,
            Backend::Postgres => sqlx::migrate!("migrations/postgres").run(&pool).await,
        }
        .context("migrating the database")?;
        Ok(Store {
            pool,
            backend,
            publishing: Default::default(),
        })
    }

    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// Makes the store hold the payers and policies of a file set: payers are
    /// replaced; a policy whose file differs from the revision last taken
    /// from the files gets a new revision, in force over the policy's whole
    /// life (as a file describes it), so it supersedes earlier revisions. An
    /// unchanged file changes nothing, whatever was published since.
    pub async fn sync(&self, catalog: &Catalog, by: &str) -> anyhow::Result<usize> {
        for payer in &catalog.payers {
            self.put_payer(payer).await?;
        }
        let mut added = 0;
        for policy in &catalog.policies {
            if self.publish(policy, None, by, true).await?.is_some() {
                added += 1;
            }
        }
        Ok(added)
    }

    pub async fn put_payer(&self, payer: &Payer) -> anyhow::Result<()> {
        let doc = serde_json::to_string(payer)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO payers (id, document, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at",
        )
        .bind(&payer.id)
        .bind(&doc)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM lines_of_business WHERE payer = $1")
            .bind(&payer.id)
            .execute(&mut *tx)
            .await?;
        for lob in &payer.lines_of_business {
            sqlx::query(
                "INSERT INTO lines_of_business (payer, id, name, market) VALUES ($1, $2, $3, $4)",
            )
            .bind(&payer.id)
            .bind(&lob.id)
            .bind(&lob.name)
            .bind(
                serde_json::to_value(lob.market)?
                    .as_str()
                    .unwrap_or("other")
                    .to_string(),
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Appends a revision of a policy, in one transaction. With
    /// `skip_if_same`, nothing is written when the latest revision has the
    /// same content. Returns the new revision number.
    pub async fn publish(
        &self,
        policy: &Policy,
        in_force_from: Option<NaiveDate>,
        by: &str,
        skip_if_same: bool,
    ) -> anyhow::Result<Option<i64>> {
        let (doc, digest) = policy_digest(policy)?;
        let _one_at_a_time = self.publishing.lock().await;
        // Two replicas may publish at once: the unique (payer, number,
        // revision) key makes one of them retry with the next number.
        for _ in 0..5 {
            // SQLite: take the write lock at the start (waiting up to the busy
            // timeout). A deferred transaction that reads first cannot be
            // upgraded once another connection has written, and fails at
            // once with "database is locked" whatever the timeout.
            let mut tx = match self.backend {
                Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
                Backend::Postgres => self.pool.begin().await?,
            };
            let last: i64 = sqlx::query(
                "SELECT COALESCE(MAX(revision), 0) FROM policy_revisions WHERE payer = $1 AND number = $2",
            )
            .bind(&policy.payer)
            .bind(&policy.number)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
            if skip_if_same {
                // Compare with what this publisher last published, so that
                // re-reading unchanged files does not shadow revisions
                // published since through the API.
                let mine = sqlx::query(
                    "SELECT digest FROM policy_revisions WHERE payer = $1 AND number = $2 AND published_by = $3 \
                     ORDER BY revision DESC LIMIT 1",
                )
                .bind(&policy.payer)
                .bind(&policy.number)
                .bind(by)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(row) = mine {
                    if row.try_get::<String, _>(0)? == digest {
                        return Ok(None);
                    }
                }
            }
            let revision = last + 1;
            let inserted = sqlx::query(
                "INSERT INTO policy_revisions \
                 (payer, number, revision, in_force_from, document, digest, published_at, published_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&policy.payer)
            .bind(&policy.number)
            .bind(revision)
            .bind(in_force_from.map(|d| d.to_string()))
            .bind(&doc)
            .bind(&digest)
            .bind(now())
            .bind(by)
            .execute(&mut *tx)
            .await;
            match inserted {
                Ok(_) => {
                    tx.commit().await?;
                    return Ok(Some(revision));
                }
                Err(e) if is_unique_violation(&e) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreBusy(format!(
            "{}/{} is being published by others at the same time",
            policy.payer, policy.number
        ))
        .into())
    }

    /// What has been published, as (number of revisions, highest sequence
    /// number): it changes whenever anything is published. The count matters:
    /// sequence numbers are handed out at insert, not at commit, so a revision
    /// can commit after one with a higher number and leave the maximum as it was.
    pub async fn published_state(&self) -> anyhow::Result<(i64, i64)> {
        let row = sqlx::query("SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM policy_revisions")
            .fetch_one(&self.pool)
            .await?;
        Ok((row.try_get::<i64, _>(0)?, row.try_get::<i64, _>(1)?))
    }

    pub async fn payers(&self) -> anyhow::Result<Vec<Payer>> {
        let rows = sqlx::query("SELECT document FROM payers ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let doc: String = r.try_get(0)?;
                serde_json::from_str(&doc).context("a stored payer does not parse")
            })
            .collect()
    }

    /// Every revision, oldest first.
    pub async fn revisions(&self) -> anyhow::Result<Vec<Revision>> {
        let rows = sqlx::query(
            "SELECT seq, revision, in_force_from, published_at, published_by, digest, document \
             FROM policy_revisions ORDER BY seq",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let in_force: Option<String> = r.try_get(2)?;
                let doc: String = r.try_get(6)?;
                Ok(Revision {
                    seq: r.try_get(0)?,
                    revision: r.try_get(1)?,
                    in_force_from: in_force.as_deref().map(NaiveDate::from_str).transpose()?,
                    published_at: r.try_get(3)?,
                    published_by: r.try_get(4)?,
                    digest: r.try_get(5)?,
                    policy: serde_json::from_str(&doc)
                        .context("a stored policy revision does not parse")?,
                })
            })
            .collect()
    }

    /// Writes decisions in one transaction, as multi-row inserts of at most
    /// `ROWS` rows: one round trip to the database per 32 decisions. The
    /// statements' text is built once per backend and row count, so each is
    /// prepared once per connection and reused.
    pub async fn insert_decisions(&self, records: &[DecisionRecord]) -> anyhow::Result<()> {
        let statements = match self.backend {
            Backend::Sqlite => &INSERT_DECISIONS.0,
            Backend::Postgres => &INSERT_DECISIONS.1,
        };
        let mut tx = self.pool.begin().await?;
        for chunk in records.chunks(INSERT_ROWS) {
            let mut q = sqlx::query(&statements[chunk.len() - 1]);
            for r in chunk {
                q = bind_decision(q, r);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn decisions(&self, f: &DecisionFilter) -> anyhow::Result<Vec<DecisionRecord>> {
        let mut sql = String::from(
            "SELECT id, decided_at, source, request_digest, payer, product, setting, date_of_service, \
             outcome, policy_keys, policies, lines, clinical FROM decisions WHERE 1 = 1",
        );
        let mut args: Vec<String> = Vec::new();
        let mut cond = |sql: &mut String, clause: &str, value: String| {
            args.push(value);
            sql.push_str(&clause.replace('?', &format!("${}", args.len())));
        };
        if let Some(v) = &f.from {
            cond(&mut sql, " AND decided_at >= ?", v.clone());
        }
        if let Some(v) = &f.to {
            cond(&mut sql, " AND decided_at < ?", v.clone());
        }
        if let Some(v) = &f.policy {
            cond(&mut sql, " AND policy_keys LIKE ?", format!("%,{v},%"));
        }
        if let Some(v) = &f.outcome {
            cond(&mut sql, " AND outcome = ?", v.clone());
        }
        sql.push_str(&format!(
            " ORDER BY decided_at DESC, id LIMIT {}",
            // Callers bound their own limits (the API at 10,000; a replay asks
            // for one more, to tell whether there were more).
            f.limit.clamp(1, 100_000)
        ));
        let mut q = sqlx::query(&sql);
        for a in &args {
            q = q.bind(a);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let text = |i: usize| -> anyhow::Result<String> { Ok(r.try_get::<String, _>(i)?) };
                let clinical: Option<String> = r.try_get(12)?;
                Ok(DecisionRecord {
                    id: text(0)?,
                    decided_at: text(1)?,
                    source: text(2)?,
                    request_digest: Some(text(3)?).filter(|d| !d.is_empty()),
                    payer: text(4)?,
                    product: text(5)?,
                    setting: text(6)?,
                    date_of_service: text(7)?,
                    outcome: text(8)?,
                    policy_keys: text(9)?,
                    policies: RawValue::from_string(text(10)?)?,
                    lines: RawValue::from_string(text(11)?)?,
                    clinical: clinical.map(RawValue::from_string).transpose()?,
                })
            })
            .collect()
    }

    /// Stores a CDS Hooks feedback message as received.
    pub async fn insert_feedback(
        &self,
        service: &str,
        client: &str,
        body: &serde_json::Value,
    ) -> anyhow::Result<()> {
        sqlx::query("INSERT INTO cds_feedback (id, service, received_at, client, body) VALUES ($1, $2, $3, $4, $5)")
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(service)
            .bind(now())
            .bind(client)
            .bind(body.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Feedback received for a service, oldest first.
    pub async fn feedback(&self, service: &str) -> anyhow::Result<Vec<serde_json::Value>> {
        let rows =
            sqlx::query("SELECT body FROM cds_feedback WHERE service = $1 ORDER BY received_at")
                .bind(service)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| Ok(serde_json::from_str(&r.try_get::<String, _>(0)?)?))
            .collect()
    }

    /// Records that a CDS client's token (`iss`, `jti`) was accepted, usable
    /// until `expires_at` (seconds since the epoch); false when it already was,
    /// here or by another replica, and has not expired: a replay. One
    /// statement on the call's path; expired ids are deleted apart
    /// ([`Store::forget_expired_tokens`]), and one still there is simply
    /// taken over.
    pub async fn remember_token(
        &self,
        iss: &str,
        jti: &str,
        expires_at: u64,
        now: u64,
    ) -> anyhow::Result<bool> {
        let inserted = sqlx::query(
            "INSERT INTO cds_token_ids (iss, jti, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (iss, jti) DO UPDATE SET expires_at = excluded.expires_at \
             WHERE cds_token_ids.expires_at < $4",
        )
        .bind(iss)
        .bind(jti)
        .bind(i64::try_from(expires_at).unwrap_or(i64::MAX))
        .bind(i64::try_from(now).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    /// Deletes the token ids whose tokens have expired; returns how many.
    pub async fn forget_expired_tokens(&self, now: u64) -> anyhow::Result<u64> {
        let done = sqlx::query("DELETE FROM cds_token_ids WHERE expires_at < $1")
            .bind(i64::try_from(now).unwrap_or(i64::MAX))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Deletes decisions older than `days` days; returns how many.
    pub async fn purge_decisions(&self, days: u32) -> anyhow::Result<u64> {
        let cutoff = (Utc::now() - chrono::Duration::days(days as i64))
            .to_rfc3339_opts(SecondsFormat::Millis, true);
        let done = sqlx::query("DELETE FROM decisions WHERE decided_at < $1")
            .bind(cutoff)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// The most rows one `INSERT INTO decisions` statement carries.
const INSERT_ROWS: usize = 32;

/// `INSERT INTO decisions` statements for 1..=INSERT_ROWS rows: SQLite's
/// (positional `?`: SQLite resolves each `$N` by walking its parameter
/// names, quadratic in a statement this wide) and PostgreSQL's (`$N`).
static INSERT_DECISIONS: std::sync::LazyLock<(Vec<String>, Vec<String>)> = std::sync::LazyLock::new(
    || {
        const COLUMNS: usize = 13;
        let sql = |rows: usize, postgres: bool| -> String {
            let mut sql = String::from(
                "INSERT INTO decisions (id, decided_at, source, request_digest, payer, product, setting, \
                 date_of_service, outcome, policy_keys, policies, lines, clinical) VALUES ",
            );
            for i in 0..rows {
                sql.push_str(if i > 0 { ",(" } else { "(" });
                for c in 0..COLUMNS {
                    if c > 0 {
                        sql.push(',');
                    }
                    if postgres {
                        sql.push_str(&format!("${}", i * COLUMNS + c + 1));
                    } else {
                        sql.push('?');
                    }
                }
                sql.push(')');
            }
            sql
        };
        (
            (1..=INSERT_ROWS).map(|n| sql(n, false)).collect(),
            (1..=INSERT_ROWS).map(|n| sql(n, true)).collect(),
        )
    },
);

fn bind_decision<'q>(q: AnyQuery<'q>, r: &'q DecisionRecord) -> AnyQuery<'q> {
    q.bind(&r.id)
        .bind(&r.decided_at)
        .bind(&r.source)
        // The column predates optional digests: empty means none.
        .bind(r.request_digest.as_deref().unwrap_or(""))
        .bind(&r.payer)
        .bind(&r.product)
        .bind(&r.setting)
        .bind(&r.date_of_service)
        .bind(&r.outcome)
        .bind(&r.policy_keys)
        .bind(r.policies.get())
        .bind(r.lines.get())
        .bind(r.clinical.as_deref().map(RawValue::get))
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            db.is_unique_violation()
                || db.message().contains("UNIQUE")
                || db.code().as_deref() == Some("23505")
        }
        _ => false,
    }
}

/// Composes the catalogue the engine decides from: every payer, and for each
/// policy number the revisions that are in force, each limited to the days
/// it decides. A later revision overrides an earlier one from its
/// `in_force_from` on (or entirely, when it has none).
pub fn compose(payers: Vec<Payer>, revisions: &[Revision]) -> (Catalog, Vec<Revision>) {
    use std::collections::BTreeMap;
    // (payer, number) -> [(revision index, from)] in publication order.
    // Per policy: (index into `revisions`, first day) in publication order.
    type Timeline = Vec<(usize, Option<NaiveDate>)>;
    let mut timelines: BTreeMap<(&str, &str), Timeline> = BTreeMap::new();
    for (i, r) in revisions.iter().enumerate() {
        let line = timelines
            .entry((&r.policy.payer, &r.policy.number))
            .or_default();
        match r.in_force_from {
            None => line.clear(),
            Some(from) => line.retain(|(j, f)| {
                let start = f.unwrap_or(revisions[*j].policy.effective);
                start < from
            }),
        }
        line.push((i, r.in_force_from));
    }
    let mut policies = Vec::new();
    let mut kept = Vec::new();
    for line in timelines.values() {
        for (k, (i, from)) in line.iter().enumerate() {
            let mut p = revisions[*i].policy.clone();
            p.in_force_from = *from;
            if let Some((_, Some(next))) = line.get(k + 1) {
                p.retired = Some(p.retired.map_or(*next, |r| r.min(*next)));
            }
            if p.window().1.is_some_and(|u| u <= p.window().0) {
                continue;
            }
            policies.push(p);
            kept.push(revisions[*i].clone());
        }
    }
    (Catalog { payers, policies }, kept)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A record for tests (of the store and of the log's writer).
    pub(crate) fn record(id: &str, decided_at: &str) -> DecisionRecord {
        DecisionRecord {
            id: id.into(),
            decided_at: decided_at.into(),
            source: "api".into(),
            request_digest: Some(digest(id.as_bytes())),
            payer: "bcbsma".into(),
            product: "commercial-ppo".into(),
            setting: "outpatient".into(),
            date_of_service: "2025-06-01".into(),
            outcome: "not-covered".into(),
            policy_keys: ",bcbsma/183,".into(),
            policies: RawValue::from_string("[]".into()).unwrap(),
            lines: RawValue::from_string("[]".into()).unwrap(),
            clinical: None,
        }
    }

    #[tokio::test]
    async fn batches_of_any_size_are_written_and_retention_deletes_old_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite://{}", dir.path().join("t.db").display()))
            .await
            .unwrap();
        let old =
            (Utc::now() - chrono::Duration::days(40)).to_rfc3339_opts(SecondsFormat::Millis, true);
        // 70 = two full multi-row inserts and six single rows.
        let mut batch: Vec<DecisionRecord> = (0..69)
            .map(|i| record(&format!("new-{i}"), &now()))
            .collect();
        batch.push(record("old", &old));
        store.insert_decisions(&batch).await.unwrap();
        let all = DecisionFilter {
            limit: 1000,
            ..Default::default()
        };
        assert_eq!(store.decisions(&all).await.unwrap().len(), 70);
        assert_eq!(store.purge_decisions(30).await.unwrap(), 1);
        let left = store.decisions(&all).await.unwrap();
        assert_eq!(left.len(), 69);
        assert!(left.iter().all(|r| r.id.starts_with("new-")));
        // A duplicate id fails the whole batch: nothing of it is written.
        let dup = vec![record("x", &now()), record("new-0", &now())];
        assert!(store.insert_decisions(&dup).await.is_err());
        assert_eq!(store.decisions(&all).await.unwrap().len(), 69);
    }

    #[tokio::test]
    async fn token_ids_are_refused_while_live_and_forgotten_after() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite://{}", dir.path().join("t.db").display()))
            .await
            .unwrap();
        assert!(store.remember_token("iss", "a", 100, 50).await.unwrap());
        assert!(
            !store.remember_token("iss", "a", 100, 60).await.unwrap(),
            "a replay"
        );
        assert!(
            store.remember_token("other", "a", 100, 60).await.unwrap(),
            "per issuer"
        );
        // Past its expiry the row no longer stands in the way.
        assert!(store.remember_token("iss", "a", 300, 200).await.unwrap());
        assert_eq!(store.forget_expired_tokens(250).await.unwrap(), 1);
        assert!(!store.remember_token("iss", "a", 400, 260).await.unwrap());
    }

    #[test]
    fn later_revisions_override_from_their_first_day() {
        let mut p: Policy = serde_json::from_value(serde_json::json!({
            "payer": "p", "number": "1", "title": "T", "effective": "2010-01-01",
            "statement": [{"id": "s", "products": ["all"], "status": "covered", "text": "t"}]
        }))
        .unwrap();
        let rev = |n: i64, from: Option<&str>, p: &Policy| Revision {
            seq: n,
            revision: n,
            in_force_from: from.map(|f| f.parse().unwrap()),
            published_at: String::new(),
            published_by: String::new(),
            digest: String::new(),
            policy: p.clone(),
        };
        let first = rev(1, None, &p);
        p.title = "T2".into();
        let second = rev(2, Some("2020-01-01"), &p);
        p.title = "T3".into();
        let third = rev(3, Some("2015-01-01"), &p);
        let (catalog, kept) = compose(vec![], &[first.clone(), second.clone()]);
        let windows: Vec<_> = catalog
            .policies
            .iter()
            .map(|p| (p.title.clone(), p.window()))
            .collect();
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(
            windows,
            [
                ("T".to_string(), (d("2010-01-01"), Some(d("2020-01-01")))),
                ("T2".to_string(), (d("2020-01-01"), None))
            ]
        );
        assert_eq!(kept.len(), 2);
        // A revision from an earlier day replaces what started after it.
        let (catalog, _) = compose(vec![], &[first.clone(), second, third]);
        let titles: Vec<_> = catalog.policies.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(titles, ["T", "T3"]);
        // A revision without a first day replaces them all.
        let (catalog, _) = compose(vec![], &[rev(4, Some("2020-01-01"), &p), first]);
        assert_eq!(catalog.policies.len(), 1);
        assert_eq!(catalog.policies[0].title, "T");
    }
}
