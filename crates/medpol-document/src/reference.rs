//! Reference lines as published: the inverse of
//! [`medpol_core::model::Reference::to_text`], tolerant of the variants the
//! published documents print (`*Ann Fam Med.*`, `Apr 25 2023: 1-9`,
//! `1999; <url>.`, `<url> .`).

use chrono::NaiveDate;
use medpol_core::model::Reference;

/// Whether a text is a publication date as references print them:
/// `2008`, `Feb 1993`, `Apr 18 2007`, `May 01 2009`.
pub fn is_date(text: &str) -> bool {
    let words: Vec<&str> = text.split_whitespace().collect();
    let Some((year, rest)) = words.split_last() else {
        return false;
    };
    let year_ok = year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit());
    year_ok
        && rest.len() <= 2
        && rest.iter().all(|w| {
            (w.len() <= 2 && w.bytes().all(|b| b.is_ascii_digit()))
                || (w.len() <= 9
                    && w.starts_with(|c: char| c.is_ascii_uppercase())
                    && w.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-'))
        })
}

/// Splits "date; locator", "date: locator", "date" or "locator".
fn date_and_locator(text: &str) -> (Option<String>, Option<String>) {
    let text = text.trim();
    if text.is_empty() {
        return (None, None);
    }
    for sep in ["; ", ": "] {
        if let Some((d, l)) = text.split_once(sep) {
            if is_date(d) {
                return (Some(d.trim().to_string()), Some(l.trim().to_string()));
            }
        }
    }
    if is_date(text) {
        (Some(text.to_string()), None)
    } else {
        (None, Some(text.to_string()))
    }
}

/// Where the authors end: the first ". " that does not end an abbreviation
/// such as "U.S.".
fn authors_end(text: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = text[from..].find(". ") {
        let at = from + i;
        let word = text[..at].rsplit(' ').next().unwrap_or("");
        if !word.contains('.') {
            return Some(at);
        }
        from = at + 2;
    }
    None
}

fn split_authors(text: &str) -> (String, &str) {
    match authors_end(text) {
        Some(at) => {
            let mut authors = text[..at].to_string();
            if authors.ends_with("et al") {
                authors.push('.');
            }
            (authors, text[at + 2..].trim())
        }
        None => (text.trim_end_matches('.').to_string(), ""),
    }
}

/// A title as printed ends with the period `to_text` adds; `?` and `!` stay.
fn title_of(text: &str) -> String {
    let t = text.trim();
    t.strip_suffix('.').unwrap_or(t).trim().to_string()
}

