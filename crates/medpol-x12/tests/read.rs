//! Small inline 837P and 837I documents: every field, the delimiters, and
//! every kind of problem with what it skips.

use std::io::BufReader;

use chrono::NaiveDate;
use medpol_x12::{Claim, ClaimKind, Item, Problem, ProblemKind, Reader, Severity};

const P: &str = "005010X222A1";
const I: &str = "005010X223A2";

/// A 106-character ISA with the given delimiters.
fn isa(e: char, rep: char, comp: char, term: char, control: &str) -> String {
    let s = format!(
        "ISA{e}00{e}{:10}{e}00{e}{:10}{e}ZZ{e}{:15}{e}ZZ{e}{:15}{e}240101{e}1200{e}{rep}{e}00501{e}{control:0>9}{e}0{e}P{e}{comp}{term}",
        "", "", "SENDER", "RECEIVER"
    );
    assert_eq!(s.len(), 106);
    s
}

/// One interchange, group and transaction around `body` (segments written
/// with `*` and `:`), with correct trailers. The ISA is segment 1, GS 2,
/// ST 3, so `body[i]` is segment `i + 4`.
fn doc(version: &str, body: &[&str]) -> String {
    let mut s = isa('*', '^', ':', '~', "1");
    s.push('\n');
    s += &format!("GS*HC*S*R*20240101*1200*1*X*{version}~\nST*837*0001*{version}~\n");
    for seg in body {
        s += seg;
        s += "~\n";
    }
    s += &format!("SE*{}*0001~\nGE*1*1~\nIEA*1*000000001~\n", body.len() + 2);
    s
}

/// Submitter, receiver, billing provider, subscriber with plan and payer
/// (segments 4 to 12).
const HEAD: [&str; 9] = [
    "BHT*0019*00*1*20240101*1200*CH",
    "NM1*41*2*SUBMITTER*****46*1",
    "NM1*40*2*RECEIVER*****46*2",
    "HL*1**20*1",
    "NM1*85*2*BILLING*****XX*1234567893",
    "HL*2*1*22*0",
    "SBR*P*18*GRP123******HM",
    "NM1*IL*1*DOE*JANE****MI*M1",
    "NM1*PR*2*ACME HEALTH*****PI*12345",
];

fn with_head<'a>(rest: &[&'a str]) -> Vec<&'a str> {
    let mut v: Vec<&'a str> = HEAD.to_vec();
    v.extend_from_slice(rest);
    v
}

fn items(input: &[u8]) -> Vec<Item> {
    let mut r = Reader::new(input);
    std::iter::from_fn(|| r.next_item()).collect()
}

fn read(input: &str) -> (Vec<Claim>, Vec<Problem>) {
    split(items(input.as_bytes()))
}

fn split(items: Vec<Item>) -> (Vec<Claim>, Vec<Problem>) {
    let (mut c, mut p) = (Vec::new(), Vec::new());
    for i in items {
        match i {
            Item::Claim(x) => c.push(*x),
            Item::Problem(x) => p.push(x),
        }
    }
    (c, p)
}

fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

/// The one problem of `kind`.
fn one(problems: &[Problem], kind: ProblemKind) -> Problem {
    let found: Vec<&Problem> = problems.iter().filter(|p| p.kind == kind).collect();
    assert_eq!(
        found.len(),
        1,
        "one {kind:?} problem expected in {problems:#?}"
    );
    found[0].clone()
}

fn no_problems(problems: &[Problem]) {
    assert!(problems.is_empty(), "{problems:#?}");
}

// ----- fields -----

#[test]
fn professional_claim_every_field() {
    let body = with_head(&[
        "CLM*PC1*150***11:B:1*Y*A*Y*Y",
        "REF*G1*PA-777",
        "HI*ABK:J449*ABF:E119*ABJ:R0602*APR:R05",
        "LX*1",
        "SV1*HC:99213:25:59:GT:95*100*UN*2*22**1",
        "DTP*472*D8*20240115",
        "LX*2",
        "SV1*HC:97110*50*UN*1***1",
        "DTP*472*RD8*20240110-20240112",
    ]);
    let (claims, problems) = read(&doc(P, &body));
    no_problems(&problems);
    assert_eq!(claims.len(), 1);
    let c = &claims[0];
    assert_eq!(c.segment, 13);
    assert_eq!(c.kind, ClaimKind::Professional);
    assert_eq!(c.id, "PC1");
    assert_eq!(c.payer_name.as_deref(), Some("ACME HEALTH"));
    assert_eq!(c.payer_id.as_deref(), Some("12345"));
    assert_eq!(c.filing_indicator.as_deref(), Some("HM"));
    assert_eq!(c.group_number.as_deref(), Some("GRP123"));
    assert_eq!(c.place_of_service.as_deref(), Some("11"));
    assert_eq!(c.facility_type, None);
    assert_eq!(c.diagnoses, ["J449", "E119", "R0602", "R05"]);
    assert_eq!(c.prior_auth_number.as_deref(), Some("PA-777"));
    assert_eq!(c.statement_from, None);
    assert_eq!(c.lines.len(), 2);
    let l = &c.lines[0];
    assert_eq!((l.segment, l.number), (16, 1));
    assert_eq!(l.procedure.as_deref(), Some("99213"));
    assert_eq!(l.revenue_code, None);
    assert_eq!(l.modifiers, ["25", "59", "GT", "95"]);
    assert_eq!(l.units.as_deref(), Some("2"));
    assert_eq!(
        l.place_of_service.as_deref(),
        Some("22"),
        "SV105 overrides CLM05-1"
    );
    assert_eq!(l.date, date(2024, 1, 15));
    let l = &c.lines[1];
    assert_eq!((l.segment, l.number), (19, 2));
    assert_eq!(l.procedure.as_deref(), Some("97110"));
    assert!(l.modifiers.is_empty());
    assert_eq!(l.place_of_service, None, "no SV105: the claim's applies");
    assert_eq!(l.date, date(2024, 1, 10), "RD8: the start");
}

