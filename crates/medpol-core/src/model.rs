//! The medical-policy model: payers and their lines of business, and every
//! part of a published medical policy.
//!
//! These are plain values. Text that the payer published (statements, table
//! rows, notes) is kept verbatim, inline markup included; the engine derives
//! plain text for citations. Products are referred to by id (a line of
//! business or a product group of the policy's payer); adapters check that
//! they resolve before a catalogue reaches the engine, and the engine checks
//! again when it compiles.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::code::CodeSystem;
use crate::history::HistoryDate;
use crate::setting::Setting;

/// Every payer and policy the engine decides from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    pub payers: Vec<Payer>,
    pub policies: Vec<Policy>,
}

impl Catalog {
    pub fn payer(&self, id: &str) -> Option<&Payer> {
        self.payers.iter().find(|p| p.id == id)
    }

    /// Policies with this number, of one payer or of all.
    pub fn find_policies<'a>(
        &'a self,
        payer: Option<&'a str>,
        number: &'a str,
    ) -> impl Iterator<Item = &'a Policy> + 'a {
        self.policies
            .iter()
            .filter(move |p| p.number == number && payer.is_none_or(|id| p.payer == id))
    }
}

/// A health plan that publishes medical policies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payer {
    /// Short stable id, e.g. `bcbsma`.
    pub id: String,
    pub name: String,
    /// The region the payer's documents carry in their banner (e.g. `MASSACHUSETTS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The licensee line printed under the banner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licensee_statement: Option<String>,
    #[serde(rename = "line_of_business")]
    pub lines_of_business: Vec<LineOfBusiness>,
    #[serde(default, rename = "product_group")]
    pub product_groups: Vec<ProductGroup>,
}

/// The most lines of business one payer may define (product sets are a 64-bit mask).
pub const MAX_LINES_OF_BUSINESS: usize = 64;

impl Payer {
    pub fn line_of_business(&self, id: &str) -> Option<&LineOfBusiness> {
        self.lines_of_business.iter().find(|l| l.id == id)
    }

    /// The lines of business a product id names: one line of business, or the
    /// members of a product group. `all` names every line of business.
    pub fn resolve_products(&self, id: &str) -> Option<ProductSet> {
        self.resolve_within(id, self.product_groups.len())
    }

    /// Groups may name groups; `depth` bounds the nesting so that a cycle
    /// resolves to nothing instead of recursing forever.
    fn resolve_within(&self, id: &str, depth: usize) -> Option<ProductSet> {
        if let Some(i) = self.lines_of_business.iter().position(|l| l.id == id) {
            return Some(ProductSet::single(i));
        }
        if id == "all" {
            return Some(ProductSet::all(self.lines_of_business.len()));
        }
        let group = self.product_groups.iter().find(|g| g.id == id)?;
        let mut set = ProductSet::EMPTY;
        for member in &group.products {
            set = set.union(self.resolve_within(member, depth.checked_sub(1)?)?);
        }
        Some(set)
    }

    /// Every id a policy may use for this payer's products, for error messages.
    pub fn product_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self
            .lines_of_business
            .iter()
            .map(|l| l.id.as_str())
            .collect();
        ids.extend(self.product_groups.iter().map(|g| g.id.as_str()));
        ids.push("all");
        ids
    }

    /// The lines of business in a set, in the payer's order.
    pub fn members(&self, set: ProductSet) -> impl Iterator<Item = &LineOfBusiness> {
        self.lines_of_business
            .iter()
            .enumerate()
            .filter(move |(i, _)| set.contains(*i))
            .map(|(_, l)| l)
    }
}

/// A set of a payer's lines of business, by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ProductSet(pub u64);

impl ProductSet {
    pub const EMPTY: ProductSet = ProductSet(0);

    pub fn single(index: usize) -> ProductSet {
        ProductSet(1u64 << index)
    }

    pub fn all(count: usize) -> ProductSet {
        if count >= 64 {
            ProductSet(u64::MAX)
        } else {
            ProductSet((1u64 << count) - 1)
        }
    }

