//! `partfinder pipeline`: the whole chain from part lists and reviews to a report, as one
//! cached, resumable command.
//!
//! The pipeline runs the stage binaries — `scrape` → `label` → `jsonl export` →
//! `finetune init-tiny`/`train` → `finetune predict` → `eval score`/`curves`/`report` — as an
//! orchestrator such as Flyte does, each in its own directory `OUT/<stage>-<hash>/`. The hash
//! is a SHA-256 over the stage's input files' contents, its options, its upstream stages'
//! hashes and the tool version ([`hash::Fingerprint`]); a directory holding the `.done` marker
//! (written last, atomically) is complete, so a re-run skips the stage ("cached: label"), and
//! a failed stage leaves the earlier ones complete for the next run to resume from.
//!
//! Files read: what [`PipelineConfig`] names (by default `data/reviews/*.csv` and
//! `data/lexicon.csv`). Files written, under `out/pipeline/`: `scrape-*/lexicon.csv`,
//! `label-*/labeled.parquet`, `jsonl-*/{train,valid,test}.jsonl`, `finetune-*/partfinder_t_001/`
//! (the run directory), `predict-*/predictions.jsonl`, `eval-*/{scores.txt,curves/,report.html}`.
//! With the `s3` feature, inputs may be `s3://bucket/key` and finished stage directories are
//! uploaded to (and fetched from) an artifacts prefix ([`s3`]).
//!
//! Main types: [`PipelineConfig`] (the TOML file), [`PipelineOptions`] (one run),
//! [`Binaries`] (where the stage binaries are), [`Summary`] (what ran, what was cached).
//!
//! ```no_run
//! use partfinder::{run, Binaries, PipelineConfig, PipelineOptions};
//!
//! let opts = PipelineOptions {
//!     config: PipelineConfig::default(),
//!     base_dir: partfinder::config::default_base_dir(),
//!     out: "out/pipeline".into(),
//!     force: None,
//!     artifacts: None,
//!     quiet: true,
//! };
//! let bins = Binaries::locate(None)?;
//! let summary = run(&opts, &bins, &mut |line| eprintln!("{line}"))?;
//! println!("{}", summary.report.display());
//! # Ok::<(), partfinder::Error>(())
//! ```

pub mod bins;
pub mod config;
mod error;
pub mod hash;
pub mod pipeline;
pub mod s3;

pub use bins::Binaries;
pub use config::PipelineConfig;
pub use error::{Error, Result};
pub use pipeline::{run, PipelineOptions, Stage, StageOutcome, Status, Summary};
