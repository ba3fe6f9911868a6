//! What an adversarial run of the service found (issue 15), one test per
//! finding, through the real binary and server: the decision log reveals no
//! diagnosis, publishes never fail with 500, one date rule, bounded requests
//! and messages, CDS Hooks input checked and CORS answered.

mod common;
#[path = "common/server.rs"]
mod server;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::{repo_root, run};
use serde_json::{json, Value};
use server::*;

fn sqlite(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("m.db").display())
}

const ACT: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";

/// Policy 605 (acupuncture): Medicare criteria bound to low back pain
/// diagnoses, not covered for all other indications.
fn acupuncture_policies(dir: &tempfile::TempDir) -> String {
    let out = dir.path().join("policies");
    let doc = repo_root().join("tests/fixtures/family/605-acupuncture.txt");
    let r = run(&[
        "import",
        "--out",
        out.to_str().unwrap(),
        "--strict",
        doc.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    out.to_str().unwrap().to_string()
}

fn acupuncture_request() -> Value {
    json!({"product": "medicare-hmo-blue", "setting": "outpatient", "date": "2025-06-01",
           "lines": [{"code": {"system": "cpt", "code": "97810"}}],
           "diagnoses": [{"system": "icd10cm", "code": "M54.59"}]})
}

/// Finding 1a: the cited statement of an indication chosen by diagnosis is
/// withheld from the log (its path names the indication), unless the
/// service keeps clinical data.
#[test]
fn the_decision_log_does_not_reveal_the_indication() {
    let dir = tempfile::tempdir().unwrap();
    let policies = acupuncture_policies(&dir);
    let a = agent();
    for keep in [false, true] {
        let db = tempfile::tempdir().unwrap();
        let mut extra = vec!["--policies", policies.as_str()];
        if keep {
            extra.push("--log-clinical");
        }
        let s = Server::start(&sqlite(&db), &extra);
        let (st, body) = post_json(&a, &s.url("/api/v1/determinations"), &acupuncture_request());
        assert_eq!(st, 200, "{body}");
        // The caller sees the statement it was decided by.
        let cited: Vec<&str> = body["lines"][0]["citations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["path"].as_str().unwrap())
            .collect();
        let statement = cited
            .iter()
            .find(|p| p.starts_with("statement/"))
            .copied()
            .expect("a statement is cited");
        let (_, log) = get_admin(&a, &s.url("/api/v1/decisions"));
        let record = &log[0];
        let text = record.to_string();
        if keep {
            assert!(text.contains(statement), "{record}");
            assert_eq!(record["clinical"]["diagnoses"][0]["code"], "M54.59");
        } else {
            assert!(!text.contains(statement), "{record}");
            assert!(!text.contains("M54"), "{record}");
            let withheld: Vec<&Value> = record["lines"][0]["citations"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["withheld"] == "indication")
                .collect();
            assert_eq!(withheld.len(), 1, "{record}");
            assert!(withheld[0].get("path").is_none());
            assert_eq!(withheld[0]["policy"], "bcbsma/605");
        }
    }
}

/// Finding 1b: request digests are keyed by a secret outside the database;
/// without one there is no digest, and the old in-database key is gone.
#[test]
fn request_digests_are_keyed_from_outside_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    let key1 = dir.path().join("k1");
    let key2 = dir.path().join("k2");
    std::fs::write(&key1, "a".repeat(40)).unwrap();
    std::fs::write(&key2, "b".repeat(40)).unwrap();
    let short = dir.path().join("short");
    std::fs::write(&short, "too short").unwrap();
    let r = run(&[
        "serve",
        "--database",
        &db,
        "--decision-digest-key-file",
        short.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("at least 32"), "{}", r.stderr);

    let a = agent();
    let req = request("commercial-ppo", "outpatient", "2025-06-01", "M0076");
    let mut digests = Vec::new();
    for key in [Some(&key1), Some(&key2), Some(&key1), None] {
        let mut extra = vec![];
        let path;
        if let Some(k) = key {
            path = k.to_str().unwrap().to_string();
            extra = vec!["--decision-digest-key-file", path.as_str()];
        }
        let s = Server::start(&db, &extra);
        let (st, body) = post_json(&a, &s.url("/api/v1/determinations"), &req);
        assert_eq!(st, 200, "{body}");
        let (_, log) = get_admin(&a, &s.url("/api/v1/decisions?limit=1"));
        digests.push(log[0]["request_digest"].as_str().map(str::to_string));
    }
    let d1 = digests[0].clone().expect("a digest under key 1");
    assert_eq!(d1.len(), 64);
    assert!(d1.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_ne!(
        digests[1].as_deref(),
        Some(d1.as_str()),
        "another key, another digest"
    );
    assert_eq!(
        digests[2].as_deref(),
        Some(d1.as_str()),
        "the same key, the same digest"
    );
    assert_eq!(digests[3], None, "no key, no digest");
}

/// Finding 2: concurrent publishes, and publishes beside determination
/// load, never answer 500; each one is 201 (or 503 with a reason).
#[test]
fn concurrent_publishes_never_fail_with_500() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&sqlite(&dir), &[]);
    let a = agent();
    let (_, doc) = get(&a, &s.url("/api/v1/policies/bcbsma/183"));
    let policy = doc["policy"].clone();
    let statuses = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    std::thread::scope(|scope| {
        // Determinations, so the decision log writes all along.
        for _ in 0..2 {
            let (stop, url) = (stop.clone(), s.url("/api/v1/determinations"));
            scope.spawn(move || {
                let a = agent();
                let req = request("commercial-ppo", "outpatient", "2025-06-01", "M0076");
                while !stop.load(Ordering::Relaxed) {
                    assert_eq!(post_json(&a, &url, &req).0, 200);
                }
            });
        }
        let publishers: Vec<_> = (0..3)
            .map(|_| {
                let (statuses, policy, url) = (
                    statuses.clone(),
                    policy.clone(),
                    s.url("/api/v1/policies?in_force_from=2026-01-01"),
                );
                scope.spawn(move || {
                    let a = agent();
                    for _ in 0..12 {
                        let (st, body) = respond(
                            a.post(&url)
                                .set("content-type", "application/json")
                                .set("authorization", &format!("Bearer {TOKEN}"))
                                .send_string(&policy.to_string()),
                        );
                        statuses.lock().unwrap().push((st, body));
                    }
                })
            })
            .collect();
        for p in publishers {
            p.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
    });
    let statuses = statuses.lock().unwrap();
    assert_eq!(statuses.len(), 36);
    for (st, body) in statuses.iter() {
        assert!(
            *st == 201 || (*st == 503 && body["error"] == "store-busy"),
            "{st} {body}"
        );
    }
    let created = statuses.iter().filter(|(st, _)| *st == 201).count();
    let (_, versions) = get(&a, &s.url("/api/v1/policies/bcbsma/183/versions"));
    let revisions: Vec<i64> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["revision"].as_i64().unwrap())
        .collect();
    assert_eq!(
        *revisions.iter().max().unwrap(),
        1 + created as i64,
        "every acknowledged publish is a revision"
    );
}

/// Finding 4: one date rule everywhere: exactly YYYY-MM-DD from 1900 on.
#[test]
fn dates_are_iso_dates_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&sqlite(&dir), &[]);
    let a = agent();
    let url = s.url("/api/v1/determinations");
    for bad in [
        "2025-6-1",
        " 2025-06-01",
        "2025-06-01\n",
        "0000-01-01",
        "1899-12-31",
        "+10000-01-01",
        "2025-02-30",
    ] {
        let (st, e) = post_json(
            &a,
            &url,
            &request("commercial-ppo", "outpatient", bad, "M0076"),
        );
        assert_eq!(
            (st, e["field"].as_str()),
            (422, Some("date")),
            "{bad:?}: {e}"
        );
        let r = run(&[
            "check",
            "--code",
            "M0076",
            "--product",
            "commercial-ppo",
            "--setting",
            "outpatient",
            "--date",
            bad,
        ]);
        assert_eq!(r.code, 2, "check --date {bad:?}: {}", r.stdout);
        assert!(r.stderr.contains("YYYY-MM-DD"), "{}", r.stderr);
    }
    let (_, log) = get_admin(&a, &s.url("/api/v1/decisions"));
    assert_eq!(log, json!([]), "nothing refused is logged");
    assert_eq!(
        post_json(
            &a,
            &url,
            &request("commercial-ppo", "outpatient", "1900-01-01", "M0076")
        )
        .0,
        200
    );
}

