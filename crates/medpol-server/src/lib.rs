//! `medpol serve`: the HTTP adapter. Handlers are thin: they parse, call the
//! core engine, record the decision and answer. State is explicit
//! ([`AppState`]): the store, the decision log, and the compiled catalogue,
//! swapped whole when a new policy revision is published (here, or by another
//! replica on the same database: each replica polls the store).

mod api;
pub mod auth;
mod cds;
pub mod cds_coverage;
pub mod decision_log;
mod dtr;
mod lifecycle;
mod openapi;
pub mod pas;
mod prior_auth;
pub mod store;
mod web;
mod web_review;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use medpol_core::model::Catalog;
use medpol_core::Engine;
use tokio::net::TcpListener;

use crate::decision_log::DecisionLog;
use crate::store::{Revision, Store};

/// How the service runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    /// `sqlite://FILE` or `postgres://...`.
    pub database: String,
    /// The bearer token for the admin endpoints (publishing, reading the
    /// decision log); without one they answer 401.
    pub admin_token: Option<String>,
    /// Delete decisions older than this many days (checked hourly).
    pub retention_days: Option<u32>,
    /// How often to look for revisions published by another replica.
    pub poll_interval: Duration,
    pub body_limit: usize,
    pub request_timeout: Duration,
    /// Decisions queued for the log before requests get 503.
    pub log_capacity: usize,
    /// Keep diagnoses in the decision log (off: see docs/decision-log.md).
    pub keep_clinical: bool,
    /// Trusted CDS Hooks clients (TOML: `[[client]] iss`, `jwks_file` or `jwks_url`).
    pub cds_clients: Option<std::path::PathBuf>,
    /// CDS Hooks without client authentication: for development only.
    pub cds_insecure_dev_mode: bool,
    /// Coverage-to-product rules for CDS Hooks; default: the bundled ones.
    pub cds_coverage_map: Option<std::path::PathBuf>,
    /// The base URL clients call the service by: JWT `aud` is checked
    /// against it, and links in answers are built from it. Default: the
    /// address listened on (never a Host header, which the client chooses).
    pub public_url: Option<String>,
    /// The key of the decision log's request digests (kept outside the
    /// database); without one no digest is kept.
    pub digest_key: Option<decision_log::DigestKey>,
    /// Prior-authorization clients (SMART Backend Services; the CDS client
    /// file format: `[[client]] iss` = client_id, `jwks_file` or `jwks_url`).
    pub pas_clients: Option<std::path::PathBuf>,
    /// The reviewer role's bearer token.
    pub reviewer_token: Option<String>,
    /// Coverage reasons the payer lets medpol deny without a reviewer.
    pub pa_auto_deny: pas::AutoDeny,
    /// Where prior authorization's clock reads the time (tests move it).
    pub clock: pas::Clock,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: ([127, 0, 0, 1], 8080).into(),
            database: "sqlite://medpol.db".into(),
            admin_token: None,
            retention_days: None,
            poll_interval: Duration::from_secs(1),
            body_limit: 1 << 20,
            request_timeout: Duration::from_secs(10),
            log_capacity: 10_000,
            keep_clinical: false,
            cds_clients: None,
            cds_insecure_dev_mode: false,
            cds_coverage_map: None,
            public_url: None,
            digest_key: None,
            pas_clients: None,
            reviewer_token: None,
            pa_auto_deny: pas::AutoDeny::default(),
            clock: pas::Clock::System,
        }
    }
}

/// The longest error message the service sends.
const MAX_MESSAGE: usize = 400;

