//! `lexicon.csv`: one row per surface form of a vehicle part.
//!
//! ```text
//! surface,canonical,category,source
//! brake pad,brake pad,Braking system,wikipedia
//! brake pads,brake pad,Braking system,wikipedia
//! ```
//!
//! A canonical name is also one of its own surfaces. `category` and `source` may hold several
//! values joined by `|` when merged sources disagree. Surfaces are lower case, except
//! acronyms written in upper case (`ABS`), which the labeler matches case-sensitively.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{atomic, Error, Result};

/// The header line of `lexicon.csv`.
pub const LEXICON_HEADER: [&str; 4] = ["surface", "canonical", "category", "source"];

/// One surface form of a part.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LexiconEntry {
    /// The text as it appears in reviews (`tyres`, `a/c`, `ABS`).
    pub surface: String,
    /// The part name every surface of this part maps to (`tire`).
    pub canonical: String,
    /// The section the part was listed under (`Braking system`); several joined by `|`.
    pub category: String,
    /// Where the entry came from (`wikipedia`, `extra-aliases`); several joined by `|`.
    pub source: String,
}

impl LexiconEntry {
    /// Builds an entry.
    pub fn new(
        surface: impl Into<String>,
        canonical: impl Into<String>,
        category: impl Into<String>,
        source: impl Into<String>,
    ) -> Self {
        Self {
            surface: surface.into(),
            canonical: canonical.into(),
            category: category.into(),
            source: source.into(),
        }
    }
}

/// The whole lexicon: entries sorted by surface, then canonical.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lexicon {
    entries: Vec<LexiconEntry>,
}

impl Lexicon {
    /// Builds a lexicon from entries; they are sorted and exact duplicates removed, so that
    /// the written file is deterministic.
    pub fn from_entries(mut entries: Vec<LexiconEntry>) -> Self {
        entries.sort();
        entries.dedup();
        Self { entries }
    }

    /// Reads `lexicon.csv` from `path`.
    ///
    /// # Errors
    /// The file cannot be read, its header is not `surface,canonical,category,source`, or a row
    /// has an empty surface or canonical; errors name the file and line.
    pub fn read(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        Self::from_reader(file, path)
    }

    /// Reads a lexicon from any reader; `path` is only used in error messages.
    ///
    /// # Errors
    /// As [`Lexicon::read`].
    pub fn from_reader(reader: impl Read, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let mut rdr = csv::ReaderBuilder::new().has_headers(true).from_reader(reader);
        let headers = rdr.headers().map_err(|e| csv_error(path, e))?.clone();
        let found: Vec<&str> = headers.iter().map(str::trim).collect();
        if found != LEXICON_HEADER {
            return Err(Error::Header {
                path: path.to_owned(),
                expected: LEXICON_HEADER.join(","),
                found: found.join(","),
            });
        }
        let mut entries = Vec::new();
        // surface → (canonical, line): one surface naming two parts is a broken lexicon, and
        // the labeler would silently use whichever row sorts first.
        let mut seen: std::collections::HashMap<String, (String, u64)> = Default::default();
        for record in rdr.records() {
            let record = record.map_err(|e| csv_error(path, e))?;
            let line = record.position().map_or(0, |p| p.line());
            let field = |i: usize| record.get(i).unwrap_or("").trim().to_owned();
            let entry = LexiconEntry::new(field(0), field(1), field(2), field(3));
            for (name, value) in [("surface", &entry.surface), ("canonical", &entry.canonical)] {
                if value.is_empty() {
                    return Err(Error::Field {
                        path: path.to_owned(),
                        line,
                        field: name,
                        message: "is empty".into(),
                    });
                }
            }
            match seen.get(&entry.surface) {
                Some((canonical, first)) if *canonical != entry.canonical => {
                    return Err(Error::Field {
                        path: path.to_owned(),
                        line,
                        field: "canonical",
                        message: format!(
                            "surface {:?} maps to {:?} here and to {canonical:?} at line {first}; \
                             keep one",
                            entry.surface, entry.canonical
                        ),
                    });
                }
                Some(_) => {}
                None => {
                    seen.insert(entry.surface.clone(), (entry.canonical.clone(), line));
                }
            }
            entries.push(entry);
        }
        Ok(Self::from_entries(entries))
    }

