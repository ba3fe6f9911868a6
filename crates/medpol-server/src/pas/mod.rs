//! Prior authorization (Da Vinci PAS, CMS-0057-F): requests in over FHIR
//! (`Claim/$submit`, `Claim/$inquire`, topic-based Subscriptions), decided
//! item by item from the policies in effect on the date of service, a
//! reviewer's queue and decisions, appeals and clinical exceptions with
//! their own clocks, and the yearly metrics, all from an append-only event
//! log in the store. Clients authenticate with SMART Backend Services
//! (`POST /auth/token`).
//!
//! The pure parts: [`bundle`] (reading a request), [`decide`] (an item from
//! its determination), [`model`] (states, reviewer decisions), [`response`]
//! (the response Bundle), [`metrics`]. The rest is I/O: handlers here,
//! [`store`], [`notify`] (delivering notifications), [`token`] (SMART).

pub mod bundle;
pub mod decide;
pub mod metrics;
pub mod model;
mod notify;
pub mod response;
pub mod store;
mod token;

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use medpol_core::request::ServiceLine;
use medpol_core::Setting;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{ApiError, ApiQuery};
use crate::AppState;
use model::{ItemDecision, ItemState, ItemStatus, Priority, RequestState, ReviewKind};
use store::{Conflict, NewEvent, StoredRequest};

pub use decide::AutoDeny;
pub use notify::run as run_notifier;
pub use token::Scope;

const FHIR_JSON: &str = "application/fhir+json";
pub const PAS_TOPIC: &str =
    "http://hl7.org/fhir/us/davinci-pas/SubscriptionTopic/PASSubscriptionTopic";

/// Where "now" comes from: the system clock, or (for tests that move time)
/// a file holding an RFC 3339 instant, read at every use.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    #[default]
    System,
    File(PathBuf),
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::File(path) => std::fs::read_to_string(path)
                .ok()
                .and_then(|s| DateTime::parse_from_rfc3339(s.trim()).ok())
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_else(|| {
                    tracing::warn!(path = %path.display(), "the test clock file holds no RFC 3339 instant; using the system clock");
                    Utc::now()
                }),
        }
    }
}

/// How prior authorization runs.
pub struct PasConfig {
    /// SMART Backend Services clients (the CDS client file format); `None`:
    /// the PAS endpoints answer 401.
    pub auth: Option<Arc<crate::auth::ClientAuth>>,
    /// The reviewer role's bearer token (separate from admin).
    pub reviewer_token: Option<String>,
    pub auto_deny: AutoDeny,
    pub clock: Clock,
    /// Wakes the notifier when an event queued notifications.
    pub wake: Arc<tokio::sync::Notify>,
}

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/auth/token", post(token::issue))
        .route("/fhir/Claim/$submit", post(submit))
        .route("/fhir/Claim/$inquire", post(inquire))
        .route("/fhir/Subscription", post(subscribe))
        .route("/fhir/Subscription/{id}", get(read_subscription))
}

/// The reviewer's REST routes, nested under `/api/v1`.
pub fn api_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/prior-auth/requests", get(queue))
        .route("/prior-auth/requests/{id}", get(request_detail))
        .route("/prior-auth/requests/{id}/decision", post(decision))
        .route("/prior-auth/requests/{id}/extend", post(extend))
        .route("/prior-auth/requests/{id}/appeal", post(appeal))
        .route(
            "/prior-auth/requests/{id}/clinical-exception",
            post(clinical_exception),
        )
        .route("/prior-auth/metrics", get(metrics_handler))
}

pub(crate) fn outcome(
    status: StatusCode,
    code: &str,
    message: impl Into<String>,
    expression: Option<&str>,
) -> Response {
    let mut issue = json!({"severity": "error", "code": code, "diagnostics": crate::bounded_message(&message.into())});
    if let Some(e) = expression {
        issue["expression"] = json!([e]);
    }
    let mut res = (
        status,
        [(header::CONTENT_TYPE, FHIR_JSON)],
        json!({"resourceType": "OperationOutcome", "issue": [issue]}).to_string(),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
    }
    res
}

fn fhir(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, FHIR_JSON)],
        body.to_string(),
    )
        .into_response()
}

