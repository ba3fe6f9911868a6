//! The coding section: paragraphs (notes, or the sentence introducing the
//! next table), table headings (`HCPCS Codes`) and code tables
//! (`HCPCS codes:\tCode Description`, then `M0076\tProlotherapy`).
//!
//! A paragraph is a table's introducing sentence when it is the last one
//! before the table and begins "The following"; every other paragraph is a
//! note (contract benefits or coding guidance).

use medpol_core::code::{Code, CodeSystem};
use medpol_core::model::{CodeEntry, CodeList, CoverageStatement, CoverageStatus};

use super::{err, Draft, ImportError, ListDraft, Problem, Step};
use crate::lines::{cells, fold, Line};
use crate::{derive, status};

/// "CPT Codes / HCPCS Codes / ICD Codes", "HCPCS Codes", "ICD-10 Procedure Codes".
pub fn is_codes_heading(text: &str) -> bool {
    text.len() <= 120
        && !text.contains('\t')
        && text.split(" / ").all(|part| {
            let words: Vec<&str> = part.split_whitespace().collect();
            (2..=5).contains(&words.len())
                && words
                    .last()
                    .is_some_and(|w| w.trim_end_matches(':').eq_ignore_ascii_case("codes"))
        })
}

/// The code system a table header or heading names.
pub fn system_named(text: &str) -> Option<CodeSystem> {
    let t = fold(text);
    if t.contains("hcpcs") {
        Some(CodeSystem::Hcpcs)
    } else if t.contains("cpt") {
        Some(CodeSystem::Cpt)
    } else if t.contains("icd-10-pcs")
        || t.contains("icd10pcs")
        || t.contains("procedure")
        || t.contains("pcs")
    {
        Some(CodeSystem::Icd10pcs)
    } else if t.contains("icd-10-cm") || t.contains("icd10cm") || t.contains("diagnos") {
        Some(CodeSystem::Icd10cm)
    } else {
        None
    }
}

/// A code table and the products its sentence names, if it names any.
type ListWithNamedProducts = (CodeList, Option<Vec<String>>);

fn starts_table_sentence(text: &str) -> bool {
    fold(text).starts_with("the following")
}

