//! Fine-tuning datasets: export labeled reviews as JSONL, and validate JSONL strictly.
//!
//! **Export** ([`export::export`]) reads the labeler's table (`.csv` or `.parquet`, through
//! `label::read_labeled`) and writes, into an output directory, `train.jsonl`, `valid.jsonl` and
//! `test.jsonl` in one of the two formats of the field, each with a line-aligned `<split>.ids`
//! sidecar of review ids, and a `manifest.json`:
//!
//! ```text
//! legacy: {"prompt":"Great car, new tires ->","completion":" tire END"}
//! chat:   {"messages":[{"role":"system","content":"List the vehicle parts ..."},
//!                      {"role":"user","content":"Great car, new tires"},
//!                      {"role":"assistant","content":"tire"}]}
//! ```
//!
//! **Validate** ([`validate::validate_file`]) streams a JSONL file line by line and reports every
//! problem with its line, key, and for a syntax error its column: the checks of the old OpenAI
//! `prepare_data` tool for the legacy format, the cookbook's format checks for the chat format,
//! and, with a `tokenizer.json`, token statistics and the default epoch count.
//!
//! Main types: [`export::ExportConfig`] → [`export::Manifest`]; [`validate::ValidateConfig`] →
//! [`validate::Report`] of [`validate::Finding`]s; [`tokens::TokenCounter`].
//!
//! ```
//! use jsonl::validate::{validate_reader, ValidateConfig};
//!
//! let data = "{\"prompt\": \"Squeaky brakes ->\", \"completion\": \" brake END\"}\n\
//!             {\"prompt\": \"New tires ->\", \"Completion\": \" tire END\"}\n\
//!             {\"prompt\": \"Loud\n";
//! let report = validate_reader(data.as_bytes(), "inline", &ValidateConfig::default(), None).unwrap();
//! assert!(!report.is_ok());
//! let at: Vec<_> = report.findings.iter().map(|f| (f.line, f.code)).collect();
//! assert!(at.contains(&(Some(2), "key_case")));
//! assert!(at.contains(&(Some(3), "json_syntax")));
//! ```

mod error;
pub mod export;
pub mod split;
pub mod stats;
pub mod tokens;
pub mod validate;

pub use error::{Error, Result};

use serde::{Deserialize, Serialize};

/// The dataset formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `{"prompt": ..., "completion": ...}`.
    Legacy,
    /// `{"messages": [...]}`.
    Chat,
    /// `{"text": ..., "spans": [{"start", "end", "part"}]}`: token classification (the tagger of
    /// `finetune tag`), from a table labeled with `label --spans`.
    Tagging,
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Legacy => "legacy",
            Self::Chat => "chat",
            Self::Tagging => "tagging",
        })
    }
}
