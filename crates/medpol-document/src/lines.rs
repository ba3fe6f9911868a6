//! The lines of a document, normalised the way every published copy needs:
//! CRLF or CR line ends, a byte-order mark, stray spaces at either end.
//!
//! Leading tabs are kept: a table row whose first cell is empty (the
//! prior-authorization table's header, `\tOutpatient`) starts with one.

/// One line of the input, with its 1-based number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    pub number: usize,
    /// The line without its line end, spaces trimmed at both ends and tabs
    /// trimmed at the end.
    pub text: &'a str,
    /// The spaces trimmed from its start (a tab counts 4): how deep a
    /// bullet of a nested list sits.
    pub indent: usize,
}

impl Line<'_> {
    pub fn is_blank(&self) -> bool {
        self.text.trim().is_empty()
    }
}

fn is_stray_space(c: char) -> bool {
    c == ' ' || c == '\u{a0}' || c == '\u{feff}'
}

/// Splits a document into lines. `\r\n`, `\n` and a lone `\r` all end a line.
pub fn split(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut number = 0;
    for raw in text.split('\n') {
        // A lone CR (old Mac line ends) also separates lines.
        let mut parts = raw.split('\r').peekable();
        while let Some(part) = parts.next() {
            if part.is_empty() && parts.peek().is_none() && raw.ends_with('\r') {
                // The CR of a CRLF pair: not a line of its own.
                break;
            }
            number += 1;
            let text = part.trim_start_matches(is_stray_space);
            let lead = &part[..part.len() - text.len()];
            let mut indent = lead.chars().count();
            // A bullet indented with tabs (the table rows' leading tab is
            // kept in the text, so only tabs before a bullet count here).
            let tabs = text.len() - text.trim_start_matches('\t').len();
            if tabs > 0
                && text
                    .trim_start_matches('\t')
                    .starts_with(['-', '•', '*', '–'])
            {
                indent += 4 * tabs;
            }
            out.push(Line {
                number,
                text: text.trim_end(),
                indent,
            });
        }
    }
    out
}

/// Text for matching headings and keys: spaces collapsed, lower case.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

/// The cells of a tab-separated row, each trimmed.
pub fn cells(text: &str) -> Vec<&str> {
    text.split('\t').map(str::trim).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ends_and_stray_spaces() {
        let lines = split("\u{feff}a \r\n  b\t\r\rc\n\tx\ty  ");
        let texts: Vec<&str> = lines.iter().map(|l| l.text).collect();
        assert_eq!(texts, ["a", "b", "", "c", "\tx\ty"]);
        let numbers: Vec<usize> = lines.iter().map(|l| l.number).collect();
        assert_eq!(numbers, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn folds_for_matching() {
        assert_eq!(fold("  Policy   HISTORY "), "policy history");
        assert_eq!(cells("\tOutpatient "), ["", "Outpatient"]);
    }
}
