//! Procedure codes: realistic code ranges ("families"), the pools of popular
//! codes that many policies share, and the per-payer source that hands out
//! codes for code lists.
//!
//! Real policies list two kinds of codes. A few codes are governed again and
//! again (the "unlisted procedure" codes such as CPT 64999 or HCPCS J3490, a
//! payer's common injection codes), while most codes belong to one policy
//! only. The generator mirrors this: each family has a small pool of popular
//! codes drawn with a Zipf-like popularity, and every other code is fresh for
//! its payer. Fresh codes are drawn at random from the family's range and
//! checked against a per-payer set, which keeps the work linear in the number
//! of codes (no scan of earlier policies).

use std::collections::HashSet;
use std::fmt::Write as _;

use fastrand::Rng;
use medpol_core::{Code, CodeSystem};

use crate::dist::{self, Zipf};
use crate::vocab::{self, Topic};

/// A range of codes that policies of one kind draw from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// HCPCS drugs and biologicals (J codes, Q biosimilars, C pass-through drugs).
    HcpcsDrug,
    /// HCPCS durable medical equipment (E and K codes).
    HcpcsDme,
    /// HCPCS orthotics and prosthetics (L codes).
    HcpcsOrthotic,
    /// HCPCS procedures, services and devices (G, S, C devices, A supplies, M, Q skin substitutes).
    HcpcsService,
    CptSurgery,
    CptRadiology,
    /// Molecular pathology (gene analyses, 81105–81599).
    CptMolecular,
    /// Chemistry, hematology and other laboratory tests.
    CptLab,
    CptMedicine,
    /// CPT Category III (four digits and `T`): emerging technology, the staple of investigational policies.
    CptCategory3,
    /// CPT Category II (four digits and `F`): performance measures, rarely listed.
    CptCategory2,
    Pcs,
}

/// Number of families (the length of [`Family::ALL`]).
const FAMILIES: usize = 12;

impl Family {
    const ALL: [Family; FAMILIES] = [
        Family::HcpcsDrug,
        Family::HcpcsDme,
        Family::HcpcsOrthotic,
        Family::HcpcsService,
        Family::CptSurgery,
        Family::CptRadiology,
        Family::CptMolecular,
        Family::CptLab,
        Family::CptMedicine,
        Family::CptCategory3,
        Family::CptCategory2,
        Family::Pcs,
    ];

    fn index(self) -> usize {
        self as usize
    }

    pub fn system(self) -> CodeSystem {
        match self {
            Family::HcpcsDrug | Family::HcpcsDme | Family::HcpcsOrthotic | Family::HcpcsService => {
                CodeSystem::Hcpcs
            }
            Family::CptSurgery
            | Family::CptRadiology
            | Family::CptMolecular
            | Family::CptLab
            | Family::CptMedicine
            | Family::CptCategory3
            | Family::CptCategory2 => CodeSystem::Cpt,
            Family::Pcs => CodeSystem::Icd10pcs,
        }
    }

