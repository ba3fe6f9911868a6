use super::*;
use crate::code::CodeSystem;
use crate::model::*;
use crate::request::ServiceLine;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn payer() -> Payer {
    let lob = |id: &str, market| LineOfBusiness {
        id: id.into(),
        name: id.into(),
        market,
    };
    Payer {
        id: "acme".into(),
        name: "Acme".into(),
        region: None,
        licensee_statement: None,
        lines_of_business: vec![
            lob("hmo", Market::Commercial),
            lob("ppo", Market::Commercial),
            lob("ma", Market::MedicareAdvantage),
        ],
        product_groups: vec![ProductGroup {
            id: "commercial".into(),
            label: "Commercial".into(),
            products: vec!["hmo".into(), "ppo".into()],
        }],
    }
}

fn statement(
    id: &str,
    products: &[&str],
    status: CoverageStatus,
    diagnoses: &[&str],
) -> CoverageStatement {
    CoverageStatement {
        id: id.into(),
        heading: None,
        products: products.iter().map(|s| s.to_string()).collect(),
        status,
        indication: None,
        other_indications: false,
        text: format!("Statement **{id}**."),
        criteria_match: Combine::AllOf,
        criteria: if status == CoverageStatus::MedicallyNecessary {
            vec![Criterion::leaf("1", "Criterion one")]
        } else {
            vec![]
        },
        code_lists: vec![],
        diagnoses: diagnoses.iter().map(|s| s.to_string()).collect(),
        diagnosis_lists: vec![],
    }
}

fn other_indications(id: &str, products: &[&str], status: CoverageStatus) -> CoverageStatement {
    CoverageStatement {
        other_indications: true,
        ..statement(id, products, status, &[])
    }
}

fn policy(number: &str, codes: &[&str], statements: Vec<CoverageStatement>) -> Policy {
    Policy {
        payer: "acme".into(),
        number: number.into(),
        title: format!("Policy {number}"),
        effective: date(2010, 5, 1),
        retired: None,
        in_force_from: None,
        external_references: vec![],
        related_policies: vec![],
        description: String::new(),
        summary: String::new(),
        statements,
        prior_auth: vec![PriorAuthRule {
            setting: Setting::Inpatient,
            heading: None,
            text: "Inpatient needs **auth**.".into(),
            requirement: Some(PaRequirement::Required),
            rows: vec![],
        }],
        coding_heading: None,
        code_lists: vec![CodeList {
            id: "main".into(),
            heading: Some("HCPCS Codes".into()),
            system: CodeSystem::Hcpcs,
            statement: Some("These codes are investigational for all.".into()),
            products: vec!["all".into()],
            status: Some(CoverageStatus::Investigational),
            columns: vec![],
            codes: codes
                .iter()
                .map(|c| CodeEntry {
                    code: c.to_string(),
                    description: "d".into(),
                })
                .collect(),
        }],
        notes: vec![
            Note {
                kind: NoteKind::ContractBenefits,
                section: None,
                products: vec![],
                text: "Contract benefits decide.".into(),
                see_policy: None,
                see_ncd: None,
                see_references: vec![],
            },
            Note {
                kind: NoteKind::Medicare,
                section: None,
                products: vec![],
                text: "See MP 132.".into(),
                see_policy: Some(RelatedPolicy {
                    number: "132".into(),
                    title: "Medicare Advantage Management".into(),
                }),
                see_ncd: Some("150.7".into()),
                see_references: vec![],
            },
        ],
        all_policies: Some(AllPoliciesInfo {
            heading: "All policies".into(),
            intro: None,
            links: vec![Link {
                label: "Clinical Exception Process".into(),
                url: None,
                kind: Some(LinkKind::ClinicalException),
            }],
        }),
        history: vec![
            HistoryEntry {
                date: "1/2020".parse().unwrap(),
                action: "Review".into(),
            },
            HistoryEntry {
                date: "5/1/2010".parse().unwrap(),
                action: "Effective".into(),
            },
        ],
        references: vec![],
    }
}

fn engine(policies: Vec<Policy>) -> Engine {
    Engine::compile(Catalog {
        payers: vec![payer()],
        policies,
    })
    .unwrap()
}

