//! Fine-tuning of Llama-family language models with candle, for part extraction.
//!
//! This crate is the local replacement for a hosted fine-tuning job. It reads the JSONL that
//! `jsonl export` writes (legacy prompt/completion or chat lines, [`records::dataset`]) and a
//! Hugging Face model directory ([`model_dir`]: `config.json`, `model.safetensors`,
//! `tokenizer.json`, `tokenizer_config.json`), and writes a run directory of the same shape plus
//! `results.csv` ([`records::run::ResultsRow`], the hosted jobs' columns), `hparams.json` and,
//! while running, resumable checkpoints ([`checkpoint`]). Predictions go to
//! `predictions.jsonl` ([`records::run::Prediction`]).
//!
//! Main types: [`models::llama::LlamaForCausalLM`] (a decoder written for training: every op
//! has a backward pass), [`train::TrainConfig`] / [`train::train`], [`predict::Predictor`],
//! [`rounds::RoundConfig`] (iterative rounds `partfinder_t_001`, `_002`, ... with a lineage in
//! `runs/index.json`), and [`tiny::init_tiny`] (a small model + tokenizer for tests and the
//! embedded default). Text classification with BERT-family encoders lives in [`classify`].
//!
//! ```no_run
//! use finetune::progress::Reporter;
//! use finetune::train::{train, HParams, TrainConfig};
//!
//! let cfg = TrainConfig {
//!     base: "models/tiny".into(),
//!     train: "out/train.jsonl".into(),
//!     valid: Some("out/valid.jsonl".into()),
//!     out: "runs/partfinder_t_001".into(),
//!     hparams: HParams { epochs: 3, learning_rate: 3e-3, ..HParams::default() },
//!     resume: false,
//!     stop_after: None,
//!     grad_checkpoint: false,
//!     device: candle_core::Device::Cpu,
//! };
//! let summary = train(&cfg, &Reporter::silent())?;
//! println!("validation token accuracy {:?}", summary.validation_token_accuracy);
//! # Ok::<(), finetune::Error>(())
//! ```

pub mod batch;
pub mod bench;
pub mod checkpoint;
pub mod classify;
pub mod data;
mod error;
pub mod gguf;
pub mod hub;
pub mod logits;
pub mod loss;
pub mod model_dir;
pub mod models;
pub mod ops;
pub mod optim;
pub mod predict;
pub mod progress;
pub mod rng;
pub mod rounds;
pub mod tag;
pub mod template;
pub mod tiny;
pub mod train;
pub mod trainer;

pub use error::{Error, Result};
