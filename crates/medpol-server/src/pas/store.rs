//! Prior-authorization requests, their event log, subscriptions, the
//! notification outbox and access tokens, in the service's store (SQLite or
//! PostgreSQL). Events are only inserted; an event and the notifications
//! announcing it are written in one transaction, so an acknowledged
//! decision is never lost and never goes unannounced.

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::Row;

use super::model::{Priority, RequestState, ReviewKind};
use crate::store::Store;

/// Times are stored as RFC 3339 UTC with seconds (`...Z`), so that text
/// order is time order on both databases.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn parse_ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

#[derive(Debug, Clone)]
pub struct StoredRequest {
    pub id: String,
    pub client: String,
    pub claim_key: String,
    pub kind: ReviewKind,
    pub parent: Option<String>,
    pub priority: Priority,
    pub received_at: DateTime<Utc>,
    pub payer: String,
    pub product: String,
    pub provider_ids: Vec<String>,
    pub bundle: String,
    pub digest: String,
}

/// An event as recorded.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Event {
    pub seq: i64,
    pub at: String,
    pub kind: String,
    pub actor: String,
    pub status: String,
    pub due_at: String,
    pub detail: serde_json::Value,
    #[serde(skip)]
    pub state: RequestState,
}

/// An event to append.
pub struct NewEvent {
    pub at: DateTime<Utc>,
    pub kind: &'static str,
    pub actor: String,
    pub detail: serde_json::Value,
    pub state: RequestState,
}

/// An event that lost a race: another event was appended first.
#[derive(Debug, thiserror::Error)]
#[error("the request changed while this was being decided; read it again")]
pub struct Conflict;

const REQUEST_COLUMNS: &str = "id, client, claim_key, kind, parent, priority, received_at, payer, product, provider_ids, bundle, digest";

fn request_of(r: &sqlx::any::AnyRow) -> anyhow::Result<StoredRequest> {
    let kind: String = r.try_get("kind")?;
    let priority: String = r.try_get("priority")?;
    let provider_ids: String = r.try_get("provider_ids")?;
    Ok(StoredRequest {
        id: r.try_get("id")?,
        client: r.try_get("client")?,
        claim_key: r.try_get("claim_key")?,
        kind: ReviewKind::parse(&kind).unwrap_or(ReviewKind::Initial),
        parent: r.try_get("parent")?,
        priority: Priority::parse(&priority).unwrap_or(Priority::Standard),
        received_at: parse_ts(&r.try_get::<String, _>("received_at")?),
        payer: r.try_get("payer")?,
        product: r.try_get("product")?,
        provider_ids: serde_json::from_str(&provider_ids).unwrap_or_default(),
        bundle: r.try_get("bundle")?,
        digest: r.try_get("digest")?,
    })
}

fn event_of(r: &sqlx::any::AnyRow) -> anyhow::Result<Event> {
    let detail: String = r.try_get("detail")?;
    let state: String = r.try_get("state")?;
    Ok(Event {
        seq: r.try_get("seq")?,
        at: r.try_get("at")?,
        kind: r.try_get("kind")?,
        actor: r.try_get("actor")?,
        status: r.try_get("status")?,
        due_at: r.try_get("due_at")?,
        detail: serde_json::from_str(&detail)?,
        state: serde_json::from_str(&state)?,
    })
}

type Tx<'c> = sqlx::Transaction<'c, sqlx::Any>;

async fn insert_event(
    tx: &mut Tx<'_>,
    request: &str,
    seq: i64,
    e: &NewEvent,
) -> anyhow::Result<()> {
    let done = sqlx::query(
        "INSERT INTO pa_events (request_id, seq, at, kind, actor, status, due_at, detail, state) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (request_id, seq) DO NOTHING",
    )
    .bind(request)
    .bind(seq)
    .bind(ts(e.at))
    .bind(e.kind)
    .bind(&e.actor)
    .bind(e.state.status())
    .bind(ts(e.state.due_at))
    .bind(e.detail.to_string())
    .bind(serde_json::to_string(&e.state)?)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(Conflict.into());
    }
    Ok(())
}

