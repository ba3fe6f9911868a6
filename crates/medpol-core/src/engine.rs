//! Compiling a catalogue into indexes, and deciding requests against them.
//!
//! Compilation resolves every product id to a bit set, parses every code,
//! strips markup from the text that citations quote, and builds one hash
//! index from (payer, code) to the policies that list the code. Deciding a
//! line is then one hash lookup and a walk over the few policies that list
//! that code: its cost does not grow with the size of the catalogue.
//!
//! How answers combine is written down once, in ARCHITECTURE.md ("Decision
//! rules"): which statements reach a code's tables (`crate::binding`), how
//! the diagnoses select among them (`select_statements`), and the one order
//! of strictness (`Coverage::stricter`) in which statements and policies
//! combine. A code no policy governs is `no-policy`, never a coverage claim.

use chrono::NaiveDate;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::binding::bind;
use crate::code::{Code, CodePattern, CodeSystem};
use crate::determination::{
    AppliedPolicy, Citation, Coverage, CriteriaSet, CriterionNode, Determination,
    DeterminationNote, DeterminationNoteKind, IndicationRef, LineDetermination, PriorAuth, Reason,
};
use crate::markup::plain;
use crate::model::{
    Catalog, Combine, CoverageStatus, Criterion, LinkKind, Market, NoteKind, PaRequirement, Payer,
    Policy, ProductSet, RelatedPolicy, MAX_LINES_OF_BUSINESS,
};
use crate::request::{Request, RequestError, ServiceLine};
use crate::setting::Setting;

/// A catalogue that does not compile. Adapters validate files before this,
/// with file and line; these errors name the policy and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    #[error("policy {policy}: unknown payer `{payer}`")]
    UnknownPayer { policy: String, payer: String },
    #[error("payer {payer}: duplicate payer id")]
    DuplicatePayer { payer: String },
    #[error(
        "payer {payer}: {count} lines of business, more than the {MAX_LINES_OF_BUSINESS} supported"
    )]
    TooManyLinesOfBusiness { payer: String, count: usize },
    #[error("policy {policy}: {field}: unknown product `{product}`; valid products: {}", .valid.join(", "))]
    UnknownProduct {
        policy: String,
        field: String,
        product: String,
        valid: Vec<String>,
    },
    #[error("policy {policy}: {field}: {reason}")]
    MalformedCode {
        policy: String,
        field: String,
        reason: String,
    },
    #[error("policy {policy}: {field}: no code list `{list}` in this policy")]
    UnknownCodeList {
        policy: String,
        field: String,
        list: String,
    },
    #[error("policy {policy}: {count} statements, more than the {MAX_STATEMENTS} supported")]
    TooManyStatements { policy: String, count: usize },
    #[error("policy {policy}: duplicate policy number for payer {payer}")]
    DuplicatePolicy { policy: String, payer: String },
}

/// The most statements one policy may hold (the engine selects statements
/// with a 64-bit mask; published policies hold a handful).
pub const MAX_STATEMENTS: usize = 64;

struct CompiledPayer {
    id: String,
    lob_ids: Vec<String>,
    markets: Vec<Market>,
}

/// How diagnoses select a statement.
#[derive(Clone, Copy, PartialEq, Eq)]
enum IndicationKind {
    /// Names no indication: applies whatever the diagnosis.
    General,
    /// Bound to diagnosis codes: applies when one of the request's is among them.
    Bound,
    /// "For all other indications": applies when no bound statement does.
    OtherIndications,
    /// Names an indication in words only: no code selects it, so it applies
    /// when no bound statement does, beside the catch-all.
    Unbound,
}

/// A statement with its products resolved and its quote prepared.
struct CompiledStatement {
    coverage: Coverage,
    reason: Option<Reason>,
    kind: IndicationKind,
    diagnoses: Vec<CodePattern>,
    /// The patterns as published (statement and bound tables), for answers.
    diagnosis_text: Vec<String>,
    indication: Option<String>,
    criteria_match: Combine,
    criteria: Vec<CriterionNode>,
    heading: Option<String>,
    path: String,
    text: String,
}

struct CompiledPaRow {
    products: ProductSet,
    requirement: PaRequirement,
    heading: String,
    path: String,
    text: String,
}

struct CompiledPaRule {
    requirement: Option<PaRequirement>,
    heading: String,
    path: String,
    text: String,
    rows: Vec<CompiledPaRow>,
}

struct CompiledCodeList {
    products: ProductSet,
    /// `reach[statement]`: the products for which a statement decides this
    /// list's codes ([`crate::binding`]).
    reach: Vec<ProductSet>,
    status: Option<(Coverage, Option<Reason>)>,
    heading: Option<String>,
    path: String,
    text: String,
}

struct CompiledNote {
    kind: DeterminationNoteKind,
    products: ProductSet,
    text: String,
    see_policy: Option<RelatedPolicy>,
    see_ncd: Option<String>,
}

