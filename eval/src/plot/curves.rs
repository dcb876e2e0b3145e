//! Training curves from `results.csv`: loss, token accuracy and sequence accuracy against the
//! step and against elapsed examples, several runs overlaid.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use records::run::ResultsRow;

use super::{encode_png, plot_err, Rgb, PALETTE};
use crate::{Error, Result};

/// One run's rows and the name it is shown under.
#[derive(Debug, Clone, PartialEq)]
pub struct RunCurves {
    pub name: String,
    pub rows: Vec<ResultsRow>,
}

impl RunCurves {
    /// Reads `dir/results.csv`; the run is named after the directory.
    ///
    /// # Errors
    /// The file is missing or invalid, or has no rows.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join("results.csv");
        let rows = records::run::read_results(&path)?;
        if rows.is_empty() {
            return Err(Error::file(&path, "has no rows"));
        }
        Ok(Self { name: crate::compare::run_name(dir), rows })
    }
}

/// The metric on the y axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Loss,
    TokenAccuracy,
    SequenceAccuracy,
}

/// The quantity on the x axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XAxis {
    Step,
    Examples,
}

impl Metric {
    pub const ALL: [Metric; 3] = [Metric::Loss, Metric::TokenAccuracy, Metric::SequenceAccuracy];

    /// File-name stem: `loss`, `token_accuracy`, `sequence_accuracy`.
    pub fn slug(self) -> &'static str {
        match self {
            Metric::Loss => "loss",
            Metric::TokenAccuracy => "token_accuracy",
            Metric::SequenceAccuracy => "sequence_accuracy",
        }
    }

    /// Axis and title text.
    pub fn label(self) -> &'static str {
        match self {
            Metric::Loss => "loss (cross-entropy per completion token)",
            Metric::TokenAccuracy => "token accuracy",
            Metric::SequenceAccuracy => "sequence accuracy",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Metric::Loss => "Loss",
            Metric::TokenAccuracy => "Token accuracy",
            Metric::SequenceAccuracy => "Sequence accuracy",
        }
    }

    fn training(self, r: &ResultsRow) -> f64 {
        match self {
            Metric::Loss => r.training_loss,
            Metric::TokenAccuracy => r.training_token_accuracy,
            Metric::SequenceAccuracy => r.training_sequence_accuracy,
        }
    }

    fn validation(self, r: &ResultsRow) -> Option<f64> {
        match self {
            Metric::Loss => r.validation_loss,
            Metric::TokenAccuracy => r.validation_token_accuracy,
            Metric::SequenceAccuracy => r.validation_sequence_accuracy,
        }
    }
}

impl XAxis {
    pub const ALL: [XAxis; 2] = [XAxis::Step, XAxis::Examples];

    /// File-name stem: `step`, `examples`.
    pub fn slug(self) -> &'static str {
        match self {
            XAxis::Step => "step",
            XAxis::Examples => "examples",
        }
    }

    fn label(self) -> &'static str {
        match self {
            XAxis::Step => "step",
            XAxis::Examples => "elapsed examples (repeats counted)",
        }
    }

    fn value(self, r: &ResultsRow) -> f64 {
        match self {
            XAxis::Step => r.step as f64,
            XAxis::Examples => r.elapsed_examples as f64,
        }
    }
}

/// Options of the curve charts.
#[derive(Debug, Clone, PartialEq)]
pub struct CurveConfig {
    /// Image width in pixels. Default 1200.
    pub width: u32,
    /// Image height in pixels. Default 700.
    pub height: u32,
    /// Moving-average window in steps; `None` (the default) picks a tenth of the longest run,
    /// at least 1 and at most 200.
    pub window: Option<usize>,
    /// Font file; `None` (the default) searches the usual places ([`super::font`]).
    pub font: Option<PathBuf>,
}

impl Default for CurveConfig {
    fn default() -> Self {
        Self { width: 1200, height: 700, window: None, font: None }
    }
}

impl CurveConfig {
    fn window_for(&self, runs: &[RunCurves]) -> usize {
        let longest = runs.iter().map(|r| r.rows.len()).max().unwrap_or(0);
        self.window.unwrap_or((longest / 10).clamp(1, 200)).max(1)
    }
}

