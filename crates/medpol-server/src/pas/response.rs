//! The PAS response Bundle (pure): first entry a ClaimResponse whose items
//! echo each request item's sequence and trace number, with the review
//! action (X12 306), the preauthorization number and period where
//! certified, and the specific reason, citing the policy, where not.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::bundle::EXT_TRACE;
use super::model::{ItemStatus, RequestState};
use crate::cds::fhir::{list, text};

const PAS: &str = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition";
const X12_306: &str = "https://codesystem.x12.org/005010/306";
const X12_886: &str = "https://codesystem.x12.org/005010/886";
/// medpol's own reasons (`investigational`, `medical-necessity-criteria`...),
/// given beside any X12 886 code so the reason is never only a number.
pub const MEDPOL_REASON: &str = "urn:medpol:coverage-reason";

/// What the response needs of the stored request.
pub struct RequestView<'a> {
    pub id: &'a str,
    /// The request Bundle as received.
    pub bundle: &'a Value,
    pub received_at: DateTime<Utc>,
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn resolve<'b>(bundle: &'b Value, reference: &str) -> Option<&'b Value> {
    if reference.is_empty() {
        return None;
    }
    list(&bundle["entry"])
        .into_iter()
        .find(|e| {
            let r = &e["resource"];
            let want = format!("{}/{}", text(&r["resourceType"]), text(&r["id"]));
            text(&e["fullUrl"]) == reference
                || reference == want
                || reference.ends_with(&format!("/{want}"))
        })
        .map(|e| &e["resource"])
}

