//! The document parser: lines → sections → the fields of a [`Policy`].
//!
//! One pass over the lines. A heading switches the section; each section
//! has its own handler (`policy`, `coding`, `tail`), which either maps a line
//! to a field or leaves it unmapped. Fields the document states only
//! implicitly (ids, the effective date, the Medicare note, a code table's
//! products) are settled in [`Draft::finish`], once everything is read.
//!
//! Every non-blank line is counted exactly once: mapped (to a field, or to
//! the document's structure: headings, the table of contents, table headers,
//! the banner) or unmapped, with its number.

mod coding;
mod criteria;
mod policy;
mod tail;

pub(crate) use coding::is_codes_heading;
pub(crate) use criteria::combine as criteria_combine;

use chrono::NaiveDate;
use medpol_core::model::{
    AllPoliciesInfo, ExternalReference, HistoryEntry, Note, Payer, Policy, PriorAuthRule,
    Reference, RelatedPolicy,
};

use crate::error::{ImportError, Problem};
use crate::labels::Labels;
use crate::lines::{fold, Line};
use crate::{derive, Imported, Unmapped};

/// The sections of the published format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    /// The banner, before any heading.
    Preamble,
    Contents,
    Related,
    Policy,
    PriorAuth,
    Coding,
    Description,
    Summary,
    History,
    AllPolicies,
    References,
    Notes,
}

/// A heading line and the section it opens (with its printed text where the
/// model keeps it).
fn section_heading(text: &str, current: Section) -> Option<(Section, Option<&str>)> {
    // Headings are short lines without tabs; most lines are neither, and
    // are rejected before anything is allocated.
    if text.len() > 160 || text.contains('\t') {
        return None;
    }
    let bare = text.trim_start_matches('#').trim();
    let key = fold(bare.trim_end_matches(':'));
    let section = match key.as_str() {
        "table of contents" | "contents" => Section::Contents,
        "related policies" | "related policy" => Section::Related,
        "policy" | "policy statement" | "policy statements" => Section::Policy,
        "prior authorization information" | "authorization information" => Section::PriorAuth,
        "coding information" => Section::Coding,
        "description" | "background" => Section::Description,
        "summary" | "summary of evidence" => Section::Summary,
        "policy history" | "history" => Section::History,
        "references" => Section::References,
        "notes" => Section::Notes,
        k if k.starts_with("information pertaining to all") => {
            return Some((Section::AllPolicies, Some(bare)))
        }
        _ if current != Section::Coding && coding::is_codes_heading(bare) => {
            return Some((Section::Coding, Some(bare)))
        }
        _ => return None,
    };
    Some((section, None))
}

/// A policy statement as read, before its products and id are settled.
#[derive(Debug)]
struct StatementDraft {
    line: usize,
    heading: Heading,
    text: String,
    criteria: Vec<criteria::ItemLine>,
    /// From a `Products:` line, which wins over the heading.
    products: Option<Vec<String>>,
    /// From an `Indication:` line, which wins over the text.
    indication: Option<Option<String>>,
    /// From a `Status:` line, which wins over the text.
    status: Option<medpol_core::model::CoverageStatus>,
    code_lists: Vec<String>,
    diagnoses: Vec<String>,
    /// From `Diagnosis tables:`, `Other indications:`, `Criteria match:`.
    diagnosis_lists: Vec<String>,
    other_indications: Option<bool>,
    criteria_match: Option<medpol_core::model::Combine>,
}

/// The member heading statements sit under.
#[derive(Debug, Clone)]
enum Heading {
    None,
    Known {
        text: String,
        products: Vec<String>,
    },
    /// A heading-like line that names no product: an error if a statement follows.
    Unknown {
        line: usize,
        text: String,
    },
}

/// A code table as read.
#[derive(Debug)]
struct ListDraft {
    heading: Option<(usize, String)>,
    statement: Option<(usize, String)>,
    system: Option<medpol_core::CodeSystem>,
    columns: Vec<String>,
    codes: Vec<medpol_core::model::CodeEntry>,
    has_table: bool,
}

