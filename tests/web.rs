//! The web pages through `medpol serve`: the library and its search, a
//! policy page with its statement anchors, versions and related-policy links,
//! the coverage check (answer, citations that land on their statement, bad
//! input beside its field), the review calendar, the security headers; a
//! person's walk in a real browser (Debian's chromium, headless, over
//! WebDriver) through the library, the check, the reviewer's queue and the
//! metrics report; and an axe-core accessibility check of every page.

#[path = "common/browser.rs"]
mod browser;
mod common;
#[path = "common/pas.rs"]
mod pas;
#[path = "common/server.rs"]
mod server;

use std::path::Path;
use std::process::Command;

use fantoccini::Locator;
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

/// The server on a fresh database with [`common::catalogue_with_related`].
fn start() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let policies = common::catalogue_with_related(dir.path());
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

/// The server with the reviewer role and the test EHR as a PAS client, on
/// [`common::catalogue_with_related`], its prior-authorization clock at
/// 2 March 2026.
fn start_with_prior_auth() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let policies = common::catalogue_with_related(dir.path());
    let clock = dir.path().join("clock");
    std::fs::write(&clock, "2026-03-02T09:00:00Z").unwrap();
    let clients = pas::keys().join("clients.toml");
    let s = Server::start(
        &format!("sqlite://{}", dir.path().join("m.db").display()),
        &[
            "--policies",
            policies.to_str().unwrap(),
            "--pas-clients",
            clients.to_str().unwrap(),
            "--reviewer-token",
            pas::REVIEWER,
            "--test-clock",
            clock.to_str().unwrap(),
            "--body-limit",
            "1048576",
        ],
    );
    (dir, s)
}

