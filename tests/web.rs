//! The web pages through `medpol serve`: the library and its search, a
//! policy page with its statement anchors, versions and related-policy links,
//! the coverage check (answer, citations that land on their statement, bad
//! input beside its field), the review calendar, the security headers, and
//! the same walk in a real browser (Debian's chromium, headless).

mod common;
#[path = "common/server.rs"]
mod server;

use std::path::Path;
use std::process::Command;

use server::*;

/// GETs a page: status, body, and the headers checked here (CSP, content type).
fn html(a: &ureq::Agent, url: &str) -> (u16, String, (String, String)) {
    let r = match a.get(url).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{url}: {e}"),
    };
    let status = r.status();
    let headers = (
        r.header("content-security-policy")
            .unwrap_or("")
            .to_string(),
        r.header("content-type").unwrap_or("").to_string(),
    );
    (status, r.into_string().unwrap(), headers)
}

/// A catalogue with 183 and its related policy 320 (a copy, renumbered), so
/// that the related-policy link has somewhere to go.
fn catalogue(dir: &Path) -> std::path::PathBuf {
    let c = common::catalogue_copy(dir, "policies");
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

/// The server on a fresh database with [`catalogue`].
fn start() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let policies = catalogue(dir.path());
    let s = Server::start(
        &format!("sqlite://{}", dir.path().join("m.db").display()),
        &["--policies", policies.to_str().unwrap()],
    );
    (dir, s)
}

fn href_after<'a>(page: &'a str, marker: &str) -> &'a str {
    let at = page
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} not in {page}"));
    let start = page[..at].rfind("href=\"").unwrap() + 6;
    let end = start + page[start..].find('"').unwrap();
    &page[start..end]
}

#[test]
fn the_pages_answer_people() {
    let (_dir, s) = start();
    let a = agent();

    // Search by code, open the policy.
    let (st, page, (csp, ct)) = html(&a, &s.url("/policies?q=M0076"));
    assert_eq!(st, 200);
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(ct.starts_with("text/html"), "{ct}");
    assert!(page.contains("2 results for “M0076”"), "{page}");
    assert!(
        page.contains("<td>commercial: investigational</td>"),
        "{page}"
    );
    let (st, p183, _) = html(&a, &s.url(href_after(&page, ">Prolotherapy</a>")));
    assert_eq!(st, 200);
    assert!(
        p183.contains("id=\"statement-commercial-investigational\""),
        "{p183}"
    );
    assert!(p183.contains("What changed from version 1/2024 to 1/2025, per the history: <strong>references, review</strong>"), "{p183}");
    // The related policy is a working link.
    let (st, p320, _) = html(
        &a,
        &s.url(href_after(&p183, ">320 Diagnosis and Treatment")),
    );
    assert_eq!(st, 200);
    assert!(p320.contains("Medical policy 320"), "{p320}");
    // A version as of a date, and one before the policy.
    let (st, old, _) = html(&a, &s.url("/policies/bcbsma/183?date=2012-06-01"));
    assert_eq!(st, 200);
    assert!(old.contains("version 6/2011"), "{old}");
    assert_eq!(
        html(&a, &s.url("/policies/bcbsma/183?date=2001-01-01")).0,
        404
    );
    assert_eq!(html(&a, &s.url("/policies/bcbsma/183?date=June")).0, 422);

    // What is typed is shown, never run.
    let (_, page, _) = html(&a, &s.url("/policies?q=%3Cscript%3Ealert(1)%3C/script%3E"));
    assert!(
        !page.contains("<script>") && page.contains("&lt;script&gt;"),
        "{page}"
    );

    // The check form: the answer and a citation that lands on its statement.
    let url = s.url("/check?product=commercial-ppo&setting=outpatient&date=2025-06-01&codes=M0076");
    let (st, answer, _) = html(&a, &url);
    assert_eq!(st, 200, "{answer}");
    assert!(
        answer.contains("class=\"coverage-not-covered\">not-covered</span> (investigational)"),
        "{answer}"
    );
    let cite = href_after(&answer, "1/2025, Policy</a>");
    assert_eq!(
        cite,
        "/policies/bcbsma/183?date=2025-06-01#statement-commercial-investigational"
    );
    let (target, anchor) = cite.split_once('#').unwrap();
    let (_, stmt, _) = html(&a, &s.url(target));
    assert!(stmt.contains(&format!("id=\"{anchor}\"")));
    // The answer is on record, as over the API.
    let (_, log) = get_admin(&a, &s.url("/api/v1/decisions?limit=10"));
    assert_eq!(log[0]["source"], "web", "{log}");
    // Bad input: beside its field, with what would be valid; nothing decided.
    let (st, bad, _) = html(
        &a,
        &s.url("/check?product=commercial-ppo&setting=outpatient&date=2025-06-01&codes=XYZ12345"),
    );
    assert_eq!(st, 422);
    assert!(
        bad.contains("id=\"codes-error\" role=\"alert\">`XYZ12345` is not a procedure code"),
        "{bad}"
    );
    let (st, bad, _) = html(
        &a,
        &s.url("/check?product=commercial-ppo&setting=orbit&date=2025-02-30&codes=M0076"),
    );
    assert_eq!(st, 422);
    assert!(
        bad.contains("id=\"setting-error\"") && bad.contains("id=\"date-error\""),
        "{bad}"
    );
    let (_, log) = get_admin(&a, &s.url("/api/v1/decisions?limit=10"));
    assert_eq!(log.as_array().unwrap().len(), 1, "{log}");

    // The review calendar, and the style sheet the pages use.
    let (st, cal, _) = html(&a, &s.url("/reviews"));
    assert_eq!(st, 200);
    assert!(
        cal.contains("bcbsma/183 Prolotherapy") && cal.contains("2026-01-01"),
        "{cal}"
    );
    let (st, css, _) = html(&a, &s.url("/static/site.css"));
    assert_eq!(st, 200);
    assert!(css.contains("body{"));
}

fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

/// The DOM chromium builds for a page (what a person's browser shows).
fn dom(browser: &str, profile: &Path, url: &str) -> String {
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            // Local copies load axe-core from a file; scripts get time to run.
            "--allow-file-access-from-files",
            "--virtual-time-budget=15000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .output()
        .expect("run chromium");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_pages_work_in_a_browser() {
    let Some(browser) = chromium() else {
        if std::env::var_os("MEDPOL_REQUIRE_BROWSER").is_some() {
            panic!("MEDPOL_REQUIRE_BROWSER is set but chromium is not installed");
        }
        common::skipped("chromium is not installed; the browser test of the web pages did not run");
        return;
    };
    let (dir, s) = start();
    let profile = dir.path().join("profile");
    // Search, then the policy the result links to.
    let page = dom(browser, &profile, &s.url("/policies?q=M0076"));
    assert!(page.contains("result"), "{page}");
    let p183 = dom(
        browser,
        &profile,
        &s.url(href_after(&page, ">Prolotherapy</a>")),
    );
    assert!(
        p183.contains("id=\"statement-commercial-investigational\""),
        "{p183}"
    );
    let p320 = dom(
        browser,
        &profile,
        &s.url(href_after(&p183, ">320 Diagnosis and Treatment")),
    );
    assert!(p320.contains("Medical policy 320"), "{p320}");
    // The check form's GET URL (what submitting it opens), then its citation.
    let answer = dom(
        browser,
        &profile,
        &s.url("/check?product=commercial-ppo&setting=outpatient&date=2025-06-01&codes=M0076"),
    );
    assert!(answer.contains(">not-covered<"), "{answer}");
    let cite = href_after(&answer, "1/2025, Policy</a>").replace("&amp;", "&");
    let (target, anchor) = cite.split_once('#').unwrap();
    let statement = dom(browser, &profile, &s.url(target));
    assert!(
        statement.contains(&format!("id=\"{anchor}\"")),
        "{anchor} in {statement}"
    );
    // A bad code: the message beside the field.
    let bad = dom(
        browser,
        &profile,
        &s.url("/check?product=commercial-ppo&setting=outpatient&date=2025-06-01&codes=XYZ12345"),
    );
    assert!(bad.contains("id=\"codes-error\""), "{bad}");
}

/// axe-core (from npm; `.ci/run` installs it and sets `MEDPOL_AXE` to its
/// `axe.min.js`), run by chromium over every page: no serious or critical
/// violation. Each page is fetched from the server and checked as a local
/// copy with its style sheet inlined (the page's own CSP forbids the
/// injected script, which is the point of it).
#[test]
fn the_pages_pass_an_accessibility_check() {
    let (Some(browser), Some(axe)) = (
        chromium(),
        std::env::var_os("MEDPOL_AXE")
            .map(std::path::PathBuf::from)
            .filter(|p| p.exists()),
    ) else {
        if std::env::var_os("MEDPOL_REQUIRE_BROWSER").is_some() {
            panic!(
                "MEDPOL_REQUIRE_BROWSER is set but chromium or axe-core (MEDPOL_AXE) is missing"
            );
        }
        common::skipped(
            "chromium or axe-core (MEDPOL_AXE) is missing; the accessibility check did not run",
        );
        return;
    };
    let (dir, s) = start();
    let a = agent();
    let (_, css, _) = html(&a, &s.url("/static/site.css"));
    let pages = [
        "/",
        "/policies?q=M0076",
        "/policies/bcbsma/183",
        "/policies/bcbsma/183?date=2012-06-01",
        "/check",
        "/check?product=commercial-ppo&setting=outpatient&date=2025-06-01&codes=M0076",
        "/check?product=commercial-ppo&setting=orbit&date=2025-06-01&codes=XYZ12345",
        "/reviews",
    ];
    let mut serious = Vec::new();
    for (i, path) in pages.iter().enumerate() {
        let (_, page, _) = html(&a, &s.url(path));
        let page = page.replace(
            "<link rel=\"stylesheet\" href=\"/static/site.css\">",
            &format!("<style>{css}</style>"),
        );
        for v in axe_violations(browser, &axe, dir.path(), &format!("page-{i}"), &page) {
            if matches!(v["impact"].as_str(), Some("serious" | "critical")) {
                serious.push(format!("{path}: {v}"));
            }
        }
    }
    // The check can fail: an image without a text alternative is critical.
    let planted = axe_violations(browser, &axe, dir.path(), "planted", "<!DOCTYPE html><html lang=\"en\"><head><title>x</title></head><body><main><img src=\"x.png\"></main></body></html>");
    assert!(
        planted.iter().any(|v| v["id"] == "image-alt"),
        "{planted:?}"
    );
    assert!(
        serious.is_empty(),
        "serious or critical violations:\n{}",
        serious.join("\n")
    );
}

/// Runs axe-core over `page` (a local copy) in chromium; its violations.
fn axe_violations(
    browser: &str,
    axe: &Path,
    dir: &Path,
    name: &str,
    page: &str,
) -> Vec<serde_json::Value> {
    let probe = page.replace(
        "</body>",
        &format!(
            "<script src=\"file://{}\"></script><script>axe.run(document).then(function (r) {{ document.body.setAttribute('data-axe', JSON.stringify(r.violations.map(function (v) {{ return {{id: v.id, impact: v.impact, nodes: v.nodes.length}}; }}))); }});</script></body>",
            axe.display()
        ),
    );
    let file = dir.join(format!("{name}.html"));
    std::fs::write(&file, probe).unwrap();
    let dom = dom(
        browser,
        &dir.join("axe-profile"),
        &format!("file://{}", file.display()),
    );
    let start = dom
        .find("data-axe=\"")
        .unwrap_or_else(|| panic!("axe did not report on {name}"))
        + "data-axe=\"".len();
    let end = start + dom[start..].find('"').unwrap();
    let json = dom[start..end]
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    serde_json::from_str::<serde_json::Value>(&json)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}
