//! Charts drawn with plotters into PNG files: training curves ([`curves`]) and confusion
//! matrices ([`confusion`]). Text needs a TrueType font found at run time ([`font`]).

pub mod confusion;
pub mod curves;
pub mod font;

use crate::{Error, Result};

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

/// Run colours (the "tab10" palette): distinct, and readable on white.
pub const PALETTE: [Rgb; 10] = [
    Rgb(31, 119, 180),
    Rgb(255, 127, 14),
    Rgb(44, 160, 44),
    Rgb(214, 39, 40),
    Rgb(148, 103, 189),
    Rgb(140, 86, 75),
    Rgb(227, 119, 194),
    Rgb(127, 127, 127),
    Rgb(188, 189, 34),
    Rgb(23, 190, 207),
];

/// Encodes an RGB buffer (`width * height * 3` bytes) as PNG.
///
/// # Errors
/// The buffer does not have that size.
pub fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(rgb, width, height, image::ColorType::Rgb8)
        .map_err(|e| Error::Plot { what: "png".to_owned(), message: e.to_string() })?;
    Ok(out)
}

pub(crate) fn plot_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Plot { what: what.to_owned(), message: e.to_string() }
}
