//! The yearly prior-authorization metrics CMS-0057-F asks payers to post,
//! computed from the event log (pure). Definitions (docs/prior-auth.md):
//!
//! - counted: initial requests received in the year; requests withdrawn
//!   (every item cancelled before a decision) and still pending are counted
//!   in `requests` and reported apart, and left out of the percentages;
//! - approved: every item certified, certified with changes, or needing no
//!   authorization; denied: at least one item not certified (a partial
//!   approval is a denial of what was not certified);
//! - approved after appeal: of the denied requests, those an appeal or a
//!   clinical exception turned into an approval;
//! - extended and approved: of the decided requests, those decided after an
//!   extension of the time frame and approved;
//! - hours: from receipt to the first time no item was left pended.

use serde::Serialize;

use super::model::{Outcome, Priority, ReviewKind};
use super::store::{Event, StoredRequest};

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PriorityMetrics {
    pub requests: usize,
    pub decided: usize,
    pub pending: usize,
    pub withdrawn: usize,
    pub approved: usize,
    pub denied: usize,
    pub approved_percent: f64,
    pub denied_percent: f64,
    pub approved_after_appeal: usize,
    pub approved_after_appeal_percent: f64,
    pub extended_and_approved: usize,
    pub extended_and_approved_percent: f64,
    /// Submission to decision, over decided requests; null when none.
    pub average_hours: Option<f64>,
    pub median_hours: Option<f64>,
    /// Decided after their due time, and pending past it now.
    pub decided_late: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Metrics {
    pub year: i32,
    pub standard: PriorityMetrics,
    pub expedited: PriorityMetrics,
}

fn percent(n: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        (n as f64 * 1000.0 / of as f64).round() / 10.0
    }
}

fn one(priority: Priority, all: &[(StoredRequest, Vec<Event>)]) -> PriorityMetrics {
    let initial: Vec<&(StoredRequest, Vec<Event>)> = all
        .iter()
        .filter(|(r, _)| r.kind == ReviewKind::Initial && r.priority == priority)
        .collect();
    let mut m = PriorityMetrics {
        requests: initial.len(),
        decided: 0,
        pending: 0,
        withdrawn: 0,
        approved: 0,
        denied: 0,
        approved_percent: 0.0,
        denied_percent: 0.0,
        approved_after_appeal: 0,
        approved_after_appeal_percent: 0.0,
        extended_and_approved: 0,
        extended_and_approved_percent: 0.0,
        average_hours: None,
        median_hours: None,
        decided_late: 0,
    };
    let mut hours: Vec<f64> = Vec::new();
    for (r, events) in &initial {
        // The request's outcome as first decided: the event that left it
        // with no pended item (later events may be appeals' outcomes).
        let Some(decided) = events.iter().find(|e| e.state.decided_at.is_some()) else {
            if events
                .last()
                .is_some_and(|e| e.state.outcome() == Outcome::Withdrawn)
            {
                m.withdrawn += 1;
            } else {
                m.pending += 1;
            }
            continue;
        };
        let state = &decided.state;
        let at = state.decided_at.unwrap_or(r.received_at);
        match state.outcome() {
            Outcome::Withdrawn => {
                m.withdrawn += 1;
                continue;
            }
            Outcome::Approved => {
                m.approved += 1;
                if state.extended {
                    m.extended_and_approved += 1;
                }
            }
            Outcome::Denied => {
                m.denied += 1;
                let last = events.last().map(|e| &e.state).unwrap_or(state);
                let reviewed = all.iter().any(|(c, _)| {
                    c.parent.as_deref() == Some(r.id.as_str()) && c.kind != ReviewKind::Initial
                });
                if reviewed && last.outcome() == Outcome::Approved {
                    m.approved_after_appeal += 1;
                }
            }
            Outcome::Pending => {}
        }
        m.decided += 1;
        if at > state.due_at {
            m.decided_late += 1;
        }
        hours.push((at - r.received_at).num_seconds() as f64 / 3600.0);
    }
    m.approved_percent = percent(m.approved, m.decided);
    m.denied_percent = percent(m.denied, m.decided);
    m.approved_after_appeal_percent = percent(m.approved_after_appeal, m.denied);
    m.extended_and_approved_percent = percent(m.extended_and_approved, m.decided);
    if !hours.is_empty() {
        let round = |h: f64| (h * 100.0).round() / 100.0;
        m.average_hours = Some(round(hours.iter().sum::<f64>() / hours.len() as f64));
        hours.sort_by(|a, b| a.total_cmp(b));
        let mid = hours.len() / 2;
        m.median_hours = Some(round(if mid * 2 == hours.len() {
            (hours[mid - 1] + hours[mid]) / 2.0
        } else {
            hours[mid]
        }));
    }
    m
}

