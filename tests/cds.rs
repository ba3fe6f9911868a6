//! Da Vinci CRD over CDS Hooks, end to end against `medpol serve`: every
//! request in ../shared/crd-examples/ answered without a 5xx and with valid
//! coverage information; order-sign for M0076 under PPO, HMO and Medicare
//! Advantage coverages agreeing with the core table; every authentication
//! failure; 400, 412 and 422; feedback.

mod common;
#[path = "common/server.rs"]
mod server;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use server::*;

const ISS: &str = "https://ehr.example.org";
const EXT: &str = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information";

fn keys() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/medpol-server/tests/fixtures/keys")
}

fn examples() -> Option<PathBuf> {
    common::shared("crd-examples")
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn token_with(alg: Algorithm, kid: &str, pem: &str, claims: Value) -> String {
    let mut h = Header::new(alg);
    h.kid = Some(kid.into());
    h.typ = Some("JWT".into());
    let pem = std::fs::read(keys().join(pem)).unwrap();
    let key = match alg {
        Algorithm::RS384 | Algorithm::RS256 => EncodingKey::from_rsa_pem(&pem).unwrap(),
        _ => EncodingKey::from_ec_pem(&pem).unwrap(),
    };
    encode(&h, &claims, &key).unwrap()
}

fn claims(aud: &str) -> Value {
    json!({"iss": ISS, "aud": aud, "exp": now() + 300, "iat": now(), "jti": uuid()})
}

fn uuid() -> String {
    format!(
        "{:x}{:x}",
        now(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    )
}

fn start_secure() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("m.db").display());
    let clients = keys().join("clients.toml");
    let s = Server::start(&db, &["--cds-clients", clients.to_str().unwrap()]);
    (dir, s)
}

fn start_dev() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("m.db").display());
    let s = Server::start(&db, &["--cds-insecure-dev-mode"]);
    (dir, s)
}

fn call(s: &Server, service: &str, body: &Value, token: Option<&str>) -> (u16, Value) {
    let mut r = agent()
        .post(&s.url(&format!("/cds-services/{service}")))
        .set("content-type", "application/json");
    if let Some(t) = token {
        r = r.set("authorization", &format!("Bearer {t}"));
    }
    respond(r.send_string(&body.to_string()))
}

/// crd-ci-q1..q9 on one coverage-information extension, plus its required parts.
fn check_invariants(ci: &Value) -> Result<(), String> {
    let ext: Vec<&Value> = ci["extension"]
        .as_array()
        .ok_or("no extension list")?
        .iter()
        .collect();
    let all = |url: &str| {
        ext.iter()
            .filter(move |e| e["url"] == url)
            .copied()
            .collect::<Vec<_>>()
    };
    let code = |url: &str| {
        all(url)
            .first()
            .and_then(|e| e["valueCode"].as_str())
            .map(str::to_string)
    };
    let has = |url: &str| !all(url).is_empty();
    for required in ["coverage", "covered", "date", "coverage-assertion-id"] {
        if all(required).len() != 1 {
            return Err(format!("{required} must appear exactly once"));
        }
    }
    let covered = code("covered").ok_or("covered has no code")?;
    if !["covered", "not-covered", "conditional", "indeterminate"].contains(&covered.as_str()) {
        return Err(format!("covered = {covered}"));
    }
    let pa = code("pa-needed");
    let doc = code("doc-needed");
    if has("questionnaire") && !has("doc-needed") {
        return Err("q1".into());
    }
    if covered == "not-covered" && pa.is_some() {
        return Err("q2: pa-needed with not-covered".into());
    }
    let conditional = [Some(covered.clone()), pa.clone(), doc.clone()]
        .iter()
        .any(|v| v.as_deref() == Some("conditional"));
    if conditional != has("info-needed") {
        return Err("q3: info-needed iff something is conditional".into());
    }
    if matches!(pa.as_deref(), Some("satisfied" | "noauth" | "not-covered"))
        && all("doc-purpose")
            .iter()
            .any(|e| e["valueCode"] == "withpa")
    {
        return Err("q4".into());
    }
    if (pa.as_deref() == Some("satisfied")) != has("satisfied-pa-id") {
        return Err("q5".into());
    }
    if code("info-needed").as_deref() == Some("OTH") && !has("reason") {
        return Err("q6".into());
    }
    for r in all("reason") {
        if r["valueCodeableConcept"]["text"]
            .as_str()
            .is_none_or(str::is_empty)
        {
            return Err("q7: reason without text".into());
        }
    }
    if all("doc-purpose")
        .iter()
        .any(|e| e["valueCode"] != "conditional")
        && !has("reason")
    {
        return Err("q8".into());
    }
    let indeterminate = [Some(covered.clone()), pa, doc]
        .iter()
        .any(|v| v.as_deref() == Some("indeterminate"));
    if indeterminate && !has("reason") {
        return Err("q9".into());
    }
    if all("coverage")[0]["valueReference"]["reference"]
        .as_str()
        .is_none_or(|r| !r.starts_with("Coverage/"))
    {
        return Err("coverage is not a reference to a Coverage".into());
    }
    Ok(())
}

