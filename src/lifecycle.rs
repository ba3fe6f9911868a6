//! The policy team's tools before publishing: `medpol diff`, `medpol lint`,
//! `medpol reviews` and `medpol impact` (docs/lifecycle.md). The work is done
//! by `medpol_core::{diff, lint, review}` and `medpol_screen::impact`; this
//! module reads files, locates findings in them and prints.

use std::fmt::Write as _;
use std::io::{self, BufRead, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use clap::Args;
use medpol_core::diff::{self, Part};
use medpol_core::lint::{self, Level};
use medpol_core::review;
use medpol_core::Policy;
use medpol_policyfile::Loaded;

use crate::cli::{ClaimsFormat, Format};
use crate::screen::{input_format, PendingFile};
use crate::{compile, input, load, parse_date, Failure, Result};

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The policy number (e.g. 183): what changed between the versions in
    /// effect on --from and --to. Omitted with --old/--new: every policy.
    pub number: Option<String>,
    /// The payer, when the number alone is ambiguous.
    #[arg(long)]
    pub payer: Option<String>,
    /// The earlier date (YYYY-MM-DD).
    #[arg(long, requires = "to")]
    pub from: Option<String>,
    /// The later date (YYYY-MM-DD).
    #[arg(long, requires = "from")]
    pub to: Option<String>,
    /// With --from/--to: the catalogue (default: the bundled policies).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["old", "new"])]
    pub policies: Option<PathBuf>,
    /// Compare two catalogues: the current one...
    #[arg(long, value_name = "DIR", requires = "new")]
    pub old: Option<PathBuf>,
    /// ...and the proposed one.
    #[arg(long, value_name = "DIR", requires = "old")]
    pub new: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// A directory of policy files; default: the bundled policies.
    pub dir: Option<PathBuf>,
    /// Make a rule's findings errors (repeatable; `all` for every rule).
    #[arg(long, value_name = "RULE")]
    pub deny: Vec<String>,
    /// Judge review dates as of this day (YYYY-MM-DD); default: today.
    #[arg(long, value_name = "DATE")]
    pub today: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ReviewsArgs {
    /// Only policies due within this many days (`60d` or `60`), overdue ones included.
    #[arg(long, value_name = "DAYS")]
    pub due_within: Option<String>,
    /// Judge as of this day (YYYY-MM-DD); default: today.
    #[arg(long, value_name = "DATE")]
    pub today: Option<String>,
    /// A directory of policy files; default: the bundled policies.
    #[arg(long, value_name = "DIR")]
    pub policies: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ImpactArgs {
    /// The proposed catalogue (a directory of policy files).
    #[arg(long, value_name = "DIR")]
    pub proposed: PathBuf,
    /// The current catalogue; default: the bundled policies.
    #[arg(long, value_name = "DIR")]
    pub policies: Option<PathBuf>,
    /// The claim lines to replay: CSV, NDJSON or X12 837, as `medpol screen` reads them
    /// (`-` for standard input).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "decisions",
        conflicts_with = "decisions"
    )]
    pub claims: Option<String>,
    /// Replay the decisions in a running service's log instead (its base URL; the newest
    /// 10,000 in the window; needs the admin token).
    #[arg(long, value_name = "URL")]
    pub decisions: Option<String>,
    /// With --decisions: decided at or after (YYYY-MM-DD or RFC 3339).
    #[arg(long, requires = "decisions")]
    pub from: Option<String>,
    /// With --decisions: decided before (YYYY-MM-DD or RFC 3339).
    #[arg(long, requires = "decisions")]
    pub to: Option<String>,
    /// With --decisions: the service's admin token.
    #[arg(long, env = "MEDPOL_ADMIN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The input format; default: as `medpol screen` decides.
    #[arg(long, value_enum)]
    pub input_format: Option<ClaimsFormat>,
    /// X12 input: the member's product for every claim.
    #[arg(long, value_name = "PRODUCT")]
    pub product: Option<String>,
    /// Write every changed line (CSV) to this file.
    #[arg(long, value_name = "FILE")]
    pub changed: Option<PathBuf>,
    /// Where to report bad lines; default: standard error.
    #[arg(long, value_name = "FILE")]
    pub errors: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

fn today_or(given: Option<&str>) -> Result<NaiveDate> {
    match given {
        Some(d) => parse_date(d, "--today"),
        None => Ok(chrono::Local::now().date_naive()),
    }
}

fn write_json(out: &mut dyn Write, v: &impl serde::Serialize) -> Result<()> {
    serde_json::to_writer_pretty(&mut *out, v).context("writing JSON")?;
    writeln!(out).context("writing")?;
    Ok(())
}

fn parts(p: &[Part]) -> String {
    if p.is_empty() {
        return "nothing".into();
    }
    p.iter().map(|p| p.id()).collect::<Vec<_>>().join(", ")
}

pub fn run_diff(args: DiffArgs, out: &mut dyn Write) -> Result<()> {
    if let (Some(old), Some(new)) = (&args.old, &args.new) {
        let (a, b) = (load(Some(old))?, load(Some(new))?);
        let mut d = diff::diff_catalogs(&a.catalog, &b.catalog);
        if let Some(n) = &args.number {
            let wanted = |key: &str| key.rsplit('/').next() == Some(n.as_str());
            d.added.retain(|p| wanted(&p.policy));
            d.removed.retain(|p| wanted(&p.policy));
            d.changed.retain(|p| wanted(&p.policy));
        }
        if args.format == Format::Json {
            return write_json(out, &d);
        }
        let mut text = String::new();
        let _ = writeln!(
            text,
            "{} -> {}: {} added, {} removed, {} changed, {} unchanged",
            old.display(),
            new.display(),
            d.added.len(),
            d.removed.len(),
            d.changed.len(),
            d.unchanged
        );
        for p in &d.added {
            let _ = writeln!(text, "added {} {}", p.policy, p.title);
        }
        for p in &d.removed {
            let _ = writeln!(text, "removed {} {}", p.policy, p.title);
        }
        for p in &d.changed {
            diff::policy_diff_text(p, &mut text);
        }
        out.write_all(text.as_bytes()).context("writing")?;
        return Ok(());
    }
    let (Some(number), Some(from), Some(to)) = (&args.number, &args.from, &args.to) else {
        return input("give a policy number with --from DATE --to DATE, or two catalogues with --old DIR --new DIR");
    };
    let (from, to) = (parse_date(from, "--from")?, parse_date(to, "--to")?);
    let loaded = load(args.policies.as_deref())?;
    let catalog = &loaded.catalog;
    // The policy's files: one, or several revisions with their own days.
    let files: Vec<&Policy> = catalog
        .find_policies(args.payer.as_deref(), number)
        .collect();
    let payers: std::collections::BTreeSet<&str> = files.iter().map(|p| p.payer.as_str()).collect();
    if files.is_empty() {
        return input(format!(
            "no policy numbered {number}{}",
            args.payer
                .as_deref()
                .map(|p| format!(" for payer {p}"))
                .unwrap_or_default()
        ));
    }
    if payers.len() > 1 {
        return input(format!(
            "several payers have a policy numbered {number}: {}; choose one with --payer",
            payers.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    let on = |date: NaiveDate| files.iter().copied().find(|p| p.decides_on(date));
    let (Some(a), Some(b)) = (on(from), on(to)) else {
        let spans: Vec<String> = files
            .iter()
            .map(|p| {
                let (from, until) = p.window();
                format!(
                    "from {from}{}",
                    until.map(|u| format!(" until {u}")).unwrap_or_default()
                )
            })
            .collect();
        return input(format!(
            "policy {} applies {}; both dates must fall within it",
            files[0].key(),
            spans.join(", ")
        ));
    };
    // The later file's history covers the earlier dates too: read it over
    // the policy's whole life, not that file's window.
    let whole = Policy {
        in_force_from: None,
        retired: None,
        effective: a.effective.min(b.effective),
        ..b.clone()
    };
    let Some(versions) = diff::versions_between(&whole, from, to) else {
        return input(format!(
            "policy {} has no version in effect on {from}",
            b.key()
        ));
    };
    let text_diff = (!std::ptr::eq(a, b)).then(|| diff::diff_policies(a, b));
    if args.format == Format::Json {
        return write_json(
            out,
            &serde_json::json!({
                "versions": versions,
                "text": text_diff,
                "one_text_held": text_diff.is_none(),
            }),
        );
    }
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{} {}: version {} (from {}) -> version {} (from {})",
        versions.policy,
        versions.title,
        versions.from.label,
        versions.from.effective,
        versions.to.label,
        versions.to.effective
    );
    if versions.history.is_empty() {
        let _ = writeln!(
            t,
            "The same version is in effect on both dates: nothing changed."
        );
    } else {
        let _ = writeln!(t, "History between them ({} rows):", versions.history.len());
        for h in &versions.history {
            let _ = writeln!(t, "  {:<14} {}  [{}]", h.date, h.action, parts(&h.parts));
        }
        let _ = writeln!(
            t,
            "Parts changed, per the history: {}",
            parts(&versions.parts)
        );
        let _ = writeln!(
            t,
            "Policy statements: {}",
            if versions.statements_unchanged {
                "unchanged (no row changes them)"
            } else {
                "changed (see the rows that name statements)"
            }
        );
    }
    match &text_diff {
        Some(d) => diff::policy_diff_text(d, &mut t),
        None if !versions.history.is_empty() => {
            let _ = writeln!(
                t,
                "The catalogue holds one text of this policy (the current version's): the history says what changed; the texts of both versions are compared when both are held (the service keeps every published revision)."
            );
        }
        None => {}
    }
    out.write_all(t.as_bytes()).context("writing")?;
    Ok(())
}

/// The text of a policy's file, to point findings at lines.
fn policy_text(loaded: &Loaded, dir: Option<&Path>, policy: usize) -> Option<String> {
    let path = &loaded.policy_files[policy];
    match dir {
        Some(_) => std::fs::read_to_string(path).ok(),
        None => crate::bundled::BUNDLED
            .iter()
            .find(|(p, _)| Path::new(p) == path)
            .map(|(_, t)| t.to_string()),
    }
}

pub fn run_lint(args: LintArgs, out: &mut dyn Write) -> Result<()> {
    let mut deny: Vec<&'static str> = Vec::new();
    for d in &args.deny {
        if d == "all" {
            deny.extend(lint::RULES.iter().map(|r| r.id));
            continue;
        }
        match lint::rule(d) {
            Some(r) => deny.push(r.id),
            None => {
                let ids: Vec<&str> = lint::RULES.iter().map(|r| r.id).collect();
                return input(format!(
                    "--deny {d}: no such rule; the rules are {} (or all)",
                    ids.join(", ")
                ));
            }
        }
    }
    let today = today_or(args.today.as_deref())?;
    let loaded = load(args.dir.as_deref())?;
    let findings = lint::lint(&loaded.catalog, today);
    #[derive(serde::Serialize)]
    struct Located {
        file: String,
        line: Option<usize>,
        rule: &'static str,
        level: Level,
        policy: String,
        field: String,
        message: String,
    }
    // Lines, one parse per file with findings (a catalogue can have thousands).
    let mut lines: Vec<Option<usize>> = vec![None; findings.len()];
    let mut by_policy: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for (i, f) in findings.iter().enumerate() {
        by_policy.entry(f.policy).or_default().push(i);
    }
    for (policy, idx) in &by_policy {
        if let Some(text) = policy_text(&loaded, args.dir.as_deref(), *policy) {
            let fields: Vec<&medpol_core::validate::FieldPath> =
                idx.iter().map(|i| &findings[*i].field).collect();
            for (i, line) in idx.iter().zip(medpol_policyfile::lines_of(&text, &fields)) {
                lines[*i] = line;
            }
        }
    }
    let located: Vec<Located> = findings
        .iter()
        .zip(lines)
        .map(|(f, line)| Located {
            file: loaded.policy_files[f.policy].display().to_string(),
            line,
            rule: f.rule,
            level: if deny.contains(&f.rule) {
                Level::Error
            } else {
                f.level
            },
            policy: loaded.catalog.policies[f.policy].key(),
            field: f.field.to_string(),
            message: f.message.clone(),
        })
        .collect();
    let errors = located.iter().filter(|f| f.level == Level::Error).count();
    if args.format == Format::Json {
        write_json(out, &located)?;
    } else {
        let mut t = String::new();
        for f in &located {
            let line = f.line.map(|l| format!(":{l}")).unwrap_or_default();
            let _ = writeln!(
                t,
                "{}{line}: {}[{}]: {}: {}",
                f.file,
                f.level.id(),
                f.rule,
                f.field,
                f.message
            );
        }
        let _ = writeln!(
            t,
            "{} polic{}: {} error{}, {} warning{}",
            loaded.catalog.policies.len(),
            if loaded.catalog.policies.len() == 1 {
                "y"
            } else {
                "ies"
            },
            errors,
            if errors == 1 { "" } else { "s" },
            located.len() - errors,
            if located.len() - errors == 1 { "" } else { "s" },
        );
        out.write_all(t.as_bytes()).context("writing")?;
    }
    if errors > 0 {
        return Err(Failure::Findings(errors));
    }
    Ok(())
}

fn days(s: &str) -> Result<i64> {
    let n = s.strip_suffix('d').unwrap_or(s);
    match n.parse::<i64>() {
        Ok(n) if n >= 0 => Ok(n),
        _ => input(format!(
            "--due-within {s}: expected a number of days, e.g. 60d"
        )),
    }
}

pub fn run_reviews(args: ReviewsArgs, out: &mut dyn Write) -> Result<()> {
    let within = args.due_within.as_deref().map(days).transpose()?;
    let today = today_or(args.today.as_deref())?;
    let loaded = load(args.policies.as_deref())?;
    let entries = review::calendar(&loaded.catalog, today, within);
    if args.format == Format::Json {
        return write_json(out, &entries);
    }
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{:<16} {:<12} {:<12} {:>6}  {:<9} title",
        "policy", "last review", "next due", "days", "state"
    );
    for e in &entries {
        let _ = writeln!(
            t,
            "{:<16} {:<12} {:<12} {:>6}  {:<9} {}",
            e.policy,
            e.last_review_label,
            e.next_due,
            e.days_left,
            e.state.id(),
            e.title
        );
    }
    let _ = writeln!(
        t,
        "{} polic{} as of {today}{}",
        entries.len(),
        if entries.len() == 1 { "y" } else { "ies" },
        within
            .map(|d| format!(", due within {d} days"))
            .unwrap_or_default()
    );
    out.write_all(t.as_bytes()).context("writing")?;
    Ok(())
}

pub fn run_impact(args: ImpactArgs, out: &mut dyn Write) -> Result<()> {
    let current = compile(load(args.policies.as_deref())?)?;
    let proposed = compile(load(Some(&args.proposed))?)?;
    let (reader, name): (Box<dyn Read + Send>, String) = match (&args.claims, &args.decisions) {
        (_, Some(url)) => (
            Box::new(io::Cursor::new(decisions_as_lines(&args, url)?)),
            "decisions.ndjson".into(),
        ),
        (Some(c), None) if c == "-" => (Box::new(io::stdin()), c.clone()),
        (Some(c), None) => (
            Box::new(std::fs::File::open(c).or_else(|e| input(format!("{c}: {e}")))?),
            c.clone(),
        ),
        (None, None) => return input("give --claims FILE or --decisions URL"),
    };
    let mut reader = io::BufReader::with_capacity(1 << 16, reader);
    let head = reader
        .fill_buf()
        .with_context(|| format!("reading {name}"))?
        .to_vec();
    let format = if args.decisions.is_some() {
        medpol_screen::InputFormat::Ndjson
    } else {
        input_format(args.input_format, &name, &head)
    };
    let opts = medpol_screen::Options {
        input: format,
        x12_product: args.product.clone(),
        ..medpol_screen::Options::default()
    };
    let mut changed_file = args
        .changed
        .as_deref()
        .map(PendingFile::create)
        .transpose()?;
    let mut sink = io::sink();
    let changed: &mut dyn Write = match changed_file.as_mut() {
        Some(f) => f,
        None => &mut sink,
    };
    let mut errors_file = args
        .errors
        .as_deref()
        .map(PendingFile::create)
        .transpose()?;
    let mut stderr = io::stderr();
    let errors: &mut dyn Write = match errors_file.as_mut() {
        Some(f) => f,
        None => &mut stderr,
    };
    let started = std::time::Instant::now();
    let result = medpol_screen::impact(
        &current,
        &proposed,
        Box::new(reader) as Box<dyn Read + Send>,
        changed,
        errors,
        &opts,
        &mut |_| {},
    );
    let (summary, report) = match result {
        Ok(r) => r,
        Err(medpol_screen::ScreenError::Input(msg)) => return input(msg),
        Err(medpol_screen::ScreenError::Io(e)) => {
            return Err(Failure::Internal(
                anyhow::Error::from(e).context("replaying the claims"),
            ))
        }
    };
    if let Some(f) = changed_file {
        f.commit()?;
    }
    if let Some(f) = errors_file {
        f.commit()?;
    }
    if args.format == Format::Json {
        return write_json(
            out,
            &serde_json::json!({ "lines_read": summary.lines_read, "bad_lines": summary.bad_lines, "impact": report }),
        );
    }
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{} lines read, {} compared, {} bad; {} change outcome ({:.2}%) in {:.2} s",
        summary.lines_read,
        report.compared,
        summary.bad_lines,
        report.changed,
        if report.compared == 0 {
            0.0
        } else {
            100.0 * report.changed as f64 / report.compared as f64
        },
        started.elapsed().as_secs_f64()
    );
    let _ = writeln!(
        t,
        "flagged: {} before, {} after",
        report.flagged_before, report.flagged_after
    );
    for (what, table) in [
        ("coverage", &report.coverage),
        ("prior authorization", &report.prior_auth),
    ] {
        if !table.is_empty() {
            let _ = writeln!(t, "{what}:");
            for (k, n) in table {
                let _ = writeln!(t, "  {k}: {n}");
            }
        }
    }
    if !report.transitions.is_empty() {
        let _ = writeln!(
            t,
            "{:>8}  {:<14} {:<32} {:<10} {:<36} {:<36} examples",
            "lines", "code", "product", "setting", "coverage", "prior auth"
        );
        for x in &report.transitions {
            let examples: Vec<String> = x
                .examples
                .iter()
                .map(|e| format!("{}#{}", e.id, e.line))
                .collect();
            let _ = writeln!(
                t,
                "{:>8}  {:<14} {:<32} {:<10} {:<36} {:<36} {}",
                x.lines,
                format!("{} {}", x.system, x.code),
                x.product,
                x.setting,
                format!("{} -> {}", x.coverage_before, x.coverage_after),
                format!("{} -> {}", x.prior_auth_before, x.prior_auth_after),
                examples.join(" ")
            );
        }
    }
    out.write_all(t.as_bytes()).context("writing")?;
    Ok(())
}

/// The decisions of a service's log as NDJSON claim lines (one per decided
/// line, the decision id as the claim id), for `impact --decisions`.
fn decisions_as_lines(args: &ImpactArgs, url: &str) -> Result<Vec<u8>> {
    let Some(token) = &args.token else {
        return input("--decisions needs the service's admin token: --token or MEDPOL_ADMIN_TOKEN");
    };
    let mut req = ureq::get(&format!("{}/api/v1/decisions", url.trim_end_matches('/')))
        .set("authorization", &format!("Bearer {token}"))
        .query("limit", "10000");
    if let Some(f) = &args.from {
        req = req.query("from", f);
    }
    if let Some(t) = &args.to {
        req = req.query("to", t);
    }
    let records: Vec<serde_json::Value> = match req.call() {
        Ok(r) => r.into_json().context("reading the decisions")?,
        Err(ureq::Error::Status(code, r)) => {
            let body = r.into_string().unwrap_or_default();
            return input(format!(
                "--decisions {url}: the service answered {code}: {}",
                body.trim()
            ));
        }
        Err(e) => return input(format!("--decisions {url}: {e}")),
    };
    let mut out = Vec::new();
    for r in &records {
        let diagnoses: Vec<&str> = r["clinical"]["diagnoses"]
            .as_array()
            .map(|d| d.iter().filter_map(|c| c["code"].as_str()).collect())
            .unwrap_or_default();
        for (i, l) in r["lines"].as_array().into_iter().flatten().enumerate() {
            let modifiers: Vec<&str> = l["modifiers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m.as_str())
                .collect();
            let line = serde_json::json!({
                "claim_id": r["id"], "line": i + 1, "payer": r["payer"], "product": r["product"],
                "setting": r["setting"], "date_of_service": r["date_of_service"],
                "code": l["code"]["code"], "code_system": l["code"]["system"],
                "modifiers": modifiers.join(";"), "diagnoses": diagnoses.join(";"),
            });
            serde_json::to_writer(&mut out, &line).context("writing")?;
            out.push(b'\n');
        }
    }
    Ok(out)
}
