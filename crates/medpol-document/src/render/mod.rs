//! Policies as published documents.
//!
//! A policy is first laid out as a [`Doc`] (banner, title, table of
//! contents, header lines, sections of blocks), in the order and wording of
//! the published format; the writers then print that layout as text (the
//! published format itself), Markdown or HTML. The layout prints every field
//! the importer cannot derive from the rest, so that importing the text
//! gives the policy back.

mod html;
mod text;

use chrono::NaiveDate;
use medpol_core::model::{CoverageStatement, Market, Note, NoteKind, Payer, Policy, Reference};

use crate::labels::Labels;
use crate::{derive, status};

/// The output formats of [`render`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The published plain-text format, which `medpol import` reads back.
    Text,
    /// The text with Markdown headings, tables, anchors and links.
    Markdown,
    /// A standalone HTML page.
    Html,
}

/// Prints a policy of `payer` as a document.
pub fn render(policy: &Policy, payer: &Payer, format: Format) -> String {
    let doc = layout(policy, payer);
    match format {
        Format::Text => text::text(&doc),
        Format::Markdown => text::markdown(&doc),
        Format::Html => html::html(&doc),
    }
}

/// The published layout as two HTML fragments, the table of contents and
/// the body, for a page that has its own frame (the service's web pages).
pub fn html_fragments(policy: &Policy, payer: &Payer) -> (String, String) {
    html::fragments(&layout(policy, payer))
}

/// The policy as published on `date`: its history up to that day. `None`
/// if the policy was not in effect then.
pub fn as_of(policy: &Policy, date: NaiveDate) -> Option<Policy> {
    policy.version_on(date)?;
    let mut p = policy.clone();
    p.history.retain(|h| h.date.start() <= date);
    Some(p)
}

/// A document's layout.
#[derive(Debug)]
struct Doc {
    banner: Vec<String>,
    title: String,
    header: Vec<String>,
    sections: Vec<Section>,
}

#[derive(Debug)]
struct Section {
    /// The anchor id in Markdown and HTML.
    id: &'static str,
    heading: String,
    /// The table-of-contents entry, if the section has one.
    toc: Option<String>,
    /// 2 for sections, 3 for subsections (Summary).
    level: u8,
    blocks: Vec<Block>,
}

#[derive(Debug)]
enum Block {
    /// A paragraph of inline-marked-up text; lines separated by `\n`.
    Para(String),
    /// A heading inside a section (member headings, settings, table headings).
    Sub(String),
    Bullets(Vec<String>),
    /// A statement's criteria, depth first: (depth, marker, text), where the
    /// marker is the document's own numbering (`1`, `a`) or None for a bullet.
    Criteria(Vec<(usize, Option<String>, String)>),
    Table {
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    Links(Vec<(String, Option<String>)>),
    References(Vec<Reference>),
}

fn section(id: &'static str, heading: &str, toc: Option<&str>, blocks: Vec<Block>) -> Section {
    Section {
        id,
        heading: heading.to_string(),
        toc: toc.map(str::to_string),
        level: 2,
        blocks,
    }
}

/// "Commercial", "Commercial and Medicare": the markets the statements speak for.
fn markets(policy: &Policy, payer: &Payer) -> String {
    let mut names: Vec<&str> = Vec::new();
    for s in &policy.statements {
        for id in &s.products {
            let Some(set) = payer.resolve_products(id) else {
                continue;
            };
            for l in payer.members(set) {
                let name = match l.market {
                    Market::Commercial => "Commercial",
                    Market::MedicareAdvantage => "Medicare",
                    Market::Medicaid => "Medicaid",
                    Market::Exchange => "Exchange",
                    Market::Other => "Other",
                };
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
    }
    names.join(" and ")
}

/// Where each note is printed: implicitly (as a coding paragraph, or derived
/// from the history) or explicitly in the Notes section. The importer reads
/// notes back in the order coding paragraphs, derived note, Notes section,
/// so a note is implicit only while that order holds.
struct NotePlan<'a> {
    coding: Vec<&'a Note>,
    explicit: Vec<&'a Note>,
}

fn plan_notes<'a>(policy: &'a Policy, payer: &Payer) -> NotePlan<'a> {
    let derived = derive::medicare_note(&policy.history, &policy.references, payer);
    let mut plan = NotePlan {
        coding: Vec::new(),
        explicit: Vec::new(),
    };
    let mut phase = 0;
    let mut derived_used = false;
    for n in &policy.notes {
        let plain_coding = n.section.as_deref() == Some("coding")
            && n.products.is_empty()
            && n.see_policy.is_none()
            && n.see_ncd.is_none()
            && n.see_references.is_empty()
            && n.kind == derive::coding_note_kind(&n.text)
            && !n.text.contains('\t')
            && !crate::parse::is_codes_heading(n.text.trim());
        if phase == 0 && plain_coding {
            plan.coding.push(n);
        } else if phase <= 1 && !derived_used && derived.as_ref() == Some(n) {
            derived_used = true;
            phase = 1;
        } else {
            phase = 2;
            plan.explicit.push(n);
        }
    }
    plan
}

