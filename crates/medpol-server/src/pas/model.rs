//! The prior-authorization request as medpol keeps it: items with their
//! review action, the policy's recommendation and citation, and the clock.
//! Pure: no I/O; the handlers read and write it through the store.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// How fast a request must be decided (CMS-0057-F): 72 hours when
/// expedited (Claim.priority `stat`), 7 calendar days when standard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Priority {
    Standard,
    Expedited,
}

impl Priority {
    pub fn id(self) -> &'static str {
        match self {
            Priority::Standard => "standard",
            Priority::Expedited => "expedited",
        }
    }

    pub fn parse(s: &str) -> Option<Priority> {
        match s {
            "standard" => Some(Priority::Standard),
            "expedited" => Some(Priority::Expedited),
            _ => None,
        }
    }

    /// The time allowed from receipt to decision.
    pub fn allowed(self) -> Duration {
        match self {
            Priority::Standard => Duration::days(7),
            Priority::Expedited => Duration::hours(72),
        }
    }
}

/// What a review is: the first, an appeal of a denial, or a clinical
/// exception to the policy; each has its own clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReviewKind {
    Initial,
    Appeal,
    ClinicalException,
}

impl ReviewKind {
    pub fn id(self) -> &'static str {
        match self {
            ReviewKind::Initial => "initial",
            ReviewKind::Appeal => "appeal",
            ReviewKind::ClinicalException => "clinical-exception",
        }
    }

    pub fn parse(s: &str) -> Option<ReviewKind> {
        match s {
            "initial" => Some(ReviewKind::Initial),
            "appeal" => Some(ReviewKind::Appeal),
            "clinical-exception" => Some(ReviewKind::ClinicalException),
            _ => None,
        }
    }
}

/// An item's review action, as X12 278 HCR01 (code list 306) names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ItemStatus {
    /// No policy requires prior authorization for the item (`NA`).
    NoAuthRequired,
    /// Certified in total (`A1`).
    Certified,
    /// Not certified: denied (`A3`).
    NotCertified,
    /// Pended for review (`A4`).
    Pended,
    /// Certified with changes (`A6`).
    Modified,
    /// Cancelled by the requester (`C`).
    Cancelled,
}

impl ItemStatus {
    pub fn x12(self) -> (&'static str, &'static str) {
        match self {
            ItemStatus::NoAuthRequired => ("NA", "No Action Required"),
            ItemStatus::Certified => ("A1", "Certified in total"),
            ItemStatus::NotCertified => ("A3", "Not Certified"),
            ItemStatus::Pended => ("A4", "Pended"),
            ItemStatus::Modified => ("A6", "Modified"),
            ItemStatus::Cancelled => ("C", "Cancelled"),
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            ItemStatus::NoAuthRequired => "no-auth-required",
            ItemStatus::Certified => "certified",
            ItemStatus::NotCertified => "not-certified",
            ItemStatus::Pended => "pended",
            ItemStatus::Modified => "modified",
            ItemStatus::Cancelled => "cancelled",
        }
    }
}

/// What the policies say about an item, for the response and the reviewer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recommendation {
    /// `certify`, `deny` or `review` (a reviewer must judge).
    pub action: String,
    /// Why, in words a requester can act on.
    pub reason: String,
    /// `payer/number`, version and statement path of each policy cited.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub citations: Vec<CitationRef>,
    /// The coverage reason (`investigational`, `medical-necessity-criteria`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage_reason: Option<String>,
    /// The clinical exception process, from the policy's notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clinical_exception: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CitationRef {
    pub policy: String,
    pub version: String,
    pub path: String,
    pub text: String,
}

