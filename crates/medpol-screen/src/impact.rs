//! Impact analysis: every claim line decided under the current catalogue and
//! under a proposed one, in the same pass as screening (one read, two
//! decisions per line), and what changed tallied by (code, product, setting,
//! before → after).

use std::collections::BTreeMap;
use std::io::Write;

use medpol_core::{Code, Coverage, Engine, LineDetermination, PriorAuth, ProductRef, Setting};
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::input::ClaimLine;
use crate::is_flagged;

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

/// One chunk's tallies, merged in input order.
#[derive(Default)]
pub(crate) struct Tally<'e> {
    pub compared: u64,
    pub changed: u64,
    pub flagged_before: u64,
    pub flagged_after: u64,
    /// Lines whose product the proposed catalogue does not offer.
    pub product_gone: u64,
    pub transitions: FxHashMap<Key<'e>, (u64, Vec<(String, u32)>)>,
}

impl<'e> Tally<'e> {
    pub fn merge(&mut self, o: Tally<'e>) {
        self.compared += o.compared;
        self.changed += o.changed;
        self.flagged_before += o.flagged_before;
        self.flagged_after += o.flagged_after;
        self.product_gone += o.product_gone;
        for (k, (n, ex)) in o.transitions {
            let e = self.transitions.entry(k).or_default();
            e.0 += n;
            let room = EXAMPLES.saturating_sub(e.1.len());
            e.1.extend(ex.into_iter().take(room));
        }
    }
}

/// The proposed catalogue's product for a current one, by its ids.
#[derive(Default)]
pub(crate) struct ProductMap(FxHashMap<ProductRef, Option<ProductRef>>);

impl ProductMap {
    pub fn get(
        &mut self,
        current: &Engine,
        proposed: &Engine,
        p: ProductRef,
    ) -> Option<ProductRef> {
        *self.0.entry(p).or_insert_with(|| {
            let (payer, product) = current.product_ids(p);
            proposed.resolve_product(Some(payer), product).ok()
        })
    }
}

/// Compares one line's two determinations; a changed line is written to
/// `out` as a CSV row (see [`CHANGED_HEADER`]).
pub(crate) fn compare<'e>(
    t: &mut Tally<'e>,
    out: &mut Vec<u8>,
    current: &'e Engine,
    claim: &ClaimLine<'_>,
    before: &LineDetermination<'_>,
    after: &LineDetermination<'_>,
) {
    t.compared += 1;
    let (fb, fa) = (
        is_flagged(before.coverage, before.prior_auth),
        is_flagged(after.coverage, after.prior_auth),
    );
    t.flagged_before += fb as u64;
    t.flagged_after += fa as u64;
    if before.coverage == after.coverage && before.prior_auth == after.prior_auth {
        return;
    }
    t.changed += 1;
    let (payer, product) = current.product_ids(claim.product);
    let key = (
        claim.service.code,
        payer,
        product,
        claim.setting,
        before.coverage,
        after.coverage,
        before.prior_auth,
        after.prior_auth,
    );
    let e = t.transitions.entry(key).or_default();
    e.0 += 1;
    if e.1.len() < EXAMPLES {
        e.1.push((claim.claim_id.to_string(), claim.line));
    }
    changed_row(out, claim, payer, product, before, after);
}

/// The columns of the changed-lines CSV.
pub const CHANGED_HEADER: &str = "claim_id,line,system,code,product,setting,date_of_service,coverage_before,coverage_after,prior_auth_before,prior_auth_after,policies_before,policies_after\n";

fn policies(out: &mut Vec<u8>, d: &LineDetermination<'_>) {
    for (i, p) in d.policies.iter().enumerate() {
        if i > 0 {
            out.push(b';');
        }
        let _ = write!(out, "{}/{} {}", p.payer, p.number, p.version);
    }
}

fn changed_row(
    out: &mut Vec<u8>,
    claim: &ClaimLine<'_>,
    payer: &str,
    product: &str,
    before: &LineDetermination<'_>,
    after: &LineDetermination<'_>,
) {
    crate::output::csv_text_field(out, &claim.claim_id);
    let _ = write!(
        out,
        ",{},{},{},{payer}/{product},{},{},{},{},{},{},",
        claim.line,
        before.code.system().id(),
        before.code.as_str(),
        claim.setting.id(),
        claim.date,
        before.coverage.id(),
        after.coverage.id(),
        before.prior_auth.id(),
        after.prior_auth.id(),
    );
    policies(out, before);
    out.push(b',');
    policies(out, after);
    out.push(b'\n');
}

/// A line of the input, named for an example.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Example {
    pub claim_id: String,
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

/// What a proposed catalogue would change on a set of claim lines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImpactReport {
    /// Lines decided under both catalogues.
    pub compared: u64,
    /// Lines whose coverage or prior authorization changes.
    pub changed: u64,
    pub flagged_before: u64,
    pub flagged_after: u64,
    /// Lines whose product the proposed catalogue does not offer (reported
    /// as bad lines, not compared).
    pub product_not_in_proposed: u64,
    /// Coverage transitions (`before -> after`), lines each.
    pub coverage: BTreeMap<String, u64>,
    /// Prior-authorization transitions, lines each.
    pub prior_auth: BTreeMap<String, u64>,
    /// Every transition, most lines first.
    pub transitions: Vec<Transition>,
}

pub(crate) fn report(t: &Tally<'_>) -> ImpactReport {
    let mut r = ImpactReport {
        compared: t.compared,
        changed: t.changed,
        flagged_before: t.flagged_before,
        flagged_after: t.flagged_after,
        product_not_in_proposed: t.product_gone,
        ..ImpactReport::default()
    };
    for ((code, payer, product, setting, cb, ca, pb, pa), (n, ex)) in &t.transitions {
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
            examples: ex
                .iter()
                .map(|(c, l)| Example {
                    claim_id: c.clone(),
                    line: *l,
                })
                .collect(),
        });
    }
    r.transitions.sort_by(|a, b| {
        b.lines
            .cmp(&a.lines)
            .then_with(|| (&a.code, &a.product, a.setting).cmp(&(&b.code, &b.product, b.setting)))
    });
    r
}