fn note_block(n: &Note, labels: &Labels) -> Vec<Block> {
    let kind = match n.kind {
        NoteKind::ContractBenefits => "contract-benefits",
        NoteKind::Coding => "coding",
        NoteKind::Medicare => "medicare",
        NoteKind::General => "general",
    };
    let mut attrs = vec![format!("Kind: {kind}")];
    if let Some(s) = &n.section {
        attrs.push(format!("Section: {s}"));
    }
    if !n.products.is_empty() {
        attrs.push(format!("Products: {}", labels.label_of_all(&n.products)));
    }
    if let Some(p) = &n.see_policy {
        attrs.push(format!("See policy: #{} {}", p.number, p.title));
    }
    if let Some(ncd) = &n.see_ncd {
        attrs.push(format!("See NCD: {ncd}"));
    }
    if !n.see_references.is_empty() {
        let refs: Vec<String> = n.see_references.iter().map(u32::to_string).collect();
        attrs.push(format!("See references: {}", refs.join(", ")));
    }
    vec![Block::Para(n.text.clone()), Block::Bullets(attrs)]
}

/// A statement, its criteria, and the lines for what its text and heading
/// do not say.
fn statement_blocks(
    s: &CoverageStatement,
    derived_tables: &[String],
    labels: &Labels,
    out: &mut Vec<Block>,
) {
    out.push(Block::Para(s.text.clone()));
    if !s.criteria.is_empty() {
        let mut lines = Vec::new();
        criteria_lines(&s.criteria, 0, &mut lines);
        out.push(Block::Criteria(lines));
    }
    let m = status::marked(&s.text);
    let derived = status::statement_status(&m);
    if derived.map(|(st, _)| st) != Some(s.status) {
        out.push(Block::Para(format!("Status: {}", s.status.id())));
    }
    let indication = derived.and_then(|(_, end)| status::indication(&m.plain, end));
    if indication != s.indication {
        out.push(Block::Para(format!(
            "Indication: {}",
            s.indication.as_deref().unwrap_or("")
        )));
    }
    let from_heading = s
        .heading
        .as_deref()
        .and_then(|h| labels.resolve(h.trim_end_matches(':')));
    if from_heading.as_ref() != Some(&s.products) {
        out.push(Block::Para(format!(
            "Products: {}",
            labels.label_of_all(&s.products)
        )));
    }
    if !s.diagnoses.is_empty() {
        out.push(Block::Para(format!(
            "ICD-10-CM diagnosis codes: {}",
            s.diagnoses.join(", ")
        )));
    }
    if !s.code_lists.is_empty() {
        out.push(Block::Para(format!(
            "Code tables: {}",
            s.code_lists.join(", ")
        )));
    }
    // What the importer would not derive from the text and the tables.
    if s.other_indications != status::other_indications(&m.plain) {
        let yes = if s.other_indications { "yes" } else { "no" };
        out.push(Block::Para(format!("Other indications: {yes}")));
    }
    if !s.criteria.is_empty() {
        let texts: Vec<&str> = s.criteria.iter().map(|c| c.text.as_str()).collect();
        if crate::parse::criteria_combine(&s.text, &texts) != s.criteria_match {
            out.push(Block::Para(format!(
                "Criteria match: {}",
                s.criteria_match.id()
            )));
        }
    }
    if s.diagnosis_lists != derived_tables {
        out.push(Block::Para(format!(
            "Diagnosis tables: {}",
            s.diagnosis_lists.join(", ")
        )));
    }
}

