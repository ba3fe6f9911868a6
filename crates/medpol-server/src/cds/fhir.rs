//! Reading the loose FHIR JSON of a hook call: resources from Bundles,
//! lists or single objects, references, codings, dates, settings, and the
//! orders a hook is about.

use super::*;

/// A context field that holds resources (a Bundle, as CDS Hooks defines
/// `draftOrders` and `appointments`; a list of resources is also read) must
/// be one: a string, a number or a list with a null in it is the client's
/// mistake, answered 400 rather than read as "no orders".
pub(super) fn check_resources(v: &Value, field: &str) -> Result<(), String> {
    let resource = |r: &Value, at: &str| -> Result<(), String> {
        match r.get("resourceType") {
            Some(Value::String(t)) if !t.is_empty() => Ok(()),
            _ => Err(format!(
                "`{at}` must be a FHIR resource (an object with a `resourceType`)"
            )),
        }
    };
    let one = |r: &Value, at: &str| -> Result<(), String> {
        let Some(o) = r.as_object() else {
            return Err(format!(
                "`{at}` must be a FHIR Bundle or resource, not {}",
                kind(r)
            ));
        };
        let bundle = o.get("resourceType").and_then(Value::as_str) == Some("Bundle")
            || (o.get("resourceType").is_none() && o.contains_key("entry"));
        if !bundle {
            return resource(r, at);
        }
        match o.get("entry") {
            None | Some(Value::Null) => Ok(()),
            Some(Value::Array(entries)) => {
                for (i, e) in entries.iter().enumerate() {
                    let at = format!("{at}.entry[{i}]");
                    match e.get("resource") {
                        Some(r) if e.is_object() => resource(r, &format!("{at}.resource"))?,
                        _ => return Err(format!("`{at}` must be an entry with a `resource`")),
                    }
                }
                Ok(())
            }
            Some(other) => Err(format!("`{at}.entry` must be a list, not {}", kind(other))),
        }
    };
    match v {
        Value::Null => Ok(()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, r)| one(r, &format!("{field}[{i}]"))),
        other => one(other, field),
    }
}

/// What a JSON value is, for messages (never the value itself).
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A value as a list: arrays as they are, one object as a list of one, null as none.
pub(crate) fn list(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().filter(|x| !x.is_null()).collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

pub(crate) fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// The resources a value holds: a Bundle's entries (with or without `type`),
/// a list of resources or Bundles, or one resource.
pub(super) fn resources(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().flat_map(resources).collect(),
        Value::Object(o) => {
            if o.get("resourceType").and_then(Value::as_str) == Some("Bundle")
                || (o.get("resourceType").is_none() && o.contains_key("entry"))
            {
                list(&v["entry"])
                    .into_iter()
                    .flat_map(|e| resources(&e["resource"]))
                    .collect()
            } else if o.contains_key("resourceType") {
                vec![v]
            } else {
                Vec::new()
            }
        }
        _ => Vec::new(),
    }
}

pub(super) fn reference_of(r: &Value) -> String {
    format!("{}/{}", text(&r["resourceType"]), text(&r["id"]))
}

/// Whether a reference (`Type/id`, possibly absolute) names this resource.
pub(super) fn names(reference: &str, r: &Value) -> bool {
    let want = reference_of(r);
    reference == want || reference.ends_with(&format!("/{want}"))
}

pub(crate) fn code_system(uri: &str) -> Option<CodeSystem> {
    match uri.trim_end_matches('/') {
        "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
        | "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
        | "https://bluebutton.cms.gov/resources/codesystem/hcpcs" => Some(CodeSystem::Hcpcs),
        "http://www.ama-assn.org/go/cpt" => Some(CodeSystem::Cpt),
        "http://hl7.org/fhir/sid/icd-10-cm" => Some(CodeSystem::Icd10cm),
        "http://www.cms.gov/Medicare/Coding/ICD10" => Some(CodeSystem::Icd10pcs),
        _ => None,
    }
}

/// An order (or appointment, or encounter) and what deciding it needs.
pub(super) struct Order<'a> {
    pub(super) resource: &'a Value,
    pub(super) codes: Vec<Code>,
    /// Codings present but not decidable, e.g. `http://snomed.info/sct|726551006`.
    pub(super) other_codings: Vec<String>,
    pub(super) diagnoses: Vec<Code>,
    pub(super) setting: Option<Setting>,
    pub(super) date: NaiveDate,
}

pub(super) fn add_codings(cc: &Value, codes: &mut Vec<Code>, other: &mut Vec<String>) {
    let mut codings: Vec<&Value> = list(&cc["coding"]);
    // Codes the client offers to bill instead (CRD ext-billing-options).
    for ext in list(&cc["extension"]) {
        if text(&ext["url"]) == EXT_BILLING_OPTIONS {
            codings.extend(list(&ext["valueCodeableConcept"]["coding"]));
        }
    }
    for c in codings {
        let (system, code) = (text(&c["system"]), text(&c["code"]));
        match code_system(system)
            .filter(|s| s.is_procedure())
            .map(|s| Code::parse(s, code))
        {
            Some(Ok(parsed)) if !codes.contains(&parsed) => codes.push(parsed),
            Some(Ok(_)) => {}
            _ if !code.is_empty() => other.push(format!("{system}|{code}")),
            _ => {}
        }
    }
}

