//! One synthetic policy, shaped like the published ones (see
//! `policies/bcbsma/183-prolotherapy.toml`): statements per product group,
//! prior-authorization rules, code tables, notes, history and references.
//!
//! The parts are generated so that the policy validates without errors or
//! warnings: ids are unique and lower case, criteria only accompany
//! medically-necessary statements, every code list either has a status or
//! names only products its statements cover, references are numbered in
//! order, and related policies are other policies of the same payer.

use chrono::{Datelike, Days, NaiveDate};
use fastrand::Rng;
use medpol_core::history::HistoryDate;
use medpol_core::model::{
    AllPoliciesInfo, CodeEntry, CodeList, Combine, CoverageStatement, CoverageStatus, Criterion,
    ExternalReference, HistoryEntry, Link, LinkKind, Note, NoteKind, PaRequirement, Policy,
    PriorAuthRow, PriorAuthRule, Reference, RelatedPolicy,
};
use medpol_core::{CodeSystem, Setting};

use crate::codes::{CodeSource, Family};
use crate::dist::{self, chance, pick, weighted};
use crate::payer::{letters, AudienceKind, PayerPlan};
use crate::vocab::{self, Outline, Topic, INDICATIONS};

/// Policies take effect between these years (inclusive).
const FIRST_YEAR: i32 = 2005;
const LAST_YEAR: i32 = 2024;
/// The last month history rows and accessed dates reach: "today" for the
/// catalogue, fixed so that output does not depend on the clock.
const HORIZON_YEAR: i32 = 2025;
const HORIZON_MONTH: u32 = 12;

/// Everything one policy is generated from.
pub struct PolicyInput<'a> {
    pub plan: &'a PayerPlan,
    /// The outlines of all the payer's policies, so related policies can cite their titles.
    pub outlines: &'a [Outline],
    /// This policy's position among them; its number is `index + 1`.
    pub index: usize,
}

/// A statement before ids and code-list references are final.
struct Draft {
    audience: usize,
    status: CoverageStatus,
    /// The indication from [`INDICATIONS`], if the statement names one.
    indication: Option<usize>,
    /// "For all other indications": the fallback after specific ones.
    catch_all: bool,
    diagnoses: Vec<String>,
    /// The code list (by position) the statement is limited to, if any.
    list: Option<usize>,
}

/// The statuses of statements, most common first: payers publish policies
/// mostly to say what they do not cover.
const STATUSES: &[(CoverageStatus, u32)] = &[
    (CoverageStatus::Investigational, 38),
    (CoverageStatus::MedicallyNecessary, 27),
    (CoverageStatus::NotMedicallyNecessary, 14),
    (CoverageStatus::NotCovered, 11),
    (CoverageStatus::Covered, 10),
];

pub fn generate(rng: &mut Rng, input: &PolicyInput<'_>, codes: &mut CodeSource<'_>) -> Policy {
    let PolicyInput {
        plan,
        outlines,
        index,
    } = *input;
    let outline = &outlines[index];
    let number = (index + 1).to_string();
    let title = outline.title.clone();
    let effective = effective_date(rng);

    let list_count = weighted(rng, &[(1usize, 55), (2, 35), (3, 10)]);
    let mut drafts = drafts(rng, plan, outline);
    // Sometimes statements govern one code table each (e.g. a CPT table of
    // investigational codes and a HCPCS table of covered ones); usually a
    // statement governs every table of the policy.
    if list_count >= 2 && drafts.len() >= 2 && chance(rng, 0.3) {
        for (j, d) in drafts.iter_mut().enumerate() {
            d.list = Some(j % list_count);
        }
    }

    let (code_lists, list_ids) = code_lists(rng, plan, outline, &drafts, list_count, codes);
    let statements = statements(rng, plan, &title, &drafts, &list_ids);
    let prior_auth = prior_auth(rng, plan, &drafts);

    // The Medicare note sometimes cites the CMS coverage determination, which
    // must then be among the references.
    let medicare_note = chance(rng, 0.35);
    let cites_cms = medicare_note && chance(rng, 0.6);
    // The indication the summary and the literature are about, if the subject has one.
    let main_indication = drafts
        .iter()
        .find_map(|d| d.indication)
        .or(outline.indications.first().copied());
    let history = history(rng, effective, &number, drafts[0].status);
    let last_year = history
        .first()
        .map_or(effective.year(), |h| h.date.end().year())
        .max(effective.year());
    let (references, cms_number) = references(
        rng,
        &title,
        main_indication,
        effective,
        last_year,
        cites_cms,
    );
    let notes = notes(rng, medicare_note, cms_number);

    let coding_heading = {
        let mut parts = Vec::new();
        if code_lists.iter().any(|l| l.system == CodeSystem::Cpt) {
            parts.push("CPT Codes");
        }
        if code_lists.iter().any(|l| l.system == CodeSystem::Hcpcs) {
            parts.push("HCPCS Codes");
        }
        if code_lists.iter().any(|l| l.system == CodeSystem::Icd10pcs)
            || drafts.iter().any(|d| !d.diagnoses.is_empty())
        {
            parts.push("ICD Codes");
        }
        Some(parts.join(" / "))
    };

    Policy {
        payer: plan.payer.id.clone(),
        external_references: external_references(rng),
        related_policies: related(rng, outlines, index),
        description: description(rng, &title, outline.topic, &plan.payer.name),
        summary: summary(rng, &title, main_indication, &outline.indications),
        number,
        title,
        effective,
        retired: None,
        in_force_from: None,
        statements,
        prior_auth,
        coding_heading,
        code_lists,
        notes,
        all_policies: Some(all_policies(&plan.payer.name)),
        history,
        references,
    }
}

