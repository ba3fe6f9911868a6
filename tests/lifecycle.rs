//! The policy team's tools through the real binary: `diff` (two versions of
//! 183 by its history; two catalogues), `lint` (planted problems found one by
//! one), `reviews`, and `impact` (moving 183's code from investigational to
//! medically necessary with criteria changes exactly the M0076 lines).

mod common;

use common::{catalogue_copy, edit, make_medically_necessary, run};

fn json(r: &common::Run) -> serde_json::Value {
    assert_eq!(r.code, 0, "{}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

#[test]
fn two_real_versions_of_183_differ_in_references_and_review_dates_only() {
    let r = run(&["diff", "183", "--from", "2024-03-01", "--to", "2025-03-01"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("version 1/2024 (from 2024-01-01) -> version 1/2025 (from 2025-01-01)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("Parts changed, per the history: references, review\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("Policy statements: unchanged"),
        "{}",
        r.stdout
    );
    let v = json(&run(&[
        "diff",
        "183",
        "--from",
        "2024-03-01",
        "--to",
        "2025-03-01",
        "--format",
        "json",
    ]));
    assert_eq!(
        v["versions"]["parts"],
        serde_json::json!(["references", "review"])
    );
    assert_eq!(v["versions"]["statements_unchanged"], true);
    assert_eq!(v["one_text_held"], true);
    // A longer span: more parts, still never the statements.
    let v = json(&run(&[
        "diff",
        "183",
        "--from",
        "2013-12-01",
        "--to",
        "2025-01-01",
        "--format",
        "json",
    ]));
    let parts: Vec<&str> = v["versions"]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        parts.contains(&"description")
            && parts.contains(&"codes")
            && !parts.contains(&"statements"),
        "{parts:?}"
    );
    // Bad input: a date before the policy, a missing --to, an unknown policy.
    let r = run(&["diff", "183", "--from", "2009-01-01", "--to", "2025-01-01"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("applies from 2010-05-01"), "{}", r.stderr);
    assert_eq!(run(&["diff", "183", "--from", "2024-03-01"]).code, 2);
    assert_eq!(
        run(&["diff", "999", "--from", "2024-03-01", "--to", "2025-03-01"]).code,
        2
    );
}

#[test]
fn two_catalogues_differ_statement_by_statement_and_code_by_code() {
    let tmp = tempfile::tempdir().unwrap();
    let old = catalogue_copy(tmp.path(), "old");
    let new = catalogue_copy(tmp.path(), "new");
    make_medically_necessary(&new);
    let (o, n) = (old.to_str().unwrap(), new.to_str().unwrap());
    let r = run(&["diff", "--old", o, "--new", n]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("0 added, 0 removed, 1 changed, 0 unchanged"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("statements status-changed statement commercial-investigational: investigational -> medically-necessary"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("codes moved HCPCS M0076: investigational -> medically-necessary"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("[-[INVESTIGATIONAL](#)-]"),
        "the text word by word: {}",
        r.stdout
    );
    assert!(r.stdout.contains("criteria added statement commercial-investigational criterion 1: Pain for at least 3 months."), "{}", r.stdout);
    let v = json(&run(&["diff", "--old", o, "--new", n, "--format", "json"]));
    assert_eq!(
        v["changed"][0]["parts"],
        serde_json::json!(["statements", "criteria", "codes"])
    );
    assert_eq!(
        json(&run(&["diff", "--old", o, "--new", o, "--format", "json"]))["unchanged"],
        1
    );
}

#[test]
fn lint_finds_planted_problems_one_by_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = catalogue_copy(tmp.path(), "c");
    let d = dir.to_str().unwrap();
    let lint = |extra: &[&str]| {
        let mut args = vec!["lint", d, "--today", "2025-06-01"];
        args.extend_from_slice(extra);
        run(&args)
    };
    // As published: two pointers to policies not in this catalogue.
    let r = lint(&[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("183-prolotherapy.toml:25: warning[unresolved-policy]: related_policy[0].number: related policy 320"), "{}", r.stdout);
    assert!(
        r.stdout.contains("1 policy: 0 errors, 2 warnings"),
        "{}",
        r.stdout
    );

    // 1. The annual review, a year and a half later; an error when denied.
    let r = run(&["lint", d, "--today", "2026-06-01"]);
    assert!(
        r.stdout
            .contains("warning[review-due]: history[0].date: last reviewed 1/2025"),
        "{}",
        r.stdout
    );
    assert_eq!(r.code, 0);
    let r = run(&["lint", d, "--today", "2026-06-01", "--deny", "review-due"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("error[review-due]"), "{}", r.stdout);
    let r = lint(&["--deny", "no-such-rule"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("conflicting-status"),
        "the rules are listed: {}",
        r.stderr
    );

    // 2. Another policy that covers M0076 for Medicare Advantage, where 183's table denies it.
    let other = common::conflicting_999(
        &std::fs::read_to_string(dir.join("bcbsma/183-prolotherapy.toml")).unwrap(),
    );
    std::fs::write(dir.join("bcbsma/999-injections.toml"), other).unwrap();
    let r = lint(&[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("conflicting-status"))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(line.contains("999-injections.toml:"), "{line}");
    assert!(line.contains("error[conflicting-status]: code_list[0].codes[0]: HCPCS M0076 for medicare-hmo-blue, medicare-ppo-blue: policy 999 covers it, policy 183"), "{line}");
    std::fs::remove_file(dir.join("bcbsma/999-injections.toml")).unwrap();

    // 3. Criteria, and no outpatient prior-authorization rule.
    make_medically_necessary(&dir);
    let text = std::fs::read_to_string(dir.join("bcbsma/183-prolotherapy.toml")).unwrap();
    let start = text
        .find("[[prior_auth]]\nsetting = \"outpatient\"")
        .unwrap();
    let end = text.find("[[code_list]]").unwrap();
    std::fs::write(
        dir.join("bcbsma/183-prolotherapy.toml"),
        format!("{}{}", &text[..start], &text[end..]),
    )
    .unwrap();
    let r = lint(&[]);
    assert!(r.stdout.contains("warning[criteria-without-prior-auth]: statement[0].criterion: statement `commercial-investigational` has medical-necessity criteria but the policy has no prior-authorization rule for the outpatient setting"), "{}", r.stdout);
    assert_eq!(r.code, 0);

    // 4. A table no statement reaches: the statement now speaks of other products.
    edit(
        &dir,
        "183-prolotherapy.toml",
        "products = [\"commercial\"]\nstatus = \"medically-necessary\"",
        "products = [\"medicare-advantage\"]\nstatus = \"covered\"",
    );
    edit(
        &dir,
        "183-prolotherapy.toml",
        "products = [\"commercial\", \"medicare-advantage\"]\nstatus = \"medically-necessary\"",
        "products = [\"commercial\"]\nstatus = \"investigational\"",
    );
    let r = lint(&["--format", "json"]);
    let v = json(&r);
    let rules: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"unreached-code"), "{rules:?}");
    let f = v
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "unreached-code")
        .unwrap();
    assert_eq!(f["field"], "code_list[0].id");
    assert!(f["line"].as_u64().unwrap() > 1);
}

#[test]
fn the_review_calendar_says_what_is_due() {
    let r = run(&["reviews", "--due-within", "60d", "--today", "2025-11-15"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("bcbsma/183       1/2025       2026-01-01     47  due-soon  Prolotherapy"),
        "{}",
        r.stdout
    );
    let v = json(&run(&[
        "reviews",
        "--due-within",
        "60",
        "--today",
        "2025-06-01",
        "--format",
        "json",
    ]));
    assert_eq!(v, serde_json::json!([]));
    let v = json(&run(&[
        "reviews",
        "--today",
        "2026-12-02",
        "--format",
        "json",
    ]));
    assert_eq!(v[0]["state"], "overdue");
    assert_eq!(v[0]["next_due"], "2026-01-01");
    assert_eq!(run(&["reviews", "--due-within", "soon"]).code, 2);
}

#[test]
fn impact_of_moving_183_to_medically_necessary_is_exactly_the_m0076_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let proposed = catalogue_copy(tmp.path(), "proposed");
    make_medically_necessary(&proposed);
    let claims = tmp.path().join("claims.csv");
    let r = run(&[
        "synth",
        "claims",
        "--lines",
        "5000",
        "--out",
        claims.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // What should change: every M0076 line (commercial: conditional on the
    // criteria; Medicare Advantage: covered by the table's sentence).
    let text = std::fs::read_to_string(&claims).unwrap();
    let m0076: Vec<&str> = text
        .lines()
        .skip(1)
        .filter(|l| l.split(',').nth(6) == Some("M0076"))
        .collect();
    let commercial = m0076
        .iter()
        .filter(|l| l.split(',').nth(3).unwrap().starts_with("commercial"))
        .count();
    assert!(commercial > 0 && commercial < m0076.len());
    let changed = tmp.path().join("changed.csv");
    let v = json(&run(&[
        "impact",
        "--proposed",
        proposed.to_str().unwrap(),
        "--claims",
        claims.to_str().unwrap(),
        "--changed",
        changed.to_str().unwrap(),
        "--format",
        "json",
    ]));
    let i = &v["impact"];
    assert_eq!(i["compared"], 5000);
    assert_eq!(i["changed"].as_u64().unwrap() as usize, m0076.len());
    assert_eq!(
        i["coverage"]["not-covered -> conditional"]
            .as_u64()
            .unwrap() as usize,
        commercial
    );
    assert_eq!(
        i["coverage"]["not-covered -> covered"].as_u64().unwrap() as usize,
        m0076.len() - commercial
    );
    for t in i["transitions"].as_array().unwrap() {
        assert_eq!(t["code"], "M0076");
        assert!(!t["examples"].as_array().unwrap().is_empty());
    }
    let rows = std::fs::read_to_string(&changed).unwrap();
    assert!(rows.starts_with("claim_id,line,system,code,product,setting"));
    assert_eq!(rows.lines().count(), m0076.len() + 1);
    // The same catalogue changes nothing.
    let same = catalogue_copy(tmp.path(), "same");
    let v = json(&run(&[
        "impact",
        "--proposed",
        same.to_str().unwrap(),
        "--claims",
        claims.to_str().unwrap(),
        "--format",
        "json",
    ]));
    assert_eq!(v["impact"]["changed"], 0);
    assert_eq!(v["impact"]["flagged_before"], v["impact"]["flagged_after"]);
    // Text output names the transition.
    let r = run(&[
        "impact",
        "--proposed",
        proposed.to_str().unwrap(),
        "--claims",
        claims.to_str().unwrap(),
    ]);
    assert!(
        r.stdout.contains("not-covered -> conditional"),
        "{}",
        r.stdout
    );
    assert_eq!(
        run(&[
            "impact",
            "--proposed",
            "/no/such/dir",
            "--claims",
            claims.to_str().unwrap()
        ])
        .code,
        2
    );
}

#[test]
fn impact_replays_x12_claims_too() {
    let tmp = tempfile::tempdir().unwrap();
    let proposed = catalogue_copy(tmp.path(), "proposed");
    make_medically_necessary(&proposed);
    let claims = common::repo_root().join("tests/fixtures/x12/bcbsma-837p.x12");
    let v = json(&run(&[
        "impact",
        "--proposed",
        proposed.to_str().unwrap(),
        "--claims",
        claims.to_str().unwrap(),
        "--format",
        "json",
    ]));
    // Every service line read; the one of a payer the product map does not
    // know is a bad line, not guessed; the M0076 lines change.
    assert_eq!(v["lines_read"], 6, "{v}");
    assert_eq!(v["bad_lines"], 1, "{v}");
    let i = &v["impact"];
    assert_eq!(i["compared"], 5, "{v}");
    assert!(i["changed"].as_u64().unwrap() > 0, "{v}");
    for t in i["transitions"].as_array().unwrap() {
        assert_eq!(t["code"], "M0076", "{v}");
    }
}
