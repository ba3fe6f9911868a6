//! X12 837 claims in: the product map (which line of business a claim is
//! for), the setting of an institutional claim, and turning a service line
//! read by `medpol-x12` into a decidable [`ClaimLine`] (or a precise error).
//!
//! The mapping field by field is in docs/screening.md.

use std::borrow::Cow;
use std::path::Path;

use medpol_core::code::{Code, CodeSystem, Modifier};
use medpol_core::request::ServiceLine;
use medpol_core::{Engine, ProductRef, Setting};
use medpol_x12::{Claim, ClaimKind};
use serde::Deserialize;

use crate::input::{ClaimLine, LineError, ProductCache};

/// The map bundled for the bundled payer (BCBSMA).
pub const DEFAULT_PRODUCT_MAP: &str = include_str!("../x12-product-map.toml");

/// Ordered rules from what a claim says of the subscriber's plan to a
/// payer's line of business; the first rule that matches wins.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductMap {
    #[serde(rename = "rule", default)]
    pub rules: Vec<ProductRule>,
}

/// A rule matches when every criterion it gives matches (a list matches
/// when any of its entries does).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductRule {
    pub payer: String,
    pub product: String,
    /// Words found, case-insensitively, in the payer's name (NM1*PR NM103).
    #[serde(default)]
    pub payer_name: Vec<String>,
    /// The payer's identifier (NM1*PR NM109), exactly.
    #[serde(default)]
    pub payer_id: Vec<String>,
    /// The claim filing indicator (SBR09), exactly.
    #[serde(default)]
    pub filing_indicator: Vec<String>,
    /// The group number (SBR03), exactly, or a prefix written `ABC*`.
    #[serde(default)]
    pub group: Vec<String>,
}

impl ProductMap {
    pub fn parse(text: &str) -> Result<ProductMap, String> {
        let mut map: ProductMap = toml::from_str(text).map_err(|e| e.to_string())?;
        // Matching runs once per claim: fold case and trim here, once.
        for r in &mut map.rules {
            for w in &mut r.payer_name {
                *w = w.trim().to_ascii_lowercase();
            }
            for list in [&mut r.payer_id, &mut r.filing_indicator] {
                for w in list.iter_mut() {
                    *w = w.trim().to_string();
                }
            }
        }
        Ok(map)
    }

    pub fn load(path: &Path) -> Result<ProductMap, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        ProductMap::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Checks that every rule names a product the catalogue knows.
    pub fn check(&self, engine: &Engine) -> Result<(), String> {
        for (i, r) in self.rules.iter().enumerate() {
            engine
                .resolve_product(Some(&r.payer), &r.product)
                .map_err(|e| format!("product map rule {}: {e}", i + 1))?;
        }
        Ok(())
    }

    /// The (payer, product) of a claim, if a rule matches.
    pub fn resolve(&self, claim: &Claim) -> Option<(&str, &str)> {
        self.rules
            .iter()
            .find(|r| r.matches(claim))
            .map(|r| (r.payer.as_str(), r.product.as_str()))
    }
}

impl ProductRule {
    fn matches(&self, c: &Claim) -> bool {
        // The rule's words were trimmed and lower-cased by `ProductMap::parse`.
        let exact = |wanted: &[String], got: &Option<String>| {
            wanted.is_empty()
                || got
                    .as_deref()
                    .is_some_and(|g| wanted.iter().any(|w| w == g.trim()))
        };
        let name_ok = self.payer_name.is_empty()
            || c.payer_name.as_deref().is_some_and(|n| {
                self.payer_name
                    .iter()
                    .any(|w| contains_ignoring_ascii_case(n.as_bytes(), w.as_bytes()))
            });
        let group_ok = self.group.is_empty()
            || c.group_number.as_deref().is_some_and(|g| {
                self.group.iter().any(|w| match w.strip_suffix('*') {
                    Some(prefix) => g.starts_with(prefix),
                    None => g == w,
                })
            });
        name_ok
            && group_ok
            && exact(&self.payer_id, &c.payer_id)
            && exact(&self.filing_indicator, &c.filing_indicator)
    }
}

/// Whether `hay` contains `lower` (already lower case), ASCII case ignored,
/// without allocating.
fn contains_ignoring_ascii_case(hay: &[u8], lower: &[u8]) -> bool {
    lower.is_empty()
        || hay.windows(lower.len()).any(|w| {
            w.iter()
                .zip(lower)
                .all(|(a, b)| a.to_ascii_lowercase() == *b)
        })
}

/// The setting of an institutional claim from its facility type code
/// (CLM05-1: the bill type's facility and classification digits). Inpatient:
/// hospitals (1x), skilled nursing (2x), religious non-medical (4x) and
/// intermediate care (6x) billing an inpatient classification (x1, x2) or a
/// swing bed (x8). Everything else (outpatient x3, other x4, clinics 7x,
/// special facilities 8x, home health 3x) is outpatient.
pub fn facility_setting(code: &str) -> Option<Setting> {
    let b = code.trim().as_bytes();
    if b.len() != 2 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let inpatient = matches!(b[0], b'1' | b'2' | b'4' | b'6') && matches!(b[1], b'1' | b'2' | b'8');
    Some(if inpatient {
        Setting::Inpatient
    } else {
        Setting::Outpatient
    })
}

fn err(field: &'static str, message: impl Into<String>) -> LineError {
    LineError {
        field,
        message: message.into(),
    }
}

/// How the member's product is found for X12 claims.
pub enum ProductSource<'m> {
    /// `--product`: one product for the whole file.
    Forced {
        payer: Option<String>,
        product: String,
    },
    Map(&'m ProductMap),
}