/// A day in `FIRST_YEAR..=LAST_YEAR`, usually the first of a month as policy
/// effective dates are.
fn effective_date(rng: &mut Rng) -> NaiveDate {
    let year = rng.i32(FIRST_YEAR..=LAST_YEAR);
    let month = rng.u32(1..=12);
    let day = if chance(rng, 0.65) {
        1
    } else {
        rng.u32(1..=28)
    };
    NaiveDate::from_ymd_opt(year, month, day).expect("days 1-28 exist in every month")
}

/// The statements' audiences, statuses and indications.
///
/// Real policies either give one statement for all of their products, split
/// the statement by product group, or restrict it to indications: a
/// medically-necessary statement for one indication followed by an
/// investigational one "for all other indications".
fn drafts(rng: &mut Rng, plan: &PayerPlan, outline: &Outline) -> Vec<Draft> {
    use AudienceKind::*;
    let count = weighted(rng, &[(1usize, 40), (2, 30), (3, 18), (4, 12)]);
    let has = |k| plan.audience(k).is_some();
    // `None` stands for splitting commercial members into managed care and PPO.
    let mut primaries: Vec<(Option<AudienceKind>, u32)> = vec![
        (Some(Commercial), 45),
        (Some(All), 18),
        (None, 14),
        (Some(CommercialAndMedicare), 10),
        (Some(MedicareAdvantage), 5),
    ];
    for k in [Medicaid, Exchange] {
        if has(k) {
            primaries.push((Some(k), 4));
        }
    }
    let primary = weighted(rng, &primaries);
    // Every payer has the commercial, managed-care, PPO and Medicare audiences;
    // Medicaid and Exchange are only drawn when `has` them.
    let position = |k: AudienceKind| plan.audiences.iter().position(|a| a.kind == k).unwrap_or(0);
    let mut out: Vec<Draft> = Vec::with_capacity(count);
    for j in 0..count {
        let audience = match (j, primary) {
            (0, Some(k)) => position(k),
            (0, None) => position(ManagedCare),
            (1, None) => position(PpoIndemnity),
            _ if chance(rng, 0.5) => out[0].audience,
            _ => {
                // Another product group, if the payer sells one that no
                // statement addresses yet (overlapping statements would
                // contradict each other).
                let addressed = out
                    .iter()
                    .fold(0u64, |acc, d| acc | plan.audiences[d.audience].set.0);
                let others: Vec<usize> = [
                    MedicareAdvantage,
                    Medicaid,
                    Exchange,
                    ManagedCare,
                    PpoIndemnity,
                ]
                .into_iter()
                .filter_map(|k| plan.audiences.iter().position(|a| a.kind == k))
                .filter(|&p| plan.audiences[p].set.0 & addressed == 0)
                .collect();
                if others.is_empty() {
                    out[0].audience
                } else {
                    pick(rng, &others)
                }
            }
        };
        let earlier: Vec<&Draft> = out.iter().filter(|d| d.audience == audience).collect();
        // Indications of the subject these products have no statement for yet.
        let unused: Vec<usize> = outline
            .indications
            .iter()
            .copied()
            .filter(|&i| earlier.iter().all(|d| d.indication != Some(i)))
            .collect();
        let draft = if earlier.is_empty() {
            // The first statement for these products: for the indication the
            // title names, for one of the subject's indications, or general.
            let indication = if outline.titled {
                unused.first().copied()
            } else if chance(rng, 0.55) {
                pick_opt(rng, &unused)
            } else {
                None
            };
            let status = weighted(rng, STATUSES);
            let diagnoses = match indication {
                Some(i) if chance(rng, 0.5) => diagnoses(rng, i),
                _ => Vec::new(),
            };
            Draft {
                audience,
                status,
                indication,
                catch_all: false,
                diagnoses,
                list: None,
            }
        } else {
            let catch_all_allowed = earlier.iter().any(|d| d.indication.is_some())
                && earlier.iter().all(|d| !d.catch_all);
            if catch_all_allowed && (unused.is_empty() || chance(rng, 0.5)) {
                Draft {
                    audience,
                    status: weighted(
                        rng,
                        &[
                            (CoverageStatus::Investigational, 70),
                            (CoverageStatus::NotMedicallyNecessary, 30),
                        ],
                    ),
                    indication: None,
                    catch_all: true,
                    diagnoses: Vec::new(),
                    list: None,
                }
            } else if let Some(indication) = pick_opt(rng, &unused) {
                // Another indication for the same products, usually named by its diagnoses.
                let diagnoses = if chance(rng, 0.7) {
                    diagnoses(rng, indication)
                } else {
                    Vec::new()
                };
                Draft {
                    audience,
                    status: weighted(rng, STATUSES),
                    indication: Some(indication),
                    catch_all: false,
                    diagnoses,
                    list: None,
                }
            } else {
                // Nothing more to say for these products: a shorter policy
                // rather than two statements that contradict each other.
                continue;
            }
        };
        out.push(draft);
    }
    out
}

