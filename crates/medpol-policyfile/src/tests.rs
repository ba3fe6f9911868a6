use super::*;

const PAYER: &str = r#"id = "acme"
name = "Acme Health"

[[line_of_business]]
id = "ppo"
name = "PPO"
market = "commercial"

[[line_of_business]]
id = "ma"
name = "Medicare Advantage"
market = "medicare-advantage"

[[product_group]]
id = "everyone"
label = "Everyone"
products = ["ppo", "ma"]
"#;

const POLICY: &str = r#"payer = "acme"
number = "7"
title = "Widget therapy"
effective = "2020-01-01"

[[related_policy]]
number = "8"
title = "Gadget therapy"

[[statement]]
id = "inv"
products = ["ppo"]
status = "investigational"
text = "Widget therapy is **investigational**."

[[code_list]]
id = "hcpcs"
system = "hcpcs"
products = ["everyone"]
status = "investigational"
codes = [
  { code = "M0076", description = "Widget" },
]

[[history]]
date = "1/2020"
action = "New policy."
"#;

fn sources(policy: &str) -> Vec<Source> {
    vec![
        Source {
            path: "p/acme/payer.toml".into(),
            text: PAYER.into(),
        },
        Source {
            path: "p/acme/7-widget.toml".into(),
            text: policy.into(),
        },
    ]
}

/// Loads the fixture with one substitution and returns the single error.
fn error_for(from: &str, to: &str) -> Diagnostic {
    assert!(POLICY.contains(from), "fixture lacks {from}");
    let text = POLICY.replacen(from, to, 1);
    let err = load_sources(sources(&text)).expect_err("should not load");
    let errors: Vec<&Diagnostic> = err.errors().collect();
    assert_eq!(errors.len(), 1, "{err}");
    errors[0].clone()
}

