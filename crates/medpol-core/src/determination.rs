//! The engine's answer: per service line, coverage, prior authorization, and
//! the policy text that says so.
//!
//! A determination borrows its text from the [`crate::Engine`] that made it,
//! so answering allocates only the small vectors that hold the references.

use chrono::NaiveDate;
use serde::Serialize;

use crate::code::{Code, Modifier};
use crate::model::{Combine, NoteKind, RelatedPolicy};
use crate::setting::Setting;

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Determination<'e> {
    pub payer: &'e str,
    pub product: &'e str,
    pub setting: Setting,
    pub date: NaiveDate,
    pub lines: Vec<LineDetermination<'e>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Coverage {
    Covered,
    /// Covered only when criteria are met, or it depends on the indication.
    Conditional,
    NotCovered,
    /// No policy in the catalogue governs the code for this product on this
    /// date. This is not a coverage decision.
    NoPolicy,
}

impl Coverage {
    /// The one order of strictness in which answers combine, within a policy
    /// (statements of equal standing that disagree) and across policies:
    /// `not-covered` > `conditional` > `covered` > `no-policy`.
    pub fn strictness(self) -> u8 {
        match self {
            Coverage::NoPolicy => 0,
            Coverage::Covered => 1,
            Coverage::Conditional => 2,
            Coverage::NotCovered => 3,
        }
    }

    /// The stricter of two answers (see [`Coverage::strictness`]).
    pub fn stricter(self, other: Coverage) -> Coverage {
        if other.strictness() > self.strictness() {
            other
        } else {
            self
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            Coverage::Covered => "covered",
            Coverage::Conditional => "conditional",
            Coverage::NotCovered => "not-covered",
            Coverage::NoPolicy => "no-policy",
        }
    }
}

/// Why a line is not (or not simply) covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Reason {
    Investigational,
    NotMedicallyNecessary,
    /// Excluded from coverage (a contract exclusion).
    Excluded,
    /// Covered when the policy's medical-necessity criteria are met.
    MedicalNecessityCriteria,
    /// The policy gives different answers for different indications and the
    /// request's diagnoses do not settle which applies.
    DependsOnIndication,
    /// The policy lists the code for the product but states no coverage.
    NoCoverageStatement,
}