/// Queues a notification to every live subscription of the request's
/// client whose filter the request matches.
async fn queue_notifications(
    tx: &mut Tx<'_>,
    request: &StoredRequest,
    seq: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let rows =
        sqlx::query("SELECT id, org_identifier, ends_at FROM pa_subscriptions WHERE client = $1")
            .bind(&request.client)
            .fetch_all(&mut **tx)
            .await?;
    let mut queued = 0;
    for r in rows {
        let id: String = r.try_get("id")?;
        let org: Option<String> = r.try_get("org_identifier")?;
        let ends: Option<String> = r.try_get("ends_at")?;
        if ends.is_some_and(|e| parse_ts(&e) < now) {
            continue;
        }
        if org.is_some_and(|o| !request.provider_ids.contains(&o)) {
            continue;
        }
        sqlx::query(
            "INSERT INTO pa_notifications (id, subscription_id, request_id, event_seq, created_at, attempts, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6)",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(&id)
        .bind(&request.id)
        .bind(seq)
        .bind(ts(now))
        .bind(ts(now))
        .execute(&mut **tx)
        .await?;
        queued += 1;
    }
    Ok(queued)
}

/// A subscription to record.
pub struct NewSubscription<'a> {
    pub id: &'a str,
    pub client: &'a str,
    pub ends_at: Option<DateTime<Utc>>,
    pub endpoint: &'a str,
    /// `Name: value` lines sent with each notification.
    pub headers: &'a [String],
    /// `full-resource`, `id-only` or `empty`.
    pub payload: &'a str,
    /// Only requests from the provider organization with this identifier.
    pub org_identifier: Option<&'a str>,
    pub document: &'a serde_json::Value,
}

/// A notification due for delivery.
#[derive(Debug, Clone)]
pub struct Due {
    pub id: String,
    pub subscription_id: String,
    pub request_id: String,
    pub event_seq: i64,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub endpoint: String,
    pub headers: Vec<String>,
    pub payload: String,
}

/// A request with its latest event, as the queue lists it.
#[derive(Debug, Clone)]
pub struct Queued {
    pub request: StoredRequest,
    pub latest: Event,
}

impl Store {
    /// The initial request a client submitted under a Claim identifier.
    pub async fn pa_find(&self, client: &str, key: &str) -> anyhow::Result<Option<StoredRequest>> {
        let row = sqlx::query(&format!(
            "SELECT {REQUEST_COLUMNS} FROM pa_requests WHERE client = $1 AND claim_key = $2 AND kind = 'initial'"
        ))
        .bind(client)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(request_of).transpose()
    }