#[test]
fn institutional_claim_every_field() {
    let body = with_head(&[
        "CLM*IC1*900***13:A:1**A*Y*Y",
        "DTP*434*RD8*20240101-20240105",
        "CL1*1*1*01",
        "REF*G1*AUTH1",
        "HI*ABK:I10*ABF:E119*BH:A1:D8:20240101",
        "HI*ABJ:R079",
        "LX*1",
        "SV2*0450*HC:99284:25*500*UN*1",
        "DTP*472*D8*20240101",
        "LX*2",
        "SV2*0250**10*UN*3",
    ]);
    let (claims, problems) = read(&doc(I, &body));
    no_problems(&problems);
    let c = &claims[0];
    assert_eq!(c.kind, ClaimKind::Institutional);
    assert_eq!(c.facility_type.as_deref(), Some("13"));
    assert_eq!(c.place_of_service, None);
    assert_eq!(c.statement_from, date(2024, 1, 1));
    assert_eq!(c.prior_auth_number.as_deref(), Some("AUTH1"));
    assert_eq!(
        c.diagnoses,
        ["I10", "E119", "R079"],
        "BH (occurrence) ignored"
    );
    let l = &c.lines[0];
    assert_eq!(l.revenue_code.as_deref(), Some("0450"));
    assert_eq!(l.procedure.as_deref(), Some("99284"));
    assert_eq!(l.modifiers, ["25"]);
    assert_eq!(l.units.as_deref(), Some("1"));
    assert_eq!(l.date, date(2024, 1, 1));
    let l = &c.lines[1];
    assert_eq!(l.revenue_code.as_deref(), Some("0250"));
    assert_eq!(l.procedure, None, "revenue code only");
    assert_eq!(l.units.as_deref(), Some("3"));
    assert_eq!(l.date, None);
}

#[test]
fn statement_date_d8_and_kind_from_gs08_when_st03_is_empty() {
    let body = with_head(&[
        "CLM*IC2*10***11:A:1",
        "DTP*434*D8*20231231",
        "HI*ABK:Z0000",
        "LX*1",
        "SV2*0300*HC:81099*10*UN*1",
    ]);
    let text = doc(I, &body).replace("ST*837*0001*005010X223A2~", "ST*837*0001~");
    let (claims, problems) = read(&text);
    no_problems(&problems);
    assert_eq!(claims[0].kind, ClaimKind::Institutional);
    assert_eq!(claims[0].statement_from, date(2023, 12, 31));
}

#[test]
fn claim_under_a_patient_takes_the_subscribers_plan() {
    let mut body = HEAD.to_vec();
    body[5] = "HL*2*1*22*1";
    body.extend([
        "HL*3*2*23*0",
        "PAT*19",
        "NM1*QC*1*DOE*JOHN",
        "CLM*PAT1*10***11:B:1",
        "HI*ABK:J449",
        "LX*1",
        "SV1*HC:99213*10*UN*1***1",
    ]);
    let (claims, problems) = read(&doc(P, &body));
    no_problems(&problems);
    assert_eq!(claims[0].payer_name.as_deref(), Some("ACME HEALTH"));
    assert_eq!(claims[0].filing_indicator.as_deref(), Some("HM"));
}

#[test]
fn other_payer_loops_2320_2330b_are_ignored() {
    let body = with_head(&[
        "CLM*COB1*10***11:B:1",
        "REF*G1*MINE",
        "HI*ABK:J449",
        "NM1*82*1*RENDERING*DOC****XX*1",
        "SBR*S*01*OTHERGRP******CI",
        "OI***Y*P**Y",
        "NM1*IL*1*DOE*JOHN****MI*X",
        "NM1*PR*2*OTHER PAYER*****PI*99999",
        "REF*G1*THEIRS",
        "LX*1",
        "SV1*HC:99213*10*UN*1***1",
        "REF*G1*LINE-LEVEL",
        "CLM*COB2*10***11:B:1",
        "SBR*S*01*OTHERGRP******CI",
        "NM1*PR*2*OTHER PAYER*****PI*99999",
        "REF*G1*THEIRS",
        "HI*ABK:J449",
        "LX*1",
        "SV1*HC:99213*10*UN*1***1",
    ]);
    let (claims, problems) = read(&doc(P, &body));
    no_problems(&problems);
    for c in &claims {
        assert_eq!(c.payer_name.as_deref(), Some("ACME HEALTH"));
        assert_eq!(c.payer_id.as_deref(), Some("12345"));
        assert_eq!(c.group_number.as_deref(), Some("GRP123"));
        assert_eq!(c.filing_indicator.as_deref(), Some("HM"));
    }
    assert_eq!(claims[0].prior_auth_number.as_deref(), Some("MINE"));
    assert_eq!(claims[1].prior_auth_number, None);
}

#[test]
fn each_subscriber_has_its_own_plan() {
    let body = with_head(&[
        "CLM*A*10***11:B:1",
        "HI*ABK:J449",
        "LX*1",
        "SV1*HC:99213*10*UN*1",
        "HL*3*1*22*0",
        "SBR*P*18*G2******MB",
        "NM1*IL*1*ROE*RICHARD****MI*M2",
        "NM1*PR*2*MEDICARE*****PI*00435",
        "CLM*B*10***12:B:1",
        "HI*ABK:J449",
        "LX*1",
        "SV1*HC:99213*10*UN*1",
    ]);
    let (claims, problems) = read(&doc(P, &body));
    no_problems(&problems);
    assert_eq!(claims[0].payer_name.as_deref(), Some("ACME HEALTH"));
    assert_eq!(claims[1].payer_name.as_deref(), Some("MEDICARE"));
    assert_eq!(claims[1].filing_indicator.as_deref(), Some("MB"));
    assert_eq!(claims[1].place_of_service.as_deref(), Some("12"));
}