/// One item of a possibly empty slice.
fn pick_opt(rng: &mut Rng, items: &[usize]) -> Option<usize> {
    (!items.is_empty()).then(|| pick(rng, items))
}

/// One to four of the indication's ICD-10-CM codes, distinct, in table
/// order; as published tables do, some are written as a family (`M17.1-`)
/// or, for two neighbours, as a range (`M17.0-M17.12`).
fn diagnoses(rng: &mut Rng, indication: usize) -> Vec<String> {
    let all = INDICATIONS[indication].diagnoses;
    let count = rng.usize(1..=all.len().min(4));
    let mut picked = dist::distinct(rng, all.len(), count);
    picked.sort_unstable();
    let mut out: Vec<String> = Vec::with_capacity(picked.len());
    let mut i = 0;
    while i < picked.len() {
        let code = all[picked[i]];
        if i + 1 < picked.len() && chance(rng, 0.2) {
            let (lo, hi) = (code, all[picked[i + 1]]);
            if compact(lo) < compact(hi) {
                out.push(format!("{lo}-{hi}"));
                i += 2;
                continue;
            }
        }
        match code.split_once('.') {
            Some((head, tail)) if tail.len() >= 2 && chance(rng, 0.2) => {
                out.push(format!("{head}.{}-", &tail[..tail.len() - 1]));
            }
            _ => out.push(code.to_string()),
        }
        i += 1;
    }
    out
}

fn compact(code: &str) -> String {
    code.replace('.', "")
}

/// Criteria as published: a list, where longer lists often end in a group
/// of alternatives ("One of the following:").
fn criteria_tree(rng: &mut Rng, lines: Vec<String>) -> Vec<Criterion> {
    let n = lines.len();
    let grouped = if n >= 4 && chance(rng, 0.5) { 2 } else { 0 };
    let mut out: Vec<Criterion> = lines[..n - grouped]
        .iter()
        .enumerate()
        .map(|(i, t)| Criterion::leaf((i + 1).to_string(), t.clone()))
        .collect();
    if grouped > 0 {
        let id = (out.len() + 1).to_string();
        out.push(Criterion {
            criteria: lines[n - grouped..]
                .iter()
                .enumerate()
                .map(|(j, t)| Criterion::leaf(format!("{id}.{}", j + 1), t.clone()))
                .collect(),
            id,
            text: "One of the following:".to_string(),
            combine: Combine::AnyOf,
        });
    }
    out
}

/// `base`, or `base-b`, `base-c`, … if taken: ids stay lower case and '-'.
fn unique_id(taken: &mut Vec<String>, base: String) -> String {
    let mut id = base.clone();
    let mut n = 1;
    while taken.contains(&id) {
        id = format!("{base}-{}", letters(n));
        n += 1;
    }
    taken.push(id.clone());
    id
}