fn unavailable(e: anyhow::Error) -> Response {
    if e.downcast_ref::<Conflict>().is_some() {
        return outcome(StatusCode::CONFLICT, "conflict", Conflict.to_string(), None);
    }
    tracing::error!(error = %format!("{e:#}"), "prior-authorization store");
    let mut r = outcome(
        StatusCode::SERVICE_UNAVAILABLE,
        "transient",
        "the request could not be recorded; nothing was recorded, retry",
        None,
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    r
}

fn digest(v: &Value) -> String {
    crate::store::digest(v.to_string().as_bytes())
}

fn base(state: &AppState) -> String {
    state.cds.public_url.trim_end_matches('/').to_string()
}

/// A preauthorization number: the request's random part and the item.
fn auth_number(id: &str, sequence: u32) -> String {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    format!(
        "MP{}-{sequence}",
        &hex[hex.len().saturating_sub(12)..].to_uppercase()
    )
}

/// The certification period: from the date of service (or today) to the
/// requested period's end, or 90 days.
fn period_of(
    start: Option<NaiveDate>,
    end: Option<NaiveDate>,
    today: NaiveDate,
) -> (NaiveDate, NaiveDate) {
    let start = start.unwrap_or(today);
    (
        start,
        end.filter(|e| *e >= start)
            .unwrap_or(start + Duration::days(90)),
    )
}

/// Decides the items of a request from the policies in effect.
fn decide_items(
    state: &AppState,
    claim: &bundle::PaClaim,
    items: &[&bundle::PaItem],
    product: medpol_core::ProductRef,
    id: &str,
    now: DateTime<Utc>,
) -> Vec<ItemState> {
    let current = state.current();
    let engine = &current.engine;
    let base = base(state);
    let questionnaire = |set: &medpol_core::determination::CriteriaSet| {
        let (payer, number) = set.policy.split_once('/').unwrap_or(("", set.policy));
        let statement = set.path.strip_prefix("statement/").unwrap_or(set.path);
        (
            crate::dtr::questionnaire_id(payer, number, statement),
            crate::dtr::canonical(&base, payer, number, statement, set.version),
        )
    };
    let cx = decide::ItemContext {
        answers: &claim.answers,
        auto_deny: &state.pas.auto_deny,
        questionnaire: &questionnaire,
    };
    let today = now.date_naive();
    items
        .iter()
        .map(|item| {
            if item.cancelled {
                let mut s = decide::decide_item(item, &[], &cx);
                s.status = ItemStatus::Cancelled;
                return s;
            }
            let lines: Vec<_> = match &item.code {
                None => Vec::new(),
                Some(code) => {
                    let line = ServiceLine {
                        code: *code,
                        modifiers: item.modifiers.clone(),
                    };
                    let settings: &[Setting] = match item.setting {
                        Some(Setting::Inpatient) => &[Setting::Inpatient],
                        Some(Setting::Outpatient) => &[Setting::Outpatient],
                        None => &[Setting::Inpatient, Setting::Outpatient],
                    };
                    let date = item.date.unwrap_or(today);
                    settings
                        .iter()
                        .map(|s| engine.decide(product, *s, date, &line, &claim.diagnoses))
                        .collect()
                }
            };
            let mut s = decide::decide_item(item, &lines, &cx);
            if s.status == ItemStatus::Certified {
                s.auth_number = Some(auth_number(id, item.sequence));
                s.period = Some(period_of(item.date, item.end, today));
            }
            s
        })
        .collect()
}

/// `POST /fhir/Claim/$submit`: a PAS request Bundle in, a response Bundle out.
async fn submit(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let client = match token::client_of(&state, &headers, Scope::Submit).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return outcome(
                StatusCode::BAD_REQUEST,
                "structure",
                format!("the body is not JSON: {e}"),
                None,
            )
        }
    };
    let claim = match bundle::read(&value) {
        Ok(c) => c,
        Err(e) => {
            return outcome(
                StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
                e.code,
                e.message,
                Some(&e.expression),
            )
        }
    };
    let now = state.pas.clock.now();
    let digest = digest(&value);
    let base = base(&state);

    // The member's product, from the Coverage.
    let current = state.current();
    let resolved = claim
        .coverage
        .as_ref()
        .and_then(|c| state.cds.coverage_map.resolve(c))
        .and_then(|(payer, product)| {
            current
                .engine
                .resolve_product(Some(payer), product)
                .ok()
                .map(|p| (p, payer.to_string(), product.to_string()))
        });
    let Some((product, payer, product_id)) = resolved else {
        let message = if claim.coverage.is_none() {
            "The Claim names no Coverage (Claim.insurance.coverage): the member's product cannot be known."
        } else {
            "The member's Coverage (payor, plan, type) maps to no product of this payer's coverage map; nothing was recorded. Check the Coverage sent, or the payer's coverage map."
        };
        return fhir(
            StatusCode::OK,
            &response::error_bundle(&value, ("75", "Subscriber/Insured Not Found"), message, now),
        );
    };

    let existing = match state.store.pa_find(&client, &claim.key).await {
        Ok(e) => e,
        Err(e) => return unavailable(e),
    };
    if let Some(req) = existing {
        return update(&state, req, &claim, &digest, product, now, &base).await;
    }

    let id = uuid::Uuid::now_v7().to_string();
    let all: Vec<&bundle::PaItem> = claim.items.iter().collect();
    let items = decide_items(&state, &claim, &all, product, &id, now);
    let mut st = RequestState {
        items,
        due_at: now + claim.priority.allowed(),
        extended: false,
        decided_at: None,
        reviews: Vec::new(),
    };
    st.settle(now);
    let req = StoredRequest {
        id: id.clone(),
        client: client.clone(),
        claim_key: claim.key.clone(),
        kind: ReviewKind::Initial,
        parent: None,
        priority: claim.priority,
        received_at: now,
        payer,
        product: product_id,
        provider_ids: claim.provider_ids.clone(),
        bundle: value.to_string(),
        digest: digest.clone(),
    };
    let event = NewEvent {
        at: now,
        kind: "received",
        actor: client,
        detail: json!({"digest": digest}),
        state: st.clone(),
    };
    if let Err(e) = state.store.pa_create(&req, &event, None, false).await {
        return unavailable(e);
    }
    tracing::info!(request = %id, status = st.status(), items = st.items.len(), "prior-authorization request received");
    let view = response::RequestView {
        id: &id,
        bundle: &value,
        received_at: now,
    };
    fhir(
        StatusCode::OK,
        &response::response_bundle(&view, &st, &base, now),
    )
}

