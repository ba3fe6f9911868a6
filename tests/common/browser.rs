//! A real browser for the web tests: Debian's chromium, headless, driven
//! over WebDriver (chromedriver) with fantoccini, as a person would use the
//! pages: typing into fields, choosing options, pressing buttons, following
//! links.
#![allow(dead_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

pub const CHROMIUM: [&str; 2] = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];
pub const CHROMEDRIVER: [&str; 2] = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"];

fn first(paths: &[&'static str]) -> Option<&'static str> {
    paths.iter().copied().find(|p| Path::new(p).exists())
}

pub fn chromium() -> Option<&'static str> {
    first(&CHROMIUM)
}

/// chromium and chromedriver, or `None` (then the caller says the test was
/// skipped; under `MEDPOL_REQUIRE_BROWSER` their absence is a failure).
pub fn available() -> Option<(&'static str, &'static str)> {
    let found = chromium().zip(first(&CHROMEDRIVER));
    if found.is_none() && std::env::var_os("MEDPOL_REQUIRE_BROWSER").is_some() {
        panic!("MEDPOL_REQUIRE_BROWSER is set but chromium or chromedriver is not installed");
    }
    found
}

/// chromedriver on a free port, stopped when dropped.
pub struct Driver {
    child: Child,
    pub url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    pub fn start(chromedriver: &str) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "chromedriver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// A new headless browser session with its own profile.
    pub async fn session(&self, chromium: &str, profile: &Path) -> Client {
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--window-size=1200,1000",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a chromium session over WebDriver")
    }
}

/// The page's HTML as the browser has it now.
pub async fn source(c: &Client) -> String {
    c.source().await.expect("page source")
}

/// Waits for an element (pages load after a click).
pub async fn wait_for(c: &Client, css: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} did not appear: {e}"))
}

/// Saves a screenshot of the page when `MEDPOL_SCREENSHOTS` names a folder
/// (how `docs/web/*.png` are made).
pub async fn screenshot(c: &Client, name: &str) {
    if let Some(dir) = std::env::var_os("MEDPOL_SCREENSHOTS").map(PathBuf::from) {
        std::fs::create_dir_all(&dir).unwrap();
        let png = c.screenshot().await.expect("screenshot");
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
}

/// axe-core's serious and critical violations on the page the browser
/// shows (the script is run by WebDriver, which the page's CSP does not
/// govern); `None` when `MEDPOL_AXE` is not set.
pub async fn axe_serious(c: &Client) -> Option<Vec<String>> {
    let axe = std::env::var_os("MEDPOL_AXE").map(PathBuf::from)?;
    let source = std::fs::read_to_string(axe).ok()?;
    let script = format!(
        "{source}\n;var done = arguments[arguments.length - 1];\
         axe.run(document).then(function (r) {{ done(r.violations.map(function (v) {{ return {{id: v.id, impact: v.impact}}; }})); }})\
         .catch(function (e) {{ done([{{id: 'axe-error: ' + e, impact: 'critical'}}]); }});"
    );
    let found = c
        .execute_async(&script, vec![])
        .await
        .expect("axe-core ran");
    Some(
        found
            .as_array()
            .expect("a list of violations")
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .map(|v| v.to_string())
            .collect(),
    )
}

/// Clicks the element `css` selects (a link, a button, an option).
pub async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

/// Types `text` into the field `css` selects, after clearing it.
pub async fn type_into(c: &Client, css: &str, text: &str) {
    let field = c
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}
