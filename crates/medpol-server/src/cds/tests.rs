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