#[test]
fn icd9_is_a_warning_and_the_claim_is_kept() {
    let body = with_head(&[
        "CLM*ICD9*10***11:B:1",
        "HI*BK:4019*ABF:E119*BF:25000",
        "LX*1",
        "SV1*HC:99213*10*UN*1",
    ]);
    let (claims, problems) = read(&doc(P, &body));
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].diagnoses, ["E119"]);
    let p = one(&problems, ProblemKind::Icd9);
    assert_eq!(p.severity, Severity::Warning);
    assert_eq!((p.segment, p.segment_id.as_str()), (14, "HI"));
    assert!(
        p.message.contains("ICD-9") && p.message.contains("unsupported"),
        "{}",
        p.message
    );
    assert!(p.message.contains("BK:4019") && p.message.contains("BF:25000"));
    assert_eq!(p.claim.as_deref(), Some("ICD9"));
    assert_eq!((p.claims_skipped, p.lines_skipped), (0, 0));
}

// ----- delimiters -----

#[test]
fn other_delimiters_and_no_line_breaks() {
    let body = with_head(&[
        "CLM*D1*10***11:B:1",
        "HI*ABK:J449",
        "LX*1",
        "SV1*HC:99213:25*10*UN*1",
        "DTP*472*D8*20240102",
    ]);
    let standard = doc(P, &body);
    let (want, _) = read(&standard);
    // `|` elements, `>` components, `!` terminator, nothing between segments.
    let mut other = isa('|', '^', '>', '!', "1");
    for seg in standard.lines().skip(1) {
        let seg = seg.trim_end_matches('~');
        other += &seg.replace('*', "|").replace(':', ">");
        other.push('!');
    }
    let (got, problems) = read(&other);
    no_problems(&problems);
    assert_eq!(got, want);
    // A line break as the segment terminator, CRLF line ends.
    let mut crlf = isa('*', '^', ':', '\n', "1");
    for seg in standard.lines().skip(1) {
        crlf += seg.trim_end_matches('~');
        crlf += "\r\n";
    }
    let (got, problems) = read(&crlf);
    no_problems(&problems);
    assert_eq!(got, want);
}

#[test]
fn each_isa_rereads_the_delimiters() {
    let body = with_head(&[
        "CLM*X*10***11:B:1",
        "HI*ABK:J449",
        "LX*1",
        "SV1*HC:99213*10*UN*1",
    ]);
    let first = doc(P, &body);
    let mut second = isa('|', '^', '>', '\n', "2");
    for seg in first.lines().skip(1) {
        let seg = seg
            .trim_end_matches('~')
            .replace('*', "|")
            .replace(':', ">");
        let seg = seg.replace("IEA|1|000000001", "IEA|1|000000002");
        second += &seg;
        second.push('\n');
    }
    let (claims, problems) = read(&format!("{first}{second}"));
    no_problems(&problems);
    assert_eq!(claims.len(), 2);
    assert_eq!(claims[1].segment, claims[0].segment + 19);
    assert_eq!(claims[1].lines[0].segment, claims[0].lines[0].segment + 19);
    assert_eq!(claims[1].lines[0].procedure.as_deref(), Some("99213"));
    assert_eq!(claims[1].id, claims[0].id);
}

#[test]
fn component_separator_mismatch_is_adopted_with_one_warning() {
    let body = with_head(&[
        "CLM*M1*10***11>B>1",
        "HI*ABK>J449*ABF>E119",
        "LX*1",
        "SV1*HC>99213>25*10*UN*1",
        "CLM*M2*10***11>B>1",
        "HI*ABK>J449",
        "LX*1",
        "SV1*HC>99214*10*UN*1",
    ]);
    let text = doc(P, &body);
    let (claims, problems) = read(&text);
    let p = one(&problems, ProblemKind::ComponentSeparator);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(p.severity, Severity::Warning);
    assert_eq!((p.segment, p.segment_id.as_str()), (13, "CLM"));
    assert!(
        p.message.contains("`>`") && p.message.contains("ISA16 declares `:`"),
        "{}",
        p.message
    );
    assert_eq!(claims[0].place_of_service.as_deref(), Some("11"));
    assert_eq!(claims[0].diagnoses, ["J449", "E119"]);
    assert_eq!(claims[0].lines[0].procedure.as_deref(), Some("99213"));
    assert_eq!(claims[0].lines[0].modifiers, ["25"]);
    assert_eq!(claims[1].lines[0].procedure.as_deref(), Some("99214"));

    // The next interchange starts again from its own ISA16 and warns again.
    let (claims, problems) = read(&format!("{text}{text}"));
    assert_eq!(claims.len(), 4);
    assert_eq!(
        problems
            .iter()
            .filter(|p| p.kind == ProblemKind::ComponentSeparator)
            .count(),
        2
    );

    // The reverse: `>` declared, `:` used.
    let reverse = text.replace('>', ":").replacen("*P*:~", "*P*>~", 1);
    let (claims, problems) = read(&reverse);
    one(&problems, ProblemKind::ComponentSeparator);
    assert_eq!(claims[1].lines[0].procedure.as_deref(), Some("99214"));
}

#[test]
fn a_composite_without_any_separator_is_one_component() {
    // `11` alone is CLM05-1; the declared separator is kept, no warning.
    let body = with_head(&[
        "CLM*S1*10***11",
        "HI*ABK:J449",
        "LX*1",
        "SV1*HC:99213*10*UN*1",
    ]);
    let (claims, problems) = read(&doc(P, &body));
    no_problems(&problems);
    assert_eq!(claims[0].place_of_service.as_deref(), Some("11"));
}

