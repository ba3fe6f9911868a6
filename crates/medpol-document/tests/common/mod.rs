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

pub fn seed() -> String {
    std::fs::read_to_string(repo().join("../shared/seed/bcbsma-mp-183-prolotherapy.txt"))
        .expect("the seed document")
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
