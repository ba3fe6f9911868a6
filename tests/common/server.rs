//! Starting the real `medpol serve` for end-to-end tests, and databases for it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const TOKEN: &str = "test-admin-token";

pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Server {
    /// Starts `medpol serve` on a free port and waits until it listens.
    pub fn start(database: &str, extra: &[&str]) -> Server {
        let mut args = vec![
            "serve",
            "--database",
            database,
            "--admin-token",
            TOKEN,
            "--poll-seconds",
            "0.2",
        ];
        // Trusted CDS clients need the URL they call (`--public-url`), so
        // the port is chosen here rather than by the server.
        let addr;
        let public;
        if (extra.contains(&"--cds-clients") || extra.contains(&"--pas-clients"))
            && !extra.contains(&"--public-url")
        {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            addr = format!("127.0.0.1:{port}");
            public = format!("http://{addr}");
            args.extend_from_slice(&["--addr", &addr, "--public-url", &public]);
        } else {
            args.extend_from_slice(&["--addr", "127.0.0.1:0"]);
        }
        if !extra.contains(&"--body-limit") {
            args.extend_from_slice(&["--body-limit", "65536"]);
        }
        args.extend_from_slice(extra);
        let mut child = Command::new(env!("CARGO_BIN_EXE_medpol"))
            .args(&args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start medpol serve");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("medpol listening on ") {
                    let _ = tx.send(url.to_string());
                }
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!("medpol serve did not start on {database}");
            });
        Server { child, base }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the exit status.
    pub fn terminate(&mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().ok().and_then(|s| s.code())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build()
}

/// POSTs JSON; returns (status, body) whatever the status.
pub fn post_json(a: &ureq::Agent, url: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
    respond(
        a.post(url)
            .set("content-type", "application/json")
            .send_string(&body.to_string()),
    )
}

pub fn get(a: &ureq::Agent, url: &str) -> (u16, serde_json::Value) {
    respond(a.get(url).call())
}

pub fn get_admin(a: &ureq::Agent, url: &str) -> (u16, serde_json::Value) {
    respond(
        a.get(url)
            .set("authorization", &format!("Bearer {TOKEN}"))
            .call(),
    )
}

pub fn respond(r: Result<ureq::Response, ureq::Error>) -> (u16, serde_json::Value) {
    let resp = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("request failed: {e}"),
    };
    let status = resp.status();
    let text = resp.into_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

pub fn request(product: &str, setting: &str, date: &str, code: &str) -> serde_json::Value {
    serde_json::json!({
        "product": product, "setting": setting, "date": date,
        "lines": [{ "code": { "system": "hcpcs", "code": code } }]
    })
}

/// A fresh PostgreSQL database on 127.0.0.1:5432 (trust auth), or None when
/// no server answers there — unless MEDPOL_REQUIRE_POSTGRES is set (as in
/// CI), where that is a failure.
pub fn postgres_database() -> Option<PgDatabase> {
    let up = std::net::TcpStream::connect_timeout(
        &"127.0.0.1:5432".parse().unwrap(),
        Duration::from_secs(2),
    )
    .is_ok();
    if !up {
        if std::env::var_os("MEDPOL_REQUIRE_POSTGRES").is_some() {
            panic!("MEDPOL_REQUIRE_POSTGRES is set but no PostgreSQL answers on 127.0.0.1:5432");
        }
        // Written to stdout directly, which the test harness does not capture,
        // so the skip shows in the test output.
        use std::io::Write;
        let _ = writeln!(
            std::io::stdout(),
            "SKIPPED: no PostgreSQL answers on 127.0.0.1:5432; the PostgreSQL tests did not run"
        );
        return None;
    }
    let name = format!("medpol_test_{}_{}", std::process::id(), uuid_like());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&admin_url())
            .await
            .expect("connect to PostgreSQL database test");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut c)
            .await
            .expect("create database");
    });
    Some(PgDatabase { name })
}

fn admin_url() -> String {
    let user = std::env::var("PGUSER").unwrap_or_else(|_| "postgres".into());
    format!("postgres://{user}@127.0.0.1:5432/test")
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{n:x}")
}

pub struct PgDatabase {
    pub name: String,
}

impl PgDatabase {
    pub fn url(&self) -> String {
        let user = std::env::var("PGUSER").unwrap_or_else(|_| "postgres".into());
        format!("postgres://{user}@127.0.0.1:5432/{}", self.name)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            use sqlx::Connection;
            if let Ok(mut c) = sqlx::PgConnection::connect(&admin_url()).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut c)
                    .await;
            }
        });
    }
}
