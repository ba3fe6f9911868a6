//! Hand-written documents of the seed's family (`tests/fixtures/documents/`)
//! that differ from it: sections reordered or missing, CRLF and stray spaces,
//! several statements per product group, a Medicare members section, more
//! prior-authorization rows and columns, several code tables, every status;
//! and malformed ones, each an error naming its line.

mod common;

use common::{bundled, fixture, importer, policy_183};
use medpol_core::model::{Catalog, CoverageStatus, NoteKind, PaRequirement};
use medpol_core::validate::{validate_policy, Severity};
use medpol_core::{CodeSystem, Setting};
use medpol_document::{ImportError, Imported, Problem};

fn import(name: &str) -> Imported {
    import_valid(&bundled(), name, &fixture(name))
}

/// Imports a document and checks the policy has no validation error.
fn import_valid(catalog: &Catalog, name: &str, text: &str) -> Imported {
    let imported = importer(catalog)
        .import(text, None)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let payer = catalog.payer(&imported.policy.payer).unwrap();
    let errors: Vec<_> = validate_policy(&imported.policy, Some(payer))
        .into_iter()
        .filter(|i| i.severity == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:?}");
    imported
}

#[test]
fn reordered_crlf_document_with_stray_spaces_imports_to_the_same_policy() {
    let imported = import("183-reordered-crlf.txt");
    assert_eq!(imported.unmapped, vec![]);
    let catalog = bundled();
    let mut expected = policy_183(&catalog).clone();
    // The fixture leaves out the Related Policies and Summary sections.
    expected.related_policies.clear();
    expected.summary.clear();
    assert_eq!(imported.policy, expected);
}

#[test]
fn several_statements_a_medicare_section_and_several_code_tables() {
    let imported = import("500-hyaluronic-acid-knee.txt");
    assert_eq!(imported.unmapped, vec![]);
    let p = &imported.policy;
    assert_eq!(
        (p.number.as_str(), p.title.as_str()),
        ("500", "Hyaluronic Acid Injections for the Knee")
    );
    assert_eq!(p.effective.to_string(), "2020-01-01");

    type Row<'a> = (
        &'a str,
        &'a [String],
        CoverageStatus,
        Option<&'a str>,
        usize,
    );
    let s: Vec<Row> = p
        .statements
        .iter()
        .map(|s| {
            (
                s.id.as_str(),
                s.products.as_slice(),
                s.status,
                s.indication.as_deref(),
                s.criteria.len(),
            )
        })
        .collect();
    let commercial = ["commercial".to_string()];
    let medicare = ["medicare-advantage".to_string()];
    assert_eq!(
        s,
        vec![
            (
                "commercial-medically-necessary",
                &commercial[..],
                CoverageStatus::MedicallyNecessary,
                Some("osteoarthritis of the knee"),
                3
            ),
            (
                "commercial-investigational",
                &commercial[..],
                CoverageStatus::Investigational,
                Some("all other indications"),
                0
            ),
            (
                "commercial-not-covered",
                &commercial[..],
                CoverageStatus::NotCovered,
                Some("temporomandibular joint disorders"),
                0
            ),
            (
                "medicare-advantage-covered",
                &medicare[..],
                CoverageStatus::Covered,
                Some("osteoarthritis of the knee"),
                0
            ),
        ]
    );
    assert_eq!(
        p.statements[3].heading.as_deref(),
        Some("Medicare HMO BlueSM and Medicare PPO BlueSM Members")
    );

    let outpatient = p
        .prior_auth
        .iter()
        .find(|r| r.setting == Setting::Outpatient)
        .unwrap();
    let rows: Vec<(&str, PaRequirement)> = outpatient
        .rows
        .iter()
        .map(|r| (r.products[0].as_str(), r.requirement))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("commercial-managed-care", PaRequirement::Required),
            ("commercial-ppo-indemnity", PaRequirement::NotRequired),
            ("medicare-hmo-blue", PaRequirement::NotRequired),
            ("medicare-ppo-blue", PaRequirement::MayBeRequired),
        ]
    );

    let lists: Vec<(&str, CodeSystem, usize, &[String])> = p
        .code_lists
        .iter()
        .map(|l| {
            (
                l.id.as_str(),
                l.system,
                l.codes.len(),
                l.products.as_slice(),
            )
        })
        .collect();
    let both = ["commercial".to_string(), "medicare-advantage".to_string()];
    assert_eq!(
        lists,
        vec![
            (
                "cpt-medically-necessary",
                CodeSystem::Cpt,
                2,
                &commercial[..]
            ),
            ("hcpcs-medically-necessary", CodeSystem::Hcpcs, 3, &both[..]),
            (
                "icd10cm-medically-necessary",
                CodeSystem::Icd10cm,
                3,
                &both[..]
            ),
            (
                "icd10pcs-investigational",
                CodeSystem::Icd10pcs,
                1,
                &commercial[..]
            ),
        ]
    );
    let kinds: Vec<NoteKind> = p.notes.iter().map(|n| n.kind).collect();
    assert_eq!(kinds, [NoteKind::ContractBenefits, NoteKind::Coding]);
    assert_eq!(p.related_policies[0].number, "183");
    assert_eq!(p.references.len(), 2);
    assert_eq!(p.references[1].journal.as_deref(), Some("Ann Intern Med"));
}

