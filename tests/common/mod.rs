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

pub fn seed_document() -> PathBuf {
    repo_root().join("../shared/seed/bcbsma-mp-183-prolotherapy.txt")
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