/// A `$submit` with the identifier of a request already received: the same
/// Bundle again answers the current state (idempotent); a changed one
/// updates the items it carries (added, changed, cancelled).
#[allow(clippy::too_many_arguments)]
async fn update(
    state: &AppState,
    req: StoredRequest,
    claim: &bundle::PaClaim,
    digest: &str,
    product: medpol_core::ProductRef,
    now: DateTime<Utc>,
    base: &str,
) -> Response {
    let events = match state.store.pa_events(&req.id).await {
        Ok(e) => e,
        Err(e) => return unavailable(e),
    };
    let Some(latest) = events.last() else {
        return unavailable(anyhow::anyhow!("request {} has no events", req.id));
    };
    let original: Value = serde_json::from_str(&req.bundle).unwrap_or(Value::Null);
    let view = response::RequestView {
        id: &req.id,
        bundle: &original,
        received_at: req.received_at,
    };
    if req.digest == digest || events.iter().any(|e| e.detail["digest"] == digest) {
        return fhir(
            StatusCode::OK,
            &response::response_bundle(&view, &latest.state, base, now),
        );
    }
    let changed: Vec<&bundle::PaItem> = claim.items.iter().collect();
    let decided = decide_items(state, claim, &changed, product, &req.id, now);
    let mut st = latest.state.clone();
    for item in decided {
        match st.items.iter_mut().find(|i| i.sequence == item.sequence) {
            Some(old) => *old = item,
            None => st.items.push(item),
        }
    }
    st.items.sort_by_key(|i| i.sequence);
    st.settle(now);
    let event = NewEvent {
        at: now,
        kind: "updated",
        actor: req.client.clone(),
        detail: json!({"digest": digest, "items": claim.items.iter().map(|i| i.sequence).collect::<Vec<_>>()}),
        state: st.clone(),
    };
    if let Err(e) = state
        .store
        .pa_append(&req, latest.seq, &event, false, None)
        .await
    {
        return unavailable(e);
    }
    fhir(
        StatusCode::OK,
        &response::response_bundle(&view, &st, base, now),
    )
}

/// `POST /fhir/Claim/$inquire`: the current state of a request, found by
/// the Claim identifier it was submitted with.
async fn inquire(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let client = match token::client_of(&state, &headers, Scope::Inquire).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return outcome(
                StatusCode::BAD_REQUEST,
                "structure",
                format!("the body is not JSON: {e}"),
                None,
            )
        }
    };
    let key = match bundle::inquiry_key(&value) {
        Ok(k) => k,
        Err(e) => {
            return outcome(
                StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
                e.code,
                e.message,
                Some(&e.expression),
            )
        }
    };
    let req = match state.store.pa_find(&client, &key).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return outcome(
                StatusCode::NOT_FOUND,
                "not-found",
                format!(
                    "no prior-authorization request from this client has the Claim identifier `{}`",
                    medpol_core::excerpt(&key)
                ),
                Some("Bundle.entry[0].resource.identifier"),
            )
        }
        Err(e) => return unavailable(e),
    };
    let latest = match state.store.pa_latest(&req.id).await {
        Ok(Some(l)) => l,
        Ok(None) => return unavailable(anyhow::anyhow!("request {} has no events", req.id)),
        Err(e) => return unavailable(e),
    };
    let original: Value = serde_json::from_str(&req.bundle).unwrap_or(Value::Null);
    let view = response::RequestView {
        id: &req.id,
        bundle: &original,
        received_at: req.received_at,
    };
    fhir(
        StatusCode::OK,
        &response::response_bundle(&view, &latest.state, &base(&state), state.pas.clock.now()),
    )
}

