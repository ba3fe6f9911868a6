//! Da Vinci Coverage Requirements Discovery (CRD 2.2) over CDS Hooks 2.0.
//!
//! The EHR calls a service per hook with the orders in `context` and the
//! member's Coverage in `prefetch`. Each order's codes (and the codes offered
//! in `ext-billing-options`) are decided by the engine for the line of
//! business the Coverage maps to, in the setting the order (or its encounter)
//! gives, on the order's date; the answer is a `systemActions` update of the
//! order carrying `ext-coverage-information`, and a card where a clinician
//! must act (not covered, prior authorization needed).
//!
//! Requests are read as loose JSON on purpose: real clients send nulls, a
//! single object where an array belongs, Bundles without `type`, legacy
//! fields and odd prefetch keys. What cannot be used is answered with a FHIR
//! OperationOutcome: 400 invalid input, 401 authentication, 412 a Coverage
//! needed but neither prefetched nor fetchable, 422 a CRD rule broken.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use medpol_core::code::{Code, CodeSystem};
use medpol_core::determination::{
    Coverage, CriterionNode, Determination, LineDetermination, PriorAuth, Reason,
};
use medpol_core::model::Combine;
use medpol_core::request::{Request, ServiceLine};
use medpol_core::Setting;
use serde_json::{json, Value};

use crate::auth::ClientAuth;
use crate::cds_coverage::CoverageMap;
use crate::store::DecisionRecord;
use crate::AppState;

mod answer;
pub(crate) mod fhir;

use answer::*;
use fhir::*;

const EXT_COVERAGE_INFO: &str =
    "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information";
const EXT_BILLING_OPTIONS: &str =
    "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-billing-options";
const CRD_TEMP: &str = "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp";
pub(crate) const POS_SYSTEM: &str =
    "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set";

/// How the CDS Hooks endpoints authenticate and map coverage.
pub struct CdsConfig {
    /// Trusted clients; `None` only in development mode.
    pub auth: Option<Arc<ClientAuth>>,
    /// Authentication off: explicit, and warned about at every start.
    pub insecure_dev_mode: bool,
    pub coverage_map: CoverageMap,
    /// The URL clients call us by (`aud` must equal it plus the path; links
    /// in cards start with it): `--public-url`, else the address listened on.
    pub public_url: String,
}

/// (service id, hook, title)
const SERVICES: [(&str, &str, &str); 6] = [
    (
        "order-sign-crd",
        "order-sign",
        "Coverage requirements for orders being signed",
    ),
    (
        "order-select-crd",
        "order-select",
        "Coverage requirements for orders being selected",
    ),
    (
        "order-dispatch-crd",
        "order-dispatch",
        "Coverage requirements for orders being dispatched",
    ),
    (
        "appointment-book-crd",
        "appointment-book",
        "Coverage requirements for appointments being booked",
    ),
    (
        "encounter-start-crd",
        "encounter-start",
        "Coverage requirements at the start of an encounter",
    ),
    (
        "encounter-discharge-crd",
        "encounter-discharge",
        "Coverage requirements at discharge",
    ),
];

pub fn router() -> Router<Arc<AppState>> {
    // CDS Hooks asks services to allow CORS, so that browser-based CDS
    // clients can call them; only here, not on the REST or admin API. Any
    // origin, no credentials (cookies): a call is authorized by the bearer JWT
    // the client sends, which a foreign page does not have.
    let cors = tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .max_age(Duration::from_secs(86_400));
    Router::new()
        .route("/cds-services", get(discovery))
        .route("/cds-services/{id}", post(call))
        .route("/cds-services/{id}/feedback", post(feedback))
        .layer(axum::middleware::map_response(as_operation_outcome))
        .layer(cors)
}

/// Errors raised before a handler runs (the body limit's 413, a wrong
/// method's 405) answer in plain text; a CDS client expects an
/// OperationOutcome like every other error of these endpoints.
async fn as_operation_outcome(res: Response) -> Response {
    let status = res.status();
    let json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !status.is_client_error() || json {
        return res;
    }
    let (code, message) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => (
            "too-costly",
            "the request body is larger than this service accepts (--body-limit)",
        ),
        StatusCode::METHOD_NOT_ALLOWED => ("not-supported", "this method is not supported here"),
        _ => ("invalid", "the request could not be read"),
    };
    outcome(status, code, message)
}