    /// The numeric ranges of the family: (prefix, low, high, suffix). HCPCS
    /// codes are a letter and four digits, CPT Category I five digits,
    /// Categories II and III four digits and a letter. The ranges follow the
    /// real code sets closely enough that the codes look familiar.
    fn ranges(self) -> &'static [(&'static str, u32, u32, &'static str)] {
        match self {
            Family::HcpcsDrug => &[
                ("J", 120, 9999, ""),
                ("Q", 5101, 5399, ""),
                ("C", 9000, 9899, ""),
            ],
            Family::HcpcsDme => &[("E", 100, 8002, ""), ("K", 1, 1040, "")],
            Family::HcpcsOrthotic => &[("L", 112, 9900, "")],
            Family::HcpcsService => &[
                ("G", 8, 9999, ""),
                ("S", 12, 9999, ""),
                ("C", 1713, 2999, ""),
                ("A", 4206, 9999, ""),
                ("M", 1, 301, ""),
                ("Q", 4100, 4999, ""),
            ],
            Family::CptSurgery => &[("", 10021, 69990, "")],
            Family::CptRadiology => &[("", 70010, 79999, "")],
            Family::CptMolecular => &[("", 81105, 81599, "")],
            Family::CptLab => &[("", 80047, 81099, ""), ("", 82009, 89398, "")],
            // Evaluation and management (99202–99499, office visits such as
            // 99213) is left out: medical policies do not list it, and
            // benchmarks rely on it as the code no policy governs.
            Family::CptMedicine => &[("", 90281, 99199, ""), ("", 99500, 99607, "")],
            Family::CptCategory3 => &[("", 1, 999, "T")],
            Family::CptCategory2 => &[("", 1, 9007, "F")],
            Family::Pcs => &[],
        }
    }

    /// Writes a random code of the family into `buf` and parses it.
    fn random_code(self, rng: &mut Rng, buf: &mut String) -> Option<Code> {
        buf.clear();
        if self == Family::Pcs {
            write_pcs(rng, buf);
        } else {
            let ranges = self.ranges();
            // Weight each range by its size so the draw is uniform over the family.
            let total: u32 = ranges.iter().map(|r| r.2 - r.1 + 1).sum();
            let mut x = rng.u32(..total);
            let mut chosen = ranges[0];
            for &r in ranges {
                let size = r.2 - r.1 + 1;
                if x < size {
                    chosen = r;
                    break;
                }
                x -= size;
            }
            let (prefix, lo, hi, suffix) = chosen;
            let n = rng.u32(lo..=hi);
            // Five characters in all: one letter and four digits, five digits,
            // or four digits and a letter.
            let width = 5 - prefix.len() - suffix.len();
            let _ = write!(buf, "{prefix}{n:0width$}{suffix}");
        }
        // The shapes above are valid by construction; parsing is the proof,
        // and a failure (a bug here) only drops the code.
        Code::parse(self.system(), buf).ok()
    }

    /// The families a policy of this topic lists codes of, per system, with weights.
    pub fn for_topic(topic: Topic, system: CodeSystem) -> &'static [(Family, u32)] {
        use Family::*;
        match (system, topic) {
            (CodeSystem::Icd10pcs | CodeSystem::Icd10cm, _) => &[(Pcs, 1)],
            (CodeSystem::Hcpcs, Topic::Procedure) => &[
                (HcpcsService, 70),
                (HcpcsDrug, 10),
                (HcpcsDme, 10),
                (HcpcsOrthotic, 10),
            ],
            (CodeSystem::Hcpcs, Topic::Drug) => &[(HcpcsDrug, 90), (HcpcsService, 10)],
            (CodeSystem::Hcpcs, Topic::GeneticTest) => &[(HcpcsService, 1)],
            (CodeSystem::Hcpcs, Topic::Imaging) => &[(HcpcsService, 80), (HcpcsDrug, 20)],
            (CodeSystem::Hcpcs, Topic::Device) => {
                &[(HcpcsDme, 45), (HcpcsOrthotic, 40), (HcpcsService, 15)]
            }
            (CodeSystem::Hcpcs, Topic::Therapy) => &[(HcpcsService, 90), (HcpcsDme, 10)],
            (CodeSystem::Cpt, Topic::Procedure) => {
                &[(CptSurgery, 60), (CptCategory3, 30), (CptMedicine, 10)]
            }
            (CodeSystem::Cpt, Topic::Drug) => &[(CptMedicine, 85), (CptCategory2, 15)],
            (CodeSystem::Cpt, Topic::GeneticTest) => {
                &[(CptMolecular, 75), (CptLab, 15), (CptCategory3, 10)]
            }
            (CodeSystem::Cpt, Topic::Imaging) => &[(CptRadiology, 80), (CptCategory3, 20)],
            (CodeSystem::Cpt, Topic::Device) => {
                &[(CptSurgery, 60), (CptCategory3, 25), (CptMedicine, 15)]
            }
            (CodeSystem::Cpt, Topic::Therapy) => &[(CptMedicine, 85), (CptCategory2, 15)],
        }
    }
}

