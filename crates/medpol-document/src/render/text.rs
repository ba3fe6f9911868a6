//! The text and Markdown writers.
//!
//! Text is the published format: headings as plain lines, tables as
//! tab-separated rows, links as `[label](#)`, one blank line between blocks.
//! Markdown is the same document with `#` headings, anchors the table of
//! contents links to, pipe tables, and PubMed links for PMIDs.

use std::fmt::Write;

use super::{Block, Doc};

/// The PubMed page of a PMID.
pub fn pubmed_url(pmid: &str) -> String {
    format!("https://pubmed.ncbi.nlm.nih.gov/{pmid}/")
}

fn line(out: &mut String, text: &str) {
    out.push_str(text);
    out.push('\n');
}

pub fn text(doc: &Doc) -> String {
    let mut out = String::new();
    for b in &doc.banner {
        line(&mut out, b);
        line(&mut out, "");
    }
    line(&mut out, &format!("Medical Policy {}", doc.title));
    line(&mut out, "");
    line(&mut out, "Table of Contents");
    line(&mut out, "");
    for s in &doc.sections {
        if let Some(toc) = &s.toc {
            line(&mut out, &format!("- [{toc}](#)"));
        }
    }
    line(&mut out, "");
    for h in &doc.header {
        line(&mut out, h);
        line(&mut out, "");
    }
    for s in &doc.sections {
        line(&mut out, &s.heading);
        line(&mut out, "");
        for b in &s.blocks {
            text_block(&mut out, b);
            line(&mut out, "");
        }
    }
    out
}

/// A criterion as printed: four spaces a level, then a bullet or its number.
fn criterion_line(depth: usize, marker: &Option<String>, text: &str) -> String {
    let indent = "    ".repeat(depth);
    match marker {
        Some(m) => format!("{indent}{m}. {text}"),
        None => format!("{indent}- {text}"),
    }
}

fn text_block(out: &mut String, b: &Block) {
    match b {
        Block::Para(t) | Block::Sub(t) => line(out, t),
        Block::Bullets(items) => {
            for i in items {
                line(out, &format!("- {i}"));
            }
        }
        Block::Criteria(items) => {
            for (depth, marker, t) in items {
                line(out, &criterion_line(*depth, marker, t));
            }
        }
        Block::Table { header, rows } => {
            if !header.is_empty() {
                line(out, &header.join("\t"));
            }
            for r in rows {
                line(out, &r.join("\t"));
            }
        }
        Block::Links(links) => {
            for (i, (label, url)) in links.iter().enumerate() {
                if i > 0 {
                    line(out, "");
                }
                line(
                    out,
                    &format!("[{label}]({})", url.as_deref().unwrap_or("#")),
                );
            }
        }
        Block::References(refs) => {
            for r in refs {
                line(out, &format!("{}. {}", r.number, r.to_text("*")));
            }
        }
    }
}

/// A table cell in a Markdown pipe table.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

pub fn markdown(doc: &Doc) -> String {
    let mut out = String::new();
    for b in &doc.banner {
        line(&mut out, b);
        line(&mut out, "");
    }
    line(&mut out, &format!("# Medical Policy {}", doc.title));
    line(&mut out, "");
    line(&mut out, "## Table of Contents");
    line(&mut out, "");
    for s in &doc.sections {
        if let Some(toc) = &s.toc {
            line(&mut out, &format!("- [{toc}](#{})", s.id));
        }
    }
    line(&mut out, "");
    for h in &doc.header {
        line(&mut out, h);
        line(&mut out, "");
    }
    for s in &doc.sections {
        let hashes = "#".repeat(s.level as usize);
        line(&mut out, &format!("<a id=\"{}\"></a>", s.id));
        line(&mut out, "");
        line(&mut out, &format!("{hashes} {}", s.heading));
        line(&mut out, "");
        for b in &s.blocks {
            markdown_block(&mut out, b, s.level + 1);
            line(&mut out, "");
        }
    }
    out
}

fn markdown_block(out: &mut String, b: &Block, level: u8) {
    match b {
        // Hard line breaks keep a paragraph's lines as printed.
        Block::Para(t) => line(out, &t.replace('\n', "  \n")),
        Block::Sub(t) => line(out, &format!("{} {t}", "#".repeat(level as usize))),
        Block::Bullets(items) => {
            for i in items {
                line(out, &format!("- {i}"));
            }
        }
        Block::Criteria(items) => {
            for (depth, marker, t) in items {
                line(out, &criterion_line(*depth, marker, t));
            }
        }
        Block::Table { header, rows } => {
            let width = rows
                .iter()
                .map(Vec::len)
                .chain([header.len()])
                .max()
                .unwrap_or(0);
            let head: Vec<String> = (0..width)
                .map(|i| header.get(i).map_or_else(String::new, |h| cell(h)))
                .collect();
            line(out, &format!("| {} |", head.join(" | ")));
            line(out, &format!("|{}", "---|".repeat(width)));
            for r in rows {
                let cells: Vec<String> = (0..width)
                    .map(|i| r.get(i).map_or_else(String::new, |c| cell(c)))
                    .collect();
                line(out, &format!("| {} |", cells.join(" | ")));
            }
        }
        Block::Links(links) => {
            for (label, url) in links {
                match url {
                    Some(u) => line(out, &format!("- [{label}]({u})")),
                    None => line(out, &format!("- {label}")),
                }
            }
        }
        Block::References(refs) => {
            for r in refs {
                let mut text = r.to_text("*");
                if let Some(pmid) = &r.pmid {
                    let plain = format!("PMID {pmid}");
                    if let Some(at) = text.rfind(&plain) {
                        text.replace_range(at.., &format!("PMID [{pmid}]({})", pubmed_url(pmid)));
                        // What followed the PMID (a URL, an access date) is kept.
                        let tail = r.to_text("*")[at + plain.len()..].to_string();
                        text.push_str(&tail);
                    }
                }
                let _ = writeln!(out, "{}. {text}", r.number);
            }
        }
    }
}