fn ext_value<'a>(v: &'a Value, url: &str) -> Option<&'a Value> {
    crate::cds::fhir::list(&v["extension"])
        .into_iter()
        .find(|e| e["url"] == url)
}

/// `POST /fhir/Subscription`: a topic-based (R4 backport) rest-hook
/// subscription to the PAS topic; pended requests of the subscribing client
/// are notified with their response Bundle when decided.
async fn subscribe(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let client = match token::client_of(&state, &headers, Scope::Subscribe).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let mut sub: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return outcome(
                StatusCode::BAD_REQUEST,
                "structure",
                format!("the body is not JSON: {e}"),
                None,
            )
        }
    };
    let bad = |expr: &str, msg: String| {
        outcome(StatusCode::UNPROCESSABLE_ENTITY, "value", msg, Some(expr))
    };
    if sub["resourceType"] != "Subscription" {
        return outcome(
            StatusCode::BAD_REQUEST,
            "structure",
            "the body must be a FHIR Subscription",
            Some("Subscription"),
        );
    }
    if sub["criteria"] != PAS_TOPIC {
        return bad(
            "Subscription.criteria",
            format!("the only topic offered is {PAS_TOPIC}"),
        );
    }
    if sub["channel"]["type"] != "rest-hook" {
        return bad(
            "Subscription.channel.type",
            "the only channel offered is rest-hook".into(),
        );
    }
    let endpoint = sub["channel"]["endpoint"]
        .as_str()
        .unwrap_or("")
        .to_string();
    if !(endpoint.starts_with("https://") || endpoint.starts_with("http://"))
        || endpoint.len() > 2048
    {
        return bad(
            "Subscription.channel.endpoint",
            "the endpoint must be an http(s) URL the notifications are POSTed to".into(),
        );
    }
    let mut header_lines = Vec::new();
    for h in crate::cds::fhir::list(&sub["channel"]["header"]) {
        match h.as_str() {
            Some(s)
                if s.split_once(':')
                    .is_some_and(|(n, _)| !n.trim().is_empty() && !n.contains(' ')) =>
            {
                header_lines.push(s.to_string())
            }
            _ => {
                return bad(
                    "Subscription.channel.header",
                    "each header is a string `Name: value`".into(),
                )
            }
        }
    }
    if let Some(p) = sub["channel"]["payload"].as_str() {
        if p != FHIR_JSON && p != "application/json" {
            return bad(
                "Subscription.channel.payload",
                format!("payloads are {FHIR_JSON}"),
            );
        }
    }
    let content = ext_value(&sub["channel"]["_payload"], "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content")
        .and_then(|e| e["valueCode"].as_str())
        .unwrap_or("full-resource")
        .to_string();
    if !matches!(content.as_str(), "full-resource" | "id-only" | "empty") {
        return bad(
            "Subscription.channel._payload",
            "payload content is full-resource, id-only or empty".into(),
        );
    }
    let filter = ext_value(&sub["_criteria"], "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria")
        .and_then(|e| e["valueString"].as_str());
    let org = match filter {
        None => None,
        Some(f) => match f.split_once('=') {
            Some(("org-identifier", v)) if !v.is_empty() => {
                Some(v.rsplit('|').next().unwrap_or(v).to_string())
            }
            _ => {
                return bad(
                    "Subscription._criteria",
                    format!(
                        "the only filter offered is `org-identifier=VALUE`, not `{}`",
                        medpol_core::excerpt(f)
                    ),
                )
            }
        },
    };
    let now = state.pas.clock.now();
    let ends = match sub["end"].as_str() {
        None => None,
        Some(s) => match DateTime::parse_from_rfc3339(s) {
            Ok(t) if t.with_timezone(&Utc) > now => Some(t.with_timezone(&Utc)),
            Ok(_) => {
                return bad(
                    "Subscription.end",
                    format!("the subscription's end ({s}) has passed"),
                )
            }
            Err(_) => {
                return bad(
                    "Subscription.end",
                    format!("`{}` is not an instant", medpol_core::excerpt(s)),
                )
            }
        },
    };
    let id = uuid::Uuid::now_v7().to_string();
    sub["id"] = json!(id);
    sub["status"] = json!("active");
    // The channel's headers carry the client's credentials: kept for the
    // deliveries, never shown back.
    if let Some(o) = sub["channel"].as_object_mut() {
        o.remove("header");
    }
    if let Err(e) = state
        .store
        .pa_subscribe(&store::NewSubscription {
            id: &id,
            client: &client,
            ends_at: ends,
            endpoint: &endpoint,
            headers: &header_lines,
            payload: &content,
            org_identifier: org.as_deref(),
            document: &sub,
        })
        .await
    {
        return unavailable(e);
    }
    let mut r = fhir(StatusCode::CREATED, &sub);
    if let Ok(v) =
        header::HeaderValue::from_str(&format!("{}/fhir/Subscription/{id}", base(&state)))
    {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

async fn read_subscription(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let client = match token::client_of(&state, &headers, Scope::Subscribe).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match state.store.pa_subscription(&id, &client).await {
        Ok(Some(s)) => fhir(StatusCode::OK, &s),
        Ok(None) => outcome(
            StatusCode::NOT_FOUND,
            "not-found",
            format!(
                "no subscription {} of this client",
                medpol_core::excerpt(&id)
            ),
            None,
        ),
        Err(e) => unavailable(e),
    }
}

// ---- The reviewer's API --------------------------------------------------

fn require_reviewer(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = &state.pas.reviewer_token else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "reviewer-disabled",
            "the reviewer API is off: start the service with --reviewer-token (or MEDPOL_REVIEWER_TOKEN)",
        ));
    };
    let given = crate::auth::bearer_token(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    )
    .unwrap_or("");
    if crate::auth::same_secret(given, expected) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid reviewer bearer token is required",
        ))
    }
}