fn statements(
    rng: &mut Rng,
    plan: &PayerPlan,
    title: &str,
    drafts: &[Draft],
    list_ids: &[String],
) -> Vec<CoverageStatement> {
    let mut taken = Vec::with_capacity(drafts.len());
    drafts
        .iter()
        .map(|d| {
            let audience = &plan.audiences[d.audience];
            let id = unique_id(&mut taken, format!("{}-{}", audience.slug, d.status.id()));
            let indication_name = d.indication.map(|i| INDICATIONS[i].name);
            let phrase = if d.catch_all {
                " for all other indications".to_string()
            } else if let Some(name) = indication_name {
                match rng.usize(..3) {
                    0 => format!(" as a treatment of {name}"),
                    1 => format!(" for patients with {name}"),
                    _ => format!(" for the treatment of {name}"),
                }
            } else {
                String::new()
            };
            let (text, criteria) = match d.status {
                CoverageStatus::Investigational => (format!("{title} is considered [INVESTIGATIONAL](#){phrase}."), vec![]),
                CoverageStatus::MedicallyNecessary => {
                    let count = rng.usize(2..=6);
                    let about = indication_name.unwrap_or("the condition being treated");
                    let lines = vocab::criteria(rng, count, about);
                    (
                        format!(
                            "{title} may be considered [MEDICALLY NECESSARY](#){phrase} when all of the following criteria are met:"
                        ),
                        criteria_tree(rng, lines),
                    )
                }
                CoverageStatus::NotMedicallyNecessary => {
                    (format!("{title} is considered [NOT MEDICALLY NECESSARY](#){phrase}."), vec![])
                }
                CoverageStatus::NotCovered => (
                    format!("{title} is **not covered**{phrase}: it is excluded under the member's benefit contract."),
                    vec![],
                ),
                CoverageStatus::Covered => (format!("{title} is **covered**{phrase}."), vec![]),
            };
            CoverageStatement {
                id,
                heading: Some(audience.label.clone()),
                products: audience.products.clone(),
                status: d.status,
                indication: if d.catch_all {
                    Some("all other indications".to_string())
                } else {
                    indication_name.map(str::to_string)
                },
                other_indications: d.catch_all,
                text,
                criteria_match: Combine::AllOf,
                criteria,
                code_lists: d.list.and_then(|l| list_ids.get(l).cloned()).into_iter().collect(),
                diagnoses: d.diagnoses.clone(),
                diagnosis_lists: Vec::new(),
            }
        })
        .collect()
}

/// The code system of a table: mostly HCPCS, then CPT, some ICD-10-PCS for
/// inpatient procedures, depending on what the policy is about.
fn list_system(rng: &mut Rng, topic: Topic) -> CodeSystem {
    use CodeSystem::*;
    let table: &[(CodeSystem, u32)] = match topic {
        Topic::Procedure => &[(Hcpcs, 45), (Cpt, 40), (Icd10pcs, 15)],
        Topic::Drug => &[(Hcpcs, 85), (Cpt, 15)],
        Topic::GeneticTest => &[(Hcpcs, 35), (Cpt, 65)],
        Topic::Imaging => &[(Hcpcs, 40), (Cpt, 60)],
        Topic::Device => &[(Hcpcs, 70), (Cpt, 25), (Icd10pcs, 5)],
        Topic::Therapy => &[(Hcpcs, 50), (Cpt, 50)],
    };
    weighted(rng, table)
}

fn status_phrase(status: CoverageStatus) -> &'static str {
    match status {
        CoverageStatus::Covered => "covered",
        CoverageStatus::MedicallyNecessary => "medically necessary when the criteria above are met",
        CoverageStatus::Investigational => "investigational",
        CoverageStatus::NotMedicallyNecessary => "not medically necessary",
        CoverageStatus::NotCovered => "not covered",
    }
}