#[test]
fn isa_of_the_wrong_width_is_reported_and_read() {
    let body = with_head(&[
        "CLM*W1*10***11:B:1",
        "HI*ABK:J449",
        "LX*1",
        "SV1*HC:99213*10*UN*1",
    ]);
    // One space short in ISA02 (as in imsweb's bad_first_line).
    let text = doc(P, &body).replacen("*00*          *00*", "*00*         *00*", 1);
    let (claims, problems) = read(&text);
    assert_eq!(claims.len(), 1);
    let p = one(&problems, ProblemKind::Envelope);
    assert_eq!(
        (p.severity, p.segment, p.segment_id.as_str()),
        (Severity::Error, 1, "ISA")
    );
    assert!(p.message.contains("105 characters") && p.message.contains("expected 106"));
}

#[test]
fn unusable_isa_delimiters() {
    let bad = format!("{}GS*HC~", &isa('*', '^', '*', '~', "1")[..105]);
    let (claims, problems) = read(&bad);
    assert!(claims.is_empty());
    assert_eq!(problems[0].kind, ProblemKind::Envelope);
    assert_eq!(problems[0].segment, 1);
}

// ----- claim-level problems -----

#[test]
fn clm01_missing_skips_the_claim_and_its_lines() {
    let body = with_head(&[
        "CLM**10***11:B:1",
        "HI*ABK:J449",
        "LX*1",
        "SV1*HC:99213*10*UN*1",
        "LX*2",
        "SV1*HC:99214*10*UN*1",
        "CLM*OK*10***11:B:1",
        "HI*ABK:J449",
        "LX*1",
        "SV1*HC:99213*10*UN*1",
    ]);
    let all = items(doc(P, &body).as_bytes());
    let (claims, problems) = split(all.clone());
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].id, "OK");
    let p = one(&problems, ProblemKind::MissingElement);
    assert_eq!(
        (p.severity, p.segment, p.segment_id.as_str()),
        (Severity::Error, 13, "CLM")
    );
    assert!(p.message.contains("CLM01") && p.message.contains("expected"));
    assert_eq!((p.claims_skipped, p.lines_skipped), (1, 2));
    assert_eq!(p.claim, None);
    // It comes where the claim would have: before the next claim.
    assert!(matches!(&all[0], Item::Problem(x) if x.kind == ProblemKind::MissingElement));
    assert!(matches!(&all[1], Item::Claim(_)));
}

#[test]
fn clm05_missing_or_malformed_skips_the_claim() {
    for (clm, kind) in [
        ("CLM*C5*10****Y*A", ProblemKind::MissingElement),
        ("CLM*C5*10***1X:B:1", ProblemKind::InvalidElement),
    ] {
        let body = with_head(&[clm, "HI*ABK:J449", "LX*1", "SV1*HC:99213*10*UN*1"]);
        let (claims, problems) = read(&doc(P, &body));
        assert!(claims.is_empty());
        let p = one(&problems, kind);
        assert!(p.message.contains("CLM05-1"), "{}", p.message);
        assert_eq!(p.claim.as_deref(), Some("C5"));
        assert_eq!((p.claims_skipped, p.lines_skipped), (1, 1));
    }
}

#[test]
fn clm_before_any_subscriber_is_out_of_order() {
    let body = [
        "BHT*0019*00*1*20240101*1200*CH",
        "HL*1**20*1",
        "NM1*85*2*BILLING*****XX*1",
        "CLM*EARLY*10***11:B:1",
        "HI*ABK:J449",
        "LX*1",
        "SV1*HC:99213*10*UN*1",
        "HL*2*1*22*0",
        "SBR*P*18*G******CI",
        "NM1*IL*1*DOE*JANE",
        "NM1*PR*2*ACME*****PI*1",
        "CLM*LATER*10***11:B:1",
        "HI*ABK:J449",
        "LX*1",
        "SV1*HC:99213*10*UN*1",
    ];
    let (claims, problems) = read(&doc(P, &body));
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].id, "LATER");
    let p = one(&problems, ProblemKind::LoopOrder);
    assert_eq!((p.segment, p.segment_id.as_str()), (7, "CLM"));
    assert_eq!((p.claims_skipped, p.lines_skipped), (1, 1));
    assert!(p.message.contains("subscriber"));
}

#[test]
fn unknown_hl_level_skips_its_claims() {
    let mut body = HEAD.to_vec();
    body.extend([
        "HL*3*2*99*0",
        "CLM*Q*10***11:B:1",
        "HI*ABK:J449",
        "LX*1",
        "SV1*HC:99213*10*UN*1",
    ]);
    let (claims, problems) = read(&doc(P, &body));
    assert!(claims.is_empty());
    let p = one(&problems, ProblemKind::UnknownQualifier);
    assert_eq!(p.segment_id, "HL");
    let p = one(&problems, ProblemKind::LoopOrder);
    assert_eq!(p.claims_skipped, 1);
}

#[test]
fn bad_statement_date_skips_the_claim() {
    let body = with_head(&[
        "CLM*BD*10***13:A:1",
        "DTP*434*D8*20240230",
        "HI*ABK:J449",
        "LX*1",
        "SV2*0300*HC:81099*10*UN*1",
    ]);
    let (claims, problems) = read(&doc(I, &body));
    assert!(claims.is_empty());
    let p = one(&problems, ProblemKind::InvalidElement);
    assert_eq!((p.segment, p.segment_id.as_str()), (14, "DTP"));
    assert!(p.message.contains("20240230") && p.message.contains("CCYYMMDD"));
    assert_eq!((p.claims_skipped, p.lines_skipped), (1, 1));
}

#[test]
fn icd10_qualifier_without_code_skips_the_claim() {
    let body = with_head(&[
        "CLM*NC*10***11:B:1",
        "HI*ABK:J449*ABF",
        "LX*1",
        "SV1*HC:99213*10*UN*1",
    ]);
    let (claims, problems) = read(&doc(P, &body));
    assert!(claims.is_empty());
    let p = one(&problems, ProblemKind::MissingElement);
    assert!(
        p.message.contains("HI02") && p.message.contains("ABF"),
        "{}",
        p.message
    );
    assert_eq!(p.claims_skipped, 1);
}

// ----- line-level problems -----