struct CompiledPolicy {
    payer: u32,
    key: String,
    number: String,
    title: String,
    /// (effective, label), oldest first; the first is the policy's effective date.
    versions: Vec<(NaiveDate, String)>,
    statements: Vec<CompiledStatement>,
    /// Indexed by [`setting_index`].
    prior_auth: [Option<CompiledPaRule>; 2],
    code_lists: Vec<CompiledCodeList>,
    notes: Vec<CompiledNote>,
    clinical_exception: Option<String>,
    coding_section: String,
}

/// One (policy, code list) that lists a code, for the products and dates it covers.
#[derive(Clone, Copy)]
struct Posting {
    policy: u32,
    code_list: u16,
    products: ProductSet,
    from: NaiveDate,
    until: Option<NaiveDate>,
}

/// The policies that list each (payer, code).
///
/// Most codes on a claim are governed by no policy, so a bit filter that fits
/// in cache answers "no" before the hash table is touched; and most governed
/// codes are listed by one policy, so that posting sits in the table itself
/// rather than behind a second pointer.
struct CodeIndex {
    filter: Vec<u64>,
    map: FxHashMap<(u32, u64), Postings>,
}

enum Postings {
    One(Posting),
    Many(Box<[Posting]>),
}

/// log2 of the filter's size in bits (2^20 bits = 128 KiB): sparse enough at
/// tens of thousands of codes that a miss rarely reaches the table.
const FILTER_BITS: u32 = 20;

impl CodeIndex {
    fn new(built: FxHashMap<(u32, u64), Vec<Posting>>) -> CodeIndex {
        let mut filter = vec![0u64; 1 << (FILTER_BITS - 6)];
        let mut map = FxHashMap::with_capacity_and_hasher(built.len(), Default::default());
        for (key, postings) in built {
            let bit = Self::bit(key.0, key.1);
            filter[bit >> 6] |= 1 << (bit & 63);
            let postings = match <[Posting; 1]>::try_from(postings) {
                Ok([one]) => Postings::One(one),
                Err(many) => Postings::Many(many.into_boxed_slice()),
            };
            map.insert(key, postings);
        }
        CodeIndex { filter, map }
    }

    fn bit(payer: u32, code: u64) -> usize {
        // A multiplicative hash: the high bits mix every input bit.
        let h = (code ^ ((payer as u64) << 48)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (h >> (64 - FILTER_BITS)) as usize
    }

    fn get(&self, payer: u32, code: u64) -> Option<&[Posting]> {
        let bit = Self::bit(payer, code);
        if self.filter[bit >> 6] & (1 << (bit & 63)) == 0 {
            return None;
        }
        match self.map.get(&(payer, code))? {
            Postings::One(p) => Some(std::slice::from_ref(p)),
            Postings::Many(ps) => Some(ps),
        }
    }
}

/// A member's product, resolved against one compiled catalogue: it holds
/// indexes into that catalogue, so it carries the catalogue's identity, and
/// an engine refuses (panics on) a `ProductRef` another engine resolved, for
/// instance one kept across a reload. Resolve again after a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProductRef {
    engine: u32,
    payer: u32,
    lob: u8,
}

/// Identities of compiled catalogues, one per [`Engine::compile`].
static ENGINES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);

/// Where a determination's explanation lists stood, to take back what a
/// milder answer added when a stricter one wins.
#[derive(Clone, Copy)]
struct Marks {
    reasons: usize,
    criteria: usize,
    indications: usize,
}

impl Marks {
    fn undo(self, out: &mut LineDetermination<'_>) {
        out.reasons.truncate(self.reasons);
        out.criteria.truncate(self.criteria);
        out.indications.truncate(self.indications);
    }
}

/// What deciding one line needs besides the line.
struct LineContext<'a> {
    lob: usize,
    market: Market,
    setting: Setting,
    date: NaiveDate,
    diagnoses: &'a [Code],
}

/// A compiled catalogue, ready to decide requests.
pub struct Engine {
    /// This catalogue's identity, carried by the [`ProductRef`]s it resolves.
    id: u32,
    catalog: Catalog,
    payers: Vec<CompiledPayer>,
    payer_index: FxHashMap<String, u32>,
    /// Unqualified product id to the (payer, line of business) pairs that use it.
    product_index: FxHashMap<String, Vec<(u32, u8)>>,
    policies: Vec<CompiledPolicy>,
    index: CodeIndex,
}

const SECTION_POLICY: &str = "Policy";
const SECTION_PRIOR_AUTH: &str = "Prior Authorization Information";
const DEFAULT_CODING_SECTION: &str = "CPT Codes / HCPCS Codes / ICD Codes";

fn setting_index(s: Setting) -> usize {
    match s {
        Setting::Inpatient => 0,
        Setting::Outpatient => 1,
    }
}

/// What a status says, given whether criteria come with it: a covering
/// status with criteria is conditional on them, whichever word it uses.
fn status_outcome(status: CoverageStatus, has_criteria: bool) -> (Coverage, Option<Reason>) {
    match status {
        CoverageStatus::Covered | CoverageStatus::MedicallyNecessary if has_criteria => (
            Coverage::Conditional,
            Some(Reason::MedicalNecessityCriteria),
        ),
        CoverageStatus::Covered | CoverageStatus::MedicallyNecessary => (Coverage::Covered, None),
        CoverageStatus::Investigational => (Coverage::NotCovered, Some(Reason::Investigational)),
        CoverageStatus::NotMedicallyNecessary => {
            (Coverage::NotCovered, Some(Reason::NotMedicallyNecessary))
        }
        CoverageStatus::NotCovered => (Coverage::NotCovered, Some(Reason::Excluded)),
    }
}

