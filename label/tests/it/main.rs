//! Integration tests of the labeling stage: the library job on fixtures and the real binary.

mod bad_input;
mod cli;
mod job;
mod real;

use std::path::PathBuf;

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}