/// A FHIR OperationOutcome error response.
/// A call's body as JSON, or the 400 that says why it is not.
// The error is the HTTP answer itself.
#[allow(clippy::result_large_err)]
fn json_body(body: &[u8], what: &str) -> Result<Value, Response> {
    serde_json::from_slice(body).map_err(|e| {
        outcome(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("the {what} is not JSON: {e}"),
        )
    })
}

fn outcome(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let message = crate::bounded_message(&message.into());
    let body = json!({
        "resourceType": "OperationOutcome",
        "issue": [{ "severity": "error", "code": code, "diagnostics": message }]
    });
    let mut res = (status, Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
    }
    res
}

/// The hook a service id answers.
pub(crate) fn service_hook(id: &str) -> Option<&'static str> {
    SERVICES
        .iter()
        .find(|(sid, _, _)| *sid == id)
        .map(|(_, hook, _)| *hook)
}

fn unknown_service(id: &str) -> Response {
    outcome(
        StatusCode::NOT_FOUND,
        "not-found",
        format!(
            "no CDS service {}; see GET /cds-services",
            medpol_core::excerpt(id)
        ),
    )
}

async fn discovery() -> Json<Value> {
    let services: Vec<Value> = SERVICES
        .iter()
        .map(|(id, hook, title)| {
            let mut prefetch = serde_json::Map::new();
            prefetch.insert("patient".into(), json!("Patient/{{context.patientId}}"));
            prefetch.insert("coverage".into(), json!("Coverage?patient={{context.patientId}}&status=active"));
            match *hook {
                "order-sign" | "order-select" => {
                    prefetch.insert("encounter".into(), json!("Encounter/{{context.encounterId}}"));
                }
                "order-dispatch" => {
                    prefetch.insert("serviceRequests".into(), json!("ServiceRequest?_id={{context.dispatchedOrders.ofType(ServiceRequest).id}}"));
                    prefetch.insert("deviceRequests".into(), json!("DeviceRequest?_id={{context.dispatchedOrders.ofType(DeviceRequest).id}}"));
                    prefetch.insert("medicationRequests".into(), json!("MedicationRequest?_id={{context.dispatchedOrders.ofType(MedicationRequest).id}}"));
                }
                "appointment-book" => {
                    prefetch.insert("serviceRequests".into(), json!("ServiceRequest?_id={{context.appointments.entry.resource.basedOn.resolve().ofType(ServiceRequest).id}}"));
                }
                _ => {
                    prefetch.insert("encounter".into(), json!("Encounter/{{context.encounterId}}"));
                }
            }
            json!({
                "hook": hook,
                "id": id,
                "title": title,
                "description": "Indicates whether the ordered service is covered and whether prior authorization is needed, citing the medical policy behind the answer (Da Vinci CRD 2.2).",
                "prefetch": prefetch,
                "extension": { "davinci-crd.supportedVersions": ["2.2"] }
            })
        })
        .collect();
    Json(json!({ "services": services }))
}

/// The clock skew allowed on client tokens' `exp`, `nbf` and `iat`; a token id
/// is remembered that long after its `exp`, while the token could still pass.
pub const JTI_SKEW_SECS: u64 = 60;

/// The URL the client called, as `aud` must name it. From configuration
/// only: a Host header is the client's to choose.
fn audience(state: &AppState, path: &str) -> String {
    format!("{}{path}", state.cds.public_url.trim_end_matches('/'))
}

/// Checks the client's JWT; returns the client (`iss`) for the records.
async fn authenticate(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    path: &str,
) -> Result<String, Response> {
    if state.cds.insecure_dev_mode {
        return Ok("insecure-dev-mode".into());
    }
    let Some(auth) = state.cds.auth.clone() else {
        return Err(outcome(
            StatusCode::UNAUTHORIZED,
            "security",
            "no trusted CDS clients are configured (--cds-clients FILE)",
        ));
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| crate::auth::bearer_token(Some(v)).ok())
        .map(str::to_string);
    let Some(token) = token else {
        return Err(outcome(
            StatusCode::UNAUTHORIZED,
            "security",
            "a bearer JWT is required (CDS Hooks client authentication)",
        ));
    };
    let aud = audience(state, path);
    // Verification may fetch a JWKS over the network.
    let verified =
        tokio::task::spawn_blocking(move || auth.verify(&token, &aud, SystemTime::now()))
            .await
            .map_err(|_| {
                outcome(
                    StatusCode::UNAUTHORIZED,
                    "security",
                    "the token could not be verified",
                )
            })?;
    match verified {
        Ok(claims) => {
            // The in-process cache stops a replay to this replica; the store
            // stops one to any other replica on the same database.
            let now = SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let until = claims.exp.saturating_add(JTI_SKEW_SECS);
            match state
                .store
                .remember_token(&claims.iss, &claims.jti, until, now)
                .await
            {
                Ok(true) => Ok(claims.iss),
                Ok(false) => {
                    let e = crate::auth::AuthError::Replayed {
                        iss: claims.iss,
                        jti: claims.jti,
                    };
                    tracing::warn!(error = %e, "CDS client authentication failed");
                    Err(outcome(StatusCode::UNAUTHORIZED, "security", e.to_string()))
                }
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "could not record the token id");
                    Err(cds_error_unavailable())
                }
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "CDS client authentication failed");
            Err(outcome(StatusCode::UNAUTHORIZED, "security", e.to_string()))
        }
    }
}