#[test]
fn excluded_not_medically_necessary_covered_and_a_two_column_table() {
    let imported = import("501-cosmetic-procedures.txt");
    assert_eq!(imported.unmapped, vec![]);
    let p = &imported.policy;
    assert_eq!(
        p.effective.to_string(),
        "2019-03-01",
        "from the Effective Date line"
    );
    let statuses: Vec<(CoverageStatus, Option<&str>)> = p
        .statements
        .iter()
        .map(|s| (s.status, s.indication.as_deref()))
        .collect();
    assert_eq!(
        statuses,
        vec![
            (CoverageStatus::NotCovered, None),
            (
                CoverageStatus::NotMedicallyNecessary,
                Some("minor asymmetry")
            ),
            (CoverageStatus::Covered, Some("breast cancer")),
        ]
    );
    assert_eq!(p.statements[2].products, ["medicare-advantage"]);
    assert_eq!(p.prior_auth.len(), 2);
    for r in &p.prior_auth {
        assert_eq!(r.rows.len(), 3, "{:?}", r.setting);
        assert_eq!(r.rows[2].products, ["medicare-advantage"]);
    }
    let inpatient = p
        .prior_auth
        .iter()
        .find(|r| r.setting == Setting::Inpatient)
        .unwrap();
    assert_eq!(inpatient.rows[2].requirement, PaRequirement::Required);
    let ids: Vec<&str> = p.code_lists.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(ids, ["cpt-not-covered", "cpt-covered"]);
    assert_eq!(p.code_lists[1].products, ["medicare-advantage"]);
}

#[test]
fn unmapped_lines_are_reported_with_their_numbers() {
    let catalog = bundled();
    let text = common::rendered_183().replace(
        "Policy History\n",
        "Policy History\n\nThis line is about nothing the model holds.\n",
    );
    let imported = importer(&catalog).import(&text, None).unwrap();
    let line = text
        .lines()
        .position(|l| l.starts_with("This line is about nothing"))
        .unwrap()
        + 1;
    assert_eq!(imported.unmapped.len(), 1);
    assert_eq!(imported.unmapped[0].line, line);
    assert_eq!(
        imported.unmapped[0].text,
        "This line is about nothing the model holds."
    );
}

fn malformed(name: &str) -> (String, ImportError) {
    let text = fixture(&format!("malformed/{name}"));
    let e = importer(&bundled())
        .import(&text, None)
        .expect_err("a malformed document does not import");
    (text, e)
}

fn line_of(text: &str, starts: &str) -> usize {
    text.lines().position(|l| l.starts_with(starts)).unwrap() + 1
}