/// One requested item and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemState {
    /// Claim.item.sequence, echoed in the response.
    pub sequence: u32,
    /// extension-itemTraceNumber (system|value), echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<(String, String)>,
    /// The requested code as `system|code` (FHIR system URL).
    pub code: String,
    pub status: ItemStatus,
    pub recommendation: Recommendation,
    /// The preauthorization number, when certified or modified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_number: Option<String>,
    /// The preauthorization period, when certified or modified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<(NaiveDate, NaiveDate)>,
    /// The reviewer's reason (required for deny and modify) and, when the
    /// reviewer gives one, its X12 886 reason code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
    /// What was authorized instead, when modified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorized: Option<String>,
    /// Questionnaires (canonical `url|version`) whose answers are missing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub questionnaires: Vec<String>,
}

/// A request's state after an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestState {
    pub items: Vec<ItemState>,
    pub due_at: DateTime<Utc>,
    /// Whether the time frame was extended (it may be, once).
    #[serde(default)]
    pub extended: bool,
    /// When the request was first left with no pended item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<DateTime<Utc>>,
    /// Appeals and clinical exceptions opened on this request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reviews: Vec<String>,
}

impl RequestState {
    /// `pended` while any item waits for a reviewer, else `complete`.
    pub fn status(&self) -> &'static str {
        if self.items.iter().any(|i| i.status == ItemStatus::Pended) {
            "pended"
        } else {
            "complete"
        }
    }

    /// Marks the first time the request stands decided.
    pub fn settle(&mut self, now: DateTime<Utc>) {
        if self.decided_at.is_none() && self.status() == "complete" {
            self.decided_at = Some(now);
        }
    }

    pub fn outcome(&self) -> Outcome {
        Outcome::of(&self.items)
    }
}

/// How a decided request counts in the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every item certified, modified or needing no authorization.
    Approved,
    /// At least one item not certified (a partial denial counts here).
    Denied,
    /// Every item cancelled before a decision.
    Withdrawn,
    Pending,
}

impl Outcome {
    pub fn of(items: &[ItemState]) -> Outcome {
        if items.iter().any(|i| i.status == ItemStatus::Pended) {
            return Outcome::Pending;
        }
        if items.iter().all(|i| i.status == ItemStatus::Cancelled) {
            return Outcome::Withdrawn;
        }
        if items.iter().any(|i| i.status == ItemStatus::NotCertified) {
            Outcome::Denied
        } else {
            Outcome::Approved
        }
    }
}

/// A reviewer's action on one pended item.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct ItemDecision {
    pub sequence: u32,
    /// `certify`, `deny` or `modify`.
    pub action: String,
    /// Required for deny and modify: the specific reason the requester gets.
    #[serde(default)]
    pub reason: Option<String>,
    /// An X12 886 reason code (HCR03), when the payer uses them; the
    /// response always carries the policy's reason besides.
    #[serde(default)]
    pub reason_code: Option<String>,
    /// For modify: what is authorized instead (e.g. "1 unit", "outpatient only").
    #[serde(default)]
    pub authorized: Option<String>,
}

/// Why a reviewer's decision cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionError {
    #[error("items[{index}]: no item with sequence {sequence} in this request (items: {valid})")]
    UnknownItem {
        index: usize,
        sequence: u32,
        valid: String,
    },
    #[error(
        "items[{index}]: item {sequence} is {status}, not pended; only pended items are decided"
    )]
    NotPended {
        index: usize,
        sequence: u32,
        status: &'static str,
    },
    #[error(
        "items[{index}].action: `{action}` is not an action; expected certify, deny or modify"
    )]
    UnknownAction { index: usize, action: String },
    #[error("items[{index}].reason: a {action} needs a reason (the requester is told it)")]
    ReasonRequired { index: usize, action: String },
    #[error("items[{index}].authorized: a modify says what is authorized instead")]
    AuthorizedRequired { index: usize },
    #[error("items: give at least one item decision")]
    Empty,
}