async fn feedback(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let client = match authenticate(&state, &headers, uri.path()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if service_hook(&id).is_none() {
        return unknown_service(&id);
    }
    let value = match json_body(&body, "feedback") {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !value["feedback"].is_array() && !value["feedback"].is_object() {
        return outcome(
            StatusCode::BAD_REQUEST,
            "invalid",
            "expected an object with a `feedback` array",
        );
    }
    match state.store.insert_feedback(&id, &client, &value).await {
        Ok(()) => Json(json!({})).into_response(),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "feedback not stored");
            outcome(
                StatusCode::SERVICE_UNAVAILABLE,
                "transient",
                "the feedback could not be stored; retry",
            )
        }
    }
}

/// The most orders one hook call may ask about: far above what a clinician
/// signs at once, yet it bounds the work and the log rows of a call.
pub const MAX_ORDERS: usize = 100;

fn cds_error_unavailable() -> Response {
    outcome(
        StatusCode::SERVICE_UNAVAILABLE,
        "transient",
        "the decision could not be recorded; retry",
    )
}

/// Fetches the member's active Coverage from the EHR's FHIR server, with the
/// access token the EHR granted us (`fhirAuthorization`).
async fn fetch_coverage(request: &Value) -> Option<Value> {
    let server = request["fhirServer"]
        .as_str()?
        .trim_end_matches('/')
        .to_string();
    let patient = request["context"]["patientId"].as_str()?.to_string();
    let token = request["fhirAuthorization"]["access_token"]
        .as_str()
        .map(str::to_string);
    if !(server.starts_with("http://") || server.starts_with("https://")) {
        return None;
    }
    tokio::task::spawn_blocking(move || {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(3))
            .build();
        let mut req = agent
            .get(&format!("{server}/Coverage"))
            .query("patient", &patient)
            .query("status", "active")
            .set("accept", "application/fhir+json");
        if let Some(t) = token {
            req = req.set("authorization", &format!("Bearer {t}"));
        }
        let body: Value = req.call().ok()?.into_json().ok()?;
        resources(&body)
            .into_iter()
            .find(|r| text(&r["resourceType"]) == "Coverage")
            .cloned()
    })
    .await
    .ok()
    .flatten()
}