    pub fn union(self, other: ProductSet) -> ProductSet {
        ProductSet(self.0 | other.0)
    }

    pub fn intersect(self, other: ProductSet) -> ProductSet {
        ProductSet(self.0 & other.0)
    }

    pub fn minus(self, other: ProductSet) -> ProductSet {
        ProductSet(self.0 & !other.0)
    }

    pub fn contains(self, index: usize) -> bool {
        index < 64 && self.0 & (1u64 << index) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// One product a payer sells (e.g. commercial PPO, Medicare HMO Blue).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineOfBusiness {
    /// Stable id used in requests, e.g. `commercial-ppo`.
    pub id: String,
    /// The name the payer's documents use, e.g. `Medicare PPO Blue`.
    pub name: String,
    pub market: Market,
}

/// The regulatory market of a line of business; it decides which notes apply
/// (e.g. Medicare Advantage members get the pointer to Medicare coverage rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Market {
    Commercial,
    MedicareAdvantage,
    Medicaid,
    Exchange,
    Other,
}

/// A grouping of lines of business the documents use, e.g.
/// "Commercial Managed Care (HMO and POS)".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductGroup {
    pub id: String,
    /// The label as printed in the documents.
    pub label: String,
    /// Ids of lines of business or of other groups.
    pub products: Vec<String>,
}

/// One published medical policy, with all its parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub payer: String,
    /// The payer's policy number, e.g. `183`.
    pub number: String,
    pub title: String,
    /// The day the policy first took effect.
    #[serde(with = "iso_date")]
    pub effective: NaiveDate,
    /// The day from which the policy no longer applies, if it was archived.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "iso_date_opt"
    )]
    pub retired: Option<NaiveDate>,
    /// For one revision of a policy among several (a store publishes a new
    /// revision rather than change one in place): the day this revision
    /// starts to decide. Absent for a policy file, which decides from
    /// `effective` on.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "iso_date_opt"
    )]
    pub in_force_from: Option<NaiveDate>,
    #[serde(default, rename = "external_reference")]
    pub external_references: Vec<ExternalReference>,
    #[serde(default, rename = "related_policy")]
    pub related_policies: Vec<RelatedPolicy>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub summary: String,
    #[serde(rename = "statement")]
    pub statements: Vec<CoverageStatement>,
    #[serde(default)]
    pub prior_auth: Vec<PriorAuthRule>,
    /// The heading of the coding section, as printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coding_heading: Option<String>,
    #[serde(default, rename = "code_list")]
    pub code_lists: Vec<CodeList>,
    #[serde(default, rename = "note")]
    pub notes: Vec<Note>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_policies: Option<AllPoliciesInfo>,
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
    #[serde(default, rename = "reference")]
    pub references: Vec<Reference>,
}

impl Policy {
    /// The versions of the policy, oldest first: one per distinct history date
    /// on or after the policy took effect, plus one at the effective date if
    /// no history row marks it. History rows dated before the policy took
    /// effect (reviews of a predecessor) are history, not versions.
    pub fn versions(&self) -> Vec<PolicyVersion> {
        let mut rows: Vec<&HistoryEntry> = self
            .history
            .iter()
            .filter(|h| h.date.start() >= self.effective)
            .collect();
        rows.sort_by_key(|h| h.date.start());
        let mut versions: Vec<PolicyVersion> = Vec::new();
        if rows.first().is_none_or(|h| h.date.start() > self.effective) {
            versions.push(PolicyVersion {
                label: self.effective.format("%-m/%-d/%Y").to_string(),
                effective: self.effective,
                actions: Vec::new(),
            });
        }
        for row in rows {
            match versions.last_mut() {
                Some(v) if v.effective == row.date.start() => v.actions.push(row.action.clone()),
                _ => versions.push(PolicyVersion {
                    label: row.date.as_str().to_string(),
                    effective: row.date.start(),
                    actions: vec![row.action.clone()],
                }),
            }
        }
        versions
    }

