//! What a sentence says: the coverage status of a statement and the
//! indication it names, the status of a code table's introducing sentence,
//! and the prior-authorization requirement of a rule or table cell.
//!
//! Documents mark the status word up (`[INVESTIGATIONAL](#)`,
//! `**not covered**`), so a marked-up status word wins; otherwise the
//! strongest status phrase in the sentence decides ("not medically
//! necessary" before "medically necessary", "not covered" before "covered").

use medpol_core::model::{CoverageStatus, PaRequirement};

/// Status phrases, strongest first, lower case.
const PHRASES: &[(&str, CoverageStatus)] = &[
    (
        "not medically necessary",
        CoverageStatus::NotMedicallyNecessary,
    ),
    ("medically necessary", CoverageStatus::MedicallyNecessary),
    ("investigational", CoverageStatus::Investigational),
    ("not covered", CoverageStatus::NotCovered),
    ("excluded", CoverageStatus::NotCovered),
    ("covered", CoverageStatus::Covered),
];

/// Text with inline markup removed, and the ranges (in the plain text) of
/// the marked-up spans: `**bold**`, `*emphasis*` and link labels.
pub struct Marked {
    pub plain: String,
    pub spans: Vec<std::ops::Range<usize>>,
}

/// Strips `**bold**` and `[label](url)` as [`medpol_core::markup::plain`]
/// does, recording where each marked-up span lands in the plain text.
pub fn marked(text: &str) -> Marked {
    let mut plain = String::with_capacity(text.len());
    let mut spans = Vec::new();
    let mut bold_start: Option<usize> = None;
    let mut rest = text;
    while let Some(i) = rest.find(['*', '[']) {
        plain.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("**") {
            match bold_start.take() {
                Some(start) => spans.push(start..plain.len()),
                None => bold_start = Some(plain.len()),
            }
            rest = after;
            continue;
        }
        if tail.starts_with('[') {
            if let Some(close) = tail.find("](") {
                if let Some(end) = tail[close..].find(')') {
                    let start = plain.len();
                    plain.push_str(&tail[1..close]);
                    spans.push(start..plain.len());
                    rest = &tail[close + end + 1..];
                    continue;
                }
            }
        }
        plain.push_str(&tail[..1]);
        rest = &tail[1..];
    }
    plain.push_str(rest);
    Marked { plain, spans }
}

fn is_word_boundary(text: &str, at: usize) -> bool {
    let before = text[..at].chars().next_back();
    !before.is_some_and(char::is_alphanumeric)
}

/// The first occurrence of a phrase as whole words, case-insensitively.
fn find_phrase(lower: &str, phrase: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = lower[from..].find(phrase) {
        let at = from + i;
        let end = at + phrase.len();
        let after_ok = !lower[end..]
            .chars()
            .next()
            .is_some_and(char::is_alphanumeric);
        if is_word_boundary(lower, at) && after_ok {
            return Some(at);
        }
        from = at + phrase.len().max(1);
    }
    None
}

/// Whether the words just before `at` negate what follows: "is not
/// considered medically necessary", "cannot be considered to be covered",
/// "isn't covered", "is no longer covered", "a non-covered service". Only
/// linking words may stand between the negation and the phrase, so "not
/// only medically necessary" is not a negation.
fn negated(lower: &str, at: usize) -> bool {
    let before = &lower[..at];
    if before.ends_with("non-") || before.ends_with("non ") {
        return true;
    }
    const NEGATIONS: [&str; 7] = [
        "not", "cannot", "isn't", "aren't", "never", "nor", "neither",
    ];
    const LINKING: [&str; 14] = [
        "considered",
        "deemed",
        "regarded",
        "be",
        "been",
        "to",
        "is",
        "are",
        "as",
        "shown",
        "proven",
        "established",
        "generally",
        "currently",
    ];
    let words: Vec<&str> = before
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .rev()
        .take(5)
        .collect();
    for (i, w) in words.iter().enumerate() {
        if NEGATIONS.contains(w) || (*w == "longer" && words.get(i + 1) == Some(&"no")) {
            return true;
        }
        if !LINKING.contains(w) {
            return false;
        }
    }
    false
}

/// A status as negated: "not medically necessary"; "not covered". A negated
/// investigational or not-covered phrase states no status of its own.
fn negate(status: CoverageStatus) -> Option<CoverageStatus> {
    match status {
        CoverageStatus::MedicallyNecessary => Some(CoverageStatus::NotMedicallyNecessary),
        CoverageStatus::Covered => Some(CoverageStatus::NotCovered),
        _ => None,
    }
}

