//! Hand annotations of part mentions (`../shared/gold/dev.jsonl`, `data/gold/*.jsonl`) and the
//! scoring rule of the annotation guideline.
//!
//! ```text
//! {"file": "Scraped_Car_Review_kia.csv", "index": 12, "mentions": [{"surface": "a/c", "canonical": "air conditioning"}]}
//! ```
//!
//! A review is named by its file's base name and index ([`ReviewId`]). A predicted part is
//! correct when its [`normalize_part`] form equals the normalised surface or canonical of one
//! of the review's mentions; recall counts the review's distinct (surface, canonical) pairs
//! that some prediction matches; both are micro-averaged over the reviews.

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result, ReviewId};

/// One annotated mention: the text as written (lower-cased) and the part it names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Mention {
    /// The lower-cased span as written in the review (`a/c`, `breaks`).
    pub surface: String,
    /// The generic part name (`air conditioning`, `brake`).
    pub canonical: String,
}

/// One annotated review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annotation {
    /// The review file's base name.
    pub file: String,
    /// The review's index in that file.
    pub index: i64,
    /// Every distinct mention; empty when the review names no part.
    pub mentions: Vec<Mention>,
}

impl Annotation {
    /// The review's id (`file#index`), as labeled tables and predictions name it.
    pub fn id(&self) -> ReviewId {
        ReviewId::new(&self.file, self.index)
    }
}

/// Reads an annotation file (JSON lines; blank lines are skipped).
///
/// # Errors
/// The file cannot be read, a line is not an annotation, a mention has an empty surface or
/// canonical, or a review is annotated twice; errors name the file and line.
pub fn read_annotations(path: &Path) -> Result<Vec<Annotation>> {
    let text = crate::text::read_text(path)?;
    let mut out: Vec<Annotation> = Vec::new();
    let mut seen: std::collections::HashMap<ReviewId, u64> = Default::default();
    for (i, line) in text.lines().enumerate() {
        let line_no = i as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        let a: Annotation = serde_json::from_str(line).map_err(|e| Error::Record {
            path: path.to_owned(),
            line: line_no,
            message: format!("not an annotation ({{\"file\", \"index\", \"mentions\"}}): {e}"),
        })?;
        if let Some(m) =
            a.mentions.iter().find(|m| m.surface.trim().is_empty() || m.canonical.trim().is_empty())
        {
            return Err(Error::Field {
                path: path.to_owned(),
                line: line_no,
                field: "mentions",
                message: format!("empty surface or canonical in {m:?}"),
            });
        }
        if let Some(first) = seen.insert(a.id(), line_no) {
            return Err(Error::Record {
                path: path.to_owned(),
                line: line_no,
                message: format!("{} is annotated twice (first at line {first})", a.id()),
            });
        }
        out.push(a);
    }
    Ok(out)
}

/// The guideline's comparison form of a part name: lower-cased, every character outside
/// `a-z0-9` removed, then a final `es` or `s` removed when the word is longer than 4
/// characters (`Brake Pads` → `brakepad`, `a/c` → `ac`, `seats` → `seat`, `tires` → `tir`).
pub fn normalize_part(s: &str) -> String {
    let mut n: String = s
        .chars()
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        .collect();
    for suffix in ["es", "s"] {
        if n.len() > 4 && n.ends_with(suffix) {
            n.truncate(n.len() - suffix.len());
            break;
        }
    }
    n
}

/// How one review's predicted parts fare against its mentions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReviewScore {
    /// Distinct normalised predictions that match a mention.
    pub correct: Vec<String>,
    /// Distinct normalised predictions that match none (false positives).
    pub wrong: Vec<String>,
    /// Mentions (distinct normalised (surface, canonical) pairs) no prediction matches.
    pub missed: Vec<Mention>,
    /// Number of distinct normalised mention pairs (recall's denominator).
    pub mentions: usize,
}

/// Scores one review by the guideline's rule.
pub fn score_review(predicted: &[String], mentions: &[Mention]) -> ReviewScore {
    let mut preds: Vec<String> = Vec::new();
    for p in predicted {
        let n = normalize_part(p);
        if !n.is_empty() && !preds.contains(&n) {
            preds.push(n);
        }
    }
    // Distinct (surface, canonical) pairs after normalisation, each kept with its first mention.
    let mut forms: Vec<(HashSet<String>, &Mention)> = Vec::new();
    for m in mentions {
        let set: HashSet<String> =
            [normalize_part(&m.surface), normalize_part(&m.canonical)].into_iter().collect();
        if !forms.iter().any(|(f, _)| *f == set) {
            forms.push((set, m));
        }
    }
    let mut score = ReviewScore { mentions: forms.len(), ..ReviewScore::default() };
    for p in preds {
        if forms.iter().any(|(f, _)| f.contains(&p)) {
            score.correct.push(p);
        } else {
            score.wrong.push(p);
        }
    }
    for (f, m) in &forms {
        if !f.iter().any(|k| score.correct.contains(k)) {
            score.missed.push((*m).clone());
        }
    }
    score
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(surface: &str, canonical: &str) -> Mention {
        Mention { surface: surface.into(), canonical: canonical.into() }
    }

    #[test]
    fn normalisation_follows_the_guideline() {
        // The reference scorer (../shared/gold/score_reference.py) gives these forms.
        for (raw, want) in [
            ("Brake Pads", "brakepad"),
            ("a/c", "ac"),
            ("tires", "tir"),
            ("brakes", "brak"),
            ("gas", "gas"),
            ("seats", "seat"),
            ("ABS", "abs"),
            ("  ", ""),
            ("Glasses", "glass"),
        ] {
            assert_eq!(normalize_part(raw), want, "{raw}");
        }
    }

    #[test]
    fn a_review_is_scored_on_surface_or_canonical() {
        let mentions = [m("a/c", "air conditioning"), m("brakes", "brake"), m("breaks", "brake")];
        let s = score_review(
            &["air conditioning".into(), "Brake".into(), "steering".into(), "brake".into()],
            &mentions,
        );
        assert_eq!(s.correct, ["airconditioning", "brake"]);
        assert_eq!(s.wrong, ["steering"]);
        // "brake" matches both brake mentions (their canonical), so nothing is missed.
        assert!(s.missed.is_empty());
        assert_eq!(s.mentions, 3);
        let s = score_review(&["ac".into()], &mentions);
        assert_eq!(s.missed, [m("brakes", "brake"), m("breaks", "brake")]);
    }

    #[test]
    fn duplicate_or_broken_annotations_are_named_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gold.jsonl");
        let line = r#"{"file": "f.csv", "index": 1, "mentions": []}"#;
        std::fs::write(&path, format!("{line}\n\n{line}\n")).unwrap();
        let err = read_annotations(&path).unwrap_err().to_string();
        assert!(
            err.ends_with("gold.jsonl: line 3: f.csv#1 is annotated twice (first at line 1)"),
            "{err}"
        );
        std::fs::write(&path, "{\"file\": \"f.csv\"}\n").unwrap();
        let err = read_annotations(&path).unwrap_err().to_string();
        assert!(err.contains("gold.jsonl: line 1: not an annotation"), "{err}");
    }
}
