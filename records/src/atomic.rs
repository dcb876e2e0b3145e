//! Atomic file output: write to a temporary file beside the target, then rename over it.
//!
//! A reader never sees half a file, and a crash leaves the previous version in place. The
//! temporary file lives in the same directory so that the rename stays on one file system.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Writes `path` atomically: `write` fills a buffered temporary file, which is flushed, synced
/// and renamed over `path`. Parent directories are created.
///
/// # Errors
/// Any I/O error, or the error that `write` returns, names `path`; the temporary file is then
/// removed and `path` is left as it was.
pub fn write_atomic<F>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&mut BufWriter<File>) -> io::Result<()>,
{
    let tmp = temp_path(path);
    let result = (|| {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)?;
        }
        let file = File::create(&tmp)?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        write(&mut out)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically (see [`write_atomic`]).
///
/// # Errors
/// As [`write_atomic`].
pub fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, |w| w.write_all(bytes))
}

/// The temporary path used while `path` is written: a hidden sibling with the process id, so
/// that two processes writing the same target do not clobber each other's temporary file.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Refuses an output that would write over one of the command's own inputs: the same file
/// (through any path, symbolic link or hard link), or a directory output that holds an input.
///
/// Every command calls this before it writes anything, so that `--output` pointing at an
/// input (a typo, a shell history slip) fails at once instead of destroying the input.
///
/// # Errors
/// [`Error::OutputIsInput`] naming both paths.
pub fn ensure_not_input<P: AsRef<Path>>(output: &Path, inputs: &[P]) -> Result<()> {
    let out = resolve(output);
    for input in inputs {
        let input = input.as_ref();
        let inp = resolve(input);
        if inp == out || inp.starts_with(&out) || same_file(output, input) {
            return Err(Error::OutputIsInput {
                output: output.to_path_buf(),
                input: input.to_path_buf(),
            });
        }
    }
    Ok(())
}

/// `path` made absolute with symbolic links resolved, also when it does not exist yet (its
/// nearest existing ancestor is resolved and the rest appended).
fn resolve(path: &Path) -> PathBuf {
    use std::path::Component;
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map(|d| d.join(path)).unwrap_or_else(|_| path.to_path_buf())
    };
    // `.` and `..` are taken lexically first, so that a path through a directory that does not
    // exist yet still compares equal to the input it names.
    let mut lexical = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                lexical.pop();
            }
            c => lexical.push(c),
        }
    }
    let mut rest = Vec::new();
    let mut cur = lexical.as_path();
    loop {
        if let Ok(real) = fs::canonicalize(cur) {
            return rest.iter().rev().fold(real, |acc: PathBuf, part| acc.join(part));
        }
        match (cur.parent(), cur.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                cur = parent;
            }
            _ => return lexical,
        }
    }
}

#[cfg(unix)]
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_: &Path, _: &Path) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_output_that_is_an_input_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("reviews.csv");
        fs::write(&input, "x").unwrap();
        let link = dir.path().join("link.csv");
        fs::hard_link(&input, &link).unwrap();
        let other = dir.path().join("sub/../reviews.csv");
        for output in [&input, &link, &other, &dir.path().to_path_buf()] {
            let err = ensure_not_input(output, &[&input]).unwrap_err();
            assert!(matches!(err, Error::OutputIsInput { .. }), "{output:?}: {err}");
        }
        fs::create_dir(dir.path().join("sub")).unwrap();
        ensure_not_input(&dir.path().join("labeled.csv"), &[&input]).unwrap();
        ensure_not_input(&dir.path().join("new/dir/out.csv"), &[&input]).unwrap();
        let err = ensure_not_input(&dir.path().join("sub/../reviews.csv"), &[&input]).unwrap_err();
        assert!(err.to_string().contains("would replace the input"), "{err}");
    }

    #[test]
    fn failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        write_bytes_atomic(&path, b"old").unwrap();
        let err = write_atomic(&path, |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("disk on fire"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("out.csv"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"old");
        let names: Vec<_> =
            fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.csv")]);
    }

    #[test]
    fn creates_parent_directories() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/c.txt");
        write_bytes_atomic(&path, b"x").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"x");
    }
}
