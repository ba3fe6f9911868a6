//! Claim lines in: the documented schema, its CSV header and NDJSON keys, and
//! turning one record into a decidable line (or a precise error).

use std::borrow::Cow;

use chrono::NaiveDate;
use medpol_core::code::{Code, CodeSystem, Modifier};
use medpol_core::request::ServiceLine;
use medpol_core::{Engine, ProductRef, Setting};
use rustc_hash::FxHashMap;
use serde::Deserialize;

/// The columns of the input schema. CSV headers are matched without regard
/// to case, spaces or dashes; the aliases in [`Field::names`] are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    ClaimId,
    Line,
    Payer,
    Product,
    DateOfService,
    PlaceOfService,
    Setting,
    Code,
    CodeSystem,
    Modifiers,
    Diagnoses,
    Units,
}

impl Field {
    pub const ALL: [Field; 12] = [
        Field::ClaimId,
        Field::Line,
        Field::Payer,
        Field::Product,
        Field::DateOfService,
        Field::PlaceOfService,
        Field::Setting,
        Field::Code,
        Field::CodeSystem,
        Field::Modifiers,
        Field::Diagnoses,
        Field::Units,
    ];

    /// The canonical name first, then accepted aliases.
    pub fn names(self) -> &'static [&'static str] {
        match self {
            Field::ClaimId => &["claim_id", "claim"],
            Field::Line => &["line", "line_number", "claim_line"],
            Field::Payer => &["payer"],
            Field::Product => &["product", "line_of_business", "lob"],
            Field::DateOfService => &["date_of_service", "dos", "service_date"],
            Field::PlaceOfService => &["place_of_service", "pos"],
            Field::Setting => &["setting"],
            Field::Code => &["code", "procedure_code"],
            Field::CodeSystem => &["code_system", "system"],
            Field::Modifiers => &["modifiers"],
            Field::Diagnoses => &["diagnoses", "diagnosis_codes"],
            Field::Units => &["units"],
        }
    }

    pub fn name(self) -> &'static str {
        self.names()[0]
    }

    fn required(self) -> bool {
        matches!(
            self,
            Field::ClaimId | Field::Line | Field::Product | Field::DateOfService | Field::Code
        )
    }
}