/// The criteria as lines to print. A criterion whose id is its position
/// prints as a bullet; one with the document's own numbering (`1.a`)
/// prints that number, so that importing the text gives the same ids.
fn criteria_lines(
    criteria: &[medpol_core::model::Criterion],
    depth: usize,
    out: &mut Vec<(usize, Option<String>, String)>,
) {
    for (i, c) in criteria.iter().enumerate() {
        let last = c.id.rsplit('.').next().unwrap_or(&c.id);
        // Only a marker the importer reads back as one (`12.`, `b.`, `iv.`);
        // any other id prints as a bullet (and comes back as its position).
        let readable = (last.len() <= 2 && last.bytes().all(|b| b.is_ascii_digit()))
            || (last.len() == 1 && last.bytes().all(|b| b.is_ascii_alphabetic()))
            || (last.len() <= 4 && !last.is_empty() && last.bytes().all(|b| b"ivx".contains(&b)));
        let marker = (readable && last != (i + 1).to_string()).then(|| last.to_string());
        out.push((depth, marker, c.text.clone()));
        criteria_lines(&c.criteria, depth + 1, out);
    }
}

fn paragraphs(text: &str) -> Vec<Block> {
    text.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| Block::Para(p.to_string()))
        .collect()
}

fn setting_label(s: medpol_core::Setting) -> &'static str {
    match s {
        medpol_core::Setting::Inpatient => "Inpatient",
        medpol_core::Setting::Outpatient => "Outpatient",
    }
}

