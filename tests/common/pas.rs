//! Prior-authorization test helpers shared by the PAS and the web tests:
//! SMART Backend Services tokens for the test EHR, PAS request Bundles,
//! FHIR calls.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::server::*;

pub const CLIENT: &str = "https://ehr.example.org";
pub const REVIEWER: &str = "test-reviewer-token";
pub const POS: &str =
    "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set";
pub const HCPCS: &str = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets";
pub const REVIEW_ACTION: &str =
    "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-reviewAction";
pub const TRACE: &str =
    "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-itemTraceNumber";

pub fn keys() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/medpol-server/tests/fixtures/keys")
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn unique() -> String {
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{n:x}")
}

/// A SMART Backend Services client assertion (ES384, the test EHR's key).
pub fn assertion(aud: &str, iss: &str, sub: &str) -> String {
    let mut h = Header::new(Algorithm::ES384);
    h.kid = Some("es384-1".into());
    h.typ = Some("JWT".into());
    let pem = std::fs::read(keys().join("es384.pem")).unwrap();
    let claims = json!({"iss": iss, "sub": sub, "aud": aud, "exp": now() + 240, "iat": now(), "jti": unique()});
    encode(&h, &claims, &EncodingKey::from_ec_pem(&pem).unwrap()).unwrap()
}

pub fn token_call(s: &Server, form: &[(&str, &str)]) -> (u16, Value) {
    respond(agent().post(&s.url("/auth/token")).send_form(form))
}

pub fn token(s: &Server, scope: &str) -> String {
    let a = assertion(&s.url("/auth/token"), CLIENT, CLIENT);
    let (status, body) = token_call(
        s,
        &[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &a),
            ("scope", scope),
        ],
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "bearer");
    body["access_token"].as_str().unwrap().to_string()
}

pub fn fhir_post(s: &Server, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut r = agent()
        .post(&s.url(path))
        .set("content-type", "application/fhir+json");
    if let Some(t) = token {
        r = r.set("authorization", &format!("Bearer {t}"));
    }
    respond(r.send_string(&body.to_string()))
}

/// A PAS request for one code under a BCBSMA product (by SOPT type).
pub fn request(
    id: &str,
    sopt: &str,
    code: &str,
    pos: &str,
    priority: &str,
    more: Vec<Value>,
) -> Value {
    let mut entry = vec![
        json!({"fullUrl": "urn:uuid:claim-1", "resource": {
            "resourceType": "Claim", "id": "claim-1", "status": "active", "use": "preauthorization",
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]},
            "identifier": [{"system": "http://example.org/PATIENT_EVENT_TRACE_NUMBER", "value": id}],
            "priority": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": priority}]},
            "patient": {"reference": "Patient/p1"}, "insurer": {"reference": "Organization/bcbsma"},
            "provider": {"reference": "Organization/clinic"}, "created": "2026-03-02T09:00:00Z",
            "insurance": [{"sequence": 1, "focal": true, "coverage": {"reference": "Coverage/cov1"}}],
            "item": [{
                "sequence": 1,
                "extension": [{"url": TRACE, "valueIdentifier": {"system": "http://example.org/ITEM_TRACE", "value": format!("{id}-1")}}],
                "productOrService": {"coding": [{"system": HCPCS, "code": code}]},
                "locationCodeableConcept": {"coding": [{"system": POS, "code": pos}]},
                "servicedDate": "2026-03-20"
            }]
        }}),
        json!({"resource": {"resourceType": "Patient", "id": "p1", "name": [{"family": "Test"}]}}),
        json!({"resource": {"resourceType": "Organization", "id": "bcbsma", "name": "Blue Cross Blue Shield of Massachusetts"}}),
        json!({"resource": {"resourceType": "Organization", "id": "clinic", "name": "Clinic", "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "8189991234"}]}}),
        json!({"resource": {"resourceType": "Coverage", "id": "cov1", "status": "active",
            "type": {"coding": [{"system": "https://nahdo.org/sopt", "code": sopt}]},
            "payor": [{"reference": "Organization/bcbsma"}], "beneficiary": {"reference": "Patient/p1"}}}),
    ];
    entry.extend(more.into_iter().map(|r| json!({"resource": r})));
    json!({"resourceType": "Bundle", "type": "collection", "entry": entry})
}

pub fn inquiry(id: &str) -> Value {
    json!({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {
        "resourceType": "Claim", "status": "active", "use": "preauthorization",
        "identifier": [{"system": "http://example.org/PATIENT_EVENT_TRACE_NUMBER", "value": id}]}}]})
}
