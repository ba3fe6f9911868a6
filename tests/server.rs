//! `medpol serve` end to end, against the real binary: on SQLite and on the
//! PostgreSQL at 127.0.0.1:5432 (skipped, and said so, when none answers),
//! two replicas on one PostgreSQL, and SIGKILL under load.

#[path = "common/server.rs"]
mod server;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use server::*;

/// The API behaves the same on any store: the core table's rows, every kind
/// of bad input (and none of it recorded), the admin API, publishing.
fn exercise(s: &Server) {
    let a = agent();
    assert_eq!(get(&a, &s.url("/healthz")).0, 200);
    assert_eq!(
        get(&a, &s.url("/readyz")),
        (200, json!({"status": "ready"}))
    );

    let mut decided = Vec::new();
    for (product, setting, date, code, coverage, pa, version) in [
        (
            "commercial-ppo",
            "outpatient",
            "2025-06-01",
            "M0076",
            "not-covered",
            "not-applicable",
            Some("1/2025"),
        ),
        (
            "commercial-hmo",
            "inpatient",
            "2025-06-01",
            "M0076",
            "not-covered",
            "auth-needed",
            Some("1/2025"),
        ),
        (
            "medicare-hmo-blue",
            "outpatient",
            "2025-06-01",
            "M0076",
            "not-covered",
            "not-applicable",
            Some("1/2025"),
        ),
        (
            "commercial-ppo",
            "21",
            "2015-06-01",
            "M0076",
            "not-covered",
            "auth-needed",
            Some("12/2013"),
        ),
        (
            "commercial-ppo",
            "outpatient",
            "2009-12-31",
            "M0076",
            "no-policy",
            "not-applicable",
            None,
        ),
    ] {
        let (status, body) = post_json(
            &a,
            &s.url("/api/v1/determinations"),
            &request(product, setting, date, code),
        );
        assert_eq!(status, 200, "{body}");
        let line = &body["lines"][0];
        assert_eq!(
            line["coverage"], coverage,
            "{product} {setting} {date}: {body}"
        );
        assert_eq!(line["prior_auth"], pa, "{product} {setting} {date}");
        match version {
            Some(v) => assert_eq!(line["policies"][0]["version"], v),
            None => assert_eq!(line["policies"], json!([])),
        }
        decided.push(body["decision_id"].as_str().unwrap().to_string());
    }
    // 99213 is CPT: give it as such.
    let (status, body) = post_json(
        &a,
        &s.url("/api/v1/determinations"),
        &json!({"product": "commercial-ppo", "setting": "outpatient", "date": "2025-06-01",
                "lines": [{"code": {"system": "cpt", "code": "99213"}}]}),
    );
    assert_eq!(
        (status, body["lines"][0]["coverage"].clone()),
        (200, json!("no-policy"))
    );
    decided.push(body["decision_id"].as_str().unwrap().to_string());

    // Bad input: the right status, a JSON error naming the field, nothing recorded.
    let det = s.url("/api/v1/determinations");
    let raw =
        |body: &str, ct: &str| respond(a.post(&det).set("content-type", ct).send_string(body));
    let (st, e) = raw("{\"product\": ", "application/json");
    assert_eq!(
        (st, e["error"].as_str()),
        (400, Some("invalid-json")),
        "{e}"
    );
    let (st, e) = raw("{}", "text/plain");
    assert_eq!(st, 415, "{e}");
    let (st, e) = post_json(
        &a,
        &det,
        &request("gold", "outpatient", "2025-06-01", "M0076"),
    );
    assert_eq!((st, e["field"].as_str()), (422, Some("product")), "{e}");
    assert!(
        e["valid"]
            .as_array()
            .unwrap()
            .contains(&json!("commercial-ppo")),
        "{e}"
    );
    let (st, e) = post_json(
        &a,
        &det,
        &request("commercial-ppo", "outpatient", "2025-06-01", "M07"),
    );
    assert_eq!(
        (st, e["field"].as_str()),
        (422, Some("lines[0].code")),
        "{e}"
    );
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("letter A–V followed by 4 digits"),
        "{e}"
    );
    let (st, e) = post_json(
        &a,
        &det,
        &json!({"setting": "outpatient", "date": "2025-06-01", "lines": []}),
    );
    assert_eq!((st, e["field"].as_str()), (422, Some("product")), "{e}");
    let (st, e) = post_json(
        &a,
        &det,
        &request("commercial-ppo", "home", "2025-06-01", "M0076"),
    );
    assert_eq!((st, e["field"].as_str()), (422, Some("setting")), "{e}");
    let (st, e) = post_json(
        &a,
        &det,
        &request("commercial-ppo", "outpatient", "2025-13-01", "M0076"),
    );
    assert_eq!((st, e["field"].as_str()), (422, Some("date")), "{e}");
    // Over the 64 KiB limit. The server may answer 413 and close before the
    // client has sent it all; a client then sees a reset, so try a few times
    // for the answer itself.
    let big = format!("{{\"product\": \"{}\"}}", "x".repeat(70_000));
    let too_large = (0..5).find_map(|_| {
        match a
            .post(&det)
            .set("content-type", "application/json")
            .send_string(&big)
        {
            Err(ureq::Error::Status(code, _)) => Some(code),
            Ok(r) => Some(r.status()),
            Err(ureq::Error::Transport(_)) => None,
        }
    });
    assert_eq!(too_large, Some(413));

    // The log holds exactly the answered decisions.
    let (st, log) = get_admin(&a, &s.url("/api/v1/decisions?limit=1000"));
    assert_eq!(st, 200, "{log}");
    let ids: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), decided.len(), "{log}");
    for id in &decided {
        assert!(ids.contains(&id.as_str()));
    }
    let rec = log
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == decided[0])
        .unwrap();
    assert_eq!(rec["outcome"], "not-covered");
    assert_eq!(rec["policies"][0]["version"], "1/2025");
    assert_eq!(
        rec["lines"][0]["citations"][0]["path"],
        "statement/commercial-investigational"
    );
    // No digest key given (--decision-digest-key-file): no digest kept.
    assert!(rec.get("request_digest").is_none(), "{rec}");
    assert!(rec.get("clinical").is_none());
    let (_, filtered) = get_admin(
        &a,
        &s.url("/api/v1/decisions?outcome=no-policy&policy=bcbsma/183"),
    );
    assert_eq!(filtered, json!([]));
    let (_, filtered) = get_admin(
        &a,
        &s.url("/api/v1/decisions?outcome=not-covered&policy=bcbsma/183&from=2000-01-01"),
    );
    assert_eq!(filtered.as_array().unwrap().len(), 4);
    let (st, e) = get_admin(&a, &s.url("/api/v1/decisions?outcome=maybe"));
    assert_eq!((st, e["field"].as_str()), (422, Some("outcome")));
    assert_eq!(get(&a, &s.url("/api/v1/decisions")).0, 401);

    // Reading policies.
    let (st, list) = get(&a, &s.url("/api/v1/policies?code=M0076"));
    assert_eq!(
        (st, list[0]["number"].as_str()),
        (200, Some("183")),
        "{list}"
    );
    assert_eq!(
        get(&a, &s.url("/api/v1/policies?q=prolotherapy%20ligaments")).1[0]["number"],
        "183"
    );
    assert_eq!(
        get(&a, &s.url("/api/v1/policies?q=cardiology")).1,
        json!([])
    );
    assert_eq!(get(&a, &s.url("/api/v1/policies?code=M07")).0, 422);
    let (st, doc) = get(&a, &s.url("/api/v1/policies/bcbsma/183?date=2015-06-01"));
    assert_eq!(
        (st, doc["version"]["label"].as_str()),
        (200, Some("12/2013")),
        "{doc}"
    );
    assert_eq!(doc["policy"]["reference"].as_array().unwrap().len(), 40);
    assert_eq!(
        get(&a, &s.url("/api/v1/policies/bcbsma/183?date=2009-01-01")).0,
        404
    );
    assert_eq!(get(&a, &s.url("/api/v1/policies/bcbsma/999")).0, 404);
    let (_, versions) = get(&a, &s.url("/api/v1/policies/bcbsma/183/versions"));
    assert_eq!(versions[0]["versions"].as_array().unwrap().len(), 13);
    let (st, spec) = get(&a, &s.url("/api/v1/openapi.json"));
    assert_eq!(st, 200);
    assert!(
        spec["paths"]["/api/v1/determinations"]["post"].is_object(),
        "{spec}"
    );
    assert!(spec["components"]["schemas"]["Request"].is_object());

    // Publishing a revision: admin only, validated, then decided with.
    let (_, current) = get(&a, &s.url("/api/v1/policies/bcbsma/183"));
    let revised = revised_183(&current["policy"]);
    let publish = |token: &str, body: &Value, query: &str| {
        respond(
            a.post(&s.url(&format!("/api/v1/policies{query}")))
                .set("authorization", &format!("Bearer {token}"))
                .set("content-type", "application/json")
                .send_string(&body.to_string()),
        )
    };
    assert_eq!(
        publish("wrong", &revised, "?in_force_from=2026-01-01").0,
        401
    );
    let mut broken = revised.clone();
    broken["statement"][0]["products"] = json!(["gold"]);
    let (st, e) = publish(TOKEN, &broken, "?in_force_from=2026-01-01");
    assert_eq!(st, 422, "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("unknown product `gold`"),
        "{e}"
    );
    let (st, p) = publish(TOKEN, &revised, "?in_force_from=2026-01-01");
    assert_eq!((st, p["revision"].as_i64()), (201, Some(2)), "{p}");
    let decide = |date: &str| {
        let (_, body) = post_json(
            &a,
            &det,
            &request("commercial-ppo", "outpatient", date, "M0076"),
        );
        (
            body["lines"][0]["coverage"].clone(),
            body["lines"][0]["policies"][0]["version"].clone(),
        )
    };
    assert_eq!(
        decide("2025-12-31"),
        (json!("not-covered"), json!("1/2025"))
    );
    assert_eq!(
        decide("2026-01-01"),
        (json!("conditional"), json!("1/2026"))
    );
}

