use super::*;
use crate::model::{CoverageStatus, HistoryEntry, Note};

fn p183() -> Policy {
    toml::from_str(include_str!(
        "../../../../policies/bcbsma/183-prolotherapy.toml"
    ))
    .unwrap()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

#[test]
fn a_policy_equals_itself() {
    let p = p183();
    let d = diff_policies(&p, &p);
    assert!(d.is_empty() && d.parts.is_empty(), "{d:?}");
}

#[test]
fn each_part_is_reported_with_what_changed() {
    let before = p183();
    let mut after = before.clone();
    after.statements[0].status = CoverageStatus::MedicallyNecessary;
    after.statements[0].text = after.statements[0]
        .text
        .replace("INVESTIGATIONAL", "MEDICALLY NECESSARY");
    after.code_lists[0].status = Some(CoverageStatus::MedicallyNecessary);
    after.prior_auth[0].rows.push(crate::model::PriorAuthRow {
        label: "Medicare".into(),
        products: vec!["medicare-advantage".into()],
        requirement: crate::model::PaRequirement::Required,
        text: "Prior authorization is required.".into(),
    });
    after.references.remove(0);
    after.history.insert(
        0,
        HistoryEntry {
            date: "1/2026".parse().unwrap(),
            action: "Annual policy review. Policy statement changed.".into(),
        },
    );
    after.notes.push(Note {
        kind: crate::model::NoteKind::General,
        section: None,
        products: Vec::new(),
        text: "A new note.".into(),
        see_policy: None,
        see_ncd: None,
        see_references: Vec::new(),
    });
    let d = diff_policies(&before, &after);
    let find = |part: Part, kind: ChangeKind| {
        d.changes
            .iter()
            .find(|c| c.part == part && c.kind == kind)
            .unwrap_or_else(|| panic!("no {part:?} {kind:?} in {:#?}", d.changes))
    };
    let s = find(Part::Statements, ChangeKind::StatusChanged);
    assert_eq!(s.item, "statement commercial-investigational");
    assert_eq!(
        (s.before.as_deref(), s.after.as_deref()),
        (Some("investigational"), Some("medically-necessary"))
    );
    let t = find(Part::Statements, ChangeKind::Changed);
    assert!(
        t.words
            .iter()
            .any(|w| w.op == "delete" && w.text.contains("INVESTIGATIONAL")),
        "{:?}",
        t.words
    );
    assert!(t
        .words
        .iter()
        .any(|w| w.op == "insert" && w.text.contains("MEDICALLY")));
    let m = find(Part::Codes, ChangeKind::Moved);
    assert_eq!(m.item, "HCPCS M0076");
    assert_eq!(
        (m.before.as_deref(), m.after.as_deref()),
        (Some("investigational"), Some("medically-necessary"))
    );
    assert_eq!(
        find(Part::PriorAuth, ChangeKind::Added).item,
        "prior-auth inpatient row \"Medicare\""
    );
    let removed = find(Part::References, ChangeKind::Removed)
        .before
        .clone()
        .unwrap();
    assert_eq!(removed, before.references[0].to_text(""));
    assert!(find(Part::History, ChangeKind::Added)
        .after
        .as_ref()
        .unwrap()
        .starts_with("1/2026"));
    assert_eq!(find(Part::Notes, ChangeKind::Added).item, "note general #1");
    assert_eq!(
        d.parts,
        [
            Part::Statements,
            Part::Codes,
            Part::PriorAuth,
            Part::Notes,
            Part::References,
            Part::History
        ]
    );
    let mut text = String::new();
    policy_diff_text(&d, &mut text);
    assert!(text.contains("statements status-changed statement commercial-investigational: investigational -> medically-necessary"), "{text}");
    assert!(
        text.contains("[-[INVESTIGATIONAL](#)-]{+[MEDICALLY NECESSARY](#)+}"),
        "{text}"
    );
}

#[test]
fn the_history_between_two_versions_names_the_parts() {
    let p = p183();
    // 1/2024 -> 1/2025: an annual review that updated the references only.
    let v = versions_between(&p, day("2024-03-01"), day("2025-03-01")).unwrap();
    assert_eq!(
        (v.from.label.as_str(), v.to.label.as_str()),
        ("1/2024", "1/2025")
    );
    assert_eq!(v.history.len(), 1);
    assert_eq!(v.parts, [Part::References, Part::Review]);
    assert!(v.statements_unchanged);
    // 12/2013 -> 1/2025: more was touched, never the statements.
    let v = versions_between(&p, day("2013-12-01"), day("2025-01-01")).unwrap();
    assert_eq!(v.from.label, "12/2013");
    assert_eq!(v.history.first().unwrap().date, "11/2015");
    assert_eq!(v.history.last().unwrap().date, "1/2025");
    for part in [
        Part::References,
        Part::Review,
        Part::Description,
        Part::Summary,
        Part::Notes,
        Part::Codes,
    ] {
        assert!(v.parts.contains(&part), "{part:?} in {:?}", v.parts);
    }
    assert!(!v.parts.contains(&Part::Statements), "{:?}", v.parts);
    assert!(v.statements_unchanged);
    // Before the policy took effect there is no version.
    assert!(versions_between(&p, day("2009-01-01"), day("2025-01-01")).is_none());
}

#[test]
fn history_words_name_parts() {
    assert_eq!(
        parts_named("Annual policy review. Description, summary, and references updated. Policy statements unchanged."),
        (vec![Part::Description, Part::Summary, Part::References, Part::Review], true)
    );
    let (parts, unchanged) = parts_named("Clarified coverage criteria for knee injections.");
    assert!(parts.contains(&Part::Statements) && parts.contains(&Part::Criteria) && !unchanged);
}

#[test]
fn catalogues_compare_policy_by_policy() {
    let a = Catalog {
        payers: Vec::new(),
        policies: vec![p183()],
    };
    let mut b = a.clone();
    b.policies[0].title = "Prolotherapy injections".into();
    let mut extra = p183();
    extra.number = "999".into();
    b.policies.push(extra);
    let d = diff_catalogs(&a, &b);
    assert_eq!(
        d.added,
        [PolicyRef {
            policy: "bcbsma/999".into(),
            title: "Prolotherapy".into()
        }]
    );
    assert!(d.removed.is_empty());
    assert_eq!(d.changed.len(), 1);
    assert_eq!(d.changed[0].parts, [Part::Title]);
    let back = diff_catalogs(&b, &a);
    assert_eq!(back.removed.len(), 1);
    assert_eq!(diff_catalogs(&a, &a).unchanged, 1);
}

#[test]
fn word_diffs_keep_the_words_in_order() {
    let w = word_diff("is not covered", "is covered");
    let text: Vec<(&str, &str)> = w.iter().map(|w| (w.op, w.text.as_str())).collect();
    assert_eq!(
        text,
        [("equal", "is "), ("delete", "not "), ("equal", "covered")]
    );
    assert!(word_diff("same", "same").is_empty());
}

#[test]
fn a_code_in_two_tables_is_compared_table_by_table() {
    let mut before = p183();
    let mut medicare = before.code_lists[0].clone();
    medicare.id = "hcpcs-medicare".into();
    medicare.products = vec!["medicare-advantage".into()];
    medicare.status = Some(CoverageStatus::NotCovered);
    before.code_lists[0].products = vec!["commercial".into()];
    before.code_lists.push(medicare);
    let mut after = before.clone();
    after.code_lists[0].status = Some(CoverageStatus::MedicallyNecessary);
    let d = diff_policies(&before, &after);
    let moved: Vec<&Change> = d
        .changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Moved)
        .collect();
    assert_eq!(moved.len(), 1, "{:#?}", d.changes);
    assert_eq!(moved[0].item, "HCPCS M0076 (table hcpcs-investigational)");
    assert_eq!(moved[0].after.as_deref(), Some("medically-necessary"));
    // Taken out of one table, still in the other: said so.
    let mut after = before.clone();
    after.code_lists[0].codes.clear();
    let d = diff_policies(&before, &after);
    assert!(
        d.changes.iter().any(|c| c.kind == ChangeKind::Removed
            && c.item == "HCPCS M0076 (table hcpcs-investigational)"),
        "{:#?}",
        d.changes
    );
}

#[test]
fn statements_said_unchanged_in_other_words_are_unchanged() {
    for words in [
        "Annual policy review. Policy statements remain unchanged.",
        "Annual review. No changes to the policy statements.",
        "Policy statement unchanged.",
    ] {
        let (parts, unchanged) = parts_named(words);
        assert!(
            unchanged && !parts.contains(&Part::Statements),
            "{words}: {parts:?}"
        );
    }
    let (parts, unchanged) = parts_named("Policy statement changed to medically necessary.");
    assert!(!unchanged && parts.contains(&Part::Statements));
}

#[test]
fn explicit_code_tables_and_other_indications_are_compared() {
    let before = p183();
    let mut after = before.clone();
    after.statements[0].code_lists = vec!["hcpcs-investigational".into()];
    after.statements[0].other_indications = true;
    let d = diff_policies(&before, &after);
    let items: Vec<&str> = d.changes.iter().map(|c| c.item.as_str()).collect();
    assert!(
        items.contains(&"statement commercial-investigational code tables"),
        "{items:?}"
    );
    assert!(
        items.contains(&"statement commercial-investigational all other indications"),
        "{items:?}"
    );
}
