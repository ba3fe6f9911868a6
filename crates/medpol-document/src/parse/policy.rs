//! The Policy section (member headings, statements, criteria and the
//! statement lines `Indication:`, `Products:`, `ICD-10-CM diagnosis codes:`,
//! `Code tables:`) and the Prior Authorization section (per-setting rules and
//! the table of products).

use medpol_core::code::{CodePattern, CodeSystem};
use medpol_core::model::{Combine, CoverageStatement, CoverageStatus, PriorAuthRow, PriorAuthRule};
use medpol_core::Setting;

use super::{
    bullet, criteria, err, keyed, Draft, Heading, ImportError, Problem, StatementDraft, Step,
};
use crate::lines::{cells, fold, Line};
use crate::{derive, status};

/// A line that reads like a heading (short, no closing period): if it names
/// no product, a statement under it cannot be placed.
fn looks_like_heading(text: &str) -> bool {
    text.chars().count() <= 160 && !text.ends_with(['.', ';', ',']) && !text.starts_with('(')
}

fn setting_of(text: &str) -> Option<Setting> {
    match fold(text.trim_end_matches(':')).as_str() {
        "inpatient" | "inpatient services" => Some(Setting::Inpatient),
        "outpatient" | "outpatient services" => Some(Setting::Outpatient),
        _ => None,
    }
}

