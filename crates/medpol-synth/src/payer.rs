//! Synthetic payers: lines of business across markets and the product groups
//! policy documents use, modelled on the BCBSMA payer file.
//!
//! Every payer has the same group ids (`commercial-managed-care`,
//! `commercial-ppo-indemnity`, `commercial`, `medicare-advantage`) so that
//! benchmarks can name products without looking at the payer; which lines of
//! business stand behind them varies.

use fastrand::Rng;
use medpol_core::model::{LineOfBusiness, Market, Payer, ProductGroup, ProductSet};

use crate::dist::{chance, pick};

/// The audiences statements, prior-authorization rows and code lists are
/// written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudienceKind {
    Commercial,
    ManagedCare,
    PpoIndemnity,
    MedicareAdvantage,
    All,
    Medicaid,
    Exchange,
    CommercialAndMedicare,
}

/// A set of products as a policy names it, with the heading it prints.
#[derive(Debug, Clone)]
pub struct Audience {
    pub kind: AudienceKind,
    /// Product ids (lines of business, groups or `all`).
    pub products: Vec<String>,
    /// The member heading as printed.
    pub label: String,
    /// Used to build statement ids: the product ids joined with '-', the
    /// rule `medpol import` derives ids by, so that rendered synthetic
    /// policies import back unchanged.
    pub slug: &'static str,
    /// The lines of business the products resolve to.
    pub set: ProductSet,
}

/// A payer with the audiences its policies can address.
pub struct PayerPlan {
    pub payer: Payer,
    pub audiences: Vec<Audience>,
}

impl PayerPlan {
    pub fn audience(&self, kind: AudienceKind) -> Option<&Audience> {
        self.audiences.iter().find(|a| a.kind == kind)
    }

    /// The printed label of a product id the generator uses.
    pub fn label_of<'a>(&'a self, id: &'a str) -> &'a str {
        if id == "all" {
            return "All Members";
        }
        if let Some(g) = self.payer.product_groups.iter().find(|g| g.id == id) {
            return &g.label;
        }
        self.payer
            .line_of_business(id)
            .map_or(id, |l| l.name.as_str())
    }

    /// The lines of business a list of product ids resolves to.
    pub fn resolve(&self, ids: &[String]) -> ProductSet {
        ids.iter()
            .filter_map(|id| self.payer.resolve_products(id))
            .fold(ProductSet::EMPTY, ProductSet::union)
    }
}

/// `a`, `b`, …, `z`, `aa`, `ab`, … (bijective base 26), so any number of payers gets a distinct id.
pub fn letters(mut index: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'a' + (index % 26) as u8);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

const REGIONS: &[&str] = &[
    "NORTHEAST",
    "MID-ATLANTIC",
    "GREAT LAKES",
    "MIDWEST",
    "GULF COAST",
    "SOUTHWEST",
    "MOUNTAIN WEST",
    "PACIFIC NORTHWEST",
];

/// Medicare Advantage product brands, as in "Medicare HMO Blue".
const BRANDS: &[&str] = &["Blue", "Select", "Choice", "Plus", "Value", "Premier"];