/// ICD-10-PCS: seven characters from the 34 letters and digits other than I
/// and O. Most codes are Medical and Surgical (section 0), the approach (5th
/// character) is one of the real approach values, and the qualifier is usually
/// Z ("no qualifier"), as in real code tables.
fn write_pcs(rng: &mut Rng, buf: &mut String) {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    const SECTIONS: &[(u8, u32)] = &[(b'0', 85), (b'3', 5), (b'B', 4), (b'D', 3), (b'X', 3)];
    const APPROACHES: &[u8] = b"03478X";
    let any = |rng: &mut Rng| char::from(dist::pick(rng, ALPHABET));
    buf.push(char::from(dist::weighted(rng, SECTIONS)));
    for _ in 0..3 {
        buf.push(any(rng));
    }
    buf.push(char::from(dist::pick(rng, APPROACHES)));
    buf.push(if dist::chance(rng, 0.5) {
        'Z'
    } else {
        any(rng)
    });
    buf.push(if dist::chance(rng, 0.6) {
        'Z'
    } else {
        any(rng)
    });
}

/// How many popular codes each family's pool holds.
const POOL_SIZE: usize = 64;
/// The Zipf exponent of popularity within a pool.
const ZIPF_EXPONENT: f64 = 1.1;
/// The share of code slots filled from the popular pools; the rest are fresh.
const SHARED_SHARE: f64 = 0.3;
/// Fresh-code draws before a full family falls back to the popular pool.
const FRESH_ATTEMPTS: usize = 32;

/// Real codes that policies govern over and over, placed at the top of their
/// family's pool so they are the most popular.
const POPULAR: &[(Family, &str, &str)] = &[
    (Family::HcpcsDrug, "J3490", "Unclassified drugs"),
    (Family::HcpcsDrug, "J3590", "Unclassified biologics"),
    (Family::HcpcsDrug, "C9399", "Unclassified drugs or biologicals"),
    (Family::HcpcsDrug, "J9999", "Not otherwise classified, antineoplastic drugs"),
    (Family::HcpcsDrug, "J7999", "Compounded drug, not otherwise classified"),
    (Family::HcpcsDme, "E1399", "Durable medical equipment, miscellaneous"),
    (Family::HcpcsDme, "A9999", "Miscellaneous DME supply or accessory, not otherwise specified"),
    (Family::HcpcsOrthotic, "L8699", "Prosthetic implant, not otherwise specified"),
    (Family::HcpcsOrthotic, "L2999", "Lower extremity orthoses, not otherwise specified"),
    (Family::HcpcsService, "C1889", "Implantable/insertable device, not otherwise classified"),
    (Family::HcpcsService, "Q4100", "Skin substitute, not otherwise specified"),
    (Family::HcpcsService, "M0076", "Prolotherapy"),
    (
        Family::HcpcsService,
        "G0283",
        "Electrical stimulation (unattended), to one or more areas for indication(s) other than wound care",
    ),
    (Family::CptSurgery, "64999", "Unlisted procedure, nervous system"),
    (Family::CptSurgery, "20999", "Unlisted procedure, musculoskeletal system, general"),
    (Family::CptSurgery, "27299", "Unlisted procedure, pelvis or hip joint"),
    (Family::CptSurgery, "29999", "Unlisted procedure, arthroscopy"),
    (Family::CptSurgery, "43499", "Unlisted procedure, esophagus"),
    (Family::CptSurgery, "20610", "Arthrocentesis, aspiration and/or injection, major joint or bursa"),
    (Family::CptRadiology, "76499", "Unlisted diagnostic radiographic procedure"),
    (Family::CptMolecular, "81479", "Unlisted molecular pathology procedure"),
    (Family::CptLab, "84999", "Unlisted chemistry procedure"),
    (Family::CptMedicine, "93799", "Unlisted cardiovascular service or procedure"),
    (Family::CptMedicine, "97799", "Unlisted physical medicine/rehabilitation service or procedure"),
    (Family::CptMedicine, "96999", "Unlisted special dermatological service or procedure"),
    (Family::CptMedicine, "99199", "Unlisted special service, procedure or report"),
    (
        Family::CptCategory3,
        "0232T",
        "Injection(s), platelet rich plasma, any site, including image guidance, harvesting and preparation when performed",
    ),
    (Family::Pcs, "0SG00ZZ", "Fusion of lumbar vertebral joint, open approach"),
];

/// A code with its description, ready to become a code-list entry.
#[derive(Debug, Clone)]
pub struct Listed {
    pub code: Code,
    pub description: String,
}

/// The popular codes of every family, shared by all payers of a catalogue.
pub struct CodePools {
    pools: Vec<Vec<Listed>>,
    zipf: Zipf,
}

