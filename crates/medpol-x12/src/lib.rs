//! A pure, streaming reader of X12 837 (5010) claims: professional
//! (005010X222…) and institutional (005010X223…).
//!
//! [`Reader::next_item`] yields, in file order, each [`Claim`] and each
//! [`Problem`] found on the way. It reads one segment at a time from a
//! `BufRead` into a reused buffer, so memory is bounded by the largest
//! segment (capped at [`MAX_SEGMENT_LEN`]) plus the claim being assembled
//! (capped at [`MAX_LINES_PER_CLAIM`] service lines); nothing panics on any
//! input. The reader performs no I/O of its own.
//!
//! ```
//! use medpol_x12::{Item, Reader};
//!
//! let file = "\
//! ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240101*1200*^*00501*000000001*0*P*:~
//! GS*HC*S*R*20240101*1200*1*X*005010X222A1~ST*837*0001*005010X222A1~
//! HL*1**20*1~NM1*85*2*BILLING*****XX*1234567893~
//! HL*2*1*22*0~SBR*P*18*GRP1******HM~NM1*IL*1*DOE*JANE****MI*M1~NM1*PR*2*ACME*****PI*12345~
//! CLM*C1*100***11:B:1~HI*ABK:J449~LX*1~SV1*HC:99213:25*100*UN*1~DTP*472*D8*20240115~
//! SE*13*0001~GE*1*1~IEA*1*000000001~";
//! let mut reader = Reader::new(file.as_bytes());
//! let Some(Item::Claim(claim)) = reader.next_item() else { panic!() };
//! assert_eq!(claim.payer_name.as_deref(), Some("ACME"));
//! assert_eq!(claim.lines[0].procedure.as_deref(), Some("99213"));
//! assert_eq!(claim.lines[0].modifiers, ["25"]);
//! assert!(reader.next_item().is_none());
//! ```
//!
//! # Envelopes and delimiters
//!
//! Each ISA declares the delimiters of its interchange: the element
//! separator is its 4th character, the repetition separator ISA11, the
//! component separator ISA16 (the 105th character) and the segment
//! terminator the 106th. Line breaks and spaces around segments are ignored.
//! The ISA is read by counting its 16 element separators rather than by
//! position, so a header that is not 106 characters wide still yields the
//! right delimiters; the wrong width is reported (an Error that skips
//! nothing). A file may hold any number of interchanges (ISA/IEA), groups
//! (GS/GE) and transactions (ST/SE); every ISA re-reads the delimiters.
//!
//! The transaction's kind comes from ST03 (or GS08 when ST03 is empty):
//! `005010X222…` is [`ClaimKind::Professional`], `005010X223…`
//! [`ClaimKind::Institutional`]. Any other transaction (ST01 not 837, or
//! another implementation) is skipped with one Error counting its claims.
//!
//! ## Component separator mismatch
//!
//! Real files declare one component separator in ISA16 (`:`) and use
//! another (`>`) in their segments, or the reverse. The reader does not
//! guess up front; it decides at the first composite that must have
//! components (SV101, SV202, CLM05 and the HI elements): when such an
//! element does not contain the current component separator but splits on
//! another common one (`>`, `:`, `^` or `|`, never one of the interchange's
//! other delimiters) into a plausible first component (a two-character
//! qualifier for SV101/SV202, two digits for CLM05, a two- or three-letter
//! qualifier for HI) followed by more, that separator is adopted for the
//! rest of the interchange, and one Warning
//! ([`ProblemKind::ComponentSeparator`]) is reported at the segment where it
//! first shows. The next ISA starts again from what it declares. An element
//! that splits on nothing is read as a single component.
//!
//! # Loops
//!
//! HL segments set the level: 20 billing provider (loop 2000A), 22
//! subscriber (2000B: SBR, NM1*IL = 2010BA, NM1*PR = 2010BB), 23 patient
//! (2000C). A claim (CLM, loop 2300) under a 22, or under a 23 below it,
//! takes the subscriber's SBR and NM1*PR. Inside a claim, an SBR opens the
//! other-subscriber loops (2320/2330x) and everything there (its SBR, its
//! NM1*PR, its REF*G1) is ignored for the claim's fields. LX opens a service
//! line (loop 2400). A claim ends at the next CLM, HL or SE; a service line
//! at the next LX or the end of its claim.
//!
//! # Field by field
//!
//! | field | from |
//! |---|---|
//! | [`Claim::segment`] | the number of the CLM segment (1-based, counting every segment of the file, ISA included) |
//! | [`Claim::kind`] | ST03, or GS08 |
//! | [`Claim::id`] | CLM01 (required) |
//! | [`Claim::payer_name`], [`Claim::payer_id`] | NM103, NM109 of the subscriber's NM1*PR (loop 2010BB) |
//! | [`Claim::filing_indicator`], [`Claim::group_number`] | SBR09, SBR03 of the subscriber's SBR (loop 2000B) |
//! | [`Claim::place_of_service`] | 837P: CLM05-1 (required, two digits) |
//! | [`Claim::facility_type`] | 837I: CLM05-1 (required, two digits) |
//! | [`Claim::diagnoses`] | the code of each HI element whose qualifier is ABK, ABF, ABJ or APR (ICD-10-CM), as written, in order |
//! | [`Claim::prior_auth_number`] | REF02 of the first REF*G1 in loop 2300 |
//! | [`Claim::statement_from`] | 837I: DTP*434, D8 or the first date of RD8 |
//! | [`ServiceLine::segment`], [`ServiceLine::number`] | the LX segment, LX01 |
//! | [`ServiceLine::procedure`] | 837P: SV101-2, 837I: SV202-2; the qualifier must be HC; `None` for an 837I line with no SV202 (revenue code only) |
//! | [`ServiceLine::revenue_code`] | 837I: SV201 (required) |
//! | [`ServiceLine::modifiers`] | SV101-3..6 / SV202-3..6, the non-empty ones |
//! | [`ServiceLine::units`] | SV104 / SV205, as written |
//! | [`ServiceLine::place_of_service`] | 837P: SV105 (overrides the claim's; `None` when absent, the claim's is not copied) |
//! | [`ServiceLine::date`] | DTP*472, D8 or the first date of RD8 |
//!
//! Values are trimmed of surrounding spaces; codes are not validated beyond
//! being present (that is the code systems' job downstream). HI qualifiers
//! BK, BF, BJ and PR (ICD-9-CM) are reported, one Warning per HI segment,
//! and not read; other HI qualifiers (value, occurrence, condition codes…)
//! are ignored.
//!
//! # Problems and recovery
//!
//! Each problem is reported once, with the segment where it is, its id, what
//! is wrong and what was expected. After a problem the reader goes on with
//! what it can read:
//!
//! - a bad service line (LX without a number, SV1/SV2 missing or without a
//!   procedure, a qualifier other than HC, a bad DTP*472 date, SV1 or SV2
//!   before any LX) is skipped: `lines_skipped` 1;
//! - a bad claim (CLM01 or CLM05 missing or malformed, CLM before any
//!   subscriber HL, an ICD-10 HI qualifier without a code, a bad DTP*434) is
//!   skipped with its lines: `claims_skipped` 1, `lines_skipped` the number
//!   of its LX segments; the problem comes where the claim would have;
//! - control numbers and counts (SE01, SE02, GE01, GE02, IEA01, IEA02) that
//!   do not match are Errors that skip nothing;
//! - an envelope cut short (the file ends, or a new ISA/GS/ST comes, before
//!   SE/GE/IEA) is one Error naming what was cut; claims completed before
//!   it are returned, the claim in progress is dropped (it may be incomplete);
//! - segments outside any transaction are one Error per run, counting the
//!   claims and lines in them; bytes outside any interchange are one Error
//!   per stretch; input with no ISA at all is one Error at segment 0 and
//!   yields no claims;
//! - missing or repeated required loops that do not change a claim's fields
//!   (no NM1*85 in 2000A, no SBR/NM1*IL/NM1*PR in 2000B, a second one of
//!   those, a claim without HI, an unknown NM101 entity code) are Warnings.
//!
//! Items come in file order: a claim when it ends, followed by the problems
//! met inside it (in segment order, each carrying its CLM01); a skipped
//! claim's problem comes where the claim would have. A missing required
//! segment is reported when its loop is over, so it may follow problems of
//! later segments.
//!
//! Some real files (those here written by imsweb's parser among them) put
//! any number in SE01 (`SE*25` whatever the count) or leave GE01/IEA01 at 1
//! for several transactions or groups; those are reported as they are:
//! Errors of kind [`ProblemKind::ControlMismatch`] that skip nothing, so a
//! caller may treat that kind apart.
//!
//! Robustness: a proptest (`tests/no_panic.rs`) feeds arbitrary bytes,
//! X12-like noise and mutated valid files, read whole and in small pieces;
//! `fuzz/fuzz_targets/read_x12.rs` does the same under cargo-fuzz.

