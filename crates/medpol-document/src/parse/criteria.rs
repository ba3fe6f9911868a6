//! A statement's criteria as published — bullets and numbered items, nested
//! by indentation — read into a tree of [`Criterion`]s.
//!
//! How a group combines comes from its words: a head ("… when all of the
//! following criteria are met:", "One of the following:") says it; else
//! items ending "or" make alternatives and items ending "and" (or nothing)
//! make requirements.

use medpol_core::model::{Combine, Criterion};

/// One criterion line as read.
#[derive(Debug, Clone)]
pub struct ItemLine {
    pub indent: usize,
    /// The document's own number or letter (`1`, `a`), if it has one.
    pub marker: Option<String>,
    pub text: String,
}

/// A criterion line: `- text` (also `•`, `*`, `–`), or `1. text`, `a) text`,
/// `(b) text`. Returns the marker (None for a bullet) and the text.
pub fn item(text: &str) -> Option<(Option<String>, &str)> {
    let t = text.trim_start();
    if let Some(rest) = super::bullet(t) {
        return Some((None, rest));
    }
    let (inner, rest) = if let Some(after) = t.strip_prefix('(') {
        let close = after.find(')')?;
        (&after[..close], &after[close + 1..])
    } else {
        let end = t.find(['.', ')'])?;
        (&t[..end], &t[end + 1..])
    };
    let numbered = !inner.is_empty()
        && ((inner.len() <= 2 && inner.bytes().all(|b| b.is_ascii_digit()))
            || (inner.len() == 1 && inner.bytes().all(|b| b.is_ascii_alphabetic()))
            || (inner.len() <= 4 && inner.bytes().all(|b| b"ivx".contains(&b))));
    if !numbered || !rest.starts_with(' ') || rest.trim().is_empty() {
        return None;
    }
    Some((Some(inner.to_string()), rest.trim()))
}

/// How the items under a head combine (see the module documentation). The
/// head's last "… of the following" decides ("for one of the following
/// indications when all of the following criteria are met:" is all-of);
/// "none of the following" is a list of exclusions, each required.
pub fn combine(head: &str, items: &[&str]) -> Combine {
    let lower = medpol_core::markup::plain(head).to_ascii_lowercase();
    const PHRASES: [(&str, Combine); 8] = [
        ("one of the following", Combine::AnyOf),
        ("any of the following", Combine::AnyOf),
        ("at least one of the following", Combine::AnyOf),
        ("either of the following", Combine::AnyOf),
        ("one or more of the following", Combine::AnyOf),
        ("all of the following", Combine::AllOf),
        ("each of the following", Combine::AllOf),
        ("none of the following", Combine::AllOf),
    ];
    let mut last: Option<(usize, Combine)> = None;
    for (phrase, combine) in PHRASES {
        let mut from = 0;
        while let Some(i) = lower[from..].find(phrase) {
            let at = from + i;
            from = at + phrase.len();
            // Whole words only: "none of the following" is not "one of …".
            if lower[..at].ends_with(|c: char| c.is_ascii_alphanumeric()) {
                continue;
            }
            if last.is_none_or(|(l, _)| at > l) {
                last = Some((at, combine));
            }
        }
    }
    if let Some((_, c)) = last {
        return c;
    }
    let ends_or = |t: &&str| {
        let t = t.trim_end().to_ascii_lowercase();
        t.ends_with(" or") || t.ends_with(";or") || t.ends_with(",or")
    };
    if items.len() > 1 && items[..items.len() - 1].iter().any(ends_or) {
        Combine::AnyOf
    } else {
        Combine::AllOf
    }
}

/// The criteria tree of a statement and how its top level combines.
pub fn build(statement: &str, lines: &[ItemLine]) -> (Combine, Vec<Criterion>) {
    let mut at = 0;
    let mut criteria = Vec::new();
    // Items less indented than the first still belong to the top level.
    while at < lines.len() {
        let more = level(lines, &mut at, None, "");
        let offset = criteria.len();
        for (i, mut c) in more.into_iter().enumerate() {
            if offset > 0 && lines_marker_free(&c) {
                renumber_one(&mut c, (offset + i + 1).to_string());
            }
            criteria.push(c);
        }
    }
    let texts: Vec<&str> = criteria.iter().map(|c| c.text.as_str()).collect();
    let top = combine(statement, &texts);
    // The document's numbering gives the ids; if it repeats one, positions do.
    let mut ids = std::collections::HashSet::new();
    let unique = criteria
        .iter()
        .flat_map(Criterion::walk)
        .all(|c| ids.insert(c.id.clone()));
    if !unique {
        renumber(&mut criteria, "");
    }
    (top, criteria)
}

