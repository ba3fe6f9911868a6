//! Delivering subscription notifications from the store's outbox: each
//! notification is POSTed (a topic-based R4 backport `history` Bundle with
//! the updated response Bundle) until the subscriber answers 2xx, with
//! exponential back-off (1 s doubling to an hour). The outbox row was
//! written with the decision, so a restart loses nothing: the next start
//! delivers what is due. Replicas take a row before sending it, so each
//! attempt is made once.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::store::Due;
use super::{response, PAS_TOPIC};
use crate::AppState;

/// The longest wait between two attempts.
const MAX_BACKOFF_SECS: i64 = 3600;
/// A delivery attempt's limit (and how long a taken row stays taken).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// The wait after `attempts` failed attempts.
pub fn backoff(attempts: i64) -> chrono::Duration {
    chrono::Duration::seconds(
        1i64.checked_shl(attempts.clamp(0, 20) as u32)
            .unwrap_or(MAX_BACKOFF_SECS)
            .min(MAX_BACKOFF_SECS),
    )
}

async fn notification(state: &AppState, due: &Due, now: DateTime<Utc>) -> anyhow::Result<Value> {
    let base = state.cds.public_url.trim_end_matches('/').to_string();
    let req = state
        .store
        .pa_get(&due.request_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("request {} is gone", due.request_id))?;
    let events = state.store.pa_events(&req.id).await?;
    let event = events
        .iter()
        .find(|e| e.seq == due.event_seq)
        .ok_or_else(|| anyhow::anyhow!("event {} of {} is gone", due.event_seq, req.id))?;
    let bundle: Value = serde_json::from_str(&req.bundle)?;
    let view = response::RequestView {
        id: &req.id,
        bundle: &bundle,
        received_at: req.received_at,
    };
    let body = response::response_bundle(&view, &event.state, &base, now);
    let number = state.store.pa_delivered_count(&due.subscription_id).await? + 1;
    let focus = format!("{base}/fhir/ClaimResponse/{}", req.id);
    let status = json!({
        "resourceType": "Parameters",
        "meta": {"profile": ["http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-status-r4"]},
        "parameter": [
            {"name": "subscription", "valueReference": {"reference": format!("{base}/fhir/Subscription/{}", due.subscription_id)}},
            {"name": "topic", "valueCanonical": PAS_TOPIC},
            {"name": "status", "valueCode": "active"},
            {"name": "type", "valueCode": "event-notification"},
            {"name": "events-since-subscription-start", "valueString": number.to_string()},
            {"name": "notification-event", "part": [
                {"name": "event-number", "valueString": number.to_string()},
                {"name": "timestamp", "valueInstant": super::store::ts(now)},
                {"name": "focus", "valueReference": {"reference": focus}}
            ]}
        ]
    });
    let mut entry = vec![json!({
        "fullUrl": format!("urn:uuid:{}", uuid::Uuid::new_v4()),
        "resource": status,
        "request": {"method": "GET", "url": format!("{base}/fhir/Subscription/{}/$status", due.subscription_id)},
        "response": {"status": "200"}
    })];
    match due.payload.as_str() {
        "full-resource" => entry.push(json!({
            "fullUrl": focus,
            "resource": body,
            "request": {"method": "PUT", "url": format!("ClaimResponse/{}", req.id)},
            "response": {"status": "200"}
        })),
        "id-only" => entry.push(json!({
            "fullUrl": focus,
            "request": {"method": "PUT", "url": format!("ClaimResponse/{}", req.id)},
            "response": {"status": "200"}
        })),
        _ => {}
    }
    Ok(json!({
        "resourceType": "Bundle",
        "id": uuid::Uuid::new_v4().to_string(),
        "type": "history",
        "timestamp": super::store::ts(now),
        "entry": entry,
    }))
}

fn post(endpoint: &str, headers: &[String], body: &str) -> Result<(), String> {
    let agent = ureq::AgentBuilder::new()
        .timeout(ATTEMPT_TIMEOUT)
        .redirects(0)
        .build();
    let mut req = agent
        .post(endpoint)
        .set("content-type", "application/fhir+json");
    for h in headers {
        if let Some((name, value)) = h.split_once(':') {
            req = req.set(name.trim(), value.trim());
        }
    }
    match req.send_string(body) {
        Ok(r) if (200..300).contains(&r.status()) => Ok(()),
        Ok(r) => Err(format!("HTTP {}", r.status())),
        Err(ureq::Error::Status(code, _)) => Err(format!("HTTP {code}")),
        Err(e) => Err(e.kind().to_string()),
    }
}

async fn deliver(state: &AppState, due: Due) -> anyhow::Result<()> {
    let now = Utc::now();
    let until = now + chrono::Duration::from_std(ATTEMPT_TIMEOUT * 3).unwrap_or_default();
    if !state.store.pa_take(&due, until).await? {
        return Ok(());
    }
    let attempts = due.attempts + 1;
    let body = match notification(state, &due, now).await {
        Ok(b) => b.to_string(),
        Err(e) => {
            state
                .store
                .pa_failed(
                    &due.id,
                    attempts,
                    now + backoff(attempts),
                    &format!("{e:#}"),
                )
                .await?;
            return Ok(());
        }
    };
    let (endpoint, headers) = (due.endpoint.clone(), due.headers.clone());
    let sent = tokio::task::spawn_blocking(move || post(&endpoint, &headers, &body))
        .await
        .unwrap_or_else(|_| Err("the delivery task failed".into()));
    match sent {
        Ok(()) => {
            state
                .store
                .pa_delivered(&due.id, Utc::now(), attempts)
                .await?;
            tracing::info!(notification = %due.id, subscription = %due.subscription_id, attempts, "notification delivered");
        }
        Err(e) => {
            let next = Utc::now() + backoff(attempts);
            tracing::warn!(notification = %due.id, subscription = %due.subscription_id, attempts, error = %e, next = %next, "notification not delivered; will retry");
            state.store.pa_failed(&due.id, attempts, next, &e).await?;
        }
    }
    Ok(())
}

/// Runs until aborted: delivers what is due, then waits for a wake-up (a
/// decision) or a second.
pub async fn run(state: Arc<AppState>) {
    loop {
        match state.store.pa_due(Utc::now(), 32).await {
            Ok(due) => {
                for d in due {
                    if let Err(e) = deliver(&state, d).await {
                        tracing::warn!(error = %format!("{e:#}"), "notification delivery");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "reading the notification outbox"),
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), state.pas.wake.notified()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_an_hour() {
        assert_eq!(backoff(0).num_seconds(), 1);
        assert_eq!(backoff(1).num_seconds(), 2);
        assert_eq!(backoff(5).num_seconds(), 32);
        assert_eq!(backoff(12).num_seconds(), 3600);
        assert_eq!(backoff(1000).num_seconds(), 3600);
    }
}