/// Applies a reviewer's decisions to a state (pure): the new state, or
/// what is wrong with the decision. `number` makes preauthorization
/// numbers; `period` the certification period of an item.
pub fn apply_decisions(
    state: &RequestState,
    decisions: &[ItemDecision],
    now: DateTime<Utc>,
    number: impl Fn(u32) -> String,
    period: impl Fn(&ItemState) -> (NaiveDate, NaiveDate),
) -> Result<RequestState, DecisionError> {
    if decisions.is_empty() {
        return Err(DecisionError::Empty);
    }
    let mut next = state.clone();
    for (index, d) in decisions.iter().enumerate() {
        let valid = || {
            state
                .items
                .iter()
                .map(|i| i.sequence.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let item = next
            .items
            .iter_mut()
            .find(|i| i.sequence == d.sequence)
            .ok_or_else(|| DecisionError::UnknownItem {
                index,
                sequence: d.sequence,
                valid: valid(),
            })?;
        if item.status != ItemStatus::Pended {
            return Err(DecisionError::NotPended {
                index,
                sequence: d.sequence,
                status: item.status.id(),
            });
        }
        let reason = d.reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
        match d.action.as_str() {
            "certify" => {
                item.status = ItemStatus::Certified;
                item.auth_number = Some(number(item.sequence));
                item.period = Some(period(item));
                item.reason = reason.map(str::to_string);
                item.reason_code = d.reason_code.clone();
            }
            "deny" => {
                let reason = reason.ok_or(DecisionError::ReasonRequired {
                    index,
                    action: d.action.clone(),
                })?;
                item.status = ItemStatus::NotCertified;
                item.reason = Some(reason.to_string());
                // medpol does not invent an X12 886 code: the reviewer's, if
                // given; the response always carries the policy's own reason.
                item.reason_code = d.reason_code.clone();
            }
            "modify" => {
                let reason = reason.ok_or(DecisionError::ReasonRequired {
                    index,
                    action: d.action.clone(),
                })?;
                let authorized = d
                    .authorized
                    .as_deref()
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .ok_or(DecisionError::AuthorizedRequired { index })?;
                item.status = ItemStatus::Modified;
                item.reason = Some(reason.to_string());
                item.reason_code = d.reason_code.clone();
                item.authorized = Some(authorized.to_string());
                item.auth_number = Some(number(item.sequence));
                item.period = Some(period(item));
            }
            other => {
                return Err(DecisionError::UnknownAction {
                    index,
                    action: other.to_string(),
                })
            }
        }
        item.questionnaires.clear();
    }
    next.settle(now);
    Ok(next)
}

/// Time left to the due time (negative when overdue), in whole minutes.
pub fn minutes_left(due: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    (due - now).num_minutes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(sequence: u32, status: ItemStatus) -> ItemState {
        ItemState {
            sequence,
            trace: None,
            code: "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets|M0076".into(),
            status,
            recommendation: Recommendation {
                action: "deny".into(),
                reason: "investigational".into(),
                citations: vec![],
                coverage_reason: Some("investigational".into()),
                clinical_exception: None,
            },
            auth_number: None,
            period: None,
            reason: None,
            reason_code: None,
            authorized: None,
            questionnaires: vec![],
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn state(items: Vec<ItemState>) -> RequestState {
        RequestState {
            items,
            due_at: at("2026-01-08T00:00:00Z"),
            extended: false,
            decided_at: None,
            reviews: vec![],
        }
    }

    fn decision(sequence: u32, action: &str, reason: Option<&str>) -> ItemDecision {
        ItemDecision {
            sequence,
            action: action.into(),
            reason: reason.map(Into::into),
            reason_code: None,
            authorized: None,
        }
    }

    #[test]
    fn clocks_are_72_hours_and_7_days() {
        assert_eq!(Priority::Expedited.allowed(), Duration::hours(72));
        assert_eq!(Priority::Standard.allowed(), Duration::days(7));
        assert_eq!(
            minutes_left(at("2026-01-02T00:00:00Z"), at("2026-01-01T23:00:00Z")),
            60
        );
        assert!(minutes_left(at("2026-01-01T00:00:00Z"), at("2026-01-01T00:01:00Z")) < 0);
    }

    #[test]
    fn a_denial_needs_a_reason() {
        let s = state(vec![
            item(1, ItemStatus::Pended),
            item(2, ItemStatus::NoAuthRequired),
        ]);
        let now = at("2026-01-02T00:00:00Z");
        let n = |q: u32| format!("N{q}");
        let p = |_: &ItemState| {
            let d = NaiveDate::from_ymd_opt(2026, 1, 2).unwrap();
            (d, d)
        };
        assert_eq!(
            apply_decisions(&s, &[decision(1, "deny", None)], now, n, p),
            Err(DecisionError::ReasonRequired {
                index: 0,
                action: "deny".into()
            })
        );
        assert!(matches!(
            apply_decisions(&s, &[decision(2, "certify", None)], now, n, p),
            Err(DecisionError::NotPended { sequence: 2, .. })
        ));
        assert!(matches!(
            apply_decisions(&s, &[decision(9, "certify", None)], now, n, p),
            Err(DecisionError::UnknownItem { sequence: 9, .. })
        ));
        assert!(matches!(
            apply_decisions(&s, &[decision(1, "approve", None)], now, n, p),
            Err(DecisionError::UnknownAction { .. })
        ));
        let denied = apply_decisions(
            &s,
            &[decision(1, "deny", Some("investigational"))],
            now,
            n,
            p,
        )
        .unwrap();
        assert_eq!(denied.items[0].status, ItemStatus::NotCertified);
        assert_eq!(denied.items[0].reason.as_deref(), Some("investigational"));
        assert_eq!(denied.status(), "complete");
        assert_eq!(denied.decided_at, Some(now));
        assert_eq!(denied.outcome(), Outcome::Denied);
        // The original is untouched: events never change what was recorded.
        assert_eq!(s.items[0].status, ItemStatus::Pended);
    }

    #[test]
    fn certify_and_modify_give_a_number_and_a_period() {
        let s = state(vec![
            item(1, ItemStatus::Pended),
            item(2, ItemStatus::Pended),
        ]);
        let now = at("2026-01-02T00:00:00Z");
        let d = NaiveDate::from_ymd_opt(2026, 1, 2).unwrap();
        let mut m = decision(2, "modify", Some("one session only"));
        assert!(matches!(
            apply_decisions(
                &s,
                std::slice::from_ref(&m),
                now,
                |q| format!("N{q}"),
                |_| (d, d)
            ),
            Err(DecisionError::AuthorizedRequired { index: 0 })
        ));
        m.authorized = Some("1 unit".into());
        let partial = apply_decisions(
            &s,
            &[decision(1, "certify", None)],
            now,
            |q| format!("N{q}"),
            |_| (d, d),
        )
        .unwrap();
        assert_eq!(partial.status(), "pended");
        assert_eq!(partial.decided_at, None);
        let done = apply_decisions(&partial, &[m], now, |q| format!("N{q}"), |_| (d, d)).unwrap();
        assert_eq!(done.items[0].auth_number.as_deref(), Some("N1"));
        assert_eq!(done.items[1].status, ItemStatus::Modified);
        assert_eq!(done.items[1].authorized.as_deref(), Some("1 unit"));
        assert_eq!(done.outcome(), Outcome::Approved);
    }

    #[test]
    fn outcomes_count_partial_denials_as_denied_and_cancellations_as_withdrawn() {
        assert_eq!(
            Outcome::of(&[
                item(1, ItemStatus::Certified),
                item(2, ItemStatus::NotCertified)
            ]),
            Outcome::Denied
        );
        assert_eq!(
            Outcome::of(&[item(1, ItemStatus::Cancelled)]),
            Outcome::Withdrawn
        );
        assert_eq!(
            Outcome::of(&[
                item(1, ItemStatus::NoAuthRequired),
                item(2, ItemStatus::Cancelled)
            ]),
            Outcome::Approved
        );
        assert_eq!(
            Outcome::of(&[item(1, ItemStatus::Pended)]),
            Outcome::Pending
        );
    }
}
