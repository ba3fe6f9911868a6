use super::*;

#[test]
fn resources_tolerate_what_real_clients_send() {
    let bundle_without_type = json!({"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "ServiceRequest", "id": "1"}}]});
    assert_eq!(resources(&bundle_without_type).len(), 1);
    let untyped = json!({"entry": {"resource": {"resourceType": "DeviceRequest", "id": "2"}}});
    assert_eq!(
        resources(&untyped).len(),
        1,
        "a single entry object where an array belongs"
    );
    assert!(resources(&Value::Null).is_empty());
    let list_of = json!([{"resourceType": "Coverage", "id": "c"}, null, bundle_without_type]);
    assert_eq!(resources(&list_of).len(), 2);
}

#[test]
fn orders_read_codes_billing_options_diagnoses_setting_and_date() {
    let sr = json!({
        "resourceType": "ServiceRequest", "id": "1",
        "code": {
            "coding": [{"system": "http://snomed.info/sct", "code": "726551006"}],
            "extension": [{"url": EXT_BILLING_OPTIONS, "valueCodeableConcept": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "77061"}]}}]
        },
        "reasonCode": [{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "M54.50"}]}],
        "locationCode": [{"coding": [{"system": POS_SYSTEM, "code": "21"}]}],
        "occurrenceDateTime": "2025-06-01T10:00:00Z"
    });
    let today = NaiveDate::from_ymd_opt(2030, 1, 1).unwrap();
    let o = order_of(&sr, None, &[], today);
    assert_eq!(o.codes.len(), 1);
    assert_eq!(o.codes[0].as_str(), "77061");
    assert_eq!(o.other_codings, ["http://snomed.info/sct|726551006"]);
    assert_eq!(o.diagnoses.len(), 1);
    assert_eq!(o.setting, Some(Setting::Inpatient));
    assert_eq!(o.date, NaiveDate::from_ymd_opt(2025, 6, 1).unwrap());
    let dr = json!({"resourceType": "DeviceRequest", "codeCodeableConcept": {"coding": [{"system": "https://bluebutton.cms.gov/resources/codesystem/hcpcs", "code": "E0250"}]}});
    let enc = json!({"resourceType": "Encounter", "class": {"code": "AMB"}});
    let o = order_of(&dr, Some(&enc), &[], today);
    assert_eq!(o.codes[0].system(), CodeSystem::Hcpcs);
    assert_eq!(o.setting, Some(Setting::Outpatient));
    assert_eq!(o.date, today);
}

#[test]
fn summaries_fit_in_140_characters() {
    let long = "x".repeat(300);
    assert_eq!(truncate(&long, 140).chars().count(), 140);
    assert_eq!(truncate("short", 140), "short");
}

/// The CRD codes of the core's answers (CRD 2.2 `coverage-information`):
/// pure functions of the determination, tested without a hook call.
#[test]
fn crd_codes_of_the_core_answers() {
    assert_eq!(covered_code(Coverage::Covered), "covered");
    assert_eq!(covered_code(Coverage::NotCovered), "not-covered");
    assert_eq!(covered_code(Coverage::Conditional), "conditional");
    // No policy is not a coverage decision.
    assert_eq!(covered_code(Coverage::NoPolicy), "indeterminate");
    assert_eq!(pa_code(PriorAuth::AuthNeeded), Some("auth-needed"));
    assert_eq!(pa_code(PriorAuth::NoAuth), Some("no-auth"));
    assert_eq!(pa_code(PriorAuth::Conditional), Some("conditional"));
    assert_eq!(pa_code(PriorAuth::NotApplicable), None);
    assert_eq!(truncate("abc", 5), "abc");
    assert_eq!(truncate("abcdefgh", 5), "abcd…");
}

/// The CRD rules of [`assertion_of`], one by one, on determinations built
/// by hand: no engine, no hook call, no log.
mod crd_rules {
    use super::*;
    use medpol_core::determination::AppliedPolicy;