fn pa_outcome(r: PaRequirement) -> PriorAuth {
    match r {
        PaRequirement::Required => PriorAuth::AuthNeeded,
        PaRequirement::NotRequired => PriorAuth::NoAuth,
        PaRequirement::MayBeRequired => PriorAuth::Conditional,
        PaRequirement::NotCovered => PriorAuth::NotApplicable,
    }
}

/// The indexes of the set bits of a statement mask, lowest first.
fn bits(mut mask: u64) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (mask != 0).then(|| {
            let i = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            i
        })
    })
}

/// Which of the reached statements decide, given the request's diagnoses, and
/// whether the diagnoses left the indication unsettled.
///
/// With diagnoses: the bound statements one of them selects, with the
/// statements that name no indication; if none is selected, the catch-all
/// ("all other indications"), the statements naming an indication in words
/// only, and those naming none; if nothing remains (every statement is
/// bound, none to these diagnoses), all of them, unsettled. Without
/// diagnoses: every reached statement (they may disagree: the caller then
/// answers that it depends on the indication), unsettled when they are all
/// bound to diagnoses (nothing speaks for the other indications).
fn select_statements(policy: &CompiledPolicy, reached: u64, diagnoses: &[Code]) -> (u64, bool) {
    if reached == 0 {
        return (0, false);
    }
    if diagnoses.is_empty() {
        let all_bound = bits(reached).all(|si| policy.statements[si].kind == IndicationKind::Bound);
        return (reached, all_bound);
    }
    let (mut selected, mut general, mut otherwise) = (0u64, 0u64, 0u64);
    for si in bits(reached) {
        let s = &policy.statements[si];
        let bit = 1u64 << si;
        match s.kind {
            IndicationKind::Bound => {
                if s.diagnoses
                    .iter()
                    .any(|p| diagnoses.iter().any(|d| p.matches(d)))
                {
                    selected |= bit;
                }
            }
            IndicationKind::General => general |= bit,
            IndicationKind::OtherIndications | IndicationKind::Unbound => otherwise |= bit,
        }
    }
    if selected != 0 {
        (selected | general, false)
    } else if otherwise | general != 0 {
        (otherwise | general, false)
    } else {
        (reached, true)
    }
}

fn compile_criteria(criteria: &[Criterion]) -> Vec<CriterionNode> {
    criteria
        .iter()
        .map(|c| CriterionNode {
            id: c.id.clone(),
            text: plain(&c.text),
            combine: (!c.criteria.is_empty()).then_some(c.combine),
            criteria: compile_criteria(&c.criteria),
        })
        .collect()
}

struct PolicyCompiler<'a> {
    policy: &'a Policy,
    payer: &'a Payer,
    key: String,
}

