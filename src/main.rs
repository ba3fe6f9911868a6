//! `medpol`: the command-line adapter. It parses arguments, loads policies
//! (the bundled set or a directory), calls the core, and prints. Exit codes:
//! 0 an answer; 2 bad input (arguments, a request the engine cannot answer,
//! policy files that do not validate); 1 anything else (e.g. a write failed).

mod cli;
mod document;
mod lifecycle;
mod output;
mod screen;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use medpol_core::code::{Code, CodeSystem, Modifier};
use medpol_core::request::{Request, ServiceLine};
use medpol_core::Engine;
use medpol_policyfile::{LoadError, Loaded, Source};

use crate::cli::{Cli, Command, Format, SynthCommand};

// mimalloc instead of the system allocator: the service's answers build and
// drop many small JSON values and strings per request, and glibc's malloc
// led the server's profile (docs/benchmarks.md, "HTTP service").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bundled {
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
}

/// Why a command failed, deciding the exit code.
enum Failure {
    /// The user's input is wrong; the message says what would be valid.
    Input(String),
    /// Policy files that do not load.
    Policies(LoadError),
    /// `lint` found errors (printed already).
    Findings(usize),
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Internal(e)
    }
}

type Result<T> = std::result::Result<T, Failure>;

fn input<T>(msg: impl Into<String>) -> Result<T> {
    Err(Failure::Input(msg.into()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Policies(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(Failure::Findings(n)) => {
            eprintln!("error: {n} lint error{}", if n == 1 { "" } else { "s" });
            ExitCode::from(1)
        }
        Err(Failure::Internal(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Loads the policy set: a directory, or the files bundled in the binary.
fn load(dir: Option<&Path>) -> Result<Loaded> {
    let loaded = match dir {
        Some(dir) => medpol_policyfile::load_dir(dir),
        None => medpol_policyfile::load_sources(
            bundled::BUNDLED
                .iter()
                .map(|(path, text)| Source {
                    path: PathBuf::from(path),
                    text: text.to_string(),
                })
                .collect(),
        ),
    };
    loaded.map_err(Failure::Policies)
}

fn compile(loaded: Loaded) -> Result<Engine> {
    Engine::compile(loaded.catalog)
        .map_err(|e| Failure::Input(format!("the policy set does not compile: {e}")))
}

fn parse_date(s: &str, what: &str) -> Result<chrono::NaiveDate> {
    medpol_core::model::iso_date::parse(s).or_else(|e| input(format!("{what}: {e}")))
}

/// `CODE[:MOD[,MOD...]]`, e.g. `20610:RT,59`.
fn parse_line(spec: &str, system: Option<CodeSystem>) -> Result<ServiceLine> {
    let (code, mods) = match spec.split_once(':') {
        Some((c, m)) => (c, Some(m)),
        None => (spec, None),
    };
    let code = match system {
        Some(s) => Code::parse(s, code),
        None => Code::infer_procedure(code),
    }
    .or_else(|e| input(format!("--code: {e}")))?;
    if !code.system().is_procedure() {
        return input(format!(
            "--code: {} codes are diagnoses; give them with --diagnosis, and procedure codes (HCPCS, CPT, ICD-10-PCS) with --code",
            code.system()
        ));
    }
    let modifiers = mods
        .map(|m| {
            m.split(',')
                .map(Modifier::parse)
                .collect::<std::result::Result<Vec<_>, _>>()
        })
        .transpose()
        .or_else(|e| input(format!("--code {spec}: {e}")))?
        .unwrap_or_default();
    Ok(ServiceLine { code, modifiers })
}

fn run(cli: Cli) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cli.command {
        Command::Check(args) => {
            let system = args
                .system
                .as_deref()
                .map(|s| s.parse::<CodeSystem>())
                .transpose()
                .or_else(|e| input(format!("--system: {e}")))?;
            let lines = args
                .codes
                .iter()
                .map(|c| parse_line(c, system))
                .collect::<Result<Vec<_>>>()?;
            let diagnoses = args
                .diagnoses
                .iter()
                .map(|d| {
                    Code::parse(CodeSystem::Icd10cm, d)
                        .or_else(|e| input(format!("--diagnosis: {e}")))
                })
                .collect::<Result<Vec<_>>>()?;
            let setting = args
                .setting
                .parse()
                .or_else(|e| input(format!("--setting: {e}")))?;
            let request = Request {
                payer: args.payer,
                product: args.product,
                setting,
                date: parse_date(&args.date, "--date")?,
                lines,
                diagnoses,
            };
            let engine = compile(load(args.policies.as_deref())?)?;
            let determination = engine
                .determine(&request)
                .or_else(|e| input(e.to_string()))?;
            if args.json {
                serde_json::to_writer_pretty(&mut out, &determination).context("writing JSON")?;
                writeln!(out).context("writing")?;
            } else {
                output::determination(&mut out, &determination).context("writing")?;
            }
            // The process ends here: the OS takes the compiled catalogue back
            // at once, where dropping it piece by piece costs a twentieth of
            // the start-up of a large catalogue.
            drop(determination);
            std::mem::forget(engine);
        }
        Command::Validate(args) => {
            let dir = args.dir.or(args.policies);
            let label = dir
                .as_ref()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|| "the bundled policies".into());
            let loaded = load(dir.as_deref())?;
            for w in &loaded.warnings {
                writeln!(out, "{w}").context("writing")?;
            }
            let (payers, policies) = (loaded.catalog.payers.len(), loaded.catalog.policies.len());
            let warnings = loaded.warnings.len();
            let engine = compile(loaded)?;
            writeln!(
                out,
                "{label}: {payers} payer{}, {policies} polic{}, {} indexed codes: valid ({warnings} warning{})",
                if payers == 1 { "" } else { "s" },
                if policies == 1 { "y" } else { "ies" },
                engine.indexed_codes(),
                if warnings == 1 { "" } else { "s" },
            )
            .context("writing")?;
        }
        Command::Show(args) => {
            let loaded = load(args.policies.policies.as_deref())?;
            let catalog = &loaded.catalog;
            let policy = find_policy(catalog, args.payer.as_deref(), &args.number)?;
            let version = match &args.date {
                Some(d) => {
                    let date = parse_date(d, "--date")?;
                    match policy.version_on(date) {
                        Some(v) => v,
                        None => {
                            return input(format!(
                                "policy {} was not in effect on {date}: it applies from {}{}",
                                policy.key(),
                                policy.effective,
                                policy
                                    .retired
                                    .map(|r| format!(" until {r}"))
                                    .unwrap_or_default()
                            ))
                        }
                    }
                }
                None => policy.versions().pop().expect("every policy has a version"),
            };
            let payer = catalog.payer(&policy.payer).expect("validated");
            match args.format {
                Format::Json => {
                    let doc = serde_json::json!({
                        "policy": policy,
                        "version": version,
                        "versions": policy.versions(),
                    });
                    serde_json::to_writer_pretty(&mut out, &doc).context("writing JSON")?;
                    writeln!(out).context("writing")?;
                }
                Format::Text => {
                    output::policy(&mut out, payer, policy, &version).context("writing")?
                }
            }
        }
        Command::Codes(args) => {
            let code = match args.system.as_deref() {
                Some(s) => {
                    let system = s
                        .parse::<CodeSystem>()
                        .or_else(|e| input(format!("--system: {e}")))?;
                    Code::parse(system, &args.code)
                }
                None => Code::infer_procedure(&args.code),
            }
            .or_else(|e| input(e.to_string()))?;
            let engine = compile(load(args.policies.policies.as_deref())?)?;
            let listings = engine.policies_for_code(&code);
            if args.json {
                let rows: Vec<_> = listings
                    .iter()
                    .map(|l| {
                        serde_json::json!({
                            "payer": l.policy.payer,
                            "number": l.policy.number,
                            "title": l.policy.title,
                            "effective": l.policy.effective,
                            "retired": l.policy.retired,
                            "code_list": l.code_list,
                            "description": l.description,
                            "status": l.status,
                            "products": l.products,
                        })
                    })
                    .collect();
                serde_json::to_writer_pretty(
                    &mut out,
                    &serde_json::json!({ "code": code, "policies": rows }),
                )
                .context("writing JSON")?;
                writeln!(out).context("writing")?;
            } else {
                output::code_listings(&mut out, &code, &listings).context("writing")?;
            }
        }
        Command::Serve(args) => {
            drop(out);
            return serve(args);
        }
        Command::Screen(args) => {
            drop(out);
            return screen::run_screen(args);
        }
        Command::Import(args) => {
            drop(out);
            return document::run_import(args);
        }
        Command::Render(args) => {
            drop(out);
            return document::run_render(args);
        }
        Command::Diff(args) => lifecycle::run_diff(args, &mut out)?,
        Command::Lint(args) => lifecycle::run_lint(args, &mut out)?,
        Command::Reviews(args) => lifecycle::run_reviews(args, &mut out)?,
        Command::Impact(args) => lifecycle::run_impact(args, &mut out)?,
        Command::PriorAuth(cmd) => {
            drop(out);
            return prior_auth(cmd);
        }
        Command::Synth(SynthCommand::Claims(args)) => {
            drop(out);
            return screen::run_synth_claims(args);
        }
        Command::Synth(SynthCommand::Policies(args)) => {
            if args.count == 0 || args.payers == 0 {
                return input("--count and --payers must be at least 1");
            }
            let catalog = medpol_synth::catalog(&medpol_synth::SynthConfig {
                policies: args.count,
                payers: args.payers,
                seed: args.seed,
            });
            let written = write_new_dir(&args.out, |tmp| {
                medpol_policyfile::write_catalog(&catalog, tmp).map_err(anyhow::Error::from)
            })?;
            writeln!(
                out,
                "wrote {written} files ({} payers, {} policies) to {}",
                catalog.payers.len(),
                catalog.policies.len(),
                args.out.display()
            )
            .context("writing")?;
        }
    }
    out.flush().context("writing")?;
    Ok(())
}

fn serve(args: crate::cli::ServeArgs) -> Result<()> {
    if !(args.poll_seconds > 0.0 && args.timeout_seconds > 0.0) {
        return input("--poll-seconds and --timeout-seconds must be positive");
    }
    if args.pas_clients.is_some() && args.public_url.is_none() {
        return input(
            "--public-url is required with --pas-clients: the clients' assertions name {public-url}/auth/token as their `aud`",
        );
    }
    if args.cds_clients.is_some() && args.public_url.is_none() {
        return input(
            "--public-url is required with --cds-clients: the URL the EHRs call this service by (their tokens' `aud` must name it), e.g. --public-url https://crd.example.org",
        );
    }
    let loaded = load(args.policies.as_deref())?;
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    let digest_key = match (
        &args.decision_digest_key_file,
        std::env::var_os("MEDPOL_DECISION_DIGEST_KEY"),
    ) {
        (Some(path), _) => {
            let bytes = std::fs::read(path).or_else(|e| {
                input(format!(
                    "--decision-digest-key-file {}: {e}",
                    path.display()
                ))
            })?;
            Some(
                medpol_server::decision_log::DigestKey::new(&bytes).or_else(|e| {
                    input(format!(
                        "--decision-digest-key-file {}: {e}",
                        path.display()
                    ))
                })?,
            )
        }
        (None, Some(key)) => Some(
            medpol_server::decision_log::DigestKey::new(key.as_encoded_bytes())
                .or_else(|e| input(format!("MEDPOL_DECISION_DIGEST_KEY: {e}")))?,
        ),
        (None, None) => None,
    };
    let config = medpol_server::Config {
        addr: args.addr,
        database: args.database,
        admin_token: args.admin_token.filter(|t| !t.is_empty()),
        retention_days: args.retention_days,
        poll_interval: std::time::Duration::from_secs_f64(args.poll_seconds),
        body_limit: args.body_limit,
        request_timeout: std::time::Duration::from_secs_f64(args.timeout_seconds),
        log_capacity: args.log_capacity,
        keep_clinical: args.log_clinical,
        cds_clients: args.cds_clients,
        cds_insecure_dev_mode: args.cds_insecure_dev_mode,
        cds_coverage_map: args.cds_coverage_map,
        public_url: args.public_url,
        digest_key,
        pas_clients: args.pas_clients,
        reviewer_token: args.reviewer_token.filter(|t| !t.is_empty()),
        pa_auto_deny: medpol_server::pas::AutoDeny::parse(&args.pa_auto_deny)
            .or_else(|e| input(format!("--pa-auto-deny: {e}")))?,
        clock: match args.test_clock {
            Some(path) => medpol_server::pas::Clock::File(path),
            None => medpol_server::pas::Clock::System,
        },
    };
    medpol_server::init_tracing();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime
        .block_on(medpol_server::serve(
            config,
            loaded.catalog,
            medpol_server::shutdown_signal(),
        ))
        .map_err(Failure::Internal)
}

fn prior_auth(cmd: crate::cli::PriorAuthCommand) -> Result<()> {
    let crate::cli::PriorAuthCommand::Metrics(args) = cmd;
    if !(2000..=2200).contains(&args.year) {
        return input(format!(
            "--year must be from 2000 to 2200, not {}",
            args.year
        ));
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let metrics = runtime
        .block_on(async {
            let store = medpol_server::store::Store::open(&args.database).await?;
            medpol_server::pas::metrics_of(&store, args.year).await
        })
        .map_err(Failure::Internal)?;
    let mut out = std::io::stdout().lock();
    match args.format {
        crate::cli::MetricsFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &metrics).context("writing")?;
            writeln!(out).context("writing")?;
        }
        crate::cli::MetricsFormat::Text => {
            let hours = |h: Option<f64>| h.map_or("-".to_string(), |h| format!("{h:.2}"));
            writeln!(
                out,
                "Prior-authorization metrics, {} (CMS-0057-F)",
                metrics.year
            )
            .context("writing")?;
            writeln!(out, "{:<34} {:>10} {:>10}", "", "standard", "expedited")
                .context("writing")?;
            let (s, e) = (&metrics.standard, &metrics.expedited);
            let rows: [(&str, String, String); 9] = [
                ("requests", s.requests.to_string(), e.requests.to_string()),
                ("decided", s.decided.to_string(), e.decided.to_string()),
                (
                    "approved %",
                    format!("{:.1}", s.approved_percent),
                    format!("{:.1}", e.approved_percent),
                ),
                (
                    "denied %",
                    format!("{:.1}", s.denied_percent),
                    format!("{:.1}", e.denied_percent),
                ),
                (
                    "approved after appeal %",
                    format!("{:.1}", s.approved_after_appeal_percent),
                    format!("{:.1}", e.approved_after_appeal_percent),
                ),
                (
                    "extended and approved %",
                    format!("{:.1}", s.extended_and_approved_percent),
                    format!("{:.1}", e.extended_and_approved_percent),
                ),
                (
                    "average hours to decision",
                    hours(s.average_hours),
                    hours(e.average_hours),
                ),
                (
                    "median hours to decision",
                    hours(s.median_hours),
                    hours(e.median_hours),
                ),
                (
                    "decided after the due time",
                    s.decided_late.to_string(),
                    e.decided_late.to_string(),
                ),
            ];
            for (name, a, b) in rows {
                writeln!(out, "{name:<34} {a:>10} {b:>10}").context("writing")?;
            }
        }
    }
    Ok(())
}

/// The one policy a number (and optional payer) names, or what would be valid.
fn find_policy<'a>(
    catalog: &'a medpol_core::model::Catalog,
    payer: Option<&'a str>,
    number: &'a str,
) -> Result<&'a medpol_core::model::Policy> {
    let matches: Vec<_> = catalog.find_policies(payer, number).collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => {
            let mut known: Vec<String> = catalog
                .policies
                .iter()
                .filter(|p| payer.is_none_or(|id| p.payer == id))
                .map(|p| format!("{} {}", p.payer, p.number))
                .collect();
            known.sort();
            known.truncate(20);
            input(format!(
                "no policy numbered {number}{}; known policies include: {}",
                payer.map(|p| format!(" for payer {p}")).unwrap_or_default(),
                known.join(", ")
            ))
        }
        many => input(format!(
            "several payers have a policy numbered {number}: {}; choose one with --payer",
            many.iter()
                .map(|p| p.payer.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Creates `dir` whole or not at all: writes into a temporary sibling and
/// renames it into place. Refuses to touch a directory that has files.
fn write_new_dir<T>(dir: &Path, write: impl FnOnce(&Path) -> anyhow::Result<T>) -> Result<T> {
    if dir.exists() {
        let empty = std::fs::read_dir(dir)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !empty {
            return input(format!(
                "--out {}: exists and is not empty; give a new directory",
                dir.display()
            ));
        }
        std::fs::remove_dir(dir).with_context(|| format!("replacing {}", dir.display()))?;
    }
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let result = write(&tmp).and_then(|v| {
        std::fs::rename(&tmp, dir)
            .with_context(|| format!("moving the output into {}", dir.display()))?;
        Ok(v)
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    Ok(result?)
}
