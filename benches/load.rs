//! Loading synthetic policy directories of 100, 1,000 and 10,000 files:
//! reading, parsing and validating (`load_dir`), and compiling the engine.
//!
//! Run: `cargo bench --bench load`. The target is loading 10,000 policy
//! files within 1 s.

use divan::Bencher;
use medpol_core::Engine;

fn main() {
    divan::main();
}

const SIZES: [usize; 3] = [100, 1_000, 10_000];

fn written(n: usize) -> tempfile::TempDir {
    let catalog = medpol_synth::catalog(&medpol_synth::SynthConfig {
        policies: n,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    medpol_policyfile::write_catalog(&catalog, dir.path()).unwrap();
    dir
}

/// Read + parse + validate every file (all cores, as `medpol` does).
#[divan::bench(args = SIZES, sample_count = 10, sample_size = 1)]
fn load_dir(bencher: Bencher, n: usize) {
    let dir = written(n);
    bencher.bench_local(|| {
        medpol_policyfile::load_dir(dir.path())
            .unwrap()
            .catalog
            .policies
            .len()
    });
}

/// Read + parse + validate, then compile the indexes: everything before the first answer.
#[divan::bench(args = SIZES, sample_count = 10, sample_size = 1)]
fn load_and_compile(bencher: Bencher, n: usize) {
    let dir = written(n);
    bencher.bench_local(|| {
        let loaded = medpol_policyfile::load_dir(dir.path()).unwrap();
        Engine::compile(loaded.catalog).unwrap().indexed_codes()
    });
}
