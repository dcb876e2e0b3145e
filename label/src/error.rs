use std::path::PathBuf;

/// Errors of the labeling stage; each names the file, and the line or row where one is known.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {problem}")]
    Encoding { path: PathBuf, problem: records::text::Utf8Problem },
    #[error(
        "{path}: line {line}: a quoted field is not closed before the end of the file (is the \
         file cut short?)"
    )]
    OpenQuote { path: PathBuf, line: u64 },
    #[error("{path}: a binary file (NUL bytes), not a CSV of reviews")]
    Binary { path: PathBuf },
    #[error("{path}: the file is empty (no header)")]
    Empty { path: PathBuf },
    #[error("{path}: no Review column (columns found: {})", records::text::shown_names(found))]
    MissingReview { path: PathBuf, found: Vec<String> },
    #[error("{path}: column {column:?} appears twice")]
    DuplicateColumn { path: PathBuf, column: String },
    #[error("{path}: line {line}: ragged row: {fields} fields, expected {expected}")]
    Ragged { path: PathBuf, line: u64, fields: u32, expected: String },
    #[error("{path}: row {row}: field {field:?}: {message}")]
    Field { path: PathBuf, row: usize, field: String, message: String },
    #[error("{path}: {message}")]
    Polars { path: PathBuf, message: String },
    #[error("{path}: no *.csv file found")]
    NoInput { path: PathBuf },
    #[error("{path}: unsupported output format (use .csv or .parquet)")]
    OutputFormat { path: PathBuf },
    #[error(transparent)]
    Records(#[from] records::Error),
    #[error("the lexicon has no surface left to match")]
    EmptyLexicon,
    #[error("cannot build the matcher: {0}")]
    Automaton(String),
    #[error(
        "{second}: same file name as {first}: review ids (file name + index) would collide; \
         rename one of them"
    )]
    DuplicateFileName { first: PathBuf, second: PathBuf },
    #[error("--holdout-parts must be in [0, 1), got {0}")]
    Holdout(f64),
}
