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

#[test]
fn what_an_independent_review_found() {
    // A "medically necessary" table that names Medicare, whose only statement
    // says NOT COVERED: the statement decides, not the table's sentence.
    let mut p = policy(
        "6",
        &["E0651"],
        vec![
            statement(
                "c",
                &["commercial"],
                CoverageStatus::MedicallyNecessary,
                &[],
            ),
            statement("m", &["ma"], CoverageStatus::NotCovered, &[]),
        ],
    );
    p.code_lists[0].status = Some(CoverageStatus::MedicallyNecessary);
    p.code_lists[0].statement =
        Some("These codes are medically necessary when criteria are met.".into());
    // "Covered when all of the following criteria are met" is conditional.
    let mut covered_with_criteria = policy(
        "7",
        &["E0652"],
        vec![statement("c", &["all"], CoverageStatus::Covered, &[])],
    );
    covered_with_criteria.statements[0].criteria = vec![Criterion::leaf("1", "Criterion")];
    covered_with_criteria.code_lists[0].status = None;
    // Covered for an indication named in words only: never covered outright.
    let mut in_words = policy(
        "8",
        &["E0653"],
        vec![statement("c", &["all"], CoverageStatus::Covered, &[])],
    );
    in_words.statements[0].indication = Some("sickle cell disease".into());
    in_words.code_lists[0].status = None;
    // A code in two tables of one policy: both take part (strictest wins).
    let mut two_tables = policy(
        "9",
        &["E0654"],
        vec![statement("c", &["all"], CoverageStatus::Covered, &[])],
    );
    two_tables.code_lists[0].status = Some(CoverageStatus::Covered);
    let mut second = two_tables.code_lists[0].clone();
    second.id = "second".into();
    second.status = Some(CoverageStatus::Investigational);
    two_tables.code_lists.push(second);
    // A table "medically necessary when criteria are met" with no statement
    // for the product is conditional, not covered.
    let mut table_only = policy(
        "10",
        &["E0655"],
        vec![statement(
            "x",
            &["commercial"],
            CoverageStatus::Investigational,
            &[],
        )],
    );
    table_only.code_lists[0].status = Some(CoverageStatus::MedicallyNecessary);
    table_only.code_lists[0].statement =
        Some("These codes are medically necessary when criteria are met for all members.".into());
    table_only.code_lists[0].products = vec!["ma".into()];

    let e = engine(vec![
        p,
        covered_with_criteria,
        in_words,
        two_tables,
        table_only,
    ]);
    let decide = |product: &str, code: &str| {
        let d = e
            .determine(&request(
                product,
                Setting::Outpatient,
                date(2025, 6, 1),
                code,
                &["M17.11"],
            ))
            .unwrap();
        (d.lines[0].coverage, d.lines[0].reasons.clone())
    };
    assert_eq!(
        decide("ma", "E0651"),
        (Coverage::NotCovered, vec![Reason::Excluded])
    );
    assert_eq!(
        decide("ppo", "E0651"),
        (
            Coverage::Conditional,
            vec![Reason::MedicalNecessityCriteria]
        )
    );
    assert_eq!(
        decide("ppo", "E0652"),
        (
            Coverage::Conditional,
            vec![Reason::MedicalNecessityCriteria]
        )
    );
    assert_eq!(
        decide("ppo", "E0653"),
        (Coverage::Conditional, vec![Reason::DependsOnIndication])
    );
    // The investigational table's sentence is stricter than the statement.
    assert_eq!(
        decide("ppo", "E0654"),
        (Coverage::NotCovered, vec![Reason::Investigational])
    );
    assert_eq!(
        decide("ma", "E0655"),
        (
            Coverage::Conditional,
            vec![Reason::MedicalNecessityCriteria]
        )
    );
}