impl PolicyCompiler<'_> {
    fn products(&self, field: &str, ids: &[String]) -> Result<ProductSet, CompileError> {
        let mut set = ProductSet::EMPTY;
        for id in ids {
            set = set.union(self.payer.resolve_products(id).ok_or_else(|| {
                CompileError::UnknownProduct {
                    policy: self.key.clone(),
                    field: field.to_string(),
                    product: id.clone(),
                    valid: self
                        .payer
                        .product_ids()
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                }
            })?);
        }
        Ok(set)
    }

    fn note_products(&self, field: &str, ids: &[String]) -> Result<ProductSet, CompileError> {
        if ids.is_empty() {
            Ok(ProductSet::all(self.payer.lines_of_business.len()))
        } else {
            self.products(field, ids)
        }
    }

    fn compile(&self, payer_idx: u32) -> Result<CompiledPolicy, CompileError> {
        let p = self.policy;
        let code_list_index = |field: &str, id: &str| -> Result<u16, CompileError> {
            p.code_lists
                .iter()
                .position(|l| l.id == id)
                .map(|i| i as u16)
                .ok_or_else(|| CompileError::UnknownCodeList {
                    policy: self.key.clone(),
                    field: field.to_string(),
                    list: id.to_string(),
                })
        };
        let pattern = |field: String, d: &str| {
            CodePattern::parse(CodeSystem::Icd10cm, d).map_err(|e| CompileError::MalformedCode {
                policy: self.key.clone(),
                field,
                reason: e.to_string(),
            })
        };
        if p.statements.len() > MAX_STATEMENTS {
            return Err(CompileError::TooManyStatements {
                policy: self.key.clone(),
                count: p.statements.len(),
            });
        }
        let mut statement_products = Vec::with_capacity(p.statements.len());
        let mut statements = Vec::with_capacity(p.statements.len());
        for (i, s) in p.statements.iter().enumerate() {
            let field = format!("statement[{i}]");
            let (coverage, reason) = status_outcome(s.status, !s.criteria.is_empty());
            for id in &s.code_lists {
                code_list_index(&field, id)?;
            }
            let mut diagnoses = Vec::new();
            let mut diagnosis_text = Vec::new();
            for (j, d) in s.diagnoses.iter().enumerate() {
                diagnoses.push(pattern(format!("{field}.diagnoses[{j}]"), d)?);
                diagnosis_text.push(d.clone());
            }
            for id in &s.diagnosis_lists {
                let li = code_list_index(&format!("{field}.diagnosis_lists"), id)? as usize;
                let list = &p.code_lists[li];
                for (ci, e) in list.codes.iter().enumerate() {
                    diagnoses.push(pattern(format!("code_list[{li}].codes[{ci}]"), &e.code)?);
                    diagnosis_text.push(e.code.clone());
                }
            }
            let kind = if s.is_bound() {
                IndicationKind::Bound
            } else if s.other_indications {
                IndicationKind::OtherIndications
            } else if s.indication.is_some() {
                IndicationKind::Unbound
            } else {
                IndicationKind::General
            };
            statement_products.push(self.products(&format!("{field}.products"), &s.products)?);
            statements.push(CompiledStatement {
                coverage,
                reason,
                kind,
                diagnoses,
                diagnosis_text,
                indication: s.indication.as_deref().map(plain),
                criteria_match: s.criteria_match,
                criteria: compile_criteria(&s.criteria),
                heading: s.heading.as_deref().map(plain),
                path: format!("statement/{}", s.id),
                text: plain(&s.text),
            });
        }

        let mut prior_auth: [Option<CompiledPaRule>; 2] = [None, None];
        for (i, r) in p.prior_auth.iter().enumerate() {
            let heading = r.heading.clone().unwrap_or_else(|| {
                let id = r.setting.id();
                let mut h = id[..1].to_uppercase();
                h.push_str(&id[1..]);
                h
            });
            let mut rows = Vec::with_capacity(r.rows.len());
            for (j, row) in r.rows.iter().enumerate() {
                rows.push(CompiledPaRow {
                    products: self
                        .products(&format!("prior_auth[{i}].row[{j}].products"), &row.products)?,
                    requirement: row.requirement,
                    heading: format!("{heading}: {}", plain(&row.label)),
                    path: format!("prior-auth/{}/row/{}", r.setting.id(), j + 1),
                    text: plain(&row.text),
                });
            }
            prior_auth[setting_index(r.setting)] = Some(CompiledPaRule {
                requirement: r.requirement,
                path: format!("prior-auth/{}", r.setting.id()),
                heading,
                text: plain(&r.text),
                rows,
            });
        }

        let mut list_products = Vec::with_capacity(p.code_lists.len());
        for (i, l) in p.code_lists.iter().enumerate() {
            list_products.push(self.products(&format!("code_list[{i}].products"), &l.products)?);
        }
        let binding = bind(p.into(), &statement_products, &list_products);
        let mut code_lists = Vec::with_capacity(p.code_lists.len());
        for ((l, reach), governed) in p.code_lists.iter().zip(binding.reach).zip(binding.governed) {
            code_lists.push(CompiledCodeList {
                products: governed,
                reach,
                // A table "medically necessary when criteria are met" that no
                // statement of the product speaks for is conditional on
                // criteria it does not list, never covered outright.
                status: l.status.map(|s| {
                    let criteria = s == CoverageStatus::MedicallyNecessary
                        && l.statement
                            .as_deref()
                            .is_some_and(|t| t.to_ascii_lowercase().contains("criteria"));
                    status_outcome(s, criteria)
                }),
                heading: l.heading.as_deref().map(plain),
                path: format!("code-list/{}", l.id),
                text: l.statement.as_deref().map(plain).unwrap_or_default(),
            });
        }

        let mut notes = Vec::new();
        for (i, n) in p.notes.iter().enumerate() {
            // Coding guidance is for coders reading the policy, not for a
            // determination; the rest travel with every answer they concern.
            if n.kind == NoteKind::Coding {
                continue;
            }
            notes.push(CompiledNote {
                kind: n.kind.into(),
                products: self.note_products(&format!("note[{i}].products"), &n.products)?,
                text: plain(&n.text),
                see_policy: n.see_policy.clone(),
                see_ncd: n.see_ncd.clone(),
            });
        }

        let clinical_exception = p.all_policies.as_ref().and_then(|info| {
            info.links
                .iter()
                .find(|l| l.kind == Some(LinkKind::ClinicalException))
                .map(|l| format!("{} ({})", plain(&l.label), plain(&info.heading)))
        });

        Ok(CompiledPolicy {
            payer: payer_idx,
            key: self.key.clone(),
            number: p.number.clone(),
            title: p.title.clone(),
            versions: p
                .versions()
                .into_iter()
                .map(|v| (v.effective, v.label))
                .collect(),
            statements,
            prior_auth,
            code_lists,
            notes,
            clinical_exception,
            coding_section: p
                .coding_heading
                .clone()
                .unwrap_or_else(|| DEFAULT_CODING_SECTION.to_string()),
        })
    }
}