    pub async fn pa_get(&self, id: &str) -> anyhow::Result<Option<StoredRequest>> {
        let row = sqlx::query(&format!(
            "SELECT {REQUEST_COLUMNS} FROM pa_requests WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(request_of).transpose()
    }

    pub async fn pa_events(&self, id: &str) -> anyhow::Result<Vec<Event>> {
        let rows = sqlx::query(
            "SELECT seq, at, kind, actor, status, due_at, detail, state FROM pa_events WHERE request_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_of).collect()
    }

    pub async fn pa_latest(&self, id: &str) -> anyhow::Result<Option<Event>> {
        let row = sqlx::query(
            "SELECT seq, at, kind, actor, status, due_at, detail, state FROM pa_events WHERE request_id = $1 ORDER BY seq DESC LIMIT 1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(event_of).transpose()
    }

    /// Records a new request and its first event, with (an appeal's, a
    /// clinical exception's) event on the request it reviews. One
    /// transaction.
    pub async fn pa_create(
        &self,
        r: &StoredRequest,
        first: &NewEvent,
        also: Option<(&StoredRequest, i64, &NewEvent)>,
        notify: bool,
    ) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO pa_requests ({REQUEST_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(&r.id)
        .bind(&r.client)
        .bind(&r.claim_key)
        .bind(r.kind.id())
        .bind(r.parent.as_deref())
        .bind(r.priority.id())
        .bind(ts(r.received_at))
        .bind(&r.payer)
        .bind(&r.product)
        .bind(serde_json::to_string(&r.provider_ids)?)
        .bind(&r.bundle)
        .bind(&r.digest)
        .execute(&mut *tx)
        .await?;
        insert_event(&mut tx, &r.id, 1, first).await?;
        if notify {
            queue_notifications(&mut tx, r, 1, first.at).await?;
        }
        if let Some((other, after, event)) = also {
            insert_event(&mut tx, &other.id, after + 1, event).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Appends an event after `after` (the seq the caller read), and with it,
    /// in the same transaction, an event on another request (an appeal's
    /// outcome on the request it reviews) and the notifications. Fails with
    /// [`Conflict`] when another event came first.
    pub async fn pa_append(
        &self,
        request: &StoredRequest,
        after: i64,
        event: &NewEvent,
        notify: bool,
        also: Option<(&StoredRequest, i64, &NewEvent)>,
    ) -> anyhow::Result<i64> {
        let mut tx = self.pool.begin().await?;
        insert_event(&mut tx, &request.id, after + 1, event).await?;
        if notify {
            queue_notifications(&mut tx, request, after + 1, event.at).await?;
        }
        if let Some((other, other_after, other_event)) = also {
            insert_event(&mut tx, &other.id, other_after + 1, other_event).await?;
            if notify {
                queue_notifications(&mut tx, other, other_after + 1, other_event.at).await?;
            }
        }
        tx.commit().await?;
        Ok(after + 1)
    }

    /// Requests whose latest event leaves them in `status`, due before a
    /// time, soonest due first.
    pub async fn pa_queue(
        &self,
        status: Option<&str>,
        due_before: Option<DateTime<Utc>>,
        limit: i64,
    ) -> anyhow::Result<Vec<Queued>> {
        let rows = sqlx::query(&format!(
            "SELECT {cols}, e.seq, e.at, e.kind AS event_kind, e.actor, e.status, e.due_at, e.detail, e.state \
             FROM pa_requests r JOIN pa_events e ON e.request_id = r.id \
             WHERE e.seq = (SELECT MAX(x.seq) FROM pa_events x WHERE x.request_id = r.id) \
             AND ($1 = '' OR e.status = $1) AND ($2 = '' OR e.due_at < $2) \
             ORDER BY e.due_at, r.id LIMIT $3",
            cols = REQUEST_COLUMNS
                .split(", ")
                .map(|c| format!("r.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
                .replace("r.kind", "r.kind AS kind")
        ))
        .bind(status.unwrap_or(""))
        .bind(due_before.map(ts).unwrap_or_default())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let detail: String = r.try_get("detail")?;
                let state: String = r.try_get("state")?;
                Ok(Queued {
                    request: request_of(r)?,
                    latest: Event {
                        seq: r.try_get("seq")?,
                        at: r.try_get("at")?,
                        kind: r.try_get("event_kind")?,
                        actor: r.try_get("actor")?,
                        status: r.try_get("status")?,
                        due_at: r.try_get("due_at")?,
                        detail: serde_json::from_str(&detail)?,
                        state: serde_json::from_str(&state)?,
                    },
                })
            })
            .collect()
    }

    /// Every request received in `[from, to)`, and every review opened on
    /// one of them, each with its events: what the yearly metrics count.
    pub async fn pa_period(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> anyhow::Result<Vec<(StoredRequest, Vec<Event>)>> {
        let rows = sqlx::query(&format!(
            "SELECT {REQUEST_COLUMNS} FROM pa_requests WHERE (received_at >= $1 AND received_at < $2) \
             OR parent IN (SELECT id FROM pa_requests WHERE received_at >= $1 AND received_at < $2) ORDER BY received_at"
        ))
        .bind(ts(from))
        .bind(ts(to))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut req = request_of(r)?;
            // The metrics need no clinical content.
            req.bundle = String::new();
            let events = self.pa_events(&req.id).await?;
            out.push((req, events));
        }
        Ok(out)
    }

    pub async fn pa_subscribe(&self, sub: &NewSubscription<'_>) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO pa_subscriptions (id, client, created_at, ends_at, endpoint, headers, payload, org_identifier, document) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(sub.id)
        .bind(sub.client)
        .bind(ts(Utc::now()))
        .bind(sub.ends_at.map(ts))
        .bind(sub.endpoint)
        .bind(serde_json::to_string(sub.headers)?)
        .bind(sub.payload)
        .bind(sub.org_identifier)
        .bind(sub.document.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn pa_subscription(
        &self,
        id: &str,
        client: &str,
    ) -> anyhow::Result<Option<serde_json::Value>> {
        let row =
            sqlx::query("SELECT document FROM pa_subscriptions WHERE id = $1 AND client = $2")
                .bind(id)
                .bind(client)
                .fetch_optional(&self.pool)
                .await?;
        Ok(match row {
            Some(r) => Some(serde_json::from_str(&r.try_get::<String, _>("document")?)?),
            None => None,
        })
    }

    /// Notifications due now, oldest first.
    pub async fn pa_due(&self, now: DateTime<Utc>, limit: i64) -> anyhow::Result<Vec<Due>> {
        let rows = sqlx::query(
            "SELECT n.id, n.subscription_id, n.request_id, n.event_seq, n.attempts, n.next_attempt_at, s.endpoint, s.headers, s.payload \
             FROM pa_notifications n JOIN pa_subscriptions s ON s.id = n.subscription_id \
             WHERE n.delivered_at IS NULL AND n.next_attempt_at <= $1 ORDER BY n.next_attempt_at, n.id LIMIT $2",
        )
        .bind(ts(now))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let headers: String = r.try_get("headers")?;
                Ok(Due {
                    id: r.try_get("id")?,
                    subscription_id: r.try_get("subscription_id")?,
                    request_id: r.try_get("request_id")?,
                    event_seq: r.try_get("event_seq")?,
                    attempts: r.try_get("attempts")?,
                    next_attempt_at: r.try_get("next_attempt_at")?,
                    endpoint: r.try_get("endpoint")?,
                    headers: serde_json::from_str(&headers).unwrap_or_default(),
                    payload: r.try_get("payload")?,
                })
            })
            .collect()
    }

    /// Takes a notification for one delivery attempt (moving its next
    /// attempt past the attempt's timeout): false when another replica took
    /// it first.
    pub async fn pa_take(&self, due: &Due, until: DateTime<Utc>) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "UPDATE pa_notifications SET next_attempt_at = $1 WHERE id = $2 AND next_attempt_at = $3 AND delivered_at IS NULL",
        )
        .bind(ts(until))
        .bind(&due.id)
        .bind(&due.next_attempt_at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn pa_delivered(
        &self,
        id: &str,
        at: DateTime<Utc>,
        attempts: i64,
    ) -> anyhow::Result<()> {
        sqlx::query("UPDATE pa_notifications SET delivered_at = $1, attempts = $2, last_error = NULL WHERE id = $3")
            .bind(ts(at))
            .bind(attempts)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn pa_failed(
        &self,
        id: &str,
        attempts: i64,
        next: DateTime<Utc>,
        error: &str,
    ) -> anyhow::Result<()> {
        sqlx::query("UPDATE pa_notifications SET attempts = $1, next_attempt_at = $2, last_error = $3 WHERE id = $4")
            .bind(attempts)
            .bind(ts(next))
            .bind(error)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// How many notifications of a subscription were delivered (the
    /// notification's `events-since-subscription-start`).
    pub async fn pa_delivered_count(&self, subscription: &str) -> anyhow::Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM pa_notifications WHERE subscription_id = $1 AND delivered_at IS NOT NULL")
            .bind(subscription)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    pub async fn pa_put_token(
        &self,
        hash: &str,
        client: &str,
        scope: &str,
        expires_at: i64,
    ) -> anyhow::Result<()> {
        sqlx::query("INSERT INTO pa_access_tokens (token_hash, client, scope, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(hash)
            .bind(client)
            .bind(scope)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The client and scope of an access token still valid at `now`.
    pub async fn pa_token(&self, hash: &str, now: i64) -> anyhow::Result<Option<(String, String)>> {
        let row = sqlx::query(
            "SELECT client, scope FROM pa_access_tokens WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Some((r.try_get("client")?, r.try_get("scope")?)),
            None => None,
        })
    }

    pub async fn pa_forget_tokens(&self, now: i64) -> anyhow::Result<u64> {
        let done = sqlx::query("DELETE FROM pa_access_tokens WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
