//! The seed document (BCBSMA medical policy 183) imports to the hand-encoded
//! `policies/bcbsma/183-prolotherapy.toml`, field by field, with every line
//! accounted for; and the bundled policy renders back to a document that
//! imports to itself.

mod common;

use common::{bundled, importer, payer, policy_183, seed};
use medpol_document::{render, Format};

#[test]
fn the_seed_imports_to_the_hand_encoded_policy_field_by_field() {
    let catalog = bundled();
    let expected = policy_183(&catalog);
    let Some(seed) = seed() else { return };
    let imported = importer(&catalog)
        .import(&seed, None)
        .expect("the seed imports");
    let got = &imported.policy;

    assert_eq!(got.payer, expected.payer, "payer");
    assert_eq!(got.number, expected.number, "number");
    assert_eq!(got.title, expected.title, "title");
    assert_eq!(
        got.effective, expected.effective,
        "effective (from the history row)"
    );
    assert_eq!(got.retired, expected.retired, "retired");
    assert_eq!(
        got.external_references, expected.external_references,
        "external_reference"
    );
    assert_eq!(
        got.related_policies, expected.related_policies,
        "related_policy"
    );
    assert_eq!(got.description, expected.description, "description");
    assert_eq!(got.summary, expected.summary, "summary");
    assert_eq!(
        got.statements.len(),
        expected.statements.len(),
        "statement count"
    );
    for (g, e) in got.statements.iter().zip(&expected.statements) {
        assert_eq!(g.id, e.id, "statement id");
        assert_eq!(g.heading, e.heading, "statement heading");
        assert_eq!(g.products, e.products, "statement products");
        assert_eq!(g.status, e.status, "statement status");
        assert_eq!(g.indication, e.indication, "statement indication");
        assert_eq!(g.text, e.text, "statement text");
        assert_eq!(g.criteria, e.criteria, "statement criteria");
        assert_eq!(g.code_lists, e.code_lists, "statement code_lists");
        assert_eq!(g.diagnoses, e.diagnoses, "statement diagnoses");
    }
    assert_eq!(
        got.prior_auth.len(),
        expected.prior_auth.len(),
        "prior_auth count"
    );
    for (g, e) in got.prior_auth.iter().zip(&expected.prior_auth) {
        assert_eq!(g.setting, e.setting, "prior_auth setting");
        assert_eq!(g.heading, e.heading, "prior_auth heading");
        assert_eq!(g.text, e.text, "prior_auth text");
        assert_eq!(g.requirement, e.requirement, "prior_auth requirement");
        assert_eq!(g.rows, e.rows, "prior_auth rows");
    }
    assert_eq!(
        got.coding_heading, expected.coding_heading,
        "coding_heading"
    );
    assert_eq!(
        got.code_lists.len(),
        expected.code_lists.len(),
        "code_list count"
    );
    for (g, e) in got.code_lists.iter().zip(&expected.code_lists) {
        assert_eq!(g.id, e.id, "code_list id");
        assert_eq!(g.heading, e.heading, "code_list heading");
        assert_eq!(g.system, e.system, "code_list system");
        assert_eq!(g.statement, e.statement, "code_list statement");
        assert_eq!(g.products, e.products, "code_list products");
        assert_eq!(g.status, e.status, "code_list status");
        assert_eq!(g.columns, e.columns, "code_list columns");
        assert_eq!(g.codes, e.codes, "code_list codes");
    }
    assert_eq!(got.notes.len(), expected.notes.len(), "note count");
    for (g, e) in got.notes.iter().zip(&expected.notes) {
        assert_eq!(g, e, "note");
    }
    assert_eq!(got.all_policies, expected.all_policies, "all_policies");
    assert_eq!(got.history, expected.history, "history");
    assert_eq!(
        got.references.len(),
        expected.references.len(),
        "reference count"
    );
    for (g, e) in got.references.iter().zip(&expected.references) {
        assert_eq!(g, e, "reference {}", e.number);
    }
    // And nothing else: the whole value is equal.
    assert_eq!(got, expected);
}

#[test]
fn every_line_of_the_seed_is_accounted_for() {
    let catalog = bundled();
    let Some(text) = seed() else { return };
    let imported = importer(&catalog).import(&text, None).unwrap();
    let non_blank = text.lines().filter(|l| !l.trim().is_empty()).count();
    assert_eq!(imported.unmapped, vec![], "the seed maps completely");
    assert_eq!(imported.mapped, non_blank);
}

#[test]
fn the_payer_comes_from_the_banner_or_from_the_caller() {
    let catalog = bundled();
    let importer = importer(&catalog);
    // The payer logic needs a document, not the published one: run it on
    // this project's rendering of 183, and on the seed where it is present.
    let mut documents = vec![common::rendered_183()];
    documents.extend(seed());
    for doc in documents {
        payer_from_banner_or_caller(&importer, &doc);
    }
}

