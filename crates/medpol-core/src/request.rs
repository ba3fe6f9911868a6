//! What a caller asks the engine: service lines for a member's product, in a
//! setting, on a date of service.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::code::{Code, CodeSystem, Modifier};
use crate::setting::Setting;

/// A determination request. Codes are already validated ([`Code`]); the
/// product is an id the engine resolves against the catalogue's payers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Request {
    /// The payer whose product the member holds. Optional when the product id
    /// is unique across the catalogue (or written `payer/product`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub payer: Option<String>,
    /// A line of business id, e.g. `commercial-ppo` (the service's OpenAPI
    /// document lists those of its catalogue).
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub product: String,
    pub setting: Setting,
    /// The date of service, `YYYY-MM-DD` (see [`crate::model::iso_date`]).
    #[serde(alias = "date_of_service", with = "crate::model::iso_date")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date, example = "2025-06-01",
        pattern = "^(19|[2-9][0-9])[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"))]
    pub date: NaiveDate,
    /// One to [`MAX_LINES`] service lines.
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 1000))]
    pub lines: Vec<ServiceLine>,
    /// ICD-10-CM diagnoses for the encounter (at most [`MAX_DIAGNOSES`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::code::openapi::diagnoses))]
    pub diagnoses: Vec<Code>,
}

/// One service: a procedure code and its modifiers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceLine {
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::code::openapi::procedure_code))]
    pub code: Code,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modifiers: Vec<Modifier>,
}

impl ServiceLine {
    pub fn new(code: Code) -> ServiceLine {
        ServiceLine {
            code,
            modifiers: Vec::new(),
        }
    }
}

/// A request the engine cannot answer as asked. Each says what would be valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("unknown product {}; {}", crate::excerpt(.product), valid_list("products", .valid))]
    UnknownProduct { product: String, valid: Vec<String> },
    #[error("product {} is offered by several payers ({}); name the payer (e.g. `{}/{product}`)", crate::excerpt(.product), .payers.join(", "), .payers[0])]
    AmbiguousProduct {
        product: String,
        payers: Vec<String>,
    },
    #[error("unknown payer {}; {}", crate::excerpt(.payer), valid_list("payers", .valid))]
    UnknownPayer { payer: String, valid: Vec<String> },
    #[error("the request has no service lines; give at least one procedure code")]
    NoLines,
    #[error("the request has {count} service lines; at most {MAX_LINES} are decided per request (split it)")]
    TooManyLines { count: usize },
    #[error("the request has {count} diagnoses; at most {MAX_DIAGNOSES} are taken per request")]
    TooManyDiagnoses { count: usize },
    #[error("line {line}: {code:?} is a diagnosis code; service lines take HCPCS, CPT or ICD-10-PCS codes (diagnoses go in `diagnoses`)")]
    DiagnosisAsService { line: usize, code: Code },
    #[error("diagnosis {index}: {code:?} is not ICD-10-CM; diagnoses must be ICD-10-CM codes (e.g. M54.50)")]
    NotADiagnosis { index: usize, code: Code },
}

/// The most service lines one request may carry: above an X12 837
/// institutional claim's 999, so any claim fits, yet an answer (about 1.2 kB
/// a line) stays near a megabyte.
pub const MAX_LINES: usize = 1000;
/// The most diagnoses one request may carry (an 837 claim carries at most 25).
pub const MAX_DIAGNOSES: usize = 100;

fn valid_list(what: &str, valid: &[String]) -> String {
    if valid.is_empty() {
        format!("the catalogue has no {what} at all (were any policies loaded? see --policies)")
    } else {
        format!("valid {what}: {}", valid.join(", "))
    }
}

impl Request {
    /// Checks what the types cannot: one to [`MAX_LINES`] lines, procedure
    /// systems on lines, at most [`MAX_DIAGNOSES`] ICD-10-CM diagnoses.
    pub fn check(&self) -> Result<(), RequestError> {
        if self.lines.is_empty() {
            return Err(RequestError::NoLines);
        }
        if self.lines.len() > MAX_LINES {
            return Err(RequestError::TooManyLines {
                count: self.lines.len(),
            });
        }
        if self.diagnoses.len() > MAX_DIAGNOSES {
            return Err(RequestError::TooManyDiagnoses {
                count: self.diagnoses.len(),
            });
        }
        for (i, line) in self.lines.iter().enumerate() {
            if !line.code.system().is_procedure() {
                return Err(RequestError::DiagnosisAsService {
                    line: i + 1,
                    code: line.code,
                });
            }
        }
        for (i, d) in self.diagnoses.iter().enumerate() {
            if d.system() != CodeSystem::Icd10cm {
                return Err(RequestError::NotADiagnosis {
                    index: i + 1,
                    code: *d,
                });
            }
        }
        Ok(())
    }
}