/// The code tables and their ids.
///
/// A table's status is the status of the first statement that governs it; a
/// table without a status names exactly the products its statements cover,
/// so that no product falls through to "no coverage statement".
fn code_lists(
    rng: &mut Rng,
    plan: &PayerPlan,
    outline: &Outline,
    drafts: &[Draft],
    count: usize,
    codes: &mut CodeSource<'_>,
) -> (Vec<CodeList>, Vec<String>) {
    let mut taken = Vec::with_capacity(count);
    let mut lists = Vec::with_capacity(count);
    for li in 0..count {
        let governing: Vec<&Draft> = drafts
            .iter()
            .filter(|d| d.list.is_none_or(|l| l == li))
            .collect();
        let status = match governing.first() {
            None => Some(weighted(rng, STATUSES)),
            Some(_) if chance(rng, 0.15) => None,
            Some(d) => Some(d.status),
        };
        let mut products: Vec<String> = Vec::new();
        for d in &governing {
            for p in &plan.audiences[d.audience].products {
                if !products.contains(p) {
                    products.push(p.clone());
                }
            }
        }
        if products.is_empty() {
            products = plan.audiences[drafts[0].audience].products.clone();
        }
        // As in the BCBSMA documents, a table with a status may extend to
        // Medicare Advantage members, whose coverage the notes point elsewhere for.
        let medicare = "medicare-advantage";
        if status.is_some()
            && chance(rng, 0.3)
            && !products.iter().any(|p| p == medicare || p == "all")
        {
            products.push(medicare.to_string());
        }

        let system = list_system(rng, outline.topic);
        let (slug, label, heading) = match system {
            CodeSystem::Hcpcs => ("hcpcs", "HCPCS", "HCPCS Codes"),
            CodeSystem::Cpt => ("cpt", "CPT", "CPT Codes"),
            _ => ("icd10pcs", "ICD-10-PCS", "ICD-10 Procedure Codes"),
        };
        let id = unique_id(
            &mut taken,
            format!("{slug}-{}", status.map_or("codes", CoverageStatus::id)),
        );
        let size = dist::pareto(rng, 1.1, 200);
        let entries: Vec<CodeEntry> = codes
            .list(rng, Family::for_topic(outline.topic, system), size)
            .into_iter()
            .map(|l| CodeEntry {
                code: l.code.as_str().to_string(),
                description: l.description,
            })
            .collect();
        let plural = entries.len() != 1;
        let statement = match status {
            Some(s) => {
                let who: Vec<&str> = products.iter().map(|p| plan.label_of(p)).collect();
                format!(
                    "The following {label} {} considered {} for **{}:**",
                    if plural { "codes are" } else { "code is" },
                    status_phrase(s),
                    who.join(", ")
                )
            }
            None => format!(
                "The following {label} {} included below for informational purposes only; this is not an all-inclusive list.",
                if plural { "codes are" } else { "code is" }
            ),
        };
        lists.push(CodeList {
            id,
            heading: Some(heading.to_string()),
            system,
            statement: Some(statement),
            products,
            status,
            columns: vec![format!("{label} codes:"), "Code Description".to_string()],
            codes: entries,
        });
    }
    (lists, taken)
}

fn pa_text(requirement: PaRequirement) -> &'static str {
    match requirement {
        PaRequirement::Required => "Prior authorization is **required**.",
        PaRequirement::NotRequired => "Prior authorization is **not required**.",
        PaRequirement::MayBeRequired => {
            "Prior authorization **may be required**; see the plan's prior authorization program for the applicable requirements."
        }
        PaRequirement::NotCovered => "This is not a covered service.",
    }
}

/// An inpatient rule (precertification is usually required) and an outpatient
/// table by product group, whose answers follow the statements for the group:
/// what is not covered cannot be authorized, criteria are checked by
/// authorization, covered services seldom need it.
fn prior_auth(rng: &mut Rng, plan: &PayerPlan, drafts: &[Draft]) -> Vec<PriorAuthRule> {
    use PaRequirement::*;
    let inpatient = weighted(
        rng,
        &[(Required, 85), (NotRequired, 10), (MayBeRequired, 5)],
    );
    let inpatient_text = match inpatient {
        Required => "For services described in this policy, precertification/preauthorization **IS REQUIRED** for all products if the procedure is performed **inpatient**.",
        NotRequired => "For services described in this policy, precertification/preauthorization is **not required** if the procedure is performed **inpatient**.",
        _ => "For services described in this policy, precertification/preauthorization **may be required** if the procedure is performed **inpatient**.",
    };

    let mut kinds = vec![AudienceKind::ManagedCare, AudienceKind::PpoIndemnity];
    if chance(rng, 0.5) {
        kinds.push(AudienceKind::MedicareAdvantage);
    }
    if chance(rng, 0.6) {
        kinds.push(AudienceKind::Medicaid);
    }
    if chance(rng, 0.5) {
        kinds.push(AudienceKind::Exchange);
    }
    let rows = kinds
        .into_iter()
        .filter_map(|k| plan.audience(k))
        .map(|a| {
            let status = drafts
                .iter()
                .find(|d| plan.audiences[d.audience].set.0 & a.set.0 != 0)
                .map(|d| d.status);
            let table: &[(PaRequirement, u32)] = match status {
                Some(
                    CoverageStatus::Investigational
                    | CoverageStatus::NotMedicallyNecessary
                    | CoverageStatus::NotCovered,
                ) => &[(NotCovered, 75), (Required, 15), (MayBeRequired, 10)],
                Some(CoverageStatus::MedicallyNecessary) => {
                    &[(Required, 70), (MayBeRequired, 25), (NotRequired, 5)]
                }
                Some(CoverageStatus::Covered) => {
                    &[(NotRequired, 65), (MayBeRequired, 20), (Required, 15)]
                }
                None => &[(MayBeRequired, 50), (NotRequired, 40), (Required, 10)],
            };
            let requirement = weighted(rng, table);
            PriorAuthRow {
                label: a.label.clone(),
                products: a.products.clone(),
                requirement,
                text: pa_text(requirement).to_string(),
            }
        })
        .collect();
    let outpatient_default = chance(rng, 0.2).then_some(NotRequired);
    vec![
        PriorAuthRule {
            setting: Setting::Inpatient,
            heading: Some("Inpatient".to_string()),
            text: inpatient_text.to_string(),
            requirement: Some(inpatient),
            rows: Vec::new(),
        },
        PriorAuthRule {
            setting: Setting::Outpatient,
            heading: Some("Outpatient".to_string()),
            text: format!(
                "For services described in this policy, see below for products where prior authorization **might be required** if the procedure is performed **outpatient**.{}",
                if outpatient_default.is_some() { " Prior authorization is not required for other products." } else { "" }
            ),
            requirement: outpatient_default,
            rows,
        },
    ]
}