fn store_error(e: anyhow::Error) -> ApiError {
    if e.downcast_ref::<Conflict>().is_some() {
        return ApiError::new(StatusCode::CONFLICT, "conflict", Conflict.to_string());
    }
    ApiError::internal(e)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// `pended` (the default), `complete` or `all`.
    status: Option<String>,
    /// Only requests due before this instant (RFC 3339).
    due_before: Option<String>,
    /// At most this many (default 100, at most 1000).
    limit: Option<i64>,
}

fn item_summary(i: &ItemState) -> Value {
    json!({"sequence": i.sequence, "code": i.code, "status": i.status.id(), "recommendation": i.recommendation.action})
}

/// The review queue: requests by time left, soonest due first; overdue ones
/// are flagged and counted.
#[utoipa::path(get, path = "/api/v1/prior-auth/requests", security(("bearer" = [])), params(QueueQuery),
    responses((status = 200, body = Object), (status = 401, body = ApiError), (status = 422, body = ApiError)))]
pub async fn queue(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<QueueQuery>,
) -> Result<Json<Value>, ApiError> {
    require_reviewer(&state, &headers)?;
    let status = match q.status.as_deref().unwrap_or("pended") {
        "all" => None,
        s @ ("pended" | "complete") => Some(s),
        other => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-status",
                format!(
                    "status `{}` is not pended, complete or all",
                    medpol_core::excerpt(other)
                ),
            )
            .field("status"))
        }
    };
    let due_before = match &q.due_before {
        None => None,
        Some(s) => Some(
            DateTime::parse_from_rfc3339(s)
                .map_err(|_| {
                    ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid-time",
                        "due_before must be an RFC 3339 instant, e.g. 2026-12-03T00:00:00Z",
                    )
                    .field("due_before")
                })?
                .with_timezone(&Utc),
        ),
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-limit",
            format!("limit must be from 1 to 1000, not {limit}"),
        )
        .field("limit"));
    }
    let rows = state
        .store
        .pa_queue(status, due_before, limit)
        .await
        .map_err(store_error)?;
    let now = state.pas.clock.now();
    let mut overdue = 0;
    let requests: Vec<Value> = rows
        .iter()
        .map(|q| {
            let st = &q.latest.state;
            let left = model::minutes_left(st.due_at, now);
            let late = st.status() == "pended" && left < 0;
            overdue += late as usize;
            json!({
                "id": q.request.id, "kind": q.request.kind.id(), "parent": q.request.parent,
                "priority": q.request.priority.id(), "received_at": store::ts(q.request.received_at),
                "due_at": store::ts(st.due_at), "minutes_left": left, "overdue": late,
                "extended": st.extended, "status": st.status(),
                "payer": q.request.payer, "product": q.request.product,
                "items": st.items.iter().map(item_summary).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(
        json!({"now": store::ts(now), "overdue": overdue, "requests": requests}),
    ))
}

pub(crate) async fn load(
    state: &AppState,
    id: &str,
) -> Result<(StoredRequest, Vec<store::Event>), ApiError> {
    let req = state
        .store
        .pa_get(id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not-found",
                format!(
                    "no prior-authorization request {}",
                    medpol_core::excerpt(id)
                ),
            )
        })?;
    let events = state.store.pa_events(id).await.map_err(store_error)?;
    if events.is_empty() {
        return Err(ApiError::internal(anyhow::anyhow!(
            "request {id} has no events"
        )));
    }
    Ok((req, events))
}