/// What every line of a claim shares, worked out once per claim: the
/// member's product, the institutional setting, and (in the caller's
/// scratch buffer) the diagnoses.
pub struct ClaimContext {
    product: ProductRef,
    setting: Option<Setting>,
}

/// The claim-level part of a decision: the product (from `--product` or
/// the product map), an institutional claim's setting, and its diagnoses,
/// parsed into `diagnoses`.
pub fn claim_context(
    claim: &Claim,
    source: &ProductSource<'_>,
    engine: &Engine,
    products: &mut ProductCache,
    diagnoses: &mut Vec<Code>,
) -> Result<ClaimContext, LineError> {
    let product = match source {
        ProductSource::Forced { payer, product } => {
            products.resolve(engine, payer.as_deref(), product)?
        }
        ProductSource::Map(map) => {
            let Some((payer, product)) = map.resolve(claim) else {
                let show = |v: &Option<String>| v.as_deref().unwrap_or("none").to_string();
                return Err(err(
                    "product",
                    format!(
                        "the claim maps to no product: payer `{}` (id {}), filing indicator (SBR09) {}, group (SBR03) {}; add a rule to the product map (--product-map) or give --product",
                        show(&claim.payer_name),
                        show(&claim.payer_id),
                        show(&claim.filing_indicator),
                        show(&claim.group_number)
                    ),
                ));
            };
            products.resolve(engine, Some(payer), product)?
        }
    };
    let setting = match claim.kind {
        ClaimKind::Professional => None,
        ClaimKind::Institutional => {
            let f = claim.facility_type.as_deref().unwrap_or("");
            Some(facility_setting(f).ok_or_else(|| {
                err(
                    "facility_type",
                    format!("`{f}` is not a facility type code (CLM05-1, two digits of the bill type, e.g. 11 or 13)"),
                )
            })?)
        }
    };
    diagnoses.clear();
    for d in &claim.diagnoses {
        let code =
            Code::parse(CodeSystem::Icd10cm, d).map_err(|e| err("diagnoses", e.to_string()))?;
        diagnoses.push(code);
    }
    Ok(ClaimContext { product, setting })
}

/// Turns service line `li` of `claim` into a decidable line, given what its
/// claim shares ([`claim_context`]).
pub fn claim_line<'s>(
    claim: &'s Claim,
    li: usize,
    ctx: &ClaimContext,
    diagnoses: &'s [Code],
) -> Result<ClaimLine<'s>, LineError> {
    let line = &claim.lines[li];
    let setting = match ctx.setting {
        Some(s) => s,
        None => {
            let pos = line
                .place_of_service
                .as_deref()
                .or(claim.place_of_service.as_deref())
                .ok_or_else(|| err("place_of_service", "no place of service (CLM05-1 or SV105)"))?;
            Setting::from_place_of_service(pos)
                .map_err(|e| err("place_of_service", e.to_string()))?
        }
    };
    let date = line.date.or(claim.statement_from).ok_or_else(|| {
        err(
            "date_of_service",
            "no date of service (DTP*472 on the line, or DTP*434 on an institutional claim)",
        )
    })?;
    let Some(procedure) = line.procedure.as_deref() else {
        return Err(err(
            "code",
            format!(
                "the line has a revenue code ({}) and no procedure code: there is nothing a medical policy decides",
                line.revenue_code.as_deref().unwrap_or("none")
            ),
        ));
    };
    // Qualifier HC: a HCPCS Level II or CPT code, told apart by shape.
    let code = Code::infer_procedure(procedure).map_err(|e| err("code", e.to_string()))?;
    let modifiers = line
        .modifiers
        .iter()
        .map(|m| Modifier::parse(m).map_err(|e| err("modifiers", e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ClaimLine {
        claim_id: Cow::Borrowed(&claim.id),
        line: line.number,
        product: ctx.product,
        setting,
        date,
        service: ServiceLine { code, modifiers },
        diagnoses,
        segment: Some(line.segment),
        has_auth_number: Some(claim.prior_auth_number.is_some()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facility_types() {
        assert_eq!(facility_setting("11"), Some(Setting::Inpatient));
        assert_eq!(facility_setting("13"), Some(Setting::Outpatient));
        assert_eq!(facility_setting("18"), Some(Setting::Inpatient));
        assert_eq!(facility_setting("21"), Some(Setting::Inpatient));
        assert_eq!(facility_setting("83"), Some(Setting::Outpatient));
        assert_eq!(facility_setting("71"), Some(Setting::Outpatient));
        assert_eq!(facility_setting("1"), None);
        assert_eq!(facility_setting("AB"), None);
    }

    #[test]
    fn payer_names_match_as_words_in_any_case() {
        assert!(contains_ignoring_ascii_case(
            b"Blue Cross Blue SHIELD of MA",
            b"blue shield"
        ));
        assert!(contains_ignoring_ascii_case(b"anything", b""));
        assert!(!contains_ignoring_ascii_case(b"Blue", b"blue cross"));
        let m = ProductMap::parse(
            "[[rule]]\npayer = \"p\"\nproduct = \"x\"\npayer_name = [\" Blue CROSS \"]\nfiling_indicator = [\" CI \"]\n",
        )
        .unwrap();
        assert_eq!(m.rules[0].payer_name, ["blue cross"]);
        assert_eq!(m.rules[0].filing_indicator, ["CI"]);
    }

    #[test]
    fn the_bundled_map_parses() {
        let m = ProductMap::parse(DEFAULT_PRODUCT_MAP).unwrap();
        assert!(m.rules.len() >= 6);
    }
}
