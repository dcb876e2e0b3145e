//! Part tagging: a BERT-family encoder (all-MiniLM-L6-v2, say) fine-tuned for token
//! classification (`BertForTokenClassification`, BIO tags `O`, `B-PART`, `I-PART`) on the spans
//! the labeler finds (`label --spans` → `jsonl export --format tagging`). One forward pass per
//! review instead of decoding token by token.
//!
//! - [`data`]: reviews cut into token windows with BIO tags; tags back to spans.
//! - [`train`]: `tag train` through the shared loop ([`crate::trainer`]): the validation score
//!   is span F1 against the labeler, or with hand annotations the guideline's F1 (early
//!   stopping on what people judge, not on the teacher); the loss of the labeler's negatives
//!   can be down-weighted (`o_weight`).
//! - [`predict`]: `tag predict` writes `predictions.jsonl` ([`records::run::Prediction`], with
//!   the spans and their confidence), which `eval score --annotations` scores like any
//!   extractor's.
//!
//! A run directory is a model directory that `transformers` loads with
//! `AutoModelForTokenClassification` (`config.json` with `id2label`, `model.safetensors`, the
//! tokenizer files), plus `metrics.json`, `log.csv` and `training_info.txt`.

pub mod data;
pub mod predict;
pub mod train;