fn coverage_infos(response: &Value) -> Vec<&Value> {
    response["systemActions"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|a| a["resource"]["extension"].as_array().into_iter().flatten())
        .filter(|e| e["url"] == EXT)
        .collect()
}

fn ext_code<'a>(ci: &'a Value, url: &str) -> Option<&'a str> {
    ci["extension"]
        .as_array()?
        .iter()
        .find(|e| e["url"] == url)?["valueCode"]
        .as_str()
}

#[test]
fn every_shared_example_request_is_answered_without_a_5xx() {
    let (_d, s) = start_dev();
    let mut answered = 0;
    let Some(examples) = examples() else { return };
    for entry in std::fs::read_dir(examples).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let body: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let Some(hook) = body["hook"].as_str() else {
            continue;
        };
        let (status, resp) = call(&s, &format!("{hook}-crd"), &body, None);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(status < 500, "{name}: {status} {resp}");
        assert!(status == 200 || status == 412, "{name}: {status} {resp}");
        if status == 200 {
            assert!(resp["cards"].is_array(), "{name}: {resp}");
            for card in resp["cards"].as_array().unwrap() {
                assert!(card["summary"].as_str().unwrap().chars().count() <= 140);
            }
            for ci in coverage_infos(&resp) {
                check_invariants(ci).unwrap_or_else(|e| panic!("{name}: {e}: {ci:#}"));
                // None of these codes is governed by a bundled policy: never a coverage claim.
                assert_eq!(
                    ext_code(ci, "covered"),
                    Some("indeterminate"),
                    "{name}: {ci:#}"
                );
            }
        } else {
            assert_eq!(resp["resourceType"], "OperationOutcome", "{name}");
        }
        answered += 1;
    }
    assert!(answered >= 10, "only {answered} hook requests found");
}

/// An order-sign request for M0076 with a Coverage of the given type.
fn order_sign(coverage_type: (&str, &str), setting: Option<&str>) -> Value {
    let mut order = json!({
        "resourceType": "ServiceRequest", "id": "sr-1", "status": "draft", "intent": "original-order",
        "code": {"coding": [{"system": "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": "M0076"}]},
        "subject": {"reference": "Patient/p1"},
        "occurrenceDateTime": "2025-06-01"
    });
    let mut prefetch = json!({
        "coverage": {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": {
            "resourceType": "Coverage", "id": "cov-1", "status": "active",
            "type": {"coding": [{"system": coverage_type.0, "code": coverage_type.1}]},
            "beneficiary": {"reference": "Patient/p1"}, "payor": [{"display": "Blue Cross Blue Shield of Massachusetts"}]
        }}]}
    });
    match setting {
        Some("inpatient") => {
            prefetch["encounter"] =
                json!({"resourceType": "Encounter", "id": "e1", "class": {"code": "IMP"}})
        }
        Some("outpatient") => {
            order["locationCode"] = json!([{"coding": [{"system": "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set", "code": "22"}]}])
        }
        _ => {}
    }
    json!({
        "hook": "order-sign", "hookInstance": uuid(), "fhirServer": "http://127.0.0.1:9/fhir",
        "context": {"userId": "Practitioner/1", "patientId": "p1", "encounterId": "e1",
                    "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": order}]}},
        "prefetch": prefetch
    })
}

