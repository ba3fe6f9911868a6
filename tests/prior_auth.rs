//! Prior authorization (Da Vinci PAS) end to end against `medpol serve`:
//! SMART backend tokens; every request in ../shared/pas-examples/ answered
//! by the PAS rules (and the example responses read back by the same
//! checks); M0076 inpatient under each product pended with the recommended
//! denial citing policy 183, confirmed by a reviewer, seen by `$inquire` and
//! by the subscriber, appealed and excepted with their own clocks, counted
//! in the metrics; a criteria policy certified when its questionnaire is
//! answered met; idempotent resubmission; nothing lost on SIGKILL.

mod common;
#[path = "common/pas.rs"]
mod pas;
#[path = "common/server.rs"]
mod server;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pas::request;
use pas::*;
use serde_json::{json, Value};
use server::*;

fn reviewer_get(s: &Server, path: &str) -> (u16, Value) {
    respond(
        agent()
            .get(&s.url(path))
            .set("authorization", &format!("Bearer {REVIEWER}"))
            .call(),
    )
}

fn reviewer_post(s: &Server, path: &str, body: &Value) -> (u16, Value) {
    respond(
        agent()
            .post(&s.url(path))
            .set("authorization", &format!("Bearer {REVIEWER}"))
            .set("content-type", "application/json")
            .send_string(&body.to_string()),
    )
}

/// The PAS rules a response Bundle must follow, for ours and the examples'.
fn check_response(b: &Value) -> Result<(), String> {
    if b["resourceType"] != "Bundle" {
        return Err("not a Bundle".into());
    }
    let cr = &b["entry"][0]["resource"];
    if cr["resourceType"] != "ClaimResponse" {
        return Err("the first entry is not a ClaimResponse".into());
    }
    if cr["use"] != "preauthorization" {
        return Err("ClaimResponse.use is not preauthorization".into());
    }
    if cr["outcome"] == "error" {
        return if cr["error"].as_array().is_some_and(|e| !e.is_empty()) {
            Ok(())
        } else {
            Err("an error outcome without errors".into())
        };
    }
    let items = cr["item"].as_array().ok_or("no items")?;
    for it in items {
        if !it["itemSequence"].is_u64() {
            return Err("an item without itemSequence".into());
        }
        let code = review_action(it)
            .ok_or_else(|| format!("item {} has no review action", it["itemSequence"]))?;
        if !["A1", "A2", "A3", "A4", "A6", "C", "CT", "NA"].contains(&code.as_str()) {
            return Err(format!("review action {code} is not an X12 306 code"));
        }
    }
    Ok(())
}

fn review_action(item: &Value) -> Option<String> {
    item["adjudication"].as_array()?.iter().find_map(|a| {
        a["extension"]
            .as_array()?
            .iter()
            .find(|e| e["url"] == REVIEW_ACTION)
            .and_then(|e| {
                e["extension"].as_array()?.iter().find_map(|x| {
                    x["valueCodeableConcept"]["coding"][0]["code"]
                        .as_str()
                        .map(String::from)
                })
            })
    })
}