fn request(
    product: &str,
    setting: Setting,
    d: NaiveDate,
    code: &str,
    diagnoses: &[&str],
) -> Request {
    Request {
        payer: None,
        product: product.into(),
        setting,
        date: d,
        lines: vec![ServiceLine::new(Code::infer_procedure(code).unwrap())],
        diagnoses: diagnoses
            .iter()
            .map(|d| Code::parse(CodeSystem::Icd10cm, d).unwrap())
            .collect(),
    }
}

#[test]
fn statement_decides_and_is_cited_with_plain_text() {
    let e = engine(vec![policy(
        "1",
        &["M0076"],
        vec![statement(
            "inv",
            &["commercial"],
            CoverageStatus::Investigational,
            &[],
        )],
    )]);
    let d = e
        .determine(&request(
            "ppo",
            Setting::Outpatient,
            date(2025, 6, 1),
            "M0076",
            &[],
        ))
        .unwrap();
    let l = &d.lines[0];
    assert_eq!(l.coverage, Coverage::NotCovered);
    assert_eq!(l.reasons, [Reason::Investigational]);
    // No outpatient rule and not covered: nothing to authorize.
    assert_eq!(l.prior_auth, PriorAuth::NotApplicable);
    assert_eq!(l.citations[0].text, "Statement inv.");
    assert_eq!(l.citations[0].path, "statement/inv");
    assert_eq!(l.policies[0].version, "1/2020");
    let kinds: Vec<_> = l.notes.iter().map(|n| n.kind).collect();
    assert_eq!(
        kinds,
        [
            DeterminationNoteKind::ContractBenefits,
            DeterminationNoteKind::ClinicalException
        ]
    );
}

#[test]
fn inpatient_rule_applies_even_when_not_covered() {
    let e = engine(vec![policy(
        "1",
        &["M0076"],
        vec![statement(
            "inv",
            &["commercial"],
            CoverageStatus::Investigational,
            &[],
        )],
    )]);
    let d = e
        .determine(&request(
            "hmo",
            Setting::Inpatient,
            date(2025, 6, 1),
            "M0076",
            &[],
        ))
        .unwrap();
    assert_eq!(d.lines[0].prior_auth, PriorAuth::AuthNeeded);
    assert!(d.lines[0]
        .citations
        .iter()
        .any(|c| c.text == "Inpatient needs auth."));
}

#[test]
fn code_list_status_decides_when_no_statement_applies() {
    let e = engine(vec![policy(
        "1",
        &["M0076"],
        vec![statement(
            "inv",
            &["commercial"],
            CoverageStatus::Investigational,
            &[],
        )],
    )]);
    let d = e
        .determine(&request(
            "ma",
            Setting::Outpatient,
            date(2025, 6, 1),
            "M0076",
            &[],
        ))
        .unwrap();
    let l = &d.lines[0];
    assert_eq!(l.coverage, Coverage::NotCovered);
    assert_eq!(l.citations[0].path, "code-list/main");
    assert!(l
        .notes
        .iter()
        .any(|n| n.kind == DeterminationNoteKind::Medicare && n.see_ncd == Some("150.7")));
}

#[test]
fn medicare_note_is_only_for_medicare_members() {
    let e = engine(vec![policy(
        "1",
        &["M0076"],
        vec![statement(
            "inv",
            &["all"],
            CoverageStatus::Investigational,
            &[],
        )],
    )]);
    let d = e
        .determine(&request(
            "ppo",
            Setting::Outpatient,
            date(2025, 6, 1),
            "M0076",
            &[],
        ))
        .unwrap();
    assert!(d.lines[0]
        .notes
        .iter()
        .all(|n| n.kind != DeterminationNoteKind::Medicare));
}

