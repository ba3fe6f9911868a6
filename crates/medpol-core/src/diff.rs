//! What changed in a policy: between two texts of it (two revisions, or the
//! same policy in two catalogues), part by part, and between two of its
//! versions as its history records them. Pure: texts in, changes out.
//!
//! A policy file holds one text, the current version's; earlier versions
//! exist only as history rows ("Annual policy review. References updated.
//! Policy statements unchanged."). [`versions_between`] reads what those rows
//! say changed; [`diff_policies`] compares two texts where both are held (a
//! store's revisions, two catalogue directories).

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::Serialize;

use crate::model::{Catalog, CodeList, CoverageStatement, Criterion, Policy, PolicyVersion};

/// A part of a policy, as the diff groups changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Part {
    Title,
    Dates,
    Statements,
    Criteria,
    Codes,
    PriorAuth,
    Notes,
    Description,
    Summary,
    RelatedPolicies,
    References,
    History,
    /// The review date (an annual review with nothing else changed).
    Review,
}

impl Part {
    pub fn id(self) -> &'static str {
        match self {
            Part::Title => "title",
            Part::Dates => "dates",
            Part::Statements => "statements",
            Part::Criteria => "criteria",
            Part::Codes => "codes",
            Part::PriorAuth => "prior-auth",
            Part::Notes => "notes",
            Part::Description => "description",
            Part::Summary => "summary",
            Part::RelatedPolicies => "related-policies",
            Part::References => "references",
            Part::History => "history",
            Part::Review => "review",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    Added,
    Removed,
    /// Text or a value changed.
    Changed,
    /// A statement's coverage status, or a prior-auth requirement.
    StatusChanged,
    /// A code now under another status.
    Moved,
}

impl ChangeKind {
    pub fn id(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Changed => "changed",
            ChangeKind::StatusChanged => "status-changed",
            ChangeKind::Moved => "moved",
        }
    }
}

/// One run of words in a word-level diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Words {
    /// `equal`, `insert` or `delete`.
    pub op: &'static str,
    pub text: String,
}

/// One change to one item of a policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub part: Part,
    pub kind: ChangeKind,
    /// What changed, e.g. `statement commercial-investigational`, `HCPCS M0076`.
    pub item: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// For changed text: the words, kept, inserted and deleted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub words: Vec<Words>,
}

/// What changed between two texts of one policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyDiff {
    /// `payer/number`.
    pub policy: String,
    pub title: String,
    /// The parts with a change, in the order of [`Part`].
    pub parts: Vec<Part>,
    pub changes: Vec<Change>,
}

impl PolicyDiff {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// A word-level diff of two texts; empty when they are equal.
pub fn word_diff(before: &str, after: &str) -> Vec<Words> {
    if before == after {
        return Vec::new();
    }
    let diff = similar::TextDiff::from_words(before, after);
    let mut out: Vec<Words> = Vec::new();
    for c in diff.iter_all_changes() {
        let op = match c.tag() {
            similar::ChangeTag::Equal => "equal",
            similar::ChangeTag::Insert => "insert",
            similar::ChangeTag::Delete => "delete",
        };
        match out.last_mut() {
            Some(w) if w.op == op => w.text.push_str(c.value()),
            _ => out.push(Words {
                op,
                text: c.value().to_string(),
            }),
        }
    }
    out
}

struct Changes(Vec<Change>);

impl Changes {
    fn push(
        &mut self,
        part: Part,
        kind: ChangeKind,
        item: String,
        before: Option<String>,
        after: Option<String>,
    ) {
        self.0.push(Change {
            part,
            kind,
            item,
            before,
            after,
            words: Vec::new(),
        });
    }

    fn text(&mut self, part: Part, item: String, before: &str, after: &str) {
        if before != after {
            self.0.push(Change {
                part,
                kind: ChangeKind::Changed,
                item,
                before: Some(before.to_string()),
                after: Some(after.to_string()),
                words: word_diff(before, after),
            });
        }
    }

