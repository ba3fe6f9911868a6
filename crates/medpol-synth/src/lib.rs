//! Realistic synthetic medical-policy catalogues for benchmarks and scale tests.
//!
//! [`catalog`] builds a [`Catalog`] of any size that looks like published
//! policies (modelled on `policies/bcbsma/`): payers with commercial, Medicare
//! Advantage and sometimes Medicaid and Exchange products; policies with
//! one to four statements of mixed status, indications named by ICD-10-CM
//! codes, prior-authorization tables, code tables whose sizes and code
//! popularity are skewed as in real catalogues, notes, history and references.
//!
//! Evaluation-and-management CPT codes (99202–99499, e.g. office visit 99213)
//! are never listed, as in real policies, so benchmarks can use them as the
//! code no policy governs; [`sample_governed_codes`] gives codes that hit.
//!
//! Every catalogue validates with no errors and no warnings
//! ([`medpol_core::validate::validate_catalog`]) and compiles
//! ([`medpol_core::Engine::compile`]). Generation is deterministic for a given
//! [`SynthConfig`] and linear in the number of policies.
//!
//! ```
//! let catalog = medpol_synth::catalog(&medpol_synth::SynthConfig::default());
//! assert_eq!(catalog.policies.len(), 100);
//! let hits = medpol_synth::sample_governed_codes(&catalog, 5);
//! assert_eq!(hits.len(), 5);
//! ```

mod claims;
mod codes;
mod dist;
mod payer;
mod policy;
mod vocab;

use std::collections::HashMap;

use fastrand::Rng;
use medpol_core::model::Catalog;
use medpol_core::CodeSystem;

pub use crate::claims::{product_map_for, write_claims, write_claims_x12, HEADER as CLAIMS_HEADER};
use crate::codes::{CodePools, CodeSource};
use crate::policy::PolicyInput;

/// The size and seed of a synthetic catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SynthConfig {
    /// The number of policies, spread over the payers.
    pub policies: usize,
    /// The number of payers (`synth-a`, `synth-b`, …); at least one is generated.
    pub payers: usize,
    pub seed: u64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            policies: 100,
            payers: 3,
            seed: 183,
        }
    }
}

/// Builds a catalogue. Deterministic for a given config.
///
/// Policies are grouped by payer and numbered `1`, `2`, … within each payer.
/// Payers get unequal shares of the policies (each payer's weight is drawn
/// from `[1, 2)`), as real payers publish catalogues of different sizes.
pub fn catalog(config: &SynthConfig) -> Catalog {
    let mut rng = Rng::with_seed(config.seed);
    let payer_count = config.payers.max(1);
    // Popular codes are shared by all payers: the same unlisted-procedure and
    // common drug codes appear in every payer's policies.
    let pools = CodePools::new(&mut rng);
    let plans: Vec<payer::PayerPlan> = (0..payer_count)
        .map(|i| payer::generate(&mut rng, i))
        .collect();
    let shares = split(&mut rng, config.policies, payer_count);

    let mut policies = Vec::with_capacity(config.policies);
    for (plan, &count) in plans.iter().zip(&shares) {
        // Titles first, so that related policies can name any policy of the payer.
        let outlines: Vec<vocab::Outline> = (0..count).map(|_| vocab::outline(&mut rng)).collect();
        let mut source = CodeSource::new(&pools);
        for index in 0..count {
            let input = PolicyInput {
                plan,
                outlines: &outlines,
                index,
            };
            policies.push(policy::generate(&mut rng, &input, &mut source));
        }
    }
    Catalog {
        payers: plans.into_iter().map(|p| p.payer).collect(),
        policies,
    }
}

/// Splits `total` policies over `parts` payers in proportion to random
/// weights in `[1, 2)`; the remainder of the rounding goes to the first payers.
fn split(rng: &mut Rng, total: usize, parts: usize) -> Vec<usize> {
    let weights: Vec<f64> = (0..parts).map(|_| 1.0 + rng.f64()).collect();
    let sum: f64 = weights.iter().sum();
    let mut shares: Vec<usize> = weights
        .iter()
        .map(|w| (total as f64 * w / sum) as usize)
        .collect();
    // The floors fall short of `total` by less than `parts` (rounding can
    // only lower them); hand the remainder out one by one.
    let assigned: usize = shares.iter().sum();
    for i in 0..total.saturating_sub(assigned) {
        shares[i % parts] += 1;
    }
    shares
}