fn layout(policy: &Policy, payer: &Payer) -> Doc {
    let labels = Labels::new(payer);
    let notes = plan_notes(policy, payer);
    let mut banner = Vec::new();
    banner.extend(payer.region.clone());
    banner.extend(payer.licensee_statement.clone());
    if banner.is_empty() {
        banner.push(payer.name.clone());
    }

    let mut header = vec![format!("Policy Number: {}", policy.number)];
    for r in &policy.external_references {
        let note = r
            .note
            .as_ref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        header.push(format!(
            "{} Reference Number: {}{note}",
            r.organization, r.number
        ));
    }
    if derive::effective_from_history(&policy.history) != Some(policy.effective) {
        header.push(format!(
            "Effective Date: {}",
            derive::format_day(policy.effective)
        ));
    }
    if let Some(r) = policy.retired {
        header.push(format!("Retired Date: {}", derive::format_day(r)));
    }

    let mut sections = Vec::new();
    if !policy.related_policies.is_empty() {
        let blocks = policy
            .related_policies
            .iter()
            .map(|r| Block::Para(format!("{}, #[{}](#)", r.title, r.number)))
            .collect();
        sections.push(section(
            "related-policies",
            "Related Policies",
            None,
            blocks,
        ));
    }

    let mut blocks = Vec::new();
    let mut heading: Option<&str> = None;
    let derived = derive::indication_tables(policy, payer);
    for (s, tables) in policy.statements.iter().zip(&derived) {
        if s.heading.is_some() && s.heading.as_deref() != heading {
            if let Some(h) = &s.heading {
                // Stacked member headings print one per paragraph.
                for line in h.lines() {
                    blocks.push(Block::Sub(line.to_string()));
                }
            }
        }
        heading = s.heading.as_deref().or(heading);
        statement_blocks(s, tables, &labels, &mut blocks);
    }
    let toc = format!("Policy: {}", markets(policy, payer));
    sections.push(section(
        "policy",
        "Policy",
        Some(toc.trim_end_matches([' ', ':'])),
        blocks,
    ));

    // Rules with neither heading nor text whose rows name the same products
    // in the same order were one table with a column per setting: print it so.
    let one_table = policy.prior_auth.len() > 1
        && policy
            .prior_auth
            .iter()
            .all(|r| r.heading.is_none() && r.text.is_empty() && r.requirement.is_none())
        && policy.prior_auth.windows(2).all(|w| {
            w[0].rows.len() == w[1].rows.len()
                && w[0]
                    .rows
                    .iter()
                    .zip(&w[1].rows)
                    .all(|(a, b)| a.label == b.label)
        });
    if one_table {
        let mut header = vec![String::new()];
        header.extend(
            policy
                .prior_auth
                .iter()
                .map(|r| setting_label(r.setting).to_string()),
        );
        let rows = (0..policy.prior_auth[0].rows.len())
            .map(|i| {
                let mut row = vec![policy.prior_auth[0].rows[i].label.clone()];
                row.extend(policy.prior_auth.iter().map(|r| r.rows[i].text.clone()));
                row
            })
            .collect();
        sections.push(section(
            "prior-authorization",
            "Prior Authorization Information",
            Some("Authorization Information"),
            vec![Block::Table { header, rows }],
        ));
    } else if !policy.prior_auth.is_empty() {
        let mut blocks = Vec::new();
        for r in &policy.prior_auth {
            let name = setting_label(r.setting);
            blocks.push(Block::Sub(
                r.heading.clone().unwrap_or_else(|| name.to_string()),
            ));
            if !r.text.is_empty() {
                blocks.push(Block::Bullets(vec![r.text.clone()]));
            }
            if !r.rows.is_empty() {
                blocks.push(Block::Table {
                    header: vec![String::new(), name.to_string()],
                    rows: r
                        .rows
                        .iter()
                        .map(|row| vec![row.label.clone(), row.text.clone()])
                        .collect(),
                });
            }
        }
        sections.push(section(
            "prior-authorization",
            "Prior Authorization Information",
            Some("Authorization Information"),
            blocks,
        ));
    }

    if policy.coding_heading.is_some() || !policy.code_lists.is_empty() || !notes.coding.is_empty()
    {
        let mut blocks: Vec<Block> = notes
            .coding
            .iter()
            .map(|n| Block::Para(n.text.clone()))
            .collect();
        for l in &policy.code_lists {
            if let Some(s) = &l.statement {
                blocks.push(Block::Para(s.clone()));
            }
            let heading = l.heading.clone().or_else(|| {
                l.columns
                    .is_empty()
                    .then(|| format!("{} Codes", l.system.label()))
            });
            if let Some(h) = heading {
                blocks.push(Block::Sub(h));
            }
            blocks.push(Block::Table {
                header: l.columns.clone(),
                rows: l
                    .codes
                    .iter()
                    .map(|c| vec![c.code.clone(), c.description.clone()])
                    .collect(),
            });
        }
        let heading = policy
            .coding_heading
            .as_deref()
            .unwrap_or("Coding Information");
        sections.push(section(
            "coding",
            heading,
            Some("Coding Information"),
            blocks,
        ));
    }

    if !policy.description.trim().is_empty() {
        sections.push(section(
            "description",
            "Description",
            Some("Description"),
            paragraphs(&policy.description),
        ));
    }
    if !policy.summary.trim().is_empty() {
        let mut s = section("summary", "Summary", None, paragraphs(&policy.summary));
        s.level = 3;
        sections.push(s);
    }
    if !policy.history.is_empty() {
        let rows = policy
            .history
            .iter()
            .map(|h| vec![h.date.as_str().to_string(), h.action.clone()])
            .collect();
        sections.push(section(
            "policy-history",
            "Policy History",
            Some("Policy History"),
            vec![Block::Table {
                header: vec!["Date".into(), "Action".into()],
                rows,
            }],
        ));
    }
    if let Some(info) = &policy.all_policies {
        let mut blocks = Vec::new();
        blocks.extend(info.intro.clone().map(Block::Para));
        blocks.push(Block::Links(
            info.links
                .iter()
                .map(|l| (l.label.clone(), l.url.clone()))
                .collect(),
        ));
        sections.push(section(
            "all-policies",
            &info.heading,
            Some("Information Pertaining to All Policies"),
            blocks,
        ));
    }
    if !notes.explicit.is_empty() {
        let blocks = notes
            .explicit
            .iter()
            .flat_map(|n| note_block(n, &labels))
            .collect();
        sections.push(section("notes", "Notes", Some("Notes"), blocks));
    }
    if !policy.references.is_empty() {
        sections.push(section(
            "references",
            "References",
            Some("References"),
            vec![Block::References(policy.references.clone())],
        ));
    }

    Doc {
        banner,
        title: policy.title.clone(),
        header,
        sections,
    }
}