    fn value<T: PartialEq + std::fmt::Debug>(
        &mut self,
        part: Part,
        kind: ChangeKind,
        item: String,
        before: &T,
        after: &T,
        show: impl Fn(&T) -> String,
    ) {
        if before != after {
            self.push(part, kind, item, Some(show(before)), Some(show(after)));
        }
    }
}

/// Items of two lists matched by key: (key, before, after).
fn matched<'a, T, K: Ord + Clone>(
    before: &'a [T],
    after: &'a [T],
    key: impl Fn(usize, &T) -> K,
) -> Vec<(K, Option<&'a T>, Option<&'a T>)> {
    // key -> (first position in either list, before, after)
    type Slot<'a, T> = (Option<usize>, Option<&'a T>, Option<&'a T>);
    let mut map: BTreeMap<K, Slot<'a, T>> = BTreeMap::new();
    for (i, t) in before.iter().enumerate() {
        map.entry(key(i, t)).or_insert((Some(i), None, None)).1 = Some(t);
    }
    for (i, t) in after.iter().enumerate() {
        let e = map.entry(key(i, t)).or_insert((None, None, None));
        e.0 = e.0.or(Some(before.len() + i));
        e.2 = Some(t);
    }
    let mut out: Vec<_> = map.into_iter().collect();
    // Keep the documents' order, not the keys'.
    out.sort_by_key(|(_, (first, _, _))| *first);
    out.into_iter().map(|(k, (_, b, a))| (k, b, a)).collect()
}

fn pa_id(r: &Option<crate::model::PaRequirement>) -> String {
    use crate::model::PaRequirement::*;
    match r {
        None => "none",
        Some(Required) => "required",
        Some(NotRequired) => "not-required",
        Some(MayBeRequired) => "may-be-required",
        Some(NotCovered) => "not-covered",
    }
    .to_string()
}

fn serde_kind(k: crate::model::NoteKind) -> &'static str {
    use crate::model::NoteKind;
    match k {
        NoteKind::ContractBenefits => "contract-benefits",
        NoteKind::Coding => "coding",
        NoteKind::Medicare => "medicare",
        NoteKind::General => "general",
    }
}

fn products(p: &[String]) -> String {
    p.join(", ")
}

/// Criteria by their id path (`1`, `2.1`), with their text.
fn criteria_of(s: &CoverageStatement) -> Vec<(String, String)> {
    fn walk(c: &Criterion, prefix: &str, out: &mut Vec<(String, String)>) {
        let id = if prefix.is_empty() {
            c.id.clone()
        } else {
            format!("{prefix}.{}", c.id)
        };
        // How its sub-criteria combine is part of what it says.
        let text = if c.criteria.is_empty() {
            c.text.clone()
        } else {
            format!("{} [{}]", c.text, c.combine.id())
        };
        out.push((id.clone(), text));
        for k in &c.criteria {
            walk(k, &id, out);
        }
    }
    let mut out = Vec::new();
    for c in &s.criteria {
        walk(c, "", &mut out);
    }
    out
}

/// One listing of a code: its table, the status it is listed under (the
/// table's, or that of the statement that names the table), the table's products.
type Listing = (String, String, String);

/// Each code of a policy (`system code`) with every table it is in: a code
/// in several tables is decided by all of them, so each listing counts.
fn code_statuses(p: &Policy) -> BTreeMap<String, Vec<Listing>> {
    let status_of = |l: &CodeList| -> String {
        if let Some(s) = l.status {
            return s.id().to_string();
        }
        p.statements
            .iter()
            .find(|s| s.code_lists.contains(&l.id))
            .map(|s| s.status.id().to_string())
            .unwrap_or_else(|| "listed".to_string())
    };
    let mut out: BTreeMap<String, Vec<Listing>> = BTreeMap::new();
    for l in &p.code_lists {
        let status = status_of(l);
        for c in &l.codes {
            out.entry(format!("{} {}", l.system.label(), c.code))
                .or_default()
                .push((l.id.clone(), status.clone(), products(&l.products)));
        }
    }
    out
}

