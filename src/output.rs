//! Text output for people: determinations, policies, code listings.

use std::io::{self, Write};

use medpol_core::code::Code;
use medpol_core::determination::Determination;
use medpol_core::engine::CodeListing;
use medpol_core::markup::plain;
use medpol_core::model::{Payer, Policy, PolicyVersion};

fn join<T: AsRef<str>>(items: impl IntoIterator<Item = T>, sep: &str) -> String {
    items
        .into_iter()
        .map(|s| s.as_ref().to_string())
        .collect::<Vec<_>>()
        .join(sep)
}

pub fn determination(out: &mut impl Write, d: &Determination<'_>) -> io::Result<()> {
    writeln!(
        out,
        "Determination for {} ({}), {}, date of service {}",
        d.product, d.payer, d.setting, d.date
    )?;
    for line in &d.lines {
        writeln!(out)?;
        let mods = if line.modifiers.is_empty() {
            String::new()
        } else {
            format!(
                " modifiers {}",
                join(line.modifiers.iter().map(|m| m.as_str()), ",")
            )
        };
        let reasons = if line.reasons.is_empty() {
            String::new()
        } else {
            format!(" ({})", join(line.reasons.iter().map(|r| r.id()), ", "))
        };
        writeln!(
            out,
            "{} {}{mods}: {}{reasons}; prior authorization: {}",
            line.code.system().label(),
            line.code.as_str(),
            line.coverage.id(),
            line.prior_auth.id()
        )?;
        if line.policies.is_empty() {
            writeln!(
                out,
                "  No medical policy in effect on {} governs this code for this product; this is not a coverage decision (the member's contract benefits decide).",
                d.date
            )?;
            continue;
        }
        for p in &line.policies {
            writeln!(
                out,
                "  Policy: {} medical policy {} \"{}\", version {} (effective {})",
                p.payer, p.number, p.title, p.version, p.effective
            )?;
        }
        for c in &line.citations {
            let heading = c.heading.map(|h| format!(" / {h}")).unwrap_or_default();
            writeln!(out, "  Cites {} {}{heading}:", c.policy, c.section)?;
            for l in c.text.lines() {
                writeln!(out, "    \"{l}\"")?;
            }
        }
        for set in &line.criteria {
            let how = match set.combine {
                medpol_core::model::Combine::AllOf => "all of",
                medpol_core::model::Combine::AnyOf => "one of",
            };
            writeln!(out, "  Criteria of {} {} ({how}):", set.policy, set.path)?;
            write_criterion_nodes(out, set.criteria, 2)?;
        }
        for i in &line.indications {
            let which = if i.other_indications {
                "all other indications".to_string()
            } else {
                i.indication.unwrap_or("(unnamed indication)").to_string()
            };
            let codes = if i.diagnoses.is_empty() {
                String::new()
            } else {
                format!(" [diagnoses {}]", i.diagnoses.join(", "))
            };
            let reason = i
                .reason
                .map(|r| format!(" ({})", r.id()))
                .unwrap_or_default();
            writeln!(
                out,
                "  Indication {which}{codes}: {}{reason} ({} {})",
                i.coverage.id(),
                i.policy,
                i.path
            )?;
        }
        for n in &line.notes {
            let mut see = Vec::new();
            if let Some(p) = n.see_policy {
                see.push(format!("medical policy {} {}", p.number, p.title));
            }
            if let Some(ncd) = n.see_ncd {
                see.push(format!("NCD {ncd}"));
            }
            let see = if see.is_empty() {
                String::new()
            } else {
                format!(" [see {}]", see.join("; "))
            };
            writeln!(out, "  Note ({}): {}{see}", serde_kind(&n.kind), n.text)?;
        }
    }
    Ok(())
}

/// Criteria as a determination lists them, indented by depth.
fn write_criterion_nodes(
    out: &mut impl Write,
    nodes: &[medpol_core::determination::CriterionNode],
    depth: usize,
) -> std::io::Result<()> {
    for n in nodes {
        let how = match n.combine {
            Some(medpol_core::model::Combine::AnyOf) => " (one of)",
            Some(medpol_core::model::Combine::AllOf) => " (all of)",
            None => "",
        };
        writeln!(out, "{}{}. {}{how}", "  ".repeat(depth + 1), n.id, n.text)?;
        write_criterion_nodes(out, &n.criteria, depth + 1)?;
    }
    Ok(())
}

/// A statement's criteria, as published, indented by depth.
fn write_criteria(
    out: &mut impl Write,
    criteria: &[medpol_core::model::Criterion],
    depth: usize,
) -> std::io::Result<()> {
    for c in criteria {
        writeln!(out, "{}- {} {}", "  ".repeat(depth), c.id, plain(&c.text))?;
        write_criteria(out, &c.criteria, depth + 1)?;
    }
    Ok(())
}

fn serde_kind<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

