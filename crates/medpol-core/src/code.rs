//! Code systems (HCPCS, CPT, ICD-10-CM, ICD-10-PCS) and validated codes.
//!
//! A [`Code`] is only ever built through [`Code::parse`], so holding one means
//! its shape is valid for its system. Codes are stored inline (no heap) and in
//! a canonical form (upper case; ICD-10-CM with its dot) so that the engine's
//! index key is a single `u64`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The coding systems a medical policy lists codes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CodeSystem {
    /// HCPCS Level II (a letter A–V and four digits).
    Hcpcs,
    /// CPT (HCPCS Level I): five digits, or four digits and `F` (Category II) or `T` (Category III).
    Cpt,
    /// ICD-10-CM diagnosis codes.
    Icd10cm,
    /// ICD-10-PCS inpatient procedure codes.
    Icd10pcs,
}

impl CodeSystem {
    pub const ALL: [CodeSystem; 4] = [
        CodeSystem::Hcpcs,
        CodeSystem::Cpt,
        CodeSystem::Icd10cm,
        CodeSystem::Icd10pcs,
    ];

    /// The identifier used in files, JSON and on the command line.
    pub fn id(self) -> &'static str {
        match self {
            CodeSystem::Hcpcs => "hcpcs",
            CodeSystem::Cpt => "cpt",
            CodeSystem::Icd10cm => "icd10cm",
            CodeSystem::Icd10pcs => "icd10pcs",
        }
    }

    /// The name people use for the system.
    pub fn label(self) -> &'static str {
        match self {
            CodeSystem::Hcpcs => "HCPCS",
            CodeSystem::Cpt => "CPT",
            CodeSystem::Icd10cm => "ICD-10-CM",
            CodeSystem::Icd10pcs => "ICD-10-PCS",
        }
    }

    /// What a valid code of this system looks like, for error messages.
    pub fn shape(self) -> &'static str {
        match self {
            CodeSystem::Hcpcs => "a letter A–V followed by 4 digits (e.g. M0076)",
            CodeSystem::Cpt => "5 digits, or 4 digits followed by F or T (e.g. 99213, 0232T)",
            CodeSystem::Icd10cm => {
                "a letter, a digit and a letter or digit, optionally a dot and up to 4 letters or digits (e.g. M54.50)"
            }
            CodeSystem::Icd10pcs => "7 letters or digits, without I or O (e.g. 0SG00ZZ)",
        }
    }

    fn tag(self) -> u64 {
        match self {
            CodeSystem::Hcpcs => 1,
            CodeSystem::Cpt => 2,
            CodeSystem::Icd10cm => 3,
            CodeSystem::Icd10pcs => 4,
        }
    }

    /// Whether codes of this system name services (as opposed to diagnoses).
    pub fn is_procedure(self) -> bool {
        !matches!(self, CodeSystem::Icd10cm)
    }
}

impl fmt::Display for CodeSystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// An identifier that is not one of the code systems.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown code system {}; valid systems: hcpcs, cpt, icd10cm, icd10pcs", crate::excerpt(.0))]
pub struct UnknownCodeSystem(pub String);

impl FromStr for CodeSystem {
    type Err = UnknownCodeSystem;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let folded: String = s
            .chars()
            .filter(|c| *c != '-' && *c != '_' && *c != ' ')
            .flat_map(char::to_lowercase)
            .collect();
        match folded.as_str() {
            "hcpcs" | "hcpcs2" | "hcpcslevel2" | "hcpcslevelii" => Ok(CodeSystem::Hcpcs),
            "cpt" | "cpt4" => Ok(CodeSystem::Cpt),
            "icd10cm" | "icd10" => Ok(CodeSystem::Icd10cm),
            "icd10pcs" | "pcs" => Ok(CodeSystem::Icd10pcs),
            _ => Err(UnknownCodeSystem(s.to_string())),
        }
    }
}

/// A code whose shape is not valid for its system.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("{} is not a valid {system} code: expected {}", crate::excerpt(.input), .system.shape())]
    Malformed { system: CodeSystem, input: String },
    #[error(
        "{} is not a procedure code of any known shape: expected HCPCS ({}), CPT ({}) or ICD-10-PCS ({})",
        crate::excerpt(.input),
        CodeSystem::Hcpcs.shape(),
        CodeSystem::Cpt.shape(),
        CodeSystem::Icd10pcs.shape()
    )]
    UnknownShape { input: String },
}