fn listings_text(v: &[Listing]) -> String {
    v.iter()
        .map(|(_, status, products)| format!("{status} ({products})"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// What changed from `before` to `after`, two texts of one policy.
pub fn diff_policies(before: &Policy, after: &Policy) -> PolicyDiff {
    let mut c = Changes(Vec::new());
    c.text(Part::Title, "title".into(), &before.title, &after.title);
    let day = |d: &Option<NaiveDate>| d.map_or("none".to_string(), |d| d.to_string());
    c.value(
        Part::Dates,
        ChangeKind::Changed,
        "effective".into(),
        &before.effective,
        &after.effective,
        |d| d.to_string(),
    );
    c.value(
        Part::Dates,
        ChangeKind::Changed,
        "retired".into(),
        &before.retired,
        &after.retired,
        day,
    );
    c.value(
        Part::Dates,
        ChangeKind::Changed,
        "in force from".into(),
        &before.in_force_from,
        &after.in_force_from,
        day,
    );

    for (id, b, a) in matched(&before.statements, &after.statements, |_, s| s.id.clone()) {
        let item = format!("statement {id}");
        match (b, a) {
            (None, Some(a)) => c.push(
                Part::Statements,
                ChangeKind::Added,
                item,
                None,
                Some(format!("{}: {}", a.status.id(), a.text)),
            ),
            (Some(b), None) => c.push(
                Part::Statements,
                ChangeKind::Removed,
                item,
                Some(format!("{}: {}", b.status.id(), b.text)),
                None,
            ),
            (Some(b), Some(a)) => {
                c.value(
                    Part::Statements,
                    ChangeKind::StatusChanged,
                    item.clone(),
                    &b.status,
                    &a.status,
                    |s| s.id().to_string(),
                );
                c.value(
                    Part::Statements,
                    ChangeKind::Changed,
                    format!("{item} products"),
                    &b.products,
                    &a.products,
                    |p| products(p),
                );
                c.value(
                    Part::Statements,
                    ChangeKind::Changed,
                    format!("{item} indication"),
                    &b.indication,
                    &a.indication,
                    |i| i.clone().unwrap_or_else(|| "none".into()),
                );
                c.value(
                    Part::Statements,
                    ChangeKind::Changed,
                    format!("{item} diagnoses"),
                    &(&b.diagnoses, &b.diagnosis_lists),
                    &(&a.diagnoses, &a.diagnosis_lists),
                    |(d, l)| {
                        d.iter()
                            .chain(l.iter())
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    },
                );
                c.value(
                    Part::Statements,
                    ChangeKind::Changed,
                    format!("{item} all other indications"),
                    &b.other_indications,
                    &a.other_indications,
                    |v| v.to_string(),
                );
                c.value(
                    Part::Codes,
                    ChangeKind::Changed,
                    format!("{item} code tables"),
                    &b.code_lists,
                    &a.code_lists,
                    |v| products(v),
                );
                c.text(Part::Statements, item.clone(), &b.text, &a.text);
                c.value(
                    Part::Criteria,
                    ChangeKind::Changed,
                    format!("{item} criteria match"),
                    &b.criteria_match,
                    &a.criteria_match,
                    |m| m.id().to_string(),
                );
                let (cb, ca) = (criteria_of(b), criteria_of(a));
                for (cid, x, y) in matched(&cb, &ca, |_, (id, _)| id.clone()) {
                    let citem = format!("{item} criterion {cid}");
                    match (x, y) {
                        (None, Some(y)) => c.push(
                            Part::Criteria,
                            ChangeKind::Added,
                            citem,
                            None,
                            Some(y.1.clone()),
                        ),
                        (Some(x), None) => c.push(
                            Part::Criteria,
                            ChangeKind::Removed,
                            citem,
                            Some(x.1.clone()),
                            None,
                        ),
                        (Some(x), Some(y)) => c.text(Part::Criteria, citem, &x.1, &y.1),
                        (None, None) => {}
                    }
                }
            }
            (None, None) => {}
        }
    }

    let (cb, ca) = (code_statuses(before), code_statuses(after));
    let keys: BTreeSet<&String> = cb.keys().chain(ca.keys()).collect();
    for k in keys {
        match (cb.get(k), ca.get(k)) {
            (None, Some(a)) => c.push(
                Part::Codes,
                ChangeKind::Added,
                k.clone(),
                None,
                Some(listings_text(a)),
            ),
            (Some(b), None) => c.push(
                Part::Codes,
                ChangeKind::Removed,
                k.clone(),
                Some(listings_text(b)),
                None,
            ),
            (Some(b), Some(a)) => {
                // One table each side: the code, moved or not; several: table by table.
                let one = b.len() == 1 && a.len() == 1;
                for (table, x, y) in
                    matched(b, a, |i, l| if one { i.to_string() } else { l.0.clone() })
                {
                    let item = if one {
                        k.clone()
                    } else {
                        format!("{k} (table {table})")
                    };
                    match (x, y) {
                        (None, Some(y)) => c.push(
                            Part::Codes,
                            ChangeKind::Added,
                            item,
                            None,
                            Some(format!("{} ({})", y.1, y.2)),
                        ),
                        (Some(x), None) => c.push(
                            Part::Codes,
                            ChangeKind::Removed,
                            item,
                            Some(format!("{} ({})", x.1, x.2)),
                            None,
                        ),
                        (Some(x), Some(y)) if x.1 != y.1 => c.push(
                            Part::Codes,
                            ChangeKind::Moved,
                            item,
                            Some(x.1.clone()),
                            Some(y.1.clone()),
                        ),
                        (Some(x), Some(y)) if x.2 != y.2 => c.push(
                            Part::Codes,
                            ChangeKind::Changed,
                            format!("{item} products"),
                            Some(x.2.clone()),
                            Some(y.2.clone()),
                        ),
                        _ => {}
                    }
                }
            }
            (None, None) => {}
        }
    }

    for (setting, b, a) in matched(&before.prior_auth, &after.prior_auth, |_, r| {
        r.setting.id().to_string()
    }) {
        let item = format!("prior-auth {setting}");
        match (b, a) {
            (None, Some(a)) => c.push(
                Part::PriorAuth,
                ChangeKind::Added,
                item,
                None,
                Some(a.text.clone()),
            ),
            (Some(b), None) => c.push(
                Part::PriorAuth,
                ChangeKind::Removed,
                item,
                Some(b.text.clone()),
                None,
            ),
            (Some(b), Some(a)) => {
                c.text(Part::PriorAuth, item.clone(), &b.text, &a.text);
                c.value(
                    Part::PriorAuth,
                    ChangeKind::StatusChanged,
                    item.clone(),
                    &b.requirement,
                    &a.requirement,
                    pa_id,
                );
                for (label, x, y) in matched(&b.rows, &a.rows, |_, r| r.label.clone()) {
                    let ritem = format!("{item} row \"{label}\"");
                    match (x, y) {
                        (None, Some(y)) => c.push(
                            Part::PriorAuth,
                            ChangeKind::Added,
                            ritem,
                            None,
                            Some(format!(
                                "{}: {}",
                                pa_id(&Some(y.requirement)),
                                products(&y.products)
                            )),
                        ),
                        (Some(x), None) => c.push(
                            Part::PriorAuth,
                            ChangeKind::Removed,
                            ritem,
                            Some(format!(
                                "{}: {}",
                                pa_id(&Some(x.requirement)),
                                products(&x.products)
                            )),
                            None,
                        ),
                        (Some(x), Some(y)) => {
                            c.value(
                                Part::PriorAuth,
                                ChangeKind::StatusChanged,
                                ritem.clone(),
                                &x.requirement,
                                &y.requirement,
                                |r| pa_id(&Some(*r)),
                            );
                            c.value(
                                Part::PriorAuth,
                                ChangeKind::Changed,
                                format!("{ritem} products"),
                                &x.products,
                                &y.products,
                                |p| products(p),
                            );
                            c.text(Part::PriorAuth, ritem, &x.text, &y.text);
                        }
                        (None, None) => {}
                    }
                }
            }
            (None, None) => {}
        }
    }

    // Notes have no ids: matched by kind and section, then by position among those.
    let keyed = |notes: &'_ [crate::model::Note]| -> Vec<(String, String)> {
        notes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let nth = notes[..i]
                    .iter()
                    .filter(|m| m.kind == n.kind && m.section == n.section)
                    .count();
                let kind = serde_kind(n.kind);
                let key = match &n.section {
                    Some(s) => format!("note {kind} ({s}) #{}", nth + 1),
                    None => format!("note {kind} #{}", nth + 1),
                };
                (key, n.text.clone())
            })
            .collect()
    };
    let (nb, na) = (keyed(&before.notes), keyed(&after.notes));
    for (item, b, a) in matched(&nb, &na, |_, (k, _)| k.clone()) {
        match (b, a) {
            (None, Some(a)) => c.push(
                Part::Notes,
                ChangeKind::Added,
                item,
                None,
                Some(a.1.clone()),
            ),
            (Some(b), None) => c.push(
                Part::Notes,
                ChangeKind::Removed,
                item,
                Some(b.1.clone()),
                None,
            ),
            (Some(b), Some(a)) => c.text(Part::Notes, item, &b.1, &a.1),
            (None, None) => {}
        }
    }

    c.text(
        Part::Description,
        "description".into(),
        &before.description,
        &after.description,
    );
    c.text(
        Part::Summary,
        "summary".into(),
        &before.summary,
        &after.summary,
    );

    for (number, b, a) in matched(&before.related_policies, &after.related_policies, |_, r| {
        r.number.clone()
    }) {
        let item = format!("related policy {number}");
        match (b, a) {
            (None, Some(a)) => c.push(
                Part::RelatedPolicies,
                ChangeKind::Added,
                item,
                None,
                Some(a.title.clone()),
            ),
            (Some(b), None) => c.push(
                Part::RelatedPolicies,
                ChangeKind::Removed,
                item,
                Some(b.title.clone()),
                None,
            ),
            (Some(b), Some(a)) => c.text(Part::RelatedPolicies, item, &b.title, &a.title),
            (None, None) => {}
        }
    }

    let cite = |p: &Policy| -> Vec<String> { p.references.iter().map(|r| r.to_text("")).collect() };
    let (rb, ra) = (cite(before), cite(after));
    for r in ra.iter().filter(|r| !rb.contains(r)) {
        c.push(
            Part::References,
            ChangeKind::Added,
            "reference".into(),
            None,
            Some(r.clone()),
        );
    }
    for r in rb.iter().filter(|r| !ra.contains(r)) {
        c.push(
            Part::References,
            ChangeKind::Removed,
            "reference".into(),
            Some(r.clone()),
            None,
        );
    }

    let row = |h: &crate::model::HistoryEntry| format!("{}: {}", h.date.as_str(), h.action);
    let (hb, ha): (Vec<String>, Vec<String>) = (
        before.history.iter().map(row).collect(),
        after.history.iter().map(row).collect(),
    );
    for h in ha.iter().filter(|h| !hb.contains(h)) {
        c.push(
            Part::History,
            ChangeKind::Added,
            "history".into(),
            None,
            Some(h.clone()),
        );
    }
    for h in hb.iter().filter(|h| !ha.contains(h)) {
        c.push(
            Part::History,
            ChangeKind::Removed,
            "history".into(),
            Some(h.clone()),
            None,
        );
    }

    let parts: BTreeSet<Part> = c.0.iter().map(|c| c.part).collect();
    PolicyDiff {
        policy: after.key(),
        title: after.title.clone(),
        parts: parts.into_iter().collect(),
        changes: c.0,
    }
}