/// One request for its reviewer: the Claim, the policy's recommendation and
/// citations per item, the questionnaire answers, and the history.
#[utoipa::path(get, path = "/api/v1/prior-auth/requests/{id}", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 401, body = ApiError), (status = 404, body = ApiError)))]
pub async fn request_detail(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    require_reviewer(&state, &headers)?;
    let (req, events) = load(&state, &id).await?;
    let latest = events.last().expect("loaded with events");
    let bundle: Value = serde_json::from_str(&req.bundle).unwrap_or(Value::Null);
    let answers: Vec<Value> = crate::cds::fhir::list(&bundle["entry"])
        .into_iter()
        .map(|e| e["resource"].clone())
        .filter(|r| r["resourceType"] == "QuestionnaireResponse")
        .collect();
    let now = state.pas.clock.now();
    Ok(Json(json!({
        "id": req.id, "kind": req.kind.id(), "parent": req.parent, "priority": req.priority.id(),
        "received_at": store::ts(req.received_at), "due_at": store::ts(latest.state.due_at),
        "minutes_left": model::minutes_left(latest.state.due_at, now),
        "status": latest.state.status(), "payer": req.payer, "product": req.product,
        "claim_identifier": req.claim_key,
        "items": latest.state.items, "extended": latest.state.extended,
        "decided_at": latest.state.decided_at.map(store::ts), "reviews": latest.state.reviews,
        "claim": bundle["entry"][0]["resource"], "questionnaire_responses": answers,
        "history": events,
    })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DecisionBody {
    pub items: Vec<ItemDecision>,
}

/// Applies the event to the request, and to the request it reviews when it
/// is an appeal or a clinical exception (the outcome stands there too, for
/// `$inquire` and the subscriber). Notifies.
async fn record_decision(
    state: &AppState,
    req: &StoredRequest,
    after: i64,
    st: RequestState,
    kind: &'static str,
    detail: Value,
    now: DateTime<Utc>,
) -> Result<RequestState, ApiError> {
    let event = NewEvent {
        at: now,
        kind,
        actor: "reviewer".into(),
        detail: detail.clone(),
        state: st.clone(),
    };
    let parent = match &req.parent {
        Some(p) => {
            let (preq, pevents) = load(state, p).await?;
            let platest = pevents.last().expect("loaded with events");
            let mut pst = platest.state.clone();
            for item in &st.items {
                if item.status == ItemStatus::Pended {
                    continue;
                }
                if let Some(old) = pst.items.iter_mut().find(|i| i.sequence == item.sequence) {
                    *old = item.clone();
                }
            }
            Some((
                preq,
                platest.seq,
                NewEvent {
                    at: now,
                    kind: if req.kind == ReviewKind::Appeal {
                        "decided-on-appeal"
                    } else {
                        "decided-on-clinical-exception"
                    },
                    actor: "reviewer".into(),
                    detail: json!({"review": req.id}),
                    state: pst,
                },
            ))
        }
        None => None,
    };
    state
        .store
        .pa_append(
            req,
            after,
            &event,
            true,
            parent.as_ref().map(|(r, s, e)| (r, *s, e)),
        )
        .await
        .map_err(store_error)?;
    state.pas.wake.notify_one();
    Ok(st)
}

/// A reviewer decides pended items: certify, deny or modify (a reason is
/// required for deny and modify).
#[utoipa::path(post, path = "/api/v1/prior-auth/requests/{id}/decision", security(("bearer" = [])), params(("id" = String, Path)), request_body = DecisionBody,
    responses((status = 200, body = Object), (status = 401, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 422, body = ApiError)))]
pub async fn decision(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_reviewer(&state, &headers)?;
    let body: DecisionBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-json",
            format!("expected {{\"items\": [{{\"sequence\", \"action\", \"reason\"}}]}}: {e}"),
        )
    })?;
    let (req, st) = decide_request(&state, &id, &body.items).await?;
    Ok(Json(
        json!({"id": req.id, "status": st.status(), "items": st.items}),
    ))
}