    const POLICY: AppliedPolicy<'static> = AppliedPolicy {
        payer: "bcbsma",
        number: "183",
        title: "Prolotherapy",
        version: "1/2025",
        effective: match NaiveDate::from_ymd_opt(2025, 1, 1) {
            Some(d) => d,
            None => panic!(),
        },
    };

    fn code(s: &str) -> Code {
        Code::parse(CodeSystem::Hcpcs, s).unwrap()
    }

    /// A line: a code, its coverage, prior auth and reasons, governed by
    /// policy 183 unless it has no policy.
    fn line(
        c: &str,
        coverage: Coverage,
        pa: PriorAuth,
        reasons: &[Reason],
    ) -> LineDetermination<'static> {
        let mut l = LineDetermination::empty(code(c));
        l.coverage = coverage;
        l.prior_auth = pa;
        l.reasons = reasons.to_vec();
        if coverage != Coverage::NoPolicy {
            l.policies.push(POLICY);
        }
        l
    }

    fn determination(
        setting: Setting,
        lines: Vec<LineDetermination<'static>>,
    ) -> (Setting, Determination<'static>) {
        (
            setting,
            Determination {
                payer: "bcbsma",
                product: "commercial-ppo",
                setting,
                date: NaiveDate::from_ymd_opt(2025, 6, 1).unwrap(),
                lines,
            },
        )
    }

    fn order<'a>(resource: &'a Value, codes: &[&str], setting: Option<Setting>) -> Order<'a> {
        Order {
            resource,
            codes: codes.iter().map(|c| code(c)).collect(),
            other_codings: Vec::new(),
            diagnoses: Vec::new(),
            setting,
            date: NaiveDate::from_ymd_opt(2025, 6, 1).unwrap(),
        }
    }

    fn answer(o: &Order<'_>, decided: &[(Setting, Determination<'static>)]) -> Assertion {
        assertion_of(
            o,
            decided,
            "BCBSMA",
            "https://medpol.example",
            "id-1".into(),
        )
        .unwrap()
    }

    fn sr() -> Value {
        json!({"resourceType": "ServiceRequest", "id": "sr-1"})
    }

    #[test]
    fn nothing_decided_is_nothing_asserted() {
        let r = sr();
        assert!(
            assertion_of(&order(&r, &["M0076"], None), &[], "BCBSMA", "", "x".into()).is_none()
        );
    }

    #[test]
    fn no_governed_line_is_indeterminate_and_names_no_code() {
        let r = sr();
        let o = order(&r, &["A9999"], Some(Setting::Outpatient));
        let d = [determination(
            Setting::Outpatient,
            vec![line(
                "A9999",
                Coverage::NoPolicy,
                PriorAuth::NotApplicable,
                &[],
            )],
        )];
        let a = answer(&o, &d);
        assert_eq!(a.covered, "indeterminate");
        assert!(a.codes.is_empty() && a.pa_needed.is_none() && a.card.is_none());
        assert!(
            a.reasons[0].contains("member's benefits apply"),
            "{:?}",
            a.reasons
        );
        assert_eq!(a.assertion_id, "id-1");
    }

    #[test]
    fn not_covered_has_no_pa_needed_and_a_warning_card() {
        let r = sr();
        let o = order(&r, &["M0076"], Some(Setting::Outpatient));
        let d = [determination(
            Setting::Outpatient,
            vec![line(
                "M0076",
                Coverage::NotCovered,
                PriorAuth::AuthNeeded,
                &[Reason::Investigational],
            )],
        )];
        let a = answer(&o, &d);
        assert_eq!(a.covered, "not-covered");
        // crd-ci-q2
        assert_eq!(a.pa_needed, None);
        assert_eq!(a.info_needed, None);
        let (indicator, summary, _) = a.card.unwrap();
        assert_eq!(indicator, "warning");
        assert!(summary.contains("HCPCS M0076 is not covered"), "{summary}");
        assert_eq!(
            a.policy_links,
            [(
                "BCBSMA medical policy 183: Prolotherapy".to_string(),
                "https://medpol.example/api/v1/policies/bcbsma/183?date=2025-06-01".to_string()
            )]
        );
    }

    #[test]
    fn covered_with_auth_needed_has_an_info_card() {
        let r = sr();
        let o = order(&r, &["M0076"], Some(Setting::Inpatient));
        let d = [determination(
            Setting::Inpatient,
            vec![line("M0076", Coverage::Covered, PriorAuth::AuthNeeded, &[])],
        )];
        let a = answer(&o, &d);
        assert_eq!((a.covered, a.pa_needed), ("covered", Some("auth-needed")));
        assert_eq!(a.card.unwrap().0, "info");
        assert_eq!((a.doc_needed, a.info_needed), (None, None));
    }

    #[test]
    fn covered_without_auth_has_no_card() {
        let r = sr();
        let o = order(&r, &["M0076"], Some(Setting::Outpatient));
        let d = [determination(
            Setting::Outpatient,
            vec![line("M0076", Coverage::Covered, PriorAuth::NoAuth, &[])],
        )];
        let a = answer(&o, &d);
        assert_eq!((a.covered, a.pa_needed), ("covered", Some("no-auth")));
        assert!(a.card.is_none());
    }

    #[test]
    fn settings_that_differ_ask_for_the_location() {
        let r = sr();
        let o = order(&r, &["M0076"], None);
        let d = [
            determination(
                Setting::Outpatient,
                vec![line("M0076", Coverage::Covered, PriorAuth::NoAuth, &[])],
            ),
            determination(
                Setting::Inpatient,
                vec![line("M0076", Coverage::Covered, PriorAuth::AuthNeeded, &[])],
            ),
        ];
        let a = answer(&o, &d);
        assert_eq!(a.covered, "covered");
        assert_eq!(a.pa_needed, Some("conditional"));
        assert_eq!(a.info_needed, Some("location"));
        assert!(a
            .reasons
            .last()
            .unwrap()
            .contains("inpatient or outpatient"));
    }

    #[test]
    fn codes_that_differ_ask_for_the_detail_code() {
        let r = sr();
        let o = order(&r, &["M0076", "J7999"], Some(Setting::Outpatient));
        let d = [determination(
            Setting::Outpatient,
            vec![
                line(
                    "M0076",
                    Coverage::NotCovered,
                    PriorAuth::NotApplicable,
                    &[Reason::Investigational],
                ),
                line("J7999", Coverage::Covered, PriorAuth::NoAuth, &[]),
            ],
        )];
        let a = answer(&o, &d);
        assert_eq!(a.covered, "conditional");
        assert_eq!(a.info_needed, Some("detail-code"));
        assert_eq!(a.codes, [code("M0076"), code("J7999")]);
    }

    #[test]
    fn criteria_need_clinical_documentation_with_the_claim_or_the_request() {
        let r = sr();
        let o = order(&r, &["M0076"], Some(Setting::Outpatient));
        let with = |pa| {
            let d = [determination(
                Setting::Outpatient,
                vec![line(
                    "M0076",
                    Coverage::Conditional,
                    pa,
                    &[Reason::MedicalNecessityCriteria],
                )],
            )];
            answer(&o, &d)
        };
        let a = with(PriorAuth::NoAuth);
        assert_eq!(a.covered, "conditional");
        assert_eq!(a.doc_needed, Some(("clinical", "withclaim")));
        // crd-ci-q3: something conditional says what is needed.
        assert_eq!(a.info_needed, Some("OTH"));
        assert_eq!(
            with(PriorAuth::AuthNeeded).doc_needed,
            Some(("clinical", "withpa"))
        );
        // Conditional coverage with no prior-auth answer: pa conditional.
        assert_eq!(
            with(PriorAuth::NotApplicable).pa_needed,
            Some("conditional")
        );
    }

    #[test]
    fn indication_dependent_coverage_needs_no_documentation() {
        let r = sr();
        let o = order(&r, &["M0076"], Some(Setting::Outpatient));
        let d = [determination(
            Setting::Outpatient,
            vec![line(
                "M0076",
                Coverage::Conditional,
                PriorAuth::NoAuth,
                &[Reason::DependsOnIndication],
            )],
        )];
        let a = answer(&o, &d);
        assert_eq!(
            (a.covered, a.doc_needed, a.info_needed),
            ("conditional", None, Some("OTH"))
        );
    }

    #[test]
    fn only_governed_codes_are_named() {
        let r = sr();
        let o = order(&r, &["M0076", "A9999"], Some(Setting::Outpatient));
        let d = [determination(
            Setting::Outpatient,
            vec![
                line(
                    "M0076",
                    Coverage::NotCovered,
                    PriorAuth::NotApplicable,
                    &[Reason::Investigational],
                ),
                line("A9999", Coverage::NoPolicy, PriorAuth::NotApplicable, &[]),
            ],
        )];
        let a = answer(&o, &d);
        assert_eq!(a.covered, "not-covered");
        assert_eq!(a.codes, [code("M0076")]);
        assert!(!a.card.unwrap().1.contains("A9999"));
    }

    #[test]
    fn orders_this_service_cannot_decide_say_why() {
        let r = sr();
        let mut o = order(&r, &[], None);
        o.other_codings
            .push("http://snomed.info/sct|726551006".into());
        let a = no_decidable_code(&o, "BCBSMA");
        assert_eq!(a.covered, "indeterminate");
        assert!(
            a.reasons[0].contains("ServiceRequest sr-1"),
            "{:?}",
            a.reasons
        );
        assert!(a.reasons[0].contains("726551006"));
        assert!(a.assertion_id.starts_with("none-"));
        assert!(coverage_not_mapped().reasons[0].contains("coverage-not-found"));
    }
}
