//! Held-out parts: split a lexicon's canonical parts into parts the training data may name and
//! parts held out of it, to measure whether a fine-tuned model finds parts it never saw
//! labeled.
//!
//! The experiment: label the training reviews with [`HoldoutSplit::train_lexicon`] (the
//! held-out parts removed), label the test reviews with the full lexicon, train, predict, and
//! run `eval score --heldout-parts` with [`HoldoutSplit::heldout`] written one per line.
//!
//! The choice of a part depends only on its name and the seed (a hash compared with the
//! fraction), so a part keeps its side when the lexicon grows.

use records::{Lexicon, LexiconEntry};

/// The two sides of a split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldoutSplit {
    /// Held-out canonical names, sorted.
    pub heldout: Vec<String>,
    /// The lexicon without any entry of a held-out canonical part.
    pub train_lexicon: Lexicon,
}

/// Holds out about `fraction` (0..=1) of the canonical parts of `lexicon`, chosen by `seed`.
pub fn split_lexicon(lexicon: &Lexicon, fraction: f64, seed: u64) -> HoldoutSplit {
    let heldout: Vec<String> = lexicon
        .canonicals()
        .into_iter()
        .filter(|c| is_heldout(c, fraction, seed))
        .map(str::to_owned)
        .collect();
    let kept: Vec<LexiconEntry> = lexicon
        .entries()
        .iter()
        .filter(|e| heldout.binary_search(&e.canonical).is_err())
        .cloned()
        .collect();
    HoldoutSplit { heldout, train_lexicon: Lexicon::from_entries(kept) }
}

/// Whether `canonical` is held out at `fraction` with `seed`: its hash, as a number in [0, 1),
/// is below the fraction. Case and surrounding space do not matter.
pub fn is_heldout(canonical: &str, fraction: f64, seed: u64) -> bool {
    unit(canonical, seed) < fraction
}

fn unit(canonical: &str, seed: u64) -> f64 {
    // FNV-1a over the name, then a SplitMix64 finaliser mixed with the seed: stable across
    // platforms and releases, unlike `std`'s hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in canonical.trim().to_lowercase().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut z = h ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexicon(n: usize) -> Lexicon {
        Lexicon::from_entries(
            (0..n)
                .flat_map(|i| {
                    [
                        LexiconEntry::new(format!("part {i}"), format!("part {i}"), "c", "t"),
                        LexiconEntry::new(format!("parts {i}"), format!("part {i}"), "c", "t"),
                    ]
                })
                .collect(),
        )
    }

    #[test]
    fn the_split_is_deterministic_and_near_the_fraction() {
        let lex = lexicon(400);
        let a = split_lexicon(&lex, 0.2, 7);
        assert_eq!(a, split_lexicon(&lex, 0.2, 7));
        assert!((60..=100).contains(&a.heldout.len()), "{} of 400 held out", a.heldout.len());
        assert_ne!(a.heldout, split_lexicon(&lex, 0.2, 8).heldout);
        // Every surface of a held-out part leaves the training lexicon, and nothing else does.
        assert_eq!(a.train_lexicon.len(), 2 * (400 - a.heldout.len()));
        assert!(a.train_lexicon.entries().iter().all(|e| !a.heldout.contains(&e.canonical)));
    }

    #[test]
    fn a_part_keeps_its_side_when_the_lexicon_grows() {
        let small = split_lexicon(&lexicon(100), 0.3, 1);
        let large = split_lexicon(&lexicon(300), 0.3, 1);
        let large_first: Vec<&String> = large
            .heldout
            .iter()
            .filter(|p| p.trim_start_matches("part ").parse::<usize>().unwrap() < 100)
            .collect();
        assert_eq!(small.heldout.iter().collect::<Vec<_>>(), large_first);
        assert!(split_lexicon(&lexicon(50), 0.0, 1).heldout.is_empty());
        assert_eq!(split_lexicon(&lexicon(50), 1.0, 1).heldout.len(), 50);
    }
}