/// Whether a statement speaks for every indication no other statement
/// names ("… INVESTIGATIONAL for all other indications").
pub fn other_indications(plain: &str) -> bool {
    let lower = crate::lines::fold(plain);
    [
        "all other indications",
        "all other uses",
        "all other conditions",
        "any other indication",
        "other indications, including",
    ]
    .iter()
    .any(|p| lower.contains(p))
}

/// The status a phrase names exactly (e.g. a marked-up span), if any.
pub fn exact_status(text: &str) -> Option<CoverageStatus> {
    exact(text)
}

fn exact(text: &str) -> Option<CoverageStatus> {
    let folded = crate::lines::fold(text.trim().trim_end_matches([':', '.']));
    PHRASES.iter().find(|(p, _)| *p == folded).map(|(_, s)| *s)
}

/// The status a sentence states and where (in its plain text) the status
/// phrase ends.
pub fn statement_status(m: &Marked) -> Option<(CoverageStatus, usize)> {
    let lower = m.plain.to_ascii_lowercase();
    for span in &m.spans {
        if let Some(s) = exact(&m.plain[span.clone()]) {
            if !negated(&lower, span.start) {
                return Some((s, span.end));
            }
            if let Some(n) = negate(s) {
                return Some((n, span.end));
            }
        }
    }
    sentence_status(&m.plain)
}

/// The strongest status phrase of a plain sentence and where it ends; a
/// negated phrase ("is not considered medically necessary") counts as its
/// negation, or not at all.
pub fn sentence_status(plain: &str) -> Option<(CoverageStatus, usize)> {
    // ASCII lower-casing keeps every byte offset, so offsets in `lower` are
    // offsets in `plain`.
    let lower = plain.to_ascii_lowercase();
    // The earliest status the sentence states wins ("X is investigational; it
    // has not been shown to be medically necessary"); at one place the
    // longer phrase wins ("not medically necessary" over "medically necessary").
    let mut best: Option<(usize, CoverageStatus, usize)> = None;
    for (phrase, status) in PHRASES {
        let mut from = 0;
        while let Some(i) = find_phrase(&lower[from..], phrase) {
            let at = from + i;
            let end = at + phrase.len();
            from = end;
            let stated = if negated(&lower, at) {
                negate(*status)
            } else {
                Some(*status)
            };
            if let Some(st) = stated {
                if best.is_none_or(|(b, _, _)| at < b) {
                    best = Some((at, st, end));
                }
                break;
            }
        }
    }
    best.map(|(_, st, end)| (st, end))
}

/// Phrases that introduce a statement's indication, most specific first.
const INDICATION_LEADS: &[&str] = &[
    "as a treatment of ",
    "as a treatment for ",
    "for the treatment of ",
    "in the treatment of ",
    "for patients with ",
    "for individuals with ",
    "in patients with ",
    "for ",
];

/// The indication a statement names after its status phrase: "… considered
/// INVESTIGATIONAL as a treatment of musculoskeletal pain." gives
/// "musculoskeletal pain". The indication ends at a colon, a semicolon,
/// " when " or the end of the sentence.
pub fn indication(plain: &str, status_end: usize) -> Option<String> {
    let rest = plain.get(status_end..)?.trim_start();
    let lower = rest.to_ascii_lowercase();
    let lead = INDICATION_LEADS.iter().find(|l| lower.starts_with(*l))?;
    let body = rest.get(lead.len()..)?;
    let lower_body = &lower[lead.len()..];
    let mut end = body.len();
    for stop in [" when ", ":", ";", ". "] {
        if let Some(i) = lower_body.find(stop) {
            end = end.min(i);
        }
    }
    let ind = body[..end].trim().trim_end_matches('.').trim();
    (!ind.is_empty()).then(|| ind.to_string())
}

/// What a prior-authorization text requires, if it says.
pub fn requirement(text: &str) -> Option<PaRequirement> {
    let lower = crate::lines::fold(&medpol_core::markup::plain(text));
    if lower.contains("not a covered service") || find_phrase(&lower, "not covered").is_some() {
        Some(PaRequirement::NotCovered)
    } else if lower.contains("not required") {
        Some(PaRequirement::NotRequired)
    } else if lower.contains("may be required") || lower.contains("might be required") {
        Some(PaRequirement::MayBeRequired)
    } else if find_phrase(&lower, "required").is_some() {
        Some(PaRequirement::Required)
    } else {
        None
    }
}