#[test]
fn order_sign_m0076_agrees_with_the_core_table() {
    let (_d, s) = start_secure();
    let aud = s.url("/cds-services/order-sign-crd");
    let act = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
    let sopt = "https://nahdo.org/sopt";
    let mut ids = Vec::new();
    for (coverage, setting, product_words, pa_text) in [
        (
            (act, "PPO"),
            "outpatient",
            "commercial",
            "prior authorization not-applicable",
        ),
        (
            (act, "HMO"),
            "outpatient",
            "commercial",
            "prior authorization not-applicable",
        ),
        (
            (act, "PPO"),
            "inpatient",
            "commercial",
            "prior authorization auth-needed",
        ),
        (
            (act, "HMO"),
            "inpatient",
            "commercial",
            "prior authorization auth-needed",
        ),
        (
            (sopt, "111"),
            "outpatient",
            "medicare",
            "prior authorization not-applicable",
        ),
        (
            (sopt, "112"),
            "inpatient",
            "medicare",
            "prior authorization auth-needed",
        ),
    ] {
        let token = token_with(Algorithm::ES384, "es384-1", "es384.pem", claims(&aud));
        let (status, resp) = call(
            &s,
            "order-sign-crd",
            &order_sign(coverage, Some(setting)),
            Some(&token),
        );
        assert_eq!(status, 200, "{resp}");
        let infos = coverage_infos(&resp);
        assert_eq!(infos.len(), 1, "{resp:#}");
        let ci = infos[0];
        check_invariants(ci).unwrap();
        assert_eq!(
            ext_code(ci, "covered"),
            Some("not-covered"),
            "{coverage:?} {setting}"
        );
        assert_eq!(ext_code(ci, "pa-needed"), None, "crd-ci-q2");
        let reasons: Vec<&str> = ci["extension"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["url"] == "reason")
            .map(|e| e["valueCodeableConcept"]["text"].as_str().unwrap())
            .collect();
        let reason = reasons.join(" ");
        assert!(reason.contains("not-covered (investigational)"), "{reason}");
        assert!(reason.contains(pa_text), "{coverage:?} {setting}: {reason}");
        assert!(
            reason.contains("BCBSMA medical policy 183 \"Prolotherapy\", version 1/2025"),
            "{reason}"
        );
        if product_words == "commercial" {
            assert!(
                reason.contains("Prolotherapy is considered INVESTIGATIONAL"),
                "{reason}"
            );
        } else {
            assert!(
                reason.contains("Medicare HMO Blue and Medicare PPO Blue"),
                "{reason}"
            );
        }
        let detail = ci["extension"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["url"] == "detail")
            .unwrap();
        let url = detail["extension"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["url"] == "value")
            .unwrap()["valueUrl"]
            .as_str()
            .unwrap();
        assert!(
            url.ends_with("/api/v1/policies/bcbsma/183?date=2025-06-01"),
            "{url}"
        );
        assert_eq!(get(&agent(), url).0, 200, "the policy link works");
        let card = &resp["cards"][0];
        assert_eq!(card["indicator"], "warning");
        assert!(card["summary"].as_str().unwrap().chars().count() <= 140);
        assert_eq!(card["source"]["topic"]["code"], "coverage-info");
        assert!(card["links"][0]["url"]
            .as_str()
            .unwrap()
            .contains("/policies/bcbsma/183"));
        let id = ci["extension"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["url"] == "coverage-assertion-id")
            .unwrap()["valueString"]
            .as_str()
            .unwrap()
            .to_string();
        ids.push(id);
    }
    // Every assertion is in the decision log, as a cds-hooks decision.
    let (_, log) = get_admin(&agent(), &s.url("/api/v1/decisions?limit=100"));
    for id in &ids {
        let rec = log
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} not logged"));
        assert_eq!(rec["source"], "cds-hooks");
        assert_eq!(rec["outcome"], "not-covered");
    }
    // The setting unknown: both answers agree on coverage, prior auth differs: said so.
    let token = token_with(Algorithm::RS384, "rs384-1", "rs384.pem", claims(&aud));
    let (status, resp) = call(
        &s,
        "order-sign-crd",
        &order_sign((act, "PPO"), None),
        Some(&token),
    );
    assert_eq!(status, 200, "{resp}");
    let ci = coverage_infos(&resp)[0];
    check_invariants(ci).unwrap();
    assert_eq!(ext_code(ci, "covered"), Some("not-covered"));
}