/// Finding 5: at most 1,000 lines and 100 diagnoses a request.
#[test]
fn a_request_has_a_documented_maximum_of_lines() {
    let dir = tempfile::tempdir().unwrap();
    // Room for the body: the cap, not the body limit, must answer.
    let s = Server::start(&sqlite(&dir), &["--body-limit", "4000000"]);
    let a = agent();
    let url = s.url("/api/v1/determinations");
    let with_lines = |n: usize| {
        let line = json!({"code": {"system": "hcpcs", "code": "M0076"}});
        json!({"product": "commercial-ppo", "setting": "outpatient", "date": "2025-06-01",
               "lines": vec![line; n]})
    };
    let (st, body) = post_json(&a, &url, &with_lines(1000));
    assert_eq!(st, 200);
    assert_eq!(body["lines"].as_array().unwrap().len(), 1000);
    let (st, e) = post_json(&a, &url, &with_lines(1001));
    assert_eq!(
        (st, e["error"].as_str(), e["field"].as_str()),
        (422, Some("too-many-lines"), Some("lines"))
    );
    assert!(
        e["message"].as_str().unwrap().contains("at most 1000"),
        "{e}"
    );
    let mut many_dx = with_lines(1);
    many_dx["diagnoses"] = json!(vec![json!({"system": "icd10cm", "code": "M54.50"}); 101]);
    let (st, e) = post_json(&a, &url, &many_dx);
    assert_eq!((st, e["field"].as_str()), (422, Some("diagnoses")), "{e}");
}

