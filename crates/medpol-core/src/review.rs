//! The review calendar: when each policy was last reviewed, by its history,
//! and when its annual review is due.

use chrono::{Months, NaiveDate};
use serde::Serialize;

use crate::model::{Catalog, Policy};

/// How long a review holds: payers review every medical policy yearly.
pub const REVIEW_INTERVAL_MONTHS: u32 = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReviewState {
    /// The review is past due.
    Overdue,
    /// Due within the window asked about.
    DueSoon,
    Current,
}

impl ReviewState {
    pub fn id(self) -> &'static str {
        match self {
            ReviewState::Overdue => "overdue",
            ReviewState::DueSoon => "due-soon",
            ReviewState::Current => "current",
        }
    }
}

/// One policy in the calendar.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewEntry {
    /// `payer/number`.
    pub policy: String,
    pub title: String,
    /// The history date of the last review as published (e.g. `1/2025`),
    /// or the effective date when the history records none.
    pub last_review_label: String,
    /// The first day of that history date.
    pub last_review: NaiveDate,
    /// `last_review` plus twelve months.
    pub next_due: NaiveDate,
    /// Days from `today` to `next_due` (negative: overdue).
    pub days_left: i64,
    pub state: ReviewState,
}

/// The last review of a policy: its latest history row that says "review",
/// else its latest history row, else its effective date.
pub fn last_review(p: &Policy) -> (NaiveDate, String) {
    let latest = |review_only: bool| {
        p.history
            .iter()
            .filter(|h| !review_only || h.action.to_lowercase().contains("review"))
            .max_by_key(|h| h.date.start())
    };
    match latest(true).or_else(|| latest(false)) {
        Some(h) => (h.date.start(), h.date.as_str().to_string()),
        None => (p.effective, p.effective.to_string()),
    }
}

/// When `p`'s review is due, relative to `today`; `soon` is how many days
/// ahead count as due soon.
pub fn review_of(p: &Policy, today: NaiveDate, soon: i64) -> ReviewEntry {
    let (last, label) = last_review(p);
    let next_due = last
        .checked_add_months(Months::new(REVIEW_INTERVAL_MONTHS))
        .unwrap_or(NaiveDate::MAX);
    let days_left = (next_due - today).num_days();
    let state = if days_left < 0 {
        ReviewState::Overdue
    } else if days_left <= soon {
        ReviewState::DueSoon
    } else {
        ReviewState::Current
    };
    ReviewEntry {
        policy: p.key(),
        title: p.title.clone(),
        last_review_label: label,
        last_review: last,
        next_due,
        days_left,
        state,
    }
}

/// Every policy that applies on `today` or later (the latest revision of
/// each), soonest due first. With `due_within`, only those due within that
/// many days (overdue ones included).
pub fn calendar(catalog: &Catalog, today: NaiveDate, due_within: Option<i64>) -> Vec<ReviewEntry> {
    let soon = due_within.unwrap_or(60);
    let mut latest: std::collections::BTreeMap<String, &Policy> = Default::default();
    for p in &catalog.policies {
        if p.retired.is_some_and(|r| r <= today) {
            continue;
        }
        let e = latest.entry(p.key()).or_insert(p);
        if p.window().0 > e.window().0 {
            *e = p;
        }
    }
    let mut out: Vec<ReviewEntry> = latest
        .values()
        .map(|p| review_of(p, today, soon))
        .filter(|r| due_within.is_none_or(|d| r.days_left <= d))
        .collect();
    out.sort_by(|a, b| {
        a.next_due
            .cmp(&b.next_due)
            .then_with(|| a.policy.cmp(&b.policy))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(history: &[(&str, &str)]) -> Policy {
        let rows: Vec<serde_json::Value> = history
            .iter()
            .map(|(d, a)| serde_json::json!({"date": d, "action": a}))
            .collect();
        serde_json::from_value(serde_json::json!({
            "payer": "p", "number": "1", "title": "T", "effective": "2010-05-01",
            "statement": [], "history": rows,
        }))
        .unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_last_review_is_the_latest_row_that_says_so() {
        let p = policy(&[
            ("1/2024", "Annual policy review. References updated."),
            ("3/2024", "Coding updated."),
            ("1/2023", "Annual policy review."),
        ]);
        let r = review_of(&p, day("2024-12-15"), 60);
        assert_eq!(r.last_review_label, "1/2024");
        assert_eq!(r.next_due, day("2025-01-01"));
        assert_eq!((r.days_left, r.state), (17, ReviewState::DueSoon));
        assert_eq!(
            review_of(&p, day("2025-02-01"), 60).state,
            ReviewState::Overdue
        );
        assert_eq!(
            review_of(&p, day("2024-06-01"), 60).state,
            ReviewState::Current
        );
    }

    #[test]
    fn without_a_review_the_latest_row_or_the_effective_date_counts() {
        let p = policy(&[("6/2015", "Coding updated.")]);
        assert_eq!(last_review(&p), (day("2015-06-01"), "6/2015".to_string()));
        let p = policy(&[]);
        assert_eq!(last_review(&p).0, day("2010-05-01"));
    }

    #[test]
    fn the_calendar_filters_by_due_date_and_skips_retired_policies() {
        let mut a = policy(&[("1/2024", "Annual policy review.")]);
        a.number = "a".into();
        let mut b = policy(&[("9/2024", "Annual policy review.")]);
        b.number = "b".into();
        let mut gone = policy(&[("1/2020", "Annual policy review.")]);
        gone.number = "gone".into();
        gone.retired = Some(day("2021-01-01"));
        let c = Catalog {
            payers: Vec::new(),
            policies: vec![b, a, gone],
        };
        let all = calendar(&c, day("2024-12-15"), None);
        let keys: Vec<&str> = all.iter().map(|r| r.policy.as_str()).collect();
        assert_eq!(keys, ["p/a", "p/b"]);
        let due = calendar(&c, day("2024-12-15"), Some(60));
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].policy, "p/a");
    }
}