/// Policy 183 with a new statement (medically necessary when criteria are met) from 1/2026.
fn revised_183(policy: &Value) -> Value {
    let mut p = policy.clone();
    p["statement"][0]["status"] = json!("medically-necessary");
    p["statement"][0]["criteria"] = json!(["Failure of 6 months of conservative therapy"]);
    p["statement"][0]["text"] =
        json!("Prolotherapy may be considered MEDICALLY NECESSARY when criteria are met.");
    // The code table moves with the statement: a code is decided by the
    // statements its table's status points to.
    p["code_list"][0]["status"] = json!("medically-necessary");
    p["code_list"][0]["statement"] = json!(
        "The following HCPCS code is considered medically necessary when criteria are met for **Commercial Members: Managed Care (HMO and POS), PPO, Indemnity, Medicare HMO Blue and Medicare PPO Blue:**"
    );
    p["history"].as_array_mut().unwrap().insert(
        0,
        json!({"date": "1/2026", "action": "Policy statement changed."}),
    );
    p
}

#[test]
fn sqlite_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("medpol.db").display());
    let mut s = Server::start(&db, &[]);
    exercise(&s);
    // Graceful shutdown: SIGTERM exits cleanly, and a restart keeps everything.
    assert_eq!(s.terminate(), Some(0));
    let s = Server::start(&db, &[]);
    let (_, log) = get_admin(&agent(), &s.url("/api/v1/decisions?limit=1000"));
    assert_eq!(
        log.as_array().unwrap().len(),
        8,
        "6 decisions in the table checks and 2 after publishing"
    );
    let (_, versions) = get(&agent(), &s.url("/api/v1/policies/bcbsma/183/versions"));
    assert_eq!(
        versions.as_array().unwrap().len(),
        2,
        "the published revision survives a restart"
    );
}

