//! Helpers of the bad-input tests every stage has (`tests/it/bad_input.rs`): a deterministic
//! generator for the cases and a snapshot of a directory's files, to check that a command left
//! its inputs as they were. Behind the `testing` feature, for dev-dependencies only.

use std::path::{Path, PathBuf};

/// A small deterministic generator (SplitMix64), so that a failing case can be replayed.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
}

/// Every plain file directly in `dir` with its bytes, sorted by path.
///
/// # Panics
/// When `dir` or a file in it cannot be read (a test helper).
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("readable directory")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .map(|p| (p.clone(), std::fs::read(&p).expect("readable file")))
        .collect();
    files.sort();
    files
}
