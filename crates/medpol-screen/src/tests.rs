use super::*;
use std::path::Path;

fn engine() -> Engine {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let loaded = medpol_policyfile::load_dir(&dir).unwrap();
    Engine::compile(loaded.catalog).unwrap()
}

fn run(input: &str, opts: &Options) -> (Result<Summary, ScreenError>, String, String) {
    let engine = engine();
    let mut out = Vec::new();
    let mut errs = Vec::new();
    let r = screen(
        &engine,
        input.as_bytes(),
        &mut out,
        &mut errs,
        opts,
        &mut |_| {},
    );
    (
        r,
        String::from_utf8(out).unwrap(),
        String::from_utf8(errs).unwrap(),
    )
}

const HEADER: &str = "claim_id,line,product,date_of_service,place_of_service,code,code_system,modifiers,diagnoses,units\n";

#[test]
fn decides_each_line_in_order_with_citations() {
    let input = format!(
        "{HEADER}C1,1,commercial-ppo,2025-06-01,11,M0076,,,M54.50,1\n\
         C1,2,commercial-ppo,2025-06-01,11,99213,cpt,25,,1\n\
         C2,1,commercial-hmo,2025-06-01,21,M0076,hcpcs,RT;59,M54.50;M79.10,2\n\
         C3,1,medicare-ppo-blue,2015-06-01,22,M0076,,,,\n"
    );
    let (r, out, errs) = run(&input, &Options::default());
    let s = r.unwrap();
    assert_eq!(errs, "");
    let rows: Vec<&str> = out.lines().collect();
    assert_eq!(rows[0], output::CSV_COLUMNS.join(","));
    assert_eq!(
        rows[1],
        "C1,1,hcpcs,M0076,not-covered,investigational,not-applicable,true,bcbsma/183,1/2025,bcbsma/183 1/2025 statement/commercial-investigational"
    );
    assert_eq!(rows[2], "C1,2,cpt,99213,no-policy,,not-applicable,false,,,");
    assert!(
        rows[3].starts_with(
            "C2,1,hcpcs,M0076,not-covered,investigational,auth-needed,true,bcbsma/183,1/2025,"
        ),
        "{}",
        rows[3]
    );
    assert!(rows[4].starts_with("C3,1,hcpcs,M0076,not-covered,investigational,not-applicable,true,bcbsma/183,12/2013,bcbsma/183 12/2013 code-list/"), "{}", rows[4]);
    assert_eq!(
        (s.lines_read, s.decided, s.written, s.flagged, s.bad_lines),
        (4, 4, 4, 3, 0)
    );
    assert_eq!(s.flagged_by_policy["bcbsma/183"], 3);
    assert_eq!(s.flagged_by_reason["investigational"], 3);
    assert_eq!(s.coverage["no-policy"], 1);
    assert!(!s.stopped_early);
}

#[test]
fn every_kind_of_bad_line_is_reported_with_its_line_and_counted() {
    let input = format!(
        "{HEADER}C1,1,commercial-ppo,2025-06-01,11,M0076,,,,\n\
         C2,1,gold-plan,2025-06-01,11,M0076,,,,\n\
         C3,1,commercial-ppo,2025-06-01,11,M007,,,,\n\
         C4,1,commercial-ppo,2025-13-01,11,M0076,,,,\n\
         C5,1,commercial-ppo,2025-06-01,11,M0076\n\
         C6,1,commercial-ppo,2025-06-01,30,M0076,,,,\n\
         C7,1,commercial-ppo,2025-06-01,11,M0076,,RTX,,\n\
         C8,1,commercial-ppo,2025-06-01,11,M0076,,,M54.,\n\
         C9,1,commercial-ppo,2025-06-01,11,M0076,,,,-1\n\
         C10,x,commercial-ppo,2025-06-01,11,M0076,,,,\n\
         ,1,commercial-ppo,2025-06-01,11,M0076,,,,\n\
         C12,1,commercial-ppo,2025-06-01,11,M0076,snomed,,,\n\
         C13,1,commercial-ppo,2025-06-01,11,99213,,,,\n"
    );
    let (r, out, errs) = run(&input, &Options::default());
    let s = r.unwrap();
    assert_eq!(s.lines_read, 13);
    assert_eq!(s.bad_lines, 11, "{errs}");
    assert_eq!(s.decided, 2);
    assert_eq!(out.lines().count(), 3);
    let e: Vec<&str> = errs.lines().collect();
    let expect = [
        "input line 3 (claim C2 line 1): product: unknown product `gold-plan`; valid products: commercial-hmo",
        "input line 4 (claim C3 line 1): code: `M007` is not a procedure code",
        "input line 5 (claim C4 line 1): date_of_service: `2025-13-01` is not a valid date: expected YYYY-MM-DD",
        "input line 6: columns: expected 10 columns (as in the header), found 6",
        "input line 7 (claim C6 line 1): place_of_service: `30` is not a setting",
        "input line 8 (claim C7 line 1): modifiers: `RTX` is not a valid modifier",
        "input line 9 (claim C8 line 1): diagnoses: `M54.` is not a valid ICD-10-CM code",
        "input line 10 (claim C9 line 1): units: `-1` is not a positive number of units",
        "input line 11 (claim C10 line x): line: `x` is not a line number",
        "input line 12: claim_id: is empty",
        "input line 13 (claim C12 line 1): code_system: unknown code system `snomed`",
    ];
    assert_eq!(e.len(), expect.len(), "{errs}");
    for (got, want) in e.iter().zip(expect) {
        assert!(got.starts_with(want), "got {got:?}\nwant {want:?}");
    }
}

