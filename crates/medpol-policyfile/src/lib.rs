//! The policy-file adapter: one human-editable TOML file per policy, one
//! `payer.toml` per payer, under `policies/<payer>/`.
//!
//! The file format *is* the serde form of [`medpol_core::model`]: the loader
//! deserializes files straight into the model, runs the core's validators, and
//! turns each problem's field path into a file and line by re-reading the
//! file with spans (only when there is a problem to place). The writer is the
//! same serde form, so what [`policy_to_toml`] writes loads back unchanged.
//!
//! Loading never half-succeeds: either every file is valid and a whole
//! [`Catalog`] comes back, or the caller gets every error found, each with
//! its file and line.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use medpol_core::model::{Catalog, Payer, Policy};
use medpol_core::validate::{self, FieldPath, Issue, Segment, Severity, Subject};
use rayon::prelude::*;

/// A file's text and the path to report it by.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
}

/// A problem in a policy set, located in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: PathBuf,
    /// 1-based line, when the problem has a place in the file.
    pub line: Option<usize>,
    /// The field, in file-format key names (e.g. `statement[0].products[1]`).
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": {}: ", self.severity)?;
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// A policy set that did not load: every diagnostic found (errors first).
#[derive(Debug, Clone, thiserror::Error)]
pub struct LoadError {
    pub diagnostics: Vec<Diagnostic>,
}

impl LoadError {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors().count();
        write!(
            f,
            "{n} error{} in the policy files",
            if n == 1 { "" } else { "s" }
        )?;
        for d in &self.diagnostics {
            write!(f, "\n{d}")?;
        }
        Ok(())
    }
}

/// A valid policy set.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub catalog: Catalog,
    /// The file of each payer, parallel to `catalog.payers`.
    pub payer_files: Vec<PathBuf>,
    /// The file of each policy, parallel to `catalog.policies`.
    pub policy_files: Vec<PathBuf>,
    pub warnings: Vec<Diagnostic>,
}

/// The name a payer file must have.
pub const PAYER_FILE: &str = "payer.toml";

/// Reads every `.toml` file under `dir`, sorted by path so that loading is
/// deterministic.
pub fn read_dir(dir: &Path) -> Result<Vec<Source>, LoadError> {
    list_paths(dir)?
        .into_par_iter()
        .map(|path| match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Source { path, text }),
            Err(e) => Err(io_error(&path, e)),
        })
        .collect()
}

fn io_error(path: &Path, e: std::io::Error) -> LoadError {
    LoadError {
        diagnostics: vec![Diagnostic {
            severity: Severity::Error,
            file: path.to_path_buf(),
            line: None,
            field: None,
            message: format!("cannot read: {e}"),
        }],
    }
}

/// Every `.toml` file under `dir` (hidden entries skipped), sorted.
fn list_paths(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let mut paths = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| io_error(&d, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io_error(&d, e))?;
            let path = entry.path();
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let ft = entry.file_type().map_err(|e| io_error(&path, e))?;
            if ft.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") {
                paths.push(path);
            }
        }
    }
    paths.sort();
    Ok(paths)
}

/// Reads and loads a policy directory.
pub fn load_dir(dir: &Path) -> Result<Loaded, LoadError> {
    if !dir.is_dir() {
        return Err(LoadError {
            diagnostics: vec![Diagnostic {
                severity: Severity::Error,
                file: dir.to_path_buf(),
                line: None,
                field: None,
                message: "not a directory of policy files (expected <payer>/payer.toml and <payer>/<number>-<title>.toml)".into(),
            }],
        });
    }
    let paths = list_paths(dir)?;
    let (payer_paths, policy_paths): (Vec<PathBuf>, Vec<PathBuf>) =
        paths.into_iter().partition(|p| is_payer_file(p));
    let payers = payer_paths
        .into_iter()
        .map(|path| match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Source { path, text }),
            Err(e) => Err(io_error(&path, e)),
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Policy files are read one at a time into a buffer each worker reuses,
    // parsed, validated and dropped: holding every file's text (140 MB for
    // 10,000 policies) cost more in fresh pages than the reading itself.
    // A file is read again only to place a problem found across files.
    let read = |i: usize, buf: &mut String| -> Result<(), Diagnostic> {
        use std::io::Read;
        buf.clear();
        std::fs::File::open(&policy_paths[i])
            .and_then(|mut f| f.read_to_string(buf))
            .map(|_| ())
            .map_err(|e| io_error(&policy_paths[i], e).diagnostics.remove(0))
    };
    load_with(payers, &policy_paths, &read)
}

