//! `determine` on synthetic catalogues of 100, 1,000 and 10,000 policies.
//!
//! Run: `cargo bench --bench determine` (divan prints median and mean per
//! call). The target is a median of at most 1 µs per single-line
//! determination at 10,000 policies, flat in the number of policies.

use chrono::NaiveDate;
use divan::Bencher;
use medpol_core::code::{Code, CodeSystem};
use medpol_core::determination::Reason;
use medpol_core::model::Catalog;
use medpol_core::request::{Request, ServiceLine};
use medpol_core::{Engine, Setting};

fn main() {
    divan::main();
}

const SIZES: [usize; 3] = [100, 1_000, 10_000];

/// A request for a code that exactly one policy lists, for a product that
/// code list covers, on a date the policy is in effect: the common "hit".
fn hit_request(catalog: &Catalog) -> Request {
    let mut uses = std::collections::HashMap::new();
    for p in &catalog.policies {
        for l in &p.code_lists {
            for c in &l.codes {
                *uses
                    .entry((p.payer.clone(), l.system, c.code.clone()))
                    .or_insert(0) += 1;
            }
        }
    }
    for p in &catalog.policies {
        let payer = catalog.payer(&p.payer).unwrap();
        for l in &p.code_lists {
            for c in &l.codes {
                if uses[&(p.payer.clone(), l.system, c.code.clone())] != 1 {
                    continue;
                }
                let set = l
                    .products
                    .iter()
                    .filter_map(|id| payer.resolve_products(id))
                    .next()
                    .unwrap();
                let product = payer.members(set).next().unwrap();
                return Request {
                    payer: Some(p.payer.clone()),
                    product: product.id.clone(),
                    setting: Setting::Outpatient,
                    date: NaiveDate::from_ymd_opt(2025, 6, 1)
                        .unwrap()
                        .max(p.effective),
                    lines: vec![ServiceLine::new(Code::parse(l.system, &c.code).unwrap())],
                    diagnoses: vec![],
                };
            }
        }
    }
    panic!("no code listed by exactly one policy");
}

/// A request the policy answers with its criteria: a code whose statement is
/// medically necessary with criteria for an indication bound to diagnoses,
/// with one of those diagnoses (the engine selects the statement among the
/// policy's indications and lists the criteria tree).
fn criteria_request(engine: &Engine, catalog: &Catalog) -> Option<Request> {
    for p in &catalog.policies {
        let payer = catalog.payer(&p.payer).unwrap();
        for s in &p.statements {
            if s.criteria.is_empty() || s.diagnoses.is_empty() {
                continue;
            }
            let first = &s.diagnoses[0];
            let dx = first.split('-').next().unwrap();
            let Ok(dx) = Code::parse(CodeSystem::Icd10cm, dx) else {
                continue;
            };
            for l in p.code_lists.iter().filter(|l| l.system.is_procedure()) {
                let Some(code) = l.codes.first() else {
                    continue;
                };
                for id in &s.products {
                    let Some(set) = payer.resolve_products(id) else {
                        continue;
                    };
                    for product in payer.members(set) {
                        let request = Request {
                            payer: Some(p.payer.clone()),
                            product: product.id.clone(),
                            setting: Setting::Outpatient,
                            date: NaiveDate::from_ymd_opt(2025, 6, 1)
                                .unwrap()
                                .max(p.effective),
                            lines: vec![ServiceLine::new(
                                Code::parse(l.system, &code.code).unwrap(),
                            )],
                            diagnoses: vec![dx],
                        };
                        let d = engine.determine(&request).ok()?;
                        let line = &d.lines[0];
                        let selects = line.policies.len() == 1
                            && line.reasons == [Reason::MedicalNecessityCriteria]
                            && !line.criteria.is_empty();
                        // Without the diagnosis the same line must depend on it.
                        let mut unknown = request.clone();
                        unknown.diagnoses.clear();
                        let u = engine.determine(&unknown).ok()?;
                        let depends = u.lines[0].reasons.contains(&Reason::DependsOnIndication)
                            && !u.lines[0].indications.is_empty();
                        if selects && depends {
                            return Some(request);
                        }
                    }
                }
            }
        }
    }
    None
}

fn engine(n: usize) -> (Engine, Request) {
    let catalog = medpol_synth::catalog(&medpol_synth::SynthConfig {
        policies: n,
        ..Default::default()
    });
    let request = hit_request(&catalog);
    let engine = Engine::compile(catalog).unwrap();
    (engine, request)
}

/// A synthetic catalogue of `n` policies and its [`criteria_request`].
fn criteria_engine(n: usize) -> (Engine, Request) {
    let catalog = medpol_synth::catalog(&medpol_synth::SynthConfig {
        policies: n,
        ..Default::default()
    });
    let engine = Engine::compile(catalog.clone()).unwrap();
    let request =
        criteria_request(&engine, &catalog).expect("a criteria statement bound to diagnoses");
    (engine, request)
}

/// A code one policy governs: the answer carries a policy, citations and notes.
#[divan::bench(args = SIZES)]
fn determine_hit(bencher: Bencher, n: usize) {
    let (engine, request) = engine(n);
    let d = engine.determine(&request).unwrap();
    assert_eq!(d.lines[0].policies.len(), 1);
    bencher.bench_local(|| {
        engine
            .determine(divan::black_box(&request))
            .unwrap()
            .lines
            .len()
    });
}

/// A code whose policy distinguishes indications, with a diagnosis that
/// selects the medically-necessary one: the answer lists its criteria tree.
#[divan::bench(args = SIZES)]
fn determine_criteria(bencher: Bencher, n: usize) {
    let (engine, request) = criteria_engine(n);
    bencher.bench_local(|| {
        engine
            .determine(divan::black_box(&request))
            .unwrap()
            .lines
            .len()
    });
}

/// The same code without a diagnosis: the answer depends on the indication
/// and lists the indications with their diagnosis codes.
#[divan::bench(args = SIZES)]
fn determine_indication_unknown(bencher: Bencher, n: usize) {
    let (engine, mut request) = criteria_engine(n);
    request.diagnoses.clear();
    bencher.bench_local(|| {
        engine
            .determine(divan::black_box(&request))
            .unwrap()
            .lines
            .len()
    });
}

/// A code no policy governs (`99213`): the commonest line in a claims file.
#[divan::bench(args = SIZES)]
fn determine_miss(bencher: Bencher, n: usize) {
    let (engine, mut request) = engine(n);
    request.lines = vec![ServiceLine::new(Code::infer_procedure("99213").unwrap())];
    let d = engine.determine(&request).unwrap();
    assert!(d.lines[0].policies.is_empty());
    bencher.bench_local(|| {
        engine
            .determine(divan::black_box(&request))
            .unwrap()
            .lines
            .len()
    });
}