    /// The version in effect on a date, if the policy applied then.
    pub fn version_on(&self, date: NaiveDate) -> Option<PolicyVersion> {
        if !self.decides_on(date) {
            return None;
        }
        self.versions()
            .into_iter()
            .rev()
            .find(|v| v.effective <= date)
    }

    /// The days this policy (revision) decides: from `in_force_from` (or
    /// `effective`, whichever is later) until `retired`, exclusive.
    pub fn window(&self) -> (NaiveDate, Option<NaiveDate>) {
        let from = self
            .in_force_from
            .map_or(self.effective, |f| f.max(self.effective));
        (from, self.retired)
    }

    /// Whether two policies decide on a common day.
    pub fn overlaps(&self, other: &Policy) -> bool {
        let ((a_from, a_until), (b_from, b_until)) = (self.window(), other.window());
        a_until.is_none_or(|u| b_from < u) && b_until.is_none_or(|u| a_from < u)
    }

    pub fn decides_on(&self, date: NaiveDate) -> bool {
        let (from, until) = self.window();
        date >= from && until.is_none_or(|u| date < u)
    }

    /// Whether every word (lower case) is in the title, description or
    /// summary, ignoring case: the library's search. No words: true.
    pub fn mentions_all(&self, words: &[String]) -> bool {
        if words.is_empty() {
            return true;
        }
        let hay = format!("{} {} {}", self.title, self.description, self.summary).to_lowercase();
        words.iter().all(|w| hay.contains(w.as_str()))
    }

    /// `payer/number`, the key that names a policy across the catalogue.
    pub fn key(&self) -> String {
        format!("{}/{}", self.payer, self.number)
    }
}

/// A version of a policy, derived from its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyVersion {
    /// The history date as published, e.g. `12/2013`.
    pub label: String,
    pub effective: NaiveDate,
    /// The history actions recorded for this version.
    pub actions: Vec<String>,
}

/// An identifier of the policy in another organisation's catalogue
/// (e.g. BCBSA 2.01.26).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalReference {
    pub organization: String,
    pub number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Another policy of the same payer, by number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RelatedPolicy {
    pub number: String,
    pub title: String,
}

/// What a statement says of the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CoverageStatus {
    /// Covered without conditions.
    Covered,
    /// Medically necessary (covered) when the statement's criteria are met.
    MedicallyNecessary,
    Investigational,
    NotMedicallyNecessary,
    /// Not covered: a contract exclusion.
    NotCovered,
}

impl CoverageStatus {
    pub const ALL: [CoverageStatus; 5] = [
        CoverageStatus::Covered,
        CoverageStatus::MedicallyNecessary,
        CoverageStatus::Investigational,
        CoverageStatus::NotMedicallyNecessary,
        CoverageStatus::NotCovered,
    ];

    pub fn id(self) -> &'static str {
        match self {
            CoverageStatus::Covered => "covered",
            CoverageStatus::MedicallyNecessary => "medically-necessary",
            CoverageStatus::Investigational => "investigational",
            CoverageStatus::NotMedicallyNecessary => "not-medically-necessary",
            CoverageStatus::NotCovered => "not-covered",
        }
    }
}