/// The metrics of a year, from its requests and their events.
pub fn compute(year: i32, all: &[(StoredRequest, Vec<Event>)]) -> Metrics {
    Metrics {
        year,
        standard: one(Priority::Standard, all),
        expedited: one(Priority::Expedited, all),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pas::model::{ItemState, ItemStatus, Recommendation, RequestState};
    use chrono::{DateTime, Duration, Utc};

    fn at(h: i64) -> DateTime<Utc> {
        "2026-03-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::hours(h)
    }

    fn request(
        id: &str,
        kind: ReviewKind,
        parent: Option<&str>,
        priority: Priority,
    ) -> StoredRequest {
        StoredRequest {
            id: id.into(),
            client: "c".into(),
            claim_key: id.into(),
            kind,
            parent: parent.map(Into::into),
            priority,
            received_at: at(0),
            payer: "p".into(),
            product: "x".into(),
            provider_ids: vec![],
            bundle: String::new(),
            digest: String::new(),
        }
    }

    fn event(seq: i64, statuses: &[ItemStatus], decided: Option<i64>, extended: bool) -> Event {
        let items = statuses
            .iter()
            .enumerate()
            .map(|(n, s)| ItemState {
                sequence: n as u32 + 1,
                trace: None,
                code: "x|y".into(),
                status: *s,
                recommendation: Recommendation {
                    action: "review".into(),
                    reason: String::new(),
                    citations: vec![],
                    coverage_reason: None,
                    clinical_exception: None,
                },
                auth_number: None,
                period: None,
                reason: None,
                reason_code: None,
                authorized: None,
                questionnaires: vec![],
            })
            .collect();
        let state = RequestState {
            items,
            due_at: at(if extended { 24 * 21 } else { 24 * 7 }),
            extended,
            decided_at: decided.map(at),
            reviews: vec![],
        };
        Event {
            seq,
            at: String::new(),
            kind: "x".into(),
            actor: "t".into(),
            status: state.status().into(),
            due_at: String::new(),
            detail: serde_json::Value::Null,
            state,
        }
    }

    #[test]
    fn metrics_follow_their_documented_definitions() {
        use ItemStatus::*;
        let all = vec![
            // Approved at once.
            (
                request("a", ReviewKind::Initial, None, Priority::Standard),
                vec![event(1, &[NoAuthRequired, Certified], Some(0), false)],
            ),
            // Pended, then denied at 10 h, then approved on appeal.
            (
                request("b", ReviewKind::Initial, None, Priority::Standard),
                vec![
                    event(1, &[Pended], None, false),
                    event(2, &[NotCertified], Some(10), false),
                    event(3, &[Certified], Some(10), false),
                ],
            ),
            (
                request(
                    "b-appeal",
                    ReviewKind::Appeal,
                    Some("b"),
                    Priority::Standard,
                ),
                vec![event(1, &[Certified], Some(30), false)],
            ),
            // Extended, then approved at 200 h (late against the first due time? no: extended).
            (
                request("c", ReviewKind::Initial, None, Priority::Standard),
                vec![
                    event(1, &[Pended], None, false),
                    event(2, &[Pended], None, true),
                    event(3, &[Modified], Some(200), true),
                ],
            ),
            // Still pending; and one withdrawn.
            (
                request("d", ReviewKind::Initial, None, Priority::Standard),
                vec![event(1, &[Pended], None, false)],
            ),
            (
                request("e", ReviewKind::Initial, None, Priority::Standard),
                vec![
                    event(1, &[Pended], None, false),
                    event(2, &[Cancelled], None, false),
                ],
            ),
            // Expedited, denied.
            (
                request("f", ReviewKind::Initial, None, Priority::Expedited),
                vec![event(1, &[NotCertified], Some(2), false)],
            ),
        ];
        let m = compute(2026, &all);
        let s = &m.standard;
        assert_eq!(
            (s.requests, s.decided, s.pending, s.withdrawn),
            (5, 3, 1, 1)
        );
        assert_eq!((s.approved, s.denied), (2, 1));
        assert_eq!(s.approved_percent, 66.7);
        assert_eq!(s.denied_percent, 33.3);
        assert_eq!(
            (s.approved_after_appeal, s.approved_after_appeal_percent),
            (1, 100.0)
        );
        assert_eq!(
            (s.extended_and_approved, s.extended_and_approved_percent),
            (1, 33.3)
        );
        assert_eq!(s.median_hours, Some(10.0));
        assert_eq!(s.average_hours, Some(70.0));
        assert_eq!(s.decided_late, 0);
        let e = &m.expedited;
        assert_eq!((e.requests, e.denied, e.denied_percent), (1, 1, 100.0));
        assert_eq!(e.median_hours, Some(2.0));
    }
}