use std::fmt;

mod reader;
mod source;

pub use reader::Reader;

/// The longest segment kept (64 KiB); a longer one is reported and skipped.
pub const MAX_SEGMENT_LEN: usize = 64 * 1024;

/// The most service lines one claim may hold (837I allows 999, 837P 50);
/// further lines are skipped with one Error, which bounds a claim's memory.
pub const MAX_LINES_PER_CLAIM: usize = 10_000;

/// What [`Reader::next_item`] yields.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// Boxed: it moves from the reader to the caller and back by pointer.
    Claim(Box<Claim>),
    Problem(Problem),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimKind {
    /// 837P, implementation 005010X222…
    Professional,
    /// 837I, implementation 005010X223…
    Institutional,
}

/// One claim (loop 2300) with its service lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// 1-based number, in the file, of the CLM segment.
    pub segment: u64,
    /// From GS08/ST03 (005010X222* professional, 005010X223* institutional).
    pub kind: ClaimKind,
    /// CLM01.
    pub id: String,
    /// NM1*PR in loop 2010BB (the subscriber's payer), NM103.
    pub payer_name: Option<String>,
    /// Its NM109.
    pub payer_id: Option<String>,
    /// SBR09 of loop 2000B.
    pub filing_indicator: Option<String>,
    /// SBR03 of loop 2000B.
    pub group_number: Option<String>,
    /// 837P: CLM05-1.
    pub place_of_service: Option<String>,
    /// 837I: CLM05-1 (two characters, first digits of the bill type).
    pub facility_type: Option<String>,
    /// ICD-10-CM codes from HI with qualifiers ABK, ABF, ABJ, APR, as
    /// written (e.g. "J449", no dot).
    pub diagnoses: Vec<String>,
    /// REF*G1 in loop 2300.
    pub prior_auth_number: Option<String>,
    /// 837I DTP*434 (D8, or the start of RD8).
    pub statement_from: Option<chrono::NaiveDate>,
    pub lines: Vec<ServiceLine>,
}