/// A centred moving average: point `i` is the mean of the `window` points around it (fewer at
/// the ends), so the average does not lag behind the raw curve.
pub fn moving_average(values: &[f64], window: usize) -> Vec<f64> {
    let window = window.max(1);
    let (before, after) = ((window - 1) / 2, window / 2);
    let mut prefix = Vec::with_capacity(values.len() + 1);
    prefix.push(0.0);
    for v in values {
        prefix.push(prefix.last().copied().unwrap_or(0.0) + v);
    }
    (0..values.len())
        .map(|i| {
            let lo = i.saturating_sub(before);
            let hi = (i + after + 1).min(values.len());
            (prefix[hi] - prefix[lo]) / (hi - lo) as f64
        })
        .collect()
}

/// Splits the points (sorted by x) into `buckets` runs of consecutive points and returns each
/// run's mean x with the 10th and 90th percentiles of its y (the extremes of a noisy metric
/// would fill the whole range).
fn percentile_band(xs: &[f64], ys: &[f64], buckets: usize) -> Vec<(f64, f64, f64)> {
    let per = xs.len().div_ceil(buckets.max(1)).max(1);
    xs.chunks(per)
        .zip(ys.chunks(per))
        .map(|(cx, cy)| {
            let x = cx.iter().sum::<f64>() / cx.len() as f64;
            let mut sorted = cy.to_vec();
            sorted.sort_by(f64::total_cmp);
            let at = |q: usize| sorted[(sorted.len() - 1) * q / 100];
            (x, at(10), at(90))
        })
        .collect()
}

/// File name of one chart: `loss_by_step.png`, `token_accuracy_by_examples.png`, ...
pub fn chart_file_name(metric: Metric, x: XAxis) -> String {
    format!("{}_by_{}.png", metric.slug(), x.slug())
}

/// Draws one chart of `runs` and returns it as PNG bytes.
///
/// # Errors
/// No run has rows, no font is available, or drawing fails.
pub fn render_chart_png(
    runs: &[RunCurves],
    metric: Metric,
    x: XAxis,
    config: &CurveConfig,
) -> Result<Vec<u8>> {
    let rgb = render_chart(runs, metric, x, config)?;
    encode_png(&rgb, config.width, config.height)
}

/// Draws one chart of `runs` into an RGB buffer (`width * height * 3` bytes).
///
/// # Errors
/// As [`render_chart_png`].
pub fn render_chart(
    runs: &[RunCurves],
    metric: Metric,
    x: XAxis,
    config: &CurveConfig,
) -> Result<Vec<u8>> {
    if runs.iter().all(|r| r.rows.is_empty()) {
        return Err(Error::Invalid("no results rows to draw".to_owned()));
    }
    super::font::use_font(config.font.as_deref())?;
    let (w, h) = (config.width, config.height);
    let mut buf = vec![255u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        let what = chart_file_name(metric, x);
        draw_chart(&root, runs, metric, x, config).map_err(|e| plot_err(&what, e))?;
        root.present().map_err(|e| plot_err(&what, e))?;
    }
    Ok(buf)
}

/// Draws every chart (3 metrics × 2 x axes) into `out_dir` and returns the written paths.
///
/// # Errors
/// As [`render_chart_png`], or a file cannot be written.
pub fn write_curves(
    runs: &[RunCurves],
    out_dir: &Path,
    config: &CurveConfig,
) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for metric in Metric::ALL {
        for x in XAxis::ALL {
            let png = render_chart_png(runs, metric, x, config)?;
            let path = out_dir.join(chart_file_name(metric, x));
            records::atomic::write_bytes_atomic(&path, &png)?;
            written.push(path);
        }
    }
    Ok(written)
}

