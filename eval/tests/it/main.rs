//! Integration tests of the eval library and binary, on fixtures in `tests/fixtures/`.

mod bad_input;
mod classify;
mod cli;
mod compare;
mod curves;
mod report;
mod score;

use std::path::{Path, PathBuf};

/// A path under `tests/fixtures/`.
pub fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(path)
}

/// Copies the fixture runs `names` into a fresh temporary `runs/` directory.
pub fn copy_runs(names: &[&str]) -> (tempfile::TempDir, Vec<PathBuf>) {
    let tmp = tempfile::tempdir().unwrap();
    let mut dirs = Vec::new();
    for name in names {
        let from = fixture(&format!("runs/{name}"));
        let to = tmp.path().join("runs").join(name);
        std::fs::create_dir_all(&to).unwrap();
        for entry in std::fs::read_dir(&from).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
        dirs.push(to);
    }
    (tmp, dirs)
}

/// Decodes a PNG and checks that it is a real picture: the expected size, and neither blank nor
/// noise (some ink, mostly background, many distinct colours from anti-aliasing and lines).
pub fn assert_readable_png(png: &[u8], width: u32, height: u32) -> image::RgbImage {
    let img = image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .expect("a valid PNG")
        .to_rgb8();
    assert_eq!(img.dimensions(), (width, height));
    // Tests are not optimised: a sample of about 250,000 pixels keeps large images quick.
    let pixels = sample(&img);
    let ink = pixels.iter().filter(|p| **p != [255, 255, 255]).count() as f64;
    let share = ink / pixels.len() as f64;
    assert!(share > 0.01, "almost blank: {share:.4} of pixels drawn");
    assert!(share < 0.7, "mostly ink: {share:.4} of pixels drawn");
    let colours: std::collections::HashSet<[u8; 3]> = pixels.iter().copied().collect();
    assert!(colours.len() > 50, "only {} distinct colours", colours.len());
    img
}

fn sample(img: &image::RgbImage) -> Vec<[u8; 3]> {
    let step = (img.pixels().len() / 250_000).max(1);
    img.as_raw().chunks_exact(3).step_by(step).map(|p| [p[0], p[1], p[2]]).collect()
}

/// Whether some pixel satisfies `want`.
pub fn has_pixel(img: &image::RgbImage, want: impl Fn([u8; 3]) -> bool) -> bool {
    img.as_raw().chunks_exact(3).any(|p| want([p[0], p[1], p[2]]))
}

/// Whether some pixel is within `tol` of `rgb` in every channel.
pub fn has_colour(img: &image::RgbImage, rgb: [u8; 3], tol: u8) -> bool {
    has_pixel(img, |p| p.iter().zip(rgb).all(|(a, b)| a.abs_diff(b) <= tol))
}
