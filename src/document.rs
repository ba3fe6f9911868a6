//! `medpol import` and `medpol render`: the command-line side of
//! `medpol-document`. Import reads published documents into policy files
//! (validated, written atomically) and accounts for every line; render prints
//! a policy as the published document.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, ValueEnum};
use medpol_core::model::{Payer, Policy};
use medpol_core::validate::{validate_policy, Severity};
use medpol_document::{Format, Importer};

use crate::{input, load, Failure, Result};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Documents in the published format (plain text with tab-separated tables).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The policy directory to write to: `DIR/<payer>/<number>-<title>.toml`, and
    /// `DIR/<payer>/payer.toml` if it is missing.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Refuse a document with unmapped lines (nothing is written for it).
    #[arg(long)]
    pub strict: bool,
    /// The payer of the documents; default: the payer the document's banner names.
    #[arg(long)]
    pub payer: Option<String>,
    /// Where the payers (and their product labels) come from; default: the bundled policies.
    #[arg(long, value_name = "DIR")]
    pub policies: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DocumentFormat {
    /// The published plain-text format (what `medpol import` reads).
    Text,
    /// Markdown with a linked table of contents.
    Markdown,
    /// A standalone HTML page.
    Html,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The policy number, e.g. 183.
    pub number: String,
    /// The payer, when several have a policy with this number.
    #[arg(long)]
    pub payer: Option<String>,
    /// The document as published on this date (YYYY-MM-DD): its history up to then.
    #[arg(long)]
    pub date: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: DocumentFormat,
    /// A directory of policy files; default: the bundled policies.
    #[arg(long, value_name = "DIR")]
    pub policies: Option<PathBuf>,
    /// Write to this file (atomically) instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// One document imported and written.
struct Written {
    policy: String,
    path: PathBuf,
    mapped: usize,
    unmapped: usize,
    /// What the importer settled by rule (for the author to check).
    bindings: Vec<String>,
}

pub fn run_import(args: ImportArgs) -> Result<()> {
    let loaded = load(args.policies.as_deref())?;
    let importer = Importer::new(loaded.catalog.payers.clone());
    let mut seen: HashMap<(String, String), PathBuf> = HashMap::new();
    let mut failed = 0usize;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for file in &args.files {
        match import_one(&importer, file, &args, &mut seen) {
            Ok(w) => {
                writeln!(
                    out,
                    "{}: policy {} -> {} ({} lines mapped, {} unmapped)",
                    file.display(),
                    w.policy,
                    w.path.display(),
                    w.mapped,
                    w.unmapped
                )
                .context("writing")?;
                for b in &w.bindings {
                    writeln!(out, "  rule: {b}").context("writing")?;
                }
            }
            Err(messages) => {
                failed += 1;
                for m in messages {
                    eprintln!("error: {m}");
                }
            }
        }
    }
    out.flush().context("writing")?;
    if failed > 0 {
        return input(format!(
            "{failed} of {} document{} did not import; nothing was written for {}",
            args.files.len(),
            if args.files.len() == 1 { "" } else { "s" },
            if failed == 1 { "it" } else { "them" }
        ));
    }
    Ok(())
}

/// Imports, validates and writes one document; the error is every message
/// about it (each naming the file, and the line where there is one).
fn import_one(
    importer: &Importer,
    file: &Path,
    args: &ImportArgs,
    seen: &mut HashMap<(String, String), PathBuf>,
) -> std::result::Result<Written, Vec<String>> {
    let name = file.display().to_string();
    let bytes = std::fs::read(file).map_err(|e| vec![format!("{name}: cannot read: {e}")])?;
    let text = medpol_document::document_text(&bytes)
        .map_err(|e| vec![format!("{name}: {}", e.problem)])?;
    let imported = importer
        .import(&text, args.payer.as_deref())
        .map_err(|e| vec![format!("{name}:{}: {}", e.line, e.problem)])?;
    for u in &imported.unmapped {
        eprintln!("{name}:{}: unmapped: {}", u.line, u.text);
    }
    if args.strict && !imported.unmapped.is_empty() {
        return Err(vec![format!(
            "{name}: {} unmapped line{} (--strict): expected every line to map to a field",
            imported.unmapped.len(),
            if imported.unmapped.len() == 1 {
                ""
            } else {
                "s"
            }
        )]);
    }
    let policy = imported.policy;
    let Some(payer) = importer.payer(&policy.payer) else {
        return Err(vec![format!("{name}: unknown payer {}", policy.payer)]);
    };
    let mut errors = Vec::new();
    for issue in validate_policy(&policy, Some(payer)) {
        let m = format!(
            "{name}: policy {}: {}: {}",
            policy.key(),
            issue.path,
            issue.message
        );
        match issue.severity {
            Severity::Error => errors.push(m),
            Severity::Warning => eprintln!("warning: {m}"),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let key = (policy.payer.clone(), policy.number.clone());
    if let Some(first) = seen.get(&key) {
        return Err(vec![format!(
            "{name}: policy {} was already imported from {} in this run",
            policy.key(),
            first.display()
        )]);
    }
    let path = write(&args.out, payer, &policy, file)
        .map_err(|e| vec![format!("{name}: writing: {e:#}")])?;
    seen.insert(key, file.to_path_buf());
    Ok(Written {
        policy: format!("{} {}", policy.payer, policy.number),
        path,
        mapped: imported.mapped,
        unmapped: imported.unmapped.len(),
        bindings: imported.bindings.clone(),
    })
}

/// Writes the policy file (and the payer file if the directory has none),
/// each through a temporary file and a rename.
fn write(dir: &Path, payer: &Payer, policy: &Policy, source: &Path) -> anyhow::Result<PathBuf> {
    let payer_dir = dir.join(&payer.id);
    let payer_file = payer_dir.join(medpol_policyfile::PAYER_FILE);
    if !payer_file.exists() {
        medpol_policyfile::write_atomically(&payer_file, &medpol_policyfile::payer_to_toml(payer))
            .with_context(|| format!("writing {}", payer_file.display()))?;
    }
    let path = payer_dir.join(medpol_policyfile::policy_file_name(policy));
    let source_name = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = format!(
        "# Imported by `medpol import` from {source_name}.\n{}",
        medpol_policyfile::policy_to_toml(policy)
    );
    medpol_policyfile::write_atomically(&path, &text)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// The one policy a number (and payer) names, or an input error listing what exists.
pub fn run_render(args: RenderArgs) -> Result<()> {
    let loaded = load(args.policies.as_deref())?;
    let catalog = &loaded.catalog;
    let policy = crate::find_policy(catalog, args.payer.as_deref(), &args.number)?;
    let payer = catalog.payer(&policy.payer).ok_or_else(|| {
        Failure::Input(format!(
            "no payer {} for policy {}",
            policy.payer,
            policy.key()
        ))
    })?;
    let view = match &args.date {
        Some(d) => {
            let date = medpol_core::model::iso_date::parse(d)
                .or_else(|e| input(format!("--date: {e}")))?;
            match medpol_document::as_of(policy, date) {
                Some(p) => p,
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
        None => policy.clone(),
    };
    let format = match args.format {
        DocumentFormat::Text => Format::Text,
        DocumentFormat::Markdown => Format::Markdown,
        DocumentFormat::Html => Format::Html,
    };
    let doc = medpol_document::render(&view, payer, format);
    match &args.out {
        Some(path) => medpol_policyfile::write_atomically(path, &doc)
            .with_context(|| format!("writing {}", path.display()))?,
        None => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            out.write_all(doc.as_bytes()).context("writing")?;
            out.flush().context("writing")?;
        }
    }
    Ok(())
}
