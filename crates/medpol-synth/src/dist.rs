//! Sampling helpers over `fastrand`: uniform picks from constant tables,
//! weighted choices, a truncated Pareto draw and a Zipf sampler.
//!
//! Everything takes the generator's one [`Rng`] so that a catalogue is a pure
//! function of its seed.

use fastrand::Rng;

/// One item of a table, uniformly.
///
/// Every caller passes a constant, non-empty vocabulary table (or a slice it
/// has just checked is non-empty); an empty one is a bug in this crate.
pub fn pick<T: Copy>(rng: &mut Rng, items: &[T]) -> T {
    debug_assert!(!items.is_empty(), "pick from an empty table");
    items[rng.usize(..items.len())]
}

/// One item of a table with integer weights.
///
/// Tables are constants with a positive total; should one ever sum to zero the
/// first item is returned rather than panicking.
pub fn weighted<T: Copy>(rng: &mut Rng, table: &[(T, u32)]) -> T {
    let total: u32 = table.iter().map(|&(_, w)| w).sum();
    if total == 0 {
        return table[0].0;
    }
    let mut x = rng.u32(..total);
    for &(item, w) in table {
        if x < w {
            return item;
        }
        x -= w;
    }
    table[table.len() - 1].0
}

/// True with probability `p`.
pub fn chance(rng: &mut Rng, p: f64) -> bool {
    rng.f64() < p
}

/// A Pareto (power-law) count in `1..=max`: `P(X > x) = x^-alpha`.
///
/// With `alpha` near 1 most draws are small (about 90 % are at most 10) while
/// a few percent land in the tens or hundreds, the shape of real code tables:
/// most policies list a handful of codes, a few list whole code ranges.
pub fn pareto(rng: &mut Rng, alpha: f64, max: usize) -> usize {
    // 1 - f64() lies in (0, 1], so the power is finite and at least 1.
    let u = 1.0 - rng.f64();
    let x = u.powf(-1.0 / alpha);
    // `as` saturates for huge values; the clamp bounds the rest.
    (x as usize).clamp(1, max.max(1))
}

/// A triangular count in `lo..=hi`, peaked in the middle (mean of two uniforms).
pub fn triangular(rng: &mut Rng, lo: usize, hi: usize) -> usize {
    let a = rng.usize(lo..=hi);
    let b = rng.usize(lo..=hi);
    (a + b) / 2
}

/// `k` distinct indices below `n`, in random order (partial Fisher–Yates).
/// Used on small tables only.
pub fn distinct(rng: &mut Rng, n: usize, k: usize) -> Vec<usize> {
    let mut all: Vec<usize> = (0..n).collect();
    let k = k.min(n);
    for i in 0..k {
        let j = rng.usize(i..n);
        all.swap(i, j);
    }
    all.truncate(k);
    all
}

/// Draws ranks `0..n` with probability proportional to `1 / (rank + 1)^s`:
/// rank 0 is the most popular, and popularity falls off as a power law.
#[derive(Debug, Clone)]
pub struct Zipf {
    /// Cumulative weights; the last entry is the total.
    cdf: Vec<f64>,
}

impl Zipf {
    pub fn new(n: usize, s: f64) -> Zipf {
        let mut total = 0.0;
        let cdf = (0..n.max(1))
            .map(|r| {
                total += 1.0 / ((r + 1) as f64).powf(s);
                total
            })
            .collect();
        Zipf { cdf }
    }

    /// A rank in `0..n` (binary search over the cumulative weights).
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let total = self.cdf.last().copied().unwrap_or(0.0);
        let x = rng.f64() * total;
        self.cdf
            .partition_point(|&c| c <= x)
            .min(self.cdf.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pareto_is_skewed_and_bounded() {
        let mut rng = Rng::with_seed(7);
        let draws: Vec<usize> = (0..20_000).map(|_| pareto(&mut rng, 1.1, 200)).collect();
        assert!(draws.iter().all(|&d| (1..=200).contains(&d)));
        let small = draws.iter().filter(|&&d| d <= 10).count() as f64 / draws.len() as f64;
        let large = draws.iter().filter(|&&d| d >= 30).count();
        assert!(small > 0.85, "{small}");
        assert!(large > 100, "{large}");
    }

    #[test]
    fn zipf_prefers_low_ranks() {
        let mut rng = Rng::with_seed(7);
        let z = Zipf::new(64, 1.1);
        let mut counts = [0usize; 64];
        for _ in 0..50_000 {
            counts[z.sample(&mut rng)] += 1;
        }
        assert!(counts[0] > counts[1] && counts[1] > counts[10] && counts[10] > counts[63]);
    }

    #[test]
    fn distinct_indices_are_distinct() {
        let mut rng = Rng::with_seed(1);
        let mut d = distinct(&mut rng, 10, 4);
        assert_eq!(d.len(), 4);
        d.sort_unstable();
        d.dedup();
        assert_eq!(d.len(), 4);
        assert_eq!(distinct(&mut rng, 3, 9).len(), 3);
    }
}
