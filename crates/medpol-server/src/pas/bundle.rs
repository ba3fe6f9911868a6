//! Reading a Da Vinci PAS request Bundle: the Claim (first entry, `use` =
//! `preauthorization`), the resources it references (all in the Bundle),
//! its items, the member's Coverage and any QuestionnaireResponse (DTR).
//! Each problem names the element at fault as a FHIRPath expression.

use std::collections::HashMap;

use chrono::NaiveDate;
use medpol_core::code::{Code, Modifier};
use medpol_core::Setting;
use serde_json::{json, Value};

use super::model::Priority;
use crate::cds::fhir::{code_system, date_of, encounter_setting, list, text};
use crate::cds::POS_SYSTEM;

pub const EXT_TRACE: &str =
    "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-itemTraceNumber";
const EXT_CANCELLED: &str =
    "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/modifierextension-infoCancelled";
const EXT_ENCOUNTER: &str = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Claim.encounter";

/// What is wrong with a request, answered as one OperationOutcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleError {
    /// 400 when the body is not a Bundle at all, 422 when it breaks a PAS rule.
    pub status: u16,
    /// The FHIR issue type (`structure`, `required`, `value`, `invalid`...).
    pub code: &'static str,
    /// FHIRPath of the element at fault.
    pub expression: String,
    pub message: String,
}

impl BundleError {
    fn new(
        status: u16,
        code: &'static str,
        expression: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        BundleError {
            status,
            code,
            expression: expression.into(),
            message: message.into(),
        }
    }
}

/// One requested item.
#[derive(Debug, Clone)]
pub struct PaItem {
    pub sequence: u32,
    pub trace: Option<(String, String)>,
    /// The requested coding as given (`system|code`).
    pub coding: String,
    /// The code, when its system is one the policies are keyed by.
    pub code: Option<Code>,
    pub modifiers: Vec<Modifier>,
    /// Modifiers given that are not CPT/HCPCS modifiers.
    pub unread_modifiers: Vec<String>,
    pub setting: Option<Setting>,
    pub date: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
    pub cancelled: bool,
}

/// A PAS request, read.
#[derive(Debug, Clone)]
pub struct PaClaim {
    /// `system|value` of the Claim's first identifier.
    pub key: String,
    pub identifier: Value,
    pub priority: Priority,
    /// The Claim names an earlier one (`related`): an update.
    pub updates: bool,
    pub claim_type: Value,
    /// The Coverage, with each payor reference's Organization name added as
    /// its display (what the coverage map reads).
    pub coverage: Option<Value>,
    pub provider_ids: Vec<String>,
    pub diagnoses: Vec<Code>,
    pub items: Vec<PaItem>,
    /// Answers by questionnaire id, then by linkId.
    pub answers: HashMap<String, HashMap<String, bool>>,
}

