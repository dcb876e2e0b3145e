//! The one error type of the scrape library.

use std::path::PathBuf;

/// Everything that can go wrong while building a lexicon.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A local file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A line of a stop-list or extra-aliases file is malformed.
    #[error("{}: line {line}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// A URL given on the command line or in a redirect could not be parsed.
    #[error("{url}: invalid url: {message}")]
    BadUrl {
        /// The text that is not a URL.
        url: String,
        /// Why.
        message: String,
    },
    /// The CSS selector given for generic list pages does not parse.
    #[error("invalid css selector {selector:?}: {message}")]
    BadSelector {
        /// The selector text.
        selector: String,
        /// The parser's message.
        message: String,
    },
    /// The server answered with a status that is not success (after retries for 5xx).
    #[error("{url}: http status {status}")]
    Status {
        /// The URL requested.
        url: String,
        /// The final HTTP status code.
        status: u16,
    },
    /// The request failed at the transport level (connection refused, timeout) after retries.
    #[error("{url}: request failed after {attempts} attempt(s): {message}")]
    Transport {
        /// The URL requested.
        url: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last transport error.
        message: String,
    },
    /// robots.txt of the host forbids fetching this URL.
    #[error("{url}: disallowed by robots.txt")]
    Disallowed {
        /// The URL that may not be fetched.
        url: String,
    },
    /// More redirects than allowed, or a redirect without a location.
    #[error("{url}: {message}")]
    Redirect {
        /// The URL requested.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The body is neither HTML nor plain text.
    #[error("{url}: not an html page or text list (content-type {content_type:?})")]
    NotHtml {
        /// The URL requested.
        url: String,
        /// The content type the server sent.
        content_type: String,
    },
    /// `--offline` was given and the URL is not in the cache.
    #[error("{url}: not in the cache at {} (offline)", cache_dir.display())]
    NotCached {
        /// The URL that was asked for.
        url: String,
        /// The cache directory that was searched.
        cache_dir: PathBuf,
    },
    /// A source gave no list item at all: almost always the wrong page or selector, and a
    /// lexicon without its parts would label nothing.
    #[error(
        "{origin}: no list item found{}",
        if *html { "; for a page that is not a MediaWiki article, give --selector" } else { "" }
    )]
    NoItems {
        /// The file or URL.
        origin: String,
        /// Whether it was read as HTML.
        html: bool,
    },
    /// The HTTP client could not be built.
    #[error("cannot build http client: {0}")]
    Client(String),
    /// Writing the lexicon failed.
    #[error(transparent)]
    Records(#[from] records::Error),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}

/// The scrape library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