/// Every error message passes here on its way out: parsers (serde's among
/// them) quote what they could not read, and a caller's megabyte or markup
/// must not come back, nor reach a log. Control characters and `<`, `>`, `&`
/// are escaped; the message is cut at [`MAX_MESSAGE`] characters.
pub fn bounded_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(MAX_MESSAGE + 8));
    for (n, c) in message.chars().enumerate() {
        if n == MAX_MESSAGE {
            out.push('…');
            break;
        }
        if c.is_control() || matches!(c, '<' | '>' | '&') {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// The compiled catalogue and the revisions it was composed from (parallel to
/// `engine.catalog().policies`).
pub struct Current {
    pub engine: Engine,
    pub revisions: Vec<Revision>,
    /// The store's published state this catalogue was loaded at.
    pub seq: (i64, i64),
}

pub struct AppState {
    current: RwLock<Arc<Current>>,
    pub store: Store,
    pub log: DecisionLog,
    pub admin_token: Option<String>,
    /// What decision records keep.
    pub records: decision_log::RecordPolicy,
    pub shutting_down: AtomicBool,
    pub cds: cds::CdsConfig,
    pub pas: pas::PasConfig,
}

impl AppState {
    pub fn current(&self) -> Arc<Current> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Installs a loaded catalogue unless a newer one is already in place:
    /// two reloads can run at once (two publishes, or a publish and the
    /// poller), and the slower one must not put back an older catalogue.
    /// Revisions are only ever added, so their count orders the states.
    fn set(&self, c: Current) -> bool {
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        if c.seq.0 < current.seq.0 {
            return false;
        }
        *current = Arc::new(c);
        true
    }

    /// Reloads the catalogue from the store if anything was published since
    /// the last load (or always, with `force`).
    pub async fn refresh(&self, force: bool) -> anyhow::Result<bool> {
        let seq = self.store.published_state().await?;
        if !force && seq == self.current().seq {
            return Ok(false);
        }
        let current = load_current(&self.store, seq).await?;
        let policies = current.engine.catalog().policies.len();
        if !self.set(current) {
            return Ok(false);
        }
        tracing::info!(revisions = seq.0, policies, "policy catalogue loaded");
        Ok(true)
    }
}

async fn load_current(store: &Store, seq: (i64, i64)) -> anyhow::Result<Current> {
    let payers = store.payers().await?;
    let revisions = store.revisions().await?;
    let (catalog, revisions) = store::compose(payers, &revisions);
    let engine = tokio::task::spawn_blocking(move || Engine::compile(catalog))
        .await
        .context("compiling the catalogue")?
        .context("the stored policies do not compile")?;
    Ok(Current {
        engine,
        revisions,
        seq,
    })
}

/// The whole HTTP surface, assembled here and only here: the REST API under
/// `/api/v1` with its OpenAPI document, CDS Hooks, health, and the layers
/// every request passes (request id, tracing without bodies, body limit,
/// timeout, `nosniff`).
/// Runs CPU-bound work from a handler: off the async worker where the
/// runtime allows it (multi-threaded: the binary's), inline otherwise (a
/// current-thread runtime, where moving it would panic).
pub(crate) fn cpu_bound<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

pub fn router(state: Arc<AppState>, config: &Config) -> axum::Router {
    use axum::http::{header, HeaderValue, StatusCode};
    use axum::routing::get;
    use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
    use tower_http::trace::{DefaultOnResponse, TraceLayer};
    let rest = api::routes()
        .merge(pas::api_routes())
        .route("/openapi.json", get(openapi::serve_document));
    axum::Router::new()
        .nest("/api/v1", rest)
        .merge(cds::router())
        .merge(web::routes())
        .merge(web_review::routes())
        .merge(dtr::routes())
        .merge(pas::routes())
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .fallback(api::not_found)
        .with_state(state)
        .layer(axum::extract::DefaultBodyLimit::max(config.body_limit))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &axum::http::Request<axum::body::Body>| {
                    let id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    // Method, path and id only: bodies and query strings may carry patient data.
                    tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path())
                })
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        // Answers are JSON: never let a browser sniff one into markup.
        .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
}