/// One service line (loop 2400).
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceLine {
    /// Number of the LX segment.
    pub segment: u64,
    /// LX01.
    pub number: u32,
    /// SV101-2 (837P, qualifier HC) or SV202-2 (837I, qualifier HC); None
    /// for an 837I revenue-code-only line.
    pub procedure: Option<String>,
    /// SV201 (837I).
    pub revenue_code: Option<String>,
    /// SV101-3..6 / SV202-3..6.
    pub modifiers: Vec<String>,
    /// SV104 / SV205.
    pub units: Option<String>,
    /// SV105 (837P), overrides the claim's.
    pub place_of_service: Option<String>,
    /// DTP*472 D8, or the start of RD8.
    pub date: Option<chrono::NaiveDate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Warning,
    Error,
}

/// What sort of problem, for callers that treat some differently (tests
/// over real files, summaries); the message says the specifics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The input has no ISA at all.
    NoInterchange,
    /// Bytes outside any interchange.
    Garbage,
    /// An ISA/GS/ST/SE/GE/IEA out of place, a bad ISA, segments outside a
    /// transaction.
    Envelope,
    /// SE01/SE02, GE01/GE02 or IEA01/IEA02 do not match.
    ControlMismatch,
    /// The input ends (or a new envelope begins) inside an envelope.
    Truncated,
    /// A segment identifier that is not one, a segment over the length cap,
    /// a last segment without its terminator.
    SegmentSyntax,
    /// A required element is missing.
    MissingElement,
    /// An element is present but malformed (a date, a number, CLM05-1).
    InvalidElement,
    /// A qualifier or code outside those expected (SV101 not HC, HL03, NM101).
    UnknownQualifier,
    /// A segment before the loop it belongs to (CLM before a subscriber,
    /// LX before CLM, SV1 before LX).
    LoopOrder,
    /// A required segment or loop is missing.
    MissingSegment,
    /// A segment or loop repeated more often than allowed.
    DuplicateSegment,
    /// ICD-9-CM diagnoses, which are not read.
    Icd9,
    /// The component separator used is not the one ISA16 declares.
    ComponentSeparator,
    /// A transaction other than 837 professional/institutional 5010.
    UnsupportedTransaction,
    /// More service lines in a claim than [`MAX_LINES_PER_CLAIM`].
    TooManyLines,
    /// Reading the input failed.
    Io,
}

/// Something wrong in the input, where it is and what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("segment {segment}{}: {message}", id_suffix(.segment_id))]
pub struct Problem {
    pub severity: Severity,
    /// 1-based segment number in the file (0 if before any).
    pub segment: u64,
    /// e.g. "SV1", "CLM", "ISA" (or "" if unknown).
    pub segment_id: String,
    /// What is wrong and what was expected.
    pub message: String,
    /// CLM01 of the claim it belongs to, if any.
    pub claim: Option<String>,
    /// Claims this problem made the reader skip.
    pub claims_skipped: u32,
    /// Service lines it made the reader skip.
    pub lines_skipped: u32,
    pub kind: ProblemKind,
}

fn id_suffix(id: &str) -> String {
    if id.is_empty() {
        String::new()
    } else {
        format!(" ({id})")
    }
}

impl fmt::Display for ClaimKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClaimKind::Professional => "professional (837P)",
            ClaimKind::Institutional => "institutional (837I)",
        })
    }
}
