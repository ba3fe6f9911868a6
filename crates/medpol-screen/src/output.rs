//! Decisions out: one CSV row or NDJSON object per claim line, written by
//! hand into a chunk's buffer (the hot path: no per-row allocation).

use std::io::{self, Write};

use medpol_core::determination::LineDetermination;

use crate::input::ClaimLine;

pub const CSV_COLUMNS: [&str; 11] = [
    "claim_id",
    "line",
    "code_system",
    "code",
    "coverage",
    "reasons",
    "prior_auth",
    "flagged",
    "policies",
    "versions",
    "citation",
];

/// Columns added for X12 input: where the line starts in the file, and
/// whether its claim carries a prior-authorization number (REF*G1).
pub const X12_COLUMNS: [&str; 2] = ["segment", "claim_has_auth_number"];

pub fn csv_header(out: &mut dyn Write, x12: bool) -> io::Result<()> {
    if x12 {
        writeln!(out, "{},{}", CSV_COLUMNS.join(","), X12_COLUMNS.join(","))
    } else {
        writeln!(out, "{}", CSV_COLUMNS.join(","))
    }
}

/// A CSV field, quoted only when it must be.
fn csv_field(out: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        out.push(b'"');
        for b in s.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

fn push_u32(out: &mut Vec<u8>, n: u32) {
    push_u64(out, n as u64);
}

fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// The short citation: the first statement cited, as `policy version path`.
fn short_citation(out: &mut Vec<u8>, d: &LineDetermination<'_>) {
    if let Some(c) = d.citations.first() {
        out.extend_from_slice(c.policy.as_bytes());
        out.push(b' ');
        out.extend_from_slice(c.version.as_bytes());
        out.push(b' ');
        out.extend_from_slice(c.path.as_bytes());
    }
}

/// A field a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab or
/// carriage return first) gets a leading `'`, as OWASP advises for CSV
/// exports: the claim id is the one field of a row the input chose.
pub(crate) fn csv_text_field(out: &mut Vec<u8>, s: &str) {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        csv_field(out, &format!("'{s}"));
    } else {
        csv_field(out, s);
    }
}

pub fn csv_row(out: &mut Vec<u8>, claim: &ClaimLine<'_>, d: &LineDetermination<'_>, flagged: bool) {
    csv_text_field(out, &claim.claim_id);
    out.push(b',');
    push_u32(out, claim.line);
    out.push(b',');
    out.extend_from_slice(d.code.system().id().as_bytes());
    out.push(b',');
    out.extend_from_slice(d.code.as_str().as_bytes());
    out.push(b',');
    out.extend_from_slice(d.coverage.id().as_bytes());
    out.push(b',');
    for (i, r) in d.reasons.iter().enumerate() {
        if i > 0 {
            out.push(b';');
        }
        out.extend_from_slice(r.id().as_bytes());
    }
    out.push(b',');
    out.extend_from_slice(d.prior_auth.id().as_bytes());
    out.push(b',');
    out.extend_from_slice(if flagged { b"true" } else { b"false" });
    out.push(b',');
    for (i, p) in d.policies.iter().enumerate() {
        if i > 0 {
            out.push(b';');
        }
        out.extend_from_slice(p.payer.as_bytes());
        out.push(b'/');
        out.extend_from_slice(p.number.as_bytes());
    }
    out.push(b',');
    for (i, p) in d.policies.iter().enumerate() {
        if i > 0 {
            out.push(b';');
        }
        out.extend_from_slice(p.version.as_bytes());
    }
    out.push(b',');
    let start = out.len();
    short_citation(out, d);
    if out[start..].iter().any(|b| matches!(b, b',' | b'"')) {
        let text = String::from_utf8_lossy(&out[start..]).into_owned();
        out.truncate(start);
        csv_field(out, &text);
    }
    if let Some(segment) = claim.segment {
        out.push(b',');
        push_u64(out, segment);
        out.push(b',');
        out.extend_from_slice(if claim.has_auth_number == Some(true) {
            b"true"
        } else {
            b"false"
        });
    }
    out.push(b'\n');
}

#[derive(serde::Serialize)]
struct JsonRow<'a> {
    claim_id: &'a str,
    line: u32,
    code: &'a medpol_core::Code,
    coverage: medpol_core::Coverage,
    reasons: &'a [medpol_core::Reason],
    prior_auth: medpol_core::PriorAuth,
    flagged: bool,
    policies: Vec<JsonPolicy<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    citation: Option<JsonCitation<'a>>,
    /// The statements whose medical-necessity criteria the line rests on
    /// (a reviewer checks the record against them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    criteria: Vec<&'a str>,
    /// For a line that depends on the indication: the indications and the
    /// diagnosis codes that would select each.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    indications: &'a [medpol_core::determination::IndicationRef<'a>],
    /// X12 input: the segment where the line starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    segment: Option<u64>,
    /// X12 input: whether the claim carries a prior-authorization number.
    #[serde(skip_serializing_if = "Option::is_none")]
    claim_has_auth_number: Option<bool>,
}

#[derive(serde::Serialize)]
struct JsonPolicy<'a> {
    payer: &'a str,
    number: &'a str,
    version: &'a str,
    effective: chrono::NaiveDate,
}

#[derive(serde::Serialize)]
struct JsonCitation<'a> {
    policy: &'a str,
    version: &'a str,
    path: &'a str,
    text: &'a str,
}

pub fn ndjson_row(
    out: &mut Vec<u8>,
    claim: &ClaimLine<'_>,
    d: &LineDetermination<'_>,
    flagged: bool,
) {
    let row = JsonRow {
        claim_id: &claim.claim_id,
        line: claim.line,
        code: &d.code,
        coverage: d.coverage,
        reasons: &d.reasons,
        prior_auth: d.prior_auth,
        flagged,
        policies: d
            .policies
            .iter()
            .map(|p| JsonPolicy {
                payer: p.payer,
                number: p.number,
                version: p.version,
                effective: p.effective,
            })
            .collect(),
        citation: d.citations.first().map(|c| JsonCitation {
            policy: c.policy,
            version: c.version,
            path: c.path,
            text: c.text,
        }),
        criteria: d.criteria.iter().map(|c| c.path).collect(),
        indications: &d.indications,
        segment: claim.segment,
        claim_has_auth_number: claim.has_auth_number,
    };
    // Serializing plain data into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, &row);
    out.push(b'\n');
}
