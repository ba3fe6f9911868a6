//! Fields a document carries only implicitly, derived the same way by the
//! importer (to fill them) and the renderer (to know what it need not print):
//! the effective date, the Medicare note, the kind of a coding paragraph, and
//! the ids of statements and code tables.

use chrono::NaiveDate;
use medpol_core::model::{
    CoverageStatus, HistoryEntry, Market, Note, NoteKind, Payer, Policy, Reference, RelatedPolicy,
};
use medpol_core::CodeSystem;

/// A date printed `M/D/YYYY`.
pub fn parse_day(text: &str) -> Option<NaiveDate> {
    let t = text.trim().trim_end_matches(['.', ',', ';', ')']);
    let mut parts = t.split('/');
    let (m, d, y) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 {
        return None;
    }
    let num = |s: &str| -> Option<u32> {
        (!s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    NaiveDate::from_ymd_opt(num(y)? as i32, num(m)?, num(d)?)
}

/// `M/D/YYYY`, as documents print days.
pub fn format_day(date: NaiveDate) -> String {
    date.format("%-m/%-d/%Y").to_string()
}

/// The day the policy took effect, from the history row that records it
/// ("Medical Policy 183 effective 5/1/2010 describing ongoing non-coverage").
pub fn effective_from_history(history: &[HistoryEntry]) -> Option<NaiveDate> {
    // The row that archives the policy also says "effective": it dates the
    // end, not the start.
    history
        .iter()
        .filter(|h| !is_archive_row(&h.action))
        .find_map(|h| {
            let mut words = h.action.split_whitespace();
            while let Some(w) = words.next() {
                if w.eq_ignore_ascii_case("effective") {
                    if let Some(day) = words.clone().next().and_then(parse_day) {
                        return Some(day);
                    }
                }
            }
            None
        })
}

/// Whether a history action archives the policy ("Policy archived effective …").
fn is_archive_row(action: &str) -> bool {
    let lower = crate::lines::fold(action);
    lower.contains("policy archived") || lower.contains("policy retired")
}

/// The day an archived policy stopped applying, from the history row that
/// says so ("Policy archived effective 6/1/2024. Replaced by MP #612 …"):
/// the day after "effective", else the row's date.
pub fn retired_from_history(history: &[HistoryEntry]) -> Option<NaiveDate> {
    history.iter().find_map(|h| {
        if !is_archive_row(&h.action) {
            return None;
        }
        let mut words = h.action.split_whitespace();
        while let Some(w) = words.next() {
            if w.eq_ignore_ascii_case("effective") {
                if let Some(day) = words.clone().next().and_then(parse_day) {
                    return Some(day);
                }
            }
        }
        Some(h.date.start())
    })
}

/// Binds each statement's indication to the diagnosis tables of its status
/// (see [`medpol_core::binding::diagnosis_tables_for`]) unless it names its
/// own, and says what was bound and which statements govern code tables for
/// products the tables do not name ([`medpol_core::binding`], rule 3).
pub fn bind_indications(
    payer: &Payer,
    statements: &mut [medpol_core::model::CoverageStatement],
    lists: &[medpol_core::model::CodeList],
) -> Vec<String> {
    use medpol_core::binding::{bind, diagnosis_tables_for, Parts, Rule};
    use medpol_core::model::ProductSet;
    let resolve = |ids: &[String]| {
        ids.iter()
            .filter_map(|id| payer.resolve_products(id))
            .fold(ProductSet::EMPTY, |a, b| a.union(b))
    };
    let statement_products: Vec<ProductSet> =
        statements.iter().map(|s| resolve(&s.products)).collect();
    let list_products: Vec<ProductSet> = lists.iter().map(|l| resolve(&l.products)).collect();
    let mut report = Vec::new();
    for si in 0..statements.len() {
        if !statements[si].diagnosis_lists.is_empty() {
            continue;
        }
        let parts = Parts {
            statements,
            code_lists: lists,
        };
        let tables = diagnosis_tables_for(parts, &statement_products, &list_products, si);
        let s = &mut statements[si];
        for &li in &tables {
            let list = &lists[li];
            report.push(format!(
                "statement `{}`: indication bound to the diagnoses of table `{}` ({} codes; the table is {} and the statement {})",
                s.id,
                list.id,
                list.codes.len(),
                list.status.map_or("without status", |st| st.id()),
                s.status.id()
            ));
            s.diagnosis_lists.push(list.id.clone());
        }
    }
    let parts = Parts {
        statements,
        code_lists: lists,
    };
    let binding = bind(parts, &statement_products, &list_products);
    for (li, si, set, rule) in binding.links {
        if matches!(
            rule,
            Rule::ProductNoTableNames | Rule::ProductsOwnStatements
        ) {
            let names: Vec<&str> = payer.members(set).map(|l| l.id.as_str()).collect();
            report.push(format!(
                "statement `{}` governs table `{}` for {}: {}",
                statements[si].id,
                lists[li].id,
                names.join(", "),
                rule.describe()
            ));
        }
    }
    report
}

/// The diagnosis tables the importer would bind to each statement (what
/// the renderer need not print).
pub fn indication_tables(policy: &Policy, payer: &Payer) -> Vec<Vec<String>> {
    let mut statements = policy.statements.clone();
    for s in &mut statements {
        s.diagnosis_lists.clear();
    }
    let _ = bind_indications(payer, &mut statements, &policy.code_lists);
    statements.into_iter().map(|s| s.diagnosis_lists).collect()
}

/// The kind of a paragraph of the coding section: the contract-benefits
/// disclaimer, or coding guidance.
pub fn coding_note_kind(text: &str) -> NoteKind {
    let lower = crate::lines::fold(text);
    if lower.starts_with("inclusion or exclusion of a code") || lower.contains("contract benefits")
    {
        NoteKind::ContractBenefits
    } else {
        NoteKind::Coding
    }
}

/// A note of the coding section, as the importer makes it from a paragraph.
pub fn coding_note(text: &str) -> Note {
    Note {
        kind: coding_note_kind(text),
        section: Some("coding".to_string()),
        products: Vec::new(),
        text: text.to_string(),
        see_policy: None,
        see_ncd: None,
        see_references: Vec::new(),
    }
}

/// The products of the payer's Medicare Advantage members: the group that
/// holds exactly them, else their lines of business.
pub fn medicare_products(payer: &Payer) -> Vec<String> {
    let lobs: Vec<usize> = payer
        .lines_of_business
        .iter()
        .enumerate()
        .filter(|(_, l)| l.market == Market::MedicareAdvantage)
        .map(|(i, _)| i)
        .collect();
    if lobs.is_empty() {
        return Vec::new();
    }
    let set = lobs
        .iter()
        .fold(medpol_core::model::ProductSet::EMPTY, |s, &i| {
            s.union(medpol_core::model::ProductSet::single(i))
        });
    if let Some(g) = payer
        .product_groups
        .iter()
        .find(|g| payer.resolve_products(&g.id) == Some(set))
    {
        return vec![g.id.clone()];
    }
    lobs.iter()
        .map(|&i| payer.lines_of_business[i].id.clone())
        .collect()
}

/// "See MP #132 Medicare Advantage Management for …": the policy a text points to.
fn see_policy(text: &str) -> Option<RelatedPolicy> {
    let at = text.find("See MP #")?;
    let rest = &text[at + "See MP #".len()..];
    let digits = rest
        .find(|c: char| !c.is_ascii_alphanumeric() && c != '.')
        .unwrap_or(rest.len());
    let number = rest[..digits].trim_end_matches('.');
    if number.is_empty() {
        return None;
    }
    let after = rest[digits..].trim_start();
    let title_end = after.find(" for ").unwrap_or(after.len());
    let title = after[..title_end].trim().trim_end_matches('.');
    Some(RelatedPolicy {
        number: number.to_string(),
        title: title.to_string(),
    })
}

/// The National Coverage Determination a reference cites, e.g. `150.7` from
/// "National Coverage Determination (NCD) for … (150.7)".
pub fn ncd_of(reference: &Reference) -> Option<String> {
    if !reference.title.contains("National Coverage Determination") {
        return None;
    }
    let inner = reference.title.trim_end().strip_suffix(')')?;
    let open = inner.rfind('(')?;
    let ncd = &inner[open + 1..];
    let ok = !ncd.is_empty()
        && ncd.contains('.')
        && ncd.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    ok.then(|| ncd.to_string())
}

/// The Medicare note a history row implies: "Medicare information removed.
/// See MP #132 Medicare Advantage Management for …" points Medicare
/// Advantage members to policy 132 and, when the references cite a National
/// Coverage Determination, to it.
pub fn medicare_note(
    history: &[HistoryEntry],
    references: &[Reference],
    payer: &Payer,
) -> Option<Note> {
    let row = history
        .iter()
        .find(|h| h.action.contains("Medicare") && see_policy(&h.action).is_some())?;
    let ncd = references
        .iter()
        .find_map(|r| ncd_of(r).map(|n| (n, r.number)));
    Some(Note {
        kind: NoteKind::Medicare,
        section: Some("history".to_string()),
        products: medicare_products(payer),
        text: row.action.clone(),
        see_policy: see_policy(&row.action),
        see_ncd: ncd.as_ref().map(|(n, _)| n.clone()),
        see_references: ncd.map(|(_, r)| r).into_iter().collect(),
    })
}

/// Ids handed out so far, and for each base the next suffix to try: each
/// new id costs a lookup or two however many share its base (a document with
/// thousands of like statements once took cubic time here).
#[derive(Default)]
struct Taken {
    ids: std::collections::HashSet<String>,
    next: std::collections::HashMap<String, usize>,
}

/// `base`, or `base-b`, `base-c`, … when taken.
fn unique(taken: &mut Taken, base: String) -> String {
    let mut n = taken.next.get(&base).copied().unwrap_or(0);
    let mut id = if n == 0 {
        base.clone()
    } else {
        format!("{base}-{}", letters(n))
    };
    while taken.ids.contains(&id) {
        n += 1;
        id = format!("{base}-{}", letters(n));
    }
    taken.next.insert(base, n + 1);
    taken.ids.insert(id.clone());
    id
}

/// `a`, `b`, …, `z`, `aa`, … (bijective base 26).
fn letters(mut index: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'a' + (index % 26) as u8);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Statement ids: `<product ids>-<status>` (`commercial-investigational`),
/// made unique in order.
pub fn statement_ids<'a>(
    statements: impl IntoIterator<Item = (&'a [String], CoverageStatus)>,
) -> Vec<String> {
    let mut taken = Taken::default();
    statements
        .into_iter()
        .map(|(products, status)| {
            unique(
                &mut taken,
                format!("{}-{}", products.join("-"), status.id()),
            )
        })
        .collect()
}

/// Code-table ids: `<system>-<status>` (`hcpcs-investigational`), or
/// `<system>-codes` for a table without a status, made unique in order.
pub fn code_list_ids(
    lists: impl IntoIterator<Item = (CodeSystem, Option<CoverageStatus>)>,
) -> Vec<String> {
    let mut taken = Taken::default();
    lists
        .into_iter()
        .map(|(system, status)| {
            unique(
                &mut taken,
                format!(
                    "{}-{}",
                    system.id(),
                    status.map_or("codes", CoverageStatus::id)
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_stay_unique_and_in_order_however_many_share_a_base() {
        let products = ["commercial".to_string()];
        let many = vec![(&products[..], CoverageStatus::Investigational); 20_000];
        let ids = statement_ids(many);
        assert_eq!(
            ids[..3],
            [
                "commercial-investigational",
                "commercial-investigational-b",
                "commercial-investigational-c"
            ]
        );
        assert_eq!(ids[26], "commercial-investigational-aa");
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        // A base that is itself a suffixed id of another.
        let mut taken = Taken::default();
        assert_eq!(unique(&mut taken, "a-b".into()), "a-b");
        assert_eq!(unique(&mut taken, "a".into()), "a");
        assert_eq!(unique(&mut taken, "a".into()), "a-c");
    }

    #[test]
    fn days_and_effective_dates() {
        assert_eq!(parse_day("5/1/2010"), NaiveDate::from_ymd_opt(2010, 5, 1));
        assert_eq!(parse_day("5/1/2010."), NaiveDate::from_ymd_opt(2010, 5, 1));
        assert_eq!(parse_day("1/2025"), None);
        assert_eq!(parse_day("13/1/2010"), None);
        let h = |d: &str, a: &str| HistoryEntry {
            date: d.parse().unwrap(),
            action: a.into(),
        };
        let history = [
            h(
                "1/2021",
                "Codes added; effective for dates of service on or after the date above.",
            ),
            h(
                "5/1/2010",
                "Medical Policy 183 effective 5/1/2010 describing ongoing non-coverage",
            ),
        ];
        assert_eq!(
            effective_from_history(&history),
            NaiveDate::from_ymd_opt(2010, 5, 1)
        );
        assert_eq!(
            format_day(NaiveDate::from_ymd_opt(2010, 5, 1).unwrap()),
            "5/1/2010"
        );
    }

    #[test]
    fn pointers_to_other_policies_and_ncds() {
        assert_eq!(
            see_policy("Medicare information removed. See MP #132 Medicare Advantage Management for local coverage determination and national coverage determination reference."),
            Some(RelatedPolicy { number: "132".into(), title: "Medicare Advantage Management".into() })
        );
        assert_eq!(see_policy("See MP #"), None);
        let r = Reference {
            number: 40,
            authors: "CMS".into(),
            title: "National Coverage Determination (NCD) for PROLOTHERAPY (150.7)".into(),
            journal: None,
            date: None,
            locator: None,
            pmid: None,
            url: None,
            accessed: None,
        };
        assert_eq!(ncd_of(&r).as_deref(), Some("150.7"));
    }

    #[test]
    fn ids_are_unique_in_order() {
        let c = vec!["commercial".to_string()];
        let ids = statement_ids([
            (c.as_slice(), CoverageStatus::Investigational),
            (c.as_slice(), CoverageStatus::Investigational),
        ]);
        assert_eq!(
            ids,
            ["commercial-investigational", "commercial-investigational-b"]
        );
        let ids = code_list_ids([
            (CodeSystem::Hcpcs, Some(CoverageStatus::Investigational)),
            (CodeSystem::Cpt, None),
        ]);
        assert_eq!(ids, ["hcpcs-investigational", "cpt-codes"]);
    }
}