/// The contract-benefits disclaimer on every policy, coding guidance on many,
/// and on some a Medicare note pointing Medicare Advantage members elsewhere.
fn notes(rng: &mut Rng, medicare: bool, cms_reference: Option<u32>) -> Vec<Note> {
    let note = |kind, section: &str, text: &str| Note {
        kind,
        section: Some(section.to_string()),
        products: Vec::new(),
        text: text.to_string(),
        see_policy: None,
        see_ncd: None,
        see_references: Vec::new(),
    };
    let mut out = vec![note(
        NoteKind::ContractBenefits,
        "coding",
        "Inclusion or exclusion of a code does not constitute or imply member coverage or provider reimbursement. Please refer to the member's contract benefits in effect at the time of service to determine coverage or non-coverage as it applies to an individual member.",
    )];
    if chance(rng, 0.6) {
        out.push(note(
            NoteKind::Coding,
            "coding",
            "Providers should report all services using the most up-to-date industry-standard procedure, revenue, and diagnosis codes, including modifiers where applicable.",
        ));
        out.push(note(
            NoteKind::Coding,
            "coding",
            "The following codes are included below for informational purposes only; this is not an all-inclusive list.",
        ));
    }
    if medicare {
        let text = if chance(rng, 0.5) {
            "Medicare information removed. See the Medicare Advantage Management policy for local coverage determination and national coverage determination reference."
        } else {
            "For Medicare Advantage members, coverage is determined by the applicable national coverage determination (NCD) or local coverage determination (LCD)."
        };
        out.push(Note {
            products: vec!["medicare-advantage".to_string()],
            see_ncd: chance(rng, 0.5).then(|| format!("{}.{}", rng.u32(20..=310), rng.u32(1..=9))),
            see_references: cms_reference.into_iter().collect(),
            ..note(NoteKind::Medicare, "history", text)
        });
    }
    out
}

/// Months since year 0, to do month arithmetic on history dates.
fn month_index(year: i32, month: u32) -> i32 {
    year * 12 + month as i32 - 1
}

fn month_text(index: i32) -> String {
    format!("{}/{}", index.rem_euclid(12) + 1, index.div_euclid(12))
}

/// 3–15 rows, newest first as published: the row that records the effective
/// date (M/D/YYYY), then reviews in later months up to the horizon, some
/// dated to the day, occasionally one spanning months (M/YYYY-M/YYYY).
fn history(
    rng: &mut Rng,
    effective: NaiveDate,
    number: &str,
    first_status: CoverageStatus,
) -> Vec<HistoryEntry> {
    let start = month_index(effective.year(), effective.month());
    let horizon = month_index(HORIZON_YEAR, HORIZON_MONTH);
    let count = rng.usize(3..=15);
    let mut months: Vec<i32> = (1..count).map(|_| rng.i32(start + 1..=horizon)).collect();
    months.sort_unstable();
    let range_at = chance(rng, 0.15).then(|| rng.usize(..months.len().max(1)));

    let mut rows: Vec<(String, String)> = Vec::with_capacity(count);
    for (i, &m) in months.iter().enumerate() {
        let (date, action) = if range_at == Some(i) && m < horizon {
            let end = (m + rng.i32(1..=6)).min(horizon);
            (
                format!("{}-{}", month_text(m), month_text(end)),
                "Medical policy ICD 10 remediation: Formatting, editing and coding updates. No changes to policy statements.".to_string(),
            )
        } else {
            let date = if chance(rng, 0.2) {
                format!(
                    "{}/{}/{}",
                    m.rem_euclid(12) + 1,
                    rng.u32(1..=28),
                    m.div_euclid(12)
                )
            } else {
                month_text(m)
            };
            let action = if i == 0 && chance(rng, 0.5) {
                format!(
                    "Reviewed - Medical Policy Group – {}. No changes to policy statements.",
                    pick(rng, vocab::SPECIALTIES)
                )
            } else {
                pick(rng, vocab::REVIEW_ACTIONS).to_string()
            };
            (date, action)
        };
        rows.push((date, action));
    }
    rows.reverse();
    let effective_text = format!(
        "{}/{}/{}",
        effective.month(),
        effective.day(),
        effective.year()
    );
    let describing = match first_status {
        CoverageStatus::MedicallyNecessary => "coverage with criteria",
        CoverageStatus::Covered => "coverage",
        _ => "ongoing non-coverage",
    };
    rows.push((
        effective_text.clone(),
        format!("Medical Policy {number} effective {effective_text} describing {describing}."),
    ));
    rows.into_iter()
        .filter_map(|(date, action)| {
            // The texts above are valid history dates by construction.
            let date: HistoryDate = date.parse().ok()?;
            Some(HistoryEntry { date, action })
        })
        .collect()
}