/// A statement of the policy section: for which products, what status, for
/// what indication.
///
/// Which codes a statement decides, and for which diagnoses, is data here,
/// not inferred at decision time: `code_lists` binds it to code tables
/// (empty: the tables its status reaches, see [`crate::binding`]), and
/// `diagnoses` / `diagnosis_lists` bind its indication to ICD-10-CM codes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoverageStatement {
    /// Unique within the policy; citations name it.
    pub id: String,
    /// The member heading it sits under, verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading: Option<String>,
    pub products: Vec<String>,
    pub status: CoverageStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indication: Option<String>,
    /// The statement speaks for every indication that no other statement of
    /// its products binds ("… INVESTIGATIONAL for all other indications").
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub other_indications: bool,
    /// The statement as published.
    pub text: String,
    /// How the top-level criteria combine ("all of the following" or "one of
    /// the following").
    #[serde(default, skip_serializing_if = "Combine::is_all_of")]
    pub criteria_match: Combine,
    /// The criteria (for `medically-necessary`), as a tree, verbatim.
    /// `criteria = ["…", "…"]` (a flat list, the earlier form) also reads.
    #[serde(
        default,
        rename = "criterion",
        alias = "criteria",
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "criteria_serde::deserialize"
    )]
    pub criteria: Vec<Criterion>,
    /// Ids of the code lists this statement governs; empty means the lists
    /// its status reaches (see [`crate::binding`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub code_lists: Vec<String>,
    /// ICD-10-CM codes, families (`M54.5-`) or ranges (`M17.0-M17.12`) that
    /// name the indication.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnoses: Vec<String>,
    /// Ids of the ICD-10-CM code lists that name the indication.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnosis_lists: Vec<String>,
}

impl CoverageStatement {
    /// Whether diagnosis codes select this statement.
    pub fn is_bound(&self) -> bool {
        !self.diagnoses.is_empty() || !self.diagnosis_lists.is_empty()
    }

    /// Whether the statement is about one indication among others: bound to
    /// diagnoses, a catch-all, or naming an indication in words.
    pub fn is_indication_specific(&self) -> bool {
        self.is_bound() || self.other_indications || self.indication.is_some()
    }
}

/// How the items of a group of criteria combine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Combine {
    /// Every item must be met.
    #[default]
    AllOf,
    /// At least one item must be met.
    AnyOf,
}

impl Combine {
    pub fn is_all_of(&self) -> bool {
        *self == Combine::AllOf
    }

    pub fn id(self) -> &'static str {
        match self {
            Combine::AllOf => "all-of",
            Combine::AnyOf => "any-of",
        }
    }
}

/// One criterion of a statement, as published: its line, and for a line
/// that heads a group ("One of the following:") the criteria beneath it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(remote = "Self")]
pub struct Criterion {
    /// Stable within the statement (the document's own numbering where it
    /// has one, else the position: `1`, `2.1`).
    pub id: String,
    /// The line as published, without its bullet or number.
    pub text: String,
    /// How the sub-criteria combine.
    #[serde(default, rename = "match", skip_serializing_if = "Combine::is_all_of")]
    pub combine: Combine,
    #[serde(
        default,
        rename = "criterion",
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "criteria_serde::deserialize"
    )]
    pub criteria: Vec<Criterion>,
}

impl Serialize for Criterion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Criterion::serialize(self, s)
    }
}

/// Criteria read from a table each (`id`, `text`, `match`, `criterion`),
/// or from a bare string, the earlier flat form, which gets its position
/// as its id.
mod criteria_serde {
    use super::Criterion;
    use serde::de::{self, MapAccess, SeqAccess, Visitor};
    use serde::{Deserialize, Deserializer};
    use std::fmt;

    struct One;

    impl<'de> Visitor<'de> for One {
        type Value = Criterion;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a criterion: a table with id and text (and optionally match and criterion), or a string")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Criterion, E> {
            Ok(Criterion::leaf(String::new(), v))
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Criterion, A::Error> {
            Criterion::deserialize(de::value::MapAccessDeserializer::new(map))
        }
    }

    struct Item(Criterion);

    impl<'de> Deserialize<'de> for Item {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Item, D::Error> {
            d.deserialize_any(One).map(Item)
        }
    }

    struct Many;

    impl<'de> Visitor<'de> for Many {
        type Value = Vec<Criterion>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of criteria")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Criterion>, A::Error> {
            let mut out = Vec::new();
            while let Some(Item(mut c)) = seq.next_element()? {
                if c.id.is_empty() {
                    c.id = (out.len() + 1).to_string();
                }
                out.push(c);
            }
            Ok(out)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Criterion>, D::Error> {
        d.deserialize_seq(Many)
    }
}

impl<'de> Deserialize<'de> for Criterion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Criterion, D::Error> {
        Criterion::deserialize(d)
    }
}

