//! Validation of payers, policies and whole catalogues, with the path of the
//! field each problem sits at (e.g. `statement[0].products[1]`), so that an
//! adapter can turn the path into a file and line.

use std::collections::{HashMap, HashSet};
use std::fmt;

use crate::code::{Code, CodePattern, CodeSystem};
use crate::model::{
    Catalog, CoverageStatus, Criterion, Payer, Policy, ProductSet, MAX_LINES_OF_BUSINESS,
};

/// One step of a path into a payer or policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A key, spelled as in the file format.
    Key(&'static str),
    Index(usize),
}

/// Where in a payer or policy a problem sits, in file-format key names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldPath(pub Vec<Segment>);

impl FieldPath {
    pub fn root() -> FieldPath {
        FieldPath(Vec::new())
    }

    pub fn key(&self, k: &'static str) -> FieldPath {
        let mut p = self.clone();
        p.0.push(Segment::Key(k));
        p
    }

    pub fn index(&self, i: usize) -> FieldPath {
        let mut p = self.clone();
        p.0.push(Segment::Index(i));
        p
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Segment::Key(k) if i == 0 => write!(f, "{k}")?,
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// A problem found by validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub severity: Severity,
    pub path: FieldPath,
    pub message: String,
    /// Another payer or policy the problem involves (e.g. the first holder
    /// of a duplicated number).
    pub other: Option<Subject>,
}

impl Issue {
    fn error(path: FieldPath, message: impl Into<String>) -> Issue {
        Issue {
            severity: Severity::Error,
            path,
            message: message.into(),
            other: None,
        }
    }

