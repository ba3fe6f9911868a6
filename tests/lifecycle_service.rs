//! The policy team's checks through `medpol serve`: the diff endpoint, the
//! review calendar, a publication looked at first (`dry_run`: diff, lint,
//! impact on logged decisions, nothing published) and a publication refused
//! by a lint error.

mod common;
#[path = "common/server.rs"]
mod server;

use serde_json::{json, Value};
use server::*;

fn publish(a: &ureq::Agent, s: &Server, body: &Value, query: &str) -> (u16, Value) {
    respond(
        a.post(&s.url(&format!("/api/v1/policies{query}")))
            .set("authorization", &format!("Bearer {TOKEN}"))
            .set("content-type", "application/json")
            .send_string(&body.to_string()),
    )
}

/// 183's commercial statement and code table made medically necessary when
/// criteria are met.
fn medically_necessary(policy: &Value) -> Value {
    let mut p = policy.clone();
    let s = &mut p["statement"][0];
    s["status"] = json!("medically-necessary");
    s.as_object_mut().unwrap().remove("indication");
    s["text"] = json!(
        "Prolotherapy is considered [MEDICALLY NECESSARY](#) when the criteria below are met."
    );
    s["criterion"] = json!([{"id": "1", "text": "Pain for at least 3 months."}]);
    p["code_list"][0]["status"] = json!("medically-necessary");
    p
}

