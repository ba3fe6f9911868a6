//! Documentation Templates and Rules (Da Vinci DTR), the part that stands on
//! the policies alone: each statement with medical-necessity criteria is a
//! FHIR R4 Questionnaire (one boolean item per criterion, groups for "one
//! of" / "all of"), versioned with the policy, served under `/fhir` and
//! packaged by `$questionnaire-package`. The CRD answer for an order whose
//! coverage rests on criteria names the questionnaire (see `cds/answer.rs`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use medpol_core::model::{Combine, CoverageStatement, Criterion, Policy};
use serde_json::{json, Value};

use crate::AppState;

const FHIR_JSON: &str = "application/fhir+json";
const DTR_QUESTIONNAIRE: &str =
    "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-std-questionnaire";

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/fhir/Questionnaire/{id}", get(read))
        .route("/fhir/Questionnaire/$questionnaire-package", post(package))
        .route("/fhir/metadata", get(metadata))
}

/// The CapabilityStatement: what this FHIR endpoint supports, and nothing
/// it does not: DTR questionnaires, PAS `Claim/$submit` and `$inquire`,
/// topic-based subscriptions, and SMART Backend Services for the PAS
/// operations.
async fn metadata(State(state): State<Arc<AppState>>) -> Response {
    let base = state.cds.public_url.trim_end_matches('/');
    let pas = "http://hl7.org/fhir/us/davinci-pas/OperationDefinition";
    let doc = json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": chrono::Utc::now().date_naive().to_string(),
        "kind": "instance",
        "software": { "name": "medpol", "version": env!("CARGO_PKG_VERSION") },
        "implementation": {
            "description": "medpol: medical-policy questionnaires (Da Vinci DTR) and prior authorization (Da Vinci PAS) from the payer's policies",
            "url": format!("{base}/fhir"),
        },
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [{
            "mode": "server",
            "security": {
                "service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR"}]}],
                "description": "Claim/$submit, Claim/$inquire and Subscription need a bearer token from SMART Backend Services (client credentials with a signed JWT assertion).",
                "extension": [{
                    "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                    "extension": [{"url": "token", "valueUri": format!("{base}/auth/token")}],
                }],
            },
            "resource": [
                {
                    "type": "Questionnaire",
                    "profile": DTR_QUESTIONNAIRE,
                    "interaction": [{ "code": "read" }],
                    "operation": [{
                        "name": "questionnaire-package",
                        "definition": "http://hl7.org/fhir/us/davinci-dtr/OperationDefinition/Questionnaire-package",
                    }],
                },
                {
                    "type": "Claim",
                    "profile": "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/profile-claim",
                    "operation": [
                        { "name": "submit", "definition": format!("{pas}/Claim-submit") },
                        { "name": "inquire", "definition": format!("{pas}/Claim-inquiry") },
                    ],
                },
                {
                    "type": "Subscription",
                    "interaction": [{ "code": "create" }, { "code": "read" }],
                    "supportedProfile": ["http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription"],
                },
            ],
        }],
    });
    ([(header::CONTENT_TYPE, FHIR_JSON)], doc.to_string()).into_response()
}

/// The questionnaire id of a statement: `{payer}-{number}-{statement}`, in
/// the characters a FHIR id allows.
pub fn questionnaire_id(payer: &str, number: &str, statement: &str) -> String {
    let id: String = format!("{payer}-{number}-{statement}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    id.chars().take(64).collect()
}

/// The canonical URL of a statement's questionnaire, with its version
/// (`url|version`), as CRD and DTR name it.
pub fn canonical(base: &str, payer: &str, number: &str, statement: &str, version: &str) -> String {
    format!(
        "{base}/fhir/Questionnaire/{}|{version}",
        questionnaire_id(payer, number, statement)
    )
}

fn item(c: &Criterion, prefix: &str) -> Value {
    let link = if prefix.is_empty() {
        c.id.clone()
    } else {
        format!("{prefix}.{}", c.id)
    };
    if c.criteria.is_empty() {
        return json!({
            "linkId": link, "prefix": format!("{link}."), "type": "boolean", "required": true,
            "text": medpol_core::markup::plain(&c.text),
        });
    }
    let how = match c.combine {
        Combine::AllOf => "all of the following",
        Combine::AnyOf => "one of the following",
    };
    json!({
        "linkId": link, "prefix": format!("{link}."), "type": "group",
        "text": format!("{} ({how})", medpol_core::markup::plain(&c.text)),
        "item": c.criteria.iter().map(|k| item(k, &link)).collect::<Vec<_>>(),
    })
}

/// The Questionnaire of one statement with criteria, as of the policy's
/// latest version.
pub fn questionnaire(base: &str, payer_name: &str, p: &Policy, s: &CoverageStatement) -> Value {
    let id = questionnaire_id(&p.payer, &p.number, &s.id);
    let version = p
        .versions()
        .last()
        .map(|v| v.label.clone())
        .unwrap_or_default();
    let how = match s.criteria_match {
        Combine::AllOf => "All of the following must be met",
        Combine::AnyOf => "One of the following must be met",
    };
    json!({
        "resourceType": "Questionnaire",
        "id": id,
        "meta": { "profile": [DTR_QUESTIONNAIRE] },
        "url": format!("{base}/fhir/Questionnaire/{id}"),
        "version": version,
        "name": id.replace(['-', '.'], "_"),
        "title": format!("{} medical policy {}: {} — {}", payer_name, p.number, p.title,
                         s.heading.as_deref().unwrap_or(&s.id)),
        "status": if p.retired.is_some() { "retired" } else { "active" },
        "subjectType": ["Patient"],
        "publisher": payer_name,
        "description": medpol_core::markup::plain(&s.text),
        "item": [{
            "linkId": "criteria",
            "type": "group",
            "text": format!("{how} ({} medical policy {}, version {version}).", payer_name, p.number),
            "item": s.criteria.iter().map(|c| item(c, "")).collect::<Vec<_>>(),
        }],
    })
}

fn outcome(status: StatusCode, code: &str, message: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, FHIR_JSON)],
        json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code, "diagnostics": message}]})
            .to_string(),
    )
        .into_response()
}

