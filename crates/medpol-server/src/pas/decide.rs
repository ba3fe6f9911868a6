//! Deciding one requested item from the policies (pure): what the policies
//! in effect on the date of service say, and what the payer allows to be
//! decided without a reviewer.
//!
//! - no policy requires prior authorization: answered so at once (`NA`);
//! - covered, authorization required, nothing to judge: certified;
//! - covered on medical-necessity criteria: certified when the DTR
//!   questionnaire answers every criterion the way the policy needs, else
//!   pended (asking for the questionnaire when it is missing);
//! - not covered (investigational, not medically necessary, excluded):
//!   pended with the recommended denial and its citation, unless the payer
//!   allows automatic denial for that reason (never for medical necessity);
//! - anything else that needs judgment (an indication to settle, a
//!   modifier not understood, a setting not given where it matters): pended.

use std::collections::{BTreeSet, HashMap};

use medpol_core::determination::{CriteriaSet, CriterionNode, LineDetermination};
use medpol_core::model::Combine;
use medpol_core::{Coverage, PriorAuth, Reason};

use super::bundle::PaItem;
use super::model::{CitationRef, ItemState, ItemStatus, Recommendation};

/// The coverage reasons a payer may let medpol deny without a reviewer.
/// Medical necessity is never among them (CMS-0057-F: a denial for medical
/// necessity is a clinician's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AutoDeny(pub BTreeSet<Reason>);

impl AutoDeny {
    /// Parses `--pa-auto-deny investigational,excluded`.
    pub fn parse(list: &str) -> Result<AutoDeny, String> {
        let mut out = BTreeSet::new();
        for word in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            match word {
                "investigational" => out.insert(Reason::Investigational),
                "excluded" => out.insert(Reason::Excluded),
                "not-medically-necessary" | "medical-necessity-criteria" => {
                    return Err(format!(
                        "`{word}` cannot be denied automatically: a denial for medical necessity is a reviewer's (CMS-0057-F); allowed: investigational, excluded"
                    ))
                }
                other => {
                    return Err(format!(
                        "`{}` is not a reason medpol can deny automatically; allowed: investigational, excluded",
                        medpol_core::excerpt(other)
                    ))
                }
            };
        }
        Ok(AutoDeny(out))
    }
}

/// How a statement's criteria stand against the answers given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CriteriaAnswer {
    Met,
    NotMet,
    /// Some criterion that decides the outcome has no answer.
    Missing,
}

fn eval_node(
    node: &CriterionNode,
    prefix: &str,
    answers: &HashMap<String, bool>,
) -> CriteriaAnswer {
    let link = if prefix.is_empty() {
        node.id.clone()
    } else {
        format!("{prefix}.{}", node.id)
    };
    if node.criteria.is_empty() {
        return match answers.get(&link) {
            Some(true) => CriteriaAnswer::Met,
            Some(false) => CriteriaAnswer::NotMet,
            None => CriteriaAnswer::Missing,
        };
    }
    combine(
        node.combine.unwrap_or(Combine::AllOf),
        node.criteria.iter().map(|c| eval_node(c, &link, answers)),
    )
}

fn combine(how: Combine, parts: impl Iterator<Item = CriteriaAnswer>) -> CriteriaAnswer {
    let parts: Vec<CriteriaAnswer> = parts.collect();
    match how {
        Combine::AllOf if parts.contains(&CriteriaAnswer::NotMet) => CriteriaAnswer::NotMet,
        Combine::AllOf if parts.contains(&CriteriaAnswer::Missing) => CriteriaAnswer::Missing,
        Combine::AllOf => CriteriaAnswer::Met,
        Combine::AnyOf if parts.contains(&CriteriaAnswer::Met) => CriteriaAnswer::Met,
        Combine::AnyOf if parts.contains(&CriteriaAnswer::Missing) => CriteriaAnswer::Missing,
        Combine::AnyOf => CriteriaAnswer::NotMet,
    }
}

/// Evaluates a statement's criteria against a questionnaire's answers
/// (linkIds as the DTR questionnaire numbers them: `1`, `2.1`...).
pub fn evaluate(set: &CriteriaSet, answers: &HashMap<String, bool>) -> CriteriaAnswer {
    combine(
        set.combine,
        set.criteria.iter().map(|c| eval_node(c, "", answers)),
    )
}

/// What the caller knows beside the determination.
pub struct ItemContext<'a> {
    /// Answers by questionnaire id.
    pub answers: &'a HashMap<String, HashMap<String, bool>>,
    pub auto_deny: &'a AutoDeny,
    /// The questionnaire id and canonical of a criteria set.
    pub questionnaire: &'a dyn Fn(&CriteriaSet) -> (String, String),
}

