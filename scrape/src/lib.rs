//! Builds the vehicle-part lexicon (`lexicon.csv`) from list pages, live or saved, and plain
//! lists.
//!
//! The labeler is only as good as its lexicon. This stage reads lists of car parts written for
//! people (a Wikipedia "List of auto parts" page, other list pages, plain text lists), turns
//! each item into canonical part names and aliases, merges them across sources, keeps out names
//! too ambiguous to tag alone, and writes `lexicon.csv` through [`records::Lexicon`], the one
//! owner of that format (`surface,canonical,category,source`, one row per surface, sorted,
//! written atomically).
//!
//! # Files
//! - reads: HTML pages (`--file page.html`, `--url https://…`), plain lists (`--file list.txt`,
//!   `--text FILE`), existing lexicons in the `lexicon.csv` format (`--lexicon-in FILE`, e.g. the
//!   hand-compiled `data/lexicon-handmade.csv`), the reviewed extra aliases (`data/lexicon-extra-aliases.csv`, header
//!   `alias,canonical`), the stop-list (`data/lexicon-stoplist.txt`, `surface # reason`);
//! - writes: `lexicon.csv` (`--out`), and fetched pages into the cache directory.
//!
//! # Main types
//! - [`ScrapeConfig`] / [`Source`]: what to read; [`build_lexicon`] runs the stage.
//! - [`FetchConfig`] / [`Fetcher`]: polite, cached, retrying HTTP (the only network code of
//!   the workspace).
//! - [`Report`]: counts per source, lexicon size, every dropped item with its [`DropReason`].
//!
//! # How items become names
//! `Grille (also called grill)` → `grille` + alias `grill`; `Tire/Tyre` → `tire` + `tyre`;
//! `Fender (wing or mudguard)` → `fender` + `mudguard` (`wing` is stop-listed); `Door lock and
//! power door locks` → two parts; `Front Left Side Window motor` → `window motor`; `Brakes` →
//! `brake` (the labeler adds plurals itself); `Other belts`, `Ignition coil parts` and
//! parenthetical qualifiers such as `(front and rear)` are dropped. See [`normalize`] and
//! [`build`] for the rules.
//!
//! # Command line
//! ```text
//! cargo run -p scrape -- \
//!     --file ../shared/data/lexicon/wikipedia_list_of_auto_parts.html \
//!     --file ../shared/data/lexicon/DMD_project_car_parts.txt \
//!     --file ../shared/data/lexicon/visnyaisoma_carparts.txt \
//!     --lexicon-in data/lexicon-handmade.csv \
//!     --extra-aliases data/lexicon-extra-aliases.csv \
//!     --stoplist data/lexicon-stoplist.txt \
//!     --out data/lexicon.csv
//! ```
//! `--url URL` fetches a page (cached in `--cache-dir`, default `~/.cache/partfinder/scrape`;
//! `--offline` uses only the cache), `--selector CSS` picks items on pages that are not
//! MediaWiki articles, `--explain` lists every dropped item with its reason. Sources are read
//! in the order given; the first name listed for a part is its canonical name.
//!
//! # Example
//! ```
//! use scrape::{build_lexicon, ScrapeConfig, Source};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let list = dir.path().join("parts.txt");
//! std::fs::write(&list, "Brakes\r\nTire/Tyre\r\nBody control module \r\nBCM").unwrap();
//! let config = ScrapeConfig { sources: vec![Source::File(list)], ..Default::default() };
//! let (lexicon, report) = build_lexicon(&config).unwrap();
//! assert_eq!(lexicon.canonical_count(), 3);
//! let bcm = lexicon.entries().iter().find(|e| e.surface == "BCM").unwrap();
//! assert_eq!(bcm.canonical, "body control module");
//! assert_eq!(report.aliases(), 2); // tyre, BCM
//! ```

pub mod build;
mod error;
pub mod extract;
pub mod fetch;
pub mod normalize;
pub mod report;
pub mod robots;
pub mod stoplist;

use std::path::PathBuf;

pub use build::Builder;
pub use error::{Error, Result};
pub use fetch::{FetchConfig, Fetcher, Page};
pub use records::{Lexicon, LexiconEntry};
pub use report::{DropReason, Dropped, Report};
pub use stoplist::StopList;