impl CodePools {
    pub fn new(rng: &mut Rng) -> CodePools {
        let mut seen = HashSet::new();
        let mut buf = String::with_capacity(8);
        let pools = Family::ALL
            .iter()
            .map(|&family| {
                let mut pool: Vec<Listed> = POPULAR
                    .iter()
                    .filter(|(f, _, _)| *f == family)
                    .filter_map(|&(_, code, description)| {
                        let code = Code::parse(family.system(), code).ok()?;
                        seen.insert(code).then(|| Listed {
                            code,
                            description: description.to_string(),
                        })
                    })
                    .collect();
                // Fill the rest at random; the bound guards against a family too
                // small to fill (none is).
                let mut attempts = 0;
                while pool.len() < POOL_SIZE && attempts < POOL_SIZE * 16 {
                    attempts += 1;
                    if let Some(code) = family.random_code(rng, &mut buf) {
                        if seen.insert(code) {
                            pool.push(Listed {
                                code,
                                description: describe(family, code.as_str()),
                            });
                        }
                    }
                }
                pool
            })
            .collect();
        CodePools {
            pools,
            zipf: Zipf::new(POOL_SIZE, ZIPF_EXPONENT),
        }
    }

    fn pool(&self, family: Family) -> &[Listed] {
        &self.pools[family.index()]
    }

    /// A popular code of the family, by Zipf rank.
    fn popular(&self, rng: &mut Rng, family: Family) -> Option<&Listed> {
        let pool = self.pool(family);
        if pool.is_empty() {
            return None;
        }
        pool.get(self.zipf.sample(rng) % pool.len())
    }
}

/// Hands out codes for one payer's code lists: popular codes by Zipf rank,
/// otherwise codes no earlier policy of the payer has listed.
pub struct CodeSource<'a> {
    pools: &'a CodePools,
    /// Every code the payer's lists hold so far, plus all popular codes, so
    /// that fresh codes are never popular ones.
    used: HashSet<Code>,
    /// The codes of the list being built, to keep a list free of duplicates.
    list: HashSet<Code>,
    buf: String,
}

impl<'a> CodeSource<'a> {
    pub fn new(pools: &'a CodePools) -> CodeSource<'a> {
        let used = pools.pools.iter().flatten().map(|l| l.code).collect();
        CodeSource {
            pools,
            used,
            list: HashSet::new(),
            buf: String::with_capacity(8),
        }
    }

    /// Up to `count` distinct codes of the families' system, for one code list.
    /// Fewer only if the families are exhausted, which takes far more codes
    /// per payer than any benchmark uses.
    pub fn list(&mut self, rng: &mut Rng, families: &[(Family, u32)], count: usize) -> Vec<Listed> {
        self.list.clear();
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            let family = dist::weighted(rng, families);
            let shared = dist::chance(rng, SHARED_SHARE);
            let listed = if shared {
                self.popular(rng, family)
            } else {
                None
            };
            if let Some(l) = listed
                .or_else(|| self.fresh(rng, family))
                .or_else(|| self.popular(rng, family))
            {
                out.push(l);
            }
        }
        out
    }

    /// A popular code not yet in this list (a few tries: the head of the pool
    /// is often taken already in long lists).
    fn popular(&mut self, rng: &mut Rng, family: Family) -> Option<Listed> {
        for _ in 0..4 {
            let l = self.pools.popular(rng, family)?;
            if self.list.insert(l.code) {
                return Some(l.clone());
            }
        }
        None
    }

    /// A code the payer has not listed before. Once a family is nearly
    /// exhausted for the payer (small families such as molecular pathology,
    /// in very large catalogues), a code of the family that this list lacks:
    /// real policies on related subjects share such codes too.
    fn fresh(&mut self, rng: &mut Rng, family: Family) -> Option<Listed> {
        let mut reusable = None;
        for _ in 0..FRESH_ATTEMPTS {
            let Some(code) = family.random_code(rng, &mut self.buf) else {
                continue;
            };
            if self.used.insert(code) {
                self.list.insert(code);
                return Some(Listed {
                    code,
                    description: describe(family, code.as_str()),
                });
            }
            if reusable.is_none() && !self.list.contains(&code) {
                reusable = Some(code);
            }
        }
        let code = reusable?;
        self.list.insert(code);
        Some(Listed {
            code,
            description: describe(family, code.as_str()),
        })
    }
}