fn citations(line: &LineDetermination) -> Vec<CitationRef> {
    line.citations
        .iter()
        .map(|c| CitationRef {
            policy: c.policy.to_string(),
            version: c.version.to_string(),
            path: c.path.to_string(),
            text: c.text.to_string(),
        })
        .collect()
}

fn clinical_exception(line: &LineDetermination) -> Option<String> {
    line.notes
        .iter()
        .find(|n| n.kind == medpol_core::determination::DeterminationNoteKind::ClinicalException)
        .map(|n| n.text.to_string())
}

fn state(item: &PaItem, status: ItemStatus, rec: Recommendation) -> ItemState {
    ItemState {
        sequence: item.sequence,
        trace: item.trace.clone(),
        code: item.coding.clone(),
        status,
        recommendation: rec,
        auth_number: None,
        period: None,
        reason: None,
        reason_code: None,
        authorized: None,
        questionnaires: Vec::new(),
    }
}

fn policies_named(line: &LineDetermination) -> String {
    line.policies
        .iter()
        .map(|p| {
            format!(
                "{} medical policy {} (version {})",
                p.payer.to_uppercase(),
                p.number,
                p.version
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Decides one item. `lines` holds the determination for each setting the
/// item may be in: one when the request says, both (inpatient, outpatient)
/// when it does not; they must agree for an automatic answer.
pub fn decide_item(item: &PaItem, lines: &[LineDetermination], cx: &ItemContext) -> ItemState {
    let review = |reason: String, line: Option<&LineDetermination>| Recommendation {
        action: "review".into(),
        reason,
        citations: line.map(citations).unwrap_or_default(),
        coverage_reason: None,
        clinical_exception: line.and_then(clinical_exception),
    };
    let Some(first) = lines.first().filter(|_| item.code.is_some()) else {
        return state(
            item,
            ItemStatus::NoAuthRequired,
            Recommendation {
                action: "certify".into(),
                reason: format!(
                    "No medical policy requires prior authorization for {}: medical policies are keyed by HCPCS, CPT and ICD-10-PCS codes.",
                    item.coding
                ),
                citations: vec![],
                coverage_reason: None,
                clinical_exception: None,
            },
        );
    };
    let disagree = lines
        .iter()
        .any(|l| l.coverage != first.coverage || l.prior_auth != first.prior_auth);
    if disagree {
        return state(
            item,
            ItemStatus::Pended,
            review(
                format!(
                    "{}: the answer differs between inpatient and outpatient and the request gives no place of service; a reviewer decides.",
                    policies_named(first)
                ),
                Some(first),
            ),
        );
    }
    // Covered, or covered on criteria checked with the claim: the policy
    // asks for no authorization in this setting.
    if first.coverage == Coverage::NoPolicy
        || (first.coverage != Coverage::NotCovered && first.prior_auth == PriorAuth::NoAuth)
    {
        return state(
            item,
            ItemStatus::NoAuthRequired,
            Recommendation {
                action: "certify".into(),
                reason: if first.coverage == Coverage::NoPolicy {
                    "No medical policy in effect on the date of service requires prior authorization for this code and product.".into()
                } else {
                    format!(
                        "{} does not require prior authorization for this service in this setting{}.",
                        policies_named(first),
                        if first.coverage == Coverage::Conditional { " (coverage rests on criteria checked with the claim)" } else { "" }
                    )
                },
                citations: citations(first),
                coverage_reason: None,
                clinical_exception: None,
            },
        );
    }
    if !item.unread_modifiers.is_empty() {
        return state(
            item,
            ItemStatus::Pended,
            review(
                format!(
                    "Modifier(s) {} are not CPT/HCPCS modifiers medpol can apply; a reviewer decides.",
                    item.unread_modifiers.join(", ")
                ),
                Some(first),
            ),
        );
    }
    match first.coverage {
        Coverage::NotCovered => {
            let reason = first
                .reasons
                .iter()
                .copied()
                .find(|r| {
                    matches!(
                        r,
                        Reason::Investigational | Reason::NotMedicallyNecessary | Reason::Excluded
                    )
                })
                .unwrap_or(Reason::NotMedicallyNecessary);
            let words = match reason {
                Reason::Investigational => "investigational",
                Reason::Excluded => "excluded from coverage",
                _ => "not medically necessary",
            };
            let rec = Recommendation {
                action: "deny".into(),
                reason: format!(
                    "{} considers this service {words} for the member's product.",
                    policies_named(first)
                ),
                citations: citations(first),
                coverage_reason: Some(reason.id().into()),
                clinical_exception: clinical_exception(first),
            };
            let status = if cx.auto_deny.0.contains(&reason) {
                ItemStatus::NotCertified
            } else {
                ItemStatus::Pended
            };
            let mut s = state(item, status, rec);
            if status == ItemStatus::NotCertified {
                s.reason = Some(s.recommendation.reason.clone());
            }
            s
        }
        Coverage::Covered => state(
            item,
            if first.prior_auth == PriorAuth::AuthNeeded {
                ItemStatus::Certified
            } else {
                ItemStatus::Pended
            },
            if first.prior_auth == PriorAuth::AuthNeeded {
                Recommendation {
                    action: "certify".into(),
                    reason: format!(
                        "{} covers this service; prior authorization is required and granted.",
                        policies_named(first)
                    ),
                    citations: citations(first),
                    coverage_reason: None,
                    clinical_exception: None,
                }
            } else {
                review(
                    format!(
                        "{} says prior authorization may be required; a reviewer decides.",
                        policies_named(first)
                    ),
                    Some(first),
                )
            },
        ),
        Coverage::Conditional
            if first.reasons.contains(&Reason::MedicalNecessityCriteria)
                && !first.criteria.is_empty() =>
        {
            let mut missing = Vec::new();
            let mut not_met = false;
            for set in &first.criteria {
                let (id, canonical) = (cx.questionnaire)(set);
                let answer = cx
                    .answers
                    .get(&id)
                    .map_or(CriteriaAnswer::Missing, |a| evaluate(set, a));
                match answer {
                    CriteriaAnswer::Met => {}
                    CriteriaAnswer::NotMet => not_met = true,
                    CriteriaAnswer::Missing => missing.push(canonical),
                }
            }
            let rec = |action: &str, reason: String| Recommendation {
                action: action.into(),
                reason,
                citations: citations(first),
                coverage_reason: Some(Reason::MedicalNecessityCriteria.id().into()),
                clinical_exception: clinical_exception(first),
            };
            if !not_met && missing.is_empty() {
                state(
                    item,
                    ItemStatus::Certified,
                    rec(
                        "certify",
                        format!(
                            "Every medical-necessity criterion of {} is answered met.",
                            policies_named(first)
                        ),
                    ),
                )
            } else {
                let why = if not_met {
                    format!("The answers do not meet the medical-necessity criteria of {}; a reviewer decides (never an automatic denial for medical necessity).", policies_named(first))
                } else {
                    format!(
                        "Documentation needed: answer the questionnaire of {} (DTR).",
                        policies_named(first)
                    )
                };
                let mut s = state(item, ItemStatus::Pended, rec("review", why));
                s.questionnaires = missing;
                s
            }
        }
        _ => state(
            item,
            ItemStatus::Pended,
            review(
                if first.reasons.contains(&Reason::DependsOnIndication) {
                    format!("Coverage under {} depends on the indication and the diagnoses given do not settle it; a reviewer decides.", policies_named(first))
                } else {
                    format!(
                        "{} needs a reviewer's judgment for this service.",
                        policies_named(first)
                    )
                },
                Some(first),
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(id: &str) -> CriterionNode {
        CriterionNode {
            id: id.into(),
            text: id.into(),
            combine: None,
            criteria: vec![],
        }
    }

    fn answers(pairs: &[(&str, bool)]) -> HashMap<String, bool> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn criteria_combine_all_of_and_any_of_with_missing_answers() {
        let group = CriterionNode {
            id: "2".into(),
            text: "one of".into(),
            combine: Some(Combine::AnyOf),
            criteria: vec![leaf("1"), leaf("2")],
        };
        let nodes = vec![leaf("1"), group];
        let set = CriteriaSet {
            policy: "p/1",
            version: "1",
            path: "statement/s",
            indication: None,
            combine: Combine::AllOf,
            criteria: &nodes,
        };
        assert_eq!(evaluate(&set, &answers(&[])), CriteriaAnswer::Missing);
        assert_eq!(
            evaluate(&set, &answers(&[("1", true), ("2.2", true)])),
            CriteriaAnswer::Met
        );
        assert_eq!(
            evaluate(&set, &answers(&[("1", true), ("2.1", false)])),
            CriteriaAnswer::Missing
        );
        assert_eq!(
            evaluate(
                &set,
                &answers(&[("1", true), ("2.1", false), ("2.2", false)])
            ),
            CriteriaAnswer::NotMet
        );
        assert_eq!(
            evaluate(&set, &answers(&[("1", false)])),
            CriteriaAnswer::NotMet
        );
    }

    #[test]
    fn medical_necessity_is_never_denied_automatically() {
        assert!(AutoDeny::parse("investigational, excluded").is_ok());
        assert!(AutoDeny::parse("not-medically-necessary")
            .unwrap_err()
            .contains("reviewer"));
        assert!(AutoDeny::parse("everything").is_err());
        assert_eq!(AutoDeny::parse("").unwrap(), AutoDeny::default());
    }
}