enum Parsed {
    Payer(Payer),
    Policy(Box<Policy>),
    Failed(Diagnostic),
}

fn is_payer_file(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == PAYER_FILE)
}

fn parse(source: &Source) -> Parsed {
    let result = if is_payer_file(&source.path) {
        toml::from_str::<Payer>(&source.text).map(Parsed::Payer)
    } else {
        toml::from_str::<Policy>(&source.text).map(|p| Parsed::Policy(Box::new(p)))
    };
    result.unwrap_or_else(|e| {
        Parsed::Failed(Diagnostic {
            severity: Severity::Error,
            file: source.path.clone(),
            line: e.span().map(|s| line_of(&source.text, s.start)),
            field: None,
            message: e.message().trim().to_string(),
        })
    })
}

/// One policy file on its own (a publication through the service, say):
/// parsed and validated against its payer, each problem located by line and
/// field as [`load_sources`] would; `payers` finds the policy's payer by id.
/// Returns the policy and its warnings, or every diagnostic when there is an
/// error.
pub fn parse_policy<'p>(
    source: &Source,
    payers: impl Fn(&str) -> Option<&'p Payer>,
) -> Result<(Policy, Vec<Diagnostic>), Vec<Diagnostic>> {
    let policy = match toml::from_str::<Policy>(&source.text) {
        Ok(p) => p,
        Err(e) => {
            return Err(vec![Diagnostic {
                severity: Severity::Error,
                file: source.path.clone(),
                line: e.span().map(|s| line_of(&source.text, s.start)),
                field: None,
                message: e.message().trim().to_string(),
            }])
        }
    };
    let issues = validate::validate_policy(&policy, payers(&policy.payer));
    let locator = Locator::new(&source.text);
    let diagnostics: Vec<Diagnostic> = issues
        .into_iter()
        .map(|issue| locator.locate(source, issue))
        .collect();
    if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        Err(diagnostics)
    } else {
        Ok((policy, diagnostics))
    }
}

/// Loads a policy set from sources: parses every file, validates every payer
/// and policy, then what spans them.
pub fn load_sources(sources: Vec<Source>) -> Result<Loaded, LoadError> {
    let (payers, policies): (Vec<Source>, Vec<Source>) =
        sources.into_iter().partition(|s| is_payer_file(&s.path));
    let paths: Vec<PathBuf> = policies.iter().map(|s| s.path.clone()).collect();
    let read = |i: usize, buf: &mut String| -> Result<(), Diagnostic> {
        buf.clear();
        buf.push_str(&policies[i].text);
        Ok(())
    };
    load_with(payers, &paths, &read)
}

/// What one policy file gave: the policy (if it parsed) and its problems.
struct PolicyFile {
    policy: Option<Policy>,
    diagnostics: Vec<Diagnostic>,
}