/// A policy in one catalogue and not the other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyRef {
    pub policy: String,
    pub title: String,
}

/// What changed between two catalogues.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogDiff {
    pub added: Vec<PolicyRef>,
    pub removed: Vec<PolicyRef>,
    /// Policies in both, with a change.
    pub changed: Vec<PolicyDiff>,
    /// Policies in both, the same.
    pub unchanged: usize,
}

/// Compares two catalogues policy by policy (by `payer/number`; for a
/// policy with several revisions, the latest of each side).
pub fn diff_catalogs(before: &Catalog, after: &Catalog) -> CatalogDiff {
    fn latest(c: &Catalog) -> BTreeMap<String, &Policy> {
        let mut m: BTreeMap<String, &Policy> = BTreeMap::new();
        for p in &c.policies {
            let e = m.entry(p.key()).or_insert(p);
            if p.window().0 > e.window().0 {
                *e = p;
            }
        }
        m
    }
    let (b, a) = (latest(before), latest(after));
    let r = |p: &Policy| PolicyRef {
        policy: p.key(),
        title: p.title.clone(),
    };
    let mut out = CatalogDiff {
        added: Vec::new(),
        removed: Vec::new(),
        changed: Vec::new(),
        unchanged: 0,
    };
    for (k, p) in &a {
        if !b.contains_key(k) {
            out.added.push(r(p));
        }
    }
    for (k, p) in &b {
        match a.get(k) {
            None => out.removed.push(r(p)),
            Some(q) => {
                let d = diff_policies(p, q);
                if d.is_empty() {
                    out.unchanged += 1;
                } else {
                    out.changed.push(d);
                }
            }
        }
    }
    out
}