/// A reviewer's decisions on a request's pended items, recorded (the API's
/// and the web page's).
pub(crate) async fn decide_request(
    state: &AppState,
    id: &str,
    items: &[ItemDecision],
) -> Result<(StoredRequest, RequestState), ApiError> {
    let (req, events) = load(state, id).await?;
    let latest = events.last().expect("loaded with events");
    let now = state.pas.clock.now();
    let today = now.date_naive();
    let original: Value = serde_json::from_str(&req.bundle).unwrap_or(Value::Null);
    let periods: Vec<(u32, Option<NaiveDate>, Option<NaiveDate>)> = bundle::read(&original)
        .map(|c| {
            c.items
                .iter()
                .map(|i| (i.sequence, i.date, i.end))
                .collect()
        })
        .unwrap_or_default();
    let next = model::apply_decisions(
        &latest.state,
        items,
        now,
        |seq| auth_number(&req.id, seq),
        |item| {
            let (start, end) = periods
                .iter()
                .find(|(s, _, _)| *s == item.sequence)
                .map(|(_, a, b)| (*a, *b))
                .unwrap_or((None, None));
            period_of(start, end, today)
        },
    )
    .map_err(|e| {
        let status = if matches!(e, model::DecisionError::NotPended { .. }) {
            StatusCode::CONFLICT
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        ApiError::new(status, "invalid-decision", e.to_string()).field("items")
    })?;
    let st = record_decision(
        state,
        &req,
        latest.seq,
        next,
        "decided",
        serde_json::to_value(items).unwrap_or_default(),
        now,
    )
    .await?;
    Ok((req, st))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ExtendBody {
    pub reason: String,
    /// Days added to the due time: 1 to 14 (default 14).
    pub days: Option<i64>,
}

/// Extends a pended request's time frame, once, with a reason.
#[utoipa::path(post, path = "/api/v1/prior-auth/requests/{id}/extend", security(("bearer" = [])), params(("id" = String, Path)), request_body = ExtendBody,
    responses((status = 200, body = Object), (status = 401, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 422, body = ApiError)))]
pub async fn extend(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_reviewer(&state, &headers)?;
    let body: ExtendBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-json",
            format!("expected {{\"reason\": \"...\", \"days\": 14}}: {e}"),
        )
    })?;
    if body.reason.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "reason-required",
            "an extension needs a reason",
        )
        .field("reason"));
    }
    let days = body.days.unwrap_or(14);
    if !(1..=14).contains(&days) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-days",
            format!("an extension is 1 to 14 days, not {days}"),
        )
        .field("days"));
    }
    let (req, events) = load(&state, &id).await?;
    let latest = events.last().expect("loaded with events");
    if latest.state.extended {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "already-extended",
            "the time frame was already extended once",
        ));
    }
    if latest.state.status() != "pended" {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not-pended",
            "only a pended request's time frame can be extended",
        ));
    }
    let now = state.pas.clock.now();
    let mut st = latest.state.clone();
    st.extended = true;
    st.due_at += Duration::days(days);
    let event = NewEvent {
        at: now,
        kind: "extended",
        actor: "reviewer".into(),
        detail: json!({"reason": body.reason, "days": days}),
        state: st.clone(),
    };
    state
        .store
        .pa_append(&req, latest.seq, &event, false, None)
        .await
        .map_err(store_error)?;
    Ok(Json(
        json!({"id": req.id, "due_at": store::ts(st.due_at), "extended": true}),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ReviewBody {
    pub reason: String,
    /// `standard` or `expedited` (default: the original request's).
    pub priority: Option<String>,
}

async fn open_review(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    body: &[u8],
    kind: ReviewKind,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    require_reviewer(state, headers)?;
    let body: ReviewBody = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-json",
            format!("expected {{\"reason\": \"...\"}}: {e}"),
        )
    })?;
    if body.reason.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "reason-required",
            format!("a {} needs the requester's reason", kind.id()),
        )
        .field("reason"));
    }
    let (parent, events) = load(state, id).await?;
    if parent.kind != ReviewKind::Initial {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not-initial",
            "appeals and clinical exceptions are opened on the original request",
        ));
    }
    let latest = events.last().expect("loaded with events");
    let denied: Vec<ItemState> = latest
        .state
        .items
        .iter()
        .filter(|i| i.status == ItemStatus::NotCertified)
        .cloned()
        .map(|mut i| {
            i.status = ItemStatus::Pended;
            i.reason = None;
            i.reason_code = None;
            i
        })
        .collect();
    if denied.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "nothing-denied",
            "the request has no denied item to review",
        ));
    }
    let priority = match body.priority.as_deref() {
        None => parent.priority,
        Some(p) => Priority::parse(p).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-priority",
                "priority is standard or expedited",
            )
            .field("priority")
        })?,
    };
    let now = state.pas.clock.now();
    let child = StoredRequest {
        id: uuid::Uuid::now_v7().to_string(),
        kind,
        parent: Some(parent.id.clone()),
        priority,
        received_at: now,
        digest: String::new(),
        ..parent.clone()
    };
    let st = RequestState {
        items: denied,
        due_at: now + priority.allowed(),
        extended: false,
        decided_at: None,
        reviews: Vec::new(),
    };
    let first = NewEvent {
        at: now,
        kind: "received",
        actor: "reviewer".into(),
        detail: json!({"reason": body.reason}),
        state: st.clone(),
    };
    let mut pst = latest.state.clone();
    pst.reviews.push(child.id.clone());
    let opened = NewEvent {
        at: now,
        kind: if kind == ReviewKind::Appeal {
            "appealed"
        } else {
            "clinical-exception-requested"
        },
        actor: "reviewer".into(),
        detail: json!({"review": child.id, "reason": body.reason}),
        state: pst,
    };
    state
        .store
        .pa_create(&child, &first, Some((&parent, latest.seq, &opened)), false)
        .await
        .map_err(store_error)?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"id": child.id, "kind": kind.id(), "parent": parent.id, "priority": priority.id(), "due_at": store::ts(st.due_at), "items": st.items.iter().map(item_summary).collect::<Vec<_>>()}),
        ),
    ))
}