/// The loader: payer files given whole, policy files read by index into a
/// reused buffer (`read`), in parallel, each parsed, checked against its
/// directory's payer and validated while its text is at hand.
fn load_with(
    payer_sources: Vec<Source>,
    policy_paths: &[PathBuf],
    read: &(dyn Fn(usize, &mut String) -> Result<(), Diagnostic> + Sync),
) -> Result<Loaded, LoadError> {
    let mut diagnostics = Vec::new();
    let mut catalog = Catalog::default();
    let mut payer_files = Vec::new();
    for source in &payer_sources {
        match parse(source) {
            Parsed::Payer(payer) => {
                catalog.payers.push(payer);
                payer_files.push(source);
            }
            Parsed::Failed(d) => diagnostics.push(d),
            Parsed::Policy(_) => unreachable!("payer files parse as payers"),
        }
    }
    for (payer, source) in catalog.payers.iter().zip(&payer_files) {
        for issue in validate::validate_payer(payer) {
            diagnostics.push(locate(source, issue));
        }
    }
    let payers = &catalog.payers;
    let files: Vec<PolicyFile> = (0..policy_paths.len())
        .into_par_iter()
        .map_init(String::new, |buf, i| {
            let path = &policy_paths[i];
            if let Err(d) = read(i, buf) {
                return PolicyFile { policy: None, diagnostics: vec![d] };
            }
            let source = Source { path: path.clone(), text: std::mem::take(buf) };
            let out = match parse(&source) {
                Parsed::Policy(policy) => {
                    let mut issues = Vec::new();
                    // A policy in a payer's directory belongs to that payer.
                    let dir_payer = payers
                        .iter()
                        .zip(&payer_files)
                        .find(|(_, s)| s.path.parent() == path.parent())
                        .map(|(p, _)| p.id.as_str());
                    if let Some(dir_payer) = dir_payer {
                        if dir_payer != policy.payer {
                            issues.push(Issue {
                                severity: Severity::Error,
                                path: FieldPath::root().key("payer"),
                                message: format!(
                                    "this file is in the directory of payer `{dir_payer}` but names payer `{}`",
                                    policy.payer
                                ),
                                other: None,
                            });
                        }
                    }
                    let payer = payers.iter().find(|p| p.id == policy.payer);
                    issues.extend(validate::validate_policy(&policy, payer));
                    let diagnostics = if issues.is_empty() {
                        Vec::new()
                    } else {
                        let locator = Locator::new(&source.text);
                        issues.into_iter().map(|issue| locator.locate(&source, issue)).collect()
                    };
                    PolicyFile { policy: Some(*policy), diagnostics }
                }
                Parsed::Failed(d) => PolicyFile { policy: None, diagnostics: vec![d] },
                Parsed::Payer(_) => unreachable!("policy files parse as policies"),
            };
            *buf = source.text;
            out
        })
        .collect();
    let mut policy_files: Vec<usize> = Vec::new();
    for (i, f) in files.into_iter().enumerate() {
        diagnostics.extend(f.diagnostics);
        if let Some(p) = f.policy {
            catalog.policies.push(p);
            policy_files.push(i);
        }
    }

    let text_of = |subject: Subject| -> Source {
        match subject {
            Subject::Payer(i) => payer_files[i].clone(),
            Subject::Policy(i) => {
                let k = policy_files[i];
                let mut text = String::new();
                let _ = read(k, &mut text);
                Source {
                    path: policy_paths[k].clone(),
                    text,
                }
            }
        }
    };
    // Problems across files, grouped by file: each file read and parsed
    // once to place all of its problems.
    let mut by_subject: Vec<(Subject, Vec<Issue>)> = Vec::new();
    let mut index: std::collections::HashMap<Subject, usize> = Default::default();
    for (subject, issue) in validate::validate_across(&catalog) {
        let i = *index.entry(subject).or_insert_with(|| {
            by_subject.push((subject, Vec::new()));
            by_subject.len() - 1
        });
        by_subject[i].1.push(issue);
    }
    for (subject, issues) in by_subject {
        let source = text_of(subject);
        let locator = Locator::new(&source.text);
        for issue in issues {
            let other = issue.other;
            let mut d = locator.locate(&source, issue);
            if let Some(other) = other {
                let path = match other {
                    Subject::Payer(i) => payer_files[i].path.clone(),
                    Subject::Policy(i) => policy_paths[policy_files[i]].clone(),
                };
                d.message.push_str(&format!("; see {}", path.display()));
            }
            diagnostics.push(d);
        }
    }

    diagnostics.sort_by(|a, b| {
        (std::cmp::Reverse(a.severity), &a.file, a.line).cmp(&(
            std::cmp::Reverse(b.severity),
            &b.file,
            b.line,
        ))
    });
    if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        return Err(LoadError { diagnostics });
    }
    Ok(Loaded {
        catalog,
        payer_files: payer_files.iter().map(|s| s.path.clone()).collect(),
        policy_files: policy_files
            .iter()
            .map(|&k| policy_paths[k].clone())
            .collect(),
        warnings: diagnostics,
    })
}

fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Finds where a field is in one file's text: the TOML is parsed once and
/// line starts are indexed once, however many issues the file has (a file
/// with thousands of warnings used to be re-parsed for each).
struct Locator<'t> {
    root: Option<toml::Spanned<toml::de::DeTable<'t>>>,
    /// Offsets of the line breaks.
    breaks: Vec<usize>,
}

impl<'t> Locator<'t> {
    fn new(text: &'t str) -> Locator<'t> {
        Locator {
            root: toml::de::DeTable::parse(text).ok(),
            breaks: text
                .bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i)
                .collect(),
        }
    }

