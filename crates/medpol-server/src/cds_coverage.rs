//! Mapping a FHIR Coverage (from the EHR) to a payer's line of business, by
//! configuration: ordered rules, the first that matches wins.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

/// The rules bundled for the bundled payer (BCBSMA).
pub const DEFAULT_RULES: &str = include_str!("../cds-coverage-map.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoverageMap {
    #[serde(rename = "rule", default)]
    pub rules: Vec<CoverageRule>,
}

/// A rule matches when every criterion it gives matches (a list matches when
/// any of its entries does).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoverageRule {
    pub payer: String,
    pub product: String,
    /// `Coverage.type` codings, as `system|code` or a bare `code`.
    #[serde(default)]
    pub r#type: Vec<String>,
    /// Words found (case-insensitively) in a `Coverage.class` value or name
    /// whose type is `plan` (or untyped).
    #[serde(default)]
    pub plan: Vec<String>,
    /// Words found in a `Coverage.payor` display or reference.
    #[serde(default)]
    pub payor: Vec<String>,
}

impl CoverageMap {
    pub fn parse(text: &str) -> Result<CoverageMap, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    pub fn load(path: &Path) -> Result<CoverageMap, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        CoverageMap::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The (payer, product) of a Coverage resource, if a rule matches.
    pub fn resolve(&self, coverage: &Value) -> Option<(&str, &str)> {
        self.rules
            .iter()
            .find(|r| r.matches(coverage))
            .map(|r| (r.payer.as_str(), r.product.as_str()))
    }
}

fn as_array(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

fn text_of(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

impl CoverageRule {
    fn matches(&self, coverage: &Value) -> bool {
        let types = || {
            as_array(&coverage["type"]["coding"])
                .into_iter()
                .map(|c| {
                    (
                        text_of(&c["system"]).to_string(),
                        text_of(&c["code"]).to_string(),
                    )
                })
                .collect::<Vec<_>>()
        };
        if !self.r#type.is_empty() {
            let have = types();
            let ok = self.r#type.iter().any(|want| match want.split_once('|') {
                Some((s, c)) => have.iter().any(|(hs, hc)| hs == s && hc == c),
                None => have.iter().any(|(_, hc)| hc == want),
            });
            if !ok {
                return false;
            }
        }
        if !self.plan.is_empty() {
            let plans: Vec<String> = as_array(&coverage["class"])
                .into_iter()
                .filter(|c| {
                    let codes: Vec<&str> = as_array(&c["type"]["coding"])
                        .into_iter()
                        .map(|x| text_of(&x["code"]))
                        .collect();
                    codes.is_empty() || codes.contains(&"plan")
                })
                .map(|c| format!("{} {}", text_of(&c["value"]), text_of(&c["name"])).to_lowercase())
                .collect();
            if !self
                .plan
                .iter()
                .any(|w| plans.iter().any(|p| p.contains(&w.to_lowercase())))
            {
                return false;
            }
        }
        if !self.payor.is_empty() {
            let payors: Vec<String> = as_array(&coverage["payor"])
                .into_iter()
                .map(|p| {
                    format!("{} {}", text_of(&p["display"]), text_of(&p["reference"]))
                        .to_lowercase()
                })
                .collect();
            if !self
                .payor
                .iter()
                .any(|w| payors.iter().any(|p| p.contains(&w.to_lowercase())))
            {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_default_rules_map_plan_types() {
        let map = CoverageMap::parse(DEFAULT_RULES).unwrap();
        let cov = |system: &str, code: &str| {
            json!({"resourceType": "Coverage", "type": {"coding": [{"system": system, "code": code}]},
                   "payor": [{"display": "Blue Cross Blue Shield of Massachusetts"}]})
        };
        let act = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
        assert_eq!(
            map.resolve(&cov(act, "PPO")),
            Some(("bcbsma", "commercial-ppo"))
        );
        assert_eq!(
            map.resolve(&cov(act, "HMO")),
            Some(("bcbsma", "commercial-hmo"))
        );
        assert_eq!(
            map.resolve(&cov("https://nahdo.org/sopt", "111")),
            Some(("bcbsma", "medicare-hmo-blue"))
        );
        assert_eq!(map.resolve(&cov(act, "EHCPOL")), None);
        let plan = json!({"class": [{"type": {"coding": [{"code": "plan"}]}, "value": "MPB", "name": "Medicare PPO Blue"}],
                          "payor": [{"reference": "Organization/bcbsma"}]});
        assert_eq!(map.resolve(&plan), Some(("bcbsma", "medicare-ppo-blue")));
        // A single object where an array belongs, and nulls, are tolerated.
        let odd = json!({"type": {"coding": {"system": act, "code": "POS"}}, "class": null, "payor": {"display": "BCBSMA"}});
        assert_eq!(map.resolve(&odd), Some(("bcbsma", "commercial-pos")));
        // Another payer's PPO is not a BCBSMA product.
        let other = json!({"type": {"coding": [{"system": act, "code": "PPO"}]}, "payor": [{"display": "Acme Health Plan"}]});
        assert_eq!(map.resolve(&other), None);
    }
}