/// What a rule's introducing text requires of every product without a row:
/// "IS REQUIRED for all products" does; "see below for products where …"
/// defers to the table unless it adds "not required for other products".
pub fn rule_requirement(text: &str) -> Option<PaRequirement> {
    let lower = crate::lines::fold(&medpol_core::markup::plain(text));
    if lower.contains("see below") {
        return lower
            .contains("not required for other products")
            .then_some(PaRequirement::NotRequired);
    }
    requirement(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_and_indication(text: &str) -> (Option<CoverageStatus>, Option<String>) {
        let m = marked(text);
        match statement_status(&m) {
            Some((s, end)) => (Some(s), indication(&m.plain, end)),
            None => (None, None),
        }
    }

    #[test]
    fn statuses_and_indications() {
        assert_eq!(
            status_and_indication(
                "Prolotherapy is considered [INVESTIGATIONAL](#) as a treatment of musculoskeletal pain."
            ),
            (
                Some(CoverageStatus::Investigational),
                Some("musculoskeletal pain".into())
            )
        );
        assert_eq!(
            status_and_indication("X may be considered [MEDICALLY NECESSARY](#) for patients with knee osteoarthritis when all of the following criteria are met:"),
            (Some(CoverageStatus::MedicallyNecessary), Some("knee osteoarthritis".into()))
        );
        assert_eq!(
            status_and_indication("X is **not covered** for all other indications: it is excluded under the member's benefit contract."),
            (Some(CoverageStatus::NotCovered), Some("all other indications".into()))
        );
        assert_eq!(
            status_and_indication("X is considered NOT MEDICALLY NECESSARY."),
            (Some(CoverageStatus::NotMedicallyNecessary), None)
        );
        // A status word in the title does not count: the marked-up one does.
        assert_eq!(
            status_and_indication(
                "Covered Stents for Arteries is considered [INVESTIGATIONAL](#)."
            ),
            (Some(CoverageStatus::Investigational), None)
        );
        assert_eq!(
            status_and_indication("The service is covered."),
            (Some(CoverageStatus::Covered), None)
        );
        assert_eq!(
            status_and_indication("Nothing here is discovered."),
            (None, None)
        );
        assert_eq!(
            status_and_indication("X is not considered medically necessary for cosmetic use."),
            (
                Some(CoverageStatus::NotMedicallyNecessary),
                Some("cosmetic use".into())
            )
        );
        assert_eq!(
            status_and_indication("X is not considered [MEDICALLY NECESSARY](#)."),
            (Some(CoverageStatus::NotMedicallyNecessary), None)
        );
        // A denied status is no status: the next phrase decides.
        assert_eq!(
            status_and_indication(
                "X is not considered investigational and may be considered medically necessary for knee pain."
            )
            .0,
            Some(CoverageStatus::MedicallyNecessary)
        );
        assert_eq!(
            status_and_indication("X is not covered.").0,
            Some(CoverageStatus::NotCovered)
        );
        assert!(other_indications(
            "X is INVESTIGATIONAL for all other indications."
        ));
        assert!(!other_indications("X is INVESTIGATIONAL for knee pain."));
    }

    #[test]
    fn requirements() {
        use PaRequirement::*;
        assert_eq!(
            requirement("This is not a covered service."),
            Some(NotCovered)
        );
        assert_eq!(
            requirement("Prior authorization is **required**."),
            Some(Required)
        );
        assert_eq!(
            requirement("Prior authorization is **not required**."),
            Some(NotRequired)
        );
        assert_eq!(requirement("Prior authorization **may be required**; see the plan's prior authorization program for the applicable requirements."), Some(MayBeRequired));
        assert_eq!(requirement("Call us."), None);
        assert_eq!(rule_requirement("For services described in this policy, precertification/preauthorization **IS REQUIRED** for all products if the procedure is performed **inpatient**."), Some(Required));
        assert_eq!(rule_requirement("For services described in this policy, see below for products where prior authorization **might be required** if the procedure is performed **outpatient**."), None);
        assert_eq!(rule_requirement("For services described in this policy, see below for products where prior authorization **might be required** if the procedure is performed **outpatient**. Prior authorization is not required for other products."), Some(NotRequired));
    }
}