impl Criterion {
    /// A criterion without sub-criteria.
    pub fn leaf(id: impl Into<String>, text: impl Into<String>) -> Criterion {
        Criterion {
            id: id.into(),
            text: text.into(),
            combine: Combine::AllOf,
            criteria: Vec::new(),
        }
    }

    /// This criterion and every one beneath it, depth first.
    pub fn walk(&self) -> Vec<&Criterion> {
        let mut out = vec![self];
        for c in &self.criteria {
            out.extend(c.walk());
        }
        out
    }
}

/// What a prior-authorization rule requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PaRequirement {
    Required,
    NotRequired,
    MayBeRequired,
    /// The service is not covered, so no authorization can be given.
    NotCovered,
}

impl PaRequirement {
    pub const ALL: [PaRequirement; 4] = [
        PaRequirement::Required,
        PaRequirement::NotRequired,
        PaRequirement::MayBeRequired,
        PaRequirement::NotCovered,
    ];
}

/// The prior-authorization information for one setting: an introductory
/// statement, optionally a requirement for all products, and table rows that
/// say it product by product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorAuthRule {
    pub setting: Setting,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading: Option<String>,
    pub text: String,
    /// Applies to every product without a row of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirement: Option<PaRequirement>,
    #[serde(default, rename = "row")]
    pub rows: Vec<PriorAuthRow>,
}

/// One row of a prior-authorization table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorAuthRow {
    /// The row header as printed.
    pub label: String,
    pub products: Vec<String>,
    pub requirement: PaRequirement,
    pub text: String,
}

/// A table of codes with the statement that introduces it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeList {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading: Option<String>,
    pub system: CodeSystem,
    /// The sentence that introduces the table, verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<String>,
    pub products: Vec<String>,
    /// What the introducing sentence says of the codes, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<CoverageStatus>,
    /// Column headers as printed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    pub codes: Vec<CodeEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeEntry {
    /// The code in canonical form (see [`crate::Code`]).
    pub code: String,
    pub description: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoteKind {
    /// The disclaimer that contract benefits decide coverage for a member.
    ContractBenefits,
    /// Coding guidance.
    Coding,
    /// Where Medicare Advantage members' coverage is decided.
    Medicare,
    General,
}

/// A note the policy carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Note {
    pub kind: NoteKind,
    /// The section the note is printed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    /// Products the note concerns; empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<String>,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub see_policy: Option<RelatedPolicy>,
    /// A CMS National Coverage Determination, e.g. `150.7`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub see_ncd: Option<String>,
    /// Numbers of the policy's references the note points to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub see_references: Vec<u32>,
}

/// The payer-wide links every document carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllPoliciesInfo {
    pub heading: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intro: Option<String>,
    pub links: Vec<Link>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<LinkKind>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkKind {
    /// The process by which a member may ask for an exception to a policy.
    ClinicalException,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryEntry {
    pub date: HistoryDate,
    pub action: String,
}

/// A bibliographic reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    pub number: u32,
    pub authors: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// Volume, issue and pages as printed, e.g. `2007(2): CD004059`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pmid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "iso_date_opt"
    )]
    pub accessed: Option<NaiveDate>,
}