impl Engine {
    /// Compiles a catalogue. Fails on anything that would make an answer
    /// unreliable: unknown payers or products, malformed codes, duplicates.
    pub fn compile(catalog: Catalog) -> Result<Engine, CompileError> {
        let mut payers = Vec::with_capacity(catalog.payers.len());
        let mut payer_index = FxHashMap::default();
        let mut product_index: FxHashMap<String, Vec<(u32, u8)>> = FxHashMap::default();
        for (i, p) in catalog.payers.iter().enumerate() {
            if p.lines_of_business.len() > MAX_LINES_OF_BUSINESS {
                return Err(CompileError::TooManyLinesOfBusiness {
                    payer: p.id.clone(),
                    count: p.lines_of_business.len(),
                });
            }
            if payer_index.insert(p.id.clone(), i as u32).is_some() {
                return Err(CompileError::DuplicatePayer {
                    payer: p.id.clone(),
                });
            }
            for (j, lob) in p.lines_of_business.iter().enumerate() {
                product_index
                    .entry(lob.id.clone())
                    .or_default()
                    .push((i as u32, j as u8));
            }
            payers.push(CompiledPayer {
                id: p.id.clone(),
                lob_ids: p.lines_of_business.iter().map(|l| l.id.clone()).collect(),
                markets: p.lines_of_business.iter().map(|l| l.market).collect(),
            });
        }

        // Cheap checks first, in order, so that the first duplicate is the one reported.
        let mut payer_of = Vec::with_capacity(catalog.policies.len());
        let mut seen: FxHashMap<(u32, &str), Vec<&Policy>> = FxHashMap::default();
        for policy in &catalog.policies {
            let &payer_idx =
                payer_index
                    .get(&policy.payer)
                    .ok_or_else(|| CompileError::UnknownPayer {
                        policy: policy.key(),
                        payer: policy.payer.clone(),
                    })?;
            // Revisions of one policy may share its number when the days they
            // decide do not overlap; anything else is a duplicate.
            let same = seen.entry((payer_idx, policy.number.as_str())).or_default();
            if same.iter().any(|other| other.overlaps(policy)) {
                return Err(CompileError::DuplicatePolicy {
                    policy: policy.key(),
                    payer: policy.payer.clone(),
                });
            }
            same.push(policy);
            payer_of.push(payer_idx);
        }
        // Each policy compiles on its own: spread them over the cores.
        let compiled: Vec<(CompiledPolicy, Vec<(u64, u16)>)> = catalog
            .policies
            .par_iter()
            .zip(payer_of.par_iter())
            .map(|(policy, &payer_idx)| {
                let compiler = PolicyCompiler {
                    policy,
                    payer: &catalog.payers[payer_idx as usize],
                    key: policy.key(),
                };
                let compiled = compiler.compile(payer_idx)?;
                let mut codes = Vec::new();
                for (li, list) in policy.code_lists.iter().enumerate() {
                    // Diagnosis tables bind indications; they are not services.
                    if !list.system.is_procedure() {
                        continue;
                    }
                    for (ci, entry) in list.codes.iter().enumerate() {
                        let code = Code::parse(list.system, &entry.code).map_err(|e| {
                            CompileError::MalformedCode {
                                policy: compiler.key.clone(),
                                field: format!("code_list[{li}].codes[{ci}]"),
                                reason: e.to_string(),
                            }
                        })?;
                        codes.push((code.key(), li as u16));
                    }
                }
                Ok((compiled, codes))
            })
            .collect::<Result<_, CompileError>>()?;
        let mut policies = Vec::with_capacity(compiled.len());
        let mut index: FxHashMap<(u32, u64), Vec<Posting>> = FxHashMap::default();
        for (policy_idx, (policy, (compiled, codes))) in
            catalog.policies.iter().zip(compiled).enumerate()
        {
            for (key, li) in codes {
                index
                    .entry((compiled.payer, key))
                    .or_default()
                    .push(Posting {
                        policy: policy_idx as u32,
                        code_list: li,
                        products: compiled.code_lists[li as usize].products,
                        from: policy.window().0,
                        until: policy.window().1,
                    });
            }
            policies.push(compiled);
        }
        let index = CodeIndex::new(index);
        Ok(Engine {
            id: ENGINES.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            catalog,
            payers,
            payer_index,
            product_index,
            policies,
            index,
        })
    }

    /// The catalogue the engine was compiled from.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The number of (payer, code) keys in the index.
    pub fn indexed_codes(&self) -> usize {
        self.index.map.len()
    }

    /// Resolves a payer (optional) and product id to a member's product, once,
    /// for callers that decide many lines for the same product.
    pub fn resolve_product(
        &self,
        payer: Option<&str>,
        product: &str,
    ) -> Result<ProductRef, RequestError> {
        self.resolve_indexes(payer, product)
            .map(|(payer, lob)| ProductRef {
                engine: self.id,
                payer,
                lob: lob as u8,
            })
    }

    /// A `ProductRef` is an index into the catalogue that resolved it: using
    /// one with another would decide for the wrong product, silently.
    #[inline]
    fn own(&self, product: ProductRef) {
        assert_eq!(
            product.engine, self.id,
            "a ProductRef resolved by another catalogue (kept across a reload?): resolve the product again"
        );
    }

