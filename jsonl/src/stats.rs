//! Token statistics of a dataset in constant memory, and the hosted services' epoch rule.

use std::collections::BTreeMap;

use serde::Serialize;

/// A histogram of integer values (token counts): exact quantiles in memory bounded by the
/// number of distinct values, not by the number of examples.
#[derive(Debug, Default, Clone)]
pub struct Histogram {
    counts: BTreeMap<u32, u64>,
    n: u64,
    sum: u128,
}

impl Histogram {
    /// Adds one value.
    pub fn add(&mut self, value: u32) {
        *self.counts.entry(value).or_insert(0) += 1;
        self.n += 1;
        self.sum += u128::from(value);
    }

    /// Number of values added.
    pub fn len(&self) -> u64 {
        self.n
    }

    /// Whether no value was added.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The `i`-th smallest value (0-based), `i < len()`.
    fn nth(&self, i: u64) -> u32 {
        let mut seen = 0;
        for (&value, &count) in &self.counts {
            seen += count;
            if i < seen {
                return value;
            }
        }
        unreachable!("nth({i}) of a histogram of {} values", self.n)
    }

    /// The `q` quantile with linear interpolation between order statistics (numpy's default,
    /// which the OpenAI cookbook's statistics use). `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.n == 0 {
            return None;
        }
        let pos = q.clamp(0.0, 1.0) * (self.n - 1) as f64;
        let lo = pos.floor() as u64;
        let frac = pos - lo as f64;
        let a = f64::from(self.nth(lo));
        if frac == 0.0 {
            return Some(a);
        }
        let b = f64::from(self.nth(lo + 1));
        Some(a + frac * (b - a))
    }

    /// Min, p10, median, mean, p90 and max; `None` when empty.
    pub fn summary(&self) -> Option<Summary> {
        if self.n == 0 {
            return None;
        }
        Some(Summary {
            min: *self.counts.keys().next().expect("non-empty"),
            p10: self.quantile(0.1)?,
            median: self.quantile(0.5)?,
            mean: self.sum as f64 / self.n as f64,
            p90: self.quantile(0.9)?,
            max: *self.counts.keys().next_back().expect("non-empty"),
        })
    }
}

/// Distribution of a per-example count.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    pub min: u32,
    pub p10: f64,
    pub median: f64,
    pub mean: f64,
    pub p90: f64,
    pub max: u32,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "min {}, p10 {}, median {}, mean {:.1}, p90 {}, max {}",
            self.min, self.p10, self.median, self.mean, self.p90, self.max
        )
    }
}

/// The default number of epochs the hosted fine-tuning services chose for `n` examples:
/// 3, raised to `100 / n` (at most 25) when `3n < 100`, lowered to `25000 / n` (at least 1)
/// when `3n > 25000`. Zero examples train for zero epochs.
pub fn default_epochs(n: u64) -> u64 {
    const TARGET_EPOCHS: u64 = 3;
    const MIN_TARGET_EXAMPLES: u64 = 100;
    const MAX_TARGET_EXAMPLES: u64 = 25_000;
    const MIN_DEFAULT_EPOCHS: u64 = 1;
    const MAX_DEFAULT_EPOCHS: u64 = 25;
    if n == 0 {
        return 0;
    }
    if n * TARGET_EPOCHS < MIN_TARGET_EXAMPLES {
        MAX_DEFAULT_EPOCHS.min(MIN_TARGET_EXAMPLES / n)
    } else if n * TARGET_EPOCHS > MAX_TARGET_EXAMPLES {
        MIN_DEFAULT_EPOCHS.max(MAX_TARGET_EXAMPLES / n)
    } else {
        TARGET_EPOCHS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_epochs_cases() {
        // (examples, epochs) from the cookbook rule: 3 epochs; 100 // n when 3n < 100 (max 25);
        // 25000 // n when 3n > 25000 (min 1).
        let cases = [
            (0, 0),
            (1, 25),
            (3, 25),
            (4, 25),
            (5, 20),
            (33, 3),
            (34, 3),
            (100, 3),
            (8333, 3),
            (8334, 2),
            (12_500, 2),
            (12_501, 1),
            (70_000, 1),
        ];
        for (n, want) in cases {
            assert_eq!(default_epochs(n), want, "n = {n}");
        }
    }

    #[test]
    fn quantiles_match_numpy_linear_interpolation() {
        let mut h = Histogram::default();
        for v in [10, 1, 7, 3, 3] {
            h.add(v);
        }
        // numpy: np.quantile([1, 3, 3, 7, 10], [0.1, 0.5, 0.9]) == [1.8, 3.0, 8.8]; mean 4.8.
        let s = h.summary().unwrap();
        assert_eq!((s.min, s.max), (1, 10));
        assert!((s.p10 - 1.8).abs() < 1e-9, "{s:?}");
        assert_eq!(s.median, 3.0);
        assert!((s.p90 - 8.8).abs() < 1e-9, "{s:?}");
        assert!((s.mean - 4.8).abs() < 1e-9);
        assert!(Histogram::default().summary().is_none());
    }
}