fn line_problem(line: &[&str], kind: ProblemKind, needle: &str) {
    let mut rest = vec![
        "CLM*L*10***11:B:1",
        "HI*ABK:J449",
        "LX*1",
        "SV1*HC:99213*10*UN*1",
    ];
    rest.extend_from_slice(line);
    rest.extend(["LX*3", "SV1*HC:99215*10*UN*1", "DTP*472*D8*20240101"]);
    let body = with_head(&rest);
    let (claims, problems) = read(&doc(P, &body));
    assert_eq!(claims.len(), 1, "{line:?}");
    let nums: Vec<u32> = claims[0].lines.iter().map(|l| l.number).collect();
    assert_eq!(
        nums,
        [1, 3],
        "{line:?}: the bad line is skipped, the others kept"
    );
    let p = one(&problems, kind);
    assert_eq!(p.severity, Severity::Error);
    assert_eq!((p.claims_skipped, p.lines_skipped), (0, 1), "{line:?}");
    assert_eq!(p.claim.as_deref(), Some("L"));
    assert!(p.message.contains(needle), "{line:?}: {}", p.message);
    assert!(p.message.contains("expected"), "{}", p.message);
    assert!(p.segment >= 17);
}

#[test]
fn sv1_without_procedure() {
    line_problem(
        &["LX*2", "SV1**10*UN*1"],
        ProblemKind::MissingElement,
        "SV101",
    );
    line_problem(
        &["LX*2", "SV1*HC*10*UN*1"],
        ProblemKind::MissingElement,
        "SV101-2",
    );
}

#[test]
fn sv101_qualifier_not_hc() {
    line_problem(
        &["LX*2", "SV1*ER:99213*10*UN*1"],
        ProblemKind::UnknownQualifier,
        "SV101 qualifier `ER` is not HC (HCPCS/CPT); expected HC:<code>[:<modifier>…]",
    );
}

#[test]
fn lx_without_a_number() {
    line_problem(
        &["LX", "SV1*HC:99214*10*UN*1"],
        ProblemKind::MissingElement,
        "LX01",
    );
    line_problem(
        &["LX*two", "SV1*HC:99214*10*UN*1"],
        ProblemKind::InvalidElement,
        "LX01 `two`",
    );
}

#[test]
fn bad_service_dates() {
    line_problem(
        &["LX*2", "SV1*HC:99214*10*UN*1", "DTP*472*D8*20241301"],
        ProblemKind::InvalidElement,
        "`20241301` is not a date",
    );
    line_problem(
        &[
            "LX*2",
            "SV1*HC:99214*10*UN*1",
            "DTP*472*RD8*20240105-20240101",
        ],
        ProblemKind::InvalidElement,
        "date range",
    );
    line_problem(
        &[
            "LX*2",
            "SV1*HC:99214*10*UN*1",
            "DTP*472*RD9*20240101-20240105",
        ],
        ProblemKind::InvalidElement,
        "`RD9` is not D8 or RD8",
    );
}

#[test]
fn lx_without_sv1() {
    line_problem(
        &["LX*2", "DTP*472*D8*20240101"],
        ProblemKind::MissingSegment,
        "no SV1",
    );
}

#[test]
fn sv1_twice_in_a_line() {
    line_problem(
        &["LX*2", "SV1*HC:99214*10*UN*1", "SV1*HC:99215*10*UN*1"],
        ProblemKind::DuplicateSegment,
        "another SV1",
    );
}

#[test]
fn sv2_qualifier_and_revenue_code() {
    let body = with_head(&[
        "CLM*I*10***13:A:1",
        "HI*ABK:J449",
        "LX*1",
        "SV2**HC:99213*10*UN*1",
        "LX*2",
        "SV2*0300*IV:1234*10*UN*1",
        "LX*3",
        "SV1*HC:99213*10*UN*1",
        "LX*4",
        "SV2*0300*HC:81099*10*UN*1",
    ]);
    let (claims, problems) = read(&doc(I, &body));
    assert_eq!(claims[0].lines.len(), 1);
    assert_eq!(claims[0].lines[0].number, 4);
    assert_eq!(problems.iter().map(|p| p.lines_skipped).sum::<u32>(), 3);
    assert!(problems[0].message.contains("SV201"));
    assert!(problems[1]
        .message
        .contains("SV202 qualifier `IV` is not HC"));
    assert!(problems[2]
        .message
        .contains("SV1 in an institutional (837I) claim; expected SV2"));
}

#[test]
fn sv1_before_lx_and_lx_before_clm() {
    let body = with_head(&[
        "LX*1",
        "SV1*HC:99211*10*UN*1",
        "DTP*472*D8*20240101",
        "CLM*O*10***11:B:1",
        "HI*ABK:J449",
        "SV1*HC:99212*10*UN*1",
        "DTP*472*D8*20240101",
        "LX*1",
        "SV1*HC:99213*10*UN*1",
    ]);
    let (claims, problems) = read(&doc(P, &body));
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].lines.len(), 1);
    assert_eq!(claims[0].lines[0].procedure.as_deref(), Some("99213"));
    let order: Vec<(u64, &str, u32)> = problems
        .iter()
        .map(|p| (p.segment, p.segment_id.as_str(), p.lines_skipped))
        .collect();
    assert_eq!(order, [(13, "LX", 1), (18, "SV1", 1)]);
    assert!(problems.iter().all(|p| p.kind == ProblemKind::LoopOrder));
    assert!(problems[0]
        .message
        .contains("LX (service line) before any CLM"));
    assert!(problems[1].message.contains("SV1 before any LX"));
}

// ----- envelopes -----

