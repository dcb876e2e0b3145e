//! Integration tests of `jsonl`: golden exports, planted validation errors, generated broken
//! inputs, and the binary's exit codes and output.

mod bad_input;
mod cli;
mod golden;
mod planted;

use std::path::PathBuf;

/// A fixture file of this crate.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}
