//! Lint: problems a validator cannot see in one file, found across the
//! catalogue (contradicting policies, pointers to nothing, overdue reviews,
//! codes no statement decides, criteria with no prior-authorization rule,
//! overlapping revisions). Each finding names its rule, its severity, the
//! policy and the field, so an adapter can point at the file and line.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::Serialize;

use crate::binding::{bind, Parts};
use crate::model::{Catalog, CoverageStatus, Payer, Policy, ProductSet};
use crate::setting::Setting;
use crate::validate::FieldPath;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    Warning,
    Error,
}

impl Level {
    pub fn id(self) -> &'static str {
        match self {
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// A lint rule: its id, its default level, and what it finds.
pub struct Rule {
    pub id: &'static str,
    pub level: Level,
    pub finds: &'static str,
}

pub const RULES: &[Rule] = &[
    Rule {
        id: "conflicting-status",
        level: Level::Error,
        finds: "a code and product that two policies in effect on the same day decide differently (one covers, the other denies)",
    },
    Rule {
        id: "unresolved-policy",
        level: Level::Warning,
        finds: "a related policy or a note's pointer to a policy that is not in the catalogue",
    },
    Rule {
        id: "review-due",
        level: Level::Warning,
        finds: "a policy whose last review is more than 12 months old (the annual review is due)",
    },
    Rule {
        id: "unreached-code",
        level: Level::Warning,
        finds: "a code table that no statement reaches (its codes are decided by the table's sentence alone)",
    },
    Rule {
        id: "criteria-without-prior-auth",
        level: Level::Warning,
        finds: "a statement with medical-necessity criteria in a policy with no prior-authorization rule for a setting",
    },
    Rule {
        id: "overlapping-revisions",
        level: Level::Error,
        finds: "two revisions of one policy that decide on a common day",
    },
];

pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// One finding.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub rule: &'static str,
    pub level: Level,
    /// Index of the policy in the catalogue.
    pub policy: usize,
    /// Where in that policy, in file-format key names.
    pub field: FieldPath,
    pub message: String,
    /// The other policy a finding is about (the one a conflict is with, the
    /// revision an overlap is with), by index.
    pub other: Option<usize>,
}

fn products_of(payer: Option<&Payer>, ids: &[String]) -> ProductSet {
    let Some(payer) = payer else {
        return ProductSet::EMPTY;
    };
    ids.iter()
        .filter_map(|id| payer.resolve_products(id))
        .fold(ProductSet::EMPTY, ProductSet::union)
}

fn grants(s: CoverageStatus) -> bool {
    matches!(
        s,
        CoverageStatus::Covered | CoverageStatus::MedicallyNecessary
    )
}

fn names(payer: Option<&Payer>, set: ProductSet) -> String {
    match payer {
        Some(p) => p
            .members(set)
            .map(|l| l.id.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        None => String::new(),
    }
}

/// Every finding in the catalogue, judged on `today` (for reviews), in
/// catalogue order.
pub fn lint(catalog: &Catalog, today: NaiveDate) -> Vec<Finding> {
    let mut out = Vec::new();
    let payer_of = |p: &Policy| catalog.payer(&p.payer);
    let root = FieldPath::root();

    // What each policy decides for each procedure code: (policy, list, code
    // index, products, grants?), from the statements that reach its table
    // (indication-specific ones left out: they depend on the diagnosis) and
    // the table's own sentence for products no statement reaches.
    // (system|code, payer) -> (policy, list, code index, products, grants?)
    type Decision = (usize, usize, usize, ProductSet, bool);
    let mut by_code: HashMap<(String, &str), Vec<Decision>> = HashMap::new();
    for (pi, p) in catalog.policies.iter().enumerate() {
        let payer = payer_of(p);
        let statement_sets: Vec<ProductSet> = p
            .statements
            .iter()
            .map(|s| products_of(payer, &s.products))
            .collect();
        let list_sets: Vec<ProductSet> = p
            .code_lists
            .iter()
            .map(|l| products_of(payer, &l.products))
            .collect();
        let binding = bind(Parts::from(p), &statement_sets, &list_sets);
        for (li, l) in p.code_lists.iter().enumerate() {
            if !l.system.is_procedure() {
                let used = p
                    .statements
                    .iter()
                    .any(|s| s.diagnosis_lists.contains(&l.id));
                if !used {
                    out.push(Finding {
                        other: None,
                        rule: "unreached-code",
                        level: Level::Warning,
                        policy: pi,
                        field: root.key("code_list").index(li).key("id"),
                        message: format!("diagnosis table `{}` is named by no statement's diagnosis_lists: its codes select nothing", l.id),
                    });
                }
                continue;
            }
            let reach = &binding.reach[li];
            let mut reached = ProductSet::EMPTY;
            let mut decisions: Vec<(ProductSet, bool)> = Vec::new();
            for (si, set) in reach.iter().enumerate() {
                if set.is_empty() {
                    continue;
                }
                reached = reached.union(*set);
                let s = &p.statements[si];
                if !s.is_indication_specific() {
                    decisions.push((*set, grants(s.status)));
                }
            }
            if reached.is_empty() && !l.codes.is_empty() {
                out.push(Finding {
                    other: None,
                    rule: "unreached-code",
                    level: Level::Warning,
                    policy: pi,
                    field: root.key("code_list").index(li).key("id"),
                    message: format!(
                        "code table `{}` ({} codes) is reached by no statement: its codes are decided by the table's sentence alone",
                        l.id,
                        l.codes.len()
                    ),
                });
            }
            let rest = binding.governed[li].minus(reached);
            if let (Some(status), false) = (l.status, rest.is_empty()) {
                decisions.push((rest, grants(status)));
            }
            for (ci, c) in l.codes.iter().enumerate() {
                for (set, grant) in &decisions {
                    by_code
                        .entry((format!("{}|{}", l.system.label(), c.code), p.payer.as_str()))
                        .or_default()
                        .push((pi, li, ci, *set, *grant));
                }
            }
        }
    }
    let mut conflicts: Vec<Finding> = Vec::new();
    for ((code, _), entries) in &by_code {
        for (i, a) in entries.iter().enumerate() {
            for b in &entries[..i] {
                if a.0 == b.0 || a.4 == b.4 {
                    continue;
                }
                let (pa, pb) = (&catalog.policies[a.0], &catalog.policies[b.0]);
                let common = a.3.intersect(b.3);
                if common.is_empty() || !pa.overlaps(pb) {
                    continue;
                }
                let (system, code) = code.split_once('|').unwrap_or(("", code));
                let says = |g: bool| if g { "covers" } else { "denies" };
                conflicts.push(Finding {
                    other: Some(b.0),
                    rule: "conflicting-status",
                    level: Level::Error,
                    policy: a.0,
                    field: root.key("code_list").index(a.1).key("codes").index(a.2),
                    message: format!(
                        "{system} {code} for {}: policy {} {} it, policy {} (\"{}\") {} it, both in effect on {}",
                        names(payer_of(pa), common),
                        pa.number,
                        says(a.4),
                        pb.number,
                        pb.title,
                        says(b.4),
                        pa.window().0.max(pb.window().0)
                    ),
                });
            }
        }
    }
    conflicts.sort_by(|x, y| (x.policy, x.message.as_str()).cmp(&(y.policy, y.message.as_str())));
    conflicts.dedup_by(|x, y| x.policy == y.policy && x.message == y.message);
    out.extend(conflicts);

    for (pi, p) in catalog.policies.iter().enumerate() {
        let exists = |number: &str| {
            catalog
                .find_policies(Some(&p.payer), number)
                .next()
                .is_some()
        };
        for (ri, r) in p.related_policies.iter().enumerate() {
            if !exists(&r.number) {
                out.push(Finding {
                    other: None,
                    rule: "unresolved-policy",
                    level: Level::Warning,
                    policy: pi,
                    field: root.key("related_policy").index(ri).key("number"),
                    message: format!(
                        "related policy {} ({}) is not in the catalogue",
                        r.number, r.title
                    ),
                });
            }
        }
        for (ni, n) in p.notes.iter().enumerate() {
            if let Some(see) = &n.see_policy {
                if !exists(&see.number) {
                    out.push(Finding {
                        other: None,
                        rule: "unresolved-policy",
                        level: Level::Warning,
                        policy: pi,
                        field: root.key("note").index(ni).key("see_policy"),
                        message: format!(
                            "the note points to policy {} ({}), which is not in the catalogue",
                            see.number, see.title
                        ),
                    });
                }
            }
        }

        if p.decides_on(today) || p.window().0 > today {
            let r = crate::review::review_of(p, today, 0);
            if r.days_left < 0 {
                let field = match p
                    .history
                    .iter()
                    .position(|h| h.date.as_str() == r.last_review_label)
                {
                    Some(i) => root.key("history").index(i).key("date"),
                    None => root.key("effective"),
                };
                out.push(Finding {
                    other: None,
                    rule: "review-due",
                    level: Level::Warning,
                    policy: pi,
                    field,
                    message: format!(
                        "last reviewed {}; the annual review was due {} ({} days ago)",
                        r.last_review_label, r.next_due, -r.days_left
                    ),
                });
            }
        }

        if let Some(si) = p.statements.iter().position(|s| !s.criteria.is_empty()) {
            for setting in [Setting::Outpatient, Setting::Inpatient] {
                if !p.prior_auth.iter().any(|r| r.setting == setting) {
                    out.push(Finding {
                        other: None,
                        rule: "criteria-without-prior-auth",
                        level: Level::Warning,
                        policy: pi,
                        field: root.key("statement").index(si).key("criterion"),
                        message: format!(
                            "statement `{}` has medical-necessity criteria but the policy has no prior-authorization rule for the {} setting",
                            p.statements[si].id,
                            setting.id()
                        ),
                    });
                }
            }
        }

        for (qi, q) in catalog.policies[..pi].iter().enumerate() {
            if q.payer == p.payer && q.number == p.number && q.overlaps(p) {
                out.push(Finding {
                    other: Some(qi),
                    rule: "overlapping-revisions",
                    level: Level::Error,
                    policy: pi,
                    field: root.key("effective"),
                    message: format!(
                        "this revision ({} from {}) and revision #{} ({} from {}) both decide on {}",
                        p.title,
                        p.window().0,
                        qi + 1,
                        q.title,
                        q.window().0,
                        p.window().0.max(q.window().0)
                    ),
                });
            }
        }
    }
    out.sort_by_key(|f| f.policy);
    out
}

#[cfg(test)]
mod tests;
