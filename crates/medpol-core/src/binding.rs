//! Which statements decide which codes, for which products: the rules that
//! bind a policy's code tables to its statements. The engine compiles them,
//! the validator checks that every code is reachable, and the importer says
//! which rule it relied on; all three call [`bind`].
//!
//! For a procedure-code table `L` (its status σ, its products P) and a
//! statement `s` (its status τ, its products Ps):
//!
//! 1. **Explicit.** If `s.code_lists` names tables, `s` decides exactly those,
//!    for all of Ps (also products the table does not name).
//! 2. **By status.** Otherwise `s` decides `L` for Ps ∩ P when σ points to it:
//!    a table "medically necessary (when criteria are met)" or "covered"
//!    points to the medically-necessary and covered statements and to every
//!    indication-specific one (bound to diagnoses, "for all other
//!    indications", or naming an indication: the same service for other
//!    indications); a table "investigational", "not medically necessary" or
//!    "not covered" points only to statements of that same status; a table
//!    without a status points to every statement. For a product of P whose
//!    statements σ points to none of, its statements that deny the service
//!    decide too: the policy speaks for that product, and a denial in its
//!    words outranks the table's sentence (a "medically necessary" table
//!    beside "Medicare members: NOT COVERED"); a grant does not (coverage is
//!    never extended against a table's sentence).
//! 3. **Products no table names.** A product that a statement names but no
//!    procedure table of the policy does is governed by that statement for
//!    every procedure table, when the statement denies the service
//!    (investigational, not medically necessary, not covered): the tables
//!    code the policy's service, and the statement speaks of that service for
//!    members the tables leave out ("Medicare members: the service is NOT
//!    COVERED"). A statement that would grant coverage to such products
//!    reaches no table unless it names it (`code_lists`): coverage is never
//!    extended to codes by inference.
//!
//! A table whose products no statement decides falls back on its own
//! introducing sentence (its status), and is cited for it. When a code is in
//! several tables of one policy, all of them take part: the statements that
//! reach any of them, and the sentences of those that no statement reaches;
//! the strictest answer wins.

use crate::model::{CodeList, CoverageStatement, CoverageStatus, Policy, ProductSet};

/// How a statement came to decide a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Explicit,
    ByStatus,
    /// Rule 2, second part: the table's status points to none of the
    /// product's statements.
    ProductsOwnStatements,
    ProductNoTableNames,
}

impl Rule {
    pub fn describe(self) -> &'static str {
        match self {
            Rule::Explicit => "named by the statement's code_lists",
            Rule::ByStatus => "the table's status points to the statement",
            Rule::ProductsOwnStatements => {
                "the table's status points to none of these products' statements, so all of them decide"
            }
            Rule::ProductNoTableNames => {
                "the statement's products are named by no code table, so it governs every procedure table for them"
            }
        }
    }
}

/// The reach of every statement over every code table of one policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    /// `reach[list][statement]`: the products for which the statement decides
    /// the list's codes. Empty for diagnosis (ICD-10-CM) tables.
    pub reach: Vec<Vec<ProductSet>>,
    /// The products for which the policy governs each list's codes: the
    /// list's own and every product a statement reaches it for.
    pub governed: Vec<ProductSet>,
    /// Every (list, statement, products, rule) where a statement reaches a
    /// list, for reports.
    pub links: Vec<(usize, usize, ProductSet, Rule)>,
}

/// Whether a status denies the service.
fn denies(status: CoverageStatus) -> bool {
    use CoverageStatus::*;
    matches!(status, Investigational | NotMedicallyNecessary | NotCovered)
}

/// Whether a table's status points to a statement (rule 2).
pub fn status_points_to(table: Option<CoverageStatus>, s: &CoverageStatement) -> bool {
    use CoverageStatus::*;
    match table {
        None => true,
        Some(Covered | MedicallyNecessary) => {
            matches!(s.status, Covered | MedicallyNecessary) || s.is_indication_specific()
        }
        Some(t) => s.status == t,
    }
}