const MAX_LEN: usize = 8;

/// A validated code in canonical form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code {
    system: CodeSystem,
    len: u8,
    bytes: [u8; MAX_LEN],
}

impl Code {
    /// Parses `input` as a code of `system`, accepting lower case and, for
    /// ICD-10-CM, a code written without its dot.
    pub fn parse(system: CodeSystem, input: &str) -> Result<Code, CodeError> {
        let malformed = || CodeError::Malformed {
            system,
            input: input.to_string(),
        };
        let trimmed = input.trim();
        if trimmed.is_empty() || trimmed.len() > MAX_LEN || !trimmed.is_ascii() {
            return Err(malformed());
        }
        let mut buf = [0u8; MAX_LEN];
        let mut len = 0usize;
        for b in trimmed.bytes() {
            buf[len] = b.to_ascii_uppercase();
            len += 1;
        }
        let s = &buf[..len];
        let ok = match system {
            CodeSystem::Hcpcs => {
                len == 5 && (b'A'..=b'V').contains(&s[0]) && s[1..].iter().all(u8::is_ascii_digit)
            }
            CodeSystem::Cpt => {
                len == 5
                    && s[..4].iter().all(u8::is_ascii_digit)
                    && (s[4].is_ascii_digit() || s[4] == b'F' || s[4] == b'T')
            }
            CodeSystem::Icd10pcs => {
                len == 7
                    && s.iter()
                        .all(|c| c.is_ascii_alphanumeric() && *c != b'I' && *c != b'O')
            }
            CodeSystem::Icd10cm => {
                let head_ok = len >= 3
                    && s[0].is_ascii_uppercase()
                    && s[1].is_ascii_digit()
                    && s[2].is_ascii_alphanumeric();
                if !head_ok {
                    false
                } else if len == 3 {
                    true
                } else {
                    // Canonical form keeps the dot after the category; accept it missing.
                    let tail: &[u8] = if s[3] == b'.' { &s[4..] } else { &s[3..] };
                    let tail_ok = !tail.is_empty()
                        && tail.len() <= 4
                        && tail.iter().all(u8::is_ascii_alphanumeric);
                    if tail_ok && s[3] != b'.' {
                        // Insert the dot: at most 3 + 1 + 4 = 8 bytes.
                        let mut canon = [0u8; MAX_LEN];
                        canon[..3].copy_from_slice(&s[..3]);
                        canon[3] = b'.';
                        canon[4..4 + tail.len()].copy_from_slice(tail);
                        let new_len = 4 + tail.len();
                        buf = canon;
                        len = new_len;
                    }
                    tail_ok
                }
            }
        };
        if !ok {
            return Err(malformed());
        }
        Ok(Code {
            system,
            len: len as u8,
            bytes: buf,
        })
    }

    /// Parses a procedure code, inferring its system from its shape:
    /// CPT (`99213`, `0232T`), HCPCS Level II (`M0076`) or ICD-10-PCS (7 characters).
    pub fn infer_procedure(input: &str) -> Result<Code, CodeError> {
        for system in [CodeSystem::Cpt, CodeSystem::Hcpcs, CodeSystem::Icd10pcs] {
            if let Ok(code) = Code::parse(system, input) {
                return Ok(code);
            }
        }
        Err(CodeError::UnknownShape {
            input: input.to_string(),
        })
    }

    pub fn system(&self) -> CodeSystem {
        self.system
    }