/// Finding 6: a malformed `draftOrders` is the client's mistake (400), not
/// "no orders"; a call with too many orders is refused whole.
#[test]
fn cds_hooks_input_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&sqlite(&dir), &["--cds-insecure-dev-mode"]);
    let a = agent();
    let url = s.url("/cds-services/order-sign-crd");
    let base = json!({"hook": "order-sign", "hookInstance": "h-1",
                      "context": {"userId": "Practitioner/1", "patientId": "p1"}});
    for bad in [
        json!("a string"),
        json!([null]),
        json!(42),
        json!({"resourceType": "Bundle", "entry": "x"}),
        json!({"resourceType": "Bundle", "entry": [{"fullUrl": "x"}]}),
    ] {
        let mut body = base.clone();
        body["context"]["draftOrders"] = bad.clone();
        let (st, o) = post_json(&a, &url, &body);
        assert_eq!(st, 400, "{bad}: {o}");
        assert_eq!(o["resourceType"], "OperationOutcome");
        assert!(
            o["issue"][0]["diagnostics"]
                .as_str()
                .unwrap()
                .contains("draftOrders"),
            "{o}"
        );
    }
    // 101 orders: over the maximum of one call.
    let order = |i: usize| {
        json!({"resource": {
        "resourceType": "ServiceRequest", "id": format!("sr-{i}"), "status": "draft", "intent": "order",
        "code": {"coding": [{"system": "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": "M0076"}]},
        "occurrenceDateTime": "2025-06-01"}})
    };
    let mut body = base.clone();
    body["context"]["draftOrders"] =
        json!({"resourceType": "Bundle", "entry": (0..101).map(order).collect::<Vec<_>>()});
    let (st, o) = post_json(&a, &url, &body);
    assert_eq!(
        (st, o["issue"][0]["code"].as_str()),
        (422, Some("too-costly")),
        "{o}"
    );
    // An oversized body is an OperationOutcome too.
    let big = json!({"hook": "order-sign", "pad": "x".repeat(70_000)});
    let too_large = (0..5).find_map(|_| {
        match a
            .post(&url)
            .set("content-type", "application/json")
            .send_string(&big.to_string())
        {
            Err(ureq::Error::Status(code, r)) => Some((code, r.into_string().unwrap_or_default())),
            Ok(r) => Some((r.status(), r.into_string().unwrap_or_default())),
            Err(ureq::Error::Transport(_)) => None,
        }
    });
    let (code, text) = too_large.expect("an answer");
    assert_eq!(code, 413);
    assert!(text.contains("OperationOutcome"), "{text}");
}