#[test]
fn diff_reviews_dry_run_and_lint_through_the_service() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        &format!("sqlite://{}", dir.path().join("m.db").display()),
        &[],
    );
    let a = agent();

    // Two versions of 183 by date: references and review dates only.
    let (st, d) = get(
        &a,
        &s.url("/api/v1/policies/bcbsma/183/diff?from=2024-03-01&to=2025-03-01"),
    );
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["history"]["parts"], json!(["references", "review"]));
    assert_eq!(d["history"]["statements_unchanged"], true);
    assert_eq!(
        (
            d["from"]["version"]["label"].as_str(),
            d["to"]["version"]["label"].as_str()
        ),
        (Some("1/2024"), Some("1/2025"))
    );
    assert!(d["text"].is_null(), "one revision on both dates: {d}");
    let (st, e) = get(
        &a,
        &s.url("/api/v1/policies/bcbsma/183/diff?from=2009-01-01&to=2025-03-01"),
    );
    assert_eq!(
        (st, e["error"].as_str()),
        (404, Some("policy-not-found")),
        "{e}"
    );
    let (st, e) = get(
        &a,
        &s.url("/api/v1/policies/bcbsma/183/diff?from=2024-03-01"),
    );
    assert_eq!(st, 422, "{e}");

    // The review calendar.
    let (st, r) = get(&a, &s.url("/api/v1/reviews?today=2025-11-15&due_within=60"));
    assert_eq!(st, 200, "{r}");
    assert_eq!(r[0]["policy"], "bcbsma/183");
    assert_eq!(
        (r[0]["state"].as_str(), r[0]["days_left"].as_i64()),
        (Some("due-soon"), Some(47))
    );
    let (_, r) = get(&a, &s.url("/api/v1/reviews?today=2025-06-01&due_within=60"));
    assert_eq!(r, json!([]));
    assert_eq!(get(&a, &s.url("/api/v1/reviews?due_within=-1")).0, 422);

    // Decisions to replay: M0076 for a commercial and a Medicare member.
    for product in ["commercial-ppo", "medicare-hmo-blue"] {
        let (st, _) = post_json(
            &a,
            &s.url("/api/v1/determinations"),
            &request(product, "outpatient", "2025-06-01", "M0076"),
        );
        assert_eq!(st, 200);
    }
    let (_, current) = get(&a, &s.url("/api/v1/policies/bcbsma/183"));
    let proposed = medically_necessary(&current["policy"]);
    let (st, preview) = publish(&a, &s, &proposed, "?dry_run=true");
    assert_eq!(st, 200, "{preview}");
    assert_eq!(preview["dry_run"], true);
    assert_eq!(preview["refused"], false);
    assert_eq!(
        preview["diff"]["parts"],
        json!(["statements", "criteria", "codes"])
    );
    let impact = &preview["impact"]["impact"];
    assert_eq!(
        (impact["compared"].as_u64(), impact["changed"].as_u64()),
        (Some(2), Some(2)),
        "{preview}"
    );
    assert_eq!(impact["coverage"]["not-covered -> conditional"], 1);
    assert_eq!(impact["coverage"]["not-covered -> covered"], 1);
    assert_eq!(preview["impact"]["without_diagnoses"], 2);
    // Nothing was published.
    let (_, versions) = get(&a, &s.url("/api/v1/policies/bcbsma/183/versions"));
    assert_eq!(versions.as_array().unwrap().len(), 1, "{versions}");

    // The same impact on demand, for a window of the log (admin only).
    let impact_of = |token: &str, query: &str| {
        respond(
            a.post(&s.url(&format!("/api/v1/impact{query}")))
                .set("authorization", &format!("Bearer {token}"))
                .set("content-type", "application/json")
                .send_string(&proposed.to_string()),
        )
    };
    let (st, r) = impact_of(TOKEN, "?from=2000-01-01");
    assert_eq!(st, 200, "{r}");
    assert_eq!(
        (r["decisions"].as_u64(), r["impact"]["changed"].as_u64()),
        (Some(2), Some(2)),
        "{r}"
    );
    let (st, r) = impact_of(TOKEN, "?from=2000-01-01&to=2000-01-02");
    assert_eq!((st, r["decisions"].as_u64()), (200, Some(0)), "{r}");
    assert_eq!(impact_of("wrong", "").0, 401);
    assert_eq!(impact_of(TOKEN, "?from=yesterday").0, 422);

    // The command line replays the service's log against a proposed directory.
    let tmp = tempfile::tempdir().unwrap();
    let dir = common::catalogue_copy(tmp.path(), "proposed");
    common::make_medically_necessary(&dir);
    let r = common::run(&[
        "impact",
        "--proposed",
        dir.to_str().unwrap(),
        "--decisions",
        &s.url(""),
        "--token",
        TOKEN,
        "--from",
        "2000-01-01",
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        (
            v["impact"]["compared"].as_u64(),
            v["impact"]["changed"].as_u64()
        ),
        (Some(2), Some(2)),
        "{v}"
    );
    let r = common::run(&[
        "impact",
        "--proposed",
        dir.to_str().unwrap(),
        "--decisions",
        &s.url(""),
        "--token",
        "wrong",
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("401"), "{}", r.stderr);

    // A policy that contradicts 183 for Medicare Advantage: refused by lint,
    // and said so by a dry run.
    let mut other = current["policy"].clone();
    other["number"] = json!("999");
    other["title"] = json!("Injections");
    other["statement"][0]["products"] = json!(["medicare-advantage"]);
    other["statement"][0]["status"] = json!("medically-necessary");
    other["statement"][0]
        .as_object_mut()
        .unwrap()
        .remove("indication");
    other["code_list"][0]["products"] = json!(["medicare-advantage"]);
    other["code_list"][0]["status"] = json!("medically-necessary");
    let (st, preview) = publish(&a, &s, &other, "?dry_run=true");
    assert_eq!(st, 200, "{preview}");
    assert_eq!(preview["refused"], true);
    assert!(preview["diff"].is_null(), "a new policy: {preview}");
    let (st, e) = publish(&a, &s, &other, "");
    assert_eq!((st, e["error"].as_str()), (422, Some("lint-failed")), "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("conflicting-status"),
        "{e}"
    );
    assert_eq!(get(&a, &s.url("/api/v1/policies/bcbsma/999")).0, 404);

    // The proposal itself publishes, with its warnings.
    let (st, p) = publish(&a, &s, &proposed, "?in_force_from=2026-01-01");
    assert_eq!(st, 201, "{p}");
    assert!(
        p["lint"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["level"] == "warning"),
        "{p}"
    );
    // Now two revisions: the diff across them compares the texts.
    let (st, d) = get(
        &a,
        &s.url("/api/v1/policies/bcbsma/183/diff?from=2025-06-01&to=2026-06-01"),
    );
    assert_eq!(st, 200, "{d}");
    assert_eq!(
        (d["from"]["revision"].as_i64(), d["to"]["revision"].as_i64()),
        (Some(1), Some(2))
    );
    assert_eq!(
        d["text"]["parts"],
        json!(["statements", "criteria", "codes"]),
        "{d}"
    );
    // The web page of the new revision shows what changed, word by word.
    let page = a
        .get(&s.url("/policies/bcbsma/183?date=2026-06-01"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(
        page.contains("Changes from revision 1 to revision 2"),
        "{page}"
    );
    assert!(page.contains("<del>[INVESTIGATIONAL](#)</del>"), "{page}");
    assert!(
        page.contains("<strong>codes moved</strong> HCPCS M0076: <del>investigational</del> <ins>medically-necessary</ins>"),
        "{page}"
    );
}

/// A catalogue that already holds a conflict (policy files are loaded, not
/// linted): a publication that fixes it from a later date, or one that has
/// nothing to do with it, is not refused for it.
#[test]
fn a_publication_is_refused_only_for_conflicts_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let policies = common::catalogue_copy(dir.path(), "policies");
    let conflicting = common::conflicting_999(
        &std::fs::read_to_string(policies.join("bcbsma/183-prolotherapy.toml")).unwrap(),
    );
    std::fs::write(policies.join("bcbsma/999-injections.toml"), conflicting).unwrap();
    let s = Server::start(
        &format!("sqlite://{}", dir.path().join("m.db").display()),
        &["--policies", policies.to_str().unwrap()],
    );
    let a = agent();
    let (_, current) = get(&a, &s.url("/api/v1/policies/bcbsma/999"));
    // 999 made to agree with 183, from 2027 on: the old 999 still conflicts
    // until then, which is not this revision's doing.
    let mut fixed = current["policy"].clone();
    fixed["statement"][0]["status"] = json!("investigational");
    fixed["code_list"][0]["status"] = json!("investigational");
    let (st, p) = publish(&a, &s, &fixed, "?in_force_from=2027-01-01");
    assert_eq!(st, 201, "{p}");
    assert!(
        p["lint"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["rule"] != "conflicting-status"),
        "{p}"
    );
    // The conflicting version itself, republished as is: refused.
    let (st, e) = publish(&a, &s, &current["policy"], "");
    assert_eq!((st, e["error"].as_str()), (422, Some("lint-failed")), "{e}");
}

/// The published list of what needs prior authorization, from the policies.
#[test]
fn the_prior_auth_requirements_come_from_the_policies() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        &format!("sqlite://{}", dir.path().join("m.db").display()),
        &[],
    );
    let a = agent();
    let (st, list) = get(
        &a,
        &s.url("/api/v1/prior-auth/requirements?date=2025-06-01"),
    );
    assert_eq!(st, 200, "{list}");
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(
        (list[0]["system"].as_str(), list[0]["code"].as_str()),
        (Some("hcpcs"), Some("M0076"))
    );
    assert_eq!(list[0]["policies"], json!(["bcbsma/183 1/2025"]));
    // Inpatient, for every product (183: "IS REQUIRED for all products if ... inpatient").
    let places = list[0]["where"].as_array().unwrap();
    assert_eq!(places.len(), 6, "{places:?}");
    assert!(
        places
            .iter()
            .all(|w| w["setting"] == "inpatient" && w["prior_auth"] == "auth-needed"),
        "{places:?}"
    );
    let (_, none) = get(
        &a,
        &s.url("/api/v1/prior-auth/requirements?date=2009-01-01"),
    );
    assert_eq!(none, json!([]));
    assert_eq!(
        get(&a, &s.url("/api/v1/prior-auth/requirements?payer=nobody")).0,
        422
    );
    assert_eq!(
        get(&a, &s.url("/api/v1/prior-auth/requirements?date=soon")).0,
        422
    );
}
