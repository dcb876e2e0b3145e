//! Extraction judged by people: any extractor's parts scored against hand annotations by the
//! rule of the annotation guideline ([`records::gold`]), with what a person needs to fix
//! things: the most frequent false positives and misses, each with a review in context.
//!
//! The extracted parts come from a `predictions.jsonl` (`finetune predict`) or a labeled CSV
//! (`label --output x.csv`, whose `Review` column also gives the contexts); reviews are matched
//! by id (`file#index`, the file's base name).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use records::gold::{normalize_part, score_review, Annotation};
use serde::{Deserialize, Serialize};

use crate::score::{f1, labeled_csv, ratio, read_predictions};
use crate::{Error, Result};

/// What an extractor found, by review id, with review texts where the source has them.
#[derive(Debug, Clone, Default)]
pub struct Extracted {
    /// Review id (`file#index`) → the extracted parts.
    pub parts: HashMap<String, Vec<String>>,
    /// Review id → its text (labeled tables only).
    pub texts: HashMap<String, String>,
}

impl Extracted {
    /// Reads a `predictions.jsonl` or a labeled CSV (sniffed: a first byte `{` is JSONL).
    ///
    /// # Errors
    /// The file cannot be read or a line or row does not parse; errors name the file and line.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let mut out = Self::default();
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
            for p in read_predictions(path)? {
                out.parts.insert(base_id(&p.id), p.parts);
            }
        } else {
            for (gold, review) in labeled_csv(&bytes[..], path)? {
                let id = base_id(&gold.id);
                if let Some(text) = review {
                    out.texts.insert(id.clone(), text);
                }
                out.parts.insert(id, gold.parts);
            }
        }
        if out.parts.is_empty() {
            return Err(Error::File { path: path.to_owned(), message: "no review in it".into() });
        }
        Ok(out)
    }
}

/// `dir/Scraped_Car_Review_kia.csv#12` → `Scraped_Car_Review_kia.csv#12`.
fn base_id(id: &str) -> String {
    match id.rsplit_once('#') {
        Some((file, index)) => {
            let base = Path::new(file).file_name().map_or(file.into(), |n| n.to_string_lossy());
            let index = index.trim().parse::<i64>().map_or(index.to_owned(), |i| i.to_string());
            format!("{base}#{index}")
        }
        None => id.to_owned(),
    }
}

/// One frequent error: the part as written, how often, and where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    /// A false positive as predicted, or a miss as `surface -> canonical`.
    pub part: String,
    /// Reviews it occurs in.
    pub count: usize,
    /// Up to three reviews: id and, where the text is known, the part in context.
    pub examples: Vec<(String, Option<String>)>,
}

/// The scores of one annotation file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HumanScore {
    /// The annotation file.
    pub annotations: String,
    pub reviews: usize,
    /// Annotated reviews the extractor gave nothing for (scored as no parts).
    pub without_prediction: usize,
    /// Distinct (surface, canonical) mentions: recall's denominator.
    pub mentions: usize,
    /// Mentions that some prediction matches.
    pub matched: usize,
    /// Predictions that match a mention.
    pub correct: usize,
    /// Predictions that match none.
    pub false_positives: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// The most frequent false positives, most frequent first.
    pub top_false_positives: Vec<Tally>,
    /// The most frequent misses, most frequent first.
    pub top_misses: Vec<Tally>,
}