fn draw_chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    runs: &[RunCurves],
    metric: Metric,
    x: XAxis,
    config: &CurveConfig,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let window = config.window_for(runs);

    let x_max = runs.iter().flat_map(|r| r.rows.iter().map(|row| x.value(row))).fold(1.0, f64::max);
    let y_max = match metric {
        // Accuracies are shares: the whole 0..1 range keeps runs and rounds comparable.
        Metric::TokenAccuracy | Metric::SequenceAccuracy => 1.0,
        // A loss spike in the first steps would flatten everything after it; the scale covers
        // the 98th percentile of the raw points and everything averaged or validated, and the
        // few raw points far above it are drawn at the top edge.
        Metric::Loss => {
            let mut raw: Vec<f64> = runs
                .iter()
                .flat_map(|r| r.rows.iter().map(|row| metric.training(row)))
                .filter(|v| v.is_finite())
                .collect();
            raw.sort_by(f64::total_cmp);
            let p98 = raw.get((raw.len().saturating_sub(1)) * 98 / 100).copied().unwrap_or(1.0);
            let others = runs.iter().flat_map(|r| {
                let train: Vec<f64> = r.rows.iter().map(|row| metric.training(row)).collect();
                let avg = moving_average(&train, window);
                let val: Vec<f64> =
                    r.rows.iter().filter_map(|row| metric.validation(row)).collect();
                avg.into_iter().chain(val)
            });
            let base = others.filter(|v| v.is_finite()).fold(p98, f64::max).max(1e-6);
            // Clip only a real spike; a top a little above the rest is simply shown.
            let raw_max = raw.last().copied().unwrap_or(base);
            (if raw_max <= base * 1.5 { raw_max.max(base) } else { base }) * 1.05
        }
    };
    let clamp = |v: f64| v.clamp(0.0, y_max);

    let mut chart = ChartBuilder::on(root)
        .caption(
            format!("{} by {}", metric.title(), x.label().split(" (").next().unwrap_or("")),
            ("sans-serif", 30),
        )
        .margin(18)
        .x_label_area_size(60)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..x_max * 1.01, 0.0..y_max)?;
    chart
        .configure_mesh()
        .x_desc(x.label())
        .y_desc(metric.label())
        .label_style(("sans-serif", 18))
        .axis_desc_style(("sans-serif", 20))
        .light_line_style(RGBColor(248, 248, 248))
        .bold_line_style(RGBColor(215, 215, 215))
        .x_label_formatter(&|v| format_number(*v))
        .y_label_formatter(&|v| format!("{v:.2}"))
        .draw()?;

    // The plotting area is about the image width less the axis labels and margins.
    let plot_width = config.width.saturating_sub(130).max(100) as usize;
    for (i, run) in runs.iter().enumerate() {
        let Rgb(r, g, b) = PALETTE[i % PALETTE.len()];
        let color = RGBColor(r, g, b);
        let xs: Vec<f64> = run.rows.iter().map(|row| x.value(row)).collect();
        let train: Vec<f64> = run.rows.iter().map(|row| metric.training(row)).collect();
        let avg = moving_average(&train, window);
        let val: Vec<(f64, f64)> = run
            .rows
            .iter()
            .filter_map(|row| metric.validation(row).map(|v| (x.value(row), clamp(v))))
            .collect();

        // Raw values: a thin light line while there are fewer points than pixels; beyond
        // that, overlapping translucent segments would add up to an opaque band, so the
        // spread is drawn once as a light band between the 10th and 90th percentiles of each
        // group of a few pixels' worth of steps.
        if xs.len() <= plot_width / 2 {
            chart.draw_series(LineSeries::new(
                xs.iter().zip(&train).map(|(&x, &y)| (x, clamp(y))),
                color.mix(0.3).stroke_width(1),
            ))?;
        } else {
            let band = percentile_band(&xs, &train, plot_width / 4);
            let outline: Vec<(f64, f64)> = band
                .iter()
                .map(|&(x, _, hi)| (x, clamp(hi)))
                .chain(band.iter().rev().map(|&(x, lo, _)| (x, clamp(lo))))
                .collect();
            chart.draw_series(std::iter::once(Polygon::new(outline, color.mix(0.22).filled())))?;
        }
        if !val.is_empty() {
            chart.draw_series(DashedLineSeries::new(
                val.iter().copied(),
                6,
                4,
                color.mix(0.7).stroke_width(1),
            ))?;
        }
        chart
            .draw_series(LineSeries::new(
                xs.iter().zip(&avg).map(|(&x, &y)| (x, clamp(y))),
                color.stroke_width(3),
            ))?
            .label(format!("{} training, moving average of {window} steps", run.name))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
            });
        if !val.is_empty() {
            // Markers shrink when validation is frequent, so that they do not merge.
            let radius = (plot_width / (val.len() * 3)).clamp(2, 6) as i32;
            chart
                .draw_series(val.iter().map(move |&p| {
                    EmptyElement::at(p)
                        + Circle::new((0, 0), radius, color.filled())
                        + Circle::new((0, 0), radius, BLACK.stroke_width(1))
                }))?
                .label(format!("{} validation", run.name))
                .legend(move |(x, y)| {
                    EmptyElement::at((x + 12, y))
                        + Circle::new((0, 0), 6, color.filled())
                        + Circle::new((0, 0), 6, BLACK.stroke_width(1))
                });
        }
    }

    // One legend entry explains the light lines of every run.
    let grey = RGBColor(120, 120, 120);
    chart
        .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
        .label("light: raw steps (band: 10-90th percentile when dense)")
        .legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 24, y)], grey.mix(0.6).stroke_width(1))
        });

    let position = legend_corner(runs, metric, x, window, x_max * 1.01, y_max, config);
    chart
        .configure_series_labels()
        .position(position)
        .label_font(("sans-serif", 18))
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(160, 160, 160))
        .margin(12)
        .draw()?;
    Ok(())
}