    fn warning(path: FieldPath, message: impl Into<String>) -> Issue {
        Issue {
            severity: Severity::Warning,
            path,
            message: message.into(),
            other: None,
        }
    }
}

fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Checks a payer on its own.
pub fn validate_payer(payer: &Payer) -> Vec<Issue> {
    let mut out = Vec::new();
    let root = FieldPath::root();
    if !is_id(&payer.id) {
        out.push(Issue::error(
            root.key("id"),
            format!(
                "`{}` is not a valid payer id: use lower-case letters, digits and '-'",
                payer.id
            ),
        ));
    }
    if payer.lines_of_business.is_empty() {
        out.push(Issue::error(
            root.key("line_of_business"),
            "a payer needs at least one line of business",
        ));
    }
    if payer.lines_of_business.len() > MAX_LINES_OF_BUSINESS {
        out.push(Issue::error(
            root.key("line_of_business"),
            format!("at most {MAX_LINES_OF_BUSINESS} lines of business per payer"),
        ));
    }
    let mut ids = HashSet::new();
    for (i, lob) in payer.lines_of_business.iter().enumerate() {
        let p = root.key("line_of_business").index(i).key("id");
        if !is_id(&lob.id) || lob.id == "all" {
            out.push(Issue::error(
                p.clone(),
                format!("`{}` is not a valid product id: use lower-case letters, digits and '-' (and not `all`)", lob.id),
            ));
        }
        if !ids.insert(lob.id.as_str()) {
            out.push(Issue::error(
                p,
                format!("duplicate product id `{}`", lob.id),
            ));
        }
    }
    for (i, g) in payer.product_groups.iter().enumerate() {
        let p = root.key("product_group").index(i);
        if !ids.insert(g.id.as_str()) || g.id == "all" {
            out.push(Issue::error(
                p.key("id"),
                format!(
                    "duplicate product id `{}` (groups and lines of business share one namespace)",
                    g.id
                ),
            ));
        }
        for (j, m) in g.products.iter().enumerate() {
            if payer.resolve_products(m).is_none() || m == &g.id {
                out.push(Issue::error(
                    p.key("products").index(j),
                    unknown_product_message(payer, m),
                ));
            }
        }
    }
    out
}

fn unknown_product_message(payer: &Payer, id: &str) -> String {
    format!(
        "unknown product `{id}` for payer {}; valid products: {}",
        payer.id,
        payer.product_ids().join(", ")
    )
}

fn check_products(
    out: &mut Vec<Issue>,
    payer: Option<&Payer>,
    path: FieldPath,
    ids: &[String],
    required: bool,
) {
    if ids.is_empty() && required {
        out.push(Issue::error(
            path.clone(),
            "name at least one product (a line of business, a product group, or `all`)",
        ));
    }
    let Some(payer) = payer else { return };
    for (i, id) in ids.iter().enumerate() {
        if payer.resolve_products(id).is_none() {
            out.push(Issue::error(
                path.index(i),
                unknown_product_message(payer, id),
            ));
        }
    }
}

/// Checks a policy against its payer (`None` when the payer is unknown, which
/// is itself reported).
pub fn validate_policy(policy: &Policy, payer: Option<&Payer>) -> Vec<Issue> {
    let mut out = Vec::new();
    let root = FieldPath::root();
    if payer.is_none() {
        out.push(Issue::error(
            root.key("payer"),
            format!("unknown payer `{}`: no payer file defines it", policy.payer),
        ));
    }
    if policy.number.trim().is_empty()
        || !policy
            .number
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        out.push(Issue::error(
            root.key("number"),
            format!(
                "`{}` is not a valid policy number: use letters, digits, '.' and '-'",
                policy.number
            ),
        ));
    }
    if policy.title.trim().is_empty() {
        out.push(Issue::error(root.key("title"), "the title is empty"));
    }
    if let Some(r) = policy.retired {
        if r <= policy.effective {
            out.push(Issue::error(
                root.key("retired"),
                format!(
                    "retired ({r}) must be after effective ({})",
                    policy.effective
                ),
            ));
        }
    }
    if policy.statements.is_empty() {
        out.push(Issue::error(
            root.key("statement"),
            "a policy needs at least one coverage statement ([[statement]])",
        ));
    }
    let list_ids: Vec<&str> = policy.code_lists.iter().map(|l| l.id.as_str()).collect();
    let mut statement_ids = HashSet::new();
    for (i, s) in policy.statements.iter().enumerate() {
        let p = root.key("statement").index(i);
        if !is_id(&s.id) {
            out.push(Issue::error(
                p.key("id"),
                format!(
                    "`{}` is not a valid statement id: use lower-case letters, digits and '-'",
                    s.id
                ),
            ));
        } else if !statement_ids.insert(s.id.as_str()) {
            out.push(Issue::error(
                p.key("id"),
                format!("duplicate statement id `{}`", s.id),
            ));
        }
        if s.text.trim().is_empty() {
            out.push(Issue::error(p.key("text"), "the statement text is empty"));
        }
        check_products(&mut out, payer, p.key("products"), &s.products, true);
        if !s.criteria.is_empty() && s.status != CoverageStatus::MedicallyNecessary {
            out.push(Issue::warning(
                p.key("criterion"),
                format!(
                    "criteria are only weighed for status `medically-necessary`, not `{}`",
                    s.status.id()
                ),
            ));
        }
        if s.criteria.is_empty()
            && s.status == CoverageStatus::MedicallyNecessary
            && announces_criteria(&s.text)
        {
            out.push(Issue::error(
                p.key("criterion"),
                "the statement says criteria follow (\"… the following criteria …:\") but lists none: add them as [[statement.criterion]] (a medically-necessary statement without criteria reads as covered)",
            ));
        }
        check_criteria(&mut out, &p, &s.criteria, &mut HashSet::new());
        for (j, l) in s.code_lists.iter().enumerate() {
            match policy.code_lists.iter().find(|x| x.id == *l) {
                Some(list) if !list.system.is_procedure() => out.push(Issue::error(
                    p.key("code_lists").index(j),
                    format!("code list `{l}` holds diagnoses: name it in diagnosis_lists"),
                )),
                Some(_) => {}
                None => out.push(Issue::error(
                    p.key("code_lists").index(j),
                    format!(
                        "no code list `{l}` in this policy; code lists: {}",
                        list_ids.join(", ")
                    ),
                )),
            }
        }
        for (j, l) in s.diagnosis_lists.iter().enumerate() {
            match policy.code_lists.iter().find(|x| x.id == *l) {
                Some(list) if list.system != CodeSystem::Icd10cm => out.push(Issue::error(
                    p.key("diagnosis_lists").index(j),
                    format!(
                        "code list `{l}` holds {} codes, not ICD-10-CM diagnoses",
                        list.system.label()
                    ),
                )),
                Some(_) => {}
                None => out.push(Issue::error(
                    p.key("diagnosis_lists").index(j),
                    format!(
                        "no code list `{l}` in this policy; code lists: {}",
                        list_ids.join(", ")
                    ),
                )),
            }
        }
        for (j, d) in s.diagnoses.iter().enumerate() {
            if let Err(e) = CodePattern::parse(CodeSystem::Icd10cm, d) {
                out.push(Issue::error(p.key("diagnoses").index(j), e.to_string()));
            }
        }
        if s.other_indications && s.is_bound() {
            out.push(Issue::error(
                p.key("other_indications"),
                "a statement for all other indications cannot also be bound to diagnoses",
            ));
        }
    }
    if policy.statements.len() > crate::engine::MAX_STATEMENTS {
        out.push(Issue::error(
            root.key("statement"),
            format!(
                "{} statements, more than the {} a policy may hold",
                policy.statements.len(),
                crate::engine::MAX_STATEMENTS
            ),
        ));
    }
    let mut settings = HashSet::new();
    for (i, r) in policy.prior_auth.iter().enumerate() {
        let p = root.key("prior_auth").index(i);
        if !settings.insert(r.setting) {
            out.push(Issue::error(
                p.key("setting"),
                format!(
                    "a second prior-authorization rule for setting `{}`; merge them",
                    r.setting
                ),
            ));
        }
        for (j, row) in r.rows.iter().enumerate() {
            check_products(
                &mut out,
                payer,
                p.key("row").index(j).key("products"),
                &row.products,
                true,
            );
        }
    }
    let mut seen_lists = HashSet::new();
    for (i, l) in policy.code_lists.iter().enumerate() {
        let p = root.key("code_list").index(i);
        if !is_id(&l.id) {
            out.push(Issue::error(
                p.key("id"),
                format!("`{}` is not a valid code-list id", l.id),
            ));
        } else if !seen_lists.insert(l.id.as_str()) {
            out.push(Issue::error(
                p.key("id"),
                format!("duplicate code-list id `{}`", l.id),
            ));
        }
        check_products(&mut out, payer, p.key("products"), &l.products, true);
        let mut seen_codes = HashSet::new();
        for (j, e) in l.codes.iter().enumerate() {
            let cp = p.key("codes").index(j).key("code");
            if l.system == CodeSystem::Icd10cm {
                // Diagnosis tables may print families and ranges.
                match CodePattern::parse(l.system, &e.code) {
                    Ok(c) => {
                        if c.to_string() != e.code {
                            out.push(Issue::warning(
                                cp.clone(),
                                format!("`{}` is written in canonical form as `{c}`", e.code),
                            ));
                        }
                        if !seen_codes.insert(c.to_string()) {
                            out.push(Issue::warning(cp, format!("{c} is listed twice")));
                        }
                    }
                    Err(err) => out.push(Issue::error(cp, err.to_string())),
                }
                continue;
            }
            match Code::parse(l.system, &e.code) {
                Ok(c) => {
                    if c.as_str() != e.code {
                        out.push(Issue::warning(
                            cp.clone(),
                            format!(
                                "`{}` is written in canonical form as `{}`",
                                e.code,
                                c.as_str()
                            ),
                        ));
                    }
                    if !seen_codes.insert(c.as_str().to_string()) {
                        out.push(Issue::warning(
                            cp,
                            format!("code {} is listed twice", c.as_str()),
                        ));
                    }
                }
                Err(err) => out.push(Issue::error(cp, err.to_string())),
            }
        }
    }
    if let Some(payer) = payer {
        check_reach(&mut out, policy, payer);
    }
    let ref_numbers: HashSet<u32> = policy.references.iter().map(|r| r.number).collect();
    for (i, n) in policy.notes.iter().enumerate() {
        let p = root.key("note").index(i);
        check_products(&mut out, payer, p.key("products"), &n.products, false);
        for (j, r) in n.see_references.iter().enumerate() {
            if !ref_numbers.contains(r) {
                out.push(Issue::error(
                    p.key("see_references").index(j),
                    format!("no reference numbered {r} in this policy"),
                ));
            }
        }
    }
    for (i, r) in policy.references.iter().enumerate() {
        let p = root.key("reference").index(i);
        if r.number as usize != i + 1 {
            out.push(Issue::warning(
                p.key("number"),
                format!(
                    "reference {} is at position {}: references are numbered 1, 2, 3, …",
                    r.number,
                    i + 1
                ),
            ));
        }
        if let Some(pmid) = &r.pmid {
            if pmid.is_empty() || pmid.len() > 9 || !pmid.bytes().all(|b| b.is_ascii_digit()) {
                out.push(Issue::error(
                    p.key("pmid"),
                    format!("`{pmid}` is not a PubMed id: expected 1 to 9 digits"),
                ));
            }
        }
    }
    for (i, h) in policy.history.iter().enumerate() {
        if h.action.trim().is_empty() {
            out.push(Issue::error(
                root.key("history").index(i).key("action"),
                "the history action is empty",
            ));
        }
    }
    out
}