fn resolve<'b>(bundle: &'b [(String, &'b Value)], reference: &str) -> Option<&'b Value> {
    if reference.is_empty() {
        return None;
    }
    bundle
        .iter()
        .find(|(full, r)| {
            full == reference || {
                let want = format!("{}/{}", text(&r["resourceType"]), text(&r["id"]));
                reference == want || reference.ends_with(&format!("/{want}"))
            }
        })
        .map(|(_, r)| *r)
}

/// Reads a request Bundle (already parsed JSON).
pub fn read(body: &Value) -> Result<PaClaim, BundleError> {
    if text(&body["resourceType"]) != "Bundle" {
        return Err(BundleError::new(
            400,
            "structure",
            "Bundle",
            format!(
                "the body must be a FHIR Bundle whose first entry is the Claim, not {}",
                if body.is_object() {
                    format!("a {}", medpol_core::excerpt(text(&body["resourceType"])))
                } else {
                    "JSON other than an object".into()
                }
            ),
        ));
    }
    let entries: Vec<(String, &Value)> = list(&body["entry"])
        .into_iter()
        .map(|e| (text(&e["fullUrl"]).to_string(), &e["resource"]))
        .collect();
    let claim = match entries.first() {
        Some((_, c)) if text(&c["resourceType"]) == "Claim" => *c,
        _ => {
            return Err(BundleError::new(
                422,
                "structure",
                "Bundle.entry[0].resource",
                "the first entry of a PAS request Bundle must be the Claim",
            ))
        }
    };
    let at = |path: &str| format!("Bundle.entry[0].resource.{path}");
    if text(&claim["use"]) != "preauthorization" {
        return Err(BundleError::new(
            422,
            "value",
            at("use"),
            format!(
                "Claim.use must be `preauthorization`, not `{}`",
                medpol_core::excerpt(text(&claim["use"]))
            ),
        ));
    }
    if text(&claim["status"]).is_empty() {
        return Err(BundleError::new(
            422,
            "required",
            at("status"),
            "Required element Claim.status is missing (active or cancelled)",
        ));
    }
    let identifier = list(&claim["identifier"])
        .into_iter()
        .find(|i| !text(&i["value"]).is_empty())
        .cloned()
        .ok_or_else(|| {
            BundleError::new(
                422,
                "required",
                at("identifier"),
                "the Claim needs an identifier with a value (the patient event trace number): it is how an update, a resubmission and $inquire find the request",
            )
        })?;
    let key = format!(
        "{}|{}",
        text(&identifier["system"]),
        text(&identifier["value"])
    );
    for field in ["patient", "insurer", "provider"] {
        let reference = text(&claim[field]["reference"]);
        if resolve(&entries, reference).is_none() {
            return Err(BundleError::new(
                422,
                "required",
                at(&format!("{field}.reference")),
                format!(
                    "Claim.{field} must reference a resource in the Bundle (a PAS request carries every resource it references){}",
                    if reference.is_empty() {
                        String::new()
                    } else {
                        format!("; `{}` is not there", medpol_core::excerpt(reference))
                    }
                ),
            ));
        }
    }
    let priority = match list(&claim["priority"]["coding"])
        .iter()
        .map(|c| text(&c["code"]))
        .find(|c| !c.is_empty())
    {
        Some("stat") => Priority::Expedited,
        _ => Priority::Standard,
    };
    // The focal insurance (or the first).
    let insurances = list(&claim["insurance"]);
    let insurance = insurances
        .iter()
        .find(|i| i["focal"] == true)
        .or(insurances.first());
    let coverage = match insurance {
        None => None,
        Some(i) => {
            let reference = text(&i["coverage"]["reference"]);
            let c = resolve(&entries, reference).ok_or_else(|| {
                BundleError::new(
                    422,
                    "required",
                    at("insurance.coverage"),
                    format!(
                        "Claim.insurance.coverage must reference a Coverage in the Bundle; `{}` is not there",
                        medpol_core::excerpt(reference)
                    ),
                )
            })?;
            let mut c = c.clone();
            if let Some(payors) = c["payor"].as_array_mut() {
                for p in payors {
                    let name = resolve(&entries, text(&p["reference"]))
                        .map(|o| text(&o["name"]).to_string())
                        .unwrap_or_default();
                    if !name.is_empty() && text(&p["display"]).is_empty() {
                        p["display"] = json!(name);
                    }
                }
            }
            Some(c)
        }
    };
    let provider_ids = resolve(&entries, text(&claim["provider"]["reference"]))
        .map(|o| {
            list(&o["identifier"])
                .into_iter()
                .map(|i| text(&i["value"]).to_string())
                .filter(|v| !v.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let encounter = list(&claim["extension"])
        .into_iter()
        .find(|e| text(&e["url"]) == EXT_ENCOUNTER)
        .and_then(|e| resolve(&entries, text(&e["valueReference"]["reference"])));
    let claim_setting = encounter.and_then(encounter_setting);

    let mut diagnoses = Vec::new();
    for (n, d) in list(&claim["diagnosis"]).into_iter().enumerate() {
        for c in list(&d["diagnosisCodeableConcept"]["coding"]) {
            if code_system(text(&c["system"])) == Some(medpol_core::code::CodeSystem::Icd10cm) {
                let code = Code::parse(medpol_core::code::CodeSystem::Icd10cm, text(&c["code"]))
                    .map_err(|e| {
                        BundleError::new(
                            422,
                            "value",
                            at(&format!("diagnosis[{n}].diagnosisCodeableConcept")),
                            e.to_string(),
                        )
                    })?;
                diagnoses.push(code);
            }
        }
    }

    let raw_items = list(&claim["item"]);
    if raw_items.is_empty() {
        return Err(BundleError::new(
            422,
            "required",
            at("item"),
            "the Claim has no items: a prior-authorization request asks for at least one service",
        ));
    }
    let mut items: Vec<PaItem> = Vec::with_capacity(raw_items.len());
    for (n, item) in raw_items.into_iter().enumerate() {
        let here = |f: &str| at(&format!("item[{n}]{f}"));
        let sequence = item["sequence"]
            .as_u64()
            .filter(|s| (1..=u32::MAX as u64).contains(s))
            .ok_or_else(|| {
                BundleError::new(
                    422,
                    "required",
                    here(".sequence"),
                    "each item needs a positive integer sequence (the response echoes it)",
                )
            })? as u32;
        if items.iter().any(|i| i.sequence == sequence) {
            return Err(BundleError::new(
                422,
                "invalid",
                here(".sequence"),
                format!("item sequence {sequence} is given twice"),
            ));
        }
        let coding = list(&item["productOrService"]["coding"])
            .into_iter()
            .find(|c| !text(&c["code"]).is_empty())
            .ok_or_else(|| {
                BundleError::new(
                    422,
                    "required",
                    here(".productOrService"),
                    "each item needs a productOrService coding with a code (HCPCS, CPT...)",
                )
            })?;
        let (system, code_text) = (text(&coding["system"]), text(&coding["code"]));
        let code = match code_system(system).filter(|s| s.is_procedure()) {
            Some(s) => Some(Code::parse(s, code_text).map_err(|e| {
                BundleError::new(422, "value", here(".productOrService"), e.to_string())
            })?),
            None => None,
        };
        let mut modifiers = Vec::new();
        let mut unread_modifiers = Vec::new();
        for m in list(&item["modifier"]) {
            for c in list(&m["coding"]) {
                match Modifier::parse(text(&c["code"])) {
                    Ok(m) => modifiers.push(m),
                    Err(_) => unread_modifiers.push(text(&c["code"]).to_string()),
                }
            }
        }
        let trace = list(&item["extension"])
            .into_iter()
            .find(|e| text(&e["url"]) == EXT_TRACE)
            .map(|e| {
                (
                    text(&e["valueIdentifier"]["system"]).to_string(),
                    text(&e["valueIdentifier"]["value"]).to_string(),
                )
            });
        let cancelled = list(&item["modifierExtension"])
            .into_iter()
            .any(|e| text(&e["url"]) == EXT_CANCELLED && e["valueBoolean"] == true);
        let mut setting = None;
        for c in list(&item["locationCodeableConcept"]["coding"]) {
            let code = text(&c["code"]);
            if text(&c["system"]) == POS_SYSTEM || code.len() == 2 {
                if let Ok(s) = Setting::from_place_of_service(code) {
                    setting = Some(s);
                }
            }
        }
        let date_field = |v: &Value, f: &str| -> Result<Option<NaiveDate>, BundleError> {
            match v.as_str() {
                None => Ok(None),
                Some(s) => date_of(s).map(Some).ok_or_else(|| {
                    BundleError::new(
                        422,
                        "value",
                        here(f),
                        format!(
                            "`{}` is not a FHIR date (YYYY-MM-DD)",
                            medpol_core::excerpt(s)
                        ),
                    )
                }),
            }
        };
        let (date, end) = if !item["servicedDate"].is_null() {
            (date_field(&item["servicedDate"], ".servicedDate")?, None)
        } else {
            (
                date_field(&item["servicedPeriod"]["start"], ".servicedPeriod.start")?,
                date_field(&item["servicedPeriod"]["end"], ".servicedPeriod.end")?,
            )
        };
        items.push(PaItem {
            sequence,
            trace,
            coding: format!("{system}|{code_text}"),
            code,
            modifiers,
            unread_modifiers,
            setting: setting.or(claim_setting),
            date,
            end,
            cancelled,
        });
    }

    let mut answers: HashMap<String, HashMap<String, bool>> = HashMap::new();
    for (_, r) in &entries {
        if text(&r["resourceType"]) != "QuestionnaireResponse" {
            continue;
        }
        let canonical = text(&r["questionnaire"]);
        let url = canonical.split('|').next().unwrap_or("");
        let id = url.rsplit('/').next().unwrap_or("").to_string();
        let into = answers.entry(id).or_default();
        collect_answers(&r["item"], into);
    }

    Ok(PaClaim {
        key,
        identifier,
        priority,
        updates: !list(&claim["related"]).is_empty(),
        claim_type: claim["type"].clone(),
        coverage,
        provider_ids,
        diagnoses,
        items,
        answers,
    })
}

fn collect_answers(items: &Value, into: &mut HashMap<String, bool>) {
    for i in list(items) {
        let link = text(&i["linkId"]);
        for a in list(&i["answer"]) {
            if let Some(b) = a["valueBoolean"].as_bool() {
                into.insert(link.to_string(), b);
            }
            collect_answers(&a["item"], into);
        }
        collect_answers(&i["item"], into);
    }
}

/// The Claim's identifier in an `$inquire` Bundle: `system|value`.
pub fn inquiry_key(body: &Value) -> Result<String, BundleError> {
    if text(&body["resourceType"]) != "Bundle" {
        return Err(BundleError::new(
            400,
            "structure",
            "Bundle",
            "the body must be a FHIR Bundle whose first entry is the Claim inquired about",
        ));
    }
    let claim = list(&body["entry"])
        .first()
        .map(|e| &e["resource"])
        .filter(|c| text(&c["resourceType"]) == "Claim")
        .ok_or_else(|| {
            BundleError::new(
                422,
                "structure",
                "Bundle.entry[0].resource",
                "the first entry of an inquiry Bundle must be the Claim",
            )
        })?;
    list(&claim["identifier"])
        .into_iter()
        .find(|i| !text(&i["value"]).is_empty())
        .map(|i| format!("{}|{}", text(&i["system"]), text(&i["value"])))
        .ok_or_else(|| {
            BundleError::new(
                422,
                "required",
                "Bundle.entry[0].resource.identifier",
                "the inquiry Claim needs the identifier the request was submitted with",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(claim: Value, more: Vec<Value>) -> Value {
        let mut entry = vec![json!({"fullUrl": "urn:uuid:claim", "resource": claim})];
        entry.extend(more.into_iter().map(|r| json!({"resource": r})));
        json!({"resourceType": "Bundle", "type": "collection", "entry": entry})
    }

    fn claim() -> Value {
        json!({
            "resourceType": "Claim", "id": "c", "status": "active", "use": "preauthorization",
            "identifier": [{"system": "urn:trace", "value": "T1"}],
            "priority": {"coding": [{"code": "stat"}]},
            "patient": {"reference": "Patient/p"}, "insurer": {"reference": "Organization/i"},
            "provider": {"reference": "Organization/prov"},
            "insurance": [{"focal": true, "coverage": {"reference": "Coverage/cov"}}],
            "diagnosis": [{"sequence": 1, "diagnosisCodeableConcept": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "M54.50"}]}}],
            "item": [
                {"sequence": 1, "productOrService": {"coding": [{"system": "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": "M0076"}]},
                 "locationCodeableConcept": {"coding": [{"system": POS_SYSTEM, "code": "21"}]}, "servicedDate": "2026-03-01",
                 "extension": [{"url": EXT_TRACE, "valueIdentifier": {"system": "urn:item", "value": "I1"}}]},
                {"sequence": 2, "productOrService": {"coding": [{"system": "https://codesystem.x12.org/005010/1365", "code": "3"}]},
                 "modifierExtension": [{"url": EXT_CANCELLED, "valueBoolean": true}]}
            ]
        })
    }

    fn others() -> Vec<Value> {
        vec![
            json!({"resourceType": "Patient", "id": "p"}),
            json!({"resourceType": "Organization", "id": "i", "name": "Blue Cross Blue Shield of Massachusetts"}),
            json!({"resourceType": "Organization", "id": "prov", "identifier": [{"value": "8189991234"}]}),
            json!({"resourceType": "Coverage", "id": "cov", "payor": [{"reference": "Organization/i"}]}),
            json!({"resourceType": "QuestionnaireResponse", "questionnaire": "https://x/fhir/Questionnaire/q1|1/2025",
                   "item": [{"linkId": "criteria", "item": [{"linkId": "1", "answer": [{"valueBoolean": true}]}]}]}),
        ]
    }

    #[test]
    fn a_request_reads_items_coverage_diagnoses_and_answers() {
        let c = read(&bundle(claim(), others())).unwrap();
        assert_eq!(c.key, "urn:trace|T1");
        assert_eq!(c.priority, Priority::Expedited);
        assert_eq!(c.items.len(), 2);
        assert_eq!(c.items[0].code.as_ref().unwrap().as_str(), "M0076");
        assert_eq!(c.items[0].setting, Some(Setting::Inpatient));
        assert_eq!(c.items[0].trace, Some(("urn:item".into(), "I1".into())));
        assert!(
            c.items[1].code.is_none(),
            "an X12 service type is not a policy code"
        );
        assert!(c.items[1].cancelled);
        assert_eq!(c.diagnoses.len(), 1);
        assert_eq!(
            c.coverage.unwrap()["payor"][0]["display"],
            "Blue Cross Blue Shield of Massachusetts"
        );
        assert_eq!(c.provider_ids, ["8189991234"]);
        assert!(c.answers["q1"]["1"]);
    }

    #[test]
    fn each_problem_names_its_element() {
        let not_bundle = read(&json!({"resourceType": "Claim"})).unwrap_err();
        assert_eq!(not_bundle.status, 400);
        let mut c = claim();
        c.as_object_mut().unwrap().remove("status");
        let e = read(&bundle(c, others())).unwrap_err();
        assert_eq!(
            (e.status, e.expression.as_str()),
            (422, "Bundle.entry[0].resource.status")
        );
        let mut c = claim();
        c["use"] = json!("claim");
        assert_eq!(
            read(&bundle(c, others())).unwrap_err().expression,
            "Bundle.entry[0].resource.use"
        );
        let e = read(&bundle(claim(), vec![])).unwrap_err();
        assert_eq!(e.expression, "Bundle.entry[0].resource.patient.reference");
        let mut c = claim();
        c["item"][0]["productOrService"]["coding"][0]["code"] = json!("M00");
        let e = read(&bundle(c, others())).unwrap_err();
        assert_eq!(
            e.expression,
            "Bundle.entry[0].resource.item[0].productOrService"
        );
        let mut c = claim();
        c["item"][1]["sequence"] = json!(1);
        assert!(read(&bundle(c, others()))
            .unwrap_err()
            .message
            .contains("twice"));
        let mut c = claim();
        c["item"][0]["servicedDate"] = json!("March 1");
        assert_eq!(
            read(&bundle(c, others())).unwrap_err().expression,
            "Bundle.entry[0].resource.item[0].servicedDate"
        );
        assert_eq!(
            inquiry_key(&bundle(claim(), vec![])).unwrap(),
            "urn:trace|T1"
        );
    }
}