fn line_containing(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn the_fixture_loads_with_a_warning_for_the_unresolved_related_policy() {
    let loaded = load_sources(sources(POLICY)).unwrap();
    assert_eq!(loaded.catalog.policies.len(), 1);
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    let w = &loaded.warnings[0];
    assert_eq!(w.severity, Severity::Warning);
    assert_eq!(w.field.as_deref(), Some("related_policy[0].number"));
    assert_eq!(w.line, Some(line_containing(POLICY, "number = \"8\"")));
    assert!(w.message.contains("related policy 8"));
}

#[test]
fn unknown_product_names_the_line_and_the_valid_products() {
    let d = error_for(r#"products = ["ppo"]"#, r#"products = ["gold"]"#);
    assert_eq!(d.file, PathBuf::from("p/acme/7-widget.toml"));
    assert_eq!(
        d.line,
        Some(line_containing(POLICY, r#"products = ["ppo"]"#))
    );
    assert_eq!(d.field.as_deref(), Some("statement[0].products[0]"));
    assert!(d.message.contains("unknown product `gold`"), "{d}");
    assert!(d.message.contains("ppo, ma, everyone, all"), "{d}");
    assert!(d.to_string().starts_with("p/acme/7-widget.toml:"), "{d}");
}

#[test]
fn malformed_codes_of_each_system() {
    for (system, bad) in [
        ("hcpcs", "W0076"),
        ("cpt", "9921"),
        ("icd10cm", "M54."),
        ("icd10pcs", "0SGO0ZZ"),
    ] {
        let text = POLICY
            .replacen("system = \"hcpcs\"", &format!("system = \"{system}\""), 1)
            .replacen("M0076", bad, 1);
        let err = load_sources(sources(&text)).unwrap_err();
        let d = err.errors().next().unwrap();
        assert_eq!(
            d.field.as_deref(),
            Some("code_list[0].codes[0].code"),
            "{d}"
        );
        assert_eq!(d.line, Some(line_containing(&text, bad)));
        assert!(
            d.message.contains(&format!("`{bad}` is not a valid")),
            "{d}"
        );
    }
}

#[test]
fn bad_dates() {
    let d = error_for(r#"effective = "2020-01-01""#, r#"effective = "2020-13-01""#);
    assert!(d.message.contains("expected an ISO date YYYY-MM-DD"), "{d}");
    assert_eq!(d.line, Some(4));
    let d = error_for(r#"date = "1/2020""#, r#"date = "January 2020""#);
    assert!(d.message.contains("M/YYYY"), "{d}");
    assert_eq!(d.line, Some(line_containing(POLICY, "date = \"1/2020\"")));
}

#[test]
fn duplicate_policy_numbers_name_both_files() {
    let mut s = sources(POLICY);
    s.push(Source {
        path: "p/acme/7-copy.toml".into(),
        text: POLICY.into(),
    });
    let err = load_sources(s).unwrap_err();
    let d = err.errors().next().unwrap();
    assert!(d.message.contains("duplicate policy number 7"), "{d}");
    assert!(
        d.message.contains("see p/acme/7-widget.toml")
            || d.message.contains("see p/acme/7-copy.toml"),
        "{d}"
    );
    assert_eq!(d.line, Some(2));
}

#[test]
fn syntax_errors_and_unknown_fields_have_lines() {
    let d = error_for("title = \"Widget therapy\"", "title = \"Widget therapy");
    assert_eq!(d.line, Some(3), "{d}");
    let d = error_for(
        "status = \"investigational\"\ntext",
        "stauts = \"investigational\"\ntext",
    );
    assert!(d.message.contains("stauts"), "{d}");
    assert_eq!(
        d.line,
        Some(line_containing(
            POLICY,
            "status = \"investigational\"\ntext"
                .split('\n')
                .next()
                .unwrap()
        ))
    );
    let d = error_for(
        "status = \"investigational\"\ntext",
        "status = \"experimental\"\ntext",
    );
    assert!(
        d.message.contains("investigational") && d.message.contains("experimental"),
        "{d}"
    );
}

#[test]
fn missing_fields_are_named() {
    let d = error_for("title = \"Widget therapy\"\n", "");
    assert!(d.message.contains("missing field `title`"), "{d}");
}

#[test]
fn unknown_payer_and_wrong_directory() {
    let text = POLICY.replacen("payer = \"acme\"", "payer = \"zenith\"", 1);
    let err = load_sources(sources(&text)).unwrap_err();
    let msgs: Vec<String> = err.errors().map(|d| d.to_string()).collect();
    assert!(
        msgs.iter().any(|m| m.contains("unknown payer `zenith`")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter().any(|m| m.contains("directory of payer `acme`")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .all(|m| m.starts_with("p/acme/7-widget.toml:1:")),
        "{msgs:?}"
    );
}

#[test]
fn statement_rules() {
    let d = error_for(
        "[[statement]]\nid = \"inv\"",
        "[[statement]]\nid = \"Inv X\"",
    );
    assert!(d.message.contains("not a valid statement id"), "{d}");
    let d = error_for(
        "text = \"Widget therapy is **investigational**.\"",
        "text = \"  \"",
    );
    assert!(d.message.contains("statement text is empty"), "{d}");
}

#[test]
fn criteria_and_indication_rules() {
    // A medically-necessary statement that says criteria follow must list them.
    let d = error_for(
        "status = \"investigational\"\ntext = \"Widget therapy is **investigational**.\"",
        "status = \"medically-necessary\"\ntext = \"Widget therapy is medically necessary when all of the following criteria are met:\"",
    );
    assert!(d.message.contains("lists none"), "{d}");
    assert!(d.message.contains("[[statement.criterion]]"), "{d}");

    // A criteria tree loads, nested, and its ids must be unique.
    let tree = "status = \"medically-necessary\"\ntext = \"Widget therapy is medically necessary when all of the following criteria are met:\"\n\n[[statement.criterion]]\nid = \"1\"\ntext = \"Age 18 or older\"\n\n[[statement.criterion]]\nid = \"2\"\ntext = \"One of the following:\"\nmatch = \"any-of\"\n\n[[statement.criterion.criterion]]\nid = \"2.1\"\ntext = \"Pain\"\n\n[[statement.criterion.criterion]]\nid = \"2.2\"\ntext = \"Swelling\"\n";
    let text = POLICY
        .replacen(
            "status = \"investigational\"\ntext = \"Widget therapy is **investigational**.\"\n",
            tree,
            1,
        )
        .replacen(
            "status = \"investigational\"\ncodes",
            "status = \"medically-necessary\"\ncodes",
            1,
        );
    let loaded = load_sources(sources(&text)).unwrap();
    let s = &loaded.catalog.policies[0].statements[0];
    assert_eq!(s.criteria.len(), 2);
    assert_eq!(s.criteria[1].combine, medpol_core::model::Combine::AnyOf);
    assert_eq!(s.criteria[1].criteria[1].id, "2.2");
    let dup = text.replacen("id = \"2.2\"", "id = \"2.1\"", 1);
    let err = load_sources(sources(&dup)).expect_err("duplicate criterion id");
    let d: Vec<&Diagnostic> = err.errors().collect();
    assert!(
        d[0].message.contains("duplicate criterion id `2.1`"),
        "{err}"
    );
    let second = dup
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("id = \"2.1\""))
        .nth(1)
        .map(|(i, _)| i + 1);
    assert_eq!(d[0].line, second, "{err}");

    // Diagnoses: codes, families and ranges; a range upside down is refused
    // with what would be valid.
    let d = error_for(
        "status = \"investigational\"\ntext",
        "status = \"investigational\"\ndiagnoses = [\"M54.5-\", \"M17.12-M17.0\"]\ntext",
    );
    assert!(d.message.contains("a range like M17.0-M17.12"), "{d}");
    assert_eq!(d.field.as_deref(), Some("statement[0].diagnoses[1]"), "{d}");

    // A table without a status that no statement reaches cannot be decided.
    let d = error_for(
        "products = [\"everyone\"]\nstatus = \"investigational\"\n",
        "products = [\"everyone\"]\n",
    );
    assert!(
        d.message
            .contains("no statement reaches this table's codes for ma"),
        "{d}"
    );
}

#[test]
fn payer_file_errors() {
    let mut s = sources(POLICY);
    s[0].text = PAYER.replacen(
        "products = [\"ppo\", \"ma\"]",
        "products = [\"ppo\", \"hmo\"]",
        1,
    );
    let err = load_sources(s).unwrap_err();
    let d = err
        .errors()
        .find(|d| d.file == Path::new("p/acme/payer.toml"))
        .unwrap();
    assert_eq!(d.field.as_deref(), Some("product_group[0].products[1]"));
    assert_eq!(d.line, Some(line_containing(PAYER, "products = [")));
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let text = POLICY
        .replacen(r#"products = ["ppo"]"#, r#"products = ["gold"]"#, 1)
        .replacen("M0076", "M007", 1);
    let err = load_sources(sources(&text)).unwrap_err();
    assert_eq!(err.errors().count(), 2, "{err}");
}

#[test]
fn writer_output_loads_back_identically() {
    let loaded = load_sources(sources(POLICY)).unwrap();
    let policy = &loaded.catalog.policies[0];
    let text = policy_to_toml(policy);
    let again: Policy = toml::from_str(&text).unwrap();
    assert_eq!(&again, policy);
    let payer_text = payer_to_toml(&loaded.catalog.payers[0]);
    let payer: Payer = toml::from_str(&payer_text).unwrap();
    assert_eq!(payer, loaded.catalog.payers[0]);
    assert_eq!(policy_file_name(policy), "7-widget-therapy.toml");
}

fn bundled_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

#[test]
fn the_bundled_policies_load_and_round_trip_through_the_writer() {
    let loaded = load_dir(&bundled_dir()).unwrap();
    let p = loaded
        .catalog
        .policies
        .iter()
        .find(|p| p.payer == "bcbsma" && p.number == "183")
        .unwrap();
    assert_eq!(p.references.len(), 40);
    assert_eq!(p.history.len(), 17);
    let again: Policy = toml::from_str(&policy_to_toml(p)).unwrap();
    assert_eq!(&again, p);
}

#[test]
fn write_catalog_then_load_dir() {
    let loaded = load_sources(sources(POLICY)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let n = write_catalog(&loaded.catalog, dir.path()).unwrap();
    assert_eq!(n, 2);
    let again = load_dir(dir.path()).unwrap();
    assert_eq!(again.catalog, loaded.catalog);
    // No temporary files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("acme"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn a_missing_directory_is_an_error() {
    let err = load_dir(Path::new("/nonexistent/policies")).unwrap_err();
    assert!(err.to_string().contains("not a directory"), "{err}");
}

proptest::proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        let _ = load_sources(sources(&text));
    }

    #[test]
    fn mutated_fixture_never_panics(cut in 0usize..POLICY.len(), insert in "[\\[\\]\"= a-z0-9\n]{0,8}") {
        let mut text = POLICY.to_string();
        let cut = (0..=cut).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        text.insert_str(cut, &insert);
        let _ = load_sources(sources(&text));
    }
}

#[test]
fn the_locator_numbers_lines_like_a_count_of_breaks() {
    let text = "a = 1\n\nb = [\n  2,\n  3,\n]\n[t]\nc = \"x\"\n";
    let loc = Locator::new(text);
    for offset in 0..text.len() {
        assert_eq!(loc.line(offset), line_of(text, offset), "offset {offset}");
    }
    let path = FieldPath::root().key("b").index(1);
    let span = loc.span(&path).unwrap();
    assert_eq!(&text[span.clone()], "3");
    assert_eq!(loc.line(span.start), 5);
    assert_eq!(
        span_of(text, &FieldPath::root().key("t").key("c")).map(|s| loc.line(s.start)),
        Some(8)
    );
}