/// Reads the items from `at` that sit deeper than `parent_indent`, as
/// siblings, each with the deeper items after it as its children.
fn level(
    lines: &[ItemLine],
    at: &mut usize,
    parent_indent: Option<usize>,
    prefix: &str,
) -> Vec<Criterion> {
    let mut out: Vec<Criterion> = Vec::new();
    let Some(first) = lines.get(*at) else {
        return out;
    };
    if parent_indent.is_some_and(|p| first.indent <= p) {
        return out;
    }
    let indent = first.indent;
    while let Some(l) = lines.get(*at) {
        if l.indent < indent || parent_indent.is_some_and(|p| l.indent <= p) {
            break;
        }
        // An item deeper than its siblings with no sibling before it (a
        // stray indent) joins this level rather than being lost.
        *at += 1;
        let position = (out.len() + 1).to_string();
        let seg = l.marker.clone().unwrap_or(position);
        let id = if prefix.is_empty() {
            seg
        } else {
            format!("{prefix}.{seg}")
        };
        let children = level(lines, at, Some(l.indent), &id);
        let texts: Vec<&str> = children.iter().map(|c| c.text.as_str()).collect();
        let combine = if children.is_empty() {
            Combine::AllOf
        } else {
            combine(&l.text, &texts)
        };
        out.push(Criterion {
            id,
            text: l.text.clone(),
            combine,
            criteria: children,
        });
    }
    out
}

/// Whether a criterion's id is positional (a number), so it may be renumbered.
fn lines_marker_free(c: &Criterion) -> bool {
    c.id.bytes().all(|b| b.is_ascii_digit())
}

fn renumber_one(c: &mut Criterion, id: String) {
    c.id = id;
    let prefix = c.id.clone();
    renumber(&mut c.criteria, &prefix);
}

fn renumber(criteria: &mut [Criterion], prefix: &str) {
    for (i, c) in criteria.iter_mut().enumerate() {
        c.id = if prefix.is_empty() {
            (i + 1).to_string()
        } else {
            format!("{prefix}.{}", i + 1)
        };
        let id = c.id.clone();
        renumber(&mut c.criteria, &id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(indent: usize, text: &str) -> ItemLine {
        let (marker, text) = item(text).unwrap();
        ItemLine {
            indent,
            marker,
            text: text.to_string(),
        }
    }

    #[test]
    fn items_are_bullets_or_numbered() {
        assert_eq!(item("- The patient"), Some((None, "The patient")));
        assert_eq!(
            item("1. The patient"),
            Some((Some("1".into()), "The patient"))
        );
        assert_eq!(
            item("b) The patient"),
            Some((Some("b".into()), "The patient"))
        );
        assert_eq!(
            item("(ii) The patient"),
            Some((Some("ii".into()), "The patient"))
        );
        assert_eq!(item("2025. A year"), None);
        assert_eq!(item("Dr. Smith said"), None);
        assert_eq!(item("e.g. this"), None);
    }

    #[test]
    fn nested_groups_take_their_combination_from_their_words() {
        let lines = [
            line(0, "- Age 18 or older"),
            line(0, "- One of the following:"),
            line(4, "- Pain for 6 months; or"),
            line(4, "- All of the following:"),
            line(8, "- Imaging shows damage"),
            line(8, "- Failed therapy"),
            line(0, "- No contraindication"),
        ];
        let (top, c) = build(
            "X is MEDICALLY NECESSARY when all of the following criteria are met:",
            &lines,
        );
        assert_eq!(top, Combine::AllOf);
        let ids: Vec<&str> = c
            .iter()
            .flat_map(Criterion::walk)
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(ids, ["1", "2", "2.1", "2.2", "2.2.1", "2.2.2", "3"]);
        assert_eq!(c[1].combine, Combine::AnyOf);
        assert_eq!(c[1].criteria[1].combine, Combine::AllOf);
        assert_eq!(c[1].criteria[1].criteria.len(), 2);
    }

    #[test]
    fn heads_and_indents_that_read_wrongly_before() {
        assert_eq!(
            combine("None of the following:", &["a", "b"]),
            Combine::AllOf
        );
        assert_eq!(
            combine("X is covered for one of the following indications when all of the following criteria are met:", &[]),
            Combine::AllOf
        );
        // Top-level items indented less than the first are kept.
        let lines = [line(2, "- A"), line(0, "- B"), line(0, "- C")];
        let (_, c) = build("X when all of the following criteria are met:", &lines);
        let ids: Vec<&str> = c.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["1", "2", "3"]);
        assert_eq!(c[2].text, "C");
    }

    #[test]
    fn numbering_gives_ids_and_or_at_line_ends_gives_alternatives() {
        let lines = [
            line(0, "1. Condition one; or"),
            line(4, "a. detail"),
            line(0, "2. Condition two"),
        ];
        let (top, c) = build("X is covered when:", &lines);
        assert_eq!(top, Combine::AnyOf);
        assert_eq!(c[0].criteria[0].id, "1.a");
        assert_eq!(c[1].id, "2");
        let (top, _) = build(
            "X is covered when one of the following criteria is met:",
            &lines[..1],
        );
        assert_eq!(top, Combine::AnyOf);
    }
}