/// 5–40 references: journal articles first, then a few web documents
/// (guidelines, a CMS coverage determination), numbered 1..n in order.
/// Returns the number of the CMS reference when one was asked for.
fn references(
    rng: &mut Rng,
    title: &str,
    indication: Option<usize>,
    effective: NaiveDate,
    last_year: i32,
    cms: bool,
) -> (Vec<Reference>, Option<u32>) {
    let total = dist::triangular(rng, 5, 40);
    let mut web = weighted(rng, &[(0usize, 40), (1, 35), (2, 20), (3, 5)]);
    if cms {
        web = web.max(1);
    }
    let articles = total - web;
    let ind = indication.map(|i| &INDICATIONS[i]);
    let first_year = (effective.year() - 12).min(last_year);
    let mut out = Vec::with_capacity(total);
    for _ in 0..articles {
        let year = rng.i32(first_year..=last_year);
        let date = match rng.usize(..3) {
            0 => format!("{} {:02} {year}", pick(rng, vocab::MONTHS), rng.u32(1..=28)),
            1 => format!("{} {year}", pick(rng, vocab::MONTHS)),
            _ => year.to_string(),
        };
        let volume = rng.u32(1..=120);
        let locator = if chance(rng, 0.7) {
            let first = rng.u32(1..=2000);
            format!(
                "{volume}({}): {first}-{}",
                rng.u32(1..=12),
                first + rng.u32(3..=20)
            )
        } else {
            format!("{volume}: e{}", rng.u32(1000..=99999))
        };
        let study = match ind {
            Some(ind) => pick(rng, vocab::STUDY_TITLES).replace("{ind}", ind.name),
            None => pick(rng, vocab::GENERAL_STUDY_TITLES).to_string(),
        }
        .replace("{t}", title)
        .replace("{cmp}", pick(rng, vocab::COMPARATORS));
        out.push(Reference {
            number: 0,
            authors: vocab::authors(rng),
            title: study,
            journal: Some(pick(rng, vocab::JOURNALS).to_string()),
            date: Some(date),
            locator: Some(locator),
            pmid: chance(rng, 0.95).then(|| rng.u32(1_000_000..=39_999_999).to_string()),
            url: None,
            accessed: None,
        });
    }
    let horizon =
        NaiveDate::from_ymd_opt(HORIZON_YEAR, HORIZON_MONTH, 28).expect("a valid constant date");
    let span = (horizon - effective).num_days().max(0) as u64;
    let mut cms_number = None;
    for w in 0..web {
        let (org, template, url) = if cms && w == 0 {
            cms_number = Some((out.len() + 1) as u32);
            vocab::CMS_SOURCE
        } else {
            pick(rng, vocab::WEB_SOURCES)
        };
        let ncd = format!("{}.{}", rng.u32(20..=310), rng.u32(1..=9));
        out.push(Reference {
            number: 0,
            authors: org.to_string(),
            title: template
                .replace("{t}", title)
                .replace("{ind}", ind.map_or(title, |i| i.title))
                .replace("{ncd}", &ncd),
            journal: None,
            date: Some(rng.i32(first_year..=last_year).to_string()),
            locator: None,
            pmid: None,
            url: Some(url.replace("{n}", &rng.u32(10..=9999).to_string())),
            accessed: effective.checked_add_days(Days::new(rng.u64(0..=span))),
        });
    }
    for (i, r) in out.iter_mut().enumerate() {
        r.number = (i + 1) as u32;
    }
    (out, cms_number)
}