fn payer_from_banner_or_caller(importer: &medpol_document::Importer, seed: &str) {
    assert_eq!(
        importer.import(seed, Some("bcbsma")).unwrap().policy,
        importer.import(seed, None).unwrap().policy
    );
    let e = importer.import(seed, Some("nope")).unwrap_err();
    assert!(e.to_string().contains("unknown payer `nope`"), "{e}");
    let anonymous = seed.replace("Blue Cross Blue Shield of Massachusetts", "A Health Plan");
    let e = importer.import(&anonymous, None).unwrap_err();
    assert!(e.to_string().contains("no known payer"), "{e}");
}

#[test]
fn the_bundled_policy_renders_as_text_that_imports_back() {
    let catalog = bundled();
    let importer = importer(&catalog);
    for policy in &catalog.policies {
        let text = render(policy, payer(&catalog, &policy.payer), Format::Text);
        let back = importer.import(&text, None).expect("the rendering imports");
        assert_eq!(back.unmapped, vec![], "{text}");
        assert_eq!(&back.policy, policy, "{text}");
    }
}

#[test]
fn the_rendered_text_reads_like_the_seed() {
    let Some(seed) = seed() else { return };
    let catalog = bundled();
    let text = render(
        policy_183(&catalog),
        payer(&catalog, "bcbsma"),
        Format::Text,
    );
    // The same lines as the published document, but for the reference
    // punctuation the model normalises: references 15-38 print
    // `*Ann Fam Med.*`, 7 `2023: 1-9`, 39 `<url> .`, 40 `1999; <url>`.
    let seed_lines: Vec<String> = seed
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    let ours: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let differing: Vec<&&str> = ours
        .iter()
        .filter(|l| !seed_lines.iter().any(|s| s == *l))
        .collect();
    assert!(
        differing
            .iter()
            .all(|l| l.starts_with(|c: char| c.is_ascii_digit())),
        "only reference lines differ: {differing:#?}"
    );
    assert_eq!(differing.len(), 27, "{differing:#?}");
}

#[test]
fn markdown_has_working_anchors_and_pubmed_links() {
    let catalog = bundled();
    let md = render(
        policy_183(&catalog),
        payer(&catalog, "bcbsma"),
        Format::Markdown,
    );
    let targets: Vec<&str> = md
        .lines()
        .filter_map(|l| {
            l.strip_prefix("- [")?
                .split_once("](#")?
                .1
                .strip_suffix(')')
        })
        .collect();
    assert!(targets.len() >= 6, "{targets:?}");
    for t in &targets {
        assert!(
            md.contains(&format!("<a id=\"{t}\"></a>")),
            "no anchor for #{t}"
        );
    }
    for s in [
        "## Policy",
        "## Prior Authorization Information",
        "## Policy History",
        "## References",
        "| M0076 | Prolotherapy |",
    ] {
        assert!(md.contains(s), "missing {s}");
    }
    assert!(md.contains("PMID [17443537](https://pubmed.ncbi.nlm.nih.gov/17443537/)"));
}

#[test]
fn html_is_a_standalone_page_with_a_working_table_of_contents() {
    let catalog = bundled();
    let html = render(
        policy_183(&catalog),
        payer(&catalog, "bcbsma"),
        Format::Html,
    );
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.trim_end().ends_with("</html>"));
    let nav = &html[html.find("<nav").unwrap()..html.find("</nav>").unwrap()];
    let mut hrefs = 0;
    for part in nav.split("href=\"#").skip(1) {
        let id = &part[..part.find('"').unwrap()];
        assert!(
            html.contains(&format!("id=\"{id}\"")),
            "no element with id {id}"
        );
        hrefs += 1;
    }
    assert!(hrefs >= 6);
    assert!(html.contains("<table>"));
    assert!(html.contains("<a href=\"https://pubmed.ncbi.nlm.nih.gov/17443537/\">17443537</a>"));
    // Escaped: the `&` of a URL, the `'` of "member's".
    assert!(html.contains("ncdver=1&amp;bc=AAAAQAAAAAAA&amp;"));
    assert!(html.contains("member&#39;s contract"));
    assert!(!html.contains("**"));
}

#[test]
fn html_escapes_everything() {
    let catalog = bundled();
    let mut p = policy_183(&catalog).clone();
    p.title = "<script>alert(1)</script> & \"x\"".into();
    p.statements[0].text =
        "X is [INVESTIGATIONAL](javascript:alert(1)) <b>as</b> a treatment of pain.".into();
    let html = render(&p, payer(&catalog, "bcbsma"), Format::Html);
    assert!(!html.contains("<script>"));
    assert!(!html.contains("javascript:"));
    assert!(!html.contains("<b>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;"));
}