impl Draft<'_> {
    pub(super) fn coding_line(&mut self, l: &Line<'_>) -> Step {
        let text = l.text.trim_start_matches(' ');
        if text.contains('\t') {
            return self.code_row(l);
        }
        self.in_code_table = false;
        let text = text.trim();
        if is_codes_heading(text) {
            self.drop_open_list();
            self.start_list(Some((l.number, text.to_string())));
            return Ok(true);
        }
        match self.pending.last_mut() {
            Some((_, p)) if !self.prev_blank => {
                p.push('\n');
                p.push_str(text);
            }
            _ => self.pending.push((l.number, text.to_string())),
        }
        Ok(true)
    }

    /// Opens a table: the last pending paragraph, if it introduces a table,
    /// is its statement; earlier ones are notes.
    fn start_list(&mut self, heading: Option<(usize, String)>) {
        let statement = match self.pending.last() {
            Some((_, p)) if starts_table_sentence(p) => self.pending.pop(),
            _ => None,
        };
        self.flush_notes();
        self.lists.push(ListDraft {
            heading,
            statement,
            system: None,
            columns: Vec::new(),
            codes: Vec::new(),
            has_table: false,
        });
        self.open_list = Some(self.lists.len() - 1);
    }

    fn flush_notes(&mut self) {
        for (_, p) in std::mem::take(&mut self.pending) {
            self.coding_notes.push(derive::coding_note(&p));
        }
    }

    /// A table heading with no table under it: its lines were counted as
    /// mapped, but nothing holds them.
    fn drop_open_list(&mut self) {
        let Some(i) = self.open_list.take() else {
            return;
        };
        if self.lists[i].has_table {
            return;
        }
        let list = self.lists.remove(i);
        for (line, text) in list.heading.into_iter().chain(list.statement) {
            self.mapped -= text.lines().count();
            for (k, t) in text.lines().enumerate() {
                self.unmapped.push(crate::Unmapped {
                    line: line + k,
                    text: t.to_string(),
                });
            }
        }
        self.unmapped.sort_by_key(|u| u.line);
    }

    /// Ends the coding section: pending paragraphs are notes.
    pub(super) fn close_coding(&mut self) {
        self.drop_open_list();
        self.flush_notes();
        self.in_code_table = false;
    }

    fn code_row(&mut self, l: &Line<'_>) -> Step {
        let mut row = cells(l.text);
        while row.len() > 1 && row.last().is_some_and(|c| c.is_empty()) {
            row.pop();
        }
        if !self.in_code_table {
            let i = match self.open_list {
                Some(i) if !self.lists[i].has_table => {
                    if self.lists[i].statement.is_none() {
                        if let Some((_, p)) = self.pending.last() {
                            if starts_table_sentence(p) {
                                self.lists[i].statement = self.pending.pop();
                            }
                        }
                    }
                    self.flush_notes();
                    i
                }
                _ => {
                    self.start_list(None);
                    self.lists.len() - 1
                }
            };
            self.open_list = Some(i);
            self.in_code_table = true;
            let list = &mut self.lists[i];
            list.has_table = true;
            let from_heading = list.heading.as_ref().and_then(|(_, h)| system_named(h));
            let from_header = system_named(row[0]);
            let is_code = |s: CodeSystem| {
                Code::parse(s, row[0]).is_ok()
                    || (s == CodeSystem::Icd10cm
                        && medpol_core::CodePattern::parse(s, row[0]).is_ok())
            };
            match (from_header, from_heading) {
                (_, Some(s)) if is_code(s) && row.len() == 2 => {
                    list.system = Some(s);
                }
                (Some(s), _) | (None, Some(s)) => {
                    list.system = Some(s);
                    list.columns = row.iter().map(|c| c.to_string()).collect();
                    return Ok(true);
                }
                (None, None) => {
                    return err(
                        l.number,
                        Problem::BadRow {
                            table: "code",
                            found: super::shown(l.text),
                            expected: "a header naming the code system, e.g. `HCPCS codes:\\tCode Description`, or a heading such as `CPT Codes` above the table".into(),
                        },
                    )
                }
            }
        }
        let Some(i) = self.open_list else {
            return Ok(false);
        };
        let list = &mut self.lists[i];
        let system = list.system.unwrap_or(CodeSystem::Hcpcs);
        if row.len() != 2 {
            return err(
                l.number,
                Problem::BadRow {
                    table: "code",
                    found: super::shown(l.text),
                    expected: format!(
                        "a {} code and its description separated by a tab, e.g. `{}\\tDescription`",
                        system.label(),
                        example(system)
                    ),
                },
            );
        }
        let parsed = if system == CodeSystem::Icd10cm {
            // Diagnosis tables print families (`M54.5-`) and ranges.
            medpol_core::CodePattern::parse(system, row[0])
                .map(|p| p.to_string())
                .ok()
        } else {
            Code::parse(system, row[0])
                .ok()
                .map(|c| c.as_str().to_string())
        };
        match parsed.ok_or(()) {
            Ok(code) => {
                list.codes.push(CodeEntry {
                    code,
                    description: row[1].to_string(),
                });
                Ok(true)
            }
            Err(_) => err(
                l.number,
                Problem::BadValue {
                    what: match system {
                        CodeSystem::Hcpcs => "HCPCS code",
                        CodeSystem::Cpt => "CPT code",
                        CodeSystem::Icd10cm => "ICD-10-CM code",
                        CodeSystem::Icd10pcs => "ICD-10-PCS code",
                    },
                    found: row[0].to_string(),
                    expected: system.shape().to_string(),
                },
            ),
        }
    }

    /// The tables with their systems, statements, statuses, ids and the
    /// products their sentences name (`None`: to be taken from the
    /// statements that govern them, see [`Draft::settle_list_products`]).
    pub(super) fn settle_code_lists(&mut self) -> Result<Vec<ListWithNamedProducts>, ImportError> {
        let drafts = std::mem::take(&mut self.lists);
        let mut out = Vec::with_capacity(drafts.len());
        for d in drafts {
            let status = d.statement.as_ref().and_then(|(_, s)| list_status(s));
            let named = match &d.statement {
                Some((line, s)) => self.products_named(*line, s)?,
                None => None,
            };
            let list = CodeList {
                id: String::new(),
                heading: d.heading.map(|(_, h)| h),
                system: d.system.unwrap_or(CodeSystem::Hcpcs),
                statement: d.statement.map(|(_, s)| s),
                products: Vec::new(),
                status,
                columns: d.columns,
                codes: d.codes,
            };
            out.push((list, named));
        }
        let ids = derive::code_list_ids(out.iter().map(|(l, _)| (l.system, l.status)));
        for ((l, _), id) in out.iter_mut().zip(ids) {
            l.id = id;
        }
        Ok(out)
    }

    /// A table's products: those its sentence names ("… for **Commercial
    /// Members: …:**"), else those of the statements that govern it (all of
    /// them if none names the table).
    pub(super) fn settle_list_products(
        lists: Vec<ListWithNamedProducts>,
        statements: &[CoverageStatement],
    ) -> Vec<CodeList> {
        lists
            .into_iter()
            .map(|(mut l, named)| {
                l.products = named.unwrap_or_else(|| {
                    let governing: Vec<&CoverageStatement> = statements
                        .iter()
                        .filter(|s| s.code_lists.is_empty() || s.code_lists.contains(&l.id))
                        .collect();
                    let source = if governing.is_empty() {
                        statements.iter().collect()
                    } else {
                        governing
                    };
                    let mut products: Vec<String> = Vec::new();
                    for p in source.iter().flat_map(|s| &s.products) {
                        if !products.contains(p) {
                            products.push(p.clone());
                        }
                    }
                    products
                });
                l
            })
            .collect()
    }

    /// The products a table's sentence names: its last marked-up span
    /// (which must then name products), else what follows its last " for ".
    fn products_named(
        &self,
        line: usize,
        sentence: &str,
    ) -> Result<Option<Vec<String>>, ImportError> {
        let m = status::marked(sentence);
        if let Some(span) = m.spans.last() {
            let label = m.plain[span.clone()].trim().trim_end_matches(':').trim();
            return match self.labels.resolve(label) {
                Some(p) => Ok(Some(p)),
                None => Err(self.unknown_products(line, label)),
            };
        }
        let after = m.plain.rfind(" for ").map(|i| &m.plain[i + 5..]);
        Ok(after.and_then(|a| self.labels.resolve(a.trim().trim_end_matches([':', '.']))))
    }
}

/// What a table's sentence says of its codes: "The following CPT code is
/// considered investigational for …" is investigational; "… included below
/// for informational purposes only" says nothing.
fn list_status(sentence: &str) -> Option<CoverageStatus> {
    let m = status::marked(sentence);
    let cut = m.spans.last().map_or(m.plain.len(), |s| s.start);
    status::sentence_status(&m.plain[..cut]).map(|(s, _)| s)
}

fn example(system: CodeSystem) -> &'static str {
    match system {
        CodeSystem::Hcpcs => "M0076",
        CodeSystem::Cpt => "20610",
        CodeSystem::Icd10cm => "M54.50",
        CodeSystem::Icd10pcs => "0SG00ZZ",
    }
}
