//! The reader over real 837 files written by others
//! (`shared/x12-examples/`, see its README): every well-formed file gives
//! one service line per LX and no Error other than the trailer counts some
//! of them get wrong; every malformed file gives at least one located
//! problem and still the claims it has readable.

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use medpol_x12::{Claim, Item, Problem, ProblemKind, Reader, Severity};

fn examples_dir() -> Option<PathBuf> {
    // `MEDPOL_SHARED_DIR`, else `../shared` beside the repository (as the
    // workspace's other tests over the external vectors).
    let root = std::env::var_os("MEDPOL_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let dir = root.join("x12-examples");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var_os("MEDPOL_REQUIRE_SHARED").is_some() {
        panic!(
            "{} does not exist and MEDPOL_REQUIRE_SHARED is set",
            dir.display()
        );
    }
    let _ = writeln!(
        std::io::stdout(),
        "SKIPPED: {} does not exist (set MEDPOL_REQUIRE_SHARED to make this a failure)",
        dir.display()
    );
    None
}

fn read(path: &Path) -> (Vec<Claim>, Vec<Problem>) {
    let file = fs::File::open(path).unwrap();
    let mut reader = Reader::new(BufReader::new(file));
    let (mut claims, mut problems) = (Vec::new(), Vec::new());
    while let Some(item) = reader.next_item() {
        match item {
            Item::Claim(c) => claims.push(*c),
            Item::Problem(p) => problems.push(p),
        }
    }
    (claims, problems)
}

/// What an independent, naive pass over a well-formed file finds: LX
/// segments, and how many trailer checks (SE01, SE02, GE01, GE02, IEA01,
/// IEA02) do not hold. Assumes the delimiters of the first ISA throughout.
struct Naive {
    lx: usize,
    clm: usize,
    control_mismatches: usize,
}

fn naive(data: &[u8]) -> Naive {
    let i = data
        .windows(3)
        .position(|w| w == b"ISA")
        .expect("a well-formed file has an ISA");
    let es = data[i + 3];
    let term = data[i + 105];
    let mut n = Naive {
        lx: 0,
        clm: 0,
        control_mismatches: 0,
    };
    let (mut isa13, mut gs06, mut st02) = (String::new(), String::new(), String::new());
    let (mut groups, mut sts, mut st_start) = (0u64, 0u64, 0u64);
    let mut seg_no = 0u64;
    for raw in data[i..].split(|&b| b == term) {
        let text = String::from_utf8_lossy(raw);
        let seg = text.trim();
        if seg.is_empty() {
            continue;
        }
        seg_no += 1;
        let els: Vec<&str> = seg.split(es as char).map(str::trim).collect();
        let el = |k: usize| els.get(k).copied().unwrap_or("");
        let mut check = |ok: bool| {
            if !ok {
                n.control_mismatches += 1;
            }
        };
        match els[0] {
            "ISA" => {
                isa13 = el(13).to_string();
                groups = 0;
            }
            "GS" => {
                gs06 = el(6).to_string();
                groups += 1;
                sts = 0;
            }
            "ST" => {
                st02 = el(2).to_string();
                sts += 1;
                st_start = seg_no;
            }
            "SE" => {
                check(el(1).parse::<u64>().ok() == Some(seg_no - st_start + 1));
                check(el(2) == st02);
            }
            "GE" => {
                check(el(1).parse::<u64>().ok() == Some(sts));
                check(el(2) == gs06);
            }
            "IEA" => {
                check(el(1).parse::<u64>().ok() == Some(groups));
                check(el(2) == isa13);
            }
            "LX" => n.lx += 1,
            "CLM" => n.clm += 1,
            _ => {}
        }
    }
    n
}

const WELL_FORMED_IMSWEB: [&str; 10] = [
    "imsweb_837_5010_x12_valid.txt",
    "imsweb_837_5010_x12_valid_different_separators.txt",
    "imsweb_837_5010_x12_many_claims.txt",
    "imsweb_837_5010_x12_complex.txt",
    "imsweb_837_5010_x223-test.txt",
    "imsweb_837_5010_x12_multiple_gs.txt",
    "imsweb_837_5010_x12_multiple_st.txt",
    "imsweb_837_5010_x12_multiple_transactions.txt",
    // Neither named bad nor listed as an example of a fault; structurally sound.
    "imsweb_837_5010_x12_writer_test.txt",
    // Named "no errors" (though the `*errors*` pattern catches it): its
    // loops are sound; only its trailer count is wrong.
    "imsweb_837_5010_x12_no_errors.txt",
];