/// Opens an appeal of a request's denied items: a new review with its own
/// clock, linked to the original.
#[utoipa::path(post, path = "/api/v1/prior-auth/requests/{id}/appeal", security(("bearer" = [])), params(("id" = String, Path)), request_body = ReviewBody,
    responses((status = 201, body = Object), (status = 401, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 422, body = ApiError)))]
pub async fn appeal(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    open_review(&state, &headers, &id, &body, ReviewKind::Appeal).await
}

/// Opens a clinical exception request (the policy's exception process) on a
/// request's denied items: a new review with its own clock.
#[utoipa::path(post, path = "/api/v1/prior-auth/requests/{id}/clinical-exception", security(("bearer" = [])), params(("id" = String, Path)), request_body = ReviewBody,
    responses((status = 201, body = Object), (status = 401, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 422, body = ApiError)))]
pub async fn clinical_exception(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    open_review(&state, &headers, &id, &body, ReviewKind::ClinicalException).await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MetricsQuery {
    /// The calendar year (default: this year).
    year: Option<i32>,
}

/// The year's metrics, from the store.
pub async fn metrics_of(
    store: &crate::store::Store,
    year: i32,
) -> anyhow::Result<metrics::Metrics> {
    let from = Utc
        .with_ymd_and_hms(year, 1, 1, 0, 0, 0)
        .single()
        .ok_or_else(|| anyhow::anyhow!("year {year}"))?;
    let to = Utc
        .with_ymd_and_hms(year + 1, 1, 1, 0, 0, 0)
        .single()
        .ok_or_else(|| anyhow::anyhow!("year {year}"))?;
    let all = store.pa_period(from, to).await?;
    Ok(metrics::compute(year, &all))
}

/// The CMS-0057-F prior-authorization metrics of a year, for standard and
/// expedited requests (public: payers post them).
#[utoipa::path(get, path = "/api/v1/prior-auth/metrics", params(MetricsQuery),
    responses((status = 200, body = metrics::Metrics), (status = 422, body = ApiError)))]
pub async fn metrics_handler(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<MetricsQuery>,
) -> Result<Json<metrics::Metrics>, ApiError> {
    let year = q.year.unwrap_or_else(|| state.pas.clock.now().year());
    if !(2000..=2200).contains(&year) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-year",
            format!("year must be from 2000 to 2200, not {year}"),
        )
        .field("year"));
    }
    metrics_of(&state.store, year)
        .await
        .map(Json)
        .map_err(store_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_periods() {
        let n = auth_number("0190a6f2-7c4e-7def-8a12-3456789abcde", 2);
        assert_eq!(n, "MP3456789ABCDE-2");
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(
            period_of(Some(d("2026-03-01")), None, d("2026-01-01")),
            (d("2026-03-01"), d("2026-05-30"))
        );
        assert_eq!(
            period_of(None, Some(d("2026-01-10")), d("2026-01-01")),
            (d("2026-01-01"), d("2026-01-10"))
        );
        assert_eq!(
            period_of(
                Some(d("2026-03-01")),
                Some(d("2026-02-01")),
                d("2026-01-01")
            )
            .1,
            d("2026-05-30")
        );
    }
}
