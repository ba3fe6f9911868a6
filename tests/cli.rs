//! The `medpol` command line end to end: errors and exit codes, `validate`,
//! `show`, `codes`, `synth`, and `--help` everywhere.

mod common;

use common::{repo_root, run};

const OK_ARGS: [&str; 8] = [
    "--code",
    "M0076",
    "--product",
    "commercial-ppo",
    "--setting",
    "outpatient",
    "--date",
    "2025-06-01",
];

fn check_with(replace: (&str, &str)) -> common::Run {
    let mut args: Vec<&str> = vec!["check"];
    let mut it = OK_ARGS.iter();
    while let (Some(flag), Some(value)) = (it.next(), it.next()) {
        args.push(flag);
        args.push(if *flag == replace.0 { replace.1 } else { value });
    }
    run(&args)
}

fn assert_bad_input(r: &common::Run, needles: &[&str]) {
    assert_eq!(r.code, 2, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert!(r.stdout.is_empty(), "nothing on stdout: {}", r.stdout);
    assert_eq!(r.stderr.trim().lines().count(), 1, "one line: {}", r.stderr);
    for n in needles {
        assert!(r.stderr.contains(n), "missing {n:?} in {}", r.stderr);
    }
}

#[test]
fn the_text_answer_reads_as_a_determination() {
    let r = check_with(("", ""));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains(
            "HCPCS M0076: not-covered (investigational); prior authorization: not-applicable"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(
            "bcbsma medical policy 183 \"Prolotherapy\", version 1/2025 (effective 2025-01-01)"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("\"This is not a covered service.\""),
        "{}",
        r.stdout
    );
}

#[test]
fn unknown_product_lists_the_valid_ones() {
    let r = check_with(("--product", "gold-plan"));
    assert_bad_input(
        &r,
        &[
            "unknown product `gold-plan`",
            "commercial-ppo",
            "medicare-hmo-blue",
        ],
    );
}

#[test]
fn malformed_code_says_what_shapes_are_valid() {
    let r = check_with(("--code", "M007"));
    assert_bad_input(&r, &["`M007`", "HCPCS", "CPT"]);
    let r = run(&[
        "check",
        "--system",
        "hcpcs",
        "--code",
        "99213",
        "--product",
        "commercial-ppo",
        "--setting",
        "outpatient",
        "--date",
        "2025-06-01",
    ]);
    assert_bad_input(
        &r,
        &["not a valid HCPCS code", "letter A–V followed by 4 digits"],
    );
    let r = run(&[
        "check",
        "--system",
        "snomed",
        "--code",
        "99213",
        "--product",
        "commercial-ppo",
        "--setting",
        "outpatient",
        "--date",
        "2025-06-01",
    ]);
    assert_bad_input(&r, &["unknown code system `snomed`", "hcpcs, cpt"]);
    let r = run(&[
        "check",
        "--system",
        "icd10cm",
        "--code",
        "M54.50",
        "--product",
        "commercial-ppo",
        "--setting",
        "outpatient",
        "--date",
        "2025-06-01",
    ]);
    assert_bad_input(&r, &["--diagnosis"]);
}

#[test]
fn bad_dates_settings_modifiers_and_diagnoses() {
    assert_bad_input(
        &check_with(("--date", "2025-02-30")),
        &["--date", "YYYY-MM-DD"],
    );
    assert_bad_input(&check_with(("--date", "06/01/2025")), &["YYYY-MM-DD"]);
    assert_bad_input(
        &check_with(("--setting", "home")),
        &["--setting", "inpatient, outpatient", "place-of-service"],
    );
    assert_bad_input(&check_with(("--setting", "30")), &["place-of-service"]);
    assert_bad_input(
        &check_with(("--code", "M0076:RTX")),
        &["modifier", "2 letters or digits"],
    );
    let mut args: Vec<&str> = vec!["check"];
    args.extend_from_slice(&OK_ARGS);
    args.extend_from_slice(&["--diagnosis", "M54."]);
    assert_bad_input(&run(&args), &["--diagnosis", "ICD-10-CM"]);
}

#[test]
fn missing_arguments_are_a_usage_error() {
    let r = run(&["check", "--code", "M0076"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--product"), "{}", r.stderr);
}

#[test]
fn diagnoses_are_accepted_and_the_answer_unchanged_for_183() {
    let mut args: Vec<&str> = vec!["check", "--json"];
    args.extend_from_slice(&OK_ARGS);
    args.extend_from_slice(&["--diagnosis", "M54.50", "--diagnosis", "m7910"]);
    let r = run(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["lines"][0]["coverage"], "not-covered");
}

#[test]
fn help_on_every_command() {
    for args in [
        vec!["--help"],
        vec!["check", "--help"],
        vec!["validate", "--help"],
        vec!["show", "--help"],
        vec!["codes", "--help"],
        vec!["synth", "--help"],
        vec!["synth", "policies", "--help"],
    ] {
        let r = run(&args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        assert!(r.stdout.contains("Usage: medpol"), "{args:?}: {}", r.stdout);
    }
}

#[test]
fn validate_the_bundled_policies() {
    let r = run(&["validate"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("1 payer, 1 policy"), "{}", r.stdout);
    // The related policy 320 is not bundled: a warning with file and line.
    assert!(
        r.stdout.contains("policies/bcbsma/183-prolotherapy.toml:"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("warning: related_policy[0].number: related policy 320"),
        "{}",
        r.stdout
    );
    let r = run(&["validate", repo_root().join("policies").to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn validate_a_broken_directory_names_file_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let payer_dir = dir.path().join("bcbsma");
    std::fs::create_dir_all(&payer_dir).unwrap();
    std::fs::copy(
        repo_root().join("policies/bcbsma/payer.toml"),
        payer_dir.join("payer.toml"),
    )
    .unwrap();
    let text =
        std::fs::read_to_string(repo_root().join("policies/bcbsma/183-prolotherapy.toml")).unwrap();
    let broken = text
        .replacen(
            "products = [\"commercial\"]",
            "products = [\"commercial-gold\"]",
            1,
        )
        .replacen("code = \"M0076\"", "code = \"M76\"", 1);
    std::fs::write(payer_dir.join("183-prolotherapy.toml"), &broken).unwrap();
    let r = run(&["validate", dir.path().to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    let line_of = |needle: &str| broken.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let file = payer_dir.join("183-prolotherapy.toml");
    assert!(
        r.stderr.contains(&format!(
            "{}:{}: error: statement[0].products[0]: unknown product `commercial-gold`",
            file.display(),
            line_of("commercial-gold")
        )),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&format!(
            "{}:{}: error: code_list[0].codes[0].code: `M76` is not a valid HCPCS code",
            file.display(),
            line_of("M76")
        )),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.starts_with("error: 2 errors in the policy files"),
        "{}",
        r.stderr
    );
    // A check against broken policies refuses to answer.
    let mut args = vec!["check", "--policies", dir.path().to_str().unwrap()];
    args.extend_from_slice(&OK_ARGS);
    assert_eq!(run(&args).code, 2);
}

#[test]
fn show_prints_every_part_of_the_policy() {
    let r = run(&["show", "183"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = &r.stdout;
    for needle in [
        "Medical Policy 183: Prolotherapy",
        "BCBSA Reference Number: 2.01.26 (For Plans internal use only)",
        "Diagnosis and Treatment of Sacroiliac Joint Pain, #320",
        "Commercial Members: Managed Care (HMO and POS), PPO, and Indemnity",
        "Prolotherapy is considered INVESTIGATIONAL as a treatment of musculoskeletal pain.",
        "precertification/preauthorization IS REQUIRED",
        "Commercial Managed Care (HMO and POS): This is not a covered service.",
        "M0076    Prolotherapy",
        "Inclusion or exclusion of a code does not constitute",
        "Description",
        "A similar approach involves the injection of autologous platelet-rich plasma",
        "Summary",
        "See medical policy 132 Medicare Advantage Management",
        "National Coverage Determination 150.7",
        "Clinical Exception Process",
        "Policy History",
        "11/2011-4/2012",
        "Medical Policy Group – Orthopedics",
        "1. Dagenais S, Yelland MJ, Del Mar C, et al. Prolotherapy injections for chronic low-back pain.",
        "12. Arias-Vázquez PI",
        "40. Centers for Medicare and Medicaid Services.",
        "Version: 1/2025 (effective 2025-01-01); policy effective 2010-05-01",
    ] {
        assert!(out.contains(needle), "missing {needle:?}");
    }
}

#[test]
fn show_as_of_a_date_and_as_json() {
    let r = run(&["show", "183", "--date", "2015-06-01", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["version"]["label"], "12/2013");
    assert_eq!(v["version"]["effective"], "2013-12-01");
    assert_eq!(v["policy"]["reference"].as_array().unwrap().len(), 40);
    assert_eq!(v["policy"]["history"].as_array().unwrap().len(), 17);
    assert_eq!(v["versions"].as_array().unwrap().len(), 13);
    let r = run(&["show", "183", "--date", "2009-12-31"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("not in effect on 2009-12-31: it applies from 2010-05-01"),
        "{}",
        r.stderr
    );
    let r = run(&["show", "999"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("known policies include: bcbsma 183"),
        "{}",
        r.stderr
    );
}

#[test]
fn codes_lists_the_governing_policies() {
    let r = run(&["codes", "M0076"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("bcbsma 183 \"Prolotherapy\""),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("medicare-ppo-blue"), "{}", r.stdout);
    let r = run(&["codes", "99213", "--json"]);
    assert_eq!(r.code, 0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["policies"], serde_json::json!([]));
    let r = run(&["codes", "ABC"]);
    assert_eq!(r.code, 2);
}

#[test]
fn synthetic_policies_validate_and_decide() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("synth");
    let r = run(&[
        "synth",
        "policies",
        "--count",
        "40",
        "--out",
        out.to_str().unwrap(),
        "--seed",
        "7",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("40 policies"), "{}", r.stdout);
    let r = run(&["validate", out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("40 policies"), "{}", r.stdout);
    // The same seed writes the same files.
    let again = dir.path().join("again");
    assert_eq!(
        run(&[
            "synth",
            "policies",
            "--count",
            "40",
            "--out",
            again.to_str().unwrap(),
            "--seed",
            "7"
        ])
        .code,
        0
    );
    for entry in common::files_under(&out) {
        let entry = std::path::PathBuf::from(entry);
        let rel = entry.strip_prefix(&out).unwrap();
        assert_eq!(
            std::fs::read(&entry).unwrap(),
            std::fs::read(again.join(rel)).unwrap(),
            "{rel:?}"
        );
    }
    // A non-empty output directory is refused, and left as it was.
    let r = run(&[
        "synth",
        "policies",
        "--count",
        "5",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not empty"), "{}", r.stderr);
    assert_eq!(run(&["validate", out.to_str().unwrap()]).code, 0);
}
