//! Record types and file formats shared by every partfinder stage.
//!
//! This is the leaf crate of the workspace: it has no heavy dependency (no polars, no candle,
//! no network), so every stage can depend on it without pulling in another stage's weight.
//! It owns:
//!
//! - [`Lexicon`] / [`LexiconEntry`]: `lexicon.csv` (`surface,canonical,category,source`), written
//!   by `scrape` and read by `label`. Every reader and writer of that file goes through it.
//! - [`text::normalize`]: the one text normalisation that dataset export and prediction share.
//! - [`ReviewId`]: the stable identity of a review (`source_file` + index) used for splits.
//! - [`atomic::write_atomic`]: temporary file + rename, so a crash never leaves half a file.
//!
//! ```
//! use records::{Lexicon, LexiconEntry};
//!
//! let lexicon = Lexicon::from_entries(vec![
//!     LexiconEntry::new("brake pad", "brake pad", "Braking system", "manual"),
//!     LexiconEntry::new("brake pads", "brake pad", "Braking system", "manual"),
//! ]);
//! let mut csv = Vec::new();
//! lexicon.write_to(&mut csv).unwrap();
//! let back = Lexicon::from_reader(&csv[..], "inline.csv").unwrap();
//! assert_eq!(back, lexicon);
//! assert_eq!(back.canonical_count(), 1);
//! ```

pub mod atomic;
pub mod dataset;
mod error;
pub mod gold;
mod lexicon;
pub mod run;
#[cfg(feature = "testing")]
pub mod testing;
pub mod text;

pub use error::{Error, Result};
pub use lexicon::{Lexicon, LexiconEntry, LEXICON_HEADER};

use std::fmt;

/// The stable identity of one review: the file it came from and its index inside that file.
///
/// Splits and exclusion lists are keyed by this id, so a review keeps its split when the input
/// grows. Its text form is `source_file#index`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReviewId {
    /// File name (not the full path) the review was read from.
    pub source_file: String,
    /// The review's index inside that file (the Kaggle index column, or its row number).
    pub index: i64,
}

impl ReviewId {
    /// Builds an id from a file name and an index.
    pub fn new(source_file: impl Into<String>, index: i64) -> Self {
        Self { source_file: source_file.into(), index }
    }
}

impl fmt::Display for ReviewId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.source_file, self.index)
    }
}

impl std::str::FromStr for ReviewId {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let (file, index) =
            s.rsplit_once('#').ok_or_else(|| format!("review id {s:?} has no '#'"))?;
        let index =
            index.parse().map_err(|_| format!("review id {s:?}: index is not an integer"))?;
        Ok(Self::new(file, index))
    }
}

/// One labeled review as the later stages see it: what `label` wrote, read back through
/// `label::read_labeled` (which owns the labeled-table file formats, CSV and Parquet).
#[derive(Debug, Clone, PartialEq)]
pub struct LabeledReview {
    /// `source_file` + index.
    pub id: ReviewId,
    /// `Review_Title` (empty when the file has none).
    pub title: String,
    /// `Review`, trimmed, line breaks as `\n`.
    pub review: String,
    /// `Rating` (1..5 in eighths), when present.
    pub rating: Option<f64>,
    /// `List_part`: distinct canonical parts in order of first mention.
    pub parts: Vec<String>,
    /// `Spans_part` (`label --spans`): every mention with its byte offsets; `None` when the
    /// table has no such column.
    pub spans: Option<Vec<Mention>>,
}

/// One mention of a part in a labeled review, as `label --spans` writes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mention {
    /// The canonical part.
    pub part: String,
    /// The text matched.
    pub text: String,
    /// The column it was found in (`Review` or `Review_Title`).
    pub field: String,
    /// Byte offsets in that field.
    pub start: usize,
    pub end: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn review_id_round_trips_through_text() {
        let id = ReviewId::new("Scraped_Car_Review_kia.csv", 42);
        assert_eq!(id.to_string(), "Scraped_Car_Review_kia.csv#42");
        assert_eq!("Scraped_Car_Review_kia.csv#42".parse::<ReviewId>().unwrap(), id);
        // A '#' inside the file name is kept: only the last one separates the index.
        assert_eq!("a#b.csv#3".parse::<ReviewId>().unwrap(), ReviewId::new("a#b.csv", 3));
        assert!("nohash".parse::<ReviewId>().is_err());
        assert!("f.csv#x".parse::<ReviewId>().is_err());
    }
}