/// The parts of a policy the binding reads: its statements and code tables
/// (an importer has them before it has a whole policy).
#[derive(Clone, Copy)]
pub struct Parts<'a> {
    pub statements: &'a [CoverageStatement],
    pub code_lists: &'a [CodeList],
}

impl<'a> From<&'a Policy> for Parts<'a> {
    fn from(p: &'a Policy) -> Parts<'a> {
        Parts {
            statements: &p.statements,
            code_lists: &p.code_lists,
        }
    }
}

/// Binds a policy's tables to its statements, given the product sets its
/// statements and lists resolve to (in the policy's order).
pub fn bind(policy: Parts<'_>, statements: &[ProductSet], lists: &[ProductSet]) -> Binding {
    let procedure = |l: &CodeList| l.system.is_procedure();
    let by_tables = policy
        .code_lists
        .iter()
        .zip(lists)
        .filter(|(l, _)| procedure(l))
        .fold(ProductSet::EMPTY, |a, (_, p)| a.union(*p));
    let mut reach = Vec::with_capacity(lists.len());
    let mut governed = Vec::with_capacity(lists.len());
    let mut links = Vec::new();
    for (li, list) in policy.code_lists.iter().enumerate() {
        let mut row = vec![ProductSet::EMPTY; statements.len()];
        let mut products = lists[li];
        if procedure(list) {
            for (si, s) in policy.statements.iter().enumerate() {
                let ps = statements[si];
                let mut link = |set: ProductSet, rule: Rule, row: &mut Vec<ProductSet>| {
                    if !set.is_empty() {
                        row[si] = row[si].union(set);
                        links.push((li, si, set, rule));
                    }
                };
                if !s.code_lists.is_empty() {
                    if s.code_lists.contains(&list.id) {
                        link(ps, Rule::Explicit, &mut row);
                    }
                    continue;
                }
                if status_points_to(list.status, s) {
                    link(ps.intersect(lists[li]), Rule::ByStatus, &mut row);
                }
                if denies(s.status) {
                    link(ps.minus(by_tables), Rule::ProductNoTableNames, &mut row);
                }
            }
            // Products of the table whose statements its status points to
            // none of: all their statements decide.
            let mut spoken = ProductSet::EMPTY;
            for r in &row {
                spoken = spoken.union(*r);
            }
            for (si, s) in policy.statements.iter().enumerate() {
                if !s.code_lists.is_empty() || !denies(s.status) {
                    continue;
                }
                let unspoken = statements[si].intersect(lists[li]).minus(spoken);
                if !unspoken.is_empty() {
                    row[si] = row[si].union(unspoken);
                    links.push((li, si, unspoken, Rule::ProductsOwnStatements));
                }
            }
            for r in &row {
                products = products.union(*r);
            }
        }
        reach.push(row);
        governed.push(products);
    }
    Binding {
        reach,
        governed,
        links,
    }
}

/// The ICD-10-CM tables an importer binds to a statement: a diagnosis table
/// whose sentence gives a status ("The following ICD Diagnosis Codes are
/// considered medically necessary when submitted with the CPT and HCPCS codes
/// above …") names the indication of the statements of that status (a
/// medically-necessary table: the medically-necessary and covered ones) for
/// its products, other than catch-alls and statements already bound.
pub fn diagnosis_tables_for(
    policy: Parts<'_>,
    statements: &[ProductSet],
    lists: &[ProductSet],
    statement: usize,
) -> Vec<usize> {
    use CoverageStatus::*;
    let s = &policy.statements[statement];
    if s.other_indications || s.is_bound() {
        return Vec::new();
    }
    policy
        .code_lists
        .iter()
        .enumerate()
        .filter(|(li, l)| {
            !l.system.is_procedure()
                && !statements[statement].intersect(lists[*li]).is_empty()
                && match l.status {
                    Some(Covered | MedicallyNecessary) => {
                        matches!(s.status, Covered | MedicallyNecessary)
                    }
                    Some(t) => s.status == t,
                    None => false,
                }
        })
        .map(|(li, _)| li)
        .collect()
}