#[test]
fn authentication_failures_get_401_and_reach_no_decision() {
    let (_d, s) = start_secure();
    let aud = s.url("/cds-services/order-sign-crd");
    let body = order_sign(
        ("http://terminology.hl7.org/CodeSystem/v3-ActCode", "PPO"),
        Some("outpatient"),
    );
    let b64 = |v: &Value| {
        use std::fmt::Write;
        // base64url without padding, by hand (no extra dependency for a test).
        const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let bytes = v.to_string().into_bytes();
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, b)| acc | (*b as u32) << (16 - 8 * i));
            for i in 0..=chunk.len() {
                let _ = write!(out, "{}", T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    };
    let mut expired = claims(&aud);
    expired["exp"] = json!(now() - 600);
    expired["iat"] = json!(now() - 900);
    let mut future = claims(&aud);
    future["iat"] = json!(now() + 600);
    future["exp"] = json!(now() + 900);
    let mut no_jti = claims(&aud);
    no_jti.as_object_mut().unwrap().remove("jti");
    let mut stranger = claims(&aud);
    stranger["iss"] = json!("https://evil.example.org");
    let replayed = token_with(Algorithm::ES256, "es256-1", "es256.pem", claims(&aud));
    assert_eq!(
        call(&s, "order-sign-crd", &body, Some(&replayed)).0,
        200,
        "first use is fine"
    );
    let hs = encode(
        &Header::new(Algorithm::HS256),
        &claims(&aud),
        &EncodingKey::from_secret(b"shared"),
    )
    .unwrap();
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("garbage", Some("not.a.jwt".into())),
        (
            "alg none",
            Some(format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "JWT"})),
                b64(&claims(&aud))
            )),
        ),
        ("HMAC", Some(hs)),
        (
            "wrong audience",
            Some(token_with(
                Algorithm::ES384,
                "es384-1",
                "es384.pem",
                claims("https://elsewhere.example/cds-services/order-sign-crd"),
            )),
        ),
        (
            "expired",
            Some(token_with(
                Algorithm::ES384,
                "es384-1",
                "es384.pem",
                expired,
            )),
        ),
        (
            "issued in the future",
            Some(token_with(Algorithm::ES384, "es384-1", "es384.pem", future)),
        ),
        (
            "no jti",
            Some(token_with(Algorithm::ES384, "es384-1", "es384.pem", no_jti)),
        ),
        (
            "untrusted issuer",
            Some(token_with(
                Algorithm::ES384,
                "es384-1",
                "es384.pem",
                stranger,
            )),
        ),
        (
            "unknown key",
            Some(token_with(
                Algorithm::ES384,
                "nope-1",
                "es384.pem",
                claims(&aud),
            )),
        ),
        (
            "bad signature",
            Some(token_with(
                Algorithm::ES384,
                "es384-1",
                "other.pem",
                claims(&aud),
            )),
        ),
        ("replayed jti", Some(replayed)),
    ];
    let (_, before) = get_admin(&agent(), &s.url("/api/v1/decisions?limit=1000"));
    for (what, token) in cases {
        let (status, resp) = call(&s, "order-sign-crd", &body, token.as_deref());
        assert_eq!(status, 401, "{what}: {resp}");
        assert_eq!(resp["resourceType"], "OperationOutcome", "{what}");
        assert_eq!(resp["issue"][0]["code"], "security", "{what}");
    }
    let (_, after) = get_admin(&agent(), &s.url("/api/v1/decisions?limit=1000"));
    assert_eq!(
        before, after,
        "no decision was reached by an unauthenticated call"
    );
}

#[test]
fn errors_are_operation_outcomes() {
    let (_d, s) = start_dev();
    let raw = |service: &str, body: &str| {
        respond(
            agent()
                .post(&s.url(&format!("/cds-services/{service}")))
                .set("content-type", "application/json")
                .send_string(body),
        )
    };
    let (st, r) = raw("order-sign-crd", "{not json");
    assert_eq!(
        (st, r["resourceType"].as_str()),
        (400, Some("OperationOutcome"))
    );
    let mut wrong_hook = order_sign(("x", "PPO"), None);
    wrong_hook["hook"] = json!("order-select");
    assert_eq!(call(&s, "order-sign-crd", &wrong_hook, None).0, 400);
    let mut no_orders = order_sign(("x", "PPO"), None);
    no_orders["context"]
        .as_object_mut()
        .unwrap()
        .remove("draftOrders");
    assert_eq!(call(&s, "order-sign-crd", &no_orders, None).0, 400);
    let mut old = order_sign(("x", "PPO"), None);
    old["extension"] = json!({"davinci-crd.requestedVersion": "1.0"});
    assert_eq!(call(&s, "order-sign-crd", &old, None).0, 422);
    let mut select = order_sign(("x", "PPO"), None);
    select["hook"] = json!("order-select");
    select["context"]["selections"] = json!(["ServiceRequest/not-there"]);
    assert_eq!(call(&s, "order-select-crd", &select, None).0, 422);
    assert_eq!(
        call(&s, "no-such-service", &order_sign(("x", "PPO"), None), None).0,
        404
    );
    // Coverage needed (M0076 is governed), not prefetched, fhirServer unreachable: 412.
    let mut bare = order_sign(("x", "PPO"), Some("outpatient"));
    bare["prefetch"] = Value::Null;
    let (st, r) = call(&s, "order-sign-crd", &bare, None);
    assert_eq!(
        (st, r["resourceType"].as_str()),
        (412, Some("OperationOutcome")),
        "{r}"
    );
}

