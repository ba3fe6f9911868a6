//! The behaviour policy 183 must have, end to end through the binary: every
//! row of the core issue's table.

mod common;

use common::check_json;
use serde_json::Value;

const COMMERCIAL: [&str; 4] = [
    "commercial-hmo",
    "commercial-pos",
    "commercial-ppo",
    "commercial-indemnity",
];
const MEDICARE: [&str; 2] = ["medicare-hmo-blue", "medicare-ppo-blue"];
const STATEMENT: &str =
    "Prolotherapy is considered INVESTIGATIONAL as a treatment of musculoskeletal pain.";
const INPATIENT: &str = "For services described in this policy, precertification/preauthorization IS REQUIRED for all products if the procedure is performed inpatient.";

fn only_line(v: &Value) -> &Value {
    let lines = v["lines"].as_array().expect("lines");
    assert_eq!(lines.len(), 1);
    &lines[0]
}

fn citation_texts(line: &Value) -> Vec<&str> {
    line["citations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["text"].as_str().unwrap())
        .collect()
}

fn assert_policy_183(line: &Value, version: &str, effective: &str) {
    let policies = line["policies"].as_array().unwrap();
    assert_eq!(policies.len(), 1, "{line:#}");
    let p = &policies[0];
    assert_eq!(p["payer"], "bcbsma");
    assert_eq!(p["number"], "183");
    assert_eq!(p["title"], "Prolotherapy");
    assert_eq!(p["version"], version);
    assert_eq!(p["effective"], effective);
    for c in line["citations"].as_array().unwrap() {
        assert_eq!(c["policy"], "bcbsma/183");
        assert!(c["section"].is_string());
    }
}

fn check(product: &str, setting: &str, date: &str, code: &str) -> Value {
    check_json(&[
        "--code",
        code,
        "--product",
        product,
        "--setting",
        setting,
        "--date",
        date,
    ])
}

#[test]
fn commercial_outpatient_is_investigational_and_not_a_covered_service() {
    for product in COMMERCIAL {
        let v = check(product, "outpatient", "2025-06-01", "M0076");
        let line = only_line(&v);
        assert_eq!(line["code"]["system"], "hcpcs");
        assert_eq!(line["code"]["code"], "M0076");
        assert_eq!(line["coverage"], "not-covered", "{product}");
        assert_eq!(line["reasons"], serde_json::json!(["investigational"]));
        assert_eq!(line["prior_auth"], "not-applicable", "{product}");
        assert_policy_183(line, "1/2025", "2025-01-01");
        let cites = citation_texts(line);
        assert!(cites.contains(&STATEMENT), "{product}: {cites:?}");
        assert!(
            cites.contains(&"This is not a covered service."),
            "{product}: {cites:?}"
        );
        let kinds: Vec<&str> = line["notes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["kind"].as_str().unwrap())
            .collect();
        assert!(kinds.contains(&"contract-benefits"), "{kinds:?}");
        assert!(kinds.contains(&"clinical-exception"), "{kinds:?}");
        assert!(!kinds.contains(&"medicare"), "{kinds:?}");
    }
}

#[test]
fn the_outpatient_row_cited_is_the_products_own() {
    let hmo = check("commercial-hmo", "outpatient", "2025-06-01", "M0076");
    let ppo = check("commercial-ppo", "outpatient", "2025-06-01", "M0076");
    let heading = |v: &Value| -> Vec<String> {
        only_line(v)["citations"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["heading"].as_str().map(str::to_string))
            .collect()
    };
    assert!(heading(&hmo)
        .iter()
        .any(|h| h.contains("Commercial Managed Care (HMO and POS)")));
    assert!(heading(&ppo)
        .iter()
        .any(|h| h.contains("Commercial PPO and Indemnity")));
}

#[test]
fn commercial_inpatient_needs_precertification() {
    for product in COMMERCIAL {
        let v = check(product, "inpatient", "2025-06-01", "M0076");
        let line = only_line(&v);
        assert_eq!(line["coverage"], "not-covered", "{product}");
        assert_eq!(line["reasons"], serde_json::json!(["investigational"]));
        assert_eq!(line["prior_auth"], "auth-needed", "{product}");
        assert_policy_183(line, "1/2025", "2025-01-01");
        let cites = citation_texts(line);
        assert!(cites.contains(&STATEMENT), "{cites:?}");
        assert!(cites.contains(&INPATIENT), "{cites:?}");
    }
}

#[test]
fn a_place_of_service_code_maps_to_the_setting() {
    let v = check("commercial-ppo", "21", "2025-06-01", "M0076");
    assert_eq!(only_line(&v)["prior_auth"], "auth-needed");
    assert_eq!(v["setting"], "inpatient");
    let v = check("commercial-ppo", "11", "2025-06-01", "M0076");
    assert_eq!(only_line(&v)["prior_auth"], "not-applicable");
}

#[test]
fn medicare_advantage_outpatient_cites_the_coding_statement_and_points_to_mp_132() {
    for product in MEDICARE {
        let v = check(product, "outpatient", "2025-06-01", "M0076");
        let line = only_line(&v);
        assert_eq!(line["coverage"], "not-covered", "{product}");
        assert_eq!(line["reasons"], serde_json::json!(["investigational"]));
        assert_eq!(line["prior_auth"], "not-applicable", "{product}");
        assert_policy_183(line, "1/2025", "2025-01-01");
        let cites = citation_texts(line);
        assert!(
            cites.iter().any(|c| c
                .starts_with("The following CPT code is considered investigational")
                && c.contains("Medicare HMO Blue and Medicare PPO Blue")),
            "{cites:?}"
        );
        // The commercial statement does not speak for Medicare members.
        assert!(!cites.contains(&STATEMENT), "{cites:?}");
        let medicare = line["notes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["kind"] == "medicare")
            .unwrap_or_else(|| panic!("no medicare note: {line:#}"));
        assert!(medicare["text"].as_str().unwrap().contains("See MP #132"));
        assert_eq!(medicare["see_policy"]["number"], "132");
        assert_eq!(medicare["see_ncd"], "150.7");
    }
}

#[test]
fn an_ungoverned_code_is_no_policy_and_claims_nothing() {
    for product in COMMERCIAL.iter().chain(MEDICARE.iter()) {
        for setting in ["inpatient", "outpatient"] {
            let v = check(product, setting, "2025-06-01", "99213");
            let line = only_line(&v);
            assert_eq!(line["code"]["system"], "cpt");
            assert_eq!(line["coverage"], "no-policy");
            assert_eq!(line["reasons"], serde_json::json!([]));
            assert_eq!(line["prior_auth"], "not-applicable");
            assert_eq!(line["policies"], serde_json::json!([]));
            assert_eq!(line["citations"], serde_json::json!([]));
        }
    }
}

#[test]
fn before_the_policy_took_effect_there_is_no_policy() {
    let v = check("commercial-ppo", "outpatient", "2009-12-31", "M0076");
    let line = only_line(&v);
    assert_eq!(line["coverage"], "no-policy");
    assert_eq!(line["policies"], serde_json::json!([]));
    // The first day it applies:
    let v = check("commercial-ppo", "outpatient", "2010-05-01", "M0076");
    assert_eq!(only_line(&v)["coverage"], "not-covered");
    assert_policy_183(only_line(&v), "5/1/2010", "2010-05-01");
}

#[test]
fn the_version_in_effect_on_the_date_of_service_is_cited() {
    let v = check("commercial-ppo", "outpatient", "2015-06-01", "M0076");
    let line = only_line(&v);
    assert_eq!(line["coverage"], "not-covered");
    assert_eq!(line["reasons"], serde_json::json!(["investigational"]));
    assert_eq!(line["prior_auth"], "not-applicable");
    assert_policy_183(line, "12/2013", "2013-12-01");
    for c in line["citations"].as_array().unwrap() {
        assert_eq!(c["version"], "12/2013");
    }
}

#[test]
fn several_codes_give_one_line_each_in_order() {
    let v = check_json(&[
        "--code",
        "99213",
        "--code",
        "m0076:rt",
        "--product",
        "commercial-ppo",
        "--setting",
        "outpatient",
        "--date",
        "2025-06-01",
    ]);
    let lines = v["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["coverage"], "no-policy");
    assert_eq!(lines[1]["code"]["code"], "M0076");
    assert_eq!(lines[1]["modifiers"], serde_json::json!(["RT"]));
    assert_eq!(lines[1]["coverage"], "not-covered");
}

#[test]
fn the_same_request_gives_the_same_answer() {
    let args = [
        "--code",
        "M0076",
        "--product",
        "medicare-ppo-blue",
        "--setting",
        "inpatient",
        "--date",
        "2020-02-02",
    ];
    assert_eq!(check_json(&args), check_json(&args));
}