#[test]
fn ndjson_in_and_out() {
    let input = "{\"claim_id\":\"A\",\"line\":1,\"product\":\"commercial-pos\",\"date_of_service\":\"2025-06-01\",\"setting\":\"inpatient\",\"code\":\"M0076\",\"modifiers\":[\"RT\"],\"diagnoses\":\"M54.50;M79.10\",\"units\":1,\"extra\":true}\n\
                 \n\
                 {not json}\n\
                 {\"claim_id\":7,\"line\":\"2\",\"product\":\"commercial-pos\",\"date_of_service\":\"2025-06-01\",\"place_of_service\":\"11\",\"code\":\"99213\"}\r\n";
    let opts = Options {
        input: InputFormat::Ndjson,
        output: OutputFormat::Ndjson,
        ..Options::default()
    };
    let (r, out, errs) = run(input, &opts);
    let s = r.unwrap();
    assert_eq!((s.lines_read, s.decided, s.bad_lines), (3, 2, 1));
    assert!(
        errs.starts_with("input line 3: json: not a claim-line object"),
        "{errs}"
    );
    let rows: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows[0]["claim_id"], "A");
    assert_eq!(rows[0]["prior_auth"], "auth-needed");
    assert_eq!(rows[0]["policies"][0]["version"], "1/2025");
    assert_eq!(
        rows[0]["citation"]["text"],
        "Prolotherapy is considered INVESTIGATIONAL as a treatment of musculoskeletal pain."
    );
    assert_eq!(rows[1]["claim_id"], "7");
    assert_eq!(rows[1]["coverage"], "no-policy");
}

#[test]
fn only_flagged_and_order_across_many_batches() {
    let mut input = String::from(HEADER);
    for i in 0..1000 {
        let code = if i % 3 == 0 { "M0076" } else { "99213" };
        input.push_str(&format!("C{i},1,commercial-ppo,2025-06-01,11,{code},,,,\n"));
    }
    let opts = Options {
        batch_lines: 7,
        ..Options::default()
    };
    let (r, out, _) = run(&input, &opts);
    assert_eq!(r.unwrap().decided, 1000);
    let ids: Vec<String> = out
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    let want: Vec<String> = (0..1000).map(|i| format!("C{i}")).collect();
    assert_eq!(ids, want);
    let (r, out, _) = run(
        &input,
        &Options {
            only_flagged: true,
            ..opts
        },
    );
    let s = r.unwrap();
    assert_eq!(s.written, 334);
    assert_eq!(out.lines().count(), 335);
    assert!(out.lines().skip(1).all(|l| l.contains(",true,")));
}

#[test]
fn max_errors_stops_exactly_at_the_limit() {
    let mut input = String::from(HEADER);
    for i in 0..100 {
        let code = if i % 10 == 9 { "BAD" } else { "M0076" };
        input.push_str(&format!("C{i},1,commercial-ppo,2025-06-01,11,{code},,,,\n"));
    }
    for batch_lines in [1000, 16, 3] {
        let opts = Options {
            max_errors: Some(2),
            batch_lines,
            ..Options::default()
        };
        let (r, out, errs) = run(&input, &opts);
        let s = r.unwrap();
        assert!(s.stopped_early);
        assert_eq!(s.bad_lines, 2, "{errs}");
        // C0..C19 read: 18 decided, C9 and C19 bad; nothing after the second bad line.
        assert_eq!(s.lines_read, 20, "batch {batch_lines}");
        assert_eq!(s.decided, 18, "batch {batch_lines}");
        assert_eq!(out.lines().last().unwrap().split(',').next(), Some("C18"));
    }
}

#[test]
fn a_header_without_required_columns_is_refused() {
    let (r, out, _) = run("claim_id,line,code\nC1,1,M0076\n", &Options::default());
    let e = r.unwrap_err().to_string();
    assert!(
        e.contains("product, date_of_service, place_of_service or setting"),
        "{e}"
    );
    assert_eq!(out, "");
    let (r, _, _) = run("", &Options::default());
    assert!(r.unwrap_err().to_string().contains("empty"));
}

#[test]
fn parse_only_decides_and_writes_nothing() {
    let input = format!(
        "{HEADER}C1,1,commercial-ppo,2025-06-01,11,M0076,,,,\nC2,1,gold,2025-06-01,11,M0076,,,,\n"
    );
    let (r, out, errs) = run(
        &input,
        &Options {
            parse_only: true,
            ..Options::default()
        },
    );
    let s = r.unwrap();
    assert_eq!((s.lines_read, s.decided, s.bad_lines), (2, 0, 1));
    assert_eq!(out, "");
    assert!(errs.contains("gold"));
}