fn actions(b: &Value) -> Vec<(u64, String)> {
    b["entry"][0]["resource"]["item"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| {
                    (
                        i["itemSequence"].as_u64().unwrap(),
                        review_action(i).unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn notes(b: &Value) -> String {
    b["entry"][0]["resource"]["processNote"]
        .as_array()
        .map(|n| {
            n.iter()
                .filter_map(|x| x["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// A coverage map: the bundled rules, and the Inferno examples' insurer as
/// a BCBSMA PPO member (test only: the examples are left as written).
fn coverage_map(dir: &Path) -> PathBuf {
    let bundled = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/medpol-server/cds-coverage-map.toml"),
    )
    .unwrap();
    let path = dir.join("coverage-map.toml");
    std::fs::write(
        &path,
        format!("{bundled}\n[[rule]]\npayer = \"bcbsma\"\npayor = [\"maryland capital insurance\"]\nproduct = \"commercial-ppo\"\n"),
    )
    .unwrap();
    path
}

struct Pas {
    dir: tempfile::TempDir,
    server: Server,
    clock: PathBuf,
    db: String,
}

fn set_clock(clock: &Path, t: &str) {
    std::fs::write(clock, t).unwrap();
}

fn start(extra: &[&str]) -> Pas {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("m.db").display());
    let clock = dir.path().join("clock");
    set_clock(&clock, "2026-03-02T09:00:00Z");
    let map = coverage_map(dir.path());
    let clients = keys().join("clients.toml");
    let mut args = vec![
        "--pas-clients",
        clients.to_str().unwrap(),
        "--reviewer-token",
        REVIEWER,
        "--test-clock",
        clock.to_str().unwrap(),
        "--cds-coverage-map",
        map.to_str().unwrap(),
        "--body-limit",
        "1048576",
    ];
    args.extend_from_slice(extra);
    let server = Server::start(&db, &args);
    Pas {
        dir,
        server,
        clock,
        db,
    }
}

/// A subscriber's endpoint: records each notification's body; answers
/// 200, or 503 for the first `fail_first` deliveries.
fn subscriber(listener: TcpListener) -> Arc<Mutex<Vec<Value>>> {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let into = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            if let Ok(v) = serde_json::from_slice(&body) {
                into.lock().unwrap().push(v);
            }
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    got
}

fn wait_for(got: &Arc<Mutex<Vec<Value>>>, n: usize) -> Vec<Value> {
    for _ in 0..800 {
        if got.lock().unwrap().len() >= n {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    got.lock().unwrap().clone()
}

fn subscription(endpoint: &str) -> Value {
    json!({
        "resourceType": "Subscription", "status": "requested", "reason": "PAS updates",
        "criteria": "http://hl7.org/fhir/us/davinci-pas/SubscriptionTopic/PASSubscriptionTopic",
        "_criteria": {"extension": [{"url": "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria", "valueString": "org-identifier=8189991234"}]},
        "channel": {"type": "rest-hook", "endpoint": endpoint, "payload": "application/fhir+json",
            "header": ["Authorization: Bearer subscriber-secret"],
            "_payload": {"extension": [{"url": "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content", "valueCode": "full-resource"}]}}
    })
}

#[test]
fn authentication_is_smart_backend_services_and_scoped() {
    let p = start(&[]);
    let s = &p.server;
    let body = request("auth-1", "512", "M0076", "21", "normal", vec![]);
    // No token, an unknown token.
    let (status, oo) = fhir_post(s, "/fhir/Claim/$submit", None, &body);
    assert_eq!(status, 401, "{oo}");
    assert_eq!(oo["resourceType"], "OperationOutcome");
    assert_eq!(
        fhir_post(s, "/fhir/Claim/$submit", Some("nope"), &body).0,
        401
    );
    // A token without the submit scope.
    let read_only = token(s, "system/ClaimResponse.read");
    let (status, oo) = fhir_post(s, "/fhir/Claim/$submit", Some(&read_only), &body);
    assert_eq!(status, 403, "{oo}");
    assert!(oo["issue"][0]["diagnostics"]
        .as_str()
        .unwrap()
        .contains("system/Claim.c"));
    // Assertions: wrong audience, sub other than iss, untrusted issuer, replayed.
    let form = |a: &str| {
        vec![
            ("grant_type", "client_credentials".to_string()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string(),
            ),
            ("client_assertion", a.to_string()),
            ("scope", "system/Claim.c".to_string()),
        ]
    };
    let call = |a: &str| {
        let f = form(a);
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        token_call(s, &f)
    };
    let (status, e) = call(&assertion("https://elsewhere/auth/token", CLIENT, CLIENT));
    assert_eq!(
        (status, e["error"].as_str()),
        (401, Some("invalid_client")),
        "{e}"
    );
    let (status, e) = call(&assertion(&s.url("/auth/token"), CLIENT, "someone-else"));
    assert_eq!(status, 401, "{e}");
    assert!(e["error_description"].as_str().unwrap().contains("sub"));
    let (status, _) = call(&assertion(
        &s.url("/auth/token"),
        "https://stranger.example",
        "https://stranger.example",
    ));
    assert_eq!(status, 401);
    let once = assertion(&s.url("/auth/token"), CLIENT, CLIENT);
    assert_eq!(call(&once).0, 200);
    assert_eq!(call(&once).0, 401, "a replayed assertion");
    let (status, e) = token_call(s, &[("grant_type", "password")]);
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    // A scope nothing grants.
    let a = assertion(&s.url("/auth/token"), CLIENT, CLIENT);
    let (status, e) = token_call(
        s,
        &[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &a),
            ("scope", "patient/*.read"),
        ],
    );
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_scope")));
    // The reviewer API: its own token; the admin token is not it.
    assert_eq!(get(&agent(), &s.url("/api/v1/prior-auth/requests")).0, 401);
    assert_eq!(
        get_admin(&agent(), &s.url("/api/v1/prior-auth/requests")).0,
        401
    );
    assert_eq!(reviewer_get(s, "/api/v1/prior-auth/requests").0, 200);
    // Nothing was recorded by any of it.
    let (_, q) = reviewer_get(s, "/api/v1/prior-auth/requests?status=all");
    assert_eq!(q["requests"].as_array().unwrap().len(), 0, "{q}");
}

#[test]
fn bad_requests_get_one_operation_outcome_and_record_nothing() {
    let p = start(&[]);
    let s = &p.server;
    let t = token(s, "system/Claim.c system/Claim.r");
    let (status, oo) = respond(
        agent()
            .post(&s.url("/fhir/Claim/$submit"))
            .set("authorization", &format!("Bearer {t}"))
            .send_string("{not json"),
    );
    assert_eq!(status, 400, "{oo}");
    let mut no_status = request("bad-1", "512", "M0076", "21", "normal", vec![]);
    no_status["entry"][0]["resource"]
        .as_object_mut()
        .unwrap()
        .remove("status");
    let (status, oo) = fhir_post(s, "/fhir/Claim/$submit", Some(&t), &no_status);
    assert_eq!(status, 422, "{oo}");
    assert_eq!(
        oo["issue"][0]["expression"][0],
        "Bundle.entry[0].resource.status"
    );
    let mut bad_code = request("bad-2", "512", "M0076", "21", "normal", vec![]);
    bad_code["entry"][0]["resource"]["item"][0]["productOrService"]["coding"][0]["code"] =
        json!("M00");
    let (status, oo) = fhir_post(s, "/fhir/Claim/$submit", Some(&t), &bad_code);
    assert_eq!(status, 422, "{oo}");
    assert_eq!(
        oo["issue"][0]["expression"][0],
        "Bundle.entry[0].resource.item[0].productOrService"
    );
    let mut missing_patient = request("bad-3", "512", "M0076", "21", "normal", vec![]);
    missing_patient["entry"].as_array_mut().unwrap().remove(1);
    assert_eq!(
        fhir_post(s, "/fhir/Claim/$submit", Some(&t), &missing_patient).0,
        422
    );
    // A coverage no rule maps: a processing-error ClaimResponse, nothing recorded.
    let (status, b) = fhir_post(
        s,
        "/fhir/Claim/$submit",
        Some(&t),
        &request("bad-4", "999", "M0076", "21", "normal", vec![]),
    );
    assert_eq!(status, 200);
    check_response(&b).unwrap();
    assert_eq!(b["entry"][0]["resource"]["outcome"], "error");
    assert_eq!(
        fhir_post(s, "/fhir/Claim/$inquire", Some(&t), &inquiry("bad-4")).0,
        404
    );
    let (_, q) = reviewer_get(s, "/api/v1/prior-auth/requests?status=all");
    assert_eq!(q["requests"].as_array().unwrap().len(), 0, "{q}");
}

#[test]
fn every_shared_pas_request_gets_a_pas_response() {
    let Some(dir) = common::shared("pas-examples") else {
        return common::skipped("../shared/pas-examples is absent");
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    // What a payer answers, as the examples show it, meets the same checks.
    let mut responses = 0;
    for f in files
        .iter()
        .filter(|f| f.to_str().unwrap().contains("_response_"))
    {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        if v["resourceType"] == "OperationOutcome" {
            assert_eq!(v["issue"][0]["severity"], "error");
        } else {
            check_response(&v).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        }
        responses += 1;
    }
    assert!(responses >= 8);

    let p = start(&[]);
    let s = &p.server;
    let t = token(s, "system/Claim.c system/Claim.r system/Subscription.c");
    // Submits (initial, updates, cancellations) in the order an EHR sends them.
    let order = [
        "claim_update_initial_submit",
        "claim_update_add_item_submit",
        "claim_update_modify_cancel_submit",
        "claim_update_cancel_all_submit",
        "approval_pa_submit_request",
        "denial_pa_submit_request",
        "pended_pa_submit_request",
        "must_support_pa_submit_request-1",
        "must_support_pa_submit_request-2",
    ];
    for name in order {
        let f = files
            .iter()
            .find(|f| f.to_str().unwrap().contains(name))
            .unwrap();
        let req: Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        let (status, b) = fhir_post(s, "/fhir/Claim/$submit", Some(&t), &req);
        assert_eq!(status, 200, "{name}: {b}");
        check_response(&b).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_ne!(
            b["entry"][0]["resource"]["outcome"], "error",
            "{name}: the test map knows the insurer"
        );
        // Every item of the request is answered, sequence for sequence, trace echoed.
        let answered = actions(&b);
        for item in req["entry"][0]["resource"]["item"].as_array().unwrap() {
            let seq = item["sequence"].as_u64().unwrap();
            assert!(
                answered.iter().any(|(s, _)| *s == seq),
                "{name}: item {seq} not answered"
            );
            let cancelled = item["modifierExtension"]
                .as_array()
                .is_some_and(|m| m.iter().any(|e| e["valueBoolean"] == true));
            let got = &answered.iter().find(|(s, _)| *s == seq).unwrap().1;
            if cancelled {
                assert_eq!(got, "C", "{name}: item {seq} cancelled");
            } else {
                // An X12 service type or a HCPCS code no policy governs: no authorization needed.
                assert_eq!(got, "NA", "{name}: item {seq}");
            }
            if let Some(trace) = item["extension"]
                .as_array()
                .and_then(|e| e.iter().find(|x| x["url"] == TRACE))
            {
                let echoed = b["entry"][0]["resource"]["item"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|i| i["itemSequence"] == seq)
                    .unwrap();
                assert_eq!(
                    echoed["extension"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|x| x["url"] == TRACE)
                        .unwrap()["valueIdentifier"],
                    trace["valueIdentifier"]
                );
            }
        }
    }
    for name in [
        "pended_pa_inquire_request",
        "must_support_pa_inquire_request",
    ] {
        let f = files
            .iter()
            .find(|f| f.to_str().unwrap().contains(name))
            .unwrap();
        let req: Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        let (status, b) = fhir_post(s, "/fhir/Claim/$inquire", Some(&t), &req);
        assert_eq!(status, 200, "{name}: {b}");
        check_response(&b).unwrap();
    }
    // The example subscription ended in 2020: refused, precisely.
    let f = files
        .iter()
        .find(|f| f.to_str().unwrap().contains("subscription_resource"))
        .unwrap();
    let sub: Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
    let (status, oo) = fhir_post(s, "/fhir/Subscription", Some(&t), &sub);
    assert_eq!(status, 422, "{oo}");
    assert_eq!(oo["issue"][0]["expression"][0], "Subscription.end");
    // The same subscription without its past end is taken.
    let mut live = sub.clone();
    live.as_object_mut().unwrap().remove("end");
    let (status, created) = fhir_post(s, "/fhir/Subscription", Some(&t), &live);
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "active");
    assert!(
        created["channel"]["header"].is_null(),
        "the client's credentials are not shown back"
    );

    // With the bundled coverage map the examples' insurer is unknown: a
    // processing-error response, nothing recorded.
    let d2 = tempfile::tempdir().unwrap();
    let clients = keys().join("clients.toml");
    let s2 = Server::start(
        &format!("sqlite://{}", d2.path().join("m.db").display()),
        &[
            "--pas-clients",
            clients.to_str().unwrap(),
            "--reviewer-token",
            REVIEWER,
        ],
    );
    let t2 = token(&s2, "system/Claim.c");
    let f = files
        .iter()
        .find(|f| f.to_str().unwrap().contains("pended_pa_submit_request"))
        .unwrap();
    let req: Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
    let (status, b) = fhir_post(&s2, "/fhir/Claim/$submit", Some(&t2), &req);
    assert_eq!(status, 200);
    let cr = &b["entry"][0]["resource"];
    assert_eq!(cr["outcome"], "error", "{b}");
    assert_eq!(cr["error"][0]["code"]["coding"][0]["code"], "75");
}

const PRODUCTS: [(&str, &str); 6] = [
    ("commercial-hmo", "511"),
    ("commercial-ppo", "512"),
    ("commercial-pos", "513"),
    ("commercial-indemnity", "52"),
    ("medicare-hmo-blue", "111"),
    ("medicare-ppo-blue", "112"),
];

#[test]
fn m0076_inpatient_is_pended_denied_on_review_appealed_and_counted() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}/notify", listener.local_addr().unwrap());
    let got = subscriber(listener);
    let p = start(&[]);
    let s = &p.server;
    let t = token(s, "system/Claim.c system/Claim.r system/Subscription.c");
    let (status, sub) = fhir_post(s, "/fhir/Subscription", Some(&t), &subscription(&endpoint));
    assert_eq!(status, 201, "{sub}");

    // Each product: pended with the recommended denial, citing policy 183.
    let mut ids = Vec::new();
    for (product, sopt) in PRODUCTS {
        let claim_id = format!("m0076-{product}");
        let (status, b) = fhir_post(
            s,
            "/fhir/Claim/$submit",
            Some(&t),
            &request(&claim_id, sopt, "M0076", "21", "normal", vec![]),
        );
        assert_eq!(status, 200, "{product}: {b}");
        check_response(&b).unwrap();
        assert_eq!(actions(&b), [(1, "A4".to_string())], "{product}: {b}");
        let n = notes(&b);
        assert!(
            n.contains("bcbsma/183") && n.contains("investigational"),
            "{product}: {n}"
        );
        ids.push(
            b["entry"][0]["resource"]["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    // The queue: soonest due first, 7 days from receipt (standard).
    let (status, q) = reviewer_get(s, "/api/v1/prior-auth/requests");
    assert_eq!(status, 200, "{q}");
    let listed = q["requests"].as_array().unwrap();
    assert_eq!(listed.len(), 6);
    assert_eq!(listed[0]["due_at"], "2026-03-09T09:00:00Z");
    assert_eq!(listed[0]["minutes_left"], 7 * 24 * 60);
    assert_eq!(listed[0]["items"][0]["recommendation"], "deny");
    let (_, detail) = reviewer_get(s, &format!("/api/v1/prior-auth/requests/{}", ids[1]));
    assert_eq!(
        detail["items"][0]["recommendation"]["citations"][0]["policy"], "bcbsma/183",
        "{detail}"
    );
    assert!(
        detail["items"][0]["recommendation"]["clinical_exception"].is_string(),
        "{detail}"
    );
    assert_eq!(detail["claim"]["resourceType"], "Claim");

    // A decision without a reason is refused; with one, it stands.
    let (status, e) = reviewer_post(
        s,
        &format!("/api/v1/prior-auth/requests/{}/decision", ids[1]),
        &json!({"items": [{"sequence": 1, "action": "deny"}]}),
    );
    assert_eq!(status, 422, "{e}");
    set_clock(&p.clock, "2026-03-03T09:00:00Z");
    for id in &ids {
        let (status, d) = reviewer_post(
            s,
            &format!("/api/v1/prior-auth/requests/{id}/decision"),
            &json!({"items": [{"sequence": 1, "action": "deny", "reason": "Prolotherapy is investigational (policy 183)."}]}),
        );
        assert_eq!(status, 200, "{d}");
    }
    let (status, _) = reviewer_post(
        s,
        &format!("/api/v1/prior-auth/requests/{}/decision", ids[0]),
        &json!({"items": [{"sequence": 1, "action": "certify"}]}),
    );
    assert_eq!(status, 409, "a decided item is not decided again");

    // $inquire and the subscriber see the denial and its specific reason.
    let (status, b) = fhir_post(
        s,
        "/fhir/Claim/$inquire",
        Some(&t),
        &inquiry("m0076-commercial-ppo"),
    );
    assert_eq!(status, 200, "{b}");
    assert_eq!(actions(&b), [(1, "A3".to_string())]);
    let n = notes(&b);
    assert!(
        n.contains("bcbsma/183")
            && n.contains("Clinical exception process")
            && n.contains("appealed"),
        "{n}"
    );
    let reason =
        &b["entry"][0]["resource"]["item"][0]["adjudication"][0]["extension"][0]["extension"];
    assert!(reason.to_string().contains("investigational"), "{reason}");
    let notified = wait_for(&got, 6);
    assert_eq!(notified.len(), 6, "one notification per decided request");
    let last = &notified[0];
    assert_eq!(last["type"], "history");
    assert_eq!(last["entry"][0]["resource"]["resourceType"], "Parameters");
    let inner = &last["entry"][1]["resource"];
    assert_eq!(actions(inner), [(1, "A3".to_string())]);

    // An appeal, with its own clock; upheld... then a clinical exception, granted.
    let (status, appeal) = reviewer_post(
        s,
        &format!("/api/v1/prior-auth/requests/{}/appeal", ids[1]),
        &json!({"reason": "The member's physician disagrees.", "priority": "expedited"}),
    );
    assert_eq!(status, 201, "{appeal}");
    assert_eq!(
        appeal["due_at"], "2026-03-06T09:00:00Z",
        "72 hours from the appeal"
    );
    let appeal_id = appeal["id"].as_str().unwrap();
    let (status, _) = reviewer_post(
        s,
        &format!("/api/v1/prior-auth/requests/{appeal_id}/decision"),
        &json!({"items": [{"sequence": 1, "action": "deny", "reason": "Upheld: investigational."}]}),
    );
    assert_eq!(status, 200);
    let (status, exception) = reviewer_post(
        s,
        &format!("/api/v1/prior-auth/requests/{}/clinical-exception", ids[2]),
        &json!({"reason": "No alternative treatment remains."}),
    );
    assert_eq!(status, 201, "{exception}");
    assert_eq!(exception["due_at"], "2026-03-10T09:00:00Z");
    let (status, _) = reviewer_post(
        s,
        &format!(
            "/api/v1/prior-auth/requests/{}/decision",
            exception["id"].as_str().unwrap()
        ),
        &json!({"items": [{"sequence": 1, "action": "certify", "reason": "Exception granted."}]}),
    );
    assert_eq!(status, 200);
    // The original request now answers the exception's outcome.
    let (_, b) = fhir_post(
        s,
        "/fhir/Claim/$inquire",
        Some(&t),
        &inquiry("m0076-commercial-pos"),
    );
    assert_eq!(actions(&b), [(1, "A1".to_string())], "{b}");
    assert!(b["entry"][0]["resource"]["preAuthRef"].is_string());
    let (_, detail) = reviewer_get(s, &format!("/api/v1/prior-auth/requests/{}", ids[2]));
    let kinds: Vec<&str> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "received",
            "decided",
            "clinical-exception-requested",
            "decided-on-clinical-exception"
        ]
    );

    // The metrics count them: 6 standard requests, all denied at first, one
    // approved after the exception; 24 hours each.
    let (status, m) = get(&agent(), &s.url("/api/v1/prior-auth/metrics?year=2026"));
    assert_eq!(status, 200, "{m}");
    assert_eq!(m["standard"]["requests"], 6);
    assert_eq!(m["standard"]["denied_percent"], 100.0);
    assert_eq!(m["standard"]["approved_after_appeal"], 1);
    assert_eq!(m["standard"]["median_hours"], 24.0);
    assert_eq!(
        m["expedited"]["requests"], 0,
        "appeals are not initial requests"
    );
    // The CLI reads the same store.
    let out = common::medpol(&[
        "prior-auth",
        "metrics",
        "--database",
        &p.db,
        "--year",
        "2026",
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cli, m);
}

#[test]
fn clocks_extension_and_overdue_requests() {
    let p = start(&[]);
    let s = &p.server;
    let t = token(s, "system/Claim.c");
    let (_, b) = fhir_post(
        s,
        "/fhir/Claim/$submit",
        Some(&t),
        &request("stat-1", "512", "M0076", "21", "stat", vec![]),
    );
    let stat = b["entry"][0]["resource"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, b) = fhir_post(
        s,
        "/fhir/Claim/$submit",
        Some(&t),
        &request("std-1", "512", "M0076", "21", "normal", vec![]),
    );
    let std = b["entry"][0]["resource"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, q) = reviewer_get(s, "/api/v1/prior-auth/requests");
    assert_eq!(
        q["requests"][0]["id"],
        stat.as_str(),
        "the expedited request is due first"
    );
    assert_eq!(q["requests"][0]["due_at"], "2026-03-05T09:00:00Z");
    // Four days later the expedited one is overdue.
    set_clock(&p.clock, "2026-03-06T09:00:00Z");
    let (_, q) = reviewer_get(s, "/api/v1/prior-auth/requests");
    assert_eq!(q["overdue"], 1, "{q}");
    assert_eq!(q["requests"][0]["overdue"], true);
    assert_eq!(q["requests"][0]["minutes_left"], -24 * 60);
    let (_, q) = reviewer_get(
        s,
        "/api/v1/prior-auth/requests?due_before=2026-03-06T00:00:00Z",
    );
    assert_eq!(q["requests"].as_array().unwrap().len(), 1);
    // The standard one is extended once, with a reason.
    let path = format!("/api/v1/prior-auth/requests/{std}/extend");
    assert_eq!(reviewer_post(s, &path, &json!({"reason": ""})).0, 422);
    let (status, e) = reviewer_post(
        s,
        &path,
        &json!({"reason": "Waiting for records.", "days": 14}),
    );
    assert_eq!(status, 200, "{e}");
    assert_eq!(e["due_at"], "2026-03-23T09:00:00Z");
    assert_eq!(reviewer_post(s, &path, &json!({"reason": "again"})).0, 409);
    let (status, _) = reviewer_post(
        s,
        &format!("/api/v1/prior-auth/requests/{std}/decision"),
        &json!({"items": [{"sequence": 1, "action": "modify", "reason": "Outpatient only.", "authorized": "outpatient setting"}]}),
    );
    assert_eq!(status, 200);
    let (_, m) = get(&agent(), &s.url("/api/v1/prior-auth/metrics?year=2026"));
    assert_eq!(m["standard"]["extended_and_approved"], 1, "{m}");
    assert_eq!(m["expedited"]["pending"], 1);
    assert_eq!(
        get(&agent(), &s.url("/api/v1/prior-auth/metrics?year=1")).0,
        422
    );
}

#[test]
fn criteria_certified_when_the_questionnaire_is_met_and_pended_otherwise() {
    let policies = tempfile::tempdir().unwrap();
    let dir = common::catalogue_copy(policies.path(), "criteria");
    common::make_medically_necessary(&dir);
    let p = start(&["--policies", dir.to_str().unwrap()]);
    let s = &p.server;
    let t = token(s, "system/Claim.c system/Claim.r");
    // Inpatient (authorization required), commercial PPO, no answers: pended, asking for the questionnaire.
    let (status, b) = fhir_post(
        s,
        "/fhir/Claim/$submit",
        Some(&t),
        &request("mn-1", "512", "M0076", "21", "normal", vec![]),
    );
    assert_eq!(status, 200, "{b}");
    assert_eq!(actions(&b), [(1, "A4".to_string())], "{b}");
    let n = notes(&b);
    assert!(
        n.contains("Questionnaire:") && n.contains("/fhir/Questionnaire/bcbsma-183-"),
        "{n}"
    );
    let canonical = n
        .split("Questionnaire: ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let url = canonical.split('|').next().unwrap().to_string();
    let (status, q) = get(&agent(), &url);
    assert_eq!(status, 200, "{q}");
    let links: Vec<String> = q["item"][0]["item"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["linkId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(links, ["1", "2"]);
    let answered = |answers: [bool; 2]| {
        json!({"resourceType": "QuestionnaireResponse", "status": "completed", "questionnaire": canonical,
               "item": [{"linkId": "criteria", "item": [
                   {"linkId": "1", "answer": [{"valueBoolean": answers[0]}]},
                   {"linkId": "2", "answer": [{"valueBoolean": answers[1]}]}]}]})
    };
    // Answered met: certified at once, with a number and a period.
    let (_, b) = fhir_post(
        s,
        "/fhir/Claim/$submit",
        Some(&t),
        &request(
            "mn-2",
            "512",
            "M0076",
            "21",
            "normal",
            vec![answered([true, true])],
        ),
    );
    assert_eq!(actions(&b), [(1, "A1".to_string())], "{b}");
    let item = &b["entry"][0]["resource"]["item"][0];
    assert!(
        item["extension"].to_string().contains("itemPreAuthPeriod"),
        "{item}"
    );
    assert!(item["extension"].to_string().contains("2026-03-20"));
    assert!(b["entry"][0]["resource"]["preAuthRef"]
        .as_str()
        .unwrap()
        .starts_with("MP"));
    // Answered not met: pended for a reviewer, never denied automatically.
    let (_, b) = fhir_post(
        s,
        "/fhir/Claim/$submit",
        Some(&t),
        &request(
            "mn-3",
            "512",
            "M0076",
            "21",
            "normal",
            vec![answered([true, false])],
        ),
    );
    assert_eq!(actions(&b), [(1, "A4".to_string())], "{b}");
    assert!(notes(&b).contains("do not meet"));
    // A code no policy governs needs no authorization.
    let (_, b) = fhir_post(
        s,
        "/fhir/Claim/$submit",
        Some(&t),
        &request("none-1", "512", "A0021", "22", "normal", vec![]),
    );
    assert_eq!(actions(&b), [(1, "NA".to_string())], "{b}");
}

#[test]
fn resubmission_is_idempotent_and_updates_cancel_items() {
    let p = start(&[]);
    let s = &p.server;
    let t = token(s, "system/Claim.c system/Claim.r");
    let body = request("idem-1", "512", "M0076", "21", "normal", vec![]);
    let (_, first) = fhir_post(s, "/fhir/Claim/$submit", Some(&t), &body);
    let (_, again) = fhir_post(s, "/fhir/Claim/$submit", Some(&t), &body);
    assert_eq!(
        first["entry"][0]["resource"]["id"],
        again["entry"][0]["resource"]["id"]
    );
    assert_eq!(actions(&first), actions(&again));
    let (_, q) = reviewer_get(s, "/api/v1/prior-auth/requests?status=all");
    assert_eq!(q["requests"].as_array().unwrap().len(), 1);
    let id = first["entry"][0]["resource"]["id"].as_str().unwrap();
    let (_, d) = reviewer_get(s, &format!("/api/v1/prior-auth/requests/{id}"));
    assert_eq!(
        d["history"].as_array().unwrap().len(),
        1,
        "no event for a resubmission"
    );
    // The requester cancels the item: the request is withdrawn.
    let mut cancel = body.clone();
    cancel["entry"][0]["resource"]["item"][0]["modifierExtension"] = json!([{"url": "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/modifierextension-infoCancelled", "valueBoolean": true}]);
    let (_, b) = fhir_post(s, "/fhir/Claim/$submit", Some(&t), &cancel);
    assert_eq!(actions(&b), [(1, "C".to_string())]);
    let (_, q) = reviewer_get(s, "/api/v1/prior-auth/requests");
    assert_eq!(
        q["requests"].as_array().unwrap().len(),
        0,
        "nothing left to review"
    );
    let (_, m) = get(&agent(), &s.url("/api/v1/prior-auth/metrics?year=2026"));
    assert_eq!(m["standard"]["withdrawn"], 1, "{m}");
}

#[test]
fn an_acknowledged_request_and_its_notification_survive_sigkill() {
    // The subscriber is down when the decision is made.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}/notify");
    let mut p = start(&[]);
    let t = token(
        &p.server,
        "system/Claim.c system/Claim.r system/Subscription.c",
    );
    assert_eq!(
        fhir_post(
            &p.server,
            "/fhir/Subscription",
            Some(&t),
            &subscription(&endpoint)
        )
        .0,
        201
    );
    let (status, b) = fhir_post(
        &p.server,
        "/fhir/Claim/$submit",
        Some(&t),
        &request("kill-1", "512", "M0076", "21", "normal", vec![]),
    );
    assert_eq!(status, 200);
    let id = b["entry"][0]["resource"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = reviewer_post(
        &p.server,
        &format!("/api/v1/prior-auth/requests/{id}/decision"),
        &json!({"items": [{"sequence": 1, "action": "deny", "reason": "investigational"}]}),
    );
    assert_eq!(status, 200);
    p.server.kill9();
    // Back up, with the subscriber listening now.
    let got = subscriber(TcpListener::bind(("127.0.0.1", port)).unwrap());
    let clients = keys().join("clients.toml");
    let map = coverage_map(p.dir.path());
    p.server = Server::start(
        &p.db,
        &[
            "--pas-clients",
            clients.to_str().unwrap(),
            "--reviewer-token",
            REVIEWER,
            "--test-clock",
            p.clock.to_str().unwrap(),
            "--cds-coverage-map",
            map.to_str().unwrap(),
        ],
    );
    let t = token(&p.server, "system/Claim.r");
    let (status, b) = fhir_post(
        &p.server,
        "/fhir/Claim/$inquire",
        Some(&t),
        &inquiry("kill-1"),
    );
    assert_eq!(status, 200, "{b}");
    assert_eq!(actions(&b), [(1, "A3".to_string())]);
    let notified = wait_for(&got, 1);
    assert_eq!(
        notified.len(),
        1,
        "the notification was delivered after the restart"
    );
    assert_eq!(
        actions(&notified[0]["entry"][1]["resource"]),
        [(1, "A3".to_string())]
    );
}

/// Two replicas on one database: a token issued by one is honoured by the
/// other, a request received by one is reviewed on the other, and its
/// state is the same from both.
fn replicas_share_requests(db: &str, dir: &Path) {
    let clock = dir.join("clock");
    set_clock(&clock, "2026-03-02T09:00:00Z");
    let clients = keys().join("clients.toml");
    let args = [
        "--pas-clients",
        clients.to_str().unwrap(),
        "--reviewer-token",
        REVIEWER,
        "--test-clock",
        clock.to_str().unwrap(),
    ];
    let a = Server::start(db, &args);
    let b = Server::start(db, &args);
    let t = token(&a, "system/Claim.c system/Claim.r");
    let (status, r) = fhir_post(
        &b,
        "/fhir/Claim/$submit",
        Some(&t),
        &request("replica-1", "111", "M0076", "21", "normal", vec![]),
    );
    assert_eq!(status, 200, "a token from replica A works on B: {r}");
    assert_eq!(actions(&r), [(1, "A4".to_string())]);
    let id = r["entry"][0]["resource"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, q) = reviewer_get(&a, "/api/v1/prior-auth/requests");
    assert_eq!(q["requests"][0]["id"], id.as_str(), "{q}");
    let (status, _) = reviewer_post(
        &a,
        &format!("/api/v1/prior-auth/requests/{id}/decision"),
        &json!({"items": [{"sequence": 1, "action": "deny", "reason": "investigational"}]}),
    );
    assert_eq!(status, 200);
    let (_, r) = fhir_post(&b, "/fhir/Claim/$inquire", Some(&t), &inquiry("replica-1"));
    assert_eq!(actions(&r), [(1, "A3".to_string())]);
    // The same submission to the other replica is the same request.
    let (_, again) = fhir_post(
        &a,
        "/fhir/Claim/$submit",
        Some(&t),
        &request("replica-1", "111", "M0076", "21", "normal", vec![]),
    );
    assert_eq!(again["entry"][0]["resource"]["id"], id.as_str());
}

#[test]
fn replicas_share_requests_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    replicas_share_requests(
        &format!("sqlite://{}", dir.path().join("m.db").display()),
        dir.path(),
    );
}

#[test]
fn replicas_share_requests_on_postgres() {
    let Some(db) = postgres_database() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    replicas_share_requests(&db.url(), dir.path());
}

/// A page over HTTP without following redirects: status, body, Set-Cookie.
fn page_call(r: Result<ureq::Response, ureq::Error>) -> (u16, String, Option<String>) {
    let r = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    let cookie = r.header("set-cookie").map(String::from);
    (r.status(), r.into_string().unwrap(), cookie)
}

fn between<'a>(text: &'a str, before: &str, after: &str) -> &'a str {
    let start = text
        .find(before)
        .unwrap_or_else(|| panic!("{before} not in {text}"))
        + before.len();
    &text[start..start + text[start..].find(after).unwrap()]
}

#[test]
fn reviewers_sign_in_and_decide_on_the_web_pages() {
    let p = start(&[]);
    let s = &p.server;
    let t = token(s, "system/Claim.c system/Claim.r");
    let (_, b) = fhir_post(
        s,
        "/fhir/Claim/$submit",
        Some(&t),
        &request("web-1", "512", "M0076", "21", "normal", vec![]),
    );
    let id = b["entry"][0]["resource"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let a = ureq::AgentBuilder::new().redirects(0).build();

    // Signed out: the sign-in form; a wrong token is told beside the field.
    let (status, html, _) = page_call(a.get(&s.url("/review")).call());
    assert_eq!(status, 200);
    assert!(html.contains("action=\"/review/sign-in\""), "{html}");
    let (status, html, cookie) = page_call(
        a.post(&s.url("/review/sign-in"))
            .send_form(&[("token", "wrong")]),
    );
    assert_eq!(status, 401);
    assert!(
        html.contains("id=\"token-error\"") && cookie.is_none(),
        "{html}"
    );
    // The admin token is not the reviewer's.
    assert_eq!(
        page_call(
            a.post(&s.url("/review/sign-in"))
                .send_form(&[("token", TOKEN)])
        )
        .0,
        401
    );
    let (status, _, cookie) = page_call(
        a.post(&s.url("/review/sign-in"))
            .send_form(&[("token", REVIEWER)]),
    );
    assert_eq!(status, 303);
    let cookie = cookie.unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain http here: {cookie}");
    let session = cookie.split(';').next().unwrap().to_string();
    // A forged session is signed out.
    let forged = format!("medpol_review={}.{}", now() + 3600, "00".repeat(32));
    assert!(
        page_call(a.get(&s.url("/review")).set("cookie", &forged).call())
            .1
            .contains("Sign in")
    );

    // The queue, then the request with the policy's recommendation and its citation.
    let r = a
        .get(&s.url("/review"))
        .set("cookie", &session)
        .call()
        .unwrap();
    assert_eq!(
        (r.header("cache-control"), r.header("vary")),
        (Some("no-store"), Some("Cookie")),
        "a reviewer's pages are kept by no cache"
    );
    let (status, queue, _) = page_call(a.get(&s.url("/review")).set("cookie", &session).call());
    assert_eq!(status, 200, "{queue}");
    assert!(
        queue.contains(&format!("/review/requests/{id}")) && queue.contains("recommended: deny"),
        "{queue}"
    );
    let (status, req, _) = page_call(
        a.get(&s.url(&format!("/review/requests/{id}")))
            .set("cookie", &session)
            .call(),
    );
    assert_eq!(status, 200);
    assert!(
        req.contains("/policies/bcbsma/183?date=") && req.contains("#statement-"),
        "{req}"
    );
    assert!(req.contains("Clinical exception process"), "{req}");
    let csrf = between(&req, "name=\"csrf\" value=\"", "\"").to_string();
    let decision = |form: &[(&str, &str)]| {
        page_call(
            a.post(&s.url(&format!("/review/requests/{id}/decision")))
                .set("cookie", &session)
                .send_form(form),
        )
    };
    // Without the session's CSRF token: refused, nothing recorded.
    assert_eq!(
        decision(&[
            ("csrf", "forged"),
            ("sequence", "1"),
            ("action", "deny"),
            ("reason", "x")
        ])
        .0,
        403
    );
    // A denial without a reason: the message beside the field.
    let (status, html, _) = decision(&[
        ("csrf", &csrf),
        ("sequence", "1"),
        ("action", "deny"),
        ("reason", ""),
    ]);
    assert_eq!(status, 422);
    assert!(html.contains("id=\"reason-1-error\""), "{html}");
    let (status, _, _) = decision(&[
        ("csrf", &csrf),
        ("sequence", "1"),
        ("action", "deny"),
        ("reason", "Investigational under policy 183."),
    ]);
    assert_eq!(status, 303);
    let (_, b) = fhir_post(s, "/fhir/Claim/$inquire", Some(&t), &inquiry("web-1"));
    assert_eq!(actions(&b), [(1, "A3".to_string())]);
    assert!(notes(&b).contains("Investigational under policy 183."));
    // The same form sent again (another tab): a conflict, told at the top of the page.
    let (status, html, _) = decision(&[
        ("csrf", &csrf),
        ("sequence", "1"),
        ("action", "certify"),
        ("reason", ""),
    ]);
    assert_eq!(status, 409, "{html}");
    assert!(
        html.contains("role=\"alert\"") && !html.contains("Record the decision"),
        "{html}"
    );
    let (_, b) = fhir_post(s, "/fhir/Claim/$inquire", Some(&t), &inquiry("web-1"));
    assert_eq!(actions(&b), [(1, "A3".to_string())], "the denial stands");

    // The public report shows the decision.
    let (status, report, _) = page_call(a.get(&s.url("/reports/prior-auth?year=2026")).call());
    assert_eq!(status, 200);
    assert!(
        report.contains("<svg") && report.contains("Denied: 100.0 %"),
        "{report}"
    );
    let (status, bad, _) = page_call(a.get(&s.url("/reports/prior-auth?year=twenty")).call());
    assert_eq!(status, 422);
    assert!(bad.contains("id=\"year-error\""));
    // Signing out needs the CSRF token too, and clears the browser's cookie
    // (the signed cookie itself stays valid until it expires: docs/web.md).
    let (status, _, kept) = page_call(
        a.post(&s.url("/review/sign-out"))
            .set("cookie", &session)
            .send_form(&[("csrf", "forged")]),
    );
    assert_eq!((status, kept), (403, None));
    let (status, _, cleared) = page_call(
        a.post(&s.url("/review/sign-out"))
            .set("cookie", &session)
            .send_form(&[("csrf", &csrf)]),
    );
    assert_eq!(status, 303);
    assert!(cleared.unwrap().contains("Max-Age=0"));
}