/// The procedure codes most often governed in the catalogue, most frequent
/// first (ties by system, then code), with their system and canonical text:
/// codes that a benchmark's request is sure to hit. Counts every code-list
/// entry of every policy; returns fewer than `n` if the catalogue has fewer
/// distinct codes.
pub fn sample_governed_codes(catalog: &Catalog, n: usize) -> Vec<(CodeSystem, String)> {
    let mut counts: HashMap<(CodeSystem, &str), usize> = HashMap::new();
    for policy in &catalog.policies {
        for list in policy.code_lists.iter().filter(|l| l.system.is_procedure()) {
            for entry in &list.codes {
                *counts
                    .entry((list.system, entry.code.as_str()))
                    .or_default() += 1;
            }
        }
    }
    let mut ranked: Vec<((CodeSystem, &str), usize)> = counts.into_iter().collect();
    ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked
        .into_iter()
        .take(n)
        .map(|((system, code), _)| (system, code.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use medpol_core::model::{CoverageStatus, PaRequirement};
    use medpol_core::validate::validate_catalog;
    use medpol_core::{Code, Engine};

    use super::*;

    fn config(policies: usize, payers: usize, seed: u64) -> SynthConfig {
        SynthConfig {
            policies,
            payers,
            seed,
        }
    }

    #[test]
    fn catalogs_validate_cleanly_and_compile() {
        for policies in [1, 50, 500] {
            for seed in 1..=5 {
                let cfg = config(policies, 3, seed);
                let catalog = catalog(&cfg);
                assert_eq!(catalog.policies.len(), policies);
                let issues = validate_catalog(&catalog);
                if !issues.is_empty() {
                    for (subject, issue) in &issues {
                        let what = match subject {
                            medpol_core::validate::Subject::Payer(i) => {
                                catalog.payers[*i].id.clone()
                            }
                            medpol_core::validate::Subject::Policy(i) => catalog.policies[*i].key(),
                        };
                        eprintln!(
                            "{what}: {} at {}: {}",
                            issue.severity, issue.path, issue.message
                        );
                    }
                    panic!("{cfg:?}: {} validation issues", issues.len());
                }
                if let Err(e) = Engine::compile(catalog) {
                    panic!("{cfg:?}: does not compile: {e}");
                }
            }
        }
    }

    #[test]
    fn other_payer_counts_validate_too() {
        for (policies, payers) in [(0, 0), (3, 0), (5, 10), (300, 1), (200, 30)] {
            let catalog = catalog(&config(policies, payers, 7));
            assert_eq!(catalog.payers.len(), payers.max(1));
            assert_eq!(catalog.policies.len(), policies);
            assert!(
                validate_catalog(&catalog).is_empty(),
                "{policies} policies, {payers} payers"
            );
            assert!(Engine::compile(catalog).is_ok());
        }
    }

    #[test]
    fn same_config_same_catalog_and_other_seed_differs() {
        let cfg = config(120, 3, 42);
        assert_eq!(catalog(&cfg), catalog(&cfg));
        assert_ne!(catalog(&cfg), catalog(&config(120, 3, 43)));
        assert_eq!(
            catalog(&SynthConfig::default()),
            catalog(&config(100, 3, 183))
        );
    }

    #[test]
    fn payers_and_ids_look_like_the_real_ones() {
        let catalog = catalog(&config(300, 4, 11));
        let ids: Vec<&str> = catalog.payers.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["synth-a", "synth-b", "synth-c", "synth-d"]);
        assert_eq!(catalog.payers[0].name, "Synthetic Health Plan A");
        let dashed =
            |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
        for p in &catalog.payers {
            assert!((4..=8).contains(&p.lines_of_business.len()));
            for id in p.product_ids() {
                assert!(dashed(id), "{id}");
            }
            for g in [
                "commercial-managed-care",
                "commercial-ppo-indemnity",
                "commercial",
                "medicare-advantage",
            ] {
                assert!(p.resolve_products(g).is_some_and(|s| !s.is_empty()), "{g}");
            }
        }
        for pol in &catalog.policies {
            assert!((1..=4).contains(&pol.statements.len()));
            assert!((1..=3).contains(&pol.code_lists.len()));
            for s in &pol.statements {
                assert!(dashed(&s.id), "{}", s.id);
            }
            assert!(
                (3..=15).contains(&pol.history.len()),
                "{}",
                pol.history.len()
            );
            assert!(pol.history.iter().all(|h| h.date.start() >= pol.effective));
            assert!((5..=40).contains(&pol.references.len()));
            assert!((2005..=2024).contains(&chrono::Datelike::year(&pol.effective)));
            assert_eq!(pol.prior_auth.len(), 2);
            assert!(pol
                .notes
                .iter()
                .any(|n| n.kind == medpol_core::model::NoteKind::ContractBenefits));
        }
        // Numbers are 1..n per payer.
        for p in &catalog.payers {
            let numbers: Vec<&str> = catalog
                .policies
                .iter()
                .filter(|x| x.payer == p.id)
                .map(|x| x.number.as_str())
                .collect();
            let expected: Vec<String> = (1..=numbers.len()).map(|i| i.to_string()).collect();
            assert_eq!(numbers, expected);
        }
    }

    #[test]
    fn distributions_are_skewed_like_real_catalogues() {
        let catalog = catalog(&config(3000, 3, 5));
        let policies = &catalog.policies;

        // Statuses: investigational most common, then medically necessary.
        let mut statuses: HashMap<CoverageStatus, usize> = HashMap::new();
        for s in policies.iter().flat_map(|p| &p.statements) {
            *statuses.entry(s.status).or_default() += 1;
        }
        let count = |s| statuses.get(&s).copied().unwrap_or(0);
        assert!(count(CoverageStatus::Investigational) > count(CoverageStatus::MedicallyNecessary));
        assert!(
            count(CoverageStatus::MedicallyNecessary)
                > count(CoverageStatus::NotMedicallyNecessary)
        );
        assert!(count(CoverageStatus::Covered) > 0 && count(CoverageStatus::NotCovered) > 0);
        for s in policies.iter().flat_map(|p| &p.statements) {
            if s.status == CoverageStatus::MedicallyNecessary {
                assert!((2..=6).contains(&s.criteria.len()));
            }
        }
        assert!(policies
            .iter()
            .flat_map(|p| &p.statements)
            .any(|s| !s.diagnoses.is_empty()));

        // Prior authorization mixes every requirement.
        let requirements: HashSet<PaRequirement> = policies
            .iter()
            .flat_map(|p| &p.prior_auth)
            .flat_map(|r| &r.rows)
            .map(|r| r.requirement)
            .collect();
        assert_eq!(requirements.len(), 4);

        // Code-table sizes: most policies list at most 10 codes, some 30+.
        let sizes: Vec<usize> = policies
            .iter()
            .map(|p| p.code_lists.iter().map(|l| l.codes.len()).sum())
            .collect();
        let small = sizes.iter().filter(|&&n| n <= 10).count();
        let large = sizes.iter().filter(|&&n| n >= 30).count();
        assert!(small * 100 > sizes.len() * 70, "{small} of {}", sizes.len());
        assert!(large >= 20, "{large}");
        assert!(sizes.iter().all(|&n| (1..=600).contains(&n)));

        // Systems: HCPCS most, then CPT, some ICD-10-PCS.
        let mut systems: HashMap<CodeSystem, usize> = HashMap::new();
        for l in policies.iter().flat_map(|p| &p.code_lists) {
            *systems.entry(l.system).or_default() += 1;
        }
        let sys = |s| systems.get(&s).copied().unwrap_or(0);
        assert!(sys(CodeSystem::Hcpcs) > sys(CodeSystem::Cpt));
        assert!(sys(CodeSystem::Cpt) > sys(CodeSystem::Icd10pcs));
        assert!(sys(CodeSystem::Icd10pcs) > 0);
        assert_eq!(sys(CodeSystem::Icd10cm), 0);

        // Codes are canonical; some recur across a payer's policies, most do not.
        let mut per_payer: HashMap<(&str, CodeSystem, &str), HashSet<&str>> = HashMap::new();
        for p in policies {
            for l in &p.code_lists {
                for e in &l.codes {
                    let code = Code::parse(l.system, &e.code).expect("valid code");
                    assert_eq!(code.as_str(), e.code);
                    per_payer
                        .entry((p.payer.as_str(), l.system, e.code.as_str()))
                        .or_default()
                        .insert(p.number.as_str());
                }
            }
        }
        let shared = per_payer.values().filter(|s| s.len() >= 2).count();
        let widely = per_payer.values().filter(|s| s.len() >= 10).count();
        assert!(shared > 0 && widely > 0, "{shared} {widely}");
        assert!(
            shared * 5 < per_payer.len(),
            "{shared} of {}",
            per_payer.len()
        );

        // Related policies resolve within the payer, and some policies have them.
        assert!(policies.iter().any(|p| !p.related_policies.is_empty()));
        assert!(policies.iter().any(|p| p
            .notes
            .iter()
            .any(|n| n.kind == medpol_core::model::NoteKind::Medicare)));
    }

    #[test]
    fn governed_codes_are_the_most_frequent_and_hit() {
        let catalog = catalog(&config(400, 2, 3));
        let top = sample_governed_codes(&catalog, 20);
        assert_eq!(top.len(), 20);
        let distinct: HashSet<&(CodeSystem, String)> = top.iter().collect();
        assert_eq!(distinct.len(), 20);
        let listed = |system: CodeSystem, code: &str| {
            catalog
                .policies
                .iter()
                .flat_map(|p| &p.code_lists)
                .filter(|l| l.system == system)
                .flat_map(|l| &l.codes)
                .filter(|e| e.code == code)
                .count()
        };
        let counts: Vec<usize> = top.iter().map(|(s, c)| listed(*s, c)).collect();
        assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
        assert!(counts[0] >= 5, "{counts:?}");
        assert!(sample_governed_codes(&catalog, 0).is_empty());
        assert!(sample_governed_codes(&Catalog::default(), 3).is_empty());
        let all = sample_governed_codes(&catalog, usize::MAX);
        assert!(all.len() > 20);
    }

    #[test]
    fn governed_codes_hit_in_the_engine() {
        use medpol_core::{Coverage, Reason, Request, ServiceLine, Setting};
        let catalog = catalog(&config(600, 3, 8));
        let top = sample_governed_codes(&catalog, 10);
        let engine = Engine::compile(catalog).expect("compiles");
        let date = chrono::NaiveDate::from_ymd_opt(2025, 6, 1).expect("valid date");
        for (system, code) in &top {
            let code = Code::parse(*system, code).expect("valid code");
            let mut hits = 0;
            for payer in &engine.catalog().payers {
                for lob in &payer.lines_of_business {
                    let request = Request {
                        payer: Some(payer.id.clone()),
                        product: lob.id.clone(),
                        setting: Setting::Outpatient,
                        date,
                        lines: vec![ServiceLine::new(code)],
                        diagnoses: Vec::new(),
                    };
                    let answer = engine.determine(&request).expect("a valid request");
                    for line in &answer.lines {
                        // Every listed product has a statement or a list status.
                        assert!(
                            !line.reasons.contains(&Reason::NoCoverageStatement),
                            "{code:?}"
                        );
                        if line.coverage != Coverage::NoPolicy {
                            hits += 1;
                        }
                    }
                }
            }
            assert!(hits > 0, "{code:?} governs nothing");
        }
    }

    #[test]
    fn split_is_exact() {
        let mut rng = Rng::with_seed(1);
        for (total, parts) in [(0, 1), (1, 3), (10, 3), (10_000, 7), (5, 10)] {
            let shares = split(&mut rng, total, parts);
            assert_eq!(shares.len(), parts);
            assert_eq!(shares.iter().sum::<usize>(), total);
        }
    }

    /// Generation speed at the scale benchmarks use. Debug builds are slow, so
    /// this only checks that the work is not quadratic (a generous bound);
    /// release builds generate 10,000 policies far faster.
    #[test]
    fn ten_thousand_policies_generate_quickly() {
        let start = std::time::Instant::now();
        let catalog = catalog(&config(10_000, 3, 183));
        let elapsed = start.elapsed();
        assert_eq!(catalog.policies.len(), 10_000);
        eprintln!("10,000 policies in {elapsed:?}");
        assert!(elapsed.as_secs() < 60, "{elapsed:?}");
    }
}
