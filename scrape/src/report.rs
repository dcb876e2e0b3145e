//! What a run did: counts per source, the size of the lexicon, and every dropped item.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

/// Why a piece of source text did not become a surface of the lexicon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropReason {
    /// The item is in a section that lists no parts (`See also`, `References`).
    NonPartSection(String),
    /// The surface is on the stop-list; the list's comment says why.
    StopListed(String),
    /// An acronym of fewer than three letters is too ambiguous to tag alone.
    ShortAcronym,
    /// A parenthetical that narrows or describes the name (`front and rear`, `clamp`).
    Qualifier,
    /// A parenthetical note or expansion (`a form of …`, `see also …`).
    Note,
    /// Not one specific part (`Other belts`, `Ignition coil parts`).
    Generic,
    /// More words than a part name has.
    TooLong,
    /// A bare-parenthetical alias that is listed as a separate part elsewhere.
    AliasIsPart(String),
    /// A bare-parenthetical alias claimed by several parts.
    AmbiguousAlias(String),
}

impl DropReason {
    /// A short stable label, used to count drops by reason.
    pub fn label(&self) -> &'static str {
        match self {
            Self::NonPartSection(_) => "non-part section",
            Self::StopListed(_) => "stop-list",
            Self::ShortAcronym => "short acronym",
            Self::Qualifier => "qualifier",
            Self::Note => "note",
            Self::Generic => "generic",
            Self::TooLong => "too long",
            Self::AliasIsPart(_) => "alias is a separate part",
            Self::AmbiguousAlias(_) => "ambiguous alias",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NonPartSection(section) => write!(f, "in non-part section {section:?}"),
            Self::StopListed(why) => write!(f, "stop-listed: {why}"),
            Self::ShortAcronym => f.write_str("acronym shorter than 3 letters"),
            Self::Qualifier => f.write_str("parenthetical qualifier, not another name"),
            Self::Note => f.write_str("parenthetical note or expansion"),
            Self::Generic => f.write_str("not one specific part"),
            Self::TooLong => f.write_str("too many words for a part name"),
            Self::AliasIsPart(part) => write!(f, "alias is listed as a separate part ({part})"),
            Self::AmbiguousAlias(parts) => write!(f, "alias claimed by several parts ({parts})"),
        }
    }
}

/// One piece of source text that was thrown away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// The source name it came from.
    pub source: String,
    /// The text.
    pub text: String,
    /// Why.
    pub reason: DropReason,
}

/// Counts for one source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceCount {
    /// The source name (file or URL stem, lower case).
    pub name: String,
    /// Where it was read from (path or URL, and whether the page came from the cache).
    pub origin: String,
    /// List items or lines read.
    pub items: usize,
    /// Part names (primary names, before merging) taken from them.
    pub names: usize,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Per source, in the order given.
    pub sources: Vec<SourceCount>,
    /// Distinct canonical parts in the lexicon.
    pub canonical: usize,
    /// Surface rows in the lexicon (canonicals included).
    pub surfaces: usize,
    /// Everything dropped, in the order found.
    pub dropped: Vec<Dropped>,
}

impl Report {
    /// Surfaces that are not canonical names.
    pub fn aliases(&self) -> usize {
        self.surfaces - self.canonical
    }

    /// Dropped items counted by [`DropReason::label`].
    pub fn drop_counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for d in &self.dropped {
            *counts.entry(d.reason.label()).or_insert(0) += 1;
        }
        counts
    }

    /// The summary printed on stderr after every run.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        for src in &self.sources {
            let _ = writeln!(
                s,
                "source {}: {} items, {} part names ({})",
                src.name, src.items, src.names, src.origin
            );
        }
        let _ = writeln!(
            s,
            "lexicon: {} canonical parts, {} aliases, {} surfaces",
            self.canonical,
            self.aliases(),
            self.surfaces
        );
        let counts = self.drop_counts();
        let total: usize = counts.values().sum();
        let detail: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(s, "dropped: {total} ({})", detail.join(", "));
        s
    }

    /// One line per dropped item: `source<TAB>text<TAB>reason`.
    pub fn explain(&self) -> String {
        let mut s = String::new();
        for d in &self.dropped {
            let _ = writeln!(s, "dropped\t{}\t{}\t{}", d.source, d.text, d.reason);
        }
        s
    }
}