    /// The payer and product ids of a resolved product.
    pub fn product_ids(&self, product: ProductRef) -> (&str, &str) {
        self.own(product);
        let p = &self.payers[product.payer as usize];
        (&p.id, &p.lob_ids[product.lob as usize])
    }

    fn resolve_indexes(
        &self,
        payer: Option<&str>,
        product: &str,
    ) -> Result<(u32, usize), RequestError> {
        let (payer, product) = match (payer, product.split_once('/')) {
            (None, Some((p, prod))) => (Some(p), prod),
            _ => (payer, product),
        };
        let all_products = || {
            let mut v: Vec<String> = self
                .payers
                .iter()
                .flat_map(|p| {
                    let qualify = self.payers.len() > 1;
                    p.lob_ids.iter().map(move |l| {
                        if qualify {
                            format!("{}/{l}", p.id)
                        } else {
                            l.clone()
                        }
                    })
                })
                .collect();
            v.sort();
            v
        };
        match payer {
            Some(payer_id) => {
                let &pi =
                    self.payer_index
                        .get(payer_id)
                        .ok_or_else(|| RequestError::UnknownPayer {
                            payer: payer_id.to_string(),
                            valid: {
                                let mut v: Vec<String> =
                                    self.payers.iter().map(|p| p.id.clone()).collect();
                                v.sort();
                                v
                            },
                        })?;
                let p = &self.payers[pi as usize];
                let li = p.lob_ids.iter().position(|l| l == product).ok_or_else(|| {
                    RequestError::UnknownProduct {
                        product: product.to_string(),
                        valid: p.lob_ids.clone(),
                    }
                })?;
                Ok((pi, li))
            }
            None => match self.product_index.get(product).map(Vec::as_slice) {
                Some([(pi, li)]) => Ok((*pi, *li as usize)),
                Some(many) if !many.is_empty() => Err(RequestError::AmbiguousProduct {
                    product: product.to_string(),
                    payers: many
                        .iter()
                        .map(|(pi, _)| self.payers[*pi as usize].id.clone())
                        .collect(),
                }),
                _ => Err(RequestError::UnknownProduct {
                    product: product.to_string(),
                    valid: all_products(),
                }),
            },
        }
    }