/// Everything read so far.
struct Draft<'p> {
    payer: &'p Payer,
    labels: &'p Labels,
    section: Section,
    prev_blank: bool,
    mapped: usize,
    unmapped: Vec<Unmapped>,
    last_line: usize,

    title: Option<(usize, String)>,
    number: Option<String>,
    effective: Option<NaiveDate>,
    retired: Option<NaiveDate>,
    external: Vec<ExternalReference>,
    related: Vec<RelatedPolicy>,
    description: Vec<String>,
    summary: Vec<String>,

    policy_line: Option<usize>,
    heading: Heading,
    /// Whether the last non-blank line of the policy section was a member
    /// heading: a heading right after another stacks onto it.
    after_heading: bool,
    statements: Vec<StatementDraft>,
    /// Whether the previous line of the policy section was statement text
    /// (so that a wrapped statement continues).
    in_statement: bool,

    prior_auth: Vec<PriorAuthRule>,
    setting: Option<usize>,
    /// The rule each column of the open prior-authorization table feeds.
    pa_columns: Option<Vec<usize>>,

    coding_heading: Option<String>,
    pending: Vec<(usize, String)>,
    lists: Vec<ListDraft>,
    open_list: Option<usize>,
    in_code_table: bool,
    coding_notes: Vec<Note>,

    explicit_notes: Vec<Note>,
    in_note: bool,
    all_policies: Option<AllPoliciesInfo>,
    history_line: Option<usize>,
    history: Vec<HistoryEntry>,
    references: Vec<Reference>,
}

type Step = Result<bool, ImportError>;

fn err<T>(line: usize, problem: Problem) -> Result<T, ImportError> {
    Err(ImportError { line, problem })
}

/// A line as an error message shows it: trimmed, tabs visible.
fn shown(text: &str) -> String {
    text.trim().replace('\t', "\\t")
}

/// Text after a bullet (`- `, `• `, `* `), if the line is one.
fn bullet(text: &str) -> Option<&str> {
    let t = text.trim_start();
    if t.starts_with("**") {
        return None;
    }
    ["- ", "• ", "* ", "– "]
        .iter()
        .find_map(|b| t.strip_prefix(b))
        .map(str::trim)
}

/// `Key: value` with the key folded, for the few keyed lines of the format.
fn keyed(text: &str) -> Option<(String, &str)> {
    let (k, v) = text.split_once(':')?;
    if k.len() > 40 || k.contains('\t') {
        return None;
    }
    Some((fold(k), v.trim()))
}

/// Identifies the payer of a document from its banner: a line equal to a
/// payer's licensee statement, else the longest payer name a banner line
/// contains; failing that, the "Information Pertaining to All …" heading.
pub fn identify_payer(lines: &[Line<'_>], payers: &[(Payer, Labels)]) -> Option<usize> {
    let mut banner: Vec<String> = Vec::new();
    let mut section = Section::Preamble;
    for l in lines {
        if let Some((s, _)) = section_heading(l.text, section) {
            if s != Section::Contents {
                break;
            }
            section = s;
        } else if !l.is_blank() {
            banner.push(fold(l.text));
        }
    }
    let licensee = |line: &String| {
        payers.iter().position(|(p, _)| {
            p.licensee_statement
                .as_deref()
                .is_some_and(|s| fold(s) == *line)
        })
    };
    let by_name = |folded: &str| {
        payers
            .iter()
            .enumerate()
            .filter(|(_, (p, _))| contains_words(folded, &fold(&p.name)))
            .max_by_key(|(_, (p, _))| p.name.len())
            .map(|(i, _)| i)
    };
    banner
        .iter()
        .find_map(licensee)
        .or_else(|| banner.iter().find_map(|l| by_name(l)))
        .or_else(|| {
            // No banner names a payer: the "Information Pertaining to All …" heading may.
            let mut section = Section::Preamble;
            lines.iter().find_map(|l| {
                let (s, text) = section_heading(l.text, section)?;
                section = s;
                (s == Section::AllPolicies).then(|| by_name(&fold(text?)))?
            })
        })
}

/// Whether `needle` occurs in `hay` as whole words.
fn contains_words(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    let mut from = 0;
    while let Some(i) = hay[from..].find(needle) {
        let at = from + i;
        let end = at + needle.len();
        let before_ok = !hay[..at]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric);
        let after_ok = !hay[end..].chars().next().is_some_and(char::is_alphanumeric);
        if before_ok && after_ok {
            return true;
        }
        from = at + needle.chars().next().map_or(1, char::len_utf8);
    }
    false
}

