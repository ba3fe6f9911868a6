//! `medpol screen` over X12 837 files, end to end through the binary: this
//! project's own 837P and 837I fixtures (BCBSMA claims, every mapping rule),
//! synthetic 837s against the same claims as CSV (the decisions must agree),
//! and every file of ../shared/x12-examples (where it is present).

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{repo_root, run};
use serde_json::Value;

fn fixture(name: &str) -> String {
    repo_root()
        .join("tests/fixtures/x12")
        .join(name)
        .display()
        .to_string()
}

fn rows(ndjson: &str) -> Vec<Value> {
    ndjson
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn screen_ndjson(args: &[&str]) -> (common::Run, Vec<Value>) {
    let mut all = vec!["screen", "--format", "ndjson"];
    all.extend_from_slice(args);
    let r = run(&all);
    let rows = rows(&r.stdout);
    (r, rows)
}

/// (claim id, line, coverage, prior auth) of each row.
fn outcomes(rows: &[Value]) -> Vec<(String, u64, &str, &str)> {
    rows.iter()
        .map(|v| {
            let (c, l) = key(v);
            (
                c,
                l,
                v["coverage"].as_str().unwrap(),
                v["prior_auth"].as_str().unwrap(),
            )
        })
        .collect()
}

fn key(v: &Value) -> (String, u64) {
    (
        v["claim_id"].as_str().unwrap().to_string(),
        v["line"].as_u64().unwrap(),
    )
}

#[test]
fn professional_claims_map_products_settings_and_auth_numbers() {
    let (r, rows) = screen_ndjson(&[&fixture("bcbsma-837p.x12")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let got = outcomes(&rows);
    assert_eq!(
        got,
        vec![
            ("PPO-1".into(), 1, "not-covered", "not-applicable"),
            ("PPO-1".into(), 2, "no-policy", "not-applicable"),
            // SV105 = 21 overrides the claim's office: inpatient needs precertification.
            ("HMO-1".into(), 1, "not-covered", "auth-needed"),
            ("MA-1".into(), 1, "not-covered", "not-applicable"),
            ("MA-1".into(), 2, "no-policy", "not-applicable"),
        ]
    );
    assert_eq!(rows[2]["claim_has_auth_number"], true);
    assert_eq!(rows[0]["claim_has_auth_number"], false);
    // The segment where each line starts (LX), counted from ISA = 1.
    for v in &rows {
        assert!(v["segment"].as_u64().unwrap() > 10, "{v}");
    }
    assert_eq!(rows[0]["reasons"], serde_json::json!(["investigational"]));
    // The claim for another payer is reported, not guessed.
    assert!(
        r.stderr.contains("claim OTHER-1") && r.stderr.contains("maps to no product"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("ANOTHER HEALTH PLAN"), "{}", r.stderr);
    assert!(r.stderr.contains("x12: 4 claims read"), "{}", r.stderr);
}

#[test]
fn institutional_claims_take_the_setting_from_the_bill_type() {
    let (r, rows) = screen_ndjson(&[&fixture("bcbsma-837i.x12")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let got = outcomes(&rows);
    assert_eq!(
        got,
        vec![
            // Bill type 11x: inpatient; the date from the statement dates.
            ("INP-1".into(), 1, "not-covered", "auth-needed"),
            ("OUT-1".into(), 2, "no-policy", "not-applicable"),
        ]
    );
    // The revenue-code-only line is reported, with its segment.
    assert!(
        r.stderr.contains("claim OUT-1 line 1") && r.stderr.contains("revenue code (0250)"),
        "{}",
        r.stderr
    );
}

#[test]
fn csv_output_adds_segment_and_auth_columns_and_stdin_is_recognised() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_medpol"))
        .args(["screen", "-", "--only-flagged"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let text = std::fs::read(fixture("bcbsma-837p.x12")).unwrap();
    child.stdin.take().unwrap().write_all(&text).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8(o.stdout).unwrap();
    let mut lines = out.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .ends_with(",citation,segment,claim_has_auth_number"),
        "{out}"
    );
    let hmo = out.lines().find(|l| l.starts_with("HMO-1,")).unwrap();
    assert!(hmo.ends_with(",true"), "{hmo}");
}

#[test]
fn product_flags_are_for_x12_only_and_a_forced_product_applies_to_every_claim() {
    let (r, rows) = screen_ndjson(&[&fixture("bcbsma-837p.x12"), "--product", "commercial-hmo"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(rows.len(), 6, "{}", r.stdout);
    let r = run(&[
        "screen",
        "--product",
        "commercial-hmo",
        &fixture("../documents/183-prolotherapy.txt"),
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("X12 837 input only"), "{}", r.stderr);
    let r = run(&["screen", "--product", "gold", &fixture("bcbsma-837p.x12")]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--product"), "{}", r.stderr);
}

/// The same synthetic claims as CSV and as 837s decide the same, line by line.
#[test]
fn synthetic_837s_decide_like_the_same_claims_as_csv() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("claims.csv").display().to_string();
    let x12 = dir.path().join("claims.x12").display().to_string();
    for (format, out) in [("csv", &csv), ("x12", &x12)] {
        let r = run(&[
            "synth", "claims", "--lines", "3000", "--seed", "7", "--format", format, "--out", out,
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let map = format!("{x12}.product-map.toml");
    assert!(Path::new(&map).exists());
    let (a, from_csv) = screen_ndjson(&[&csv]);
    let (b, from_x12) = screen_ndjson(&[&x12, "--product-map", &map]);
    assert_eq!((a.code, b.code), (0, 0), "{}\n{}", a.stderr, b.stderr);
    assert_eq!(from_csv.len(), 3000);
    assert_eq!(from_x12.len(), 3000, "{}", b.stderr);
    for (c, x) in from_csv.iter().zip(&from_x12) {
        assert_eq!(key(c), key(x));
        for k in ["coverage", "prior_auth", "reasons", "policies"] {
            assert_eq!(c[k], x[k], "{k}: {c} vs {x}");
        }
    }
    assert!(b.stderr.contains("0 bad"), "{}", b.stderr);
}

/// Every external 837 is screened: every service line of a well-formed file
/// comes out (against its LX segments); a malformed one gives its problems
/// with segment numbers and still screens what it can.
#[test]
fn every_shared_x12_example_is_screened() {
    let Some(dir) = common::shared("x12-examples") else {
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e != "md"))
        .collect();
    files.sort();
    let malformed = |name: &str| {
        ["bad", "missing", "errors", "no_isa", "ambiguous", "exceeds"]
            .iter()
            .any(|m| name.contains(m))
    };
    let mut checked = 0;
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let path = f.display().to_string();
        let text = std::fs::read_to_string(&f).unwrap();
        let (r, rows) = screen_ndjson(&[
            &path,
            "--input-format",
            "x12",
            "--product",
            "commercial-ppo",
        ]);
        assert!(r.code == 0, "{name}: exit {}: {}", r.code, r.stderr);
        if malformed(&name) {
            assert!(
                r.stderr.contains("segment "),
                "{name}: no problem with a segment number:\n{}",
                r.stderr
            );
        } else {
            // Count LX segments with the file's own delimiters.
            let element = text.as_bytes()[3] as char;
            let terminator = text.trim_start().as_bytes()[105] as char;
            let lx = text
                .split(terminator)
                .filter(|s| s.trim_start().starts_with(&format!("LX{element}")))
                .count();
            let bad: u64 = r
                .stderr
                .lines()
                .find(|l| l.starts_with("screened"))
                .and_then(|l| l.split(" flagged, ").nth(1))
                .and_then(|l| l.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            assert_eq!(
                rows.len() as u64 + bad,
                lx as u64,
                "{name}: {} rows + {bad} bad lines, {lx} LX segments\n{}",
                rows.len(),
                r.stderr
            );
            // Real files are not always consistent (control counts, ICD-9
            // codes): those are reported, but no line is lost.
            assert!(
                r.stderr.contains("0 claims and 0 lines skipped"),
                "{name}:\n{}",
                r.stderr
            );
        }
        checked += 1;
    }
    assert!(checked >= 40, "{checked} files");
}
