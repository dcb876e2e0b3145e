//! Finding the stage binaries (`scrape`, `label`, `jsonl`, `finetune`, `eval`), and building
//! them with cargo when they are missing from a cargo target directory.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// The binaries the pipeline runs, one per stage crate.
pub const STAGE_BINARIES: [&str; 5] = ["scrape", "label", "jsonl", "finetune", "eval"];

/// The located stage binaries.
#[derive(Debug, Clone)]
pub struct Binaries {
    paths: BTreeMap<&'static str, PathBuf>,
}

fn exe_name(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}

/// The directory of the running executable, where cargo puts the sibling binaries.
pub fn exe_dir() -> Option<PathBuf> {
    std::env::current_exe().ok()?.parent().map(Path::to_owned)
}

impl Binaries {
    /// Looks each binary up in `bin_dir` when given, else beside the running executable, else
    /// on `PATH`.
    ///
    /// # Errors
    /// [`Error::MissingBinary`] naming the first binary found nowhere.
    pub fn locate(bin_dir: Option<&Path>) -> Result<Self> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        match bin_dir {
            Some(d) => dirs.push(d.to_owned()),
            None => {
                dirs.extend(exe_dir());
                if let Some(path) = std::env::var_os("PATH") {
                    dirs.extend(std::env::split_paths(&path));
                }
            }
        }
        let mut paths = BTreeMap::new();
        for name in STAGE_BINARIES {
            let found = dirs.iter().map(|d| d.join(exe_name(name))).find(|p| p.is_file());
            match found {
                Some(p) => paths.insert(name, p),
                None => {
                    let searched = match bin_dir {
                        Some(d) => format!("looked in {}", d.display()),
                        None => "looked beside this executable and on PATH".to_owned(),
                    };
                    return Err(Error::MissingBinary { name: name.into(), searched });
                }
            };
        }
        Ok(Binaries { paths })
    }

    /// The path of one binary.
    ///
    /// # Panics
    /// When `name` is not one of [`STAGE_BINARIES`].
    pub fn path(&self, name: &str) -> &Path {
        &self.paths[name]
    }
}

/// The stage binaries missing from `dir`.
pub fn missing_in(dir: &Path) -> Vec<&'static str> {
    STAGE_BINARIES.into_iter().filter(|n| !dir.join(exe_name(n)).is_file()).collect()
}

/// A `cargo build` command that builds the missing stage binaries into the cargo target
/// directory `dir` (a profile directory such as `target/debug` or `target/release`), for the
/// same profile. `cargo` is the cargo executable (the `CARGO` variable under cargo).
///
/// Returns `None` when `dir` does not look like a cargo profile directory.
pub fn cargo_build_command(cargo: &Path, dir: &Path, missing: &[&str]) -> Option<Command> {
    let profile = dir.file_name()?.to_str()?;
    let target_dir = dir.parent()?;
    let mut cmd = Command::new(cargo);
    cmd.arg("build").arg("--target-dir").arg(target_dir);
    match profile {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.arg("--profile").arg(other);
        }
    }
    for name in missing {
        cmd.arg("-p").arg(name);
    }
    // Build from the workspace that built this crate, wherever the caller runs.
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    Some(cmd)
}

/// Under cargo (`cargo run`, `cargo test`: the `CARGO` variable is set), builds the stage
/// binaries missing beside the running executable; elsewhere does nothing.
///
/// # Errors
/// [`Error::StageFailed`] (stage `build`) when cargo fails.
pub fn build_missing_under_cargo() -> Result<()> {
    let (Some(cargo), Some(dir)) = (std::env::var_os("CARGO"), exe_dir()) else {
        return Ok(());
    };
    let missing = missing_in(&dir);
    if missing.is_empty() {
        return Ok(());
    }
    let Some(mut cmd) = cargo_build_command(Path::new(&cargo), &dir, &missing) else {
        return Ok(());
    };
    eprintln!("building the stage binaries: {}", missing.join(", "));
    let status = cmd.status();
    let command = format!("{:?}", cmd);
    match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(Error::StageFailed {
            stage: "build".into(),
            command,
            status: format!("exited with {s}"),
        }),
        Err(e) => Err(Error::StageFailed {
            stage: "build".into(),
            command,
            status: format!("could not start: {e}"),
        }),
    }
}

/// Renders a command line for logs and errors.
pub fn command_line(program: &Path, args: &[OsString]) -> String {
    let name = program.file_name().unwrap_or(program.as_os_str()).to_string_lossy();
    let mut line = name.into_owned();
    for a in args {
        let a = a.to_string_lossy();
        line.push(' ');
        if a.is_empty() || a.contains(char::is_whitespace) {
            line.push_str(&format!("{a:?}"));
        } else {
            line.push_str(&a);
        }
    }
    line
}