    /// The 1-based line holding byte `offset`.
    fn line(&self, offset: usize) -> usize {
        self.breaks.partition_point(|b| *b < offset) + 1
    }

    fn locate(&self, source: &Source, issue: Issue) -> Diagnostic {
        let span = self.span(&issue.path);
        Diagnostic {
            severity: issue.severity,
            file: source.path.clone(),
            line: span.map(|s| self.line(s.start)),
            field: (!issue.path.0.is_empty()).then(|| issue.path.to_string()),
            message: issue.message,
        }
    }

    /// See [`span_of`].
    fn span(&self, path: &FieldPath) -> Option<Range<usize>> {
        use toml::de::{DeTable, DeValue};
        let root = self.root.as_ref()?;
        let mut best: Option<Range<usize>> = None;
        let mut table: Option<&DeTable> = Some(root.get_ref());
        let mut value: Option<&DeValue> = None;
        for seg in &path.0 {
            match seg {
                Segment::Key(k) => {
                    let t = match (table, value) {
                        (Some(t), None) => t,
                        (_, Some(DeValue::Table(t))) => t,
                        _ => break,
                    };
                    let Some((key, v)) = t.iter().find(|(key, _)| key.get_ref().as_ref() == *k)
                    else {
                        break;
                    };
                    best = Some(if v.span().start < key.span().start {
                        key.span()
                    } else {
                        v.span()
                    });
                    table = None;
                    value = Some(v.get_ref());
                }
                Segment::Index(i) => {
                    let Some(DeValue::Array(a)) = value else {
                        break;
                    };
                    let Some(v) = a.get(*i) else { break };
                    best = Some(v.span());
                    value = Some(v.get_ref());
                }
            }
        }
        best
    }
}

fn locate(source: &Source, issue: Issue) -> Diagnostic {
    Locator::new(&source.text).locate(source, issue)
}

/// The byte range of the value at `path` in a TOML text, or of the nearest
/// enclosing value that exists (a missing key is reported at its table).
pub fn span_of(text: &str, path: &FieldPath) -> Option<Range<usize>> {
    Locator::new(text).span(path)
}

/// The 1-based line of each field in a TOML text (of the nearest enclosing
/// value that exists, as [`span_of`]), the text parsed once for them all.
pub fn lines_of(text: &str, paths: &[&FieldPath]) -> Vec<Option<usize>> {
    let locator = Locator::new(text);
    paths
        .iter()
        .map(|p| locator.span(p).map(|s| locator.line(s.start)))
        .collect()
}

/// A policy as the text of its file.
pub fn policy_to_toml(policy: &Policy) -> String {
    toml::to_string_pretty(policy).expect("a policy always serializes to TOML")
}

/// A payer as the text of its `payer.toml`.
pub fn payer_to_toml(payer: &Payer) -> String {
    toml::to_string_pretty(payer).expect("a payer always serializes to TOML")
}

/// The file name for a policy: its number and a slug of its title.
pub fn policy_file_name(policy: &Policy) -> String {
    let mut slug = String::new();
    for c in policy.title.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 48 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        format!("{}.toml", policy.number)
    } else {
        format!("{}-{slug}.toml", policy.number)
    }
}

/// Writes a catalogue as a policy directory: `<dir>/<payer>/payer.toml` and
/// one file per policy. Each file is written to a temporary name and renamed,
/// so a reader never sees a half-written file.
pub fn write_catalog(catalog: &Catalog, dir: &Path) -> std::io::Result<usize> {
    let mut files = Vec::with_capacity(catalog.payers.len() + catalog.policies.len());
    for payer in &catalog.payers {
        files.push((dir.join(&payer.id).join(PAYER_FILE), payer_to_toml(payer)));
    }
    for policy in &catalog.policies {
        files.push((
            dir.join(&policy.payer).join(policy_file_name(policy)),
            policy_to_toml(policy),
        ));
    }
    for payer in &catalog.payers {
        std::fs::create_dir_all(dir.join(&payer.id))?;
    }
    files
        .par_iter()
        .map(|(path, text)| write_atomically(path, text))
        .collect::<std::io::Result<Vec<()>>>()?;
    Ok(files.len())
}

/// Writes `text` to `path` through a temporary file in the same directory.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests;