impl Reference {
    /// The reference as printed in a policy's reference list (without its
    /// number), e.g. `Dagenais S, et al. Title. Journal. 2007; 2(1): 1-9. PMID 1`.
    /// Journals are wrapped in `emphasis` on both sides (`*` for Markdown, empty
    /// for plain text).
    pub fn to_text(&self, emphasis: &str) -> String {
        fn sentence(out: &mut String, part: &str) {
            out.push_str(part);
            if !part.ends_with(['.', '?', '!']) {
                out.push('.');
            }
        }
        let mut out = String::new();
        sentence(&mut out, &self.authors);
        out.push(' ');
        sentence(&mut out, &self.title);
        if let Some(j) = &self.journal {
            out.push_str(&format!(" {emphasis}{j}{emphasis}."));
        }
        match (&self.date, &self.locator) {
            (Some(d), Some(l)) => out.push_str(&format!(" {d}; {l}.")),
            (Some(d), None) => out.push_str(&format!(" {d}.")),
            (None, Some(l)) => out.push_str(&format!(" {l}.")),
            (None, None) => {}
        }
        if let Some(p) = &self.pmid {
            out.push_str(&format!(" PMID {p}"));
        }
        if let Some(u) = &self.url {
            out.push_str(&format!(" <{u}>."));
        }
        if let Some(a) = &self.accessed {
            out.push_str(&format!(" Accessed {}.", a.format("%B %-d, %Y")));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payer() -> Payer {
        let lob = |id: &str, market| LineOfBusiness {
            id: id.into(),
            name: id.into(),
            market,
        };
        Payer {
            id: "p".into(),
            name: "P".into(),
            region: None,
            licensee_statement: None,
            lines_of_business: vec![
                lob("hmo", Market::Commercial),
                lob("ppo", Market::Commercial),
                lob("ma", Market::MedicareAdvantage),
            ],
            product_groups: vec![
                ProductGroup {
                    id: "commercial".into(),
                    label: "Commercial".into(),
                    products: vec!["hmo".into(), "ppo".into()],
                },
                ProductGroup {
                    id: "loop".into(),
                    label: "Loop".into(),
                    products: vec!["loop".into()],
                },
            ],
        }
    }

    #[test]
    fn resolves_products_and_groups() {
        let p = payer();
        assert_eq!(p.resolve_products("ppo"), Some(ProductSet(0b010)));
        assert_eq!(p.resolve_products("commercial"), Some(ProductSet(0b011)));
        assert_eq!(p.resolve_products("all"), Some(ProductSet(0b111)));
        assert_eq!(p.resolve_products("nope"), None);
        // A group naming itself does not resolve (and does not recurse forever).
        assert_eq!(p.resolve_products("loop"), None);
    }

    fn policy(history: &[&str]) -> Policy {
        Policy {
            payer: "p".into(),
            number: "1".into(),
            title: "T".into(),
            effective: NaiveDate::from_ymd_opt(2010, 5, 1).unwrap(),
            retired: None,
            in_force_from: None,
            external_references: vec![],
            related_policies: vec![],
            description: String::new(),
            summary: String::new(),
            statements: vec![],
            prior_auth: vec![],
            coding_heading: None,
            code_lists: vec![],
            notes: vec![],
            all_policies: None,
            history: history
                .iter()
                .map(|d| HistoryEntry {
                    date: d.parse().unwrap(),
                    action: format!("action {d}"),
                })
                .collect(),
            references: vec![],
        }
    }

    #[test]
    fn versions_follow_history_from_the_effective_date() {
        let p = policy(&[
            "1/2021",
            "1/2021",
            "12/2013",
            "5/1/2010",
            "4/2010",
            "11/2011-4/2012",
        ]);
        let v = p.versions();
        let labels: Vec<&str> = v.iter().map(|v| v.label.as_str()).collect();
        assert_eq!(labels, ["5/1/2010", "11/2011-4/2012", "12/2013", "1/2021"]);
        assert_eq!(v[3].actions.len(), 2);
        let on = |y, m, d| {
            p.version_on(NaiveDate::from_ymd_opt(y, m, d).unwrap())
                .map(|v| v.label)
        };
        assert_eq!(on(2009, 12, 31), None);
        assert_eq!(on(2010, 5, 1).as_deref(), Some("5/1/2010"));
        assert_eq!(on(2015, 6, 1).as_deref(), Some("12/2013"));
        assert_eq!(on(2025, 6, 1).as_deref(), Some("1/2021"));
    }

    #[test]
    fn references_print_as_published() {
        let r = Reference {
            number: 1,
            authors: "Dagenais S, Yelland MJ, Del Mar C, et al.".into(),
            title: "Prolotherapy injections for chronic low-back pain".into(),
            journal: Some("Cochrane Database Syst Rev".into()),
            date: Some("Apr 18 2007".into()),
            locator: Some("2007(2): CD004059".into()),
            pmid: Some("17443537".into()),
            url: None,
            accessed: None,
        };
        assert_eq!(
            r.to_text("*"),
            "Dagenais S, Yelland MJ, Del Mar C, et al. Prolotherapy injections for chronic low-back pain. *Cochrane Database Syst Rev*. Apr 18 2007; 2007(2): CD004059. PMID 17443537"
        );
        let web = Reference {
            number: 39,
            authors: "North American Spine Society".into(),
            title: "Diagnosis and Treatment of Low Back Pain".into(),
            journal: None,
            date: Some("2020".into()),
            locator: None,
            pmid: None,
            url: Some("https://example.org/lbp.pdf".into()),
            accessed: NaiveDate::from_ymd_opt(2024, 9, 17),
        };
        assert_eq!(
            web.to_text(""),
            "North American Spine Society. Diagnosis and Treatment of Low Back Pain. 2020. <https://example.org/lbp.pdf>. Accessed September 17, 2024."
        );
    }

    #[test]
    fn a_policy_without_history_has_one_version() {
        let p = policy(&[]);
        let v = p.versions();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].label, "5/1/2010");
    }

