//! Stage fingerprints: SHA-256 over a stage's options, its input files' contents, its upstream
//! stages' fingerprints and the tool version.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Builds one stage's fingerprint. Every item is written with its name and length, so that
/// two different sequences of items never hash alike.
pub struct Fingerprint {
    hasher: Sha256,
}

impl Fingerprint {
    /// Starts the fingerprint of `stage`; the tool version is always part of it.
    pub fn new(stage: &str) -> Self {
        let mut f = Fingerprint { hasher: Sha256::new() };
        f.item("partfinder-version", env!("CARGO_PKG_VERSION").as_bytes());
        f.item("stage", stage.as_bytes());
        f
    }

    fn item(&mut self, name: &str, value: &[u8]) {
        for part in [name.as_bytes(), value] {
            self.hasher.update((part.len() as u64).to_le_bytes());
            self.hasher.update(part);
        }
    }

    /// Adds an option (anything serialisable: its JSON is hashed).
    pub fn option<T: serde::Serialize + ?Sized>(&mut self, name: &str, value: &T) -> &mut Self {
        let json = serde_json::to_vec(value).expect("options serialise");
        self.item(name, &json);
        self
    }

    /// Adds the contents of a file, or of every file below a directory (in name order, with
    /// their relative names; hidden files skipped).
    ///
    /// # Errors
    /// [`Error::Io`] naming the path that could not be read.
    pub fn contents(&mut self, name: &str, path: &Path) -> Result<&mut Self> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            let mut files = Vec::new();
            list_files(path, path, &mut files)?;
            self.item(name, format!("dir:{}", files.len()).as_bytes());
            for rel in files {
                let digest = file_digest(&path.join(&rel))?;
                self.item(&rel, &digest);
            }
        } else {
            let digest = file_digest(path)?;
            self.item(name, &digest);
        }
        Ok(self)
    }

    /// Adds an upstream stage's fingerprint.
    pub fn upstream(&mut self, name: &str, hash: &str) -> &mut Self {
        self.item(name, hash.as_bytes());
        self
    }

    /// The fingerprint as 64 hex digits.
    pub fn finish(self) -> String {
        hex::encode(self.hasher.finalize())
    }
}

fn list_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .collect::<std::io::Result<_>>()
        .map_err(|e| Error::io(dir, e))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            list_files(root, &path, out)?;
        } else {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

fn file_digest(path: &Path) -> Result<Vec<u8>> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(build: impl FnOnce(&mut Fingerprint)) -> String {
        let mut f = Fingerprint::new("s");
        build(&mut f);
        f.finish()
    }

    #[test]
    fn options_and_contents_change_the_hash() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.csv");
        std::fs::write(&file, "x").unwrap();
        let base = hash(|f| {
            f.option("rows", &1).contents("in", dir.path()).unwrap();
        });
        let same = hash(|f| {
            f.option("rows", &1).contents("in", dir.path()).unwrap();
        });
        assert_eq!(base, same);
        assert_ne!(
            base,
            hash(|f| {
                f.option("rows", &2).contents("in", dir.path()).unwrap();
            })
        );
        std::fs::write(&file, "y").unwrap();
        assert_ne!(
            base,
            hash(|f| {
                f.option("rows", &1).contents("in", dir.path()).unwrap();
            })
        );
        // Hidden files (temporary files, markers) do not count.
        std::fs::write(&file, "x").unwrap();
        std::fs::write(dir.path().join(".done"), "").unwrap();
        assert_eq!(
            base,
            hash(|f| {
                f.option("rows", &1).contents("in", dir.path()).unwrap();
            })
        );
    }

    #[test]
    fn item_boundaries_matter() {
        let a = hash(|f| {
            f.option("a", "bc");
        });
        let b = hash(|f| {
            f.option("ab", "c");
        });
        assert_ne!(a, b);
    }
}
