//! Helpers for end-to-end tests that drive the real `medpol` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn medpol(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_medpol"))
        .args(args)
        .output()
        .expect("run medpol")
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(args: &[&str]) -> Run {
    let o = medpol(args);
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Runs `medpol check --json` and returns the parsed determination.
pub fn check_json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["check", "--json"];
    all.extend_from_slice(args);
    let r = run(&all);
    assert_eq!(r.code, 0, "medpol {all:?} failed: {}", r.stderr);
    serde_json::from_str(&r.stdout).expect("check --json prints JSON")
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// A path under `../shared` (the external vectors beside the repository), or
/// None when the repository stands alone: then the test says on its output
/// that it was skipped, unless MEDPOL_REQUIRE_SHARED is set (as in CI), where
/// that is a failure.
pub fn shared(relative: &str) -> Option<PathBuf> {
    let path = shared_root().join(relative);
    if path.exists() {
        return Some(path);
    }
    if std::env::var_os("MEDPOL_REQUIRE_SHARED").is_some() {
        panic!(
            "MEDPOL_REQUIRE_SHARED is set but {} is absent",
            path.display()
        );
    }
    skipped(&format!(
        "{} is absent; the tests over it did not run",
        path.display()
    ));
    None
}

/// `MEDPOL_SHARED_DIR`, else `../shared` beside the repository.
pub fn shared_root() -> PathBuf {
    std::env::var_os("MEDPOL_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared"))
}

/// Says a test was skipped on the test output itself: a direct write to
/// stdout is not captured by the test harness (`println!` would be).
pub fn skipped(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "SKIPPED: {why}");
}

/// The published seed document (BCBSMA policy 183), where `../shared` is present.
pub fn seed_document() -> Option<PathBuf> {
    shared("seed/bcbsma-mp-183-prolotherapy.txt")
}

/// This project's own document of policy 183 (`medpol render 183`), which
/// imports back to the bundled policy.
pub fn rendered_183() -> PathBuf {
    repo_root().join("tests/fixtures/documents/183-prolotherapy.txt")
}

/// Every file under `dir`, as display strings, sorted.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// A copy of the bundled catalogue to plant changes in.
pub fn catalogue_copy(dir: &Path, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::create_dir_all(to.join("bcbsma")).unwrap();
    for f in ["payer.toml", "183-prolotherapy.toml"] {
        std::fs::copy(
            repo_root().join("policies/bcbsma").join(f),
            to.join("bcbsma").join(f),
        )
        .unwrap();
    }
    to
}

/// A catalogue with 183 and its related policy 320 (a copy, renumbered), so
/// that the related-policy link has somewhere to go.
pub fn catalogue_with_related(dir: &Path) -> PathBuf {
    let c = catalogue_copy(dir, "policies");
    let text = std::fs::read_to_string(c.join("bcbsma/183-prolotherapy.toml")).unwrap();
    // 320 relates back to 183; then it takes 320's number and title.
    let other = text
        .replacen(
            "number = \"320\"\ntitle = \"Diagnosis and Treatment of Sacroiliac Joint Pain\"",
            "number = \"183\"\ntitle = \"Prolotherapy\"",
            1,
        )
        .replacen("number = \"183\"", "number = \"320\"", 1)
        .replacen(
            "title = \"Prolotherapy\"",
            "title = \"Diagnosis and Treatment of Sacroiliac Joint Pain\"",
            1,
        );
    std::fs::write(c.join("bcbsma/320-sacroiliac.toml"), other).unwrap();
    c
}

pub fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let path = dir.join("bcbsma").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{from:?} is not in {file}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

/// 183's commercial statement and its code table made "medically necessary
/// when the criteria are met".
pub fn make_medically_necessary(dir: &Path) {
    edit(
        dir,
        "183-prolotherapy.toml",
        "status = \"investigational\"\nindication = \"musculoskeletal pain\"\ntext = \"Prolotherapy is considered [INVESTIGATIONAL](#) as a treatment of musculoskeletal pain.\"",
        "status = \"medically-necessary\"\ntext = \"Prolotherapy is considered [MEDICALLY NECESSARY](#) when the criteria below are met.\"\ncriterion = [\"Pain for at least 3 months.\", \"Conservative treatment failed.\"]",
    );
    edit(
        dir,
        "183-prolotherapy.toml",
        "status = \"investigational\"\ncolumns",
        "status = \"medically-necessary\"\ncolumns",
    );
}

/// Policy 999 "Injections": a copy of 183 that covers M0076 for Medicare
/// Advantage, where 183's table denies it (a planted conflict), as TOML.
pub fn conflicting_999(text_183: &str) -> String {
    text_183
        .replacen("number = \"183\"", "number = \"999\"", 1)
        .replacen("title = \"Prolotherapy\"", "title = \"Injections\"", 1)
        .replacen(
            "products = [\"commercial\"]\nstatus = \"investigational\"\nindication = \"musculoskeletal pain\"",
            "products = [\"medicare-advantage\"]\nstatus = \"medically-necessary\"",
            1,
        )
        .replacen(
            "products = [\"commercial\", \"medicare-advantage\"]\nstatus = \"investigational\"",
            "products = [\"medicare-advantage\"]\nstatus = \"medically-necessary\"",
            1,
        )
}
