//! The CRD answer for one order: the coverage-information assertion, its
//! reasons in words, and the order updated with the extension.

use super::*;

/// What one order was decided as, in CRD terms.
pub(super) struct Assertion {
    /// The codes the assertion is about (those a policy governs).
    pub(super) codes: Vec<Code>,
    pub(super) covered: &'static str,
    pub(super) pa_needed: Option<&'static str>,
    /// `clinical` when coverage rests on medical-necessity criteria the
    /// clinician must document (DTR), with its purpose.
    pub(super) doc_needed: Option<(&'static str, &'static str)>,
    pub(super) info_needed: Option<&'static str>,
    /// With `doc_needed`: the DTR questionnaires (canonical `url|version`)
    /// of the statements whose criteria coverage rests on.
    pub(super) questionnaires: Vec<String>,
    pub(super) reasons: Vec<String>,
    pub(super) policy_links: Vec<(String, String)>,
    pub(super) assertion_id: String,
    pub(super) card: Option<(&'static str, String, String)>,
}

impl Assertion {
    /// An order this service makes no coverage determination for, and why.
    fn undecided(reason: String) -> Assertion {
        Assertion {
            codes: Vec::new(),
            covered: "indeterminate",
            pa_needed: None,
            doc_needed: None,
            info_needed: None,
            questionnaires: Vec::new(),
            reasons: vec![reason],
            policy_links: Vec::new(),
            assertion_id: format!("none-{}", uuid::Uuid::new_v4()),
            card: None,
        }
    }
}

/// An order with no code a medical policy is written in.
pub(super) fn no_decidable_code(order: &Order<'_>, payer_name: &str) -> Assertion {
    let what = format!(
        "{} {}",
        text(&order.resource["resourceType"]),
        text(&order.resource["id"])
    );
    let given = if order.other_codings.is_empty() {
        "none".to_string()
    } else {
        order.other_codings.join(", ")
    };
    Assertion::undecided(format!(
        "{what} carries no HCPCS, CPT or ICD-10-PCS code that {payer_name} medical policies are written in (codes given: {given}); no coverage determination is made."
    ))
}

/// A member whose Coverage maps to no line of business decided here.
pub(super) fn coverage_not_mapped() -> Assertion {
    Assertion::undecided("The member's Coverage does not map to a line of business this service decides for (coverage-not-found); no coverage determination is made.".into())
}

/// The CRD answer for one order, from its determinations (one per setting
/// decided: the order's own, or outpatient and inpatient when it gives none).
/// The rules, from the CRD guide's coverage-information extension:
/// - only lines a policy governs decide, and only their codes are named;
///   none governed: `indeterminate`, the member's benefits apply;
/// - the lines agree: their coverage; they differ: `conditional`, with
///   `info-needed` `location` (no setting given) or `detail-code`;
/// - no `pa-needed` on a `not-covered` assertion (crd-ci-q2); prior
///   authorization that differs is `conditional`; conditional coverage
///   without a prior-auth answer has `pa-needed` `conditional`;
/// - conditional coverage resting on medical-necessity criteria needs the
///   clinician's documentation: `doc-needed` `clinical`, `withpa` when
///   prior authorization is needed, else `withclaim`;
/// - whatever is conditional has an `info-needed` (crd-ci-q3): `OTH` when no
///   other applies, its reason saying what is needed;
/// - a card only for `not-covered` (warning) and `auth-needed` (info).
pub(super) fn assertion_of(
    order: &Order<'_>,
    decided: &[(Setting, Determination<'_>)],
    payer_name: &str,
    base: &str,
    assertion_id: String,
) -> Option<Assertion> {
    let (_, first) = decided.first()?;
    let governed: Vec<&LineDetermination> = decided
        .iter()
        .flat_map(|(_, d)| d.lines.iter().filter(|l| l.coverage != Coverage::NoPolicy))
        .collect();
    if governed.is_empty() {
        return Some(Assertion {
            assertion_id,
            ..Assertion::undecided(format!(
                "No {payer_name} medical policy in effect on {} governs {}; this is not a coverage decision: the member's benefits apply.",
                order.date,
                codes_text(&order.codes)
            ))
        });
    }
    let mut governed_codes: Vec<Code> = Vec::new();
    for l in &governed {
        if !governed_codes.contains(&l.code) {
            governed_codes.push(l.code);
        }
    }
    let missing = if order.setting.is_none() {
        "location"
    } else {
        "detail-code"
    };
    let first_coverage = governed[0].coverage;
    let first_pa = governed[0].prior_auth;
    let mut info_needed = None;
    let covered = if governed.iter().all(|l| l.coverage == first_coverage) {
        covered_code(first_coverage)
    } else {
        info_needed = Some(missing);
        "conditional"
    };
    let mut pa_needed = if covered == "not-covered" {
        None
    } else if governed.iter().all(|l| l.prior_auth == first_pa) {
        pa_code(first_pa)
    } else {
        info_needed = info_needed.or(Some(missing));
        Some("conditional")
    };
    if covered == "conditional" && pa_needed.is_none() {
        pa_needed = Some("conditional");
    }
    let criteria = governed
        .iter()
        .any(|l| l.reasons.contains(&Reason::MedicalNecessityCriteria));
    let doc_needed = (covered == "conditional" && criteria).then(|| {
        let purpose = if pa_needed == Some("auth-needed") {
            "withpa"
        } else {
            "withclaim"
        };
        ("clinical", purpose)
    });
    let mut questionnaires: Vec<String> = Vec::new();
    if doc_needed.is_some() {
        for l in &governed {
            for set in &l.criteria {
                let (payer, number) = set.policy.split_once('/').unwrap_or(("", set.policy));
                let statement = set.path.strip_prefix("statement/").unwrap_or(set.path);
                let q = crate::dtr::canonical(base, payer, number, statement, set.version);
                if !questionnaires.contains(&q) {
                    questionnaires.push(q);
                }
            }
        }
    }
    if (covered == "conditional" || pa_needed == Some("conditional")) && info_needed.is_none() {
        info_needed = Some("OTH");
    }
    let mut reasons = reason_text(first);
    if let Some((_, second)) = decided.get(1) {
        reasons.extend(reason_text(second));
        reasons.push("The order does not say whether it is inpatient or outpatient; the answer for each is given.".into());
    }
    let mut links: Vec<(String, String)> = Vec::new();
    for l in &governed {
        for p in &l.policies {
            let url = format!(
                "{base}/api/v1/policies/{}/{}?date={}",
                p.payer, p.number, order.date
            );
            if !links.iter().any(|(_, u)| u == &url) {
                links.push((
                    format!(
                        "{} medical policy {}: {}",
                        p.payer.to_uppercase(),
                        p.number,
                        p.title
                    ),
                    url,
                ));
            }
        }
    }
    let card = match (covered, pa_needed) {
        ("not-covered", _) => Some((
            "warning",
            truncate(
                &format!(
                    "{} is not covered for this member ({}) per {}",
                    codes_text(&governed_codes),
                    payer_name,
                    links.first().map(|l| l.0.as_str()).unwrap_or("policy")
                ),
                140,
            ),
            reasons.join("\n\n"),
        )),
        (_, Some("auth-needed")) => Some((
            "info",
            truncate(
                &format!(
                    "Prior authorization is required for {} ({})",
                    codes_text(&governed_codes),
                    payer_name
                ),
                140,
            ),
            reasons.join("\n\n"),
        )),
        _ => None,
    };
    Some(Assertion {
        codes: governed_codes,
        covered,
        pa_needed,
        doc_needed,
        info_needed,
        questionnaires,
        reasons,
        policy_links: links,
        assertion_id,
        card,
    })
}

pub(super) fn covered_code(c: Coverage) -> &'static str {
    match c {
        Coverage::Covered => "covered",
        Coverage::NotCovered => "not-covered",
        Coverage::Conditional => "conditional",
        Coverage::NoPolicy => "indeterminate",
    }
}

pub(super) fn pa_code(p: PriorAuth) -> Option<&'static str> {
    match p {
        PriorAuth::AuthNeeded => Some("auth-needed"),
        PriorAuth::NoAuth => Some("no-auth"),
        PriorAuth::Conditional => Some("conditional"),
        PriorAuth::NotApplicable => None,
    }
}

pub(super) fn codes_text(codes: &[Code]) -> String {
    codes
        .iter()
        .map(|c| format!("{} {}", c.system().label(), c.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Criteria as one line of text: `1. … 2. (one of) 2.1 …`.
pub(super) fn criteria_text(nodes: &[CriterionNode], out: &mut String) {
    for n in nodes {
        out.push_str(&format!(" {}. {}", n.id, n.text));
        if n.combine == Some(Combine::AnyOf) && !n.criteria.is_empty() {
            out.push_str(" (one of)");
        }
        criteria_text(&n.criteria, out);
    }
}

/// The human-readable reason: what the policy says, and which policy.
pub(super) fn reason_text(d: &Determination<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for line in &d.lines {
        if line.policies.is_empty() {
            continue;
        }
        let policies: Vec<String> = line
            .policies
            .iter()
            .map(|p| {
                format!(
                    "{} medical policy {} \"{}\", version {}",
                    p.payer.to_uppercase(),
                    p.number,
                    p.title,
                    p.version
                )
            })
            .collect();
        let quote: Vec<&str> = line.citations.iter().map(|c| c.text).collect();
        let mut s = format!(
            "{} {}: {}{}; prior authorization {}. {} Per {}.",
            line.code.system().label(),
            line.code.as_str(),
            line.coverage.id(),
            if line.reasons.is_empty() {
                String::new()
            } else {
                format!(
                    " ({})",
                    line.reasons
                        .iter()
                        .map(|r| r.id())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            line.prior_auth.id(),
            quote.join(" "),
            policies.join("; ")
        );
        for set in &line.criteria {
            let how = match set.combine {
                Combine::AllOf => "all of the following",
                Combine::AnyOf => "one of the following",
            };
            s.push_str(&format!(" Criteria ({}, {how}):", set.path));
            criteria_text(set.criteria, &mut s);
        }
        if line.reasons.contains(&Reason::DependsOnIndication) && !line.indications.is_empty() {
            let each: Vec<String> = line
                .indications
                .iter()
                .map(|i| {
                    let name = if i.other_indications {
                        "all other indications"
                    } else {
                        i.indication.unwrap_or("an indication the policy names")
                    };
                    let codes = if i.diagnoses.is_empty() {
                        String::new()
                    } else {
                        format!(" (ICD-10-CM {})", i.diagnoses.join(", "))
                    };
                    let why = i
                        .reason
                        .map(|r| format!(", {}", r.id()))
                        .unwrap_or_default();
                    format!("{name}{codes}: {}{why}", i.coverage.id())
                })
                .collect();
            s.push_str(&format!(
                " The answer depends on the indication; send the diagnosis (reasonCode) to decide. {}.",
                each.join("; ")
            ));
        }
        s = s.replace("  ", " ");
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

pub(super) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// The order, updated with the coverage-information extension.
pub(super) fn system_action(
    order: &Order<'_>,
    coverage: &Value,
    a: &Assertion,
    today: NaiveDate,
) -> Value {
    let mut ext = vec![
        json!({ "url": "coverage", "valueReference": { "reference": reference_of(coverage) } }),
        json!({ "url": "covered", "valueCode": a.covered }),
    ];
    if let Some(pa) = a.pa_needed {
        ext.push(json!({ "url": "pa-needed", "valueCode": pa }));
    }
    if let Some((doc, purpose)) = a.doc_needed {
        ext.push(json!({ "url": "doc-needed", "valueCode": doc }));
        ext.push(json!({ "url": "doc-purpose", "valueCode": purpose }));
        for q in &a.questionnaires {
            ext.push(json!({ "url": "questionnaire", "valueCanonical": q }));
        }
    }
    if let Some(info) = a.info_needed {
        ext.push(json!({ "url": "info-needed", "valueCode": info }));
    }
    // Billing codes qualify an assertion; an indeterminate one has none to qualify.
    let billing: &[Code] = if a.covered == "indeterminate" {
        &[]
    } else {
        &a.codes
    };
    for c in billing {
        let system = match c.system() {
            CodeSystem::Hcpcs => "https://bluebutton.cms.gov/resources/codesystem/hcpcs",
            CodeSystem::Cpt => "http://www.ama-assn.org/go/cpt",
            CodeSystem::Icd10pcs => "http://www.cms.gov/Medicare/Coding/ICD10",
            CodeSystem::Icd10cm => "http://hl7.org/fhir/sid/icd-10-cm",
        };
        ext.push(json!({ "url": "billingCode", "valueCoding": { "system": system, "code": c.as_str() } }));
    }
    for r in &a.reasons {
        ext.push(json!({ "url": "reason", "valueCodeableConcept": { "text": r } }));
    }
    for (label, url) in &a.policy_links {
        ext.push(json!({
            "url": "detail",
            "extension": [
                { "url": "category", "valueCode": "cat-other" },
                { "url": "code", "valueCodeableConcept": { "coding": [{ "system": CRD_TEMP, "code": "policy-link" }] } },
                { "url": "value", "valueUrl": url },
                { "url": "qualification", "valueString": label }
            ]
        }));
    }
    ext.push(json!({ "url": "date", "valueDate": today.to_string() }));
    ext.push(json!({ "url": "coverage-assertion-id", "valueString": a.assertion_id }));
    let mut resource = order.resource.clone();
    let info = json!({ "url": EXT_COVERAGE_INFO, "extension": ext });
    match resource.get_mut("extension") {
        Some(Value::Array(list)) => list.push(info),
        _ => resource["extension"] = json!([info]),
    }
    json!({
        "type": "update",
        "description": format!("Coverage information for {}", reference_of(order.resource)),
        "resource": resource,
    })
}
