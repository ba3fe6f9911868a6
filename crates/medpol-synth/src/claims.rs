//! Synthetic claim lines for screening tests and benchmarks, in the CSV
//! schema `medpol screen` reads (docs/screening.md).
//!
//! The mix follows what a payer's claim feed looks like: most lines carry
//! codes no medical policy governs (office visits, labs, imaging), about one
//! in five carries a code some policy of the member's payer lists; places of
//! service lean to the office and the outpatient hospital; a few lines have
//! modifiers; most have one to three diagnoses.

use std::io::{self, Write};

use fastrand::Rng;
use medpol_core::model::Catalog;

use crate::dist::{chance, pick, weighted};

/// The CSV header of generated claim files.
pub const HEADER: &str = "claim_id,line,payer,product,date_of_service,place_of_service,code,code_system,modifiers,diagnoses,units";

/// Common procedure codes that medical policies rarely govern.
const UNGOVERNED: [(&str, &str); 16] = [
    ("99213", "cpt"),
    ("99214", "cpt"),
    ("99203", "cpt"),
    ("99204", "cpt"),
    ("99232", "cpt"),
    ("99283", "cpt"),
    ("99395", "cpt"),
    ("99396", "cpt"),
    ("99212", "cpt"),
    ("99215", "cpt"),
    ("99202", "cpt"),
    ("99222", "cpt"),
    ("99223", "cpt"),
    ("99231", "cpt"),
    ("99284", "cpt"),
    ("99285", "cpt"),
];

const PLACES: [(&str, u32); 10] = [
    ("11", 50),
    ("22", 18),
    ("21", 9),
    ("23", 6),
    ("24", 5),
    ("19", 4),
    ("81", 3),
    ("12", 2),
    ("02", 2),
    ("31", 1),
];

const MODIFIERS: [&str; 8] = ["RT", "LT", "59", "25", "26", "TC", "50", "XS"];

const DIAGNOSES: [&str; 20] = [
    "M54.50", "M17.11", "M17.0", "E11.9", "I10", "J45.909", "Z00.00", "M79.10", "G89.4", "M75.100",
    "M25.561", "M54.2", "E78.5", "F32.9", "K21.9", "N18.3", "I25.10", "J06.9", "R51.9", "M19.90",
];

/// Writes `lines` claim lines (after a header) drawn against `catalog`.
/// Deterministic for a given catalogue and seed.
pub fn write_claims(
    catalog: &Catalog,
    lines: u64,
    seed: u64,
    out: &mut impl Write,
) -> io::Result<()> {
    let mut rng = Rng::with_seed(seed);
    // Per payer: its product ids and the (code, system) pairs its policies list.
    type PayerDraw<'c> = (&'c str, Vec<&'c str>, Vec<(&'c str, &'c str)>);
    let payers: Vec<PayerDraw<'_>> = catalog
        .payers
        .iter()
        .map(|p| {
            let mut codes: Vec<(&str, &str)> = catalog
                .policies
                .iter()
                .filter(|pol| pol.payer == p.id)
                .flat_map(|pol| pol.code_lists.iter())
                .flat_map(|l| {
                    l.codes
                        .iter()
                        .map(move |c| (c.code.as_str(), l.system.id()))
                })
                .collect();
            codes.sort_unstable();
            codes.dedup();
            (
                p.id.as_str(),
                p.lines_of_business.iter().map(|l| l.id.as_str()).collect(),
                codes,
            )
        })
        .collect();
    if payers.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the catalogue has no payers",
        ));
    }
    writeln!(out, "{HEADER}")?;
    let mut row = String::with_capacity(160);
    let mut claim = 0u64;
    let mut line_in_claim = 0u32;
    let mut claim_lines = 0u32;
    let (mut payer, mut product, mut date, mut pos) = (0usize, "", String::new(), "11");
    for _ in 0..lines {
        if line_in_claim == claim_lines {
            // A new claim: one member, one date, one place of service.
            claim += 1;
            line_in_claim = 0;
            claim_lines = 1 + weighted(&mut rng, &[(0u32, 50), (1, 25), (2, 13), (3, 7), (5, 5)]);
            payer = rng.usize(..payers.len());
            product = pick(&mut rng, &payers[payer].1);
            date = format!(
                "{}-{:02}-{:02}",
                rng.i32(2015..=2026),
                rng.u32(1..=12),
                rng.u32(1..=28)
            );
            pos = weighted(&mut rng, &PLACES);
        }
        line_in_claim += 1;
        let (code, system) = if !payers[payer].2.is_empty() && chance(&mut rng, 0.2) {
            pick(&mut rng, &payers[payer].2)
        } else {
            pick(&mut rng, &UNGOVERNED)
        };
        let modifiers = if chance(&mut rng, 0.15) {
            pick(&mut rng, &MODIFIERS)
        } else {
            ""
        };
        row.clear();
        use std::fmt::Write as _;
        let _ = write!(
            row,
            "CLM{claim:010},{line_in_claim},{},{product},{date},{pos},{code},{system},{modifiers},",
            payers[payer].0
        );
        for i in 0..weighted(&mut rng, &[(0usize, 10), (1, 55), (2, 25), (3, 10)]) {
            if i > 0 {
                row.push(';');
            }
            row.push_str(pick(&mut rng, &DIAGNOSES));
        }
        let units = if chance(&mut rng, 0.9) {
            1
        } else {
            rng.u32(2..=4)
        };
        let _ = writeln!(row, ",{units}");
        out.write_all(row.as_bytes())?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{catalog, SynthConfig};

    #[test]
    fn claims_are_deterministic_and_shaped() {
        let cat = catalog(&SynthConfig {
            policies: 30,
            ..SynthConfig::default()
        });
        let mut a = Vec::new();
        let mut b = Vec::new();
        write_claims(&cat, 500, 9, &mut a).unwrap();
        write_claims(&cat, 500, 9, &mut b).unwrap();
        assert_eq!(a, b);
        let text = String::from_utf8(a).unwrap();
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows[0], HEADER);
        assert_eq!(rows.len(), 501);
        let columns = HEADER.split(',').count();
        assert!(rows.iter().all(|r| r.split(',').count() == columns));
        // Some lines carry governed codes, most do not.
        let governed = rows[1..]
            .iter()
            .filter(|r| !r.contains(",cpt,,") && !r.contains("992"))
            .count();
        assert!(governed > 30 && governed < 250, "{governed}");
    }
}
