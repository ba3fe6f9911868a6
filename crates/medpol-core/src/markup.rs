//! The inline markup that published policy text carries (`**bold**`,
//! `[label](url)`), kept verbatim in the model and stripped for citations.

/// The text a reader sees: `**IS REQUIRED**` becomes `IS REQUIRED` and
/// `[INVESTIGATIONAL](#)` becomes `INVESTIGATIONAL`.
pub fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(['*', '[']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("**") {
            rest = after;
            continue;
        }
        if tail.starts_with('[') {
            if let Some(close) = tail.find("](") {
                if let Some(end) = tail[close..].find(')') {
                    out.push_str(&tail[1..close]);
                    rest = &tail[close + end + 1..];
                    continue;
                }
            }
        }
        out.push_str(&tail[..1]);
        rest = &tail[1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::plain;

    #[test]
    fn strips_bold_and_links() {
        assert_eq!(
            plain("Prolotherapy is considered [INVESTIGATIONAL](#) as a treatment."),
            "Prolotherapy is considered INVESTIGATIONAL as a treatment."
        );
        assert_eq!(plain("**IS REQUIRED** for all"), "IS REQUIRED for all");
        assert_eq!(plain("a * b [c] d"), "a * b [c] d");
        assert_eq!(plain("[x](http://a/b) y"), "x y");
        assert_eq!(plain("Vázquez **é**"), "Vázquez é");
    }
}