/// One source of part names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A page fetched over HTTP(S); HTML, or plain text when served as `text/plain`.
    Url(String),
    /// A saved file: HTML when its extension is `.html`/`.htm`, a plain list otherwise.
    File(PathBuf),
    /// A plain list whatever its extension.
    Text(PathBuf),
    /// An existing lexicon in the project's format (`surface,canonical,category,source`, read
    /// through [`Lexicon::read`]), such as a hand-compiled one; see [`Builder::add_lexicon`].
    Lexicon(PathBuf),
}

impl Source {
    /// The name the source is recorded under in `lexicon.csv` (see [`fetch::source_name`]).
    pub fn name(&self) -> String {
        match self {
            Self::Url(u) => fetch::source_name(u),
            Self::File(p) | Self::Text(p) | Self::Lexicon(p) => {
                fetch::source_name(&p.to_string_lossy())
            }
        }
    }
}

/// Everything [`build_lexicon`] needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScrapeConfig {
    /// Sources, read in this order (earlier names win as canonical names).
    pub sources: Vec<Source>,
    /// CSS selector for items on HTML pages that are not MediaWiki articles (default `li`).
    pub selector: Option<String>,
    /// Reviewed extra aliases (`alias,canonical` CSV, or reviewed candidates
    /// `accept,alias,canonical,...` from `finetune tag predict --candidates`), read after all
    /// sources, in order.
    pub extra_aliases: Vec<PathBuf>,
    /// Stop-list file (`surface # reason` lines).
    pub stoplist: Option<PathBuf>,
    /// How URLs are fetched.
    pub fetch: FetchConfig,
}

/// Reads every source and builds the lexicon.
///
/// # Errors
/// A source, the stop-list or the extra-aliases file cannot be read or parsed; the selector is
/// invalid; a URL cannot be fetched (see [`Fetcher::fetch`]).
pub fn build_lexicon(config: &ScrapeConfig) -> Result<(Lexicon, Report)> {
    let stoplist = match &config.stoplist {
        Some(path) => StopList::read(path)?,
        None => StopList::default(),
    };
    let selector = config
        .selector
        .as_deref()
        .map(|s| {
            scraper::Selector::parse(s)
                .map_err(|e| Error::BadSelector { selector: s.to_owned(), message: e.to_string() })
        })
        .transpose()?;
    let mut fetcher: Option<Fetcher> = None;
    let mut builder = Builder::new(stoplist);
    for source in &config.sources {
        let name = source.name();
        let (extracted, origin) = match source {
            Source::Url(url) => {
                let fetcher = fetcher.get_or_insert_with(|| Fetcher::new(config.fetch.clone()));
                let page = fetcher.fetch(url)?;
                let origin = if page.from_cache { format!("{url}, cached") } else { url.clone() };
                let extracted = match page.kind {
                    fetch::BodyKind::Html => extract::extract_html(&page.body, selector.as_ref()),
                    fetch::BodyKind::Text => extract::extract_text(&page.body),
                };
                (extracted, origin)
            }
            Source::Lexicon(path) => {
                let lexicon = Lexicon::read(path)?;
                builder.add_lexicon(&lexicon, &name, &path.display().to_string());
                continue;
            }
            Source::File(path) | Source::Text(path) => {
                let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
                let text = String::from_utf8_lossy(&bytes);
                let html = matches!(source, Source::File(_))
                    && path.extension().is_some_and(|e| {
                        e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm")
                    });
                let extracted = if html {
                    extract::extract_html(&text, selector.as_ref())
                } else {
                    extract::extract_text(&text)
                };
                (extracted, path.display().to_string())
            }
        };
        if extracted.items.is_empty() {
            let html = match source {
                Source::Url(_) => true,
                Source::File(p) => p.extension().is_some_and(|e| {
                    e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm")
                }),
                _ => false,
            };
            return Err(Error::NoItems { origin, html });
        }
        builder.add_source(&name, &origin, extracted);
    }
    for path in &config.extra_aliases {
        builder.add_extra_aliases(path, &fetch::source_name(&path.to_string_lossy()))?;
    }
    let (lexicon, report) = builder.finish();
    if lexicon.is_empty() {
        return Err(Error::NoItems { origin: "every source".into(), html: false });
    }
    Ok((lexicon, report))
}
