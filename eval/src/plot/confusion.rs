//! The confusion matrix as a PNG heat map: rows are true labels, columns predicted labels,
//! both in label order; every non-zero cell shows its count, and its shade is the share of the
//! true label's examples (blue on the diagonal, red off it). The image grows with the number
//! of classes so that 77 classes stay readable.

use std::path::PathBuf;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{encode_png, plot_err};
use crate::classification::ClassificationReport;
use crate::{Error, Result};

/// Options of [`render_confusion_png`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfusionConfig {
    /// Text above the matrix; `None` (the default) writes the accuracy and macro F1.
    pub title: Option<String>,
    /// Font file; `None` (the default) searches the usual places ([`super::font`]).
    pub font: Option<PathBuf>,
}

/// Pixel layout of the matrix.
struct Layout {
    cell: i32,
    label_font: f64,
    count_font: f64,
    left: i32,
    top: i32,
    width: u32,
    height: u32,
}

/// The text lines above the matrix: title, scores, how to read it.
fn header_lines(r: &ClassificationReport, config: &ConfusionConfig) -> [(String, f64); 3] {
    [
        (config.title.clone().unwrap_or_else(|| "Confusion matrix".to_owned()), 26.0),
        (
            format!(
                "accuracy {:.4} ({}/{}), macro F1 {:.4}, weighted F1 {:.4}",
                r.accuracy, r.correct, r.total, r.macro_f1, r.weighted_f1
            ),
            18.0,
        ),
        (
            "rows: true label; columns: predicted label; numbers: counts; shade: share of the \
             row (blue = right, red = confused)"
                .to_owned(),
            15.0,
        ),
    ]
}

fn text_width(text: &str, size: f64) -> Result<i32> {
    let (w, _) = ("sans-serif", size)
        .into_font()
        .box_size(text)
        .map_err(|e| plot_err("confusion matrix", e))?;
    Ok(w as i32)
}

fn layout(report: &ClassificationReport, config: &ConfusionConfig) -> Result<Layout> {
    let n = report.labels.len().max(1) as i32;
    let cell = (900 / n).clamp(24, 64);
    let label_font = (f64::from(cell) * 0.62).clamp(13.0, 18.0);
    let count_font = (f64::from(cell) * 0.5).clamp(12.0, 20.0);
    let mut label_w = 0i32;
    for label in &report.labels {
        label_w = label_w.max(text_width(label, label_font)?);
    }
    let mut header_w = 0i32;
    for (text, size) in header_lines(report, config) {
        header_w = header_w.max(text_width(&text, size)?);
    }
    let grid = n * cell;
    // Room for: the axis title, the labels, and a gap.
    let left = 40 + label_w + 12;
    let top = HEADER_HEIGHT + 30 + label_w + 12;
    let right = 90;
    let bottom = 30;
    let width = (left + grid + right).max(header_w + 60) as u32;
    let height = (top + grid + bottom) as u32;
    Ok(Layout { cell, label_font, count_font, left, top, width, height })
}

/// Pixels above the "predicted label" axis title.
const HEADER_HEIGHT: i32 = 110;

/// Draws the confusion matrix of `report` and returns PNG bytes.
///
/// # Errors
/// The report has no labels, no font is available, or drawing fails.
pub fn render_confusion_png(
    report: &ClassificationReport,
    config: &ConfusionConfig,
) -> Result<Vec<u8>> {
    if report.labels.is_empty() {
        return Err(Error::Invalid("no labels to draw a confusion matrix of".to_owned()));
    }
    super::font::use_font(config.font.as_deref())?;
    let l = layout(report, config)?;
    let mut buf = vec![255u8; l.width as usize * l.height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (l.width, l.height)).into_drawing_area();
        draw(&root, report, config, &l).map_err(|e| plot_err("confusion matrix", e))?;
        root.present().map_err(|e| plot_err("confusion matrix", e))?;
    }
    encode_png(&buf, l.width, l.height)
}