pub fn policy(
    out: &mut impl Write,
    payer: &Payer,
    p: &Policy,
    version: &PolicyVersion,
) -> io::Result<()> {
    if let Some(region) = &payer.region {
        writeln!(out, "{region}")?;
    }
    if let Some(l) = &payer.licensee_statement {
        writeln!(out, "{l}")?;
    }
    writeln!(out)?;
    writeln!(out, "Medical Policy {}: {}", p.number, p.title)?;
    writeln!(out, "Payer: {} ({})", payer.name, payer.id)?;
    writeln!(
        out,
        "Version: {} (effective {}); policy effective {}{}",
        version.label,
        version.effective,
        p.effective,
        p.retired
            .map(|r| format!(", retired {r}"))
            .unwrap_or_default()
    )?;
    for r in &p.external_references {
        let note = r
            .note
            .as_ref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        writeln!(
            out,
            "{} Reference Number: {}{note}",
            r.organization, r.number
        )?;
    }
    if !p.related_policies.is_empty() {
        writeln!(out, "\nRelated Policies")?;
        for r in &p.related_policies {
            writeln!(out, "  {}, #{}", r.title, r.number)?;
        }
    }

    writeln!(out, "\nPolicy")?;
    let mut heading: Option<&str> = None;
    for s in &p.statements {
        if s.heading.as_deref() != heading {
            heading = s.heading.as_deref();
            if let Some(h) = heading {
                writeln!(out, "\n  {h}")?;
            }
        }
        writeln!(out, "\n  {}", plain(&s.text))?;
        write_criteria(out, &s.criteria, 2)?;
        let products = join(
            s.products
                .iter()
                .flat_map(|id| {
                    payer.resolve_products(id).map(|set| {
                        payer
                            .members(set)
                            .map(|l| l.name.as_str())
                            .collect::<Vec<_>>()
                    })
                })
                .flatten(),
            ", ",
        );
        let mut facts = vec![
            format!("status: {}", s.status.id()),
            format!("products: {products}"),
        ];
        if let Some(i) = &s.indication {
            facts.push(format!("indication: {i}"));
        }
        if !s.diagnoses.is_empty() {
            facts.push(format!("diagnoses: {}", s.diagnoses.join(", ")));
        }
        writeln!(out, "    [{}]", facts.join("; "))?;
    }

    if !p.prior_auth.is_empty() {
        writeln!(out, "\nPrior Authorization Information")?;
        for r in &p.prior_auth {
            let h = r
                .heading
                .clone()
                .unwrap_or_else(|| r.setting.id().to_string());
            writeln!(out, "\n  {h}")?;
            writeln!(out, "  - {}", plain(&r.text))?;
            for row in &r.rows {
                writeln!(out, "    {}: {}", plain(&row.label), plain(&row.text))?;
            }
        }
    }

    writeln!(
        out,
        "\n{}",
        p.coding_heading
            .as_deref()
            .unwrap_or("CPT Codes / HCPCS Codes / ICD Codes")
    )?;
    for n in p
        .notes
        .iter()
        .filter(|n| n.section.as_deref() == Some("coding"))
    {
        writeln!(out, "\n  {}", plain(&n.text))?;
    }
    for l in &p.code_lists {
        if let Some(s) = &l.statement {
            writeln!(out, "\n  {}", plain(s))?;
        }
        writeln!(
            out,
            "\n  {}",
            l.heading.as_deref().unwrap_or(l.system.label())
        )?;
        for e in &l.codes {
            writeln!(out, "    {:<8} {}", e.code, e.description)?;
        }
    }

    if !p.description.is_empty() {
        writeln!(out, "\nDescription\n")?;
        writeln!(out, "{}", p.description.trim())?;
    }
    if !p.summary.is_empty() {
        writeln!(out, "\nSummary\n")?;
        writeln!(out, "{}", p.summary.trim())?;
    }
    let other_notes: Vec<_> = p
        .notes
        .iter()
        .filter(|n| n.section.as_deref() != Some("coding"))
        .collect();
    if !other_notes.is_empty() {
        writeln!(out, "\nNotes")?;
        for n in other_notes {
            writeln!(out, "  ({}) {}", serde_kind(&n.kind), plain(&n.text))?;
            if let Some(sp) = &n.see_policy {
                writeln!(out, "    See medical policy {} {}", sp.number, sp.title)?;
            }
            if let Some(ncd) = &n.see_ncd {
                writeln!(out, "    See National Coverage Determination {ncd}")?;
            }
        }
    }
    if let Some(info) = &p.all_policies {
        writeln!(out, "\n{}", info.heading)?;
        if let Some(i) = &info.intro {
            writeln!(out, "  {i}")?;
        }
        for l in &info.links {
            let url = l
                .url
                .as_ref()
                .map(|u| format!(" <{u}>"))
                .unwrap_or_default();
            writeln!(out, "  - {}{url}", l.label)?;
        }
    }
    if !p.history.is_empty() {
        writeln!(out, "\nPolicy History")?;
        for h in &p.history {
            writeln!(out, "  {:<16} {}", h.date.as_str(), h.action)?;
        }
    }
    if !p.references.is_empty() {
        writeln!(out, "\nReferences")?;
        for r in &p.references {
            writeln!(out, "  {}. {}", r.number, r.to_text(""))?;
        }
    }
    Ok(())
}

pub fn code_listings(
    out: &mut impl Write,
    code: &Code,
    listings: &[CodeListing<'_>],
) -> io::Result<()> {
    if listings.is_empty() {
        writeln!(
            out,
            "No policy lists {} {}.",
            code.system().label(),
            code.as_str()
        )?;
        return Ok(());
    }
    writeln!(
        out,
        "{} {} is listed in:",
        code.system().label(),
        code.as_str()
    )?;
    for l in listings {
        let status = l
            .status
            .map(|s| format!(", {}", s.id()))
            .unwrap_or_default();
        let until = l
            .policy
            .retired
            .map(|r| format!(" until {r}"))
            .unwrap_or_default();
        writeln!(
            out,
            "  {} {} \"{}\" (effective {}{until}): code list {}{status}: {}",
            l.policy.payer,
            l.policy.number,
            l.policy.title,
            l.policy.effective,
            l.code_list,
            l.description
        )?;
        writeln!(out, "    products: {}", l.products.join(", "))?;
    }
    Ok(())
}