/// A person's walk through the pages in chromium, driven over WebDriver:
/// search M0076 and open policy 183, follow a related-policy link, fill in
/// and submit the coverage check and follow its citation to the statement,
/// submit a bad code and read the message beside the field, sign in as the
/// reviewer and deny a pended request with a reason, and read the decision
/// on the public metrics page. axe-core checks the signed-in pages too.
#[test]
fn a_person_uses_the_pages_in_a_browser() {
    let Some((chromium, chromedriver)) = browser::available() else {
        common::skipped("chromium or chromedriver is not installed; the browser test of the web pages did not run");
        return;
    };
    let (dir, s) = start_with_prior_auth();
    // A pended request for the reviewer: M0076 inpatient, commercial PPO.
    let t = pas::token(&s, "system/Claim.c system/Claim.r");
    let (status, b) = pas::fhir_post(
        &s,
        "/fhir/Claim/$submit",
        Some(&t),
        &pas::request("browser-1", "512", "M0076", "21", "normal", vec![]),
    );
    assert_eq!(status, 200, "{b}");
    let driver = browser::Driver::start(chromedriver);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = driver.session(chromium, &dir.path().join("profile")).await;
        let mut serious = Vec::new();

        // The library: search by code, open the policy from its result.
        c.goto(&s.url("/")).await.unwrap();
        browser::screenshot(&c, "library").await;
        browser::type_into(&c, "#q", "M0076").await;
        browser::click(&c, "form[role=search] button[type=submit]").await;
        browser::wait_for(&c, "p[role=status]").await;
        browser::screenshot(&c, "search").await;
        c.find(Locator::LinkText("Prolotherapy"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        browser::wait_for(&c, "#statement-commercial-investigational").await;
        browser::screenshot(&c, "policy").await;
        // A related policy's link goes to that policy.
        browser::click(&c, "a[href^='/policies/bcbsma/320']").await;
        let h1 = browser::wait_for(&c, "h1").await.text().await.unwrap();
        assert!(
            browser::source(&c).await.contains("Medical policy 320"),
            "{h1}"
        );

        // The coverage check, filled in field by field (the date through the
        // form, as a date picker would set it).
        let check = |codes: &'static str| {
            let c = &c;
            let url = s.url("/check");
            async move {
                c.goto(&url).await.unwrap();
                browser::click(c, "#product option[value='bcbsma/commercial-ppo']").await;
                browser::type_into(c, "#setting", "outpatient").await;
                let form = c.form(Locator::Css("form[action='/check']")).await.unwrap();
                form.set_by_name("date", "2025-06-01").await.unwrap();
                browser::type_into(c, "#codes", codes).await;
                browser::click(c, "form[action='/check'] button[type=submit]").await;
            }
        };
        check("M0076").await;
        browser::wait_for(&c, "section[aria-labelledby=answer-h]").await;
        let answer = browser::source(&c).await;
        assert!(answer.contains(">not-covered<"), "{answer}");
        let shared = c.current_url().await.unwrap();
        assert!(
            shared.as_str().contains("codes=M0076"),
            "a shareable URL: {shared}"
        );
        browser::screenshot(&c, "check").await;
        serious.extend(browser::axe_serious(&c).await.unwrap_or_default());
        // Its citation lands on the statement's anchor.
        browser::click(&c, "a[href*='#statement-']").await;
        let url = c.current_url().await.unwrap();
        let anchor = url.fragment().expect("the citation's anchor").to_string();
        browser::wait_for(&c, &format!("[id='{anchor}']")).await;

        // A bad code: the message beside the field.
        check("XYZ12345").await;
        let message = browser::wait_for(&c, "#codes-error")
            .await
            .text()
            .await
            .unwrap();
        assert!(message.contains("XYZ12345"), "{message}");
        browser::screenshot(&c, "check-error").await;

        // The reviewer signs in, opens the request and denies it with a reason.
        c.goto(&s.url("/review")).await.unwrap();
        browser::screenshot(&c, "review-sign-in").await;
        browser::type_into(&c, "#token", pas::REVIEWER).await;
        browser::click(&c, "form[action='/review/sign-in'] button").await;
        browser::wait_for(&c, "a[href^='/review/requests/']").await;
        assert!(browser::source(&c).await.contains("recommended: deny"));
        browser::screenshot(&c, "review-queue").await;
        serious.extend(browser::axe_serious(&c).await.unwrap_or_default());
        browser::click(&c, "a[href^='/review/requests/']").await;
        browser::wait_for(&c, "#action-1-deny")
            .await
            .click()
            .await
            .unwrap();
        let page = browser::source(&c).await;
        assert!(
            page.contains("/policies/bcbsma/183?date=")
                && page.contains("Clinical exception process"),
            "{page}"
        );
        serious.extend(browser::axe_serious(&c).await.unwrap_or_default());
        browser::type_into(&c, "#reason-1", "Investigational under policy 183.").await;
        browser::screenshot(&c, "review-request").await;
        browser::click(&c, "form[action$='/decision'] button[type=submit]").await;
        browser::wait_for(&c, "#reason-given-1").await;
        let decided = browser::source(&c).await;
        assert!(
            decided.contains("Reason given: Investigational under policy 183."),
            "{decided}"
        );
        assert!(
            !decided.contains("id=\"action-1-deny\""),
            "the item is no longer pended"
        );

        // The public report counts the denial.
        c.goto(&s.url("/reports/prior-auth")).await.unwrap();
        browser::type_into(&c, "#year", "2026").await;
        browser::click(&c, "form[action='/reports/prior-auth'] button").await;
        browser::wait_for(&c, "svg").await;
        assert!(
            c.current_url()
                .await
                .unwrap()
                .query()
                .unwrap_or("")
                .contains("year=2026"),
            "the form was sent"
        );
        let report = browser::source(&c).await;
        assert!(report.contains("Denied: 100.0 %"), "{report}");
        browser::screenshot(&c, "report").await;
        serious.extend(browser::axe_serious(&c).await.unwrap_or_default());
        // The check can fail: an image without a text alternative is critical.
        if std::env::var_os("MEDPOL_AXE").is_some() {
            c.execute(
                "document.querySelector('main').appendChild(document.createElement('img'));",
                vec![],
            )
            .await
            .unwrap();
            let planted = browser::axe_serious(&c).await.unwrap();
            assert!(
                planted.iter().any(|v| v.contains("image-alt")),
                "{planted:?}"
            );
        }
        c.close().await.unwrap();
        assert!(
            serious.is_empty(),
            "serious or critical violations: {serious:?}"
        );
    });
}

/// axe-core (from npm; `.ci/run` installs it and sets `MEDPOL_AXE` to its
/// `axe.min.js`), run by chromium over every page: no serious or critical
/// violation. Each page is fetched from the server and checked as a local
/// copy with its style sheet inlined (the page's own CSP forbids the
/// injected script, which is the point of it).
#[test]
fn the_pages_pass_an_accessibility_check() {
    let (Some(browser), Some(axe)) = (
        browser::chromium(),
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
        "/review",
        "/reports/prior-auth?year=2026",
        "/reports/prior-auth?year=twenty",
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