/// Parses the lines of a document for a known payer.
pub fn parse(lines: &[Line<'_>], payer: &Payer, labels: &Labels) -> Result<Imported, ImportError> {
    let mut d = Draft::new(payer, labels);
    for l in lines {
        d.last_line = l.number;
        if l.is_blank() {
            d.blank();
            continue;
        }
        let mapped = d.line(l)?;
        if mapped {
            d.mapped += 1;
        } else {
            d.unmapped.push(Unmapped {
                line: l.number,
                text: l.text.to_string(),
            });
        }
        d.prev_blank = false;
    }
    d.finish()
}

impl<'p> Draft<'p> {
    fn new(payer: &'p Payer, labels: &'p Labels) -> Draft<'p> {
        Draft {
            payer,
            labels,
            section: Section::Preamble,
            prev_blank: true,
            mapped: 0,
            unmapped: Vec::new(),
            last_line: 0,
            title: None,
            number: None,
            effective: None,
            retired: None,
            external: Vec::new(),
            related: Vec::new(),
            description: Vec::new(),
            summary: Vec::new(),
            policy_line: None,
            heading: Heading::None,
            after_heading: false,
            statements: Vec::new(),
            in_statement: false,
            prior_auth: Vec::new(),
            setting: None,
            pa_columns: None,
            coding_heading: None,
            pending: Vec::new(),
            lists: Vec::new(),
            open_list: None,
            in_code_table: false,
            coding_notes: Vec::new(),
            explicit_notes: Vec::new(),
            in_note: false,
            all_policies: None,
            history_line: None,
            history: Vec::new(),
            references: Vec::new(),
        }
    }

    fn blank(&mut self) {
        self.prev_blank = true;
        self.in_statement = false;
        self.in_note = false;
    }

    /// Reads one non-blank line; `Ok(true)` if it mapped.
    fn line(&mut self, l: &Line<'_>) -> Step {
        if let Some((section, text)) = section_heading(l.text, self.section) {
            self.enter(section, text, l.number);
            return Ok(true);
        }
        if !l.text.contains('\t') {
            if let Some(mapped) = self.header_field(l)? {
                return Ok(mapped);
            }
        }
        match self.section {
            Section::Preamble | Section::Contents => Ok(self.preamble(l)),
            Section::Related => Ok(self.related_line(l.text)),
            Section::Policy => self.policy_line(l),
            Section::PriorAuth => self.prior_auth_line(l),
            Section::Coding => self.coding_line(l),
            Section::Description | Section::Summary => Ok(self.prose_line(l.text)),
            Section::History => self.history_row(l),
            Section::AllPolicies => Ok(self.all_policies_line(l.text)),
            Section::References => Ok(self.reference_line(l.text)),
            Section::Notes => self.note_line(l),
        }
    }

    fn enter(&mut self, section: Section, text: Option<&str>, line: usize) {
        if self.section == Section::Coding && section != Section::Coding {
            self.close_coding();
        }
        self.section = section;
        self.after_heading = false;
        self.in_statement = false;
        self.in_note = false;
        self.pa_columns = None;
        self.in_code_table = false;
        match section {
            Section::Policy => {
                self.policy_line.get_or_insert(line);
                self.heading = Heading::None;
            }
            Section::Coding => {
                if let Some(t) = text {
                    self.coding_heading.get_or_insert_with(|| t.to_string());
                }
            }
            Section::History => {
                self.history_line.get_or_insert(line);
            }
            Section::AllPolicies => {
                if let Some(t) = text {
                    self.all_policies.get_or_insert_with(|| AllPoliciesInfo {
                        heading: t.to_string(),
                        intro: None,
                        links: Vec::new(),
                    });
                }
            }
            _ => {}
        }
    }

    /// The keyed lines of the header, wherever they stand: `Policy Number:`,
    /// `<Org> Reference Number:`, `Effective Date:`, `Retired Date:`, and the
    /// title line at the top. `None` if the line is none of them.
    fn header_field(&mut self, l: &Line<'_>) -> Result<Option<bool>, ImportError> {
        if matches!(self.section, Section::Preamble | Section::Contents) && self.title.is_none() {
            if let Some(rest) = l.text.strip_prefix("Medical Policy") {
                let title = rest.trim_start_matches(':').trim();
                if !title.is_empty() && rest.starts_with([' ', ':']) {
                    self.title = Some((l.number, title.to_string()));
                    return Ok(Some(true));
                }
            }
        }
        let Some((key, value)) = keyed(l.text) else {
            return Ok(None);
        };
        let day = |what: &'static str| -> Result<NaiveDate, ImportError> {
            derive::parse_day(value).map_or_else(
                || {
                    err(
                        l.number,
                        Problem::BadValue {
                            what,
                            found: value.to_string(),
                            expected: "a day M/D/YYYY (e.g. 5/1/2010)".into(),
                        },
                    )
                },
                Ok,
            )
        };
        match key.as_str() {
            "policy number" => {
                let ok = !value.is_empty()
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
                if !ok {
                    return err(
                        l.number,
                        Problem::BadValue {
                            what: "policy number",
                            found: value.to_string(),
                            expected: "letters, digits, '.' and '-' (e.g. 183)".into(),
                        },
                    );
                }
                self.number = Some(value.to_string());
                Ok(Some(true))
            }
            "effective date" => {
                self.effective = Some(day("effective date")?);
                Ok(Some(true))
            }
            "retired date" => {
                self.retired = Some(day("retired date")?);
                Ok(Some(true))
            }
            k if k.ends_with(" reference number") => {
                let organization = &l.text[..l.text.find(" Reference Number").unwrap_or(0)];
                let words = organization.split_whitespace().count();
                if !(1..=4).contains(&words) || value.is_empty() {
                    return Ok(None);
                }
                let (number, note) = match value.split_once(" (") {
                    Some((n, rest)) => (n.trim(), Some(rest.trim_end_matches(')').trim())),
                    None => (value, None),
                };
                self.external.push(ExternalReference {
                    organization: organization.trim().to_string(),
                    number: number.to_string(),
                    note: note.filter(|n| !n.is_empty()).map(str::to_string),
                });
                Ok(Some(true))
            }
            _ => Ok(None),
        }
    }

    /// The banner and the table of contents: structure, not fields.
    fn preamble(&mut self, l: &Line<'_>) -> bool {
        if self.section == Section::Contents {
            return bullet(l.text).is_some();
        }
        let folded = fold(l.text);
        let payer = self.payer;
        payer.region.as_deref().is_some_and(|r| fold(r) == folded)
            || payer
                .licensee_statement
                .as_deref()
                .is_some_and(|s| fold(s) == folded)
            || contains_words(&folded, &fold(&payer.name))
    }

    /// Finishes the policy: settles what depends on the whole document.
    fn finish(mut self) -> Result<Imported, ImportError> {
        self.close_coding();
        let Some((title_line, title)) = self.title.take() else {
            return err(1, Problem::NoTitle);
        };
        let Some(number) = self.number.take() else {
            return err(title_line, Problem::NoNumber);
        };
        if self.statements.is_empty() {
            return err(
                self.policy_line.unwrap_or(self.last_line.max(1)),
                Problem::NoStatement,
            );
        }
        let code_lists = self.settle_code_lists()?;
        let statements = self.settle_statements()?;
        let code_lists = Draft::settle_list_products(code_lists, &statements);
        let mut statements = statements;
        let bindings = derive::bind_indications(self.payer, &mut statements, &code_lists);
        if self.retired.is_none() {
            self.retired = derive::retired_from_history(&self.history);
        }
        let effective = match self
            .effective
            .or_else(|| derive::effective_from_history(&self.history))
        {
            Some(e) => e,
            None => {
                return err(
                    self.history_line.unwrap_or(title_line),
                    Problem::NoEffective,
                )
            }
        };
        let mut notes = std::mem::take(&mut self.coding_notes);
        if let Some(n) = derive::medicare_note(&self.history, &self.references, self.payer) {
            if !self.explicit_notes.iter().any(|e| e.text == n.text) {
                notes.push(n);
            }
        }
        notes.append(&mut self.explicit_notes);
        let policy = Policy {
            payer: self.payer.id.clone(),
            number,
            title,
            effective,
            retired: self.retired,
            in_force_from: None,
            external_references: self.external,
            related_policies: self.related,
            description: self.description.join("\n\n"),
            summary: self.summary.join("\n\n"),
            statements,
            prior_auth: self.prior_auth,
            coding_heading: self.coding_heading,
            code_lists,
            notes,
            all_policies: self.all_policies,
            history: self.history,
            references: self.references,
        };
        Ok(Imported {
            policy,
            mapped: self.mapped,
            unmapped: self.unmapped,
            bindings,
        })
    }
}