#[test]
fn an_unclosed_quote_is_reported_with_the_lines_it_swallowed() {
    let input = format!(
        "{HEADER}C1,1,commercial-ppo,2025-06-01,11,M0076,,,,\n\
         \"C2,1,commercial-ppo,2025-06-01,11,M0076,,,,\n\
         C3,1,commercial-ppo,2025-06-01,11,M0076,,,,\n\
         C4,1,commercial-ppo,2025-06-01,11,M0076,,,,\n"
    );
    let (r, _, errs) = run(&input, &Options::default());
    let s = r.unwrap();
    assert_eq!((s.decided, s.bad_lines), (1, 1), "{errs}");
    assert!(
        errs.starts_with("input lines 3-5 (one record: a quoted field spans them"),
        "{errs}"
    );
}

#[test]
fn an_overlong_ndjson_line_is_one_bad_line_and_the_next_is_read() {
    let long = format!(
        "{{\"claim_id\": \"{}\"}}\n",
        "x".repeat((MAX_NDJSON_LINE as usize) * 2)
    );
    let good = "{\"claim_id\":\"B\",\"line\":1,\"product\":\"commercial-ppo\",\"date_of_service\":\"2025-06-01\",\"setting\":\"outpatient\",\"code\":\"M0076\",\"diagnosis_codes\":\"M54.50\",\"lob\":\"ignored-alias-is-product\"}\n";
    let input = format!("{long}{good}");
    let opts = Options {
        input: InputFormat::Ndjson,
        ..Options::default()
    };
    let (r, out, errs) = run(&input, &opts);
    let s = r.unwrap();
    assert_eq!((s.lines_read, s.bad_lines), (2, 2), "{errs}");
    assert!(
        errs.starts_with("input line 1: json: the line is longer than"),
        "{errs}"
    );
    // The second line names its product twice (product, lob): refused, not guessed.
    assert!(errs.contains("input line 2"), "{errs}");
    assert_eq!(out.lines().count(), 1);
}

#[test]
fn lines_ending_in_a_lone_cr_are_all_screened_and_numbered() {
    // Old Mac line ends: every line used to vanish into the header.
    let input = format!(
        "{}C1,1,commercial-ppo,2025-06-01,11,M0076,,,,\rC2,1,commercial-ppo,2025-06-01,11,M07,,,,\rC3,1,commercial-ppo,2025-06-01,11,M0076,,,,\r",
        HEADER.replace('\n', "\r")
    );
    let (r, out, errs) = run(&input, &Options::default());
    let s = r.unwrap();
    assert_eq!((s.lines_read, s.decided, s.bad_lines), (3, 2, 1), "{errs}");
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(errs.starts_with("input line 3 (claim C2 line 1)"), "{errs}");
}

#[test]
fn crlf_and_blank_lines_keep_the_file_line_numbers() {
    let input = "claim_id,line,product,date_of_service,place_of_service,code\r\n\
                 C1,1,commercial-ppo,2025-06-01,11,M07\r\n\
                 \r\n\
                 C2,1,commercial-ppo,2025-06-01,11,M07\r\n\
                 \n\
                 \n\
                 C3,1,commercial-ppo,2025-06-01,11,M07";
    let (r, _, errs) = run(input, &Options::default());
    assert_eq!(r.unwrap().bad_lines, 3);
    let places: Vec<&str> = errs
        .lines()
        .map(|l| l.split(" (").next().unwrap())
        .collect();
    assert_eq!(
        places,
        ["input line 2", "input line 4", "input line 7"],
        "{errs}"
    );
    assert!(!errs.contains("quoted field"), "{errs}");
}

#[test]
fn utf16_input_is_refused_as_input_with_what_to_do() {
    let mut bytes = vec![0xFF, 0xFE];
    for c in "claim_id,line\n".encode_utf16() {
        bytes.extend_from_slice(&c.to_le_bytes());
    }
    let engine = engine();
    let r = screen(
        &engine,
        &bytes[..],
        &mut Vec::new(),
        &mut Vec::new(),
        &Options::default(),
        &mut |_| {},
    );
    match r {
        Err(ScreenError::Input(m)) => assert!(m.contains("UTF-16"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_claim_id_is_printable_and_never_a_spreadsheet_formula() {
    let input = format!(
        "{HEADER}C\u{0}1,1,commercial-ppo,2025-06-01,11,M0076,,,,\n\
         =HYPERLINK(\"x\"),1,commercial-ppo,2025-06-01,11,M0076,,,,\n\
         @SUM(1),1,commercial-ppo,2025-06-01,11,M0076,,,,\n"
    );
    let (r, out, errs) = run(&input, &Options::default());
    assert_eq!(r.unwrap().bad_lines, 1);
    assert!(
        errs.contains("claim_id: contains a control character (U+0000)"),
        "{errs}"
    );
    assert!(!out.contains('\0'));
    let ids: Vec<&str> = out
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(ids, ["\"'=HYPERLINK(\"\"x\"\")\"", "'@SUM(1)"], "{out}");
}
