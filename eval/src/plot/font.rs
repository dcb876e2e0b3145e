//! The TrueType font that chart text is drawn with.
//!
//! Plotters draws text through `ab_glyph`, which needs font bytes at run time. The font is taken
//! from an explicit path (`--font`), else from the first of [`CANDIDATES`] that exists, else from
//! the first sans-serif `.ttf` found under [`FONT_DIRS`]. It is registered once per process
//! under the family name `sans-serif`, which is the family every chart asks for.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use plotters::style::FontStyle;

use crate::{Error, Result};

/// Fonts tried first, in order.
pub const CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "/Library/Fonts/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// Directories searched (recursively) when no candidate exists.
pub const FONT_DIRS: &[&str] =
    &["/usr/share/fonts", "/usr/local/share/fonts", "/System/Library/Fonts", "/Library/Fonts"];

/// The font registered so far in this process.
static REGISTERED: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Makes `explicit`, or else the first font found, the font of every chart, and returns its
/// path. Calling it again with the same font does nothing.
///
/// # Errors
/// `explicit` cannot be read or is not a TrueType/OpenType font, or no font is given and none is
/// found; the message says how to get one.
pub fn use_font(explicit: Option<&Path>) -> Result<PathBuf> {
    let mut registered = REGISTERED.lock().unwrap_or_else(|e| e.into_inner());
    let path = match explicit {
        Some(p) => p.to_owned(),
        None => match registered.as_ref() {
            Some(p) => return Ok(p.clone()),
            None => find_font().ok_or_else(|| {
                Error::Font(format!(
                    "no TrueType font found for chart text (looked for {} and under {}); pass \
                     --font PATH, or install one (Debian/Ubuntu: apt-get install \
                     fonts-dejavu-core)",
                    CANDIDATES[0],
                    FONT_DIRS.join(", ")
                ))
            })?,
        },
    };
    if registered.as_deref() == Some(path.as_path()) {
        return Ok(path);
    }
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    // Plotters keeps fonts for the life of the process and wants `'static` bytes; a process
    // registers one or two fonts, so leaking them is the simple and bounded choice.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| Error::Font(format!("{}: not a TrueType or OpenType font", path.display())))?;
    *registered = Some(path.clone());
    Ok(path)
}

/// The first candidate that exists, else the best `.ttf` under the font directories (a regular
/// sans-serif face is preferred over mono, serif, bold or italic ones).
pub fn find_font() -> Option<PathBuf> {
    if let Some(p) = CANDIDATES.iter().map(Path::new).find(|p| p.is_file()) {
        return Some(p.to_owned());
    }
    let mut found = Vec::new();
    let mut dirs: Vec<PathBuf> = FONT_DIRS.iter().map(PathBuf::from).collect();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".local/share/fonts"));
        dirs.push(Path::new(&home).join(".fonts"));
    }
    for dir in dirs {
        collect_fonts(&dir, 0, &mut found);
    }
    found.sort_by_key(|p| (font_rank(p), p.clone()));
    found.into_iter().next()
}

fn collect_fonts(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && depth < 4 {
            collect_fonts(&path, depth + 1, out);
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("ttf") || e.eq_ignore_ascii_case("otf"))
        {
            out.push(path);
        }
    }
}

/// Lower is better: regular sans faces first.
fn font_rank(path: &Path) -> u32 {
    let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    let mut rank = 0;
    for (word, cost) in
        [("mono", 4), ("serif", 2), ("bold", 2), ("italic", 2), ("oblique", 2), ("light", 1)]
    {
        if name.contains(word) && !(word == "serif" && name.contains("sans")) {
            rank += cost;
        }
    }
    if !name.contains("sans") {
        rank += 1;
    }
    rank
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_sans_faces_rank_first() {
        let mut fonts: Vec<PathBuf> = [
            "x/DejaVuSansMono.ttf",
            "x/DejaVuSerif.ttf",
            "x/DejaVuSans-Bold.ttf",
            "x/DejaVuSans.ttf",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        fonts.sort_by_key(|p| font_rank(p));
        assert_eq!(fonts[0], PathBuf::from("x/DejaVuSans.ttf"));
    }

    #[test]
    fn a_file_that_is_not_a_font_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fake.ttf");
        std::fs::write(&path, b"not a font").unwrap();
        let err = use_font(Some(&path)).unwrap_err();
        assert!(err.to_string().contains("not a TrueType or OpenType font"), "{err}");
    }
}