    /// Decides every line of a request.
    pub fn determine(&self, request: &Request) -> Result<Determination<'_>, RequestError> {
        request.check()?;
        let product = self.resolve_product(request.payer.as_deref(), &request.product)?;
        let (payer, product_id) = self.product_ids(product);
        let lines = request
            .lines
            .iter()
            .map(|line| {
                self.decide(
                    product,
                    request.setting,
                    request.date,
                    line,
                    &request.diagnoses,
                )
            })
            .collect();
        Ok(Determination {
            payer,
            product: product_id,
            setting: request.setting,
            date: request.date,
            lines,
        })
    }

    /// Decides one service line for a resolved product. The line's code must
    /// be a procedure code and the diagnoses ICD-10-CM ([`Request::check`]);
    /// other codes simply match no policy.
    pub fn decide(
        &self,
        product: ProductRef,
        setting: Setting,
        date: NaiveDate,
        line: &ServiceLine,
        diagnoses: &[Code],
    ) -> LineDetermination<'_> {
        let mut out = LineDetermination::empty(line.code);
        self.decide_into(product, setting, date, line, diagnoses, &mut out);
        out
    }

    /// [`Engine::decide`] into a determination the caller reuses line after
    /// line, so that deciding a stream allocates nothing once its vectors
    /// have grown (what batch screening does).
    pub fn decide_into<'e>(
        &'e self,
        product: ProductRef,
        setting: Setting,
        date: NaiveDate,
        line: &ServiceLine,
        diagnoses: &[Code],
        out: &mut LineDetermination<'e>,
    ) {
        self.own(product);
        out.reset(line);
        let Some(postings) = self.index.get(product.payer, line.code.key()) else {
            return;
        };
        let lob = product.lob as usize;
        let ctx = LineContext {
            lob,
            market: self.payers[product.payer as usize].markets[lob],
            setting,
            date,
            diagnoses,
        };
        let mut prior_auth: Option<PriorAuth> = None;
        for posting in postings {
            let policy = &self.policies[posting.policy as usize];
            // A code listed in two of a policy's tables applies the policy once.
            let applied = out
                .policies
                .iter()
                .any(|p| std::ptr::eq(p.number.as_ptr(), policy.number.as_ptr()));
            if !posting.products.contains(lob)
                || date < posting.from
                || posting.until.is_some_and(|u| date >= u)
                || applied
            {
                continue;
            }
            // Every table of this policy that lists the code for the product
            // takes part, not only the first one found.
            let lists = postings.iter().filter(|p| {
                p.policy == posting.policy
                    && p.products.contains(lob)
                    && date >= p.from
                    && p.until.is_none_or(|u| date < u)
            });
            let pa = self.apply_policy(policy, lists, &ctx, out);
            prior_auth = Some(prior_auth.map_or(pa, |p| p.max(pa)));
        }
        if let Some(pa) = prior_auth {
            out.prior_auth = pa;
            out.reasons.sort();
            out.reasons.dedup();
        }
    }

    /// The answer of the deciding statements (see ARCHITECTURE.md, "Decision
    /// rules"), with their citations, criteria and indications written to
    /// `out`; and where `out` stood before, to undo the reasons, criteria
    /// and indications if a table's sentence turns out stricter.
    fn statements_decide<'e>(
        &'e self,
        policy: &'e CompiledPolicy,
        version: &'e str,
        deciding: u64,
        unsettled: bool,
        out: &mut LineDetermination<'e>,
    ) -> (Coverage, Marks) {
        let marks = Marks {
            reasons: out.reasons.len(),
            criteria: out.criteria.len(),
            indications: out.indications.len(),
        };
        let statements = || bits(deciding).map(|si| &policy.statements[si]);
        let first = statements()
            .next()
            .map_or(Coverage::NoPolicy, |s| s.coverage);
        let agree = statements().all(|s| s.coverage == first);
        let by_indication = statements().any(|s| s.kind != IndicationKind::General);
        let strictest = statements().fold(Coverage::NoPolicy, |c, s| c.stricter(s.coverage));
        // Coverage is never granted on an indication named in words only:
        // no code says the request's is that one.
        let granted_in_words = strictest == Coverage::Covered
            && statements().any(|s| s.kind == IndicationKind::Unbound);
        let coverage = if unsettled || (!agree && by_indication) || granted_in_words {
            out.reasons.push(Reason::DependsOnIndication);
            for s in statements().filter(|s| s.kind != IndicationKind::General) {
                out.indications.push(IndicationRef {
                    policy: &policy.key,
                    path: &s.path,
                    indication: s.indication.as_deref(),
                    other_indications: s.kind == IndicationKind::OtherIndications,
                    diagnoses: &s.diagnosis_text,
                    coverage: s.coverage,
                    reason: s.reason,
                });
            }
            Coverage::Conditional
        } else {
            out.reasons.extend(
                statements()
                    .filter(|s| s.coverage == strictest)
                    .filter_map(|s| s.reason),
            );
            strictest
        };
        for s in statements() {
            out.citations.push(Citation {
                policy: &policy.key,
                version,
                section: SECTION_POLICY,
                heading: s.heading.as_deref(),
                path: &s.path,
                text: &s.text,
                names_indication: s.kind != IndicationKind::General,
            });
            if !s.criteria.is_empty() {
                out.criteria.push(CriteriaSet {
                    policy: &policy.key,
                    version,
                    path: &s.path,
                    indication: s.indication.as_deref(),
                    combine: s.criteria_match,
                    criteria: &s.criteria,
                });
            }
        }
        (coverage, marks)
    }

    /// Applies one policy to a line; returns its prior-authorization answer.
    fn apply_policy<'e, 'p>(
        &'e self,
        policy: &'e CompiledPolicy,
        lists: impl Iterator<Item = &'p Posting> + Clone,
        ctx: &LineContext<'_>,
        out: &mut LineDetermination<'e>,
    ) -> PriorAuth {
        let (date, lob, market, diagnoses) = (ctx.date, ctx.lob, ctx.market, ctx.diagnoses);
        // Versions start at the policy's effective date and postings only
        // match from it, so the partition point is at least 1.
        let vi = policy.versions.partition_point(|(d, _)| *d <= date).max(1) - 1;
        let (effective, version) = (&policy.versions[vi].0, policy.versions[vi].1.as_str());
        let cited_before = out.citations.len();
        out.policies.push(AppliedPolicy {
            payer: &self.payers[policy.payer as usize].id,
            number: &policy.number,
            title: &policy.title,
            version,
            effective: *effective,
        });

        // Coverage: the statements that reach this code list for this
        // product (crate::binding), narrowed by the diagnoses.
        let tables = || {
            lists
                .clone()
                .map(|p| &policy.code_lists[p.code_list as usize])
        };
        // The statements that reach any table listing the code, and the
        // tables no statement reaches for this product: their own sentences
        // take part too.
        let mut reached: u64 = 0;
        let mut table_coverage: Option<Coverage> = None;
        for list in tables() {
            let mut mask = 0u64;
            for (si, r) in list.reach.iter().enumerate() {
                if r.contains(lob) {
                    mask |= 1 << si;
                }
            }
            reached |= mask;
            if let (0, Some((c, _))) = (mask, list.status) {
                table_coverage = Some(table_coverage.map_or(c, |t| t.stricter(c)));
            }
        }
        let (deciding, unsettled) = select_statements(policy, reached, diagnoses);
        let statement_coverage = (deciding != 0)
            .then(|| self.statements_decide(policy, version, deciding, unsettled, out));
        let coverage = match (statement_coverage, table_coverage) {
            (Some((s, marks)), Some(t)) if t.strictness() > s.strictness() => {
                // A table's own sentence is stricter than the statements: it
                // decides, and what the statements added to explain a milder
                // answer goes.
                marks.undo(out);
                t
            }
            (Some((s, _)), _) => s,
            (None, Some(t)) => t,
            (None, None) => Coverage::Conditional,
        };
        if statement_coverage.is_none_or(|(s, _)| s != coverage) {
            // The tables' sentences decided: cite them and give their reasons.
            let mut cited = false;
            for list in tables() {
                match list.status {
                    Some((c, reason)) if c == coverage => out.reasons.extend(reason),
                    None if table_coverage.is_none() && !cited => {}
                    _ => continue,
                }
                cited = true;
                out.citations.push(Citation {
                    policy: &policy.key,
                    version,
                    section: &policy.coding_section,
                    heading: list.heading.as_deref(),
                    path: &list.path,
                    text: &list.text,
                    names_indication: false,
                });
            }
            if statement_coverage.is_none() && table_coverage.is_none() {
                out.reasons.push(Reason::NoCoverageStatement);
            }
        }
        // Every policy applied to a line cites a statement or a table's
        // sentence for its coverage (the paths above guarantee it; tests
        // check it over generated catalogues).
        debug_assert!(
            out.citations[cited_before..]
                .iter()
                .any(|c| c.path.starts_with("statement/") || c.path.starts_with("code-list/")),
            "policy {} applied without a citation",
            policy.key
        );
        out.coverage = out.coverage.stricter(coverage);

        // Prior authorization for the setting.
        let pa = match &policy.prior_auth[setting_index(ctx.setting)] {
            Some(rule) => {
                if let Some(row) = rule.rows.iter().find(|r| r.products.contains(lob)) {
                    out.citations.push(Citation {
                        policy: &policy.key,
                        version,
                        section: SECTION_PRIOR_AUTH,
                        heading: Some(&row.heading),
                        path: &row.path,
                        text: &row.text,
                        names_indication: false,
                    });
                    pa_outcome(row.requirement)
                } else if let Some(req) = rule.requirement {
                    out.citations.push(Citation {
                        policy: &policy.key,
                        version,
                        section: SECTION_PRIOR_AUTH,
                        heading: Some(&rule.heading),
                        path: &rule.path,
                        text: &rule.text,
                        names_indication: false,
                    });
                    pa_outcome(req)
                } else if coverage == Coverage::NotCovered {
                    PriorAuth::NotApplicable
                } else {
                    // The rule says nothing for this product: never claim
                    // "no auth" from silence.
                    out.citations.push(Citation {
                        policy: &policy.key,
                        version,
                        section: SECTION_PRIOR_AUTH,
                        heading: Some(&rule.heading),
                        path: &rule.path,
                        text: &rule.text,
                        names_indication: false,
                    });
                    PriorAuth::Conditional
                }
            }
            None if coverage == Coverage::NotCovered => PriorAuth::NotApplicable,
            // The policy is silent on this setting: do not claim "no auth".
            None => PriorAuth::Conditional,
        };

        for n in &policy.notes {
            let for_market =
                n.kind != DeterminationNoteKind::Medicare || market == Market::MedicareAdvantage;
            if n.products.contains(lob) && for_market {
                out.notes.push(DeterminationNote {
                    kind: n.kind,
                    policy: &policy.key,
                    text: &n.text,
                    see_policy: n.see_policy.as_ref(),
                    see_ncd: n.see_ncd.as_deref(),
                });
            }
        }
        if coverage == Coverage::NotCovered {
            if let Some(text) = &policy.clinical_exception {
                out.notes.push(DeterminationNote {
                    kind: DeterminationNoteKind::ClinicalException,
                    policy: &policy.key,
                    text,
                    see_policy: None,
                    see_ncd: None,
                });
            }
        }
        pa
    }

    /// Whether any policy of any payer lists a code (for any product or date).
    pub fn governs(&self, code: &Code) -> bool {
        (0..self.payers.len()).any(|pi| self.index.get(pi as u32, code.key()).is_some())
    }

    /// Every policy that lists a code, for any payer, product or date.
    pub fn policies_for_code(&self, code: &Code) -> Vec<CodeListing<'_>> {
        let mut out = Vec::new();
        for (pi, _) in self.payers.iter().enumerate() {
            let Some(postings) = self.index.get(pi as u32, code.key()) else {
                continue;
            };
            for posting in postings {
                let policy = &self.catalog.policies[posting.policy as usize];
                let list = &policy.code_lists[posting.code_list as usize];
                let description = list
                    .codes
                    .iter()
                    .find(|e| Code::parse(list.system, &e.code).is_ok_and(|c| c == *code))
                    .map(|e| e.description.as_str())
                    .unwrap_or("");
                let payer = &self.catalog.payers[pi];
                out.push(CodeListing {
                    policy,
                    code_list: &list.id,
                    description,
                    products: payer
                        .members(posting.products)
                        .map(|l| l.id.as_str())
                        .collect(),
                    status: list.status,
                });
            }
        }
        out
    }
}

/// Where a code is listed, for `medpol codes`.
#[derive(Debug, Clone)]
pub struct CodeListing<'e> {
    pub policy: &'e Policy,
    pub code_list: &'e str,
    pub description: &'e str,
    pub products: Vec<&'e str>,
    pub status: Option<CoverageStatus>,
}

#[cfg(test)]
mod tests;
