use std::path::PathBuf;

/// Errors of the fine-tuning library. Variants name the file (and line) where one is involved.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A shared record file (results.csv, atomic write) failed.
    #[error(transparent)]
    Records(#[from] records::Error),
    /// A JSON file (config.json, tokenizer_config.json, state.json, a JSONL line) is invalid.
    #[error("{path}: line {line}: {message}")]
    Json { path: PathBuf, line: u64, message: String },
    /// A model directory lacks a file or holds an unsupported configuration.
    #[error("{path}: {message}")]
    Model { path: PathBuf, message: String },
    /// The tokenizer failed to load, train, encode or decode.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// The chat template could not be parsed or rendered.
    #[error("chat template: {0}")]
    Template(String),
    /// A tensor operation failed.
    #[error("tensor: {0}")]
    Candle(#[from] candle_core::Error),
    /// An example cannot be trained on (empty completion, no loss token...).
    #[error("{path}: line {line}: {message}")]
    Example { path: PathBuf, line: u64, message: String },
    /// The training configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The loss became NaN or infinite; the last good checkpoint is kept.
    #[error("non-finite training loss ({loss}) at step {step}; {kept}")]
    NonFinite { step: u64, loss: f64, kept: String },
    /// A checkpoint cannot be resumed from.
    #[error("{path}: cannot resume: {message}")]
    Resume { path: PathBuf, message: String },
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }

    pub(crate) fn model(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::Model { path: path.into(), message: message.into() }
    }

    pub(crate) fn json(path: impl Into<PathBuf>, line: u64, message: impl ToString) -> Self {
        Self::Json { path: path.into(), line, message: message.to_string() }
    }

    pub(crate) fn tokenizer(message: impl ToString) -> Self {
        Self::Tokenizer(message.to_string())
    }
}
