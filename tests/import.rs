//! `medpol import` and `medpol render` end to end through the binary: the
//! seed imported into an empty directory decides every row of policy 183's
//! table exactly as the bundled policy does; documents of the family import;
//! malformed ones exit 2 naming the line and write nothing; renderings import
//! back.

mod common;

use std::path::Path;

use common::{files_under, rendered_183, repo_root, run, seed_document};

fn fixture(name: &str) -> String {
    repo_root()
        .join("tests/fixtures/documents")
        .join(name)
        .display()
        .to_string()
}

fn import_into(dir: &Path, files: &[&str], extra: &[&str]) -> common::Run {
    let out = dir.display().to_string();
    let mut args = vec!["import", "--out", &out];
    args.extend_from_slice(extra);
    args.extend_from_slice(files);
    run(&args)
}

/// Every request of tests/policy_183.rs, as `check` arguments.
fn rows_of_policy_183() -> Vec<Vec<&'static str>> {
    let products = [
        "commercial-hmo",
        "commercial-pos",
        "commercial-ppo",
        "commercial-indemnity",
        "medicare-hmo-blue",
        "medicare-ppo-blue",
    ];
    let mut rows = Vec::new();
    for product in products {
        for setting in ["inpatient", "outpatient", "21", "11"] {
            for date in [
                "2025-06-01",
                "2015-06-01",
                "2010-05-01",
                "2009-12-31",
                "2020-02-02",
            ] {
                for code in ["M0076", "99213"] {
                    rows.push(vec![
                        "--code",
                        code,
                        "--product",
                        product,
                        "--setting",
                        setting,
                        "--date",
                        date,
                    ]);
                }
            }
        }
    }
    rows.push(vec![
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
    rows
}

#[test]
fn the_rendered_183_decides_every_row_like_the_bundled_policy() {
    imported_183_decides_like_the_bundled_policy(&rendered_183());
}

#[test]
fn the_imported_seed_decides_every_row_like_the_bundled_policy() {
    if let Some(seed) = seed_document() {
        imported_183_decides_like_the_bundled_policy(&seed);
    }
}

fn imported_183_decides_like_the_bundled_policy(document: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let seed = document.display().to_string();
    let non_blank = std::fs::read_to_string(document)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count();
    let r = import_into(dir.path(), &[&seed], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let written = dir.path().join("bcbsma/183-prolotherapy.toml");
    assert_eq!(
        r.stdout.trim(),
        format!(
            "{seed}: policy bcbsma 183 -> {} ({non_blank} lines mapped, 0 unmapped)",
            written.display()
        )
    );
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    assert_eq!(
        files_under(dir.path()),
        [
            dir.path()
                .join("bcbsma/183-prolotherapy.toml")
                .display()
                .to_string(),
            dir.path().join("bcbsma/payer.toml").display().to_string(),
        ]
    );
    let policies = dir.path().display().to_string();
    let v = run(&["validate", &policies]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);

    for row in rows_of_policy_183() {
        let mut bundled = vec!["check", "--json"];
        bundled.extend(&row);
        let mut imported = bundled.clone();
        imported.extend(["--policies", policies.as_str()]);
        let (a, b) = (run(&bundled), run(&imported));
        assert_eq!(
            (a.code, b.code),
            (0, 0),
            "{row:?}: {} {}",
            a.stderr,
            b.stderr
        );
        let a: serde_json::Value = serde_json::from_str(&a.stdout).unwrap();
        let b: serde_json::Value = serde_json::from_str(&b.stdout).unwrap();
        assert_eq!(a, b, "{row:?}");
    }
}

#[test]
fn documents_of_the_family_import_and_decide() {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        fixture("183-reordered-crlf.txt"),
        fixture("500-hyaluronic-acid-knee.txt"),
        fixture("501-cosmetic-procedures.txt"),
    ];
    let refs: Vec<&str> = files.iter().map(String::as_str).collect();
    let r = import_into(dir.path(), &refs, &["--strict"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // One line per document, and an indented line per rule the importer applied.
    let summaries: Vec<&str> = r.stdout.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(summaries.len(), 3, "{}", r.stdout);
    assert!(
        r.stdout.contains("  rule: statement `medicare-advantage-covered`: indication bound to the diagnoses of table `icd10cm-medically-necessary`"),
        "{}",
        r.stdout
    );
    let policies = dir.path().display().to_string();
    let check_dx = |code: &str, product: &str, dx: &[&str]| {
        let mut args = vec![
            "check",
            "--json",
            "--policies",
            &policies,
            "--code",
            code,
            "--product",
            product,
            "--setting",
            "outpatient",
            "--date",
            "2025-06-01",
        ];
        for d in dx {
            args.extend(["--diagnosis", d]);
        }
        let r = run(&args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        let line = v["lines"][0].clone();
        (
            line["coverage"].as_str().unwrap().to_string(),
            line["prior_auth"].as_str().unwrap().to_string(),
        )
    };
    let check = |code: &str, product: &str| check_dx(code, product, &[]);
    assert_eq!(
        check("M0076", "commercial-ppo"),
        ("not-covered".into(), "not-applicable".into())
    );
    // Medicare covers it for knee osteoarthritis (the ICD-10 table): with
    // that diagnosis covered; without one it depends on the indication.
    assert_eq!(
        check_dx("J7321", "medicare-hmo-blue", &["M17.11"]),
        ("covered".into(), "no-auth".into())
    );
    assert_eq!(
        check("J7321", "medicare-hmo-blue"),
        ("conditional".into(), "no-auth".into())
    );
    assert_eq!(check("J7321", "commercial-hmo").1, "auth-needed");
    assert_eq!(check("15828", "commercial-ppo").0, "not-covered");
}

#[test]
fn malformed_documents_exit_2_name_the_line_and_write_nothing() {
    for (name, line_starts) in [
        ("no-policy-number.txt", "Medical Policy Prolotherapy"),
        ("no-policy-statement.txt", "Policy"),
        ("bad-code-row.txt", "M007\t"),
        ("bad-history-row.txt", "13/2019\t"),
        ("unknown-product.txt", "Commercial Gold Plan\t"),
    ] {
        let file = fixture(&format!("malformed/{name}"));
        let text = std::fs::read_to_string(&file).unwrap();
        let line = text
            .lines()
            .position(|l| {
                l == line_starts || (line_starts.ends_with('\t') && l.starts_with(line_starts))
            })
            .unwrap()
            + 1;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let r = import_into(&out, &[&file], &[]);
        assert_eq!(r.code, 2, "{name}: {}", r.stderr);
        assert!(
            r.stderr.contains(&format!("error: {file}:{line}: ")),
            "{name}: expected line {line} in {}",
            r.stderr
        );
        assert!(
            r.stderr.contains("expected") || r.stderr.contains("names no product"),
            "{name}: {}",
            r.stderr
        );
        assert!(!out.exists(), "{name}: wrote {:?}", files_under(&out));
        assert!(r.stdout.is_empty());
    }
}

#[test]
fn unmapped_lines_are_reported_and_strict_refuses_them() {
    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("doc.txt");
    let text = std::fs::read_to_string(rendered_183())
        .unwrap()
        .replace("Policy History\n", "Policy History\n\nA stray remark.\n");
    std::fs::write(&doc, &text).unwrap();
    let line = text.lines().position(|l| l == "A stray remark.").unwrap() + 1;
    let docs = doc.display().to_string();

    let strict_out = dir.path().join("strict");
    let r = import_into(&strict_out, &[&docs], &["--strict"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("{docs}:{line}: unmapped: A stray remark.")),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--strict"), "{}", r.stderr);
    assert!(!strict_out.exists());

    let out = dir.path().join("lenient");
    let r = import_into(&out, &[&docs], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("{docs}:{line}: unmapped: A stray remark.")),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout.contains(&format!(
            "({} lines mapped, 1 unmapped)",
            text.lines().filter(|l| !l.trim().is_empty()).count() - 1
        )),
        "{}",
        r.stdout
    );
}

#[test]
fn render_prints_the_document_in_three_formats_and_the_text_imports_back() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("183.txt");
    let r = run(&[
        "render",
        "183",
        "--format",
        "text",
        "--out",
        &text.display().to_string(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = dir.path().join("policies");
    let r = import_into(&out, &[&text.display().to_string()], &["--strict"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bundled =
        std::fs::read_to_string(repo_root().join("policies/bcbsma/183-prolotherapy.toml")).unwrap();
    let imported = std::fs::read_to_string(out.join("bcbsma/183-prolotherapy.toml")).unwrap();
    let a: toml_free::Policy = toml_free::parse(&bundled);
    let b: toml_free::Policy = toml_free::parse(&imported);
    assert_eq!(a, b);

    let r = run(&["render", "183", "--payer", "bcbsma", "--format", "html"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("<!DOCTYPE html>"));
    assert!(r.stdout.contains("<nav"));
    let r = run(&["render", "183", "--format", "markdown"]);
    assert!(
        r.stdout.contains("- [References](#references)"),
        "{}",
        r.stdout
    );

    let r = run(&["render", "183", "--date", "2015-06-01"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("12/2013\t"));
    assert!(!r.stdout.contains("1/2025\t"));
    let r = run(&["render", "183", "--date", "2009-01-01"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not in effect"), "{}", r.stderr);
    let r = run(&["render", "999"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no policy numbered 999"), "{}", r.stderr);
}

/// Policy files compared as their parsed model (comments and layout aside),
/// through `medpol show --format json`, which needs no TOML parser here.
mod toml_free {
    pub type Policy = serde_json::Value;

    pub fn parse(text: &str) -> Policy {
        let dir = tempfile::tempdir().unwrap();
        let payer = super::repo_root().join("policies/bcbsma/payer.toml");
        std::fs::create_dir_all(dir.path().join("bcbsma")).unwrap();
        std::fs::copy(payer, dir.path().join("bcbsma/payer.toml")).unwrap();
        std::fs::write(dir.path().join("bcbsma/183.toml"), text).unwrap();
        let r = super::run(&[
            "show",
            "183",
            "--format",
            "json",
            "--policies",
            &dir.path().display().to_string(),
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        serde_json::from_str::<serde_json::Value>(&r.stdout).unwrap()["policy"].clone()
    }
}
