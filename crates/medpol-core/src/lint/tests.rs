use super::*;
use crate::model::{Catalog, CoverageStatement, CoverageStatus, Criterion};

fn catalog() -> Catalog {
    let payer: Payer =
        toml::from_str(include_str!("../../../../policies/bcbsma/payer.toml")).unwrap();
    let policy: Policy = toml::from_str(include_str!(
        "../../../../policies/bcbsma/183-prolotherapy.toml"
    ))
    .unwrap();
    Catalog {
        payers: vec![payer],
        policies: vec![policy],
    }
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn rules(f: &[Finding]) -> Vec<&'static str> {
    f.iter().map(|f| f.rule).collect()
}

/// Policy 183 alone, reviewed 1/2025: its related policy 320 and the
/// Medicare note's policy 132 are not in the catalogue; on 2026-12-02 the
/// annual review is overdue, in 2025 it is not.
#[test]
fn policy_183_alone() {
    let c = catalog();
    let f = lint(&c, day("2025-06-01"));
    assert_eq!(
        rules(&f),
        ["unresolved-policy", "unresolved-policy"],
        "{f:#?}"
    );
    assert_eq!(f[0].field.to_string(), "related_policy[0].number");
    assert!(f[0].message.contains("320"));
    assert_eq!(f[1].field.to_string(), "note[3].see_policy");
    let f = lint(&c, day("2026-12-02"));
    let due: Vec<&Finding> = f.iter().filter(|f| f.rule == "review-due").collect();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].field.to_string(), "history[0].date");
    assert!(
        due[0]
            .message
            .contains("last reviewed 1/2025; the annual review was due 2026-01-01"),
        "{}",
        due[0].message
    );
}

/// Another policy of the payer that covers M0076 for Medicare Advantage,
/// where 183's table denies it.
#[test]
fn a_contradicting_policy_is_an_error() {
    let mut c = catalog();
    let mut other = c.policies[0].clone();
    other.number = "999".into();
    other.title = "Injections".into();
    other.related_policies.clear();
    other.notes.clear();
    other.statements = vec![CoverageStatement {
        id: "ma".into(),
        heading: None,
        products: vec!["medicare-advantage".into()],
        status: CoverageStatus::MedicallyNecessary,
        indication: None,
        other_indications: false,
        text: "Covered.".into(),
        criteria_match: Default::default(),
        criteria: Vec::new(),
        code_lists: Vec::new(),
        diagnoses: Vec::new(),
        diagnosis_lists: Vec::new(),
    }];
    other.code_lists[0].status = Some(CoverageStatus::MedicallyNecessary);
    other.code_lists[0].products = vec!["medicare-advantage".into()];
    c.policies.push(other);
    let f = lint(&c, day("2025-06-01"));
    let conflicts: Vec<&Finding> = f
        .iter()
        .filter(|f| f.rule == "conflicting-status")
        .collect();
    assert_eq!(conflicts.len(), 1, "{f:#?}");
    assert_eq!(conflicts[0].level, Level::Error);
    assert_eq!(conflicts[0].policy, 1);
    assert_eq!(conflicts[0].field.to_string(), "code_list[0].codes[0]");
    assert!(
        conflicts[0].message.contains("HCPCS M0076"),
        "{}",
        conflicts[0].message
    );
    assert!(
        conflicts[0]
            .message
            .contains("policy 999 covers it, policy 183"),
        "{}",
        conflicts[0].message
    );
    // Retired before 183 took effect: no common day, no conflict.
    c.policies[1].effective = day("2001-01-01");
    c.policies[1].retired = Some(day("2005-01-01"));
    assert!(!rules(&lint(&c, day("2025-06-01"))).contains(&"conflicting-status"));
}

#[test]
fn criteria_need_a_prior_auth_rule_for_each_setting() {
    let mut c = catalog();
    c.policies[0].statements[0].criteria = vec![Criterion::leaf("1", "Pain for 3 months.")];
    c.policies[0]
        .prior_auth
        .retain(|r| r.setting == Setting::Inpatient);
    let f = lint(&c, day("2025-06-01"));
    let missing: Vec<&Finding> = f
        .iter()
        .filter(|f| f.rule == "criteria-without-prior-auth")
        .collect();
    assert_eq!(missing.len(), 1, "{f:#?}");
    assert!(missing[0].message.contains("outpatient"));
    assert_eq!(missing[0].field.to_string(), "statement[0].criterion");
}

#[test]
fn overlapping_revisions_and_unreached_tables() {
    let mut c = catalog();
    let mut again = c.policies[0].clone();
    again.in_force_from = Some(day("2020-01-01"));
    c.policies.push(again);
    let f = lint(&c, day("2025-06-01"));
    assert!(rules(&f).contains(&"overlapping-revisions"), "{f:#?}");
    let mut c = catalog();
    c.policies[0].statements[0].products = vec!["medicare-advantage".into()];
    c.policies[0].statements[0].status = CoverageStatus::Covered;
    c.policies[0].code_lists[0].products = vec!["commercial".into()];
    let f = lint(&c, day("2025-06-01"));
    assert!(rules(&f).contains(&"unreached-code"), "{f:#?}");
}