/// A one-shot FHIR server that answers a Coverage search.
fn fhir_server(expect_token: &'static str) -> (String, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/fhir", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push_str(&line);
        }
        let body = json!({"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": {
            "resourceType": "Coverage", "id": "fetched", "status": "active",
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "HMO"}]},
            "payor": [{"display": "Blue Cross Blue Shield of Massachusetts"}]}}]})
        .to_string();
        let ok = head
            .to_lowercase()
            .contains(&format!("authorization: bearer {expect_token}"));
        let status = if ok { "200 OK" } else { "401 Unauthorized" };
        let _ = write!(stream, "HTTP/1.1 {status}\r\ncontent-type: application/fhir+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
        let _ = stream.flush();
        let mut rest = Vec::new();
        let _ = reader.read_to_end(&mut rest);
        head
    });
    (url, handle)
}

#[test]
fn a_missing_coverage_is_fetched_from_the_fhir_server_with_the_granted_token() {
    let (_d, s) = start_dev();
    let (url, handle) = fhir_server("granted-token");
    let mut req = order_sign(("x", "PPO"), Some("outpatient"));
    req["prefetch"] = Value::Null;
    req["fhirServer"] = json!(url);
    req["fhirAuthorization"] = json!({"access_token": "granted-token", "token_type": "Bearer", "expires_in": 300, "scope": "patient/Coverage.read", "subject": "cds"});
    let (st, resp) = call(&s, "order-sign-crd", &req, None);
    assert_eq!(st, 200, "{resp}");
    let head = handle.join().unwrap();
    assert!(
        head.starts_with("GET /fhir/Coverage?patient=p1&status=active"),
        "{head}"
    );
    let ci = coverage_infos(&resp)[0];
    check_invariants(ci).unwrap();
    let coverage = &ci["extension"][0]["valueReference"]["reference"];
    assert_eq!(coverage, "Coverage/fetched");
}

