//! `medpol screen` end to end: small files with every kind of bad line,
//! formats, stdin, the error file, --only-flagged, --max-errors, and that a
//! failed run leaves no output file behind.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::run;

const HEADER: &str = "claim_id,line,product,date_of_service,place_of_service,code,code_system,modifiers,diagnoses,units\n";

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn screens_a_file_and_reports_every_kind_of_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        &dir,
        "claims.csv",
        &format!(
            "{HEADER}A,1,commercial-ppo,2025-06-01,11,M0076,,,,1\n\
             A,2,commercial-ppo,2025-06-01,11,99213,,,,1\n\
             B,1,platinum,2025-06-01,11,M0076,,,,1\n\
             C,1,commercial-ppo,2025-06-01,11,M00,,,,1\n\
             D,1,commercial-ppo,06/01/2025,11,M0076,,,,1\n\
             E,1,commercial-ppo,2025-06-01\n\
             F,1,commercial-hmo,2025-06-01,21,M0076,,,,1\n"
        ),
    );
    let out = dir.path().join("decisions.csv");
    let errors = dir.path().join("errors.txt");
    let summary = dir.path().join("summary.json");
    let r = run(&[
        "screen",
        &input,
        "--out",
        out.to_str().unwrap(),
        "--errors",
        errors.to_str().unwrap(),
        "--summary-json",
        summary.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("screened 7 lines"), "{}", r.stderr);
    assert!(
        r.stderr.contains("3 decided, 2 flagged, 4 bad"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("flagged by policy: bcbsma/183 2"),
        "{}",
        r.stderr
    );
    let decisions = std::fs::read_to_string(&out).unwrap();
    let rows: Vec<&str> = decisions.lines().collect();
    assert_eq!(rows.len(), 4);
    assert!(rows[1].starts_with(
        "A,1,hcpcs,M0076,not-covered,investigational,not-applicable,true,bcbsma/183,1/2025,"
    ));
    assert!(rows[2].starts_with("A,2,cpt,99213,no-policy,,not-applicable,false,"));
    assert!(rows[3].starts_with("F,1,hcpcs,M0076,not-covered,investigational,auth-needed,true,"));
    let errs = std::fs::read_to_string(&errors).unwrap();
    let lines: Vec<&str> = errs.lines().collect();
    assert_eq!(lines.len(), 4, "{errs}");
    assert!(
        lines[0].starts_with("input line 4 (claim B line 1): product: unknown product `platinum`"),
        "{errs}"
    );
    assert!(
        lines[1].starts_with("input line 5 (claim C line 1): code:"),
        "{errs}"
    );
    assert!(
        lines[2].starts_with("input line 6 (claim D line 1): date_of_service:"),
        "{errs}"
    );
    assert!(
        lines[3].starts_with("input line 7: columns: expected 10 columns"),
        "{errs}"
    );
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(s["lines_read"], 7);
    assert_eq!(s["bad_lines"], 4);
    assert_eq!(s["flagged_by_reason"]["investigational"], 2);
}

#[test]
fn ndjson_from_stdin_to_stdout_only_flagged() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_medpol"))
        .args([
            "screen",
            "-",
            "--input-format",
            "ndjson",
            "--format",
            "ndjson",
            "--only-flagged",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            b"{\"claim_id\":\"X\",\"line\":1,\"product\":\"medicare-ppo-blue\",\"date_of_service\":\"2025-06-01\",\"setting\":\"outpatient\",\"code\":\"M0076\"}\n\
              {\"claim_id\":\"X\",\"line\":2,\"product\":\"medicare-ppo-blue\",\"date_of_service\":\"2025-06-01\",\"setting\":\"outpatient\",\"code\":\"99213\"}\n\
              {\"claim_id\":\"Y\",\"line\":1}\n",
        )
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let stdout = String::from_utf8(o.stdout).unwrap();
    let rows: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["claim_id"], "X");
    assert_eq!(rows[0]["coverage"], "not-covered");
    let stderr = String::from_utf8(o.stderr).unwrap();
    assert!(
        stderr.contains("input line 3: product: is missing"),
        "{stderr}"
    );
    assert!(stderr.contains("1 bad"), "{stderr}");
}

