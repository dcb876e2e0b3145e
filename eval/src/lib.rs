//! Evaluation of partfinder runs: what each fine-tuning round bought.
//!
//! Reads the files of run directories (`results.csv`, `predictions.jsonl`, `hparams.json`,
//! `scores.json`, `classification.json` and the lineage file `runs/index.json`, all read
//! tolerantly), gold data (a `jsonl` dataset with its `.ids` sidecar, or a labeled CSV), and
//! writes PNG charts, JSON score files and one self-contained HTML report.
//!
//! - [`score`]: exact match, micro/macro P/R/F1, a per-part table, the worst examples and
//!   held-out versus seen recall ([`score::score`] → [`score::ScoreReport`]).
//! - [`classification`]: accuracy, macro and weighted F1, per-class scores and the confusion
//!   matrix ([`classification::ClassificationReport`]); no dependency beyond `std` and `serde`,
//!   for the classification trainer to share.
//! - [`compare`]: one row per run ([`compare::RunSummary`]) as markdown or CSV.
//! - [`plot`] and [`report`] (feature `plot`, on by default): training curves, confusion
//!   matrices (plotters, PNG) and the HTML page.
//!
//! ```
//! use eval::score::{score, GoldExample, ScoreConfig};
//! use records::run::Prediction;
//!
//! let gold = vec![GoldExample { id: "kia.csv#1".into(), parts: vec!["brake pad".into(), "tire".into()] }];
//! let predictions = vec![Prediction {
//!     id: "kia.csv#1".into(),
//!     completion: " Brake pad, seat".into(),
//!     parts: vec!["Brake pad".into(), "seat".into()],
//!     gold: None,
//!     spans: None,
//! }];
//! let report = score(&predictions, &gold, &ScoreConfig::default()).unwrap();
//! assert_eq!((report.tp, report.fp, report.fn_), (1, 1, 1));
//! assert_eq!(report.micro.f1, 0.5);
//! assert_eq!(report.worst[0].missing, ["tire"]);
//! ```

pub mod classification;
pub mod compare;
mod error;
pub mod human;
#[cfg(feature = "plot")]
pub mod plot;
#[cfg(feature = "plot")]
pub mod report;
pub mod score;

pub use error::{Error, Result};