/// Malformed files: the claims still readable, and a kind of problem that
/// must be among those reported (the fault the file was made to show).
const MALFORMED: [(&str, usize, ProblemKind); 13] = [
    (
        "imsweb_837_5010_x12_ambiguous_loop.txt",
        1,
        ProblemKind::ControlMismatch,
    ),
    (
        "imsweb_837_5010_x12_bad_first_line.txt",
        2,
        ProblemKind::Envelope,
    ),
    (
        "imsweb_837_5010_x12_bad_segment_identifier.txt",
        2,
        ProblemKind::SegmentSyntax,
    ),
    (
        "imsweb_837_5010_x12_bad_valid_code.txt",
        2,
        ProblemKind::UnknownQualifier,
    ),
    (
        "imsweb_837_5010_x12_loop_errors1_exceeds_max_1_parent.txt",
        1,
        ProblemKind::DuplicateSegment,
    ),
    (
        "imsweb_837_5010_x12_loop_errors2_exceeds_max_repeats_multiple_parents.txt",
        2,
        ProblemKind::DuplicateSegment,
    ),
    (
        "imsweb_837_5010_x12_loop_errors3_missing_loops.txt",
        1,
        ProblemKind::MissingSegment,
    ),
    (
        "imsweb_837_5010_x12_missing_elements.txt",
        1,
        ProblemKind::MissingElement,
    ),
    (
        "imsweb_837_5010_x12_missing_required_loop_in_one_repeat.txt",
        2,
        ProblemKind::MissingSegment,
    ),
    (
        "imsweb_837_5010_x12_missing_required_loops_mult_repeats.txt",
        5,
        ProblemKind::LoopOrder,
    ),
    (
        "imsweb_837_5010_x12_segment_errors.txt",
        1,
        ProblemKind::MissingSegment,
    ),
    (
        "imsweb_837_5010_x12_no_isa_line.txt",
        0,
        ProblemKind::NoInterchange,
    ),
    (
        "imsweb_837_5010_x12_no_errors.txt",
        2,
        ProblemKind::ControlMismatch,
    ),
];

fn summary(name: &str, claims: &[Claim], problems: &[Problem], lx: Option<usize>) {
    let lines: usize = claims.iter().map(|c| c.lines.len()).sum();
    let errors = problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    let lx = lx.map_or(String::new(), |n| format!(" (LX {n})"));
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{name}: {} claims, {lines} lines{lx}, {} problems ({errors} errors)",
        claims.len(),
        problems.len()
    )
    .unwrap();
    for p in problems.iter().take(6) {
        writeln!(out, "    {:?} {p}", p.severity).unwrap();
    }
    if problems.len() > 6 {
        writeln!(out, "    … and {} more", problems.len() - 6).unwrap();
    }
}

#[test]
fn every_shared_file_is_classified() {
    let Some(dir) = examples_dir() else { return };
    let known: BTreeSet<&str> = WELL_FORMED_IMSWEB
        .iter()
        .copied()
        .chain(MALFORMED.iter().map(|m| m.0))
        .collect();
    for entry in fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name == "README.md" || name.starts_with("linuxforhealth_") {
            continue;
        }
        assert!(known.contains(name.as_str()), "{name} is in neither list");
    }
    for name in &known {
        assert!(dir.join(name).is_file(), "{name} is listed but missing");
    }
}

#[test]
fn well_formed_files_give_every_line() {
    let Some(dir) = examples_dir() else { return };
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("linuxforhealth_"))
        .collect();
    names.sort();
    assert!(names.len() >= 18, "expected the 18 LinuxForHealth examples");
    names.extend(WELL_FORMED_IMSWEB.iter().map(|s| s.to_string()));
    for name in &names {
        let path = dir.join(name);
        let (claims, problems) = read(&path);
        let n = naive(&fs::read(&path).unwrap());
        summary(name, &claims, &problems, Some(n.lx));
        let lines: usize = claims.iter().map(|c| c.lines.len()).sum();
        assert_eq!(lines, n.lx, "{name}: service lines vs LX segments");
        assert_eq!(claims.len(), n.clm, "{name}: claims vs CLM segments");
        assert!(
            problems
                .iter()
                .all(|p| p.claims_skipped == 0 && p.lines_skipped == 0),
            "{name}: nothing skipped"
        );
        let errors: Vec<&Problem> = problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .collect();
        if name.starts_with("linuxforhealth_") {
            assert!(errors.is_empty(), "{name}: errors {errors:#?}");
        } else {
            // The imsweb files were written by a parser that does not check
            // trailers (SE*25 whatever the count); those mismatches are real
            // and must be exactly the ones a naive count finds, and nothing
            // else may be an Error.
            assert!(
                errors
                    .iter()
                    .all(|p| p.kind == ProblemKind::ControlMismatch),
                "{name}: errors other than trailer mismatches: {errors:#?}"
            );
            assert_eq!(
                errors.len(),
                n.control_mismatches,
                "{name}: trailer mismatches"
            );
        }
        for c in &claims {
            assert!(!c.id.is_empty());
            assert!(
                c.payer_name.is_some(),
                "{name}: claim {} has no payer",
                c.id
            );
            assert!(
                c.place_of_service.is_some() || c.facility_type.is_some(),
                "{name}: claim {} has no CLM05-1",
                c.id
            );
            for l in &c.lines {
                assert!(l.procedure.is_some() || l.revenue_code.is_some());
                assert!(
                    l.date.is_some(),
                    "{name}: claim {} line {} has no date",
                    c.id,
                    l.number
                );
            }
        }
    }
}