#[test]
fn a_code_in_two_tables_of_a_policy_is_decided_by_both() {
    let mut p = policy("11", &["E0654"], vec![]);
    p.statements = vec![statement(
        "inv",
        &["all"],
        CoverageStatus::Investigational,
        &[],
    )];
    p.code_lists[0].status = Some(CoverageStatus::Covered);
    let mut second = p.code_lists[0].clone();
    second.id = "second".into();
    second.status = Some(CoverageStatus::Investigational);
    p.code_lists.push(second);
    let e = engine(vec![p]);
    let d = e
        .determine(&request(
            "ppo",
            Setting::Outpatient,
            date(2025, 6, 1),
            "E0654",
            &[],
        ))
        .unwrap();
    // The covered table points to no statement, the investigational one to
    // "inv": the statement decides, once.
    assert_eq!(d.lines[0].coverage, Coverage::NotCovered);
    assert_eq!(d.lines[0].policies.len(), 1);
    assert_eq!(
        d.lines[0]
            .citations
            .iter()
            .filter(|c| c.path == "statement/inv")
            .count(),
        1
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

    /// A policy built from small numbers: statements (status, products,
    /// how the indication is bound), code tables (system, status,
    /// products, which codes) and prior-authorization rules, so that the
    /// properties hold over many shapes of catalogue, not one.
    fn generated_policy(number: usize, spec: &GeneratedPolicy) -> Policy {
        const PRODUCTS: [&str; 5] = ["hmo", "ppo", "ma", "commercial", "all"];
        const DX: [&str; 5] = ["M17", "M17.0-M17.12", "M54.5-", "G89.29", "M25.561"];
        const CODES: [&str; 6] = ["M0076", "J7321", "E0100", "20610", "0232T", "3E0U3GC"];
        let status = |n: u8| CoverageStatus::ALL[n as usize % CoverageStatus::ALL.len()];
        let mut statements = Vec::new();
        for (i, &(st, prod, bind, crit)) in spec.statements.iter().enumerate() {
            let mut s = statement(
                &format!("s{i}"),
                &[PRODUCTS[prod as usize % PRODUCTS.len()]],
                status(st),
                &[],
            );
            match bind % 4 {
                0 => {}
                1 => s.diagnoses = vec![DX[crit as usize % DX.len()].to_string()],
                2 => s.other_indications = true,
                _ => s.indication = Some("an indication in words".into()),
            }
            if s.status == CoverageStatus::MedicallyNecessary {
                s.criteria = (0..crit % 3)
                    .map(|k| Criterion {
                        criteria: if k == 1 {
                            vec![
                                Criterion::leaf(format!("{}.1", k + 1), "sub a"),
                                Criterion::leaf(format!("{}.2", k + 1), "sub b"),
                            ]
                        } else {
                            vec![]
                        },
                        combine: if k == 1 {
                            Combine::AnyOf
                        } else {
                            Combine::AllOf
                        },
                        ..Criterion::leaf((k + 1).to_string(), format!("criterion {k}"))
                    })
                    .collect();
            }
            statements.push(s);
        }
        let mut p = policy(&number.to_string(), &[], statements);
        p.code_lists = spec
            .lists
            .iter()
            .enumerate()
            .map(|(i, &(st, prod, codes))| {
                let picked: Vec<&str> = CODES
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| codes & (1 << k) != 0)
                    .map(|(_, c)| *c)
                    .collect();
                let system = Code::infer_procedure(picked.first().copied().unwrap_or("M0076"))
                    .unwrap()
                    .system();
                CodeList {
                    id: format!("l{i}"),
                    heading: None,
                    system,
                    statement: Some(format!("Table {i}.")),
                    products: vec![PRODUCTS[prod as usize % PRODUCTS.len()].to_string()],
                    status: (st < 5).then(|| status(st)),
                    columns: vec![],
                    codes: picked
                        .iter()
                        .filter(|c| Code::parse(system, c).is_ok())
                        .map(|c| CodeEntry {
                            code: c.to_string(),
                            description: "d".into(),
                        })
                        .collect(),
                }
            })
            .collect();
        p.prior_auth = spec
            .prior_auth
            .iter()
            .enumerate()
            .map(|(i, &(req, rows))| PriorAuthRule {
                setting: if i == 0 {
                    Setting::Inpatient
                } else {
                    Setting::Outpatient
                },
                heading: None,
                text: "Rule.".into(),
                requirement: (req < 4).then(|| PaRequirement::ALL[req as usize]),
                rows: (0..rows % 3)
                    .map(|r| PriorAuthRow {
                        label: format!("row {r}"),
                        products: vec![PRODUCTS[(r as usize + req as usize) % 3].to_string()],
                        requirement: PaRequirement::ALL[(r as usize + req as usize) % 4],
                        text: "Row.".into(),
                    })
                    .collect(),
            })
            .collect();
        p
    }

    thread_local! {
        // Per thread: proptest runs a test's cases on the calling thread, so
        // the count below is this test's own, not another test's.
        static DECIDED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    #[test]
    fn generated_catalogues_decide_most_requests() {
        // The property below is only as good as the share of requests a
        // policy decides: run it and count.
        DECIDED.with(|d| d.set(0));
        generated_catalogues_answer_carefully();
        let n = DECIDED.with(|d| d.get());
        assert!(
            n >= 100,
            "only {n} of 300 generated requests reached a policy"
        );
    }

    #[derive(Debug, Clone)]
    struct GeneratedPolicy {
        statements: Vec<(u8, u8, u8, u8)>,
        lists: Vec<(u8, u8, u8)>,
        prior_auth: Vec<(u8, u8)>,
    }

    fn generated() -> impl Strategy<Value = GeneratedPolicy> {
        (
            proptest::collection::vec((0u8..5, 0u8..5, 0u8..4, 0u8..8), 1..6),
            proptest::collection::vec((0u8..7, 0u8..5, 1u8..64), 1..4),
            proptest::collection::vec((0u8..6, 0u8..4), 0..3),
        )
            .prop_map(|(statements, lists, prior_auth)| GeneratedPolicy {
                statements,
                lists,
                prior_auth,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Over generated catalogues: an answer other than no-policy cites a
        /// statement or table of every policy it applies; not-covered and
        /// conditional say why; criteria and indications come with the
        /// reasons that need them; no-auth is never claimed without the
        /// prior-authorization text that says so; deciding is repeatable.
        #[test]
        fn generated_catalogues_answer_carefully(
            specs in proptest::collection::vec(generated(), 1..4),
            code in prop_oneof![Just("M0076"), Just("J7321"), Just("E0100"), Just("20610"), Just("0232T"), Just("3E0U3GC")],
            product in prop_oneof![Just("hmo"), Just("ppo"), Just("ma")],
            inpatient in any::<bool>(),
            dx in proptest::collection::vec(prop_oneof![Just("M17.11"), Just("M54.50"), Just("G89.29"), Just("Z00.00")], 0..3),
        ) {
            let policies: Vec<Policy> = specs.iter().enumerate().map(|(i, s)| generated_policy(i + 10, s)).collect();
            let e = Engine::compile(Catalog { payers: vec![payer()], policies }).unwrap();
            let setting = if inpatient { Setting::Inpatient } else { Setting::Outpatient };
            let req = request(product, setting, date(2025, 6, 1), code, &dx);
            let det = e.determine(&req).unwrap();
            let again = e.determine(&req).unwrap();
            let line = &det.lines[0];
            prop_assert_eq!(format!("{:?}", &det), format!("{:?}", &again));
            if line.coverage == Coverage::NoPolicy {
                prop_assert!(line.policies.is_empty() && line.citations.is_empty() && line.reasons.is_empty());
                prop_assert_eq!(line.prior_auth, PriorAuth::NotApplicable);
                return Ok(());
            }
            DECIDED.with(|d| d.set(d.get() + 1));
            for p in &line.policies {
                let key = format!("acme/{}", p.number);
                let cited = line.citations.iter().any(|c| c.policy == key
                    && (c.path.starts_with("statement/") || c.path.starts_with("code-list/")));
                prop_assert!(cited, "policy {} applied without a statement cited: {:?}", key, line);
            }
            if matches!(line.coverage, Coverage::NotCovered | Coverage::Conditional) {
                prop_assert!(!line.reasons.is_empty(), "{:?}", line);
            }
            if line.reasons.contains(&Reason::MedicalNecessityCriteria) {
                // The criteria are listed, or the table's own sentence ("…
                // medically necessary when criteria are met") is what decided.
                let table_decided = line.citations.iter().any(|c| c.path.starts_with("code-list/"));
                prop_assert!(!line.criteria.is_empty() || table_decided, "{:?}", line);
            }
            // Never covered on a statement with criteria.
            if line.coverage == Coverage::Covered {
                prop_assert!(line.criteria.is_empty(), "{:?}", line);
            }
            if line.reasons.contains(&Reason::DependsOnIndication) {
                prop_assert!(!line.indications.is_empty(), "{:?}", line);
            }
            if line.prior_auth == PriorAuth::NoAuth {
                prop_assert!(line.citations.iter().any(|c| c.path.starts_with("prior-auth/")), "{:?}", line);
            }
        }
    }
}

#[test]
#[should_panic(expected = "a ProductRef resolved by another catalogue")]
fn a_product_resolved_by_another_catalogue_is_refused() {
    // The same catalogue compiled twice (as a reload does): equal content,
    // yet a ProductRef of the first is not an index into the second.
    let before = engine(vec![]);
    let after = engine(vec![]);
    let kept = before.resolve_product(None, "ppo").unwrap();
    assert_eq!(before.product_ids(kept).1, "ppo");
    let line = ServiceLine::new(Code::infer_procedure("M0076").unwrap());
    after.decide(kept, Setting::Outpatient, date(2025, 6, 1), &line, &[]);
}