#[test]
fn discovery_and_feedback() {
    let (_d, s) = start_dev();
    let (st, d) = get(&agent(), &s.url("/cds-services"));
    assert_eq!(st, 200);
    let hooks: Vec<&str> = d["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["hook"].as_str().unwrap())
        .collect();
    for h in [
        "order-sign",
        "order-select",
        "order-dispatch",
        "appointment-book",
        "encounter-start",
        "encounter-discharge",
    ] {
        assert!(hooks.contains(&h), "{h}");
    }
    assert!(d["services"][0]["prefetch"]["coverage"]
        .as_str()
        .unwrap()
        .starts_with("Coverage?patient={{context.patientId}}"));
    let fb = json!({"feedback": [{"card": "abc", "outcome": "overridden", "overrideReasons": [{"reason": {"code": "x"}}], "outcomeTimestamp": "2026-01-01T00:00:00Z"}]});
    let (st, _) = respond(
        agent()
            .post(&s.url("/cds-services/order-sign-crd/feedback"))
            .set("content-type", "application/json")
            .send_string(&fb.to_string()),
    );
    assert_eq!(st, 200);
    let (_, stored) = get_admin(
        &agent(),
        &s.url("/api/v1/cds-feedback?service=order-sign-crd"),
    );
    assert_eq!(stored, json!([fb]));
    // Nothing to say: no orders at all.
    let empty = json!({"hook": "encounter-start", "hookInstance": "x", "context": {"patientId": "p", "encounterId": "e"}});
    assert_eq!(
        call(&s, "encounter-start-crd", &empty, None),
        (200, json!({"cards": []}))
    );
}

/// A catalogue with criteria and indications: the bundled policies plus the
/// family document 500 (hyaluronic acid for the knee: medically necessary
/// with criteria for knee osteoarthritis, M17.x; investigational otherwise).
fn start_with_criteria() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/bcbsma");
    let out = policies.join("bcbsma");
    std::fs::create_dir_all(&out).unwrap();
    for f in ["payer.toml", "183-prolotherapy.toml"] {
        std::fs::copy(bundled.join(f), out.join(f)).unwrap();
    }
    let doc = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/documents/500-hyaluronic-acid-knee.txt");
    let r = common::run(&[
        "import",
        "--out",
        policies.to_str().unwrap(),
        doc.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let db = format!("sqlite://{}", dir.path().join("m.db").display());
    let s = Server::start(
        &db,
        &[
            "--cds-insecure-dev-mode",
            "--policies",
            policies.to_str().unwrap(),
        ],
    );
    (dir, s)
}

#[test]
fn criteria_answer_doc_needed_and_an_unknown_indication_answers_info_needed() {
    let (_d, s) = start_with_criteria();
    let act = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
    let ask = |reason: Option<&str>| {
        let mut body = order_sign((act, "PPO"), Some("outpatient"));
        let order = &mut body["context"]["draftOrders"]["entry"][0]["resource"];
        order["code"] =
            json!({"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "20610"}]});
        if let Some(dx) = reason {
            order["reasonCode"] =
                json!([{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": dx}]}]);
        }
        let (status, v) = call(&s, "order-sign-crd", &body, None);
        assert_eq!(status, 200, "{v}");
        let cis = coverage_infos(&v);
        assert_eq!(cis.len(), 1, "{v}");
        check_invariants(cis[0]).unwrap();
        cis[0].clone()
    };
    let reasons = |ci: &Value| -> String {
        ci["extension"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["url"] == "reason")
            .map(|e| {
                e["valueCodeableConcept"]["text"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect::<Vec<_>>()
            .join("\n")
    };

    // Knee osteoarthritis: covered when the criteria are met; the clinician documents them.
    let ci = ask(Some("M17.11"));
    assert_eq!(ext_code(&ci, "covered"), Some("conditional"));
    assert_eq!(ext_code(&ci, "doc-needed"), Some("clinical"));
    assert_eq!(ext_code(&ci, "info-needed"), Some("OTH"));
    let text = reasons(&ci);
    assert!(text.contains("medical-necessity-criteria"), "{text}");
    assert!(
        text.contains("Symptoms have persisted for at least 6 months"),
        "{text}"
    );

    // No diagnosis: it depends on the indication; the reason names them.
    let ci = ask(None);
    assert_eq!(ext_code(&ci, "covered"), Some("conditional"));
    assert_eq!(ext_code(&ci, "info-needed"), Some("OTH"));
    assert_eq!(ext_code(&ci, "doc-needed"), None);
    let text = reasons(&ci);
    assert!(text.contains("depends on the indication"), "{text}");
    assert!(text.contains("M17.11"), "{text}");

    // Another diagnosis: investigational for all other indications.
    let ci = ask(Some("M25.561"));
    assert_eq!(ext_code(&ci, "covered"), Some("not-covered"));
    assert_eq!(ext_code(&ci, "pa-needed"), None);
}

/// Two replicas behind one public URL, on one database: a token accepted by
/// one is refused by the other (the `jti` is remembered in the store).
fn token_replayed_against_another_replica(db: &str) {
    let clients = keys().join("clients.toml");
    let public = "https://crd.example.org";
    let args = [
        "--cds-clients",
        clients.to_str().unwrap(),
        "--public-url",
        public,
    ];
    let a = Server::start(db, &args);
    let b = Server::start(db, &args);
    let aud = format!("{public}/cds-services/order-sign-crd");
    let body = order_sign(
        ("http://terminology.hl7.org/CodeSystem/v3-ActCode", "PPO"),
        Some("outpatient"),
    );
    let token = token_with(Algorithm::ES384, "es384-1", "es384.pem", claims(&aud));
    assert_eq!(call(&a, "order-sign-crd", &body, Some(&token)).0, 200);
    let (status, outcome) = call(&b, "order-sign-crd", &body, Some(&token));
    assert_eq!(status, 401, "{outcome}");
    assert!(outcome.to_string().contains("already used"), "{outcome}");
    // A new token is fine on either.
    let fresh = token_with(Algorithm::ES384, "es384-1", "es384.pem", claims(&aud));
    assert_eq!(call(&b, "order-sign-crd", &body, Some(&fresh)).0, 200);
}

#[test]
fn a_token_cannot_be_replayed_against_another_replica() {
    let dir = tempfile::tempdir().unwrap();
    token_replayed_against_another_replica(&format!(
        "sqlite://{}",
        dir.path().join("m.db").display()
    ));
}

#[test]
fn a_token_cannot_be_replayed_against_another_replica_on_postgres() {
    let Some(db) = postgres_database() else {
        return;
    };
    token_replayed_against_another_replica(&db.url());
}
