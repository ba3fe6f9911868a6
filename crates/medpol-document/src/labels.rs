//! Product labels as documents print them, and the payer's product ids they
//! name.
//!
//! Documents name products by label ("Commercial Managed Care (HMO and
//! POS)"), by several labels in a row ("Commercial Members: Managed Care (HMO
//! and POS), PPO, Indemnity, Medicare HMO Blue and Medicare PPO Blue"), and
//! not always with the payer's exact punctuation. Labels are therefore
//! compared as sequences of words: case, punctuation, "and"/"or" and service
//! marks (`BlueSM`) do not count. A text is split into the fewest labels that
//! cover all its words (a group's label beats the names of its members);
//! consecutive lines of business that together make up exactly one product
//! group are named by that group, as the payer files do.

use medpol_core::model::{Payer, ProductSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// Product groups and `all` are preferred when labels tie.
    Group,
    LineOfBusiness,
}

#[derive(Debug, Clone)]
struct Entry {
    words: Vec<String>,
    id: String,
    kind: Kind,
}

/// The product labels of one payer, ready for matching.
#[derive(Debug, Clone)]
pub struct Labels {
    entries: Vec<Entry>,
    /// (group id, its lines of business), for naming runs of lines of business.
    groups: Vec<(String, ProductSet)>,
    lob_index: Vec<String>,
    /// The label to print for each id.
    printed: Vec<(String, String)>,
}

/// The label printed for `all`.
pub const ALL_MEMBERS: &str = "All Members";

fn is_stop_word(w: &str) -> bool {
    matches!(w, "and" | "or" | "&")
}

/// The words of a label: lower case, without punctuation, conjunctions or
/// service marks, and without a trailing "Members".
pub fn words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for raw in text.split(|c: char| !c.is_alphanumeric() && c != '&') {
        if raw.is_empty() {
            continue;
        }
        // "BlueSM": a service mark glued to the word.
        let raw = match raw.strip_suffix("SM") {
            Some(stem) if stem.chars().last().is_some_and(char::is_lowercase) => stem,
            _ => raw,
        };
        let w = raw.to_lowercase();
        if !is_stop_word(&w) {
            out.push(w);
        }
    }
    if out.last().is_some_and(|w| w == "members" || w == "member") {
        out.pop();
    }
    out
}

impl Labels {
    pub fn new(payer: &Payer) -> Labels {
        let mut entries = Vec::new();
        let mut printed = Vec::new();
        let mut push = |label: &str, id: &str, kind: Kind| {
            let w = words(label);
            if !w.is_empty() {
                entries.push(Entry {
                    words: w,
                    id: id.to_string(),
                    kind,
                });
            }
        };
        for g in &payer.product_groups {
            push(&g.label, &g.id, Kind::Group);
            printed.push((g.id.clone(), g.label.clone()));
        }
        for l in &payer.lines_of_business {
            push(&l.name, &l.id, Kind::LineOfBusiness);
            printed.push((l.id.clone(), l.name.clone()));
        }
        for all in [ALL_MEMBERS, "All Products", "All Plans"] {
            push(all, "all", Kind::Group);
        }
        printed.push(("all".to_string(), ALL_MEMBERS.to_string()));
        let groups = payer
            .product_groups
            .iter()
            .filter_map(|g| Some((g.id.clone(), payer.resolve_products(&g.id)?)))
            .collect();
        Labels {
            entries,
            groups,
            lob_index: payer
                .lines_of_business
                .iter()
                .map(|l| l.id.clone())
                .collect(),
            printed,
        }
    }

    /// The product ids a text names, or `None` if some of its words match no label.
    pub fn resolve(&self, text: &str) -> Option<Vec<String>> {
        let w = words(text);
        if w.is_empty() {
            return None;
        }
        let n = w.len();
        // best[i]: the fewest labels covering w[i..], with the entry chosen at i.
        let mut best: Vec<Option<(usize, usize)>> = vec![None; n + 1];
        best[n] = Some((0, usize::MAX));
        for i in (0..n).rev() {
            for (e, entry) in self.entries.iter().enumerate() {
                let len = entry.words.len();
                if i + len > n || w[i..i + len] != entry.words[..] {
                    continue;
                }
                let Some((rest, _)) = best[i + len] else {
                    continue;
                };
                let better = match best[i] {
                    None => true,
                    Some((count, chosen)) => {
                        let current = &self.entries[chosen];
                        (rest + 1, std::cmp::Reverse(len), entry.kind)
                            < (count, std::cmp::Reverse(current.words.len()), current.kind)
                    }
                };
                if better {
                    best[i] = Some((rest + 1, e));
                }
            }
        }
        let mut chosen = Vec::new();
        let mut i = 0;
        while i < n {
            let (_, e) = best[i]?;
            chosen.push(&self.entries[e]);
            i += self.entries[e].words.len();
        }
        Some(self.name_runs(&chosen))
    }

    /// Ids in order, without repeats; runs of lines of business that make up
    /// exactly one product group are replaced by the group.
    fn name_runs(&self, chosen: &[&Entry]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut push = |id: &str| {
            if !out.iter().any(|o| o == id) {
                out.push(id.to_string());
            }
        };
        let mut i = 0;
        while i < chosen.len() {
            let mut j = i;
            while j < chosen.len() && chosen[j].kind == Kind::LineOfBusiness {
                j += 1;
            }
            if j - i >= 2 {
                let set = chosen[i..j]
                    .iter()
                    .filter_map(|e| self.lob_index.iter().position(|l| *l == e.id))
                    .fold(ProductSet::EMPTY, |s, k| s.union(ProductSet::single(k)));
                if let Some((group, _)) = self.groups.iter().find(|(_, g)| *g == set) {
                    push(group);
                    i = j;
                    continue;
                }
            }
            if j > i {
                for e in &chosen[i..j] {
                    push(&e.id);
                }
                i = j;
            } else {
                push(&chosen[i].id);
                i += 1;
            }
        }
        out
    }

