//! Files of a training run directory, shared by `finetune` (writes them) and `eval` (reads them):
//! `results.csv` ([`ResultsRow`]) and `predictions.jsonl` ([`Prediction`]).

use std::io::{Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The header of `results.csv`, exactly the hosted legacy fine-tuning jobs' columns and order.
pub const RESULTS_HEADER: [&str; 9] = [
    "step",
    "elapsed_tokens",
    "elapsed_examples",
    "training_loss",
    "training_sequence_accuracy",
    "training_token_accuracy",
    "validation_loss",
    "validation_sequence_accuracy",
    "validation_token_accuracy",
];

/// One optimizer step of `results.csv`. Validation cells are empty except on evaluation steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultsRow {
    pub step: u64,
    /// Tokens processed so far, repeats (epochs) counted.
    pub elapsed_tokens: u64,
    /// Examples processed so far, repeats counted.
    pub elapsed_examples: u64,
    pub training_loss: f64,
    /// Share of the batch's completions whose every token was predicted right (teacher-forced).
    pub training_sequence_accuracy: f64,
    /// Share of the batch's completion tokens whose argmax was right (teacher-forced).
    pub training_token_accuracy: f64,
    pub validation_loss: Option<f64>,
    pub validation_sequence_accuracy: Option<f64>,
    pub validation_token_accuracy: Option<f64>,
}

/// Reads `results.csv`.
///
/// # Errors
/// The file cannot be read, the header differs from [`RESULTS_HEADER`], or a row does not parse;
/// errors name the file and line.
pub fn read_results(path: &Path) -> Result<Vec<ResultsRow>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    read_results_from(file, path)
}

/// Reads `results.csv` from any reader; `path` is used in error messages only.
///
/// # Errors
/// As [`read_results`].
pub fn read_results_from(reader: impl Read, path: &Path) -> Result<Vec<ResultsRow>> {
    let mut rdr = csv::Reader::from_reader(reader);
    let headers = rdr.headers().map_err(|e| Error::Record {
        path: path.to_owned(),
        line: 1,
        message: e.to_string(),
    })?;
    if headers.iter().ne(RESULTS_HEADER) {
        return Err(Error::Header {
            path: path.to_owned(),
            expected: RESULTS_HEADER.join(","),
            found: headers.iter().collect::<Vec<_>>().join(","),
        });
    }
    rdr.deserialize()
        .map(|row| {
            row.map_err(|e: csv::Error| Error::Record {
                path: path.to_owned(),
                line: e.position().map_or(0, |p| p.line()),
                message: e.to_string(),
            })
        })
        .collect()
}

/// Writes `results.csv` (header and rows) to any writer. Floats are written with enough digits
/// to round-trip.
///
/// # Errors
/// Any I/O error of the writer.
pub fn write_results_to(rows: &[ResultsRow], writer: impl Write) -> std::io::Result<()> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(writer);
    w.write_record(RESULTS_HEADER)?;
    for row in rows {
        w.serialize(row)?;
    }
    w.flush()
}

/// One line of `predictions.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// The example's id (`source_file#index` for reviews, else the 1-based input line).
    pub id: String,
    /// The raw generated completion, stop sequence excluded.
    pub completion: String,
    /// The parsed part list ([`crate::dataset::parse_parts`]).
    pub parts: Vec<String>,
    /// The gold parts, when the input carried them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gold: Option<Vec<String>>,
    /// Where the parts were found, for extractors that tag the text (`finetune tag predict`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spans: Option<Vec<PredictedSpan>>,
}

/// A span of the review text that an extractor tagged as a part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictedSpan {
    /// Byte offsets in the normalised review text ([`crate::text::normalize`]).
    pub start: usize,
    pub end: usize,
    /// The text tagged.
    pub text: String,
    /// The part it names (a lexicon's canonical when one matches, else the text).
    pub part: String,
    /// The smallest probability, over the span's tokens, of being part of a mention.
    pub confidence: f32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_round_trip_with_empty_validation_cells() {
        let rows = vec![
            ResultsRow {
                step: 1,
                elapsed_tokens: 512,
                elapsed_examples: 8,
                training_loss: 2.5,
                training_sequence_accuracy: 0.0,
                training_token_accuracy: 0.25,
                validation_loss: None,
                validation_sequence_accuracy: None,
                validation_token_accuracy: None,
            },
            ResultsRow {
                step: 2,
                elapsed_tokens: 1024,
                elapsed_examples: 16,
                training_loss: 2.0,
                training_sequence_accuracy: 0.125,
                training_token_accuracy: 0.5,
                validation_loss: Some(2.25),
                validation_sequence_accuracy: Some(0.0),
                validation_token_accuracy: Some(0.375),
            },
        ];
        let mut buf = Vec::new();
        write_results_to(&rows, &mut buf).unwrap();
        let text = String::from_utf8(buf.clone()).unwrap();
        assert!(text.starts_with("step,elapsed_tokens,elapsed_examples,training_loss,training_sequence_accuracy,training_token_accuracy,validation_loss,validation_sequence_accuracy,validation_token_accuracy\n1,512,8,2.5,0.0,0.25,,,\n"), "{text}");
        assert_eq!(read_results_from(&buf[..], Path::new("results.csv")).unwrap(), rows);
    }
}