    /// The canonical text of the code.
    pub fn as_str(&self) -> &str {
        // Only ASCII bytes are ever stored.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }

    /// A key unique to (system, code), used by the engine's index.
    pub fn key(&self) -> u64 {
        // 7 bytes of code fit beside the tag; the 8th byte of an 8-byte
        // ICD-10-CM code is folded in by xor so keys stay unique per system
        // (the dot at byte 3 is constant, so dropping it loses nothing).
        let mut packed = [0u8; 7];
        let s = &self.bytes[..self.len as usize];
        let mut n = 0;
        for &b in s {
            if b == b'.' {
                continue;
            }
            packed[n] = b;
            n += 1;
        }
        let mut k = self.system.tag() << 56;
        for (i, b) in packed.iter().enumerate() {
            k |= (*b as u64) << (i * 8);
        }
        k
    }

    /// The code without its dot, as bytes: ICD-10 order is the byte order of
    /// this form (`M170` < `M1710` < `M1712`).
    fn compact(&self) -> ([u8; MAX_LEN], usize) {
        let mut out = [0u8; MAX_LEN];
        let mut n = 0;
        for &b in &self.bytes[..self.len as usize] {
            if b != b'.' {
                out[n] = b;
                n += 1;
            }
        }
        (out, n)
    }

    /// Whether this (diagnosis) code equals `pattern` or lies beneath it in the
    /// ICD-10 hierarchy (`M54.50` is under `M54` and `M54.5`).
    pub fn is_under(&self, pattern: &Code) -> bool {
        if self.system != pattern.system {
            return false;
        }
        let a = self.as_str();
        let p = pattern.as_str();
        a.starts_with(p)
    }
}

/// What a row of a diagnosis table names: a code (and the codes beneath it),
/// a family written with a trailing dash (`M54.5-`: every code under M54.5),
/// or an inclusive range (`M17.0-M17.12`: every code between the two in
/// ICD-10 order, and the codes beneath the upper bound).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodePattern {
    Code(Code),
    Family(Code),
    Range(Code, Code),
}

/// A diagnosis-table row that is neither a code, a family nor a range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} is not a valid {system} code, family or range: expected {} or a family like M54.5- or a range like M17.0-M17.12 (low end first)", crate::excerpt(.input), .system.shape())]
pub struct CodePatternError {
    pub system: CodeSystem,
    pub input: String,
}

impl CodePattern {
    pub fn parse(system: CodeSystem, input: &str) -> Result<CodePattern, CodePatternError> {
        let bad = || CodePatternError {
            system,
            input: input.to_string(),
        };
        let t = input.trim();
        // Documents print ranges with a hyphen or an en dash.
        let t_norm = t.replace('\u{2013}', "-");
        let t = t_norm.as_str();
        if let Some(head) = t.strip_suffix('-') {
            return Code::parse(system, head.trim())
                .map(CodePattern::Family)
                .map_err(|_| bad());
        }
        if let Some((lo, hi)) = t.split_once('-') {
            let lo = Code::parse(system, lo.trim()).map_err(|_| bad())?;
            let hi = Code::parse(system, hi.trim()).map_err(|_| bad())?;
            if lo.compact() > hi.compact() {
                return Err(bad());
            }
            return Ok(CodePattern::Range(lo, hi));
        }
        Code::parse(system, t)
            .map(CodePattern::Code)
            .map_err(|_| bad())
    }

    /// Whether a code is among those the pattern names.
    pub fn matches(&self, code: &Code) -> bool {
        match self {
            CodePattern::Code(p) | CodePattern::Family(p) => code.is_under(p),
            CodePattern::Range(lo, hi) => {
                code.system == lo.system && {
                    let c = code.compact();
                    (lo.compact() <= c && c <= hi.compact()) || code.is_under(hi)
                }
            }
        }
    }
}

impl fmt::Display for CodePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodePattern::Code(c) => f.write_str(c.as_str()),
            CodePattern::Family(c) => write!(f, "{}-", c.as_str()),
            CodePattern::Range(lo, hi) => write!(f, "{}-{}", lo.as_str(), hi.as_str()),
        }
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.system.id(), self.as_str())
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.system.label(), self.as_str())
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeRepr<'a> {
    system: CodeSystem,
    code: std::borrow::Cow<'a, str>,
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        CodeRepr {
            system: self.system,
            code: self.as_str().into(),
        }
        .serialize(serializer)
    }
}

/// Exactly what the OpenAPI document's patterns describe: the system's
/// shape in either case, without spaces around (which [`Code::parse`], for
/// files and the command line, trims).
impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let repr = CodeRepr::deserialize(deserializer)?;
        if repr.code.trim() != repr.code {
            return Err(serde::de::Error::custom(CodeError::Malformed {
                system: repr.system,
                input: repr.code.into_owned(),
            }));
        }
        Code::parse(repr.system, &repr.code).map_err(serde::de::Error::custom)
    }
}

