//! Shared helpers: the bundled policies, the seed document, the fixtures.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use medpol_core::model::{Catalog, Payer, Policy};
use medpol_document::Importer;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn bundled() -> Catalog {
    medpol_policyfile::load_dir(&repo().join("policies"))
        .expect("the bundled policies load")
        .catalog
}

/// The published seed document from `../shared`, or None when the repository
/// stands alone: then the test says on its output that it was skipped, unless
/// MEDPOL_REQUIRE_SHARED is set (as in CI), where that is a failure.
pub fn seed() -> Option<String> {
    let root = std::env::var_os("MEDPOL_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared"));
    let path = root.join("seed/bcbsma-mp-183-prolotherapy.txt");
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) => {
            if std::env::var_os("MEDPOL_REQUIRE_SHARED").is_some() {
                panic!("MEDPOL_REQUIRE_SHARED is set but {}: {e}", path.display());
            }
            skipped(&format!(
                "{} is absent; this seed test did not run",
                path.display()
            ));
            None
        }
    }
}

/// Says a test was skipped on the test output itself: a direct write to
/// stdout is not captured by the test harness (`println!` would be).
pub fn skipped(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "SKIPPED: {why}");
}

/// Policy 183 as this project renders it (`medpol render 183 --format text`):
/// a document of the seed's family that the repository carries itself.
pub fn rendered_183() -> String {
    fixture("183-prolotherapy.txt")
}

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(repo().join("tests/fixtures/documents").join(name))
        .unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

pub fn importer(catalog: &Catalog) -> Importer {
    Importer::new(catalog.payers.clone())
}

pub fn policy_183(catalog: &Catalog) -> &Policy {
    catalog
        .find_policies(Some("bcbsma"), "183")
        .next()
        .expect("policy 183")
}

pub fn payer<'a>(catalog: &'a Catalog, id: &str) -> &'a Payer {
    catalog.payer(id).expect("payer")
}