/// Payer number `index`: `synth-a`, "Synthetic Health Plan A", with 4–8 lines of business.
pub fn generate(rng: &mut Rng, index: usize) -> PayerPlan {
    let suffix = letters(index);
    let id = format!("synth-{suffix}");
    let name = format!("Synthetic Health Plan {}", suffix.to_uppercase());
    let brand = pick(rng, BRANDS);

    // The commercial HMO and PPO and a Medicare HMO always exist so that every
    // group has members; the rest vary, as real product portfolios do.
    let mut pos = chance(rng, 0.7);
    let mut indemnity = chance(rng, 0.6);
    let mut medicare_ppo = chance(rng, 0.7);
    let medicaid = chance(rng, 0.35);
    let exchange = chance(rng, 0.4);
    let count = 3 + [pos, indemnity, medicare_ppo, medicaid, exchange]
        .iter()
        .filter(|&&b| b)
        .count();
    if count < 4 {
        // At least four lines of business: add one of the common ones.
        match rng.usize(..3) {
            0 => pos = true,
            1 => indemnity = true,
            _ => medicare_ppo = true,
        }
    }

    let lob = |id: &str, name: String, market| LineOfBusiness {
        id: id.to_string(),
        name,
        market,
    };
    let mut lines = vec![lob(
        "commercial-hmo",
        "Commercial HMO".into(),
        Market::Commercial,
    )];
    if pos {
        lines.push(lob(
            "commercial-pos",
            "Commercial POS".into(),
            Market::Commercial,
        ));
    }
    lines.push(lob(
        "commercial-ppo",
        "Commercial PPO".into(),
        Market::Commercial,
    ));
    if indemnity {
        lines.push(lob(
            "commercial-indemnity",
            "Commercial Indemnity".into(),
            Market::Commercial,
        ));
    }
    lines.push(lob(
        "medicare-hmo",
        format!("Medicare HMO {brand}"),
        Market::MedicareAdvantage,
    ));
    if medicare_ppo {
        lines.push(lob(
            "medicare-ppo",
            format!("Medicare PPO {brand}"),
            Market::MedicareAdvantage,
        ));
    }
    if medicaid {
        lines.push(lob(
            "medicaid",
            "Medicaid Managed Care".into(),
            Market::Medicaid,
        ));
    }
    if exchange {
        lines.push(lob(
            "exchange",
            "Individual Marketplace (Exchange) Plans".into(),
            Market::Exchange,
        ));
    }

    let ids = |pred: &dyn Fn(&LineOfBusiness) -> bool| -> Vec<String> {
        lines
            .iter()
            .filter(|l| pred(l))
            .map(|l| l.id.clone())
            .collect()
    };
    let managed = ids(&|l| l.id == "commercial-hmo" || l.id == "commercial-pos");
    let ppo = ids(&|l| l.id == "commercial-ppo" || l.id == "commercial-indemnity");
    let medicare = ids(&|l| l.market == Market::MedicareAdvantage);
    let managed_label = if pos { "HMO and POS" } else { "HMO" };
    let ppo_label = if indemnity {
        "PPO and Indemnity"
    } else {
        "PPO"
    };
    let medicare_names: Vec<&str> = lines
        .iter()
        .filter(|l| l.market == Market::MedicareAdvantage)
        .map(|l| l.name.as_str())
        .collect();
    let group = |id: &str, label: String, products: Vec<String>| ProductGroup {
        id: id.to_string(),
        label,
        products,
    };
    let groups = vec![
        group(
            "commercial-managed-care",
            format!("Commercial Managed Care ({managed_label})"),
            managed,
        ),
        group(
            "commercial-ppo-indemnity",
            format!("Commercial {ppo_label}"),
            ppo,
        ),
        group(
            "commercial",
            format!(
                "Commercial Members: Managed Care ({managed_label}){}",
                if indemnity {
                    ", PPO, and Indemnity"
                } else {
                    " and PPO"
                }
            ),
            vec![
                "commercial-managed-care".into(),
                "commercial-ppo-indemnity".into(),
            ],
        ),
        group(
            "medicare-advantage",
            format!("Medicare Advantage: {}", medicare_names.join(" and ")),
            medicare,
        ),
    ];

    let payer = Payer {
        id,
        region: Some(pick(rng, REGIONS).to_string()),
        licensee_statement: Some(format!(
            "{name} is a synthetic payer generated for benchmarks and tests; it is not a real health plan"
        )),
        name,
        lines_of_business: lines,
        product_groups: groups,
    };

    let mut plan = PayerPlan {
        payer,
        audiences: Vec::new(),
    };
    add(
        &mut plan,
        AudienceKind::Commercial,
        &["commercial"],
        None,
        "commercial",
    );
    add(
        &mut plan,
        AudienceKind::ManagedCare,
        &["commercial-managed-care"],
        None,
        "commercial-managed-care",
    );
    add(
        &mut plan,
        AudienceKind::PpoIndemnity,
        &["commercial-ppo-indemnity"],
        None,
        "commercial-ppo-indemnity",
    );
    add(
        &mut plan,
        AudienceKind::MedicareAdvantage,
        &["medicare-advantage"],
        None,
        "medicare-advantage",
    );
    add(
        &mut plan,
        AudienceKind::All,
        &["all"],
        Some("All Members"),
        "all",
    );
    if medicaid {
        add(
            &mut plan,
            AudienceKind::Medicaid,
            &["medicaid"],
            None,
            "medicaid",
        );
    }
    if exchange {
        add(
            &mut plan,
            AudienceKind::Exchange,
            &["exchange"],
            None,
            "exchange",
        );
    }
    add(
        &mut plan,
        AudienceKind::CommercialAndMedicare,
        &["commercial", "medicare-advantage"],
        None,
        "commercial-medicare-advantage",
    );
    plan
}

/// Adds an audience; without a label, the products' labels joined.
fn add(
    plan: &mut PayerPlan,
    kind: AudienceKind,
    products: &[&str],
    label: Option<&str>,
    slug: &'static str,
) {
    let products: Vec<String> = products.iter().map(|s| s.to_string()).collect();
    let label = label.map_or_else(
        || {
            products
                .iter()
                .map(|p| plan.label_of(p))
                .collect::<Vec<_>>()
                .join("; ")
        },
        str::to_string,
    );
    let set = plan.resolve(&products);
    plan.audiences.push(Audience {
        kind,
        products,
        label,
        slug,
        set,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_are_bijective_base_26() {
        assert_eq!(letters(0), "a");
        assert_eq!(letters(25), "z");
        assert_eq!(letters(26), "aa");
        assert_eq!(letters(27), "ab");
        assert_eq!(letters(26 + 26 * 26), "aaa");
    }

    #[test]
    fn payers_have_four_to_eight_lines_and_valid_groups() {
        let mut rng = Rng::with_seed(9);
        for i in 0..200 {
            let plan = generate(&mut rng, i);
            let n = plan.payer.lines_of_business.len();
            assert!((4..=8).contains(&n), "{n}");
            assert!(medpol_core::validate::validate_payer(&plan.payer).is_empty());
            for a in &plan.audiences {
                assert!(!a.set.is_empty(), "{:?}", a.kind);
            }
        }
    }
}