fn fold(h: &str) -> String {
    h.trim()
        .trim_start_matches('\u{feff}')
        .chars()
        .map(|c| {
            if c == '-' || c == ' ' {
                '_'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// Where each field sits in a CSV record.
#[derive(Debug, Clone)]
pub struct Columns {
    index: [Option<usize>; 12],
    pub count: usize,
}

impl Columns {
    /// Maps a CSV header. Fails, naming what is missing and what the schema
    /// is, when a required column is absent.
    pub fn from_header(header: &[&str]) -> Result<Columns, String> {
        let mut index = [None; 12];
        for (i, h) in header.iter().enumerate() {
            let h = fold(h);
            if let Some(f) = Field::ALL
                .iter()
                .position(|f| f.names().contains(&h.as_str()))
            {
                if index[f].is_some() {
                    return Err(format!(
                        "column `{}` appears twice in the header",
                        Field::ALL[f].name()
                    ));
                }
                index[f] = Some(i);
            }
        }
        let missing: Vec<&str> = Field::ALL
            .iter()
            .enumerate()
            .filter(|(i, f)| f.required() && index[*i].is_none())
            .map(|(_, f)| f.name())
            .collect();
        let no_setting = index[Field::PlaceOfService as usize].is_none()
            && index[Field::Setting as usize].is_none();
        if !missing.is_empty() || no_setting {
            let mut what = missing.join(", ");
            if no_setting {
                if !what.is_empty() {
                    what.push_str(", ");
                }
                what.push_str("place_of_service or setting");
            }
            return Err(format!(
                "the header lacks {what}; columns are: {} (see docs/screening.md)",
                Field::ALL
                    .iter()
                    .map(|f| f.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(Columns {
            index,
            count: header.len(),
        })
    }

    fn get<'r>(&self, record: &'r csv::ByteRecord, f: Field) -> Option<&'r [u8]> {
        self.index[f as usize].and_then(|i| record.get(i))
    }
}

/// A claim line ready to decide.
pub struct ClaimLine<'a> {
    pub claim_id: Cow<'a, str>,
    pub line: u32,
    pub product: ProductRef,
    pub setting: Setting,
    pub date: NaiveDate,
    pub service: ServiceLine,
    /// Borrowed from the worker's scratch buffer, reused line after line.
    pub diagnoses: &'a [Code],
    /// X12 input: the number of the segment where the line starts (LX).
    pub segment: Option<u64>,
    /// X12 input: whether the claim carries a prior-authorization number (REF*G1).
    pub has_auth_number: Option<bool>,
}

/// A field that does not parse, with what would be valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub field: &'static str,
    pub message: String,
}

fn err(field: Field, message: impl Into<String>) -> LineError {
    LineError {
        field: field.name(),
        message: message.into(),
    }
}

fn text(field: Field, bytes: &[u8]) -> Result<&str, LineError> {
    std::str::from_utf8(bytes)
        .map(str::trim)
        .map_err(|_| err(field, "is not valid UTF-8"))
}

/// `YYYY-MM-DD`: the one strict parser every interface uses.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    medpol_core::model::iso_date::parse_strict(s)
}

/// Resolves product ids once per distinct (payer, product) seen.
#[derive(Default)]
pub struct ProductCache {
    map: FxHashMap<String, ProductRef>,
    key: String,
}

impl ProductCache {
    pub(crate) fn resolve(
        &mut self,
        engine: &Engine,
        payer: Option<&str>,
        product: &str,
    ) -> Result<ProductRef, LineError> {
        self.key.clear();
        self.key.push_str(payer.unwrap_or(""));
        self.key.push('\0');
        self.key.push_str(product);
        if let Some(p) = self.map.get(self.key.as_str()) {
            return Ok(*p);
        }
        let resolved = engine
            .resolve_product(payer, product)
            .map_err(|e| err(Field::Product, e.to_string()))?;
        self.map.insert(self.key.clone(), resolved);
        Ok(resolved)
    }
}

/// The raw text of one claim line's fields, from CSV or NDJSON.
pub struct RawLine<'a> {
    pub claim_id: Cow<'a, str>,
    pub line: Cow<'a, str>,
    pub payer: Option<Cow<'a, str>>,
    pub product: Cow<'a, str>,
    pub date: Cow<'a, str>,
    pub pos: Option<Cow<'a, str>>,
    pub setting: Option<Cow<'a, str>>,
    pub code: Cow<'a, str>,
    pub system: Option<Cow<'a, str>>,
    /// Separated by `;`, space or `|`.
    pub modifiers: Cow<'a, str>,
    /// Separated by `;`, space or `|`.
    pub diagnoses: Cow<'a, str>,
    pub units: Option<Cow<'a, str>>,
}

fn split_list(s: &str) -> impl Iterator<Item = &str> {
    s.split([';', ' ', '|'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
}

impl<'a> RawLine<'a> {
    /// The fields of a CSV record.
    pub fn from_csv(
        columns: &Columns,
        record: &'a csv::ByteRecord,
    ) -> Result<RawLine<'a>, LineError> {
        let get = |f: Field| -> Result<Option<&'a str>, LineError> {
            columns
                .get(record, f)
                .map(|b| text(f, b))
                .transpose()
                .map(|o| o.filter(|s| !s.is_empty()))
        };
        let need =
            |f: Field| -> Result<&'a str, LineError> { get(f)?.ok_or_else(|| err(f, "is empty")) };
        Ok(RawLine {
            claim_id: need(Field::ClaimId)?.into(),
            line: need(Field::Line)?.into(),
            payer: get(Field::Payer)?.map(Cow::Borrowed),
            product: need(Field::Product)?.into(),
            date: need(Field::DateOfService)?.into(),
            pos: get(Field::PlaceOfService)?.map(Cow::Borrowed),
            setting: get(Field::Setting)?.map(Cow::Borrowed),
            code: need(Field::Code)?.into(),
            system: get(Field::CodeSystem)?.map(Cow::Borrowed),
            modifiers: get(Field::Modifiers)?.unwrap_or_default().into(),
            diagnoses: get(Field::Diagnoses)?.unwrap_or_default().into(),
            units: get(Field::Units)?.map(Cow::Borrowed),
        })
    }

    /// The fields of an NDJSON object (keys as in the CSV schema; lists may be
    /// arrays or `;`-separated strings; numbers may be numbers or strings).
    pub fn from_json(line: &'a [u8]) -> Result<RawLine<'a>, LineError> {
        let j: JsonLine<'a> = serde_json::from_slice(line).map_err(|e| LineError {
            field: "json",
            message: format!("not a claim-line object: {e}"),
        })?;
        let need = |f: Field, v: Option<Scalar<'a>>| -> Result<Cow<'a, str>, LineError> {
            v.map(Scalar::into_text)
                .filter(|s| !s.trim().is_empty())
                .ok_or_else(|| err(f, "is missing"))
        };
        Ok(RawLine {
            claim_id: need(Field::ClaimId, j.claim_id)?,
            line: need(Field::Line, j.line)?,
            payer: j.payer.map(Scalar::into_text),
            product: need(Field::Product, j.product)?,
            date: need(Field::DateOfService, j.date_of_service)?,
            pos: j.place_of_service.map(Scalar::into_text),
            setting: j.setting.map(Scalar::into_text),
            code: need(Field::Code, j.code)?,
            system: j.code_system.map(Scalar::into_text),
            modifiers: j.modifiers.map(List::joined).unwrap_or_default(),
            diagnoses: j.diagnoses.map(List::joined).unwrap_or_default(),
            units: j.units.map(Scalar::into_text),
        })
    }

    /// Validates every field and resolves the product. Diagnoses are parsed
    /// into `scratch`, which the returned line borrows.
    pub fn parse<'s>(
        &'s self,
        engine: &Engine,
        products: &mut ProductCache,
        scratch: &'s mut Vec<Code>,
    ) -> Result<ClaimLine<'s>, LineError> {
        // A claim id is copied into the output: no control characters (a NUL
        // or a line break there would corrupt it for whoever reads it next).
        if let Some(c) = self.claim_id.chars().find(|c| c.is_control()) {
            return Err(err(
                Field::ClaimId,
                format!(
                    "contains a control character (U+{:04X}); claim ids are printable text",
                    c as u32
                ),
            ));
        }
        let line: u32 = self.line.trim().parse().map_err(|_| {
            err(
                Field::Line,
                format!("`{}` is not a line number (a whole number ≥ 1)", self.line),
            )
        })?;
        if line == 0 {
            return Err(err(Field::Line, "line numbers start at 1"));
        }
        let date = parse_date(self.date.trim()).ok_or_else(|| {
            err(
                Field::DateOfService,
                format!("`{}` is not a valid date: expected YYYY-MM-DD", self.date),
            )
        })?;
        let setting = match (&self.pos, &self.setting) {
            (Some(pos), _) => Setting::from_place_of_service(pos)
                .map_err(|e| err(Field::PlaceOfService, e.to_string()))?,
            (None, Some(s)) => s.parse().map_err(|e: medpol_core::setting::SettingError| {
                err(Field::Setting, e.to_string())
            })?,
            (None, None) => {
                return Err(err(
                    Field::PlaceOfService,
                    "is empty (give place_of_service or setting)",
                ))
            }
        };
        let code = match &self.system {
            Some(s) => {
                let system: CodeSystem =
                    s.parse()
                        .map_err(|e: medpol_core::code::UnknownCodeSystem| {
                            err(Field::CodeSystem, e.to_string())
                        })?;
                Code::parse(system, &self.code)
            }
            None => Code::infer_procedure(&self.code),
        }
        .map_err(|e| err(Field::Code, e.to_string()))?;
        if !code.system().is_procedure() {
            return Err(err(
                Field::Code,
                format!("{code:?} is a diagnosis; procedure codes are HCPCS, CPT or ICD-10-PCS"),
            ));
        }
        let modifiers = split_list(&self.modifiers)
            .map(|m| Modifier::parse(m).map_err(|e| err(Field::Modifiers, e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        scratch.clear();
        for d in split_list(&self.diagnoses) {
            let code = Code::parse(CodeSystem::Icd10cm, d)
                .map_err(|e| err(Field::Diagnoses, e.to_string()))?;
            scratch.push(code);
        }
        if let Some(u) = &self.units {
            match u.trim().parse::<f64>() {
                Ok(n) if n > 0.0 && n.is_finite() => {}
                _ => {
                    return Err(err(
                        Field::Units,
                        format!("`{u}` is not a positive number of units"),
                    ))
                }
            }
        }
        let product = products.resolve(engine, self.payer.as_deref(), self.product.trim())?;
        Ok(ClaimLine {
            claim_id: Cow::Borrowed(&self.claim_id),
            line,
            product,
            setting,
            date,
            service: ServiceLine { code, modifiers },
            diagnoses: scratch,
            segment: None,
            has_auth_number: None,
        })
    }
}

/// A JSON value where a string is expected: numbers are accepted as text.
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar<'a> {
    #[serde(borrow)]
    Text(Cow<'a, str>),
    Int(i64),
    Float(f64),
}

impl<'a> Scalar<'a> {
    fn into_text(self) -> Cow<'a, str> {
        match self {
            Scalar::Text(t) => t,
            Scalar::Int(i) => Cow::Owned(i.to_string()),
            Scalar::Float(f) => Cow::Owned(f.to_string()),
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum List<'a> {
    #[serde(borrow)]
    Items(Vec<Cow<'a, str>>),
    #[serde(borrow)]
    Joined(Cow<'a, str>),
}

impl<'a> List<'a> {
    fn joined(self) -> Cow<'a, str> {
        match self {
            List::Items(v) => Cow::Owned(v.join(";")),
            List::Joined(s) => s,
        }
    }
}

#[derive(Deserialize)]
struct JsonLine<'a> {
    #[serde(borrow, default, alias = "claim")]
    claim_id: Option<Scalar<'a>>,
    #[serde(borrow, default, alias = "line_number", alias = "claim_line")]
    line: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    payer: Option<Scalar<'a>>,
    #[serde(borrow, default, alias = "line_of_business", alias = "lob")]
    product: Option<Scalar<'a>>,
    #[serde(borrow, default, alias = "dos", alias = "service_date")]
    date_of_service: Option<Scalar<'a>>,
    #[serde(borrow, default, alias = "pos")]
    place_of_service: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    setting: Option<Scalar<'a>>,
    #[serde(borrow, default, alias = "procedure_code")]
    code: Option<Scalar<'a>>,
    #[serde(borrow, default, alias = "system")]
    code_system: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    modifiers: Option<List<'a>>,
    #[serde(borrow, default, alias = "diagnosis_codes")]
    diagnoses: Option<List<'a>>,
    #[serde(borrow, default)]
    units: Option<Scalar<'a>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(
            parse_date("2025-06-01"),
            NaiveDate::from_ymd_opt(2025, 6, 1)
        );
        for bad in [
            "2025-6-01",
            "2025-02-30",
            "20250601",
            "2025/06/01",
            "abcd-ef-gh",
            "",
            "0000-01-01",
            "+10000-01-01",
            " 2025-06-01",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn header_aliases_and_missing_columns() {
        let c = Columns::from_header(&[
            "Claim ID",
            "LINE",
            "Product",
            "DOS",
            "POS",
            "Procedure-Code",
        ])
        .unwrap();
        assert_eq!(c.count, 6);
        let e = Columns::from_header(&["claim_id", "line", "code"]).unwrap_err();
        assert!(
            e.contains("product, date_of_service, place_of_service or setting"),
            "{e}"
        );
        let e =
            Columns::from_header(&["claim_id", "claim", "line", "product", "dos", "pos", "code"])
                .unwrap_err();
        assert!(e.contains("twice"), "{e}");
    }
}