#[test]
fn control_numbers_and_counts() {
    let body = with_head(&[
        "CLM*K*10***11:B:1",
        "HI*ABK:J449",
        "LX*1",
        "SV1*HC:99213*10*UN*1",
    ]);
    let good = doc(P, &body);
    let bad = good
        .replace("SE*15*0001", "SE*14*0002")
        .replace("GE*1*1", "GE*2*9")
        .replace("IEA*1*000000001", "IEA*3*000000007");
    let (claims, problems) = read(&bad);
    assert_eq!(claims.len(), 1, "nothing skipped");
    let got: Vec<(&str, bool)> = problems
        .iter()
        .map(|p| {
            (
                p.segment_id.as_str(),
                p.kind == ProblemKind::ControlMismatch,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("SE", true),
            ("SE", true),
            ("GE", true),
            ("GE", true),
            ("IEA", true),
            ("IEA", true)
        ]
    );
    assert!(problems
        .iter()
        .all(|p| p.severity == Severity::Error && p.claims_skipped == 0 && p.lines_skipped == 0));
    assert!(problems[0]
        .message
        .contains("SE01 says 14 segments but transaction `0001` has 15"));
    assert!(problems[1]
        .message
        .contains("SE02 `0002` does not match ST02 `0001`"));
    assert!(problems[2].message.contains("GE01 says 2"));
    assert!(problems[3]
        .message
        .contains("GE02 `9` does not match GS06 `1`"));
    assert!(problems[4].message.contains("IEA01 says 3"));
    assert!(problems[5]
        .message
        .contains("IEA02 `000000007` does not match ISA13 `000000001`"));
}

#[test]
fn truncated_inside_a_claim() {
    let body = with_head(&[
        "CLM*DONE*10***11:B:1",
        "HI*ABK:J449",
        "LX*1",
        "SV1*HC:99213*10*UN*1",
        "CLM*CUT*10***11:B:1",
        "HI*ABK:J449",
        "LX*1",
        "SV1*HC:99213*10*UN*1",
        "LX*2",
        "SV1*HC:99214*10*UN*1",
    ]);
    let full = doc(P, &body);
    let cut = &full[..full.find("SE*").unwrap()];
    let (claims, problems) = read(cut);
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].id, "DONE");
    let p = one(&problems, ProblemKind::Truncated);
    assert_eq!(p.severity, Severity::Error);
    assert_eq!((p.segment, p.segment_id.as_str()), (22, "SV1"));
    assert_eq!((p.claims_skipped, p.lines_skipped), (1, 2));
    assert!(p.message.contains("the input ends"), "{}", p.message);
    assert!(
        p.message.contains("has no SE")
            && p.message.contains("has no GE")
            && p.message.contains("has no IEA")
    );
    assert!(p.message.contains("claim `CUT`"));

    // Cut in the middle of a segment: that segment is reported, not read.
    let mid = &full[..full.find("SV1*HC:99214").unwrap() + 8];
    let (claims, problems) = read(mid);
    assert_eq!(claims.len(), 1);
    let p = one(&problems, ProblemKind::SegmentSyntax);
    assert_eq!(p.segment, 22);
    let p = one(&problems, ProblemKind::Truncated);
    assert_eq!(p.lines_skipped, 2, "both lines of the cut claim");
}

#[test]
fn truncated_after_the_transaction() {
    let body = with_head(&[
        "CLM*K*10***11:B:1",
        "HI*ABK:J449",
        "LX*1",
        "SV1*HC:99213*10*UN*1",
    ]);
    let full = doc(P, &body);
    let (claims, problems) = read(&full[..full.find("GE*").unwrap()]);
    assert_eq!(claims.len(), 1);
    let p = one(&problems, ProblemKind::Truncated);
    assert_eq!((p.claims_skipped, p.lines_skipped), (0, 0));
    assert!(!p.message.contains("has no SE"));
    // The last IEA without its terminator: a warning, nothing lost.
    let (claims, problems) = read(full.trim_end().trim_end_matches('~'));
    assert_eq!(claims.len(), 1);
    let p = one(&problems, ProblemKind::SegmentSyntax);
    assert_eq!(
        (p.severity, p.segment_id.as_str()),
        (Severity::Warning, "IEA")
    );
    assert_eq!(problems.len(), 1);
}

#[test]
fn new_envelope_before_the_old_one_is_closed() {
    let body = with_head(&[
        "CLM*A*10***11:B:1",
        "HI*ABK:J449",
        "LX*1",
        "SV1*HC:99213*10*UN*1",
    ]);
    let one_doc = doc(P, &body);
    // No SE/GE/IEA: the next ISA cuts the claim in progress.
    let open = &one_doc[..one_doc.find("SE*").unwrap()];
    let (claims, problems) = read(&format!("{open}{one_doc}"));
    assert_eq!(claims.len(), 1);
    let p = one(&problems, ProblemKind::Truncated);
    assert_eq!((p.segment, p.segment_id.as_str()), (17, "ISA"));
    assert_eq!((p.claims_skipped, p.lines_skipped), (1, 1));
    assert!(p.message.contains("a new ISA begins"));
    // ST twice without SE.
    let twice = one_doc.replacen("SE*15*0001~\n", "", 1).replacen(
        "GE*1*1",
        &format!(
            "ST*837*0002*{P}~\n{}~\nSE*{}*0002~\nGE*2*1",
            body.join("~\n"),
            body.len() + 2
        ),
        1,
    );
    let (claims, problems) = read(&twice);
    assert_eq!(claims.len(), 1, "{problems:#?}");
    let p = one(&problems, ProblemKind::Truncated);
    assert_eq!(p.segment_id, "ST");
    assert!(p.message.contains("a new ST begins before the SE"));
}

#[test]
fn no_isa_at_all() {
    let body = with_head(&[
        "CLM*A*10***11:B:1",
        "HI*ABK:J449",
        "LX*1",
        "SV1*HC:99213*10*UN*1",
    ]);
    let text = doc(P, &body);
    let no_isa = &text[107..];
    let all = items(no_isa.as_bytes());
    assert_eq!(all.len(), 1);
    let Item::Problem(p) = &all[0] else { panic!() };
    assert_eq!(
        (p.kind, p.segment, p.segment_id.as_str()),
        (ProblemKind::NoInterchange, 0, "")
    );
    assert!(p.message.contains("no ISA"));
    assert!(p.message.contains("expected"));
    let all = items(b"");
    assert_eq!(all.len(), 1);
    let all = items(b"\n\n   \r\n");
    assert_eq!(all.len(), 1);
}

