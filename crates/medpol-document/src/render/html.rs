//! The HTML writer: one standalone page. Every piece of text is escaped;
//! the inline markup the published text carries (`**bold**`, `*journal*`,
//! `[label](url)`, `<url>`) becomes elements, and PMIDs link to PubMed.

use std::fmt::Write;

use super::text::pubmed_url;
use super::{Block, Doc};

/// Escapes text for element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A link target that is safe to put in `href`: web and mail links and
/// in-page anchors; anything else (e.g. `javascript:`) is dropped.
fn safe_url(url: &str) -> Option<&str> {
    let u = url.trim();
    let lower = u.to_ascii_lowercase();
    let ok = lower.starts_with("https://")
        || lower.starts_with("http://")
        || lower.starts_with("mailto:")
        || (u.starts_with('#') && u.len() > 1);
    ok.then_some(u)
}

/// Inline markup to HTML.
pub fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut strong = false;
    let mut em = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("**") {
            if strong || after.contains("**") {
                out.push_str(if strong { "</strong>" } else { "<strong>" });
                strong = !strong;
                rest = after;
                continue;
            }
        }
        if let Some(after) = rest.strip_prefix('*') {
            if em || after.contains('*') {
                out.push_str(if em { "</em>" } else { "<em>" });
                em = !em;
                rest = after;
                continue;
            }
        }
        if c == '[' {
            if let Some(close) = rest.find("](") {
                if let Some(end) = rest[close..].find(')') {
                    let label = inline(&rest[1..close]);
                    let url = &rest[close + 2..close + end];
                    match safe_url(url) {
                        Some(u) => {
                            let _ = write!(out, "<a href=\"{}\">{label}</a>", escape(u));
                        }
                        None => {
                            let _ = write!(out, "<span class=\"term\">{label}</span>");
                        }
                    }
                    rest = &rest[close + end + 1..];
                    continue;
                }
            }
        }
        if c == '<' {
            if let Some(end) = rest.find('>') {
                if let Some(u) = safe_url(&rest[1..end]) {
                    let u = escape(u);
                    let _ = write!(out, "&lt;<a href=\"{u}\">{u}</a>&gt;");
                    rest = &rest[end + 1..];
                    continue;
                }
            }
        }
        out.push_str(&escape(&rest[..c.len_utf8()]));
        rest = &rest[c.len_utf8()..];
    }
    if em {
        out.push_str("</em>");
    }
    if strong {
        out.push_str("</strong>");
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5}\
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #999;padding:.25rem .5rem;text-align:left;vertical-align:top}\
nav ul{list-style:none;padding-left:0}.banner{font-weight:bold}.term{font-weight:bold}";

pub fn html(doc: &Doc) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(
        w,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">"
    );
    let _ = writeln!(
        w,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    );
    let _ = writeln!(w, "<title>Medical Policy {}</title>", escape(&doc.title));
    let _ = writeln!(w, "<style>{STYLE}</style>\n</head>\n<body>\n<header>");
    for b in &doc.banner {
        let _ = writeln!(w, "<p class=\"banner\">{}</p>", escape(b));
    }
    let _ = writeln!(
        w,
        "<h1>Medical Policy {}</h1>\n</header>",
        escape(&doc.title)
    );
    let (toc, body) = fragments(doc);
    let _ = write!(w, "{toc}<main>\n{body}");
    let _ = writeln!(w, "</main>\n</body>\n</html>");
    out
}

/// The table of contents (a `nav`) and the document's body (its header
/// lines and sections), for a page that frames them itself.
pub fn fragments(doc: &Doc) -> (String, String) {
    let mut toc = String::new();
    let w = &mut toc;
    let _ = writeln!(
        w,
        "<nav aria-labelledby=\"toc\">\n<h2 id=\"toc\">Table of Contents</h2>\n<ul>"
    );
    for s in &doc.sections {
        if let Some(toc) = &s.toc {
            let _ = writeln!(w, "<li><a href=\"#{}\">{}</a></li>", s.id, escape(toc));
        }
    }
    let _ = writeln!(w, "</ul>\n</nav>");
    let mut body = String::new();
    let w = &mut body;

    for h in &doc.header {
        let _ = writeln!(w, "<p>{}</p>", escape(h));
    }
    for s in &doc.sections {
        let _ = writeln!(
            w,
            "<section id=\"{}\">\n<h{l}>{}</h{l}>",
            s.id,
            escape(&s.heading),
            l = s.level
        );
        for b in &s.blocks {
            block(w, b, s.level + 1);
        }
        let _ = writeln!(w, "</section>");
    }
    (toc, body)
}

