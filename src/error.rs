//! The pipeline's error type.

use std::path::{Path, PathBuf};

/// What can go wrong while running the pipeline; every variant names where.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file or directory failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML or has unknown or ill-typed keys.
    #[error("{path}: {message}")]
    Config {
        /// The configuration file.
        path: PathBuf,
        /// What the TOML parser said (with line and column).
        message: String,
    },
    /// A configuration value is out of range or inconsistent.
    #[error("{key}: {message}")]
    Invalid {
        /// The configuration key, as `section.key`.
        key: String,
        /// Why it is invalid.
        message: String,
    },
    /// `--force` named a stage that does not exist.
    #[error("unknown stage {0:?} (one of scrape, label, jsonl, finetune, predict, eval)")]
    UnknownStage(String),
    /// A stage binary was not found.
    #[error(
        "{name}: binary not found ({searched}); build the stages with \
         `cargo build --release -p scrape -p label -p jsonl -p finetune -p eval` or give --bin-dir"
    )]
    MissingBinary {
        /// The binary's name.
        name: String,
        /// Where it was looked for.
        searched: String,
    },
    /// A stage's command could not be started or exited with a failure status.
    #[error("stage {stage} failed: `{command}` {status}")]
    StageFailed {
        /// The stage.
        stage: String,
        /// The command line.
        command: String,
        /// How it ended ("exited with status 2", "could not start: ...").
        status: String,
    },
    /// An object store operation failed.
    #[error("{url}: {message}")]
    S3 {
        /// The `s3://bucket/key` address.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// A file written by the project's own types could not be written.
    #[error(transparent)]
    Records(#[from] records::Error),
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io { path: path.to_owned(), source }
    }
}

/// The pipeline's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