#[test]
fn garbage_before_and_between_interchanges() {
    let body = with_head(&[
        "CLM*A*10***11:B:1",
        "HI*ABK:J449",
        "LX*1",
        "SV1*HC:99213*10*UN*1",
    ]);
    let text = doc(P, &body);
    let (claims, problems) = read(&format!(
        "hello VISA world\n{text}-- page 2 --\n{text}trailer"
    ));
    assert_eq!(claims.len(), 2);
    let g: Vec<&Problem> = problems
        .iter()
        .filter(|p| p.kind == ProblemKind::Garbage)
        .collect();
    assert_eq!(g.len(), 3, "{problems:#?}");
    assert_eq!(g[0].segment, 0);
    assert!(g[0].message.contains("hello VISA world"));
    assert_eq!((g[1].segment, g[1].segment_id.as_str()), (19, "IEA"));
    assert!(g[1].message.contains("-- page 2 --"));
    assert_eq!(g[2].segment, 38);
    assert_eq!(problems.len(), 3);
}

#[test]
fn segments_outside_a_transaction() {
    let body = with_head(&[
        "CLM*A*10***11:B:1",
        "HI*ABK:J449",
        "LX*1",
        "SV1*HC:99213*10*UN*1",
    ]);
    let text = doc(P, &body)
        .replace("ST*837*0001*005010X222A1~\n", "")
        .replace("SE*15*0001~\n", "");
    let (claims, problems) = read(&text.replace("GE*1*1", "GE*0*1"));
    assert!(claims.is_empty());
    let p = one(&problems, ProblemKind::Envelope);
    assert_eq!((p.segment, p.segment_id.as_str()), (3, "BHT"));
    assert!(p.message.starts_with("13 segment(s)"), "{}", p.message);
    assert_eq!((p.claims_skipped, p.lines_skipped), (1, 1));
    assert_eq!(problems.len(), 1, "{problems:#?}");
}

#[test]
fn unsupported_transactions_are_skipped() {
    let body = with_head(&[
        "CLM*A*10***11:B:1",
        "HI*ABK:J449",
        "LX*1",
        "SV1*HC:99213*10*UN*1",
    ]);
    for (from, to, needle) in [
        (
            "ST*837*0001*005010X222A1",
            "ST*835*0001*005010X221A1",
            "ST01 `835`",
        ),
        (
            "ST*837*0001*005010X222A1",
            "ST*837*0001*005010X224A2",
            "005010X224A2",
        ),
    ] {
        let (claims, problems) = read(&doc(P, &body).replace(from, to));
        assert!(claims.is_empty());
        let p = one(&problems, ProblemKind::UnsupportedTransaction);
        assert!(p.message.contains(needle), "{}", p.message);
        assert_eq!((p.segment, p.claims_skipped, p.lines_skipped), (3, 1, 1));
        assert_eq!(problems.len(), 1);
    }
}

#[test]
fn bad_segment_identifiers_and_oversized_segments() {
    let long = format!("NTE*ADD*{}", "X".repeat(70 * 1024));
    let body = with_head(&[
        "CLM*A*10***11:B:1",
        "nte*lower",
        "HI*ABK:J449",
        &long,
        "LX*1",
        "SV1*HC:99213*10*UN*1",
    ]);
    let (claims, problems) = read(&doc(P, &body));
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].lines.len(), 1);
    let kinds: Vec<(u64, &str)> = problems
        .iter()
        .map(|p| (p.segment, p.segment_id.as_str()))
        .collect();
    assert_eq!(kinds, [(14, ""), (16, "NTE")]);
    assert!(problems
        .iter()
        .all(|p| p.kind == ProblemKind::SegmentSyntax && p.claim.as_deref() == Some("A")));
    assert!(problems[0]
        .message
        .contains("`nte` is not a segment identifier"));
    assert!(problems[1].message.contains("longer than 65536"));
}

#[test]
fn missing_and_repeated_required_loops_are_warnings() {
    let body = [
        "BHT*0019*00*1*20240101*1200*CH",
        "HL*1**20*1",
        "HL*2*1*22*0",
        "SBR*P*18*G******CI",
        "SBR*P*18*H******CI",
        "NM1*IL*1*DOE*JANE",
        "NM1*PR*2*FIRST*****PI*1",
        "NM1*PR*2*SECOND*****PI*2",
        "NM1*117*2*WHO",
        "CLM*A*10***11:B:1",
        "LX*1",
        "SV1*HC:99213*10*UN*1",
        "HL*3*1*22*0",
        "CLM*B*10***11:B:1",
        "HI*ABK:J449",
        "LX*1",
        "SV1*HC:99213*10*UN*1",
    ];
    let (claims, problems) = read(&doc(P, &body));
    assert_eq!(claims.len(), 2);
    assert_eq!(claims[0].payer_name.as_deref(), Some("FIRST"));
    assert_eq!(claims[0].group_number.as_deref(), Some("G"));
    assert_eq!(claims[1].payer_name, None);
    assert!(
        problems.iter().all(|p| p.severity == Severity::Warning),
        "{problems:#?}"
    );
    let dups: Vec<&str> = problems
        .iter()
        .filter(|p| p.kind == ProblemKind::DuplicateSegment)
        .map(|p| p.segment_id.as_str())
        .collect();
    assert_eq!(dups, ["SBR", "NM1"]);
    let missing: Vec<(u64, &str)> = problems
        .iter()
        .filter(|p| p.kind == ProblemKind::MissingSegment)
        .map(|p| (p.segment, p.segment_id.as_str()))
        .collect();
    // No NM1*85 (HL 20 at 5), claim A without HI (13), HL 22 at 16 with
    // nothing.
    assert_eq!(missing.len(), 3, "{problems:#?}");
    assert!(
        missing.contains(&(5, "HL"))
            && missing.contains(&(13, "CLM"))
            && missing.contains(&(16, "HL"))
    );
    let p = one(&problems, ProblemKind::UnknownQualifier);
    assert!(p.message.contains("NM101 `117`"));
}