    /// The label printed for a product id (the id itself if the payer has no such product).
    pub fn label_of<'a>(&'a self, id: &'a str) -> &'a str {
        self.printed
            .iter()
            .find(|(i, _)| i == id)
            .map_or(id, |(_, l)| l.as_str())
    }

    /// The labels of several products, as one text that [`Labels::resolve`] reads back.
    pub fn label_of_all(&self, ids: &[String]) -> String {
        ids.iter()
            .map(|id| self.label_of(id))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Some labels, for error messages.
    pub fn known(&self) -> String {
        let mut labels: Vec<&str> = self.printed.iter().map(|(_, l)| l.as_str()).collect();
        labels.truncate(12);
        labels
            .iter()
            .map(|l| format!("\"{l}\""))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use medpol_core::model::{LineOfBusiness, Market, ProductGroup};

    use super::*;

    pub fn bcbsma() -> Payer {
        let lob = |id: &str, name: &str, market| LineOfBusiness {
            id: id.into(),
            name: name.into(),
            market,
        };
        let group = |id: &str, label: &str, products: &[&str]| ProductGroup {
            id: id.into(),
            label: label.into(),
            products: products.iter().map(|p| p.to_string()).collect(),
        };
        Payer {
            id: "bcbsma".into(),
            name: "Blue Cross Blue Shield of Massachusetts".into(),
            region: None,
            licensee_statement: None,
            lines_of_business: vec![
                lob("commercial-hmo", "Commercial HMO", Market::Commercial),
                lob("commercial-pos", "Commercial POS", Market::Commercial),
                lob("commercial-ppo", "Commercial PPO", Market::Commercial),
                lob(
                    "commercial-indemnity",
                    "Commercial Indemnity",
                    Market::Commercial,
                ),
                lob(
                    "medicare-hmo-blue",
                    "Medicare HMO Blue",
                    Market::MedicareAdvantage,
                ),
                lob(
                    "medicare-ppo-blue",
                    "Medicare PPO Blue",
                    Market::MedicareAdvantage,
                ),
            ],
            product_groups: vec![
                group(
                    "commercial-managed-care",
                    "Commercial Managed Care (HMO and POS)",
                    &["commercial-hmo", "commercial-pos"],
                ),
                group(
                    "commercial-ppo-indemnity",
                    "Commercial PPO and Indemnity",
                    &["commercial-ppo", "commercial-indemnity"],
                ),
                group(
                    "commercial",
                    "Commercial Members: Managed Care (HMO and POS), PPO, and Indemnity",
                    &["commercial-managed-care", "commercial-ppo-indemnity"],
                ),
                group(
                    "medicare-advantage",
                    "Medicare Advantage: Medicare HMO Blue and Medicare PPO Blue",
                    &["medicare-hmo-blue", "medicare-ppo-blue"],
                ),
            ],
        }
    }

    fn resolve(text: &str) -> Option<Vec<String>> {
        Labels::new(&bcbsma()).resolve(text)
    }

    #[test]
    fn the_seeds_labels() {
        assert_eq!(
            resolve("Commercial Members: Managed Care (HMO and POS), PPO, and Indemnity").unwrap(),
            ["commercial"]
        );
        assert_eq!(
            resolve("Commercial Members: Managed Care (HMO and POS), PPO, Indemnity, Medicare HMO Blue and Medicare PPO Blue:").unwrap(),
            ["commercial", "medicare-advantage"]
        );
        assert_eq!(
            resolve("Commercial Managed Care (HMO and POS)").unwrap(),
            ["commercial-managed-care"]
        );
        assert_eq!(
            resolve("Commercial PPO and Indemnity").unwrap(),
            ["commercial-ppo-indemnity"]
        );
    }

    #[test]
    fn lines_of_business_groups_and_service_marks() {
        assert_eq!(resolve("Commercial PPO").unwrap(), ["commercial-ppo"]);
        assert_eq!(
            resolve("Medicare HMO BlueSM and Medicare PPO BlueSM Members").unwrap(),
            ["medicare-advantage"]
        );
        assert_eq!(resolve("Medicare PPO Blue").unwrap(), ["medicare-ppo-blue"]);
        assert_eq!(resolve("All Members").unwrap(), ["all"]);
        assert_eq!(
            resolve("Commercial Managed Care (HMO and POS); Medicare Advantage: Medicare HMO Blue and Medicare PPO Blue").unwrap(),
            ["commercial-managed-care", "medicare-advantage"]
        );
        assert_eq!(resolve("Gold Members"), None);
        assert_eq!(resolve("Commercial PPO and Gold"), None);
        assert_eq!(resolve(""), None);
    }

    #[test]
    fn labels_print_and_read_back() {
        let labels = Labels::new(&bcbsma());
        for ids in [
            vec!["commercial".to_string()],
            vec!["commercial".into(), "medicare-advantage".into()],
            vec!["all".into()],
            vec!["commercial-ppo".into(), "medicare-hmo-blue".into()],
        ] {
            assert_eq!(labels.resolve(&labels.label_of_all(&ids)).unwrap(), ids);
        }
    }
}