/// Whether a statement's text says criteria follow it ("… when all of the
/// following criteria are met:").
fn announces_criteria(text: &str) -> bool {
    let plain = crate::markup::plain(text).to_ascii_lowercase();
    let t = plain.trim_end();
    t.ends_with(':') && (t.contains("the following") || t.contains("criteria"))
}

fn check_criteria<'a>(
    out: &mut Vec<Issue>,
    path: &FieldPath,
    criteria: &'a [Criterion],
    ids: &mut HashSet<&'a str>,
) {
    for (k, c) in criteria.iter().enumerate() {
        let p = path.key("criterion").index(k);
        if c.id.trim().is_empty() {
            out.push(Issue::error(p.key("id"), "a criterion needs an id"));
        } else if !ids.insert(c.id.as_str()) {
            out.push(Issue::error(
                p.key("id"),
                format!("duplicate criterion id `{}` in this statement", c.id),
            ));
        }
        if c.text.trim().is_empty() {
            out.push(Issue::error(p.key("text"), "the criterion text is empty"));
        }
        check_criteria(out, &p, &c.criteria, ids);
    }
}

/// Every code must be decided by something: a statement that reaches its
/// table ([`crate::binding`]) or the table's own status. And every
/// diagnosis table should bind some statement's indication.
fn check_reach(out: &mut Vec<Issue>, policy: &Policy, payer: &Payer) {
    let resolve = |ids: &[String]| {
        ids.iter()
            .filter_map(|id| payer.resolve_products(id))
            .fold(ProductSet::EMPTY, |a, b| a.union(b))
    };
    let statements: Vec<ProductSet> = policy
        .statements
        .iter()
        .map(|s| resolve(&s.products))
        .collect();
    let lists: Vec<ProductSet> = policy
        .code_lists
        .iter()
        .map(|l| resolve(&l.products))
        .collect();
    let binding = crate::binding::bind(policy.into(), &statements, &lists);
    let root = FieldPath::root();
    for (li, l) in policy.code_lists.iter().enumerate() {
        let p = root.key("code_list").index(li);
        if !l.system.is_procedure() {
            let bound = policy
                .statements
                .iter()
                .any(|s| s.diagnosis_lists.contains(&l.id));
            if !bound {
                out.push(Issue::warning(
                    p.key("id"),
                    format!(
                        "diagnosis table `{}` binds no statement's indication: name it in a statement's diagnosis_lists",
                        l.id
                    ),
                ));
            }
            continue;
        }
        if l.status.is_some() {
            continue;
        }
        let reached = binding.reach[li]
            .iter()
            .fold(ProductSet::EMPTY, |a, b| a.union(*b));
        let missing = lists[li].minus(reached);
        if !missing.is_empty() {
            let names: Vec<&str> = payer.members(missing).map(|m| m.id.as_str()).collect();
            out.push(Issue::error(
                p.key("status"),
                format!(
                    "no statement reaches this table's codes for {} and the table states no status: give the table a status, or a statement for those products (or name the table in a statement's code_lists)",
                    names.join(", ")
                ),
            ));
        }
    }
}