/// Reads the text of one reference (without its number).
pub fn parse(number: u32, text: &str) -> Reference {
    let mut t = text.trim();
    let mut accessed = None;
    if let Some(i) = t.rfind("Accessed ") {
        let date = t[i + "Accessed ".len()..].trim().trim_end_matches('.');
        if let Ok(d) = NaiveDate::parse_from_str(date, "%B %d, %Y") {
            accessed = Some(d);
            t = t[..i].trim_end();
        }
    }
    let mut pmid = None;
    if let Some(i) = t.rfind("PMID") {
        let id = t[i + 4..].trim().trim_end_matches('.');
        if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
            pmid = Some(id.to_string());
            t = t[..i].trim_end();
        }
    }
    let mut url = None;
    if let (Some(open), Some(close)) = (t.rfind('<'), t.rfind('>')) {
        let after = t[close + 1..].trim();
        if open < close && (after.is_empty() || after == ".") {
            url = Some(t[open + 1..close].trim().to_string());
            t = t[..open].trim_end();
        }
    }
    let t = t.trim_end_matches([';', '.', ' ']);

    let journal_span = t.find('*').and_then(|i| {
        let len = t[i + 1..].find('*')?;
        Some((i, i + 1 + len))
    });
    let (authors, title, journal, date, locator) = match journal_span {
        Some((open, close)) => {
            let journal = t[open + 1..close].trim().trim_end_matches('.').trim();
            let (authors, rest) = split_authors(t[..open].trim());
            let after = t[close + 1..].trim_start_matches(['.', ' ']);
            let (date, locator) = date_and_locator(after);
            (
                authors,
                title_of(rest),
                Some(journal.to_string()),
                date,
                locator,
            )
        }
        None => {
            let (authors, rest) = split_authors(t);
            // "Title. 2020" or "Title. 2020; 4(1): 1-9": the last part, if a date.
            let tail = rest.rfind(". ").map(|i| (&rest[..i], &rest[i + 2..]));
            match tail {
                Some((title, tail)) if date_and_locator(tail).0.is_some() => {
                    let (date, locator) = date_and_locator(tail);
                    (authors, title_of(title), None, date, locator)
                }
                _ if is_date(rest) => (authors, String::new(), None, Some(rest.into()), None),
                _ => (authors, title_of(rest), None, None, None),
            }
        }
    };
    Reference {
        number,
        authors,
        title,
        journal,
        date,
        locator,
        pmid,
        url,
        accessed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_articles() {
        let r = parse(1, "Dagenais S, Yelland MJ, Del Mar C, et al. Prolotherapy injections for chronic low-back pain. *Cochrane Database Syst Rev*. Apr 18 2007; 2007(2): CD004059. PMID 17443537");
        assert_eq!(r.authors, "Dagenais S, Yelland MJ, Del Mar C, et al.");
        assert_eq!(r.title, "Prolotherapy injections for chronic low-back pain");
        assert_eq!(r.journal.as_deref(), Some("Cochrane Database Syst Rev"));
        assert_eq!(r.date.as_deref(), Some("Apr 18 2007"));
        assert_eq!(r.locator.as_deref(), Some("2007(2): CD004059"));
        assert_eq!(r.pmid.as_deref(), Some("17443537"));
        assert_eq!(r.to_text("*"), "Dagenais S, Yelland MJ, Del Mar C, et al. Prolotherapy injections for chronic low-back pain. *Cochrane Database Syst Rev*. Apr 18 2007; 2007(2): CD004059. PMID 17443537");

        let r = parse(7, "Bahgat MM, Abdel-Hamid AM. Is dextrose prolotherapy beneficial in the management of temporomandibular joint internal derangement? A systematic review. *Cranio*. Apr 25 2023: 1-9. PMID 37097125");
        assert_eq!(r.authors, "Bahgat MM, Abdel-Hamid AM");
        assert_eq!(
            (r.date.as_deref(), r.locator.as_deref()),
            (Some("Apr 25 2023"), Some("1-9"))
        );

        let r = parse(15, "Rabago D, Patterson JJ, Mundt M, et al. Dextrose prolotherapy for knee osteoarthritis: a randomized controlled trial. *Ann Fam Med.* 2013; 11(3): 229-37. PMID 23690322");
        assert_eq!(r.journal.as_deref(), Some("Ann Fam Med"));
        assert_eq!(
            (r.date.as_deref(), r.locator.as_deref()),
            (Some("2013"), Some("11(3): 229-37"))
        );

        let r = parse(4, "Yelland MJ, Glasziou PP, Bogduk N, et al. Prolotherapy injections, saline injections, and exercises for chronic low-back pain: a randomized trial. *Spine (Phila Pa 1976)*. Jan 01 2004; 29(1): 9-16; discussion 16. PMID 14699269");
        assert_eq!(r.locator.as_deref(), Some("29(1): 9-16; discussion 16"));
    }

    #[test]
    fn web_documents() {
        let r = parse(39, "North American Spine Society. Diagnosis and Treatment of Low Back Pain. 2020. <https://www.spine.org/x.pdf> . Accessed September 17, 2024.");
        assert_eq!(r.authors, "North American Spine Society");
        assert_eq!(r.title, "Diagnosis and Treatment of Low Back Pain");
        assert_eq!(r.date.as_deref(), Some("2020"));
        assert_eq!(r.url.as_deref(), Some("https://www.spine.org/x.pdf"));
        assert_eq!(r.accessed, NaiveDate::from_ymd_opt(2024, 9, 17));
        assert_eq!(r.journal, None);

        let r = parse(40, "Centers for Medicare and Medicaid Services. National Coverage Determination (NCD) for PROLOTHERAPY, Joint Sclerotherapy, and Ligamentous Injections with Sclerosing Agents (150.7). 1999; <https://www.cms.gov/x?a=1&b=2&>. Accessed September 17, 2024.");
        assert_eq!(r.title, "National Coverage Determination (NCD) for PROLOTHERAPY, Joint Sclerotherapy, and Ligamentous Injections with Sclerosing Agents (150.7)");
        assert_eq!(r.date.as_deref(), Some("1999"));

        let r = parse(3, "U.S. Food and Drug Administration. Summary of Safety and Effectiveness Data: X. 2019. <https://fda.gov/a>. Accessed March 1, 2020.");
        assert_eq!(r.authors, "U.S. Food and Drug Administration");
        assert_eq!(r.title, "Summary of Safety and Effectiveness Data: X");
    }

    #[test]
    fn odd_lines_do_not_panic() {
        for t in [
            "",
            ".",
            "*",
            "**",
            "<>",
            "PMID",
            "Accessed ",
            "a. b. *c",
            "é. ü*ö*. 2020; x",
            "x <y> z",
        ] {
            let _ = parse(1, t);
        }
    }
}