/// The corner of the plot where the legend hides the fewest points. The legend's size is
/// estimated from its entries and the image size.
fn legend_corner(
    runs: &[RunCurves],
    metric: Metric,
    x: XAxis,
    window: usize,
    x_max: f64,
    y_max: f64,
    config: &CurveConfig,
) -> SeriesLabelPosition {
    let entries = runs.len() * 2 + 1;
    let longest = runs.iter().map(|r| r.name.chars().count()).max().unwrap_or(0) + 40;
    let plot_w = f64::from(config.width.saturating_sub(120).max(1));
    let plot_h = f64::from(config.height.saturating_sub(160).max(1));
    let w = ((longest as f64 * 9.5 + 70.0) / plot_w).min(1.0) * x_max;
    let h = ((entries as f64 * 24.0 + 30.0) / plot_h).min(1.0) * y_max;
    let mut points: Vec<(f64, f64)> = Vec::new();
    for run in runs {
        let train: Vec<f64> = run.rows.iter().map(|r| metric.training(r)).collect();
        let avg = moving_average(&train, window);
        for (row, (t, a)) in run.rows.iter().zip(train.iter().zip(&avg)) {
            let px = x.value(row);
            points.push((px, *t));
            // The bold line and the markers matter more than the raw values.
            points.push((px, *a));
            points.push((px, *a));
            if let Some(v) = metric.validation(row) {
                points.extend([(px, v); 3]);
            }
        }
    }
    let corners = [
        (SeriesLabelPosition::UpperRight, x_max - w, x_max, y_max - h, f64::INFINITY),
        (SeriesLabelPosition::LowerRight, x_max - w, x_max, f64::NEG_INFINITY, h),
        (SeriesLabelPosition::UpperLeft, f64::NEG_INFINITY, w, y_max - h, f64::INFINITY),
        (SeriesLabelPosition::LowerLeft, f64::NEG_INFINITY, w, f64::NEG_INFINITY, h),
    ];
    let mut best = (usize::MAX, SeriesLabelPosition::UpperRight);
    for (pos, x0, x1, y0, y1) in corners {
        let hidden = points
            .iter()
            .filter(|(px, py)| *px >= x0 && *px <= x1 && *py >= y0 && *py <= y1)
            .count();
        if hidden < best.0 {
            best = (hidden, pos);
        }
    }
    best.1
}

/// Axis numbers: integers without decimals, thousands as `2.5k`, millions as `1.5M`.
fn format_number(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", trim_zeros(v / 1e6))
    } else if a >= 1e3 {
        format!("{}k", trim_zeros(v / 1e3))
    } else if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}

fn trim_zeros(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_average_is_centred_and_shrinks_at_the_ends() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        // window 3: [mean(1,2), mean(1,2,3), mean(2,3,4), mean(3,4,5), mean(4,5)]
        assert_eq!(moving_average(&v, 3), vec![1.5, 2.0, 3.0, 4.0, 4.5]);
        assert_eq!(moving_average(&v, 1), v.to_vec());
        assert_eq!(moving_average(&v, 0), v.to_vec());
        assert!(moving_average(&[], 5).is_empty());
    }

    #[test]
    fn axis_numbers_are_short() {
        let cases = [
            (0.0, "0"),
            (250.0, "250"),
            (2.5, "2.5"),
            (2_500.0, "2.5k"),
            (12_000.0, "12k"),
            (1_500_000.0, "1.5M"),
        ];
        for (v, want) in cases {
            assert_eq!(format_number(v), want, "{v}");
        }
    }
}
