//! The policy family end to end: every document under
//! `tests/fixtures/family/` (one per pattern of the published format:
//! nested criteria, stacked headings, NOT MEDICALLY NECESSARY, catch-alls,
//! ICD-10 ranges, several code tables, archived policies, …) imports with
//! every line accounted for (`--strict`), validates, and decides every row
//! of its `.expected.toml` through the real binary.
//!
//! The expected tables were written from the documents and the decision
//! rules (ARCHITECTURE.md, "Decision rules"), not from the engine's output.

mod common;

use std::path::{Path, PathBuf};

use common::{repo_root, run};
use serde_json::Value;

fn family_dir() -> PathBuf {
    repo_root().join("tests/fixtures/family")
}

fn documents() -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(family_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    docs.sort();
    docs
}

fn expected_for(doc: &Path) -> toml::Table {
    let path = doc.with_extension("expected.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.parse()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn strs(v: Option<&toml::Value>) -> Vec<String> {
    v.and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn leaves(criteria: &Value) -> usize {
    criteria
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| match c.get("criteria") {
                    Some(sub) if sub.as_array().is_some_and(|s| !s.is_empty()) => leaves(sub),
                    _ => 1,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Checks one case; returns what differs.
fn check_case(policies: &str, doc: &str, case: &toml::Table) -> Vec<String> {
    let get = |k: &str| case.get(k).and_then(|v| v.as_str()).unwrap_or("");
    let name = get("name");
    let mut args = vec![
        "check".to_string(),
        "--json".into(),
        "--policies".into(),
        policies.into(),
        "--code".into(),
        get("code").into(),
        "--product".into(),
        get("product").into(),
        "--setting".into(),
        get("setting").into(),
        "--date".into(),
        get("date").into(),
    ];
    for d in strs(case.get("diagnoses")) {
        args.extend(["--diagnosis".into(), d]);
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run(&refs);
    if r.code != 0 {
        return vec![format!("{doc} / {name}: exit {}: {}", r.code, r.stderr)];
    }
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let line = &v["lines"][0];
    let mut out = Vec::new();
    let mut differ = |what: &str, want: String, got: String| {
        if want != got {
            out.push(format!(
                "{doc} / {name}: {what}: expected {want}, got {got}"
            ));
        }
    };
    differ(
        "coverage",
        get("coverage").into(),
        line["coverage"].as_str().unwrap_or("").into(),
    );
    differ(
        "prior_auth",
        get("prior_auth").into(),
        line["prior_auth"].as_str().unwrap_or("").into(),
    );
    let mut want_reasons = strs(case.get("reasons"));
    want_reasons.sort();
    let mut got_reasons: Vec<String> = line["reasons"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    got_reasons.sort();
    differ(
        "reasons",
        format!("{want_reasons:?}"),
        format!("{got_reasons:?}"),
    );
    if let Some(n) = case.get("criteria").and_then(|v| v.as_integer()) {
        let got: usize = line["criteria"]
            .as_array()
            .map(|sets| sets.iter().map(|s| leaves(&s["criteria"])).sum())
            .unwrap_or(0);
        differ("leaf criteria", n.to_string(), got.to_string());
    }
    for want in strs(case.get("cites")) {
        let cited = line["citations"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["text"].as_str().is_some_and(|t| t.contains(&want)))
        });
        if !cited {
            out.push(format!("{doc} / {name}: no citation contains {want:?}"));
        }
    }
    // Every answer but no-policy cites at least one statement of the policy.
    let cites = line["citations"].as_array().map_or(0, Vec::len);
    if line["coverage"] != "no-policy" && cites == 0 {
        out.push(format!("{doc} / {name}: an answer without a citation"));
    }
    out
}

#[test]
fn every_family_document_imports_validates_and_decides_its_table() {
    let docs = documents();
    assert!(docs.len() >= 15, "{} documents", docs.len());
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().display().to_string();
    let mut args = vec!["import", "--out", &policies, "--strict"];
    let paths: Vec<String> = docs.iter().map(|d| d.display().to_string()).collect();
    args.extend(paths.iter().map(String::as_str));
    let r = run(&args);
    assert_eq!(r.code, 0, "import failed:\n{}{}", r.stdout, r.stderr);
    let v = run(&["validate", &policies]);
    assert_eq!(v.code, 0, "validate failed:\n{}{}", v.stdout, v.stderr);

    let mut problems = Vec::new();
    let mut cases = 0;
    for doc in &docs {
        let expected = expected_for(doc);
        let name = doc.file_name().unwrap().to_string_lossy().into_owned();
        let rows = expected
            .get("case")
            .and_then(|c| c.as_array())
            .unwrap_or_else(|| panic!("{name}: no [[case]]"));
        assert!(!rows.is_empty(), "{name}: no cases");
        for case in rows {
            cases += 1;
            problems.extend(check_case(&policies, &name, case.as_table().unwrap()));
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {cases} cases differ:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