/// Sets up logging: JSON lines when `MEDPOL_LOG_FORMAT=json`, else text;
/// level from `RUST_LOG` (default `info`). Request bodies are never logged.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if std::env::var("MEDPOL_LOG_FORMAT").is_ok_and(|v| v == "json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Runs the service until `shutdown` resolves: opens the store, brings it in
/// line with the policy files, serves, and on shutdown stops taking requests,
/// finishes those in flight and flushes the decision log.
pub async fn serve(
    config: Config,
    files: Catalog,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    if config.cds_clients.is_some() && config.public_url.is_none() {
        anyhow::bail!(
            "--public-url is required with --cds-clients: the URL the EHRs call this service by (their tokens' `aud` must name it)"
        );
    }
    if config.pas_clients.is_some() && config.public_url.is_none() {
        anyhow::bail!(
            "--public-url is required with --pas-clients: the clients' assertions name {{public-url}}/auth/token as their `aud`"
        );
    }
    let listener = TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("binding {}", config.addr))?;
    let local = listener.local_addr()?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{local}"));
    let cds = cds_config(&config, public_url)?;
    let pas = pas_config(&config)?;
    if config.retention_days.is_none() {
        tracing::warn!("the decision log is kept forever: no --retention-days given (see docs/decision-log.md)");
    }
    let store = Store::open(&config.database).await?;
    let added = store.sync(&files, "policy-files").await?;
    tracing::info!(database = %config.database, added, "store ready");
    let seq = store.published_state().await?;
    let current = load_current(&store, seq).await?;
    let (log, writer) = DecisionLog::start(store.clone(), config.log_capacity);
    let state = Arc::new(AppState {
        current: RwLock::new(Arc::new(current)),
        store: store.clone(),
        log,
        admin_token: config.admin_token.clone(),
        records: decision_log::RecordPolicy {
            keep_clinical: config.keep_clinical,
            digest_key: config.digest_key.clone(),
        },
        shutting_down: AtomicBool::new(false),
        cds,
        pas,
    });
    // Subscription notifications, from the outbox (what a restart left due too).
    let notifier = tokio::spawn(pas::run_notifier(state.clone()));

    let poller = {
        let state = state.clone();
        let every = config.poll_interval;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                if let Err(e) = state.refresh(false).await {
                    tracing::warn!(error = %format!("{e:#}"), "could not reload policies");
                }
            }
        })
    };
    // Hourly housekeeping: the decision log's retention (when set) and the
    // CDS token ids whose tokens have expired.
    let purger = {
        let store = store.clone();
        let retention_days = config.retention_days;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(3600));
            loop {
                tick.tick().await;
                if let Some(days) = retention_days {
                    match store.purge_decisions(days).await {
                        Ok(n) if n > 0 => {
                            tracing::info!(deleted = n, days, "decision log retention")
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(error = %format!("{e:#}"), "decision log retention failed")
                        }
                    }
                }
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                if let Err(e) = store.forget_expired_tokens(now).await {
                    tracing::warn!(error = %format!("{e:#}"), "forgetting expired CDS token ids failed");
                }
                if let Err(e) = store.pa_forget_tokens(now as i64).await {
                    tracing::warn!(error = %format!("{e:#}"), "forgetting expired access tokens failed");
                }
            }
        })
    };

    let app = router(state.clone(), &config);
    // Tests and scripts read this line to find the port.
    println!("medpol listening on http://{local}");
    tracing::info!(addr = %local, "listening");
    let shutdown_state = state.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            shutdown_state.shutting_down.store(true, Ordering::SeqCst);
            tracing::info!("shutting down: finishing requests in flight");
        })
        .await
        .context("serving")?;
    // Aborted tasks drop their handles to the state (and the log) when awaited.
    poller.abort();
    let _ = poller.await;
    purger.abort();
    let _ = purger.await;
    notifier.abort();
    let _ = notifier.await;
    // The router (and its state) is gone; dropping the last log handle lets
    // the writer drain the queue and stop.
    drop(state);
    writer.await.context("flushing the decision log")?;
    tracing::info!("decision log flushed; stopped");
    Ok(())
}

fn cds_config(config: &Config, public_url: String) -> anyhow::Result<cds::CdsConfig> {
    let coverage_map = match &config.cds_coverage_map {
        Some(path) => cds_coverage::CoverageMap::load(path).map_err(anyhow::Error::msg)?,
        None => cds_coverage::CoverageMap::parse(cds_coverage::DEFAULT_RULES)
            .map_err(anyhow::Error::msg)?,
    };
    let auth = match &config.cds_clients {
        Some(path) => {
            let clients = auth::load_clients(path)
                .with_context(|| format!("--cds-clients {}", path.display()))?;
            Some(Arc::new(auth::ClientAuth::new(
                clients,
                Duration::from_secs(cds::JTI_SKEW_SECS),
            )?))
        }
        None => None,
    };
    if config.cds_insecure_dev_mode {
        // Loud on purpose, at every start.
        tracing::warn!("CDS Hooks client authentication is OFF (--cds-insecure-dev-mode): any caller reaches decisions. Never run this in production.");
        eprintln!("WARNING: CDS Hooks client authentication is OFF (--cds-insecure-dev-mode). For development only.");
    } else if auth.is_none() {
        tracing::info!("no trusted CDS clients configured (--cds-clients): CDS Hooks calls will be refused with 401");
    }
    Ok(cds::CdsConfig {
        auth,
        insecure_dev_mode: config.cds_insecure_dev_mode,
        coverage_map,
        public_url,
    })
}

fn pas_config(config: &Config) -> anyhow::Result<pas::PasConfig> {
    let auth = match &config.pas_clients {
        Some(path) => {
            let clients = auth::load_clients(path)
                .with_context(|| format!("--pas-clients {}", path.display()))?;
            Some(Arc::new(auth::ClientAuth::new(
                clients,
                Duration::from_secs(cds::JTI_SKEW_SECS),
            )?))
        }
        None => {
            tracing::info!("no prior-authorization clients configured (--pas-clients): Claim/$submit and $inquire answer 401");
            None
        }
    };
    if let pas::Clock::File(path) = &config.clock {
        tracing::warn!(path = %path.display(), "prior authorization reads the time from a file (--test-clock): for tests only");
    }
    Ok(pas::PasConfig {
        auth,
        reviewer_token: config.reviewer_token.clone(),
        auto_deny: config.pa_auto_deny.clone(),
        clock: config.clock.clone(),
        wake: Default::default(),
    })
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