#[test]
fn malformed_files_report_where_and_keep_readable_claims() {
    let Some(dir) = examples_dir() else { return };
    for (name, readable, kind) in MALFORMED {
        let (claims, problems) = read(&dir.join(name));
        summary(name, &claims, &problems, None);
        assert!(!problems.is_empty(), "{name}: no problem reported");
        assert_eq!(claims.len(), readable, "{name}: claims returned");
        assert!(
            problems.iter().any(|p| p.kind == kind),
            "{name}: expected a {kind:?} problem"
        );
        if kind == ProblemKind::NoInterchange {
            assert_eq!(
                problems.len(),
                1,
                "{name}: one problem for a file with no ISA"
            );
            assert_eq!(problems[0].segment, 0);
        } else {
            assert!(
                problems.iter().all(|p| p.segment > 0),
                "{name}: every problem located"
            );
        }
    }
}

#[test]
fn field_values_of_real_files() {
    let Some(dir) = examples_dir() else { return };
    let one = |name: &str| {
        let (claims, _) = read(&dir.join(name));
        assert_eq!(claims.len(), 1, "{name}");
        claims.into_iter().next().unwrap()
    };
    let c = one("linuxforhealth_837_005010X222A2_demo.example1.837");
    assert_eq!(c.id, "26463774");
    assert_eq!(c.kind, medpol_x12::ClaimKind::Professional);
    assert_eq!(c.payer_name.as_deref(), Some("KEY INSURANCE COMPANY"));
    assert_eq!(c.payer_id.as_deref(), Some("999996666"));
    assert_eq!(c.filing_indicator.as_deref(), Some("CI"));
    assert_eq!(c.group_number.as_deref(), Some("2222-SJ"));
    assert_eq!(c.place_of_service.as_deref(), Some("11"));
    assert!(c.diagnoses.is_empty(), "ICD-9 only");
    let codes: Vec<_> = c
        .lines
        .iter()
        .map(|l| l.procedure.clone().unwrap())
        .collect();
    assert_eq!(codes, ["99213", "87070", "99214", "86663"]);

    // 2320/2330B (another payer) after the claim do not replace the subscriber's.
    let c = one("linuxforhealth_837_005010X222A2_demo.cob.example3.C.837");
    assert_eq!(c.payer_name.as_deref(), Some("GREAT PRAIRIES HEALTH"));
    assert_eq!(c.filing_indicator.as_deref(), Some("CI"));

    // ISA16 `:` but `>` used: read with `>`.
    let c = one("linuxforhealth_837_005010X223A3_ppo-repriced-claim.837i");
    assert_eq!(c.kind, medpol_x12::ClaimKind::Institutional);
    assert_eq!(c.facility_type.as_deref(), Some("13"));
    assert_eq!(
        c.statement_from,
        chrono::NaiveDate::from_ymd_opt(2005, 7, 6)
    );
    assert_eq!(c.lines[0].revenue_code.as_deref(), Some("0471"));
    assert_eq!(c.lines[0].procedure.as_deref(), Some("92557"));
    assert_eq!(c.lines[0].units.as_deref(), Some("1.00"));

    let c = one("linuxforhealth_837_005010X222A2_demo.example8.837");
    assert_eq!(c.lines[0].modifiers, ["RR", "KH", "BR"]);
    assert_eq!(
        c.lines[0].date,
        chrono::NaiveDate::from_ymd_opt(2005, 3, 21)
    );
}