/// The questionnaire with this id in the current catalogue (the latest
/// revision of its policy), or why not.
// The error is the HTTP answer itself, built at most once per request.
#[allow(clippy::result_large_err)]
fn find(state: &AppState, id: &str) -> Result<Value, Response> {
    let current = state.current();
    let catalog = current.engine.catalog();
    let base = state.cds.public_url.trim_end_matches('/').to_string();
    for p in catalog.policies.iter().rev() {
        for s in p.statements.iter().filter(|s| !s.criteria.is_empty()) {
            if questionnaire_id(&p.payer, &p.number, &s.id) == id {
                let payer_name = catalog
                    .payer(&p.payer)
                    .map(|x| x.name.as_str())
                    .unwrap_or(&p.payer);
                return Ok(questionnaire(&base, payer_name, p, s));
            }
        }
    }
    Err(outcome(
        StatusCode::NOT_FOUND,
        "not-found",
        format!(
            "no questionnaire {}: questionnaires are those of policy statements with medical-necessity criteria, `{{payer}}-{{number}}-{{statement}}`",
            medpol_core::excerpt(id)
        ),
    ))
}

async fn read(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    match find(&state, &id) {
        Ok(q) => ([(header::CONTENT_TYPE, FHIR_JSON)], q.to_string()).into_response(),
        Err(r) => r,
    }
}

/// `$questionnaire-package`: a Parameters naming questionnaires by canonical
/// (`questionnaire`, `url|version` or `url`); answers a Parameters with one
/// `PackageBundle` (a collection Bundle of the Questionnaires).
async fn package(State(state): State<Arc<AppState>>, body: axum::body::Bytes) -> Response {
    let input: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return outcome(
                StatusCode::BAD_REQUEST,
                "invalid",
                format!("the body is not JSON: {e}"),
            )
        }
    };
    if input["resourceType"] != "Parameters" {
        return outcome(
            StatusCode::BAD_REQUEST,
            "invalid",
            "the body must be a FHIR Parameters resource".into(),
        );
    }
    let canonicals: Vec<&str> = input["parameter"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["name"] == "questionnaire")
        .filter_map(|p| p["valueCanonical"].as_str())
        .collect();
    if canonicals.is_empty() {
        return outcome(
            StatusCode::UNPROCESSABLE_ENTITY,
            "required",
            "name at least one questionnaire: a parameter `questionnaire` with valueCanonical (as the CRD answer gives it)".into(),
        );
    }
    let mut entries = Vec::new();
    for c in canonicals {
        let (url, version) = c.split_once('|').map_or((c, None), |(u, v)| (u, Some(v)));
        let id = url.rsplit('/').next().unwrap_or("");
        let q = match find(&state, id) {
            Ok(q) => q,
            Err(r) => return r,
        };
        if version.is_some_and(|v| q["version"] != v) {
            return outcome(
                StatusCode::NOT_FOUND,
                "not-found",
                format!(
                    "questionnaire {} is at version {}, not {}",
                    medpol_core::excerpt(id),
                    q["version"].as_str().unwrap_or(""),
                    medpol_core::excerpt(version.unwrap_or(""))
                ),
            );
        }
        entries.push(json!({ "fullUrl": q["url"].clone(), "resource": q }));
    }
    let out = json!({
        "resourceType": "Parameters",
        "parameter": [{
            "name": "PackageBundle",
            "resource": { "resourceType": "Bundle", "type": "collection", "entry": entries },
        }],
    });
    ([(header::CONTENT_TYPE, FHIR_JSON)], out.to_string()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criteria_become_boolean_items_in_groups() {
        let mut p: Policy = toml::from_str(include_str!(
            "../../../policies/bcbsma/183-prolotherapy.toml"
        ))
        .unwrap();
        let mut any = Criterion::leaf("2", "Conservative treatment failed");
        any.combine = Combine::AnyOf;
        any.criteria = vec![
            Criterion::leaf("1", "physical therapy"),
            Criterion::leaf("2", "NSAIDs"),
        ];
        p.statements[0].criteria = vec![Criterion::leaf("1", "Pain for **3 months**"), any];
        let q = questionnaire("https://medpol.example", "BCBSMA", &p, &p.statements[0]);
        assert_eq!(q["id"], "bcbsma-183-commercial-investigational");
        assert_eq!(
            q["url"],
            "https://medpol.example/fhir/Questionnaire/bcbsma-183-commercial-investigational"
        );
        assert_eq!(q["version"], "1/2025");
        let items = &q["item"][0]["item"];
        assert_eq!(items[0]["type"], "boolean");
        assert_eq!(items[0]["text"], "Pain for 3 months");
        assert_eq!(items[1]["type"], "group");
        assert_eq!(
            items[1]["text"],
            "Conservative treatment failed (one of the following)"
        );
        assert_eq!(items[1]["item"][1]["linkId"], "2.2");
        assert_eq!(
            canonical("https://medpol.example", "bcbsma", "183", "commercial-investigational", "1/2025"),
            "https://medpol.example/fhir/Questionnaire/bcbsma-183-commercial-investigational|1/2025"
        );
        assert_eq!(questionnaire_id("p", "1", "a b/c"), "p-1-a-b-c");
    }
}