#[test]
fn malformed_documents_name_the_line_and_what_was_expected() {
    let (text, e) = malformed("no-policy-number.txt");
    assert_eq!(e.problem, Problem::NoNumber);
    assert_eq!(e.line, line_of(&text, "Medical Policy Prolotherapy"));
    assert!(
        e.to_string()
            .contains("expected a line `Policy Number: <number>`"),
        "{e}"
    );

    let (text, e) = malformed("no-policy-statement.txt");
    assert_eq!(e.problem, Problem::NoStatement);
    assert_eq!(
        e.line,
        text.lines().position(|l| l == "Policy").unwrap() + 1
    );

    let (text, e) = malformed("bad-code-row.txt");
    assert_eq!(e.line, line_of(&text, "M007\t"));
    assert!(
        e.to_string().contains("`M007` is not a valid HCPCS code"),
        "{e}"
    );

    let (text, e) = malformed("bad-history-row.txt");
    assert_eq!(e.line, line_of(&text, "13/2019\t"));
    assert!(
        matches!(
            e.problem,
            Problem::BadRow {
                table: "policy history",
                ..
            }
        ),
        "{e}"
    );

    let (text, e) = malformed("unknown-product.txt");
    assert_eq!(e.line, line_of(&text, "Commercial Gold Plan\t"));
    assert!(
        e.to_string()
            .contains("`Commercial Gold Plan` names no product of payer bcbsma"),
        "{e}"
    );
}

/// Every document of the family (`tests/fixtures/family/`, one per pattern)
/// imports with every line mapped, validates, and renders as text that
/// imports back to the same policy: criteria trees, stacked headings,
/// catch-alls, diagnosis ranges and bindings survive the round trip.
#[test]
fn the_family_documents_round_trip_through_the_renderer() {
    let catalog = bundled();
    let importer = importer(&catalog);
    let dir = common::repo().join("tests/fixtures/family");
    let mut docs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    docs.sort();
    assert!(docs.len() >= 15);
    for doc in docs {
        let text = std::fs::read_to_string(&doc).unwrap();
        let name = doc.display().to_string();
        let imported = import_valid(&catalog, &name, &text);
        assert_eq!(imported.unmapped, vec![], "{name}");
        let payer = catalog.payer(&imported.policy.payer).unwrap();
        for format in [
            medpol_document::Format::Markdown,
            medpol_document::Format::Html,
        ] {
            assert!(!medpol_document::render(&imported.policy, payer, format).is_empty());
        }
        let rendered =
            medpol_document::render(&imported.policy, payer, medpol_document::Format::Text);
        let back = importer
            .import(&rendered, None)
            .unwrap_or_else(|e| panic!("{name} rendered: {e}\n{rendered}"));
        assert_eq!(back.unmapped, vec![], "{name} rendered:\n{rendered}");
        assert_eq!(back.policy, imported.policy, "{name} rendered:\n{rendered}");
    }
}

/// Misreadings an independent review found: member headings separated by
/// prose do not stack, and a numbered line that states a marked-up status
/// is a statement, not a criterion.
#[test]
fn headings_stack_only_when_adjacent_and_numbered_statements_stay_statements() {
    let catalog = bundled();
    let base = fixture("500-hyaluronic-acid-knee.txt");
    let text = base.replace(
        "Medicare HMO BlueSM and Medicare PPO BlueSM Members\n",
        "See the member's benefit booklet for details.\n\nMedicare HMO BlueSM and Medicare PPO BlueSM Members\n",
    );
    let imported = importer(&catalog).import(&text, None).unwrap();
    let medicare = imported
        .policy
        .statements
        .iter()
        .find(|s| s.status == CoverageStatus::Covered)
        .unwrap();
    assert_eq!(medicare.products, ["medicare-advantage"]);
    assert_eq!(imported.unmapped.len(), 1, "{:?}", imported.unmapped);

    let text = base.replace(
        "Intra-articular hyaluronic acid injections are considered [INVESTIGATIONAL](#) for all other indications.",
        "2. Intra-articular hyaluronic acid injections are considered [INVESTIGATIONAL](#) for all other indications.",
    );
    let imported = importer(&catalog).import(&text, None).unwrap();
    let p = &imported.policy;
    assert!(
        p.statements.iter().any(|s| s.other_indications),
        "{:?}",
        p.statements
    );
    assert_eq!(p.statements[0].criteria.len(), 3);
}
