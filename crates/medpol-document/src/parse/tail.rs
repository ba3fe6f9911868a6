//! The sections after the policy: related policies, description and
//! summary, history, the payer-wide links, references, and explicit notes.

use medpol_core::history::HistoryDate;
use medpol_core::model::{Link, LinkKind, Note, NoteKind, RelatedPolicy};

use super::{bullet, err, keyed, Draft, Problem, Section, Step};
use crate::lines::{cells, fold, Line};
use crate::reference;

/// `[label](url)` filling a whole line.
fn whole_link(text: &str) -> Option<(&str, &str)> {
    let inner = text.strip_prefix('[')?.strip_suffix(')')?;
    let (label, url) = inner.split_once("](")?;
    (!label.contains(']')).then_some((label.trim(), url.trim()))
}

fn note_kind(text: &str) -> Option<NoteKind> {
    match fold(text).as_str() {
        "contract-benefits" | "contract benefits" => Some(NoteKind::ContractBenefits),
        "coding" => Some(NoteKind::Coding),
        "medicare" => Some(NoteKind::Medicare),
        "general" => Some(NoteKind::General),
        _ => None,
    }
}

impl Draft<'_> {
    /// "Diagnosis and Treatment of Sacroiliac Joint Pain, #[320](#)".
    pub(super) fn related_line(&mut self, text: &str) -> bool {
        let Some(hash) = text.rfind('#') else {
            return false;
        };
        // The `#` of a `[320](#)` link target is not the number sign.
        let hash = if text[..hash].ends_with("](") {
            match text[..hash].rfind('#') {
                Some(h) => h,
                None => return false,
            }
        } else {
            hash
        };
        let number = medpol_core::markup::plain(&text[hash + 1..]);
        let number = number.trim();
        let title = text[..hash].trim().trim_end_matches(',').trim();
        let ok = !number.is_empty()
            && !title.is_empty()
            && number
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        if ok {
            self.related.push(RelatedPolicy {
                number: number.to_string(),
                title: title.to_string(),
            });
        }
        ok
    }

    /// Description and summary: paragraphs, lines of a paragraph joined by
    /// a line break.
    pub(super) fn prose_line(&mut self, text: &str) -> bool {
        let paragraphs = if self.section == Section::Summary {
            &mut self.summary
        } else {
            &mut self.description
        };
        match paragraphs.last_mut() {
            Some(p) if !self.prev_blank => {
                p.push('\n');
                p.push_str(text);
            }
            _ => paragraphs.push(text.to_string()),
        }
        true
    }

    /// `Date\tAction` (the header) or `1/2025\tAnnual policy review. …`;
    /// a row whose tab became spaces still reads when it starts with a date.
    pub(super) fn history_row(&mut self, l: &Line<'_>) -> Step {
        let row: Vec<&str> = if l.text.contains('\t') {
            let mut r = cells(l.text);
            while r.len() > 1 && r.last().is_some_and(|c| c.is_empty()) {
                r.pop();
            }
            r
        } else {
            match l.text.trim().split_once(char::is_whitespace) {
                Some((date, action)) if date.parse::<HistoryDate>().is_ok() => {
                    vec![date, action.trim()]
                }
                _ => return Ok(false),
            }
        };
        if row.len() == 2 && fold(row[0]) == "date" {
            return Ok(true);
        }
        let expected = "a date (M/YYYY, M/D/YYYY or M/YYYY-M/YYYY) and an action separated by a tab, e.g. `1/2025\\tAnnual policy review.`";
        let bad = || {
            err(
                l.number,
                Problem::BadRow {
                    table: "policy history",
                    found: super::shown(l.text),
                    expected: expected.to_string(),
                },
            )
        };
        if row.len() != 2 || row[1].is_empty() {
            return bad();
        }
        let Ok(date) = row[0].parse::<HistoryDate>() else {
            return bad();
        };
        self.history.push(medpol_core::model::HistoryEntry {
            date,
            action: row[1].to_string(),
        });
        Ok(true)
    }

    /// The payer-wide section: an introducing sentence, then one link a line.
    pub(super) fn all_policies_line(&mut self, text: &str) -> bool {
        let Some(info) = self.all_policies.as_mut() else {
            return false;
        };
        if let Some((label, url)) = whole_link(text) {
            let kind = fold(label)
                .contains("clinical exception")
                .then_some(LinkKind::ClinicalException);
            info.links.push(Link {
                label: label.to_string(),
                url: (!url.is_empty() && url != "#").then(|| url.to_string()),
                kind,
            });
            return true;
        }
        if info.intro.is_none() && info.links.is_empty() {
            info.intro = Some(text.to_string());
            return true;
        }
        false
    }

    /// `12. Authors. Title. *Journal*. Date; locator. PMID 123`.
    pub(super) fn reference_line(&mut self, text: &str) -> bool {
        let Some((n, rest)) = text.split_once(". ") else {
            return false;
        };
        let Ok(number) = n.trim().parse::<u32>() else {
            return false;
        };
        self.references.push(reference::parse(number, rest));
        true
    }

    /// The Notes section: each paragraph a note, followed by `- Kind: …`,
    /// `- Section: …`, `- Products: …`, `- See policy: #N Title`,
    /// `- See NCD: …`, `- See references: 1, 2`.
    pub(super) fn note_line(&mut self, l: &Line<'_>) -> Step {
        let text = l.text.trim();
        if let Some(item) = bullet(text) {
            let Some((key, value)) = keyed(item) else {
                return Ok(false);
            };
            let products = if key == "products" {
                match self.labels.resolve(value) {
                    Some(p) => Some(p),
                    None => return Err(self.unknown_products(l.number, value)),
                }
            } else {
                None
            };
            let Some(note) = self.explicit_notes.last_mut() else {
                return Ok(false);
            };
            self.in_note = false;
            let bad = |what: &'static str, expected: &str| {
                err(
                    l.number,
                    Problem::BadValue {
                        what,
                        found: value.to_string(),
                        expected: expected.to_string(),
                    },
                )
            };
            match key.as_str() {
                "kind" => match note_kind(value) {
                    Some(k) => note.kind = k,
                    None => {
                        return bad(
                            "note kind",
                            "contract-benefits, coding, medicare or general",
                        )
                    }
                },
                "section" => note.section = Some(value.to_string()),
                "products" => note.products = products.unwrap_or_default(),
                "see policy" => {
                    let v = value
                        .trim_start_matches("MP")
                        .trim()
                        .trim_start_matches('#');
                    let (number, title) = v.split_once(' ').unwrap_or((v, ""));
                    if number.is_empty() {
                        return bad(
                            "policy pointer",
                            "`#<number> <title>`, e.g. `#132 Medicare Advantage Management`",
                        );
                    }
                    note.see_policy = Some(RelatedPolicy {
                        number: number.to_string(),
                        title: title.trim().to_string(),
                    });
                }
                "see ncd" => note.see_ncd = Some(value.to_string()),
                "see references" => {
                    let mut numbers = Vec::new();
                    for n in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                        match n.parse::<u32>() {
                            Ok(n) => numbers.push(n),
                            Err(_) => {
                                return bad(
                                    "reference number",
                                    "reference numbers separated by commas, e.g. `40, 41`",
                                )
                            }
                        }
                    }
                    note.see_references = numbers;
                }
                _ => return Ok(false),
            }
            return Ok(true);
        }
        if self.in_note && !self.prev_blank {
            if let Some(note) = self.explicit_notes.last_mut() {
                note.text.push('\n');
                note.text.push_str(text);
                return Ok(true);
            }
        }
        self.explicit_notes.push(Note {
            kind: NoteKind::General,
            section: None,
            products: Vec::new(),
            text: text.to_string(),
            see_policy: None,
            see_ncd: None,
            see_references: Vec::new(),
        });
        self.in_note = true;
        Ok(true)
    }
}