/// Scores `extracted` against `annotations`, listing the `top` most frequent errors.
pub fn score_annotations(
    extracted: &Extracted,
    annotations: &[Annotation],
    name: &str,
    top: usize,
) -> HumanScore {
    let (mut correct, mut wrong, mut matched, mut mentions, mut without) = (0, 0, 0, 0, 0);
    // Normalised key → (shown form, review ids).
    let mut fps: HashMap<String, (String, Vec<String>)> = HashMap::new();
    let mut misses: HashMap<String, (String, Vec<String>)> = HashMap::new();
    let empty = Vec::new();
    for a in annotations {
        let id = a.id().to_string();
        let predicted = extracted.parts.get(&id).unwrap_or_else(|| {
            without += 1;
            &empty
        });
        let s = score_review(predicted, &a.mentions);
        correct += s.correct.len();
        wrong += s.wrong.len();
        mentions += s.mentions;
        matched += s.mentions - s.missed.len();
        for key in &s.wrong {
            let shown = predicted.iter().find(|p| normalize_part(p) == *key).cloned();
            let entry =
                fps.entry(key.clone()).or_insert_with(|| (shown.unwrap_or_default(), Vec::new()));
            entry.1.push(id.clone());
        }
        for m in &s.missed {
            let shown = if m.surface == m.canonical {
                m.surface.clone()
            } else {
                format!("{} -> {}", m.surface, m.canonical)
            };
            let entry =
                misses.entry(shown.clone()).or_insert_with(|| (m.surface.clone(), Vec::new()));
            entry.1.push(id.clone());
        }
    }
    let precision = ratio(correct as u64, (correct + wrong) as u64);
    let recall = ratio(matched as u64, mentions as u64);
    let f1 = f1(precision, recall);
    let tallies = |map: HashMap<String, (String, Vec<String>)>, shown_is_key: bool| {
        let mut list: Vec<Tally> = map
            .into_iter()
            .map(|(key, (needle, ids))| Tally {
                part: if shown_is_key { key } else { needle.clone() },
                count: ids.len(),
                examples: ids
                    .iter()
                    .take(3)
                    .map(|id| {
                        (id.clone(), extracted.texts.get(id).and_then(|t| context(t, &needle)))
                    })
                    .collect(),
            })
            .collect();
        list.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.part.cmp(&b.part)));
        list.truncate(top);
        list
    };
    HumanScore {
        annotations: name.to_owned(),
        reviews: annotations.len(),
        without_prediction: without,
        mentions,
        matched,
        correct,
        false_positives: wrong,
        precision,
        recall,
        f1,
        top_false_positives: tallies(fps, false),
        top_misses: tallies(misses, true),
    }
}

/// The first case-insensitive, whole-word where possible, occurrence of `needle` in `text` with
/// up to 40 characters on each side, on one line; `None` when it does not occur.
fn context(text: &str, needle: &str) -> Option<String> {
    if needle.is_empty() {
        return None;
    }
    let lower = text.to_lowercase();
    // Lower-casing can change byte lengths outside ASCII: search only when it did not.
    if lower.len() != text.len() {
        return None;
    }
    let needle_lower = needle.to_lowercase();
    let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    // A whole-word occurrence first ("ac" in "the AC", not in "replace"), else any.
    let found: Vec<usize> = lower.match_indices(&needle_lower).map(|(i, _)| i).collect();
    let at = found
        .iter()
        .copied()
        .find(|&i| {
            !word(lower[..i].chars().next_back())
                && !word(lower[i + needle_lower.len()..].chars().next())
        })
        .or_else(|| found.first().copied())?;
    let start = text[..at].char_indices().rev().nth(39).map_or(0, |(i, _)| i);
    let end_of = at + needle.len();
    let end = text[end_of..].char_indices().nth(40).map_or(text.len(), |(i, _)| end_of + i);
    let mut s = String::new();
    if start > 0 {
        s.push_str("...");
    }
    s.push_str(&text[start..at]);
    s.push('[');
    s.push_str(&text[at..end_of]);
    s.push(']');
    s.push_str(&text[end_of..end]);
    if end < text.len() {
        s.push_str("...");
    }
    Some(s.split_whitespace().collect::<Vec<_>>().join(" "))
}