#[test]
fn max_errors_stops_with_exit_2_and_keeps_what_was_decided() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from(HEADER);
    for i in 0..50 {
        let product = if i % 5 == 4 { "nope" } else { "commercial-ppo" };
        text.push_str(&format!("C{i},1,{product},2025-06-01,11,M0076,,,,1\n"));
    }
    let input = write(&dir, "claims.csv", &text);
    let out = dir.path().join("out.csv");
    let r = run(&[
        "screen",
        &input,
        "--out",
        out.to_str().unwrap(),
        "--max-errors",
        "3",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("stopped after 3 bad lines"),
        "{}",
        r.stderr
    );
    let decisions = std::fs::read_to_string(&out).unwrap();
    // C0..C13 read; C4, C9, C14 bad: 12 decided, the last before the stop is C13.
    assert_eq!(decisions.lines().count(), 13);
    assert!(decisions.lines().last().unwrap().starts_with("C13,"));
}

#[test]
fn a_bad_header_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(&dir, "claims.csv", "id,code\n1,M0076\n");
    let out = dir.path().join("out.csv");
    let r = run(&["screen", &input, "--out", out.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("the header lacks claim_id, line, product, date_of_service"),
        "{}",
        r.stderr
    );
    assert!(!out.exists());
    // No temporary file is left either.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    let r = run(&["screen", "/nonexistent/claims.csv"]);
    assert_eq!(r.code, 2);
}

#[test]
fn synthetic_claims_screen_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let claims = dir.path().join("claims.csv");
    let r = run(&[
        "synth",
        "claims",
        "--lines",
        "2000",
        "--out",
        claims.to_str().unwrap(),
        "--seed",
        "3",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(&["screen", claims.to_str().unwrap(), "--threads", "2"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("screened 2000 lines"), "{}", r.stderr);
    assert!(r.stderr.contains("0 bad"), "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 2001);
}

/// A policy with criteria and indications (family document 500): the
/// screen says which lines rest on criteria and which depend on the
/// diagnosis, and a diagnosis outside the indication is not covered.
#[test]
fn criteria_and_indications_show_in_the_screen() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("p");
    let doc = common::repo_root().join("tests/fixtures/documents/500-hyaluronic-acid-knee.txt");
    let r = common::run(&[
        "import",
        "--out",
        policies.to_str().unwrap(),
        doc.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let claims = write(
        &dir,
        "claims.csv",
        "claim_id,line,product,date_of_service,setting,code,diagnoses\n\
         A,1,commercial-ppo,2025-06-01,outpatient,20610,M17.11\n\
         A,2,commercial-ppo,2025-06-01,outpatient,20610,\n\
         A,3,commercial-ppo,2025-06-01,outpatient,20610,M25.561\n",
    );
    let out = dir.path().join("out.ndjson");
    let r = common::run(&[
        "screen",
        &claims,
        "--policies",
        policies.to_str().unwrap(),
        "--format",
        "ndjson",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["coverage"], "conditional");
    assert_eq!(
        rows[0]["reasons"],
        serde_json::json!(["medical-necessity-criteria"])
    );
    assert_eq!(
        rows[0]["criteria"],
        serde_json::json!(["statement/commercial-medically-necessary"])
    );
    assert_eq!(
        rows[1]["reasons"],
        serde_json::json!(["depends-on-indication"])
    );
    let indications = rows[1]["indications"].as_array().unwrap();
    assert!(indications.iter().any(|i| i["diagnoses"]
        .as_array()
        .is_some_and(|d| d.contains(&serde_json::json!("M17.11")))));
    assert_eq!(rows[2]["coverage"], "not-covered");
}

/// `--out /dev/null` (or any path that is not a regular file) is written in
/// place: renaming a temporary file over it would replace the device.
#[cfg(unix)]
#[test]
fn out_to_a_device_writes_in_place() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let claims = write(
        &dir,
        "claims.csv",
        "claim_id,line,product,date_of_service,setting,code\nA,1,commercial-ppo,2025-06-01,outpatient,M0076\n",
    );
    let r = common::run(&[
        "screen",
        &claims,
        "--out",
        "/dev/null",
        "--errors",
        "/dev/null",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let t = std::fs::metadata("/dev/null").unwrap().file_type();
    assert!(t.is_char_device(), "/dev/null is no longer a device");
}