/// One history row between two versions, with the parts its words name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryStep {
    /// The date as published, e.g. `1/2025`.
    pub date: String,
    pub action: String,
    pub parts: Vec<Part>,
    /// The row says the policy statements did not change.
    pub statements_unchanged: bool,
}

/// What the history records between two versions of a policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionDiff {
    pub policy: String,
    pub title: String,
    pub from: PolicyVersion,
    pub to: PolicyVersion,
    /// The rows after `from` up to and including `to`, oldest first.
    pub history: Vec<HistoryStep>,
    /// Every part the rows name.
    pub parts: Vec<Part>,
    /// Whether the statements stayed as they were: every row says so, or
    /// names neither statements nor coverage. False when a row changes them
    /// or when the rows do not say (then the text decides, if held).
    pub statements_unchanged: bool,
}

/// The parts a history action names, by its words (as payers write them:
/// "Annual policy review. Description, summary, and references updated.
/// Policy statements unchanged.").
pub fn parts_named(action: &str) -> (Vec<Part>, bool) {
    let a = action.to_lowercase();
    let mut parts = BTreeSet::new();
    // "Policy statements unchanged.", "Policy statements remain unchanged.",
    // "No changes to the policy statements.", "describing ongoing non-coverage".
    let unchanged = a.contains("ongoing non-coverage")
        || a.split('.').any(|sentence| {
            sentence.contains("statement")
                && (sentence.contains("unchanged") || sentence.contains("no change"))
        });
    if a.contains("review") {
        parts.insert(Part::Review);
    }
    for (word, part) in [
        ("reference", Part::References),
        ("description", Part::Description),
        ("summary", Part::Summary),
        ("coding", Part::Codes),
        ("code", Part::Codes),
        ("medicare", Part::Notes),
        ("note", Part::Notes),
        ("prior auth", Part::PriorAuth),
        ("precertification", Part::PriorAuth),
        ("criteria", Part::Criteria),
        ("title", Part::Title),
        ("related polic", Part::RelatedPolicies),
    ] {
        if a.contains(word) {
            parts.insert(part);
        }
    }
    // Words that say what is covered changed ("coverage determination"
    // names a CMS document, not a change of coverage).
    let statement_words = [
        "statement",
        "clarif",
        "considered",
        "investigational",
        "medically necessary",
        "not covered",
    ];
    if !unchanged && statement_words.iter().any(|w| a.contains(w)) {
        parts.insert(Part::Statements);
    }
    (parts.into_iter().collect(), unchanged)
}