impl HumanScore {
    /// The report a person reads: the scores, then the frequent errors with their contexts.
    pub fn to_text(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "{}: {} reviews ({} without a prediction), {} mentions",
            self.annotations, self.reviews, self.without_prediction, self.mentions
        );
        let _ = writeln!(
            t,
            "precision {:.3}  recall {:.3}  F1 {:.3}   ({} correct, {} false positives; {} of {} mentions found)",
            self.precision, self.recall, self.f1, self.correct, self.false_positives, self.matched, self.mentions
        );
        for (title, list) in [
            ("most frequent false positives", &self.top_false_positives),
            ("most frequent misses", &self.top_misses),
        ] {
            if list.is_empty() {
                continue;
            }
            let _ = writeln!(t, "{title}:");
            for tally in list {
                let _ = writeln!(t, "  {:>4}  {}", tally.count, tally.part);
                for (id, ctx) in tally.examples.iter().take(if ctx_known(tally) { 2 } else { 1 }) {
                    match ctx {
                        Some(c) => {
                            let _ = writeln!(t, "          {id}: {c}");
                        }
                        None => {
                            let _ = writeln!(t, "          {id}");
                        }
                    }
                }
            }
        }
        t
    }
}

fn ctx_known(t: &Tally) -> bool {
    t.examples.iter().any(|(_, c)| c.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use records::gold::Mention;

    fn ann(file: &str, index: i64, mentions: &[(&str, &str)]) -> Annotation {
        Annotation {
            file: file.into(),
            index,
            mentions: mentions
                .iter()
                .map(|(s, c)| Mention { surface: (*s).into(), canonical: (*c).into() })
                .collect(),
        }
    }

    #[test]
    fn scores_by_hand_computed_counts() {
        // Review 1: gold {a/c -> air conditioning, brakes -> brake}; predicted
        //   {air conditioning (ok), steering (fp)}: 1 correct, 1 fp, 1 of 2 found.
        // Review 2: gold {}; predicted {steering (fp), four-wheel drive (fp)}.
        // Review 3: gold {rims -> wheel}; no prediction at all: 0 of 1 found.
        // P = 1 / (1 + 3) = 0.25; R = 1 / 3; F1 = 2 * 0.25 * (1/3) / (0.25 + 1/3) = 2/7.
        let gold = [
            ann("k.csv", 1, &[("a/c", "air conditioning"), ("brakes", "brake")]),
            ann("k.csv", 2, &[]),
            ann("k.csv", 3, &[("rims", "wheel")]),
        ];
        let mut ex = Extracted::default();
        ex.parts.insert("k.csv#1".into(), vec!["air conditioning".into(), "steering".into()]);
        ex.parts.insert("k.csv#2".into(), vec!["Steering".into(), "four-wheel drive".into()]);
        ex.texts.insert("k.csv#2".into(), "The steering is\nvague.".into());
        let s = score_annotations(&ex, &gold, "gold.jsonl", 10);
        assert_eq!((s.correct, s.false_positives, s.matched, s.mentions), (1, 3, 1, 3));
        assert_eq!(s.without_prediction, 1);
        assert!((s.precision - 0.25).abs() < 1e-12);
        assert!((s.recall - 1.0 / 3.0).abs() < 1e-12);
        assert!((s.f1 - 2.0 / 7.0).abs() < 1e-12);
        assert_eq!(s.top_false_positives[0].part, "steering");
        assert_eq!(s.top_false_positives[0].count, 2);
        let ctx: Vec<_> = s.top_false_positives[0].examples.iter().map(|e| e.1.clone()).collect();
        assert_eq!(ctx, [None, Some("The [steering] is vague.".to_owned())]);
        let misses: Vec<&str> = s.top_misses.iter().map(|t| t.part.as_str()).collect();
        assert_eq!(misses, ["brakes -> brake", "rims -> wheel"]);
        let text = s.to_text();
        assert!(text.contains("precision 0.250  recall 0.333  F1 0.286"), "{text}");
        assert!(text.contains("k.csv#2: The [steering] is vague."), "{text}");
    }

    #[test]
    fn context_prefers_a_whole_word() {
        assert_eq!(context("Replace the AC unit", "ac").as_deref(), Some("Replace the [AC] unit"));
        assert_eq!(context("no match here", "tire"), None);
    }

    #[test]
    fn ids_are_matched_on_the_file_base_name() {
        assert_eq!(
            base_id("../data/edmunds/Scraped_Car_Review_kia.csv#0012"),
            "Scraped_Car_Review_kia.csv#12"
        );
        assert_eq!(base_id("7"), "7");
    }
}
