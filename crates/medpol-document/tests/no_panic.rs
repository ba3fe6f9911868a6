//! No input makes the importer panic: arbitrary mutations of a document of
//! the seed's family (this project's rendering of policy 183; lines
//! dropped, duplicated, swapped; bytes and markup fragments spliced in) and
//! arbitrary text give a policy or an error. Whatever imports also renders
//! in every format. (The cargo-fuzz target `fuzz/fuzz_targets/parse_document.rs`
//! does the same with coverage guidance.)

mod common;

use medpol_document::{render, Format, Importer};
use proptest::prelude::*;

const FRAGMENTS: &[&str] = &[
    "\t",
    "**",
    "*",
    "[",
    "](",
    ")",
    "#",
    ":",
    ". ",
    "PMID ",
    "<http://x>",
    "Accessed ",
    "é",
    "\u{feff}",
    "\r",
    "\n",
    "- ",
    "Policy",
    "Policy Number: ",
    "Medical Policy ",
    "Date\tAction",
    "HCPCS Codes",
    "\tOutpatient",
    "INVESTIGATIONAL",
    "MEDICALLY NECESSARY",
    "not covered",
    "for ",
    "See MP #",
    "Medicare",
    "effective 1/1/2020",
    "(150.7)",
    "Indication:",
    "Products:",
    "Code tables:",
    "ICD-10-CM diagnosis codes:",
    "Notes",
    "- Kind: medicare",
    "- See references: x",
    "Commercial PPO and Indemnity\t",
    "13/2099\t",
    "M0076\t",
    "References",
    "1. ",
];

#[derive(Debug, Clone)]
enum Edit {
    DropLine(usize),
    DupLine(usize),
    SwapLines(usize, usize),
    Insert(usize, usize),
    Truncate(usize),
    Byte(usize, u8),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<usize>().prop_map(Edit::DropLine),
        any::<usize>().prop_map(Edit::DupLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        (any::<usize>(), 0..FRAGMENTS.len()).prop_map(|(a, f)| Edit::Insert(a, f)),
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Edit::Byte(a, b)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for e in edits {
        let n = lines.len().max(1);
        match *e {
            Edit::DropLine(i) if !lines.is_empty() => {
                lines.remove(i % n);
            }
            Edit::DupLine(i) if !lines.is_empty() => {
                let l = lines[i % n].clone();
                lines.insert(i % n, l);
            }
            Edit::SwapLines(a, b) if !lines.is_empty() => lines.swap(a % n, b % n),
            Edit::Insert(i, f) if !lines.is_empty() => {
                let line = &mut lines[i % n];
                let at = (i / n) % (line.len() + 1);
                let at = (0..=at)
                    .rev()
                    .find(|k| line.is_char_boundary(*k))
                    .unwrap_or(0);
                line.insert_str(at, FRAGMENTS[f]);
            }
            Edit::Truncate(i) if !lines.is_empty() => {
                let line = &mut lines[i % n];
                let at = (i / n) % (line.len() + 1);
                let at = (0..=at)
                    .rev()
                    .find(|k| line.is_char_boundary(*k))
                    .unwrap_or(0);
                line.truncate(at);
            }
            Edit::Byte(i, b) if !lines.is_empty() => {
                let line = &mut lines[i % n];
                let mut bytes = std::mem::take(line).into_bytes();
                if !bytes.is_empty() {
                    let k = (i / n) % bytes.len();
                    bytes[k] = b;
                }
                *line = String::from_utf8_lossy(&bytes).into_owned();
            }
            _ => {}
        }
    }
    lines.join("\n")
}

fn check(importer: &Importer, text: &str) {
    if let Ok(imported) = importer.import(text, None) {
        let payer = importer
            .payer(&imported.policy.payer)
            .expect("the payer imported for");
        for f in [Format::Text, Format::Markdown, Format::Html] {
            let _ = render(&imported.policy, payer, f);
        }
        let _ = importer.import(&render(&imported.policy, payer, Format::Text), None);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn mutations_of_a_family_document_never_panic(edits in prop::collection::vec(edit(), 1..12)) {
        let catalog = common::bundled();
        let importer = Importer::new(catalog.payers.clone());
        check(&importer, &apply(&common::rendered_183(), &edits));
    }

    #[test]
    fn arbitrary_text_never_panics(text in "(\\PC|\t|\n|\r){0,400}") {
        let catalog = common::bundled();
        let importer = Importer::new(catalog.payers.clone());
        check(&importer, &text);
        let with_banner = format!("Blue Cross Blue Shield of Massachusetts\nMedical Policy X\nPolicy Number: 1\n{text}");
        check(&importer, &with_banner);
    }
}
