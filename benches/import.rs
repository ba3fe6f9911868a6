//! Importing published documents: a corpus rendered (as text) from 10,000
//! synthetic policies, imported one after another on one core, and the
//! rendering itself.
//!
//! Run: `cargo bench --bench import`. divan prints documents per second
//! (`item/s`) beside the time per corpus.

use divan::counter::{BytesCount, ItemsCount};
use divan::Bencher;
use medpol_document::{render, Format, Importer};

fn main() {
    divan::main();
}

const SIZES: [usize; 1] = [10_000];

fn corpus(n: usize) -> (Importer, Vec<String>) {
    let catalog = medpol_synth::catalog(&medpol_synth::SynthConfig {
        policies: n,
        ..Default::default()
    });
    let docs = catalog
        .policies
        .iter()
        .map(|p| render(p, catalog.payer(&p.payer).expect("payer"), Format::Text))
        .collect();
    (Importer::new(catalog.payers), docs)
}

/// Parse every document into a policy (the payer found from each banner).
#[divan::bench(args = SIZES, sample_count = 5, sample_size = 1)]
fn import_corpus(bencher: Bencher, n: usize) {
    let (importer, docs) = corpus(n);
    let bytes: usize = docs.iter().map(String::len).sum();
    bencher
        .counter(ItemsCount::new(docs.len()))
        .counter(BytesCount::new(bytes))
        .bench_local(|| {
            let imported = docs
                .iter()
                .filter(|d| importer.import(d, None).is_ok())
                .count();
            assert_eq!(imported, docs.len());
            imported
        });
}

/// Render every policy as text (the other direction).
#[divan::bench(args = SIZES, sample_count = 5, sample_size = 1)]
fn render_corpus(bencher: Bencher, n: usize) {
    let catalog = medpol_synth::catalog(&medpol_synth::SynthConfig {
        policies: n,
        ..Default::default()
    });
    bencher
        .counter(ItemsCount::new(catalog.policies.len()))
        .bench_local(|| {
            catalog
                .policies
                .iter()
                .map(|p| render(p, catalog.payer(&p.payer).expect("payer"), Format::Text).len())
                .sum::<usize>()
        });
}

/// Growth in one document: policy 183 with `n` like statements added (each
/// needs its own id). Linear: 4× the statements should cost about 4× (it was
/// cubic: 29 s at 4,000).
#[divan::bench(args = [1_000, 4_000], sample_count = 5, sample_size = 1)]
fn import_like_statements(bencher: Bencher, n: usize) {
    let seed = include_str!("../tests/fixtures/documents/183-prolotherapy.txt");
    let anchor =
        "Prolotherapy is considered [INVESTIGATIONAL](#) as a treatment of musculoskeletal pain.\n";
    let added: String = (0..n)
        .map(|i| format!("\nProlotherapy variant {i} is considered [INVESTIGATIONAL](#) as a treatment of pain.\n"))
        .collect();
    let doc = seed.replacen(anchor, &format!("{anchor}{added}"), 1);
    let bundled = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let payers = medpol_policyfile::load_dir(&bundled)
        .expect("the bundled policies load")
        .catalog
        .payers;
    let importer = Importer::new(payers);
    bencher
        .counter(ItemsCount::new(n))
        .bench_local(|| importer.import(&doc, Some("bcbsma")).map(|i| i.mapped));
}