/// Finding 8: errors name the field and the rule with a short, escaped
/// excerpt; JSON is never sniffed; links come from configuration, not Host.
#[test]
fn errors_do_not_echo_input_and_links_ignore_the_host_header() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        &sqlite(&dir),
        &[
            "--body-limit",
            "4000000",
            "--cds-insecure-dev-mode",
            "--public-url",
            "https://crd.example.org",
        ],
    );
    let a = agent();
    let huge = "x".repeat(1 << 20);
    let res = a
        .post(&s.url("/api/v1/determinations"))
        .set("content-type", "application/json")
        .send_string(&request(&huge, "outpatient", "2025-06-01", "M0076").to_string());
    let r = match res {
        Err(ureq::Error::Status(_, r)) => r,
        other => panic!("{:?}", other.map(|r| r.status())),
    };
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    let text = r.into_string().unwrap();
    assert!(text.len() < 2_000, "{} bytes", text.len());
    assert!(text.contains("(1048576 bytes)"), "{text}");

    let (st, e) = get(&a, &s.url("/api/v1/policies/%3Cscript%3E/1"));
    assert_eq!(st, 404);
    assert!(!e.to_string().contains("<script>"), "{e}");
    let (st, o) = post_json(&a, &s.url("/cds-services/%3Cb%3Ehi%3C%2Fb%3E"), &json!({}));
    assert_eq!(st, 404);
    assert!(!o.to_string().contains("<b>"), "{o}");

    // Card links from --public-url, whatever Host the client sends.
    let order = json!({
        "resourceType": "ServiceRequest", "id": "sr-1", "status": "draft", "intent": "original-order",
        "code": {"coding": [{"system": "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": "M0076"}]},
        "occurrenceDateTime": "2025-06-01"});
    let body = json!({"hook": "order-sign", "hookInstance": "h-2",
        "context": {"userId": "Practitioner/1", "patientId": "p1",
                    "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": order}]}},
        "prefetch": {"coverage": {"resourceType": "Bundle", "entry": [{"resource": {
            "resourceType": "Coverage", "id": "c1", "status": "active",
            "type": {"coding": [{"system": ACT, "code": "PPO"}]},
            "payor": [{"display": "Blue Cross Blue Shield of Massachusetts"}]}}]}}});
    let (st, cards) = respond(
        a.post(&s.url("/cds-services/order-sign-crd"))
            .set("content-type", "application/json")
            .set("host", "evil.example")
            .send_string(&body.to_string()),
    );
    assert_eq!(st, 200, "{cards}");
    let text = cards.to_string();
    assert!(!text.contains("evil.example"), "{text}");
    assert!(text.contains("https://crd.example.org/"), "{text}");
}

/// Finding 9: query strings are checked after authentication and refused as
/// JSON; limits mean what they say; the document lists the catalogue's
/// products and puts query parameters in the query.
#[test]
fn query_parameters_match_the_openapi_document() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&sqlite(&dir), &[]);
    let a = agent();
    assert_eq!(get(&a, &s.url("/api/v1/decisions?limit=-1")).0, 401);
    for q in ["limit=-1", "limit=0", "limit=10001", "limit=x"] {
        let (st, e) = get_admin(&a, &s.url(&format!("/api/v1/decisions?{q}")));
        assert_eq!(st, 422, "{q}: {e}");
        assert!(e["error"].is_string(), "{q}: a JSON error, not {e}");
    }
    for q in [
        "limit=-1",
        "limit=0",
        "code=M0076&code=M0076",
        "system=cpt4",
    ] {
        let (st, e) = get(&a, &s.url(&format!("/api/v1/policies?{q}")));
        assert_eq!(st, 422, "{q}: {e}");
        assert!(e["error"].is_string(), "{q}: {e}");
    }
    let (_, doc) = get(&a, &s.url("/api/v1/openapi.json"));
    let product = &doc["components"]["schemas"]["Request"]["properties"]["product"];
    assert!(
        product["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("commercial-ppo")),
        "{product}"
    );
    for path in [
        "/api/v1/policies",
        "/api/v1/decisions",
        "/api/v1/cds-feedback",
    ] {
        let params = doc["paths"][path]["get"]["parameters"].as_array().unwrap();
        assert!(
            params.iter().all(|p| p["in"] == "query"),
            "{path}: {params:?}"
        );
    }
    let lines = &doc["components"]["schemas"]["DecisionRecord"]["properties"]["lines"];
    assert_eq!(lines["type"], "array", "{lines}");
}