// ----- API -----

#[test]
fn display_and_progress() {
    let body = with_head(&[
        "CLM*A*10***11:B:1",
        "HI*ABK:J449",
        "LX*1",
        "SV1*ER:99213*10*UN*1",
    ]);
    let text = doc(P, &body);
    let mut r = Reader::new(text.as_bytes());
    let first = r.next_item().unwrap();
    let Item::Claim(c) = first else {
        panic!("{first:?}")
    };
    assert!(c.lines.is_empty());
    let Some(Item::Problem(p)) = r.next_item() else {
        panic!()
    };
    assert_eq!(
        p.to_string(),
        "segment 16 (SV1): SV101 qualifier `ER` is not HC (HCPCS/CPT); expected HC:<code>[:<modifier>…]; the line is skipped"
    );
    assert!(r.segments_read() >= 16);
    while r.next_item().is_some() {}
    assert_eq!(r.segments_read(), 19);
    assert_eq!(r.bytes_read(), text.len() as u64);
    assert!(r.next_item().is_none(), "stays at the end");
    let p = Problem {
        segment_id: String::new(),
        segment: 0,
        ..p
    };
    assert!(p.to_string().starts_with("segment 0: "));
}

#[test]
fn same_items_whatever_the_read_sizes() {
    let body = with_head(&[
        "CLM*A*10***11>B>1",
        "HI*ABK>J449*BK>4019",
        "LX*1",
        "SV1*HC>99213*10*UN*1",
        "DTP*472*RD8*20240101-20240102",
    ]);
    let text = doc(P, &body);
    let mut other = String::from("junk ");
    other += &text;
    other += &isa('|', '^', '>', '\n', "1");
    for seg in text.lines().skip(1) {
        other += &seg.trim_end_matches('~').replace('*', "|");
        other.push('\n');
    }
    // And an interchange whose IEA is missing, cut by an ISA with another
    // terminator.
    other += &text[..text.find("GE*").unwrap()];
    other += &text.replace('~', "!");
    let want = items(other.as_bytes());
    assert!(want.iter().filter(|i| matches!(i, Item::Claim(_))).count() >= 3);
    for cap in [1, 2, 3, 5, 7, 64, 107] {
        let got = items_from(BufReader::with_capacity(cap, other.as_bytes()));
        assert_eq!(got, want, "capacity {cap}");
    }
}

fn items_from<R: std::io::BufRead>(input: R) -> Vec<Item> {
    let mut r = Reader::new(input);
    std::iter::from_fn(|| r.next_item()).collect()
}

#[test]
fn read_errors_are_reported() {
    struct Failing(usize);
    impl std::io::Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::other("disk on fire"));
            }
            let n = buf.len().min(self.0);
            buf[..n].fill(b' ');
            self.0 -= n;
            Ok(n)
        }
    }
    let (claims, problems) = split(items_from(BufReader::new(Failing(10))));
    assert!(claims.is_empty());
    let p = one(&problems, ProblemKind::Io);
    assert!(p.message.contains("disk on fire"));
}

/// Items read while handing every claim back (so later claims are built
/// from recycled allocations) are the items read without recycling.
#[test]
fn recycled_claims_read_the_same() {
    let claims = [
        "HL*3*2*23*0",
        "CLM*A1*100***11:B:1*Y*A*Y*Y",
        "REF*G1*PA123",
        "HI*ABK:J449*ABF:E119*ABF:I10",
        "LX*1",
        "SV1*HC:99213:25:59*50*UN*2*21**1",
        "DTP*472*D8*20240102",
        "LX*2",
        "SV1*HC:99214*50*UN*1***1",
        "CLM*A2*100***22:B:1*Y*A*Y*Y",
        "HI*ABK:M545",
        "LX*1",
        "SV1*HC:J1100:RT*50*UN*3***1",
        "LX*2",
        "SV1*HC:99215:25:59:76:77*50*UN*1*11**1",
        "DTP*472*RD8*20240101-20240103",
        "LX*3",
        "CLM*A3*100***11:B:1*Y*A*Y*Y",
        "LX*1",
        "SV1*HC:99213*50*UN*1***1",
        "HL*4*1*22*0",
        "SBR*S*18*******CI",
        "NM1*PR*2*OTHER PLAN*****PI*999",
        "CLM*A4*100***11:B:1*Y*A*Y*Y",
        "HI*ABK:Z0000",
        "LX*1",
        "SV1*HC:99211*50*UN*1***1",
    ];
    let inst = [
        "CLM*I1*100***13:A:1*Y*A*Y*Y",
        "DTP*434*RD8*20240101-20240105",
        "HI*ABK:J449",
        "LX*1",
        "SV2*0450*HC:99284:25*100*UN*1",
        "LX*2",
        "SV2*0250**20*UN*3",
        "CLM*I2*100***11:A:1*Y*A*Y*Y",
        "HI*ABK:E119*ABF:I10",
        "LX*1",
        "SV2*0300*HC:80053*10*UN*1",
    ];
    let mut text = doc(P, &with_head(&claims));
    text += &doc(I, &with_head(&inst));
    let text = text.repeat(3);
    let fresh: Vec<String> = items(text.as_bytes())
        .iter()
        .map(|i| format!("{i:?}"))
        .collect();
    let mut r = Reader::new(text.as_bytes());
    let mut recycled = Vec::new();
    while let Some(item) = r.next_item() {
        recycled.push(format!("{item:?}"));
        if let Item::Claim(c) = item {
            r.recycle(c);
        }
    }
    assert!(fresh.iter().filter(|i| i.starts_with("Claim")).count() >= 18);
    assert_eq!(recycled, fresh);
}