#[test]
fn postgres_end_to_end() {
    let Some(db) = postgres_database() else {
        return;
    };
    let s = Server::start(&db.url(), &[]);
    exercise(&s);
}

#[test]
fn two_replicas_on_one_postgres_see_a_publication_within_seconds() {
    let Some(db) = postgres_database() else {
        return;
    };
    let a = Server::start(&db.url(), &[]);
    let b = Server::start(&db.url(), &[]);
    let http = agent();
    let (_, current) = get(&http, &a.url("/api/v1/policies/bcbsma/183"));
    let (st, _) = respond(
        http.post(&a.url("/api/v1/policies?in_force_from=2026-01-01"))
            .set("authorization", &format!("Bearer {TOKEN}"))
            .set("content-type", "application/json")
            .send_string(&revised_183(&current["policy"]).to_string()),
    );
    assert_eq!(st, 201);
    let started = Instant::now();
    loop {
        let (_, body) = post_json(
            &http,
            &b.url("/api/v1/determinations"),
            &request("commercial-ppo", "outpatient", "2026-06-01", "M0076"),
        );
        if body["lines"][0]["coverage"] == "conditional" {
            assert_eq!(body["lines"][0]["policies"][0]["version"], "1/2026");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "replica B never saw the publication: {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "replica B decided with the new revision {:?} after publication",
        started.elapsed()
    );
}

#[test]
fn sigkill_under_load_loses_no_acknowledged_decision() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("medpol.db").display());
    let mut s = Server::start(&db, &[]);
    let base = s.base.clone();
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let published = Arc::new(Mutex::new(0usize));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..4 {
        let (acked, stop, base) = (acked.clone(), stop.clone(), base.clone());
        workers.push(std::thread::spawn(move || {
            let a = ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(5))
                .build();
            let products = ["commercial-ppo", "commercial-hmo", "medicare-ppo-blue"];
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let body = request(products[(i + w) % 3], "outpatient", "2025-06-01", "M0076");
                match a
                    .post(&format!("{base}/api/v1/determinations"))
                    .set("content-type", "application/json")
                    .send_string(&body.to_string())
                {
                    Ok(r) => {
                        let v: Value = serde_json::from_str(&r.into_string().unwrap()).unwrap();
                        acked
                            .lock()
                            .unwrap()
                            .push(v["decision_id"].as_str().unwrap().to_string());
                    }
                    Err(_) => break, // the server is gone: unacknowledged
                }
                i += 1;
            }
        }));
    }
    {
        let (published, stop, base) = (published.clone(), stop.clone(), base.clone());
        workers.push(std::thread::spawn(move || {
            let a = agent();
            let (_, current) = get(&a, &format!("{base}/api/v1/policies/bcbsma/183"));
            let mut year = 2026;
            while !stop.load(Ordering::SeqCst) {
                let mut p = revised_183(&current["policy"]);
                p["history"][0]["date"] = json!(format!("1/{year}"));
                let r = a
                    .post(&format!(
                        "{base}/api/v1/policies?in_force_from={year}-01-01"
                    ))
                    .set("authorization", &format!("Bearer {TOKEN}"))
                    .set("content-type", "application/json")
                    .send_string(&p.to_string());
                match r {
                    Ok(_) => *published.lock().unwrap() += 1,
                    Err(_) => break,
                }
                year += 1;
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(1500));
    s.kill9();
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let published = *published.lock().unwrap();
    assert!(
        acked.len() > 20,
        "too little load to mean anything: {}",
        acked.len()
    );

    // Restart on the same database: it must load (no half-written revision),
    // and every acknowledged decision must be there.
    let s = Server::start(&db, &[]);
    let a = agent();
    let (_, log) = get_admin(&a, &s.url("/api/v1/decisions?limit=10000"));
    let stored: std::collections::HashSet<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    let lost: Vec<&String> = acked
        .iter()
        .filter(|id| !stored.contains(id.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged decisions lost",
        lost.len(),
        acked.len()
    );
    let (_, versions) = get(&a, &s.url("/api/v1/policies/bcbsma/183/versions"));
    let revisions = versions.as_array().unwrap().len();
    assert!(
        revisions > published,
        "{revisions} revisions for {published} acknowledged publications"
    );
    eprintln!("{} decisions and {published} publications acknowledged before SIGKILL; all present after restart", acked.len());
}

#[test]
fn a_full_decision_log_answers_503_and_drops_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("medpol.db").display());
    let s = Server::start(&db, &["--log-capacity", "1"]);
    let base = s.base.clone();
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let refused = Arc::new(Mutex::new(0usize));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..16 {
        let (acked, refused, base) = (acked.clone(), refused.clone(), base.clone());
        workers.push(std::thread::spawn(move || {
            let a = agent();
            // Bounded: until the log has pushed back a few times, or 20 s.
            while *refused.lock().unwrap() < 5 && started.elapsed() < Duration::from_secs(20) {
                let r = a
                    .post(&format!("{base}/api/v1/determinations"))
                    .set("content-type", "application/json")
                    .send_string(
                        &request("commercial-ppo", "outpatient", "2025-06-01", "M0076").to_string(),
                    );
                match r {
                    Ok(resp) => {
                        let v: Value = serde_json::from_str(&resp.into_string().unwrap()).unwrap();
                        acked
                            .lock()
                            .unwrap()
                            .push(v["decision_id"].as_str().unwrap().to_string());
                    }
                    Err(ureq::Error::Status(503, resp)) => {
                        assert_eq!(resp.header("retry-after"), Some("1"));
                        let v: Value = serde_json::from_str(&resp.into_string().unwrap()).unwrap();
                        assert_eq!(v["error"], "log-full", "{v}");
                        *refused.lock().unwrap() += 1;
                    }
                    Err(e) => panic!("unexpected answer: {e}"),
                }
            }
        }));
    }
    for w in workers {
        w.join().unwrap();
    }
    eprintln!(
        "{} decisions acknowledged, {} refused with 503",
        acked.lock().unwrap().len(),
        refused.lock().unwrap()
    );
    assert!(*refused.lock().unwrap() > 0, "the log never pushed back");
    let acked = acked.lock().unwrap().clone();
    let (_, log) = get_admin(&agent(), &s.url("/api/v1/decisions?limit=10000"));
    let stored: std::collections::HashSet<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        stored.len(),
        acked.len(),
        "exactly the acknowledged decisions are recorded"
    );
    assert!(acked.iter().all(|id| stored.contains(id.as_str())));
}