/// A procedure-code modifier (two letters or digits, e.g. `RT`, `59`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Modifier([u8; 2]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} is not a valid modifier: expected 2 letters or digits (e.g. RT, 59)", crate::excerpt(.0))]
pub struct ModifierError(pub String);

impl Modifier {
    pub fn parse(input: &str) -> Result<Modifier, ModifierError> {
        let t = input.trim().as_bytes();
        if t.len() == 2 && t.iter().all(u8::is_ascii_alphanumeric) {
            Ok(Modifier([
                t[0].to_ascii_uppercase(),
                t[1].to_ascii_uppercase(),
            ]))
        } else {
            Err(ModifierError(input.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl fmt::Debug for Modifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Modifier {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Modifier {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        if s.trim() != s {
            return Err(serde::de::Error::custom(ModifierError(s.into_owned())));
        }
        Modifier::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "openapi")]
pub mod openapi {
    use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
    use utoipa::openapi::RefOr;

    use super::CodeSystem;

    impl CodeSystem {
        /// The codes [`super::Code::parse`] accepts, as a regular expression.
        pub fn pattern(self) -> &'static str {
            match self {
                CodeSystem::Hcpcs => "^[A-Va-v][0-9]{4}$",
                CodeSystem::Cpt => "^[0-9]{4}[0-9FfTt]$",
                CodeSystem::Icd10cm => "^[A-Za-z][0-9][0-9A-Za-z](\\.?[0-9A-Za-z]{1,4})?$",
                CodeSystem::Icd10pcs => "^[0-9A-HJ-NP-Za-hj-np-z]{7}$",
            }
        }

        fn example(self) -> &'static str {
            match self {
                CodeSystem::Hcpcs => "M0076",
                CodeSystem::Cpt => "20610",
                CodeSystem::Icd10cm => "M54.50",
                CodeSystem::Icd10pcs => "0SG00ZZ",
            }
        }
    }

    /// A code of one of `systems`: one alternative per system, each with the
    /// system's pattern.
    pub fn code_of(systems: &[CodeSystem], description: &str) -> RefOr<Schema> {
        let mut one_of =
            utoipa::openapi::schema::OneOfBuilder::new().description(Some(description));
        for system in systems {
            one_of = one_of.item(
                ObjectBuilder::new()
                    .property(
                        "system",
                        ObjectBuilder::new()
                            .schema_type(SchemaType::new(Type::String))
                            .enum_values(Some([system.id()])),
                    )
                    .required("system")
                    .property(
                        "code",
                        ObjectBuilder::new()
                            .schema_type(SchemaType::new(Type::String))
                            .pattern(Some(system.pattern()))
                            .examples([system.example()]),
                    )
                    .required("code")
                    .additional_properties(Some(
                        utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
                    )),
            );
        }
        one_of.into()
    }

    /// A service line's code.
    pub fn procedure_code() -> RefOr<Schema> {
        code_of(
            &[CodeSystem::Hcpcs, CodeSystem::Cpt, CodeSystem::Icd10pcs],
            "A procedure code: HCPCS, CPT or ICD-10-PCS, in its system's shape",
        )
    }

    /// The diagnoses of a request: ICD-10-CM codes.
    pub fn diagnoses() -> RefOr<Schema> {
        utoipa::openapi::schema::ArrayBuilder::new()
            .items(code_of(
                &[CodeSystem::Icd10cm],
                "An ICD-10-CM diagnosis code",
            ))
            .max_items(Some(crate::request::MAX_DIAGNOSES))
            .into()
    }

    impl utoipa::PartialSchema for super::Code {
        fn schema() -> RefOr<Schema> {
            code_of(
                &[
                    CodeSystem::Hcpcs,
                    CodeSystem::Cpt,
                    CodeSystem::Icd10cm,
                    CodeSystem::Icd10pcs,
                ],
                "A code of a code system, in the system's shape",
            )
        }
    }
    impl utoipa::ToSchema for super::Code {}

    impl utoipa::PartialSchema for super::Modifier {
        fn schema() -> RefOr<Schema> {
            ObjectBuilder::new()
                .schema_type(SchemaType::new(Type::String))
                .description(Some("A procedure-code modifier: 2 letters or digits"))
                .pattern(Some("^[0-9A-Za-z]{2}$"))
                .examples(["RT"])
                .into()
        }
    }
    impl utoipa::ToSchema for super::Modifier {}
}

#[cfg(test)]
mod tests {

    #[test]
    fn diagnosis_patterns_name_codes_families_and_ranges() {
        let cm = |s: &str| Code::parse(CodeSystem::Icd10cm, s).unwrap();
        let p = |s: &str| CodePattern::parse(CodeSystem::Icd10cm, s).unwrap();
        let range = p("M17.0-M17.12");
        for inside in ["M17.0", "M17.10", "M17.11", "M17.12", "M17.129"] {
            assert!(range.matches(&cm(inside)), "{inside}");
        }
        for outside in ["M17.2", "M17.13", "M16.9", "M17"] {
            assert!(!range.matches(&cm(outside)), "{outside}");
        }
        let family = p("M54.5-");
        assert!(family.matches(&cm("M54.50")) && family.matches(&cm("M54.5")));
        assert!(!family.matches(&cm("M54.6")));
        assert!(p("M17").matches(&cm("M17.11")));
        assert_eq!(p("m17.0 – m17.12").to_string(), "M17.0-M17.12");
        assert_eq!(p("M54.5-").to_string(), "M54.5-");
        assert!(CodePattern::parse(CodeSystem::Icd10cm, "M17.12-M17.0").is_err());
        assert!(CodePattern::parse(CodeSystem::Icd10cm, "M17.0-").is_ok());
        assert!(CodePattern::parse(CodeSystem::Icd10cm, "-").is_err());
        assert!(CodePattern::parse(CodeSystem::Icd10cm, "1234").is_err());
    }
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_documented_shapes() {
        for (sys, code) in [
            (CodeSystem::Hcpcs, "M0076"),
            (CodeSystem::Hcpcs, "A0001"),
            (CodeSystem::Hcpcs, "V5299"),
            (CodeSystem::Cpt, "99213"),
            (CodeSystem::Cpt, "0232T"),
            (CodeSystem::Cpt, "3008F"),
            (CodeSystem::Icd10cm, "M54"),
            (CodeSystem::Icd10cm, "M54.5"),
            (CodeSystem::Icd10cm, "M54.50"),
            (CodeSystem::Icd10cm, "S72.001A"),
            (CodeSystem::Icd10cm, "U07.1"),
            (CodeSystem::Icd10pcs, "0SG00ZZ"),
        ] {
            let c = Code::parse(sys, code).unwrap();
            assert_eq!(c.as_str(), code);
            assert_eq!(c.system(), sys);
        }
    }

    #[test]
    fn rejects_malformed() {
        for (sys, code) in [
            (CodeSystem::Hcpcs, "W0076"),
            (CodeSystem::Hcpcs, "M007"),
            (CodeSystem::Hcpcs, "M00761"),
            (CodeSystem::Hcpcs, "MM076"),
            (CodeSystem::Cpt, "9921"),
            (CodeSystem::Cpt, "0232X"),
            (CodeSystem::Cpt, "A9921"),
            (CodeSystem::Icd10cm, "5M4"),
            (CodeSystem::Icd10cm, "MM4"),
            (CodeSystem::Icd10cm, "M54."),
            (CodeSystem::Icd10cm, "M54.50123"),
            (CodeSystem::Icd10cm, "M54.5-"),
            (CodeSystem::Icd10pcs, "0SG00Z"),
            (CodeSystem::Icd10pcs, "0SGO0ZZ"),
            (CodeSystem::Icd10pcs, "0SGI0ZZ"),
            (CodeSystem::Icd10pcs, ""),
        ] {
            let err = Code::parse(sys, code).unwrap_err();
            assert!(err.to_string().contains(sys.shape()), "{err}");
        }
    }

    #[test]
    fn canonicalises_case_and_icd_dot() {
        assert_eq!(
            Code::parse(CodeSystem::Hcpcs, " m0076 ").unwrap().as_str(),
            "M0076"
        );
        assert_eq!(
            Code::parse(CodeSystem::Icd10cm, "m5450").unwrap().as_str(),
            "M54.50"
        );
        assert_eq!(
            Code::parse(CodeSystem::Icd10cm, "S72001A")
                .unwrap()
                .as_str(),
            "S72.001A"
        );
    }

    #[test]
    fn infers_procedure_systems() {
        assert_eq!(
            Code::infer_procedure("M0076").unwrap().system(),
            CodeSystem::Hcpcs
        );
        assert_eq!(
            Code::infer_procedure("99213").unwrap().system(),
            CodeSystem::Cpt
        );
        assert_eq!(
            Code::infer_procedure("0232T").unwrap().system(),
            CodeSystem::Cpt
        );
        assert_eq!(
            Code::infer_procedure("0SG00ZZ").unwrap().system(),
            CodeSystem::Icd10pcs
        );
        assert!(matches!(
            Code::infer_procedure("X1"),
            Err(CodeError::UnknownShape { .. })
        ));
    }

    #[test]
    fn diagnosis_hierarchy() {
        let d = Code::parse(CodeSystem::Icd10cm, "M54.50").unwrap();
        assert!(d.is_under(&Code::parse(CodeSystem::Icd10cm, "M54").unwrap()));
        assert!(d.is_under(&Code::parse(CodeSystem::Icd10cm, "M54.5").unwrap()));
        assert!(!d.is_under(&Code::parse(CodeSystem::Icd10cm, "M54.4").unwrap()));
    }

    fn hcpcs() -> impl Strategy<Value = String> {
        "[A-Va-v][0-9]{4}"
    }
    fn cpt() -> impl Strategy<Value = String> {
        "[0-9]{4}[0-9FT]"
    }
    fn icd10cm() -> impl Strategy<Value = String> {
        "[A-Z][0-9][0-9A-Z](\\.[0-9A-Z]{1,4})?"
    }
    fn icd10pcs() -> impl Strategy<Value = String> {
        "[0-9A-HJ-NP-Z]{7}"
    }

    proptest! {
        #[test]
        fn valid_codes_are_accepted_and_roundtrip(
            (sys, s) in prop_oneof![
                hcpcs().prop_map(|s| (CodeSystem::Hcpcs, s)),
                cpt().prop_map(|s| (CodeSystem::Cpt, s)),
                icd10cm().prop_map(|s| (CodeSystem::Icd10cm, s)),
                icd10pcs().prop_map(|s| (CodeSystem::Icd10pcs, s)),
            ]
        ) {
            let c = Code::parse(sys, &s).unwrap();
            prop_assert_eq!(c.as_str(), s.to_ascii_uppercase());
            let again = Code::parse(sys, c.as_str()).unwrap();
            prop_assert_eq!(again, c);
            prop_assert_eq!(again.key(), c.key());
        }

        #[test]
        fn any_input_never_panics(s in "\\PC{0,12}", sys in 0usize..4) {
            let sys = CodeSystem::ALL[sys];
            if let Ok(c) = Code::parse(sys, &s) {
                // Whatever is accepted re-parses to itself.
                prop_assert_eq!(Code::parse(sys, c.as_str()).unwrap(), c);
            }
            let _ = Code::infer_procedure(&s);
            let _ = Modifier::parse(&s);
        }

        #[test]
        fn hcpcs_letters_past_v_are_rejected(l in "[W-Z]", d in "[0-9]{4}") {
            let code = format!("{}{}", l, d);
            prop_assert!(Code::parse(CodeSystem::Hcpcs, &code).is_err());
        }

        #[test]
        fn pcs_with_i_or_o_is_rejected(pre in "[0-9A-H]{3}", bad in "[IO]", post in "[0-9A-H]{3}") {
            let code = format!("{}{}{}", pre, bad, post);
            prop_assert!(Code::parse(CodeSystem::Icd10pcs, &code).is_err());
        }

        #[test]
        fn distinct_codes_have_distinct_keys(a in icd10cm(), b in icd10cm()) {
            let ca = Code::parse(CodeSystem::Icd10cm, &a).unwrap();
            let cb = Code::parse(CodeSystem::Icd10cm, &b).unwrap();
            prop_assert_eq!(ca == cb, ca.key() == cb.key());
        }

        #[test]
        fn systems_never_share_keys(a in cpt(), b in hcpcs()) {
            let ca = Code::parse(CodeSystem::Cpt, &a).unwrap();
            let cb = Code::parse(CodeSystem::Hcpcs, &b).unwrap();
            prop_assert_ne!(ca.key(), cb.key());
        }
    }
}
