//! Text classification: fine-tune BERT, DistilBERT or RoBERTa-family encoders (MiniLM,
//! CamemBERT, XLM-R), or a Llama-family decoder (Llama, SmolLM2, Qwen2, Mistral; last-token
//! pooling into `score.weight`), with the Hugging Face `*ForSequenceClassification` heads.
//!
//! `classify train` reads a CSV or JSONL file ([`data`]), splits off a stratified validation
//! set when none is given, fine-tunes ([`train`]) and writes a run directory that
//! `transformers` loads with `AutoModelForSequenceClassification`:
//!
//! - `config.json` (the base's, with `architectures`, `id2label`, `label2id`),
//!   `model.safetensors` (Hugging Face names), `tokenizer.json` and the tokenizer side files;
//! - `metrics.json` (validation, an `eval::classification` report), `test_metrics.json` with
//!   `--test`, `baseline_metrics.json` with the TF-IDF baseline ([`baseline`]);
//! - `confusion_matrix.png` (and `test_confusion_matrix.png`), `log.csv` (one row per step),
//!   `training_info.txt`.
//!
//! `classify predict` ([`predict`]) writes `{"id", "text", "label", "predicted", "confidence",
//! "probabilities"}` lines, which `eval classify --predictions` reads.
//!
//! ```no_run
//! use finetune::classify::train::{train, ClassifyConfig, ClassifyHParams};
//! use finetune::progress::Reporter;
//!
//! let cfg = ClassifyConfig {
//!     base: "models/all-minilm-l6-v2".into(),
//!     train: "tickets.csv".into(),
//!     valid: None,
//!     test: None,
//!     out: "runs/tickets".into(),
//!     columns: Default::default(),
//!     labels: None,
//!     hparams: ClassifyHParams { epochs: 3, ..ClassifyHParams::default() },
//!     baseline: true,
//!     resume: false,
//!     stop_after: None,
//!     device: candle_core::Device::Cpu,
//! };
//! let s = train(&cfg, &Reporter::silent())?;
//! println!("validation macro F1 {:.3}", s.valid.macro_f1);
//! # Ok::<(), finetune::Error>(())
//! ```

pub mod baseline;
pub mod data;
pub mod model;
pub mod predict;
pub mod train;
