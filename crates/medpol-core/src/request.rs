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
    pub payer: Option<String>,
    /// A line of business id, e.g. `commercial-ppo`.
    pub product: String,
    pub setting: Setting,
    #[serde(alias = "date_of_service")]
    pub date: NaiveDate,
    pub lines: Vec<ServiceLine>,
    /// ICD-10-CM diagnoses for the encounter.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnoses: Vec<Code>,
}

/// One service: a procedure code and its modifiers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceLine {
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
    #[error("unknown product `{product}`; valid products: {}", .valid.join(", "))]
    UnknownProduct { product: String, valid: Vec<String> },
    #[error("product `{product}` is offered by several payers ({}); name the payer (e.g. `{}/{product}`)", .payers.join(", "), .payers[0])]
    AmbiguousProduct {
        product: String,
        payers: Vec<String>,
    },
    #[error("unknown payer `{payer}`; valid payers: {}", .valid.join(", "))]
    UnknownPayer { payer: String, valid: Vec<String> },
    #[error("the request has no service lines; give at least one procedure code")]
    NoLines,
    #[error("line {line}: {code:?} is a diagnosis code; service lines take HCPCS, CPT or ICD-10-PCS codes (diagnoses go in `diagnoses`)")]
    DiagnosisAsService { line: usize, code: Code },
    #[error("diagnosis {index}: {code:?} is not ICD-10-CM; diagnoses must be ICD-10-CM codes (e.g. M54.50)")]
    NotADiagnosis { index: usize, code: Code },
}

impl Request {
    /// Checks what the types cannot: at least one line, procedure systems on
    /// lines, ICD-10-CM for diagnoses.
    pub fn check(&self) -> Result<(), RequestError> {
        if self.lines.is_empty() {
            return Err(RequestError::NoLines);
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
