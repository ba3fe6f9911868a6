//! The setting a service is performed in, and the mapping from CMS
//! place-of-service codes to it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a service is performed, as medical policies distinguish it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Setting {
    Inpatient,
    Outpatient,
}

impl Setting {
    pub fn id(self) -> &'static str {
        match self {
            Setting::Inpatient => "inpatient",
            Setting::Outpatient => "outpatient",
        }
    }

    /// The setting of a CMS place-of-service code (two digits).
    ///
    /// Inpatient: 21 (inpatient hospital), 51 (inpatient psychiatric facility)
    /// and 61 (comprehensive inpatient rehabilitation facility): the places
    /// where a member is admitted to a hospital-level stay. Every other code
    /// CMS has assigned is outpatient, including facility residences (31–34,
    /// 54–56) and partial hospitalisation (52), which policies' inpatient
    /// precertification rules do not cover. Unassigned codes are an error, not
    /// a guess.
    pub fn from_place_of_service(code: &str) -> Result<Setting, SettingError> {
        let t = code.trim();
        let n: u8 = if t.len() == 2 && t.bytes().all(|b| b.is_ascii_digit()) {
            t.parse().unwrap_or(0)
        } else {
            0
        };
        match n {
            21 | 51 | 61 => Ok(Setting::Inpatient),
            1..=20
            | 22..=27
            | 31..=34
            | 41
            | 42
            | 49
            | 50
            | 52..=58
            | 60
            | 62
            | 65
            | 66
            | 71
            | 72
            | 81
            | 99 => Ok(Setting::Outpatient),
            _ => Err(SettingError(code.to_string())),
        }
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} is not a setting: expected inpatient, outpatient, or an assigned two-digit CMS place-of-service code (e.g. 11 office, 21 inpatient hospital, 22 outpatient hospital)", crate::excerpt(.0))]
pub struct SettingError(pub String);

impl FromStr for Setting {
    type Err = SettingError;

    /// `inpatient`, `outpatient`, or a place-of-service code.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "inpatient" => Ok(Setting::Inpatient),
            "outpatient" => Ok(Setting::Outpatient),
            _ => Setting::from_place_of_service(s),
        }
    }
}

/// `inpatient`, `outpatient` or a place-of-service code, exactly as the
/// OpenAPI document describes it ([`POS_PATTERN`]): JSON requests may carry
/// either, but not in another case or with spaces around (the command line's
/// [`FromStr`] is the lenient one).
impl<'de> Deserialize<'de> for Setting {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        match s.as_ref() {
            "inpatient" => Ok(Setting::Inpatient),
            "outpatient" => Ok(Setting::Outpatient),
            pos if pos.len() == 2 => {
                Setting::from_place_of_service(pos).map_err(serde::de::Error::custom)
            }
            other => Err(serde::de::Error::custom(SettingError(other.to_string()))),
        }
    }
}

/// The CMS place-of-service codes [`Setting::from_place_of_service`] knows,
/// as a regular expression (for the OpenAPI document).
pub const POS_PATTERN: &str =
    "^(0[1-9]|1[0-9]|2[0-7]|3[1-4]|4[129]|5[0-8]|6[0-2]|6[56]|7[12]|81|99)$";

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Setting {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, SchemaType, Type};
        OneOfBuilder::new()
            .description(Some(
                "inpatient, outpatient, or an assigned two-digit CMS place-of-service code",
            ))
            .item(
                ObjectBuilder::new()
                    .schema_type(SchemaType::new(Type::String))
                    .enum_values(Some(["inpatient", "outpatient"])),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(SchemaType::new(Type::String))
                    .pattern(Some(POS_PATTERN))
                    .examples(["11", "21", "22"]),
            )
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Setting {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_places_of_service() {
        for pos in ["21", "51", "61"] {
            assert_eq!(Setting::from_place_of_service(pos), Ok(Setting::Inpatient));
        }
        for pos in [
            "11", "19", "22", "23", "24", "31", "52", "81", "99", "02", "10",
        ] {
            assert_eq!(Setting::from_place_of_service(pos), Ok(Setting::Outpatient));
        }
        for bad in ["00", "28", "30", "35", "1", "211", "ab", "", "59", "98"] {
            assert!(Setting::from_place_of_service(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_names_and_codes() {
        assert_eq!("Inpatient".parse(), Ok(Setting::Inpatient));
        assert_eq!("outpatient".parse(), Ok(Setting::Outpatient));
        assert_eq!("21".parse(), Ok(Setting::Inpatient));
        assert!("home".parse::<Setting>().is_err());
    }
}
