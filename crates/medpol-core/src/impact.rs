//! Impact analysis's tally: lines decided under the current and a proposed
//! catalogue, what changed counted by (code, product, setting, before ->
//! after), with a few examples each. Fed by batch screening (claim lines) and
//! by the service (decisions from its log); pure.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::determination::{Coverage, PriorAuth};
use crate::{Code, Setting};

/// How many example lines each transition keeps.
pub const EXAMPLES: usize = 3;

type Key<'e> = (
    Code,
    &'e str,
    &'e str,
    Setting,
    Coverage,
    Coverage,
    PriorAuth,
    PriorAuth,
);

/// One answer: coverage and prior authorization.
pub type Answer = (Coverage, PriorAuth);

fn flagged((c, p): Answer) -> bool {
    matches!(c, Coverage::NotCovered | Coverage::Conditional)
        || matches!(p, PriorAuth::AuthNeeded | PriorAuth::Conditional)
}

/// Running counts; merge tallies of parts of the input in order.
#[derive(Default)]
pub struct Tally<'e> {
    pub compared: u64,
    pub changed: u64,
    pub flagged_before: u64,
    pub flagged_after: u64,
    /// Lines the proposed catalogue cannot decide (e.g. their product is not offered).
    pub not_comparable: u64,
    transitions: FxHashMap<Key<'e>, (u64, Vec<Example>)>,
}

impl<'e> Tally<'e> {
    /// Counts one line; `example` names it, asked for only when it is kept.
    /// Returns whether the line changed.
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        code: Code,
        payer: &'e str,
        product: &'e str,
        setting: Setting,
        before: Answer,
        after: Answer,
        example: impl FnOnce() -> Example,
    ) -> bool {
        self.compared += 1;
        self.flagged_before += flagged(before) as u64;
        self.flagged_after += flagged(after) as u64;
        if before == after {
            return false;
        }
        self.changed += 1;
        let e = self
            .transitions
            .entry((
                code, payer, product, setting, before.0, after.0, before.1, after.1,
            ))
            .or_default();
        e.0 += 1;
        if e.1.len() < EXAMPLES {
            e.1.push(example());
        }
        true
    }

    pub fn merge(&mut self, o: Tally<'e>) {
        self.compared += o.compared;
        self.changed += o.changed;
        self.flagged_before += o.flagged_before;
        self.flagged_after += o.flagged_after;
        self.not_comparable += o.not_comparable;
        for (k, (n, ex)) in o.transitions {
            let e = self.transitions.entry(k).or_default();
            e.0 += n;
            let room = EXAMPLES.saturating_sub(e.1.len());
            e.1.extend(ex.into_iter().take(room));
        }
    }

    pub fn report(&self) -> ImpactReport {
        let mut r = ImpactReport {
            compared: self.compared,
            changed: self.changed,
            flagged_before: self.flagged_before,
            flagged_after: self.flagged_after,
            not_comparable: self.not_comparable,
            ..ImpactReport::default()
        };
        for ((code, payer, product, setting, cb, ca, pb, pa), (n, ex)) in &self.transitions {
            if cb != ca {
                *r.coverage
                    .entry(format!("{} -> {}", cb.id(), ca.id()))
                    .or_default() += n;
            }
            if pb != pa {
                *r.prior_auth
                    .entry(format!("{} -> {}", pb.id(), pa.id()))
                    .or_default() += n;
            }
            r.transitions.push(Transition {
                system: code.system().id(),
                code: code.as_str().to_string(),
                product: format!("{payer}/{product}"),
                setting: setting.id(),
                coverage_before: cb.id(),
                coverage_after: ca.id(),
                prior_auth_before: pb.id(),
                prior_auth_after: pa.id(),
                lines: *n,
                examples: ex.clone(),
            });
        }
        r.transitions.sort_by(|a, b| {
            b.lines.cmp(&a.lines).then_with(|| {
                (&a.code, &a.product, a.setting).cmp(&(&b.code, &b.product, b.setting))
            })
        });
        r
    }
}

/// A line named for an example: a claim id and line number (screening), or
/// a decision id and line number (the decision log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Example {
    pub id: String,
    pub line: u32,
}

/// Lines that went from one answer to another, for one code, product and setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transition {
    pub system: &'static str,
    pub code: String,
    /// `payer/product`.
    pub product: String,
    pub setting: &'static str,
    pub coverage_before: &'static str,
    pub coverage_after: &'static str,
    pub prior_auth_before: &'static str,
    pub prior_auth_after: &'static str,
    pub lines: u64,
    pub examples: Vec<Example>,
}

/// What a proposed catalogue would change on a set of lines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImpactReport {
    /// Lines decided under both catalogues.
    pub compared: u64,
    /// Lines whose coverage or prior authorization changes.
    pub changed: u64,
    pub flagged_before: u64,
    pub flagged_after: u64,
    /// Lines the proposed catalogue cannot decide (their product is not offered).
    pub not_comparable: u64,
    /// Coverage transitions (`before -> after`), lines each.
    pub coverage: BTreeMap<String, u64>,
    /// Prior-authorization transitions, lines each.
    pub prior_auth: BTreeMap<String, u64>,
    /// Every transition, most lines first.
    pub transitions: Vec<Transition>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CodeSystem;

    #[test]
    fn only_changes_are_tallied_and_examples_are_capped() {
        let code = Code::parse(CodeSystem::Hcpcs, "M0076").unwrap();
        let before = (Coverage::NotCovered, PriorAuth::NotApplicable);
        let after = (Coverage::Conditional, PriorAuth::NotApplicable);
        let mut a = Tally::default();
        let mut b = Tally::default();
        for i in 0..5 {
            let t = if i < 3 { &mut a } else { &mut b };
            assert!(
                t.add(code, "p", "ppo", Setting::Outpatient, before, after, || {
                    Example {
                        id: format!("c{i}"),
                        line: 1,
                    }
                })
            );
        }
        assert!(!a.add(
            code,
            "p",
            "ppo",
            Setting::Outpatient,
            before,
            before,
            || unreachable!()
        ));
        a.merge(b);
        let r = a.report();
        assert_eq!(
            (r.compared, r.changed, r.flagged_before, r.flagged_after),
            (6, 5, 6, 6)
        );
        assert_eq!(r.coverage["not-covered -> conditional"], 5);
        assert!(r.prior_auth.is_empty());
        assert_eq!(r.transitions.len(), 1);
        assert_eq!(r.transitions[0].examples.len(), EXAMPLES);
        assert_eq!(r.transitions[0].examples[0].id, "c0");
    }
}
