use std::path::PathBuf;

/// Errors of the shared file formats. Every variant names the file, and the line where one is
/// known, so that a user can open the file at the right place.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The header does not have the expected columns.
    #[error("{path}: line 1: expected header {expected:?}, found {found:?}")]
    Header { path: PathBuf, expected: String, found: String },
    /// A record could not be parsed.
    #[error("{path}: line {line}: {message}")]
    Record { path: PathBuf, line: u64, message: String },
    /// A field of a record is invalid.
    #[error("{path}: line {line}: field {field:?}: {message}")]
    Field { path: PathBuf, line: u64, field: &'static str, message: String },
    /// A command was asked to write where one of its own inputs lives.
    #[error("{output}: the output would replace the input {input}; choose another output path")]
    OutputIsInput { output: PathBuf, input: PathBuf },
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}
