//! Why a document did not import: always a line and what was expected there.

/// A document that cannot become a policy. Nothing of it should be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct ImportError {
    /// The 1-based line the problem is at (for something missing, the line
    /// where it was expected).
    pub line: usize,
    pub problem: Problem,
}

/// What is wrong, and what would be valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("no known payer in the banner: expected the name of one of {known}, or give the payer (--payer)")]
    NoPayer { known: String },
    #[error("the file is empty: expected the plain text of a published medical-policy document")]
    Empty,
    #[error("the file is not a policy document: it holds binary data (a NUL byte at offset {offset}); expected the plain text of a published medical-policy document")]
    Binary { offset: usize },
    #[error("the file has {bytes} bytes, more than the {} a policy document may have (published policies are well under 1 MB): is it the right file?", crate::MAX_DOCUMENT_BYTES)]
    TooLarge { bytes: usize },
    #[error("unknown payer `{id}`: known payers are {known}")]
    UnknownPayer { id: String, known: String },
    #[error("no title: expected a line `Medical Policy <title>` at the top of the document")]
    NoTitle,
    #[error("no policy number: expected a line `Policy Number: <number>`")]
    NoNumber,
    #[error("no policy statement: expected, under a `Policy` heading, a statement such as `<Service> is considered INVESTIGATIONAL as a treatment of <indication>.`")]
    NoStatement,
    #[error("no effective date: expected a history row whose action reads `Medical Policy <number> effective M/D/YYYY …`, or a line `Effective Date: M/D/YYYY`")]
    NoEffective,
    #[error("`{label}` names no product of payer {payer}: expected labels such as {known}")]
    UnknownProducts {
        label: String,
        payer: String,
        known: String,
    },
    #[error("a statement with no member heading above it: expected a heading naming its products, such as {known}")]
    NoHeading { known: String },
    #[error("`{found}` does not parse as a row of the {table} table: expected {expected}")]
    BadRow {
        table: &'static str,
        found: String,
        expected: String,
    },
    #[error("`{found}` is not a valid {what}: expected {expected}")]
    BadValue {
        what: &'static str,
        found: String,
        expected: String,
    },
}