pub(crate) fn date_of(s: &str) -> Option<NaiveDate> {
    // A FHIR date or dateTime: its day, by the one strict parser.
    s.get(..10)
        .and_then(medpol_core::model::iso_date::parse_strict)
}

pub(crate) fn encounter_setting(encounter: &Value) -> Option<Setting> {
    // R4 Encounter.class is a Coding; tolerate a CodeableConcept or a list.
    let codings: Vec<&Value> = list(&encounter["class"])
        .into_iter()
        .flat_map(|c| {
            if c["coding"].is_null() {
                vec![c]
            } else {
                list(&c["coding"])
            }
        })
        .collect();
    codings.iter().find_map(|c| match text(&c["code"]) {
        "IMP" | "ACUTE" | "NONAC" => Some(Setting::Inpatient),
        "AMB" | "EMER" | "HH" | "VR" | "FLD" | "OBSENC" | "SS" | "PRENC" => {
            Some(Setting::Outpatient)
        }
        _ => None,
    })
}

pub(super) fn order_setting(r: &Value, encounter: Option<&Value>) -> Option<Setting> {
    for cc in list(&r["locationCode"]) {
        for c in list(&cc["coding"]) {
            let code = text(&c["code"]);
            if text(&c["system"]) == POS_SYSTEM
                || (code.len() == 2 && code.bytes().all(|b| b.is_ascii_digit()))
            {
                if let Ok(s) = Setting::from_place_of_service(code) {
                    return Some(s);
                }
            }
        }
    }
    for cc in list(&r["category"]) {
        for c in list(&cc["coding"]) {
            if let Ok(s) = text(&c["code"]).parse::<Setting>() {
                if !text(&c["code"]).bytes().all(|b| b.is_ascii_digit()) {
                    return Some(s);
                }
            }
        }
    }
    if text(&r["resourceType"]) == "Encounter" {
        return encounter_setting(r);
    }
    encounter.and_then(encounter_setting)
}

pub(super) fn order_of<'a>(
    r: &'a Value,
    encounter: Option<&Value>,
    related: &[&Value],
    today: NaiveDate,
) -> Order<'a> {
    let mut codes = Vec::new();
    let mut other = Vec::new();
    let cc_fields: &[&str] = match text(&r["resourceType"]) {
        "ServiceRequest" => &["code"],
        "DeviceRequest" => &["codeCodeableConcept"],
        "MedicationRequest" => &["medicationCodeableConcept"],
        "Appointment" => &["serviceType", "appointmentType"],
        "Encounter" => &["type"],
        "CommunicationRequest" => &["category"],
        _ => &[],
    };
    for f in cc_fields {
        for cc in list(&r[*f]) {
            add_codings(cc, &mut codes, &mut other);
        }
    }
    match text(&r["resourceType"]) {
        "NutritionOrder" => {
            for cc in list(&r["oralDiet"]["type"]) {
                add_codings(cc, &mut codes, &mut other);
            }
            add_codings(
                &r["enteralFormula"]["baseFormulaType"],
                &mut codes,
                &mut other,
            );
            for s in list(&r["supplement"]) {
                add_codings(&s["type"], &mut codes, &mut other);
            }
        }
        "VisionPrescription" => {
            for l in list(&r["lensSpecification"]) {
                add_codings(&l["product"], &mut codes, &mut other);
            }
        }
        "Appointment" => {
            // An appointment for an order: that order's codes count too.
            for based in list(&r["basedOn"]) {
                let reference = text(&based["reference"]);
                if let Some(order) = related.iter().find(|o| names(reference, o)) {
                    for f in ["code", "codeCodeableConcept"] {
                        add_codings(&order[f], &mut codes, &mut other);
                    }
                }
            }
        }
        _ => {}
    }
    let mut diagnoses = Vec::new();
    for cc in list(&r["reasonCode"]) {
        for c in list(&cc["coding"]) {
            if code_system(text(&c["system"])) == Some(CodeSystem::Icd10cm) {
                if let Ok(d) = Code::parse(CodeSystem::Icd10cm, text(&c["code"])) {
                    diagnoses.push(d);
                }
            }
        }
    }
    let date = [
        &r["occurrenceDateTime"],
        &r["occurrencePeriod"]["start"],
        &r["occurrenceTiming"]["event"][0],
        &r["dispenseRequest"]["validityPeriod"]["start"],
        &r["start"],
        &r["period"]["start"],
        &r["dateTime"],
        &r["dateWritten"],
        &r["authoredOn"],
    ]
    .into_iter()
    .find_map(|v| date_of(text(v)))
    .unwrap_or(today);
    Order {
        resource: r,
        codes,
        other_codings: other,
        diagnoses,
        setting: order_setting(r, encounter),
        date,
    }
}