async fn call(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = authenticate(&state, &headers, uri.path()).await {
        return r;
    }
    let Some(hook) = service_hook(&id) else {
        return unknown_service(&id);
    };
    let request = match json_body(&body, "request") {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !request.is_object() {
        return outcome(
            StatusCode::BAD_REQUEST,
            "invalid",
            "the request must be a JSON object",
        );
    }
    if text(&request["hook"]) != hook {
        return outcome(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!(
                "`hook` is {} but service `{id}` is for `{hook}`",
                medpol_core::excerpt(text(&request["hook"]))
            ),
        );
    }
    if request["hookInstance"].as_str().is_none_or(str::is_empty) {
        return outcome(
            StatusCode::BAD_REQUEST,
            "required",
            "`hookInstance` is required",
        );
    }
    let context = &request["context"];
    if !context.is_object() {
        return outcome(
            StatusCode::BAD_REQUEST,
            "required",
            "`context` (an object) is required",
        );
    }
    for key in ["draftOrders", "appointments"] {
        if let Err(e) = check_resources(&context[key], &format!("context.{key}")) {
            return outcome(StatusCode::BAD_REQUEST, "structure", e);
        }
    }
    let version = text(&request["extension"]["davinci-crd.requestedVersion"]);
    if !version.is_empty() && !version.starts_with("2.") {
        return outcome(
            StatusCode::UNPROCESSABLE_ENTITY,
            "business-rule",
            format!(
                "CRD version {} is not supported; supported: 2.2",
                medpol_core::excerpt(version)
            ),
        );
    }
    let coverage_info_wanted =
        request["extension"]["davinci-crd.configuration"]["coverage-info"].as_bool() != Some(false);

    // Everything prefetched, whatever the keys are called.
    let prefetched: Vec<&Value> = match &request["prefetch"] {
        Value::Object(m) => m.values().flat_map(resources).collect(),
        other => resources(other),
    };
    let encounter_id = text(&context["encounterId"]);
    let encounter = prefetched
        .iter()
        .copied()
        .filter(|r| text(&r["resourceType"]) == "Encounter")
        .find(|r| encounter_id.is_empty() || text(&r["id"]) == encounter_id)
        .or_else(|| {
            prefetched
                .iter()
                .copied()
                .find(|r| text(&r["resourceType"]) == "Encounter")
        });

    // The orders this hook is about.
    let context_resources: Vec<&Value> = ["draftOrders", "appointments", "orders"]
        .iter()
        .flat_map(|k| resources(&context[*k]))
        .collect();
    let mut targets: Vec<&Value> = match hook {
        "order-sign" | "order-select" => {
            if context["draftOrders"].is_null() {
                return outcome(
                    StatusCode::BAD_REQUEST,
                    "required",
                    format!("`context.draftOrders` is required for {hook}"),
                );
            }
            let drafts = resources(&context["draftOrders"]);
            let selections: Vec<&str> = list(&context["selections"])
                .into_iter()
                .filter_map(Value::as_str)
                .collect();
            if hook == "order-select" && !selections.is_empty() {
                for s in &selections {
                    if !drafts.iter().any(|d| names(s, d)) {
                        return outcome(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            "business-rule",
                            format!(
                                "selection {} is not among the draftOrders",
                                medpol_core::excerpt(s)
                            ),
                        );
                    }
                }
                drafts
                    .into_iter()
                    .filter(|d| selections.iter().any(|s| names(s, d)))
                    .collect()
            } else {
                drafts
            }
        }
        "order-dispatch" => {
            let mut refs: Vec<&str> = list(&context["dispatchedOrders"])
                .into_iter()
                .filter_map(Value::as_str)
                .collect();
            refs.extend(
                list(&context["order"])
                    .into_iter()
                    .filter_map(Value::as_str),
            );
            refs.iter()
                .filter_map(|r| {
                    prefetched
                        .iter()
                        .chain(context_resources.iter())
                        .copied()
                        .find(|x| names(r, x))
                })
                .collect()
        }
        "appointment-book" => {
            if context["appointments"].is_null() {
                return outcome(
                    StatusCode::BAD_REQUEST,
                    "required",
                    "`context.appointments` is required for appointment-book",
                );
            }
            resources(&context["appointments"])
        }
        _ => encounter.into_iter().collect(),
    };
    targets.retain(|r| {
        matches!(
            text(&r["resourceType"]),
            "ServiceRequest"
                | "DeviceRequest"
                | "MedicationRequest"
                | "NutritionOrder"
                | "CommunicationRequest"
                | "VisionPrescription"
                | "Appointment"
                | "Encounter"
        )
    });

    let today = chrono::Utc::now().date_naive();
    let current = state.current();
    let engine = &current.engine;
    let related: Vec<&Value> = prefetched
        .iter()
        .chain(context_resources.iter())
        .copied()
        .collect();
    let orders: Vec<Order> = targets
        .into_iter()
        .map(|r| order_of(r, encounter, &related, today))
        .collect();
    if orders.is_empty() {
        return Json(json!({ "cards": [] })).into_response();
    }
    if orders.len() > MAX_ORDERS {
        return outcome(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too-costly",
            format!(
                "the call carries {} orders; at most {MAX_ORDERS} are decided per hook call",
                orders.len()
            ),
        );
    }

    // The Coverage is needed as soon as one order has a code some policy governs.
    let governed = |c: &Code| engine.governs(c);
    // The member's Coverage: an active one this service maps to a product,
    // else any active one (answered as not mapped); cancelled ones do not count.
    let active: Vec<&Value> = prefetched
        .iter()
        .copied()
        .filter(|r| text(&r["resourceType"]) == "Coverage")
        .filter(|r| matches!(text(&r["status"]), "active" | ""))
        .collect();
    let mut coverage = active
        .iter()
        .find(|c| state.cds.coverage_map.resolve(c).is_some())
        .or(active.first())
        .map(|c| (*c).clone());
    if coverage.is_none() && orders.iter().any(|o| o.codes.iter().any(governed)) {
        coverage = fetch_coverage(&request).await;
        if coverage.is_none() {
            return outcome(
                StatusCode::PRECONDITION_FAILED,
                "required",
                "the member's Coverage is needed to decide these orders: prefetch `coverage` (Coverage?patient={{context.patientId}}&status=active) or grant access to fhirServer",
            );
        }
    }
    let product = coverage
        .as_ref()
        .and_then(|c| state.cds.coverage_map.resolve(c))
        .and_then(|(payer, product)| engine.resolve_product(Some(payer), product).ok());
    let payer_name = product
        .map(|p| engine.product_ids(p).0.to_uppercase())
        .unwrap_or_else(|| "the payer".to_string());
    let base = audience(&state, "");

    let mut actions = Vec::new();
    let mut cards = Vec::new();
    let mut records = Vec::new();
    for order in &orders {
        let assertion = match decide_order(
            &state,
            &mut records,
            engine,
            product,
            &payer_name,
            order,
            &base,
            coverage.is_some(),
        ) {
            Ok(a) => a,
            Err(r) => return r,
        };
        let Some(assertion) = assertion else { continue };
        if let Some((indicator, summary, detail)) = &assertion.card {
            let links: Vec<Value> = assertion
                .policy_links
                .iter()
                .map(|(label, url)| json!({ "label": label, "url": url, "type": "absolute" }))
                .collect();
            cards.push(json!({
                "uuid": uuid::Uuid::new_v4().to_string(),
                "summary": summary,
                "indicator": indicator,
                "detail": detail,
                "source": {
                    "label": format!("{payer_name} medical policy"),
                    "topic": { "system": CRD_TEMP, "code": "coverage-info", "display": "Coverage Information" }
                },
                "links": links,
            }));
        }
        if let (Some(cov), true) = (&coverage, coverage_info_wanted) {
            actions.push(system_action(order, cov, &assertion, today));
        }
    }
    // Every decision of this call in one commit, before anything is answered.
    if let Err(e) = state.log.record_all(records).await {
        tracing::error!(error = %e, "CDS decisions not recorded");
        return cds_error_unavailable();
    }
    let mut response = json!({ "cards": cards });
    if !actions.is_empty() {
        response["systemActions"] = Value::Array(actions);
    }
    Json(response).into_response()
}

/// Decides one order: `Ok(None)` when there is nothing to assert. The
/// decisions made go to `records`, for the caller to log in one commit; the
/// CRD answer itself is [`assertion_of`], a pure function of the order and
/// its determinations.
#[allow(clippy::too_many_arguments)]
// The error is the HTTP answer itself, built at most once per call.
#[allow(clippy::result_large_err)]
fn decide_order(
    state: &Arc<AppState>,
    records: &mut Vec<DecisionRecord>,
    engine: &medpol_core::Engine,
    product: Option<medpol_core::ProductRef>,
    payer_name: &str,
    order: &Order<'_>,
    base: &str,
    have_coverage: bool,
) -> Result<Option<Assertion>, Response> {
    if order.codes.is_empty() {
        return Ok(have_coverage.then(|| no_decidable_code(order, payer_name)));
    }
    let Some(product) = product else {
        return Ok(have_coverage.then(coverage_not_mapped));
    };
    let (payer_id, product_id) = engine.product_ids(product);
    let settings: Vec<Setting> = match order.setting {
        Some(s) => vec![s],
        None => vec![Setting::Outpatient, Setting::Inpatient],
    };
    let mut decided: Vec<(Setting, Determination)> = Vec::new();
    let mut ids = Vec::new();
    for setting in settings {
        let request = Request {
            payer: Some(payer_id.to_string()),
            product: product_id.to_string(),
            setting,
            date: order.date,
            lines: order.codes.iter().map(|c| ServiceLine::new(*c)).collect(),
            diagnoses: order.diagnoses.clone(),
        };
        let Ok(d) = engine.determine(&request) else {
            continue;
        };
        let record = state
            .records
            .record_of(&request, &d, "cds-hooks")
            .map_err(|_| cds_error_unavailable())?;
        ids.push(record.id.clone());
        records.push(record);
        decided.push((setting, d));
    }
    Ok(assertion_of(
        order,
        &decided,
        payer_name,
        base,
        ids.join(","),
    ))
}

#[cfg(test)]
mod tests;