impl Draft<'_> {
    pub(super) fn unknown_products(&self, line: usize, label: &str) -> ImportError {
        ImportError {
            line,
            problem: Problem::UnknownProducts {
                label: label.to_string(),
                payer: self.payer.id.clone(),
                known: self.labels.known(),
            },
        }
    }

    pub(super) fn policy_line(&mut self, l: &Line<'_>) -> Step {
        let text = l.text.trim();
        let after_heading = std::mem::replace(&mut self.after_heading, false);
        // A numbered line that states a status with a marked-up word is a
        // statement of a numbered list ("2. X is [INVESTIGATIONAL](#) …"),
        // not a criterion.
        let numbered_statement = criteria::item(text).is_some_and(|(marker, item)| {
            marker.is_some() && {
                let m = status::marked(item);
                m.spans
                    .iter()
                    .any(|sp| status::exact_status(&m.plain[sp.clone()]).is_some())
            }
        });
        if let Some((marker, item)) = criteria::item(text).filter(|_| !numbered_statement) {
            return Ok(match self.statements.last_mut() {
                Some(s) if !matches!(self.heading, Heading::Unknown { .. }) => {
                    s.criteria.push(criteria::ItemLine {
                        indent: l.indent,
                        marker,
                        text: item.to_string(),
                    });
                    self.in_statement = false;
                    true
                }
                _ => false,
            });
        }
        if let Some(mapped) = self.statement_annotation(l)? {
            return Ok(mapped);
        }
        if let Some(products) = self.labels.resolve(text.trim_end_matches(':')) {
            // Two member headings with nothing but blank lines between them
            // head the same statements ("Commercial Members: …" over "Medicare HMO
            // Blue and Medicare PPO Blue Members").
            self.heading = match std::mem::replace(&mut self.heading, Heading::None) {
                Heading::Known {
                    text: above,
                    products: mut above_products,
                } if after_heading => {
                    for p in products {
                        if !above_products.contains(&p) {
                            above_products.push(p);
                        }
                    }
                    Heading::Known {
                        text: format!("{above}\n{text}"),
                        products: above_products,
                    }
                }
                _ => Heading::Known {
                    text: text.to_string(),
                    products,
                },
            };
            self.after_heading = true;
            self.in_statement = false;
            return Ok(true);
        }
        let m = status::marked(text);
        if status::statement_status(&m).is_some() {
            self.statements.push(StatementDraft {
                line: l.number,
                heading: self.heading.clone(),
                text: text.to_string(),
                criteria: Vec::new(),
                products: None,
                indication: None,
                status: None,
                code_lists: Vec::new(),
                diagnoses: Vec::new(),
                diagnosis_lists: Vec::new(),
                other_indications: None,
                criteria_match: None,
            });
            self.in_statement = true;
            return Ok(true);
        }
        if self.in_statement && !self.prev_blank {
            if let Some(s) = self.statements.last_mut() {
                s.text.push('\n');
                s.text.push_str(text);
                return Ok(true);
            }
        }
        if looks_like_heading(text) {
            self.heading = Heading::Unknown {
                line: l.number,
                text: text.to_string(),
            };
        }
        Ok(false)
    }

    /// `Indication:`, `Products:`, `ICD-10-CM diagnosis codes:` and `Code
    /// tables:` after a statement; `None` if the line is none of them.
    fn statement_annotation(&mut self, l: &Line<'_>) -> Result<Option<bool>, ImportError> {
        let Some((key, value)) = keyed(l.text) else {
            return Ok(None);
        };
        let known = matches!(
            key.as_str(),
            "indication"
                | "status"
                | "products"
                | "icd-10-cm diagnosis codes"
                | "diagnosis codes"
                | "code tables"
                | "diagnosis tables"
                | "other indications"
                | "criteria match"
        );
        if !known {
            return Ok(None);
        }
        let status = if key == "status" {
            match CoverageStatus::ALL.into_iter().find(|s| s.id() == fold(value)) {
                Some(s) => Some(s),
                None => {
                    return err(
                        l.number,
                        Problem::BadValue {
                            what: "statement status",
                            found: value.to_string(),
                            expected: "covered, medically-necessary, investigational, not-medically-necessary or not-covered".into(),
                        },
                    )
                }
            }
        } else {
            None
        };
        let products = if key == "products" {
            match self.labels.resolve(value) {
                Some(p) => Some(p),
                None => return Err(self.unknown_products(l.number, value)),
            }
        } else {
            None
        };
        let Some(s) = self.statements.last_mut() else {
            return Ok(Some(false));
        };
        let list = |v: &str| -> Vec<String> {
            v.split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect()
        };
        match key.as_str() {
            "indication" => s.indication = Some((!value.is_empty()).then(|| value.to_string())),
            "products" => s.products = products,
            "status" => s.status = status,
            "code tables" => s.code_lists = list(value),
            "diagnosis tables" => s.diagnosis_lists = list(value),
            "other indications" => match fold(value).as_str() {
                "yes" => s.other_indications = Some(true),
                "no" => s.other_indications = Some(false),
                _ => {
                    return err(
                        l.number,
                        Problem::BadValue {
                            what: "other indications",
                            found: value.to_string(),
                            expected: "yes or no".into(),
                        },
                    )
                }
            },
            "criteria match" => match fold(value).as_str() {
                "all-of" => s.criteria_match = Some(Combine::AllOf),
                "any-of" => s.criteria_match = Some(Combine::AnyOf),
                _ => {
                    return err(
                        l.number,
                        Problem::BadValue {
                            what: "criteria match",
                            found: value.to_string(),
                            expected: "all-of or any-of".into(),
                        },
                    )
                }
            },
            _ => {
                let mut codes = Vec::new();
                for c in list(value) {
                    match CodePattern::parse(CodeSystem::Icd10cm, &c) {
                        Ok(code) => codes.push(code.to_string()),
                        Err(e) => {
                            return err(
                                l.number,
                                Problem::BadValue {
                                    what: "ICD-10-CM diagnosis code",
                                    found: c,
                                    expected: format!("{}", e),
                                },
                            )
                        }
                    }
                }
                s.diagnoses = codes;
            }
        }
        self.in_statement = false;
        Ok(Some(true))
    }

    /// The statements with their products, status, indication and ids.
    pub(super) fn settle_statements(&mut self) -> Result<Vec<CoverageStatement>, ImportError> {
        let mut out = Vec::with_capacity(self.statements.len());
        for s in std::mem::take(&mut self.statements) {
            let (heading, from_heading) = match &s.heading {
                Heading::Known { text, products } => (Some(text.clone()), Some(products.clone())),
                Heading::Unknown { line, text } if s.products.is_none() => {
                    return Err(self.unknown_products(*line, text))
                }
                Heading::Unknown { text, .. } => (Some(text.clone()), None),
                Heading::None => (None, None),
            };
            let Some(products) = s.products.or(from_heading) else {
                return err(
                    s.line,
                    Problem::NoHeading {
                        known: self.labels.known(),
                    },
                );
            };
            let m = status::marked(&s.text);
            let derived = status::statement_status(&m);
            let Some(status) = s.status.or(derived.map(|(st, _)| st)) else {
                return err(
                    s.line,
                    Problem::BadValue {
                        what: "policy statement",
                        found: s.text,
                        expected: "a status such as INVESTIGATIONAL, MEDICALLY NECESSARY, NOT MEDICALLY NECESSARY, not covered or covered".into(),
                    },
                );
            };
            let indication = s
                .indication
                .unwrap_or_else(|| derived.and_then(|(_, end)| status::indication(&m.plain, end)));
            let (derived_match, criteria) = criteria::build(&s.text, &s.criteria);
            let criteria_match = s.criteria_match.unwrap_or(derived_match);
            out.push(CoverageStatement {
                id: String::new(),
                heading,
                products,
                status,
                indication,
                other_indications: s
                    .other_indications
                    .unwrap_or_else(|| status::other_indications(&m.plain)),
                text: s.text,
                criteria_match,
                criteria,
                code_lists: s.code_lists,
                diagnoses: s.diagnoses,
                diagnosis_lists: s.diagnosis_lists,
            });
        }
        let ids = derive::statement_ids(out.iter().map(|s| (s.products.as_slice(), s.status)));
        for (s, id) in out.iter_mut().zip(ids) {
            s.id = id;
        }
        Ok(out)
    }

    pub(super) fn prior_auth_line(&mut self, l: &Line<'_>) -> Step {
        if l.text.contains('\t') {
            return self.prior_auth_row(l);
        }
        self.pa_columns = None;
        let text = l.text.trim();
        if let Some(setting) = setting_of(text) {
            let i = self.rule_for(setting);
            self.prior_auth[i]
                .heading
                .get_or_insert_with(|| text.to_string());
            self.setting = Some(i);
            return Ok(true);
        }
        let Some(i) = self.setting else {
            return Ok(false);
        };
        let body = bullet(text).unwrap_or(text);
        let rule = &mut self.prior_auth[i];
        if rule.text.is_empty() {
            rule.text = body.to_string();
            rule.requirement = status::rule_requirement(body);
            return Ok(true);
        }
        Ok(false)
    }

    fn rule_for(&mut self, setting: Setting) -> usize {
        match self.prior_auth.iter().position(|r| r.setting == setting) {
            Some(i) => i,
            None => {
                self.prior_auth.push(PriorAuthRule {
                    setting,
                    heading: None,
                    text: String::new(),
                    requirement: None,
                    rows: Vec::new(),
                });
                self.prior_auth.len() - 1
            }
        }
    }

    /// A header (`\tOutpatient`, `\tInpatient\tOutpatient`) or a row
    /// (`<product label>\t<answer>…`) of the prior-authorization table.
    fn prior_auth_row(&mut self, l: &Line<'_>) -> Step {
        let mut row = cells(l.text);
        while row.len() > 1 && row.last().is_some_and(|c| c.is_empty()) {
            row.pop();
        }
        let Some(columns) = self.pa_columns.clone() else {
            let settings: Vec<Option<Setting>> = row[1..].iter().map(|c| setting_of(c)).collect();
            if !settings.is_empty() && settings.iter().all(Option::is_some) {
                let columns = settings
                    .into_iter()
                    .flatten()
                    .map(|s| self.rule_for(s))
                    .collect();
                self.pa_columns = Some(columns);
                return Ok(true);
            }
            // Rows without a header answer for the setting under whose heading they stand.
            let Some(i) = self.setting else {
                return Ok(false);
            };
            self.pa_columns = Some(vec![i]);
            return self.prior_auth_row(l);
        };
        let expected = || {
            format!(
                "a product label and {} answer{} separated by tabs, e.g. `Commercial PPO and Indemnity\\tThis is not a covered service.`",
                columns.len(),
                if columns.len() == 1 { "" } else { "s" }
            )
        };
        if row.len() != columns.len() + 1 || row[0].is_empty() {
            return err(
                l.number,
                Problem::BadRow {
                    table: "prior-authorization",
                    found: super::shown(l.text),
                    expected: expected(),
                },
            );
        }
        let Some(products) = self.labels.resolve(row[0]) else {
            return Err(self.unknown_products(l.number, row[0]));
        };
        for (answer, &rule) in row[1..].iter().zip(&columns) {
            let Some(requirement) = status::requirement(answer) else {
                return err(
                    l.number,
                    Problem::BadRow {
                        table: "prior-authorization",
                        found: answer.to_string(),
                        expected: "an answer such as `This is not a covered service.`, `Prior authorization is required.`, `Prior authorization is not required.` or `Prior authorization may be required.`".into(),
                    },
                );
            };
            self.prior_auth[rule].rows.push(PriorAuthRow {
                label: row[0].to_string(),
                products: products.clone(),
                requirement,
                text: answer.to_string(),
            });
        }
        Ok(true)
    }
}
