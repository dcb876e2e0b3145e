//! Integration tests of the scrape crate: the binary on fixtures, live fetching against a
//! server on 127.0.0.1, and the committed lexicon data files.

mod cli;
mod data;
mod fetch;
mod server;

use std::path::PathBuf;

/// A file in `scrape/tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// A file in the workspace's `data/` folder.
pub fn data_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data").join(name)
}