/// Which payer or policy of a catalogue an issue is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    Payer(usize),
    Policy(usize),
}

/// Checks a whole catalogue: each payer and policy, then what spans them.
pub fn validate_catalog(catalog: &Catalog) -> Vec<(Subject, Issue)> {
    let mut out = Vec::new();
    for (i, p) in catalog.payers.iter().enumerate() {
        out.extend(
            validate_payer(p)
                .into_iter()
                .map(|issue| (Subject::Payer(i), issue)),
        );
    }
    for (i, pol) in catalog.policies.iter().enumerate() {
        let payer = catalog.payer(&pol.payer);
        out.extend(
            validate_policy(pol, payer)
                .into_iter()
                .map(|issue| (Subject::Policy(i), issue)),
        );
    }
    out.extend(validate_across(catalog));
    out
}

/// Checks what spans payers and policies: duplicate payer ids, duplicate
/// policy numbers, related policies that do not resolve (a warning).
pub fn validate_across(catalog: &Catalog) -> Vec<(Subject, Issue)> {
    let mut out = Vec::new();
    let mut payers: HashMap<&str, usize> = HashMap::new();
    for (i, p) in catalog.payers.iter().enumerate() {
        if let Some(first) = payers.insert(p.id.as_str(), i) {
            out.push((
                Subject::Payer(i),
                Issue {
                    other: Some(Subject::Payer(first)),
                    ..Issue::error(
                        FieldPath::root().key("id"),
                        format!("duplicate payer id `{}`", p.id),
                    )
                },
            ));
        }
    }
    let mut numbers: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    for (i, pol) in catalog.policies.iter().enumerate() {
        let same = numbers
            .entry((pol.payer.as_str(), pol.number.as_str()))
            .or_default();
        // Revisions of one policy share its number when the days they decide
        // do not overlap; anything else is a duplicate.
        let clash = same
            .iter()
            .copied()
            .find(|&j| catalog.policies[j].overlaps(pol));
        same.push(i);
        if let Some(first) = clash {
            out.push((
                Subject::Policy(i),
                Issue {
                    other: Some(Subject::Policy(first)),
                    ..Issue::error(
                        FieldPath::root().key("number"),
                        format!(
                            "duplicate policy number {} for payer {} (also used by \"{}\")",
                            pol.number, pol.payer, catalog.policies[first].title
                        ),
                    )
                },
            ));
        }
    }
    for (i, pol) in catalog.policies.iter().enumerate() {
        let resolves = |n: &str| numbers.contains_key(&(pol.payer.as_str(), n));
        for (j, r) in pol.related_policies.iter().enumerate() {
            if !resolves(&r.number) {
                out.push((
                    Subject::Policy(i),
                    Issue::warning(
                        FieldPath::root()
                            .key("related_policy")
                            .index(j)
                            .key("number"),
                        format!(
                            "related policy {} ({}) is not in the catalogue",
                            r.number, r.title
                        ),
                    ),
                ));
            }
        }
        for (j, n) in pol.notes.iter().enumerate() {
            if let Some(see) = &n.see_policy {
                if !resolves(&see.number) {
                    out.push((
                        Subject::Policy(i),
                        Issue::warning(
                            FieldPath::root().key("note").index(j).key("see_policy"),
                            format!(
                                "policy {} ({}) is not in the catalogue",
                                see.number, see.title
                            ),
                        ),
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_print_like_the_file_format() {
        let p = FieldPath::root()
            .key("statement")
            .index(0)
            .key("products")
            .index(2);
        assert_eq!(p.to_string(), "statement[0].products[2]");
    }
}
