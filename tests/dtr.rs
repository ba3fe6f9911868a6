//! Da Vinci DTR's questionnaires from the policies, through `medpol serve`:
//! a statement with criteria is a Questionnaire, packaged by
//! `$questionnaire-package`, and the CRD answer for an order whose coverage
//! rests on those criteria names it.

mod common;
#[path = "common/server.rs"]
mod server;

use serde_json::{json, Value};
use server::*;

const ID: &str = "bcbsma-183-commercial-investigational";

fn post_fhir(a: &ureq::Agent, url: &str, body: &str) -> (u16, Value) {
    respond(
        a.post(url)
            .set("content-type", "application/fhir+json")
            .send_string(body),
    )
}

#[test]
fn criteria_are_questionnaires_that_crd_names() {
    let dir = tempfile::tempdir().unwrap();
    let policies = common::catalogue_copy(dir.path(), "policies");
    common::make_medically_necessary(&policies);
    let s = Server::start(
        &format!("sqlite://{}", dir.path().join("m.db").display()),
        &[
            "--policies",
            policies.to_str().unwrap(),
            "--cds-insecure-dev-mode",
        ],
    );
    let a = agent();

    // What the FHIR endpoint says it supports: questionnaires, PAS, subscriptions, and nothing it does not.
    let (st, cap) = get(&a, &s.url("/fhir/metadata"));
    assert_eq!(
        (st, cap["resourceType"].as_str()),
        (200, Some("CapabilityStatement")),
        "{cap}"
    );
    let resources = cap["rest"][0]["resource"].as_array().unwrap();
    let types: Vec<&str> = resources
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["Questionnaire", "Claim", "Subscription"], "{cap}");
    assert_eq!(
        resources[0]["operation"][0]["name"],
        "questionnaire-package"
    );
    let claim_ops: Vec<&str> = resources[1]["operation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(claim_ops, ["submit", "inquire"]);
    assert_eq!(
        cap["rest"][0]["security"]["extension"][0]["extension"][0]["valueUri"],
        s.url("/auth/token")
    );

    let (st, q) = get(&a, &s.url(&format!("/fhir/Questionnaire/{ID}")));
    assert_eq!(st, 200, "{q}");
    assert_eq!(q["resourceType"], "Questionnaire");
    assert_eq!(q["url"], s.url(&format!("/fhir/Questionnaire/{ID}")));
    assert_eq!(q["version"], "1/2025");
    let items = q["item"][0]["item"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["type"], "boolean");
    assert_eq!(items[0]["text"], "Pain for at least 3 months.");
    let (st, e) = get(&a, &s.url("/fhir/Questionnaire/bcbsma-183-nothing"));
    assert_eq!(
        (st, e["resourceType"].as_str()),
        (404, Some("OperationOutcome")),
        "{e}"
    );

    // The package, by the canonical CRD gives.
    let canonical = format!("{}|1/2025", q["url"].as_str().unwrap());
    let params = |c: &str| {
        json!({"resourceType": "Parameters", "parameter": [{"name": "questionnaire", "valueCanonical": c}]}).to_string()
    };
    let (st, p) = post_fhir(
        &a,
        &s.url("/fhir/Questionnaire/$questionnaire-package"),
        &params(&canonical),
    );
    assert_eq!(st, 200, "{p}");
    assert_eq!(p["parameter"][0]["name"], "PackageBundle");
    assert_eq!(
        p["parameter"][0]["resource"]["entry"][0]["resource"]["id"],
        ID
    );
    let stale = format!("{}|1/2020", q["url"].as_str().unwrap());
    assert_eq!(
        post_fhir(
            &a,
            &s.url("/fhir/Questionnaire/$questionnaire-package"),
            &params(&stale)
        )
        .0,
        404
    );
    assert_eq!(
        post_fhir(
            &a,
            &s.url("/fhir/Questionnaire/$questionnaire-package"),
            r#"{"resourceType":"Parameters"}"#
        )
        .0,
        422
    );
    assert_eq!(
        post_fhir(
            &a,
            &s.url("/fhir/Questionnaire/$questionnaire-package"),
            "not json"
        )
        .0,
        400
    );

    // CRD: an order whose coverage rests on the criteria asks for the documentation and names it.
    let order = json!({
        "resourceType": "ServiceRequest", "id": "sr-1", "status": "draft", "intent": "original-order",
        "code": {"coding": [{"system": "https://bluebutton.cms.gov/resources/codesystem/hcpcs", "code": "M0076"}]},
        "subject": {"reference": "Patient/p1"}, "occurrenceDateTime": "2025-06-01",
        "locationCode": [{"coding": [{"system": "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set", "code": "22"}]}]
    });
    let body = json!({
        "hook": "order-sign", "hookInstance": "dtr-1", "fhirServer": "http://127.0.0.1:9/fhir",
        "context": {"userId": "Practitioner/1", "patientId": "p1",
                    "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": order}]}},
        "prefetch": {"coverage": {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": {
            "resourceType": "Coverage", "id": "cov-1", "status": "active",
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "PPO"}]},
            "beneficiary": {"reference": "Patient/p1"}, "payor": [{"display": "Blue Cross Blue Shield of Massachusetts"}]}}]}}
    });
    let (st, answer) = post_json(&a, &s.url("/cds-services/order-sign-crd"), &body);
    assert_eq!(st, 200, "{answer}");
    let ext = answer["systemActions"][0]["resource"]["extension"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["url"]
                .as_str()
                .is_some_and(|u| u.ends_with("ext-coverage-information"))
        })
        .unwrap_or_else(|| panic!("{answer}"))["extension"]
        .clone();
    let sub = |name: &str| -> Vec<Value> {
        ext.as_array()
            .unwrap()
            .iter()
            .filter(|e| e["url"] == name)
            .cloned()
            .collect()
    };
    assert_eq!(sub("covered")[0]["valueCode"], "conditional", "{ext}");
    assert_eq!(sub("doc-needed")[0]["valueCode"], "clinical", "{ext}");
    assert_eq!(sub("questionnaire").len(), 1, "{ext}");
    assert_eq!(
        sub("questionnaire")[0]["valueCanonical"],
        canonical.as_str(),
        "{ext}"
    );
}
