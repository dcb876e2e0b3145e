//! The stop-list: surfaces too ambiguous to tag alone, each with the reason.
//!
//! ```text
//! # comment lines and blank lines are ignored
//! spring   # the season; `coil spring`, `leaf spring` stay
//! ```
//!
//! Every entry must carry a reason after `#`: the list is reviewed by people, and `--explain`
//! prints the reason next to every item it drops. Entries are cleaned like part names (lower
//! case, singular) and compared by [`fold_key`], so `springs` and `Spring` are stopped too.
//! Only the exact surface is stopped: longer names that contain it are kept.

use std::collections::BTreeMap;
use std::path::Path;

use crate::normalize::{clean_name, fold_key};
use crate::{Error, Result};

/// Stop-listed surfaces by fold key, with their reasons.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StopList {
    entries: BTreeMap<String, String>,
}

impl StopList {
    /// Reads a stop-list file.
    ///
    /// # Errors
    /// The file cannot be read, or an entry has no `# reason` (the error names file and line).
    pub fn read(path: &Path) -> Result<Self> {
        let text = records::text::read_text(path)?;
        Self::parse(&text, path)
    }

    /// Parses stop-list text; `path` is only used in error messages.
    ///
    /// # Errors
    /// An entry without a `# reason`.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let mut entries = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            let (entry, reason) = match line.split_once('#') {
                Some((entry, reason)) => (entry.trim(), reason.trim()),
                None => (line.trim(), ""),
            };
            if entry.is_empty() {
                continue;
            }
            if reason.is_empty() {
                return Err(Error::Syntax {
                    path: path.to_owned(),
                    line: i as u64 + 1,
                    message: format!("stop-list entry {entry:?} has no `# reason`"),
                });
            }
            if let Some(name) = clean_name(entry) {
                entries.insert(fold_key(&name), reason.to_owned());
            }
        }
        Ok(Self { entries })
    }

    /// The reason `surface` is stop-listed, if it is. `surface` must be a cleaned name.
    pub fn reason(&self, surface: &str) -> Option<&str> {
        self.entries.get(&fold_key(surface)).map(String::as_str)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the list has no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_match_plural_and_case_but_not_longer_names() {
        let list = StopList::parse(
            "# header\n\nSpring  # the season\nboot # UK trunk, also footwear\n",
            Path::new("s.txt"),
        )
        .unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list.reason("spring"), Some("the season"));
        assert_eq!(list.reason(&clean_name("Springs").unwrap()), Some("the season"));
        assert_eq!(list.reason("coil spring"), None);
    }

    #[test]
    fn entry_without_reason_is_an_error_naming_the_line() {
        let err = StopList::parse("ok # fine\nbody\n", Path::new("stop.txt")).unwrap_err();
        assert_eq!(err.to_string(), "stop.txt: line 2: stop-list entry \"body\" has no `# reason`");
    }
}