/// The response Bundle for a request in a state.
pub fn response_bundle(
    req: &RequestView,
    state: &RequestState,
    base: &str,
    now: DateTime<Utc>,
) -> Value {
    let claim = &req.bundle["entry"][0]["resource"];
    let mut notes: Vec<Value> = Vec::new();
    let mut note = |t: String| -> u32 {
        let n = notes.len() as u32 + 1;
        notes.push(json!({"number": n, "type": "display", "text": t}));
        n
    };
    let mut items = Vec::new();
    for it in &state.items {
        let (code, display) = it.status.x12();
        let mut action = vec![json!({
            "url": format!("{PAS}/extension-reviewActionCode"),
            "valueCodeableConcept": {"coding": [{"system": X12_306, "code": code, "display": display}]}
        })];
        if let Some(n) = &it.auth_number {
            action.push(json!({"url": "number", "valueString": n}));
        }
        if it.status == ItemStatus::NotCertified {
            let mut coding = Vec::new();
            if let Some(c) = &it.reason_code {
                coding.push(json!({"system": X12_886, "code": c}));
            }
            if let Some(r) = &it.recommendation.coverage_reason {
                coding.push(json!({"system": MEDPOL_REASON, "code": r}));
            }
            action.push(json!({
                "url": "reasonCode",
                "valueCodeableConcept": {"coding": coding, "text": it.reason.clone().unwrap_or_else(|| it.recommendation.reason.clone())}
            }));
        }
        let mut ext = Vec::new();
        if let Some((system, value)) = &it.trace {
            ext.push(
                json!({"url": EXT_TRACE, "valueIdentifier": {"system": system, "value": value}}),
            );
        }
        if let (Some((start, end)), true) = (
            it.period,
            matches!(it.status, ItemStatus::Certified | ItemStatus::Modified),
        ) {
            ext.push(json!({"url": format!("{PAS}/extension-itemPreAuthIssueDate"), "valueDate": now.date_naive().to_string()}));
            ext.push(json!({"url": format!("{PAS}/extension-itemPreAuthPeriod"), "valuePeriod": {"start": start.to_string(), "end": end.to_string()}}));
        }
        // The specific reason, in words, with the policy, version and statement.
        let mut words = match it.status {
            ItemStatus::NotCertified => format!(
                "Not certified: {}",
                it.reason
                    .clone()
                    .unwrap_or_else(|| it.recommendation.reason.clone())
            ),
            ItemStatus::Pended => format!("Pended for review: {}", it.recommendation.reason),
            ItemStatus::Modified => format!(
                "Certified with changes: {} ({})",
                it.authorized.clone().unwrap_or_default(),
                it.reason.clone().unwrap_or_default()
            ),
            ItemStatus::Cancelled => "Cancelled by the requester.".into(),
            _ => it.recommendation.reason.clone(),
        };
        for c in &it.recommendation.citations {
            words.push_str(&format!(
                " [{} version {}, {}: \"{}\"]",
                c.policy, c.version, c.path, c.text
            ));
        }
        if it.status == ItemStatus::NotCertified {
            if let Some(ce) = &it.recommendation.clinical_exception {
                words.push_str(&format!(" Clinical exception process: {ce}"));
            }
            words.push_str(" The decision may be appealed.");
        }
        for q in &it.questionnaires {
            words.push_str(&format!(" Questionnaire: {q}"));
        }
        let n = note(words);
        items.push(json!({
            "extension": ext,
            "itemSequence": it.sequence,
            "noteNumber": [n],
            "adjudication": [{
                "extension": [{"url": format!("{PAS}/extension-reviewAction"), "extension": action}],
                "category": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/adjudication", "code": "submitted"}]}
            }]
        }));
    }
    let mut response = json!({
        "resourceType": "ClaimResponse",
        "id": req.id,
        "meta": {"profile": [format!("{PAS}/profile-claimresponse")]},
        "identifier": claim["identifier"].clone(),
        "status": "active",
        "type": claim["type"].clone(),
        "use": "preauthorization",
        "patient": claim["patient"].clone(),
        "created": stamp(now),
        "insurer": claim["insurer"].clone(),
        "requestor": claim["provider"].clone(),
        "request": {"reference": format!("{base}/fhir/Claim/{}", req.id)},
        "outcome": "complete",
        "item": items,
        "processNote": notes,
    });
    if let Some(n) = state.items.iter().find_map(|i| i.auth_number.clone()) {
        response["preAuthRef"] = json!(n);
    }
    let mut entry = vec![
        json!({"fullUrl": format!("{base}/fhir/ClaimResponse/{}", req.id), "resource": response}),
    ];
    for field in ["patient", "insurer", "provider"] {
        let reference = text(&claim[field]["reference"]);
        if let Some(r) = resolve(req.bundle, reference) {
            if !entry.iter().any(|e| e["resource"] == *r) {
                entry.push(json!({"fullUrl": reference, "resource": r}));
            }
        }
    }
    json!({
        "resourceType": "Bundle",
        "id": uuid::Uuid::new_v4().to_string(),
        "meta": {"profile": [format!("{PAS}/profile-pas-response-bundle")]},
        "identifier": {"system": "urn:ietf:rfc:3986", "value": format!("urn:uuid:{}", uuid::Uuid::new_v4())},
        "type": "collection",
        "timestamp": stamp(now),
        "entry": entry,
    })
}

/// A response that says the request could not be processed (PAS: a
/// ClaimResponse with `outcome` = `error`), e.g. a member's coverage this
/// payer does not recognise. Nothing is recorded for it.
pub fn error_bundle(
    request: &Value,
    code: (&str, &str),
    message: &str,
    now: DateTime<Utc>,
) -> Value {
    let claim = &request["entry"][0]["resource"];
    let id = uuid::Uuid::new_v4().to_string();
    json!({
        "resourceType": "Bundle",
        "id": uuid::Uuid::new_v4().to_string(),
        "type": "collection",
        "timestamp": stamp(now),
        "entry": [{
            "fullUrl": format!("urn:uuid:{id}"),
            "resource": {
                "resourceType": "ClaimResponse",
                "id": id,
                "meta": {"profile": [format!("{PAS}/profile-claimresponse")]},
                "identifier": claim["identifier"].clone(),
                "status": "active",
                "type": claim["type"].clone(),
                "use": "preauthorization",
                "patient": claim["patient"].clone(),
                "created": stamp(now),
                "insurer": claim["insurer"].clone(),
                "outcome": "error",
                "error": [{"code": {"coding": [{"system": "https://codesystem.x12.org/005010/901", "code": code.0, "display": code.1}], "text": message}}],
                "processNote": [{"number": 1, "type": "display", "text": message}],
            }
        }]
    })
}