fn block(w: &mut String, b: &Block, level: u8) {
    match b {
        Block::Para(t) => {
            let lines: Vec<String> = t.lines().map(inline).collect();
            let _ = writeln!(w, "<p>{}</p>", lines.join("<br>\n"));
        }
        Block::Sub(t) => {
            let _ = writeln!(w, "<h{level}>{}</h{level}>", inline(t));
        }
        Block::Bullets(items) => {
            let _ = writeln!(w, "<ul>");
            for i in items {
                let _ = writeln!(w, "<li>{}</li>", inline(i));
            }
            let _ = writeln!(w, "</ul>");
        }
        Block::Criteria(items) => {
            // Nested lists: open one per level down, close one per level up.
            let mut depth = 0usize;
            let _ = write!(w, "<ul class=\"criteria\">");
            for (i, (d, marker, t)) in items.iter().enumerate() {
                if i > 0 {
                    if *d > depth {
                        let _ = write!(w, "<ul>");
                    } else {
                        let _ = write!(w, "</li>");
                        for _ in *d..depth {
                            let _ = write!(w, "</ul></li>");
                        }
                    }
                }
                depth = *d;
                let number = marker
                    .as_deref()
                    .map(|m| format!("{}. ", escape(m)))
                    .unwrap_or_default();
                let _ = write!(w, "\n<li>{number}{}", inline(t));
            }
            if !items.is_empty() {
                let _ = write!(w, "</li>");
                for _ in 0..depth {
                    let _ = write!(w, "</ul></li>");
                }
            }
            let _ = writeln!(w, "</ul>");
        }
        Block::Table { header, rows } => {
            let _ = writeln!(w, "<table>");
            if !header.is_empty() {
                let cells: String = header
                    .iter()
                    .map(|h| format!("<th scope=\"col\">{}</th>", escape(h)))
                    .collect();
                let _ = writeln!(w, "<thead><tr>{cells}</tr></thead>");
            }
            let _ = writeln!(w, "<tbody>");
            for r in rows {
                let cells: String = r
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        if i == 0 {
                            format!("<th scope=\"row\">{}</th>", inline(c))
                        } else {
                            format!("<td>{}</td>", inline(c))
                        }
                    })
                    .collect();
                let _ = writeln!(w, "<tr>{cells}</tr>");
            }
            let _ = writeln!(w, "</tbody>\n</table>");
        }
        Block::Links(links) => {
            let _ = writeln!(w, "<ul>");
            for (label, url) in links {
                match url.as_deref().and_then(safe_url) {
                    Some(u) => {
                        let _ = writeln!(
                            w,
                            "<li><a href=\"{}\">{}</a></li>",
                            escape(u),
                            escape(label)
                        );
                    }
                    None => {
                        let _ = writeln!(w, "<li>{}</li>", escape(label));
                    }
                }
            }
            let _ = writeln!(w, "</ul>");
        }
        Block::References(refs) => {
            let _ = writeln!(w, "<ol class=\"references\">");
            for r in refs {
                let mut body = r.clone();
                let pmid = body.pmid.take();
                let mut html = inline(&body.to_text("*"));
                if let Some(p) = pmid {
                    let link = format!(
                        " PMID <a href=\"{}\">{}</a>",
                        escape(&pubmed_url(&p)),
                        escape(&p)
                    );
                    // `to_text` prints the PMID before the URL and access date.
                    match html.find(" &lt;<a href=") {
                        Some(at) if r.url.is_some() => html.insert_str(at, &link),
                        _ => match html.find(" Accessed ") {
                            Some(at) if r.accessed.is_some() && r.url.is_none() => {
                                html.insert_str(at, &link)
                            }
                            _ => html.push_str(&link),
                        },
                    }
                }
                let _ = writeln!(w, "<li value=\"{}\">{html}</li>", r.number);
            }
            let _ = writeln!(w, "</ol>");
        }
    }
}
