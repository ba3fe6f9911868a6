//! The rendered HTML page in a real browser (Debian's chromium, headless):
//! every table-of-contents anchor lands on an element, and references link
//! to PubMed. Skipped, and said so, where no chromium is installed — unless
//! MEDPOL_REQUIRE_BROWSER is set (as in CI once it installed chromium).

mod common;

use std::path::Path;
use std::process::Command;

use common::run;

fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

/// Loads `page` in an iframe of a probe page and reports what its links resolve to.
fn probe(browser: &str, dir: &Path, page: &str) -> serde_json::Value {
    let probe = format!(
        r##"<!doctype html><html><body><iframe id="f" src="{page}"></iframe><script>
document.getElementById('f').onload = function () {{
  var d = this.contentDocument;
  var links = Array.prototype.slice.call(d.querySelectorAll('a[href^="#"]'));
  var missing = links.filter(function (a) {{ return !d.getElementById(decodeURIComponent(a.getAttribute('href').slice(1))); }})
                     .map(function (a) {{ return a.getAttribute('href'); }});
  document.body.setAttribute('data-result', JSON.stringify({{
    links: links.length,
    toc: d.querySelectorAll('nav a[href^="#"]').length,
    missing: missing,
    pubmed: d.querySelectorAll('a[href^="https://pubmed.ncbi.nlm.nih.gov/"]').length,
    title: d.title
  }}));
}};
</script></body></html>"##
    );
    let probe_path = dir.join(format!("probe-{page}"));
    std::fs::write(&probe_path, probe).unwrap();
    let profile = dir.join(format!("profile-{page}"));
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--allow-file-access-from-files",
            "--virtual-time-budget=5000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("file://{}", probe_path.display()))
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&out.stdout);
    let start = dom.find("data-result=\"").expect("the probe ran") + "data-result=\"".len();
    let end = start + dom[start..].find('"').unwrap();
    let json = dom[start..end]
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    serde_json::from_str(&json).unwrap()
}

#[test]
fn the_html_page_works_in_a_browser() {
    let Some(browser) = chromium() else {
        if std::env::var_os("MEDPOL_REQUIRE_BROWSER").is_some() {
            panic!("MEDPOL_REQUIRE_BROWSER is set but chromium is not installed");
        }
        common::skipped("chromium is not installed; the browser test did not run");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("183.html");
    let r = run(&[
        "render",
        "183",
        "--format",
        "html",
        "--out",
        page.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let result = probe(browser, dir.path(), "183.html");
    assert_eq!(result["missing"], serde_json::json!([]), "{result}");
    assert!(result["toc"].as_u64().unwrap() >= 7, "{result}");
    assert_eq!(
        result["pubmed"], 38,
        "38 of the 40 references carry a PMID: {result}"
    );
    // The probe can fail: a page with a dangling anchor is caught.
    std::fs::write(
        dir.path().join("bad.html"),
        "<nav><a href=\"#nowhere\">x</a></nav>",
    )
    .unwrap();
    let bad = probe(browser, dir.path(), "bad.html");
    assert_eq!(bad["missing"], serde_json::json!(["#nowhere"]), "{bad}");
}