impl Reason {
    pub fn id(self) -> &'static str {
        match self {
            Reason::Investigational => "investigational",
            Reason::NotMedicallyNecessary => "not-medically-necessary",
            Reason::Excluded => "excluded",
            Reason::MedicalNecessityCriteria => "medical-necessity-criteria",
            Reason::DependsOnIndication => "depends-on-indication",
            Reason::NoCoverageStatement => "no-coverage-statement",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PriorAuth {
    /// Nothing to authorize: the service is not covered, or no policy applies.
    NotApplicable,
    NoAuth,
    /// May be required (e.g. "might be required"), or the policy does not say
    /// for this setting.
    Conditional,
    AuthNeeded,
}

impl PriorAuth {
    pub fn id(self) -> &'static str {
        match self {
            PriorAuth::NotApplicable => "not-applicable",
            PriorAuth::NoAuth => "no-auth",
            PriorAuth::Conditional => "conditional",
            PriorAuth::AuthNeeded => "auth-needed",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LineDetermination<'e> {
    pub code: Code,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub modifiers: Vec<Modifier>,
    pub coverage: Coverage,
    pub reasons: Vec<Reason>,
    pub prior_auth: PriorAuth,
    pub policies: Vec<AppliedPolicy<'e>>,
    pub citations: Vec<Citation<'e>>,
    /// For a line whose coverage rests on medical-necessity criteria: the
    /// criteria, per statement, as a tree.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub criteria: Vec<CriteriaSet<'e>>,
    /// For a line whose coverage depends on the indication: the indications
    /// the policy distinguishes, with their diagnosis codes and answers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub indications: Vec<IndicationRef<'e>>,
    pub notes: Vec<DeterminationNote<'e>>,
}

impl<'e> LineDetermination<'e> {
    /// A line no policy has spoken for yet.
    pub fn empty(code: Code) -> LineDetermination<'e> {
        LineDetermination {
            code,
            modifiers: Vec::new(),
            coverage: Coverage::NoPolicy,
            reasons: Vec::new(),
            prior_auth: PriorAuth::NotApplicable,
            policies: Vec::new(),
            citations: Vec::new(),
            criteria: Vec::new(),
            indications: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Back to [`LineDetermination::empty`] for `line`, keeping the vectors' capacity.
    pub fn reset(&mut self, line: &crate::request::ServiceLine) {
        self.code = line.code;
        self.modifiers.clear();
        self.modifiers.extend_from_slice(&line.modifiers);
        self.coverage = Coverage::NoPolicy;
        self.reasons.clear();
        self.prior_auth = PriorAuth::NotApplicable;
        self.policies.clear();
        self.citations.clear();
        self.criteria.clear();
        self.indications.clear();
        self.notes.clear();
    }
}

/// A policy that governed the line, with the version in effect on the date of
/// service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppliedPolicy<'e> {
    pub payer: &'e str,
    pub number: &'e str,
    pub title: &'e str,
    /// The version label as published in the policy history, e.g. `1/2025`.
    pub version: &'e str,
    /// The day that version took effect.
    pub effective: NaiveDate,
}

/// Policy text a determination rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Citation<'e> {
    /// `payer/number` of the policy.
    pub policy: &'e str,
    pub version: &'e str,
    /// The section of the published document, e.g. `Policy`.
    pub section: &'e str,
    /// The heading within the section (member group, setting, table row).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heading: Option<&'e str>,
    /// A stable path to the statement within the policy, e.g.
    /// `statement/commercial-investigational`.
    pub path: &'e str,
    /// The statement as published, inline markup removed.
    pub text: &'e str,
    /// The statement is one of several a policy chooses between by the
    /// member's diagnosis, so citing it tells which indication the request
    /// had: the decision log withholds its path unless told to keep clinical
    /// data.
    #[serde(skip)]
    pub names_indication: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DeterminationNoteKind {
    ContractBenefits,
    Medicare,
    ClinicalException,
    Coding,
    General,
}

impl From<NoteKind> for DeterminationNoteKind {
    fn from(k: NoteKind) -> Self {
        match k {
            NoteKind::ContractBenefits => DeterminationNoteKind::ContractBenefits,
            NoteKind::Medicare => DeterminationNoteKind::Medicare,
            NoteKind::Coding => DeterminationNoteKind::Coding,
            NoteKind::General => DeterminationNoteKind::General,
        }
    }
}

/// Something the reader of a determination must know beside the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeterminationNote<'e> {
    pub kind: DeterminationNoteKind,
    pub policy: &'e str,
    pub text: &'e str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub see_policy: Option<&'e RelatedPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub see_ncd: Option<&'e str>,
}

/// One criterion as a determination shows it: the published line (markup
/// removed) and, for a group, how its sub-criteria combine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CriterionNode {
    pub id: String,
    pub text: String,
    /// `all-of` or `any-of`, for a criterion with sub-criteria.
    #[serde(rename = "match", skip_serializing_if = "Option::is_none")]
    pub combine: Option<Combine>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(no_recursion))]
    pub criteria: Vec<CriterionNode>,
}

/// The criteria of one statement that a line's coverage rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CriteriaSet<'e> {
    /// `payer/number` of the policy.
    pub policy: &'e str,
    pub version: &'e str,
    /// The statement's path, as its citation gives it.
    pub path: &'e str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indication: Option<&'e str>,
    /// How the top-level criteria combine.
    #[serde(rename = "match")]
    pub combine: Combine,
    pub criteria: &'e [CriterionNode],
}

/// An indication the policy answers for on its own, for a line whose
/// coverage depends on which one applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IndicationRef<'e> {
    pub policy: &'e str,
    /// The statement's path, as its citation gives it.
    pub path: &'e str,
    /// The indication in the statement's words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indication: Option<&'e str>,
    /// The statement covers every indication no other statement binds.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub other_indications: bool,
    /// The ICD-10-CM codes, families and ranges that select it.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub diagnoses: &'e [String],
    /// The answer for that indication.
    pub coverage: Coverage,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
}