/// The history between the versions in effect on `from` and on `to`; None
/// when the policy did not apply on one of the days.
pub fn versions_between(policy: &Policy, from: NaiveDate, to: NaiveDate) -> Option<VersionDiff> {
    let (from_v, to_v) = (policy.version_on(from)?, policy.version_on(to)?);
    let (lo, hi) = if from_v.effective <= to_v.effective {
        (from_v.effective, to_v.effective)
    } else {
        (to_v.effective, from_v.effective)
    };
    let mut rows: Vec<&crate::model::HistoryEntry> = policy
        .history
        .iter()
        .filter(|h| h.date.start() > lo && h.date.start() <= hi)
        .collect();
    rows.sort_by_key(|h| h.date.start());
    let history: Vec<HistoryStep> = rows
        .into_iter()
        .map(|h| {
            let (parts, unchanged) = parts_named(&h.action);
            HistoryStep {
                date: h.date.as_str().to_string(),
                action: h.action.clone(),
                parts,
                statements_unchanged: unchanged,
            }
        })
        .collect();
    let parts: BTreeSet<Part> = history
        .iter()
        .flat_map(|h| h.parts.iter().copied())
        .collect();
    let statements_unchanged = history
        .iter()
        .all(|h| h.statements_unchanged || !h.parts.contains(&Part::Statements));
    Some(VersionDiff {
        policy: policy.key(),
        title: policy.title.clone(),
        from: from_v,
        to: to_v,
        history,
        parts: parts.into_iter().collect(),
        statements_unchanged,
    })
}

/// A diff as text, for people: one line per change, changed text shown word
/// by word as `[-deleted-]{+inserted+}`.
pub fn policy_diff_text(d: &PolicyDiff, out: &mut String) {
    use std::fmt::Write;
    let parts: Vec<&str> = d.parts.iter().map(|p| p.id()).collect();
    let _ = writeln!(
        out,
        "{} {}: {} change(s) in {}",
        d.policy,
        d.title,
        d.changes.len(),
        if parts.is_empty() {
            "nothing".to_string()
        } else {
            parts.join(", ")
        }
    );
    for c in &d.changes {
        let _ = write!(out, "  {} {} {}", c.part.id(), c.kind.id(), c.item);
        if !c.words.is_empty() {
            let _ = write!(out, ": ");
            for w in &c.words {
                match w.op {
                    "insert" => {
                        let _ = write!(out, "{{+{}+}}", w.text);
                    }
                    "delete" => {
                        let _ = write!(out, "[-{}-]", w.text);
                    }
                    _ => out.push_str(&w.text),
                }
            }
        } else {
            match (&c.before, &c.after) {
                (Some(b), Some(a)) => {
                    let _ = write!(out, ": {b} -> {a}");
                }
                (None, Some(a)) => {
                    let _ = write!(out, ": {a}");
                }
                (Some(b), None) => {
                    let _ = write!(out, ": {b}");
                }
                (None, None) => {}
            }
        }
        out.push('\n');
    }
}

#[cfg(test)]
mod tests;