/// Finding 10: smaller ones, through the binary.
#[test]
fn smaller_findings() {
    // An empty policy directory: no "valid products:" followed by nothing.
    let empty = tempfile::tempdir().unwrap();
    std::fs::write(empty.path().join("notes.txt"), "not a policy").unwrap();
    let r = run(&[
        "check",
        "--code",
        "M0076",
        "--product",
        "commercial-ppo",
        "--setting",
        "outpatient",
        "--date",
        "2025-06-01",
        "--policies",
        empty.path().to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!r.stderr.contains("valid products:"), "{}", r.stderr);
    assert!(r.stderr.contains("no products"), "{}", r.stderr);

    // UTF-16 claims are an input error (exit 2), with what to do.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("claims.csv");
    let mut bytes = vec![0xFF, 0xFE];
    for c in "claim_id,line,product,date_of_service,place_of_service,code\n".encode_utf16() {
        bytes.extend_from_slice(&c.to_le_bytes());
    }
    std::fs::write(&file, bytes).unwrap();
    let r = run(&["screen", file.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("UTF-16"), "{}", r.stderr);

    // Lone-CR line ends: every line screened.
    std::fs::write(
        &file,
        "claim_id,line,product,date_of_service,place_of_service,code\r\
         C1,1,commercial-ppo,2025-06-01,11,M0076\rC2,1,commercial-ppo,2025-06-01,11,M0076\r",
    )
    .unwrap();
    let r = run(&["screen", file.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 3, "{}", r.stdout);

    // A document that is not one.
    let pdf = dir.path().join("mp.pdf");
    std::fs::write(&pdf, b"%PDF-1.7\n\x00\x01binary").unwrap();
    let r = run(&[
        "import",
        "--out",
        dir.path().to_str().unwrap(),
        pdf.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("not a policy document"), "{}", r.stderr);

    // The bearer scheme is case-insensitive.
    let db = tempfile::tempdir().unwrap();
    let s = Server::start(&sqlite(&db), &[]);
    let (st, _) = respond(
        agent()
            .get(&s.url("/api/v1/decisions"))
            .set("authorization", &format!("bearer {TOKEN}"))
            .call(),
    );
    assert_eq!(st, 200);
}

/// Finding 11: CORS preflights are answered on /cds-services only.
#[test]
#[allow(clippy::result_large_err)] // ureq's error carries the response: fine in a test
fn cors_preflight_on_cds_services_only() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&sqlite(&dir), &["--cds-insecure-dev-mode"]);
    let a = agent();
    let preflight = |path: &str| {
        a.request("OPTIONS", &s.url(path))
            .set("origin", "https://ehr.example.org")
            .set("access-control-request-method", "POST")
            .set(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .call()
    };
    let r = preflight("/cds-services/order-sign-crd").expect("a 2xx preflight answer");
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let methods = r
        .header("access-control-allow-methods")
        .unwrap()
        .to_ascii_uppercase();
    assert!(methods.contains("POST"), "{methods}");
    let headers = r
        .header("access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(headers.contains("authorization"), "{headers}");
    let r = a
        .get(&s.url("/cds-services"))
        .set("origin", "https://ehr.example.org")
        .call()
        .unwrap();
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    // Not on the REST or admin API.
    let r = match preflight("/api/v1/determinations") {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(r.header("access-control-allow-origin"), None);
}

/// A TOML publication is read by the policy-file reader: an error names the
/// line and field, as `medpol validate` does for a file.
#[test]
fn a_toml_publication_names_the_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&sqlite(&dir), &[]);
    let text =
        std::fs::read_to_string(repo_root().join("policies/bcbsma/183-prolotherapy.toml")).unwrap();
    let (line_no, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.starts_with("products = ["))
        .unwrap();
    let broken = text.replacen(line, "products = [\"gold\"]", 1);
    let publish = |body: &str| {
        respond(
            agent()
                .post(&s.url("/api/v1/policies?in_force_from=2026-01-01"))
                .set("content-type", "application/toml")
                .set("authorization", &format!("Bearer {TOKEN}"))
                .send_string(body),
        )
    };
    let (st, e) = publish(&broken);
    assert_eq!(st, 422, "{e}");
    let message = e["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("line {}: ", line_no + 1)),
        "{message}"
    );
    assert!(message.contains("gold"), "{message}");
    assert!(e["field"].as_str().unwrap().contains("products"), "{e}");
    let (st, p) = publish(&text);
    assert_eq!(st, 201, "{p}");
}

/// Trusted CDS clients without the URL they call: refused at start.
#[test]
fn cds_clients_need_a_public_url() {
    let dir = tempfile::tempdir().unwrap();
    let clients = repo_root().join("crates/medpol-server/tests/fixtures/keys/clients.toml");
    let r = run(&[
        "serve",
        "--database",
        &sqlite(&dir),
        "--cds-clients",
        clients.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("--public-url is required"),
        "{}",
        r.stderr
    );
}
