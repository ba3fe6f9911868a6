//! The document adapter: published medical-policy documents in, policies
//! out, and policies back out as documents.
//!
//! Payers publish policies as documents (the seed is BCBSMA's policy 183:
//! plain text with Markdown-style links and bold, tab-separated tables, a
//! fixed set of section headings). [`Importer::import`] reads a document of
//! that family into a [`Policy`], accounting for every line: each non-blank
//! line is mapped to a field (or to the document's structure) or reported
//! unmapped with its number. A document that cannot become a policy (no
//! number, no statement, a table row that does not parse, a product label the
//! payer does not have) is an [`ImportError`] naming the line and what was
//! expected there.
//!
//! [`render`] prints a policy as the published document: as text in the
//! published format (so that importing it gives the same policy back), as
//! Markdown with working anchors and links, or as a standalone HTML page.
//! Fields the published format carries only implicitly (ids, the effective
//! date, the Medicare note) are derived by one set of rules ([`derive`]) on
//! both sides; what those rules cannot recover is printed explicitly (e.g.
//! an `Effective Date:` line, a `Notes` section).
//!
//! ```
//! use medpol_document::{render, Format, Importer};
//! # let source = medpol_policyfile::Source {
//! #     path: "bcbsma/payer.toml".into(),
//! #     text: include_str!("../../../policies/bcbsma/payer.toml").into(),
//! # };
//! # let payers = medpol_policyfile::load_sources(vec![source]).unwrap().catalog.payers;
//! # let seed = include_str!("../../../tests/fixtures/documents/183-prolotherapy.txt");
//! let importer = Importer::new(payers);
//! let imported = importer.import(seed, None).unwrap();
//! assert_eq!(imported.policy.number, "183");
//! assert!(imported.unmapped.is_empty());
//! let payer = importer.payer("bcbsma").unwrap();
//! let text = render(&imported.policy, payer, Format::Text);
//! assert_eq!(importer.import(&text, None).unwrap().policy, imported.policy);
//! ```

pub mod derive;
mod error;
mod labels;
mod lines;
mod parse;
mod reference;
mod render;
mod status;

use medpol_core::model::{Payer, Policy};

pub use crate::error::{ImportError, Problem};
pub use crate::labels::Labels;
pub use crate::render::{as_of, html_fragments, render, Format};

/// The largest document `import` reads: published policies are tens of
/// kilobytes; a limit keeps a wrong file from costing minutes and gigabytes.
pub const MAX_DOCUMENT_BYTES: usize = 8 << 20;

/// The text of a document file, or why the file is not one: too large,
/// empty, or binary (say, a PDF given where its text was expected). Invalid
/// UTF-8 elsewhere is replaced, and the line that holds it is then reported
/// like any other that does not parse.
///
/// ```
/// use medpol_document::{document_text, Problem};
/// assert_eq!(document_text(b"Medical Policy X\n").unwrap(), "Medical Policy X\n");
/// assert_eq!(document_text(b" \n").unwrap_err().problem, Problem::Empty);
/// assert_eq!(document_text(b"%PDF-1.7\n\0").unwrap_err().problem, Problem::Binary { offset: 9 });
/// let huge = vec![b'x'; medpol_document::MAX_DOCUMENT_BYTES + 1];
/// assert!(matches!(document_text(&huge).unwrap_err().problem, Problem::TooLarge { .. }));
/// ```
pub fn document_text(bytes: &[u8]) -> Result<std::borrow::Cow<'_, str>, ImportError> {
    let problem = if bytes.len() > MAX_DOCUMENT_BYTES {
        Some(Problem::TooLarge { bytes: bytes.len() })
    } else if bytes.iter().all(u8::is_ascii_whitespace) {
        Some(Problem::Empty)
    } else {
        bytes
            .iter()
            .position(|b| *b == 0)
            .map(|offset| Problem::Binary { offset })
    };
    match problem {
        Some(problem) => Err(ImportError { line: 1, problem }),
        None => Ok(String::from_utf8_lossy(bytes)),
    }
}

/// A document read into a policy, with its line accounting.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub policy: Policy,
    /// Non-blank lines mapped to a field or to the document's structure.
    pub mapped: usize,
    /// Non-blank lines that map to nothing, in order.
    pub unmapped: Vec<Unmapped>,
    /// What the importer settled by rule rather than read, for the author
    /// to check: diagnosis tables bound to statements, statements that
    /// govern code tables for products the tables do not name.
    pub bindings: Vec<String>,
}

/// A line the importer could not map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmapped {
    /// 1-based.
    pub line: usize,
    pub text: String,
}

/// Imports documents for a set of payers (their product labels prepared once).
#[derive(Debug, Clone)]
pub struct Importer {
    payers: Vec<(Payer, Labels)>,
}

impl Importer {
    pub fn new(payers: Vec<Payer>) -> Importer {
        Importer {
            payers: payers
                .into_iter()
                .map(|p| {
                    let labels = Labels::new(&p);
                    (p, labels)
                })
                .collect(),
        }
    }

    pub fn payer(&self, id: &str) -> Option<&Payer> {
        self.payers.iter().find(|(p, _)| p.id == id).map(|(p, _)| p)
    }

    fn known(&self) -> String {
        let ids: Vec<&str> = self.payers.iter().map(|(p, _)| p.id.as_str()).collect();
        if ids.is_empty() {
            "(none)".to_string()
        } else {
            ids.join(", ")
        }
    }

    /// Reads one document. The payer is `payer` (an id) if given, else the
    /// one whose licensee statement or name the banner prints.
    pub fn import(&self, text: &str, payer: Option<&str>) -> Result<Imported, ImportError> {
        let lines = lines::split(text);
        let index = match payer {
            Some(id) => self
                .payers
                .iter()
                .position(|(p, _)| p.id == id)
                .ok_or_else(|| ImportError {
                    line: 1,
                    problem: Problem::UnknownPayer {
                        id: id.to_string(),
                        known: self.known(),
                    },
                })?,
            None => parse::identify_payer(&lines, &self.payers).ok_or_else(|| ImportError {
                line: 1,
                problem: Problem::NoPayer {
                    known: self
                        .payers
                        .iter()
                        .map(|(p, _)| format!("\"{}\"", p.name))
                        .collect::<Vec<_>>()
                        .join(", "),
                },
            })?,
        };
        let (payer, labels) = &self.payers[index];
        parse::parse(&lines, payer, labels)
    }
}
