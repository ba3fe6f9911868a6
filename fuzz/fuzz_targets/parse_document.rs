//! Fuzzes the document importer: any bytes give a policy or an error, never
//! a panic; whatever imports renders in every format and its text rendering
//! imports again.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use medpol_document::{render, Format, Importer};
use medpol_policyfile::{load_sources, Source};

fn importer() -> &'static Importer {
    static IMPORTER: OnceLock<Importer> = OnceLock::new();
    IMPORTER.get_or_init(|| {
        let source = Source {
            path: "bcbsma/payer.toml".into(),
            text: include_str!("../../policies/bcbsma/payer.toml").into(),
        };
        let payers = load_sources(vec![source])
            .expect("the bundled payer file loads")
            .catalog
            .payers;
        Importer::new(payers)
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let importer = importer();
    if let Ok(imported) = importer.import(&text, None) {
        let payer = importer
            .payer(&imported.policy.payer)
            .expect("a policy's payer is one of the importer's");
        for format in [Format::Text, Format::Markdown, Format::Html] {
            let _ = render(&imported.policy, payer, format);
        }
        let again = render(&imported.policy, payer, Format::Text);
        let _ = importer.import(&again, None);
    }
});