    #[test]
    fn a_retired_policy_has_no_version_after_retirement() {
        let mut p = policy(&["1/2020"]);
        p.retired = NaiveDate::from_ymd_opt(2022, 1, 1);
        assert!(p
            .version_on(NaiveDate::from_ymd_opt(2021, 12, 31).unwrap())
            .is_some());
        assert!(p
            .version_on(NaiveDate::from_ymd_opt(2022, 1, 1).unwrap())
            .is_none());
    }
}

/// ISO dates (`YYYY-MM-DD`) in files and JSON, with an error that says so.
pub mod iso_date {
    use chrono::NaiveDate;
    use serde::{Deserialize, Deserializer, Serializer};

    /// The earliest year a date in medpol may name: policies and dates of
    /// service before it are typing mistakes, not history.
    pub const MIN_YEAR: i32 = 1900;

    /// The one date parser of every interface (REST, CDS Hooks, CLI, policy
    /// files, screening): exactly `YYYY-MM-DD`, four-digit year from
    /// [`MIN_YEAR`], two-digit month and day, a real calendar day; no
    /// whitespace, sign or other form. Chrono's own parser accepts `2025-6-1`
    /// and `+10000-01-01`, which the screening path refused: one rule for all.
    pub fn parse_strict(s: &str) -> Option<NaiveDate> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            b[r].iter().try_fold(0u32, |acc, c| {
                c.is_ascii_digit().then(|| acc * 10 + (c - b'0') as u32)
            })
        };
        let year = num(0..4)? as i32;
        if year < MIN_YEAR {
            return None;
        }
        NaiveDate::from_ymd_opt(year, num(5..7)?, num(8..10)?)
    }

    /// [`parse_strict`] with a message that says what would be valid (and
    /// shows at most a short, escaped excerpt of what was given).
    pub fn parse(s: &str) -> Result<NaiveDate, String> {
        parse_strict(s).ok_or_else(|| {
            format!(
                "{} is not a valid date: expected an ISO date YYYY-MM-DD from {MIN_YEAR} on (e.g. 2025-06-01)",
                crate::excerpt(s)
            )
        })
    }

    pub fn serialize<S: Serializer>(d: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&d.format("%Y-%m-%d"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        parse(&s).map_err(serde::de::Error::custom)
    }
}

/// [`iso_date`] for optional fields.
pub mod iso_date_opt {
    use chrono::NaiveDate;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<NaiveDate>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::iso_date::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
        let s = Option::<std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.map(|s| super::iso_date::parse(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
}