    /// Writes the lexicon to `path` atomically (temporary file, then rename).
    ///
    /// # Errors
    /// Any I/O error, naming `path`.
    pub fn write(&self, path: &Path) -> Result<()> {
        atomic::write_atomic(path, |w| self.write_to(w).map_err(std::io::Error::other))
    }

    /// Writes the lexicon as CSV to any writer.
    ///
    /// # Errors
    /// Any I/O error of the writer.
    pub fn write_to(&self, writer: impl Write) -> std::result::Result<(), csv::Error> {
        let mut w =
            csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(writer);
        w.write_record(LEXICON_HEADER)?;
        for e in &self.entries {
            w.write_record([&e.surface, &e.canonical, &e.category, &e.source])?;
        }
        w.flush()?;
        Ok(())
    }

    /// All entries, sorted.
    pub fn entries(&self) -> &[LexiconEntry] {
        &self.entries
    }

    /// Number of surface rows.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the lexicon has no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The distinct canonical part names, sorted.
    pub fn canonicals(&self) -> BTreeSet<&str> {
        self.entries.iter().map(|e| e.canonical.as_str()).collect()
    }

    /// Number of distinct canonical parts.
    pub fn canonical_count(&self) -> usize {
        self.canonicals().len()
    }
}

fn csv_error(path: &Path, e: csv::Error) -> Error {
    let line = e.position().map_or(0, |p| p.line());
    Error::Record { path: path.to_owned(), line, message: e.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_wrong_header_naming_the_file() {
        let err = Lexicon::from_reader(&b"name,part\nx,y\n"[..], "lex.csv").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("lex.csv: line 1: expected header"), "{msg}");
        assert!(msg.contains("name,part"), "{msg}");
    }

    #[test]
    fn rejects_empty_canonical_with_line_number() {
        let text = "surface,canonical,category,source\ntire,tire,Wheels,a\ntyre,,Wheels,a\n";
        let err = Lexicon::from_reader(text.as_bytes(), "lex.csv").unwrap_err();
        assert_eq!(err.to_string(), "lex.csv: line 3: field \"canonical\": is empty");
    }

    #[test]
    fn rejects_a_surface_with_two_canonicals_naming_both_lines() {
        let text = "surface,canonical,category,source\nair,air conditioning,Climate,a\n\
                    tire,tire,Wheels,a\nair,air filter,Engine,b\n";
        let err = Lexicon::from_reader(text.as_bytes(), "lex.csv").unwrap_err();
        assert_eq!(
            err.to_string(),
            "lex.csv: line 4: field \"canonical\": surface \"air\" maps to \"air filter\" here \
             and to \"air conditioning\" at line 2; keep one"
        );
        // The same surface twice with one canonical (merged sources) is fine.
        let text = "surface,canonical,category,source\ntire,tire,Wheels,a\ntire,tire,Tires,b\n";
        assert_eq!(Lexicon::from_reader(text.as_bytes(), "lex.csv").unwrap().len(), 2);
    }

    #[test]
    fn sorted_and_deduplicated_and_round_trips_with_quotes() {
        let lex = Lexicon::from_entries(vec![
            LexiconEntry::new("tyre", "tire", "Wheels, tires", "a"),
            LexiconEntry::new("tire", "tire", "Wheels, tires", "a"),
            LexiconEntry::new("tire", "tire", "Wheels, tires", "a"),
        ]);
        assert_eq!(lex.len(), 2);
        assert_eq!(lex.entries()[0].surface, "tire");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lexicon.csv");
        lex.write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "surface,canonical,category,source\ntire,tire,\"Wheels, tires\",a\ntyre,tire,\"Wheels, tires\",a\n"
        );
        assert_eq!(Lexicon::read(&path).unwrap(), lex);
    }
}