/// FNV-1a, to derive a stable description from a code's text: the same code
/// reads the same in every policy that lists it, without a lookup table.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A description in the style of the code set, chosen by the code's hash.
fn describe(family: Family, code: &str) -> String {
    let h = fnv(code);
    // Independent choices from different bits of the hash.
    let part = |table: &[&'static str], shift: u32| -> &'static str {
        table[((h >> shift) % table.len() as u64) as usize]
    };
    match family {
        Family::HcpcsDrug => format!(
            "Injection, {}, {}",
            part(vocab::DRUG_NAMES, 0),
            part(vocab::DOSES, 24)
        ),
        Family::HcpcsDme => part(vocab::DME_ITEMS, 0).to_string(),
        Family::HcpcsOrthotic => part(vocab::ORTHOTICS, 0).to_string(),
        Family::HcpcsService => part(vocab::HCPCS_SERVICES, 0).to_string(),
        Family::CptSurgery => format!(
            "{}, {}; {}",
            part(vocab::SURGICAL_VERBS, 0),
            part(vocab::SURGICAL_SITES, 16),
            part(vocab::SURGICAL_QUALIFIERS, 32)
        ),
        Family::CptRadiology => format!(
            "{}, {}; {}",
            part(vocab::MODALITIES, 0),
            part(vocab::IMAGING_SITES, 16),
            part(vocab::CONTRAST, 32)
        ),
        Family::CptMolecular => format!(
            "{} gene analysis; {}",
            part(vocab::GENES, 0),
            part(vocab::GENE_SCOPES, 24)
        ),
        Family::CptLab => format!(
            "{}; {}",
            part(vocab::ANALYTES, 0),
            part(vocab::LAB_METHODS, 24)
        ),
        Family::CptMedicine => part(vocab::MEDICINE_SERVICES, 0).to_string(),
        Family::CptCategory3 => part(vocab::EMERGING_TECHNOLOGY, 0).to_string(),
        Family::CptCategory2 => part(vocab::PERFORMANCE_MEASURES, 0).to_string(),
        Family::Pcs => {
            let approach = match code.as_bytes().get(4) {
                Some(b'0') => "open approach",
                Some(b'3') => "percutaneous approach",
                Some(b'4') => "percutaneous endoscopic approach",
                Some(b'7') => "via natural or artificial opening",
                Some(b'8') => "via natural or artificial opening endoscopic",
                _ => "external approach",
            };
            format!(
                "{} {}, {approach}",
                part(vocab::ROOT_OPERATIONS, 0),
                part(vocab::BODY_PARTS, 24)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_draws_valid_canonical_codes() {
        let mut rng = Rng::with_seed(3);
        let mut buf = String::new();
        for family in Family::ALL {
            for _ in 0..2_000 {
                let code = family
                    .random_code(&mut rng, &mut buf)
                    .expect("valid by construction");
                assert_eq!(code.as_str(), buf, "{family:?}");
                assert_eq!(code.system(), family.system());
            }
        }
    }

    #[test]
    fn evaluation_and_management_codes_are_never_drawn() {
        let mut rng = Rng::with_seed(4);
        let mut buf = String::new();
        for _ in 0..50_000 {
            let code = Family::CptMedicine
                .random_code(&mut rng, &mut buf)
                .expect("valid");
            let n: u32 = code.as_str().parse().expect("five digits");
            assert!(!(99202..=99499).contains(&n), "{n}");
        }
    }

    #[test]
    fn popular_codes_parse_and_pools_fill() {
        for (family, code, _) in POPULAR {
            assert!(Code::parse(family.system(), code).is_ok(), "{code}");
        }
        let pools = CodePools::new(&mut Rng::with_seed(1));
        for family in Family::ALL {
            assert_eq!(pools.pool(family).len(), POOL_SIZE, "{family:?}");
        }
    }

    #[test]
    fn lists_have_no_duplicates_even_when_long() {
        let mut rng = Rng::with_seed(5);
        let pools = CodePools::new(&mut rng);
        let mut source = CodeSource::new(&pools);
        for _ in 0..50 {
            let list = source.list(&mut rng, &[(Family::CptCategory3, 1)], 200);
            let distinct: HashSet<Code> = list.iter().map(|l| l.code).collect();
            assert_eq!(distinct.len(), list.len());
        }
    }
}
