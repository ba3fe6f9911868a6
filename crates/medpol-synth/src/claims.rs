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
use medpol_core::CodeSystem;

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

/// One synthetic claim: one member, one date, one place of service.
struct DrawnClaim<'c> {
    id: u64,
    payer: usize,
    product: &'c str,
    date: (i32, u32, u32),
    pos: &'static str,
    diagnoses: Vec<&'static str>,
    /// (code, system, modifier, units)
    lines: Vec<(&'c str, &'c str, &'static str, u32)>,
}

/// Per payer: its id, name, product ids and the (code, system) pairs its
/// policies list (procedure codes a professional or facility line carries:
/// HCPCS and CPT; ICD-10-PCS codes go on inpatient claims' HI, not on lines).
type PayerDraw<'c> = (&'c str, &'c str, Vec<&'c str>, Vec<(&'c str, &'c str)>);

fn payer_draws(catalog: &Catalog) -> io::Result<Vec<PayerDraw<'_>>> {
    let payers: Vec<PayerDraw<'_>> = catalog
        .payers
        .iter()
        .map(|p| {
            let mut codes: Vec<(&str, &str)> = catalog
                .policies
                .iter()
                .filter(|pol| pol.payer == p.id)
                .flat_map(|pol| pol.code_lists.iter())
                .filter(|l| matches!(l.system, CodeSystem::Hcpcs | CodeSystem::Cpt))
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
                p.name.as_str(),
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
    Ok(payers)
}

/// Draws claims until `lines` service lines are drawn (the last claim is cut
/// to fit), calling `each` with every claim.
fn draw_claims<'c>(
    payers: &[PayerDraw<'c>],
    lines: u64,
    seed: u64,
    mut each: impl FnMut(&DrawnClaim<'c>) -> io::Result<()>,
) -> io::Result<()> {
    let mut rng = Rng::with_seed(seed);
    let mut left = lines;
    let mut id = 0u64;
    let mut claim = DrawnClaim {
        id: 0,
        payer: 0,
        product: "",
        date: (2025, 1, 1),
        pos: "11",
        diagnoses: Vec::new(),
        lines: Vec::new(),
    };
    while left > 0 {
        id += 1;
        let n = (1 + weighted(&mut rng, &[(0u64, 50), (1, 25), (2, 13), (3, 7), (5, 5)])).min(left);
        left -= n;
        claim.id = id;
        claim.payer = rng.usize(..payers.len());
        claim.product = pick(&mut rng, &payers[claim.payer].2);
        claim.date = (rng.i32(2015..=2026), rng.u32(1..=12), rng.u32(1..=28));
        claim.pos = weighted(&mut rng, &PLACES);
        claim.diagnoses.clear();
        // At least one diagnosis: an 837 requires one (HI), and claims carry one.
        for _ in 0..weighted(&mut rng, &[(1usize, 60), (2, 28), (3, 12)]) {
            claim.diagnoses.push(pick(&mut rng, &DIAGNOSES));
        }
        claim.lines.clear();
        for _ in 0..n {
            let (code, system) = if !payers[claim.payer].3.is_empty() && chance(&mut rng, 0.2) {
                pick(&mut rng, &payers[claim.payer].3)
            } else {
                pick(&mut rng, &UNGOVERNED)
            };
            let modifier = if chance(&mut rng, 0.15) {
                pick(&mut rng, &MODIFIERS)
            } else {
                ""
            };
            let units = if chance(&mut rng, 0.9) {
                1
            } else {
                rng.u32(2..=4)
            };
            claim.lines.push((code, system, modifier, units));
        }
        each(&claim)?;
    }
    Ok(())
}

/// Writes `lines` claim lines (after a header) drawn against `catalog`.
/// Deterministic for a given catalogue and seed; [`write_claims_x12`] with
/// the same seed writes the same claims as 837s.
pub fn write_claims(
    catalog: &Catalog,
    lines: u64,
    seed: u64,
    out: &mut impl Write,
) -> io::Result<()> {
    let payers = payer_draws(catalog)?;
    writeln!(out, "{HEADER}")?;
    let mut row = String::with_capacity(160);
    draw_claims(&payers, lines, seed, |c| {
        let (y, m, d) = c.date;
        for (i, (code, system, modifier, units)) in c.lines.iter().enumerate() {
            row.clear();
            use std::fmt::Write as _;
            let _ = write!(
                row,
                "CLM{:010},{},{},{},{y}-{m:02}-{d:02},{},{code},{system},{modifier},{},{units}",
                c.id,
                i + 1,
                payers[c.payer].0,
                c.product,
                c.pos,
                c.diagnoses.join(";"),
            );
            row.push('\n');
            out.write_all(row.as_bytes())?;
        }
        Ok(())
    })?;
    out.flush()
}

/// Claims per 837 transaction (ST/SE) in [`write_claims_x12`].
const CLAIMS_PER_TRANSACTION: u64 = 5_000;

/// Writes the claims [`write_claims`] writes for the same seed as X12 837
/// (5010) interchanges: professional (837P) claims, and institutional (837I,
/// bill type 111, revenue code 0360) for inpatient places of service. Each
/// claim's subscriber names the payer (NM1*PR: its name, its id as NM109)
/// and the product as the group number (SBR03); [`product_map_for`] gives
/// the product map that reads them back.
pub fn write_claims_x12(
    catalog: &Catalog,
    lines: u64,
    seed: u64,
    out: &mut impl Write,
) -> io::Result<()> {
    let payers = payer_draws(catalog)?;
    let mut tx = X12Writer::default();
    draw_claims(&payers, lines, seed, |c| tx.claim(out, &payers, c))?;
    tx.finish(out)?;
    out.flush()
}

/// The product map (TOML, as `medpol screen --product-map` reads) for the
/// 837s [`write_claims_x12`] writes: payer id and group number → product.
pub fn product_map_for(catalog: &Catalog) -> String {
    let mut out = String::from(
        "# Product map for synthetic 837s: the payer's id (NM109) and the group number (SBR03).\n",
    );
    for p in &catalog.payers {
        for l in &p.lines_of_business {
            out.push_str(&format!(
                "\n[[rule]]\npayer = \"{}\"\nproduct = \"{}\"\npayer_id = [\"{}\"]\ngroup = [\"{}\"]\n",
                p.id, l.id, p.id, l.id
            ));
        }
    }
    out
}

/// Open interchange state: one ISA/GS around transactions of up to
/// [`CLAIMS_PER_TRANSACTION`] claims, professional and institutional claims
/// in transactions of their own.
#[derive(Default)]
struct X12Writer {
    open: Option<bool>,
    claims: u64,
    segments: u64,
    control: u64,
    seg: String,
}

impl X12Writer {
    fn segment(&mut self, out: &mut impl Write, s: std::fmt::Arguments<'_>) -> io::Result<()> {
        use std::fmt::Write as _;
        self.seg.clear();
        let _ = self.seg.write_fmt(s);
        self.seg.push_str("~\n");
        self.segments += 1;
        out.write_all(self.seg.as_bytes())
    }

    fn close(&mut self, out: &mut impl Write) -> io::Result<()> {
        if self.open.take().is_some() {
            let (control, count) = (self.control, self.segments + 1);
            self.segment(out, format_args!("SE*{count}*{control:04}"))?;
            self.seg.clear();
            use std::fmt::Write as _;
            let _ = write!(self.seg, "GE*1*{control}~\nIEA*1*{control:09}~\n");
            out.write_all(self.seg.as_bytes())?;
        }
        Ok(())
    }

    fn open(&mut self, out: &mut impl Write, institutional: bool) -> io::Result<()> {
        self.control += 1;
        let c = self.control;
        let guide = if institutional {
            "005010X223A2"
        } else {
            "005010X222A1"
        };
        out.write_all(
            format!(
                "ISA*00*          *00*          *ZZ*MEDPOLSYNTH    *ZZ*PAYER          *250601*1200*^*00501*{c:09}*0*T*:~\nGS*HC*MEDPOLSYNTH*PAYER*20250601*1200*{c}*X*{guide}~\n"
            )
            .as_bytes(),
        )?;
        self.segments = 0;
        self.segment(out, format_args!("ST*837*{c:04}*{guide}"))?;
        self.segment(out, format_args!("BHT*0019*00*{c}*20250601*1200*CH"))?;
        self.segment(out, format_args!("NM1*41*2*MEDPOL SYNTH*****46*SYNTH"))?;
        self.segment(out, format_args!("NM1*40*2*PAYER*****46*PAYER"))?;
        self.segment(out, format_args!("HL*1**20*1"))?;
        self.segment(out, format_args!("NM1*85*2*SYNTH CLINIC*****XX*1234567893"))?;
        self.open = Some(institutional);
        self.claims = 0;
        Ok(())
    }

    fn claim(
        &mut self,
        out: &mut impl Write,
        payers: &[PayerDraw<'_>],
        c: &DrawnClaim<'_>,
    ) -> io::Result<()> {
        let institutional = matches!(c.pos, "21" | "51" | "61");
        if self.open != Some(institutional) || self.claims >= CLAIMS_PER_TRANSACTION {
            self.close(out)?;
            self.open(out, institutional)?;
        }
        self.claims += 1;
        let (payer_id, payer_name, _, _) = payers[c.payer];
        let hl = self.claims + 1;
        self.segment(out, format_args!("HL*{hl}*1*22*0"))?;
        self.segment(out, format_args!("SBR*P*18*{}******CI", c.product))?;
        self.segment(out, format_args!("NM1*IL*1*DOE*JANE****MI*M{:09}", c.id))?;
        let name = payer_name
            .to_ascii_uppercase()
            .replace(['*', '~', ':', '^'], " ");
        self.segment(out, format_args!("NM1*PR*2*{name}*****PI*{payer_id}"))?;
        let (y, m, d) = c.date;
        let claim_id = format!("CLM{:010}", c.id);
        if institutional {
            self.segment(out, format_args!("CLM*{claim_id}*100***11:A:1*Y*A*Y*Y"))?;
            self.segment(
                out,
                format_args!("DTP*434*RD8*{y}{m:02}{d:02}-{y}{m:02}{d:02}"),
            )?;
        } else {
            self.segment(
                out,
                format_args!("CLM*{claim_id}*100***{}:B:1*Y*A*Y*Y", c.pos),
            )?;
        }
        if !c.diagnoses.is_empty() {
            let hi: Vec<String> = c
                .diagnoses
                .iter()
                .enumerate()
                .map(|(i, dx)| {
                    let q = if i == 0 { "ABK" } else { "ABF" };
                    format!("{q}:{}", dx.replace('.', ""))
                })
                .collect();
            self.segment(out, format_args!("HI*{}", hi.join("*")))?;
        }
        for (i, (code, _, modifier, units)) in c.lines.iter().enumerate() {
            self.segment(out, format_args!("LX*{}", i + 1))?;
            let modifier = if modifier.is_empty() {
                String::new()
            } else {
                format!(":{modifier}")
            };
            if institutional {
                self.segment(
                    out,
                    format_args!("SV2*0360*HC:{code}{modifier}*50*UN*{units}"),
                )?;
            } else {
                self.segment(
                    out,
                    format_args!("SV1*HC:{code}{modifier}*50*UN*{units}***1"),
                )?;
            }
            self.segment(out, format_args!("DTP*472*D8*{y}{m:02}{d:02}"))?;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut impl Write) -> io::Result<()> {
        self.close(out)
    }
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
