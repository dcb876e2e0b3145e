use std::path::PathBuf;

/// Errors of the eval library. Variants name the file, and the line or field where one is known.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A shared record file (`results.csv`, an atomic write) failed in the `records` crate.
    #[error(transparent)]
    Records(#[from] records::Error),
    /// A line of a JSONL or CSV input does not parse.
    #[error("{path}: line {line}: {message}")]
    Line { path: PathBuf, line: u64, message: String },
    /// A field of a record is missing or invalid.
    #[error("{path}: line {line}: field {field:?}: {message}")]
    Field { path: PathBuf, line: u64, field: String, message: String },
    /// A whole file is unusable (no rows, no matching ids, a missing column).
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    /// A label that is not in the label list (classification).
    #[error("unknown label {label:?}{}", location.as_deref().map(|l| format!(" at {l}")).unwrap_or_default())]
    UnknownLabel { label: String, location: Option<String> },
    /// No TrueType font could be found or loaded for chart text.
    #[error("{0}")]
    Font(String),
    /// Drawing a chart failed.
    #[error("cannot draw {what}: {message}")]
    Plot { what: String, message: String },
    /// The input is valid file by file but cannot be used as asked.
    #[error("{0}")]
    Invalid(String),
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }

    pub(crate) fn line(path: impl Into<PathBuf>, line: u64, message: impl Into<String>) -> Self {
        Self::Line { path: path.into(), line, message: message.into() }
    }

    pub(crate) fn file(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::File { path: path.into(), message: message.into() }
    }
}