#[test]
fn unknown_code_and_dates_outside_the_policy_are_no_policy() {
    let e = engine(vec![policy(
        "1",
        &["M0076"],
        vec![statement(
            "inv",
            &["all"],
            CoverageStatus::Investigational,
            &[],
        )],
    )]);
    assert!(e.governs(&Code::infer_procedure("M0076").unwrap()));
    assert!(!e.governs(&Code::infer_procedure("99213").unwrap()));
    for (code, d) in [("99213", date(2025, 6, 1)), ("M0076", date(2010, 4, 30))] {
        let det = e
            .determine(&request("ppo", Setting::Outpatient, d, code, &[]))
            .unwrap();
        let l = &det.lines[0];
        assert_eq!(l.coverage, Coverage::NoPolicy);
        assert_eq!(l.prior_auth, PriorAuth::NotApplicable);
        assert!(l.policies.is_empty() && l.citations.is_empty() && l.reasons.is_empty());
    }
}

#[test]
fn diagnoses_select_the_statement_for_the_indication() {
    let mut p = policy(
        "2",
        &["J7321"],
        vec![
            statement(
                "knee-oa",
                &["all"],
                CoverageStatus::MedicallyNecessary,
                &["M17"],
            ),
            other_indications("other", &["all"], CoverageStatus::Investigational),
        ],
    );
    p.code_lists[0].status = None;
    let e = engine(vec![p]);
    let decide = |dx: &[&str]| {
        let d = e
            .determine(&request(
                "ppo",
                Setting::Outpatient,
                date(2025, 6, 1),
                "J7321",
                dx,
            ))
            .unwrap();
        (d.lines[0].coverage, d.lines[0].reasons.clone())
    };
    assert_eq!(
        decide(&["M17.11"]),
        (
            Coverage::Conditional,
            vec![Reason::MedicalNecessityCriteria]
        )
    );
    assert_eq!(
        decide(&["M54.50"]),
        (Coverage::NotCovered, vec![Reason::Investigational])
    );
    let (c, r) = decide(&[]);
    assert_eq!(c, Coverage::Conditional);
    assert!(r.contains(&Reason::DependsOnIndication));
    // A covered-when-criteria-met service with no outpatient rule: do not claim no-auth.
    let d = e
        .determine(&request(
            "ppo",
            Setting::Outpatient,
            date(2025, 6, 1),
            "J7321",
            &["M17.0"],
        ))
        .unwrap();
    assert_eq!(d.lines[0].prior_auth, PriorAuth::Conditional);
}

#[test]
fn the_strictest_policy_wins() {
    let mut covered = policy(
        "3",
        &["E0100"],
        vec![statement("c", &["all"], CoverageStatus::Covered, &[])],
    );
    covered.code_lists[0].status = None;
    let mut excluded = policy(
        "4",
        &["E0100"],
        vec![statement("x", &["all"], CoverageStatus::NotCovered, &[])],
    );
    excluded.code_lists[0].status = Some(CoverageStatus::NotCovered);
    let e = engine(vec![covered, excluded]);
    let d = e
        .determine(&request(
            "ppo",
            Setting::Outpatient,
            date(2025, 6, 1),
            "E0100",
            &[],
        ))
        .unwrap();
    assert_eq!(d.lines[0].coverage, Coverage::NotCovered);
    assert_eq!(d.lines[0].reasons, [Reason::Excluded]);
    assert_eq!(d.lines[0].policies.len(), 2);
}

#[test]
fn request_errors_say_what_is_valid() {
    let e = engine(vec![]);
    let err = e
        .determine(&request(
            "gold",
            Setting::Outpatient,
            date(2025, 6, 1),
            "M0076",
            &[],
        ))
        .unwrap_err();
    assert!(err.to_string().contains("hmo, ma, ppo"), "{err}");
    let mut r = request("ppo", Setting::Outpatient, date(2025, 6, 1), "M0076", &[]);
    r.payer = Some("nobody".into());
    assert!(e
        .determine(&r)
        .unwrap_err()
        .to_string()
        .contains("valid payers: acme"));
    r.payer = None;
    r.product = "acme/ppo".into();
    assert!(e.determine(&r).is_ok());
    r.lines.clear();
    assert_eq!(e.determine(&r).unwrap_err(), RequestError::NoLines);
}