/// White blended towards `to` by `share` (0..1).
fn shade(to: (u8, u8, u8), share: f64) -> RGBColor {
    let mix = |c: u8| (255.0 - (255.0 - f64::from(c)) * share.clamp(0.0, 1.0)).round() as u8;
    RGBColor(mix(to.0), mix(to.1), mix(to.2))
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    r: &ClassificationReport,
    config: &ConfusionConfig,
    l: &Layout,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let n = r.labels.len() as i32;
    let (cell, left, top) = (l.cell, l.left, l.top);
    let grid = n * cell;

    let mut y = 16;
    for (i, (text, size)) in header_lines(r, config).into_iter().enumerate() {
        let ink = if i == 0 { BLACK } else { RGBColor(70, 70, 70) };
        root.draw(&Text::new(text, (20, y), ("sans-serif", size).into_font().color(&ink)))?;
        y += size as i32 + 12;
    }

    let label_style = TextStyle::from(("sans-serif", l.label_font).into_font());
    let axis_style = TextStyle::from(("sans-serif", 20).into_font());
    root.draw(&Text::new(
        "predicted label",
        (left + grid / 2, HEADER_HEIGHT),
        axis_style.clone().pos(Pos::new(HPos::Center, VPos::Top)),
    ))?;
    root.draw(&Text::new(
        "true label",
        (14, top + grid / 2),
        axis_style.transform(FontTransform::Rotate270).pos(Pos::new(HPos::Center, VPos::Top)),
    ))?;

    for (i, label) in r.labels.iter().enumerate() {
        let i = i as i32;
        let centre = i * cell + cell / 2;
        // Row label, right-aligned against the grid.
        root.draw(&Text::new(
            label.as_str(),
            (left - 8, top + centre),
            label_style.clone().pos(Pos::new(HPos::Right, VPos::Center)),
        ))?;
        // Column label, read bottom to top, starting just above the grid.
        root.draw(&Text::new(
            label.as_str(),
            (left + centre, top - 8),
            label_style
                .clone()
                .transform(FontTransform::Rotate270)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }

    let count_style = TextStyle::from(("sans-serif", l.count_font).into_font());
    for (i, row) in r.confusion.iter().enumerate() {
        let support: u64 = row.iter().sum();
        let y0 = top + i as i32 * cell;
        for (j, &count) in row.iter().enumerate() {
            let x0 = left + j as i32 * cell;
            let share = if support == 0 { 0.0 } else { count as f64 / support as f64 };
            // Confusions are usually a few percent of a row: a square root keeps them visible.
            let (color, strength) =
                if i == j { ((8, 81, 156), share) } else { ((203, 24, 29), share.sqrt()) };
            let fill = if count == 0 { WHITE } else { shade(color, 0.12 + 0.88 * strength) };
            root.draw(&Rectangle::new([(x0, y0), (x0 + cell, y0 + cell)], fill.filled()))?;
            root.draw(&Rectangle::new(
                [(x0, y0), (x0 + cell, y0 + cell)],
                RGBColor(225, 225, 225).stroke_width(1),
            ))?;
            if count > 0 {
                let ink = if 0.12 + 0.88 * strength > 0.55 { WHITE } else { BLACK };
                root.draw(&Text::new(
                    count.to_string(),
                    (x0 + cell / 2, y0 + cell / 2),
                    count_style.clone().color(&ink).pos(Pos::new(HPos::Center, VPos::Center)),
                ))?;
            }
        }
        root.draw(&Text::new(
            support.to_string(),
            (left + grid + 10, y0 + cell / 2),
            count_style
                .clone()
                .color(&RGBColor(90, 90, 90))
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    root.draw(&Text::new(
        "n",
        (left + grid + 10, top - 8),
        count_style.color(&RGBColor(90, 90, 90)).pos(Pos::new(HPos::Left, VPos::Bottom)),
    ))?;
    root.draw(&Rectangle::new([(left, top), (left + grid, top + grid)], BLACK.stroke_width(1)))?;
    Ok(())
}
