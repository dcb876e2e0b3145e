use std::path::PathBuf;

/// Errors of `jsonl`. Every variant names the file (and the line where one is known).
///
/// Problems found *inside* a JSONL file by `validate` are not errors of this type: they are
/// [`Finding`](crate::validate::Finding)s in a [`Report`](crate::validate::Report). An `Error`
/// means the command could not do its work at all (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The labeled input could not be read.
    #[error(transparent)]
    Label(#[from] label::Error),
    /// An output file could not be written.
    #[error(transparent)]
    Records(#[from] records::Error),
    /// A line of an `--exclude` file is not a review id (`source_file#index`).
    #[error("{path}: line {line}: {message}")]
    Exclude { path: PathBuf, line: u64, message: String },
    /// A `tokenizer.json` could not be loaded.
    #[error("{path}: cannot load tokenizer: {message}")]
    TokenizerLoad { path: PathBuf, message: String },
    /// The tokenizer failed on a text.
    #[error("{what}: cannot count tokens: {message}")]
    Tokenize { what: String, message: String },
    /// The input gives nothing to write: an empty dataset is an error, not a success.
    #[error("{path}: {message}")]
    Empty { path: PathBuf, message: String },
    /// A mention of the labeled table does not fit its review.
    #[error("review {id}: {message}")]
    Mention { id: String, message: String },
    /// An option has a value that cannot work.
    #[error("option {option}: {message}")]
    Config { option: &'static str, message: String },
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }

    pub(crate) fn config(option: &'static str, message: impl Into<String>) -> Self {
        Self::Config { option, message: message.into() }
    }
}