#[test]
fn compile_rejects_unknown_products_and_bad_codes() {
    let bad_product = policy(
        "1",
        &["M0076"],
        vec![statement("s", &["gold"], CoverageStatus::Covered, &[])],
    );
    let err = Engine::compile(Catalog {
        payers: vec![payer()],
        policies: vec![bad_product],
    })
    .err()
    .unwrap();
    assert!(matches!(err, CompileError::UnknownProduct { .. }), "{err}");
    let bad_code = policy("1", &["M007"], vec![]);
    let err = Engine::compile(Catalog {
        payers: vec![payer()],
        policies: vec![bad_code],
    })
    .err()
    .unwrap();
    assert!(matches!(err, CompileError::MalformedCode { .. }), "{err}");
    let dup = Engine::compile(Catalog {
        payers: vec![payer()],
        policies: vec![policy("1", &[], vec![]), policy("1", &[], vec![])],
    });
    assert!(matches!(dup, Err(CompileError::DuplicatePolicy { .. })));
}

#[test]
fn a_statement_for_one_indication_does_not_decide_others() {
    let mut p = policy(
        "5",
        &["J7321"],
        vec![statement(
            "knee",
            &["all"],
            CoverageStatus::Covered,
            &["M17"],
        )],
    );
    p.code_lists[0].status = None;
    let e = engine(vec![p]);
    let decide = |dx: &[&str]| {
        let d = e
            .determine(&request(
                "ppo",
                Setting::Outpatient,
                date(2025, 6, 1),
                "J7321",
                dx,
            ))
            .unwrap();
        (d.lines[0].coverage, d.lines[0].reasons.clone())
    };
    assert_eq!(decide(&["M17.11"]), (Coverage::Covered, vec![]));
    assert_eq!(
        decide(&["M54.50"]),
        (Coverage::Conditional, vec![Reason::DependsOnIndication])
    );
    assert_eq!(
        decide(&[]),
        (Coverage::Conditional, vec![Reason::DependsOnIndication])
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn catalog_engine() -> Engine {
        let mut mn = policy(
            "2",
            &["J7321", "M0076"],
            vec![
                statement(
                    "knee-oa",
                    &["commercial"],
                    CoverageStatus::MedicallyNecessary,
                    &["M17"],
                ),
                statement("other", &["all"], CoverageStatus::Investigational, &[]),
            ],
        );
        mn.code_lists[0].status = None;
        mn.retired = Some(date(2024, 1, 1));
        engine(vec![
            policy(
                "1",
                &["M0076", "E0100"],
                vec![statement(
                    "inv",
                    &["commercial"],
                    CoverageStatus::Investigational,
                    &[],
                )],
            ),
            mn,
        ])
    }

    proptest! {
        /// Whatever is asked: no panic; an answer with a policy cites it and
        /// the version in effect on the date; an answer without one claims nothing.
        #[test]
        fn every_answer_cites_or_claims_nothing(
            code in prop_oneof![Just("M0076".to_string()), Just("J7321".to_string()), Just("E0100".to_string()), "[A-V][0-9]{4}", "[0-9]{5}"],
            product in prop_oneof![Just("hmo"), Just("ppo"), Just("ma")],
            inpatient in any::<bool>(),
            days in 0i64..9000,
            dx in proptest::collection::vec("[A-Z][0-9]{2}(\\.[0-9]{1,2})?", 0..3),
        ) {
            let e = catalog_engine();
            let d0 = date(2005, 1, 1) + chrono::Duration::days(days);
            let setting = if inpatient { Setting::Inpatient } else { Setting::Outpatient };
            let dx: Vec<&str> = dx.iter().map(String::as_str).collect();
            let det = e.determine(&request(product, setting, d0, &code, &dx)).unwrap();
            let line = &det.lines[0];
            if line.coverage == Coverage::NoPolicy {
                prop_assert!(line.policies.is_empty() && line.citations.is_empty() && line.reasons.is_empty());
                prop_assert_eq!(line.prior_auth, PriorAuth::NotApplicable);
            } else {
                prop_assert!(!line.policies.is_empty());
                prop_assert!(!line.citations.is_empty());
                for p in &line.policies {
                    prop_assert!(p.effective <= d0);
                    let cited = line.citations.iter().any(|c| c.policy.ends_with(&format!("/{}", p.number)));
                    prop_assert!(cited);
                }
                if line.coverage == Coverage::NotCovered {
                    prop_assert!(!line.reasons.is_empty());
                }
            }
        }
    }
}