/// Other policies of the same payer (so they always resolve), 0–3 of them.
fn related(rng: &mut Rng, outlines: &[Outline], index: usize) -> Vec<RelatedPolicy> {
    if outlines.len() < 2 {
        return Vec::new();
    }
    let want = weighted(rng, &[(0usize, 35), (1, 35), (2, 20), (3, 10)]).min(outlines.len() - 1);
    let mut picked: Vec<usize> = Vec::with_capacity(want);
    // Rejection sampling: the payer has at least one other policy, and a few
    // misses only shorten the list.
    for _ in 0..want * 8 {
        if picked.len() == want {
            break;
        }
        let other = rng.usize(..outlines.len());
        if other != index && !picked.contains(&other) {
            picked.push(other);
        }
    }
    picked
        .into_iter()
        .map(|i| RelatedPolicy {
            number: (i + 1).to_string(),
            title: outlines[i].title.clone(),
        })
        .collect()
}

/// The national association's policy number, as BCBS plans print it.
fn external_references(rng: &mut Rng) -> Vec<ExternalReference> {
    if !chance(rng, 0.7) {
        return Vec::new();
    }
    vec![ExternalReference {
        organization: "BCBSA".to_string(),
        number: format!(
            "{}.{:02}.{:02}",
            rng.u32(1..=9),
            rng.u32(1..=12),
            rng.u32(1..=99)
        ),
        note: Some("For Plans internal use only".to_string()),
    }]
}

fn description(rng: &mut Rng, title: &str, topic: Topic, payer: &str) -> String {
    let first = match topic {
        Topic::Procedure => format!(
            "{title} is a procedure intended to {}. It is typically performed in {} and is offered when conservative treatment has failed.",
            pick(rng, vocab::GOALS),
            pick(rng, vocab::SETTINGS)
        ),
        Topic::Drug => format!(
            "{title} is a pharmacologic therapy administered by {} to {}. Dosing and frequency depend on the indication and the patient's weight.",
            pick(rng, &["intravenous infusion", "subcutaneous injection", "intravitreal injection", "intramuscular injection"]),
            pick(rng, vocab::GOALS)
        ),
        Topic::GeneticTest => format!(
            "{title} analyzes germline or somatic variants to establish or confirm a diagnosis, estimate risk, or guide therapy. Testing may use single-gene analysis, multigene panels, or next-generation sequencing, and is usually ordered with genetic counseling."
        ),
        Topic::Imaging => format!(
            "{title} is a noninvasive imaging technique used to detect, characterize, or monitor disease and to {}.",
            pick(rng, &["guide treatment decisions", "select patients for intervention", "avoid invasive diagnostic procedures"])
        ),
        Topic::Device => format!(
            "{title} comprises devices prescribed to {}. Devices are supplied through durable medical equipment providers and require periodic replacement.",
            pick(rng, vocab::GOALS)
        ),
        Topic::Therapy => format!(
            "{title} is a therapeutic service intended to {}. It is delivered in {} over a course of sessions.",
            pick(rng, vocab::GOALS),
            pick(rng, vocab::SETTINGS)
        ),
    };
    format!(
        "{first}\n\nThe evidence for {title} continues to evolve. This policy describes the criteria {payer} applies and is reviewed at least annually."
    )
}

fn summary(rng: &mut Rng, title: &str, main: Option<usize>, indications: &[usize]) -> String {
    let who = |i: Option<usize>| match i {
        Some(i) => format!(
            "For individuals who have {} who receive {title}",
            INDICATIONS[i].name
        ),
        None => format!("For individuals who are candidates for {title}"),
    };
    let mut paragraphs = vec![format!(
        "{}, the evidence includes {}. Relevant outcomes are {}. {}",
        who(main),
        pick(rng, vocab::EVIDENCE),
        pick(rng, vocab::OUTCOMES),
        pick(rng, vocab::CONCLUSIONS)
    )];
    // A second evidence paragraph for another indication of the subject.
    if let Some(&other) = indications.iter().find(|&&i| Some(i) != main) {
        if chance(rng, 0.6) {
            paragraphs.push(format!(
                "{}, the evidence includes {}. {}",
                who(Some(other)),
                pick(rng, vocab::EVIDENCE),
                pick(rng, vocab::CONCLUSIONS)
            ));
        }
    }
    paragraphs.join("\n\n")
}

fn all_policies(payer: &str) -> AllPoliciesInfo {
    let link = |label: &str, kind| Link {
        label: label.to_string(),
        url: None,
        kind,
    };
    AllPoliciesInfo {
        heading: format!("Information Pertaining to All {payer} Medical Policies"),
        intro: Some(
            "Click on any of the following terms to access the relevant information:".to_string(),
        ),
        links: vec![
            link("Medical Policy Terms of Use", None),
            link("Managed Care Guidelines", None),
            link("Indemnity/PPO Guidelines", None),
            link(
                "Clinical Exception Process",
                Some(LinkKind::ClinicalException),
            ),
            link("Medical Technology Assessment Guidelines", None),
        ],
    }
}
