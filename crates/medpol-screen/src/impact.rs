//! Impact analysis in the screening pipeline: every claim line decided under
//! the current catalogue and under a proposed one, in the same pass (one
//! read, two decisions per line); the tally is `medpol_core::impact`.

use std::io::Write;

use medpol_core::impact::{Example, Tally};
use medpol_core::{Engine, LineDetermination, ProductRef};
use rustc_hash::FxHashMap;

pub use medpol_core::impact::ImpactReport;

use crate::input::ClaimLine;

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
    let (payer, product) = current.product_ids(claim.product);
    let changed = t.add(
        claim.service.code,
        payer,
        product,
        claim.setting,
        (before.coverage, before.prior_auth),
        (after.coverage, after.prior_auth),
        || Example {
            id: claim.claim_id.to_string(),
            line: claim.line,
        },
    );
    if changed {
        changed_row(out, claim, payer, product, before, after);
    }
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
